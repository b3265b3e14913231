//! A throwaway PostgreSQL cluster with a fresh database per test (feature
//! `postgres`, on by default).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A throwaway cluster: its base URL (without database).
struct Cluster {
    base: String,
}

static CLUSTER: OnceLock<Result<Option<Cluster>, String>> = OnceLock::new();

fn find_bin(name: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    for v in versions.iter().rev() {
        let p = v.join("bin").join(name);
        if p.exists() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres"))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
            .flatten()
    })
}

/// A command run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root).
fn as_pg(bin: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start_cluster() -> Result<Option<Cluster>, String> {
    let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
        return Ok(None);
    };
    let root = is_root();
    let mut rnd = [0u8; 6];
    getrandom::fill(&mut rnd).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!(
        "arbiter-pg-{}-{}",
        std::process::id(),
        hex::encode(rnd)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if root {
        let (uid, gid) = postgres_ids()
            .ok_or("running as root, but there is no `postgres` user to run PostgreSQL as")?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let out = as_pg(&initdb, root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "arbiter",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port()?;
    // Tests do not need durability from the database; benchmarks that
    // report PostgreSQL figures do (ARBITER_PG_DURABLE=1 keeps the defaults).
    let fast = if std::env::var_os("ARBITER_PG_DURABLE").is_some() {
        ""
    } else {
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200{fast}",
        dir.display()
    );
    let out = as_pg(&pg_ctl, root)
        .arg("-D")
        .arg(&data)
        .arg("-o")
        .arg(&opts)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "30", "start"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("running pg_ctl: {e}"))?;
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        return Err(format!(
            "pg_ctl start failed: {}{log}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The watchdog: when this process is gone, stop the cluster and clean up.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runuser}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runuser = if root { "runuser -u postgres -- " } else { "" },
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(stop)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster's watchdog: {e}"))?;
    Ok(Some(Cluster {
        base: format!("postgres://arbiter@127.0.0.1:{port}"),
    }))
}

/// A URL to a fresh, empty PostgreSQL database, or `None` when PostgreSQL
/// is unavailable here (announced on stderr).
pub async fn postgres_database() -> Result<Option<String>, String> {
    let base = match std::env::var("ARBITER_TEST_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            match CLUSTER.get_or_init(start_cluster) {
                Ok(Some(c)) => format!("{}/postgres", c.base),
                Ok(None) => {
                    if std::env::var_os("ARBITER_REQUIRE_POSTGRES").is_some() {
                        return Err("PostgreSQL (initdb, pg_ctl) not found and ARBITER_REQUIRE_POSTGRES is set".into());
                    }
                    eprintln!("SKIPPED: PostgreSQL not found (install postgresql, or set ARBITER_TEST_DATABASE_URL); the PostgreSQL half of this test did not run");
                    return Ok(None);
                }
                Err(e) => return Err(e.clone()),
            }
        }
    };
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .map_err(|e| format!("connecting to {base}: {e}"))?;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| e.to_string())?;
    let name = format!("arbiter_test_{}", hex::encode(rnd));
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .map_err(|e| format!("creating database {name}: {e}"))?;
    let _ = conn.close().await;
    // Replace the database part of the URL.
    let (prefix, rest) = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => (&base[..i], &base[i..]),
        _ => (base.as_str(), ""),
    };
    let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
    Ok(Some(format!("{prefix}/{name}{query}")))
}
