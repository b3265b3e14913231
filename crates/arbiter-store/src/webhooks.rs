//! Webhook subscriptions and their deliveries.
//!
//! Events are audit entries. [`WriteCtx::audit`] calls [`enqueue`] right
//! after appending an entry, in the same transaction, so a delivery exists
//! if and only if its event does. To keep that free when nobody subscribes,
//! each writer keeps the active subscriptions in memory ([`Cache`]) and
//! reloads them only when the `webhooks_version` counter changed (checked
//! once per batch, so a change made by another replica is seen by the next
//! batch) or a job of its own changed them.
//!
//! Deliveries are rows: claimed for a lease by one replica (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, the single writer on SQLite), attempted over
//! HTTP by the server, and released for a retry, marked delivered or failed.
//! A delivery whose replica died mid-attempt is claimed again once its lease
//! ran out. Delivery outcomes are not audit entries: each would be an event
//! that causes more deliveries.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{
    event_matches, url_origin, DeliveryStatus, Timestamp, WebhookFormat, PING_EVENT,
};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};

/// One active subscription as the writer keeps it.
#[derive(Debug, Clone)]
struct Subscription {
    id: i64,
    patterns: Vec<String>,
}

/// The writer's copy of the active subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// The `webhooks_version` the copy was loaded at (`-1`: never).
    version: i64,
    subs: Vec<Subscription>,
    /// Reload before the next use (a job changed subscriptions, or a job or
    /// batch that did was rolled back).
    pub(crate) stale: bool,
    /// Bumped whenever this writer changes subscriptions, so the writer can
    /// tell whether a failed job had.
    pub(crate) epoch: u64,
    /// Deliveries inserted in the current batch.
    pub(crate) enqueued: u64,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            version: -1,
            stale: true,
            ..Cache::default()
        }
    }
}

async fn version(conn: &mut AnyConnection) -> Result<i64> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT value FROM counters WHERE name = 'webhooks_version'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(v.unwrap_or(0))
}

async fn reload(conn: &mut AnyConnection, cache: &mut Cache) -> Result<()> {
    let v = version(conn).await?;
    let rows = sqlx::query("SELECT id, events FROM webhooks WHERE deleted_at IS NULL ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let mut subs = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let patterns: Vec<String> = parse_doc(
            "webhook",
            &id.to_string(),
            &r.try_get::<String, _>("events")?,
        )?;
        subs.push(Subscription { id, patterns });
    }
    cache.subs = subs;
    cache.version = v;
    cache.stale = false;
    Ok(())
}

/// At the start of a batch: reload if another replica (or a rolled-back
/// job) changed the subscriptions. One indexed read per batch.
pub(crate) async fn refresh(conn: &mut AnyConnection, cache: &mut Cache) -> Result<()> {
    cache.enqueued = 0;
    if cache.stale || version(conn).await? != cache.version {
        reload(conn, cache).await?;
    }
    Ok(())
}

/// The delivery identifier of an event for a subscription.
pub fn delivery_id(event_seq: u64, webhook: i64) -> String {
    format!("{event_seq}-{webhook}")
}

/// Inserts the deliveries of one event (called by [`WriteCtx::audit`]).
/// The ping event goes only to the subscription it names.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    cache: &mut Cache,
    now: i64,
    seq: u64,
    action: &str,
    subject: &str,
) -> Result<()> {
    if cache.stale {
        reload(conn, cache).await?;
    }
    if cache.subs.is_empty() {
        return Ok(());
    }
    let ping_target = if action == PING_EVENT {
        subject
            .strip_prefix("webhook:")
            .and_then(|s| s.parse::<i64>().ok())
    } else {
        None
    };
    let targets: Vec<i64> = cache
        .subs
        .iter()
        .filter(|s| match ping_target {
            Some(t) => s.id == t,
            None => action != PING_EVENT && s.patterns.iter().any(|p| event_matches(p, action)),
        })
        .map(|s| s.id)
        .collect();
    for id in targets {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook, event_seq, event_type, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(delivery_id(seq, id))
        .bind(id)
        .bind(seq as i64)
        .bind(action)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        cache.enqueued += 1;
    }
    Ok(())
}

/// Marks the subscriptions changed: bumps the version every replica's
/// writer checks, and reloads this writer's copy before its next use.
async fn changed(cx: &mut WriteCtx) -> Result<()> {
    sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'webhooks_version'")
        .execute(cx.conn())
        .await?;
    let c = cx.hooks_mut();
    c.stale = true;
    c.epoch += 1;
    Ok(())
}

/// A stored subscription (the API's `Webhook`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRow {
    /// Identifier.
    pub id: i64,
    /// URL.
    pub url: String,
    /// Event patterns.
    pub events: Vec<String>,
    /// `json` or `slack`.
    pub format: WebhookFormat,
    /// Description.
    pub description: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// The signing secret (only in the answer to its creation).
    pub secret: Option<String>,
    /// Delivery counts (one subscription's read).
    pub deliveries: Option<DeliveryCountsRow>,
}

/// A subscription's deliveries by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCountsRow {
    /// Pending.
    pub pending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Failed.
    pub failed: i64,
    /// Cancelled.
    pub cancelled: i64,
}

/// A stored delivery (the API's `Delivery`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// `EVENTSEQ-WEBHOOK`.
    pub id: String,
    /// The subscription.
    pub webhook: i64,
    /// The event's audit sequence number.
    pub event_seq: i64,
    /// The event type.
    pub event_type: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// The next attempt (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// The last attempt's HTTP status.
    pub last_http_status: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Updated.
    pub updated_at: Timestamp,
    /// Delivered.
    pub delivered_at: Option<Timestamp>,
    /// Its attempts, oldest first.
    pub attempt_log: Vec<AttemptRow>,
}

/// One stored attempt of a delivery (the API's `DeliveryAttempt`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    /// 1, 2, …
    pub attempt: i64,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it took, ms.
    pub duration_ms: f64,
    /// The HTTP status answered.
    pub http_status: Option<i64>,
    /// The error, if any.
    pub error: Option<String>,
    /// The replica that sent it.
    pub replica: String,
}

/// A subscription to store (checked by the caller).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// URL.
    pub url: String,
    /// Patterns.
    pub events: Vec<String>,
    /// `json` or `slack`.
    pub format: WebhookFormat,
    /// Signing secret.
    pub secret: String,
    /// Description.
    pub description: Option<String>,
}

/// Hex SHA-256 of a URL: recorded in the audit log instead of the URL,
/// whose path may be a credential.
pub fn url_digest(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// Creates a subscription and records `webhook.created` (without the secret
/// and with the URL's origin and digest only). The answer carries the
/// secret; nothing else ever does.
pub async fn create(cx: &mut WriteCtx, w: &NewWebhook, actor: &str) -> Result<WebhookRow> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'webhook' RETURNING value",
    )
    .fetch_one(cx.conn())
    .await?;
    let now = cx.now_ms();
    sqlx::query(
        "INSERT INTO webhooks (id, url, events, format, secret, description, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&w.url)
    .bind(to_doc(&w.events))
    .bind(w.format.as_str())
    .bind(&w.secret)
    .bind(&w.description)
    .bind(actor)
    .bind(now)
    .execute(cx.conn())
    .await?;
    changed(cx).await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::WebhookCreated,
        &format!("webhook:{id}"),
        &serde_json::json!({
            "url_origin": url_origin(&w.url),
            "url_sha256": url_digest(&w.url),
            "events": w.events,
            "format": w.format,
            "description": w.description,
        }),
    )
    .await?;
    Ok(WebhookRow {
        id,
        url: w.url.clone(),
        events: w.events.clone(),
        format: w.format,
        description: w.description.clone(),
        created_by: actor.into(),
        created_at: Timestamp::from_unix_ms(now),
        secret: Some(w.secret.clone()),
        deliveries: None,
    })
}

/// Deletes a subscription: forgets its secret, cancels its pending
/// deliveries (the log of past ones stays) and records `webhook.deleted`.
pub async fn delete(cx: &mut WriteCtx, id: i64, actor: &str) -> Result<()> {
    let now = cx.now_ms();
    let n = sqlx::query(
        "UPDATE webhooks SET deleted_at = $1, secret = '' WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(cx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "webhook",
            key: id.to_string(),
        });
    }
    let cancelled = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = $1 \
         WHERE webhook = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(cx.conn())
    .await?
    .rows_affected();
    changed(cx).await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::WebhookDeleted,
        &format!("webhook:{id}"),
        &serde_json::json!({"cancelled_deliveries": cancelled}),
    )
    .await?;
    Ok(())
}

/// Records a `webhook.ping` event for one subscription (delivered to it
/// only); returns the delivery's identifier.
pub async fn ping(cx: &mut WriteCtx, id: i64, actor: &str) -> Result<String> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(cx.conn())
            .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: "webhook",
            key: id.to_string(),
        });
    }
    let seq = cx
        .audit(
            actor,
            arbiter_api::AuditAction::WebhookPing,
            &format!("webhook:{id}"),
            &serde_json::json!({"requested_by": actor}),
        )
        .await?;
    Ok(delivery_id(seq, id))
}

const COLUMNS: &str = "id, url, events, format, description, created_by, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<WebhookRow> {
    let id: i64 = r.try_get("id")?;
    Ok(WebhookRow {
        events: parse_doc(
            "webhook",
            &id.to_string(),
            &r.try_get::<String, _>("events")?,
        )?,
        id,
        url: r.try_get("url")?,
        format: crate::parse_col(r, "format", "webhook", &id)?,
        description: r.try_get("description")?,
        created_by: r.try_get("created_by")?,
        created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
        secret: None,
        deliveries: None,
    })
}

/// One active subscription (without its secret), with its delivery counts.
pub async fn get(pool: &AnyPool, id: i64) -> Result<Option<WebhookRow>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut w = from_row(&row)?;
    let mut counts = DeliveryCountsRow::default();
    for r in sqlx::query(
        "SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE webhook = $1 GROUP BY status",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    {
        let n: i64 = r.try_get("n")?;
        match crate::parse_col(&r, "status", "webhook delivery", &id)? {
            DeliveryStatus::Pending => counts.pending = n,
            DeliveryStatus::Delivered => counts.delivered = n,
            DeliveryStatus::Failed => counts.failed = n,
            DeliveryStatus::Cancelled => counts.cancelled = n,
        }
    }
    w.deliveries = Some(counts);
    Ok(Some(w))
}

/// Whether a subscription with this id was ever created (deleted ones
/// keep their delivery log).
pub async fn ever_existed(pool: &AnyPool, id: i64) -> Result<bool> {
    let n: Option<i64> = sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(n.is_some())
}

/// Every active subscription (without secrets), by id.
pub async fn list(pool: &AnyPool) -> Result<Vec<WebhookRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY id"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

const DELIVERY_COLUMNS: &str = "id, webhook, event_seq, event_type, status, attempts, next_attempt_at, last_http_status, last_error, created_at, updated_at, delivered_at";

fn delivery_from_row(r: &sqlx::any::AnyRow) -> Result<DeliveryRow> {
    let id: String = r.try_get("id")?;
    let status: DeliveryStatus = crate::parse_col(r, "status", "webhook delivery", &id)?;
    let next: Option<i64> = r.try_get("next_attempt_at")?;
    let delivered: Option<i64> = r.try_get("delivered_at")?;
    Ok(DeliveryRow {
        id,
        webhook: r.try_get("webhook")?,
        event_seq: r.try_get("event_seq")?,
        event_type: r.try_get("event_type")?,
        next_attempt_at: next
            .filter(|_| status == DeliveryStatus::Pending)
            .map(Timestamp::from_unix_ms),
        status,
        attempts: r.try_get("attempts")?,
        last_http_status: r.try_get("last_http_status")?,
        last_error: r.try_get("last_error")?,
        created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
        updated_at: Timestamp::from_unix_ms(r.try_get("updated_at")?),
        delivered_at: delivered.map(Timestamp::from_unix_ms),
        attempt_log: Vec::new(),
    })
}

/// The newest `limit` deliveries of a subscription (deleted ones too),
/// newest first, each with its attempts; `status` filters.
pub async fn deliveries(
    pool: &AnyPool,
    webhook: i64,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook = $1 AND ($2 = '' OR status = $2) \
         ORDER BY event_seq DESC LIMIT $3"
    )))
    .bind(webhook)
    .bind(status.map_or("", DeliveryStatus::as_str))
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    let mut out: Vec<DeliveryRow> = rows.iter().map(delivery_from_row).collect::<Result<_>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let min_seq = out.iter().map(|d| d.event_seq).min().unwrap_or(0);
    let attempts = sqlx::query(
        "SELECT a.delivery, a.attempt, a.started_at, a.duration_ms, a.http_status, a.error, a.sent_by \
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery \
         WHERE d.webhook = $1 AND d.event_seq >= $2 ORDER BY a.delivery, a.attempt",
    )
    .bind(webhook)
    .bind(min_seq)
    .fetch_all(pool)
    .await?;
    let mut by_id: std::collections::HashMap<String, Vec<AttemptRow>> =
        std::collections::HashMap::new();
    for r in attempts {
        let started: i64 = r.try_get("started_at")?;
        by_id
            .entry(r.try_get("delivery")?)
            .or_default()
            .push(AttemptRow {
                attempt: r.try_get("attempt")?,
                started_at: Timestamp::from_unix_ms(started),
                duration_ms: r.try_get("duration_ms")?,
                http_status: r.try_get("http_status")?,
                error: r.try_get("error")?,
                replica: r.try_get("sent_by")?,
            });
    }
    for d in &mut out {
        if let Some(a) = by_id.remove(&d.id) {
            d.attempt_log = a;
        }
    }
    Ok(out)
}

/// Whether any pending delivery is due by `at` (a cheap read, so an idle
/// worker does not queue writes).
pub async fn any_due(pool: &AnyPool, at: i64) -> Result<bool> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1",
    )
    .bind(at)
    .fetch_optional(pool)
    .await?;
    Ok(n.is_some())
}

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Delivery identifier.
    pub id: String,
    /// Subscription.
    pub webhook: i64,
    /// Event sequence number.
    pub event_seq: i64,
    /// Event type.
    pub event_type: String,
    /// This attempt's number (1, 2, …).
    pub attempt: i64,
    /// Where to send it.
    pub url: String,
    /// `json` or `slack`.
    pub format: WebhookFormat,
    /// The signing secret. Never log it.
    pub secret: String,
}

/// Claims up to `limit` due deliveries for `lease_ms`. A delivery whose
/// previous claim ran out without an outcome (its replica stopped) gets
/// that attempt logged as lost before it is claimed again.
pub async fn claim(
    cx: &mut WriteCtx,
    worker: &str,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<Claimed>> {
    let now = cx.now_ms();
    // Only the deliveries are locked: locking their subscriptions as well
    // would make replicas skip each other's deliveries to the same URL.
    let sql = format!(
        "SELECT id, webhook, event_seq, event_type, attempts, claimed_by, claimed_until FROM webhook_deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) \
         ORDER BY next_attempt_at LIMIT {}{}",
        limit.clamp(1, 1000),
        cx.backend().skip_locked()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(cx.conn())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let webhook: i64 = r.try_get("webhook")?;
        let attempts: i64 = r.try_get("attempts")?;
        let lost: Option<i64> = r.try_get("claimed_until")?;
        if let Some(until) = lost {
            let by: Option<String> = r.try_get("claimed_by")?;
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery, attempt, started_at, duration_ms, http_status, error, sent_by) \
                 VALUES ($1, $2, $3, 0, NULL, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(attempts)
            .bind((until - lease_ms).max(0))
            .bind("no outcome recorded: the replica sending it stopped before it finished (lease expired)")
            .bind(by.unwrap_or_default())
            .execute(cx.conn())
            .await?;
        }
        let hook = sqlx::query(
            "SELECT url, format, secret FROM webhooks WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(webhook)
        .fetch_optional(cx.conn())
        .await?;
        let Some(hook) = hook else {
            sqlx::query("UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, claimed_until = NULL, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(cx.conn())
                .await?;
            continue;
        };
        let attempt = attempts + 1;
        sqlx::query(
            "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2, attempts = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(worker)
        .bind(now + lease_ms)
        .bind(attempt)
        .bind(now)
        .bind(&id)
        .execute(cx.conn())
        .await?;
        out.push(Claimed {
            id,
            webhook,
            event_seq: r.try_get("event_seq")?,
            event_type: r.try_get("event_type")?,
            attempt,
            url: hook.try_get("url")?,
            format: crate::parse_col(&hook, "format", "webhook", &webhook)?,
            secret: hook.try_get("secret")?,
        });
    }
    Ok(out)
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the request was sent (ms).
    pub started_at: i64,
    /// How long it took (ms).
    pub duration_ms: f64,
    /// The answer's status, if one came.
    pub http_status: Option<u16>,
    /// Why it failed; `None` means delivered (a 2xx answer).
    pub error: Option<String>,
    /// When to try again after a failure; `None` gives up (`failed`).
    pub retry_at: Option<i64>,
}

/// Records an attempt and moves the delivery on (delivered, retry at
/// `retry_at`, or failed). Returns `false`, recording nothing, when the
/// claim is no longer this worker's (its lease ran out and another replica
/// took the delivery).
pub async fn record(cx: &mut WriteCtx, c: &Claimed, worker: &str, o: &Outcome) -> Result<bool> {
    let now = cx.now_ms();
    let (status, next, delivered_at) = match (&o.error, o.retry_at) {
        (None, _) => (DeliveryStatus::Delivered, None, Some(now)),
        (Some(_), Some(at)) => (DeliveryStatus::Pending, Some(at), None),
        (Some(_), None) => (DeliveryStatus::Failed, None, None),
    };
    let n = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, claimed_by = NULL, claimed_until = NULL, \
         last_http_status = $3, last_error = $4, updated_at = $5, delivered_at = $6 \
         WHERE id = $7 AND claimed_by = $8 AND attempts = $9 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(next)
    .bind(o.http_status.map(i64::from))
    .bind(&o.error)
    .bind(now)
    .bind(delivered_at)
    .bind(&c.id)
    .bind(worker)
    .bind(c.attempt)
    .execute(cx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery, attempt, started_at, duration_ms, http_status, error, sent_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&c.id)
    .bind(c.attempt)
    .bind(o.started_at)
    .bind(o.duration_ms)
    .bind(o.http_status.map(i64::from))
    .bind(&o.error)
    .bind(worker)
    .execute(cx.conn())
    .await?;
    Ok(true)
}

/// The event of a delivery: the audit entry and its payload.
pub async fn event(pool: &AnyPool, seq: i64) -> Result<crate::audit::StoredEntry> {
    crate::audit::entries(pool, seq.max(0) as u64, 1)
        .await?
        .into_iter()
        .find(|e| e.entry.seq == seq as u64)
        .ok_or_else(|| StoreError::NotFound {
            what: "audit entry",
            key: seq.to_string(),
        })
}
