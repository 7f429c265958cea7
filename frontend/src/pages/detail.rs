//! One request's full story on one page: the decision context, the reviews, every history
//! entry (actor, identity, time, reason, external reference, delivery evidence), the evidence
//! refs, and the history chain's verification — recomputed here with `cavra-core`.

use cavra_core::approval::{Approval, ApprovalState, HistoryEntry};
use cavra_core::decision::Outcome;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::app::{Route, use_console};
use crate::audit::{self, DigestCheck, QuorumProgress};
use crate::components::decision_dialog::DecisionDialog;
use crate::components::icon::Icon;
use crate::components::lead::RequestLead;
use crate::components::notice::ErrorNotice;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::session;
use crate::states::{Glyph, Verdict};

/// A pending request the policy blocked: the one a break-glass override can start from.
fn can_start_break_glass(record: &Approval) -> bool {
    record.state == ApprovalState::Pending && record.decision.outcome() == Some(Outcome::Block)
}

/// A link to another request's audit view.
fn request_link(id: &str) -> Html {
    html! { <Link<Route> to={Route::Detail { id: id.to_owned() }}><code>{ id.to_owned() }</code></Link<Route>> }
}

/// The diff, preview or plan summary the decision carries (issue F §1), if any.
fn action_summary(decision: &cavra_core::decision::Decision) -> Option<String> {
    let action = decision.as_map().get("action")?.as_object()?;
    ["diff", "preview", "plan_summary"]
        .iter()
        .find_map(|key| action.get(*key).and_then(serde_json::Value::as_str))
        .map(str::to_owned)
}

/// Uses and end of an approval's grant.
fn grant_text(record: &Approval) -> String {
    let grant = record.grant();
    format!(
        "{} of {} use(s) spent; valid until {}",
        grant.uses,
        grant.max_uses,
        grant.expires_at.map_or_else(|| "—".into(), format::instant)
    )
}

/// Props of [`DetailPage`].
#[derive(Properties, PartialEq)]
pub struct DetailProps {
    /// The approval id from the address.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(Box<Approval>),
    Failed(ApiError),
}

/// The audit detail page.
#[component]
pub fn DetailPage(props: &DetailProps) -> Html {
    let console = use_console();
    let load = use_state(|| Load::Loading);
    let reloads = use_state(|| 0_u32);
    let dialog = use_state(|| None::<Verdict>);
    {
        let (load, client) = (load.clone(), console.client());
        use_effect_with(
            (props.id.clone(), client.clone(), *reloads),
            move |(id, _, _)| {
                load.set(Load::Loading);
                let id = id.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    load.set(match client.get(&id).await {
                        Ok(record) => Load::Loaded(Box::new(record)),
                        Err(error) => Load::Failed(error),
                    });
                });
            },
        );
    }
    let content = match &*load {
        Load::Loading => html! { <p role="status">{ "Loading the request…" }</p> },
        Load::Failed(error) => {
            html! { <ErrorNotice error={error.clone()} action={format!("Loading {}", props.id)} what="read this request" /> }
        }
        Load::Loaded(record) => {
            let on_changed = {
                let load = load.clone();
                Callback::from(move |updated: Approval| load.set(Load::Loaded(Box::new(updated))))
            };
            let on_close = {
                let dialog = dialog.clone();
                Callback::from(move |()| dialog.set(None))
            };
            let buttons = (record.state == ApprovalState::Pending).then(|| {
                Verdict::ALL
                    .iter()
                    .map(|verdict| {
                        let (dialog, verdict) = (dialog.clone(), *verdict);
                        let onclick = Callback::from(move |_: MouseEvent| dialog.set(Some(verdict)));
                        html! { <button type="button" class={format!("verdict-{}", verdict.path())} {onclick}>{ verdict.label() }</button> }
                    })
                    .collect::<Html>()
            });
            let break_glass = can_start_break_glass(record).then(|| {
                let query = vec![("from".to_owned(), record.approval_id.clone())];
                html! {
                    <Link<Route, Vec<(String, String)>> to={Route::BreakGlass} query={Some(query)}
                        classes="button verdict-deny detail-break-glass">
                        { "Break-glass override…" }
                    </Link<Route, Vec<(String, String)>>>
                }
            });
            html! {
                <>
                    <RequestLead record={(**record).clone()} />
                    { links(record) }
                    if buttons.is_some() || break_glass.is_some() {
                        <div class="buttons" aria-label="Decide">{ buttons.unwrap_or_default() }{ break_glass.unwrap_or_default() }</div>
                    }
                    { audit_view(record) }
                    if let Some(verdict) = *dialog {
                        <DecisionDialog record={(**record).clone()} {verdict} {on_changed} {on_close}
                            return_focus={Some("#detail-refresh".to_owned())} />
                    }
                </>
            }
        }
    };
    let refresh = {
        let reloads = reloads.clone();
        Callback::from(move |_: MouseEvent| reloads.set(*reloads + 1))
    };
    html! {
        <main class="page" id="main">
            <p><Link<Route> to={Route::Queue}>{ "← Queue" }</Link<Route>></p>
            <h1>{ "Request " }<code>{ props.id.clone() }</code></h1>
            <button type="button" class="secondary" id="detail-refresh" onclick={refresh}>{ "Reload" }</button>
            { content }
        </main>
    }
}

/// Where a linked break-glass leads: from an override to the request it closed, and back.
fn links(record: &Approval) -> Html {
    html! {
        <>
            if let Some(blocked) = &record.overrides {
                <p class="notice notice-link" id="detail-overrides">
                    { "This break-glass override was started from blocked request " }{ request_link(blocked) }
                    { ", which it closed." }
                </p>
            }
            if let Some(by) = &record.overridden_by {
                <p class="notice notice-link" id="detail-overridden-by">
                    { "Closed by break-glass override " }{ request_link(by) }{ "." }
                </p>
            }
        </>
    }
}

fn text(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("—").to_owned()
}

fn audit_view(record: &Approval) -> Html {
    let now = session::now();
    let decision = &record.decision;
    let d = |key: &str| text(decision.str_field(key));
    let digest = match audit::check_digest(record) {
        DigestCheck::Matches => html! {
            <span class="ok" id="digest-check"><Icon glyph={Glyph::Check} label="verified" />{ " matches the embedded decision" }</span>
        },
        DigestCheck::Differs { computed } => html! {
            <span class="bad" id="digest-check"><Icon glyph={Glyph::Cross} label="failed" />
                { format!(" does not match the embedded decision (computed {computed})") }</span>
        },
        DigestCheck::Missing => html! { <span>{ "no digest recorded" }</span> },
    };
    let (chain_ok, chain) = audit::chain_text(record);
    html! {
        <>
            <section aria-labelledby="summary-title">
                <h2 id="summary-title">{ "Summary" }</h2>
                <dl class="facts">
                    <dt>{ "State" }</dt><dd id="detail-state"><StateBadge state={record.state} /></dd>
                    <dt>{ "Approver group" }</dt><dd>{ record.approver_group.clone() }</dd>
                    <dt>{ "Requested by" }</dt><dd>{ record.requested_by.clone() }</dd>
                    <dt>{ "Requested at" }</dt><dd>{ format!("{} ({} ago)", format::instant(record.requested_at), format::age(record.requested_at, now)) }</dd>
                    <dt>{ "Expires at" }</dt><dd>{ format!("{} ({})", format::instant(record.expires_at), format::time_left(record, now)) }</dd>
                    <dt>{ "Decided by" }</dt><dd>{ text(record.decided_by.as_deref()) }</dd>
                    <dt>{ "Decided at" }</dt><dd>{ record.decided_at.map_or_else(|| "—".into(), format::instant) }</dd>
                    <dt>{ "Reason" }</dt><dd>{ text(record.display_reason()) }</dd>
                    <dt>{ "External reference" }</dt><dd>{ text(record.external_ref.as_deref()) }</dd>
                    if record.state.permits_action() || record.state == ApprovalState::Consumed {
                        <dt>{ "Grant" }</dt><dd id="detail-grant">{ grant_text(record) }</dd>
                    }
                    if record.break_glass == Some(true) {
                        <dt>{ "Break-glass" }</dt>
                        <dd>{ format!("yes; post-incident review {}", if record.review_required == Some(true) { "still required" } else { "recorded" }) }</dd>
                    }
                </dl>
            </section>
            <section aria-labelledby="context-title">
                <h2 id="context-title">{ "Decision context" }</h2>
                <dl class="facts">
                    <dt>{ "Action" }</dt><dd>{ audit::action_text(decision) }</dd>
                    <dt>{ "Target" }</dt><dd><code>{ d("target") }</code></dd>
                    <dt>{ "Will run" }</dt><dd id="detail-will-run"><code>{ cavra_core::notify::will_run(decision) }</code></dd>
                    if let Some(summary) = action_summary(decision) {
                        <dt>{ "Change" }</dt><dd><pre class="action-summary" id="detail-action-summary">{ summary }</pre></dd>
                    }
                    <dt>{ "Outcome" }</dt><dd>{ d("decision") }</dd>
                    <dt>{ "Rule" }</dt><dd><code>{ d("rule_id") }</code></dd>
                    <dt>{ "Policy pack" }</dt><dd>{ d("policy_pack") }</dd>
                    <dt>{ "Severity" }</dt><dd>{ d("severity") }</dd>
                    <dt>{ "Policy reason" }</dt><dd>{ d("reason") }</dd>
                    <dt>{ "Agent" }</dt><dd>{ format!("{} (session {})", d("agent_id"), record.session_id) }</dd>
                    <dt>{ "Repository" }</dt><dd>{ text(record.rbac_repository()) }</dd>
                    <dt>{ "Decision id" }</dt><dd><code>{ record.decision_id.clone() }</code></dd>
                    <dt>{ "Correlation id" }</dt><dd><code>{ text(record.correlation_id.as_deref()) }</code></dd>
                    <dt>{ "Decision digest" }</dt>
                    <dd><code class="digest">{ text(record.decision_digest.as_deref()) }</code>{ " " }{ digest }</dd>
                </dl>
            </section>
            <section aria-labelledby="reviews-title">
                <h2 id="reviews-title">{ "Reviews" }</h2>
                <p>{ format!("Quorum: {}", QuorumProgress::of(record).text()) }</p>
                if record.reviews.is_empty() {
                    <p>{ "No reviews recorded." }</p>
                } else {
                    <div class="table-scroll"><table class="reviews">
                        <thead><tr>
                            <th scope="col">{ "Actor" }</th><th scope="col">{ "Decision" }</th><th scope="col">{ "Groups" }</th>
                            <th scope="col">{ "Identity" }</th><th scope="col">{ "Time" }</th><th scope="col">{ "Reason" }</th>
                            <th scope="col">{ "External ref" }</th>
                        </tr></thead>
                        <tbody>{ for record.reviews.iter().map(|r| html! {
                            <tr>
                                <td>{ r.actor.clone() }</td><td><StateBadge state={r.decision} /></td>
                                <td>{ r.groups.join(", ") }</td>
                                <td>{ format!("{:?}", r.identity).to_lowercase() }</td>
                                <td>{ format::instant(r.timestamp) }</td><td>{ r.reason.clone() }</td>
                                <td>{ text(r.external_ref.as_deref()) }</td>
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
            </section>
            <section aria-labelledby="history-title">
                <h2 id="history-title">{ format!("History ({} entries)", record.history.len()) }</h2>
                <p id="chain-result" class={if chain_ok { "notice notice-ok" } else { "notice notice-error" }}
                    data-valid={chain_ok.to_string()}>
                    if chain_ok {
                        <Icon glyph={Glyph::Check} label="verified" />
                    } else {
                        <Icon glyph={Glyph::Cross} label="failed" />
                    }
                    { " " }{ chain }
                </p>
                <div class="table-scroll"><table class="history">
                    <thead><tr>
                        <th scope="col">{ "#" }</th><th scope="col">{ "Event" }</th><th scope="col">{ "Actor" }</th>
                        <th scope="col">{ "Identity" }</th><th scope="col">{ "Time" }</th><th scope="col">{ "Reason" }</th>
                        <th scope="col">{ "External ref" }</th><th scope="col">{ "Evidence" }</th><th scope="col">{ "Hash" }</th>
                    </tr></thead>
                    <tbody>{ for record.history.iter().enumerate().map(|(i, e)| history_row(i + 1, e)) }</tbody>
                </table></div>
            </section>
            <section aria-labelledby="refs-title">
                <h2 id="refs-title">{ "Evidence refs" }</h2>
                <ul class="refs">{ for record.evidence_refs.iter().map(|r| html! { <li><code>{ r.clone() }</code></li> }) }</ul>
            </section>
        </>
    }
}

fn history_row(position: usize, entry: &HistoryEntry) -> Html {
    let external_ref = match &entry.external_ref {
        None => "—".to_owned(),
        Some(None) => "none".to_owned(),
        Some(Some(r)) => r.clone(),
    };
    let evidence = entry.evidence.as_ref().map_or_else(
        || html! { "—" },
        |evidence| {
            let json = serde_json::to_string_pretty(evidence).unwrap_or_default();
            html! {
                <>
                    <ul class="deliveries">{ for audit::delivery_lines(evidence).into_iter().map(|l| html! { <li>{ l }</li> }) }</ul>
                    <details><summary>{ "Evidence JSON" }</summary><pre>{ json }</pre></details>
                </>
            }
        },
    );
    let hash = entry.hash.clone().unwrap_or_default();
    html! {
        <tr class="history-entry" data-event={entry.event.clone()}>
            <td>{ position }</td>
            <td>{ entry.event.clone() }</td>
            <td>{ entry.actor.clone() }</td>
            <td>{ audit::identity_text(entry) }</td>
            <td>{ format::instant(entry.timestamp) }</td>
            <td>{ text(entry.reason.as_deref()) }</td>
            <td>{ external_ref }</td>
            <td>{ evidence }</td>
            <td><code title={hash.clone()}>{ format::short_hash(&hash, 12) }</code></td>
        </tr>
    }
}
