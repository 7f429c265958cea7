//! `cavra evaluate` reads file targets relative to the repository root (`--repo-root`, else
//! the git top level, else the working directory) and commands as a shell would (issue E.1).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn evaluate(cwd: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .current_dir(cwd)
        .arg("evaluate")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn outcome(d: &Value) -> (&str, &str, &str) {
    (
        d["decision"].as_str().unwrap_or_default(),
        d["rule_id"].as_str().unwrap_or_default(),
        d["target"].as_str().unwrap_or_default(),
    )
}

#[test]
fn regression_absolute_path_inside_repo_root_is_require_approval_with_relative_target() {
    // GIVEN a repository at an absolute path WHEN its iam file is named absolutely
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path().to_str().unwrap();
    let target = format!("{root}/iam/x.tf");
    let (code, d, err) = evaluate(
        Path::new("/"),
        &["write_file", &target, "--repo-root", root],
    );
    // THEN it is the iam rule, recorded relative to the root, the input kept
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        outcome(&d),
        (
            "require_approval",
            "filesystem.write.require_approval",
            "iam/x.tf"
        )
    );
    assert_eq!(d["target_as_given"], Value::String(target));
}

#[test]
fn the_default_repo_root_is_the_git_top_level_of_the_working_directory() {
    // GIVEN a git repository and a working directory deep inside it
    let repo = tempfile::tempdir().unwrap();
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(repo.path())
        .status();
    if !git.is_ok_and(|s| s.success()) {
        // No git binary: a `.git` directory marks the top level just the same.
        std::fs::create_dir_all(repo.path().join(".git")).unwrap();
    }
    let deep = repo.path().join("docs/guide");
    std::fs::create_dir_all(&deep).unwrap();
    let root = repo.path().to_str().unwrap();
    // WHEN targets are given absolutely, without --repo-root
    let (_, d, err) = evaluate(
        &deep,
        &["write_file", &format!("{root}/.github/workflows/ci.yml")],
    );
    // THEN they are relative to the top level
    assert_eq!(
        outcome(&d),
        (
            "block",
            "filesystem.write.block",
            ".github/workflows/ci.yml"
        ),
        "{err}"
    );
    let (_, d, _) = evaluate(&deep, &["write_file", &format!("{root}/docs/../iam/x.tf")]);
    assert_eq!(
        outcome(&d),
        (
            "require_approval",
            "filesystem.write.require_approval",
            "iam/x.tf"
        )
    );
    // AND a path beside the repository is outside it, never allow
    let (_, d, _) = evaluate(&deep, &["write_file", "../outside.txt"]);
    assert_eq!(outcome(&d).0, "require_approval");
    assert_eq!(
        outcome(&d).1,
        "filesystem.outside_repository.require_approval"
    );
}

#[test]
fn without_git_the_working_directory_is_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    // A temp dir is not inside a git work tree on the test machines; skip if it is.
    if dir.path().ancestors().any(|a| a.join(".git").exists()) {
        return;
    }
    let (_, d, _) = evaluate(dir.path(), &["write_file", &format!("{cwd}/iam/x.tf")]);
    assert_eq!(outcome(&d).2, "iam/x.tf");
    let (_, d, _) = evaluate(dir.path(), &["write_file", "/etc/cron.d/x"]);
    assert_eq!(
        outcome(&d),
        (
            "require_approval",
            "filesystem.outside_repository.require_approval",
            "/etc/cron.d/x"
        )
    );
}

#[test]
fn regression_command_spellings_reach_the_terraform_block_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for line in [
        "env terraform apply",
        "/usr/bin/terraform apply",
        "sh -c 'terraform apply'",
        "terraform -chdir=prod apply",
        "TF_IN_AUTOMATION=1 terraform apply",
        "tofu apply",
    ] {
        let (code, d, err) = evaluate(dir.path(), &["execute_command", line]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            (outcome(&d).0, outcome(&d).1, d["severity"].as_str()),
            ("block", "commands.block", Some("critical")),
            "{line}"
        );
        assert_eq!(d["target_as_given"], Value::String(line.to_owned()));
        assert_eq!(d["commands"][0][0], "terraform", "{line}");
    }
}

#[test]
fn a_repo_root_that_is_not_a_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let (code, _, err) = evaluate(
        dir.path(),
        &["write_file", "x", "--repo-root", missing.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a directory"), "{err}");
}
