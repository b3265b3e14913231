//! Running the real `arbiter serve` and the client commands against it,
//! shared by the CLI's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `arbiter serve` on `port` with `data` as its data directory (and
/// PostgreSQL at `db`, and `extra` flags), and waits until it accepts
/// connections. Returns the child and, on a first start, the admin token it
/// printed. Its stdout keeps being drained so it never blocks on it; its
/// log (at level `log`) goes to `stderr`.
pub fn serve_with(
    data: &Path,
    port: u16,
    db: Option<&str>,
    extra: &[&str],
    log: &str,
    stderr: Stdio,
) -> (Child, Option<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbiter"));
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .args(extra);
    if let Some(u) = db {
        cmd.arg("--database-url").arg(u);
    }
    let mut child = cmd
        .env("ARBITER_LOG", log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server printed nothing");
    assert!(first.starts_with("Arbiter "), "{first}");
    // A first start prints the admin token after the "serving" line; a
    // restart prints nothing more.
    let mut token = None;
    if rx.recv_timeout(Duration::from_millis(500)).is_ok() {
        while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
            if let Some(t) = l.trim().strip_prefix("arb_") {
                token = Some(format!("arb_{t}"));
                break;
            }
        }
    }
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, token)
}

/// [`serve_with`] without extra flags, the log discarded.
pub fn serve(data: &Path, port: u16, db: Option<&str>) -> (Child, Option<String>) {
    serve_with(data, port, db, &[], "warn", Stdio::null())
}

/// A server started fresh in a temporary directory; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a fresh server with its data in `dir/data`.
pub fn start(dir: &Path) -> Server {
    start_with(dir, "warn", Stdio::null())
}

/// [`start`] with the log at level `log` going to `stderr`.
pub fn start_with(dir: &Path, log: &str, stderr: Stdio) -> Server {
    let port = free_port();
    let (child, token) = serve_with(&dir.join("data"), port, None, &[], log, stderr);
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        token: token.expect("the first start prints a token"),
    }
}

/// The `arbiter` command for a client talking to `s` from `dir`, isolated
/// from the caller's environment (no config file, no token or agent key
/// but `token`).
pub fn arbiter_cmd(s: &Server, dir: &Path, token: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arbiter"));
    c.current_dir(dir)
        .env("ARBITER_SERVER", &s.url)
        .env("ARBITER_CONFIG", dir.join("no-config.toml"))
        .env_remove("ARBITER_TOKEN")
        .env_remove("ARBITER_AGENT_KEY")
        .stdin(Stdio::null());
    if let Some(t) = token {
        c.env("ARBITER_TOKEN", t);
    }
    c
}

/// Runs a client command against `s`.
pub fn arbiter(s: &Server, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    arbiter_cmd(s, dir, token).args(args).output().unwrap()
}

/// Stdout and stderr of a run, for messages and `contains` checks.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
