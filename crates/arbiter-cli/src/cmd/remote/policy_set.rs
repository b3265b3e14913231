//! `arbiter policy-set`: versioned Rego stored on the server.

use super::*;
/// Policy sets stored on the server (versioned Rego).
#[derive(Subcommand, Debug)]
pub enum PolicySetCommand {
    /// Upload a directory of .rego files (and data.json/data.yaml) as a new version.
    Push {
        /// Set name.
        name: String,
        /// Directory (or one file).
        dir: PathBuf,
        /// `plan` (evaluated like --policy) or `approval` (decides reviews).
        #[arg(long, default_value = "plan", value_parser = ["plan", "approval"])]
        kind: String,
        /// First replay the new version over the change requests of the
        /// stacks using this set (`--since`) and show how decisions would
        /// change; then push after a confirmation (or `--yes`).
        #[arg(long)]
        backtest: bool,
        /// With --backtest: the window of change requests replayed.
        #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION", requires = "backtest")]
        since: std::time::Duration,
        /// With --backtest: push without asking (for CI; without it and
        /// without a terminal the push fails rather than wait for an answer).
        #[arg(long, requires = "backtest")]
        yes: bool,
    },
    /// List sets (latest versions).
    List,
    /// Show a set with its files.
    Show {
        /// Set name.
        name: String,
        /// Which version (default: the latest).
        #[arg(value_name = "VERSION")]
        number: Option<i64>,
    },
}

/// The policy files of a directory (or one file), by path relative to it.
pub fn collect_files(
    base: &std::path::Path,
    dir: &std::path::Path,
    out: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.is_file() {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        out.insert(
            name,
            Value::String(
                std::fs::read_to_string(dir)
                    .with_context(|| format!("reading {}", dir.display()))?,
            ),
        );
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect_files(base, &p, out)?;
        } else if name.ends_with(".rego")
            || matches!(name.as_str(), "data.json" | "data.yaml" | "data.yml")
        {
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(
                rel,
                Value::String(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
            );
        }
    }
    Ok(())
}

/// Runs a policy-set command.
pub fn policy_set(cmd: PolicySetCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        PolicySetCommand::Push {
            name,
            dir,
            kind,
            backtest,
            since,
            yes,
        } => {
            let mut files = serde_json::Map::new();
            collect_files(&dir, &dir, &mut files)?;
            if files.is_empty() {
                bail!(
                    "{} has no .rego, data.json or data.yaml files",
                    dir.display()
                );
            }
            if backtest {
                if kind != "plan" {
                    bail!("--backtest replays plan policy sets; {name:?} is pushed as kind {kind}");
                }
                crate::cmd::backtest::confirm_push(&c, &name, &files, since, yes)?;
            }
            let v = c.call(
                "PUT",
                &format!("/api/v1/policy-sets/{}", enc(&name)),
                Some(&json!({"kind": kind, "files": files})),
            )?;
            c.print(&v, |s| {
                format!(
                    "stored policy set {} version {} ({} files, digest {})\n",
                    field(s, "name"),
                    field(s, "version"),
                    files.len(),
                    field(s, "digest")
                )
            });
        }
        PolicySetCommand::List => {
            let v = c.call("GET", "/api/v1/policy-sets", None)?;
            c.print(&v, |v| {
                table(
                    &["NAME", "KIND", "VERSION", "BY", "CREATED"],
                    items(v)
                        .iter()
                        .map(|s| {
                            vec![
                                field(s, "name").into(),
                                field(s, "kind").into(),
                                field(s, "version").into(),
                                field(s, "created_by").into(),
                                field(s, "created_at").into(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        PolicySetCommand::Show { name, number } => {
            let q = number.map(|v| format!("?version={v}")).unwrap_or_default();
            let v = c.call(
                "GET",
                &format!("/api/v1/policy-sets/{}{q}", enc(&name)),
                None,
            )?;
            c.print(&v, |s| {
                let mut out = format!(
                    "policy set {} version {} ({}), by {} at {}\n",
                    field(s, "name"),
                    field(s, "version"),
                    field(s, "kind"),
                    field(s, "created_by"),
                    field(s, "created_at")
                );
                if let Some(f) = s["files"].as_object() {
                    for (k, t) in f {
                        out.push_str(&format!("--- {k}\n{}\n", t.as_str().unwrap_or_default()));
                    }
                }
                out
            });
        }
    }
    Ok(0)
}
