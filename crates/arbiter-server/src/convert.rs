//! The boundary between storage rows (`arbiter-store`) and wire types
//! (`arbiter-api`): the store keeps its own row types, the API its JSON
//! bodies, and these functions are the only place one becomes the other,
//! so a change to the JSON never reshapes what is stored.

use arbiter_api::{
    Agent, AgentLimits, AgentScope, AgentUpdate, ChangeRequest, ChangeSource, Review, Stack,
    StackSpec,
};
use arbiter_store::agent_tokens::AgentTokenRow;
use arbiter_store::changes::{ChangeRow, ReviewRow, SourceDoc};
use arbiter_store::policies::PolicySetRow;
use arbiter_store::principals::{
    AgentChange, AgentKeyRow, AgentLimitsDoc, AgentRow, AgentScopeDoc, TokenRow, UserRow,
};
use arbiter_store::stacks::{StackDoc, StackRow};
use arbiter_store::states::{RollbackResourceRow, RollbackRow, StateVersionRow};
use arbiter_store::waivers::WaiverRow;
use arbiter_store::webhooks::{DeliveryRow, WebhookRow};

/// A stored stack as the API shows it.
pub fn stack(r: StackRow) -> Stack {
    Stack {
        spec: stack_spec(r.doc),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        expires_at: r.expires_at,
    }
}

/// Stored stacks as the API shows them.
pub fn stacks(rows: Vec<StackRow>) -> Vec<Stack> {
    rows.into_iter().map(stack).collect()
}

/// Stored settings as the API's spec.
pub fn stack_spec(d: StackDoc) -> StackSpec {
    StackSpec {
        name: d.name,
        environment: d.environment,
        labels: d.labels,
        monthly_budget_usd: d.monthly_budget_usd,
        auto_apply_threshold: d.auto_apply_threshold,
        auto_apply: d.auto_apply,
        policy_sets: d.policy_sets,
        approval_policy: d.approval_policy,
        ttl_seconds: d.ttl_seconds,
        escalate_introduced_at: d.escalate_introduced_at,
        runs: d.runs.map(stack_runs),
    }
}

/// A checked spec as stored.
pub fn stack_doc(s: StackSpec) -> StackDoc {
    StackDoc {
        name: s.name,
        environment: s.environment,
        labels: s.labels,
        monthly_budget_usd: s.monthly_budget_usd,
        auto_apply_threshold: s.auto_apply_threshold,
        auto_apply: s.auto_apply,
        policy_sets: s.policy_sets,
        approval_policy: s.approval_policy,
        ttl_seconds: s.ttl_seconds,
        escalate_introduced_at: s.escalate_introduced_at,
        runs: s.runs.map(stack_runs_doc),
    }
}

/// Stored runs settings as the API's spec.
pub fn stack_runs(d: arbiter_store::stacks::StackRunsDoc) -> arbiter_api::runs::StackRuns {
    use arbiter_api::runs::{PhaseTimeouts, Verification};
    arbiter_api::runs::StackRuns {
        tool: d.tool,
        tool_path: d.tool_path,
        pool: d.pool,
        timeouts: d.timeouts.map(|t| PhaseTimeouts {
            preparing: t.preparing,
            initialising: t.initialising,
            planning: t.planning,
            applying: t.applying,
        }),
        secret_env: d.secret_env,
        secret_files: d.secret_files,
        verification: d.verification.map(|v| Verification {
            window_secs: v.window_secs,
            interval_secs: v.interval_secs,
            health_url: v.health_url,
            prometheus_url: v.prometheus_url,
            promql: v.promql,
        }),
    }
}

/// A checked runs spec as stored.
pub fn stack_runs_doc(s: arbiter_api::runs::StackRuns) -> arbiter_store::stacks::StackRunsDoc {
    use arbiter_store::stacks::{PhaseTimeoutsDoc, VerificationDoc};
    arbiter_store::stacks::StackRunsDoc {
        tool: s.tool,
        tool_path: s.tool_path,
        pool: s.pool,
        timeouts: s.timeouts.map(|t| PhaseTimeoutsDoc {
            preparing: t.preparing,
            initialising: t.initialising,
            planning: t.planning,
            applying: t.applying,
        }),
        secret_env: s.secret_env,
        secret_files: s.secret_files,
        verification: s.verification.map(|v| VerificationDoc {
            window_secs: v.window_secs,
            interval_secs: v.interval_secs,
            health_url: v.health_url,
            prometheus_url: v.prometheus_url,
            promql: v.promql,
        }),
    }
}

/// A stored change request as the API shows it.
pub fn change_request(r: ChangeRow) -> ChangeRequest {
    ChangeRequest {
        id: r.id,
        revision: r.revision,
        stack: r.stack,
        submitter: r.submitter,
        status: r.status,
        decision: r.decision,
        confidence: r.confidence,
        priority: r.priority,
        cost_delta_usd: r.cost_delta_usd,
        resources_changed: r.resources_changed,
        reason: r.reason,
        auto_apply: r.auto_apply,
        intent: r.intent,
        source: r.source.map(source),
        reviews: r.reviews.into_iter().map(review).collect(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        expires_at: r.expires_at,
        verdict: r.verdict,
    }
}

/// Stored change requests as the API shows them.
pub fn change_requests(rows: Vec<ChangeRow>) -> Vec<ChangeRequest> {
    rows.into_iter().map(change_request).collect()
}

/// A stored review as the API shows it.
pub fn review(r: ReviewRow) -> Review {
    Review {
        reviewer: r.reviewer,
        decision: r.decision,
        comment: r.comment,
        created_at: r.created_at,
    }
}

/// A stored source document as the API shows it.
pub fn source(d: SourceDoc) -> ChangeSource {
    ChangeSource {
        repository: d.repository,
        commit: d.commit,
        branch: d.branch,
        diff: d.diff,
    }
}

/// A submitted source as stored.
pub fn source_doc(s: ChangeSource) -> SourceDoc {
    SourceDoc {
        repository: s.repository,
        commit: s.commit,
        branch: s.branch,
        diff: s.diff,
    }
}

/// A stored state version as the API shows it.
pub fn state_version(r: StateVersionRow) -> arbiter_api::StateVersion {
    arbiter_api::StateVersion {
        stack: r.stack,
        version: r.version,
        digest: r.digest,
        size_bytes: r.size_bytes,
        stored_bytes: r.stored_bytes,
        form: r.form,
        serial: r.serial,
        lineage: r.lineage,
        terraform_version: r.terraform_version,
        resource_count: r.resource_count,
        commit: r.commit,
        pushed_by: r.pushed_by,
        origin: r.origin,
        run: r.run,
        forced: r.forced,
        created_at: r.created_at,
    }
}

/// Stored state versions as the API shows them.
pub fn state_versions(rows: Vec<StateVersionRow>) -> Vec<arbiter_api::StateVersion> {
    rows.into_iter().map(state_version).collect()
}

/// A stored rollback as the API shows it.
pub fn rollback(r: RollbackRow) -> arbiter_api::Rollback {
    arbiter_api::Rollback {
        stack: r.stack,
        change_request: r.change_request,
        from_version: r.from_version,
        to_version: r.to_version,
        commit: r.commit,
        resources: r
            .resources
            .into_iter()
            .map(|x| arbiter_api::RollbackResource {
                address: x.address,
                action: x.action,
            })
            .collect(),
        requested_by: r.requested_by,
        created_at: r.created_at,
    }
}

/// A rollback as stored.
pub fn rollback_row(r: arbiter_api::Rollback) -> RollbackRow {
    RollbackRow {
        stack: r.stack,
        change_request: r.change_request,
        from_version: r.from_version,
        to_version: r.to_version,
        commit: r.commit,
        resources: r
            .resources
            .into_iter()
            .map(|x| RollbackResourceRow {
                address: x.address,
                action: x.action,
            })
            .collect(),
        requested_by: r.requested_by,
        created_at: r.created_at,
    }
}

/// A stored waiver as the API shows it.
pub fn waiver(r: WaiverRow) -> arbiter_api::Waiver {
    arbiter_api::Waiver {
        id: r.id,
        stack: r.stack,
        rule: r.rule,
        address: r.address,
        reason: r.reason,
        owner: r.owner,
        expires: r.expires,
        created_by: r.created_by,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
        revoked_by: r.revoked_by,
        expired: r.expired,
    }
}

/// Stored waivers as the API shows them.
pub fn waivers(rows: Vec<WaiverRow>) -> Vec<arbiter_api::Waiver> {
    rows.into_iter().map(waiver).collect()
}

/// A stored subscription as the API shows it.
pub fn webhook(r: WebhookRow) -> arbiter_api::Webhook {
    arbiter_api::Webhook {
        id: r.id,
        url: r.url,
        events: r.events,
        format: r.format,
        description: r.description,
        created_by: r.created_by,
        created_at: r.created_at,
        secret: r.secret,
        deliveries: r.deliveries.map(|c| arbiter_api::DeliveryCounts {
            pending: c.pending,
            delivered: c.delivered,
            failed: c.failed,
            cancelled: c.cancelled,
        }),
    }
}

/// A stored delivery as the API shows it.
pub fn delivery(r: DeliveryRow) -> arbiter_api::Delivery {
    arbiter_api::Delivery {
        id: r.id,
        webhook: r.webhook,
        event_seq: r.event_seq,
        event_type: r.event_type,
        status: r.status,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        last_http_status: r.last_http_status,
        last_error: r.last_error,
        created_at: r.created_at,
        updated_at: r.updated_at,
        delivered_at: r.delivered_at,
        attempt_log: r
            .attempt_log
            .into_iter()
            .map(|a| arbiter_api::DeliveryAttempt {
                attempt: a.attempt,
                started_at: a.started_at,
                duration_ms: a.duration_ms,
                http_status: a.http_status,
                error: a.error,
                replica: a.replica,
            })
            .collect(),
    }
}

/// A stored policy set version as the API shows it.
pub fn policy_set(r: PolicySetRow) -> arbiter_api::PolicySet {
    arbiter_api::PolicySet {
        name: r.name,
        version: r.version,
        kind: r.kind,
        digest: r.digest,
        created_by: r.created_by,
        created_at: r.created_at,
        files: r.files,
    }
}

/// A stored person as the API shows them.
pub fn user(r: UserRow) -> arbiter_api::User {
    arbiter_api::User {
        name: r.name,
        role: r.role,
        created_at: r.created_at,
        has_password: r.has_password,
    }
}

/// A stored API token as the API shows it.
pub fn token(r: TokenRow) -> arbiter_api::Token {
    arbiter_api::Token {
        id: r.id,
        user: r.user,
        label: r.label,
        token: r.token,
        created_at: r.created_at,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

/// A stored agent as the API shows it.
pub fn agent(r: AgentRow) -> Agent {
    Agent {
        name: r.name,
        description: r.description,
        keys: r.keys.into_iter().map(agent_key).collect(),
        scope: agent_scope(r.scope),
        limits: agent_limits(r.limits),
        created_by: r.created_by,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
    }
}

/// Stored agents as the API shows them.
pub fn agents(rows: Vec<AgentRow>) -> Vec<Agent> {
    rows.into_iter().map(agent).collect()
}

/// A stored agent key as the API shows it.
pub fn agent_key(r: AgentKeyRow) -> arbiter_api::AgentKeyInfo {
    arbiter_api::AgentKeyInfo {
        key_id: r.key_id,
        public_key: r.public_key,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
    }
}

/// A stored scope as the API's.
pub fn agent_scope(d: AgentScopeDoc) -> AgentScope {
    AgentScope {
        stacks: d.stacks,
        stack_labels: d.stack_labels,
        actions: d.actions,
        resource_types: d.resource_types,
        max_blast_radius: d.max_blast_radius,
        max_monthly_cost_increase_usd: d.max_monthly_cost_increase_usd,
        max_ttl_seconds: d.max_ttl_seconds,
        may_auto_apply: d.may_auto_apply,
    }
}

/// A checked scope as stored.
pub fn agent_scope_doc(s: AgentScope) -> AgentScopeDoc {
    AgentScopeDoc {
        stacks: s.stacks,
        stack_labels: s.stack_labels,
        actions: s.actions,
        resource_types: s.resource_types,
        max_blast_radius: s.max_blast_radius,
        max_monthly_cost_increase_usd: s.max_monthly_cost_increase_usd,
        max_ttl_seconds: s.max_ttl_seconds,
        may_auto_apply: s.may_auto_apply,
    }
}

/// Stored limits as the API's.
pub fn agent_limits(d: AgentLimitsDoc) -> AgentLimits {
    AgentLimits {
        submissions_per_minute: d.submissions_per_minute,
        blast_radius_per_hour: d.blast_radius_per_hour,
    }
}

/// Checked limits as stored.
pub fn agent_limits_doc(l: AgentLimits) -> AgentLimitsDoc {
    AgentLimitsDoc {
        submissions_per_minute: l.submissions_per_minute,
        blast_radius_per_hour: l.blast_radius_per_hour,
    }
}

/// A checked agent update as the store's change (the added key, which the
/// caller parses, apart).
pub fn agent_change(u: AgentUpdate) -> AgentChange {
    AgentChange {
        description: u.description,
        scope: u.scope.map(agent_scope_doc),
        limits: u.limits.map(agent_limits_doc),
    }
}

/// A stored agent token as the API shows it.
pub fn agent_token(r: AgentTokenRow) -> arbiter_api::AgentToken {
    arbiter_api::AgentToken {
        id: r.id,
        agent: r.agent,
        key_id: r.key_id,
        label: r.label,
        token: r.token,
        created_at: r.created_at,
        expires_at: r.expires_at,
    }
}

// ---------------------------------------------------------------- runs
// (issue 12: the store's run rows; kept in one block)

/// A stored run as the API shows it.
pub fn run(r: arbiter_store::runs::RunRow) -> arbiter_api::runs::Run {
    arbiter_api::runs::Run {
        id: r.id,
        change_request: r.change_request,
        revision: r.revision,
        stack: r.stack,
        kind: r.kind,
        phase: r.phase,
        source: r.source,
        confirmation: r.confirmation,
        pool: r.pool,
        worker: r.worker,
        tool: r.tool.map(tool_info),
        judged_digest: r.judged_digest,
        planned_digest: r.planned_digest,
        state_version: r.state_version,
        error: r.error,
        cancel_requested: r.cancel_requested,
        phases: r.phases.into_iter().map(phase_span).collect(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Stored runs as the API shows them.
pub fn runs(rows: Vec<arbiter_store::runs::RunRow>) -> Vec<arbiter_api::runs::Run> {
    rows.into_iter().map(run).collect()
}

/// A stored phase span as the API shows it.
pub fn phase_span(p: arbiter_store::runs::PhaseSpanRow) -> arbiter_api::runs::PhaseSpan {
    arbiter_api::runs::PhaseSpan {
        phase: p.phase,
        started_at: p.started_at,
        ended_at: p.ended_at,
    }
}

/// A stored tool document as the API shows it.
pub fn tool_info(t: arbiter_store::runs::ToolDoc) -> arbiter_api::runs::ToolInfo {
    arbiter_api::runs::ToolInfo {
        kind: t.kind,
        path: t.path,
        version: t.version,
    }
}

/// A worker's tool report as stored.
pub fn tool_doc(t: arbiter_api::runs::ToolInfo) -> arbiter_store::runs::ToolDoc {
    arbiter_store::runs::ToolDoc {
        kind: t.kind,
        path: t.path,
        version: t.version,
    }
}

/// A stored worker-pool token as the API lists it.
pub fn worker_token(
    t: arbiter_store::runs::WorkerTokenRow,
) -> arbiter_api::runs::WorkerPoolTokenInfo {
    arbiter_api::runs::WorkerPoolTokenInfo {
        id: t.id,
        pool: t.pool,
        prefix: t.prefix,
        created_by: t.created_by,
        created_at: t.created_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
        revoked_by: t.revoked_by,
    }
}

/// A stored bundle as the API shows it.
pub fn bundle(b: arbiter_store::runs::BundleRow) -> arbiter_api::runs::BundleInfo {
    arbiter_api::runs::BundleInfo {
        sha256: b.sha256,
        size_bytes: b.size_bytes,
        files: b.files,
        created_at: b.created_at,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_source_keeps_every_field_across_the_boundary_and_stores_the_same_json() {
        let s = ChangeSource {
            repository: Some("git@example:infra".into()),
            commit: Some("abc123".into()),
            branch: None,
            diff: Some("--- a\n+++ b\n".into()),
        };
        let d = source_doc(s.clone());
        assert_eq!(
            serde_json::to_string(&d).ok(),
            serde_json::to_string(&s).ok(),
            "the stored document is the JSON clients sent"
        );
        assert_eq!(source(d), s);
    }

    #[test]
    fn a_stack_spec_is_stored_as_the_same_json_and_reads_back_equal() {
        let spec: StackSpec = serde_json::from_str(
            r#"{"name":"web","environment":"staging","labels":["team:a"],"monthly_budget_usd":120.5,"ttl_seconds":3600,"escalate_introduced_at":"high"}"#,
        )
        .unwrap();
        let doc = stack_doc(spec.clone());
        assert_eq!(
            serde_json::to_string(&doc).ok(),
            serde_json::to_string(&spec).ok()
        );
        assert_eq!(stack_spec(doc), spec);
    }

    #[test]
    fn a_waiver_row_serialises_as_the_wire_waiver_so_its_audit_entries_did_not_change() {
        let row = WaiverRow {
            id: 7,
            stack: "web".into(),
            rule: "aws_s3_public".into(),
            address: "aws_s3_bucket.*".into(),
            reason: "public site".into(),
            owner: "team-a".into(),
            expires: "2030-01-01".into(),
            created_by: "user:ann".into(),
            created_at: arbiter_api::Timestamp::from_unix_ms(1_700_000_000_123),
            revoked_at: Some(arbiter_api::Timestamp::from_unix_ms(1_700_000_100_000)),
            revoked_by: None,
            expired: false,
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::to_value(waiver(row.clone())).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            serde_json::to_string(&waiver(row)).unwrap(),
            "same field order"
        );
    }

    #[test]
    fn an_agent_scope_and_limits_are_stored_as_the_same_json_and_read_back_equal() {
        let scope: AgentScope = serde_json::from_str(
            r#"{"stacks":["web-*"],"stack_labels":["team:a"],"actions":["create","delete"],"resource_types":["aws_s3_*"],"max_blast_radius":4,"max_monthly_cost_increase_usd":12.5,"max_ttl_seconds":600,"may_auto_apply":true}"#,
        )
        .unwrap();
        let doc = agent_scope_doc(scope.clone());
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            serde_json::to_string(&scope).unwrap(),
            "the stored document is the scope's JSON, field for field"
        );
        assert_eq!(agent_scope(doc), scope);
        let limits = AgentLimits {
            submissions_per_minute: 7,
            blast_radius_per_hour: 70,
        };
        let doc = agent_limits_doc(limits.clone());
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            serde_json::to_string(&limits).unwrap()
        );
        assert_eq!(agent_limits(doc), limits);
    }

    #[test]
    fn a_stored_scope_or_limits_missing_fields_read_as_the_api_defaults() {
        let scope: AgentScopeDoc = serde_json::from_str("{}").unwrap();
        assert_eq!(agent_scope(scope.clone()), AgentScope::default());
        assert_eq!(scope, AgentScopeDoc::default());
        let limits: AgentLimitsDoc = serde_json::from_str("{}").unwrap();
        assert_eq!(agent_limits(limits.clone()), AgentLimits::default());
        assert_eq!(limits, AgentLimitsDoc::default());
        // A field a later version adds does not make the row unreadable.
        let later: AgentScopeDoc =
            serde_json::from_str(r#"{"stacks":["a"],"max_runs_per_day":3}"#).unwrap();
        assert_eq!(later.stacks, ["a"]);
    }

    #[test]
    fn stack_runs_settings_are_stored_in_the_wire_spelling_and_read_back_equal() {
        let spec: arbiter_api::runs::StackRuns = serde_json::from_str(
            r#"{"tool":"tofu","tool_path":"/opt/tofu","pool":"eu","timeouts":{"preparing":1,"initialising":2,"planning":3,"applying":4},"secret_env":["TF_VAR_pw"],"secret_files":{"token":"/run/secrets/t"},"verification":{"window_secs":60,"interval_secs":5,"health_url":"http://127.0.0.1:9/h","prometheus_url":"http://127.0.0.1:9090","promql":"up == 1"}}"#,
        )
        .unwrap();
        let doc = stack_runs_doc(spec.clone());
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            serde_json::to_string(&spec).unwrap(),
            "the stored document is the spec's JSON, field for field"
        );
        assert_eq!(stack_runs(doc), spec);
        // A stored document with a field a later version adds still reads
        // (the API's spec refuses it in a request).
        let later: arbiter_store::stacks::StackRunsDoc =
            serde_json::from_str(r#"{"pool":"eu","max_parallel":2}"#).unwrap();
        assert_eq!(later.pool.as_deref(), Some("eu"));
        assert!(
            serde_json::from_str::<arbiter_api::runs::StackRuns>(r#"{"max_parallel":2}"#).is_err()
        );
    }

    #[test]
    fn a_run_tool_document_is_stored_in_the_wire_spelling() {
        let t = arbiter_api::runs::ToolInfo {
            kind: arbiter_api::runs::ToolKind::Terraform,
            path: "/usr/bin/terraform".into(),
            version: "1.11.4".into(),
        };
        let doc = tool_doc(t.clone());
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            serde_json::to_string(&t).unwrap()
        );
        assert_eq!(tool_info(doc), t);
    }
}
