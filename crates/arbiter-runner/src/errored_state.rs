//! Terraform's `errored.tfstate`: when Terraform cannot write its state to
//! the backend at the end of an apply (the server refused it because the
//! run was stopped, or the server could not be reached), it saves the state
//! as `errored.tfstate` in its working directory. That file is then the
//! only record of what the apply really did, so the worker moves it out of
//! the workspace before deleting the workspace: into
//! `<work dir>/errored-state/run-<id>-<unix ms>.tfstate`, a new file of
//! the worker's own user, mode 0600, in a directory of mode 0700 (the
//! state holds secrets; Terraform may have run as uid 65534, which owns the
//! workspace). The state's content is never logged or parsed here.
//!
//! The workspace belongs to the configuration's code (Terraform, providers
//! and provisioners run there), so the file is treated as hostile: only a
//! regular file whose directory resolves inside the workspace is taken,
//! opened without following a symbolic link, and copied (never renamed or
//! re-owned in place).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file Terraform writes when it cannot save its state to the backend.
pub const ERRORED_STATE: &str = "errored.tfstate";
/// The quarantine directory under the worker's work directory.
pub const QUARANTINE_DIR: &str = "errored-state";

/// Why an `errored.tfstate` could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// Reading, creating or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// It is not a regular file (Terraform writes one; something else put
    /// this there).
    #[error("{path} is not a regular file but a {kind}")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Its directory resolves outside the workspace (a symbolic link in
    /// the workspace).
    #[error("{path} resolves to {resolved}, outside the workspace {workspace}")]
    Outside {
        /// The directory Terraform ran in.
        path: PathBuf,
        /// Where it resolves.
        resolved: PathBuf,
        /// The workspace.
        workspace: PathBuf,
    },
    /// The quarantine directory is not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> QuarantineError + '_ {
    move |source| QuarantineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A kept state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Where it is now.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

fn kind(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

/// The quarantine directory of a work directory, made (mode 0700) if
/// missing.
pub fn quarantine_dir(work_dir: &Path) -> Result<PathBuf, QuarantineError> {
    let q = work_dir.join(QUARANTINE_DIR);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&q)
        .map_err(io(&q))?;
    let m = std::fs::symlink_metadata(&q).map_err(io(&q))?;
    if !m.is_dir() {
        return Err(QuarantineError::NotADirectory { path: q });
    }
    std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o700)).map_err(io(&q))?;
    Ok(q)
}

/// Moves `dir/errored.tfstate` (Terraform's working directory `dir`,
/// inside `workspace`) to the quarantine directory of `work_dir` as
/// `run-<run>-<unix ms>.tfstate`. `Ok(None)`: there is none.
pub fn quarantine(
    workspace: &Path,
    dir: &Path,
    work_dir: &Path,
    run: i64,
) -> Result<Option<Kept>, QuarantineError> {
    let src = dir.join(ERRORED_STATE);
    let meta = match std::fs::symlink_metadata(&src) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&src)(e)),
    };
    if !meta.is_file() {
        return Err(QuarantineError::NotAFile {
            kind: kind(meta.file_type()),
            path: src,
        });
    }
    let ws = std::fs::canonicalize(workspace).map_err(io(workspace))?;
    let resolved = std::fs::canonicalize(dir).map_err(io(dir))?;
    if !resolved.starts_with(&ws) {
        return Err(QuarantineError::Outside {
            path: dir.to_path_buf(),
            resolved,
            workspace: ws,
        });
    }
    // Not following a link, and not blocking on a FIFO swapped in since.
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        resolved.join(ERRORED_STATE),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(&src)(e.into()))?;
    let mut from = std::fs::File::from(fd);
    let m = from.metadata().map_err(io(&src))?;
    if !m.is_file() {
        return Err(QuarantineError::NotAFile {
            kind: kind(m.file_type()),
            path: src,
        });
    }
    let q = quarantine_dir(work_dir)?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut n = 0u32;
    let (dest, mut to) = loop {
        let name = if n == 0 {
            format!("run-{run}-{ms}.tfstate")
        } else {
            format!("run-{run}-{ms}-{n}.tfstate")
        };
        let p = q.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlags::NOFOLLOW.bits() as i32)
            .open(&p)
        {
            Ok(f) => break (p, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(io(&p)(e)),
        }
    };
    let copied = copy_private(&mut from, &mut to);
    let bytes = match copied {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&dest);
            return Err(io(&dest)(e));
        }
    };
    // The copy is safe on disk: the original goes (the workspace is
    // deleted after the run, unless kept for debugging).
    std::fs::remove_file(resolved.join(ERRORED_STATE)).map_err(io(&src))?;
    Ok(Some(Kept { path: dest, bytes }))
}

/// Copies `from` into the new file `to`, made 0600 first (the mode asked
/// at creation is only narrowed by the umask; this says it).
fn copy_private(from: &mut std::fs::File, to: &mut std::fs::File) -> std::io::Result<u64> {
    to.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let bytes = std::io::copy(from, to)?;
    to.flush()?;
    to.sync_all()?;
    Ok(bytes)
}

/// The loud line naming a kept state file and what to do with it (never
/// its content).
pub fn kept_notice(kept: &Kept, run: i64, stack: &str) -> String {
    let p = kept.path.display();
    format!(
        "[arbiter] IMPORTANT: Terraform could not save its state to Arbiter at the end of run {run}'s apply and wrote it to {ERRORED_STATE}; \
         the worker kept it at {p} ({} bytes, mode 0600: it holds the state's secrets). It is the only record of what the apply changed in stack {stack}: \
         push it as the stack's state — `terraform state push {p}` from a terraform using the stack's backend (`backend \"http\"` at /api/v1/stacks/{stack}/tfstate, \
         credentials an admin mints with POST /api/v1/stacks/{stack}/backend-credentials), or `arbiter state push {stack} {p}` — then delete the file; \
         do not apply to this stack again before that (Terraform would work from the older state)",
        kept.bytes
    )
}

/// The loud line when an `errored.tfstate` could not be kept (the
/// workspace is kept instead).
pub fn lost_notice(e: &QuarantineError, run: i64, workspace: &Path) -> String {
    format!(
        "[arbiter] IMPORTANT: run {run}'s Terraform may have left its unsaved state ({ERRORED_STATE}), but the worker could not keep it: {e}; \
         the workspace {} is kept for an operator to recover it",
        workspace.display()
    )
}

/// What a sweep of leftover workspaces did, one line each (never a
/// state's content).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// State files kept from leftover workspaces, with their runs.
    pub kept: Vec<(i64, Kept)>,
    /// Leftover workspaces removed.
    pub removed: Vec<PathBuf>,
    /// Leftover workspaces left alone: a process still works in them, or a
    /// state file in them could not be kept (why, for the log).
    pub left: Vec<(PathBuf, String)>,
}

/// `run-<id>-<pid>`: a run's workspace and the worker process that made it.
fn workspace_name(name: &str) -> Option<(i64, u32)> {
    let rest = name.strip_prefix("run-")?;
    let (id, pid) = rest.split_once('-')?;
    Some((id.parse().ok()?, pid.parse().ok()?))
}

/// Whether a process works inside `dir` (its current directory there).
fn busy(dir: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        p.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
            && std::fs::read_link(p.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
    })
}

/// The directories under `root` (depth ≤ 8, symbolic links not followed)
/// holding an `errored.tfstate` entry of any kind.
fn errored_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if e.file_name() == ERRORED_STATE {
                out.push(dir.clone());
            } else if ft.is_dir() && depth < 8 {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    out.sort();
    out
}

/// At a worker's start: the workspaces (`run-<id>-<pid>`) that workers
/// killed outright left in `work_dir`. A workspace whose worker process
/// still exists, or in which a process still works (a Terraform that
/// outlived its killed worker), is left alone. From the others, every
/// `errored.tfstate` is kept like at the end of a run ([`quarantine`]),
/// then the workspace is removed; one that could not be kept keeps its
/// workspace.
pub fn sweep(work_dir: &Path) -> Sweep {
    let mut out = Sweep::default();
    let Ok(entries) = std::fs::read_dir(work_dir) else {
        return out;
    };
    let me = std::process::id();
    let mut found: Vec<(PathBuf, i64, u32)> = entries
        .flatten()
        .filter_map(|e| {
            let (run, pid) = workspace_name(&e.file_name().to_string_lossy())?;
            let is_dir = e.file_type().ok()?.is_dir();
            is_dir.then(|| (e.path(), run, pid))
        })
        .collect();
    found.sort();
    for (ws, run, pid) in found {
        if pid == me || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if busy(&ws) {
            out.left.push((ws, "a process still works in it".into()));
            continue;
        }
        let mut keep_ws = None;
        for dir in errored_dirs(&ws.join("src")) {
            match quarantine(&ws, &dir, work_dir, run) {
                Ok(Some(k)) => out.kept.push((run, k)),
                Ok(None) => {}
                Err(e) => keep_ws = Some(e.to_string()),
            }
        }
        match keep_ws {
            Some(why) => out.left.push((ws, why)),
            None => match std::fs::remove_dir_all(&ws) {
                Ok(()) => out.removed.push(ws),
                Err(e) => out.left.push((ws, format!("removing it failed: {e}"))),
            },
        }
    }
    out
}

/// The loud line for a state file kept from a leftover workspace (the
/// run's stack is not known here: `arbiter run show` names it).
pub fn swept_notice(kept: &Kept, run: i64) -> String {
    format!(
        "[arbiter] IMPORTANT: a workspace of run {run}, left by a worker that was killed, held Terraform's unsaved state ({ERRORED_STATE}); \
         the worker kept it at {} ({} bytes, mode 0600: it holds the state's secrets). `arbiter run show {run}` names the stack: push the file as \
         that stack's state (`arbiter state push STACK FILE`, or `terraform state push` through the stack's backend) before applying to it again, then delete it",
        kept.path.display(),
        kept.bytes
    )
}
