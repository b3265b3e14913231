//! JSON bodies of the `/api/v1` endpoints. Unknown fields in requests are an
//! error (`deny_unknown_fields`), so a typo never passes silently; responses
//! may grow new fields.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::time::Timestamp;
use arbiter_verdict::{Decision, Environment, UnknownName};

/// A person's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Reads everything, submits, approves and rejects change requests.
    Reviewer,
    /// Everything, including stacks, policies, people and agents.
    Admin,
}

impl Role {
    /// Parses `admin`, `reviewer` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "reviewer" => Some(Role::Reviewer),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
        }
    }
}

/// An error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, one of [`crate::ErrorCode`] (kept a
    /// string so that a client reads codes added after it was built).
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

/// A stack as created (`POST /api/v1/stacks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSpec {
    /// Unique name: 1–100 characters of `A-Z a-z 0-9 . _ -`.
    pub name: String,
    /// `prod`, `staging`, `dev` or `ephemeral`.
    pub environment: Environment,
    /// Labels such as `team:payments`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Monthly budget, USD.
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
    /// Confidence needed to approve (default 95).
    #[serde(default)]
    pub auto_apply_threshold: Option<f64>,
    /// Whether approved changes may be applied without a person.
    #[serde(default)]
    pub auto_apply: bool,
    /// Names of the plan policy sets evaluated with the built-in rules.
    #[serde(default)]
    pub policy_sets: Vec<String>,
    /// Name of the approval policy set (default: the built-in one).
    #[serde(default)]
    pub approval_policy: Option<String>,
    /// Lifetime of an ephemeral stack, seconds from creation.
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// Severity from which a weakness the change introduces keeps it out of
    /// auto-approve whatever the points: `critical`, `high`, `medium`,
    /// `low`, `info` or `off`; absent: the environment's default (`medium`
    /// in prod, `high` in staging, off in dev and ephemeral).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_introduced_at: Option<String>,
    /// How runs apply this stack's changes (tool, timeouts, secret names,
    /// verification); defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<crate::runs::StackRuns>,
}

/// A partial update of a stack (`PATCH /api/v1/stacks/{name}`); absent
/// fields are left as they are, `null` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackUpdate {
    /// New environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// New labels (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// New budget; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub monthly_budget_usd: Option<Option<f64>>,
    /// New threshold; `Some(None)` restores the default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub auto_apply_threshold: Option<Option<f64>>,
    /// New auto-apply switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_apply: Option<bool>,
    /// New policy sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sets: Option<Vec<String>>,
    /// New approval policy; `Some(None)` restores the built-in one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub approval_policy: Option<Option<String>>,
    /// New TTL; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub ttl_seconds: Option<Option<i64>>,
    /// New floor for introduced weaknesses; `Some(None)` restores the
    /// environment's default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub escalate_introduced_at: Option<Option<String>>,
    /// New run settings (replacing the old ones); `Some(None)` restores
    /// the defaults.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub runs: Option<Option<crate::runs::StackRuns>>,
    /// Optimistic concurrency: the update applies only if the stack is still
    /// at this version (409 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
}

mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A stack as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// What was asked for.
    #[serde(flatten)]
    pub spec: StackSpec,
    /// Bumped by every update.
    pub version: i64,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339.
    pub updated_at: Timestamp,
    /// When an ephemeral stack expires (RFC 3339), from its TTL.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// A policy set to store (`PUT /api/v1/policy-sets/{name}`); each put makes a
/// new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySetSpec {
    /// `plan` (evaluated with the built-in rules, like `--policy`) or
    /// `approval` (decides when a pending change request has enough reviews).
    pub kind: String,
    /// File name → content: `.rego` modules and `data.json`/`data.yaml`.
    pub files: BTreeMap<String, String>,
}

/// What a policy set is for. Set by its first put (`PUT
/// /api/v1/policy-sets/{name}`; later versions keep it); read by the
/// judge (`plan` sets a stack lists) and the approval step (`approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Evaluated with the built-in rules, like `--policy`.
    Plan,
    /// Decides when a pending change request has enough reviews.
    Approval,
}

impl PolicyKind {
    /// Every kind.
    pub const ALL: [PolicyKind; 2] = [PolicyKind::Plan, PolicyKind::Approval];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Plan => "plan",
            PolicyKind::Approval => "approval",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<PolicyKind, arbiter_verdict::UnknownName> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                arbiter_verdict::UnknownName::new("policy set kind", s, "plan, approval")
            })
    }
}

/// One stored version of a policy set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySet {
    /// Name.
    pub name: String,
    /// 1, 2, … (each put adds one).
    pub version: i64,
    /// `plan` or `approval`.
    pub kind: PolicyKind,
    /// Hex SHA-256 over the files.
    pub digest: String,
    /// Who stored it.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// The files (omitted in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, String>>,
}

/// A person to create (`POST /api/v1/users`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Optional password for signing in to the web UI (at least 12 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// Whether the user can sign in with a password.
    pub has_password: bool,
}

/// A token to create (`POST /api/v1/tokens`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// For whom (default: the caller; admins may name another user).
    #[serde(default)]
    pub user: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub label: Option<String>,
    /// Lifetime in seconds (default: no expiry).
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
}

/// An API token. `token` is present only in the answer that created it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Identifier (not secret), used to revoke it.
    pub id: String,
    /// Whose it is.
    pub user: String,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// The secret, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339, if it expires.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// RFC 3339, if revoked.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// A kind of change an agent's scope may allow (`AgentScope.actions`),
/// named as the verdict names a resource's change: `create`, `update`,
/// `delete`, `replace`. The server maps the rest of a plan's actions onto
/// these (`forget` needs `delete`; reads and no-ops need nothing) in one
/// function, `lifecycle::scope_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeAction {
    /// A resource is created.
    Create,
    /// A resource is updated in place.
    Update,
    /// A resource is destroyed (or forgotten).
    Delete,
    /// A resource is replaced (either order).
    Replace,
}

impl ScopeAction {
    /// Every action, in the order the API lists them (a scope's default).
    pub const ALL: [ScopeAction; 4] = [
        ScopeAction::Create,
        ScopeAction::Update,
        ScopeAction::Delete,
        ScopeAction::Replace,
    ];

    /// The wire and stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeAction::Create => "create",
            ScopeAction::Update => "update",
            ScopeAction::Delete => "delete",
            ScopeAction::Replace => "replace",
        }
    }

    /// The accepted spellings, for messages (those of [`ScopeAction::ALL`]).
    pub const NAMES: &'static str = "create, update, delete, replace";
}

impl std::fmt::Display for ScopeAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ScopeAction {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<ScopeAction, arbiter_verdict::UnknownName> {
        ScopeAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| arbiter_verdict::UnknownName::new("scope action", s, ScopeAction::NAMES))
    }
}

/// What an agent may do (PRODUCT.md §2). Stacks are denied unless listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentScope {
    /// Stack names or globs (`web-*`, `*`).
    #[serde(default)]
    pub stacks: Vec<String>,
    /// Stacks carrying any of these labels are allowed too.
    #[serde(default)]
    pub stack_labels: Vec<String>,
    /// Allowed actions (default: all four).
    #[serde(default = "all_actions")]
    pub actions: Vec<ScopeAction>,
    /// Allowed resource types, globs (`aws_s3_*`; default `*`).
    #[serde(default = "all_types")]
    pub resource_types: Vec<String>,
    /// Most resources one change request may change.
    #[serde(default)]
    pub max_blast_radius: Option<u64>,
    /// Largest monthly cost increase one change request may cause, USD.
    #[serde(default)]
    pub max_monthly_cost_increase_usd: Option<f64>,
    /// Longest TTL the agent may give an ephemeral stack, seconds.
    #[serde(default)]
    pub max_ttl_seconds: Option<i64>,
    /// Whether its approved changes may be applied without a person.
    #[serde(default)]
    pub may_auto_apply: bool,
}

fn all_actions() -> Vec<ScopeAction> {
    ScopeAction::ALL.to_vec()
}
fn all_types() -> Vec<String> {
    vec!["*".into()]
}

impl Default for AgentScope {
    fn default() -> Self {
        AgentScope {
            stacks: Vec::new(),
            stack_labels: Vec::new(),
            actions: all_actions(),
            resource_types: all_types(),
            max_blast_radius: None,
            max_monthly_cost_increase_usd: None,
            max_ttl_seconds: None,
            may_auto_apply: false,
        }
    }
}

/// Per-agent velocity limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLimits {
    /// Submissions per minute (default 60).
    #[serde(default = "default_rate")]
    pub submissions_per_minute: u32,
    /// Resources changed per hour, summed over submissions (default 500).
    #[serde(default = "default_blast_hour")]
    pub blast_radius_per_hour: u64,
}

fn default_rate() -> u32 {
    60
}
fn default_blast_hour() -> u64 {
    500
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            submissions_per_minute: default_rate(),
            blast_radius_per_hour: default_blast_hour(),
        }
    }
}

/// An agent to create (`POST /api/v1/agents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Unique name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Ed25519 public key: SPKI PEM or base64 of the 32 bytes.
    pub public_key: String,
    /// What it may do.
    #[serde(default)]
    pub scope: AgentScope,
    /// How fast it may go.
    #[serde(default)]
    pub limits: AgentLimits,
}

/// A partial update of an agent (`PATCH /api/v1/agents/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New scope (replacing the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<AgentScope>,
    /// New limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<AgentLimits>,
    /// An additional public key (key rotation); revoke the old one after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_public_key: Option<String>,
}

/// One of an agent's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentKeyInfo {
    /// Key ID (see the signing scheme).
    pub key_id: String,
    /// Base64 of the raw public key.
    pub public_key: String,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339, if revoked.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its keys.
    pub keys: Vec<AgentKeyInfo>,
    /// Scope.
    pub scope: AgentScope,
    /// Limits.
    pub limits: AgentLimits,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339, if revoked (all its keys are then refused).
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// Where a change came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSource {
    /// Repository URL or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Unified diff of the source change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A submission (`POST /api/v1/change-requests`). Send an `Idempotency-Key`
/// header to make retries safe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Target stack.
    pub stack: String,
    /// The plan, as `terraform show -json` prints it.
    pub plan: Box<serde_json::value::RawValue>,
    /// What the change is for.
    #[serde(default)]
    pub intent: Option<String>,
    /// Where it came from.
    #[serde(default)]
    pub source: Option<ChangeSource>,
    /// The configuration a run applies once the change request is approved
    /// (a bundle uploaded to `PUT /api/v1/bundles/{sha256}`, or a git
    /// commit); without it nothing is run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<crate::runs::RunSource>,
    /// Non-secret variables for the run (`-var NAME=VALUE`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub variables: std::collections::BTreeMap<String, String>,
}

fn first_revision() -> i64 {
    1
}

fn is_first_revision(r: &i64) -> bool {
    *r == 1
}

/// A change request's status. Set by: the evaluation (`approved`,
/// `pending_review`, `rejected`), reviews (`approved`, `rejected`), the
/// expiry job (`expired`), the submitter's cancel (`cancelled`), and its
/// runs (`applied`, `apply_failed`; a run's own progress is its
/// [`crate::runs::RunPhase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Waiting for people.
    PendingReview,
    /// May be applied.
    Approved,
    /// Refused by the engine or a reviewer.
    Rejected,
    /// The review window ran out.
    Expired,
    /// Withdrawn.
    Cancelled,
    /// A run applied it.
    Applied,
    /// Its run failed or was interrupted while applying.
    ApplyFailed,
}

/// Every change-request status.
pub const CHANGE_STATUSES: [ChangeStatus; 7] = [
    ChangeStatus::PendingReview,
    ChangeStatus::Approved,
    ChangeStatus::Rejected,
    ChangeStatus::Expired,
    ChangeStatus::Cancelled,
    ChangeStatus::Applied,
    ChangeStatus::ApplyFailed,
];

impl ChangeStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::PendingReview => "pending_review",
            ChangeStatus::Approved => "approved",
            ChangeStatus::Rejected => "rejected",
            ChangeStatus::Expired => "expired",
            ChangeStatus::Cancelled => "cancelled",
            ChangeStatus::Applied => "applied",
            ChangeStatus::ApplyFailed => "apply_failed",
        }
    }
}

impl std::fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A spelling that is not a change-request status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}` (expected one of: pending_review, approved, rejected, expired, cancelled, applied, apply_failed)")]
pub struct UnknownChangeStatus(pub String);

impl std::str::FromStr for ChangeStatus {
    type Err = UnknownChangeStatus;
    fn from_str(s: &str) -> Result<ChangeStatus, UnknownChangeStatus> {
        CHANGE_STATUSES
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownChangeStatus(s.chars().take(64).collect()))
    }
}

impl ChangeStatus {
    /// Whether the status is final for the review: neither waiting for
    /// people nor approved and waiting for a run.
    pub fn is_final(self) -> bool {
        !matches!(self, ChangeStatus::PendingReview | ChangeStatus::Approved)
    }

    /// The decision a status stands for (exit codes, badges): approved or
    /// applied → approve; waiting for a review → review; anything else
    /// (rejected, expired, cancelled, apply failed) → reject.
    pub fn as_decision(self) -> Decision {
        match self {
            ChangeStatus::Approved | ChangeStatus::Applied => Decision::Approve,
            ChangeStatus::PendingReview => Decision::Review,
            ChangeStatus::Rejected
            | ChangeStatus::Expired
            | ChangeStatus::Cancelled
            | ChangeStatus::ApplyFailed => Decision::Reject,
        }
    }
}

/// What a reviewer said about a change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewOutcome {
    /// `approve`.
    Approve,
    /// `reject`.
    Reject,
}

impl ReviewOutcome {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOutcome::Approve => "approve",
            ReviewOutcome::Reject => "reject",
        }
    }
}

impl std::fmt::Display for ReviewOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReviewOutcome {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<ReviewOutcome, UnknownName> {
        [ReviewOutcome::Approve, ReviewOutcome::Reject]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownName::new("review", s, "approve, reject"))
    }
}

/// A review given to a change request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Who (`user:NAME`).
    pub reviewer: String,
    /// `approve` or `reject`.
    pub decision: ReviewOutcome,
    /// Why.
    #[serde(default)]
    pub comment: Option<String>,
    /// RFC 3339.
    pub created_at: Timestamp,
}

/// A review to give (`POST /api/v1/change-requests/{id}/approve|reject`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// Why.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A change request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// Number, unique per server.
    pub id: i64,
    /// Its revision: 1, or more once a run found that the plan changed
    /// between judging and applying (each revision is judged from scratch;
    /// the fields below are the current revision's). Shown from 2 on.
    #[serde(default = "first_revision", skip_serializing_if = "is_first_revision")]
    pub revision: i64,
    /// Target stack.
    pub stack: String,
    /// `agent:NAME` or `user:NAME`.
    pub submitter: String,
    /// Lifecycle state.
    pub status: ChangeStatus,
    /// The engine's decision (`approve`, `review`, `reject`), once evaluated.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Confidence 0–100, once evaluated.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Review priority: higher is reviewed first (risk × environment weight).
    pub priority: f64,
    /// Monthly cost change, USD, when priced.
    #[serde(default)]
    pub cost_delta_usd: Option<f64>,
    /// Resources the plan changes.
    pub resources_changed: i64,
    /// Why it was rejected or expired, when it was (scope violations, …).
    #[serde(default)]
    pub reason: Option<String>,
    /// Whether it may be applied without a person.
    pub auto_apply: bool,
    /// Intent text.
    #[serde(default)]
    pub intent: Option<String>,
    /// Source.
    #[serde(default)]
    pub source: Option<ChangeSource>,
    /// Reviews so far.
    #[serde(default)]
    pub reviews: Vec<Review>,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339.
    pub updated_at: Timestamp,
    /// RFC 3339: when a pending review expires.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// The full evaluation (in single-request answers, not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<serde_json::Value>,
}

impl ChangeRequest {
    /// The verdict's explanation, when the answer carries the verdict.
    pub fn explanation(&self) -> Option<&str> {
        explanation(self.verdict.as_ref())
    }
}

fn explanation(verdict: Option<&serde_json::Value>) -> Option<&str> {
    verdict?.get("explanation")?.as_str()
}

/// The answer of `POST /api/v1/evaluate` (a dry run): what the submission
/// would become, and why; nothing is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DryRun {
    /// Why it would be rejected or held, when it would.
    #[serde(default)]
    pub reason: Option<String>,
    /// Where the plan leaves the agent's scope (always empty for people).
    #[serde(default)]
    pub scope_violations: Vec<String>,
    /// The status the change request would get: `approved`,
    /// `pending_review` or `rejected`.
    pub status: ChangeStatus,
    /// The full evaluation.
    pub verdict: serde_json::Value,
}

impl DryRun {
    /// The verdict's explanation.
    pub fn explanation(&self) -> Option<&str> {
        explanation(Some(&self.verdict))
    }
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn policy_kinds_are_spelled_as_before() {
        for (k, name) in PolicyKind::ALL.iter().zip(["plan", "approval"]) {
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<PolicyKind>().unwrap(), *k);
        }
        assert!("Plan".parse::<PolicyKind>().is_err());
    }

    #[test]
    fn scope_actions_are_spelled_as_before_and_default_to_all_four() {
        let names = ["create", "update", "delete", "replace"];
        for (a, name) in ScopeAction::ALL.iter().zip(names) {
            assert_eq!(serde_json::to_string(a).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<ScopeAction>().unwrap(), *a);
            assert_eq!(a.to_string(), name);
        }
        assert_eq!(ScopeAction::NAMES, names.join(", "));
        let e = "forget".parse::<ScopeAction>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "scope action \"forget\" must be one of create, update, delete, replace"
        );
        assert!("Create".parse::<ScopeAction>().is_err());
        assert!(serde_json::from_str::<ScopeAction>("\"read\"").is_err());
        let s = AgentScope::default();
        assert_eq!(s.actions, ScopeAction::ALL);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["actions"],
            serde_json::json!(names)
        );
    }

    use super::*;

    #[test]
    fn requests_refuse_unknown_fields_and_updates_distinguish_null_from_absent() {
        let e = serde_json::from_str::<StackSpec>(r#"{"name":"a","environment":"dev","budget":1}"#);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("unknown field `budget`"));
        let u: StackUpdate = serde_json::from_str(r#"{"monthly_budget_usd":null}"#).unwrap();
        assert_eq!(u.monthly_budget_usd, Some(None));
        let u: StackUpdate = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(u.monthly_budget_usd, None);
        let s: AgentScope = serde_json::from_str(r#"{"stacks":["web-*"]}"#).unwrap();
        assert_eq!(s.actions.len(), 4);
        assert_eq!(s.resource_types, vec!["*"]);
    }
}

/// Mint a short-lived agent token for `/mcp`
/// (`POST /api/v1/agents/{name}/tokens`, signed by the agent; every field
/// optional, an empty body is fine).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTokenRequest {
    /// Lifetime in seconds (60–3600; default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    /// Free text, e.g. the MCP client's name (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A minted agent token as answered (the secret only when it is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentToken {
    /// Token id (`atok_…`), as in the audit log.
    pub id: String,
    /// The agent it acts for.
    pub agent: String,
    /// The key whose signed request minted it.
    pub key_id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The secret (`arbat_…`): shown once, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Minted.
    pub created_at: crate::Timestamp,
    /// Refused from this instant on.
    pub expires_at: crate::Timestamp,
}
