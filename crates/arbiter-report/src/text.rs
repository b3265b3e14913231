//! The terminal view: a summary a reviewer scans in seconds.

use crate::common::{
    action_line, action_symbol, clean_block, clean_line, confidence_str, listed_changes, risk_str,
    shown_limit, stack_label, threshold_str, value_str, FindingGroups, MAX_ATTRIBUTES_PER_RESOURCE,
};
use crate::RenderOptions;
use arbiter_verdict::money::{usd, usd_delta, MoneyStyle};
use arbiter_verdict::{ChangeRelation, Decision, Effect, Finding, Severity, Verdict};
use std::fmt::Write as _;

/// ANSI styling that is a no-op when colour is off.
struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, s: &str, sgr: &str) -> String {
        if self.on {
            format!("\x1b[{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn bold(&self, s: &str) -> String {
        self.paint(s, "1")
    }

    fn dim(&self, s: &str) -> String {
        self.paint(s, "2")
    }

    fn decision(&self, d: Decision) -> String {
        let word = d.as_str().to_ascii_uppercase();
        match d {
            Decision::Approve => self.paint(&word, "1;32"),
            Decision::Review => self.paint(&word, "1;33"),
            Decision::Reject => self.paint(&word, "1;31"),
        }
    }

    fn severity(&self, s: Severity) -> String {
        let padded = format!("{:<8}", s.as_str());
        match s {
            Severity::Critical => self.paint(&padded, "1;31"),
            Severity::High => self.paint(&padded, "31"),
            Severity::Medium => self.paint(&padded, "33"),
            Severity::Low => self.paint(&padded, "36"),
            Severity::Info => self.paint(&padded, "2"),
        }
    }

    fn effect_heading(&self, e: Effect, count: usize) -> String {
        let title = match e {
            Effect::Deny => "Deny",
            Effect::Escalate => "Escalate",
            Effect::Warn => "Warn",
            Effect::Info => "Info",
        };
        let s = format!("{title} ({count})");
        match e {
            Effect::Deny => self.paint(&s, "1;31"),
            Effect::Escalate => self.paint(&s, "1;33"),
            Effect::Warn => self.paint(&s, "1;36"),
            Effect::Info => self.paint(&s, "1"),
        }
    }

    fn risk(&self, risk: f64) -> String {
        let s = risk_str(risk);
        if !risk.is_finite() || risk >= 0.5 {
            self.paint(&s, "31")
        } else if risk > 0.0 {
            self.paint(&s, "33")
        } else {
            self.paint(&s, "32")
        }
    }
}

pub(crate) fn render(verdict: &Verdict, opts: &RenderOptions) -> String {
    let p = Painter { on: opts.color };
    let mut out = String::new();
    header(&mut out, verdict, &p);
    explanation(&mut out, verdict);
    counterfactual(&mut out, verdict, &p);
    findings(&mut out, verdict, opts, &p);
    critics(&mut out, verdict, &p);
    cost(&mut out, verdict, &p);
    changes(&mut out, verdict, &p);
    warnings(&mut out, verdict, &p);
    out
}

fn header(out: &mut String, v: &Verdict, p: &Painter) {
    let _ = writeln!(
        out,
        "{}  confidence {} / {} needed  ·  stack {}",
        p.decision(v.decision),
        p.bold(&confidence_str(v.confidence)),
        threshold_str(v.stack.auto_apply_threshold),
        stack_label(v),
    );
    let _ = writeln!(out, "{}", action_line(&v.summary));
}

fn explanation(out: &mut String, v: &Verdict) {
    let text = clean_block(v.explanation.trim());
    if !text.is_empty() {
        let _ = writeln!(out, "\n{text}");
    }
}

fn counterfactual(out: &mut String, v: &Verdict, p: &Painter) {
    if let Some(cf) = &v.counterfactual {
        let _ = writeln!(
            out,
            "\n{} {}",
            p.bold("With the mechanical fixes:"),
            clean_line(&cf.summary())
        );
    }
}

fn findings(out: &mut String, v: &Verdict, opts: &RenderOptions, p: &Painter) {
    let groups = FindingGroups::of(v);
    let _ = writeln!(out, "\n{}", p.bold("Findings"));
    if v.findings.is_empty() {
        let _ = writeln!(out, "  none");
        return;
    }
    let limit = shown_limit(groups.listed(), opts.max_findings);
    let mut shown = 0;
    for (effect, list) in groups.groups() {
        if list.is_empty() || shown >= limit {
            continue;
        }
        let _ = writeln!(out, "  {}", p.effect_heading(effect, list.len()));
        for f in list.iter().take(limit - shown) {
            finding(out, f, p);
            shown += 1;
        }
    }
    if groups.listed() > shown {
        let _ = writeln!(out, "  … {} more not listed", groups.listed() - shown);
    }
    if let Some(line) = groups.counted_line() {
        let _ = writeln!(out, "  {}", p.dim(&format!("Also: {line}")));
    }
}

fn finding(out: &mut String, f: &Finding, p: &Painter) {
    let mut first = format!(
        "    {} {}",
        p.severity(f.severity),
        p.bold(&clean_line(&f.rule_id))
    );
    if let Some(addr) = f.address.as_deref() {
        let _ = write!(first, "  {}", clean_line(addr));
    }
    if f.relation == ChangeRelation::Preexisting {
        let _ = write!(first, "  {}", p.dim("[pre-existing]"));
    }
    if f.held_by_floor {
        let _ = write!(first, "  {}", p.bold("[holds: introduced weakness]"));
    }
    let _ = writeln!(out, "{first}");
    let _ = writeln!(out, "      {}", clean_line(&f.message));
    if let Some(w) = &f.waiver {
        let state = if w.expired {
            "EXPIRED waiver"
        } else {
            "waived"
        };
        let id =
            w.id.as_deref()
                .map(|i| format!(" (waiver {})", clean_line(i)))
                .unwrap_or_default();
        let _ = writeln!(
            out,
            "      {} {} until {} by {}: {}{id}",
            p.dim(&format!("{state}:")),
            clean_line(&w.address),
            clean_line(&w.expires),
            clean_line(&w.owner),
            clean_line(&w.reason)
        );
    }
    if let Some(fix) = f.remediation.as_deref().filter(|r| !r.trim().is_empty()) {
        let _ = writeln!(out, "      {} {}", p.dim("fix:"), clean_line(fix.trim()));
    }
    if !f.fix.is_empty() {
        let steps: Vec<String> = f.fix.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(
            out,
            "      {} {}",
            p.dim("mechanical fix:"),
            clean_line(&steps.join("; "))
        );
    }
}

fn critics(out: &mut String, v: &Verdict, p: &Painter) {
    if v.critics.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", p.bold("Critics"));
    let names: Vec<String> = v.critics.iter().map(|c| clean_line(&c.name)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .chain(std::iter::once("critic".len()))
        .max()
        .unwrap_or(6);
    let _ = writeln!(
        out,
        "  {}",
        p.dim(&format!("{:<width$}  risk   findings  summary", "critic"))
    );
    for (c, name) in v.critics.iter().zip(&names) {
        let pad = width.saturating_sub(name.chars().count());
        let _ = writeln!(
            out,
            "  {name}{}  {}  {:<8}  {}",
            " ".repeat(pad),
            p.risk(c.risk),
            c.findings,
            clean_line(c.summary.trim()),
        );
    }
}

fn cost(out: &mut String, v: &Verdict, p: &Painter) {
    let c = &v.cost;
    let mut line = String::new();
    let _ = write!(line, "\n{} ", p.bold("Cost:"));
    if !c.computed {
        line.push_str("not computed");
        if let Some(note) = c.note.as_deref().filter(|n| !n.trim().is_empty()) {
            let _ = write!(line, " ({})", clean_line(note.trim()));
        }
        let _ = writeln!(out, "{line}");
        return;
    }
    let delta = usd_delta(c.monthly_delta_usd, MoneyStyle::Cents);
    let delta = if c.monthly_delta_usd > 0.0 {
        p.paint(&delta, "33")
    } else {
        delta
    };
    let _ = write!(
        line,
        "{}/mo → {}/mo ({delta}/mo",
        usd(c.monthly_before_usd, MoneyStyle::Cents),
        usd(c.monthly_after_usd, MoneyStyle::Cents)
    );
    if let Some(budget) = v.stack.monthly_budget_usd {
        let _ = write!(line, "; budget {}/mo", usd(budget, MoneyStyle::Cents));
        if c.monthly_after_usd > budget {
            let _ = write!(line, ", {}", p.paint("over budget", "1;31"));
        }
    }
    line.push(')');
    if let Some(note) = c.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = write!(line, " — {}", p.dim(&clean_line(note.trim())));
    }
    let _ = writeln!(out, "{line}");
    for l in crate::cost::top_lines(c, 5) {
        let _ = writeln!(out, "  {l}");
    }
}

fn changes(out: &mut String, v: &Verdict, p: &Painter) {
    let list = listed_changes(v);
    let _ = writeln!(
        out,
        "\n{}",
        p.bold(&format!("Resource changes ({})", list.len()))
    );
    if list.is_empty() {
        let _ = writeln!(out, "  none");
        return;
    }
    for c in list {
        let symbol = action_symbol(&c.action);
        let symbol = match symbol {
            "+" => p.paint(symbol, "32"),
            "-" => p.paint(symbol, "31"),
            "~" => p.paint(symbol, "33"),
            "±" => p.paint(symbol, "35"),
            other => other.to_string(),
        };
        let mut line = format!("  {symbol} {}", clean_line(&c.address));
        if let Some(prev) = c.previous_address.as_deref() {
            let _ = write!(
                line,
                "  {}",
                p.dim(&format!("(moved from {})", clean_line(prev)))
            );
        }
        let _ = writeln!(out, "{line}");
        for a in c.attributes.iter().take(MAX_ATTRIBUTES_PER_RESOURCE) {
            let _ = writeln!(
                out,
                "      {}: {} → {}",
                clean_line(&a.path),
                value_str(&a.before),
                value_str(&a.after)
            );
        }
        if c.attributes.len() > MAX_ATTRIBUTES_PER_RESOURCE {
            let _ = writeln!(
                out,
                "      … {} more",
                c.attributes.len() - MAX_ATTRIBUTES_PER_RESOURCE
            );
        }
    }
}

fn warnings(out: &mut String, v: &Verdict, p: &Painter) {
    if v.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", p.bold("Warnings"));
    for w in &v.warnings {
        let _ = writeln!(out, "  ! {}", clean_line(w));
    }
}
