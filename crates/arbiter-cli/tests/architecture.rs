//! ARCHITECTURE.md's code map must name exactly the crates that exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn code_map_names_exactly_the_crates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mapped: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `crates/"))
        .map(|l| l.trim_end_matches('`').to_string())
        .collect();
    let existing: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(mapped, existing, "update the code map in ARCHITECTURE.md");
}
