//! Terraform/OpenTofu plan and state model.
//!
//! Reads `terraform show -json` output (plan format 0.1–1.2, newer 1.x minors
//! with a warning), raw `terraform.tfstate` v4 and state `show -json`, in
//! UTF-8 or UTF-16; computes attribute-level diffs that never reveal sensitive
//! values; and builds the dependency graph between resource blocks.
//!
//! Architecture invariant: this crate knows nothing of policies, critics,
//! output formats or HTTP. It never prints.

pub mod address;
pub mod decode;
pub mod diff;
pub mod digest;
pub mod error;
pub mod graph;
pub mod json;
pub mod model;
pub mod read;
pub mod sensitive;
pub mod state;
pub mod state_diff;

pub use diff::{attribute_changes, attribute_changes_masked, AttrPath, AttributeChange, DiffValue};
pub use error::{NotPlanJson, PlanError};
pub use graph::{argument_references, ArgumentReferences, DependencyGraph};
pub use json::RawJson;
pub use model::{
    Action, Change, FormatVersion, InstanceKey, OutputChange, Plan, ResourceChange, ResourceMode,
};
pub use read::{read_plan, read_plan_file, read_plan_shared, read_plan_str};
pub use state::{read_state, read_state_file, State, StateForm, StateOutput, StateResource};
pub use state_diff::{diff_states, restore_plan, DeltaKind, RestorePlan, StateDiff, StateRedactor};
