//! The HTTP suite against `cavra serve` on a temporary SQLite file: the real binary, started
//! as a user starts it, on a free loopback port.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use cavra_e2e::http_suite::{self, Api, IdentityFiles, SingleServer};

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    _identity: IdentityFiles,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cavra serve --port 0` and reads the URL it prints.
fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let identity = IdentityFiles::write();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["serve", "--port", "0", "--sqlite"])
        .arg(dir.path().join("approvals.db"))
        .arg("--oidc-config")
        .arg(&identity.oidc_config)
        .arg("--rbac-file")
        .arg(&identity.rbac_file)
        .env_remove("CAVRA_APPROVAL_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("cavra serve printed no URL: {line:?}"))
        .to_owned();
    Server {
        child,
        base,
        _dir: dir,
        _identity: identity,
    }
}

#[tokio::test]
async fn the_seed_flow_over_http() {
    let server = serve();
    http_suite::seed_flow(&Api::new(SingleServer(server.base.clone()))).await;
}

#[tokio::test]
async fn the_negative_cases_over_http() {
    let server = serve();
    http_suite::negative_cases(&Api::new(SingleServer(server.base.clone()))).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let server = serve();
    let http = reqwest::Client::new();
    let missing = http
        .get(format!("{}/nowhere", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let wrong_method = http
        .delete(format!("{}/approvals", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert!(body["detail"].is_string());
}
