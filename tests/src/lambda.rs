//! The nine function binaries under a Lambda runtime emulator.
//!
//! `cargo lambda watch --only-lambda-apis` serves the Lambda runtime API and the function-URL
//! invoke API on one loopback port; we start the real, separately built function binaries
//! ourselves, pointed at it through `AWS_LAMBDA_RUNTIME_API`, as the Lambda service would.
//! Each request to `http://<port>/lambda-url/<function>/<path>` becomes a function-URL event
//! (payload format 2.0, the shape API Gateway HTTP APIs send) that `lambda_http` parses inside
//! the binary. Several instances of a function poll the same queue, so racing requests really
//! run in separate processes.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cavra_api::Route;

use crate::deployment::{CONFIG_VARIABLES, Setup};
use crate::emulator::repo_root;
use crate::workspace::workspace_binaries;

/// The function crates that are built and started: the nine routes and the sweeper.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Route::ALL.iter().map(|r| r.function_name()).collect();
    names.push("sweep-approvals");
    names
}

/// The function binaries by name (see [`workspace_binaries`]).
///
/// # Panics
/// The build fails or a function binary is missing.
pub fn function_binaries() -> &'static HashMap<String, PathBuf> {
    let binaries = workspace_binaries();
    for name in function_names() {
        assert!(binaries.contains_key(name), "cargo built no binary {name}");
    }
    binaries
}

/// The cargo-lambda executable, installed into `.venv-tools` when missing.
///
/// # Panics
/// The install script fails.
pub fn cargo_lambda() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/tools/cargo-lambda.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "installing cargo-lambda failed");
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(address: SocketAddr, process: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = process.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited with {status} before listening on {address}: {log}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {address} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A runtime emulator with function instances attached; everything is killed on drop.
pub struct LambdaFunctions {
    /// `http://127.0.0.1:<port>`: function URLs are `<base>/lambda-url/<function>/<path>`.
    pub base: String,
    /// The emulator's loopback port (the runtime API is `127.0.0.1:<port>/.rt/<function>`).
    pub port: u16,
    /// The deployment's configuration variables, files in a directory this value owns.
    pub config: Vec<(String, String)>,
    emulator: Child,
    instances: Vec<Child>,
    _config_dir: tempfile::TempDir,
}

impl Drop for LambdaFunctions {
    fn drop(&mut self) {
        for child in self
            .instances
            .iter_mut()
            .chain(std::iter::once(&mut self.emulator))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl LambdaFunctions {
    /// Starts the emulator and `instances` processes of each route's function (the debug
    /// builds of [`function_binaries`]), configured by `setup` plus `store_env` (where
    /// approvals live, e.g. `CAVRA_APPROVAL_TABLE` and the AWS endpoint settings).
    ///
    /// # Panics
    /// The emulator or a function cannot be started.
    pub fn start(setup: &Setup, store_env: &[(String, String)], instances: usize) -> Self {
        let binaries = function_binaries();
        let mut functions = Self::emulator(setup);
        for route in Route::ALL {
            let name = route.function_name();
            for _ in 0..instances {
                let child = spawn_function(
                    &binaries[name],
                    name,
                    functions.port,
                    &functions.config,
                    store_env,
                );
                functions.instances.push(child);
            }
        }
        functions
    }

    /// Starts the runtime emulator alone, with `setup`'s configuration files written; the
    /// caller attaches instances with [`spawn_function`] on [`Self::port`].
    ///
    /// # Panics
    /// The emulator cannot be started.
    pub fn emulator(setup: &Setup) -> Self {
        let config_dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let log = config_dir.path().join("cargo-lambda-watch.log");
        let mut emulator = Command::new(cargo_lambda())
            .current_dir(repo_root())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("cargo lambda watch starts");
        wait_for_port(address, &mut emulator, "cargo lambda watch", &log);
        Self {
            base: format!("http://{address}"),
            port,
            config: setup.environment(config_dir.path()),
            emulator,
            instances: Vec::new(),
            _config_dir: config_dir,
        }
    }
}

/// Starts one instance of function `name` attached to the runtime API on `port`, with the
/// variables the Lambda service sets, the deployment's configuration and nothing else of ours.
///
/// # Panics
/// The binary cannot be started.
pub fn spawn_function(
    binary: &Path,
    name: &str,
    port: u16,
    config: &[(String, String)],
    store_env: &[(String, String)],
) -> Child {
    let mut command = Command::new(binary);
    for variable in CONFIG_VARIABLES {
        command.env_remove(variable);
    }
    command
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt/{name}"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("RUST_LOG", "warn")
        .envs(config.iter().cloned())
        .envs(store_env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()))
}
