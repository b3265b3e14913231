//! The state history of a stack: pushing Terraform states, listing and
//! reading versions (sensitive values masked), diffs between versions, and
//! rolling a stack back to an earlier version through a change request.

use crate::time::Timestamp;
use crate::types::ChangeRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A state to store (`POST /api/v1/stacks/{name}/states`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePush {
    /// The state: raw `terraform.tfstate` (version 4) or the output of
    /// `terraform show -json` without a plan. Its exact text is what is
    /// stored and hashed.
    pub state: Box<serde_json::value::RawValue>,
    /// The commit of the configuration that produced it.
    #[serde(default)]
    pub commit: Option<String>,
    /// Store it even though its lineage differs from the latest version's,
    /// or its serial is not newer (pushing another workspace's state by
    /// mistake is what these checks catch).
    #[serde(default)]
    pub force: bool,
}

/// One stored version of a stack's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateVersion {
    /// The stack.
    pub stack: String,
    /// 1, 2, … per stack.
    pub version: i64,
    /// Hex SHA-256 of the state's bytes (the content address: equal
    /// contents are stored once).
    pub digest: String,
    /// Size of the state, bytes.
    pub size_bytes: i64,
    /// Size as stored (compressed), bytes.
    pub stored_bytes: i64,
    /// `raw_v4` (terraform.tfstate) or `show_json`.
    pub form: String,
    /// Terraform's serial (raw states only).
    #[serde(default)]
    pub serial: Option<i64>,
    /// Terraform's lineage (raw states only).
    #[serde(default)]
    pub lineage: Option<String>,
    /// Terraform version that wrote it.
    #[serde(default)]
    pub terraform_version: Option<String>,
    /// Number of resource instances.
    pub resource_count: i64,
    /// The commit it came from.
    #[serde(default)]
    pub commit: Option<String>,
    /// Who pushed it (`user:NAME` or `agent:NAME`).
    pub pushed_by: String,
    /// `push` (uploaded), `apply` (written by a run through the state
    /// backend) or `backend` (a person's own terraform using the backend).
    pub origin: StateOrigin,
    /// The run that wrote it (origin `apply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    /// Stored with `force` over a lineage or serial check.
    pub forced: bool,
    /// RFC 3339.
    pub created_at: Timestamp,
}

/// How a state version came to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateOrigin {
    /// Uploaded (`POST /api/v1/stacks/{name}/states`).
    Push,
    /// Written by a run through the state backend.
    Apply,
    /// Written by a person's own `terraform` through the state backend.
    Backend,
}

impl StateOrigin {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StateOrigin::Push => "push",
            StateOrigin::Apply => "apply",
            StateOrigin::Backend => "backend",
        }
    }
}

impl std::fmt::Display for StateOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StateOrigin {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<StateOrigin, arbiter_verdict::UnknownName> {
        [StateOrigin::Push, StateOrigin::Apply, StateOrigin::Backend]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                arbiter_verdict::UnknownName::new("state origin", s, "push, apply, backend")
            })
    }
}

/// A resource instance of a state, values masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateResourceView {
    /// Full address.
    pub address: String,
    /// `managed` or `data`.
    pub mode: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Name in the configuration.
    pub name: String,
    /// `count` index or `for_each` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<serde_json::Value>,
    /// Provider address as the state records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Attribute values; sensitive ones are `"(sensitive)"`.
    pub values: serde_json::Value,
}

/// An output of a state, masked when sensitive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateOutputView {
    /// The value, or `"(sensitive)"`.
    pub value: serde_json::Value,
    /// Declared sensitive.
    pub sensitive: bool,
}

/// One version with its contents (`GET /api/v1/stacks/{name}/states/{version}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// The version.
    #[serde(flatten)]
    pub version: StateVersion,
    /// Every resource instance, in the state's order.
    pub resources: Vec<StateResourceView>,
    /// Root outputs.
    pub outputs: BTreeMap<String, StateOutputView>,
}

/// One attribute leaf that differs between two versions. An absent side is
/// omitted (as opposed to `null`); sensitive values are `"(sensitive)"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeDiff {
    /// Path, e.g. `input.tags.team` or `ingress[0].cidr_blocks[1]`.
    pub path: String,
    /// Old value.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub before: Option<serde_json::Value>,
    /// New value.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub after: Option<serde_json::Value>,
}

/// A resource instance that differs between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDiff {
    /// Full address.
    pub address: String,
    /// `managed` or `data`.
    pub mode: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// Changed, with a different `id`: the object was destroyed and created again.
    pub replaced: bool,
    /// The attributes that differ (all of them when added or removed).
    pub attributes: Vec<AttributeDiff>,
}

/// An output that differs between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDiff {
    /// Output name.
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// Declared sensitive (values are then `"(sensitive)"`).
    pub sensitive: bool,
    /// Old value.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub before: Option<serde_json::Value>,
    /// New value.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub after: Option<serde_json::Value>,
}

/// Counts of a diff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiffSummary {
    /// Instances only in `to`.
    pub added: usize,
    /// Instances only in `from`.
    pub removed: usize,
    /// Instances in both with different values.
    pub changed: usize,
    /// Instances in both with equal values.
    pub unchanged: usize,
}

/// What changed from one version to another
/// (`GET /api/v1/stacks/{name}/states/diff?from=V1&to=V2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDiffView {
    /// The older side.
    pub from: StateVersion,
    /// The newer side.
    pub to: StateVersion,
    /// Counts.
    pub summary: StateDiffSummary,
    /// Instances that differ, by address.
    pub resources: Vec<ResourceDiff>,
    /// Outputs that differ, by name.
    pub outputs: Vec<OutputDiff>,
}

/// A side of a diff that is in the JSON, `null` included: `Some(Null)`
/// (absent sides are `None` through `default`), so that a diff read back
/// is the diff that was written.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A rollback to ask for (`POST /api/v1/stacks/{name}/rollback`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version to return to.
    pub to: i64,
    /// Why (recorded as the change request's intent, after the summary).
    #[serde(default)]
    pub intent: Option<String>,
    /// Roll back even though the target's lineage differs from the latest
    /// version's.
    #[serde(default)]
    pub force: bool,
}

/// A resource instance a rollback changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackResource {
    /// Full address.
    pub address: String,
    /// `create`, `update`, `delete` or `replace`.
    pub action: String,
}

/// What a rollback change request returns the stack to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    /// The stack.
    pub stack: String,
    /// The change request that carries it.
    pub change_request: i64,
    /// The latest version when it was asked for.
    pub from_version: i64,
    /// The version it returns to.
    pub to_version: i64,
    /// The commit of the target version.
    #[serde(default)]
    pub commit: Option<String>,
    /// The instances that differ, with what the rollback does to them.
    pub resources: Vec<RollbackResource>,
    /// Who asked.
    pub requested_by: String,
    /// RFC 3339.
    pub created_at: Timestamp,
}

/// The answer to a rollback: the change request (judged and governed like
/// any other) and what it returns the stack to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackAnswer {
    /// The change request.
    pub change_request: ChangeRequest,
    /// The rollback it carries.
    pub rollback: Rollback,
    /// Said when no run can apply it (the target version has no recorded
    /// configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_note: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_side_that_was_null_reads_back_as_null_not_as_absent() {
        let d = AttributeDiff {
            path: "tags.env".into(),
            before: Some(serde_json::Value::Null),
            after: None,
        };
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(text, r#"{"path":"tags.env","before":null}"#);
        assert_eq!(serde_json::from_str::<AttributeDiff>(&text).unwrap(), d);
        let o: OutputDiff =
            serde_json::from_str(r#"{"name":"x","change":"added","sensitive":false,"after":null}"#)
                .unwrap();
        assert_eq!((o.before, o.after), (None, Some(serde_json::Value::Null)));
    }
}
