//! `cargo bench -p arbiter-policy`: where the rule pack spends its time on a
//! generated 10,000-change plan (single thread): building the Rego input,
//! and each rule's evaluation. Prints the best of 5 runs.
//!
//! The plan comes from `ARBITER_BENCH_PLAN`, or is generated with
//! `python3 bench/gen_plan.py 10000 bench/out/plan-10000.json`.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = std::env::var("ARBITER_BENCH_PLAN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("bench/out/plan-10000.json"));
    if !path.exists() {
        let _ = std::fs::create_dir_all(root.join("bench/out"));
        let ok = std::process::Command::new("python3")
            .arg(root.join("bench/gen_plan.py"))
            .arg("10000")
            .arg(&path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!(
                "cannot generate {} (needs python3); set ARBITER_BENCH_PLAN",
                path.display()
            );
            std::process::exit(1);
        }
    }
    let plan = match arbiter_plan::read_plan_file(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let t = std::time::Instant::now();
    let pack = match arbiter_policy::RulePack::builtin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!(
        "compile rule pack ({} rules): {:.1} ms",
        pack.rules().len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let stack = serde_json::json!({"name": "bench", "environment": "prod", "labels": []});
    let mut best: Option<(f64, Vec<(String, f64)>)> = None;
    for _ in 0..5 {
        match pack.profile(&plan, &stack) {
            Ok((build, rules)) => {
                let total = build + rules.iter().map(|r| r.1).sum::<f64>();
                let best_total = best
                    .as_ref()
                    .map(|(b, r)| b + r.iter().map(|x| x.1).sum::<f64>());
                if best_total.is_none_or(|bt| total < bt) {
                    best = Some((build, rules));
                }
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    if let Some((build, rules)) = best {
        let eval: f64 = rules.iter().map(|r| r.1).sum();
        println!(
            "plan: {} ({} changes)",
            path.display(),
            plan.resource_changes.len()
        );
        println!("build Rego input (after side, 1 thread): {build:.1} ms");
        println!("evaluate {} rules (1 thread): {eval:.1} ms", rules.len());
        println!("slowest rules:");
        for (id, ms) in rules.iter().take(12) {
            println!("  {id:<22} {ms:>7.2} ms");
        }
    }
}
