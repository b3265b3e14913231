//! Errors of the plan and state readers. Every variant names what was being
//! read and where, so the binary can print it as one line.

use thiserror::Error;

/// Why a plan or state could not be read.
#[derive(Debug, Error)]
pub enum PlanError {
    /// The file has no bytes at all.
    #[error("the file is empty; expected the JSON printed by `terraform show -json`")]
    Empty,
    /// The bytes are not text in a supported encoding.
    #[error("{message}")]
    Encoding {
        /// What is wrong with the encoding.
        message: String,
    },
    /// The text is not valid JSON.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's description, e.g. "EOF while parsing an object".
        message: String,
    },
    /// Valid JSON, but a field has the wrong shape.
    #[error("{path}: {message}")]
    Shape {
        /// JSON path of the offending value, e.g. `resource_changes[3].change.actions`.
        path: String,
        /// What was expected.
        message: String,
    },
    /// Valid JSON, but not the kind of document expected.
    #[error("{0}")]
    WrongDocument(String),
    /// A format version this reader does not understand.
    #[error("unsupported format_version {found:?}: this build reads {supported}")]
    UnsupportedVersion {
        /// The version in the file.
        found: String,
        /// What is supported.
        supported: &'static str,
    },
    /// The file is larger than the configured limit.
    #[error("the file is {size} bytes, over the limit of {limit} bytes (raise it with ARBITER_MAX_PLAN_BYTES)")]
    TooLarge {
        /// Size of the file in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Not plan JSON but something people commonly give instead (a saved
    /// binary plan, `terraform plan -json` output, a `.tf` file, …),
    /// recognised by its content; the message gives the command that makes
    /// the plan JSON.
    #[error("{}", kind.explain(file.as_deref()))]
    NotPlanJson {
        /// What the input is.
        kind: NotPlanJson,
        /// The file's name as the user gave it, when known (it goes into the
        /// command the message suggests).
        file: Option<String>,
    },
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What people commonly give in place of `terraform show -json` plan output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPlanJson {
    /// A saved binary plan: the zip archive `terraform plan -out=FILE` writes.
    BinaryPlan,
    /// The streaming log of `terraform plan -json` (one JSON message a line).
    PlanLog,
    /// The human-readable output of `terraform plan`.
    PlanOutput,
    /// Terraform configuration in HCL (a `.tf` file).
    Configuration,
    /// A variable definitions file (`.tfvars`).
    Variables,
}

/// How to make plan JSON, for Terraform and OpenTofu.
pub const MAKE_PLAN_JSON: &str = "`terraform plan -out=tfplan && terraform show -json tfplan > plan.json` (OpenTofu: `tofu plan -out=tfplan && tofu show -json tfplan > plan.json`)";

impl NotPlanJson {
    /// The message: what the input is and the exact command that makes
    /// what Arbiter reads. `file` (the input's name as given) goes into the
    /// command where it is an argument (binary plan, variable file).
    pub fn explain(self, file: Option<&str>) -> String {
        match self {
            NotPlanJson::BinaryPlan => {
                let f = shell_word(file.unwrap_or("tfplan"));
                format!(
                    "this is a saved binary plan (what `terraform plan -out=FILE` writes), not its JSON form; convert it with `terraform show -json {f} > plan.json` (OpenTofu: `tofu show -json {f} > plan.json`)"
                )
            }
            NotPlanJson::PlanLog => format!(
                "this is the streaming log of `terraform plan -json` (one JSON message per line), not a plan document; make the plan JSON with {MAKE_PLAN_JSON}"
            ),
            NotPlanJson::PlanOutput => format!(
                "this is the human-readable output of `terraform plan`, not JSON; make the plan JSON with {MAKE_PLAN_JSON}"
            ),
            NotPlanJson::Configuration => format!(
                "this is Terraform configuration (HCL, a .tf file), not a plan; in its directory make the plan JSON with {MAKE_PLAN_JSON}"
            ),
            NotPlanJson::Variables => {
                let f = shell_word(file.unwrap_or("terraform.tfvars"));
                format!(
                    "this is a variable definitions file (.tfvars), not a plan; plan with it and convert: `terraform plan -var-file={f} -out=tfplan && terraform show -json tfplan > plan.json` (OpenTofu: `tofu plan -var-file={f} -out=tfplan && tofu show -json tfplan > plan.json`)"
                )
            }
        }
    }
}

/// `s` as one shell word: as is when it is plain, else single-quoted.
fn shell_word(s: &str) -> String {
    let s = clip(s, 200);
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+' | ':' | '@' | ',')
        })
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl PlanError {
    /// Names the file this error is about where the message uses it (the
    /// command suggested for a [`PlanError::NotPlanJson`] input).
    pub fn in_file(self, path: &std::path::Path) -> PlanError {
        match self {
            PlanError::NotPlanJson { kind, file: None } => PlanError::NotPlanJson {
                kind,
                file: Some(path.display().to_string()),
            },
            other => other,
        }
    }

    pub(crate) fn from_json(err: serde_json::Error, path: &str) -> PlanError {
        use serde_json::error::Category;
        let message = clip(&strip_position(&err.to_string()), 300);
        match err.classify() {
            Category::Syntax | Category::Eof => PlanError::Syntax {
                line: err.line(),
                // serde_json reports column 0 for an error at the start of a line.
                column: err.column().max(1),
                message,
            },
            Category::Data => PlanError::Shape {
                path: if path.is_empty() || path == "." {
                    "(document)".into()
                } else {
                    clip(path, 200)
                },
                message: format!("{message} (line {} column {})", err.line(), err.column()),
            },
            Category::Io => PlanError::Io(std::io::Error::other(message)),
        }
    }
}

/// Cuts `s` to at most `max` characters, marking the cut: error messages stay
/// one readable line whatever the input holds.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}… ({} more bytes)", s.len() - cut.len())
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
