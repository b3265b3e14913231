//! The HTML fragments of the web UI: golden files, structure (every element
//! closed, in order), escaping of hostile text in every field, no scripts,
//! inline styles or external resources, and sensitive values shown masked.
//!
//! Refresh the goldens after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p arbiter-report --test it html::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use arbiter_report::html::{self, Html};
use arbiter_verdict::{
    ChangeRelation, CostSummary, Decision, Effect, ResourceCost, Severity, UnpricedResource,
    Verdict,
};
use common::{change, critic, delta, finding, FindingSpec};
use serde_json::json;

const EVIL: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;\u{202e}";

/// A start tag: its name and attributes (name, value).
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// Reads the attributes of a start tag (our markup quotes every value with
/// `"`); an attribute without a value has an empty one.
fn attributes(mut s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() || s == "/" {
            return Ok(out);
        }
        let end = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let name = s[..end].to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("odd attribute name {name:?}"));
        }
        s = &s[end..];
        if let Some(rest) = s.strip_prefix("=\"") {
            let close = rest.find('"').ok_or("unterminated attribute value")?;
            out.push((name, rest[..close].to_string()));
            s = &rest[close + 1..];
        } else if s.starts_with('=') {
            return Err(format!("unquoted value of {name}"));
        } else {
            out.push((name, String::new()));
        }
    }
}

/// Checks that tags open and close in order (a text that smuggled markup
/// in would break this), and returns the start tags seen.
fn check_structure(html: &str) -> Result<Vec<Tag>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest
            .find('>')
            .ok_or_else(|| format!("unterminated tag near {:?}", &rest[..rest.len().min(40)]))?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if name.is_empty() {
                return Err(format!("a bare '<' in the markup: <{tag}>"));
            }
            let attributes = attributes(&tag[name.len()..])?;
            stack.push(name.clone());
            seen.push(Tag { name, attributes });
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    Ok(seen)
}

fn check_safe(name: &str, out: &str) {
    let tags = check_structure(out).unwrap_or_else(|e| panic!("{name}: {e}"));
    for t in &tags {
        assert!(
            !["script", "img", "iframe", "object", "embed", "link", "style", "base"]
                .contains(&t.name.as_str()),
            "{name}: a <{}> element",
            t.name
        );
        for (a, v) in &t.attributes {
            assert!(
                a != "style" && !a.starts_with("on") && a != "src",
                "{name}: attribute {a} on <{}>",
                t.name
            );
            if a == "href" {
                assert!(
                    v.starts_with('/') || v.starts_with('#'),
                    "{name}: href {v:?}"
                );
            }
        }
    }
    assert!(!out.contains('\u{202e}'), "{name}: a raw bidi override");
}

#[test]
fn every_verdict_renders_to_its_golden_html() {
    let golden = common::golden("html");
    let mut failures = Vec::new();
    for (name, verdict) in common::all() {
        let out = html::verdict(&verdict).into_string() + "\n";
        check_safe(name, &out);
        if let Err(e) = golden.check(&format!("{name}.html"), &out) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn hostile_verdict() -> Verdict {
    let mut v = common::reject_denies();
    v.explanation = format!("Rejected because {EVIL}\nsecond line");
    v.stack.name = Some(EVIL.into());
    let mut f = finding(FindingSpec {
        rule_id: EVIL,
        source: EVIL,
        severity: Severity::High,
        effect: Effect::Deny,
        address: Some(EVIL),
        message: EVIL,
    });
    f.title = Some(EVIL.into());
    f.remediation = Some(EVIL.into());
    f.evidence = json!({EVIL: EVIL, "list": [EVIL]});
    f.references = vec![EVIL.into()];
    f.confidence_cost = 3.0;
    v.findings.push(f.clone());
    let mut info = f.clone();
    info.effect = Effect::Info;
    info.relation = ChangeRelation::Preexisting;
    info.evidence = json!(EVIL);
    v.findings.push(info);
    v.critics.push(critic(EVIL, 0.2, 1, EVIL));
    let mut c = change(
        EVIL,
        "update",
        vec![delta(EVIL, json!(EVIL), json!({EVIL: EVIL}))],
    );
    c.previous_address = Some(EVIL.into());
    v.changes.push(c);
    v.cost.resources.push(ResourceCost {
        address: EVIL.into(),
        resource_type: EVIL.into(),
        action: EVIL.into(),
        region: EVIL.into(),
        monthly_after_usd: 1.0,
        monthly_delta_usd: 1.0,
        ..ResourceCost::default()
    });
    v.cost.unpriced.push(UnpricedResource {
        address: EVIL.into(),
        resource_type: EVIL.into(),
        action: EVIL.into(),
        reason: EVIL.into(),
        kind: EVIL.into(),
    });
    v.cost.note = Some(EVIL.into());
    v.cost.warnings.push(EVIL.into());
    v.warnings.push(EVIL.into());
    v
}

#[test]
fn hostile_text_in_every_field_is_escaped() {
    let v = hostile_verdict();
    let out = html::verdict(&v).into_string();
    check_safe("hostile", &out);
    assert!(!out.contains("<script>"));
    assert!(!out.contains("<img"));
    // Shown, escaped: the reviewer sees what the attacker wrote.
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;\\u{202e}"));
    // Line breaks of the explanation are kept; of an address they are shown.
    assert!(out.contains("\nsecond line"));
}

#[test]
fn sensitive_values_are_shown_as_the_mask() {
    let mut v = common::empty(Decision::Review);
    v.changes.push(change(
        "aws_db_instance.main",
        "update",
        vec![
            delta("password", json!("(sensitive)"), json!("(sensitive)")),
            delta("instance_class", json!("db.t3.micro"), json!("db.t3.large")),
        ],
    ));
    let out = html::diff(&v).into_string();
    assert!(
        out.contains("<span class=\"marker\">(sensitive)</span>"),
        "{out}"
    );
    assert!(
        out.contains("<code class=\"value\">&quot;db.t3.large&quot;</code>"),
        "{out}"
    );
}

#[test]
fn the_breakdown_gives_each_critic_the_points_of_its_findings() {
    // Two critics: risks 0.6 and 0.1 → confidence 36; the 64 lost points
    // split in proportion to −ln(1 − risk): 0.916 : 0.105.
    let mut v = common::empty(Decision::Review);
    v.confidence = 36.0;
    v.critics = vec![
        critic("security", 0.6, 2, "two"),
        critic("cost", 0.1, 1, "one"),
    ];
    let out = html::breakdown(&v).into_string();
    let a = 64.0 * (0.4f64).ln() / ((0.4f64).ln() + (0.9f64).ln());
    let b = 64.0 - a;
    assert!(out.contains(&format!("−{a:.1}")), "{out}");
    assert!(out.contains(&format!("−{b:.1}")), "{out}");
}

#[test]
fn broken_numbers_and_empty_verdicts_render() {
    for d in [Decision::Approve, Decision::Review, Decision::Reject] {
        let mut v = common::empty(d);
        v.confidence = f64::NAN;
        v.stack.auto_apply_threshold = f64::INFINITY;
        v.critics.push(critic("x", f64::NAN, 0, ""));
        v.cost = CostSummary {
            computed: true,
            monthly_delta_usd: f64::NAN,
            ..CostSummary::default()
        };
        let out = html::verdict(&v).into_string();
        check_safe("broken", &out);
        assert!(out.contains("0.0</strong> confidence"), "{out}");
    }
}

#[test]
fn the_writer_only_takes_program_markup_raw() {
    let mut h = Html::new();
    h.raw("<a href=\"/stacks/")
        .url_segment("a/../b?c")
        .raw("\">")
        .text(EVIL)
        .raw("</a>");
    let out = h.finish().into_string();
    assert!(out.starts_with("<a href=\"/stacks/a%2F..%2Fb%3Fc\">&lt;script"));
    check_structure(&out).unwrap();
}

#[test]
fn thousands_of_findings_are_cut_to_a_readable_page() {
    let mut v = common::empty(Decision::Review);
    for i in 0..1000 {
        let mut f = finding(FindingSpec {
            rule_id: "ARB-AWS-EC2-010",
            source: "builtin",
            severity: Severity::Low,
            effect: Effect::Warn,
            address: None,
            message: "IMDSv1 is enabled",
        });
        f.address = Some(format!("aws_instance.web_{i}"));
        v.findings.push(f);
    }
    let out = html::findings(&v).into_string();
    check_safe("many", &out);
    assert_eq!(out.matches("<article").count(), 200);
    assert!(out.contains("… 800 more like these"), "{out}");
    assert!(out.contains("<h2>Findings <span class=\"count\">1000</span></h2>"));
}
