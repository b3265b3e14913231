//! Helpers shared by the human formats: grouping findings, rendering values
//! and numbers, and neutralising hostile characters.

use arbiter_verdict::{ActionSummary, ChangeRelation, ChangeView, Effect, Finding, Verdict};

/// Attribute deltas shown per resource before a "… N more" line.
pub(crate) const MAX_ATTRIBUTES_PER_RESOURCE: usize = 10;

/// Longest rendered attribute value, in characters, before it is cut with `…`.
pub(crate) const MAX_VALUE_CHARS: usize = 120;

/// Findings split the way a reviewer reads them.
///
/// `listed` holds, in verdict order, every finding that changes the decision
/// (deny, escalate — even when pre-existing, because they still drive the
/// decision) and every warning the change introduces; the rest is counted.
pub(crate) struct FindingGroups<'a> {
    pub deny: Vec<&'a Finding>,
    pub escalate: Vec<&'a Finding>,
    pub warn: Vec<&'a Finding>,
    /// Info findings introduced by or about the change.
    pub info: usize,
    /// Warn/info findings present before and after the change.
    pub preexisting: usize,
    /// Findings the change fixes (any effect).
    pub fixed: usize,
}

impl<'a> FindingGroups<'a> {
    pub(crate) fn of(verdict: &'a Verdict) -> Self {
        let mut g = FindingGroups {
            deny: Vec::new(),
            escalate: Vec::new(),
            warn: Vec::new(),
            info: 0,
            preexisting: 0,
            fixed: 0,
        };
        for f in &verdict.findings {
            match (f.relation, f.effect) {
                (ChangeRelation::Fixed, _) => g.fixed += 1,
                (_, Effect::Deny) => g.deny.push(f),
                (_, Effect::Escalate) => g.escalate.push(f),
                (ChangeRelation::Preexisting, _) => g.preexisting += 1,
                (_, Effect::Warn) => g.warn.push(f),
                (_, Effect::Info) => g.info += 1,
            }
        }
        g
    }

    /// Number of findings listed one by one (before any `max_findings` cut).
    pub(crate) fn listed(&self) -> usize {
        self.deny.len() + self.escalate.len() + self.warn.len()
    }

    /// The listed groups with their effect, most decisive first.
    pub(crate) fn groups(&self) -> [(Effect, &[&'a Finding]); 3] {
        [
            (Effect::Deny, &self.deny),
            (Effect::Escalate, &self.escalate),
            (Effect::Warn, &self.warn),
        ]
    }

    /// "2 info, 1 pre-existing, 1 fixed by this change", or `None` when all
    /// three counts are zero.
    pub(crate) fn counted_line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.info > 0 {
            parts.push(format!("{} info", self.info));
        }
        if self.preexisting > 0 {
            parts.push(format!("{} pre-existing", self.preexisting));
        }
        if self.fixed > 0 {
            parts.push(format!("{} fixed by this change", self.fixed));
        }
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(", "))
        }
    }
}

/// The one-character symbol of a change action, as in `terraform plan`
/// (`±` for replace).
pub(crate) fn action_symbol(action: &str) -> &'static str {
    match action {
        "create" => "+",
        "update" => "~",
        "delete" => "-",
        "replace" | "delete-create" | "create-delete" => "±",
        "read" => "<=",
        "forget" => "⊘",
        _ => "·",
    }
}

/// Changes worth listing: everything that alters infrastructure, plus no-ops
/// that only move a resource to a new address. Data-source reads are left out.
pub(crate) fn listed_changes(verdict: &Verdict) -> Vec<&ChangeView> {
    verdict
        .changes
        .iter()
        .filter(|c| match c.action.as_str() {
            "read" => false,
            "no-op" | "no_op" | "noop" => c.previous_address.is_some(),
            _ => true,
        })
        .collect()
}

/// `+3 create  ~1 update  -1 delete  ±1 replace`, followed by the other
/// counts in parentheses when they are not zero.
pub(crate) fn action_line(s: &ActionSummary) -> String {
    let mut line = format!(
        "+{} create  ~{} update  -{} delete  ±{} replace",
        s.create, s.update, s.delete, s.replace
    );
    let mut extra = Vec::new();
    if s.forget > 0 {
        extra.push(format!("{} forget", s.forget));
    }
    if s.no_op > 0 {
        extra.push(format!("{} unchanged", s.no_op));
    }
    if s.read > 0 {
        extra.push(format!("{} read", s.read));
    }
    if !extra.is_empty() {
        line.push_str(&format!("  ({})", extra.join(", ")));
    }
    line
}

/// `value` when finite, else `fallback`: JSON has no NaN or infinity, and a
/// report must not turn a broken number into a reassuring one.
pub(crate) fn finite_or(value: f64, fallback: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        fallback
    }
}

/// `value` rounded to `decimals` places (half away from zero); non-finite
/// values are returned unchanged.
pub(crate) fn round_to(value: f64, decimals: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let factor = 10f64.powi(decimals);
    let rounded = (value * factor).round() / factor;
    // Rounding a huge value can overflow to infinity; keep the original then.
    if rounded.is_finite() {
        // Avoid printing "-0.0".
        if rounded == 0.0 {
            0.0
        } else {
            rounded
        }
    } else {
        value
    }
}

/// Confidence for display: one decimal, `0.0` when not a number.
pub(crate) fn confidence_str(confidence: f64) -> String {
    format!("{:.1}", round_to(finite_or(confidence, 0.0), 1))
}

/// Approval threshold for display: `95`, or `92.5` when it has a fraction.
pub(crate) fn threshold_str(threshold: f64) -> String {
    let t = finite_or(threshold, 100.0);
    if t.fract() == 0.0 && t.abs() < 1e15 {
        format!("{t:.0}")
    } else {
        format!("{:.1}", round_to(t, 1))
    }
}

/// Risk for display: three decimals.
pub(crate) fn risk_str(risk: f64) -> String {
    format!("{:.3}", round_to(finite_or(risk, 1.0), 3))
}

/// Whether `c` can change how surrounding text is displayed: C0/C1 controls
/// (ANSI escapes start with one) and the bidirectional overrides used in
/// "Trojan Source" spoofing.
pub(crate) fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` on one line: newlines become `\n`, tabs a space, and every other
/// control or bidirectional character is shown as `\u{..}`.
pub(crate) fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push(' '),
            c if is_hostile(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Like [`clean_line`] but keeps line breaks (for the explanation).
pub(crate) fn clean_block(s: &str) -> String {
    s.lines().map(clean_line).collect::<Vec<_>>().join("\n")
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An attribute value as a reviewer reads it: strings in JSON quotes, except
/// the judge's markers `(sensitive)`, `(known after apply)` and friends,
/// which are shown bare; other values as compact JSON; long values cut.
/// The result is one line and free of control characters.
pub(crate) fn value_str(v: &serde_json::Value) -> String {
    let raw = match v {
        serde_json::Value::String(s) if is_marker(s) => s.clone(),
        other => other.to_string(),
    };
    truncate_chars(&clean_line(&raw), MAX_VALUE_CHARS)
}

/// Parenthesised placeholders the judge writes in place of a value.
pub(crate) fn is_marker(s: &str) -> bool {
    matches!(
        s,
        "(sensitive)" | "(known after apply)" | "(sensitive value)" | "(unknown)"
    )
}

/// `stack-name (env)`, `stack-name`, `(unnamed) (env)`.
pub(crate) fn stack_label(verdict: &Verdict) -> String {
    let name = verdict
        .stack
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("(unnamed)");
    match verdict
        .stack
        .environment
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        Some(env) => format!("{} ({})", clean_line(name), clean_line(env)),
        None => clean_line(name),
    }
}

/// How many of `total` listed findings to show under `max_findings`.
pub(crate) fn shown_limit(total: usize, max_findings: Option<usize>) -> usize {
    max_findings.map_or(total, |m| m.min(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounding_never_prints_negative_zero() {
        assert_eq!(round_to(-0.0001, 1).to_string(), "0");
        assert_eq!(confidence_str(12.04), "12.0");
        assert_eq!(confidence_str(f64::NAN), "0.0");
        assert_eq!(risk_str(0.12345), "0.123");
        assert_eq!(risk_str(f64::INFINITY), "1.000");
        assert_eq!(threshold_str(95.0), "95");
        assert_eq!(threshold_str(92.5), "92.5");
    }

    #[test]
    fn hostile_characters_are_shown_escaped() {
        assert_eq!(clean_line("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(clean_line("x\ny\tz"), "x\\ny z");
        assert_eq!(clean_line("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(clean_block("one\ntwo\u{7}"), "one\ntwo\\u{7}");
    }

    #[test]
    fn values_keep_markers_bare_and_quote_strings() {
        assert_eq!(value_str(&json!("(sensitive)")), "(sensitive)");
        assert_eq!(
            value_str(&json!("(known after apply)")),
            "(known after apply)"
        );
        assert_eq!(value_str(&json!("0.0.0.0/0")), "\"0.0.0.0/0\"");
        assert_eq!(value_str(&json!(null)), "null");
        assert_eq!(value_str(&json!([1, 2])), "[1,2]");
        let long = "x".repeat(500);
        assert_eq!(value_str(&json!(long)).chars().count(), MAX_VALUE_CHARS);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abc", 0), "…");
    }
}
