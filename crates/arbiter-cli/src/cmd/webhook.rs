//! `arbiter webhook`: subscriptions to events, their delivery log, pings.

use super::client::{field, Client, ServerArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
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

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn patterns(w: &Value) -> String {
    w["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn summary(w: &Value) -> String {
    let mut out = format!(
        "webhook {}  {}  format {}  events {}\n",
        field(w, "id"),
        field(w, "url"),
        field(w, "format"),
        patterns(w)
    );
    if let Some(d) = w["description"].as_str() {
        out.push_str(&format!("  {d}\n"));
    }
    out.push_str(&format!(
        "  created by {} at {}\n",
        field(w, "created_by"),
        field(w, "created_at")
    ));
    if let Some(c) = w["deliveries"].as_object() {
        let n = |k: &str| c.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
        out.push_str(&format!(
            "  deliveries: {} pending, {} delivered, {} failed, {} cancelled\n",
            n("pending"),
            n("delivered"),
            n("failed"),
            n("cancelled")
        ));
    }
    out
}

fn delivery_lines(d: &Value) -> String {
    let mut out = format!(
        "{}  {}  {}  {} attempt(s)",
        field(d, "id"),
        field(d, "event_type"),
        field(d, "status"),
        field(d, "attempts")
    );
    if let Some(n) = d["next_attempt_at"].as_str() {
        out.push_str(&format!("  next {n}"));
    }
    out.push('\n');
    for a in d["attempt_log"].as_array().into_iter().flatten() {
        let result = match (a["http_status"].as_i64(), a["error"].as_str()) {
            (Some(s), None) => format!("HTTP {s}"),
            (_, Some(e)) => e.to_string(),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "    #{} {} {:.0} ms  {}\n",
            field(a, "attempt"),
            field(a, "started_at"),
            a["duration_ms"].as_f64().unwrap_or(0.0),
            result
        ));
    }
    out
}

/// Runs `arbiter webhook …`.
pub fn run(cmd: WebhookCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        WebhookCommand::Create(a) => {
            let mut body = json!({"url": a.url, "events": a.events, "format": a.format});
            if let Some(d) = a.description {
                body["description"] = json!(d);
            }
            if let Some(p) = &a.secret_file {
                let s = std::fs::read_to_string(p)
                    .with_context(|| format!("reading secret file {}", p.display()))?;
                let s = s.trim_end_matches(['\n', '\r']);
                if s.is_empty() {
                    bail!("secret file {} is empty", p.display());
                }
                body["secret"] = json!(s);
            }
            let w = c.call("POST", "/api/v1/webhooks", Some(&body))?;
            c.print(&w, |w| {
                format!(
                    "{}\nSigning secret (shown only this once; receivers check X-Arbiter-Signature with it):\n\n    {}\n\n",
                    summary(w).trim_end(),
                    field(w, "secret")
                )
            });
        }
        WebhookCommand::List => {
            let v = c.call("GET", "/api/v1/webhooks", None)?;
            c.print(&v, |v| {
                let list = items(v);
                if list.is_empty() {
                    return "(no webhooks)\n".into();
                }
                list.iter()
                    .map(|w| {
                        format!(
                            "{}  {}  {}  {}\n",
                            field(w, "id"),
                            field(w, "format"),
                            patterns(w),
                            field(w, "url")
                        )
                    })
                    .collect()
            });
        }
        WebhookCommand::Show { id } => {
            let w = c.call("GET", &format!("/api/v1/webhooks/{id}"), None)?;
            c.print(&w, summary);
        }
        WebhookCommand::Delete { id } => {
            c.call("DELETE", &format!("/api/v1/webhooks/{id}"), None)?;
            if c.json {
                println!("{}", json!({"deleted": id}));
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
            let v = c.call("GET", &path, None)?;
            c.print(&v, |v| {
                let list = items(v);
                if list.is_empty() {
                    return "(no deliveries)\n".into();
                }
                list.iter().map(delivery_lines).collect()
            });
        }
        WebhookCommand::Test { id } => {
            let v = c.call("POST", &format!("/api/v1/webhooks/{id}/test"), None)?;
            c.print(&v, |v| {
                format!(
                    "sent webhook.ping as delivery {} (follow it: arbiter webhook deliveries {id})\n",
                    field(v, "delivery")
                )
            });
        }
    }
    Ok(0)
}
