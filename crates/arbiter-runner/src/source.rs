//! A run's source: configuration bundles (tar.gz) unpacked safely and
//! packed deterministically, and git repositories fetched at a commit.
//!
//! Unpacking refuses, naming the entry: absolute paths, `..`, symbolic and
//! hard links, devices, FIFOs, duplicate entries, and anything past the
//! limits (compressed size, unpacked bytes, file count, compression ratio).
//! Files are written with mode 0644 or 0755 and never follow a link (none
//! can exist: none is ever created).

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Why a source could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An entry the bundle may not contain.
    #[error("bundle entry {entry:?} refused: {reason}")]
    Refused {
        /// The entry's path as written in the archive.
        entry: String,
        /// Why.
        reason: String,
    },
    /// A limit was passed.
    #[error("bundle refused: {0}")]
    TooLarge(String),
    /// The bytes are not a tar.gz.
    #[error("bundle is not a valid tar.gz: {0}")]
    Corrupt(String),
    /// The bundle's SHA-256 is not the one asked for.
    #[error("bundle digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Asked for.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// Writing the files failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: io::Error,
    },
    /// A git URL with a transport that is not allowed.
    #[error(
        "git URL {url:?} refused: {reason} (allowed: https://, ssh://, user@host:path, file://)"
    )]
    GitUrlRefused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A git commit id that is not a full hex object id.
    #[error("git commit {0:?} is not a full commit id (40 or 64 hex digits)")]
    BadCommit(String),
    /// A working directory that leaves the repository.
    #[error("source path {0:?} refused: it must be relative and stay inside the repository")]
    BadPath(String),
    /// git failed.
    #[error("git {step} failed: {message}")]
    Git {
        /// Which step (init, fetch, checkout, rev-parse).
        step: &'static str,
        /// Its stderr (last lines).
        message: String,
    },
    /// A step took too long.
    #[error("{0} timed out")]
    Timeout(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Limits for unpacking a bundle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The tar.gz itself (default 64 MiB, the server's default upload limit).
    pub max_compressed: u64,
    /// All unpacked bytes, tar headers included (default 512 MiB).
    pub max_unpacked: u64,
    /// Regular files (default 20 000).
    pub max_files: u64,
    /// Unpacked ÷ compressed above this is a decompression bomb, once past
    /// 1 MiB unpacked (default 200).
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_compressed: 64 << 20,
            max_unpacked: 512 << 20,
            max_files: 20_000,
            max_ratio: 200,
        }
    }
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unpacked {
    /// Regular files written.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Hex SHA-256 of a bundle (its address on the server).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Counts decompressed bytes and stops a decompression bomb early.
struct Guard<R> {
    inner: R,
    read: u64,
    max: u64,
    compressed: u64,
    ratio: u64,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            return Err(io::Error::other(format!(
                "more than {} bytes unpacked",
                self.max
            )));
        }
        if self.read > (1 << 20) && self.read / self.compressed.max(1) > self.ratio {
            return Err(io::Error::other(format!(
                "compression ratio above {} (decompression bomb?)",
                self.ratio
            )));
        }
        Ok(n)
    }
}

/// The safe relative path of an entry, or why it is refused.
fn entry_path(raw: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains `..`".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path".into());
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("empty path".into());
    }
    Ok(out)
}

/// Unpacks a tar.gz into `dest` (created; must not exist or be empty).
pub fn unpack(tar_gz: &[u8], dest: &Path, limits: &Limits) -> Result<Unpacked, SourceError> {
    if tar_gz.len() as u64 > limits.max_compressed {
        return Err(SourceError::TooLarge(format!(
            "{} bytes compressed, the limit is {}",
            tar_gz.len(),
            limits.max_compressed
        )));
    }
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    let guard = Guard {
        inner: GzDecoder::new(tar_gz),
        read: 0,
        max: limits.max_unpacked,
        compressed: tar_gz.len() as u64,
        ratio: limits.max_ratio,
    };
    let mut archive = tar::Archive::new(guard);
    let corrupt = |e: io::Error| {
        let m = e.to_string();
        if m.contains("unpacked") || m.contains("ratio") {
            SourceError::TooLarge(m)
        } else {
            SourceError::Corrupt(m)
        }
    };
    let mut seen = BTreeSet::new();
    let mut stats = Unpacked { files: 0, bytes: 0 };
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let name = raw.to_string_lossy().into_owned();
        let refuse = |reason: &str| SourceError::Refused {
            entry: name.clone(),
            reason: reason.to_string(),
        };
        let kind = entry.header().entry_type();
        // The server's rules first (`arbiter_api::bundle`, the one
        // definition of what a bundle may hold), then this unpacker's own.
        use arbiter_api::bundle::EntryKind as K;
        use tar::EntryType as E;
        let api_kind = match kind {
            E::Regular | E::Continuous => K::File,
            E::Directory => K::Directory,
            E::Symlink => K::Symlink,
            E::Link => K::Hardlink,
            E::Char | E::Block => K::Device,
            E::Fifo => K::Fifo,
            other => K::Other(other.as_byte()),
        };
        if kind != E::XGlobalHeader {
            arbiter_api::bundle::check_entry(&name, api_kind).map_err(|e| match e {
                arbiter_api::bundle::BundleError::Refused { why, .. } => refuse(why),
                other => refuse(&other.to_string()),
            })?;
        }
        let rel = entry_path(&raw).map_err(|r| refuse(&r))?;
        match kind {
            E::Directory => {
                let p = dest.join(&rel);
                std::fs::create_dir_all(&p).map_err(io_err(&p))?;
                continue;
            }
            E::Regular | E::Continuous => {}
            E::Symlink => return Err(refuse("symbolic link")),
            E::Link => return Err(refuse("hard link")),
            E::Char | E::Block => return Err(refuse("device file")),
            E::Fifo => return Err(refuse("FIFO")),
            E::XGlobalHeader => continue,
            other => return Err(refuse(&format!("entry type {other:?}"))),
        }
        if !seen.insert(rel.clone()) {
            return Err(refuse("appears twice"));
        }
        stats.files += 1;
        if stats.files > limits.max_files {
            return Err(SourceError::TooLarge(format!(
                "more than {} files",
                limits.max_files
            )));
        }
        let p = dest.join(&rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let exec = entry
            .header()
            .mode()
            .map(|m| m & 0o111 != 0)
            .unwrap_or(false);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => refuse("a file or directory of that name exists"),
                _ => SourceError::Io {
                    path: p.clone(),
                    source: e,
                },
            })?;
        let n = io::copy(&mut entry, &mut f).map_err(corrupt)?;
        f.flush().map_err(io_err(&p))?;
        stats.bytes += n;
        use std::os::unix::fs::PermissionsExt;
        let mode = if exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).map_err(io_err(&p))?;
    }
    Ok(stats)
}

/// Directories never packed: Terraform's own working data and VCS data.
const SKIP_DIRS: [&str; 3] = [".terraform", ".git", ".arbiter"];

/// Packs a configuration directory into a deterministic tar.gz: entries in
/// byte order of their paths, mtime 0, uid/gid 0, modes 0644/0755, no
/// owner names, gzip without a timestamp. `.terraform/`, `.git/` and
/// state files (`*.tfstate`, `*.tfstate.backup`) are left out; symbolic
/// links and other special files are refused.
pub fn pack(dir: &Path) -> Result<Vec<u8>, SourceError> {
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    files.sort();
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    b.mode(tar::HeaderMode::Deterministic);
    for (rel, is_dir) in &files {
        let full = dir.join(rel);
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        if *is_dir {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, rel, io::empty())
                .map_err(io_err(&full))?;
        } else {
            let data = std::fs::read(&full).map_err(io_err(&full))?;
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&full)
                .map_err(io_err(&full))?
                .permissions()
                .mode();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
            h.set_size(data.len() as u64);
            b.append_data(&mut h, rel, data.as_slice())
                .map_err(io_err(&full))?;
        }
    }
    let gz = b.into_inner().map_err(io_err(dir))?;
    gz.finish().map_err(io_err(dir))
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<(), SourceError> {
    let here = root.join(rel);
    for e in std::fs::read_dir(&here).map_err(io_err(&here))? {
        let e = e.map_err(io_err(&here))?;
        let name = e.file_name();
        let r = rel.join(&name);
        let ft = e.file_type().map_err(io_err(&e.path()))?;
        let n = name.to_string_lossy();
        if ft.is_dir() {
            if SKIP_DIRS.contains(&n.as_ref()) {
                continue;
            }
            out.push((r.clone(), true));
            collect(root, &r, out)?;
        } else if ft.is_file() {
            if n.ends_with(".tfstate") || n.ends_with(".tfstate.backup") {
                continue;
            }
            out.push((r, false));
        } else {
            return Err(SourceError::Refused {
                entry: r.to_string_lossy().into_owned(),
                reason: if ft.is_symlink() {
                    "symbolic link (bundles carry regular files only)".into()
                } else {
                    "not a regular file or directory".into()
                },
            });
        }
    }
    Ok(())
}

/// Checks a git URL: https://, ssh://, scp-like `user@host:path` and
/// file:// only; `ext::` and every other `<transport>::` form, other
/// schemes, plain paths and anything starting with `-` are refused.
pub fn check_git_url(url: &str) -> Result<(), SourceError> {
    let refuse = |reason: &str| SourceError::GitUrlRefused {
        url: url.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    // The server's rule (`arbiter_api::bundle::check_git_url`) first; this
    // worker also refuses whitespace and plain paths.
    arbiter_api::bundle::check_git_url(url).map_err(|e| refuse(&e))?;
    if url.starts_with('-') {
        return Err(refuse("starts with `-`"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse("contains whitespace or control characters"));
    }
    if let Some((transport, _)) = url.split_once("::") {
        return Err(refuse(&format!(
            "transport `{transport}::` (remote helpers run arbitrary commands)"
        )));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "https" | "ssh" | "file" if !rest.is_empty() => Ok(()),
            "https" | "ssh" | "file" => Err(refuse("nothing after the scheme")),
            other => Err(refuse(&format!("scheme `{other}`"))),
        };
    }
    // scp-like ssh: user@host:path (git treats `host:path` without a
    // slash before the colon as ssh).
    match url.split_once(':') {
        Some((host, path)) if !host.contains('/') && host.contains('@') && !path.is_empty() => {
            Ok(())
        }
        _ => Err(refuse(
            "not a URL (plain paths are not allowed; use file://)",
        )),
    }
}

fn check_commit(commit: &str) -> Result<(), SourceError> {
    let ok = (commit.len() == 40 || commit.len() == 64)
        && commit
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(SourceError::BadCommit(commit.chars().take(80).collect()))
    }
}

/// The working directory inside a checkout.
pub fn subdir(root: &Path, path: Option<&str>) -> Result<PathBuf, SourceError> {
    match path {
        None | Some("") | Some(".") => Ok(root.to_path_buf()),
        Some(p) => {
            let rel = entry_path(Path::new(p)).map_err(|_| SourceError::BadPath(p.into()))?;
            Ok(root.join(rel))
        }
    }
}

/// Runs git with the protocol restrictions and without hooks or the
/// user's/system configuration.
async fn git(
    dir: &Path,
    step: &'static str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, SourceError> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("GIT_ALLOW_PROTOCOL", "https:ssh:file")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .args([
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.https.allow=always",
            "-c",
            "protocol.ssh.allow=always",
            "-c",
            "protocol.file.allow=always",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.symlinks=false",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for k in [
        "SSH_AUTH_SOCK",
        "GIT_SSH_COMMAND",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| SourceError::Timeout(format!("git {step}")))?
        .map_err(|e| SourceError::Git {
            step,
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(SourceError::Git {
            step,
            message: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Fetches `commit` of the repository at `url` into `dest` (created) and
/// checks it out detached. Fails unless HEAD is exactly `commit`.
pub async fn git_fetch(
    url: &str,
    commit: &str,
    dest: &Path,
    timeout: Duration,
) -> Result<(), SourceError> {
    check_git_url(url)?;
    check_commit(commit)?;
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    git(dest, "init", &["init", "--quiet"], timeout).await?;
    // By commit id first (shallow); servers that refuse unadvertised
    // object ids get a full fetch of their refs instead.
    let shallow = git(
        dest,
        "fetch",
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth",
            "1",
            "--",
            url,
            commit,
        ],
        timeout,
    )
    .await;
    if shallow.is_err() {
        git(
            dest,
            "fetch",
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--",
                url,
                "+refs/heads/*:refs/remotes/origin/*",
            ],
            timeout,
        )
        .await?;
    }
    git(
        dest,
        "checkout",
        &["checkout", "--quiet", "--detach", commit],
        timeout,
    )
    .await?;
    let head = git(dest, "rev-parse", &["rev-parse", "HEAD"], timeout).await?;
    if head != commit {
        return Err(SourceError::Git {
            step: "rev-parse",
            message: format!("HEAD is {head}, expected {commit}"),
        });
    }
    Ok(())
}
