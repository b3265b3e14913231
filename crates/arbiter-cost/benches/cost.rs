//! `cargo bench -p arbiter-cost`: the two figures issue #3 sets targets for.
//!
//! 1. Loading the embedded catalogue (target ≤ 10 ms): the tables are static,
//!    so this is building a `CostEngine` and the first lookups.
//! 2. Costing a 10,000-change plan (target ≤ 50 ms added to `arbiter
//!    evaluate`): `CostEngine::estimate` plus the cost critic and the trim the
//!    judge applies, on the plan `bench/gen_plan.py 10000` writes (the one
//!    `bench/evaluate.sh` uses), read beforehand.
//!
//! Prints min and median over the runs; `BENCH_RUNS` sets the run count
//! (default 20). Needs python3 for the plan (skips that part without it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_cost::{Catalogue, CostEngine};
use std::path::Path;
use std::time::Instant;

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[0], ms[ms.len() / 2])
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    // 1. Catalogue load.
    let mut load = Vec::new();
    for _ in 0..runs.max(100) {
        let t = Instant::now();
        let engine = CostEngine::embedded();
        let c = engine.catalogue();
        let hit = c
            .lookup("us-east-1", "aws_instance", "instance_hours", "m5.large")
            .is_some()
            && Catalogue::instance_spec("p4d.24xlarge").is_some()
            && Catalogue::free_entry("aws_iam_role").is_some();
        load.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(hit);
    }
    let (min, med) = stats(load);
    println!(
        "catalogue load ({} prices, embedded): min {min:.4} ms, median {med:.4} ms  (target ≤ 10 ms)",
        Catalogue::embedded().len()
    );

    // 2. A 10,000-change plan.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("arbiter-cost-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan_path = dir.join("plan-10k.json");
    let ok = std::process::Command::new("python3")
        .arg(root.join("bench/gen_plan.py"))
        .arg("10000")
        .arg(&plan_path)
        .arg("--seed")
        .arg("7")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("10k-change plan: SKIPPED (python3 bench/gen_plan.py failed)");
        return;
    }
    let plan = arbiter_plan::read_plan_file(&plan_path).unwrap();
    let engine = CostEngine::embedded();
    let graph = plan
        .configuration
        .as_ref()
        .map(arbiter_plan::DependencyGraph::from_configuration)
        .unwrap_or_default();
    let stack = arbiter_critics::StackContext {
        name: None,
        environment: Some(arbiter_critics::Environment::Prod),
        labels: Vec::new(),
        monthly_budget_usd: Some(20_000.0),
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let mut summary = engine.estimate(&plan, Some(&graph));
        let ctx = arbiter_critics::ReviewContext {
            plan: &plan,
            graph: &graph,
            stack: &stack,
            rule_findings: &[],
            policy_findings: &[],
            cost: &summary,
        };
        let review = arbiter_critics::Critic::review(&arbiter_critics::CostCritic, &ctx);
        summary.truncate(25);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some((summary, review.risk));
    }
    let (min, med) = stats(times);
    let (s, risk) = last.unwrap();
    println!(
        "cost of a {}-change plan ({:.1} MB): min {min:.1} ms, median {med:.1} ms  (target ≤ 50 ms); {} priced, {} free, {} unpriced; ${:.0} → ${:.0}/month; cost risk {risk:.3}",
        plan.resource_changes.len(),
        std::fs::metadata(&plan_path).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0),
        s.counts.priced,
        s.counts.free,
        s.counts.unpriced,
        s.monthly_before_usd,
        s.monthly_after_usd
    );
    let _ = std::fs::remove_dir_all(&dir);
}
