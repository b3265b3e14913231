//! Bundles: refused entries, limits, deterministic packing; git: refused
//! transports and a real file:// fetch.

use arbiter_runner::source::{self, Limits, SourceError};
use std::io::Write;

/// A tar.gz with one raw entry (name written into the header as is, so
/// that `..` and absolute paths reach the unpacker).
fn raw_tar(name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut ok = tar::Header::new_gnu();
    ok.set_size(3);
    ok.set_mode(0o644);
    ok.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut ok, "main.tf", &b"# a"[..]).unwrap();
    let mut h = tar::Header::new_old();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap();
    gz(&b.into_inner().unwrap())
}

fn gz(tar: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(tar).unwrap();
    e.finish().unwrap()
}

fn refused(bytes: &[u8], entry: &str, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("src");
    let e = source::unpack(bytes, &out, &Limits::default()).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, SourceError::Refused { .. }), "{m}");
    assert!(m.contains(entry) && m.contains(reason), "{m}");
    // Nothing was written outside the destination.
    assert!(!dir.path().join("evil").exists());
}

#[test]
fn dangerous_entries_are_refused_naming_the_entry() {
    refused(
        &raw_tar("../evil", tar::EntryType::Regular, None, b"x"),
        "../evil",
        "`..`",
    );
    refused(
        &raw_tar("a/../../evil", tar::EntryType::Regular, None, b"x"),
        "a/../../evil",
        "`..`",
    );
    refused(
        &raw_tar("/tmp/evil", tar::EntryType::Regular, None, b"x"),
        "/tmp/evil",
        "absolute",
    );
    refused(
        &raw_tar("link", tar::EntryType::Symlink, Some("/etc/passwd"), b""),
        "link",
        "symbolic link",
    );
    refused(
        &raw_tar("hard", tar::EntryType::Link, Some("main.tf"), b""),
        "hard",
        "hard link",
    );
    refused(
        &raw_tar("dev", tar::EntryType::Char, None, b""),
        "dev",
        "device",
    );
    refused(
        &raw_tar("fifo", tar::EntryType::Fifo, None, b""),
        "fifo",
        "FIFO",
    );
    refused(
        &raw_tar("main.tf", tar::EntryType::Regular, None, b"again"),
        "main.tf",
        "twice",
    );
}

#[test]
fn limits_stop_bombs_and_floods() {
    let dir = tempfile::tempdir().unwrap();
    // 50 MiB of zeros compress to ~50 KiB: a ratio of ~1000.
    let zeros = vec![0u8; 50 << 20];
    let bomb = raw_tar("zeros.bin", tar::EntryType::Regular, None, &zeros);
    let e = source::unpack(&bomb, &dir.path().join("a"), &Limits::default()).unwrap_err();
    assert!(matches!(e, SourceError::TooLarge(_)), "{e}");
    assert!(e.to_string().contains("ratio"), "{e}");
    let small = Limits {
        max_unpacked: 1 << 20,
        max_ratio: 1_000_000,
        ..Limits::default()
    };
    let e = source::unpack(&bomb, &dir.path().join("b"), &small).unwrap_err();
    assert!(
        e.to_string().contains("more than 1048576 bytes unpacked"),
        "{e}"
    );
    let few = Limits {
        max_files: 1,
        ..Limits::default()
    };
    let two = raw_tar("second.tf", tar::EntryType::Regular, None, b"x");
    let e = source::unpack(&two, &dir.path().join("c"), &few).unwrap_err();
    assert!(e.to_string().contains("more than 1 files"), "{e}");
    let tiny = Limits {
        max_compressed: 10,
        ..Limits::default()
    };
    let e = source::unpack(&two, &dir.path().join("d"), &tiny).unwrap_err();
    assert!(e.to_string().contains("compressed"), "{e}");
    let e = source::unpack(
        b"not gzip at all",
        &dir.path().join("e"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SourceError::Corrupt(_)), "{e}");
}

#[test]
fn packing_is_deterministic_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(cfg.join("modules/net")).unwrap();
    std::fs::create_dir_all(cfg.join(".terraform/providers")).unwrap();
    std::fs::write(
        cfg.join("main.tf"),
        "resource \"terraform_data\" \"a\" {}\n",
    )
    .unwrap();
    std::fs::write(cfg.join("modules/net/x.tf"), "# net\n").unwrap();
    std::fs::write(cfg.join("terraform.tfstate"), "{}").unwrap();
    std::fs::write(cfg.join(".terraform/providers/junk"), "x").unwrap();
    let script = cfg.join("run.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let a = source::pack(&cfg).unwrap();
    // Touch every file (new mtimes): same bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(
        cfg.join("main.tf"),
        "resource \"terraform_data\" \"a\" {}\n",
    )
    .unwrap();
    let b = source::pack(&cfg).unwrap();
    assert_eq!(a, b);
    assert_eq!(source::sha256_hex(&a), source::sha256_hex(&b));
    let out = dir.path().join("out");
    let stats = source::unpack(&a, &out, &Limits::default()).unwrap();
    assert_eq!(stats.files, 3, "main.tf, modules/net/x.tf, run.sh");
    assert!(!out.join("terraform.tfstate").exists());
    assert!(!out.join(".terraform").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("modules/net/x.tf")).unwrap(),
        "# net\n"
    );
    let mode = std::fs::metadata(out.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // A symbolic link in the directory is refused by the packer too.
    std::os::unix::fs::symlink("/etc/passwd", cfg.join("passwd")).unwrap();
    let e = source::pack(&cfg).unwrap_err();
    assert!(
        e.to_string().contains("passwd") && e.to_string().contains("symbolic link"),
        "{e}"
    );
}

#[test]
fn git_urls_other_than_https_ssh_file_are_refused() {
    for bad in [
        "ext::sh -c touch% /tmp/pwned",
        "ext::ssh -o ProxyCommand=x host",
        "fd::17",
        "http://example.org/r.git",
        "git://example.org/r.git",
        "ftp://example.org/r.git",
        "/srv/repo",
        "../repo",
        "-uhelp",
        "https://x/r.git --upload-pack=touch",
    ] {
        let e = source::check_git_url(bad).unwrap_err();
        assert!(matches!(e, SourceError::GitUrlRefused { .. }), "{bad}: {e}");
    }
    for good in [
        "https://example.org/r.git",
        "ssh://git@example.org/r.git",
        "git@example.org:org/r.git",
        "file:///srv/repo",
    ] {
        source::check_git_url(good).unwrap();
    }
}

fn sh(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_real_repository_is_fetched_at_its_commit_and_ext_is_refused_by_git_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("infra")).unwrap();
    sh(&repo, &["init", "-q"]);
    std::fs::write(repo.join("infra/main.tf"), "# v1\n").unwrap();
    sh(&repo, &["add", "."]);
    sh(&repo, &["commit", "-qm", "v1"]);
    let v1 = sh(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join("infra/main.tf"), "# v2\n").unwrap();
    sh(&repo, &["commit", "-qam", "v2"]);
    let url = format!("file://{}", repo.display());
    let t = std::time::Duration::from_secs(60);
    let dest = dir.path().join("co");
    source::git_fetch(&url, &v1, &dest, t).await.unwrap();
    let sub = source::subdir(&dest, Some("infra")).unwrap();
    assert_eq!(
        std::fs::read_to_string(sub.join("main.tf")).unwrap(),
        "# v1\n"
    );
    assert!(source::subdir(&dest, Some("../x")).is_err());
    // A commit that does not exist fails; a short id is refused.
    let e = source::git_fetch(&url, &"0".repeat(40), &dir.path().join("co2"), t)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Git { .. }), "{e}");
    let e = source::git_fetch(&url, &v1[..8], &dir.path().join("co3"), t)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::BadCommit(_)), "{e}");
    // ext:: never reaches git: nothing is executed.
    let marker = dir.path().join("pwned");
    let ext = format!("ext::sh -c touch% {}", marker.display());
    let e = source::git_fetch(&ext, &v1, &dir.path().join("co4"), t)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ext::"), "{e}");
    assert!(!marker.exists());
}
