//! Offline install: `terraform init -plugin-dir` and the filesystem-mirror
//! CLI configuration, with a backend (so a real init) and `terraform_data`.

use arbiter_testkit::tfprovider;

use crate::common::World;

const BODY: &str = r#"
resource "arbitest_object" "o" {
  name    = "o"
  content = "offline"
}

resource "terraform_data" "d" {
  input = arbitest_object.o.revision
}
"#;

/// The backend block (a real `init` is needed for it) in a second file.
fn with_backend(w: &World) {
    let state = w.work.join("state").join("terraform.tfstate");
    std::fs::write(
        w.work.join("backend.tf"),
        format!(
            "terraform {{\n  backend \"local\" {{\n    path = \"{}\"\n  }}\n}}\n",
            state.display()
        ),
    )
    .unwrap();
}

#[test]
fn init_with_plugin_dir_works_offline_with_a_backend() {
    // The control: without the plugin directory, the registry is needed
    // and the network is not there.
    let control = World::new();
    control.write_config("", BODY);
    let out = control.tf(&["init", "-no-color"]);
    assert!(!out.status.success(), "init must not reach a registry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("arbiter/arbitest"), "{stderr}");

    let w = World::new();
    w.write_config("", BODY);
    with_backend(&w);

    let dir = format!("-plugin-dir={}", w.plugin_dir.display());
    let stdout = w.tf_ok(&["init", "-no-color", &dir]);
    assert!(
        stdout.contains("Installing arbiter/arbitest v0.1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Successfully configured the backend \"local\""),
        "{stdout}"
    );
    let lock = std::fs::read_to_string(w.work.join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains("registry.terraform.io/arbiter/arbitest"),
        "{lock}"
    );

    w.tf_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(w.object("o").unwrap()["content"], "offline");
    let d = w.state_of("terraform_data.d").unwrap();
    assert_eq!(d["output"], 1);
    assert!(
        w.work.join("state/terraform.tfstate").is_file(),
        "the backend holds the state"
    );
}

#[test]
fn init_with_a_filesystem_mirror_cli_configuration() {
    let w = World::new();
    w.write_config("", BODY);
    with_backend(&w);
    std::fs::write(
        &w.cli_config,
        tfprovider::cli_config_filesystem_mirror(&w.plugin_dir),
    )
    .unwrap();
    let stdout = w.tf_ok(&["init", "-no-color"]);
    assert!(
        stdout.contains("Installing arbiter/arbitest v0.1.0"),
        "{stdout}"
    );
    w.tf_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(w.object("o").unwrap()["revision"], 1);
}

#[test]
fn the_layout_is_the_registry_layout() {
    let dir = tfprovider::plugin_dir().unwrap_or_else(|e| panic!("{e}"));
    let bin = dir.join(
        "registry.terraform.io/arbiter/arbitest/0.1.0/linux_amd64/terraform-provider-arbitest_v0.1.0",
    );
    assert_eq!(tfprovider::provider_path(&dir), bin);
    let meta = std::fs::metadata(&bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert!(meta.permissions().mode() & 0o111 != 0, "executable");
    // Run by hand (without Terraform's handshake cookie), it says what it is
    // and exits instead of serving forever.
    let out = std::process::Command::new(&bin).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a Terraform plugin"), "{stderr}");
}
