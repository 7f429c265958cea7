//! schemathesis (`tests/tools/schemathesis.sh`, pinned, from PyPI) against `infra/openapi.yaml`
//! on the real `cavra serve`, in local mode and in OIDC mode (test key, RBAC): a bounded,
//! seeded run of every phase (examples, coverage, fuzzing, stateful) with every check
//! (`--checks all`, none excluded; see [`CONFIG`] for the refusals a schema-valid request may
//! get). The run must end with no failure, no response >= 500 (in the HAR report of every
//! request) and no panic or 5xx in the server's log.
//!
//! Each server gets a fresh SQLite file in a temporary folder, seeded over HTTP with a request
//! in every state, so list pages hold real records and the stateful phase reaches them through
//! the links schemathesis infers from the responses. schemathesis runs in that folder with its
//! example database off and its reports there, so nothing is written inside the repository.
//! Every process started here is killed when the test ends, passed or not, and none inherits a
//! descriptor of the test process beyond stdin, stdout and stderr.
//!
//! Skipped, saying why, only when `python3` is missing (schemathesis needs it); a failing
//! install fails the test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cavra_api::Route;
use cavra_e2e::deployment::{CONFIG_VARIABLES, Setup};
use cavra_e2e::emulator::repo_root;
use cavra_e2e::http_suite::{self, Api, GROUP, SingleServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Test cases per operation and phase: enough for every operation to see valid and invalid
/// input, small enough that both modes finish in about a minute on two cores.
/// `CAVRA_SCHEMATHESIS_MAX_EXAMPLES` replaces it (a longer hunt by hand).
const MAX_EXAMPLES: &str = "60";
/// The same inputs every run; `CAVRA_SCHEMATHESIS_SEED` replaces it.
const SEED: &str = "20260518";
/// The longest one schemathesis run may take before it is killed and the test fails, in
/// seconds; `CAVRA_SCHEMATHESIS_RUN_LIMIT` replaces it.
const RUN_LIMIT: &str = "150";

/// `variable`'s value, or `default` when it is unset or blank.
fn setting(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

// ------------------------------------------------------------------------------ processes

/// Children that are killed (and reaped) when this is dropped, also while a failed assertion
/// unwinds.
#[derive(Default)]
struct Reaper(Vec<Child>);

impl Reaper {
    fn keep(&mut self, child: Child) -> &mut Child {
        self.0.push(child);
        self.0.last_mut().expect("just pushed")
    }

    /// How the child `pid` ended, if it has.
    fn exited(&mut self, pid: u32) -> Option<ExitStatus> {
        self.0
            .iter_mut()
            .find(|child| child.id() == pid)
            .and_then(|child| child.try_wait().ok().flatten())
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// This process's descriptors above stderr that a child would inherit (no `FD_CLOEXEC`), with
/// what each one is (`/proc/self/fd/N`). The standard library opens everything close-on-exec;
/// these come from whoever started the test (a make or cargo jobserver, a terminal).
fn inheritable_descriptors() -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fdinfo") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(entry.path()) else {
            continue; // the directory listing's own descriptor, closed by now
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .unwrap_or(0);
        const O_CLOEXEC: u32 = 0o2_000_000;
        if flags & O_CLOEXEC == 0
            && let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        {
            found.push((fd, target));
        }
    }
    found
}

/// A command for `program` that starts with no descriptor but 0, 1 and 2: when the test
/// process holds inheritable ones, the program is started through bash, which closes them and
/// execs it (the workspace forbids `unsafe`, so no `pre_exec`).
fn clean_command(program: &Path) -> Command {
    let inherited = inheritable_descriptors();
    if inherited.is_empty() {
        return Command::new(program);
    }
    let closes = inherited.iter().fold(String::new(), |mut closes, (fd, _)| {
        let _ = write!(closes, " {fd}>&-");
        closes
    });
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("exec{closes}; exec \"$0\" \"$@\""))
        .arg(program);
    command
}

/// Fails when `pid` holds one of this process's inheritable pipes or sockets (what would keep
/// a jobserver or the test's output open), once it runs its own program (not the bash of
/// [`clean_command`] that is about to close them). Paths such as `/dev/null` are not compared:
/// the program may well open them itself.
fn assert_inherits_nothing(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "bash")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let leaked: Vec<String> = inheritable_descriptors()
        .into_iter()
        .filter(|(fd, target)| {
            target.to_string_lossy().contains(":[")
                && std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|t| t == *target)
        })
        .map(|(fd, target)| format!("{fd} -> {}", target.display()))
        .collect();
    assert!(
        leaked.is_empty(),
        "{what} inherited descriptors: {leaked:?}"
    );
}

/// Waits for `child` at most `limit`; kills it past that.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} ran longer than {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

// ------------------------------------------------------------------------------ the server

/// One mode under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// No OIDC, no RBAC: self-declared identities, `identity: unverified`.
    Local,
    /// OIDC with the test key and the suite's RBAC mapping; every request carries a token.
    Oidc,
}

impl Mode {
    fn setup(self) -> Setup {
        match self {
            Self::Local => Setup::local(),
            Self::Oidc => Setup::suite(),
        }
    }
}

/// A running `cavra serve` and the folder it works in.
struct Server {
    base: String,
    pid: u32,
    stderr: PathBuf,
}

/// Starts `cavra serve` for `mode` on a free loopback port with a fresh SQLite file in `dir`.
fn start_server(mode: Mode, dir: &Path, reaper: &mut Reaper) -> Server {
    // A console of its own, so answers do not depend on the embedded one.
    let console = dir.join("console");
    std::fs::create_dir_all(&console).expect("console folder");
    std::fs::write(
        console.join("index.html"),
        "<!DOCTYPE html><title>console</title>",
    )
    .expect("index.html");
    let stdout = dir.join("serve.out");
    let stderr = dir.join("serve.err");
    let mut command = clean_command(cavra_e2e::workspace::cavra_binary());
    command
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--sqlite"])
        .arg(dir.join("approvals.db"))
        .arg("--console-dir")
        .arg(&console)
        .current_dir(dir)
        .env_remove("CAVRA_CONSOLE_DIR")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("serve.out"))
        .stderr(std::fs::File::create(&stderr).expect("serve.err"));
    for variable in CONFIG_VARIABLES {
        command.env_remove(variable);
    }
    command.envs(mode.setup().environment(dir));
    let child = reaper.keep(command.spawn().expect("cavra serve starts"));
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        if let Some(base) = read(&stdout)
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
        {
            break base.to_owned();
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "cavra serve exited ({status}) before printing its URL:\n{}",
                read(&stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "cavra serve printed no URL in 60 s:\n{}",
            read(&stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_inherits_nothing(pid, "cavra serve");
    Server { base, pid, stderr }
}

/// The token schemathesis sends in OIDC mode: an approver of [`GROUP`] (through the RBAC
/// mapping) who is also on the Change Advisory Board, so approve, deny, expire and break-glass
/// can all succeed for requests someone else made.
fn fuzzer_token() -> String {
    http_suite::token(
        "fuzzer@example.com",
        &["github-team:platform-security", "Change Advisory Board"],
    )
}

/// Creates requests in every state: two pending, one approved, one denied, one expired, one
/// break-glass, requested by the developer and decided by someone in [`GROUP`]. Returns their
/// ids.
async fn seed(mode: Mode, base: &str) -> Vec<String> {
    let api = Api::new(SingleServer(base.to_owned()));
    let oidc = mode == Mode::Oidc;
    // With OIDC the token says who acts; in local mode the body does.
    let bearer = |token: String| oidc.then_some(token);
    let acting_as = |mut body: Value, email: &str, groups: &[&str]| {
        if !oidc {
            body["actor"] = json!(email);
            body["actor_claims"] = json!({"email": email, "groups": groups});
        }
        body
    };
    let developer = bearer(http_suite::developer());
    let approver = bearer(http_suite::approver("security@example.com"));
    let mut ids = Vec::new();
    for (n, then) in [
        None,
        None,
        Some(Route::Approve),
        Some(Route::Deny),
        Some(Route::Expire),
    ]
    .into_iter()
    .enumerate()
    {
        let created = api
            .call(
                Route::Create,
                "/approvals",
                Some(json!({
                    "decision": http_suite::decision(&format!("dec_seed_{n}")),
                    "approver_group": GROUP, "requested_by": "developer@example.com",
                })),
                developer.as_deref(),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "seed: {}",
            created.body
        );
        let id = created.body["approval_id"]
            .as_str()
            .expect("an id")
            .to_owned();
        if let Some(route) = then {
            let (_, template) = route.method_and_path();
            let body =
                json!({"reason": "seeded by the schemathesis test", "external_ref": "CHG-1"});
            let decided = api
                .call(
                    route,
                    &template.replace("{approval_id}", &id),
                    Some(acting_as(body, "security@example.com", &[GROUP])),
                    approver.as_deref(),
                )
                .await;
            assert_eq!(
                decided.status,
                StatusCode::OK,
                "seed {route:?}: {}",
                decided.body
            );
        }
        ids.push(id);
    }
    let mut blocked = http_suite::decision("dec_seed_bg");
    blocked["decision"] = json!("block");
    let body = json!({"decision": blocked, "approver_group": GROUP, "reason": "outage",
                      "external_ref": "INC-1"});
    let commander = bearer(http_suite::token(
        "cab@example.com",
        &["Change Advisory Board", "github-team:platform-security"],
    ));
    let broke = api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(acting_as(
                body,
                "cab@example.com",
                &["Change Advisory Board", GROUP],
            )),
            commander.as_deref(),
        )
        .await;
    assert_eq!(
        broke.status,
        StatusCode::OK,
        "seed break-glass: {}",
        broke.body
    );
    ids.push(
        broke.body["approval_id"]
            .as_str()
            .expect("an id")
            .to_owned(),
    );
    ids
}

// ------------------------------------------------------------------------------ schemathesis

/// What one run found.
struct Run {
    status: ExitStatus,
    output: String,
    /// Every response's status, from the HAR report.
    statuses: Vec<(u16, String)>,
    /// Failed test cases, from the JUnit report.
    failures: usize,
    elapsed: Duration,
}

/// The installed `st`, or `None` (with the reason printed) when python3 is missing.
fn schemathesis() -> Option<PathBuf> {
    if Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        println!(
            "SKIPPED schemathesis conformance: python3 is not installed (schemathesis is a \
             Python tool; install python3 to run this test)"
        );
        return None;
    }
    let script = repo_root().join("tests/tools/schemathesis.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        Path::new(&path).is_file(),
        "{} printed {path:?}, not an executable",
        script.display()
    );
    Some(PathBuf::from(path))
}

/// schemathesis's configuration for these runs (`--config-file`; nothing is read from the
/// repository or the home folder).
///
/// `positive_data_acceptance` (a request valid by the schema must not be refused) also
/// accepts the refusals JSON Schema cannot express, each documented on the operation:
/// 400 for rules on stored state or on the deployment's configuration (the attached decision
/// must be the stored one, an actor is needed only without a verified identity, one identity
/// per request, a known cursor, a provider config), 403 and 409 for authorisation and the
/// request's state, 415 for a local-mode `POST` without a body (it must still declare JSON,
/// and OpenAPI cannot make `Content-Type` a parameter), and 422 for values the server refuses
/// by rule (TTLs over the configured limit, the reserved actor name, approver group names with
/// invisible characters or mixed scripts). A schema-valid request answered 413 or 5xx, or in
/// any undocumented way, still fails.
const CONFIG: &str = r#"
[cache]
enabled = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "415", "422"]
"#;

/// Runs schemathesis against `base` with its working folder and reports in `dir`.
fn run_schemathesis(st: &Path, mode: Mode, base: &str, dir: &Path, reaper: &mut Reaper) -> Run {
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("schemathesis.toml");
    let har = dir.join("report.har.json");
    let junit = dir.join("report.junit.xml");
    let output = dir.join("schemathesis.out");
    let log = std::fs::File::create(&output).expect("schemathesis.out");
    let mut command = clean_command(st);
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(repo_root().join("infra/openapi.yaml"))
        .args(["--url", base])
        .args(["--checks", "all"])
        .arg("--max-examples")
        .arg(setting("CAVRA_SCHEMATHESIS_MAX_EXAMPLES", MAX_EXAMPLES))
        .arg("--seed")
        .arg(setting("CAVRA_SCHEMATHESIS_SEED", SEED))
        .args(["--workers", "1"])
        // The example database would be `.hypothesis/` in the working folder.
        .args(["--generation-database", "none"])
        // Longer than the longest `GET /approvals/{id}?wait=` (25 s), which holds while a
        // generated wait meets a pending seeded request (`--checks all` holds responses to
        // the request timeout otherwise).
        .args(["--request-timeout", "30"])
        .args(["--max-response-time", "30"])
        .args(["--report", "junit,har"])
        .arg("--report-dir")
        .arg(dir.join("reports"))
        .arg("--report-har-path")
        .arg(&har)
        .arg("--report-junit-path")
        .arg(&junit)
        .arg("--no-color")
        .current_dir(dir)
        .env("HOME", dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("schemathesis.out"))
        .stderr(log);
    // Settings of the surrounding environment (`SCHEMATHESIS_HOOKS`, a Hypothesis profile)
    // would change what runs.
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(|n| n.starts_with("SCHEMATHESIS_") || n.starts_with("HYPOTHESIS"))
        {
            command.env_remove(&name);
        }
    }
    if mode == Mode::Oidc {
        command.args(["-H", &format!("Authorization: Bearer {}", fuzzer_token())]);
    }
    let started = Instant::now();
    let child = reaper.keep(command.spawn().expect("schemathesis starts"));
    assert_inherits_nothing(child.id(), "schemathesis");
    let limit = setting("CAVRA_SCHEMATHESIS_RUN_LIMIT", RUN_LIMIT)
        .parse()
        .expect("CAVRA_SCHEMATHESIS_RUN_LIMIT is a number of seconds");
    let status = wait_bounded(child, Duration::from_secs(limit), "schemathesis");
    let elapsed = started.elapsed();
    let mut statuses = Vec::new();
    let har: Value = serde_json::from_str(&read(&har)).unwrap_or(Value::Null);
    for entry in har["log"]["entries"].as_array().into_iter().flatten() {
        let code = entry["response"]["status"].as_u64().unwrap_or(0);
        let request = format!(
            "{} {}",
            entry["request"]["method"].as_str().unwrap_or("?"),
            entry["request"]["url"].as_str().unwrap_or("?")
        );
        statuses.push((u16::try_from(code).unwrap_or(0), request));
    }
    let junit = read(&junit);
    let failures = junit.matches("<failure").count() + junit.matches("<error").count();
    Run {
        status,
        output: read(&output),
        statuses,
        failures,
        elapsed,
    }
}

/// Starts the server for `mode`, seeds it, fuzzes it; returns what went wrong (empty: nothing).
fn check(st: &Path, mode: Mode) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut reaper = Reaper::default();
    let server = start_server(mode, dir.path(), &mut reaper);
    let seeded = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(seed(mode, &server.base));
    let run = run_schemathesis(st, mode, &server.base, dir.path(), &mut reaper);
    let server_exit = reaper.exited(server.pid);
    // The server's log is complete once it is gone.
    drop(reaper);
    let log = read(&server.stderr);

    let mut problems = Vec::new();
    let tail: String = run
        .output
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .fold(String::new(), |mut s, l| {
            let _ = writeln!(s, "    {l}");
            s
        });
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for (code, _) in &run.statuses {
        *by_status.entry(*code).or_default() += 1;
    }
    println!(
        "{mode:?}: seeded {} requests, schemathesis made {} requests in {:.1} s (by status: \
         {by_status:?}), exit {}, {} failed test cases\n{tail}",
        seeded.len(),
        run.statuses.len(),
        run.elapsed.as_secs_f64(),
        run.status,
        run.failures
    );
    if run.statuses.is_empty() {
        problems.push(format!("{mode:?}: the HAR report lists no request"));
    }
    if !run.status.success() || run.failures > 0 {
        problems.push(format!(
            "{mode:?}: schemathesis failed ({}, {} failed test cases):\n{}",
            run.status, run.failures, run.output
        ));
    }
    let server_errors: Vec<String> = run
        .statuses
        .iter()
        .filter(|(code, _)| *code >= 500)
        .map(|(code, request)| format!("{code} for {request}"))
        .collect();
    if !server_errors.is_empty() {
        problems.push(format!(
            "{mode:?}: {} responses >= 500: {server_errors:?}",
            server_errors.len()
        ));
    }
    if let Some(status) = server_exit {
        problems.push(format!(
            "{mode:?}: cavra serve exited ({status}) during the run:\n{log}"
        ));
    }
    if log.contains("panicked") {
        problems.push(format!("{mode:?}: cavra serve panicked:\n{log}"));
    }
    if log.contains("server error") {
        problems.push(format!(
            "{mode:?}: cavra serve logged a server error:\n{log}"
        ));
    }
    problems
}

#[test]
fn schemathesis_finds_no_conformance_failure_in_local_and_oidc_mode() {
    let Some(st) = schemathesis() else {
        return;
    };
    let problems: Vec<String> = [Mode::Local, Mode::Oidc]
        .into_iter()
        .flat_map(|mode| check(&st, mode))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
