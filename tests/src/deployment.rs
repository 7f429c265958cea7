//! What a deployment of the nine routes is configured with, written the way every deployment
//! reads it: files named by the original's environment variables (original §10). The same
//! [`Setup`] starts `cavra serve` or the Lambda function binaries, so a suite runs unchanged
//! against either.

use std::any::Any;
use std::path::Path;

use serde_json::{Value, json};

use crate::http_suite::{Api, OIDC_FIXTURES};

/// The identity, routing and delivery configuration of one deployment.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// OIDC against the test JWKS (issuer `https://login.example`, audience `cavra-approvals`).
    pub oidc: bool,
    /// The RBAC document (`CAVRA_APPROVAL_RBAC_FILE`).
    pub rbac: Option<Value>,
    /// The routing document (`CAVRA_APPROVAL_ROUTING_FILE`).
    pub routing: Option<Value>,
    /// The provider config (`CAVRA_APPROVAL_PROVIDER_CONFIG`).
    pub providers: Option<Value>,
    /// Further variables, as given (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub extra: Vec<(String, String)>,
}

impl Setup {
    /// Local mode: no OIDC, no RBAC, the default routing table, no providers.
    #[must_use]
    pub fn local() -> Self {
        Self::default()
    }

    /// What the HTTP suite expects: OIDC with the test key and an RBAC policy mapping the
    /// `github-team:platform-security` team to `Platform Security`.
    #[must_use]
    pub fn suite() -> Self {
        Self {
            oidc: true,
            rbac: Some(json!({"approval_rbac": {"group_mappings": {
                "github-team:platform-security": "Platform Security"
            }}})),
            ..Self::default()
        }
    }

    /// Writes the files into `dir` and returns the environment that names them.
    ///
    /// # Panics
    /// `dir` cannot be written.
    #[must_use]
    pub fn environment(&self, dir: &Path) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let mut put = |variable: &str, file: &str, document: &Value| {
            let path = dir.join(file);
            std::fs::write(&path, document.to_string()).expect("write a configuration file");
            env.push((variable.to_owned(), path.display().to_string()));
        };
        if self.oidc {
            put(
                "CAVRA_APPROVAL_OIDC_CONFIG",
                "approval-oidc.json",
                &json!({
                    "issuer": "https://login.example",
                    "audience": "cavra-approvals",
                    "jwks_path": format!("{OIDC_FIXTURES}/jwks.json"),
                }),
            );
        }
        if let Some(rbac) = &self.rbac {
            put("CAVRA_APPROVAL_RBAC_FILE", "approval-rbac.json", rbac);
        }
        if let Some(routing) = &self.routing {
            put(
                "CAVRA_APPROVAL_ROUTING_FILE",
                "approval-routing.json",
                routing,
            );
        }
        if let Some(providers) = &self.providers {
            put(
                "CAVRA_APPROVAL_PROVIDER_CONFIG",
                "approval-providers.json",
                providers,
            );
        }
        env.extend(self.extra.iter().cloned());
        env
    }
}

/// The variables [`Setup::environment`] may set; launchers clear them first so the
/// surrounding environment never leaks into a deployment.
pub const CONFIG_VARIABLES: [&str; 8] = [
    "CAVRA_APPROVAL_OIDC_CONFIG",
    "CAVRA_APPROVAL_RBAC_FILE",
    "CAVRA_APPROVAL_ROUTING_FILE",
    "CAVRA_APPROVAL_PROVIDER_CONFIG",
    "CAVRA_APPROVAL_DB",
    "CAVRA_APPROVAL_STORE",
    "CAVRA_APPROVAL_TABLE",
    "CAVRA_CORS_ORIGINS",
];

/// A running deployment: a client for it and whatever keeps it alive (processes, temporary
/// folders, tables), dropped with it.
pub struct Deployment {
    /// Talks to the deployment.
    pub api: Api,
    /// The base URL of `GET /console/config` and `/console/session`, when the deployment
    /// serves them (`cavra serve` does; the nine functions do not).
    pub console_base: Option<String>,
    /// The store kind `/console/config` reports as `approval_mode` (`sqlite`, `dynamodb`…).
    pub store_mode: &'static str,
    /// Processes and folders that live as long as the deployment.
    pub guard: Box<dyn Any + Send + Sync>,
}

/// `cavra serve --port 0` on a temporary SQLite file, configured by a [`Setup`] through the
/// original's environment variables (and nothing else of the caller's); killed on drop.
pub struct ServeProcess {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// The base URL it printed (`http://127.0.0.1:PORT`, no trailing slash).
    pub base: String,
    /// The SQLite file it serves (for CLI commands run beside it, such as `approval sweep`).
    pub db: std::path::PathBuf,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts `binary serve` configured by `setup` and reads the URL it prints.
    ///
    /// # Panics
    /// The binary cannot be started or prints no URL.
    #[must_use]
    pub fn start(binary: &Path, setup: &Setup) -> Self {
        use std::io::{BufRead as _, BufReader};
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(binary);
        command
            .args(["serve", "--port", "0", "--sqlite"])
            .arg(dir.path().join("approvals.db"))
            .envs(setup.environment(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for variable in CONFIG_VARIABLES {
            if !command.get_envs().any(|(name, _)| name == variable) {
                command.env_remove(variable);
            }
        }
        let mut child = command.spawn().expect("cavra serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("cavra serve prints its URL");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("cavra serve printed no URL: {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self {
            child,
            db: dir.path().join("approvals.db"),
            _dir: dir,
            base,
        }
    }
}
