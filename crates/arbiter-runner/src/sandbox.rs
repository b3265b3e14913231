//! The trust boundary around Terraform: it runs code from the
//! configuration (providers, provisioners, `external` data sources), so it
//! runs in a clean environment, as an unprivileged user, and — where
//! bubblewrap is available — in its own mount, PID, IPC and UTS namespaces
//! that contain only the workspace, the provider directories, the tool
//! binary and the system directories it needs. The server's data
//! directory, its database credentials, its audit signing key and other
//! runs' workspaces are simply not there.
//!
//! Without bubblewrap the worker still clears the environment and (as
//! root) drops to the unprivileged user with `setpriv`, but the process
//! sees the whole file system: the worker prints a warning line saying so
//! in every run's log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The unprivileged user and group Terraform runs as when the worker is root.
pub const NOBODY: u32 = 65534;

/// How Terraform is confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// bubblewrap at this path.
    Bwrap(PathBuf),
    /// None available: clean environment (and `setpriv` when root) only.
    EnvOnly,
}

/// A sandbox configuration for one worker.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// How.
    pub confinement: Confinement,
    /// Drop to this uid/gid (set when the worker runs as root).
    pub run_as: Option<u32>,
    /// `setpriv`, used to drop privileges when root.
    pub setpriv: Option<PathBuf>,
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether this process is root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl Sandbox {
    /// Detects bubblewrap (checking that it can actually create its
    /// namespaces here) and `setpriv`. `ARBITER_SANDBOX=none` turns the
    /// sandbox off (documented; the warning is printed anyway).
    pub fn detect() -> Sandbox {
        let root = is_root();
        let setpriv = find("setpriv");
        let run_as = (root && setpriv.is_some()).then_some(NOBODY);
        let off = std::env::var("ARBITER_SANDBOX").is_ok_and(|v| v == "none");
        let confinement = match find("bwrap") {
            Some(b) if !off && probe(&b) => Confinement::Bwrap(b),
            _ => Confinement::EnvOnly,
        };
        Sandbox {
            confinement,
            run_as,
            setpriv,
        }
    }

    /// The loud line for the log when the sandbox is weaker than designed.
    pub fn warning(&self) -> Option<String> {
        match (&self.confinement, self.run_as) {
            (Confinement::Bwrap(_), Some(_)) => None,
            (Confinement::Bwrap(_), None) if !is_root() => None,
            (Confinement::Bwrap(_), None) => Some(
                "[arbiter] WARNING: running as root without setpriv: Terraform keeps root's user id inside the sandbox".into(),
            ),
            (Confinement::EnvOnly, _) => Some(
                "[arbiter] WARNING: bubblewrap (bwrap) is not available: Terraform runs with a clean environment and as an unprivileged user when possible, but it can see the whole file system (install Debian's `bubblewrap`)".into(),
            ),
        }
    }

    /// The command running `program args` confined, in `cwd`, with exactly
    /// `env` as its environment. `rw` are bound writable, `ro` read-only
    /// (both at their own paths).
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        cwd: &Path,
        env: &BTreeMap<String, String>,
        rw: &[PathBuf],
        ro: &[PathBuf],
    ) -> tokio::process::Command {
        let mut inner: Vec<String> = Vec::new();
        if let (Some(uid), Some(sp)) = (self.run_as, &self.setpriv) {
            inner.push(sp.to_string_lossy().into_owned());
            inner.extend([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".into(),
                "--no-new-privs".into(),
                "--inh-caps=-all".into(),
                "--bounding-set=-all".into(),
                "--".into(),
            ]);
        }
        inner.push(program.to_string_lossy().into_owned());
        inner.extend(args.iter().cloned());
        let mut cmd = match &self.confinement {
            Confinement::Bwrap(bwrap) => {
                let mut c = tokio::process::Command::new(bwrap);
                c.args(bwrap_args(
                    program,
                    cwd,
                    env,
                    rw,
                    ro,
                    self.setpriv.as_deref(),
                ));
                c.arg("--");
                c.args(&inner);
                c.env_clear();
                c
            }
            Confinement::EnvOnly => {
                let mut c = tokio::process::Command::new(&inner[0]);
                c.args(&inner[1..]);
                c.env_clear();
                c.envs(env);
                c.current_dir(cwd);
                c
            }
        };
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }
}

/// System paths bound read-only when present.
const SYSTEM_RO: [&str; 10] = [
    "/usr",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
];

fn bwrap_args(
    program: &Path,
    cwd: &Path,
    env: &BTreeMap<String, String>,
    rw: &[PathBuf],
    ro: &[PathBuf],
    setpriv: Option<&Path>,
) -> Vec<String> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut a: Vec<String> = [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--clearenv",
    ]
    .map(String::from)
    .to_vec();
    if !is_root() {
        a.push("--unshare-user".into());
    }
    for p in SYSTEM_RO {
        a.extend(["--ro-bind-try".into(), p.into(), p.into()]);
    }
    // /bin, /lib, /lib64, /sbin: symbolic links into /usr on merged-/usr
    // systems, directories elsewhere.
    for top in ["/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
        match std::fs::read_link(top) {
            Ok(target) => a.extend(["--symlink".into(), s(&target), top.into()]),
            Err(_) if Path::new(top).is_dir() => {
                a.extend(["--ro-bind".into(), top.into(), top.into()])
            }
            Err(_) => {}
        }
    }
    let mut ro_paths: Vec<PathBuf> = ro.to_vec();
    ro_paths.push(program.to_path_buf());
    if let Some(sp) = setpriv {
        ro_paths.push(sp.to_path_buf());
    }
    ro_paths.retain(|p| !p.starts_with("/usr"));
    // bubblewrap makes missing parents of a bind with the mode of the
    // host's directories (a 0700 temporary directory would lock the
    // unprivileged user out): make them 0755 first. They are empty
    // directories on the sandbox's own root; nothing else of the host's
    // tree under them is visible.
    let mut parents = std::collections::BTreeSet::new();
    for p in ro_paths.iter().chain(rw) {
        for anc in p.ancestors().skip(1) {
            if anc != Path::new("/") && anc != Path::new("/tmp") {
                parents.insert(anc.to_path_buf());
            }
        }
    }
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|p| p.components().count());
    for p in parents {
        a.extend(["--perms".into(), "0755".into(), "--dir".into(), s(&p)]);
    }
    for p in ro_paths {
        a.extend(["--ro-bind".into(), s(&p), s(&p)]);
    }
    for p in rw {
        a.extend(["--bind".into(), s(p), s(p)]);
    }
    for (k, v) in env {
        a.extend(["--setenv".into(), k.clone(), v.clone()]);
    }
    a.extend(["--chdir".into(), s(cwd)]);
    a
}

/// Whether bubblewrap can create its namespaces here (containers often
/// forbid it).
fn probe(bwrap: &Path) -> bool {
    let mut args = bwrap_args(
        Path::new("/usr/bin/true"),
        Path::new("/"),
        &BTreeMap::new(),
        &[],
        &[],
        None,
    );
    args.push("--".into());
    args.push("/usr/bin/true".into());
    std::process::Command::new(bwrap)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Gives a directory tree to the unprivileged user (when root), so that
/// Terraform can write its workspace and plugin cache.
pub fn give_to(dir: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
    if dir.is_dir() && !dir.is_symlink() {
        for e in std::fs::read_dir(dir)? {
            give_to(&e?.path(), uid)?;
        }
    }
    Ok(())
}
