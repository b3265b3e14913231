#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Golden files: the cost breakdown of every plan among the repository's
//! fixtures (`tests/fixtures/terraform`) and scenarios (`tests/scenarios`,
//! `tests/scenarios-extra`), compared with `tests/golden/<name>.txt`.
//!
//! Refresh after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p arbiter-cost --test it golden::` and review the
//! diff of `tests/golden/` like any other change. A missing golden file is
//! written on first run (an error under CI).

use arbiter_cost::CostEngine;
use arbiter_testkit::golden::{is_actual_output, Golden};
use arbiter_verdict::{CostComponent, CostSummary};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/golden`, refreshed by `UPDATE_GOLDEN=1 cargo test -p arbiter-cost --test it golden::`.
fn golden() -> Golden {
    Golden::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
        "cargo test -p arbiter-cost --test it golden::",
    )
}

/// Every plan file to price: `(golden name, path)`.
fn plans() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let root = workspace();
    for dir in ["tests/scenarios", "tests/scenarios-extra"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".plan.json") {
                let prefix = dir.trim_start_matches("tests/");
                out.push((format!("{prefix}--{stem}"), p));
            }
        }
    }
    let fixtures = root.join("tests/fixtures/terraform");
    for e in std::fs::read_dir(fixtures.join("plans")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.push((format!("fixtures--{}", name.trim_end_matches(".json")), p));
    }
    for e in std::fs::read_dir(fixtures.join("generated")).unwrap() {
        let d = e.unwrap().path();
        for f in std::fs::read_dir(&d).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("plan") && name.ends_with(".json") {
                let group = d.file_name().unwrap().to_string_lossy().to_string();
                out.push((
                    format!("generated--{group}--{}", name.trim_end_matches(".json")),
                    p,
                ));
            }
        }
    }
    out.sort();
    out
}

fn component(out: &mut String, c: &CostComponent) {
    let _ = writeln!(
        out,
        "    {}: {} {} × ${} = ${:.4}{}",
        c.name,
        c.quantity,
        c.unit,
        c.unit_price_usd,
        c.monthly_usd,
        c.assumption
            .as_deref()
            .map(|a| format!("  [assumed: {a}]"))
            .unwrap_or_default()
    );
}

/// A compact, deterministic rendering for review in diffs.
fn render(c: &CostSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "region {}; monthly ${:.2} -> ${:.2} (delta ${:.2})",
        c.region.as_deref().unwrap_or("-"),
        c.monthly_before_usd,
        c.monthly_after_usd,
        c.monthly_delta_usd
    );
    let k = &c.counts;
    let _ = writeln!(
        out,
        "priced {}, free {}, unpriced {}, assumed components {}",
        k.priced, k.free, k.unpriced, k.assumed_components
    );
    if let Some(n) = &c.note {
        let _ = writeln!(out, "note: {n}");
    }
    for r in &c.resources {
        let _ = writeln!(
            out,
            "{} {} [{}] ${:.4} -> ${:.4}{}",
            r.action,
            r.address,
            r.region,
            r.monthly_before_usd,
            r.monthly_after_usd,
            if r.classes.is_empty() {
                String::new()
            } else {
                format!(
                    " classes={}",
                    r.classes
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        );
        if !r.before.is_empty() && r.before != r.after {
            let _ = writeln!(out, "  before:");
            for comp in &r.before {
                component(&mut out, comp);
            }
        }
        if !r.after.is_empty() {
            let _ = writeln!(out, "  after:");
            for comp in &r.after {
                component(&mut out, comp);
            }
        }
    }
    for u in &c.unpriced {
        let _ = writeln!(
            out,
            "unpriced {} {} ({}): {}",
            u.action, u.address, u.kind, u.reason
        );
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

#[test]
fn the_cost_of_every_fixture_and_scenario_matches_its_golden_file() {
    let engine = CostEngine::embedded();
    let golden = golden();
    let mut failures = Vec::new();
    let mut priced_plans = 0;
    for (name, path) in plans() {
        let text = match arbiter_plan::read_plan_file(&path) {
            Ok(plan) => {
                let c = engine.estimate(&plan, None);
                if c.counts.priced > 0 {
                    priced_plans += 1;
                }
                render(&c)
            }
            // States and the deliberately corrupted file are not plans.
            Err(e) => format!(
                "not a plan: {}\n",
                e.to_string().lines().next().unwrap_or("")
            ),
        };
        if let Err(e) = golden.check(&format!("{name}.txt"), &text) {
            failures.push(e);
        }
    }
    assert!(
        priced_plans >= 10,
        "only {priced_plans} plans had priced resources"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_golden_file_belongs_to_a_plan() {
    let names: std::collections::BTreeSet<String> = plans()
        .into_iter()
        .map(|(n, _)| format!("{n}.txt"))
        .collect();
    for e in std::fs::read_dir(golden().dir()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_string();
        if is_actual_output(&n) {
            continue; // a mismatch's output, beside its golden
        }
        assert!(names.contains(&n), "stale golden file {n}: remove it");
    }
}
