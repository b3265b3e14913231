//! The audit log (`/audit`): its entries, newest first, and whether the
//! chain holds, verified here with `arbiter_audit`'s own verifier over the
//! export format (the same check `arbiter audit verify` makes offline),
//! against this server's checkpoint key, plus a check that every stored
//! payload still has the digest its entry records.

use super::{page, principal, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::Role;
use arbiter_audit::{Digest, ExportHeader, ExportWriter, Report, StreamVerifier, VerifyOptions};
use arbiter_report::html::{Html, Markup};
use arbiter_store::audit::StoredEntry;
use axum::extract::{Query, State};
use std::sync::{Arc, Mutex};

/// Entries per page.
const PAGE: u64 = 50;
/// Entries read from the database at a time while verifying.
const VERIFY_PAGE: i64 = 5000;
/// A verification of an unchanged head is reused for this long, ms.
const REUSE_MS: i64 = 60_000;

/// The outcome of one verification of the whole log.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The verifier's report.
    pub report: Report,
    /// Head when the verification started.
    pub head_seq: u64,
    /// Payloads whose digest was checked.
    pub payloads: u64,
    /// The first stored payload that does not match its entry's digest.
    pub payload_problem: Option<u64>,
    /// When it ran (ms) and how long it took.
    pub at: i64,
    /// Milliseconds taken.
    pub millis: f64,
}

impl Outcome {
    fn holds(&self) -> bool {
        self.report.valid && self.payload_problem.is_none()
    }
}

/// A verification kept for the next page view.
pub(crate) struct Cached {
    head: (u64, Digest),
    outcome: Arc<Outcome>,
}

/// A writer that hands every byte to the verifier.
#[derive(Clone)]
struct Feed(Arc<Mutex<StreamVerifier>>);

impl std::io::Write for Feed {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.feed(b);
                Ok(b.len())
            }
            Err(_) => Err(std::io::Error::other("verifier poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Verifies the whole log as stored now.
async fn verify(app: &AppState) -> Result<Outcome, UiError> {
    let t = std::time::Instant::now();
    let pool = app.store.pool();
    let (head_seq, _) = arbiter_store::audit::head(pool).await?;
    let key = app.store.audit_key().public_key();
    let options = VerifyOptions {
        trusted_keys: vec![key.clone()],
        threads: 1,
    };
    let feed = Feed(Arc::new(Mutex::new(StreamVerifier::new(&options))));
    let internal = |e: std::io::Error| UiError::from(crate::error::ApiError::internal(e));
    let mut w = ExportWriter::new(feed.clone(), &ExportHeader::full(vec![key.to_document()]))
        .map_err(internal)?;
    let done = || feed.0.lock().map(|v| v.is_done()).unwrap_or(true);
    let mut payloads = 0u64;
    let mut payload_problem = None;
    let mut from = 1u64;
    while from <= head_seq && !done() {
        let n = VERIFY_PAGE.min((head_seq - from + 1) as i64);
        let page = arbiter_store::audit::entries(pool, from, n).await?;
        if page.is_empty() {
            break;
        }
        let last = from + page.len() as u64 - 1;
        let mut cps = arbiter_store::audit::checkpoints(pool, from, last)
            .await?
            .into_iter()
            .peekable();
        for e in &page {
            w.entry(&e.entry).map_err(internal)?;
            while cps.peek().is_some_and(|c| c.seq == e.entry.seq) {
                if let Some(c) = cps.next() {
                    w.checkpoint(&c).map_err(internal)?;
                }
            }
            payloads += 1;
            if payload_problem.is_none() && !payload_matches(e) {
                payload_problem = Some(e.entry.seq);
            }
        }
        from = last + 1;
        // The work above is CPU only; let other requests run between pages.
        tokio::task::yield_now().await;
    }
    // The writer hands its clone of the feed back; drop it so the
    // verifier is ours alone again.
    drop(w.finish().map_err(internal)?);
    let verifier = Arc::try_unwrap(feed.0)
        .map_err(|_| crate::error::ApiError::internal("verifier still shared"))?
        .into_inner()
        .map_err(|_| crate::error::ApiError::internal("verifier poisoned"))?;
    Ok(Outcome {
        report: verifier.finish(),
        head_seq,
        payloads,
        payload_problem,
        at: arbiter_store::now_ms(),
        millis: t.elapsed().as_secs_f64() * 1e3,
    })
}

/// Whether a stored payload (canonical JSON) has its entry's digest.
fn payload_matches(e: &StoredEntry) -> bool {
    Digest::sha256(e.payload.as_bytes()) == e.entry.payload_digest
}

/// The last verification, or a fresh one when the head moved, when it is
/// older than a minute, or when asked.
pub(crate) async fn verification(app: &AppState, force: bool) -> Result<Arc<Outcome>, UiError> {
    let mut cache = app.ui.verification.lock().await;
    let head = arbiter_store::audit::head(app.store.pool()).await?;
    let now = arbiter_store::now_ms();
    if let Some(c) = cache.as_ref() {
        if !force && c.head == head && now - c.outcome.at < REUSE_MS {
            return Ok(c.outcome.clone());
        }
    }
    let outcome = Arc::new(verify(app).await?);
    *cache = Some(Cached {
        head,
        outcome: outcome.clone(),
    });
    Ok(outcome)
}

const OK_ICON: &str = "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"12\" r=\"11\" fill=\"#1b7f4c\"></circle><path d=\"m7 12.5 3.2 3.2L17 9\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.2\" stroke-linecap=\"round\" stroke-linejoin=\"round\"></path></svg>";
const BAD_ICON: &str = "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"12\" r=\"11\" fill=\"#b42318\"></circle><path d=\"M8 8l8 8M16 8l-8 8\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.2\" stroke-linecap=\"round\"></path></svg>";

fn status_card(o: &Outcome, key_id: &str, now: i64) -> Markup {
    let r = &o.report;
    let mut h = Html::new();
    h.raw("<section class=\"card verify ")
        .raw(if o.holds() { "verify-ok" } else { "verify-bad" })
        .raw("\" id=\"verification\">")
        .raw(if o.holds() { OK_ICON } else { BAD_ICON })
        .raw("<div><h2>");
    if o.holds() {
        h.raw("The chain holds");
    } else {
        h.raw("The log does not verify");
    }
    h.raw("</h2><p>");
    if o.holds() {
        h.raw("All ")
            .display(r.entries)
            .raw(" entries are chained, every checkpoint signature verifies with this server's key and agrees with the entries, and every stored payload matches its digest.");
    } else {
        if let Some(p) = &r.problem {
            h.raw("<strong class=\"bad\">")
                .text(p.kind.describe())
                .raw("</strong>");
            if let Some(s) = p.seq {
                h.raw(" at entry <a href=\"/audit?before=")
                    .display(s + 1)
                    .raw("#seq-")
                    .display(s)
                    .raw("\">#")
                    .display(s)
                    .raw("</a>");
            }
            h.raw(": ").text(&p.message).raw(". ");
        }
        if let Some(s) = o.payload_problem {
            h.raw(
                "<strong class=\"bad\">altered payload</strong> at entry <a href=\"/audit?before=",
            )
            .display(s + 1)
            .raw("#seq-")
            .display(s)
            .raw("\">#")
            .display(s)
            .raw("</a>: the stored payload does not have the digest its entry records. ");
        }
        h.raw("Entries before the first problem verified.");
    }
    h.raw("</p><dl class=\"meta\"><dt>Entries</dt><dd>")
        .display(o.head_seq)
        .raw(" (")
        .display(r.checkpoints)
        .raw(" checkpoints)</dd><dt>Last checkpoint</dt><dd>");
    match &r.last_checkpoint {
        Some(c) => {
            h.raw("covers entries 1–").display(c.seq).raw(", signed ");
            time(&mut h, &super::audit_time(c.time), now);
            h.raw(" by key <code>")
                .text(c.key_id.as_str())
                .raw("</code>");
            if c.key_id.as_str() == key_id {
                h.raw(" (this server's)");
            }
            h.raw("<br><span class=\"muted\">Merkle root <code>")
                .text(&c.tree_root.to_hex())
                .raw("</code></span>");
        }
        None => {
            h.raw("<span class=\"muted\">none yet</span>");
        }
    }
    h.raw("</dd><dt>Payloads</dt><dd>")
        .display(o.payloads)
        .raw(" checked against the digests in their entries</dd><dt>Not yet signed</dt><dd>")
        .display(r.uncovered_entries)
        .raw(" entries after the last checkpoint (chained; the next checkpoint signs them)</dd><dt>Checked</dt><dd>");
    time(&mut h, &arbiter_api::Timestamp::from_unix_ms(o.at), now);
    h.raw(" in ")
        .text(&format!("{:.0} ms", o.millis))
        .raw(" · <a href=\"/audit?verify=now\">verify again</a> · offline: <code>arbiter audit export &gt; log.jsonl &amp;&amp; arbiter audit verify log.jsonl --key key.json</code></dd></dl></div></section>");
    h.finish()
}

/// Query of the page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct AuditQuery {
    before: Option<u64>,
    subject: Option<String>,
    verify: Option<String>,
}

fn subject_link(h: &mut Html, subject: &str) {
    let link = |h: &mut Html, prefix: &'static str, rest: &str| {
        h.raw("<a href=\"")
            .raw(prefix)
            .url_segment(rest)
            .raw("\">")
            .text(subject)
            .raw("</a>");
    };
    match subject.split_once(':') {
        Some(("change_request", id)) if id.parse::<u64>().is_ok() => link(h, "/changes/", id),
        Some(("stack", n)) => link(h, "/stacks/", n),
        Some(("agent", n)) => link(h, "/agents/", n),
        _ => {
            h.raw("<code>").text(subject).raw("</code>");
        }
    }
}

/// What the last verification says of one entry.
fn entry_status(h: &mut Html, o: &Outcome, e: &StoredEntry) {
    let seq = e.entry.seq;
    let problem_at = o.report.problem.as_ref().map(|p| p.seq.unwrap_or(0));
    if !payload_matches(e) {
        h.raw("<span class=\"bad\" title=\"the stored payload does not have the digest the entry records\">✗ payload altered</span>");
        return;
    }
    if seq > o.head_seq {
        h.raw("<span class=\"pending\" title=\"added after the last verification\">new</span>");
        return;
    }
    match problem_at {
        Some(p) if seq >= p => {
            h.raw(if seq == p {
                "<span class=\"bad\" title=\"the verifier's first problem\">✗ problem</span>"
            } else {
                "<span class=\"bad\" title=\"after the first problem: not verified\">not verified</span>"
            });
        }
        _ => match o.report.last_checkpoint.as_ref() {
            Some(c) if seq <= c.seq => {
                h.raw("<span class=\"ok\" title=\"chained and covered by a signed checkpoint\">✓ signed</span>");
            }
            _ => {
                h.raw("<span class=\"pending\" title=\"chained; not yet covered by a signed checkpoint\">✓ chained</span>");
            }
        },
    }
}

/// The page.
async fn render(app: &AppState, me: &Me, q: AuditQuery) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let outcome = verification(app, q.verify.as_deref() == Some("now")).await?;
    let pool = app.store.pool();
    let (head_seq, _) = arbiter_store::audit::head(pool).await?;
    let subject = q
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let entries: Vec<StoredEntry> = match subject {
        Some(s) => {
            let mut all = arbiter_store::audit::by_subject(pool, s, 1000).await?;
            if let Some(b) = q.before {
                all.retain(|e| e.entry.seq < b);
            }
            all.truncate(PAGE as usize);
            all
        }
        None => {
            let before = q.before.unwrap_or(head_seq + 1).min(head_seq + 1);
            let from = before.saturating_sub(PAGE).max(1);
            let mut page = if before > 1 {
                arbiter_store::audit::entries(pool, from, (before - from) as i64).await?
            } else {
                Vec::new()
            };
            page.reverse();
            page
        }
    };
    let now = arbiter_store::now_ms();
    let key_id = app
        .store
        .audit_key()
        .public_key()
        .key_id()
        .as_str()
        .to_string();
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Audit log</h1><p class=\"sub\">Every event, hash-chained and signed at checkpoints; nothing is ever changed in place.</p></div></div>")
        .markup(&status_card(&outcome, &key_id, now))
        .raw("<div class=\"card\"><form class=\"inline\" method=\"get\" action=\"/audit\"><label for=\"subject\" class=\"muted\">Subject</label><input id=\"subject\" type=\"text\" name=\"subject\" placeholder=\"change_request:42\" value=\"")
        .text(subject.unwrap_or(""))
        .raw("\"><button type=\"submit\">Filter</button>");
    if subject.is_some() {
        h.raw(" <a href=\"/audit\">all entries</a>");
    }
    h.raw("</form>");
    if entries.is_empty() {
        h.raw("<div class=\"empty\"><strong>No entries here.</strong></div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"entries\"><thead><tr><th class=\"num\">Seq</th><th>Time</th><th>Actor</th><th>Action</th><th>Subject</th><th>Payload</th><th>Verified</th><th>Hash</th></tr></thead><tbody>\n");
        for e in &entries {
            h.raw("<tr id=\"seq-")
                .display(e.entry.seq)
                .raw("\"><td class=\"num\">")
                .display(e.entry.seq)
                .raw("</td><td>");
            time(&mut h, &super::audit_time(e.entry.time), now);
            h.raw("</td><td>");
            principal(&mut h, &e.entry.actor);
            h.raw("</td><td><code>")
                .text(&e.entry.action)
                .raw("</code></td><td>");
            subject_link(&mut h, &e.entry.subject);
            h.raw("</td><td>");
            let pretty = serde_json::from_str::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| e.payload.clone());
            if pretty != "{}" {
                h.raw("<details class=\"payload\"><summary>")
                    .display(e.payload.len())
                    .raw(" bytes</summary><pre>")
                    .block(&pretty)
                    .raw("</pre></details>");
            } else {
                h.raw("<span class=\"muted\">{}</span>");
            }
            h.raw("</td><td>");
            entry_status(&mut h, &outcome, e);
            h.raw("</td><td class=\"hash\" title=\"")
                .text(&e.entry.hash.to_hex())
                .raw("\">")
                .text(e.entry.hash.to_hex().get(..12).unwrap_or(""))
                .raw("…</td></tr>\n");
        }
        h.raw("</tbody></table>");
        let oldest = entries.last().map(|e| e.entry.seq).unwrap_or(1);
        h.raw("<div class=\"pager\">");
        let newest = entries.first().map(|e| e.entry.seq).unwrap_or(head_seq);
        if newest < head_seq && subject.is_none() {
            h.raw("<a href=\"/audit\">← Newest</a>");
        } else {
            h.raw("<span></span>");
        }
        if oldest > 1 && entries.len() as u64 == PAGE {
            h.raw("<a href=\"/audit?before=").display(oldest);
            if let Some(s) = subject {
                h.raw("&amp;subject=").url_segment(s);
            }
            h.raw("\">Older →</a>");
        }
        h.raw("</div>");
    }
    h.raw("</div>");
    Ok(page(app, me, Nav::Audit, "Audit log", &h.finish()).await)
}

/// `GET /audit` (the handler).
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Query(q): Query<AuditQuery>,
) -> UiResult {
    render(&app, &me, q).await
}
