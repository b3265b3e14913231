//! Webhook subscriptions and their delivery log (`/api/v1/webhooks`), and
//! the event patterns subscriptions match.
//!
//! Every audit entry is an event whose type is its action
//! (`change_request.pending_review`, `stack.updated`, …); a subscription
//! lists the patterns of the events it wants.

use crate::time::Timestamp;
use crate::types::{ChangeStatus, ReviewOutcome};
use serde::{Deserialize, Serialize};

/// The header carrying the event type of a delivery.
pub const HEADER_WEBHOOK_EVENT: &str = "X-Arbiter-Event";
/// The header carrying the delivery's identifier (the same on every retry).
pub const HEADER_WEBHOOK_DELIVERY: &str = "X-Arbiter-Delivery";
/// The header carrying the Unix time (seconds) the attempt was signed at.
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "X-Arbiter-Timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256(secret, timestamp "." body)>`.
pub const HEADER_WEBHOOK_SIGNATURE: &str = "X-Arbiter-Signature";

/// The event type of the ping sent by `POST /api/v1/webhooks/{id}/test`;
/// it goes to that subscription only, whatever its patterns.
pub const PING_EVENT: &str = AuditAction::WebhookPing.as_str();

/// What an audit entry records, which is also the type of the webhook event
/// it makes. Written by the store's writer (`WriteCtx::audit`); every
/// spelling the server writes is one of these (an exported log may hold
/// others, from other versions: the audit crate keeps them as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `change_request.submitted`: A change request was stored (`changes::insert`).
    ChangeRequestSubmitted,
    /// `change_request.evaluated`: Its verdict was stored (`changes::insert`).
    ChangeRequestEvaluated,
    /// `agent.created`: An agent was created.
    AgentCreated,
    /// `agent.updated`: An agent's description, scope, limits or keys changed.
    AgentUpdated,
    /// `agent.revoked`: An agent was revoked.
    AgentRevoked,
    /// `agent.key_revoked`: One of an agent's keys was revoked.
    AgentKeyRevoked,
    /// `agent.token.created`: An agent minted a short-lived token for `/mcp`.
    AgentTokenCreated,
    /// `agent.rate_limited`: The velocity governor refused an agent's submission.
    AgentRateLimited,
    /// `policy_set.updated`: A policy set version was stored.
    PolicySetUpdated,
    /// `session.created`: Someone signed in to the web UI.
    SessionCreated,
    /// `session.deleted`: Someone signed out.
    SessionDeleted,
    /// `stack.created`: A stack was created.
    StackCreated,
    /// `stack.updated`: A stack's settings changed.
    StackUpdated,
    /// `state.pushed`: A state version was stored.
    StatePushed,
    /// `state.rollback_requested`: A rollback change request was made.
    StateRollbackRequested,
    /// `token.created`: An API token was made.
    TokenCreated,
    /// `token.revoked`: An API token was revoked.
    TokenRevoked,
    /// `user.created`: A person was added.
    UserCreated,
    /// `waiver.created`: A waiver was created.
    WaiverCreated,
    /// `waiver.revoked`: A waiver was revoked.
    WaiverRevoked,
    /// `webhook.created`: A webhook subscription was created.
    WebhookCreated,
    /// `webhook.deleted`: A webhook subscription was deleted.
    WebhookDeleted,
    /// `webhook.ping`: `POST /api/v1/webhooks/{id}/test` (delivered to that subscription only).
    WebhookPing,
    /// `change_request.<status>`: a change request landed in or moved to
    /// this status (`changes::insert`, `changes::transition`).
    ChangeRequest(ChangeStatus),
    /// `change_request.review.approve` / `.reject`: a review was given.
    Review(ReviewOutcome),
    /// `change_request.revised`: A run found a changed plan: the change request got a new revision, judged from scratch.
    ChangeRequestRevised,
    /// `run.cancel_requested`: A person asked to cancel a run.
    RunCancelRequested,
    /// `run.confirmed`: A person confirmed a run that needed it.
    RunConfirmed,
    /// `bundle.stored`: A configuration bundle was stored (content-addressed, once).
    BundleStored,
    /// `worker_pool.token_created`: A worker-pool token was minted.
    WorkerPoolTokenCreated,
    /// `worker_pool.token_revoked`: A worker-pool token was revoked.
    WorkerPoolTokenRevoked,
    /// `stack.backend_credentials_created`: State backend credentials were minted for a stack.
    StackBackendCredentialsCreated,
    /// `state.locked`: The state backend lock of a stack was taken.
    StateLocked,
    /// `state.unlocked`: The state backend lock of a stack was released.
    StateUnlocked,
    /// `state.write_refused`: A state write (POST, LOCK) with a run's backend credentials was refused because the run no longer writes state (ended, or past applying).
    StateWriteRefused,
    /// `run.<phase>` (the claim, `preparing`, is `run.started`): a run moved
    /// to this phase (`runs::transition`, `runs::queue`).
    Run(crate::runs::RunPhase),
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 56] = [
        AuditAction::ChangeRequestSubmitted,
        AuditAction::ChangeRequestEvaluated,
        AuditAction::AgentCreated,
        AuditAction::AgentUpdated,
        AuditAction::AgentRevoked,
        AuditAction::AgentKeyRevoked,
        AuditAction::AgentTokenCreated,
        AuditAction::AgentRateLimited,
        AuditAction::PolicySetUpdated,
        AuditAction::SessionCreated,
        AuditAction::SessionDeleted,
        AuditAction::StackCreated,
        AuditAction::StackUpdated,
        AuditAction::StatePushed,
        AuditAction::StateRollbackRequested,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::UserCreated,
        AuditAction::WaiverCreated,
        AuditAction::WaiverRevoked,
        AuditAction::WebhookCreated,
        AuditAction::WebhookDeleted,
        AuditAction::WebhookPing,
        AuditAction::ChangeRequest(ChangeStatus::PendingReview),
        AuditAction::ChangeRequest(ChangeStatus::Approved),
        AuditAction::ChangeRequest(ChangeStatus::Rejected),
        AuditAction::ChangeRequest(ChangeStatus::Expired),
        AuditAction::ChangeRequest(ChangeStatus::Cancelled),
        AuditAction::ChangeRequest(ChangeStatus::Applied),
        AuditAction::ChangeRequest(ChangeStatus::ApplyFailed),
        AuditAction::Review(ReviewOutcome::Approve),
        AuditAction::Review(ReviewOutcome::Reject),
        AuditAction::ChangeRequestRevised,
        AuditAction::RunCancelRequested,
        AuditAction::RunConfirmed,
        AuditAction::BundleStored,
        AuditAction::WorkerPoolTokenCreated,
        AuditAction::WorkerPoolTokenRevoked,
        AuditAction::StackBackendCredentialsCreated,
        AuditAction::StateLocked,
        AuditAction::StateUnlocked,
        AuditAction::StateWriteRefused,
        AuditAction::Run(crate::runs::RunPhase::Queued),
        AuditAction::Run(crate::runs::RunPhase::Preparing),
        AuditAction::Run(crate::runs::RunPhase::Initialising),
        AuditAction::Run(crate::runs::RunPhase::Planning),
        AuditAction::Run(crate::runs::RunPhase::Checking),
        AuditAction::Run(crate::runs::RunPhase::Applying),
        AuditAction::Run(crate::runs::RunPhase::Applied),
        AuditAction::Run(crate::runs::RunPhase::Verifying),
        AuditAction::Run(crate::runs::RunPhase::Verified),
        AuditAction::Run(crate::runs::RunPhase::VerificationFailed),
        AuditAction::Run(crate::runs::RunPhase::Failed),
        AuditAction::Run(crate::runs::RunPhase::Cancelled),
        AuditAction::Run(crate::runs::RunPhase::Discarded),
        AuditAction::Run(crate::runs::RunPhase::Interrupted),
    ];

    /// The spelling in the log and on webhook deliveries.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::ChangeRequestSubmitted => "change_request.submitted",
            AuditAction::ChangeRequestEvaluated => "change_request.evaluated",
            AuditAction::AgentCreated => "agent.created",
            AuditAction::AgentUpdated => "agent.updated",
            AuditAction::AgentRevoked => "agent.revoked",
            AuditAction::AgentKeyRevoked => "agent.key_revoked",
            AuditAction::AgentTokenCreated => "agent.token.created",
            AuditAction::AgentRateLimited => "agent.rate_limited",
            AuditAction::PolicySetUpdated => "policy_set.updated",
            AuditAction::SessionCreated => "session.created",
            AuditAction::SessionDeleted => "session.deleted",
            AuditAction::StackCreated => "stack.created",
            AuditAction::StackUpdated => "stack.updated",
            AuditAction::StatePushed => "state.pushed",
            AuditAction::StateRollbackRequested => "state.rollback_requested",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::UserCreated => "user.created",
            AuditAction::WaiverCreated => "waiver.created",
            AuditAction::WaiverRevoked => "waiver.revoked",
            AuditAction::WebhookCreated => "webhook.created",
            AuditAction::WebhookDeleted => "webhook.deleted",
            AuditAction::WebhookPing => "webhook.ping",
            AuditAction::ChangeRequest(ChangeStatus::PendingReview) => {
                "change_request.pending_review"
            }
            AuditAction::ChangeRequest(ChangeStatus::Approved) => "change_request.approved",
            AuditAction::ChangeRequest(ChangeStatus::Rejected) => "change_request.rejected",
            AuditAction::ChangeRequest(ChangeStatus::Expired) => "change_request.expired",
            AuditAction::ChangeRequest(ChangeStatus::Cancelled) => "change_request.cancelled",
            AuditAction::ChangeRequest(ChangeStatus::Applied) => "change_request.applied",
            AuditAction::ChangeRequest(ChangeStatus::ApplyFailed) => "change_request.apply_failed",
            AuditAction::Review(ReviewOutcome::Approve) => "change_request.review.approve",
            AuditAction::Review(ReviewOutcome::Reject) => "change_request.review.reject",
            AuditAction::ChangeRequestRevised => "change_request.revised",
            AuditAction::RunCancelRequested => "run.cancel_requested",
            AuditAction::RunConfirmed => "run.confirmed",
            AuditAction::BundleStored => "bundle.stored",
            AuditAction::WorkerPoolTokenCreated => "worker_pool.token_created",
            AuditAction::WorkerPoolTokenRevoked => "worker_pool.token_revoked",
            AuditAction::StackBackendCredentialsCreated => "stack.backend_credentials_created",
            AuditAction::StateLocked => "state.locked",
            AuditAction::StateUnlocked => "state.unlocked",
            AuditAction::StateWriteRefused => "state.write_refused",
            AuditAction::Run(crate::runs::RunPhase::Queued) => "run.queued",
            AuditAction::Run(crate::runs::RunPhase::Preparing) => "run.started",
            AuditAction::Run(crate::runs::RunPhase::Initialising) => "run.initialising",
            AuditAction::Run(crate::runs::RunPhase::Planning) => "run.planning",
            AuditAction::Run(crate::runs::RunPhase::Checking) => "run.checking",
            AuditAction::Run(crate::runs::RunPhase::Applying) => "run.applying",
            AuditAction::Run(crate::runs::RunPhase::Applied) => "run.applied",
            AuditAction::Run(crate::runs::RunPhase::Verifying) => "run.verifying",
            AuditAction::Run(crate::runs::RunPhase::Verified) => "run.verified",
            AuditAction::Run(crate::runs::RunPhase::VerificationFailed) => {
                "run.verification_failed"
            }
            AuditAction::Run(crate::runs::RunPhase::Failed) => "run.failed",
            AuditAction::Run(crate::runs::RunPhase::Cancelled) => "run.cancelled",
            AuditAction::Run(crate::runs::RunPhase::Discarded) => "run.discarded",
            AuditAction::Run(crate::runs::RunPhase::Interrupted) => "run.interrupted",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuditAction {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<AuditAction, arbiter_verdict::UnknownName> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                arbiter_verdict::UnknownName::new(
                    "audit action",
                    s,
                    "the actions of AuditAction::ALL",
                )
            })
    }
}

/// Payload formats a subscription can ask for, as spelled on the wire.
pub const WEBHOOK_FORMATS: [&str; 2] = ["json", "slack"];

/// The payload format of a subscription. Set by its creation
/// (`POST /api/v1/webhooks`, `json` when absent); read by the delivery
/// worker to shape the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The audit entry as JSON.
    #[default]
    Json,
    /// `{"text", "blocks"}` for a Slack incoming webhook.
    Slack,
}

impl WebhookFormat {
    /// Every format, in the order of [`WEBHOOK_FORMATS`].
    pub const ALL: [WebhookFormat; 2] = [WebhookFormat::Json, WebhookFormat::Slack];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => WEBHOOK_FORMATS[0],
            WebhookFormat::Slack => WEBHOOK_FORMATS[1],
        }
    }
}

impl std::fmt::Display for WebhookFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WebhookFormat {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<WebhookFormat, arbiter_verdict::UnknownName> {
        WebhookFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| arbiter_verdict::UnknownName::new("webhook format", s, "json, slack"))
    }
}

/// A delivery's state. Set by: the audit append that enqueues it
/// (`pending`), the delivery worker (`delivered` on a 2xx answer, `failed`
/// after the last attempt, `pending` again between retries), and the
/// subscription's deletion (`cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt, or in flight.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up after the last attempt.
    Failed,
    /// The subscription was deleted first.
    Cancelled,
}

/// Every delivery status.
pub const DELIVERY_STATUSES: [DeliveryStatus; 4] = [
    DeliveryStatus::Pending,
    DeliveryStatus::Delivered,
    DeliveryStatus::Failed,
    DeliveryStatus::Cancelled,
];

impl DeliveryStatus {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = arbiter_verdict::UnknownName;
    fn from_str(s: &str) -> Result<DeliveryStatus, arbiter_verdict::UnknownName> {
        DELIVERY_STATUSES
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                arbiter_verdict::UnknownName::new(
                    "status",
                    s,
                    "pending, delivered, failed, cancelled",
                )
            })
    }
}

/// A subscription to create (`POST /api/v1/webhooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Where to POST: an `http://` URL.
    pub url: String,
    /// Event patterns: exact types (`stack.updated`), a prefix with `.*`
    /// (`change_request.*`), or `*` for every event.
    pub events: Vec<String>,
    /// `json` (default) or `slack` (`{"text", "blocks"}` for a Slack
    /// incoming webhook or anything that speaks its format).
    #[serde(default)]
    pub format: Option<String>,
    /// The signing secret (16-256 printable ASCII characters); generated
    /// when absent. Returned once, in the answer that creates the
    /// subscription, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// A subscription as the API shows it. The secret appears only in the
/// answer to the request that created it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Identifier, unique per server.
    pub id: i64,
    /// Where events are POSTed. Admins see the whole URL; other callers see
    /// only its scheme, host and port (`http://host:port/…`), because URLs
    /// such as Slack's carry a credential in their path.
    pub url: String,
    /// Event patterns.
    pub events: Vec<String>,
    /// `json` or `slack`.
    pub format: WebhookFormat,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Who created it (`user:NAME`).
    pub created_by: String,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// The signing secret: only in the creation answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Deliveries by status (in `GET /api/v1/webhooks/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<DeliveryCounts>,
}

/// The answer of `POST /api/v1/webhooks/{id}/test` (202): the ping's
/// delivery, to follow in the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookTest {
    /// The delivery's identifier.
    pub delivery: String,
    /// Always [`PING_EVENT`].
    pub event: String,
    /// The subscription.
    pub webhook: i64,
}

/// How many deliveries of a subscription are in each state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    /// Waiting or in flight.
    pub pending: i64,
    /// Answered 2xx.
    pub delivered: i64,
    /// Given up.
    pub failed: i64,
    /// Cancelled by the subscription's deletion.
    pub cancelled: i64,
}

/// One delivery of one event to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Identifier (`X-Arbiter-Delivery`): `<event seq>-<webhook id>`.
    pub id: String,
    /// The subscription.
    pub webhook: i64,
    /// The event: the audit entry's sequence number.
    pub event_seq: i64,
    /// The event type (the audit entry's action).
    pub event_type: String,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// RFC 3339: when the next attempt is due (pending deliveries).
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    /// HTTP status of the last answer, if there was one.
    #[serde(default)]
    pub last_http_status: Option<i64>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339.
    pub updated_at: Timestamp,
    /// RFC 3339, once delivered.
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
    /// Every attempt, oldest first.
    #[serde(default)]
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// 1, 2, …
    pub attempt: i64,
    /// RFC 3339: when the request was sent.
    pub started_at: Timestamp,
    /// How long until the answer (or the failure), milliseconds.
    pub duration_ms: f64,
    /// The answer's HTTP status, if one came.
    #[serde(default)]
    pub http_status: Option<i64>,
    /// Why it failed (transport error, timeout, non-2xx status).
    #[serde(default)]
    pub error: Option<String>,
    /// The replica that sent it.
    pub replica: String,
}

/// Checks an event pattern: `*`, an event type of lowercase
/// `[a-z0-9_]` words joined by dots (`stack.updated`), or such a prefix
/// followed by `.*` (`change_request.*`).
pub fn check_event_pattern(p: &str) -> Result<(), String> {
    if p == "*" {
        return Ok(());
    }
    let body = p.strip_suffix(".*").unwrap_or(p);
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if p.len() > 200 || !body.split('.').all(word_ok) {
        return Err(format!(
            "event pattern {p:?} must be `*`, an event type such as `stack.updated`, or a prefix such as `change_request.*`"
        ));
    }
    Ok(())
}

/// Whether an event type matches a pattern (see [`check_event_pattern`]):
/// `*` matches everything, `a.*` matches `a.b` and `a.b.c` but not `a` or
/// `ab.c`, anything else only itself.
pub fn event_matches(pattern: &str, event: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => event
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1),
        None => pattern == event,
    }
}

/// The part of a URL that is safe to show anyone and to log: scheme, host
/// and port, with `/…` when the URL has more (a path, a query: where
/// services such as Slack put the credential). User information is dropped.
pub fn url_origin(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(x) => x,
        None => return "…".into(),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let more = &rest[end..];
    let tail = if more.is_empty() || more == "/" {
        "/"
    } else {
        "/…"
    };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn webhook_formats_are_spelled_as_before_and_unknown_ones_name_the_accepted() {
        for (f, name) in WebhookFormat::ALL.iter().zip(WEBHOOK_FORMATS) {
            assert_eq!(f.as_str(), name);
            assert_eq!(serde_json::to_string(f).ok(), Some(format!("\"{name}\"")));
            assert_eq!(name.parse::<WebhookFormat>().ok(), Some(*f));
        }
        let e = "xml".parse::<WebhookFormat>().err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("json, slack")),
            "{e:?}"
        );
    }

    use super::*;

    #[test]
    fn audit_actions_have_one_spelling_each_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
            assert!(check_event_pattern(a.as_str()).is_ok(), "{a}");
        }
        assert_eq!(
            AuditAction::ChangeRequest(ChangeStatus::PendingReview).as_str(),
            "change_request.pending_review"
        );
        assert!("change_request.verified".parse::<AuditAction>().is_err());
    }

    #[test]
    fn patterns_match_exactly_prefixes_or_everything() {
        assert!(event_matches("*", "stack.updated"));
        assert!(event_matches("stack.updated", "stack.updated"));
        assert!(!event_matches("stack.updated", "stack.created"));
        assert!(event_matches(
            "change_request.*",
            "change_request.pending_review"
        ));
        assert!(!event_matches("change_request.*", "change_request"));
        assert!(!event_matches("change.*", "change_request.approved"));
        assert!(!event_matches("stack.*", "agent.rate_limited"));
    }

    #[test]
    fn origins_hide_paths_queries_and_user_information() {
        assert_eq!(
            url_origin("https://hooks.slack.com/services/T0/B0/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            url_origin("http://u:pw@10.1.2.3:8080/?k=v"),
            "http://10.1.2.3:8080/…"
        );
        assert_eq!(
            url_origin("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            url_origin("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(url_origin("nonsense"), "…");
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern_named() {
        for ok in ["*", "stack.updated", "change_request.*", "a.b.c"] {
            assert!(check_event_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Stack.updated",
            "stack.",
            "*.updated",
            "stack*",
            "a..b",
            "a b",
        ] {
            let e = check_event_pattern(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn a_spec_refuses_unknown_fields_and_a_webhook_hides_an_absent_secret() {
        let e =
            serde_json::from_str::<WebhookSpec>(r#"{"url":"http://x","events":["*"],"evnts":[]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("unknown field `evnts`"), "{e}");
        let w = Webhook {
            id: 1,
            url: "http://x/".into(),
            events: vec!["*".into()],
            format: WebhookFormat::Json,
            description: None,
            created_by: "user:admin".into(),
            created_at: Timestamp::from_unix_ms(1_767_225_600_000),
            secret: None,
            deliveries: None,
        };
        assert!(!serde_json::to_string(&w).unwrap().contains("secret"));
    }
}
