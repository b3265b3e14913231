//! Output and wire formats of a [`Verdict`]: terminal text, JSON (the
//! PRODUCT.md §4.1 contract), SARIF 2.1.0 for code scanning, markdown for
//! pull-request comments, and HTML fragments for the web UI ([`html`]).
//!
//! Architecture invariants:
//! - This is the only crate that defines how a verdict looks outside the
//!   process. Engines hand over a [`Verdict`]; nothing here judges, re-orders
//!   by importance, or changes a decision.
//! - The library never prints: every renderer returns a `String`, and
//!   [`render_to`] writes to any [`std::io::Write`].
//! - Renderers never panic, whatever the verdict holds (empty findings, empty
//!   changes, non-finite numbers, hostile strings in addresses or messages).
//! - Renderers print only what the verdict contains. Sensitive values are
//!   redacted by the judge before a verdict reaches this crate; a masked value
//!   (`"(sensitive)"`) is printed as the mask, never looked behind.
//! - Output is deterministic: the same verdict and options give the same bytes.

mod common;
mod cost;
pub mod html;
mod json;
mod markdown;
mod sarif;
mod text;

use std::io;
use std::str::FromStr;

pub use arbiter_verdict::Verdict;
pub use sarif::{fingerprint, fnv1a_64, sarif_level, security_severity};

/// An output format of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable terminal summary ([`render_text`]).
    Text,
    /// The JSON contract of PRODUCT.md §4.1 ([`render_json`]).
    Json,
    /// SARIF 2.1.0 for GitHub code scanning ([`render_sarif`]).
    Sarif,
    /// A pull-request comment ([`render_markdown`]).
    Markdown,
}

impl Format {
    /// Every format, in the order the CLI documents them.
    pub const ALL: [Format; 4] = [Format::Text, Format::Json, Format::Sarif, Format::Markdown];

    /// The lowercase name accepted by [`Format::from_str`] (`text`, `json`,
    /// `sarif`, `markdown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Markdown => "markdown",
        }
    }

    /// The usual file extension for a report in this format, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Markdown => "md",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Format::from_str`]: the name that was not recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl std::fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown output format `{}`: expected one of text, json, sarif, markdown",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses `text`, `json`, `sarif` or `markdown` (case-insensitive,
    /// surrounding blanks ignored; `md` is accepted for `markdown`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "markdown" | "md" => Ok(Format::Markdown),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// How a report is rendered, apart from the verdict itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colours in [`Format::Text`]. Ignored by the other formats,
    /// which never contain escape sequences.
    pub color: bool,
    /// Path of the judged plan file, used as the SARIF artifact location
    /// (`plan.json` when `None`).
    pub plan_path: Option<String>,
    /// Version of Arbiter shown in SARIF (`tool.driver.version`) and in the
    /// markdown footer.
    pub tool_version: String,
    /// Most findings listed one by one in the human formats (text and
    /// markdown); the rest are counted. `None` lists them all. JSON and SARIF
    /// always carry every finding.
    pub max_findings: Option<usize>,
}

impl Default for RenderOptions {
    /// No colour, no plan path, this crate's version, every finding listed.
    fn default() -> Self {
        RenderOptions {
            color: false,
            plan_path: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            max_findings: None,
        }
    }
}

/// Renders `verdict` in `format`.
///
/// Guarantees: never panics; deterministic; JSON and SARIF output is valid
/// JSON; only text output contains ANSI escapes, and only when `opts.color`.
pub fn render(verdict: &Verdict, format: Format, opts: &RenderOptions) -> String {
    match format {
        Format::Text => render_text(verdict, opts),
        Format::Json => render_json(verdict),
        Format::Sarif => render_sarif(verdict, opts),
        Format::Markdown => render_markdown(verdict, opts),
    }
}

/// Renders `verdict` in `format` into `out`, followed by a newline when the
/// rendering does not already end with one.
///
/// Guarantees: writes exactly what [`render`] returns (plus that newline);
/// the only error is the writer's own.
pub fn render_to<W: io::Write>(
    out: &mut W,
    verdict: &Verdict,
    format: Format,
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut s = render(verdict, format, opts);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    out.write_all(s.as_bytes())
}

/// The JSON contract of PRODUCT.md §4.1, pretty-printed.
///
/// Guarantees: one JSON object holding every field of the verdict, in
/// particular `decision`, `confidence`, `summary{create,update,delete,replace,
/// no_op,read}`, `findings[{rule_id,source,severity,effect,address,message}]`
/// (`address` is a string or `null`), `critics[{name,risk,findings}]`,
/// `cost{monthly_before_usd,monthly_after_usd,monthly_delta_usd}` and
/// `explanation`. Numbers stay numbers: `confidence` is rounded to 1 decimal,
/// critic `risk` to 3, money to cents, and a non-finite value (which JSON
/// cannot carry) is written as the fail-safe end of its range — confidence 0,
/// risk 1, money 0 — rather than as `null`.
pub fn render_json(verdict: &Verdict) -> String {
    json::render(verdict)
}

/// A terminal summary a reviewer scans in seconds: decision, confidence
/// against the threshold, action counts, explanation, findings grouped by
/// effect with their remediation, critics, cost and a compact change list.
///
/// Guarantees: ANSI colours only when `opts.color`; control and bidirectional
/// characters from the verdict's strings are shown escaped, so a hostile
/// address or message cannot move the cursor, recolour or reorder the screen.
pub fn render_text(verdict: &Verdict, opts: &RenderOptions) -> String {
    text::render(verdict, opts)
}

/// A pull-request comment in GitHub-flavoured markdown: decision heading,
/// action table, "Why", findings table with remediation in a collapsible
/// block, critics table, cost, and the resource diff in a collapsible block.
///
/// Guarantees: strings from the verdict are escaped so they cannot break a
/// table, open a code span, inject HTML or mention (`@`) anyone; the comment
/// stays under GitHub's 65,536-character limit (the diff is shortened first).
pub fn render_markdown(verdict: &Verdict, opts: &RenderOptions) -> String {
    markdown::render(verdict, opts)
}

/// A SARIF 2.1.0 log for GitHub code scanning.
///
/// Guarantees: validates against the OASIS SARIF 2.1.0 schema; one run; one
/// rule per distinct rule ID among the reported results; one result per
/// finding except findings the change `fixed`; every result has a physical
/// location (the plan file, line 1) and, when it has an address, a logical
/// location of kind `resource`; `partialFingerprints` are stable across runs,
/// platforms and Rust versions (FNV-1a 64 of rule ID, address and message).
///
/// Levels: `deny` → `error`, `escalate` → `warning`, `warn` → `warning`,
/// `info` → `note`. `escalate` is a warning because it means "needs a
/// person", not "forbidden": code scanning treats `error` as a defect to fix,
/// and keeping `error` for denials keeps the two apart.
pub fn render_sarif(verdict: &Verdict, opts: &RenderOptions) -> String {
    sarif::render(verdict, opts)
}

/// An output format of `arbiter cost --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostFormat {
    /// A breakdown table like Infracost's ([`render_cost`]).
    Table,
    /// The `CostSummary` as JSON.
    Json,
    /// A pull-request comment: the diff per resource and the breakdown.
    Markdown,
}

impl CostFormat {
    /// Every cost format.
    pub const ALL: [CostFormat; 3] = [CostFormat::Table, CostFormat::Json, CostFormat::Markdown];

    /// The name accepted by [`CostFormat::from_str`].
    pub fn as_str(self) -> &'static str {
        match self {
            CostFormat::Table => "table",
            CostFormat::Json => "json",
            CostFormat::Markdown => "markdown",
        }
    }

    /// The usual file extension for this format.
    pub fn extension(self) -> &'static str {
        match self {
            CostFormat::Table => "txt",
            CostFormat::Json => "json",
            CostFormat::Markdown => "md",
        }
    }
}

impl FromStr for CostFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<CostFormat, UnknownFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" | "text" => Ok(CostFormat::Table),
            "json" => Ok(CostFormat::Json),
            "markdown" | "md" => Ok(CostFormat::Markdown),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// Renders a cost breakdown (`arbiter cost`). `plan_path` is shown as the
/// project.
///
/// Guarantees: never panics; deterministic; JSON is valid JSON holding every
/// field of the summary (money rounded to cents); the table and markdown
/// mark every assumed quantity with `*`, list what could not be priced and
/// why, and escape the summary's strings (markdown stays under GitHub's
/// comment limit by listing fewer resources).
pub fn render_cost(
    cost: &arbiter_verdict::CostSummary,
    format: CostFormat,
    plan_path: Option<&str>,
) -> String {
    match format {
        CostFormat::Table => cost::table(cost, plan_path),
        CostFormat::Json => cost::json(cost),
        CostFormat::Markdown => cost::markdown(cost, plan_path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(" Markdown ".parse::<Format>(), Ok(Format::Markdown));
        assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
        let err = "yaml".parse::<Format>();
        assert_eq!(err, Err(UnknownFormat("yaml".into())));
        if let Err(e) = err {
            assert!(e.to_string().contains("text, json, sarif, markdown"));
        }
    }

    #[test]
    fn default_options_are_plain() {
        let o = RenderOptions::default();
        assert!(!o.color);
        assert_eq!(o.plan_path, None);
        assert_eq!(o.tool_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(o.max_findings, None);
    }
}
