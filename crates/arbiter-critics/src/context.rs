//! What critics get to look at.

use arbiter_plan::{DependencyGraph, Plan};
use arbiter_verdict::{CostSummary, Finding};

/// Deployment environment of a stack; weighs how much a change can hurt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// Production.
    Prod,
    /// Staging / pre-production.
    Staging,
    /// Development.
    Dev,
    /// Short-lived (preview, per-branch) environment.
    Ephemeral,
    /// Not given: judged like production (fail safe).
    Unknown,
}

impl Environment {
    /// Parses common spellings; anything unrecognised is `Unknown` (judged as prod).
    pub fn parse(s: Option<&str>) -> Environment {
        match s.map(|s| s.trim().to_ascii_lowercase()) {
            Some(s) if matches!(s.as_str(), "prod" | "production" | "prd" | "live") => {
                Environment::Prod
            }
            Some(s)
                if matches!(
                    s.as_str(),
                    "staging" | "stage" | "stg" | "preprod" | "pre-prod" | "uat" | "qa"
                ) =>
            {
                Environment::Staging
            }
            Some(s)
                if matches!(
                    s.as_str(),
                    "dev" | "development" | "sandbox" | "test" | "testing"
                ) =>
            {
                Environment::Dev
            }
            Some(s)
                if matches!(
                    s.as_str(),
                    "ephemeral" | "preview" | "review" | "temp" | "temporary"
                ) =>
            {
                Environment::Ephemeral
            }
            _ => Environment::Unknown,
        }
    }

    /// How much a change here can hurt, relative to production (1.0).
    pub fn weight(&self) -> f64 {
        match self {
            Environment::Prod | Environment::Unknown => 1.0,
            Environment::Staging => 0.5,
            Environment::Dev => 0.25,
            Environment::Ephemeral => 0.1,
        }
    }

    /// Production-like: prod, or unknown.
    pub fn is_production_like(&self) -> bool {
        matches!(self, Environment::Prod | Environment::Unknown)
    }

    /// Display name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Prod => "prod",
            Environment::Staging => "staging",
            Environment::Dev => "dev",
            Environment::Ephemeral => "ephemeral",
            Environment::Unknown => "unknown environment (judged as prod)",
        }
    }
}

/// The stack a change is judged against.
#[derive(Debug, Clone)]
pub struct StackContext {
    /// Stack name.
    pub name: Option<String>,
    /// Environment.
    pub environment: Environment,
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
