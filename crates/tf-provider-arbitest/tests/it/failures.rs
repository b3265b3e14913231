//! Injected failures (a partial apply), the delays (writes; reads and
//! plans), and Terraform killed mid-apply.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{actions, World};

const THREE: &str = r#"
resource "arbitest_object" "first" {
  name    = "first"
  content = "v1"
}

resource "arbitest_object" "bad" {
  name = "bad"
}

resource "arbitest_object" "after" {
  name       = "after"
  depends_on = [arbitest_object.bad]
}
"#;

fn addresses(w: &World) -> Vec<String> {
    w.state().into_iter().map(|(a, _)| a).collect()
}

#[test]
fn a_failing_resource_gives_a_partial_apply() {
    let mut w = World::new();
    w.write_config("", THREE);
    w.init();

    // Create fails for `bad` (ARBITEST_FAIL_ON): `first` is applied and
    // kept in the state, `after` (which depends on bad) never starts.
    w.set_env("ARBITEST_FAIL_ON", "bad");
    let out = w.tf(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("arbitest: injected failure: create of object \"bad\" refused"),
        "{stderr}"
    );
    assert!(stderr.contains("ARBITEST_FAIL_ON"), "{stderr}");
    assert!(
        !stderr.contains("Diagnostic::new"),
        "no backtrace: {stderr}"
    );
    assert_eq!(addresses(&w), ["arbitest_object.first"]);
    assert_eq!(w.object_names(), ["first"]);

    // Update fails for `first` (the provider's fail_on attribute): its
    // object and state stay at revision 1; the others are created.
    w.set_env("ARBITEST_FAIL_ON", "");
    let three_v2 = THREE.replace("\"v1\"", "\"v2\"");
    w.write_config("fail_on = \"first\"", &three_v2);
    let out = w.tf(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("arbitest: injected failure: update of object \"first\" refused"),
        "{stderr}"
    );
    assert_eq!(
        addresses(&w),
        [
            "arbitest_object.after",
            "arbitest_object.bad",
            "arbitest_object.first"
        ]
    );
    let first = w.state_of("arbitest_object.first").unwrap();
    assert_eq!(
        (&first["content"], &first["revision"]),
        (&json!("v1"), &json!(1))
    );
    assert_eq!(w.object("first").unwrap()["content"], "v1");

    // Without the failure, the same configuration applies.
    w.write_config("", &three_v2);
    w.tf_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(w.object("first").unwrap()["revision"], 2);
}

#[test]
fn the_delay_holds_the_write_back() {
    let mut w = World::new();
    w.write_config(
        "",
        "resource \"arbitest_object\" \"slow\" {\n  name = \"slow\"\n}\n",
    );
    w.init();
    w.set_env("ARBITEST_DELAY_MS", "1500");
    let started = Instant::now();
    let mut child = w
        .command(&["apply", "-auto-approve", "-no-color"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.object("slow"), None, "written only after the delay");
    assert!(child.wait().unwrap().success());
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(w.object("slow").unwrap()["revision"], 1);
}

#[test]
fn the_plan_delay_holds_refresh_and_plan_but_writes_nothing() {
    let w = World::new();
    let body = "resource \"arbitest_object\" \"slow\" {\n  name = \"slow\"\n}\n";
    w.write_config("plan_delay_ms = 1500", body);
    w.init();
    // An empty state: one plan of a create.
    let started = Instant::now();
    let plan = w.plan(&[]);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.slow"),
        ["create"]
    );
    assert!(w.object_names().is_empty(), "a plan writes nothing");
    // With state: the refresh (read) waits too.
    w.apply_plan();
    assert_eq!(w.object("slow").unwrap()["revision"], 1);
    w.write_config("plan_delay_ms = 1500", body);
    let started = Instant::now();
    w.tf_ok(&["plan", "-no-color", "-refresh-only"]);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "refresh: {:?}",
        started.elapsed()
    );
}

/// Pids of the running children of `parent` (from /proc).
fn children(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // "pid (comm) state ppid ...": comm may hold spaces.
                    let rest = &s[s.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Alive and not a zombie (an orphan's reaper may be slow or absent).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.get(s.rfind(')')? + 2..)?.chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

#[test]
fn terraform_killed_mid_apply_leaves_no_provider_behind() {
    let mut w = World::new();
    w.write_config(
        "",
        "resource \"arbitest_object\" \"done\" {\n  name = \"done\"\n}\n\nresource \"arbitest_object\" \"slow\" {\n  name       = \"slow\"\n  depends_on = [arbitest_object.done]\n}\n",
    );
    w.init();
    w.set_env("ARBITEST_DELAY_MS", "2000");
    let mut child = w
        .command(&["apply", "-auto-approve", "-no-color"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `done` is written after one delay; `slow` is then in its delay.
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.object("done").is_none() {
        assert!(Instant::now() < deadline, "done never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let providers = children(child.id());
    assert!(
        !providers.is_empty(),
        "terraform runs the provider as a child"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The provider notices that Terraform is gone and exits before its
    // delayed write.
    let deadline = Instant::now() + Duration::from_secs(5);
    while providers.iter().any(|p| running(*p)) {
        assert!(
            Instant::now() < deadline,
            "provider {providers:?} still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(w.object_names(), ["done"], "slow never written");
}
