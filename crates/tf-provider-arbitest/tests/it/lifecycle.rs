//! Plan, apply, drift behind Terraform's back, update in place, replace,
//! import and destroy, each checked in the plan JSON, the state and the
//! object files.

use serde_json::{json, Value};

use crate::common::{actions, change, World};

fn config(a_content: &str, a_tags: &str, b_name: &str) -> String {
    format!(
        r#"
resource "arbitest_object" "a" {{
  name    = "a"
  content = "{a_content}"
  tags    = {a_tags}
}}

resource "arbitest_object" "b" {{
  name    = "{b_name}"
  content = "two"
}}

resource "terraform_data" "rev" {{
  input = arbitest_object.a.revision
}}
"#
    )
}

#[test]
fn plan_apply_drift_update_replace_import_destroy() {
    let w = World::new();
    w.write_config("", &config("one", r#"{ env = "test" }"#, "b"));
    w.init();

    // Plan: id and revision are known at plan time.
    let plan = w.plan(&[]);
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.a"),
        ["create"]
    );
    let a = &change(&plan, "resource_changes", "arbitest_object.a")["change"];
    assert_eq!(a["after"]["id"], "a");
    assert_eq!(a["after"]["revision"], 1);
    assert_eq!(a["after"]["tags"], json!({"env": "test"}));
    for computed in ["id", "revision"] {
        assert!(
            a["after_unknown"][computed].is_null(),
            "{computed} is known: {a:#}"
        );
    }
    assert!(w.object_names().is_empty(), "a plan writes nothing");

    // Apply.
    w.apply_plan();
    assert_eq!(
        w.object("a").unwrap(),
        json!({"name": "a", "content": "one", "tags": {"env": "test"}, "revision": 1})
    );
    assert_eq!(w.object("b").unwrap()["content"], "two");
    assert_eq!(w.state_of("arbitest_object.a").unwrap()["revision"], 1);
    assert_eq!(w.state_of("terraform_data.rev").unwrap()["output"], 1);

    // Nothing to do: refresh reads back exactly what apply wrote.
    let out = w.tf(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Behind Terraform's back: a is edited, b is deleted.
    w.edit_object("a", |v| v["content"] = json!("edited"));
    std::fs::remove_file(w.object_path("b")).unwrap();
    let drift = w.plan(&["-refresh-only"]);
    assert_eq!(
        actions(&drift, "resource_drift", "arbitest_object.a"),
        ["update"]
    );
    let a = &change(&drift, "resource_drift", "arbitest_object.a")["change"];
    assert_eq!(a["before"]["content"], "one");
    assert_eq!(a["after"]["content"], "edited");
    assert_eq!(
        actions(&drift, "resource_drift", "arbitest_object.b"),
        ["delete"]
    );
    assert_eq!(
        w.object("a").unwrap()["content"],
        "edited",
        "a refresh-only plan writes nothing"
    );

    // The normal plan puts both back: a updated in place (revision + 1), b created.
    let plan = w.plan(&[]);
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.a"),
        ["update"]
    );
    let a = &change(&plan, "resource_changes", "arbitest_object.a")["change"];
    assert_eq!(a["before"]["content"], "edited");
    assert_eq!(
        (&a["after"]["content"], &a["after"]["revision"]),
        (&json!("one"), &json!(2))
    );
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.b"),
        ["create"]
    );
    w.apply_plan();
    assert_eq!(w.object("a").unwrap()["content"], "one");
    assert_eq!(w.object("a").unwrap()["revision"], 2);
    assert_eq!(w.object("b").unwrap()["revision"], 1);
    assert_eq!(w.state_of("terraform_data.rev").unwrap()["output"], 2);

    // Update in place from the configuration: content and tags.
    w.write_config("", &config("uno", r#"{ env = "prod", team = "x" }"#, "b"));
    let plan = w.plan(&[]);
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.a"),
        ["update"]
    );
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.b"),
        ["no-op"]
    );
    w.apply_plan();
    assert_eq!(
        w.object("a").unwrap(),
        json!({"name": "a", "content": "uno", "tags": {"env": "prod", "team": "x"}, "revision": 3})
    );
    assert_eq!(w.state_of("arbitest_object.a").unwrap()["revision"], 3);

    // Replace: a new name forces a new object.
    w.write_config("", &config("uno", r#"{ env = "prod", team = "x" }"#, "b2"));
    let plan = w.plan(&[]);
    assert_eq!(
        actions(&plan, "resource_changes", "arbitest_object.b"),
        ["delete", "create"]
    );
    let b = change(&plan, "resource_changes", "arbitest_object.b");
    assert_eq!(b["change"]["replace_paths"], json!([["name"]]));
    assert_eq!(b["change"]["after"]["id"], "b2");
    assert_eq!(b["change"]["after"]["revision"], 1);
    w.apply_plan();
    assert_eq!(w.object_names(), ["a", "b2"]);
    assert_eq!(w.state_of("arbitest_object.b").unwrap()["id"], "b2");

    // Import an object made outside Terraform.
    std::fs::write(
        w.object_path("extra"),
        r#"{"name": "extra", "content": "found", "tags": null, "revision": 7}"#,
    )
    .unwrap();
    let mut cfg = config("uno", r#"{ env = "prod", team = "x" }"#, "b2");
    cfg.push_str(
        "resource \"arbitest_object\" \"imp\" {\n  name    = \"extra\"\n  content = \"found\"\n}\n",
    );
    w.write_config("", &cfg);
    w.tf_ok(&["import", "-no-color", "arbitest_object.imp", "extra"]);
    let imp = w.state_of("arbitest_object.imp").unwrap();
    assert_eq!(
        (&imp["content"], &imp["revision"]),
        (&json!("found"), &json!(7))
    );
    let out = w.tf(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = w.tf(&["import", "-no-color", "arbitest_object.imp", "../etc"]);
    assert!(!out.status.success());

    // Destroy removes every object.
    w.tf_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(w.object_names().is_empty(), "{:?}", w.object_names());
    assert_eq!(w.state(), Vec::<(String, Value)>::new());
}

#[test]
fn invalid_names_are_refused_at_plan_without_a_backtrace() {
    let mut w = World::new();
    w.write_config(
        "",
        "resource \"arbitest_object\" \"x\" {\n  name = \"../escape\"\n}\n",
    );
    w.init();
    // tf-provider would attach a backtrace to every diagnostic (checked by
    // hand: "0: tf_provider::diagnostics::Diagnostic::new ..."); the provider
    // turns that off whatever the environment asks for.
    w.set_env("RUST_BACKTRACE", "1");
    w.set_env("RUST_LIB_BACKTRACE", "1");
    let out = w.tf(&["plan", "-no-color"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid object name \"../escape\""),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Diagnostic::new"),
        "a backtrace in Terraform's message: {stderr}"
    );
}
