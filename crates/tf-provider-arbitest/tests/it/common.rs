//! A test world: a temporary directory with the objects, a Terraform working
//! directory and a hermetic environment (own HOME and CLI configuration, a
//! dead proxy so that any network access fails).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arbiter_testkit::tfprovider;
use serde_json::Value;

pub struct World {
    _dir: tempfile::TempDir,
    pub objects: PathBuf,
    pub work: PathBuf,
    pub home: PathBuf,
    pub cli_config: PathBuf,
    pub plugin_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl World {
    pub fn new() -> Self {
        let terraform = tfprovider::terraform_binary().unwrap_or_else(|e| panic!("{e}"));
        let plugin_dir = tfprovider::plugin_dir().unwrap_or_else(|e| panic!("{e}"));
        assert!(terraform.is_file());
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        let work = dir.path().join("work");
        let home = dir.path().join("home");
        for d in [&objects, &work, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        let cli_config = dir.path().join("terraformrc");
        std::fs::write(&cli_config, "").unwrap();
        Self {
            _dir: dir,
            objects,
            work,
            home,
            cli_config,
            plugin_dir,
            env: Vec::new(),
        }
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// `main.tf`: the required provider, a provider block on `objects`
    /// (with `provider_extra` inside it) and `body`.
    pub fn write_config(&self, provider_extra: &str, body: &str) {
        let text = format!(
            "{}\nprovider \"arbitest\" {{\n  root = \"{}\"\n  {provider_extra}\n}}\n\n{body}\n",
            tfprovider::REQUIRED_PROVIDERS,
            self.objects.display()
        );
        std::fs::write(self.work.join("main.tf"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("terraform");
        cmd.args(args)
            .current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("RUST_LIB_BACKTRACE", "0")
            // Offline: any attempt to reach a registry fails at once.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn tf(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run terraform")
    }

    /// Runs terraform, fails the test with its output unless it succeeds;
    /// returns stdout.
    pub fn tf_ok(&self, args: &[&str]) -> String {
        let out = self.tf(args);
        assert!(
            out.status.success(),
            "terraform {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn init(&self) {
        let dir = format!("-plugin-dir={}", self.plugin_dir.display());
        self.tf_ok(&["init", "-no-color", &dir]);
    }

    /// `plan -out` (with `extra` flags), then `show -json` of the plan file.
    pub fn plan(&self, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "-no-color", "-out=tf.plan"];
        args.extend_from_slice(extra);
        self.tf_ok(&args);
        serde_json::from_str(&self.tf_ok(&["show", "-json", "tf.plan"])).unwrap()
    }

    pub fn apply_plan(&self) -> String {
        self.tf_ok(&["apply", "-no-color", "tf.plan"])
    }

    /// The state's resources by address (`show -json`).
    pub fn state(&self) -> Vec<(String, Value)> {
        let state: Value = serde_json::from_str(&self.tf_ok(&["show", "-json"])).unwrap();
        let mut out: Vec<(String, Value)> = state["values"]["root_module"]["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        (
                            r["address"].as_str().unwrap().to_owned(),
                            r["values"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn state_of(&self, address: &str) -> Option<Value> {
        self.state()
            .into_iter()
            .find(|(a, _)| a == address)
            .map(|(_, v)| v)
    }

    pub fn object_path(&self, name: &str) -> PathBuf {
        self.objects.join(format!("{name}.json"))
    }

    /// The object's file, parsed; `None` when it does not exist.
    pub fn object(&self, name: &str) -> Option<Value> {
        match std::fs::read(self.object_path(name)) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// Changes an object's file behind Terraform's back.
    pub fn edit_object(&self, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut v = self.object(name).expect("the object exists");
        edit(&mut v);
        std::fs::write(self.object_path(name), serde_json::to_vec(&v).unwrap()).unwrap();
    }

    /// The names of the objects in the directory.
    pub fn object_names(&self) -> Vec<String> {
        list_json(&self.objects)
    }
}

fn list_json(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The resource change of `address` in a `show -json` plan.
pub fn change<'a>(plan: &'a Value, key: &str, address: &str) -> &'a Value {
    plan[key]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("no {key} entry for {address} in {plan:#}"))
}

pub fn actions(plan: &Value, key: &str, address: &str) -> Vec<String> {
    change(plan, key, address)["change"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}
