//! What will actually run (issue F §1): the payload of an action — the new content of a file,
//! the exact argv of a command, the arguments of an MCP tool call, a Terraform plan — bound into
//! the decision as `action` (what approvers are shown) and `action_digest` (what the approval
//! binds to), and the check a consumer's presented payload must pass before a grant is spent.
//!
//! `action_digest` is SHA-256 over the canonical JSON (RFC 8785, [`crate::digest`]) of the
//! action's identity: `action_type`, canonical `target`, the parsed `commands` (argv lists) and
//! the digests of content, tool arguments and plan. The decision digest covers `action` and
//! `action_digest` like every other key, so a request made for one payload cannot be used for
//! another.

use serde_json::{Map, Value, json};

use crate::decision::Decision;
use crate::digest::{canonical_json, sha256_hex};

/// Longest diff or preview kept in a decision, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2_000;
/// Most lines of a diff or preview kept in a decision.
pub const MAX_SUMMARY_LINES: usize = 40;

/// What the caller knows about the action's payload when evaluating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The new content of a file write (for an edit, the resulting content).
    pub content: Option<Vec<u8>>,
    /// The file's current content, when known: the decision then shows a short diff.
    pub previous_content: Option<Vec<u8>>,
    /// The MCP tool's name.
    pub tool: Option<String>,
    /// The MCP tool's arguments.
    pub tool_args: Option<Value>,
    /// A Terraform plan (the saved plan file, or `terraform show -json` output).
    pub plan: Option<Vec<u8>>,
}

/// What a consumer presents when spending a grant: the digests of what it is about to run.
/// Fields the approved action does not bind are ignored; fields it binds must be present and
/// equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presented {
    /// SHA-256 (hex) of the content about to be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    /// SHA-256 (hex) of the canonical JSON of the tool arguments about to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_args_sha256: Option<String>,
    /// SHA-256 (hex) of the plan about to be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
}

impl Presented {
    /// The digests of `content`, `tool_args` and `plan` (each when given).
    pub fn of(content: Option<&[u8]>, tool_args: Option<&Value>, plan: Option<&[u8]>) -> Self {
        Self {
            content_sha256: content.map(sha256_hex),
            tool_args_sha256: tool_args.map(tool_args_sha256),
            plan_sha256: plan.map(sha256_hex),
        }
    }
}

/// SHA-256 of the canonical JSON (RFC 8785) of tool arguments.
pub fn tool_args_sha256(args: &Value) -> String {
    // Canonical JSON of a parsed value cannot fail (no non-string keys, no non-finite floats).
    sha256_hex(canonical_json(args).unwrap_or_default())
}

fn text_of(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The first lines of `text`, bounded by [`MAX_SUMMARY_LINES`] and [`MAX_SUMMARY_CHARS`], with
/// a marker when something was cut.
fn bounded(text: &str) -> String {
    let mut out = String::new();
    let mut cut = false;
    for (index, line) in text.lines().enumerate() {
        if index >= MAX_SUMMARY_LINES || out.len().saturating_add(line.len()) > MAX_SUMMARY_CHARS {
            cut = true;
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    if cut {
        out.push_str("…\n");
    }
    out
}

/// A short unified diff from `old` to `new` (both text), or `None` when either is not UTF-8.
fn short_diff(old: &[u8], new: &[u8], path: &str) -> Option<String> {
    let (old, new) = (text_of(old)?, text_of(new)?);
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    Some(bounded(&text))
}

/// A one-line account of a Terraform plan: from `terraform show -json` output, the resource
/// changes by action; otherwise its size.
fn plan_summary(plan: &[u8]) -> String {
    let changes = serde_json::from_slice::<Value>(plan).ok().and_then(|v| {
        v.get("resource_changes")
            .and_then(Value::as_array)
            .map(|changes| {
                let mut counts: std::collections::BTreeMap<String, u64> =
                    std::collections::BTreeMap::new();
                for change in changes {
                    let actions = change
                        .pointer("/change/actions")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("+")
                        })
                        .unwrap_or_default();
                    if actions != "no-op" && actions != "read" {
                        let count = counts.entry(actions).or_insert(0);
                        *count = count.saturating_add(1);
                    }
                }
                counts
            })
    });
    match changes {
        Some(counts) if counts.is_empty() => "no resource changes".to_owned(),
        Some(counts) => counts
            .iter()
            .map(|(action, n)| format!("{n} to {action}"))
            .collect::<Vec<_>>()
            .join(", "),
        None => format!("plan file of {} bytes", plan.len()),
    }
}

/// The fields `action_digest` covers, from a decision's own keys.
fn identity_of(decision: &Decision) -> Value {
    let map = decision.as_map();
    let action = map.get("action").and_then(Value::as_object);
    let pick = |key: &str| {
        action
            .and_then(|a| a.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "action_type": map.get("action_type").cloned().unwrap_or(Value::Null),
        "target": map.get("target").cloned().unwrap_or(Value::Null),
        "commands": map.get("commands").cloned().unwrap_or(Value::Null),
        "content_sha256": pick("content_sha256"),
        "tool": pick("tool"),
        "tool_args_sha256": pick("tool_args_sha256"),
        "plan_sha256": pick("plan_sha256"),
    })
}

/// The action digest a decision's own keys give.
pub fn compute_digest(decision: &Decision) -> String {
    sha256_hex(canonical_json(&identity_of(decision)).unwrap_or_default())
}

/// `decision` with `action` (what will run, for approvers) and `action_digest` set from its
/// target and commands and from `payload`.
pub fn bind(decision: Decision, payload: &Payload) -> Decision {
    let mut map = decision.into_map();
    let mut action = Map::new();
    let target = map
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(commands) = map.get("commands") {
        action.insert("argv".into(), commands.clone());
    }
    if let Some(content) = &payload.content {
        action.insert("content_sha256".into(), json!(sha256_hex(content)));
        action.insert("content_bytes".into(), json!(content.len()));
        let summary = match &payload.previous_content {
            Some(old) => short_diff(old, content, &target).map(|d| ("diff", d)),
            None => text_of(content).map(|t| ("preview", bounded(t))),
        };
        if let Some((key, text)) = summary {
            action.insert(key.into(), json!(text));
        }
    }
    if let Some(tool) = &payload.tool {
        action.insert("tool".into(), json!(tool));
    }
    if let Some(args) = &payload.tool_args {
        action.insert("tool_args".into(), args.clone());
        action.insert("tool_args_sha256".into(), json!(tool_args_sha256(args)));
    }
    if let Some(plan) = &payload.plan {
        action.insert("plan_sha256".into(), json!(sha256_hex(plan)));
        action.insert("plan_summary".into(), json!(plan_summary(plan)));
    }
    map.insert("action".into(), Value::Object(action));
    let mut decision = Decision::from_map(map);
    let digest = compute_digest(&decision);
    decision
        .as_map_mut()
        .insert("action_digest".into(), json!(digest));
    decision
}

/// Why a decision's `action_digest` cannot be trusted: it is present but not what its own keys
/// give (edited after evaluation), or not text.
pub fn inconsistency(decision: &Decision) -> Option<String> {
    match decision.as_map().get("action_digest") {
        None => None,
        Some(Value::String(given)) if *given == compute_digest(decision) => None,
        Some(Value::String(_)) => {
            Some("action_digest does not match the decision's action".to_owned())
        }
        Some(_) => Some("action_digest must be text".to_owned()),
    }
}

/// What the approved action binds that `presented` does not match, naming the field; `None`
/// when the presented payload is the approved one.
pub fn mismatch(approved: &Decision, presented: &Presented) -> Option<String> {
    let action = approved.as_map().get("action").and_then(Value::as_object)?;
    let checks = [
        (
            "content",
            "content_sha256",
            &presented.content_sha256,
            "--content FILE",
        ),
        (
            "tool arguments",
            "tool_args_sha256",
            &presented.tool_args_sha256,
            "--tool-args JSON",
        ),
        ("plan", "plan_sha256", &presented.plan_sha256, "--plan FILE"),
    ];
    for (what, key, given, flag) in checks {
        let Some(bound) = action.get(key).and_then(Value::as_str) else {
            continue;
        };
        match given {
            None => {
                return Some(format!(
                    "the approval binds the {what} (sha256 {bound}); present it ({flag})"
                ));
            }
            Some(given) if !given.eq_ignore_ascii_case(bound) => {
                return Some(format!(
                    "{what} differs from the approved {what}: approved sha256 {bound}, presented sha256 {given}"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// The top-level keys in which two decisions differ, sorted (for naming a mismatch).
pub fn differing_keys(a: &Decision, b: &Decision) -> Vec<String> {
    let (a, b) = (a.as_map(), b.as_map());
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decision(action_type: &str, target: &str, commands: Option<Value>) -> Decision {
        let mut map = Map::new();
        map.insert("decision_id".into(), json!("dec_000000000001"));
        map.insert("action_type".into(), json!(action_type));
        map.insert("target".into(), json!(target));
        if let Some(c) = commands {
            map.insert("commands".into(), c);
        }
        Decision::from_map(map)
    }

    fn write(content: &[u8]) -> Decision {
        bind(
            decision("write_file", "iam/admin-role.tf", None),
            &Payload {
                content: Some(content.to_vec()),
                ..Payload::default()
            },
        )
    }

    #[test]
    fn content_binds_and_a_different_content_is_named() {
        let approved = write(b"A\n");
        let a = Presented::of(Some(b"A\n"), None, None);
        let b = Presented::of(Some(b"B\n"), None, None);
        assert_eq!(mismatch(&approved, &a), None);
        let detail = mismatch(&approved, &b).unwrap();
        assert!(
            detail.starts_with("content differs from the approved content"),
            "{detail}"
        );
        let missing = mismatch(&approved, &Presented::default()).unwrap();
        assert!(missing.contains("present it (--content FILE)"), "{missing}");
        assert_ne!(
            write(b"A\n").as_map()["action_digest"],
            write(b"B\n").as_map()["action_digest"]
        );
    }

    #[test]
    fn argv_and_tool_arguments_change_the_action_digest() {
        let one = bind(
            decision(
                "execute_command",
                "terraform plan",
                Some(json!([["terraform", "plan"]])),
            ),
            &Payload::default(),
        );
        let two = bind(
            decision(
                "execute_command",
                "terraform plan",
                Some(json!([["terraform", "apply"]])),
            ),
            &Payload::default(),
        );
        assert_ne!(one.as_map()["action_digest"], two.as_map()["action_digest"]);
        let tool = |args: Value| {
            bind(
                decision("mcp_tool_call", "github", None),
                &Payload {
                    tool: Some("create_issue".into()),
                    tool_args: Some(args),
                    ..Payload::default()
                },
            )
        };
        // RFC 8785: key order and whitespace do not matter, values do.
        let a = tool(serde_json::from_str(r#"{"b":1,"a":"x"}"#).unwrap());
        let a2 = tool(serde_json::from_str(r#"{ "a" : "x", "b" : 1 }"#).unwrap());
        let b = tool(json!({"a": "y", "b": 1}));
        assert_eq!(a.as_map()["action_digest"], a2.as_map()["action_digest"]);
        assert_ne!(a.as_map()["action_digest"], b.as_map()["action_digest"]);
        let presented = Presented::of(None, Some(&json!({"a": "y", "b": 1})), None);
        assert!(
            mismatch(&a, &presented)
                .unwrap()
                .starts_with("tool arguments differs")
        );
    }

    #[test]
    fn an_edited_action_is_detected() {
        let mut d = write(b"A");
        assert_eq!(inconsistency(&d), None);
        d.as_map_mut()
            .insert("target".into(), json!("docs/readme.md"));
        assert_eq!(
            inconsistency(&d).as_deref(),
            Some("action_digest does not match the decision's action")
        );
        d.as_map_mut().insert("action_digest".into(), json!(7));
        assert_eq!(
            inconsistency(&d).as_deref(),
            Some("action_digest must be text")
        );
    }

    #[test]
    fn the_diff_and_preview_are_short() {
        let old: String = (0..500)
            .flat_map(|i| [format!("line {i}"), "\n".to_owned()])
            .collect();
        let new = old.replace("line 250\n", "line 250 changed\n");
        let d = bind(
            decision("write_file", "a.txt", None),
            &Payload {
                content: Some(new.clone().into_bytes()),
                previous_content: Some(old.into_bytes()),
                ..Payload::default()
            },
        );
        let diff = d.as_map()["action"]["diff"].as_str().unwrap();
        assert!(diff.contains("+line 250 changed"), "{diff}");
        assert!(diff.len() <= MAX_SUMMARY_CHARS + 8);
        let preview = bind(
            decision("write_file", "a.txt", None),
            &Payload {
                content: Some(new.into_bytes()),
                ..Payload::default()
            },
        );
        let preview = preview.as_map()["action"]["preview"].as_str().unwrap();
        assert!(preview.lines().count() <= MAX_SUMMARY_LINES + 1);
        assert!(preview.ends_with("…\n"));
    }

    #[test]
    fn a_plan_is_summarised_from_terraform_show_json() {
        let plan = json!({"resource_changes": [
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["delete", "create"]}},
            {"change": {"actions": ["no-op"]}},
            {"change": {"actions": ["create"]}}
        ]});
        assert_eq!(
            plan_summary(plan.to_string().as_bytes()),
            "2 to create, 1 to delete+create"
        );
        assert_eq!(plan_summary(b"\x00binary"), "plan file of 7 bytes");
    }

    proptest! {
        #[test]
        fn any_other_content_is_refused(a in proptest::collection::vec(any::<u8>(), 0..64),
                                        b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let approved = write(&a);
            let verdict = mismatch(&approved, &Presented::of(Some(&b), None, None));
            prop_assert_eq!(verdict.is_none(), a == b);
        }
    }
}
