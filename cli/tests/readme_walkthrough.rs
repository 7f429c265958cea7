//! Issue I §3: the README's walk-through runs verbatim. Every ```sh block of its "A walk through"
//! section (up to the next heading) is copied, in order, into one script that bash runs with
//! `set -euo pipefail` in a fresh temporary folder, with this build's `cavra` first on `PATH`
//! and no `CAVRA_*`, `AWS_*` or `OTEL_*` variable inherited. The only change is the port: the
//! README's 8787 becomes a free one, so a server already running on a laptop does not matter.
//! The script must succeed, reach every step, leave the evidence bundle and stop the server
//! it started (nothing of its process group may be left running).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECTION: &str = "## A walk through";

/// The `sh` blocks of the walk-through section, joined.
fn walkthrough_script(readme: &str) -> String {
    let start = readme
        .find(SECTION)
        .expect("the README has a walk-through section");
    let section = &readme[start + SECTION.len()..];
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|heading| section.find(heading))
        .min()
        .unwrap_or(section.len());
    let section = &section[..end];
    let mut script = String::new();
    let mut in_block = false;
    for line in section.lines() {
        match (in_block, line.trim_end()) {
            (false, "```sh") => in_block = true,
            (true, "```") => {
                in_block = false;
                script.push('\n');
            }
            (true, _) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(!in_block, "an unclosed sh block in the walk-through");
    script
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Whether any process of group `pgid` is alive.
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

#[test]
fn the_readme_walkthrough_runs_verbatim_in_a_fresh_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md reads");
    let script = walkthrough_script(&readme);
    for step in [
        "cavra init",
        "cavra serve",
        "--print-id",
        "cavra dev-token",
        "cavra approval approve",
        "cavra evidence bundle",
        "cavra approval break-glass",
        "kill %1",
    ] {
        assert!(
            script.contains(step),
            "the walk-through lost `{step}`:\n{script}"
        );
    }
    assert!(script.contains("8787"), "the walk-through names its port");
    let script = script.replace("8787", &free_port().to_string());

    let home = tempfile::tempdir().expect("temp dir");
    std::fs::write(home.path().join("walkthrough.sh"), &script).expect("script written");
    let cavra_dir = Path::new(env!("CARGO_BIN_EXE_cavra"))
        .parent()
        .expect("the binary's folder");
    let path = std::env::join_paths(std::iter::once(cavra_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH joins");
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "walkthrough.sh"])
        .current_dir(home.path())
        .env("PATH", path)
        .stdin(Stdio::null())
        // Files, not pipes: a server the script failed to stop must not keep the test waiting.
        .stdout(std::fs::File::create(home.path().join("out.txt")).expect("out file"))
        .stderr(std::fs::File::create(home.path().join("err.txt")).expect("err file"))
        .process_group(0);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if ["CAVRA_", "AWS_", "OTEL_"]
            .iter()
            .any(|prefix| name_text.starts_with(prefix))
        {
            command.env_remove(&name);
        }
    }
    let mut child = command.spawn().expect("bash starts");
    let pgid = child.id();
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for bash") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The script stops its server itself; give the signal a moment to land.
    let stopped = (0..50).any(|_| {
        let alive = group_alive(pgid);
        if alive {
            std::thread::sleep(Duration::from_millis(100));
        }
        !alive
    });
    kill_group(pgid);
    let _ = child.wait();

    let out = std::fs::read_to_string(home.path().join("out.txt")).unwrap_or_default();
    let err = std::fs::read_to_string(home.path().join("err.txt")).unwrap_or_default();
    let report = format!("script:\n{script}\nstdout:\n{out}\nstderr:\n{err}");
    let status =
        status.unwrap_or_else(|| panic!("the walk-through did not finish in 180 s\n{report}"));
    assert!(
        status.success(),
        "the walk-through failed: {status}\n{report}"
    );
    assert!(stopped, "the walk-through left a process running\n{report}");
    // Every step ran and did what the README says.
    assert!(out.contains("pending: the agent waits"), "{report}");
    assert!(out.contains("approved: the agent acts"), "{report}");
    assert!(out.contains("\"state\": \"break_glass\""), "{report}");
    assert!(out.contains("\"valid\": true"), "{report}");
    for file in cavra_core::evidence::BUNDLE_FILES {
        assert!(
            home.path()
                .join(".cavra/evidence/run-1")
                .join(file)
                .is_file(),
            "{file} missing\n{report}"
        );
    }
    let attestation =
        std::fs::read_to_string(home.path().join(".cavra/evidence/run-1/pr-attestation.md"))
            .expect("the attestation reads");
    assert!(
        attestation.contains("approved") && attestation.contains("iam@example.com"),
        "the bundle shows the approval: {attestation}"
    );
    // One store: the request the CLI created is the one the server approved.
    assert!(
        !home.path().join(".cavra/approvals.json").exists(),
        "nothing went to the JSON store\n{report}"
    );
}

#[test]
fn the_walkthrough_extraction_takes_only_that_sections_sh_blocks() {
    let readme = "# T\n```sh\nnot this\n```\n## A walk through\ntext\n```sh\none\n```\n\
                  ```text\nnot this either\n```\n```sh\ntwo\n```\n### Next\n```sh\nnor this\n```\n";
    assert_eq!(walkthrough_script(readme), "one\n\ntwo\n\n");
}
