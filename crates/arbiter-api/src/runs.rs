//! Runs: applying approved change requests with Terraform/OpenTofu workers
//! (issue 12). This module is the contract between the server, the workers
//! (`arbiter worker`, API clients authenticated by a worker-pool token) and
//! the CLI/UI.
//!
//! # Endpoints
//! People and agents (the usual authentication):
//! - `GET  /api/v1/runs?stack=&phase=&change_request=` → [`crate::Page`]`<`[`Run`]`>`
//! - `GET  /api/v1/runs/{id}` → [`Run`]
//! - `GET  /api/v1/runs/{id}/logs?offset=N` → [`LogSlice`]
//! - `POST /api/v1/runs/{id}/confirm` → [`Run`] (reviewers, admins)
//! - `POST /api/v1/runs/{id}/cancel` → [`Run`] (queued … checking; refused while applying)
//! - `PUT  /api/v1/bundles/{sha256}` (body: the tar.gz) → [`BundleInfo`]
//! - `POST /api/v1/worker-pools` [`WorkerPoolCreate`] → [`WorkerPoolToken`] (admins)
//! - `GET  /api/v1/worker-pools/{name}/tokens` → [`crate::Page`]`<`[`WorkerPoolTokenInfo`]`>` (admins)
//! - `DELETE /api/v1/worker-pools/{name}/tokens/{id}` → [`WorkerPoolTokenInfo`] (admins; idempotent)
//!
//! Workers (`Authorization: Bearer` worker-pool token; every call after
//! the claim carries the claim's `lease`):
//! - `POST /api/v1/runs/claim` [`ClaimRequest`] → 200 [`Claim`] or 204 (nothing to do)
//! - `GET  /api/v1/runs/{id}/judged-plan?lease=` → the judged plan JSON, as submitted
//! - `GET  /api/v1/bundles/{sha256}` → the tar.gz (only a bundle that is the
//!   source of a run the pool holds, not finished; otherwise 404)
//! - `POST /api/v1/runs/{id}/heartbeat` [`Heartbeat`] → [`HeartbeatAck`]
//! - `POST /api/v1/runs/{id}/phase` [`PhaseReport`] → [`Run`] (409 when illegal or stale)
//! - `POST /api/v1/runs/{id}/logs` [`LogChunk`] → 204 (idempotent by offset)
//! - `POST /api/v1/runs/{id}/revision` [`RevisedPlan`] → [`RevisionAck`]
//!
//! Terraform's HTTP state backend (basic auth; credentials scoped to one
//! stack; a run's credentials are in its [`Claim`]):
//! - `GET|POST|LOCK|UNLOCK /api/v1/stacks/{name}/tfstate`

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Where a run's phase is. One state machine; [`RunPhase::can_move_to`] is
/// the only definition of the legal transitions, and the store enforces it
/// with conditional updates.
///
/// ```text
/// queued → preparing → initialising → planning → checking → applying → applied
///                                                   │                     │
///                                                   └→ discarded          └→ verifying → verified
///                                                                                      └→ verification_failed
/// any phase before applying → cancelled; preparing … applying → failed | interrupted
/// verifying → interrupted
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Waiting for a worker (and for a person's confirmation when needed).
    Queued,
    /// Claimed: fetching and unpacking the source.
    Preparing,
    /// `terraform init` (offline, against the provider mirror).
    Initialising,
    /// `terraform plan -out`.
    Planning,
    /// Comparing the new plan's digest with the judged plan's.
    Checking,
    /// `terraform apply` of the saved plan.
    Applying,
    /// Applied; the state version it wrote is recorded.
    Applied,
    /// Health URL / PromQL checks within the stack's window.
    Verifying,
    /// The checks held for the whole window.
    Verified,
    /// A check failed: a rollback change request was opened.
    VerificationFailed,
    /// Terraform or the worker failed (partial state kept).
    Failed,
    /// A person cancelled it before it applied.
    Cancelled,
    /// Not applied because what it would apply is no longer what was judged
    /// (a new revision of the change request was made), or the change
    /// request was superseded.
    Discarded,
    /// Its worker stopped heart-beating. Never re-applied blindly.
    Interrupted,
}

/// Every phase, in order.
pub const RUN_PHASES: [RunPhase; 14] = [
    RunPhase::Queued,
    RunPhase::Preparing,
    RunPhase::Initialising,
    RunPhase::Planning,
    RunPhase::Checking,
    RunPhase::Applying,
    RunPhase::Applied,
    RunPhase::Verifying,
    RunPhase::Verified,
    RunPhase::VerificationFailed,
    RunPhase::Failed,
    RunPhase::Cancelled,
    RunPhase::Discarded,
    RunPhase::Interrupted,
];

impl RunPhase {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Queued => "queued",
            RunPhase::Preparing => "preparing",
            RunPhase::Initialising => "initialising",
            RunPhase::Planning => "planning",
            RunPhase::Checking => "checking",
            RunPhase::Applying => "applying",
            RunPhase::Applied => "applied",
            RunPhase::Verifying => "verifying",
            RunPhase::Verified => "verified",
            RunPhase::VerificationFailed => "verification_failed",
            RunPhase::Failed => "failed",
            RunPhase::Cancelled => "cancelled",
            RunPhase::Discarded => "discarded",
            RunPhase::Interrupted => "interrupted",
        }
    }

    /// Whether the run holds a worker (claimed and not finished).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunPhase::Preparing
                | RunPhase::Initialising
                | RunPhase::Planning
                | RunPhase::Checking
                | RunPhase::Applying
                | RunPhase::Verifying
        )
    }

    /// Whether nothing more happens to the run. `applied` is final unless
    /// the stack has verification (then `applied → verifying`).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunPhase::Verified
                | RunPhase::VerificationFailed
                | RunPhase::Failed
                | RunPhase::Cancelled
                | RunPhase::Discarded
                | RunPhase::Interrupted
        )
    }

    /// Whether a person may still cancel it (nothing has been applied).
    pub fn is_cancellable(self) -> bool {
        matches!(
            self,
            RunPhase::Queued
                | RunPhase::Preparing
                | RunPhase::Initialising
                | RunPhase::Planning
                | RunPhase::Checking
        )
    }

    /// Whether a run in this phase may take the stack's state lock with its
    /// backend credentials (`init` and `plan` lock too): while it is active
    /// up to applying. A terraform left running after its run ended (its
    /// worker was killed, the server stopped the run) is refused.
    pub fn may_lock_state(self) -> bool {
        matches!(
            self,
            RunPhase::Preparing
                | RunPhase::Initialising
                | RunPhase::Planning
                | RunPhase::Checking
                | RunPhase::Applying
        )
    }

    /// Whether a run in this phase may write state with its backend
    /// credentials: only while applying what was judged.
    pub fn may_write_state(self) -> bool {
        self == RunPhase::Applying
    }

    /// Where a run goes when its current phase outlasts its time limit
    /// (the server stops it even if its worker keeps heart-beating):
    /// `failed` before applying, `interrupted` from `applying` and
    /// `verifying` (never assume an apply did not happen). `None` for
    /// phases without a limit.
    pub fn on_timeout(self) -> Option<RunPhase> {
        match self {
            RunPhase::Preparing
            | RunPhase::Initialising
            | RunPhase::Planning
            | RunPhase::Checking => Some(RunPhase::Failed),
            RunPhase::Applying | RunPhase::Verifying => Some(RunPhase::Interrupted),
            _ => None,
        }
    }

    /// The legal transitions.
    #[allow(clippy::match_like_matches_macro)] // a table reads better
    pub fn can_move_to(self, next: RunPhase) -> bool {
        use RunPhase::*;
        match (self, next) {
            (Queued, Preparing | Cancelled | Discarded) => true,
            (Preparing, Initialising) | (Initialising, Planning) | (Planning, Checking) => true,
            (Checking, Applying | Discarded) => true,
            (Preparing | Initialising | Planning | Checking, Cancelled) => true,
            (Preparing | Initialising | Planning | Checking | Applying, Failed | Interrupted) => {
                true
            }
            (Applying, Applied) | (Applied, Verifying) => true,
            (Verifying, Verified | VerificationFailed | Interrupted) => true,
            _ => false,
        }
    }
}

impl fmt::Display for RunPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A spelling that is not a run phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run phase `{0}` (expected one of: queued, preparing, initialising, planning, checking, applying, applied, verifying, verified, verification_failed, failed, cancelled, discarded, interrupted)")]
pub struct UnknownRunPhase(pub String);

impl FromStr for RunPhase {
    type Err = UnknownRunPhase;
    fn from_str(s: &str) -> Result<RunPhase, UnknownRunPhase> {
        RUN_PHASES
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownRunPhase(s.chars().take(64).collect()))
    }
}

/// What a run does. Drift remediation and ephemeral environments will add
/// kinds; every kind goes through the same phases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunKind {
    /// Apply an approved change request.
    Apply,
    /// Apply a rollback change request: plan the configuration recorded
    /// with `target_version` against the current state.
    Rollback {
        /// The state version being restored.
        target_version: i64,
    },
}

/// Where a run's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunSource {
    /// An uploaded tar.gz of the working directory, by its hex SHA-256.
    Bundle {
        /// Hex SHA-256 of the tar.gz bytes.
        sha256: String,
    },
    /// A git repository at a commit (https, ssh and file URLs only).
    Git {
        /// The repository.
        url: String,
        /// Full commit id.
        commit: String,
        /// Working directory inside the repository (default: its root).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
}

/// The Terraform-compatible tool a stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// HashiCorp Terraform (tested).
    #[default]
    Terraform,
    /// OpenTofu (supported by configuration; untested here: no package is reachable).
    Tofu,
}

/// The tool a run used, as the worker found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Which tool.
    pub kind: ToolKind,
    /// The binary's path on the worker.
    pub path: String,
    /// Its version (`1.11.4`).
    pub version: String,
}

/// A person's confirmation, when the run needs one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Confirmation {
    /// Not needed: the stack allows auto-apply and the submitting agent's
    /// scope says `may_auto_apply`.
    NotNeeded,
    /// Waiting for a person (`arbiter run confirm`); not claimable until then.
    Awaiting,
    /// Confirmed.
    Confirmed {
        /// `user:NAME`.
        by: String,
        /// When.
        at: Timestamp,
    },
}

/// When a run entered and left a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: RunPhase,
    /// Entered.
    pub started_at: Timestamp,
    /// Left (absent while in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// A run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Number, unique per server.
    pub id: i64,
    /// The change request it applies.
    pub change_request: i64,
    /// The change request's revision it applies (1, 2, … : a plan that
    /// changed between judging and applying makes a new revision).
    pub revision: i64,
    /// The stack.
    pub stack: String,
    /// What it does.
    #[serde(flatten)]
    pub kind: RunKind,
    /// Where it is.
    pub phase: RunPhase,
    /// The configuration it applies.
    pub source: RunSource,
    /// Whether a person must confirm it first.
    pub confirmation: Confirmation,
    /// The worker pool that runs it.
    pub pool: String,
    /// The worker that claimed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The tool, once the worker found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolInfo>,
    /// Digest of the judged plan (see `arbiter_plan` digest), once computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_digest: Option<String>,
    /// Digest of the worker's new plan, once planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_digest: Option<String>,
    /// The state version its apply wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<i64>,
    /// Why it failed, was discarded or interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A person asked to cancel it; the worker stops at its next heartbeat.
    pub cancel_requested: bool,
    /// Phases so far, in order.
    pub phases: Vec<PhaseSpan>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A slice of a run's log (`GET /api/v1/runs/{id}/logs?offset=N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSlice {
    /// Byte offset of `text` in the whole log.
    pub offset: u64,
    /// Where the next read starts.
    pub next_offset: u64,
    /// The text (secrets already masked by the worker).
    pub text: String,
    /// The run is final and the log will not grow.
    pub complete: bool,
}

/// What a configuration bundle upload stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Hex SHA-256 of the tar.gz (its address).
    pub sha256: String,
    /// Size, bytes.
    pub size_bytes: i64,
    /// Regular files in it.
    pub files: i64,
    /// First stored.
    pub created_at: Timestamp,
}

/// Create a worker pool or mint a new token for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerPoolCreate {
    /// Pool name (`[a-z0-9-]`, ≤ 64).
    pub name: String,
}

/// A worker-pool token (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPoolToken {
    /// The pool.
    pub pool: String,
    /// The token's id (to list and revoke it; not a secret).
    #[serde(default)]
    pub id: String,
    /// Give it to `arbiter worker` in `ARBITER_WORKER_TOKEN`.
    pub token: String,
}

/// A worker-pool token as listed (`GET /api/v1/worker-pools/{name}/tokens`):
/// never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPoolTokenInfo {
    /// Its id: the first 16 hex digits of the token's SHA-256.
    pub id: String,
    /// The pool.
    pub pool: String,
    /// The token's first characters (`arbw_1a2b3c4`), to tell which one a
    /// worker holds; absent for tokens minted before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Who minted it (`user:NAME`, `system` for the embedded worker's).
    pub created_by: String,
    /// Minted.
    pub created_at: Timestamp,
    /// Its last claim request (long-polls included; to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// Revoked (refused from then on, also by workers holding runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// A worker asks for work (long-poll up to `wait_secs`, at most 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The worker's name (host and process), shown on the run.
    pub worker: String,
    /// How long to wait for a run, seconds.
    #[serde(default)]
    pub wait_secs: u32,
}

/// Credentials for Terraform's HTTP backend, scoped to one stack and valid
/// while the run holds its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendCredentials {
    /// `…/api/v1/stacks/{name}/tfstate`.
    pub address: String,
    /// Basic-auth user.
    pub username: String,
    /// Basic-auth password.
    pub password: String,
}

/// Per-phase time limits, seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimeouts {
    /// Fetch and unpack.
    pub preparing: u64,
    /// `terraform init`.
    pub initialising: u64,
    /// `terraform plan`.
    pub planning: u64,
    /// `terraform apply`.
    pub applying: u64,
}

/// Checks after an apply (per stack, optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// How long the checks must hold, seconds.
    pub window_secs: u64,
    /// Interval between checks, seconds.
    pub interval_secs: u64,
    /// A URL that must answer 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_url: Option<String>,
    /// Prometheus HTTP API base URL (`http://127.0.0.1:9090`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_url: Option<String>,
    /// A PromQL expression whose instant query must return a non-empty
    /// result (like an alerting rule that must keep holding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promql: Option<String>,
}

/// What a worker needs to carry out a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The run (phase `preparing` already).
    pub run: Run,
    /// Proves the claim in every later call; lost when the run is
    /// interrupted.
    pub lease: String,
    /// Non-secret variables (`-var` values), as submitted.
    pub variables: BTreeMap<String, String>,
    /// Names of environment variables holding secrets, passed from the
    /// worker's environment to the tool and masked in logs. Never sent by
    /// the server: only their names.
    pub secret_env: Vec<String>,
    /// Files (on the worker) holding secrets, by variable name.
    pub secret_files: BTreeMap<String, String>,
    /// Which tool.
    pub tool: ToolKind,
    /// A binary path the stack asks for (otherwise the worker's PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_path: Option<String>,
    /// The state backend.
    pub backend: BackendCredentials,
    /// Time limits.
    pub timeouts: PhaseTimeouts,
    /// Checks after the apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Seconds between heartbeats (the server interrupts a run after three missed).
    pub heartbeat_secs: u64,
}

/// Keeps a claim alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The claim's lease.
    pub lease: String,
}

/// The server's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    /// Stop: a person cancelled the run.
    pub cancel_requested: bool,
}

/// A worker moves its run to the next phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    /// The claim's lease.
    pub lease: String,
    /// The phase the worker believes the run is in (conditional update).
    pub from: RunPhase,
    /// The next phase.
    pub to: RunPhase,
    /// Why (for failed, discarded, verification_failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The tool found (with `initialising`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolInfo>,
    /// Digests (with `checking`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_digest: Option<String>,
    /// Digest of the new plan (with `checking`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_digest: Option<String>,
}

/// A piece of log. Appending is idempotent: a chunk whose offset is below
/// the log's length is accepted only for the part beyond it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogChunk {
    /// The claim's lease.
    pub lease: String,
    /// Byte offset of `text` in the whole log.
    pub offset: u64,
    /// Masked text.
    pub text: String,
}

/// The new plan when it differs from the judged one: it becomes a new
/// revision of the change request, judged from scratch, and the run is
/// discarded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisedPlan {
    /// The claim's lease.
    pub lease: String,
    /// `terraform show -json` of the new plan.
    pub plan: Box<serde_json::value::RawValue>,
}

/// What the server made of a revised plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionAck {
    /// The change request.
    pub change_request: i64,
    /// Its new revision.
    pub revision: i64,
    /// The new revision's decision (`approve`, `review`, `reject`).
    pub decision: arbiter_verdict::Decision,
    /// The run that applies it, when it is approved and needs no person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

/// How a stack's runs work (`runs` in the stack spec). Every field has a
/// default; secrets are named here, never given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackRuns {
    /// `terraform` (default) or `tofu`.
    #[serde(default)]
    pub tool: ToolKind,
    /// The tool's binary on the worker (default: found on its PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_path: Option<String>,
    /// The worker pool (default `embedded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Per-phase time limits (defaults: [`PhaseTimeouts::default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<PhaseTimeouts>,
    /// Environment variables passed from the worker's environment to the
    /// tool (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Variable name → file on the worker holding its value (paths only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_files: BTreeMap<String, String>,
    /// Checks after an apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// The pool runs go to when the stack names none.
pub const DEFAULT_POOL: &str = "embedded";

impl PhaseTimeouts {
    /// The limit of a phase, seconds: `checking` (comparing digests, and
    /// sending a changed plan back) shares `planning`'s; `verifying` lasts
    /// the verification window plus one interval; other phases have none.
    pub fn limit_secs(&self, phase: RunPhase, verification: Option<&Verification>) -> Option<u64> {
        match phase {
            RunPhase::Preparing => Some(self.preparing),
            RunPhase::Initialising => Some(self.initialising),
            RunPhase::Planning | RunPhase::Checking => Some(self.planning),
            RunPhase::Applying => Some(self.applying),
            RunPhase::Verifying => {
                verification.map(|v| v.window_secs.saturating_add(v.interval_secs))
            }
            _ => None,
        }
    }
}

impl Default for PhaseTimeouts {
    fn default() -> Self {
        PhaseTimeouts {
            preparing: 300,
            initialising: 600,
            planning: 1800,
            applying: 3600,
        }
    }
}

impl StackRuns {
    /// Whether the settings make sense: names of environment variables,
    /// pool name, positive timeouts, a verification with something to check.
    pub fn check(&self) -> Result<(), String> {
        for n in self.secret_env.iter().chain(self.secret_files.keys()) {
            let ok = !n.is_empty()
                && n.len() <= 128
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !n.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(format!(
                    "runs: secret name {n:?} must be 1-128 characters of A-Z a-z 0-9 _ not starting with a digit"
                ));
            }
        }
        if let Some(p) = &self.pool {
            check_pool_name(p)?;
        }
        if let Some(t) = &self.timeouts {
            if [t.preparing, t.initialising, t.planning, t.applying].contains(&0) {
                return Err("runs: every phase timeout must be at least 1 second".into());
            }
        }
        if let Some(v) = &self.verification {
            if v.window_secs == 0 || v.interval_secs == 0 {
                return Err(
                    "runs.verification: window_secs and interval_secs must be at least 1".into(),
                );
            }
            if v.health_url.is_none() && v.promql.is_none() {
                return Err(
                    "runs.verification: give health_url, promql (with prometheus_url), or both"
                        .into(),
                );
            }
            if v.promql.is_some() != v.prometheus_url.is_some() {
                return Err("runs.verification: promql and prometheus_url go together".into());
            }
        }
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &str {
        self.pool.as_deref().unwrap_or(DEFAULT_POOL)
    }
}

/// Worker-pool names: 1–64 characters of `a-z 0-9 -`.
pub fn check_pool_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "worker pool name {name:?} must be 1-64 characters of a-z 0-9 -"
        ))
    }
}

/// A person's own backend credentials for a stack
/// (`POST /api/v1/stacks/{name}/backend-credentials`, admins); the password
/// is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendCredentialsCreated {
    /// The stack.
    pub stack: String,
    /// Credentials for `terraform { backend "http" { … } }`.
    pub credentials: BackendCredentials,
}

impl Run {
    /// Seconds spent in each phase so far (open phases up to `now`).
    pub fn phase_seconds(&self, now: Timestamp) -> Vec<(RunPhase, f64)> {
        self.phases
            .iter()
            .map(|p| {
                let end = p.ended_at.unwrap_or(now);
                let ms = end.unix_ms() - p.started_at.unix_ms();
                (p.phase, ms as f64 / 1000.0)
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phases_round_trip_and_spellings_match_serde() {
        for p in RUN_PHASES {
            assert_eq!(p.as_str().parse::<RunPhase>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!("done".parse::<RunPhase>().is_err());
    }

    #[test]
    fn the_happy_path_is_legal_and_nothing_leaves_a_final_phase() {
        use RunPhase::*;
        let path = [
            Queued,
            Preparing,
            Initialising,
            Planning,
            Checking,
            Applying,
            Applied,
            Verifying,
            Verified,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{} → {}", w[0], w[1]);
        }
        for from in RUN_PHASES.into_iter().filter(|p| p.is_final()) {
            for to in RUN_PHASES {
                assert!(!from.can_move_to(to), "{from} → {to}");
            }
        }
        // Nothing applied can be cancelled; nothing goes backwards.
        assert!(!Applying.can_move_to(Cancelled));
        assert!(!Applied.can_move_to(Applying));
        assert!(!Checking.can_move_to(Planning));
        // State: written only while applying, locked only while active up
        // to applying; never once over.
        for p in RUN_PHASES {
            assert_eq!(p.may_write_state(), p == Applying, "{p}");
            assert!(!p.may_write_state() || p.may_lock_state(), "{p}");
            assert!(
                !(p.is_final() || p == Applied) || !p.may_lock_state(),
                "{p}"
            );
        }
        // A phase that outlasts its limit ends legally, and an apply is
        // never taken for not having happened.
        for p in RUN_PHASES {
            if let Some(to) = p.on_timeout() {
                assert!(p.is_active() && p.can_move_to(to), "{p} → {to}");
            }
            let limited = PhaseTimeouts::default().limit_secs(p, None).is_some();
            assert_eq!(limited || p == Verifying, p.on_timeout().is_some(), "{p}");
        }
        assert_eq!(Applying.on_timeout(), Some(Interrupted));
        assert_eq!(Verifying.on_timeout(), Some(Interrupted));
        // Only a run that has not applied may be discarded after checking.
        assert!(Checking.can_move_to(Discarded));
        assert!(!Applying.can_move_to(Discarded));
    }

    #[test]
    fn sources_are_tagged() {
        let s: RunSource =
            serde_json::from_str(r#"{"kind":"git","url":"https://x/r.git","commit":"abc"}"#)
                .unwrap();
        assert!(matches!(s, RunSource::Git { path: None, .. }));
        assert!(serde_json::from_str::<RunSource>(r#"{"kind":"ftp"}"#).is_err());
    }
}
