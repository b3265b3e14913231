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

/// The stack file shown in README.md is valid and names real rule IDs.
#[test]
fn readme_stack_example_is_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml block in README.md") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.toml");
    std::fs::write(&stack, &readme[start..end]).unwrap();
    let plan = root.join("tests/scenarios/tags-only-update.plan.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args([
            "evaluate",
            plan.to_str().unwrap(),
            "--stack",
            stack.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(1),
        "README stack example rejected: {stderr}"
    );
}
