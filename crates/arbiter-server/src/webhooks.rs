//! Delivering webhook events, in every replica.
//!
//! The worker wakes when this process committed new deliveries, or every
//! poll interval (for deliveries other replicas enqueued, retries coming
//! due and leases running out). It claims due deliveries through the store's
//! writer (each is claimed by one replica, for a lease), sends them
//! concurrently, and records each attempt: a 2xx answer is delivered;
//! anything else (another status, a timeout, a refused connection, a
//! redirect) is retried with exponential backoff and jitter, until the
//! configured number of attempts is spent and the delivery is `failed`.
//!
//! Each request is signed: `X-Arbiter-Signature: sha256=<hex
//! HMAC-SHA256(secret, timestamp "." body)>` with `X-Arbiter-Timestamp` the
//! Unix time in seconds (docs/webhooks.md shows how to check it). Secrets
//! and URL paths never reach the log: errors name the URL's origin only.

use crate::AppState;
use arbiter_api::{
    url_origin, HEADER_WEBHOOK_DELIVERY, HEADER_WEBHOOK_EVENT, HEADER_WEBHOOK_SIGNATURE,
    HEADER_WEBHOOK_TIMESTAMP,
};
use arbiter_store::webhooks::{Claimed, Outcome};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How often to look for due deliveries besides being woken.
    pub poll: Duration,
    /// Longest wait for a receiver's answer.
    pub timeout: Duration,
    /// Attempts before a delivery is `failed` (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled after each further failure.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_max: Duration,
    /// How long a claimed delivery stays this replica's; after that (the
    /// replica died mid-attempt) another replica may send it again. At
    /// least `timeout` + 1 s, so a live attempt is never sent twice.
    pub lease: Duration,
    /// Most deliveries sent at once by one replica.
    pub concurrency: usize,
    /// The server's address as receivers should use it in links
    /// (`https://arbiter.example.com`); default `http://` and the address
    /// the server bound.
    pub public_url: Option<String>,
    /// Refuse targets on loopback, private, link-local or unspecified
    /// addresses (`--webhook-deny-private`, see [`crate::egress`]).
    pub deny_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_attempts: 12,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            concurrency: 16,
            public_url: None,
            deny_private: false,
        }
    }
}

/// The delay before attempt `failed + 1`, after `failed` failures:
/// `base × 2^(failed−1)`, capped at `max`, plus up to 25 % jitter (so
/// receivers that failed together are not retried in lockstep; the jitter
/// never makes a later delay shorter than an earlier one below the cap).
pub fn backoff(cfg: &WebhookConfig, failed: u32, jitter: f64) -> Duration {
    let exp = failed.saturating_sub(1).min(30);
    let base = cfg.backoff_base.as_secs_f64() * f64::from(1u32 << exp);
    let capped = base.min(cfg.backoff_max.as_secs_f64());
    Duration::from_secs_f64(capped * (1.0 + 0.25 * jitter.clamp(0.0, 1.0)))
}

fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// `sha256=<hex HMAC-SHA256(secret, timestamp "." body)>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The API path of an audit subject, for the payload's link.
fn subject_path(subject: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    match subject.split_once(':') {
        Some(("change_request", id)) => format!("/api/v1/change-requests/{}", enc(id)),
        Some(("stack", n)) => format!("/api/v1/stacks/{}", enc(n)),
        Some(("agent", n)) => format!("/api/v1/agents/{}", enc(n)),
        Some(("policy_set", n)) => format!("/api/v1/policy-sets/{}", enc(n)),
        Some(("webhook", n)) => format!("/api/v1/webhooks/{}", enc(n)),
        _ => format!("/api/v1/audit/subjects/{}", enc(subject)),
    }
}

/// The JSON body of a delivery (format `json`).
pub fn json_body(
    delivery: &str,
    entry: &arbiter_audit::Entry,
    payload: &Value,
    base_url: &str,
) -> Value {
    json!({
        "delivery": delivery,
        "event_id": entry.seq,
        "type": entry.action,
        "time": entry.time.to_string(),
        "actor": entry.actor,
        "subject": entry.subject,
        "payload": payload,
        "link": format!("{base_url}{}", subject_path(&entry.subject)),
        "entry_hash": entry.hash.to_hex(),
    })
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A message a person can read in a channel (format `slack`): one line of
/// text (notifications and clients without blocks), and blocks with the
/// event, who did it, the main facts of the payload and a link.
pub fn slack_body(entry: &arbiter_audit::Entry, payload: &Value, base_url: &str) -> Value {
    let link = format!("{base_url}{}", subject_path(&entry.subject));
    let text = format!(
        "Arbiter: {} on {} by {}",
        entry.action, entry.subject, entry.actor
    );
    let mut facts = Vec::new();
    if let Some(obj) = payload.as_object() {
        for key in [
            "status",
            "decision",
            "confidence",
            "stack",
            "reason",
            "cost_delta_usd",
            "version",
            "kind",
        ] {
            match obj.get(key) {
                Some(Value::String(s)) => facts.push(format!("*{key}:* {}", slack_escape(s))),
                Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => facts.push(format!("*{key}:* {i}")),
                    (None, Some(f)) => facts.push(format!("*{key}:* {f:.1}")),
                    _ => {}
                },
                Some(Value::Bool(b)) => facts.push(format!("*{key}:* {b}")),
                _ => {}
            }
        }
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("Arbiter: {}", entry.action)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* by `{}`\n<{}|Open {}>",
            slack_escape(&entry.subject),
            slack_escape(&entry.actor),
            link,
            slack_escape(&entry.subject)
        )}}),
    ];
    if !facts.is_empty() {
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": facts.join("\n")}}));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "audit entry #{} · {}",
            entry.seq,
            entry.time
        )}]}),
    );
    json!({"text": text, "blocks": blocks})
}

/// The base of links in payloads.
fn base_url(app: &AppState) -> String {
    match &app.config.webhooks.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", app.config.listen),
    }
}

/// Describes a transport error without the URL (its path may be a secret).
fn transport_error(e: reqwest::Error, timeout: Duration, origin: &str) -> String {
    if e.is_timeout() {
        return format!("no answer from {origin} within {timeout:?}");
    }
    let mut msg = String::new();
    let e = e.without_url();
    let mut cur: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !msg.contains(&s) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&s);
        }
        cur = err.source();
    }
    format!("{origin}: {msg}")
}

/// Sends one claimed delivery and says how it went (not yet recorded).
async fn attempt(app: &AppState, http: &reqwest::Client, c: &Claimed) -> Outcome {
    let started_at = arbiter_store::now_ms();
    let t = Instant::now();
    let cfg = &app.config.webhooks;
    let origin = url_origin(&c.url);
    let failed = |error: String, status: Option<u16>, t: Instant| {
        let retry_at = (c.attempt < i64::from(cfg.max_attempts.max(1))).then(|| {
            let d = backoff(cfg, c.attempt.max(1) as u32, random_unit());
            arbiter_store::now_ms() + d.as_millis() as i64
        });
        Outcome {
            started_at,
            duration_ms: t.elapsed().as_secs_f64() * 1e3,
            http_status: status,
            error: Some(error),
            retry_at,
        }
    };
    // Refused targets are not retried: the same URL is refused again.
    let refused = |r: crate::egress::Refused, t: Instant| Outcome {
        started_at,
        duration_ms: t.elapsed().as_secs_f64() * 1e3,
        http_status: None,
        error: Some(format!("{origin}: {r}")),
        retry_at: None,
    };
    if cfg.deny_private {
        if let Err(r) = crate::egress::check_literal(&c.url) {
            return refused(r, t);
        }
    }
    let event = match arbiter_store::webhooks::event(app.store.pool(), c.event_seq).await {
        Ok(e) => e,
        Err(e) => return failed(format!("reading event {}: {e}", c.event_seq), None, t),
    };
    let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    let base = base_url(app);
    let body = if c.format == arbiter_api::WebhookFormat::Slack {
        slack_body(&event.entry, &payload, &base)
    } else {
        json_body(&c.id, &event.entry, &payload, &base)
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let ts = started_at / 1000;
    let sig = signature(&c.secret, ts, &bytes);
    let sent = http
        .post(&c.url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("Arbiter-Webhook/", env!("CARGO_PKG_VERSION")),
        )
        .header(HEADER_WEBHOOK_EVENT, &c.event_type)
        .header(HEADER_WEBHOOK_DELIVERY, &c.id)
        .header(HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
        .header(HEADER_WEBHOOK_SIGNATURE, sig)
        .body(bytes)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status().as_u16();
            // The answer's body is not needed; dropping it closes the
            // connection rather than reading whatever the receiver sends.
            drop(resp);
            if (200..300).contains(&status) {
                Outcome {
                    started_at,
                    duration_ms: t.elapsed().as_secs_f64() * 1e3,
                    http_status: Some(status),
                    error: None,
                    retry_at: None,
                }
            } else {
                failed(format!("{origin} answered HTTP {status}"), Some(status), t)
            }
        }
        Err(e) => match crate::egress::refusal_in(&e) {
            Some(r) => refused(r, t),
            None => failed(transport_error(e, cfg.timeout, &origin), None, t),
        },
    }
}

/// The HTTP client deliveries use: the configured timeout, no redirects
/// (a receiver that moved must be re-subscribed, not followed blindly).
/// With `deny_private`, names are resolved by [`crate::egress::CheckedResolver`]
/// (connections go only to checked addresses) and proxies are off.
pub fn http_client(cfg: &WebhookConfig) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none());
    if cfg.deny_private {
        b = b
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(crate::egress::CheckedResolver));
    }
    match b.build() {
        Ok(c) => c,
        Err(e) => {
            // (A TLS backend that cannot start; reqwest's default client
            // fails the same way.) Targets stay checked when asked.
            tracing::error!(error = %e, "building the webhook HTTP client");
            reqwest::Client::builder()
                .no_proxy()
                .dns_resolver(std::sync::Arc::new(crate::egress::CheckedResolver))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        }
    }
}

/// Claims and sends the due deliveries until none is left; returns how
/// many attempts were made.
pub async fn run_once(app: &AppState, http: &reqwest::Client) -> usize {
    let cfg = &app.config.webhooks;
    let worker = app.config.replica.clone();
    let lease_ms = cfg
        .lease
        .max(cfg.timeout + Duration::from_secs(1))
        .as_millis() as i64;
    let limit = cfg.concurrency.max(1) as i64;
    let mut made = 0;
    loop {
        match arbiter_store::webhooks::any_due(app.store.pool(), arbiter_store::now_ms()).await {
            Ok(true) => {}
            Ok(false) => return made,
            Err(e) => {
                tracing::error!(error = %e, "looking for due webhook deliveries");
                return made;
            }
        }
        let w = worker.clone();
        let claimed = match app
            .store
            .write(move |cx| {
                Box::pin(
                    async move { arbiter_store::webhooks::claim(cx, &w, limit, lease_ms).await },
                )
            })
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "claiming webhook deliveries");
                return made;
            }
        };
        if claimed.is_empty() {
            // Due rows exist but another replica holds them.
            return made;
        }
        let full = claimed.len() as i64 == limit;
        let mut set = tokio::task::JoinSet::new();
        for c in claimed {
            let (app, http, worker) = (app.clone(), http.clone(), worker.clone());
            set.spawn(async move {
                let o = attempt(&app, &http, &c).await;
                let origin = url_origin(&c.url);
                match &o.error {
                    None => tracing::info!(delivery = %c.id, event = %c.event_type, %origin, attempt = c.attempt, "webhook delivered"),
                    Some(e) => tracing::warn!(delivery = %c.id, event = %c.event_type, %origin, attempt = c.attempt, error = %e, retry = o.retry_at.is_some(), "webhook attempt failed"),
                }
                let r = app
                    .store
                    .write(move |cx| {
                        Box::pin(async move {
                            arbiter_store::webhooks::record(cx, &c, &worker, &o).await
                        })
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "recording a webhook attempt");
                }
            });
        }
        while let Some(r) = set.join_next().await {
            made += 1;
            if let Err(e) = r {
                tracing::error!(error = %e, "webhook attempt task");
            }
        }
        if !full {
            return made;
        }
    }
}

/// Starts the delivery worker; it stops when `stop` turns true.
pub fn spawn(app: AppState, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let http = http_client(&app.config.webhooks);
        let poll = app.config.webhooks.poll.max(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = app.store.deliveries_enqueued().notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let span = tracing::debug_span!("background", job = "webhook_deliveries");
            let t = std::time::Instant::now();
            tracing::Instrument::instrument(run_once(&app, &http), span.clone()).await;
            span.in_scope(|| {
                tracing::trace!(ms = t.elapsed().as_secs_f64() * 1e3, "delivery round")
            });
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The client speaks TLS: a receiver that is not a TLS server is a
    /// handshake failure, reported as an error (never a panic).
    #[tokio::test]
    async fn https_receivers_get_a_tls_handshake() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot tls").await;
            }
        });
        let client = http_client(&WebhookConfig::default());
        let r = client
            .post(format!("https://127.0.0.1:{port}/hook"))
            .body("{}")
            .send()
            .await;
        let e = r.err().map(|e| format!("{e:?}")).unwrap_or_default();
        assert!(e.contains("Ssl"), "expected a TLS handshake error, got {e}");
    }

    #[test]
    fn backoff_doubles_from_the_base_is_capped_and_jitter_only_adds() {
        let cfg = WebhookConfig::default();
        let d: Vec<u64> = (1..=12).map(|n| backoff(&cfg, n, 0.0).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(&cfg, 3, 1.0), Duration::from_secs(5));
        // Jitter at its most before attempt n stays below no jitter before n+1.
        assert!(backoff(&cfg, 2, 1.0) < backoff(&cfg, 3, 0.0));
        assert_eq!(backoff(&cfg, 40, 0.0), Duration::from_secs(600));
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // Computed independently with Python's hmac module:
        // hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest()
        let body = br#"{"type":"webhook.ping"}"#;
        assert_eq!(
            signature("whsec_test_secret_123", 1_700_000_000, body),
            "sha256=793bd02d1c529290f44703444d8295a91c76571c30fb51ef28be02b860075722"
        );
        assert_ne!(
            signature("whsec_test_secret_123", 1_700_000_001, body),
            signature("whsec_test_secret_123", 1_700_000_000, body)
        );
    }

    #[test]
    fn links_point_at_the_subject_in_the_api() {
        assert_eq!(
            subject_path("change_request:42"),
            "/api/v1/change-requests/42"
        );
        assert_eq!(subject_path("stack:web-1"), "/api/v1/stacks/web-1");
        assert_eq!(
            subject_path("token:a b"),
            "/api/v1/audit/subjects/token%3Aa%20b"
        );
    }
}
