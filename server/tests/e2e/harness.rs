//! Starting, stopping and talking to a real server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatehouse_token::b64;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// `https` when the environment makes `listen` speak TLS (`[tls]` certificate files without
/// `listen_tls = false`), else `http`.
fn scheme_of(env: &[(String, String)]) -> &'static str {
    let set = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    match (
        set("GATEHOUSE_TLS__CERTIFICATE_FILE"),
        set("GATEHOUSE_TLS__LISTEN_TLS"),
    ) {
        (Some(_), None | Some("true")) => "https",
        _ => "http",
    }
}

/// A free loopback port (bound, then released for the server to take).
///
/// The kernel may hand the same ephemeral port out twice in a row once the first listener is
/// closed; a test asking for two ports (a server and its admin API) must get two, so the ports
/// this process has handed out are remembered and never given again.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A running server with its own data directory.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub base: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub http: Client,
    /// A resource server that may introspect any token, made on first use by [`Self::is_active`].
    introspector: std::sync::OnceLock<(String, String)>,
}

impl Server {
    /// Starts a server on free ports with extra `GATEHOUSE_*` settings.
    pub fn start_with(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin_port) = (free_port(), free_port());
        let mut env = vec![
            ("GATEHOUSE_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            (
                "GATEHOUSE_ADMIN__LISTEN".to_owned(),
                format!("127.0.0.1:{admin_port}"),
            ),
            (
                "GATEHOUSE_DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
            ("GATEHOUSE_LOG".to_owned(), "warn".to_owned()),
        ];
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        let scheme = scheme_of(&env);
        let issuer = env
            .iter()
            .find(|(k, _)| k == "GATEHOUSE_ISSUER")
            .map_or(format!("{scheme}://127.0.0.1:{port}"), |(_, v)| v.clone());
        let mut server = Self {
            dir,
            base: issuer,
            env,
            child: None,
            introspector: std::sync::OnceLock::new(),
            // No pooled connections: every request opens its own, so no idle connection of the
            // harness ever counts against the server's connection limit or timeouts.
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                // A TLS listener (tests of `[tls]`) has a test certificate; the harness only
                // probes and drives it, the tests check what the certificate is.
                .danger_accept_invalid_certs(scheme == "https")
                .build()
                .unwrap(),
        };
        server.launch();
        server
    }

    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// The root URL (probes live there even when the issuer has a path).
    pub fn root(&self) -> String {
        let listen = &self
            .env
            .iter()
            .find(|(k, _)| k == "GATEHOUSE_LISTEN")
            .unwrap()
            .1;
        format!("{}://{listen}", scheme_of(&self.env))
    }

    /// The admin API's root URL.
    pub fn admin_url(&self) -> String {
        let listen = &self
            .env
            .iter()
            .find(|(k, _)| k == "GATEHOUSE_ADMIN__LISTEN")
            .unwrap()
            .1;
        format!("http://{listen}")
    }

    /// The admin token the server made in its data directory.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// GETs an admin API document (200 expected).
    pub fn admin_json(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.admin_url()))
            .bearer_auth(self.admin_token())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().unwrap()
    }

    /// Polls `/ready` (probed every 2 s by the server) until it answers `status`; panics after
    /// 10 s.
    pub fn wait_ready_status(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self
                .http
                .get(format!("{}/ready", self.root()))
                .send()
                .unwrap();
            if r.status() == status {
                return;
            }
            assert!(Instant::now() < deadline, "/ready never answered {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn launch(&mut self) {
        let log = |name: &str| std::fs::File::create(self.dir.path().join(name)).unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .envs(self.env.iter().cloned())
            .stdout(Stdio::from(log("stdout.log")))
            .stderr(Stdio::from(log("stderr.log")))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/ready", self.root())).send() {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("server exited with {status}: {}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "server not ready: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit by itself; how long it
    /// took and whether it exited successfully.
    pub fn terminate(&mut self) -> (Duration, bool) {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (started.elapsed(), status.success());
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("the server did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The public listener's address.
    pub fn addr(&self) -> String {
        let root = self.root();
        root.split_once("://")
            .map_or(root.clone(), |(_, a)| a.to_owned())
    }

    /// Sets (or replaces) environment settings for the next start.
    pub fn set_env(&mut self, extra: &[(String, String)]) {
        for (key, value) in extra {
            self.env.retain(|(k, _)| k != key);
            self.env.push((key.clone(), value.clone()));
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Runs the CLI with this server's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(self.env.iter().cloned())
            .output()
            .unwrap()
    }

    /// Runs the CLI with `--json` and parses its output; panics on failure.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Creates a client with the CLI; returns (id, secret).
    pub fn client(&self, extra: &[&str]) -> (String, String) {
        let mut args = vec!["client", "create", "--name", "test"];
        if !extra.contains(&"--resource") {
            args.extend(["--resource", "https://rs.example/api"]);
        }
        args.extend_from_slice(extra);
        let created = self.cli_json(&args);
        (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a form with Basic credentials.
    pub fn post_form(
        &self,
        path: &str,
        creds: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some((id, secret)) = creds {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().unwrap()
    }

    /// A token from the client-credentials grant; panics on failure.
    pub fn token(&self, creds: (&str, &str), form: &[(&str, &str)]) -> String {
        let mut all = vec![("grant_type", "client_credentials")];
        all.extend_from_slice(form);
        let r = self.post_form("/token", Some(creds), &all);
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The introspection answer for `token`.
    pub fn introspect(&self, creds: (&str, &str), token: &str) -> Value {
        let r = self.post_form("/introspect", Some(creds), &[("token", token)]);
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    }

    /// GETs a JSON document (200 expected).
    pub fn get_json(&self, url: &str) -> Value {
        let r = self.http.get(url).send().unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.json().unwrap()
    }

    /// The `kid`s published in the JWKS, in order.
    pub fn jwks_kids(&self) -> Vec<String> {
        let jwks = self.get_json(&format!("{}/jwks", self.base));
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The credentials of a resource server that may introspect any token, made on first use.
    pub fn introspector(&self) -> (&str, &str) {
        let (id, secret) = self
            .introspector
            .get_or_init(|| self.client(&["--introspect", "any"]));
        (id, secret)
    }

    /// Whether `token` introspects active for [`Self::introspector`].
    pub fn is_active(&self, token: &str) -> bool {
        self.introspect(self.introspector(), token)["active"]
            .as_bool()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The decoded JSON of a JWT's header and payload.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&b64::decode(parts.next().unwrap()).unwrap()).unwrap();
    let payload = serde_json::from_slice(&b64::decode(parts.next().unwrap()).unwrap()).unwrap();
    (header, payload)
}

/// Runs the Node.js script `tests/<dir>/<script>` (its own `node_modules`) with `input` as JSON
/// on standard input; its JSON report. Fails naming `what` and the script's message (which says
/// what to install when something is missing).
pub fn run_node(dir: &str, script: &str, what: &str, input: &Value) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    run_script(
        std::path::Path::new("node"),
        &dir.join(script),
        what,
        "Node.js 20+ (./scripts/test installs it, or see https://nodejs.org)",
        input,
    )
}

/// Runs `interpreter script` in the script's directory with `input` as JSON on standard input;
/// its JSON report. Fails naming `what`, what to install (`needs`) when the interpreter cannot
/// start, and the script's own message when it fails.
pub fn run_script(
    interpreter: &std::path::Path,
    script: &std::path::Path,
    what: &str,
    needs: &str,
    input: &Value,
) -> Value {
    use std::io::Write as _;

    let mut child = Command::new(interpreter)
        .arg(script)
        .current_dir(script.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}` ({e}): the {what} tests need {needs}",
                interpreter.display()
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the {what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the {what}'s report is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
