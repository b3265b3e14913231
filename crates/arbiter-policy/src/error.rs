//! Errors of policy loading and evaluation.

use thiserror::Error;

/// Why policies could not be loaded or evaluated.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// A Rego file does not parse or compile.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// File path.
        file: String,
        /// 1-based line (0 when unknown).
        line: u32,
        /// 1-based column (0 when unknown).
        column: u32,
        /// What is wrong.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("{path}: {message}")]
    Load {
        /// The path.
        path: String,
        /// What failed.
        message: String,
    },
    /// A data document (`data.json`/`data.yaml`) is invalid.
    #[error("{path}: invalid data document: {message}")]
    Data {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Evaluating a rule failed (a runtime error in Rego, a bad rule result).
    #[error("evaluating {rule}: {message}")]
    Eval {
        /// The rule path, e.g. `data.main.deny`.
        rule: String,
        /// What failed.
        message: String,
    },
    /// A configuration override names a rule that does not exist, or a bad value.
    #[error("{0}")]
    Config(String),
}

impl PolicyError {
    /// Turns a regorus error for `file` into a located syntax error. Regorus
    /// messages look like `path:LINE:COL: error: message` followed by the
    /// source line; the first line is kept.
    pub(crate) fn from_regorus(file: &str, err: &anyhow::Error) -> PolicyError {
        let first = first_line(err);
        if let Some((line, column, message)) = split_location(&first, file) {
            return PolicyError::Syntax {
                file: file.to_string(),
                line,
                column,
                message,
            };
        }
        PolicyError::Syntax {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: first,
        }
    }
}

fn split_location(first: &str, file: &str) -> Option<(u32, u32, String)> {
    let rest = first.strip_prefix(file)?.strip_prefix(':')?;
    let mut it = rest.splitn(3, ':');
    let line = it.next()?.trim().parse().ok()?;
    let column = it.next()?.trim().parse().ok()?;
    let msg = it.next()?.trim();
    let msg = msg.strip_prefix("error:").unwrap_or(msg).trim().to_string();
    Some((line, column, msg))
}

/// The first non-empty line of a regorus error (it adds source excerpts and
/// carets on the following lines).
pub(crate) fn first_line(e: &anyhow::Error) -> String {
    let full = format!("{e:#}");
    full.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .to_string()
}
