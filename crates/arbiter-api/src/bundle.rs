//! Configuration bundles: what a tar archive may hold. Pure checks over the
//! archive's (already gunzipped) bytes, shared by the server (which refuses
//! a bundle on upload) and the worker (which checks again while unpacking):
//! regular files and directories only, relative paths without `..`, no
//! links, devices or FIFOs. Reads ustar, GNU long names (`L`) and PAX
//! `path` records (`x`), which is what `tar` and Rust's `tar` crate write.

use std::fmt;

/// What kind of entry an archive member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (refused).
    Symlink,
    /// A hard link (refused).
    Hardlink,
    /// A character or block device (refused).
    Device,
    /// A FIFO (refused).
    Fifo,
    /// Anything else (refused).
    Other(u8),
}

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path as stored.
    pub path: String,
    /// Its kind.
    pub kind: EntryKind,
    /// Size of its data, bytes.
    pub size: u64,
    /// Offset of its data in the archive.
    pub data_offset: usize,
    /// Unix permission bits.
    pub mode: u32,
}

/// Why a bundle is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The archive itself is malformed.
    #[error("the bundle is not a valid tar archive: {0}")]
    Malformed(String),
    /// An entry is not allowed.
    #[error("bundle entry {path:?}: {why}")]
    Refused {
        /// The entry's path as stored.
        path: String,
        /// Why.
        why: &'static str,
    },
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryKind::File => f.write_str("file"),
            EntryKind::Directory => f.write_str("directory"),
            EntryKind::Symlink => f.write_str("symbolic link"),
            EntryKind::Hardlink => f.write_str("hard link"),
            EntryKind::Device => f.write_str("device"),
            EntryKind::Fifo => f.write_str("FIFO"),
            EntryKind::Other(c) => write!(f, "entry of type {:?}", *c as char),
        }
    }
}

/// Checks one entry's path and kind; `Ok` means it may be unpacked under
/// the working directory at that (relative) path.
pub fn check_entry(path: &str, kind: EntryKind) -> Result<(), BundleError> {
    let refuse = |why| {
        Err(BundleError::Refused {
            path: path.chars().take(512).collect(),
            why,
        })
    };
    match kind {
        EntryKind::File | EntryKind::Directory => {}
        EntryKind::Symlink => return refuse("symbolic links are not allowed"),
        EntryKind::Hardlink => return refuse("hard links are not allowed"),
        EntryKind::Device => return refuse("devices are not allowed"),
        EntryKind::Fifo => return refuse("FIFOs are not allowed"),
        EntryKind::Other(_) => return refuse("only regular files and directories are allowed"),
    }
    if path.is_empty() {
        return refuse("an empty path is not allowed");
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return refuse("absolute paths are not allowed");
    }
    if path.contains('\0') || path.contains('\\') {
        return refuse("backslashes and NUL bytes are not allowed in paths");
    }
    if path.len() > 1 && path.as_bytes()[1] == b':' {
        return refuse("drive-letter paths are not allowed");
    }
    if path.split('/').any(|c| c == "..") {
        return refuse("`..` is not allowed in paths");
    }
    Ok(())
}

fn octal(field: &[u8]) -> Result<u64, BundleError> {
    // GNU base-256 for large values.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| BundleError::Malformed("a size is too large".into()))?;
        }
        return Ok(v);
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(t, 8)
        .map_err(|_| BundleError::Malformed(format!("bad octal number {t:?} in a header")))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn pax_path(data: &[u8]) -> Option<String> {
    // Records: "LEN key=value\n".
    let mut rest = data;
    let mut path = None;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return None;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(v) = rec.strip_prefix(b"path=") {
            path = Some(String::from_utf8_lossy(v).into_owned());
        }
        rest = &rest[len..];
    }
    path
}

/// Lists the members of a tar archive (uncompressed bytes), without
/// judging them.
pub fn entries(tar: &[u8]) -> Result<Vec<Entry>, BundleError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|b| *b == 0) {
            return Ok(out);
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        if octal(&h[148..156])? != sum {
            return Err(BundleError::Malformed(format!(
                "header checksum mismatch at byte {at}"
            )));
        }
        let size = octal(&h[124..136])?;
        let data_offset = at + 512;
        let padded = size
            .checked_add(511)
            .map(|s| s / 512 * 512)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| BundleError::Malformed("an entry is too large".into()))?;
        let end = data_offset
            .checked_add(padded)
            .ok_or_else(|| BundleError::Malformed("an entry is too large".into()))?;
        if data_offset + size as usize > tar.len() {
            return Err(BundleError::Malformed(format!(
                "entry at byte {at} runs past the end of the archive"
            )));
        }
        let data = &tar[data_offset..data_offset + size as usize];
        let typeflag = h[156];
        match typeflag {
            b'L' => {
                long_name = Some(cstr(data));
                at = end;
                continue;
            }
            b'x' => {
                if let Some(p) = pax_path(data) {
                    long_name = Some(p);
                }
                at = end;
                continue;
            }
            b'g' => {
                at = end;
                continue;
            }
            _ => {}
        }
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let name = cstr(&h[0..100]);
                let ustar = &h[257..262] == b"ustar";
                let prefix = if ustar {
                    cstr(&h[345..500])
                } else {
                    String::new()
                };
                if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                }
            }
        };
        let kind = match typeflag {
            b'0' | 0 | b'7' => EntryKind::File,
            b'5' => EntryKind::Directory,
            b'2' => EntryKind::Symlink,
            b'1' => EntryKind::Hardlink,
            b'3' | b'4' => EntryKind::Device,
            b'6' => EntryKind::Fifo,
            c => EntryKind::Other(c),
        };
        out.push(Entry {
            path: name,
            kind,
            size,
            data_offset,
            mode: octal(&h[100..108])? as u32,
        });
        at = end;
    }
    if at == tar.len() {
        // No end-of-archive blocks: accepted (some writers omit them).
        return Ok(out);
    }
    Err(BundleError::Malformed(
        "the archive ends in the middle of a header".into(),
    ))
}

/// Lists the members of an archive and checks every one of them
/// ([`check_entry`]); returns them when all pass.
pub fn validate(tar: &[u8]) -> Result<Vec<Entry>, BundleError> {
    let list = entries(tar)?;
    for e in &list {
        check_entry(&e.path, e.kind)?;
    }
    Ok(list)
}

/// Git sources: `https://`, `ssh://`, `git@host:path` (scp-like ssh) and
/// `file://` URLs only; `ext::` and every other transport are refused.
pub fn check_git_url(url: &str) -> Result<(), String> {
    let ok = url.starts_with("https://")
        || url.starts_with("ssh://")
        || url.starts_with("file://")
        || (url.contains('@')
            && url.contains(':')
            && !url.contains("::")
            && !url.contains("://")
            && !url.starts_with('-'));
    if url.len() > 2048 || url.chars().any(|c| c.is_control()) || url.starts_with('-') {
        return Err("git URL is too long, starts with '-' or holds control characters".into());
    }
    if !ok || url.contains("::") {
        return Err(format!(
            "git URL {:?} is refused: only https://, ssh:// (or user@host:path) and file:// URLs are allowed (no ext:: or other transports)",
            url.chars().take(200).collect::<String>()
        ));
    }
    Ok(())
}

/// A commit id: 40 (SHA-1) or 64 (SHA-256) hex digits.
pub fn check_commit(commit: &str) -> Result<(), String> {
    if (commit.len() == 40 || commit.len() == 64) && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "git commit {:?} must be a full commit id (40 or 64 hex digits)",
            commit.chars().take(80).collect::<String>()
        ))
    }
}

// A deterministic tar writer, kept for the tests: the archives they write
// (GNU long names among them) check the reader above. Bundles are packed by
// `arbiter_runner::source::pack` (the CLI's `submit --config` and the tests).
#[cfg(test)]
fn header(name: &[u8], typeflag: u8, mode: u32, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    let put = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
        let text = format!("{v:0w$o}\0", w = width - 1);
        h[at..at + width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    };
    put(&mut h, 100, 8, u64::from(mode));
    put(&mut h, 108, 8, 0); // uid
    put(&mut h, 116, 8, 0); // gid
    put(&mut h, 124, 12, size);
    put(&mut h, 136, 12, 0); // mtime: deterministic
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// Appends one member to a tar archive being built: deterministic (owner
/// 0, mtime 0, mode 0644 or 0755 for executables, 0755 for directories);
/// names over 100 bytes get a GNU long-name record. The path is checked
/// with [`check_entry`] first.
#[cfg(test)]
fn append_member(
    out: &mut Vec<u8>,
    path: &str,
    kind: EntryKind,
    data: &[u8],
    executable: bool,
) -> Result<(), BundleError> {
    check_entry(path, kind)?;
    let (flag, mode) = match kind {
        EntryKind::Directory => (b'5', 0o755),
        _ if executable => (b'0', 0o755),
        _ => (b'0', 0o644),
    };
    let name = if kind == EntryKind::Directory && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.to_string()
    };
    let pad = |out: &mut Vec<u8>| out.resize(out.len().div_ceil(512) * 512, 0);
    if name.len() > 100 {
        let mut long = name.as_bytes().to_vec();
        long.push(0);
        out.extend_from_slice(&header(b"././@LongLink", b'L', 0o644, long.len() as u64));
        out.extend_from_slice(&long);
        pad(out);
    }
    let size = if kind == EntryKind::Directory {
        0
    } else {
        data.len() as u64
    };
    out.extend_from_slice(&header(name.as_bytes(), flag, mode, size));
    if size > 0 {
        out.extend_from_slice(data);
        pad(out);
    }
    Ok(())
}

/// Ends a tar archive (two zero blocks).
#[cfg(test)]
fn finish(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0u8; 1024]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn written_archives_read_back_and_long_names_survive() {
        let mut a = Vec::new();
        let long = format!("{}/main.tf", "m".repeat(150));
        append_member(&mut a, "mod", EntryKind::Directory, b"", false).unwrap();
        append_member(&mut a, "main.tf", EntryKind::File, b"x = 1\n", false).unwrap();
        append_member(&mut a, &long, EntryKind::File, b"y", true).unwrap();
        assert!(append_member(&mut a, "../x", EntryKind::File, b"", false).is_err());
        finish(&mut a);
        let e = validate(&a).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["mod/", "main.tf", long.as_str()]);
        assert_eq!(e[2].mode, 0o755);
        assert_eq!(&a[e[1].data_offset..e[1].data_offset + 6], b"x = 1\n");
    }

    use super::*;

    /// A ustar header for `name` of `kind` with `data`.
    fn member(name: &str, typeflag: u8, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut out = h;
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    fn archive(members: &[Vec<u8>]) -> Vec<u8> {
        let mut a: Vec<u8> = members.concat();
        a.extend_from_slice(&[0u8; 1024]);
        a
    }

    #[test]
    fn files_and_directories_pass_and_are_listed() {
        let a = archive(&[
            member("main.tf", b'0', b"resource {}"),
            member("mod/", b'5', b""),
        ]);
        let e = validate(&a).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, "main.tf");
        assert_eq!(&a[e[0].data_offset..e[0].data_offset + 11], b"resource {}");
        assert_eq!(e[1].kind, EntryKind::Directory);
    }

    #[test]
    fn escapes_links_and_devices_are_refused_naming_the_entry() {
        for (name, flag, why) in [
            ("../evil.tf", b'0', ".."),
            ("a/../../b", b'0', ".."),
            ("/etc/passwd", b'0', "absolute"),
            ("link", b'2', "symbolic"),
            ("hard", b'1', "hard link"),
            ("dev", b'3', "devices"),
            ("fifo", b'6', "FIFO"),
        ] {
            let a = archive(&[member("ok.tf", b'0', b"x"), member(name, flag, b"")]);
            let e = validate(&a).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(why), "{e}");
        }
    }

    #[test]
    fn long_names_are_read_and_checked() {
        let long = format!("{}/../x", "d".repeat(120));
        let a = archive(&[
            member("././@LongLink", b'L', long.as_bytes()),
            member("short", b'0', b""),
        ]);
        assert!(validate(&a).unwrap_err().to_string().contains(".."));
        let pax = "13 path=/abs\n".to_string();
        let a = archive(&[
            member("pax", b'x', pax.as_bytes()),
            member("fine", b'0', b""),
        ]);
        assert!(validate(&a).unwrap_err().to_string().contains("absolute"));
    }

    #[test]
    fn corrupt_archives_are_errors_not_panics() {
        let mut a = archive(&[member("a", b'0', b"hello")]);
        a[0] = b'b';
        assert!(matches!(entries(&a), Err(BundleError::Malformed(_))));
        assert!(entries(&a[..100]).is_err());
        let mut big = member("a", b'0', b"");
        big[124..135].copy_from_slice(b"77777777777");
        assert!(entries(&big).is_err());
    }

    #[test]
    fn git_urls_allow_only_known_transports() {
        for ok in [
            "https://github.com/a/b.git",
            "ssh://git@h/r.git",
            "git@github.com:a/b.git",
            "file:///tmp/repo",
        ] {
            assert!(check_git_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ext::sh -c touch% /tmp/pwned",
            "fd::17",
            "http://x/r.git",
            "git://h/r",
            "-u x",
            "/tmp/repo",
        ] {
            let e = check_git_url(bad).unwrap_err();
            assert!(e.contains("refused") || e.contains("'-'"), "{bad}: {e}");
        }
        assert!(check_commit(&"a".repeat(40)).is_ok());
        assert!(check_commit("main").is_err());
    }
}
