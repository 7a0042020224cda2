//! The real `omni` binary, started on a temporary config.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The API token every harness config accepts, with the `admin` scope.
pub const TOKEN: &str = "test-token";

/// A token every harness config accepts with the `read` scope (GET only).
pub const READ_TOKEN: &str = "test-read-token";

/// A token every harness config accepts with the `agent` scope (read, reply,
/// update conversations, merge and split persons, settle suggestions).
pub const AGENT_TOKEN: &str = "test-agent-token";

/// The Standard Webhooks signing secret in `OMNI_TEST_WEBHOOK_SECRET`
/// (`whsec_` and the base64 of 32 bytes `0x01..=0x20`).
pub const WEBHOOK_SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// The database an `omni` process uses.
pub enum Database {
    /// An SQLite file in the process's data directory.
    Sqlite,
    /// A schema of its own on the test PostgreSQL server.
    Postgres(omni_core::store::sql::testing::TestSchema),
}

impl Database {
    /// A PostgreSQL schema; `None` when the server is unreachable and not required.
    pub async fn postgres() -> Option<Self> {
        omni_core::store::sql::testing::TestSchema::create()
            .await
            .map(Database::Postgres)
    }

    fn storage_toml(&self) -> String {
        match self {
            Database::Sqlite => String::new(),
            Database::Postgres(schema) => format!("database_url = \"{}\"\n", schema.url),
        }
    }
}

/// Path of the `omni` binary, built first if it is missing or stale.
///
/// `cargo test -p omni-tests` alone does not rebuild another package's
/// binary, so the harness asks cargo once per test process (cargo has
/// released its build lock by the time tests run; a fresh binary makes this
/// a no-op). `OMNI_BIN` points at a binary to use as it is.
pub fn omni_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("OMNI_BIN") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/<test binary> -> target/<profile>/omni
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "-p", "omni-host", "--bin", "omni"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo to build omni");
        assert!(status.success(), "building the omni binary failed");
        let bin = profile_dir.join(format!("omni{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} is missing after the build", bin.display());
        bin
    })
    .clone()
}

/// A running `omni run` with its own data directory.
pub struct OmniProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Temporary directory holding config, data and logs.
    pub dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    /// An HTTP client.
    pub client: reqwest::Client,
}

impl OmniProcess {
    /// Starts omni with `extra` appended to a config that sets the listen
    /// address, data directory and the tokens [`TOKEN`] (admin),
    /// [`READ_TOKEN`] and [`AGENT_TOKEN`].
    pub async fn start(extra: &str) -> Self {
        Self::start_on(&Database::Sqlite, extra).await
    }

    /// Like [`OmniProcess::start`], with `server` lines (`max_in_flight = 2`)
    /// added to the harness's `[server]` table.
    pub async fn start_with_server(server: &str, extra: &str) -> Self {
        let tempdir = tempfile::tempdir().expect("temp dir");
        let dir = tempdir.path().to_owned();
        let mut process = Self::launch(&dir, &Database::Sqlite, server, extra).await;
        process._tempdir = Some(tempdir);
        process
    }

    /// Like [`OmniProcess::start`], on the given database.
    pub async fn start_on(database: &Database, extra: &str) -> Self {
        let tempdir = tempfile::tempdir().expect("temp dir");
        let dir = tempdir.path().to_owned();
        let mut process = Self::launch(&dir, database, "", extra).await;
        process._tempdir = Some(tempdir);
        process
    }

    /// Starts omni in an existing directory (to restart on the same data).
    pub async fn start_in(dir: &Path, extra: &str) -> Self {
        Self::launch(dir, &Database::Sqlite, "", extra).await
    }

    async fn launch(dir: &Path, database: &Database, server: &str, extra: &str) -> Self {
        let mut last_logs = String::new();
        for _ in 0..3 {
            let port = free_port();
            let config = format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n{server}\n\n[storage]\ndata_dir = \"data\"\ncache_dir = \"{}\"\n{}\n\
                 {}\n{extra}\n",
                shared_cache_dir().display(),
                database.storage_toml(),
                tokens_toml()
            );
            let config_path = dir.join("omni.toml");
            std::fs::write(&config_path, config).expect("write config");
            let log_path = dir.join("omni.log");
            let log = std::fs::File::create(&log_path).expect("log file");
            let child = Command::new(omni_bin())
                .args(["run", "--config"])
                .arg(&config_path)
                .env("OMNI_LOG", "info,omni=debug")
                .env("OMNI_TEST_SECRET", "s3cret")
                .env("OMNI_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start omni");
            let mut process = Self {
                child: Some(child),
                base: format!("http://127.0.0.1:{port}"),
                dir: dir.to_owned(),
                _tempdir: None,
                client: reqwest::Client::new(),
            };
            if process.wait_ready(Duration::from_secs(90)).await {
                return process;
            }
            last_logs = process.logs();
            process.kill();
            if !last_logs.contains("Address already in use") {
                break;
            }
        }
        panic!("omni did not become ready; its log:\n{last_logs}");
    }

    async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().ok().flatten().is_some()
            {
                return false;
            }
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("omni.log")).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// GET a path; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// POST a JSON body to a path; returns status and body text.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, String) {
        let response = self.client.post(self.url(path)).json(body).send().await.expect("POST");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// GET an API path with the token; returns status and parsed JSON.
    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST JSON to an API path with the token; returns status and parsed JSON.
    pub async fn api_post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// PATCH JSON to an API path with the token; returns status and parsed JSON.
    pub async fn api_patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .patch(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("PATCH");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Calls an API path with `token` (e.g. [`READ_TOKEN`]) and an optional
    /// JSON body; returns status and parsed JSON.
    pub async fn api_as(&self, method: reqwest::Method, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `check` on an API path until it returns `Some`, or panics with
    /// `what` after `timeout`.
    pub async fn eventually<T>(
        &self,
        path: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&Value) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < timeout {
            let (_, body) = self.api_get(path).await;
            if let Some(found) = check(&body) {
                return found;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "timed out waiting for {what}; last answer from {path}: {last}\nlogs:\n{}",
            self.logs()
        );
    }
}

impl Drop for OmniProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One compiled-plugin cache for every host the tests start, next to the
/// binary: each plugin is compiled once per build, not once per test.
fn shared_cache_dir() -> PathBuf {
    omni_bin().with_file_name("omni-test-plugin-cache")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The `[[api.tokens]]` entries of every harness config: [`TOKEN`],
/// [`READ_TOKEN`] and [`AGENT_TOKEN`].
fn tokens_toml() -> String {
    [
        ("test", TOKEN, "admin"),
        ("test-read", READ_TOKEN, "read"),
        ("test-agent", AGENT_TOKEN, "agent"),
    ]
    .iter()
    .map(|(name, token, scope)| {
        format!(
            "[[api.tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\nscope = \"{scope}\"\n\n",
            sha256_hex(token)
        )
    })
    .collect()
}

fn sha256_hex(text: &str) -> String {
    omni_host::http::auth::hash_token(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `[[plugins]]` entry for a wasm file, with extra TOML lines.
pub fn plugin(id: &str, wasm: &Path, extra: &str) -> String {
    format!("[[plugins]]\nid = \"{id}\"\nwasm = \"{}\"\n{extra}\n", wasm.display())
}
