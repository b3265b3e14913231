//! `arbiter policy-set`: versioned Rego stored on the server.

use super::*;
use arbiter_api::{PolicySet, PolicySetSpec};
use std::collections::BTreeMap;
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
    out: &mut BTreeMap<String, String>,
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
            std::fs::read_to_string(dir).with_context(|| format!("reading {}", dir.display()))?,
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
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
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
            let mut files = BTreeMap::new();
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
            let count = files.len();
            let body = PolicySetSpec { kind, files };
            let r = c.call_with::<_, PolicySet>(
                "PUT",
                &format!("/api/v1/policy-sets/{}", enc(&name)),
                &body,
            )?;
            c.print(&r, |s| {
                format!(
                    "stored policy set {} version {} ({count} files, digest {})\n",
                    s.name, s.version, s.digest
                )
            });
        }
        PolicySetCommand::List => {
            let r = c.get::<Page<PolicySet>>("/api/v1/policy-sets")?;
            c.print(&r, |v| {
                table(
                    &["NAME", "KIND", "VERSION", "BY", "CREATED"],
                    v.items
                        .iter()
                        .map(|s| {
                            vec![
                                s.name.clone(),
                                s.kind.to_string(),
                                s.version.to_string(),
                                s.created_by.clone(),
                                s.created_at.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        PolicySetCommand::Show { name, number } => {
            let q = number.map(|v| format!("?version={v}")).unwrap_or_default();
            let r = c.get::<PolicySet>(&format!("/api/v1/policy-sets/{}{q}", enc(&name)))?;
            c.print(&r, |s| {
                let mut out = format!(
                    "policy set {} version {} ({}), by {} at {}\n",
                    s.name, s.version, s.kind, s.created_by, s.created_at
                );
                for (k, t) in s.files.iter().flatten() {
                    out.push_str(&format!("--- {k}\n{t}\n"));
                }
                out
            });
        }
    }
    Ok(0)
}
