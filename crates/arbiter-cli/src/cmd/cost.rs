//! `arbiter cost PLAN.json`: the monthly cost of a plan, before and after,
//! per resource and per cost component.

use crate::output::emit;
use anyhow::Context;
use arbiter_cost::{Catalogue, CostEngine, Usage};
use arbiter_judge::PlanInput;
use arbiter_report::{render_cost, CostFormat};
use std::path::PathBuf;

/// Where prices and usage figures come from (shared by `cost` and `evaluate`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CostOptions {
    /// Usage file (Infracost's YAML format: `version: 0.1`, `resource_usage`,
    /// `resource_type_default_usage`) for usage-based figures such as
    /// requests, GB stored or data processed.
    #[arg(long, value_name = "USAGE.yml")]
    pub usage: Option<PathBuf>,
    /// Price every resource in this AWS region, overriding the plan's
    /// provider configuration (default: the provider's region, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Catalogue CSV (from `arbiter pricing import`) whose rows replace or
    /// add to the embedded prices.
    #[arg(long, value_name = "CATALOGUE.csv")]
    pub catalogue: Option<PathBuf>,
}

impl CostOptions {
    /// The cost engine these options describe.
    pub fn engine(&self) -> anyhow::Result<CostEngine> {
        let catalogue = match &self.catalogue {
            Some(p) => Catalogue::with_overlay_file(p)?,
            None => Catalogue::embedded(),
        };
        let usage = match &self.usage {
            Some(p) => Usage::from_file(p)?,
            None => Usage::none(),
        };
        Ok(CostEngine::new(catalogue, usage, self.region.clone())?)
    }

    /// True when nothing but the defaults is asked for.
    pub fn is_default(&self) -> bool {
        self.usage.is_none() && self.region.is_none() && self.catalogue.is_none()
    }
}

/// Price a plan offline: monthly cost before and after the change, per
/// resource and per cost component, with every assumption marked.
///
/// Prices come from the catalogue built into the binary (public AWS
/// on-demand list prices, each with its source and date; `--catalogue`
/// adds your own). A resource that cannot be priced is listed with the
/// reason and left out of the totals; nothing is guessed.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  arbiter cost plan.json\n  arbiter cost plan.json --usage usage.yml --format markdown > cost.md\n  arbiter cost plan.json --region eu-west-1 --format json\n  arbiter pricing import offer.json -o prices.csv && arbiter cost plan.json --catalogue prices.csv"
)]
pub struct CostArgs {
    /// Plan JSON from `terraform show -json PLANFILE`.
    pub plan: PathBuf,
    #[command(flatten)]
    pub cost: CostOptions,
    /// Output format: table (like Infracost's breakdown), json, markdown (a PR comment).
    #[arg(long, short = 'f', default_value = "table", value_parser = parse_format)]
    pub format: CostFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_format(s: &str) -> Result<CostFormat, String> {
    s.parse::<CostFormat>()
        .map_err(|_| format!("unknown format {s:?}; use table, json or markdown"))
}

pub fn run(args: CostArgs) -> anyhow::Result<u8> {
    let engine = args.cost.engine()?;
    let input = PlanInput::from_file(&args.plan)
        .with_context(|| format!("reading plan {}", args.plan.display()))?;
    let mut summary = engine.estimate(&input.plan, None);
    let redactor = arbiter_plan::sensitive::Redactor::new(
        &arbiter_plan::sensitive::sensitive_strings(&input.plan),
    );
    arbiter_cost::redact(&mut summary, &redactor);
    let shown = args.plan.display().to_string();
    let text = render_cost(&summary, args.format, Some(&shown));
    emit(&text, args.output.as_deref())?;
    if args.format != CostFormat::Table {
        for w in &summary.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(0)
}
