//! Reading `terraform show -json` plan output.

use crate::decode::decode_text;
use crate::error::{NotPlanJson, PlanError, MAKE_PLAN_JSON};
use crate::json::{RawJson, SharedDocument};
use crate::model::{
    Action, Change, FormatVersion, OutputChange, Plan, ResourceChange, ResourceMode,
};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Largest plan file read by default (128 MiB, about 50,000 changes). Override
/// with the `ARBITER_MAX_PLAN_BYTES` environment variable.
pub const DEFAULT_MAX_PLAN_BYTES: u64 = 128 * 1024 * 1024;

/// The plan-size limit in force: `ARBITER_MAX_PLAN_BYTES` or the default.
pub fn max_plan_bytes() -> u64 {
    std::env::var("ARBITER_MAX_PLAN_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_PLAN_BYTES)
}

/// Reads a plan file, refusing files over [`max_plan_bytes`].
pub fn read_plan_file(path: &Path) -> Result<Plan, PlanError> {
    let bytes = read_limited(path)?;
    read_plan(&bytes).map_err(|e| e.in_file(path))
}

pub fn read_limited(path: &Path) -> Result<Vec<u8>, PlanError> {
    use std::io::Read;
    let limit = max_plan_bytes();
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(PlanError::Io(std::io::Error::other(
            "is a directory, not a file",
        )));
    }
    if meta.len() > limit {
        return Err(PlanError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // Pipes and devices report size 0: enforce the limit while reading.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(PlanError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The top level of a plan. `C` is how `configuration` is read: as borrowed
/// text on the fast path (it is parsed on another thread, see
/// [`read_plan_str`]), or as a value to reproduce an error exactly.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a, C: Deserialize<'de>"))]
struct PlanDocument<'a, C = &'a serde_json::value::RawValue> {
    #[serde(default)]
    format_version: Option<serde_json::Value>,
    #[serde(default)]
    terraform_version: Option<String>,
    #[serde(default)]
    resource_changes: Option<Vec<ResourceChange>>,
    #[serde(default)]
    resource_drift: Option<Vec<ResourceChange>>,
    #[serde(default)]
    output_changes: Option<BTreeMap<String, OutputChange>>,
    #[serde(default)]
    variables: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    #[serde(borrow)]
    planned_values: Option<&'a serde_json::value::RawValue>,
    #[serde(default, rename = "prior_state")]
    _prior_state: Option<IgnoredAny>,
    #[serde(default)]
    configuration: Option<C>,
    #[serde(default)]
    errored: Option<bool>,
    #[serde(default)]
    complete: Option<bool>,
    #[serde(default)]
    applyable: Option<bool>,
    #[serde(default)]
    timestamp: Option<String>,
    // Keys that identify other kinds of documents.
    #[serde(default)]
    values: Option<IgnoredAny>,
    #[serde(default)]
    lineage: Option<IgnoredAny>,
    #[serde(default)]
    serial: Option<IgnoredAny>,
    #[serde(default)]
    resources: Option<IgnoredAny>,
    #[serde(default)]
    version: Option<IgnoredAny>,
}

/// Reads plan JSON from bytes in any supported encoding.
///
/// Errors name the problem and its location (line and column for syntax,
/// JSON path for shape problems). Unknown fields are ignored.
pub fn read_plan(bytes: &[u8]) -> Result<Plan, PlanError> {
    let text = decode_plan(bytes)?;
    read_plan_str(&text)
}

/// [`decode_text`] for a plan: a saved binary plan (or other bytes that are
/// not text) is named as such ([`PlanError::NotPlanJson`]).
pub fn decode_plan(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, PlanError> {
    decode_text(bytes).map_err(|e| explain(e, bytes))
}

/// What the input is, when reading it as plan JSON failed with `e`: the
/// common mistakes ([`not_plan_json`]) get their own error, other failures
/// stay as they are. Only called on failure, so reading a plan costs nothing.
fn explain(e: PlanError, bytes: &[u8]) -> PlanError {
    match e {
        PlanError::Syntax { .. } | PlanError::Encoding { .. } | PlanError::WrongDocument(_) => {
            match not_plan_json(bytes) {
                Some(kind) => PlanError::NotPlanJson { kind, file: None },
                None => e,
            }
        }
        other => other,
    }
}

/// Recognises, by content, what people commonly give in place of plan
/// JSON: a saved binary plan (a zip archive holding `tfplan`), the
/// streaming log of `terraform plan -json`, the human-readable output of
/// `terraform plan`, a `.tf` file, a `.tfvars` file. `None` for anything
/// else (including plan JSON itself).
pub fn not_plan_json(bytes: &[u8]) -> Option<NotPlanJson> {
    if bytes.starts_with(b"PK\x03\x04") {
        // Terraform and OpenTofu write the plan itself as the entry `tfplan`
        // beside `tfstate` and `tfconfig/`: look in the first entries.
        let head = bytes.get(..64 * 1024).unwrap_or(bytes);
        return head
            .windows(6)
            .any(|w| w == b"tfplan")
            .then_some(NotPlanJson::BinaryPlan);
    }
    let text = decode_text(bytes).ok()?;
    let text = text.trim_start_matches('\u{feff}');
    let meaningful = meaningful_lines(text);
    let first = meaningful.first().copied().unwrap_or_default();
    if first.starts_with('{') {
        // One JSON object per line, each with `@level` and `@message`.
        let line = text.trim_start().lines().next().unwrap_or_default();
        let map = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).ok()?;
        return (map.contains_key("@level") && map.contains_key("@message"))
            .then_some(NotPlanJson::PlanLog);
    }
    const PLAN_OUTPUT: [&str; 6] = [
        "will perform the following actions",
        "used the selected providers to generate the following execution",
        "No changes. Your infrastructure matches the configuration",
        "Your infrastructure still matches the configuration",
        "Resource actions are indicated with the following symbols",
        "Objects have changed outside of",
    ];
    if PLAN_OUTPUT.iter().any(|p| text.contains(p)) {
        return Some(NotPlanJson::PlanOutput);
    }
    if hcl_block_start(first) {
        return Some(NotPlanJson::Configuration);
    }
    // Configuration has no top-level assignments; a variable file has only
    // those.
    if is_assignment(first) && !meaningful.iter().any(|l| hcl_block_start(l)) {
        return Some(NotPlanJson::Variables);
    }
    None
}

/// The first lines of `text` that are neither blank nor comments (`#`,
/// `//`, `/* … */`), trimmed.
fn meaningful_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_block_comment = false;
    for line in text.lines().take(200) {
        let mut l = line.trim();
        if in_block_comment {
            match l.find("*/") {
                Some(end) => {
                    in_block_comment = false;
                    l = l.get(end + 2..).unwrap_or_default().trim();
                }
                None => continue,
            }
        }
        if let Some(rest) = l.strip_prefix("/*") {
            match rest.find("*/") {
                Some(end) => l = rest.get(end + 2..).unwrap_or_default().trim(),
                None => {
                    in_block_comment = true;
                    continue;
                }
            }
        }
        if l.is_empty() || l.starts_with('#') || l.starts_with("//") {
            continue;
        }
        out.push(l);
        if out.len() >= 20 {
            break;
        }
    }
    out
}

/// `resource "aws_s3_bucket" "b" {`, `terraform {`, `locals {`: the start
/// of a top-level block of Terraform configuration.
fn hcl_block_start(line: &str) -> bool {
    const BLOCKS: [&str; 13] = [
        "terraform",
        "resource",
        "data",
        "provider",
        "variable",
        "output",
        "locals",
        "module",
        "moved",
        "import",
        "removed",
        "check",
        "ephemeral",
    ];
    let word_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    let (word, rest) = line.split_at(word_end);
    BLOCKS.contains(&word)
        && (rest.trim_start().starts_with('"') || rest.trim_start().starts_with('{'))
}

/// `name = value` at the top level, as in a `.tfvars` file.
fn is_assignment(line: &str) -> bool {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest = rest.trim_start();
    first_ok && rest.starts_with('=') && !rest.starts_with("==")
}

/// Deepest nesting of arrays and objects accepted anywhere in a document.
/// Terraform's output nests a few dozen levels at most; the JSON reader's own
/// recursion limit is 128.
pub const MAX_DEPTH: usize = 128;

/// Fails when arrays/objects nest deeper than [`MAX_DEPTH`] anywhere in
/// `text`, or when a number is too large for a 64-bit float (`1e400`). Values
/// kept as text are parsed only later, so both are checked for the whole
/// document up front: a value that cannot be parsed later must not turn into
/// "nothing to judge" (fail closed). One pass over the bytes; the text need
/// not be valid JSON (the parser reports syntax errors).
pub fn check_depth(text: &str) -> Result<(), PlanError> {
    scan(text).map(|_| ())
}

/// [`check_depth`], also returning where the value of the top-level key
/// `configuration` starts (a hint: the parser confirms it).
fn scan(text: &str) -> Result<Option<usize>, PlanError> {
    // Byte classes: 1 quote, 2 open, 3 close, 5 number start.
    const CLASS: [u8; 256] = {
        let mut t = [0u8; 256];
        t[b'"' as usize] = 1;
        t[b'[' as usize] = 2;
        t[b'{' as usize] = 2;
        t[b']' as usize] = 3;
        t[b'}' as usize] = 3;
        t[b'-' as usize] = 5;
        let mut d = b'0';
        while d <= b'9' {
            t[d as usize] = 5;
            d += 1;
        }
        t
    };
    let bytes = text.as_bytes();
    let at = |i: usize, message: String| {
        let (line, column) = crate::decode::line_col(&bytes[..i]);
        PlanError::Syntax {
            line,
            column,
            message,
        }
    };
    let mut depth = 0usize;
    let mut configuration = None;
    let mut i = 0;
    while i < bytes.len() {
        match CLASS[bytes[i] as usize] {
            1 => {
                // Strings are most of a plan.
                let start = i + 1;
                i = string_end(bytes, start);
                if depth == 1
                    && configuration.is_none()
                    && bytes.get(start..i) == Some(b"configuration\"")
                {
                    configuration = value_after_colon(bytes, i);
                }
                continue;
            }
            2 => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(at(
                        i,
                        format!("arrays and objects nest deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            3 => depth = depth.saturating_sub(1),
            5 => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let token = &text[start..i];
                // Only long mantissas or 3-digit exponents can overflow.
                let suspicious = token.len() > 20
                    || token
                        .find(['e', 'E'])
                        .is_some_and(|e| token[e + 1..].trim_start_matches(['+', '-']).len() >= 3);
                if suspicious && token.parse::<f64>().map_or(true, |f| f.is_infinite()) {
                    return Err(at(
                        start,
                        format!(
                            "number out of range: {} is too large for a 64-bit float",
                            crate::error::clip(token, 40)
                        ),
                    ));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(configuration)
}

/// Where the value starts when the key that ends before `i` is followed by a
/// colon (`None`: it was a string value, not a key).
fn value_after_colon(bytes: &[u8], mut i: usize) -> Option<usize> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    while bytes.get(i).is_some_and(ws) {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while bytes.get(i).is_some_and(ws) {
        i += 1;
    }
    Some(i)
}

/// The index just past the quote that closes the string whose contents start
/// at `i` (`bytes.len()` when it is not closed). Eight bytes at a time: plan
/// strings are short, so this beats a call to a vectorised search per string.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte of `x` that is zero (exact up to the first
    // zero byte, which is the one used).
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    loop {
        while let Some(chunk) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
            let w = u64::from_le_bytes(*chunk);
            let hits = zero_bytes(w ^ (ONES * u64::from(b'"')))
                | zero_bytes(w ^ (ONES * u64::from(b'\\')));
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match bytes.get(i) {
            None => return bytes.len(),
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
        }
    }
}

/// Reads plan JSON from text.
///
/// Large plans are read on two cores: while this thread parses the document
/// (keeping `configuration` as borrowed text), another checks the whole
/// document's depth and numbers and parses `configuration`, which as a
/// JSON tree costs as much as all the rest. Any disagreement or error falls
/// back to reading on this thread, so results and errors are the same
/// either way.
pub fn read_plan_str(text: &str) -> Result<Plan, PlanError> {
    read_text(text, None).map_err(|e| explain(e, text.as_bytes()))
}

/// [`read_plan_str`] for a plan whose text is shared: the values kept as
/// text ([`RawJson`]) are slices of `text`, not copies (a large plan is
/// mostly such values).
pub fn read_plan_shared(text: &Arc<String>) -> Result<Plan, PlanError> {
    read_text(text, Some(text)).map_err(|e| explain(e, text.as_bytes()))
}

fn read_text(text: &str, shared: Option<&Arc<String>>) -> Result<Plan, PlanError> {
    expect_object(text)?;
    // Only this thread's document parse borrows from the shared text.
    let parse = || {
        let _shared = shared.map(SharedDocument::install);
        serde_json::from_str::<PlanDocument>(text)
    };
    let (scanned, parsed) = if text.len() > (1 << 20) {
        std::thread::scope(|s| {
            let h =
                s.spawn(|| scan(text).map(|at| at.and_then(|start| parse_value_at(text, start))));
            let parsed = parse();
            let scanned = h
                .join()
                .unwrap_or_else(|_| Err(PlanError::WrongDocument("depth check failed".into())));
            (scanned, parsed)
        })
    } else {
        (scan(text).map(|_| None), parse())
    };
    let early = scanned?;
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => return Err(one_pass_error(text).unwrap_or_else(|| locate_error(text, e))),
    };
    let configuration = match doc.configuration {
        None => None,
        Some(raw) => {
            let here = offset_in(text, raw.get());
            match early {
                Some((start, end, value)) if here == Some((start, end)) => Some(value),
                _ => match serde_json::from_str(raw.get()) {
                    Ok(value) => Some(value),
                    Err(e) => {
                        return Err(one_pass_error(text)
                            .unwrap_or_else(|| PlanError::from_json(e, "configuration")))
                    }
                },
            }
        }
    };
    build_plan(doc, configuration)
}

/// Parses the JSON value that starts at byte `start`: (start, end, value).
fn parse_value_at(text: &str, start: usize) -> Option<(usize, usize, serde_json::Value)> {
    let mut values = serde_json::Deserializer::from_str(text.get(start..)?).into_iter();
    let value = values.next()?.ok()?;
    Some((start, start + values.byte_offset(), value))
}

/// Where `part`, a slice of `text`, lies in it.
pub(crate) fn offset_in(text: &str, part: &str) -> Option<(usize, usize)> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= text.len()).then_some((start, end))
}

/// The error of reading `text` in one pass with `configuration` parsed in
/// place (the first problem in document order, as reported before the
/// section was parsed apart); `None` if that reads it.
fn one_pass_error(text: &str) -> Option<PlanError> {
    serde_json::from_str::<PlanDocument<'_, serde_json::Value>>(text)
        .err()
        .map(|e| locate_error(text, e))
}

/// Checks that the document is a JSON object before parsing it, to give a
/// clearer message than "invalid type" for arrays, strings or garbage.
pub(crate) fn expect_object(text: &str) -> Result<(), PlanError> {
    let first = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .chars()
        .next();
    match first {
        None => Err(PlanError::Empty),
        Some('{') => Ok(()),
        Some('[') => Err(PlanError::WrongDocument(
            "expected a JSON object (the output of `terraform show -json`), found an array".into(),
        )),
        Some(c)
            if c == '"' || c == '-' || c.is_ascii_digit() || c == 't' || c == 'f' || c == 'n' =>
        {
            // Could be a JSON scalar; let serde_json decide whether it is valid.
            match serde_json::from_str::<IgnoredAny>(text) {
                Ok(_) => Err(PlanError::WrongDocument(
                    "expected a JSON object (the output of `terraform show -json`), found a single value".into(),
                )),
                Err(e) => Err(PlanError::from_json(e, "")),
            }
        }
        Some(_) => match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => Err(PlanError::WrongDocument("expected a JSON object".into())),
            Err(e) => Err(PlanError::from_json(e, "")),
        },
    }
}

/// Re-parses with path tracking to name the offending field of a shape error.
pub(crate) fn locate_error(text: &str, err: serde_json::Error) -> PlanError {
    if err.classify() != serde_json::error::Category::Data {
        return PlanError::from_json(err, "");
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, PlanDocument>(&mut de) {
        Err(e) => {
            let path = e.path().to_string();
            PlanError::from_json(e.into_inner(), &path)
        }
        Ok(_) => PlanError::from_json(err, ""),
    }
}

fn build_plan(
    doc: PlanDocument<'_>,
    configuration: Option<serde_json::Value>,
) -> Result<Plan, PlanError> {
    let mut warnings = Vec::new();
    let is_plan = doc.resource_changes.is_some()
        || doc.planned_values.is_some()
        || doc.output_changes.is_some()
        || doc.resource_drift.is_some();
    if !is_plan {
        return Err(PlanError::WrongDocument(describe_non_plan(&doc)));
    }
    let (format_version, format_version_text) =
        check_format_version(doc.format_version.as_ref(), &mut warnings)?;

    let mut resource_changes = match doc.resource_changes {
        Some(rcs) => rcs,
        None => {
            warnings.push(
                "the plan has no resource_changes section; judging the resources in planned_values as creations"
                    .into(),
            );
            match doc
                .planned_values
                .and_then(|pv| RawJson::from_text(pv.get()).ok())
            {
                Some(pv) => synthesize_from_planned_values(&pv),
                None => Vec::new(),
            }
        }
    };
    parse_actions(&mut resource_changes, "resource_changes")?;
    let mut resource_drift = doc.resource_drift.unwrap_or_default();
    parse_actions(&mut resource_drift, "resource_drift")?;

    let sensitive_variables = configuration
        .as_ref()
        .and_then(|c| c.pointer("/root_module/variables"))
        .and_then(|v| v.as_object())
        .map(|vars| {
            vars.iter()
                .filter(|(_, v)| v.get("sensitive").and_then(|s| s.as_bool()) == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let variables = doc
        .variables
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.get("value").map(|v| (k, RawJson::from_value(v))))
        .collect();

    Ok(Plan {
        format_version,
        format_version_text,
        terraform_version: doc.terraform_version,
        resource_changes,
        resource_drift,
        output_changes: doc.output_changes.unwrap_or_default(),
        variables,
        sensitive_variables,
        configuration,
        errored: doc.errored.unwrap_or(false),
        complete: doc.complete,
        applyable: doc.applyable,
        timestamp: doc.timestamp,
        warnings,
    })
}

fn describe_non_plan(doc: &PlanDocument<'_>) -> String {
    let how = format!("make a plan with {MAKE_PLAN_JSON}");
    let nothing_else = doc.terraform_version.is_none()
        && doc.configuration.is_none()
        && doc.variables.is_none()
        && doc.resources.is_none()
        && doc.version.is_none();
    if doc.lineage.is_some()
        || doc.serial.is_some()
        || (doc.version.is_some() && doc.resources.is_some())
    {
        format!("this is a Terraform state file (terraform.tfstate), not a plan; {how}")
    } else if doc.values.is_some() {
        format!("this is Terraform state JSON (`terraform show -json` without a plan file), not a plan; {how}")
    } else if doc.configuration.is_some() {
        format!("this looks like `terraform show -json` output without planned changes (no resource_changes, planned_values or output_changes); {how}")
    } else if doc.format_version.is_some() && nothing_else {
        format!("this is `terraform show -json` run without a plan file where there is no state yet (only a format_version), not a plan; {how}")
    } else {
        format!("not a Terraform plan: none of the keys resource_changes, planned_values, output_changes was found; {how}")
    }
}

fn check_format_version(
    v: Option<&serde_json::Value>,
    warnings: &mut Vec<String>,
) -> Result<(Option<FormatVersion>, Option<String>), PlanError> {
    let text = match v {
        None | Some(serde_json::Value::Null) => {
            warnings.push("the plan has no format_version; reading it as format 1.x".into());
            return Ok((None, None));
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(PlanError::Shape {
                path: "format_version".into(),
                message: format!("expected a string like \"1.2\", found {}", kind_of(other)),
            })
        }
    };
    let Some(fv) = FormatVersion::parse(&text) else {
        return Err(PlanError::UnsupportedVersion {
            found: crate::error::clip(&text, 40),
            supported: "plan format 0.1 through 1.2 (newer 1.x minors with a warning)",
        });
    };
    if fv.major > 1 {
        return Err(PlanError::UnsupportedVersion {
            found: crate::error::clip(&text, 40),
            supported: "plan format 0.1 through 1.2 (newer 1.x minors with a warning)",
        });
    }
    if fv > FormatVersion::NEWEST_KNOWN {
        warnings.push(format!(
            "plan format_version {fv} is newer than the newest this build knows ({}); fields added since are ignored",
            FormatVersion::NEWEST_KNOWN
        ));
    }
    Ok((Some(fv), Some(text)))
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn parse_actions(rcs: &mut [ResourceChange], section: &str) -> Result<(), PlanError> {
    for (i, rc) in rcs.iter_mut().enumerate() {
        rc.action = Action::from_list(&rc.change.actions).ok_or_else(|| PlanError::Shape {
            path: format!("{section}[{i}].change.actions"),
            message: format!(
                "unknown action list {:?} for {}; expected one of no-op, create, read, update, delete, [delete,create], [create,delete], forget",
                rc.change.actions.iter().map(|a| crate::error::clip(a, 40)).collect::<Vec<_>>(),
                crate::error::clip(&rc.address, 200)
            ),
        })?;
        if rc.resource_type.is_empty() {
            rc.resource_type = type_from_address(&rc.address);
        }
    }
    Ok(())
}

fn type_from_address(address: &str) -> String {
    let config = crate::address::config_address(address);
    let local = config
        .strip_prefix(crate::address::module_path(&config))
        .unwrap_or(&config);
    let local = local.trim_start_matches('.');
    let local = local.strip_prefix("data.").unwrap_or(local);
    local.split('.').next().unwrap_or_default().to_string()
}

/// Builds creation changes from `planned_values` for documents that lack
/// `resource_changes` (hand-made or very old outputs).
fn synthesize_from_planned_values(pv: &RawJson) -> Vec<ResourceChange> {
    let mut out = Vec::new();
    if let Some(root) = pv.value_or_null().get("root_module") {
        collect_module(root, &mut out);
    }
    out
}

fn collect_module(module: &serde_json::Value, out: &mut Vec<ResourceChange>) {
    let module_address = module
        .get("address")
        .and_then(|a| a.as_str())
        .map(str::to_string);
    for r in module
        .get("resources")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let Some(address) = r.get("address").and_then(|a| a.as_str()) else {
            continue;
        };
        let mode = match r.get("mode").and_then(|m| m.as_str()) {
            Some("data") => ResourceMode::Data,
            _ => ResourceMode::Managed,
        };
        let values = r.get("values").cloned().unwrap_or(serde_json::Value::Null);
        let action = if mode == ResourceMode::Data {
            Action::Read
        } else {
            Action::Create
        };
        out.push(ResourceChange {
            address: address.to_string(),
            previous_address: None,
            module_address: module_address.clone(),
            mode,
            resource_type: r
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            name: r
                .get("name")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            index: r
                .get("index")
                .and_then(|i| serde_json::from_value(i.clone()).ok()),
            provider_name: r
                .get("provider_name")
                .and_then(|t| t.as_str())
                .map(str::to_string),
            deposed: None,
            action_reason: None,
            change: Change {
                actions: action.as_list().iter().map(|s| s.to_string()).collect(),
                before: None,
                after: Some(RawJson::from_value(&values)),
                after_unknown: None,
                before_sensitive: None,
                after_sensitive: r.get("sensitive_values").map(RawJson::from_value),
                replace_paths: None,
                importing: None,
                generated_config: None,
            },
            action,
        });
    }
    for child in module
        .get("child_modules")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        collect_module(child, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match read_plan(text.as_bytes()) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn mistaken_inputs_are_recognised_by_content() {
        use NotPlanJson::*;
        let cases: &[(&str, Option<NotPlanJson>)] = &[
            ("{\"@level\":\"info\",\"@message\":\"Terraform 1.11.4\",\"type\":\"version\"}\n{\"@level\":\"info\",\"@message\":\"x\"}\n", Some(PlanLog)),
            ("\u{feff}{\"@level\":\"info\",\"@message\":\"OpenTofu 1.8\"}", Some(PlanLog)),
            ("resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n", Some(Configuration)),
            ("# comment\n// another\n\nprovider \"aws\" {\n}\n", Some(Configuration)),
            ("/* a\nb */\nlocals {\n  a = 1\n}\n", Some(Configuration)),
            ("locals{\n}", Some(Configuration)),
            ("région = \"é\"\n", None),
            ("region = \"eu-west-1\"\ntags = {\n  team = \"ünï\"\n}\nazs = [\n  \"a\",\n]\n", Some(Variables)),
            ("# vars\ncount=3\n", Some(Variables)),
            ("a == b\n", None),
            ("x = 1\nresource \"a\" \"b\" {}\n", None),
            ("\u{1b}[1mTerraform will perform the following actions:\u{1b}[0m\n", Some(PlanOutput)),
            ("No changes. Your infrastructure matches the configuration.\n", Some(PlanOutput)),
            ("{\"format_version\":\"1.2\",\n\"resource_changes\": [", None),
            ("{\"a\":1}", None),
            ("", None),
            ("\u{e9}\u{e9}\u{e9}", None),
            ("resources = ", Some(Variables)),
            ("terraform", None),
            ("terraformé {", None),
        ];
        for (text, want) in cases {
            assert_eq!(not_plan_json(text.as_bytes()), *want, "{text:?}");
        }
        // A zip archive is a binary plan only when it holds `tfplan`.
        let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
        zip.extend([0u8; 16]);
        assert_eq!(not_plan_json(&zip), None);
        zip.extend(b"tfplan\x00\xff");
        assert_eq!(not_plan_json(&zip), Some(BinaryPlan));
    }

    #[test]
    fn reading_names_the_mistake_and_the_file() {
        let log = "{\"@level\":\"info\",\"@message\":\"Terraform 1.11.4\",\"type\":\"version\"}\n{\"@level\":\"info\"}\n";
        let e = read_plan(log.as_bytes()).err();
        assert!(
            matches!(
                e,
                Some(PlanError::NotPlanJson {
                    kind: NotPlanJson::PlanLog,
                    file: None
                })
            ),
            "{e:?}"
        );
        let e = read_plan_str("terraform {\n}\n")
            .err()
            .map(|e| e.in_file(Path::new("main.tf")));
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("Terraform configuration") && msg.contains("terraform plan -out=tfplan"),
            "{msg}"
        );
        let e = PlanError::NotPlanJson {
            kind: NotPlanJson::BinaryPlan,
            file: Some("my plan's".into()),
        };
        assert!(
            e.to_string()
                .contains("`terraform show -json 'my plan'\\''s' > plan.json`"),
            "{e}"
        );
        // A real syntax error in plan JSON stays one.
        assert!(
            err("{\"format_version\": \"1.2\",\n \"resource_changes\": [")
                .starts_with("invalid JSON at line 2")
        );
    }

    #[test]
    fn reads_minimal_plan_with_every_action_form() -> Result<(), PlanError> {
        let mut rcs = Vec::new();
        for (i, a) in [
            r#"["no-op"]"#,
            r#"["create"]"#,
            r#"["read"]"#,
            r#"["update"]"#,
            r#"["delete"]"#,
            r#"["delete","create"]"#,
            r#"["create","delete"]"#,
            r#"["forget"]"#,
        ]
        .iter()
        .enumerate()
        {
            rcs.push(format!(
                r#"{{"address":"t_x.r{i}","type":"t_x","name":"r{i}","change":{{"actions":{a},"before":null,"after":{{"a":1}}}}}}"#
            ));
        }
        let text = format!(
            r#"{{"format_version":"1.2","resource_changes":[{}]}}"#,
            rcs.join(",")
        );
        let plan = read_plan(text.as_bytes())?;
        let actions: Vec<Action> = plan.resource_changes.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            vec![
                Action::NoOp,
                Action::Create,
                Action::Read,
                Action::Update,
                Action::Delete,
                Action::DeleteThenCreate,
                Action::CreateThenDelete,
                Action::Forget
            ]
        );
        assert!(plan.warnings.is_empty());
        Ok(())
    }

    #[test]
    fn version_handling() -> Result<(), PlanError> {
        let p = read_plan(br#"{"format_version":"1.9","resource_changes":[]}"#)?;
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("newer"));
        assert!(err(r#"{"format_version":"2.0","resource_changes":[]}"#)
            .contains("unsupported format_version"));
        assert!(err(r#"{"format_version":"banana","resource_changes":[]}"#).contains("unsupported"));
        let p = read_plan(br#"{"format_version":"0.1","resource_changes":[]}"#)?;
        assert!(p.warnings.is_empty());
        Ok(())
    }

    #[test]
    fn clear_errors() {
        assert!(err("").contains("empty"));
        assert!(err("   ").contains("empty"));
        assert!(err("[1,2]").contains("found an array"));
        assert!(err("42").contains("single value"));
        assert!(err("{\"format_version\": \"1.2\",\n  \"resource_changes\": [").contains("line 2"));
        assert!(err("\u{1}\u{2}garbage").contains("invalid JSON"));
        let e = err(
            r#"{"format_version":"1.2","resource_changes":[{"address":"a.b","change":{"actions":"create"}}]}"#,
        );
        assert!(e.contains("resource_changes[0].change.actions"), "{e}");
        let e = err(
            r#"{"format_version":"1.2","resource_changes":[{"address":"a.b","change":{"actions":["explode"]}}]}"#,
        );
        assert!(e.contains("unknown action list"), "{e}");
        assert!(
            err(r#"{"version":4,"lineage":"x","serial":1,"resources":[]}"#).contains("state file")
        );
        assert!(err(r#"{"format_version":"1.0","values":{}}"#).contains("state JSON"));
        assert!(err(r#"{"hello":"world"}"#).contains("not a Terraform plan"));
    }

    #[test]
    fn numbers_too_large_for_a_float_are_errors() {
        let e = err(
            r#"{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","change":{"actions":["create"],"after":{"n":1e400}}}]}"#,
        );
        assert!(
            e.contains("number out of range: 1e400") && e.contains("line 1"),
            "{e}"
        );
        let big = format!(r#"{{"resource_changes":[],"x":{}}}"#, "9".repeat(400));
        assert!(err(&big).contains("out of range"));
        // In range, or inside strings: fine.
        assert_eq!(
            err(r#"{"resource_changes":[],"x":[1e300,-2.5E-10,12345678901234567890123,"1e400"]}"#),
            "ok"
        );
    }

    #[test]
    fn deep_nesting_inside_kept_values_is_an_error() {
        let deep = format!(
            r#"{{"format_version":"1.2","resource_changes":[{{"address":"a.b","type":"a","change":{{"actions":["create"],"after":{}{}}}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = err(&deep);
        assert!(e.contains("nest deeper than 128"), "{e}");
        // Brackets inside strings do not count.
        let ok = format!(r#"{{"resource_changes":[],"x":"{}"}}"#, "[".repeat(1000));
        assert_eq!(err(&ok), "ok");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            r#"{{"resource_changes":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = err(&deep);
        assert!(e.contains("nest deeper than 128"), "{e}");
    }

    #[test]
    fn synthesizes_from_planned_values() -> Result<(), PlanError> {
        let p = read_plan(
            br#"{"planned_values":{"root_module":{"resources":[{"address":"aws_s3_bucket.b","mode":"managed","type":"aws_s3_bucket","name":"b","values":{"acl":"private"}}]}}}"#,
        )?;
        assert_eq!(p.resource_changes.len(), 1);
        assert_eq!(p.resource_changes[0].action, Action::Create);
        assert_eq!(p.warnings.len(), 2);
        Ok(())
    }

    /// The check as it was first written (a byte loop and a vectorised search
    /// per string), kept to test the faster one against.
    fn reference_check(text: &str) -> Result<(), String> {
        let bytes = text.as_bytes();
        let (mut depth, mut in_string, mut i) = (0usize, false, 0);
        while i < bytes.len() {
            if in_string {
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    Some(off) => {
                        i += off;
                        if bytes[i] == b'\\' {
                            i += 2;
                        } else {
                            in_string = false;
                            i += 1;
                        }
                        continue;
                    }
                    None => break,
                }
            }
            match bytes[i] {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(format!("depth at {i}"));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while i < bytes.len()
                        && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    {
                        i += 1;
                    }
                    let token = &text[start..i];
                    let suspicious = token.len() > 20
                        || token.find(['e', 'E']).is_some_and(|e| {
                            token[e + 1..].trim_start_matches(['+', '-']).len() >= 3
                        });
                    if suspicious && token.parse::<f64>().map_or(true, |f| f.is_infinite()) {
                        return Err(format!("number at {start}"));
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }

    fn outcome(text: &str) -> Result<(), String> {
        check_depth(text).map_err(|e| match e {
            PlanError::Syntax { message, .. } if message.contains("nest deeper") => "depth".into(),
            PlanError::Syntax { message, .. } if message.contains("out of range") => {
                "number".into()
            }
            other => other.to_string(),
        })
    }

    fn reference_outcome(text: &str) -> Result<(), String> {
        reference_check(text).map_err(|e| e.split(' ').next().unwrap_or_default().to_string())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 2000, ..Default::default() })]

        // Strings of the characters that matter (quotes, escapes, brackets,
        // digits, exponents), in every arrangement, including unterminated
        // strings and escapes at the very end.
        #[test]
        fn fast_check_agrees_with_the_reference(
            text in "[\"\\\\\\[\\]{}0-9eE+.a -]{0,300}",
            deep in 0usize..3,
        ) {
            let text = format!("{}{}", "[".repeat(deep * 64), text);
            proptest::prop_assert_eq!(outcome(&text), reference_outcome(&text));
        }
    }

    #[test]
    fn fast_check_agrees_on_long_strings_and_real_plans() {
        for text in [
            format!(r#"{{"a":"{}","b":[[1e400]]}}"#, "x\\\"y".repeat(100)),
            format!(r#"{{"a":"{}\\"}}{}"#, "z".repeat(17), "[".repeat(200)),
            format!(r#"["{}"]"#, "[".repeat(500)),
            format!(r#"{{"a":"{}"{}"#, "q".repeat(8), "{".repeat(129)),
        ] {
            assert_eq!(outcome(&text), reference_outcome(&text), "{text}");
        }
    }

    /// A plan over the size where reading uses two threads.
    fn large_plan(configuration: &str, before: &str) -> String {
        format!(
            r#"{{"format_version":"1.2","timestamp":"configuration","variables":{{"pad":{{"value":"{}"}}}},{before}"resource_changes":[{{"address":"a_b.c","type":"a_b","change":{{"actions":["create"],"after":{{"x":1}}}}}}],"configuration":{configuration}}}"#,
            "p".repeat(1 << 20)
        )
    }

    #[test]
    fn large_plans_parse_configuration_on_the_other_thread() -> Result<(), PlanError> {
        let config = r#"{"provider_config":{"aws":{"name":"aws"}},"root_module":{"variables":{"pw":{"sensitive":true}}}}"#;
        for before in ["", r#""planned_values":{"configuration":{"x":1}},"#] {
            let text = large_plan(config, before);
            assert!(text.len() > 1 << 20);
            let plan = read_plan_str(&text)?;
            let expected: serde_json::Value =
                serde_json::from_str(config).map_err(|e| PlanError::from_json(e, ""))?;
            assert_eq!(plan.configuration.as_ref(), Some(&expected));
            assert_eq!(plan.sensitive_variables, vec!["pw".to_string()]);
            // The same document small enough to be read on one thread.
            let small = text.replace(&"p".repeat(1 << 20), "p");
            assert_eq!(read_plan_str(&small)?.configuration, plan.configuration);
        }
        let text = large_plan("null", "");
        assert_eq!(read_plan_str(&text)?.configuration, None);
        Ok(())
    }

    #[test]
    fn configuration_errors_are_reported_as_by_a_one_pass_read() {
        // A lone surrogate passes when the section is skipped as text, but not
        // when it is parsed: the error must still carry its position.
        let text = large_plan(r#"{"root_module":{"x":"\ud800"}}"#, "");
        let expected = match serde_json::from_str::<serde_json::Value>(&text) {
            Err(e) => format!("line {} column {}", e.line(), e.column()),
            Ok(_) => "no error".into(),
        };
        let e = match read_plan_str(&text) {
            Err(e) => e.to_string(),
            Ok(_) => "ok".into(),
        };
        assert!(
            e.contains(&expected) && e.contains("hex escape"),
            "{e} / {expected}"
        );
    }

    #[test]
    fn shared_plans_keep_slices_of_their_text() -> Result<(), PlanError> {
        let text = Arc::new(
            r#"{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","change":{"actions":["update"],"before":{"x":"\u00e9"},"after":{"x":2,"y":[1,{"z":null}]},"after_unknown":{}}}],"output_changes":{"o":{"actions":["create"],"after":"v"}}}"#
                .to_string(),
        );
        let shared = read_plan_shared(&text)?;
        let copied = read_plan_str(&text)?;
        let raws = |p: &Plan| {
            let c = &p.resource_changes[0].change;
            let o = &p.output_changes["o"];
            [
                c.before.clone(),
                c.after.clone(),
                c.after_unknown.clone(),
                o.after.clone(),
            ]
        };
        for (s, c) in raws(&shared).iter().zip(raws(&copied).iter()) {
            let (Some(s), Some(c)) = (s, c) else {
                return Err(PlanError::WrongDocument("a value is missing".into()));
            };
            assert_eq!(s, c);
            assert!(
                offset_in(&text, s.text()).is_some(),
                "{s:?} is not a slice of the text"
            );
            assert!(
                offset_in(&text, c.text()).is_none(),
                "{c:?} should be a copy"
            );
            assert_eq!(s.value(), c.value());
            assert_eq!(serde_json::to_string(s).ok(), serde_json::to_string(c).ok());
            assert_eq!(s.clone().text(), s.text());
        }
        // Outside a shared read, values are copies again.
        let later: RawJson =
            serde_json::from_str(&text).map_err(|e| PlanError::from_json(e, ""))?;
        assert!(offset_in(&text, later.text()).is_none());
        Ok(())
    }
}
