//! `arbiter rules list|show|export`.

use anyhow::{bail, Context};
use arbiter_policy::{builtin_files, RulePack};
use std::path::PathBuf;

/// Rule pack commands.
#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// List the built-in rules (`--gaps`: the Checkov checks no rule covers).
    List(ListArgs),
    /// Show one rule: rationale, remediation, Checkov IDs and its Rego source.
    Show(ShowArgs),
    /// Write the rule pack's Rego files to a directory, to read or adapt them.
    #[command(
        after_help = "A file in a --policy directory whose package equals a built-in rule's package\n\
(e.g. arbiter.rules.aws.sg_admin_ports_world_open) replaces that rule."
    )]
    Export(ExportArgs),
}

/// Arguments of `rules list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only rules of this provider (aws, gcp, azure).
    #[arg(long)]
    pub provider: Option<String>,
    /// Instead of the rules, list the Checkov checks about a security property that no
    /// built-in rule covers yet (check ID, what it is about, why it is not covered).
    #[arg(long, conflicts_with = "provider")]
    pub gaps: bool,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Arguments of `rules show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Rule ID, e.g. ARB-AWS-NET-001.
    pub id: String,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Arguments of `rules export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Directory to write into (created if missing; existing files are not overwritten).
    pub dir: PathBuf,
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<u8> {
    match cmd {
        RulesCommand::List(a) => list(a),
        RulesCommand::Show(a) => show(a),
        RulesCommand::Export(a) => export(a),
    }
}

/// The rule pack's known gaps: `tests/checkov/known_gaps.json`, the file the
/// Checkov compatibility test reads (one source, embedded at build time).
const KNOWN_GAPS: &str = include_str!("../../../../tests/checkov/known_gaps.json");

/// One check no built-in rule covers.
#[derive(serde::Deserialize, serde::Serialize)]
struct Gap {
    check_id: String,
    check_name: String,
    reason: String,
}

#[derive(serde::Deserialize)]
struct GapsFile {
    not_covered: Vec<Gap>,
}

fn gaps() -> anyhow::Result<Vec<Gap>> {
    let file: GapsFile = serde_json::from_str(KNOWN_GAPS)
        .context("reading the embedded tests/checkov/known_gaps.json (not_covered)")?;
    Ok(file.not_covered)
}

fn list_gaps(format: &str) -> anyhow::Result<u8> {
    let gaps = gaps()?;
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&gaps)?);
        return Ok(0);
    }
    let w = gaps
        .iter()
        .map(|g| g.check_id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:<w$}  ABOUT / WHY NOT COVERED", "CHECK");
    for g in &gaps {
        println!("{:<w$}  {}", g.check_id, g.check_name);
        println!("{:<w$}    {}", "", g.reason);
    }
    println!(
        "\n{} Checkov checks not covered by a built-in rule. `arbiter rules list` for the rules.",
        gaps.len()
    );
    Ok(0)
}

fn list(args: ListArgs) -> anyhow::Result<u8> {
    if args.gaps {
        return list_gaps(&args.format);
    }
    let pack = RulePack::builtin().context("loading the built-in rule pack")?;
    let rules: Vec<_> = pack
        .rules()
        .iter()
        .filter(|r| {
            args.provider
                .as_deref()
                .is_none_or(|p| r.provider.eq_ignore_ascii_case(p))
        })
        .collect();
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&rules)?);
        return Ok(0);
    }
    let w = rules.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    println!(
        "{:<w$}  {:<8}  {:<8}  {:<3}  TITLE",
        "ID", "SEVERITY", "EFFECT", "FIX"
    );
    for r in &rules {
        println!(
            "{:<w$}  {:<8}  {:<8}  {:<3}  {}",
            r.id,
            r.severity.as_str(),
            r.effect.as_str(),
            if r.fix.is_empty() { "" } else { "yes" },
            r.title
        );
    }
    let fixable = rules.iter().filter(|r| !r.fix.is_empty()).count();
    println!(
        "\n{} rules, {fixable} with a mechanical fix (FIX: `arbiter fix` can patch it). `arbiter rules show ID` for details.",
        rules.len()
    );
    Ok(0)
}

fn show(args: ShowArgs) -> anyhow::Result<u8> {
    let pack = RulePack::builtin().context("loading the built-in rule pack")?;
    let Some(r) = pack.rule(&args.id) else {
        bail!("no rule with ID {:?}; see `arbiter rules list`", args.id);
    };
    if args.format == "json" {
        let mut v = serde_json::to_value(r)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("source".into(), serde_json::Value::String(r.source.clone()));
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("{}  {}", r.id, r.title);
    println!(
        "severity: {}   effect: {}   category: {}   provider: {}",
        r.severity, r.effect, r.category, r.provider
    );
    println!("resource types: {}", r.resource_types.join(", "));
    if !r.checkov.is_empty() {
        println!("checkov: {}", r.checkov.join(", "));
    }
    println!("package: {}   file: {}", r.package, r.file);
    println!("\nWhy: {}\n\nFix: {}\n", r.rationale, r.remediation);
    if !r.fix.is_empty() {
        println!("Mechanical fix (applied by `arbiter fix`, and in the verdict's counterfactual):");
        for step in &r.fix {
            let only = if step.types.is_empty() {
                String::new()
            } else {
                format!("   (on {})", step.types.join(", "))
            };
            println!("  {step}{only}");
        }
        println!();
    }
    println!(
        "Disable with `--disable-rule {}` or in STACK.toml: [rules] disable = [\"{}\"]",
        r.id, r.id
    );
    println!("Re-grade in STACK.toml: [rules.severity] \"{}\" = \"low\"   [rules.effect] \"{}\" = \"warn\"\n", r.id, r.id);
    println!("--- {} ---\n{}", r.file, r.source);
    Ok(0)
}

fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let mut written = 0;
    for (rel, text) in builtin_files() {
        let dest = args.dir.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if dest.exists() {
            eprintln!("skipping {} (exists)", dest.display());
            continue;
        }
        std::fs::write(&dest, text).with_context(|| format!("writing {}", dest.display()))?;
        written += 1;
    }
    eprintln!("wrote {written} files to {}", args.dir.display());
    Ok(0)
}
