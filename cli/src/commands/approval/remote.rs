//! `cavra approval …` through a deployed API (issue F §7): each verb becomes its route's call,
//! with the caller's bearer token; the server's identity, RBAC, routing and limits apply. What
//! prints is what the store-backed verb prints (the API answers the same records), and the
//! exit codes are the same: 1 for a refusal (the server's `detail` is the message), 4 when
//! `wait` times out, 3 when a delivery failed.

use std::time::Duration;

use cavra_api::Route;
use cavra_core::approval::ApprovalState;
use cavra_core::integrity;
use cavra_core::time::{Clock as _, SystemClock};
use cavra_core::workflow::{self, CheckOptions};
use serde_json::{Map, Value, json};

use super::{ApprovalCommand, agent, evaluate};
use crate::Exit;
use crate::identity::IdentityArgs;
use crate::output::print_json;
use crate::remote::{Remote, approval_path};
use crate::stores::{StoreArgs, read_decision};

/// The store options of a verb that reads or writes approvals.
pub(super) fn store_of(command: &ApprovalCommand) -> Option<&StoreArgs> {
    match command {
        ApprovalCommand::Migrate(_) | ApprovalCommand::Route(_) => None,
        ApprovalCommand::Create(a) => Some(&a.store),
        ApprovalCommand::List(a) => Some(&a.store),
        ApprovalCommand::Get(a) | ApprovalCommand::VerifyHistory(a) => Some(&a.store),
        ApprovalCommand::Approve(a) | ApprovalCommand::Deny(a) => Some(&a.store),
        ApprovalCommand::Expire(a) => Some(&a.store),
        ApprovalCommand::Sweep(a) => Some(&a.store),
        ApprovalCommand::BreakGlass(a) => Some(&a.store),
        ApprovalCommand::Review(a) => Some(&a.store),
        ApprovalCommand::Check(a) => Some(&a.store),
        ApprovalCommand::Consume(a) => Some(&a.store),
        ApprovalCommand::Wait(a) => Some(&a.store),
        ApprovalCommand::AttachDecision(a) => Some(&a.store),
        ApprovalCommand::ExportNotifications(a) => Some(a.store()),
        ApprovalCommand::ProviderRequests(a) => Some(a.store()),
        ApprovalCommand::Deliver(a) => Some(a.store()),
    }
}

/// Local identity files have no meaning through the API: the bearer token is the identity.
fn no_local_identity(identity: &IdentityArgs) -> anyhow::Result<()> {
    if identity.actor_claims.is_some()
        || identity.actor_token.is_some()
        || identity.oidc_config.is_some()
        || identity.rbac_file.is_some()
    {
        return Err(Exit::usage(
            "with --api the identity is the --token sent to the server; \
             --actor-claims, --actor-token, --oidc-config and --rbac-file are for stores",
        )
        .into());
    }
    Ok(())
}

fn not_served(verb: &str, why: &str) -> anyhow::Error {
    Exit::usage(format!(
        "approval {verb} does not work through --api: {why}"
    ))
    .into()
}

fn decision_value(path: &std::path::Path) -> anyhow::Result<Value> {
    Ok(Value::Object(read_decision(path)?.as_map().clone()))
}

/// Drops absent options, so the server's defaults apply.
fn body(fields: &[(&str, Value)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Map<String, Value>>(),
    )
}

/// Runs `command` against the API.
pub(super) async fn run(command: ApprovalCommand, remote: Remote) -> anyhow::Result<()> {
    match command {
        ApprovalCommand::Migrate(_) | ApprovalCommand::Route(_) => Err(not_served(
            "migrate or route",
            "they work on local files only",
        )),
        ApprovalCommand::Create(args) => {
            if args.routing_file.is_some() {
                return Err(Exit::usage(
                    "--routing-file is for stores: through --api the server's routing applies",
                )
                .into());
            }
            let request = body(&[
                ("decision", decision_value(&args.decision_file)?),
                ("approver_group", json!(args.approver_group)),
                ("requested_by", json!(args.requested_by)),
                ("ttl_hours", json!(args.ttl_hours)),
                ("rationale", json!(args.rationale)),
            ]);
            super::print_created(
                &remote
                    .call(Route::Create, "/approvals", Some(&request))
                    .await?,
                args.print_id,
            )
        }
        ApprovalCommand::List(args) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(state) = &args.state {
                query.append_pair("state", state);
            }
            if let Some(group) = &args.approver_group {
                query.append_pair("approver_group", group);
            }
            query.append_pair("limit", &args.limit.to_string());
            query.append_pair("offset", &args.offset.to_string());
            if let Some(cursor) = &args.cursor {
                query.append_pair("cursor", cursor);
            }
            let path = format!("/approvals?{}", query.finish());
            print_json(&remote.call(Route::List, &path, None).await?)
        }
        ApprovalCommand::Get(args) => {
            let path = approval_path(&args.approval_id, "")?;
            print_json(&remote.call(Route::Get, &path, None).await?)
        }
        ApprovalCommand::Approve(args) => decide(&remote, Route::Approve, args).await,
        ApprovalCommand::Deny(args) => decide(&remote, Route::Deny, args).await,
        ApprovalCommand::Expire(args) => {
            no_local_identity(&args.identity)?;
            let path = approval_path(&args.approval_id, "/expire")?;
            let request = body(&[("actor", json!(args.actor)), ("reason", json!(args.reason))]);
            print_json(&remote.call(Route::Expire, &path, Some(&request)).await?)
        }
        ApprovalCommand::Sweep(_) => Err(not_served(
            "sweep",
            "the deployment sweeps on its own schedule (the sweep-approvals function)",
        )),
        ApprovalCommand::Review(_) => Err(not_served(
            "review",
            "the API has no review route; the Change Advisory Board records reviews on the store",
        )),
        ApprovalCommand::BreakGlass(args) => {
            no_local_identity(&args.identity)?;
            let request = body(&[
                ("decision", decision_value(&args.decision_file)?),
                ("actor", json!(args.actor)),
                ("reason", json!(args.reason)),
                ("approver_group", json!(args.approver_group)),
                ("external_ref", json!(args.external_ref)),
                ("ttl_hours", json!(args.ttl_hours)),
                ("blocked_approval_id", json!(args.blocked)),
            ]);
            let path = "/approvals/break-glass";
            print_json(&remote.call(Route::BreakGlass, path, Some(&request)).await?)
        }
        ApprovalCommand::Check(args) => {
            let decision = read_decision(&args.decision)?;
            let record = remote.record(&args.approval_id).await?;
            // The chain and its replay are checked here; the seal is the server's to check
            // (it holds the key and checks it on every state change and consume).
            let verification = integrity::verify_without_key(&record);
            let options = CheckOptions {
                require_verified: args.require_verified,
                allow_unkeyed: args.allow_unkeyed,
                keyed: false,
            };
            let report = workflow::check(
                &record,
                &decision,
                SystemClock.now(),
                &verification,
                &options,
            );
            super::print_check(&report)
        }
        ApprovalCommand::Consume(args) => {
            no_local_identity(&args.identity)?;
            let digest = |path: Option<&std::path::Path>| -> anyhow::Result<Value> {
                Ok(match path {
                    Some(path) => {
                        json!(cavra_core::digest::sha256_hex(evaluate::read_input(path)?))
                    }
                    None => Value::Null,
                })
            };
            let tool_args = args
                .tool_args
                .as_deref()
                .map(evaluate::parse_tool_args)
                .transpose()?;
            let request = body(&[
                ("decision", decision_value(&args.decision)?),
                ("content_sha256", digest(args.content.as_deref())?),
                ("tool_args", tool_args.unwrap_or(Value::Null)),
                ("plan_sha256", digest(args.plan.as_deref())?),
                ("actor", json!(args.actor)),
                ("reason", json!(args.reason)),
                ("require_verified", json!(args.require_verified)),
            ]);
            let path = approval_path(&args.approval_id, "/consume")?;
            print_json(&remote.call(Route::Consume, &path, Some(&request)).await?)
        }
        ApprovalCommand::Wait(args) => {
            let timeout = args.timeout.unwrap_or(Duration::MAX);
            let record = remote.wait(&args.approval_id, timeout).await?;
            print_json(&record.to_sorted_value())?;
            if record.state == ApprovalState::Pending && record.is_overdue(SystemClock.now()) {
                return Err(Exit {
                    message: format!(
                        "approval {} expired at {} without a decision",
                        args.approval_id, record.expires_at
                    ),
                    code: 1,
                }
                .into());
            }
            if record.state == ApprovalState::Pending {
                return Err(Exit {
                    message: format!(
                        "approval {} is still pending after the timeout",
                        args.approval_id
                    ),
                    code: agent::EXIT_TIMEOUT,
                }
                .into());
            }
            if record.state.permits_action() && !record.grant().has_ended(SystemClock.now()) {
                Ok(())
            } else {
                Err(agent::refused(&record).into())
            }
        }
        ApprovalCommand::VerifyHistory(args) => {
            let record = remote.record(&args.approval_id).await?;
            super::print_verification(&args.approval_id, &integrity::verify_without_key(&record))
        }
        ApprovalCommand::AttachDecision(args) => {
            let path = approval_path(&args.approval_id, "/attach-decision")?;
            let decision = decision_value(&args.decision_file)?;
            print_json(
                &remote
                    .call(Route::AttachDecision, &path, Some(&decision))
                    .await?,
            )
        }
        ApprovalCommand::ExportNotifications(args) => {
            super::notify::export_notifications(args, Some(&remote)).await
        }
        ApprovalCommand::ProviderRequests(args) => {
            super::notify::provider_requests(args, Some(&remote)).await
        }
        ApprovalCommand::Deliver(args) => super::notify::deliver_remote(args, &remote).await,
    }
}

async fn decide(remote: &Remote, route: Route, args: super::DecideArgs) -> anyhow::Result<()> {
    no_local_identity(&args.identity)?;
    let suffix = if route == Route::Approve {
        "/approve"
    } else {
        "/deny"
    };
    let path = approval_path(&args.approval_id, suffix)?;
    let request = body(&[
        ("actor", json!(args.actor)),
        ("reason", json!(args.reason)),
        ("external_ref", json!(args.external_ref)),
    ]);
    print_json(&remote.call(route, &path, Some(&request)).await?)
}
