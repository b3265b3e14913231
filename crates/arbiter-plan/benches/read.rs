//! `cargo bench -p arbiter-plan`: time to check, decode and parse a generated
//! 10,000-change plan (copying its values, and sharing the text as
//! `arbiter evaluate` does), and to diff its updates (best of 5).
//!
//! The plan comes from `ARBITER_BENCH_PLAN`, or `bench/out/plan-10000.json`
//! (made by `python3 bench/gen_plan.py 10000 bench/out/plan-10000.json`).

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = std::env::var("ARBITER_BENCH_PLAN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("bench/out/plan-10000.json"));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "{}: {e}; generate it with bench/gen_plan.py",
                path.display()
            );
            std::process::exit(1);
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(_) => std::process::exit(1),
    };
    let mut best_depth = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let _ = arbiter_plan::read::check_depth(text);
        best_depth = best_depth.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("check_depth: {best_depth:.1} ms");
    let mut best_read = f64::MAX;
    let mut best_diff = f64::MAX;
    let mut changes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let plan = match arbiter_plan::read_plan(&bytes) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        best_read = best_read.min(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        for rc in &plan.resource_changes {
            if rc.action == arbiter_plan::Action::Update {
                changes += arbiter_plan::attribute_changes(&rc.change).len();
            }
        }
        best_diff = best_diff.min(t.elapsed().as_secs_f64() * 1e3);
        std::mem::forget(plan);
    }
    println!(
        "plan: {} ({:.1} MB)",
        path.display(),
        bytes.len() as f64 / 1e6
    );
    println!("read_plan: {best_read:.1} ms");
    // What `arbiter evaluate` does: the values stay slices of the shared text.
    let shared = std::sync::Arc::new(text.to_string());
    let mut best_shared = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        match arbiter_plan::read_plan_shared(&shared) {
            Ok(plan) => std::mem::forget(plan),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        best_shared = best_shared.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("read_plan_shared: {best_shared:.1} ms");
    println!(
        "attribute_changes of all updates: {best_diff:.1} ms ({} attribute changes)",
        changes / 5
    );
}
