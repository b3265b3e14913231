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
    /// Rules or functions refer to themselves (OPA refuses this too; regorus
    /// would recurse until the stack is exhausted).
    #[error("recursion: {cycle} in {file}:{line}")]
    Recursion {
        /// The cycle, e.g. `data.x.f -> data.x.g -> data.x.f`.
        cycle: String,
        /// File of the first reference of the cycle.
        file: String,
        /// Its line.
        line: u32,
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
    /// messages carry a `--> path:LINE:COL` line, a source excerpt with a
    /// caret, and the message; some are a single `path:LINE:COL: error: …` line.
    pub(crate) fn from_regorus(file: &str, err: &anyhow::Error) -> PolicyError {
        let (loc, message) = parse_regorus(&format!("{err:#}"));
        match loc {
            Some((f, line, column)) => PolicyError::Syntax {
                file: f,
                line,
                column,
                message,
            },
            None => PolicyError::Syntax {
                file: file.to_string(),
                line: 0,
                column: 0,
                message,
            },
        }
    }
}

/// Splits a regorus error into its location and a one-line message.
pub(crate) fn parse_regorus(full: &str) -> (Option<(String, u32, u32)>, String) {
    let mut loc = None;
    let mut messages: Vec<String> = Vec::new();
    for raw in full.lines() {
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix("-->") {
            loc = split_location(rest.trim());
            continue;
        }
        let gutter = l.starts_with('|')
            || l.split_once('|').is_some_and(|(n, _)| {
                !n.trim().is_empty() && n.trim().chars().all(|c| c.is_ascii_digit())
            });
        if gutter {
            continue;
        }
        if loc.is_none() {
            if let Some((f, line, col, msg)) = split_inline(l) {
                loc = Some((f, line, col));
                messages.push(msg);
                continue;
            }
        }
        messages.push(l.strip_prefix("error:").unwrap_or(l).trim().to_string());
    }
    let message = if messages.is_empty() {
        "unknown error".to_string()
    } else {
        messages.join("; ")
    };
    (loc, message)
}

/// `path:LINE:COL` (path may contain ':').
fn split_location(s: &str) -> Option<(String, u32, u32)> {
    let mut parts = s.rsplitn(3, ':');
    let col = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let file = parts.next()?.to_string();
    Some((file, line, col))
}

/// `path:LINE:COL: error: message` on one line.
fn split_inline(l: &str) -> Option<(String, u32, u32, String)> {
    let mut it = l.splitn(4, ':');
    let file = it.next()?.to_string();
    let line = it.next()?.trim().parse().ok()?;
    let col = it.next()?.trim().parse().ok()?;
    let msg = it.next()?.trim();
    Some((
        file,
        line,
        col,
        msg.strip_prefix("error:").unwrap_or(msg).trim().to_string(),
    ))
}

/// The location and message of a regorus error on one line.
pub(crate) fn first_line(e: &anyhow::Error) -> String {
    match parse_regorus(&format!("{e:#}")) {
        (Some((f, l, c)), m) => format!("{f}:{l}:{c}: {m}"),
        (None, m) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_regorus_error_layouts() {
        let full = "\n--> bad.rego:3:19\n  |\n3 | deny contains msg if {\n  |                   ^\nerror: unexpected token";
        assert_eq!(
            parse_regorus(full),
            (Some(("bad.rego".into(), 3, 19)), "unexpected token".into())
        );
        let one = "p.rego:4:2: error: var x is unsafe";
        assert_eq!(
            parse_regorus(one),
            (Some(("p.rego".into(), 4, 2)), "var x is unsafe".into())
        );
        assert_eq!(parse_regorus("boom").1, "boom");
    }
}
