//! Rego policies for Arbiter, evaluated by the `regorus` crate.
//!
//! - [`RulePack`]: the built-in rule pack (embedded Rego, one rule per file),
//!   evaluated with change semantics (introduced / pre-existing / fixed).
//! - [`UserPolicies`]: the user's own policies, run unmodified in conftest style
//!   (`package main`: input = the plan JSON) or Spacelift style
//!   (`package spacelift`: input = `{spacelift, terraform}`), both with
//!   `input.arbiter` and `data.arbiter.context` carrying the evaluation context.
//! - [`testing`]: `opa test`-style runner for `test_*` rules.
//!
//! Architecture invariant: policies produce [`arbiter_verdict::Finding`]s and
//! never decide; the judge decides. Nothing here prints.

pub mod approval;
pub mod error;
pub mod limits;
pub mod load;
pub mod rulepack;
pub mod syntax;
pub mod testing;
pub mod user;
pub mod values;

pub use approval::{ApprovalOutcome, ApprovalPolicy};
pub use error::PolicyError;
pub use limits::Limits;
pub use load::{load_paths, load_sources, LoadedFiles, PolicySource};
pub use rulepack::{builtin_files, plan_types, sort_findings, RuleMeta, RuleOverrides, RulePack};
pub use user::{plan_document, UserPolicies};
