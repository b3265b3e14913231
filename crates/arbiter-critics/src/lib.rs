//! Critics: independent analysers that each return a risk in `[0, 1]` and the
//! findings behind it, and the confidence score that combines them.
//!
//! A critic expresses its risk as a list of weighted findings: a finding with
//! weight `w` multiplies confidence by `(1 − w)`, so the critic's risk is
//! `1 − Π(1 − w)` and each finding's share of the lost confidence can be shown.
//! New critics (cost, history, documents, LLM) implement [`Critic`] and plug
//! into the judge without touching the pipeline.
//!
//! Architecture invariant: critics read the plan model, the stack context and
//! the policy findings; they never print and never decide.

pub mod blast_radius;
pub mod classes;
pub mod confidence;
pub mod context;
pub mod cost;
pub mod security;

pub use blast_radius::BlastRadiusCritic;
pub use confidence::{combine, Contribution};
pub use context::{Environment, ReviewContext, StackContext};
pub use cost::CostCritic;
pub use security::{PolicyCritic, SecurityCritic};

use arbiter_verdict::Finding;

/// A finding together with the risk weight it carries in `[0, 1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedFinding {
    /// The finding (its `source` names the critic).
    pub finding: Finding,
    /// Risk weight; 0 for context-only findings.
    pub weight: f64,
}

/// What a critic says about a change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CriticOutput {
    /// Risk in `[0, 1]` = `1 − Π(1 − weight)`.
    pub risk: f64,
    /// One line on what drove the risk.
    pub summary: String,
    /// Findings with their weights.
    pub findings: Vec<WeightedFinding>,
}

impl CriticOutput {
    /// Builds an output whose risk is derived from the findings' weights.
    pub fn from_findings(findings: Vec<WeightedFinding>, summary: String) -> CriticOutput {
        let keep: f64 = findings
            .iter()
            .map(|f| 1.0 - f.weight.clamp(0.0, 0.999_999))
            .product();
        CriticOutput {
            risk: (1.0 - keep).clamp(0.0, 1.0),
            summary,
            findings,
        }
    }
}

/// Where a critic runs in the judge's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the plan, the graph and the cost estimate, before the user's
    /// policies, which read its output (`input.arbiter.critics.NAME`).
    BeforePolicies,
    /// On the findings of the rule pack and of the user's policies.
    OnFindings,
}

/// What the judge knows when it picks its critics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup {
    /// Whether the user's own policies are loaded.
    pub user_policies: bool,
}

/// An independent analyser of a change.
pub trait Critic: Send + Sync {
    /// Stable name used in outputs (`security`, `blast_radius`, …).
    fn name(&self) -> &'static str;
    /// Where it runs in the pipeline.
    fn stage(&self) -> Stage;
    /// Whether it takes part in an evaluation with this setup (default: always).
    fn wanted(&self, _setup: &Setup) -> bool {
        true
    }
    /// Reviews the change. Must be deterministic for the same context.
    fn review(&self, ctx: &ReviewContext<'_>) -> CriticOutput;
}

/// Every critic the judge runs, in the order their reports appear in a
/// verdict. A new critic is one file in this crate and one line here.
pub fn registry() -> Vec<Box<dyn Critic>> {
    vec![
        Box::new(SecurityCritic),
        Box::new(PolicyCritic),
        Box::new(BlastRadiusCritic),
        Box::new(CostCritic),
    ]
}
