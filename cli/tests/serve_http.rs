//! The HTTP suites against `cavra serve` on a temporary SQLite file: the real binary, started
//! as a user starts it, on a free loopback port, configured through the original's
//! environment variables.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use cavra_e2e::deployment::{CONFIG_VARIABLES, Deployment, Setup};
use cavra_e2e::http_suite::{self, Api, SingleServer};
use cavra_e2e::original_cases;

struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cavra serve --port 0` configured by `setup` and reads the URL it prints.
async fn serve(setup: Setup) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
    command
        .args(["serve", "--port", "0", "--sqlite"])
        .arg(dir.path().join("approvals.db"))
        .envs(setup.environment(dir.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for variable in CONFIG_VARIABLES {
        if !command.get_envs().any(|(name, _)| name == variable) {
            command.env_remove(variable);
        }
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("cavra serve printed no URL: {line:?}"))
        .to_owned();
    Deployment {
        api: Api::new(SingleServer(base.clone())),
        console_base: Some(base),
        store_mode: "sqlite",
        guard: Box::new(Server { child, _dir: dir }),
    }
}

fn base_of(deployment: &Deployment) -> String {
    deployment
        .console_base
        .clone()
        .expect("cavra serve serves /console")
}

#[tokio::test]
async fn the_seed_flow_over_http() {
    let server = serve(Setup::suite()).await;
    http_suite::seed_flow(&server.api).await;
}

#[tokio::test]
async fn the_negative_cases_over_http() {
    let server = serve(Setup::suite()).await;
    http_suite::negative_cases(&server.api).await;
}

#[tokio::test]
async fn original_cases_23_to_34_over_http() {
    original_cases::run(serve).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let server = serve(Setup::suite()).await;
    let base = base_of(&server);
    let http = reqwest::Client::new();
    let missing = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let wrong_method = http
        .delete(format!("{base}/approvals"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert!(body["detail"].is_string());
}
