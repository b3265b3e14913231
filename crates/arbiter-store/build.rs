//! Embeds every `migrations/NNNN_name.sql` file, in order, so that adding a
//! migration is adding a file.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = std::path::Path::new("migrations");
    let mut files: Vec<(i64, String, String)> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            println!("cargo:warning=cannot read migrations: {e}");
            std::process::exit(1);
        }
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let Some((num, desc)) = stem.split_once('_') else {
            println!("cargo:warning=migration {name} must be named NNNN_description.sql");
            std::process::exit(1);
        };
        let Ok(version) = num.parse::<i64>() else {
            println!("cargo:warning=migration {name} must start with a number");
            std::process::exit(1);
        };
        if files.iter().any(|(v, _, _)| *v == version) {
            println!("cargo:warning=two migrations have the number {version}");
            std::process::exit(1);
        }
        files.push((version, desc.replace('_', " "), name));
    }
    files.sort();
    let mut out = String::from("&[\n");
    for (v, d, p) in &files {
        // Relative to the crate that includes the list, not an absolute
        // path: the same build output then serves every checkout that
        // shares a build directory.
        let _ = writeln!(
            out,
            "    ({v}, {d:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations/{p}\"))),"
        );
    }
    out.push_str("]\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("migrations.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=writing {}: {e}", dest.display());
        std::process::exit(1);
    }
}
