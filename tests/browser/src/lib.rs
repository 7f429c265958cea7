//! The harness of the console's browser tests: it installs Chromium and chromedriver when they
//! are missing (`tests/tools/browser.sh`), starts the real `cavra serve` — serving the console
//! it embeds, the checked-in `frontend/bundle/` — on a temporary SQLite file with OIDC and
//! RBAC configured from the test key fixtures, runs the real `cavra` CLI against the same file,
//! and drives headless Chromium through chromedriver with fantoccini.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use cavra_e2e::http_suite::IdentityFiles;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub use cavra_e2e::http_suite::{GROUP, approver, decision, developer, incident_commander, token};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Where screenshots go (committed, and shown in the README).
/// Where screenshots go: `docs/screenshots/` (the README's pictures) when
/// `CAVRA_UPDATE_SCREENSHOTS` is set, else `target/screenshots/`, so a test run leaves the
/// checkout as it found it.
pub fn screenshot_dir() -> PathBuf {
    if std::env::var_os("CAVRA_UPDATE_SCREENSHOTS").is_some() {
        root().join("docs/screenshots")
    } else {
        root().join("target/screenshots")
    }
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One browser scenario at a time: Chromium, the server and the builds share two cores.
/// (A tokio mutex: each test has its own runtime, and a failed test must not poison the rest.)
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// Runs `command` and returns its stdout. Its stderr is kept (so an expected failure prints
/// no `error:` line into the test output) and reported when it fails, unless the caller
/// routed it elsewhere.
fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    ensure!(
        output.status.success(),
        "{what} failed: {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The checked-in console bundle `cavra serve` embeds (`frontend/bundle/`).
pub fn console_bundle() -> PathBuf {
    root().join("frontend/bundle")
}

/// Chromium and chromedriver, installed once per test process by `tests/tools/browser.sh`
/// when they are missing.
///
/// # Panics
/// They cannot be installed.
pub fn browser_tools() {
    static TOOLS: OnceLock<()> = OnceLock::new();
    TOOLS.get_or_init(|| {
        run(
            Command::new("bash")
                .arg(root().join("tests/tools/browser.sh"))
                // An install's progress stays visible.
                .stderr(Stdio::inherit()),
            "tests/tools/browser.sh",
        )
        .expect("chromium and chromedriver are installed");
    });
}

/// The `cavra` binary: `CAVRA_BIN` when set, else the workspace's own build of it.
///
/// # Panics
/// The build fails.
pub fn cavra_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var_os("CAVRA_BIN").map_or_else(
            || cavra_e2e::workspace::cavra_binary().clone(),
            PathBuf::from,
        )
    })
}

/// `cavra serve` on a temporary SQLite file with OIDC (test key) and RBAC (the
/// `github-team:platform-security` team maps to [`GROUP`]), serving the console it embeds.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The SQLite file the CLI shares with the server.
    pub db: PathBuf,
    dir: tempfile::TempDir,
    _identity: IdentityFiles,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Builds what is missing and starts the server on a free port.
    ///
    /// # Panics
    /// Anything fails to build or start.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("approvals.db");
        let identity = IdentityFiles::write();
        let mut child = Command::new(cavra_binary())
            .args(["serve", "--port", "0", "--sqlite"])
            .arg(&db)
            .arg("--oidc-config")
            .arg(&identity.oidc_config)
            .arg("--rbac-file")
            .arg(&identity.rbac_file)
            .env_remove("CAVRA_CONSOLE_DIR")
            .env_remove("CAVRA_APPROVAL_DB")
            .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cavra serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("cavra serve prints its URL");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("cavra serve printed no URL: {line:?}"))
            .to_owned();
        assert!(
            line.contains("console at /"),
            "cavra serve does not serve the console: {line}"
        );
        Self {
            child,
            base,
            db,
            dir,
            _identity: identity,
            http: reqwest::Client::new(),
        }
    }

    /// Runs the `cavra` CLI against the server's SQLite file; returns stdout.
    ///
    /// # Errors
    /// The command fails.
    pub fn cavra(&self, args: &[&str]) -> anyhow::Result<String> {
        run(
            Command::new(cavra_binary())
                .args(args)
                .arg("--sqlite")
                .arg(&self.db)
                .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG"),
            &format!("cavra {}", args.join(" ")),
        )
    }

    /// A file in the server's temporary folder.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    /// `cavra approval create` for a fresh `require_approval` decision, requested by
    /// `developer@example.com` for `group`; returns the approval id.
    ///
    /// # Panics
    /// The CLI fails or prints no record.
    pub fn create_from_cli(&self, decision_id: &str, target: &str, group: &str) -> String {
        let mut decision = decision(decision_id);
        decision["target"] = json!(target);
        self.create_decision_from_cli(&decision, group, &[])
    }

    /// `cavra approval create` for `decision` (written to a temp file), requested by
    /// `developer@example.com` for `group`, with `extra` arguments (`--rationale …`); returns
    /// the approval id.
    ///
    /// # Panics
    /// The CLI fails or prints no record.
    pub fn create_decision_from_cli(
        &self,
        decision: &Value,
        group: &str,
        extra: &[&str],
    ) -> String {
        let decision_id = decision["decision_id"].as_str().unwrap_or("dec_unnamed");
        let file = self.write_file(&format!("{decision_id}.json"), &decision.to_string());
        let mut args = vec![
            "approval",
            "create",
            file.to_str().expect("UTF-8 temp path"),
            "--requested-by",
            "developer@example.com",
            "--approver-group",
            group,
        ];
        args.extend_from_slice(extra);
        let out = self.cavra(&args).expect("cavra approval create");
        let record: Value = serde_json::from_str(&out).expect("create prints the record");
        record["approval_id"]
            .as_str()
            .expect("the record has an id")
            .to_owned()
    }

    /// `GET /approvals/{id}` with `token`.
    ///
    /// # Panics
    /// The call fails.
    pub async fn record(&self, id: &str, token: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/approvals/{id}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /approvals/{id}");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("a JSON record")
    }

    /// `GET /approvals?…` with `token`.
    ///
    /// # Panics
    /// The call fails.
    pub async fn list(&self, query: &str, token: &str) -> Value {
        self.http
            .get(format!("{}/approvals?{query}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /approvals")
            .json()
            .await
            .expect("a JSON page")
    }

    /// `POST /approvals` of a fresh decision, as the developer; returns the id.
    ///
    /// # Panics
    /// The call fails.
    pub async fn create_over_http(&self, decision_id: &str, target: &str) -> String {
        let mut decision = decision(decision_id);
        decision["target"] = json!(target);
        let response = self
            .http
            .post(format!("{}/approvals", self.base))
            .bearer_auth(developer())
            .json(&json!({"decision": decision, "approver_group": GROUP}))
            .send()
            .await
            .expect("POST /approvals");
        assert_eq!(response.status(), 201, "creating {decision_id}");
        let record: Value = response.json().await.expect("a JSON record");
        record["approval_id"].as_str().expect("an id").to_owned()
    }
}

/// chromedriver on a free port; each [`Driver::browser`] is a separate headless Chromium.
pub struct Driver {
    child: Child,
    url: String,
    profiles: Vec<tempfile::TempDir>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver and waits until it answers.
    ///
    /// # Errors
    /// chromedriver is missing or does not come up within 20 s.
    pub async fn start() -> anyhow::Result<Self> {
        browser_tools();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/status", driver.url))
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not answer on {}", driver.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium (its own profile, so its own `sessionStorage`), 1366×900.
    ///
    /// # Errors
    /// The session cannot be created.
    pub async fn browser(&mut self) -> anyhow::Result<Client> {
        let profile = tempfile::tempdir()?;
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1366,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium_binary(), "args": args}),
        );
        self.profiles.push(profile);
        let client = ClientBuilder::rustls()?
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .context("creating a Chromium session")?;
        Ok(client)
    }
}

impl Driver {
    /// A new browser whose session panel holds `token`, on `server`.
    ///
    /// # Errors
    /// The browser cannot start or the panel refuses the token.
    pub async fn signed_in(&mut self, server: &Server, token: &str) -> anyhow::Result<Client> {
        let browser = self.browser().await?;
        sign_in(&browser, &server.base, token).await?;
        Ok(browser)
    }
}

/// Opens the queue, presses `verdict` (`approve`, `deny`, `expire`) on the row of `id` and
/// types `reason` into the dialog (without sending it).
///
/// # Errors
/// The row, its button or the dialog does not appear.
pub async fn start_decision(
    browser: &Client,
    server: &Server,
    id: &str,
    verdict: &str,
    reason: &str,
) -> anyhow::Result<()> {
    browser.goto(&server.base).await?;
    element(browser, &format!("{} button.verdict-{verdict}", row(id)))
        .await?
        .click()
        .await?;
    element(browser, "#decision-reason")
        .await?
        .send_keys(reason)
        .await?;
    Ok(())
}

fn chromium_binary() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("chromium")
        .to_owned()
}

/// How long the helpers wait for the console to show something.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits for an element matching `css`.
///
/// # Errors
/// It does not appear within [`PATIENCE`].
pub async fn element(client: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for {css}"))
}

/// Waits until the text of the element matching `css` contains `expected`; returns the text.
///
/// # Errors
/// It does not within [`PATIENCE`].
pub async fn text_containing(client: &Client, css: &str, expected: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        if let Ok(found) = client.find(Locator::Css(css)).await
            && let Ok(text) = found.text().await
        {
            if text.contains(expected) {
                return Ok(text);
            }
            last = text;
        }
        if Instant::now() > deadline {
            bail!("{css} never contained {expected:?}; last text: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the attribute `name` of the element matching `css` equals `expected`.
///
/// # Errors
/// It does not within [`PATIENCE`].
pub async fn attribute_is(
    client: &Client,
    css: &str,
    name: &str,
    expected: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        if let Ok(found) = client.find(Locator::Css(css)).await {
            last = found.attr(name).await.ok().flatten();
            if last.as_deref() == Some(expected) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{css} [{name}] never became {expected:?}; last: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the session panel, pastes `token` and saves it (as an approver would).
///
/// # Errors
/// The panel does not accept it.
pub async fn sign_in(client: &Client, base: &str, token: &str) -> anyhow::Result<()> {
    client.goto(&format!("{base}/session")).await?;
    element(client, "#token-input")
        .await?
        .send_keys(token)
        .await?;
    element(client, "#token-save").await?.click().await?;
    element(client, "#session-actor").await?;
    Ok(())
}

/// The queue row of `id`.
pub fn row(id: &str) -> String {
    format!("tr[data-approval-id='{id}']")
}

/// Saves a PNG of the browser's viewport as `{name}.png` in [`screenshot_dir`].
///
/// # Errors
/// The screenshot or the file fails.
pub async fn screenshot(client: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let png = client.screenshot().await?;
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}

/// The widths every console screen is checked and pictured at: a desktop, a 1024 px laptop or
/// tablet, a 390 px phone.
pub const WIDTHS: [u32; 3] = [1400, 1024, 390];

/// `document.documentElement.scrollWidth` and `window.innerWidth`.
///
/// # Errors
/// The script fails.
pub async fn scroll_and_inner_width(client: &Client) -> anyhow::Result<(u64, u64)> {
    let value = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await?;
    let number = |i: usize| value.get(i).and_then(Value::as_u64).unwrap_or(u64::MAX);
    Ok((number(0), number(1)))
}

/// At each of [`WIDTHS`]: resizes the window, checks that the page does not scroll sideways
/// (`scrollWidth <= innerWidth`) and saves `{name}-{width}.png`; then restores 1366×900.
///
/// # Errors
/// The page is wider than the window at some width, or a screenshot fails.
pub async fn screenshots_at_widths(client: &Client, name: &str) -> anyhow::Result<()> {
    for width in WIDTHS {
        let height = if width < 600 { 844 } else { 900 };
        client.set_window_size(width, height).await?;
        // The picture shows the top of the page (a focused field may have scrolled it).
        client.execute("window.scrollTo(0, 0)", vec![]).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (scroll, inner) = scroll_and_inner_width(client).await?;
        ensure!(
            inner <= u64::from(width),
            "{name}: the window did not shrink to {width} px (innerWidth {inner})"
        );
        ensure!(
            scroll <= inner,
            "{name} scrolls sideways at {width} px: scrollWidth {scroll} > innerWidth {inner}"
        );
        screenshot(client, &format!("{name}-{width}")).await?;
    }
    client.set_window_size(1366, 900).await?;
    Ok(())
}

/// Runs `script` (a function body returning a value) and returns its result.
///
/// # Errors
/// The script fails.
pub async fn script(client: &Client, script: &str) -> anyhow::Result<Value> {
    Ok(client.execute(script, vec![]).await?)
}

/// Sends WebDriver `keys` (e.g. [`TAB`], [`SHIFT`] + [`TAB`], [`ESCAPE`]) to whatever has
/// focus.
///
/// # Errors
/// No element has focus, or sending fails.
pub async fn press(client: &Client, keys: &str) -> anyhow::Result<()> {
    client.active_element().await?.send_keys(keys).await?;
    Ok(())
}

/// The WebDriver key codes the tests press.
pub const TAB: &str = "\u{E004}";
/// Shift (held for the rest of one `send_keys`).
pub const SHIFT: &str = "\u{E008}";
/// Escape.
pub const ESCAPE: &str = "\u{E00C}";
