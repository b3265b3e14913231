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
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl PlanError {
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
