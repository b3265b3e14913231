//! Golden files: a test's output compared byte for byte with a checked-in
//! file, refreshed on request.
//!
//! - `UPDATE_GOLDEN=1` (any value but empty or `0`): the file is (re)written
//!   and the check passes.
//! - A missing file is written and the check passes, so a new case needs no
//!   extra step.
//! - Under CI (`CI` set) nothing is written: a missing file, or
//!   `UPDATE_GOLDEN` itself, is an error, so a golden cannot change or
//!   appear unreviewed.
//! - Otherwise the check passes only on an exact match. On a mismatch the
//!   output is written beside the golden as `<name>.actual` (for a diff
//!   tool) and the error names the file, the first differing line, and the
//!   command that refreshes it.
//!
//! ```no_run
//! use arbiter_testkit::golden::Golden;
//! let golden = Golden::new(
//!     concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
//!     "cargo test -p my-crate --test golden",
//! );
//! let mut failures = Vec::new();
//! for (name, output) in [("a.txt", "one\n"), ("b.txt", "two\n")] {
//!     if let Err(e) = golden.check(name, output) {
//!         failures.push(e);
//!     }
//! }
//! assert!(failures.is_empty(), "{}", failures.join("\n\n"));
//! ```

use std::path::{Path, PathBuf};

/// Suffix of the file a mismatching output is written to, beside its golden.
pub const ACTUAL_SUFFIX: &str = ".actual";

/// A directory of golden files and the test command that refreshes them.
#[derive(Debug, Clone)]
pub struct Golden {
    dir: PathBuf,
    refresh: String,
}

impl Golden {
    /// Golden files in `dir`, refreshed by `UPDATE_GOLDEN=1 <refresh>`
    /// (`refresh` is the test command, e.g. `cargo test -p arbiter-report
    /// --test golden`).
    pub fn new(dir: impl Into<PathBuf>, refresh: impl Into<String>) -> Golden {
        Golden {
            dir: dir.into(),
            refresh: refresh.into(),
        }
    }

    /// The directory of the golden files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The command line that refreshes the golden files.
    pub fn refresh_command(&self) -> String {
        format!("UPDATE_GOLDEN=1 {}", self.refresh)
    }

    /// Compares `actual` with the golden file `name` (relative to the
    /// directory), or writes it (see the module documentation).
    pub fn check(&self, name: &str, actual: &str) -> Result<(), String> {
        self.check_with(name, actual, update_requested(), under_ci())
    }

    fn check_with(&self, name: &str, actual: &str, update: bool, ci: bool) -> Result<(), String> {
        let path = self.dir.join(name);
        if update || !path.exists() {
            if ci {
                return Err(if update {
                    format!(
                        "{}: UPDATE_GOLDEN is set under CI, where golden files are not written; run `{}` locally and commit the result",
                        path.display(),
                        self.refresh_command()
                    )
                } else {
                    format!(
                        "golden file {} is missing; generate it with `{}` and commit it",
                        path.display(),
                        self.refresh_command()
                    )
                });
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
            std::fs::write(&path, actual)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            eprintln!("wrote golden file {}", path.display());
            return Ok(());
        }
        let expected = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let actual_path = actual_path(&path);
        if expected == actual {
            let _ = std::fs::remove_file(&actual_path);
            return Ok(());
        }
        let written = match std::fs::write(&actual_path, actual) {
            Ok(()) => format!("actual output written to {}; ", actual_path.display()),
            Err(_) => String::new(),
        };
        Err(format!(
            "{} differs from its golden file at {}\n({written}accept it with `{}`)",
            path.display(),
            first_difference(&expected, actual),
            self.refresh_command()
        ))
    }
}

/// Whether `UPDATE_GOLDEN` asks for golden files to be rewritten (set, not
/// empty, not `0`).
pub fn update_requested() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether the tests run under CI (`CI` set), where nothing is written.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Whether `file_name` is the output of a mismatch rather than a golden.
pub fn is_actual_output(file_name: &str) -> bool {
    file_name.ends_with(ACTUAL_SUFFIX)
}

fn actual_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ACTUAL_SUFFIX);
    PathBuf::from(s)
}

/// The first line where the two texts differ, both sides shown.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut e = expected.lines();
    let mut a = actual.lines();
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (None, None) => {
                // Same lines, different bytes: line endings or the final newline.
                return format!(
                    "the end: the lines match but the line endings or the final newline differ ({} bytes expected, {} actual)",
                    expected.len(),
                    actual.len()
                );
            }
            (x, y) => {
                return format!(
                    "line {line}:\n  expected: {}\n  actual:   {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn scratch(tag: &str) -> Golden {
        let dir = std::env::temp_dir().join(format!(
            "arbiter-testkit-golden-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Golden::new(dir, "cargo test -p x --test golden")
    }

    #[test]
    fn a_missing_file_is_written_then_compared() {
        let g = scratch("missing");
        g.check_with("a.txt", "one\ntwo\n", false, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(g.dir().join("a.txt")).unwrap(),
            "one\ntwo\n"
        );
        g.check_with("a.txt", "one\ntwo\n", false, false).unwrap();
        let err = g
            .check_with("a.txt", "one\nthree\n", false, false)
            .unwrap_err();
        assert!(
            err.contains("a.txt differs from its golden file at line 2"),
            "{err}"
        );
        assert!(
            err.contains("expected: two") && err.contains("actual:   three"),
            "{err}"
        );
        assert!(
            err.contains("`UPDATE_GOLDEN=1 cargo test -p x --test golden`"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(g.dir().join("a.txt.actual")).unwrap(),
            "one\nthree\n"
        );
        // The golden is untouched by a mismatch; a match removes the .actual.
        g.check_with("a.txt", "one\ntwo\n", false, false).unwrap();
        assert!(!g.dir().join("a.txt.actual").exists());
        let _ = std::fs::remove_dir_all(g.dir());
    }

    #[test]
    fn update_rewrites_and_ci_never_writes() {
        let g = scratch("ci");
        let err = g.check_with("b.txt", "x\n", false, true).unwrap_err();
        assert!(
            err.contains("is missing") && err.contains("UPDATE_GOLDEN=1"),
            "{err}"
        );
        assert!(!g.dir().join("b.txt").exists());
        g.check_with("b.txt", "x\n", true, false).unwrap();
        g.check_with("b.txt", "y\n", true, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(g.dir().join("b.txt")).unwrap(),
            "y\n"
        );
        let err = g.check_with("b.txt", "z\n", true, true).unwrap_err();
        assert!(err.contains("under CI"), "{err}");
        assert_eq!(
            std::fs::read_to_string(g.dir().join("b.txt")).unwrap(),
            "y\n"
        );
        let _ = std::fs::remove_dir_all(g.dir());
    }

    #[test]
    fn a_difference_only_in_the_final_newline_is_named() {
        assert!(first_difference("a\n", "a").contains("final newline"));
        assert!(first_difference("a\nb\n", "a\n").starts_with("line 2"));
        assert!(is_actual_output("x.txt.actual") && !is_actual_output("x.txt"));
    }
}
