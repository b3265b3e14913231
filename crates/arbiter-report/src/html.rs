//! HTML fragments of a verdict for the reviewers' web UI, and the escaping
//! writer every page of the UI is built with.
//!
//! Plans, findings and policy messages are attacker-controlled text, so the
//! writer makes the safe thing the easy one: [`Html::raw`] takes only
//! `&'static str` (markup written in the program), and everything else goes
//! through [`Html::text`], [`Html::block`] or [`Html::url_segment`], which
//! escape it. A finished [`Markup`] can only be made by the writer, so a
//! fragment handed around between the report and the server stays escaped.
//!
//! The fragments use CSS classes only (no `style` attributes, no scripts), so
//! the UI can forbid inline styles and scripts in its Content Security Policy.

use crate::common::{
    action_line, action_symbol, confidence_str, finite_or, is_hostile, is_marker, listed_changes,
    risk_str, threshold_str, truncate_chars, FindingGroups,
};
use arbiter_verdict::money::{usd, usd_delta, MoneyStyle};
use arbiter_verdict::{
    ChangeRelation, ChangeView, CostSummary, Decision, Effect, Finding, Severity, Verdict,
};

/// Longest attribute value shown in the diff, in characters.
const MAX_VALUE_CHARS: usize = 2_000;
/// Resources shown in the diff before a "… N more" line.
const MAX_DIFF_RESOURCES: usize = 500;
/// Attribute changes shown per resource before a "… N more" line.
const MAX_ATTRIBUTES: usize = 200;
/// Findings listed in the points table before a "… N more" line.
const MAX_POINT_ROWS: usize = 50;
/// Resources listed in the cost table before a "… N more" line.
const MAX_COST_ROWS: usize = 200;
/// Finding cards per group (deny, escalate, warn, the rest) before a
/// "… N more" line: a plan can have thousands, and the page must stay
/// readable; every finding is in the JSON formats and the API.
const MAX_FINDING_CARDS: usize = 200;

/// HTML that is safe to send: made only by [`Html::finish`], so every piece
/// of text in it went through the escaping functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    /// The HTML text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The HTML text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An HTML writer that escapes everything except markup written in the
/// program (`&'static str`).
///
/// Guarantees: text written with [`Html::text`] or [`Html::block`] can
/// neither open nor close an element or an attribute (`& < > " '` become
/// entities), and control or bidirectional-override characters, which could
/// hide or reorder what a reviewer reads, are shown as `\u{..}`.
#[derive(Debug, Default)]
pub struct Html {
    buf: String,
}

impl Html {
    /// An empty writer.
    pub fn new() -> Html {
        Html {
            buf: String::with_capacity(4096),
        }
    }

    /// Appends markup written in the program.
    pub fn raw(&mut self, markup: &'static str) -> &mut Html {
        self.buf.push_str(markup);
        self
    }

    /// Appends escaped text on one line: a newline is shown as `\n`.
    pub fn text(&mut self, s: &str) -> &mut Html {
        escape_into(&mut self.buf, s, false);
        self
    }

    /// Appends escaped text keeping its line breaks (for `<pre>` or a block
    /// styled with `white-space: pre-wrap`).
    pub fn block(&mut self, s: &str) -> &mut Html {
        escape_into(&mut self.buf, s, true);
        self
    }

    /// Appends a number or other value through its `Display`, escaped.
    pub fn display(&mut self, v: impl std::fmt::Display) -> &mut Html {
        let s = v.to_string();
        escape_into(&mut self.buf, &s, false);
        self
    }

    /// Appends `s` percent-encoded as one URL path segment or query value
    /// (everything but `A-Z a-z 0-9 - . _ ~` is encoded), for use inside a
    /// quoted `href`.
    pub fn url_segment(&mut self, s: &str) -> &mut Html {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                self.buf.push(b as char);
            } else {
                self.buf.push('%');
                self.buf.push(hex_digit(b >> 4));
                self.buf.push(hex_digit(b & 0xf));
            }
        }
        self
    }

    /// Appends a finished fragment.
    pub fn markup(&mut self, m: &Markup) -> &mut Html {
        self.buf.push_str(&m.0);
        self
    }

    /// The markup written so far.
    pub fn finish(self) -> Markup {
        Markup(self.buf)
    }
}

fn hex_digit(n: u8) -> char {
    match n {
        0..=9 => (b'0' + n) as char,
        _ => (b'A' + n - 10) as char,
    }
}

/// `s` escaped for HTML text or a quoted attribute value (see [`Html::text`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s, false);
    out
}

fn escape_into(out: &mut String, s: &str, keep_lines: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if keep_lines => out.push('\n'),
            '\t' if keep_lines => out.push('\t'),
            '\r' if keep_lines => {}
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if is_hostile(c) => {
                out.push_str("\\u{");
                out.push_str(&format!("{:x}", c as u32));
                out.push('}');
            }
            c => out.push(c),
        }
    }
}

/// Money as the fragments print it: `$1,234.50` (non-finite → `$0.00`).
pub fn format_money(v: f64) -> String {
    usd(v, MoneyStyle::Cents)
}

/// A money change with its sign: `+$130.00`, `-$12.50`, `$0.00`.
pub fn format_money_delta(v: f64) -> String {
    usd_delta(v, MoneyStyle::Cents)
}

/// A confidence as the fragments print it: one decimal (non-finite → `0.0`).
pub fn format_confidence(v: f64) -> String {
    confidence_str(v)
}

fn decision_class(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "approve",
        Decision::Review => "review",
        Decision::Reject => "reject",
    }
}

fn decision_word(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "Approve",
        Decision::Review => "Review",
        Decision::Reject => "Reject",
    }
}

/// A badge for an engine decision (`approve`, `review`, `reject`), or a
/// muted dash when there is none.
pub fn decision_badge(decision: Option<Decision>) -> Markup {
    let mut h = Html::new();
    match decision {
        Some(Decision::Approve) => h.raw("<span class=\"badge decision-approve\">approve</span>"),
        Some(Decision::Review) => h.raw("<span class=\"badge decision-review\">review</span>"),
        Some(Decision::Reject) => h.raw("<span class=\"badge decision-reject\">reject</span>"),
        None => h.raw("<span class=\"muted\">—</span>"),
    };
    h.finish()
}

/// How a status badge is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Done well (approved, applied).
    Good,
    /// Waiting for someone.
    Wait,
    /// Refused or failed.
    Bad,
    /// Anything else.
    Neutral,
}

/// A badge for a lifecycle status (`pending_review`, …): its name with
/// underscores shown as spaces, coloured by `tone`.
pub fn status_badge(status: &str, tone: Tone) -> Markup {
    let mut h = Html::new();
    let class = match tone {
        Tone::Good => "badge status-good",
        Tone::Wait => "badge status-wait",
        Tone::Bad => "badge status-bad",
        Tone::Neutral => "badge status-neutral",
    };
    h.raw("<span class=\"")
        .raw(class)
        .raw("\">")
        .text(&status.replace('_', " "))
        .raw("</span>");
    h.finish()
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "badge sev-critical",
        Severity::High => "badge sev-high",
        Severity::Medium => "badge sev-medium",
        Severity::Low => "badge sev-low",
        Severity::Info => "badge sev-info",
    }
}

fn effect_class(e: Effect) -> &'static str {
    match e {
        Effect::Deny => "badge effect-deny",
        Effect::Escalate => "badge effect-escalate",
        Effect::Warn => "badge effect-warn",
        Effect::Info => "badge effect-info",
    }
}

/// A number in [0, 100] for an SVG width (non-finite → 0).
fn pct(v: f64) -> String {
    let v = finite_or(v, 0.0).clamp(0.0, 100.0);
    format!("{v:.1}")
}

/// A horizontal bar of `value` out of 100, with an optional marker line.
fn meter(h: &mut Html, class: &'static str, value: f64, mark: Option<f64>, label: &str) {
    h.raw("<svg class=\"")
        .raw(class)
        .raw("\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"")
        .text(label)
        .raw("\"><rect class=\"track\" width=\"100\" height=\"8\" rx=\"1\"></rect><rect class=\"fill\" width=\"")
        .text(&pct(value))
        .raw("\" height=\"8\" rx=\"1\"></rect>");
    if let Some(m) = mark {
        h.raw("<rect class=\"mark\" x=\"")
            .text(&pct(m - 0.4))
            .raw("\" width=\"0.8\" height=\"8\"></rect>");
    }
    h.raw("</svg>");
}

/// The decision, the confidence against the threshold, the action counts
/// and the explanation.
pub fn decision(v: &Verdict) -> Markup {
    let mut h = Html::new();
    h.raw("<section class=\"verdict verdict-")
        .raw(decision_class(v.decision))
        .raw(
            "\" aria-label=\"decision\"><div class=\"verdict-head\"><span class=\"decision-word\">",
        )
        .raw(decision_word(v.decision))
        .raw("</span><span class=\"confidence\"><strong>")
        .text(&confidence_str(v.confidence))
        .raw("</strong> confidence · ")
        .text(&threshold_str(v.stack.auto_apply_threshold))
        .raw(" needed to approve</span></div>");
    let label = format!(
        "confidence {} of 100; {} needed",
        confidence_str(v.confidence),
        threshold_str(v.stack.auto_apply_threshold)
    );
    meter(
        &mut h,
        "meter",
        v.confidence,
        Some(finite_or(v.stack.auto_apply_threshold, 100.0)),
        &label,
    );
    h.raw("<p class=\"actions\">")
        .text(&action_line(&v.summary))
        .raw("</p>");
    let text = v.explanation.trim();
    if !text.is_empty() {
        h.raw("<p class=\"explanation\">").block(text).raw("</p>");
    }
    h.raw("</section>\n");
    h.finish()
}

/// Points of confidence each critic costs: the lost points shared in
/// proportion to `−ln(1 − risk)`, the same attribution the judge uses for
/// findings (so a critic's points are the sum of its findings' points).
fn critic_points(v: &Verdict) -> Vec<f64> {
    let lost = (100.0 - finite_or(v.confidence, 0.0)).clamp(0.0, 100.0);
    let logs: Vec<f64> = v
        .critics
        .iter()
        .map(|c| -(1.0 - finite_or(c.risk, 1.0).clamp(0.0, 0.999_999)).ln())
        .collect();
    let total: f64 = logs.iter().sum();
    logs.iter()
        .map(|l| if total > 0.0 { lost * l / total } else { 0.0 })
        .collect()
}

/// The confidence breakdown: points lost per critic, and per finding.
pub fn breakdown(v: &Verdict) -> Markup {
    let mut h = Html::new();
    h.raw("<section class=\"card\" id=\"breakdown\"><h2>Confidence breakdown</h2>\n");
    h.raw("<p class=\"muted\">Confidence = 100 × Π(1 − risk) over the critics = <strong>")
        .text(&confidence_str(v.confidence))
        .raw("</strong>; every point lost is attributed to the finding that cost it.</p>");
    if v.critics.is_empty() {
        h.raw("<p>No critic reported.</p>");
    } else {
        h.raw("<table class=\"grid\"><thead><tr><th>Critic</th><th class=\"num\">Risk</th><th class=\"num\">Points lost</th><th class=\"num\">Findings</th><th>Summary</th></tr></thead><tbody>");
        for (c, points) in v.critics.iter().zip(critic_points(v)) {
            h.raw("<tr><td class=\"nowrap\"><code>")
                .text(&c.name)
                .raw("</code></td><td class=\"num\">")
                .text(&risk_str(c.risk))
                .raw("</td><td class=\"num\">");
            if points >= 0.05 {
                h.raw("−").text(&format!("{points:.1}"));
            } else {
                h.raw("0");
            }
            h.raw("</td><td class=\"num\">")
                .display(c.findings)
                .raw("</td><td>")
                .text(c.summary.trim())
                .raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    let mut costly: Vec<&Finding> = v
        .findings
        .iter()
        // What rounds to 0.0 points cost nothing worth a row.
        .filter(|f| finite_or(f.confidence_cost, 0.0) >= 0.05)
        .collect();
    costly.sort_by(|a, b| {
        finite_or(b.confidence_cost, 0.0).total_cmp(&finite_or(a.confidence_cost, 0.0))
    });
    if !costly.is_empty() {
        let max = costly
            .first()
            .map(|f| finite_or(f.confidence_cost, 0.0))
            .unwrap_or(1.0)
            .max(1e-9);
        h.raw("<h3>Points by finding</h3><table class=\"grid points\"><thead><tr><th>Finding</th><th>Resource</th><th class=\"num\">Points</th><th class=\"bar-col\"></th></tr></thead><tbody>");
        for f in costly.iter().take(MAX_POINT_ROWS) {
            let p = finite_or(f.confidence_cost, 0.0);
            h.raw("<tr><td><code>")
                .text(&f.rule_id)
                .raw("</code></td><td>");
            match f.address.as_deref() {
                Some(a) => h.raw("<code>").text(a).raw("</code>"),
                None => h.raw("<span class=\"muted\">—</span>"),
            };
            h.raw("</td><td class=\"num\">−")
                .text(&format!("{p:.1}"))
                .raw("</td><td class=\"bar-col\">");
            meter(
                &mut h,
                "bar",
                p / max * 100.0,
                None,
                &format!("{p:.1} points"),
            );
            h.raw("</td></tr>\n");
        }
        if costly.len() > MAX_POINT_ROWS {
            h.raw("<tr><td colspan=\"4\" class=\"muted\">… ")
                .display(costly.len() - MAX_POINT_ROWS)
                .raw(" more findings cost points</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</section>\n");
    h.finish()
}

fn relation_tag(h: &mut Html, r: ChangeRelation) {
    match r {
        ChangeRelation::Introduced => h.raw("<span class=\"tag\">introduced</span>"),
        ChangeRelation::Preexisting => h.raw("<span class=\"tag\">pre-existing</span>"),
        ChangeRelation::Fixed => h.raw("<span class=\"tag tag-good\">fixed by this change</span>"),
        ChangeRelation::Change => h.raw("<span class=\"tag\">about the change</span>"),
    };
}

/// One value of evidence or of the diff: markers bare, strings in quotes,
/// everything else as compact JSON; long values cut.
fn value(h: &mut Html, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) if is_marker(s) => {
            h.raw("<span class=\"marker\">").text(s).raw("</span>");
        }
        serde_json::Value::Null => {
            h.raw("<span class=\"muted\">null</span>");
        }
        other => {
            let s = other.to_string();
            h.raw("<code class=\"value\">")
                .text(&truncate_chars(&s, MAX_VALUE_CHARS))
                .raw("</code>");
        }
    }
}

fn evidence(h: &mut Html, ev: &serde_json::Value) {
    match ev {
        serde_json::Value::Null => {}
        serde_json::Value::Object(m) if m.is_empty() => {}
        serde_json::Value::Object(m) => {
            h.raw("<dl class=\"evidence\">");
            for (k, v) in m {
                h.raw("<dt>").text(k).raw("</dt><dd>");
                value(h, v);
                h.raw("</dd>");
            }
            h.raw("</dl>");
        }
        other => {
            h.raw("<div class=\"evidence\">");
            value(h, other);
            h.raw("</div>");
        }
    }
}

fn finding_card(h: &mut Html, f: &Finding) {
    h.raw("<article class=\"finding finding-")
        .raw(match f.effect {
            Effect::Deny => "deny",
            Effect::Escalate => "escalate",
            Effect::Warn => "warn",
            Effect::Info => "info",
        })
        .raw("\"><header><span class=\"")
        .raw(effect_class(f.effect))
        .raw("\">")
        .raw(f.effect.as_str())
        .raw("</span> <span class=\"")
        .raw(severity_class(f.severity))
        .raw("\">")
        .raw(f.severity.as_str())
        .raw("</span> <code class=\"rule\">")
        .text(&f.rule_id)
        .raw("</code>");
    if let Some(t) = f.title.as_deref().filter(|t| !t.trim().is_empty()) {
        h.raw(" <span class=\"title\">")
            .text(t.trim())
            .raw("</span>");
    }
    let p = finite_or(f.confidence_cost, 0.0);
    if p >= 0.05 {
        h.raw("<span class=\"points\">−")
            .text(&format!("{p:.1}"))
            .raw(" pts</span>");
    }
    h.raw("</header>");
    h.raw("<p class=\"where\">");
    match f.address.as_deref() {
        Some(a) => h.raw("<code>").text(a).raw("</code> "),
        None => h.raw("<span class=\"muted\">no resource</span> "),
    };
    relation_tag(h, f.relation);
    if f.held_by_floor {
        h.raw(" <span class=\"tag held\">holds: introduced weakness</span>");
    }
    h.raw(" <span class=\"muted\">from ")
        .text(&f.source)
        .raw("</span></p>");
    h.raw("<p class=\"message\">").block(&f.message).raw("</p>");
    if let Some(w) = &f.waiver {
        h.raw(if w.expired {
            "<p class=\"waiver expired\"><strong>Waiver expired</strong> "
        } else {
            "<p class=\"waiver\"><strong>Waived</strong> "
        });
        h.text(&format!(
            "on {} until {} by {}: {}",
            w.address, w.expires, w.owner, w.reason
        ));
        if let Some(id) = &w.id {
            h.raw(" <span class=\"muted\">(waiver ")
                .text(id)
                .raw(")</span>");
        }
        h.raw("</p>");
    }
    evidence(h, &f.evidence);
    if let Some(fix) = f.remediation.as_deref().filter(|r| !r.trim().is_empty()) {
        h.raw("<p class=\"fix\"><strong>Fix:</strong> ")
            .block(fix.trim())
            .raw("</p>");
    }
    if !f.references.is_empty() {
        h.raw("<p class=\"refs muted\">See also: ");
        for (i, r) in f.references.iter().enumerate() {
            if i > 0 {
                h.raw(", ");
            }
            h.raw("<code>").text(r).raw("</code>");
        }
        h.raw("</p>");
    }
    h.raw("</article>\n");
}

fn more_findings(h: &mut Html, total: usize) {
    if total > MAX_FINDING_CARDS {
        h.raw("<p class=\"muted\">… ")
            .display(total - MAX_FINDING_CARDS)
            .raw(" more like these (every finding is in the API's answer and in <code>--format json</code>).</p>");
    }
}

/// Every finding: those that decide (deny, escalate) and warnings the change
/// introduces as cards, the rest (info, pre-existing, fixed) folded away.
pub fn findings(v: &Verdict) -> Markup {
    let mut h = Html::new();
    let groups = FindingGroups::of(v);
    h.raw("<section class=\"card\" id=\"findings\"><h2>Findings <span class=\"count\">")
        .display(v.findings.len())
        .raw("</span></h2>\n");
    if v.findings.is_empty() {
        h.raw("<p>No rule, policy or critic found anything.</p></section>\n");
        return h.finish();
    }
    for (effect, list) in groups.groups() {
        if list.is_empty() {
            continue;
        }
        h.raw("<h3>")
            .raw(match effect {
                Effect::Deny => "Deny",
                Effect::Escalate => "Escalate",
                Effect::Warn => "Warn",
                Effect::Info => "Info",
            })
            .raw(" <span class=\"count\">")
            .display(list.len())
            .raw("</span></h3>\n");
        for f in list.iter().take(MAX_FINDING_CARDS) {
            finding_card(&mut h, f);
        }
        more_findings(&mut h, list.len());
    }
    // The complement of what `FindingGroups` lists one by one.
    let rest: Vec<&Finding> = v
        .findings
        .iter()
        .filter(|f| match (f.relation, f.effect) {
            (ChangeRelation::Fixed, _) => true,
            (_, Effect::Deny | Effect::Escalate) => false,
            (ChangeRelation::Preexisting, _) => true,
            (_, Effect::Warn) => false,
            (_, Effect::Info) => true,
        })
        .collect();
    if !rest.is_empty() {
        h.raw("<details class=\"more\"><summary>");
        match groups.counted_line() {
            Some(line) => h.text(&format!("Also: {line}")),
            None => h.text(&format!("{} more", rest.len())),
        };
        h.raw("</summary>");
        let n = rest.len();
        for f in rest.into_iter().take(MAX_FINDING_CARDS) {
            finding_card(&mut h, f);
        }
        more_findings(&mut h, n);
        h.raw("</details>\n");
    }
    h.raw("</section>\n");
    h.finish()
}

fn money_cell(h: &mut Html, v: f64) {
    h.raw("<td class=\"num\">")
        .text(&usd(v, MoneyStyle::Cents))
        .raw("</td>");
}

/// The cost table: totals against the budget, the monthly cost of each
/// resource before and after with its components, and what was not priced.
pub fn cost(v: &Verdict) -> Markup {
    cost_summary(&v.cost, v.stack.monthly_budget_usd)
}

/// [`cost`] for a cost summary on its own.
pub fn cost_summary(c: &CostSummary, budget: Option<f64>) -> Markup {
    let mut h = Html::new();
    h.raw("<section class=\"card\" id=\"cost\"><h2>Cost</h2>\n");
    if !c.computed {
        h.raw("<p>Not computed");
        if let Some(n) = c.note.as_deref().filter(|n| !n.trim().is_empty()) {
            h.raw(": ").text(n.trim());
        }
        h.raw(".</p></section>\n");
        return h.finish();
    }
    h.raw("<div class=\"totals\"><div><span class=\"caption\">Before</span><span class=\"big\">")
        .text(&usd(c.monthly_before_usd, MoneyStyle::Cents))
        .raw("</span><span class=\"muted\">/month</span></div><div><span class=\"caption\">After</span><span class=\"big\">")
        .text(&usd(c.monthly_after_usd, MoneyStyle::Cents))
        .raw("</span><span class=\"muted\">/month</span></div><div><span class=\"caption\">Change</span><span class=\"big ")
        .raw(if c.monthly_delta_usd > 0.005 {
            "up"
        } else if c.monthly_delta_usd < -0.005 {
            "down"
        } else {
            "flat"
        })
        .raw("\">")
        .text(&usd_delta(c.monthly_delta_usd, MoneyStyle::Cents))
        .raw("</span><span class=\"muted\">/month</span></div>");
    if let Some(b) = budget {
        h.raw("<div><span class=\"caption\">Budget</span><span class=\"big\">")
            .text(&usd(b, MoneyStyle::Cents))
            .raw("</span>");
        if c.monthly_after_usd > b {
            h.raw("<span class=\"badge status-bad\">over budget</span>");
        } else {
            h.raw("<span class=\"muted\">/month</span>");
        }
        h.raw("</div>");
    }
    h.raw("</div>");
    h.raw("<p class=\"muted\">Region ")
        .text(c.region.as_deref().unwrap_or("-"))
        .raw(" · catalogue ")
        .text(c.catalogue.as_deref().unwrap_or("-"))
        .raw(" · ")
        .display(c.counts.priced)
        .raw(" priced, ")
        .display(c.counts.free)
        .raw(" free, ")
        .display(c.counts.unpriced)
        .raw(" not priced");
    if let Some(n) = c.note.as_deref().filter(|n| !n.trim().is_empty()) {
        h.raw(" · ").text(n.trim());
    }
    h.raw("</p>");
    if !c.resources.is_empty() {
        h.raw("<table class=\"grid cost\"><thead><tr><th></th><th>Resource</th><th class=\"num\">Before</th><th class=\"num\">After</th><th class=\"num\">Change</th></tr></thead><tbody>");
        for r in c.resources.iter().take(MAX_COST_ROWS) {
            h.raw("<tr><td class=\"sym\">")
                .text(action_symbol(&r.action))
                .raw("</td><td><code>")
                .text(&r.address)
                .raw("</code>");
            let comps = crate::cost::shown(r);
            if !comps.is_empty() {
                h.raw("<details class=\"components\"><summary>")
                    .display(comps.len())
                    .raw(if comps.len() == 1 {
                        " component"
                    } else {
                        " components"
                    })
                    .raw("</summary><table class=\"grid inner\"><thead><tr><th>Component</th><th class=\"num\">Quantity</th><th>Unit</th><th class=\"num\">Unit price</th><th class=\"num\">Monthly</th></tr></thead><tbody>");
                for comp in comps {
                    h.raw("<tr><td>").text(&comp.name);
                    if comp.assumed {
                        h.raw(" <abbr class=\"assumed\" title=\"")
                            .text(comp.assumption.as_deref().unwrap_or("assumed quantity"))
                            .raw("\">*</abbr>");
                    }
                    h.raw("</td><td class=\"num\">")
                        .text(&crate::cost::qty(comp.quantity))
                        .raw("</td><td>")
                        .text(&comp.unit)
                        .raw("</td><td class=\"num\">")
                        .text(&usd(comp.unit_price_usd, MoneyStyle::UnitPrice))
                        .raw("</td>");
                    money_cell(&mut h, comp.monthly_usd);
                    h.raw("</tr>\n");
                }
                h.raw("</tbody></table></details>\n");
            }
            h.raw("</td>");
            money_cell(&mut h, r.monthly_before_usd);
            money_cell(&mut h, r.monthly_after_usd);
            h.raw("<td class=\"num ")
                .raw(if r.monthly_delta_usd > 0.005 {
                    "up"
                } else if r.monthly_delta_usd < -0.005 {
                    "down"
                } else {
                    "flat"
                })
                .raw("\">")
                .text(&usd_delta(r.monthly_delta_usd, MoneyStyle::Cents))
                .raw("</td></tr>\n");
        }
        let omitted = c.omitted_resources + c.resources.len().saturating_sub(MAX_COST_ROWS);
        if omitted > 0 {
            h.raw("<tr><td></td><td colspan=\"4\" class=\"muted\">… ")
                .display(omitted)
                .raw(" more priced resources, counted in the totals</td></tr>\n");
        }
        h.raw("</tbody></table>");
        if c.resources
            .iter()
            .any(|r| crate::cost::shown(r).iter().any(|x| x.assumed))
        {
            h.raw("<p class=\"muted\">* an assumed quantity (a usage file can give the real one); hover it for what was assumed.</p>");
        }
    }
    if !c.unpriced.is_empty() {
        h.raw("<h3>Not priced <span class=\"count\">")
            .display(c.unpriced.len() + c.omitted_unpriced)
            .raw("</span></h3><ul class=\"plain\">");
        for u in &c.unpriced {
            h.raw("<li><code>")
                .text(&u.address)
                .raw("</code> — ")
                .text(&u.reason)
                .raw("</li>");
        }
        if c.omitted_unpriced > 0 {
            h.raw("<li class=\"muted\">… ")
                .display(c.omitted_unpriced)
                .raw(" more</li>");
        }
        h.raw("</ul>");
    }
    if !c.warnings.is_empty() {
        h.raw("<ul class=\"plain warnings\">");
        for w in &c.warnings {
            h.raw("<li>").text(w).raw("</li>");
        }
        h.raw("</ul>");
    }
    h.raw("</section>\n");
    h.finish()
}

fn action_class(action: &str) -> &'static str {
    match action {
        "create" => "act-create",
        "delete" | "forget" => "act-delete",
        "update" => "act-update",
        "replace" | "delete-create" | "create-delete" => "act-replace",
        _ => "act-other",
    }
}

fn change_block(h: &mut Html, c: &ChangeView) {
    h.raw("<details class=\"change ")
        .raw(action_class(&c.action))
        .raw("\"");
    if !c.attributes.is_empty() && c.attributes.len() <= 20 {
        h.raw(" open");
    }
    h.raw("><summary><span class=\"sym\">")
        .text(action_symbol(&c.action))
        .raw("</span> <code>")
        .text(&c.address)
        .raw("</code> <span class=\"muted\">")
        .text(&c.action)
        .raw("</span>");
    if let Some(prev) = c.previous_address.as_deref() {
        h.raw(" <span class=\"muted\">moved from <code>")
            .text(prev)
            .raw("</code></span>");
    }
    if !c.attributes.is_empty() {
        h.raw(" <span class=\"count\">")
            .display(c.attributes.len())
            .raw("</span>");
    }
    h.raw("</summary>");
    if c.attributes.is_empty() {
        h.raw("<p class=\"muted\">No attribute-level differences.</p>");
    } else {
        h.raw("<table class=\"grid diff\"><thead><tr><th>Attribute</th><th>Before</th><th>After</th></tr></thead><tbody>");
        for a in c.attributes.iter().take(MAX_ATTRIBUTES) {
            h.raw("<tr><td><code>")
                .text(&a.path)
                .raw("</code></td><td class=\"before\">");
            value(h, &a.before);
            h.raw("</td><td class=\"after\">");
            value(h, &a.after);
            h.raw("</td></tr>\n");
        }
        if c.attributes.len() > MAX_ATTRIBUTES {
            h.raw("<tr><td colspan=\"3\" class=\"muted\">… ")
                .display(c.attributes.len() - MAX_ATTRIBUTES)
                .raw(" more</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</details>\n");
}

/// The resource-by-resource diff (values the plan marks sensitive are
/// already masked in the verdict and shown as the mask).
pub fn diff(v: &Verdict) -> Markup {
    let mut h = Html::new();
    let list = listed_changes(v);
    h.raw("<section class=\"card\" id=\"diff\"><h2>Resource changes <span class=\"count\">")
        .display(list.len())
        .raw("</span></h2>\n");
    if list.is_empty() {
        h.raw("<p>No resource changes.</p>");
    }
    for c in list.iter().take(MAX_DIFF_RESOURCES) {
        change_block(&mut h, c);
    }
    if list.len() > MAX_DIFF_RESOURCES {
        h.raw("<p class=\"muted\">… ")
            .display(list.len() - MAX_DIFF_RESOURCES)
            .raw(" more resources change.</p>");
    }
    h.raw("</section>\n");
    h.finish()
}

/// The verdict's non-fatal warnings (empty markup when there are none).
pub fn warnings(v: &Verdict) -> Markup {
    let mut h = Html::new();
    if v.warnings.is_empty() {
        return h.finish();
    }
    h.raw(
        "<section class=\"card warn-card\" id=\"warnings\"><h2>Warnings</h2><ul class=\"plain\">",
    );
    for w in &v.warnings {
        h.raw("<li>").text(w).raw("</li>");
    }
    h.raw("</ul></section>\n");
    h.finish()
}

/// The whole verdict: [`decision`], [`breakdown`], [`findings`], [`cost`],
/// [`diff`] and [`warnings`], in that order.
///
/// Guarantees: never panics; deterministic; every string of the verdict is
/// escaped; no `<script>`, no `style` attribute, no external resource.
pub fn verdict(v: &Verdict) -> Markup {
    let mut h = Html::new();
    for part in [
        decision(v),
        breakdown(v),
        findings(v),
        cost(v),
        diff(v),
        warnings(v),
    ] {
        h.markup(&part);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_markup_or_attributes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let mut h = Html::new();
        h.raw("<p title=\"").text("\" onmouseover=\"x").raw("\">");
        assert_eq!(
            h.finish().as_str(),
            "<p title=\"&quot; onmouseover=&quot;x\">"
        );
    }

    #[test]
    fn hostile_characters_are_shown_not_obeyed() {
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape("one\ntwo"), "one\\ntwo");
        let mut h = Html::new();
        h.block("one\r\ntwo\u{7}");
        assert_eq!(h.finish().as_str(), "one\ntwo\\u{7}");
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        let mut h = Html::new();
        h.url_segment("a b/c\"<é");
        assert_eq!(h.finish().as_str(), "a%20b%2Fc%22%3C%C3%A9");
    }

    #[test]
    fn meters_clamp_hostile_numbers() {
        assert_eq!(pct(f64::NAN), "0.0");
        assert_eq!(pct(250.0), "100.0");
        assert_eq!(pct(-3.0), "0.0");
    }
}
