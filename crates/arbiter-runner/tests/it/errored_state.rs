//! Terraform's `errored.tfstate` kept out of the workspace
//! (`arbiter_runner::errored_state`): moved to the work directory's
//! quarantine as a new 0600 file of the worker's user; anything that is
//! not a regular file inside the workspace is refused and left alone. The
//! whole path (the server stopping an apply, Terraform saving the state it
//! could not upload, the worker keeping it) is tested with the real
//! Terraform and server in crates/tf-provider-arbitest/tests/it/runs.rs.

use arbiter_runner::errored_state::{
    kept_notice, quarantine, QuarantineError, ERRORED_STATE, QUARANTINE_DIR,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

struct Layout {
    _dir: tempfile::TempDir,
    work: PathBuf,
    workspace: PathBuf,
    tfdir: PathBuf,
}

fn layout() -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let workspace = work.join("run-7-1");
    let tfdir = workspace.join("src").join("infra");
    std::fs::create_dir_all(&tfdir).unwrap();
    Layout {
        _dir: dir,
        work,
        workspace,
        tfdir,
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn no_errored_state_is_nothing_to_keep() {
    let l = layout();
    assert!(quarantine(&l.workspace, &l.tfdir, &l.work, 7)
        .unwrap()
        .is_none());
    // Nothing made either.
    assert!(!l.work.join(QUARANTINE_DIR).exists());
}

#[test]
fn an_errored_state_is_moved_out_as_a_private_file_of_the_worker() {
    let l = layout();
    let src = l.tfdir.join(ERRORED_STATE);
    let content = "{\"version\": 4, \"lineage\": \"secret-lineage\", \"resources\": []}\n";
    std::fs::write(&src, content).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = arbiter_runner::sandbox::is_root();
    if root {
        // As Terraform leaves it when it ran as the unprivileged user.
        arbiter_runner::sandbox::give_to(&l.workspace, arbiter_runner::sandbox::NOBODY).unwrap();
    }
    let kept = quarantine(&l.workspace, &l.tfdir, &l.work, 7)
        .unwrap()
        .unwrap();
    assert_eq!(kept.bytes, content.len() as u64);
    assert_eq!(kept.path.parent().unwrap(), l.work.join(QUARANTINE_DIR));
    let name = kept
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let ms = name
        .strip_prefix("run-7-")
        .and_then(|n| n.strip_suffix(".tfstate"))
        .unwrap_or_else(|| panic!("{name}"));
    assert!(ms.parse::<u64>().unwrap() > 1_600_000_000_000, "{name}");
    assert_eq!(std::fs::read_to_string(&kept.path).unwrap(), content);
    assert_eq!(mode(&kept.path), 0o600);
    assert_eq!(mode(&l.work.join(QUARANTINE_DIR)), 0o700);
    let me = std::fs::metadata("/proc/self").unwrap();
    let m = std::fs::metadata(&kept.path).unwrap();
    assert_eq!((m.uid(), m.gid()), (me.uid(), me.gid()));
    assert!(!src.exists(), "the original stays in the workspace");
    // A second one (another run's) does not overwrite the first.
    std::fs::write(&src, "{}").unwrap();
    let second = quarantine(&l.workspace, &l.tfdir, &l.work, 7)
        .unwrap()
        .unwrap();
    assert_ne!(second.path, kept.path);
    assert_eq!(std::fs::read_to_string(&kept.path).unwrap(), content);
    // The notice names the file and the way back, never the content.
    let line = kept_notice(&kept, 7, "web");
    assert!(line.contains(&kept.path.display().to_string()), "{line}");
    assert!(line.contains("terraform state push"), "{line}");
    assert!(
        line.contains("/api/v1/stacks/web/backend-credentials"),
        "{line}"
    );
    assert!(!line.contains("secret-lineage"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
}

#[test]
fn a_symbolic_link_is_refused_and_its_target_left_alone() {
    let l = layout();
    let target = l.work.join("precious");
    std::fs::write(&target, "not a state").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let src = l.tfdir.join(ERRORED_STATE);
    std::os::unix::fs::symlink(&target, &src).unwrap();
    let e = quarantine(&l.workspace, &l.tfdir, &l.work, 7).unwrap_err();
    assert!(
        matches!(
            e,
            QuarantineError::NotAFile {
                kind: "symbolic link",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(mode(&target), 0o640);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not a state");
    assert!(std::fs::symlink_metadata(&src).unwrap().is_symlink());
}

#[test]
fn a_fifo_or_directory_is_refused_without_blocking() {
    let l = layout();
    let src = l.tfdir.join(ERRORED_STATE);
    let st = std::process::Command::new("mkfifo")
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let e = quarantine(&l.workspace, &l.tfdir, &l.work, 7).unwrap_err();
    assert!(
        matches!(e, QuarantineError::NotAFile { kind: "FIFO", .. }),
        "{e}"
    );
    std::fs::remove_file(&src).unwrap();
    std::fs::create_dir(&src).unwrap();
    let e = quarantine(&l.workspace, &l.tfdir, &l.work, 7).unwrap_err();
    assert!(
        matches!(
            e,
            QuarantineError::NotAFile {
                kind: "directory",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_working_directory_resolving_outside_the_workspace_is_refused() {
    let l = layout();
    let outside = l.work.join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join(ERRORED_STATE), "someone else's").unwrap();
    let linked = l.workspace.join("src").join("linked");
    std::os::unix::fs::symlink(&outside, &linked).unwrap();
    let e = quarantine(&l.workspace, &linked, &l.work, 7).unwrap_err();
    assert!(matches!(e, QuarantineError::Outside { .. }), "{e}");
    assert_eq!(
        std::fs::read_to_string(outside.join(ERRORED_STATE)).unwrap(),
        "someone else's"
    );
}

/// The pid of a process that has exited (and been reaped).
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// At start, a worker clears the workspaces killed workers left: their
/// unsaved states are kept, the workspaces removed; a workspace of a live
/// worker, or one a process (a Terraform outliving its worker) still works
/// in, is left alone.
#[test]
fn leftover_workspaces_of_killed_workers_are_swept_and_their_states_kept() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let gone = dead_pid();
    // A killed worker's workspace with Terraform's unsaved state.
    let dead = work.join(format!("run-41-{gone}"));
    std::fs::create_dir_all(dead.join("src").join("infra")).unwrap();
    let content = "{\"version\": 4, \"lineage\": \"swept-lineage\", \"resources\": []}\n";
    std::fs::write(dead.join("src").join("infra").join(ERRORED_STATE), content).unwrap();
    // One without: just removed.
    let empty = work.join(format!("run-42-{gone}"));
    std::fs::create_dir_all(empty.join("src")).unwrap();
    // A live worker's (pid 1 exists) and this process's own: untouched.
    let live = work.join("run-43-1");
    std::fs::create_dir_all(live.join("src")).unwrap();
    std::fs::write(live.join("src").join(ERRORED_STATE), "{}").unwrap();
    let own = work.join(format!("run-44-{}", std::process::id()));
    std::fs::create_dir_all(&own).unwrap();
    // A dead worker's workspace in which a process still runs.
    let outlived = work.join(format!("run-45-{gone}"));
    std::fs::create_dir_all(outlived.join("src")).unwrap();
    std::fs::write(outlived.join("src").join(ERRORED_STATE), "{}").unwrap();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .current_dir(outlived.join("src"))
        .spawn()
        .unwrap();
    // Not a workspace: never touched.
    std::fs::create_dir_all(work.join("plugin-cache")).unwrap();

    let swept = arbiter_runner::errored_state::sweep(&work);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();

    assert_eq!(swept.kept.len(), 1, "{swept:?}");
    let (run, kept) = &swept.kept[0];
    assert_eq!(*run, 41);
    assert_eq!(std::fs::read_to_string(&kept.path).unwrap(), content);
    assert_eq!(mode(&kept.path), 0o600);
    assert!(kept
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("run-41-"));
    assert_eq!(swept.removed, vec![dead.clone(), empty.clone()]);
    assert!(!dead.exists() && !empty.exists());
    assert_eq!(swept.left.len(), 1, "{swept:?}");
    assert_eq!(swept.left[0].0, outlived);
    assert!(outlived.join("src").join(ERRORED_STATE).exists());
    assert!(live.join("src").join(ERRORED_STATE).exists() && own.exists());
    assert!(work.join("plugin-cache").exists());
    let line = arbiter_runner::errored_state::swept_notice(kept, *run);
    assert!(line.contains("run 41") && line.contains(&kept.path.display().to_string()));
    assert!(!line.contains("swept-lineage"), "never the content: {line}");
    // Once the process that worked there is gone, the next start keeps its
    // state too; the live worker's workspace stays.
    let again = arbiter_runner::errored_state::sweep(&work);
    assert_eq!(again.kept.len(), 1, "{again:?}");
    assert_eq!(again.kept[0].0, 45);
    assert_eq!(again.removed, vec![outlived.clone()]);
    assert!(live.exists() && own.exists());
    let third = arbiter_runner::errored_state::sweep(&work);
    assert!(
        third.kept.is_empty() && third.removed.is_empty(),
        "{third:?}"
    );
    // A missing work directory is nothing to sweep.
    assert_eq!(
        arbiter_runner::errored_state::sweep(&dir.path().join("none")),
        arbiter_runner::errored_state::Sweep::default()
    );
}
