//! The Terraform test provider (`crates/tf-provider-arbitest`), built once per
//! test process and laid out for an offline `terraform init`.
//!
//! [`plugin_dir`] builds `tf-provider-arbitest` (`cargo test --no-run -p
//! tf-provider-arbitest`, in the same target directory and profile as the
//! running test, so it is a no-op when fresh; a first build needs `protoc`)
//! and copies the binary into the registry layout:
//!
//! ```text
//! DIR/registry.terraform.io/arbiter/arbitest/0.1.0/linux_amd64/terraform-provider-arbitest_v0.1.0
//! ```
//!
//! Two ways to make Terraform use it without a network:
//! - `terraform init -plugin-dir DIR` (providers come from DIR only);
//! - or a CLI configuration (`TF_CLI_CONFIG_FILE`) with a filesystem mirror,
//!   [`cli_config_filesystem_mirror`], and a plain `terraform init`.
//!
//! Either is a real init, so a `backend` block (e.g. Arbiter's HTTP backend)
//! gets initialised too. `init` links `.terraform/providers/...` to DIR (a
//! symlink, readable by all): a sandboxed Terraform must see DIR, or get a
//! copy of it. The configuration names the provider with
//! [`REQUIRED_PROVIDERS`]; `terraform_data` is built into Terraform and needs
//! nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The provider's source address (hostname registry.terraform.io).
pub const SOURCE: &str = "arbiter/arbitest";
/// The version the layout advertises.
pub const VERSION: &str = "0.1.0";
/// The cargo package that builds it.
pub const PACKAGE: &str = "tf-provider-arbitest";
/// The binary cargo builds.
pub const BINARY: &str = "terraform-provider-arbitest";

/// A `terraform` block requiring the provider (paste it into a test's
/// configuration).
pub const REQUIRED_PROVIDERS: &str = r#"terraform {
  required_providers {
    arbitest = {
      source  = "arbiter/arbitest"
      version = "0.1.0"
    }
  }
}
"#;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TfProviderError {
    #[error("cannot run {cargo} to build the Terraform test provider: {message}")]
    CargoNotRun { cargo: String, message: String },
    #[error(
        "building the test provider (`cargo test --no-run -p tf-provider-arbitest`) failed ({status}){hint}\n--- last lines of its output ---\n{output}"
    )]
    BuildFailed {
        status: String,
        hint: &'static str,
        output: String,
    },
    #[error(
        "cannot find the target directory from the test binary's path {exe}: set CARGO_TARGET_DIR"
    )]
    NoTargetDir { exe: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("`terraform` is not on PATH: these tests need Terraform 1.11 (see README, \"Test provider\")")]
    TerraformMissing,
}

fn io_err(path: &Path, e: std::io::Error) -> TfProviderError {
    TfProviderError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

static PLUGIN_DIR: OnceLock<Result<PathBuf, TfProviderError>> = OnceLock::new();

/// The plugin directory for `terraform init -plugin-dir` (or a filesystem
/// mirror), with the freshly built provider in it. Builds once per process.
pub fn plugin_dir() -> Result<PathBuf, TfProviderError> {
    PLUGIN_DIR.get_or_init(build_and_lay_out).clone()
}

/// Where the provider binary sits inside [`plugin_dir`].
pub fn provider_path(plugin_dir: &Path) -> PathBuf {
    plugin_dir
        .join("registry.terraform.io")
        .join(SOURCE)
        .join(VERSION)
        .join("linux_amd64")
        .join(format!("{BINARY}_v{VERSION}"))
}

/// A Terraform CLI configuration (`TF_CLI_CONFIG_FILE`) that installs every
/// provider from `plugin_dir` and never from the network: the alternative to
/// `terraform init -plugin-dir`.
pub fn cli_config_filesystem_mirror(plugin_dir: &Path) -> String {
    let path = hcl_string(&plugin_dir.display().to_string());
    format!("provider_installation {{\n  filesystem_mirror {{\n    path = {path}\n  }}\n}}\n")
}

/// An HCL string literal: quotes and backslashes escaped, and the template
/// openers `${` and `%{` doubled.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `terraform` on PATH, or a clear error.
pub fn terraform_binary() -> Result<PathBuf, TfProviderError> {
    let paths = std::env::var_os("PATH").ok_or(TfProviderError::TerraformMissing)?;
    std::env::split_paths(&paths)
        .map(|d| d.join("terraform"))
        .find(|p| p.is_file())
        .ok_or(TfProviderError::TerraformMissing)
}

/// The target directory and profile of the running test binary
/// (`TARGET/PROFILE/deps/it-HASH`), unless CARGO_TARGET_DIR says otherwise.
fn target_and_profile() -> Result<(PathBuf, String), TfProviderError> {
    let exe = std::env::current_exe().map_err(|e| io_err(Path::new("current_exe"), e))?;
    let profile_dir = exe
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent);
    let profile = profile_dir
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "debug".to_owned());
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => profile_dir
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| TfProviderError::NoTargetDir {
                exe: exe.display().to_string(),
            })?,
    };
    Ok((target, profile))
}

/// What cargo sets for the package a test belongs to (besides CARGO_PKG_*
/// and CARGO_BIN_EXE_*).
const PACKAGE_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_and_lay_out() -> Result<PathBuf, TfProviderError> {
    let (target, profile) = target_and_profile()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(&cargo);
    // `cargo test --no-run` rather than `cargo build`: the provider's own
    // tests build it with their dev-dependencies' features, a plain build
    // would resolve other features and recompile tf-provider (a minute or
    // two) every time one follows the other. This way there is one build.
    cmd.args(["test", "--no-run", "--quiet"])
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", PACKAGE, "--test", "it"])
        .arg("--target-dir")
        .arg(&target);
    // Cargo gives a test process the variables of the package under test
    // (CARGO_MANIFEST_DIR, CARGO_PKG_*, ...). Passed on, they would differ
    // from a shell's cargo, and build scripts that watch them (ring watches
    // CARGO_MANIFEST_DIR) would rebuild the provider's dependencies each time.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if PACKAGE_VARIABLES.contains(&key)
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(key);
        }
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!(
        "tfprovider: cargo test --no-run -p {PACKAGE} (target {})",
        target.display()
    );
    let out = cmd.output().map_err(|e| TfProviderError::CargoNotRun {
        cargo: cargo.clone(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(build_failure(
            out.status.to_string(),
            &String::from_utf8_lossy(&out.stderr),
        ));
    }
    let built = target.join(&profile).join(BINARY);
    let dir = target.join("arbitest-plugins");
    let dest = provider_path(&dir);
    let parent = dest.parent().unwrap_or(&dir);
    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    // Copy beside it and rename: another test process may be running the
    // current one, and never sees half a binary.
    let tmp = parent.join(format!(".{BINARY}.{}", std::process::id()));
    std::fs::copy(&built, &tmp).map_err(|e| io_err(&built, e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| io_err(&dest, e))?;
    Ok(dir)
}

/// The error of a failed build: its last lines, and what to install when
/// tonic's build script did not find `protoc`.
fn build_failure(status: String, stderr: &str) -> TfProviderError {
    let hint = if stderr.contains("protoc") {
        ": protoc is missing (Debian: apt-get install protobuf-compiler)"
    } else {
        ""
    };
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    TfProviderError::BuildFailed {
        status,
        hint,
        output: tail,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_mirror_configuration() {
        let p = provider_path(Path::new("/p"));
        assert_eq!(
            p,
            Path::new("/p/registry.terraform.io/arbiter/arbitest/0.1.0/linux_amd64/terraform-provider-arbitest_v0.1.0")
        );
        let cfg = cli_config_filesystem_mirror(Path::new("/tmp/a \"b\"/${x}"));
        assert!(cfg.contains(r#"path = "/tmp/a \"b\"/$${x}""#), "{cfg}");
        assert!(!cfg.contains("direct"), "offline: no direct installation");
    }

    #[test]
    fn a_build_without_protoc_says_what_to_install() {
        let stderr = "   Compiling tf-provider v0.2.2\nerror: failed to run custom build command for `tf-provider v0.2.2`\n  Error: Custom { kind: NotFound, error: \"Could not find `protoc`. If `protoc` is installed, try setting the `PROTOC` environment variable\" }";
        let msg = build_failure("exit status: 101".into(), stderr).to_string();
        assert!(msg.contains("apt-get install protobuf-compiler"), "{msg}");
        assert!(msg.contains("Could not find `protoc`"), "{msg}");
        let msg =
            build_failure("exit status: 101".into(), "error[E0308]: mismatched types").to_string();
        assert!(
            !msg.contains("protobuf-compiler") && msg.contains("E0308"),
            "{msg}"
        );
    }
}
