//! Issue I §1.1: the reason texts of the baseline rules are the original's (compat appendix A2),
//! word for word: they flow into `history[0].reason`, notifications and evidence.

use cavra_core::policy::{
    ActionType, BASELINE_PACK, EvaluationContext, PolicyPack, evaluate, summary_line,
};
use serde_json::{Value, json};

fn eval_with(pack: &PolicyPack, action: &str, target: &str) -> cavra_core::decision::Decision {
    let ctx = EvaluationContext::new(
        "dec_0123456789ab".into(),
        "corr_0123456789ab".into(),
        "2026-05-18T12:00:00+00:00".parse().unwrap(),
    );
    evaluate(pack, action.parse::<ActionType>().unwrap(), target, &ctx)
}

fn eval(action: &str, target: &str) -> cavra_core::decision::Decision {
    eval_with(&PolicyPack::baseline(), action, target)
}

/// (action, target, decision, rule_id, severity, approver_group, reason): appendix A2, one row
/// per baseline rule, where our decision is the original's.
type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    ("read_file", ".env", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: .env"),
    ("read_file", "config/secrets.yaml", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/secrets.*"),
    ("read_file", "certs/server.pem", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/*.pem"),
    ("read_file", "certs/client.pfx", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/*.pfx"),
    ("read_file", "home/.ssh/id_rsa", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/id_rsa"),
    ("read_file", "home/.kube/kubeconfig", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/kubeconfig"),
    ("read_file", "infra/terraform.tfstate", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/terraform.tfstate"),
    ("read_file", "infra/terraform.tfvars", "block", "filesystem.read.block", "high", None, "Matched sensitive path policy: **/terraform.tfvars"),
    ("read_file", "README.md", "allow", "filesystem.read.allow", "low", None, "No sensitive path policy matched."),
    ("read_file", "secrets.yaml", "allow", "filesystem.read.allow", "low", None, "No sensitive path policy matched."),
    ("write_file", ".github/workflows/ci.yml", "block", "filesystem.write.block", "high", None, "Matched sensitive path policy: .github/workflows/**"),
    ("write_file", "infra/main.tf", "block", "filesystem.write.block", "high", None, "Matched sensitive path policy: **/main.tf"),
    ("write_file", "infra/providers.tf", "block", "filesystem.write.block", "high", None, "Matched sensitive path policy: **/providers.tf"),
    ("write_file", "infra/backend.tf", "block", "filesystem.write.block", "high", None, "Matched sensitive path policy: **/backend.tf"),
    ("write_file", "iam/admin-role.tf", "require_approval", "filesystem.write.require_approval", "high", Some("Platform Security"), "Matched approval-required path policy: iam/**"),
    ("write_file", "security/x.tf", "require_approval", "filesystem.write.require_approval", "high", Some("Platform Security"), "Matched approval-required path policy: security/**"),
    ("write_file", "policies/p.yaml", "require_approval", "filesystem.write.require_approval", "high", Some("Platform Security"), "Matched approval-required path policy: policies/**"),
    ("write_file", "README.md", "allow", "filesystem.write.allow", "low", None, "No sensitive path policy matched."),
    ("write_file", "main.tf", "allow", "filesystem.write.allow", "low", None, "No sensitive path policy matched."),
    ("write_file", ".env", "allow", "filesystem.write.allow", "low", None, "No sensitive path policy matched."),
    ("execute_command", "terraform apply -auto-approve", "block", "commands.block", "critical", None, "Matched blocked command policy: terraform apply*"),
    ("execute_command", "kubectl delete pod web-1", "block", "commands.block", "critical", None, "Matched blocked command policy: kubectl delete*"),
    ("execute_command", "az role assignment create --role Owner", "block", "commands.block", "high", None, "Matched blocked command policy: az role assignment create*"),
    ("execute_command", "aws iam create-access-key --user-name bot", "block", "commands.block", "high", None, "Matched blocked command policy: aws iam create-access-key*"),
    ("execute_command", "gcloud projects add-iam-policy-binding proj", "block", "commands.block", "high", None, "Matched blocked command policy: gcloud projects add-iam-policy-binding*"),
    ("execute_command", "git push origin main", "block", "commands.block", "high", None, "Matched blocked command policy: git push origin main"),
    ("execute_command", "git push origin master", "block", "commands.block", "high", None, "Matched blocked command policy: git push origin master"),
    ("execute_command", "az role assignment create --role delete-x", "block", "commands.block", "critical", None, "Matched blocked command policy: az role assignment create*"),
    ("execute_command", "  terraform apply  ", "block", "commands.block", "critical", None, "Matched blocked command policy: terraform apply*"),
    ("execute_command", "terraform fmt", "allow", "commands.allow", "low", None, "Matched allowed command policy: terraform fmt*"),
    ("execute_command", "terraform validate", "allow", "commands.allow", "low", None, "Matched allowed command policy: terraform validate*"),
    ("execute_command", "terraform plan -out=tf.plan", "allow", "commands.allow", "low", None, "Matched allowed command policy: terraform plan*"),
    ("execute_command", "pytest -q", "allow", "commands.allow", "low", None, "Matched allowed command policy: pytest*"),
    ("execute_command", "npm test", "allow", "commands.allow", "low", None, "Matched allowed command policy: npm test*"),
    // `kubectl get pods` is one of our read-only commands (allowed); a build stays for review.
    ("execute_command", "make deploy", "require_approval", "commands.default.require_approval", "medium", Some("Repository Owners"), "No allow rule matched; review required."),
    ("git_operation", "origin/main", "block", "git.protected_branch.block_direct_push", "high", None, "Direct push to protected branch is prohibited."),
    ("git_operation", "origin/master", "block", "git.protected_branch.block_direct_push", "high", None, "Direct push to protected branch is prohibited."),
    ("git_operation", "refs/heads/domain", "block", "git.protected_branch.block_direct_push", "high", None, "Direct push to protected branch is prohibited."),
    ("git_operation", "origin/feature-x", "allow", "git.allow", "low", None, "Git operation is allowed by policy."),
    ("git_operation", "", "allow", "git.allow", "low", None, "Git operation is allowed by policy."),
    ("mcp_tool_call", "github", "block", "mcp.server.trust.block_unknown", "high", None, "Untrusted MCP server with filesystem/tool capability is not approved."),
];

#[test]
fn every_baseline_rule_gives_the_original_reason_text() {
    for (action, target, decision, rule, severity, group, reason) in ROWS {
        let d = eval(action, target);
        let got = (
            d.text_field("decision"),
            d.text_field("rule_id"),
            d.text_field("severity"),
            d.as_map()["approver_group"].clone(),
            d.text_field("reason"),
        );
        let want = (
            (*decision).to_owned(),
            (*rule).to_owned(),
            (*severity).to_owned(),
            group.map_or(Value::Null, |g| json!(g)),
            (*reason).to_owned(),
        );
        assert_eq!(got, want, "{action} {target:?}");
        assert_eq!(d.text_field("policy_pack"), BASELINE_PACK);
    }
}

#[test]
fn the_reason_quotes_the_pattern_as_written_never_the_target() {
    let d = eval("read_file", "deeply/nested/dir/server.pem");
    assert_eq!(
        d.text_field("reason"),
        "Matched sensitive path policy: **/*.pem"
    );
    assert!(!d.text_field("reason").contains("deeply"));
}

#[test]
fn the_summary_line_is_decision_colon_original_reason() {
    assert_eq!(
        summary_line(&eval("execute_command", "make deploy")),
        "require_approval: No allow rule matched; review required."
    );
    assert_eq!(
        summary_line(&eval("write_file", "iam/admin-role.tf")),
        "require_approval: Matched approval-required path policy: iam/**"
    );
}

#[test]
fn a_pack_that_trusts_the_server_gives_the_trusted_reason() {
    let pack = PolicyPack::from_yaml_str(
        "name: trusting\nmcp:\n  allowed_servers: [github]\n",
        "pack",
    )
    .unwrap();
    let d = eval_with(&pack, "mcp_tool_call", "github");
    assert_eq!(d.text_field("decision"), "allow");
    assert_eq!(
        d.text_field("reason"),
        "MCP server is trusted for this tool call."
    );
    let pack = PolicyPack::from_yaml_str(
        "name: listing\nmcp:\n  blocked_servers: [evil]\n  block_unknown_servers: false\n",
        "pack",
    )
    .unwrap();
    assert_eq!(
        eval_with(&pack, "mcp_tool_call", "evil").text_field("reason"),
        "Untrusted MCP server with filesystem/tool capability is not approved."
    );
}
