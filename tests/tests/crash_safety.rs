//! Crash safety (CONTRACT §1): a child process writing approvals is killed with SIGKILL at a
//! random moment, again and again; after each kill the store reopens, every write the child
//! acknowledged is there, the JSON file always parses, and every history chain verifies.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cavra_core::approval::ApprovalState;
use cavra_core::history;
use cavra_core::store::{ApprovalStore, ListQuery};

const KILLS: usize = 12;

fn open(kind: &str, path: &std::path::Path) -> Arc<dyn ApprovalStore> {
    match kind {
        "json" => Arc::new(
            cavra_store_json::JsonFileStore::open(path)
                .expect("the JSON store reopens after a kill"),
        ),
        _ => Arc::new(
            cavra_store_sqlite::SqliteStore::open(path)
                .expect("the SQLite store reopens after a kill"),
        ),
    }
}

async fn survive_kills(kind: &str, file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    let mut created = Vec::new();
    let mut approved = Vec::new();
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .args([kind, path.to_str().unwrap(), &format!("r{round}")])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the writer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill somewhere between 30 ms and ~300 ms into the run, after at least one ack.
        let budget = Duration::from_millis(30 + (round as u64 * 97) % 270);
        let started = Instant::now();
        let mut acks = 0;
        while started.elapsed() < budget || acks == 0 {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(5)) {
                acks += 1;
                record(&line, &mut created, &mut approved);
            }
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "writer produced no acknowledgement"
            );
        }
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines already written to the pipe before the kill were acknowledged too.
        while let Ok(line) = rx.try_recv() {
            record(&line, &mut created, &mut approved);
        }

        if kind == "json" {
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed: serde_json::Value =
                serde_json::from_str(&text).expect("the JSON file always parses");
            assert!(parsed["items"].is_array());
        }
        let store = open(kind, &path);
        for id in &created {
            let record = store
                .get(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged {id} was lost"));
            assert!(
                history::verify(&record.history).valid,
                "{id}: history chain verifies"
            );
        }
        for id in &approved {
            assert_eq!(
                store.get(id).await.unwrap().unwrap().state,
                ApprovalState::Approved,
                "acknowledged approval of {id} was lost"
            );
        }
        let page = store
            .list(&ListQuery::new(None, None, Some(500), None))
            .await
            .unwrap();
        assert!(page.total as usize >= created.len());
    }
    assert!(
        created.len() >= KILLS,
        "the writer made progress in every round"
    );
    eprintln!(
        "{kind}: {KILLS} kills, {} acknowledged creates and {} acknowledged approvals all survived",
        created.len(),
        approved.len()
    );
}

fn record(line: &str, created: &mut Vec<String>, approved: &mut Vec<String>) {
    match line.split_once(' ') {
        Some(("created", id)) => created.push(id.to_owned()),
        Some(("approved", id)) => approved.push(id.to_owned()),
        _ => panic!("unexpected writer output: {line}"),
    }
}

#[tokio::test]
async fn json_store_survives_sigkill_mid_write() {
    survive_kills("json", "approvals.json").await;
}

#[tokio::test]
async fn sqlite_store_survives_sigkill_mid_write() {
    survive_kills("sqlite", "approvals.db").await;
}

/// Issue H: an approve is acknowledged only once its transaction is durable, with group commit
/// on. A child approves from 16 concurrent tasks (so the writer commits them in groups) and
/// prints `approved <id>` after each approve returns; the parent SIGKILLs it right after reading
/// the k-th acknowledgement, reopens the database, and finds every acknowledged approval.
#[tokio::test]
async fn sqlite_approve_is_durable_when_acknowledged() {
    const COUNT: usize = 400;
    const TASKS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    let mut total = 0;
    for (round, kill_after) in [1_usize, 2, 7, 16, 33, 100].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ack-writer"))
            .args([
                path.to_str().unwrap(),
                &format!("r{round}"),
                &COUNT.to_string(),
                &TASKS.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the writer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let mut acked = Vec::new();
        while acked.len() < kill_after {
            let line = lines.next().expect("an acknowledgement").unwrap();
            acked.push(line);
        }
        // Right after the k-th acknowledgement: no grace period for a late commit.
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();
        // Acknowledgements already in the pipe count too.
        acked.extend(lines.map_while(Result::ok));
        let store = open("sqlite", &path);
        for line in &acked {
            let id = line
                .strip_prefix("approved ")
                .unwrap_or_else(|| panic!("unexpected writer output: {line}"));
            let record = store
                .get(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{id} was lost"));
            assert_eq!(
                record.state,
                ApprovalState::Approved,
                "acknowledged approval of {id} was lost (round {round})"
            );
            assert!(history::verify(&record.history).valid, "{id}");
        }
        assert!(acked.len() >= kill_after);
        total += acked.len();
    }
    eprintln!(
        "sqlite: 6 kills right after an acknowledgement, {total} acknowledged approvals all survived"
    );
}
