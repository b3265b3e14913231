//! Behaviour of each format beyond the golden files: the JSON contract, SARIF
//! schema conformance, colour, escaping, limits and edge cases.

use crate::common;

use arbiter_report::{
    fingerprint, render, render_json, render_markdown, render_sarif, render_text, render_to,
    Format, RenderOptions,
};
use arbiter_verdict::{Decision, Effect, Severity, Verdict};
use common::{change, delta, finding, FindingSpec};
use serde_json::{json, Value};
use std::error::Error;

type TestResult = Result<(), Box<dyn Error>>;

fn opts() -> RenderOptions {
    common::golden_options()
}

fn every_verdict() -> Vec<(String, Verdict)> {
    let mut all: Vec<(String, Verdict)> = common::all()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    for d in [Decision::Approve, Decision::Review, Decision::Reject] {
        all.push((format!("empty_{d}"), common::empty(d)));
    }
    all
}

// ---------------------------------------------------------------- JSON ----

fn field<'a>(obj: &'a Value, key: &str, ctx: &str) -> Result<&'a Value, String> {
    obj.get(key)
        .ok_or_else(|| format!("{ctx}: contract field `{key}` is missing"))
}

fn expect_number_in(v: &Value, lo: f64, hi: f64, ctx: &str) -> Result<(), String> {
    let n = v
        .as_f64()
        .ok_or_else(|| format!("{ctx}: expected a number, got {v}"))?;
    if (lo..=hi).contains(&n) {
        Ok(())
    } else {
        Err(format!("{ctx}: {n} is outside {lo}..{hi}"))
    }
}

fn expect_one_of(v: &Value, allowed: &[&str], ctx: &str) -> Result<(), String> {
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!("{ctx}: expected one of {allowed:?}, got {v}")),
    }
}

/// Checks one rendered JSON document against PRODUCT.md §4.1.
fn check_contract(doc: &Value, name: &str) -> Result<(), String> {
    if !doc.is_object() {
        return Err(format!("{name}: not a JSON object"));
    }
    expect_one_of(
        field(doc, "decision", name)?,
        &["approve", "review", "reject"],
        &format!("{name}.decision"),
    )?;
    expect_number_in(
        field(doc, "confidence", name)?,
        0.0,
        100.0,
        &format!("{name}.confidence"),
    )?;

    let summary = field(doc, "summary", name)?;
    for key in ["create", "update", "delete", "replace", "no_op", "read"] {
        let v = field(summary, key, &format!("{name}.summary"))?;
        if !v.is_u64() {
            return Err(format!("{name}.summary.{key}: expected a count, got {v}"));
        }
    }

    let findings = field(doc, "findings", name)?
        .as_array()
        .ok_or(format!("{name}.findings: expected an array"))?;
    for (i, f) in findings.iter().enumerate() {
        let ctx = format!("{name}.findings[{i}]");
        for key in ["rule_id", "source", "message"] {
            if !field(f, key, &ctx)?.is_string() {
                return Err(format!("{ctx}.{key}: expected a string"));
            }
        }
        expect_one_of(
            field(f, "severity", &ctx)?,
            &["critical", "high", "medium", "low", "info"],
            &format!("{ctx}.severity"),
        )?;
        expect_one_of(
            field(f, "effect", &ctx)?,
            &["deny", "escalate", "warn", "info"],
            &format!("{ctx}.effect"),
        )?;
        let address = field(f, "address", &ctx)?;
        if !(address.is_string() || address.is_null()) {
            return Err(format!(
                "{ctx}.address: expected a string or null, got {address}"
            ));
        }
    }

    let critics = field(doc, "critics", name)?
        .as_array()
        .ok_or(format!("{name}.critics: expected an array"))?;
    for (i, c) in critics.iter().enumerate() {
        let ctx = format!("{name}.critics[{i}]");
        if !field(c, "name", &ctx)?.is_string() {
            return Err(format!("{ctx}.name: expected a string"));
        }
        expect_number_in(field(c, "risk", &ctx)?, 0.0, 1.0, &format!("{ctx}.risk"))?;
        if !field(c, "findings", &ctx)?.is_u64() {
            return Err(format!("{ctx}.findings: expected a count"));
        }
    }

    let cost = field(doc, "cost", name)?;
    for key in [
        "monthly_before_usd",
        "monthly_after_usd",
        "monthly_delta_usd",
    ] {
        let v = field(cost, key, &format!("{name}.cost"))?;
        if !v.is_number() {
            return Err(format!("{name}.cost.{key}: expected a number, got {v}"));
        }
    }
    if !field(doc, "explanation", name)?.is_string() {
        return Err(format!("{name}.explanation: expected a string"));
    }
    Ok(())
}

#[test]
fn json_has_every_contract_field_with_the_right_type() -> TestResult {
    for (name, verdict) in every_verdict() {
        let doc: Value = serde_json::from_str(&render_json(&verdict))?;
        check_contract(&doc, &name)?;
    }
    Ok(())
}

#[test]
fn json_contract_check_can_fail() -> TestResult {
    let mut doc: Value = serde_json::from_str(&render_json(&common::reject_denies()))?;
    doc["findings"][0]["address"] = json!(42);
    assert!(check_contract(&doc, "broken").is_err());
    let mut doc: Value = serde_json::from_str(&render_json(&common::reject_denies()))?;
    if let Some(summary) = doc["summary"].as_object_mut() {
        summary.remove("no_op");
    }
    assert!(check_contract(&doc, "broken").is_err());
    Ok(())
}

#[test]
fn json_rounds_confidence_and_risk_but_keeps_numbers() -> TestResult {
    let doc: Value = serde_json::from_str(&render_json(&common::review_escalations()))?;
    assert_eq!(doc["confidence"], json!(71.3));
    assert_eq!(doc["critics"][1]["risk"], json!(0.12));
    assert_eq!(doc["findings"][2]["confidence_cost"], json!(2.04));
    // The address of a finding without one is an explicit null.
    let doc: Value = serde_json::from_str(&render_json(&common::reject_denies()))?;
    assert_eq!(doc["findings"][6]["address"], Value::Null);
    Ok(())
}

#[test]
fn json_round_trips_into_a_verdict() -> TestResult {
    let original = common::reject_denies();
    let back: Verdict = serde_json::from_str(&render_json(&original))?;
    assert_eq!(back.findings, original.findings);
    assert_eq!(back.changes, original.changes);
    assert_eq!(back.decision, original.decision);
    Ok(())
}

// --------------------------------------------------------------- SARIF ----

fn sarif_schema() -> Result<Value, Box<dyn Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    );
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    Ok(serde_json::from_str(&text)?)
}

fn validator(draft: jsonschema::Draft) -> Result<jsonschema::Validator, Box<dyn Error>> {
    let schema = sarif_schema()?;
    let v = jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("compiling the SARIF schema: {e}"))?;
    Ok(v)
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {}", e.instance_path, e))
        .collect()
}

#[test]
fn sarif_schema_copy_is_the_oasis_document() -> TestResult {
    let schema = sarif_schema()?;
    assert_eq!(
        schema["id"],
        json!("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    );
    assert_eq!(
        schema["definitions"].as_object().map(|d| d.len()),
        Some(52),
        "the SARIF 2.1.0 schema defines 52 object types"
    );
    Ok(())
}

#[test]
fn sarif_validates_against_the_official_schema() -> TestResult {
    let draft7 = validator(jsonschema::Draft::Draft7)?;
    // The OASIS file declares draft-04; check under its own dialect too.
    let draft4 = validator(jsonschema::Draft::Draft4)?;
    let mut hostile_opts = opts();
    hostile_opts.plan_path = Some("C:\\work\\my plans\\plan #1.json".to_string());
    for (name, verdict) in every_verdict() {
        for o in [opts(), RenderOptions::default(), hostile_opts.clone()] {
            let doc: Value = serde_json::from_str(&render_sarif(&verdict, &o))?;
            for (dialect, v) in [("draft-07", &draft7), ("draft-04", &draft4)] {
                let errors = schema_errors(v, &doc);
                assert!(
                    errors.is_empty(),
                    "{name} ({dialect}, plan {:?}) is not valid SARIF:\n{}",
                    o.plan_path,
                    errors.join("\n")
                );
            }
        }
    }
    Ok(())
}

#[test]
fn sarif_validation_rejects_broken_documents() -> TestResult {
    let v = validator(jsonschema::Draft::Draft7)?;
    let good: Value = serde_json::from_str(&render_sarif(&common::reject_denies(), &opts()))?;
    assert!(v.is_valid(&good));

    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"][0]["level"] = json!("fatal");
    let mut no_version = good.clone();
    if let Some(o) = no_version.as_object_mut() {
        o.remove("version");
    }
    let mut no_message = good.clone();
    if let Some(r) = no_message["runs"][0]["results"][0].as_object_mut() {
        r.remove("message");
    }
    let mut bad_line = good.clone();
    bad_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(0);
    let mut bad_uri = good.clone();
    bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"] = json!("my plan.json");
    let mut extra = good;
    extra["runs"][0]["tool"]["driver"]["information_uri"] = json!("https://x.invalid");

    for (what, doc) in [
        ("unknown level", bad_level),
        ("missing version", no_version),
        ("result without message", no_message),
        ("line 0", bad_line),
        ("uri with a space", bad_uri),
        ("misspelt property", extra),
    ] {
        assert!(
            !v.is_valid(&doc),
            "a SARIF log with {what} passed validation"
        );
    }
    Ok(())
}

#[test]
fn sarif_results_rules_and_locations_are_consistent() -> TestResult {
    let verdict = common::reject_denies();
    let doc: Value = serde_json::from_str(&render_sarif(&verdict, &opts()))?;
    assert_eq!(
        doc["$schema"],
        json!("https://json.schemastore.org/sarif-2.1.0.json")
    );
    assert_eq!(doc["version"], json!("2.1.0"));
    let runs = doc["runs"].as_array().ok_or("runs")?;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["tool"]["driver"]["name"], json!("arbiter"));
    assert_eq!(run["tool"]["driver"]["version"], json!("0.0.0-test"));
    assert_eq!(run["invocations"][0]["executionSuccessful"], json!(true));
    assert_eq!(run["properties"]["decision"], json!("reject"));
    assert_eq!(run["properties"]["confidence"], json!(12.4));
    assert_eq!(run["properties"]["fixed_findings"], json!(1));
    assert_eq!(
        run["automationDetails"]["id"],
        json!("arbiter/core-network/")
    );

    let rules = run["tool"]["driver"]["rules"].as_array().ok_or("rules")?;
    let results = run["results"].as_array().ok_or("results")?;
    // Seven findings, one fixed: six results, six distinct rules.
    assert_eq!(results.len(), 6);
    assert_eq!(rules.len(), 6);
    assert!(results
        .iter()
        .all(|r| r["ruleId"] != json!("ARB-AWS-CT-001")));
    let mut ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), rules.len(), "rule IDs must be distinct");

    for r in results {
        let idx = r["ruleIndex"].as_u64().ok_or("ruleIndex")? as usize;
        assert_eq!(
            rules[idx]["id"], r["ruleId"],
            "ruleIndex points at the wrong rule"
        );
        let loc = &r["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            json!("infra/prod/plan.json")
        );
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], json!(1));
        let fp = r["partialFingerprints"]["arbiterFinding/v1"]
            .as_str()
            .ok_or("fingerprint")?;
        assert!(fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(r["properties"]["effect"].is_string());
        assert!(r["properties"]["relation"].is_string());
        assert!(r["properties"]["confidence_cost"].is_number());
    }

    let ssh = results
        .iter()
        .find(|r| r["ruleId"] == json!("ARB-AWS-SG-001"))
        .ok_or("SSH result")?;
    assert_eq!(ssh["level"], json!("error"));
    assert_eq!(
        ssh["message"]["text"],
        json!("aws_security_group.bastion: Ingress from 0.0.0.0/0 to port 22 (SSH).")
    );
    assert_eq!(
        ssh["locations"][0]["logicalLocations"][0],
        json!({"name": "aws_security_group.bastion", "fullyQualifiedName": "aws_security_group.bastion", "kind": "resource"})
    );
    let escalation = results
        .iter()
        .find(|r| r["ruleId"] == json!("BLAST-DELETE-STATEFUL"))
        .ok_or("escalation")?;
    assert_eq!(escalation["level"], json!("warning"));
    let info = results
        .iter()
        .find(|r| r["ruleId"] == json!("ARB-TAGS-001"))
        .ok_or("info")?;
    assert_eq!(info["level"], json!("note"));
    assert!(info["locations"][0].get("logicalLocations").is_none());

    let ssh_rule = rules
        .iter()
        .find(|r| r["id"] == json!("ARB-AWS-SG-001"))
        .ok_or("SSH rule")?;
    assert_eq!(ssh_rule["properties"]["security-severity"], json!("9.5"));
    assert_eq!(ssh_rule["defaultConfiguration"]["level"], json!("error"));
    assert_eq!(
        ssh_rule["name"],
        json!("Security group open to the world on an admin port")
    );
    assert!(ssh_rule["help"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("SSM Session Manager")));
    assert!(ssh_rule["properties"]["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("security"))));
    assert!(
        ssh_rule.get("helpUri").is_none(),
        "no helpUri unless one is known"
    );
    Ok(())
}

#[test]
fn sarif_help_uri_only_when_a_reference_is_a_web_address() -> TestResult {
    let doc: Value = serde_json::from_str(&render_sarif(&common::review_escalations(), &opts()))?;
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .ok_or("rules")?;
    let imds = rules
        .iter()
        .find(|r| r["id"] == json!("ARB-AWS-EC2-010"))
        .ok_or("IMDS rule")?;
    assert!(imds["helpUri"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://docs.aws.amazon.com/")));
    Ok(())
}

#[test]
fn sarif_fingerprints_are_pinned() {
    // FNV-1a 64 over "ARB-AWS-SG-001\0Aaws_security_group.bastion\0Ingress…".
    // If this changes, code scanning will see every alert as new: bump the
    // fingerprint key's version instead of editing this value.
    let f = finding(FindingSpec {
        rule_id: "ARB-AWS-SG-001",
        source: "builtin",
        severity: Severity::Critical,
        effect: Effect::Deny,
        address: Some("aws_security_group.bastion"),
        message: "Ingress from 0.0.0.0/0 to port 22 (SSH).",
    });
    assert_eq!(fingerprint(&f), PINNED_FINGERPRINT);
}

const PINNED_FINGERPRINT: &str = "ead6c0961e2e454b";

// ---------------------------------------------------------------- text ----

#[test]
fn colour_only_when_asked() {
    let mut o = opts();
    for (name, verdict) in every_verdict() {
        for format in Format::ALL {
            o.color = false;
            assert!(
                !render(&verdict, format, &o).contains('\x1b'),
                "{name} {format}: escape sequence without colour"
            );
            o.color = true;
            if format != Format::Text {
                assert!(
                    !render(&verdict, format, &o).contains('\x1b'),
                    "{name} {format}: colour leaked into a non-terminal format"
                );
            }
        }
    }
    o.color = true;
    assert!(render_text(&common::reject_denies(), &o).starts_with("\x1b[1;31mREJECT\x1b[0m"));
    assert!(render_text(&common::approve_clean(), &o).starts_with("\x1b[1;32mAPPROVE\x1b[0m"));
    assert!(render_text(&common::review_escalations(), &o).starts_with("\x1b[1;33mREVIEW\x1b[0m"));
}

#[test]
fn empty_verdicts_render_in_every_format() -> TestResult {
    for d in [Decision::Approve, Decision::Review, Decision::Reject] {
        let v = common::empty(d);
        let text = render_text(&v, &opts());
        assert!(text.contains("Findings\n  none"), "{text}");
        assert!(text.contains("Resource changes (0)\n  none"), "{text}");
        assert!(text.contains("Cost: not computed"), "{text}");
        let md = render_markdown(&v, &opts());
        assert!(md.contains("No findings."), "{md}");
        assert!(md.contains("_No resource changes._"), "{md}");
        let mut buf = Vec::new();
        render_to(&mut buf, &v, Format::Json, &opts())?;
        assert!(buf.ends_with(b"}\n"));
    }
    Ok(())
}

#[test]
fn text_header_summary_and_cost() {
    let text = render_text(&common::review_escalations(), &opts());
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "REVIEW  confidence 71.3 / 95 needed  ·  stack payments-api (staging)"
    );
    assert!(text.contains("+2 create  ~2 update  -0 delete  ±1 replace  (4 unchanged, 1 read)"));
    assert!(text.contains("Cost: $110.78/mo → $221.56/mo (+$110.78/mo; budget $1,000.00/mo)"));
    // The resources behind the figures, and what could not be priced.
    assert!(
        text.contains("  ± aws_db_instance.ledger  +$110.78/mo (multi-az)"),
        "{text}"
    );
    assert!(text.contains("1 resource(s) could not be priced"), "{text}");
    let reject = render_text(&common::reject_denies(), &opts());
    assert!(reject.contains("over budget"));
    assert!(reject.contains("usage estimates from usage.yml"));
}

#[test]
fn text_groups_findings_by_effect_and_counts_the_rest() {
    let text = render_text(&common::reject_denies(), &opts());
    let deny = text.find("  Deny (3)").unwrap_or(usize::MAX);
    let escalate = text.find("  Escalate (1)").unwrap_or(usize::MAX);
    assert!(deny < escalate && escalate < usize::MAX, "{text}");
    assert!(
        !text.contains("  Warn ("),
        "pre-existing warnings are counted, not listed"
    );
    assert!(text.contains("Also: 1 info, 1 pre-existing, 1 fixed by this change"));
    assert!(text.contains("aws_kms_key.logs  [pre-existing]"));
    assert!(text
        .contains("      fix: Restrict cidr_blocks to the VPN range, or use SSM Session Manager."));
    assert!(
        !text.contains("CloudTrail log file validation"),
        "fixed findings are only counted"
    );
}

#[test]
fn max_findings_limits_the_human_formats_only() -> TestResult {
    let mut o = opts();
    o.max_findings = Some(1);
    let verdict = common::reject_denies();
    let text = render_text(&verdict, &o);
    assert!(text.contains("ARB-AWS-SG-001"));
    assert!(!text.contains("    high     policy:main.deny"), "{text}");
    assert!(text.contains("… 3 more not listed"), "{text}");
    let md = render_markdown(&verdict, &o);
    assert!(md.contains("_… 3 more not listed here"), "{md}");
    let sarif: Value = serde_json::from_str(&render_sarif(&verdict, &o))?;
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(6)
    );
    Ok(())
}

#[test]
fn sensitive_values_are_printed_as_the_mask() -> TestResult {
    let mut v = common::empty(Decision::Review);
    v.changes = vec![change(
        "aws_db_instance.main",
        "update",
        vec![delta(
            "password",
            json!("(sensitive)"),
            json!("(sensitive)"),
        )],
    )];
    let text = render_text(&v, &opts());
    assert!(
        text.contains("      password: (sensitive) → (sensitive)"),
        "{text}"
    );
    let md = render_markdown(&v, &opts());
    assert!(
        md.contains("    password: (sensitive) → (sensitive)"),
        "{md}"
    );
    let json: Value = serde_json::from_str(&render_json(&v))?;
    assert_eq!(
        json["changes"][0]["attributes"][0]["before"],
        json!("(sensitive)")
    );
    assert_eq!(
        json["changes"][0]["attributes"][0]["after"],
        json!("(sensitive)")
    );
    Ok(())
}

#[test]
fn text_shows_at_most_ten_attributes_per_resource() {
    let text = render_text(&common::review_escalations(), &opts());
    assert!(text.contains("      tags.k08: null → \"v8\""));
    assert!(!text.contains("tags.k09"));
    assert!(text.contains("      … 3 more"));
    assert!(text.contains("aws_s3_bucket.exports  (moved from aws_s3_bucket.export)"));
    assert!(
        !text.contains("data.aws_caller_identity.current"),
        "reads are not listed"
    );
}

#[test]
fn hostile_strings_cannot_drive_the_terminal() {
    let mut v = common::empty(Decision::Reject);
    v.findings = vec![finding(FindingSpec {
        rule_id: "R\u{1b}]0;pwned\u{7}",
        source: "policy",
        severity: Severity::High,
        effect: Effect::Deny,
        address: Some("aws_s3_bucket.x\u{1b}[2J\u{202e}"),
        message: "line one\nAPPROVE",
    })];
    for color in [false, true] {
        let mut o = opts();
        o.color = color;
        let text = render_text(&v, &o);
        assert!(
            !text.contains("\u{1b}[2J") && !text.contains("\u{1b}]0;"),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'));
        assert!(text.contains("aws_s3_bucket.x\\u{1b}[2J\\u{202e}"));
        assert!(text.contains("line one\\nAPPROVE"));
    }
}

// ------------------------------------------------------------ markdown ----

/// `|` characters that are cell separators (not escaped as `\|`).
fn unescaped_pipes(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

#[test]
fn markdown_tables_survive_hostile_messages() {
    let md = render_markdown(&common::reject_denies(), &opts());
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(md.contains("\\`object\\_lock\\_enabled\\`"));
    assert!(
        md.contains("@\u{200B}acme/security"),
        "mentions must be defused"
    );
    let mut in_findings = false;
    for line in md.lines() {
        if line.starts_with("| Effect | Severity |") {
            in_findings = true;
        } else if !line.starts_with('|') {
            in_findings = false;
        }
        if in_findings {
            assert_eq!(
                unescaped_pipes(line),
                6,
                "row has the wrong number of cells: {line}"
            );
        }
    }
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
}

#[test]
fn markdown_has_the_sections_a_reviewer_expects() {
    let md = render_markdown(&common::review_escalations(), &opts());
    assert!(md.starts_with("### ⚠️ Arbiter: review — confidence 71.3 / 95\n"));
    for needle in [
        "| Create | Update | Delete | Replace | No-op | Read |",
        "| 2 | 2 | 0 | 1 | 4 | 1 |",
        "#### Why",
        "#### Findings",
        "<details><summary>Remediation (3)</summary>",
        "<details><summary>Other findings (2): info, pre-existing, fixed</summary>",
        "#### Critics",
        "**Cost:** \\$110.78 → \\$221.56 per month (**+\\$110.78**; budget \\$1,000.00)",
        "| ± | aws\\_db\\_instance.ledger (multi-az) | \\$110.78 | \\$221.56 | +\\$110.78 |",
        "<details><summary>Resource changes (6)</summary>",
        "```diff",
        "<sub>Arbiter 0.0.0-test · plan format 1.2</sub>",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    let approve = render_markdown(&common::approve_clean(), &opts());
    assert!(approve.starts_with("### ✅ Arbiter: approve"));
    assert!(approve.contains("**Cost:** not computed (no pricing catalogue configured)"));
    let reject = render_markdown(&common::reject_denies(), &opts());
    assert!(reject.starts_with("### ❌ Arbiter: reject — confidence 12.4 / 98\n"));
}

#[test]
fn markdown_stays_within_a_github_comment() {
    let mut v = common::review_escalations();
    v.changes = (0..3000)
        .map(|i| {
            change(
                &format!("aws_instance.fleet[{i}]"),
                "update",
                (0..12)
                    .map(|j| {
                        delta(
                            &format!("tags.k{j}"),
                            json!("old value"),
                            json!("new value"),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    v.findings = (0..2000)
        .map(|i| {
            finding(FindingSpec {
                rule_id: "ARB-AWS-EC2-010",
                source: "builtin",
                severity: Severity::Low,
                effect: Effect::Warn,
                address: Some(&format!("aws_instance.fleet[{i}]")),
                message: "Instance metadata service accepts IMDSv1 requests.",
            })
        })
        .collect();
    let md = render_markdown(&v, &opts());
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    assert!(md.contains("more not listed"));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    // The machine formats are not shortened.
    let sarif = render_sarif(&v, &opts());
    assert_eq!(sarif.matches("\"ruleId\"").count(), 2000);
}

// ------------------------------------------------------- verdict schema ----

fn verdict_validator() -> Result<jsonschema::Validator, Box<dyn Error>> {
    let schema = arbiter_verdict::schema::verdict_schema();
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .map_err(|e| format!("compiling the verdict schema: {e}"))?;
    Ok(v)
}

#[test]
fn json_output_validates_against_the_published_verdict_schema() -> TestResult {
    let v = verdict_validator()?;
    for (name, verdict) in every_verdict() {
        let doc: Value = serde_json::from_str(&render_json(&verdict))?;
        let errors = schema_errors(&v, &doc);
        assert!(
            errors.is_empty(),
            "{name} does not match docs/schemas/verdict.json:\n{}",
            errors.join("\n")
        );
    }
    Ok(())
}

#[test]
fn the_verdict_schema_rejects_what_is_not_a_verdict() -> TestResult {
    let v = verdict_validator()?;
    let good: Value = serde_json::from_str(&render_json(&common::reject_denies()))?;
    assert!(v.is_valid(&good));
    let mut bad_decision = good.clone();
    bad_decision["decision"] = json!("maybe");
    let mut no_explanation = good.clone();
    no_explanation
        .as_object_mut()
        .ok_or("a verdict is an object")?
        .remove("explanation");
    let mut bad_severity = good.clone();
    bad_severity["findings"][0]["severity"] = json!("catastrophic");
    let mut bad_count = good;
    bad_count["summary"]["create"] = json!(-1);
    for (what, doc) in [
        ("an unknown decision", bad_decision),
        ("no explanation", no_explanation),
        ("an unknown severity", bad_severity),
        ("a negative count", bad_count),
    ] {
        assert!(!v.is_valid(&doc), "accepted a verdict with {what}");
    }
    Ok(())
}
