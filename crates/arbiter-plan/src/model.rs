//! The typed plan model: what `terraform show -json PLANFILE` prints, for
//! format versions 0.1 through 1.2, read tolerantly (unknown fields are
//! ignored, missing optional fields are empty).

use crate::json::RawJson;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A plan JSON `format_version` such as `1.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FormatVersion {
    /// Major version: 0 or 1 are understood.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl FormatVersion {
    /// The newest version this reader knows field by field.
    pub const NEWEST_KNOWN: FormatVersion = FormatVersion { major: 1, minor: 2 };

    /// Parses `"1.2"`; `None` when it is not `MAJOR.MINOR`.
    pub fn parse(s: &str) -> Option<FormatVersion> {
        let (a, b) = s.trim().split_once('.')?;
        Some(FormatVersion {
            major: a.parse().ok()?,
            minor: b.split('.').next()?.parse().ok()?,
        })
    }
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What Terraform will do to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `["no-op"]`
    NoOp,
    /// `["create"]`
    Create,
    /// `["read"]` (data sources)
    Read,
    /// `["update"]` in place
    Update,
    /// `["delete"]`
    Delete,
    /// `["delete", "create"]`: destroy first, then create (downtime).
    DeleteThenCreate,
    /// `["create", "delete"]`: create the replacement first (create_before_destroy).
    CreateThenDelete,
    /// `["forget"]`: removed from state, the object keeps existing.
    Forget,
    /// `["create", "forget"]`: create and forget.
    CreateThenForget,
}

impl Action {
    /// Every action, in Terraform's order of documentation.
    pub const ALL: [Action; 9] = [
        Action::NoOp,
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::DeleteThenCreate,
        Action::CreateThenDelete,
        Action::Forget,
        Action::CreateThenForget,
    ];

    /// Parses Terraform's action list.
    pub fn from_list(actions: &[String]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        Some(match a.as_slice() {
            ["no-op"] | [] => Action::NoOp,
            ["create"] => Action::Create,
            ["read"] => Action::Read,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["delete", "create"] => Action::DeleteThenCreate,
            ["create", "delete"] => Action::CreateThenDelete,
            ["forget"] => Action::Forget,
            ["create", "forget"] => Action::CreateThenForget,
            _ => return None,
        })
    }

    /// Terraform's own list form.
    pub fn as_list(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::Delete => &["delete"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Forget => &["forget"],
            Action::CreateThenForget => &["create", "forget"],
        }
    }

    /// One word for summaries: create, update, delete, replace, read, no-op, forget.
    pub fn kind(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::DeleteThenCreate | Action::CreateThenDelete => "replace",
            Action::Forget | Action::CreateThenForget => "forget",
        }
    }

    /// Both replace orders.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// The existing object is destroyed (delete or either replace order).
    pub fn destroys(self) -> bool {
        matches!(
            self,
            Action::Delete | Action::DeleteThenCreate | Action::CreateThenDelete
        )
    }

    /// The change yields a new or changed object (an after-state worth judging).
    pub fn has_after_state(self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Update
                | Action::DeleteThenCreate
                | Action::CreateThenDelete
                | Action::CreateThenForget
        )
    }

    /// The change alters infrastructure or state (not no-op, not read).
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Read)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_list().join(","))
    }
}

/// `managed` resources or `data` sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    /// A `resource` block.
    #[default]
    Managed,
    /// A `data` block.
    Data,
}

/// Reads `mode`: `"managed"`, `"data"`, or null/absent (managed); anything
/// else is an error naming the field.
pub(crate) fn mode_or_default<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<ResourceMode, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref() {
        None | Some("managed") => Ok(ResourceMode::Managed),
        Some("data") => Ok(ResourceMode::Data),
        Some(other) => Err(serde::de::Error::custom(format!(
            "unknown mode {:?}, expected \"managed\" or \"data\"",
            crate::error::clip(other, 80)
        ))),
    }
}

/// An instance key: `count` index or `for_each` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// `count.index`
    Int(i64),
    /// `each.key`
    Str(String),
}

/// The planned change of one attribute set (`change` object).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Change {
    /// Raw action list as Terraform printed it.
    pub actions: Vec<String>,
    /// Values before the change; `None` for create.
    #[serde(default)]
    pub before: Option<RawJson>,
    /// Values after the change; `None` for delete. Unknown values are absent or null.
    #[serde(default)]
    pub after: Option<RawJson>,
    /// Mirror of `after` with `true` where the value is known only after apply.
    #[serde(default)]
    pub after_unknown: Option<RawJson>,
    /// Mirror of `before` with `true` where the value is sensitive.
    #[serde(default)]
    pub before_sensitive: Option<RawJson>,
    /// Mirror of `after` with `true` where the value is sensitive.
    #[serde(default)]
    pub after_sensitive: Option<RawJson>,
    /// Attribute paths that force replacement.
    #[serde(default)]
    pub replace_paths: Option<RawJson>,
    /// Present when the resource is being imported.
    #[serde(default)]
    pub importing: Option<Importing>,
    /// HCL generated for an import, if any.
    #[serde(default)]
    pub generated_config: Option<String>,
}

/// `change.importing`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Importing {
    /// The remote object's ID.
    #[serde(default)]
    pub id: Option<String>,
    /// Identity (Terraform 1.12+), kept as text.
    #[serde(default)]
    pub identity: Option<serde_json::Value>,
}

/// One entry of `resource_changes` or `resource_drift`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ResourceChange {
    /// Full address: `module.a["x"].aws_instance.web[0]`.
    pub address: String,
    /// Address before a `moved` block.
    #[serde(default)]
    pub previous_address: Option<String>,
    /// Module part of the address, if not root.
    #[serde(default)]
    pub module_address: Option<String>,
    /// `managed` or `data`.
    #[serde(default, deserialize_with = "mode_or_default")]
    pub mode: ResourceMode,
    /// Resource type, e.g. `aws_instance`.
    #[serde(rename = "type", default)]
    pub resource_type: String,
    /// Resource name in the configuration.
    #[serde(default)]
    pub name: String,
    /// `count` index or `for_each` key.
    #[serde(default)]
    pub index: Option<InstanceKey>,
    /// Provider source address.
    #[serde(default)]
    pub provider_name: Option<String>,
    /// Deposed object key, for deposed instances.
    #[serde(default)]
    pub deposed: Option<String>,
    /// Why Terraform chose this action (e.g. `replace_because_cannot_update`).
    #[serde(default)]
    pub action_reason: Option<String>,
    /// The change itself.
    pub change: Change,
    /// The parsed action (filled by the reader from `change.actions`).
    #[serde(skip, default = "default_action")]
    pub action: Action,
}

fn default_action() -> Action {
    Action::NoOp
}

impl ResourceChange {
    /// Address without instance keys in modules or resource:
    /// `module.a["x"].aws_instance.web[0]` → `module.a.aws_instance.web`, the
    /// address of the block in the configuration.
    pub fn config_address(&self) -> String {
        crate::address::config_address(&self.address)
    }

    /// The type as keyed in policy input: `aws_instance`, or `data.aws_iam_policy_document`.
    pub fn keyed_type(&self) -> String {
        match self.mode {
            ResourceMode::Managed => self.resource_type.clone(),
            ResourceMode::Data => format!("data.{}", self.resource_type),
        }
    }
}

/// One entry of `output_changes`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OutputChange {
    /// Raw action list.
    pub actions: Vec<String>,
    /// Value before.
    #[serde(default)]
    pub before: Option<RawJson>,
    /// Value after.
    #[serde(default)]
    pub after: Option<RawJson>,
    /// Unknown mask (usually a bool for outputs).
    #[serde(default)]
    pub after_unknown: Option<RawJson>,
    /// Sensitive mask.
    #[serde(default)]
    pub before_sensitive: Option<RawJson>,
    /// Sensitive mask.
    #[serde(default)]
    pub after_sensitive: Option<RawJson>,
}

/// A parsed plan.
///
/// Guarantee: `resource_changes` and `resource_drift` have their `action`
/// parsed; every value kept as [`RawJson`] is valid JSON.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The declared format version (`None` when the file had none).
    pub format_version: Option<FormatVersion>,
    /// The declared format version as written.
    pub format_version_text: Option<String>,
    /// Terraform/OpenTofu version that wrote the plan.
    pub terraform_version: Option<String>,
    /// Planned changes, in file order.
    pub resource_changes: Vec<ResourceChange>,
    /// Changes made outside Terraform, seen during refresh.
    pub resource_drift: Vec<ResourceChange>,
    /// Output value changes.
    pub output_changes: BTreeMap<String, OutputChange>,
    /// Input variables (values may be sensitive: see `sensitive_variables`).
    pub variables: BTreeMap<String, RawJson>,
    /// Names of root variables declared `sensitive = true`.
    pub sensitive_variables: Vec<String>,
    /// The `configuration` section, if present.
    pub configuration: Option<serde_json::Value>,
    /// `true` when the plan run errored.
    pub errored: bool,
    /// Whether the plan is complete (Terraform 1.8+ deferred actions).
    pub complete: Option<bool>,
    /// Whether the plan can be applied.
    pub applyable: Option<bool>,
    /// When the plan was made.
    pub timestamp: Option<String>,
    /// Non-fatal observations made while reading (newer minor version, …).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Changes that alter infrastructure (not no-op, not read).
    pub fn changing(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|rc| rc.action.is_change())
    }
}
