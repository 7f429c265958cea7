//! Issue H §1: the side-by-side benchmark, one command, one run, ratios printed.
//!
//! `cargo bench -p cavra-cli --bench serve_load` (installs `wrk` from Debian when missing,
//! through `tests/tools/wrk.sh`). Figures are printed, never asserted.
//!
//! 1. The limit: a raw SQLite durable single-row UPDATE loop with the store's pragmas, before
//!    and after the HTTP runs (the better of the two counts).
//! 2. The release `cavra serve` on SQLite, in local mode and in OIDC mode (RS256 tokens
//!    verified on every request, RBAC on), under `wrk` (a second process on loopback) at c=1
//!    and c=16: `GET /approvals/{id}`, a list page of 50 (`GET /approvals?limit=50`),
//!    `POST /approvals` (each request a new decision) and `POST /approvals/{id}/approve`
//!    (each request a different pending request), with p50/p99 and non-2xx answers.
//! 3. Each approve rate as a ratio to the limit.
//!
//! `BENCH_SECONDS` (default 5) sets each wrk run's length; `BENCH_PENDING` (default 120,000)
//! how many pending requests are seeded per mode (half for each approve run; when a run
//! decides them all, the rest answer 409 and show as non-2xx, and the 2xx rate is capped by
//! the supply: 60,000 covers 5 s at 12,000 approves per second).
//! DynamoDB requests per operation: `cargo bench -p cavra-e2e --bench dynamodb_requests`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cavra_e2e::http_suite::{self, GROUP, IdentityFiles};
use serde_json::{Value, json};

#[path = "common/limit.rs"]
mod limit;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one wrk run measured.
struct Run {
    label: String,
    /// 2xx answers per second (a run that decided every pending request answers 409 after).
    rate: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
}

/// Runs wrk with `connections` connections and `script`; returns its figures.
fn wrk(label: &str, url: &str, script: &Path, seconds: usize, connections: usize) -> Run {
    let threads = connections.min(2);
    let out = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .args(["--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l.trim_start_matches(prefix).trim().to_owned())
            .unwrap_or_default()
    };
    // "123456 requests in 5.00s, 98.76MB read"
    let (total, elapsed) = text
        .lines()
        .map(str::trim)
        .find_map(|l| {
            let (count, rest) = l.split_once(" requests in ")?;
            let secs = rest.split(['s', ',']).next()?.trim().parse::<f64>().ok()?;
            Some((count.trim().parse::<u64>().ok()?, secs))
        })
        .unwrap_or((0, 1.0));
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").parse().unwrap_or(0);
    let run = Run {
        label: format!("{label} c={connections}"),
        rate: total.saturating_sub(non_2xx) as f64 / elapsed.max(0.001),
        p50: field("50%"),
        p99: field("99%"),
        non_2xx,
    };
    println!(
        "  {:<34} {:>9.0} 2xx/s   p50 {:>8}   p99 {:>8}   non-2xx {}",
        run.label, run.rate, run.p50, run.p99, run.non_2xx
    );
    run
}

/// A running release `cavra serve`.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path, identity: Option<&IdentityFiles>) -> Serve {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
    command
        .args(["serve", "--port", "0", "--sqlite"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .env_remove("CAVRA_APPROVAL_OIDC_CONFIG")
        .env_remove("CAVRA_APPROVAL_RBAC_FILE")
        .stdout(Stdio::piped());
    if let Some(identity) = identity {
        command
            .arg("--oidc-config")
            .arg(&identity.oidc_config)
            .arg("--rbac-file")
            .arg(&identity.rbac_file);
    }
    let mut child = command.spawn().expect("cavra serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("URL line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("URL")
        .to_owned();
    Serve { child, base }
}

/// The create body for decision `id` (a pending request routed to [`GROUP`]).
fn create_body(id: &str) -> Value {
    json!({
        "decision": http_suite::decision(id),
        "approver_group": GROUP,
        "requested_by": "bench-agent",
    })
}

/// Creates `n` pending requests, 64 at a time; returns their ids.
async fn seed(base: &str, token: Option<&str>, prefix: &str, n: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(n);
    let numbers: Vec<usize> = (0..n).collect();
    for chunk in numbers.chunks(64) {
        let created = futures::future::join_all(chunk.iter().map(|i| {
            let mut request = client
                .post(format!("{base}/approvals"))
                .json(&create_body(&format!("{prefix}_{i}")));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            async move {
                let record: Value = request
                    .send()
                    .await
                    .expect("create answers")
                    .json()
                    .await
                    .expect("JSON");
                record["approval_id"].as_str().expect("created").to_owned()
            }
        }))
        .await;
        ids.extend(created);
    }
    ids
}

/// The Lua lines that set the Authorization header, when there is a token.
fn auth_lua(token: Option<&str>) -> String {
    token.map_or_else(String::new, |t| {
        format!("wrk.headers[\"Authorization\"] = \"Bearer {t}\"\n")
    })
}

fn ids_lua(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(",")
}

/// Each wrk thread takes every `threads`-th entry from its own offset, so no two requests
/// share an index.
const THREAD_OFFSETS: &str = "local counter = 0\nfunction setup(thread)\n  thread:set(\"offset\", counter)\n  \
     counter = counter + 1\nend\nlocal n = 0\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("script written");
    path
}

/// Every route at c=1 and c=16 against one server; returns the two approve runs.
async fn mode(
    label: &str,
    dir: &Path,
    identity: Option<&IdentityFiles>,
    seconds: usize,
    pending: usize,
) -> Vec<Run> {
    let server = serve(&dir.join(format!("{label}.db")), identity);
    let base = server.base.clone();
    let creator = identity.map(|_| http_suite::developer());
    let approver = identity.map(|_| http_suite::approver("bench-approver@example.com"));
    let started = std::time::Instant::now();
    let ids = seed(&base, creator.as_deref(), &format!("dec_{label}"), pending).await;
    println!(
        "{label} mode ({}): seeded {pending} pending requests over HTTP in {:.1} s",
        if identity.is_some() {
            "OIDC RS256 + RBAC"
        } else {
            "no token"
        },
        started.elapsed().as_secs_f64()
    );
    let read_auth = auth_lua(approver.as_deref());
    let get = write(
        dir,
        "get.lua",
        &format!(
            "local ids = {{{}}}\nlocal n = 0\n{read_auth}request = function()\n  n = n + 1\n  \
             return wrk.format(\"GET\", \"/approvals/\" .. ids[(n % #ids) + 1])\nend\n",
            ids_lua(&ids[..ids.len().min(2000)])
        ),
    );
    let list = write(
        dir,
        "list.lua",
        &format!("{read_auth}wrk.path = \"/approvals?limit=50\"\n"),
    );
    let template = create_body("DECISION_ID").to_string();
    let create = write(
        dir,
        "create.lua",
        &format!(
            "{THREAD_OFFSETS}wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{}\
             local template = '{template}'\nrequest = function()\n  n = n + 1\n  \
             local id = \"dec_{label}_new_\" .. offset .. \"_\" .. n .. \"_\" .. math.random(1, 1e9)\n  \
             return wrk.format(nil, \"/approvals\", nil, string.gsub(template, \"DECISION_ID\", id))\nend\n",
            auth_lua(creator.as_deref())
        ),
    );
    let approve_body = if identity.is_some() {
        json!({"reason": "load test"})
    } else {
        json!({"actor": "bench-approver", "reason": "load test"})
    };
    let (first, second) = ids.split_at(ids.len() / 2);
    let approve = |name: &str, ids: &[String], threads: usize| {
        write(
            dir,
            name,
            &format!(
                "local ids = {{{}}}\n{THREAD_OFFSETS}wrk.method = \"POST\"\nwrk.body = '{approve_body}'\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n{read_auth}request = function()\n  \
                 local i = n * {threads} + offset + 1\n  n = n + 1\n  if i > #ids then i = #ids end\n  \
                 return wrk.format(nil, \"/approvals/\" .. ids[i] .. \"/approve\")\nend\n",
                ids_lua(ids)
            ),
        )
    };
    let approve_c1 = approve("approve-1.lua", first, 1);
    let approve_c16 = approve("approve-16.lua", second, 2);

    let mut approves = Vec::new();
    for connections in [1, 16] {
        wrk(
            &format!("{label} GET /approvals/{{id}}"),
            &base,
            &get,
            seconds,
            connections,
        );
        wrk(
            &format!("{label} GET /approvals?limit=50"),
            &base,
            &list,
            seconds,
            connections,
        );
        wrk(
            &format!("{label} POST /approvals"),
            &base,
            &create,
            seconds,
            connections,
        );
        let script = if connections == 1 {
            &approve_c1
        } else {
            &approve_c16
        };
        approves.push(wrk(
            &format!("{label} POST …/approve"),
            &base,
            script,
            seconds,
            connections,
        ));
    }
    approves
}

#[tokio::main]
async fn main() {
    let seconds = env_usize("BENCH_SECONDS", 5);
    let pending = env_usize("BENCH_PENDING", 120_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new("bash")
        .arg(root.join("tests/tools/wrk.sh"))
        .status()
        .expect("bash runs");
    assert!(status.success(), "wrk could not be installed");
    let dir = tempfile::tempdir().expect("temp dir");
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "machine: {cores} cores; cavra serve ({} build) on SQLite in {}; wrk on the same machine",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        dir.path().display()
    );

    let raw_before = limit::raw_update_rate(&dir.path().join("raw-1.db"), 3000);
    println!("limit: raw durable single-row UPDATE loop {raw_before:.0}/s (before)");
    let identity = IdentityFiles::write();
    let mut approves = mode("local", dir.path(), None, seconds, pending).await;
    approves.extend(mode("oidc", dir.path(), Some(&identity), seconds, pending).await);
    let raw_after = limit::raw_update_rate(&dir.path().join("raw-2.db"), 3000);
    let raw = raw_before.max(raw_after);
    println!(
        "limit: raw durable single-row UPDATE loop {raw_after:.0}/s (after); limit {raw:.0}/s"
    );
    for run in approves {
        println!(
            "ratio: {:<34} {:>7.0}/s = {:.2}x the raw loop",
            run.label,
            run.rate,
            run.rate / raw
        );
    }
}
