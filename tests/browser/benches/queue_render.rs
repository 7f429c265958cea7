//! How fast the console shows a big queue, and how much it weighs. Prints figures; asserts
//! nothing about time. `cargo bench -p cavra-console-e2e --bench queue_render`.
//!
//! - the gzipped size (gzip -9) of the release build's wasm, js and css;
//! - navigation → a rendered queue of 500 requests (one page, `/?limit=500`) in headless
//!   Chromium against `cavra serve` on SQLite: `performance.now()` (milliseconds since the
//!   navigation started) when the 500th row is in the DOM, polled over WebDriver every 5 ms.

use std::process::{Command, Stdio};
use std::time::Duration;

use cavra_console_e2e::{Driver, Server, approver, console_bundle, sign_in};
use serde_json::Value;

const REQUESTS: usize = 500;
const RUNS: usize = 7;

fn gzipped(path: &std::path::Path) -> u64 {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .expect("gzip runs");
    out.stdout.len() as u64
}

fn sizes() {
    let dist = console_bundle();
    let mut total = (0, 0);
    let mut files: Vec<_> = std::fs::read_dir(dist)
        .expect("the bundle exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "wasm" || e == "js" || e == "css")
        })
        .collect();
    files.sort();
    for path in files {
        let raw = std::fs::metadata(&path).expect("file").len();
        let zipped = gzipped(&path);
        total = (total.0 + raw, total.1 + zipped);
        println!(
            "{:<48} {:>9} B  gzip {:>9} B",
            path.file_name().unwrap_or_default().to_string_lossy(),
            raw,
            zipped
        );
    }
    println!(
        "{:<48} {:>9} B  gzip {:>9} B",
        "total (wasm + js + css)", total.0, total.1
    );
}

async fn render_times() -> anyhow::Result<Vec<f64>> {
    let server = Server::start();
    for i in 0..REQUESTS {
        server
            .create_over_http(&format!("dec_bench{i:07}"), &format!("iam/role-{i}.tf"))
            .await;
    }
    let mut driver = Driver::start().await?;
    let browser = driver.browser().await?;
    sign_in(&browser, &server.base, &approver("alice@example.com")).await?;
    let mut times = Vec::new();
    for _ in 0..RUNS {
        browser
            .goto(&format!("{}/?limit={REQUESTS}", server.base))
            .await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let found = browser
                .execute(
                    "return [document.querySelectorAll('table.queue tbody tr').length, performance.now()];",
                    vec![],
                )
                .await?;
            if found[0].as_u64() == Some(REQUESTS as u64) {
                times.push(found[1].as_f64().unwrap_or(f64::NAN));
                break;
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the queue never showed {REQUESTS} rows"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let summary: Value = browser
        .execute(
            "return document.getElementById('queue-summary').textContent;",
            vec![],
        )
        .await?;
    println!("queue says: {summary}");
    browser.close().await?;
    Ok(times)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("== console build size");
    sizes();
    println!(
        "== navigation → rendered queue of {REQUESTS} requests (headless Chromium, {RUNS} runs)"
    );
    let mut times = render_times().await?;
    for (i, t) in times.iter().enumerate() {
        println!("run {}: {t:.0} ms", i + 1);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "min {:.0} ms, median {:.0} ms, max {:.0} ms (first run includes compiling the wasm)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
