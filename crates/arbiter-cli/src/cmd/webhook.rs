//! `arbiter webhook`: subscriptions to events, their delivery log, pings.

use super::client::{dash, Client, ServerArgs};
use anyhow::{bail, Context, Result};
use arbiter_api::{Delivery, Page, Webhook, WebhookSpec, WebhookTest};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Webhook subscriptions on the server.
#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe a URL to events (admin); prints the signing secret once.
    Create(CreateArgs),
    /// List subscriptions.
    List,
    /// Show one subscription and its delivery counts.
    Show {
        /// Subscription id.
        id: i64,
    },
    /// Delete a subscription (admin); its pending deliveries are cancelled.
    Delete {
        /// Subscription id.
        id: i64,
    },
    /// The delivery log of a subscription, newest first, with every attempt.
    Deliveries {
        /// Subscription id.
        id: i64,
        /// Only pending, delivered, failed or cancelled deliveries.
        #[arg(long)]
        status: Option<String>,
        /// How many (1-1000).
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Send a `webhook.ping` event to one subscription (admin).
    Test {
        /// Subscription id.
        id: i64,
    },
}

/// `arbiter webhook create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The http:// URL to POST events to.
    pub url: String,
    /// Event pattern (repeatable): `*`, `stack.updated`, `change_request.*`.
    #[arg(long = "event", short = 'e', value_name = "PATTERN", required = true)]
    pub events: Vec<String>,
    /// Payload format: json or slack.
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Read the signing secret from this file (default: the server makes one).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// What it is for.
    #[arg(long)]
    pub description: Option<String>,
}

fn patterns(w: &Webhook) -> String {
    w.events.join(",")
}

fn summary(w: &Webhook) -> String {
    let mut out = format!(
        "webhook {}  {}  format {}  events {}\n",
        w.id,
        w.url,
        w.format,
        patterns(w)
    );
    if let Some(d) = &w.description {
        out.push_str(&format!("  {d}\n"));
    }
    out.push_str(&format!(
        "  created by {} at {}\n",
        w.created_by, w.created_at
    ));
    if let Some(c) = &w.deliveries {
        out.push_str(&format!(
            "  deliveries: {} pending, {} delivered, {} failed, {} cancelled\n",
            c.pending, c.delivered, c.failed, c.cancelled
        ));
    }
    out
}

fn delivery_lines(d: &Delivery) -> String {
    let mut out = format!(
        "{}  {}  {}  {} attempt(s)",
        d.id, d.event_type, d.status, d.attempts
    );
    if let Some(n) = &d.next_attempt_at {
        out.push_str(&format!("  next {n}"));
    }
    out.push('\n');
    for a in &d.attempt_log {
        let result = match (a.http_status, &a.error) {
            (Some(s), None) => format!("HTTP {s}"),
            (_, Some(e)) => e.to_string(),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "    #{} {} {:.0} ms  {}\n",
            a.attempt, a.started_at, a.duration_ms, result
        ));
    }
    out
}

/// Runs `arbiter webhook …`.
pub fn run(cmd: WebhookCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        WebhookCommand::Create(a) => {
            let secret = match &a.secret_file {
                Some(p) => {
                    let s = std::fs::read_to_string(p)
                        .with_context(|| format!("reading secret file {}", p.display()))?;
                    let s = s.trim_end_matches(['\n', '\r']);
                    if s.is_empty() {
                        bail!("secret file {} is empty", p.display());
                    }
                    Some(s.to_string())
                }
                None => None,
            };
            let body = WebhookSpec {
                url: a.url,
                events: a.events,
                format: Some(a.format),
                secret,
                description: a.description,
            };
            let r = c.call_with::<_, Webhook>("POST", "/api/v1/webhooks", &body)?;
            c.print(&r, |w| {
                format!(
                    "{}\nSigning secret (shown only this once; receivers check X-Arbiter-Signature with it):\n\n    {}\n\n",
                    summary(w).trim_end(),
                    dash(w.secret.as_ref())
                )
            });
        }
        WebhookCommand::List => {
            let r = c.get::<Page<Webhook>>("/api/v1/webhooks")?;
            c.print(&r, |v| {
                if v.items.is_empty() {
                    return "(no webhooks)\n".into();
                }
                v.items
                    .iter()
                    .map(|w| format!("{}  {}  {}  {}\n", w.id, w.format, patterns(w), w.url))
                    .collect()
            });
        }
        WebhookCommand::Show { id } => {
            let r = c.get::<Webhook>(&format!("/api/v1/webhooks/{id}"))?;
            c.print(&r, summary);
        }
        WebhookCommand::Delete { id } => {
            c.call::<()>("DELETE", &format!("/api/v1/webhooks/{id}"))?;
            if c.json {
                println!("{}", serde_json::json!({"deleted": id}));
            } else {
                println!("deleted webhook {id}");
            }
        }
        WebhookCommand::Deliveries { id, status, limit } => {
            let mut path = format!("/api/v1/webhooks/{id}/deliveries?limit={limit}");
            if let Some(s) = status {
                if !s.bytes().all(|b| b.is_ascii_lowercase()) {
                    bail!("--status {s:?} must be pending, delivered, failed or cancelled");
                }
                path.push_str(&format!("&status={s}"));
            }
            let r = c.get::<Page<Delivery>>(&path)?;
            c.print(&r, |v| {
                if v.items.is_empty() {
                    return "(no deliveries)\n".into();
                }
                v.items.iter().map(delivery_lines).collect()
            });
        }
        WebhookCommand::Test { id } => {
            let r = c.call::<WebhookTest>("POST", &format!("/api/v1/webhooks/{id}/test"))?;
            c.print(&r, |v| {
                format!(
                    "sent {} as delivery {} (follow it: arbiter webhook deliveries {id})\n",
                    v.event, v.delivery
                )
            });
        }
    }
    Ok(0)
}
