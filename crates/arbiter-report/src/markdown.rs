//! The pull-request comment (GitHub-flavoured markdown).
//!
//! Every string that comes from the verdict (addresses, messages, rule IDs,
//! remediation, critic summaries, the explanation) goes through [`inline`] or
//! [`block`] so that it cannot close a table cell, open a code span, start
//! HTML, trigger math, or mention a user or team.

use crate::common::{
    action_symbol, clean_line, confidence_str, listed_changes, risk_str, value_str, FindingGroups,
    MAX_ATTRIBUTES_PER_RESOURCE,
};
use crate::RenderOptions;
use arbiter_verdict::money::{usd, usd_delta, MoneyStyle};
use arbiter_verdict::{ChangeRelation, ChangeView, Decision, Effect, Finding, Verdict};
use std::fmt::Write as _;

/// GitHub rejects comments longer than 65,536 characters; keep a margin.
pub(crate) const MAX_COMMENT_CHARS: usize = 65_000;

/// Resources shown in the collapsible diff before a "… N more" line.
const MAX_DIFF_RESOURCES: usize = 100;

/// `s` escaped for use inside a line of markdown or a table cell.
///
/// Control characters are shown escaped first (see `clean_line`), then: HTML
/// metacharacters become entities; markdown punctuation that could start
/// emphasis, a link, a code span, strikethrough or math is backslash-escaped;
/// `|` is escaped so it cannot split a table cell; `@` is followed by a zero
/// width space so a message cannot mention anyone.
pub(crate) fn inline(s: &str) -> String {
    let cleaned = clean_line(s);
    let mut out = String::with_capacity(cleaned.len() + 8);
    for c in cleaned.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("@\u{200B}"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '$' | '#' | '!' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Multi-line text escaped as paragraphs: each line as [`inline`], with
/// leading indentation dropped (it would make a code block). A line written
/// as a bullet (`- ` or `* `) stays a bullet, its text escaped; any other
/// leading `-`, `+`, `=` or `1.` is escaped (it would make a list, a rule or
/// a heading the author did not write).
pub(crate) fn block(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_list = false;
    for line in s.lines() {
        let line = line.trim_start();
        match line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            Some(item) => {
                out.push(format!(
                    "- {}",
                    escape_line_start(&inline(item.trim_start()))
                ));
                in_list = true;
            }
            None => {
                // A text line right after a bullet would continue that
                // bullet ("lazy continuation"); a blank line ends the list.
                if in_list && !line.is_empty() {
                    out.push(String::new());
                }
                out.push(escape_line_start(&inline(line)));
                in_list = false;
            }
        }
    }
    out.join("\n")
}

fn escape_line_start(line: &str) -> String {
    let mut chars = line.char_indices();
    match chars.next() {
        Some((_, '-' | '+' | '=')) => format!("\\{line}"),
        Some((_, c)) if c.is_ascii_digit() => {
            // "12." or "12)" at the start of a line opens an ordered list.
            let digits_end = line
                .char_indices()
                .find(|(_, c)| !c.is_ascii_digit())
                .map_or(line.len(), |(i, _)| i);
            match line[digits_end..].chars().next() {
                Some('.' | ')') => format!("{}\\{}", &line[..digits_end], &line[digits_end..]),
                _ => line.to_string(),
            }
        }
        _ => line.to_string(),
    }
}

/// An identifier (rule ID, address) in monospace, escaped.
fn code(s: &str) -> String {
    format!("<code>{}</code>", inline(s))
}

/// How much of the long parts a rendering includes.
#[derive(Clone, Copy)]
struct Limits {
    /// Deny/escalate/warn findings listed in the main table.
    findings: usize,
    /// Info, pre-existing and fixed findings in the collapsed table.
    others: usize,
    /// Resources in the collapsed diff.
    diff: usize,
}

pub(crate) fn render(verdict: &Verdict, opts: &RenderOptions) -> String {
    let groups = FindingGroups::of(verdict);
    let listed = groups.listed();
    let others = verdict.findings.len().saturating_sub(listed);
    let mut limits = Limits {
        findings: opts.max_findings.map_or(listed, |m| m.min(listed)),
        others: opts.max_findings.map_or(others, |m| m.min(others)),
        diff: MAX_DIFF_RESOURCES,
    };
    loop {
        let out = build(verdict, opts, limits);
        if out.chars().count() <= MAX_COMMENT_CHARS {
            return out;
        }
        // Too long for a comment: shorten the diff first (it is the bulkiest
        // and least decisive part), then the context findings, then the
        // decisive ones.
        if limits.diff > 0 {
            limits.diff /= 2;
        } else if limits.others > 0 {
            limits.others /= 2;
        } else if limits.findings > 0 {
            limits.findings /= 2;
        } else {
            // Only a gigantic explanation or critic list is left: cut.
            let mut cut: String = out.chars().take(MAX_COMMENT_CHARS - 200).collect();
            cut.push_str("\n\n_… report cut here: it exceeds the size of a GitHub comment._\n");
            return cut;
        }
    }
}

fn build(v: &Verdict, opts: &RenderOptions, limits: Limits) -> String {
    let mut out = String::new();
    heading(&mut out, v);
    summary_table(&mut out, v);
    why(&mut out, v);
    counterfactual(&mut out, v);
    findings(&mut out, v, limits);
    critics(&mut out, v);
    cost(&mut out, v);
    diff(&mut out, v, limits.diff);
    warnings(&mut out, v);
    footer(&mut out, v, opts);
    out
}

fn heading(out: &mut String, v: &Verdict) {
    let badge = match v.decision {
        Decision::Approve => "✅",
        Decision::Review => "⚠️",
        Decision::Reject => "❌",
    };
    let _ = writeln!(
        out,
        "### {badge} Arbiter: {} — confidence {} / {}\n",
        v.decision.as_str(),
        confidence_str(v.confidence),
        crate::common::threshold_str(v.stack.auto_apply_threshold),
    );
    let mut facts = Vec::new();
    let name = v.stack.name.as_deref().filter(|n| !n.trim().is_empty());
    facts.push(format!(
        "**Stack:** {}",
        name.map_or("(unnamed)".to_string(), code)
    ));
    if let Some(env) = v
        .stack
        .environment
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        facts.push(format!("**Environment:** {}", code(env)));
    }
    if let Some(tf) = v
        .plan
        .terraform_version
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        facts.push(format!("**Terraform:** {}", inline(tf)));
    }
    let _ = writeln!(out, "{}\n", facts.join(" · "));
}

fn summary_table(out: &mut String, v: &Verdict) {
    let s = &v.summary;
    let mut cols = vec![
        ("Create", s.create),
        ("Update", s.update),
        ("Delete", s.delete),
        ("Replace", s.replace),
        ("No-op", s.no_op),
        ("Read", s.read),
    ];
    if s.forget > 0 {
        cols.push(("Forget", s.forget));
    }
    let header: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---:|".repeat(cols.len()));
    let values: Vec<String> = cols.iter().map(|(_, n)| n.to_string()).collect();
    let _ = writeln!(out, "| {} |\n", values.join(" | "));
}

fn why(out: &mut String, v: &Verdict) {
    let text = v.explanation.trim();
    if text.is_empty() {
        return;
    }
    let _ = writeln!(out, "#### Why\n\n{}\n", block(text));
}

fn counterfactual(out: &mut String, v: &Verdict) {
    if let Some(cf) = &v.counterfactual {
        let _ = writeln!(
            out,
            "**With the mechanical fixes:** {}\n",
            inline(&cf.summary())
        );
    }
}

fn effect_cell(e: Effect) -> &'static str {
    match e {
        Effect::Deny => "**deny**",
        Effect::Escalate => "escalate",
        Effect::Warn => "warn",
        Effect::Info => "info",
    }
}

fn address_cell(f: &Finding) -> String {
    f.address.as_deref().map_or_else(|| "—".to_string(), code)
}

fn findings(out: &mut String, v: &Verdict, limits: Limits) {
    let _ = writeln!(out, "#### Findings\n");
    if v.findings.is_empty() {
        let _ = writeln!(out, "No findings.\n");
        return;
    }
    let groups = FindingGroups::of(v);
    let listed: Vec<&Finding> = groups
        .groups()
        .iter()
        .flat_map(|(_, list)| list.iter().copied())
        .collect();
    let shown: Vec<&Finding> = listed.iter().copied().take(limits.findings).collect();
    if !shown.is_empty() {
        let _ = writeln!(out, "| Effect | Severity | Rule | Resource | Message |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for f in &shown {
            let mut message = inline(&f.message);
            if f.relation == ChangeRelation::Preexisting {
                message.push_str(" _(pre-existing)_");
            }
            if f.held_by_floor {
                message.push_str(" **(introduced weakness: holds the change)**");
            }
            if let Some(w) = &f.waiver {
                let state = if w.expired {
                    "waiver EXPIRED"
                } else {
                    "waived"
                };
                message.push_str(&format!(
                    " _({state} until {} by {}: {})_",
                    inline(&w.expires),
                    inline(&w.owner),
                    inline(&w.reason)
                ));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                effect_cell(f.effect),
                f.severity.as_str(),
                code(&f.rule_id),
                address_cell(f),
                message
            );
        }
        out.push('\n');
    }
    if listed.len() > shown.len() {
        let _ = writeln!(
            out,
            "_… {} more not listed here; the JSON and SARIF reports have them all._\n",
            listed.len() - shown.len()
        );
    } else if listed.is_empty() {
        let _ = writeln!(out, "Nothing that blocks or needs a person.\n");
    }
    if let Some(line) = groups.counted_line() {
        let _ = writeln!(out, "_Also: {line}._\n");
    }

    // One remediation per (rule, resource): a rule firing on several
    // attributes of one resource has one fix.
    let mut seen_fix = std::collections::HashSet::new();
    let fixes: Vec<&Finding> = shown
        .iter()
        .copied()
        .filter(|f| {
            f.remediation
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty())
        })
        .filter(|f| seen_fix.insert((f.rule_id.as_str(), f.address.as_deref())))
        .collect();
    if !fixes.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Remediation ({})</summary>\n",
            fixes.len()
        );
        for f in fixes {
            let fix = f.remediation.as_deref().unwrap_or_default().trim();
            let on = f
                .address
                .as_deref()
                .map_or_else(String::new, |a| format!(" on {}", code(a)));
            let _ = writeln!(out, "- {}{on}: {}", code(&f.rule_id), inline(fix));
        }
        let _ = writeln!(out, "\n</details>\n");
    }

    let listed_set: std::collections::HashSet<*const Finding> =
        listed.iter().map(|f| *f as *const Finding).collect();
    let others: Vec<&Finding> = v
        .findings
        .iter()
        .filter(|f| !listed_set.contains(&(*f as *const Finding)))
        .collect();
    if !others.is_empty() {
        let shown_others: Vec<&Finding> = others.iter().copied().take(limits.others).collect();
        let _ = writeln!(
            out,
            "<details><summary>Other findings ({}): info, pre-existing, fixed</summary>\n",
            others.len()
        );
        let _ = writeln!(
            out,
            "| Effect | Relation | Severity | Rule | Resource | Message |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for f in &shown_others {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                effect_cell(f.effect),
                relation_cell(f.relation),
                f.severity.as_str(),
                code(&f.rule_id),
                address_cell(f),
                inline(&f.message)
            );
        }
        if others.len() > shown_others.len() {
            let _ = writeln!(
                out,
                "\n_… {} more not listed._",
                others.len() - shown_others.len()
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}

fn relation_cell(r: ChangeRelation) -> &'static str {
    match r {
        ChangeRelation::Introduced => "introduced",
        ChangeRelation::Preexisting => "pre-existing",
        ChangeRelation::Fixed => "fixed ✔",
        ChangeRelation::Change => "change",
    }
}

fn critics(out: &mut String, v: &Verdict) {
    if v.critics.is_empty() {
        return;
    }
    let _ = writeln!(out, "#### Critics\n");
    let _ = writeln!(out, "| Critic | Risk | Findings | Summary |");
    let _ = writeln!(out, "|---|---:|---:|---|");
    for c in &v.critics {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            inline(&c.name),
            risk_str(c.risk),
            c.findings,
            inline(c.summary.trim())
        );
    }
    out.push('\n');
}

fn cost(out: &mut String, v: &Verdict) {
    let c = &v.cost;
    if !c.computed {
        let note = c
            .note
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map_or_else(String::new, |n| format!(" ({})", inline(n.trim())));
        let _ = writeln!(out, "**Cost:** not computed{note}\n");
        return;
    }
    let mut line = format!(
        "**Cost:** {} → {} per month (**{}**",
        inline(&usd(c.monthly_before_usd, MoneyStyle::Cents)),
        inline(&usd(c.monthly_after_usd, MoneyStyle::Cents)),
        inline(&usd_delta(c.monthly_delta_usd, MoneyStyle::Cents)),
    );
    if let Some(budget) = v.stack.monthly_budget_usd {
        let _ = write!(line, "; budget {}", inline(&usd(budget, MoneyStyle::Cents)));
        if c.monthly_after_usd > budget {
            line.push_str(", **over budget**");
        }
    }
    line.push(')');
    if let Some(note) = c.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = write!(line, " — {}", inline(note.trim()));
    }
    let _ = writeln!(out, "{line}\n");
    let changed: Vec<_> = c
        .resources
        .iter()
        .filter(|r| r.monthly_delta_usd.abs() >= 0.005)
        .take(10)
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(
            out,
            "| | Resource | Before | After | Change |\n|---|---|---:|---:|---:|"
        );
        for r in changed {
            let classes = if r.classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", inline(&crate::cost::class_list(&r.classes)))
            };
            let _ = writeln!(
                out,
                "| {} | {}{classes} | {} | {} | {} |",
                inline(crate::common::action_symbol(&r.action)),
                inline(&r.address),
                inline(&usd(r.monthly_before_usd, MoneyStyle::Cents)),
                inline(&usd(r.monthly_after_usd, MoneyStyle::Cents)),
                inline(&usd_delta(r.monthly_delta_usd, MoneyStyle::Cents))
            );
        }
        out.push('\n');
    }
    if c.counts.unpriced > 0 {
        let _ = writeln!(
            out,
            "{} resource(s) could not be priced and are not in the totals (`arbiter cost` lists why).\n",
            c.counts.unpriced
        );
    }
}

/// One line of the diff block per resource, attribute lines indented.
/// Inside a fenced block nothing is markdown, so only control characters
/// need neutralising (done by `clean_line` / `value_str`).
fn diff_lines(c: &ChangeView) -> Vec<String> {
    let mut lines = Vec::new();
    let mut head = format!("{} {}", action_symbol(&c.action), clean_line(&c.address));
    if let Some(prev) = c.previous_address.as_deref() {
        let _ = write!(head, "  (moved from {})", clean_line(prev));
    }
    lines.push(head);
    for a in c.attributes.iter().take(MAX_ATTRIBUTES_PER_RESOURCE) {
        lines.push(format!(
            "    {}: {} → {}",
            clean_line(&a.path),
            value_str(&a.before),
            value_str(&a.after)
        ));
    }
    if c.attributes.len() > MAX_ATTRIBUTES_PER_RESOURCE {
        lines.push(format!(
            "    … {} more",
            c.attributes.len() - MAX_ATTRIBUTES_PER_RESOURCE
        ));
    }
    lines
}

fn diff(out: &mut String, v: &Verdict, limit: usize) {
    let list = listed_changes(v);
    if list.is_empty() {
        let _ = writeln!(out, "_No resource changes._\n");
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>Resource changes ({})</summary>\n",
        list.len()
    );
    if limit == 0 {
        let _ = writeln!(
            out,
            "_The diff is left out: it would not fit in a comment. The text and JSON reports have it._"
        );
    } else {
        let mut lines = Vec::new();
        for c in list.iter().take(limit) {
            lines.extend(diff_lines(c));
        }
        if list.len() > limit {
            lines.push(format!("… {} more resources", list.len() - limit));
        }
        // A fence longer than any run of backticks in the content cannot be
        // closed early by it.
        let longest_run = lines
            .iter()
            .map(|l| longest_backtick_run(l))
            .max()
            .unwrap_or(0);
        let fence = "`".repeat(longest_run.max(2) + 1);
        let _ = writeln!(out, "{fence}diff");
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out, "{fence}");
    }
    let _ = writeln!(out, "\n</details>\n");
}

fn longest_backtick_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn warnings(out: &mut String, v: &Verdict) {
    if v.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "> **Warnings**");
    for w in &v.warnings {
        let _ = writeln!(out, "> - {}", inline(w));
    }
    out.push('\n');
}

fn footer(out: &mut String, v: &Verdict, opts: &RenderOptions) {
    let mut parts = vec![format!("Arbiter {}", inline(&opts.tool_version))];
    if let Some(fv) = v
        .plan
        .format_version
        .as_deref()
        .filter(|f| !f.trim().is_empty())
    {
        parts.push(format!("plan format {}", inline(fv)));
    }
    let _ = writeln!(out, "<sub>{}</sub>", parts.join(" · "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_neutralises_tables_html_code_and_mentions() {
        assert_eq!(inline("a|b"), "a\\|b");
        assert_eq!(
            inline("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(inline("`x`"), "\\`x\\`");
        assert_eq!(inline("@octo/team"), "@\u{200B}octo/team");
        assert_eq!(inline("[a](http://x)"), "\\[a\\](http://x)");
        assert_eq!(inline("$x$"), "\\$x\\$");
        assert_eq!(inline("line\nbreak"), "line\\\\nbreak");
        assert_eq!(inline("a & b"), "a &amp; b");
    }

    #[test]
    fn block_escapes_structure_at_line_start() {
        assert_eq!(block("- item"), "- item");
        assert_eq!(block("* <b>x</b>"), "- &lt;b&gt;x&lt;/b&gt;");
        assert_eq!(block("- - nested"), "- \\- nested");
        assert_eq!(block("-not a bullet"), "\\-not a bullet");
        assert_eq!(block("    code"), "code");
        assert_eq!(block("1. first"), "1\\. first");
        assert_eq!(block("2024 was fine"), "2024 was fine");
        assert_eq!(block("==="), "\\===");
        assert_eq!(block("# title"), "\\# title");
        assert_eq!(block("one\n\ntwo"), "one\n\ntwo");
        assert_eq!(block("a\n- b\nc"), "a\n- b\n\nc");
    }

    #[test]
    fn fence_outgrows_backticks() {
        assert_eq!(longest_backtick_run("a ```` b ` c"), 4);
        assert_eq!(longest_backtick_run("none"), 0);
    }
}
