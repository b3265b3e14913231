//! SARIF 2.1.0 for GitHub code scanning.
//!
//! Built from typed structs rather than `serde_json::Value` so the key order
//! of the output is fixed by this file, whatever serde_json features other
//! crates enable.

use crate::common::{finite_or, round_to};
use crate::{markdown, RenderOptions};
use arbiter_verdict::{ActionSummary, ChangeRelation, Effect, Finding, Severity, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SARIF_VERSION: &str = "2.1.0";
const TOOL_NAME: &str = "arbiter";
/// The project's repository as declared in the workspace manifest; omitted
/// from the output when the manifest declares none.
const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");
/// Key of the fingerprint in `partialFingerprints`. The `/v1` suffix is the
/// SARIF convention for versioning a fingerprint recipe: change the recipe,
/// change the key, and consumers will not match old and new values.
const FINGERPRINT_KEY: &str = "arbiterFinding/v1";
const DEFAULT_PLAN_PATH: &str = "plan.json";

/// SARIF `level` of a finding's effect: `deny` → `error`, `escalate` →
/// `warning`, `warn` → `warning`, `info` → `note`.
///
/// `escalate` maps to `warning`, not `error`: it means "a person must look",
/// not "forbidden", and code scanning treats `error` as a defect to fix.
/// Keeping `error` for denials keeps the two distinguishable in the alert list.
pub fn sarif_level(effect: Effect) -> &'static str {
    match effect {
        Effect::Deny => "error",
        Effect::Escalate | Effect::Warn => "warning",
        Effect::Info => "note",
    }
}

/// GitHub's `security-severity` score of a severity: critical `9.5`, high
/// `7.5`, medium `5.0`, low `2.0`, info `0.0` (GitHub buckets scores as
/// critical > 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// FNV-1a, 64 bits, over `bytes`.
///
/// Implemented here because the fingerprint must not change between Rust
/// versions or platforms (`std`'s `DefaultHasher` promises neither).
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(PRIME)
    })
}

/// The stable fingerprint of a finding: 16 lowercase hex digits of FNV-1a 64
/// over its rule ID, address and message (each separated by a NUL byte; a
/// missing address hashes differently from an empty one).
///
/// Guarantee: equal for equal (rule ID, address, message) on every platform
/// and Rust version; anything else about the finding (severity, effect,
/// evidence) does not affect it, so an alert survives a severity change.
pub fn fingerprint(finding: &Finding) -> String {
    let mut bytes = Vec::with_capacity(finding.rule_id.len() + finding.message.len() + 64);
    bytes.extend_from_slice(finding.rule_id.as_bytes());
    bytes.push(0);
    match finding.address.as_deref() {
        Some(a) => {
            bytes.push(b'A');
            bytes.extend_from_slice(a.as_bytes());
        }
        None => bytes.push(b'-'),
    }
    bytes.push(0);
    bytes.extend_from_slice(finding.message.as_bytes());
    format!("{:016x}", fnv1a_64(&bytes))
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    #[serde(skip_serializing_if = "Option::is_none")]
    automation_details: Option<AutomationDetails>,
    invocations: Vec<Invocation>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    version: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    markdown: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: MultiformatMessage,
    full_description: MultiformatMessage,
    help: MultiformatMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: DefaultConfiguration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct DefaultConfiguration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    tags: Vec<String>,
    precision: &'static str,
    source: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location<'a>>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    /// A waived finding is reported as suppressed (SARIF §3.35), with the
    /// waiver's reason as the justification.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    fully_qualified_name: &'a str,
    kind: &'static str,
}

/// Arbiter's own facts about a result (snake_case, like the JSON contract).
#[derive(Serialize)]
struct ResultProperties<'a> {
    effect: &'static str,
    relation: &'static str,
    severity: &'static str,
    source: &'a str,
    confidence_cost: f64,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    decision: &'static str,
    confidence: f64,
    auto_apply_threshold: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    summary: ActionSummary,
    /// Findings the change fixes: left out of `results` (good news is not an
    /// alert) but counted here.
    fixed_findings: usize,
}

/// What the results of one rule have in common.
struct RuleFacts<'a> {
    first: &'a Finding,
    severity: Severity,
    effect: Effect,
}

pub(crate) fn render(verdict: &Verdict, opts: &RenderOptions) -> String {
    let reported: Vec<&Finding> = verdict
        .findings
        .iter()
        .filter(|f| f.relation != ChangeRelation::Fixed)
        .collect();

    // One rule per distinct rule ID, sorted, with the most severe severity
    // and most decisive effect among its results.
    let mut facts: BTreeMap<&str, RuleFacts<'_>> = BTreeMap::new();
    for f in &reported {
        facts
            .entry(f.rule_id.as_str())
            .and_modify(|r| {
                r.severity = r.severity.min(f.severity);
                r.effect = r.effect.min(f.effect);
            })
            .or_insert(RuleFacts {
                first: f,
                severity: f.severity,
                effect: f.effect,
            });
    }
    let index: BTreeMap<&str, usize> = facts.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Rule> = facts.iter().map(|(id, r)| rule(id, r)).collect();

    let uri = artifact_uri(opts.plan_path.as_deref().unwrap_or(DEFAULT_PLAN_PATH));
    let results = reported
        .iter()
        .map(|f| SarifResult {
            rule_id: &f.rule_id,
            rule_index: index.get(f.rule_id.as_str()).copied().unwrap_or_default(),
            level: sarif_level(f.effect),
            message: Message {
                text: result_text(f),
            },
            locations: vec![Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation { uri: uri.clone() },
                    region: Region { start_line: 1 },
                },
                logical_locations: f
                    .address
                    .as_deref()
                    .map(|a| LogicalLocation {
                        name: a,
                        fully_qualified_name: a,
                        kind: "resource",
                    })
                    .into_iter()
                    .collect(),
            }],
            partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(f))]),
            suppressions: f
                .waiver
                .iter()
                .filter(|w| !w.expired)
                .map(|w| Suppression {
                    kind: "external",
                    justification: format!(
                        "waived until {} by {}: {}",
                        w.expires, w.owner, w.reason
                    ),
                })
                .collect(),
            properties: ResultProperties {
                effect: f.effect.as_str(),
                relation: f.relation.as_str(),
                severity: f.severity.as_str(),
                source: &f.source,
                confidence_cost: round_to(finite_or(f.confidence_cost, 0.0), 2),
            },
        })
        .collect();

    let stack = verdict
        .stack
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty());
    let log = Log {
        schema: SCHEMA_URI,
        version: SARIF_VERSION,
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    information_uri: Some(INFORMATION_URI).filter(|u| !u.is_empty()),
                    version: opts.tool_version.clone(),
                    rules,
                },
            },
            // Code scanning keeps one analysis per category; one per stack
            // stops the uploads of two stacks from replacing each other.
            automation_details: stack.map(|s| AutomationDetails {
                id: format!("arbiter/{s}/"),
            }),
            invocations: vec![Invocation {
                execution_successful: true,
                tool_execution_notifications: verdict
                    .warnings
                    .iter()
                    .map(|w| Notification {
                        level: "warning",
                        message: Message { text: w.clone() },
                    })
                    .collect(),
            }],
            results,
            properties: RunProperties {
                decision: verdict.decision.as_str(),
                confidence: round_to(finite_or(verdict.confidence, 0.0), 1),
                auto_apply_threshold: round_to(
                    finite_or(verdict.stack.auto_apply_threshold, 100.0),
                    1,
                ),
                stack,
                environment: verdict
                    .stack
                    .environment
                    .as_deref()
                    .filter(|e| !e.trim().is_empty()),
                summary: verdict.summary,
                fixed_findings: verdict.findings.len() - reported.len(),
            },
        }],
    };
    match serde_json::to_string_pretty(&log) {
        Ok(s) => s,
        // Unreachable: every map key is a string and every number finite.
        // Fall back to a valid, empty log rather than panic.
        Err(_) => format!(
            "{{\n  \"$schema\": \"{SCHEMA_URI}\",\n  \"version\": \"{SARIF_VERSION}\",\n  \"runs\": []\n}}"
        ),
    }
}

/// The result message: the address first, so an alert list reads as a list
/// of resources.
fn result_text(f: &Finding) -> String {
    match f.address.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => format!("{a}: {}", f.message),
        None => f.message.clone(),
    }
}

fn rule(id: &str, facts: &RuleFacts<'_>) -> Rule {
    let f = facts.first;
    let title = f.title.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let remediation = f
        .remediation
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());

    let mut full = title.unwrap_or(id).to_string();
    if !full.ends_with('.') {
        full.push('.');
    }
    full.push_str(&format!(" Reported by {}.", f.source));
    if let Some(loc) = &f.location {
        match loc.line {
            Some(line) => full.push_str(&format!(" Defined in {}:{line}.", loc.file)),
            None => full.push_str(&format!(" Defined in {}.", loc.file)),
        }
    }
    if !f.references.is_empty() {
        full.push_str(&format!(" Related checks: {}.", f.references.join(", ")));
    }

    let help_text = remediation.map_or_else(
        || "No remediation is recorded for this rule; see the result message.".to_string(),
        str::to_string,
    );
    let mut help_md = match remediation {
        Some(r) => format!("**Remediation:** {}", markdown::inline(r)),
        None => "No remediation is recorded for this rule; see the result message.".to_string(),
    };
    if !f.references.is_empty() {
        let refs: Vec<String> = f.references.iter().map(|r| markdown::inline(r)).collect();
        help_md.push_str(&format!("\n\n**Related checks:** {}", refs.join(", ")));
    }

    Rule {
        id: id.to_string(),
        name: title.unwrap_or(id).to_string(),
        short_description: MultiformatMessage {
            text: title.unwrap_or(id).to_string(),
            markdown: None,
        },
        full_description: MultiformatMessage {
            text: full,
            markdown: None,
        },
        help: MultiformatMessage {
            text: help_text,
            markdown: Some(help_md),
        },
        help_uri: f.references.iter().find(|r| is_web_uri(r)).cloned(),
        default_configuration: DefaultConfiguration {
            level: sarif_level(facts.effect),
        },
        properties: RuleProperties {
            security_severity: security_severity(facts.severity),
            tags: tags(&f.source),
            precision: precision(&f.source),
            source: f.source.clone(),
        },
    }
}

/// An absolute http(s) URI with no characters that would make it invalid.
fn is_web_uri(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c))
}

/// Tags: `security` (GitHub only uses `security-severity` on rules tagged
/// so), `terraform`, and where the finding came from.
fn tags(source: &str) -> Vec<String> {
    let mut tags = vec!["security".to_string(), "terraform".to_string()];
    let origin = match source.split_once(':') {
        Some((kind, name)) if !name.is_empty() => vec![kind.to_string(), format!("{kind}:{name}")],
        _ if !source.is_empty() => vec![source.to_string()],
        _ => Vec::new(),
    };
    for t in origin {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags
}

/// How often a finding of this origin is right: built-in rules and the
/// organisation's own policies are exact checks ("high"); heuristic critics
/// are "medium"; language-model critics are "low".
fn precision(source: &str) -> &'static str {
    let s = source.to_ascii_lowercase();
    if s.contains("llm") || s.contains("red_team") || s.contains("redteam") {
        "low"
    } else if s == "builtin" || s == "policy" || s.starts_with("policy:") {
        "high"
    } else {
        "medium"
    }
}

/// The plan path as a SARIF `uri-reference`: backslashes become slashes,
/// Windows drive paths become `file:///C:/…`, and every byte outside the
/// URI's unreserved and path characters is percent-encoded.
fn artifact_uri(path: &str) -> String {
    let path = if path.trim().is_empty() {
        DEFAULT_PLAN_PATH
    } else {
        path
    };
    let slashed = path.replace('\\', "/");
    let is_drive = matches!(slashed.as_bytes(), [d, b':', b'/', ..] if d.is_ascii_alphabetic());
    let mut out = String::with_capacity(slashed.len() + 8);
    if is_drive {
        out.push_str("file:///");
    }
    for (i, b) in slashed.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'@')
            // A colon is only safe as a drive separator; elsewhere it could
            // be read as a scheme.
            || (b == b':' && is_drive && i == 1);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_64_matches_reference_vectors() {
        // Vectors from the FNV reference (Fowler, Noll, Vo).
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fingerprint_depends_on_identity_only() {
        let a = Finding::new(
            "R1",
            "builtin",
            Severity::High,
            Effect::Deny,
            Some("aws_s3_bucket.b".into()),
            "public",
        );
        let mut b = a.clone();
        b.severity = Severity::Low;
        b.effect = Effect::Warn;
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
        let mut c = a.clone();
        c.address = None;
        assert_ne!(fingerprint(&a), fingerprint(&c));
        let mut d = a.clone();
        d.address = Some(String::new());
        assert_ne!(fingerprint(&c), fingerprint(&d));
        // Pinned so that a change of recipe is a deliberate, visible one.
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        let mut e = a;
        e.message = "private".into();
        assert_ne!(fingerprint(&e), fingerprint(&b));
    }

    #[test]
    fn levels_and_scores() {
        assert_eq!(sarif_level(Effect::Deny), "error");
        assert_eq!(sarif_level(Effect::Escalate), "warning");
        assert_eq!(sarif_level(Effect::Warn), "warning");
        assert_eq!(sarif_level(Effect::Info), "note");
        assert_eq!(security_severity(Severity::Critical), "9.5");
        assert_eq!(security_severity(Severity::Info), "0.0");
    }

    #[test]
    fn plan_paths_become_uri_references() {
        assert_eq!(artifact_uri("plan.json"), "plan.json");
        assert_eq!(
            artifact_uri("infra/prod plan.json"),
            "infra/prod%20plan.json"
        );
        assert_eq!(artifact_uri("C:\\plans\\p.json"), "file:///C:/plans/p.json");
        assert_eq!(artifact_uri("a:b.json"), "a%3Ab.json");
        assert_eq!(artifact_uri("plän#1?.json"), "pl%C3%A4n%231%3F.json");
        assert_eq!(artifact_uri(""), "plan.json");
    }

    #[test]
    fn tags_and_precision_follow_the_source() {
        assert_eq!(tags("builtin"), vec!["security", "terraform", "builtin"]);
        assert_eq!(
            tags("critic:cost"),
            vec!["security", "terraform", "critic", "critic:cost"]
        );
        assert_eq!(precision("builtin"), "high");
        assert_eq!(precision("policy"), "high");
        assert_eq!(precision("critic:blast_radius"), "medium");
        assert_eq!(precision("critic:llm_security"), "low");
    }
}
