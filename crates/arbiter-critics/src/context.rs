//! What critics get to look at.

use arbiter_plan::{DependencyGraph, Plan};
use arbiter_verdict::{CostSummary, Finding};

pub use arbiter_verdict::Environment;

/// The stack a change is judged against.
#[derive(Debug, Clone)]
pub struct StackContext {
    /// Stack name.
    pub name: Option<String>,
    /// Environment; `None` when not given or not recognised (judged like
    /// production).
    pub environment: Option<Environment>,
    /// Labels.
    pub labels: Vec<String>,
    /// Monthly budget in USD.
    pub monthly_budget_usd: Option<f64>,
}

/// Everything a critic may read.
pub struct ReviewContext<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Dependency graph of the configuration (empty when the plan has none).
    pub graph: &'a DependencyGraph,
    /// The stack.
    pub stack: &'a StackContext,
    /// Findings of the built-in rule pack.
    pub rule_findings: &'a [Finding],
    /// Findings of the user's policies (empty before they run).
    pub policy_findings: &'a [Finding],
    /// The cost engine's figures for the change (the full breakdown before
    /// the user's policies run, the verdict's trimmed one after).
    pub cost: &'a CostSummary,
}
