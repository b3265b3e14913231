//! Embeds the built-in rule pack (`rules/**/*.rego`) into the binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rego") {
            out.push(p);
        }
    }
}

/// Extracts the `metadata := { … }` object literal of a rule and turns it into
/// JSON (Rego object literals of the pack are JSON but for trailing commas).
/// `None` when absent or not plain JSON; the rule's metadata is then
/// evaluated at run time instead.
fn metadata_json(text: &str) -> Option<String> {
    let start = text.find("\nmetadata := {")? + "\nmetadata := ".len();
    let bytes = text.as_bytes();
    let (mut depth, mut in_str, mut esc, mut end) = (0i32, false, false, None);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            b'#' => return None, // comments inside: let the runtime evaluate it
            _ => {}
        }
    }
    let literal = &text[start..end?];
    // Remove trailing commas outside strings.
    let mut out = String::with_capacity(literal.len());
    let chars: Vec<char> = literal.chars().collect();
    let (mut in_str, mut esc) = (false, false);
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    let value: serde_json::Value = serde_json::from_str(&out).ok()?;
    value.is_object().then(|| value.to_string())
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("rules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    let mut src = String::from("/// Built-in rule pack files: (path relative to rules/, contents, metadata as JSON if extractable).\npub static BUILTIN_FILES: &[(&str, &str, Option<&str>)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let meta = match metadata_json(&text) {
            Some(m) => format!("Some({m:?})"),
            None => "None".to_string(),
        };
        let _ = writeln!(
            src,
            "    ({rel:?}, include_str!({:?}), {meta}),",
            f.display().to_string()
        );
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_rules.rs");
    if let Err(e) = std::fs::write(&out, src) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
