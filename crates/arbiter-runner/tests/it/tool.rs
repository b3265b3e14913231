//! A step of the tool past its time limit, or interrupted, is stopped with
//! its children (the process group). The "tool" is a shell script that
//! starts a child and sleeps: real Terraform cannot be made to hang on
//! demand here. Whole runs (the worker against the real server and the real
//! Terraform) are tested in `crates/tf-provider-arbitest/tests/it/worker.rs`
//! and `runs.rs`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_past_its_time_limit_or_interrupted_is_stopped_with_its_children() {
    use arbiter_runner::logs::LogSink;
    use arbiter_runner::tool::{Driver, Stop, ToolError};
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    // A "terraform" that starts a child and ignores nothing: both must go.
    let tool = dir.path().join("slow-tool");
    let marker = ws.join("still-running");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\n(sleep 3; touch {m}) &\nsleep 30\n",
            m = marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = arbiter_runner::Sandbox::detect();
    if let Some(uid) = sandbox.run_as {
        arbiter_runner::sandbox::give_to(&ws, uid).unwrap();
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(Stop::No);
    let mut d = Driver {
        tool: arbiter_api::runs::ToolInfo {
            kind: arbiter_api::runs::ToolKind::Terraform,
            path: tool.to_string_lossy().into_owned(),
            version: "test".into(),
        },
        dir: ws.clone(),
        rw: vec![ws.clone()],
        ro: vec![],
        plugin_dir: None,
        env: arbiter_runner::tool::base_env(&ws, None),
        sandbox,
        log: LogSink::new(vec![], true),
        stop: stop_rx,
    };
    let t0 = std::time::Instant::now();
    let e = d.init(std::time::Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(e, ToolError::Timeout { secs: 1, .. }), "{e}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t0.elapsed()
    );
    let t1 = std::time::Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        stop_tx.send(Stop::Cancel).unwrap();
        stop_tx
    });
    let e = d
        .init(std::time::Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, ToolError::Interrupted { .. }), "{e}");
    assert!(e.to_string().contains("cancelled"), "{e}");
    assert!(t1.elapsed() < std::time::Duration::from_secs(10));
    let _tx = stopper.await.unwrap();
    // The background child was in the process group and died with it.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        !marker.exists(),
        "a child of the tool outlived the interrupt"
    );
}
