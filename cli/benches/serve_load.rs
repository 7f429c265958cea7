//! `cavra serve` under load: throughput and latency percentiles for GET by id and for approve,
//! measured by `wrk` (a second process on loopback) against the real binary on SQLite with OIDC
//! and RBAC on, so every request verifies an RS256 token. Figures are printed, never asserted.
//!
//! `cargo bench -p cavra-cli --bench serve_load` (needs `wrk`: `apt-get install wrk`).
//! `BENCH_SECONDS` (default 10) sets each run's length; `BENCH_PENDING` (default 20000) how
//! many pending requests the approve run can decide.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use cavra_api::Route;
use cavra_e2e::http_suite::{self, Api, IdentityFiles, SingleServer};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs wrk with `script` and prints its summary lines.
fn wrk(label: &str, url: &str, script: &std::path::Path, seconds: usize) {
    let out = Command::new("wrk")
        .args(["-t2", "-c16", "--latency", &format!("-d{seconds}s"), "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let pick = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map_or_else(String::new, |l| l.trim().to_owned())
    };
    println!(
        "{label}: {} | p50 {} | p99 {} | {}",
        pick("Requests/sec"),
        pick("50%").trim_start_matches("50%").trim(),
        pick("99%").trim_start_matches("99%").trim(),
        Some(pick("Non-2xx"))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "all 2xx".to_owned())
    );
}

#[tokio::main]
async fn main() {
    let seconds = env_usize("BENCH_SECONDS", 10);
    let pending = env_usize("BENCH_PENDING", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = IdentityFiles::write();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["serve", "--port", "0", "--sqlite"])
        .arg(dir.path().join("approvals.db"))
        .arg("--oidc-config")
        .arg(&identity.oidc_config)
        .arg("--rbac-file")
        .arg(&identity.rbac_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("cavra serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("URL line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("URL")
        .to_owned();

    let api = Api::new(SingleServer(base.clone()));
    let started = std::time::Instant::now();
    let mut ids = Vec::with_capacity(pending);
    for chunk in (0..pending).collect::<Vec<_>>().chunks(64) {
        let created = futures::future::join_all(chunk.iter().map(|n| {
            let api = &api;
            async move { api.create(&format!("dec_bench_{n}")).await }
        }))
        .await;
        ids.extend(
            created
                .iter()
                .map(|r| r["approval_id"].as_str().expect("id").to_owned()),
        );
    }
    println!(
        "seeded {pending} pending requests over HTTP in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let token = http_suite::approver("bench-approver@example.com");
    let ids_lua = ids
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(",");
    let get_script = dir.path().join("get.lua");
    std::fs::write(
        &get_script,
        format!(
            "local ids = {{{ids_lua}}}\nlocal n = 0\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n\
             request = function()\n  n = n + 1\n  return wrk.format(\"GET\", \"/approvals/\" .. ids[(n % #ids) + 1])\nend\n"
        ),
    )
    .expect("script");
    wrk("GET /approvals/{id}", &base, &get_script, seconds);

    // Each approve decides a different pending request (threads take disjoint halves); once
    // the pool runs out the rest answer 409, which the Non-2xx line reports.
    let approve_script = dir.path().join("approve.lua");
    std::fs::write(
        &approve_script,
        format!(
            "local ids = {{{ids_lua}}}\nlocal counter = 0\nlocal threads = {{}}\n\
             function setup(thread)\n  thread:set(\"offset\", counter)\n  counter = counter + 1\nend\n\
             local n = 0\nwrk.method = \"POST\"\nwrk.body = '{{\"reason\": \"load test\"}}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n\
             request = function()\n  local i = n * 2 + offset + 1\n  n = n + 1\n  if i > #ids then i = #ids end\n\
               return wrk.format(nil, \"/approvals/\" .. ids[i] .. \"/approve\")\nend\n"
        ),
    )
    .expect("script");
    wrk(
        "POST /approvals/{id}/approve",
        &base,
        &approve_script,
        seconds,
    );
    let decided = api
        .call(
            Route::List,
            "/approvals?state=approved&limit=1",
            None,
            Some(&http_suite::developer()),
        )
        .await;
    println!("approved after the run: {}", decided.body["total"]);
    let _ = child.kill();
    let _ = child.wait();
}
