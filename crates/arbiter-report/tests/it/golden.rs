//! Golden files: every format of every hand-built verdict, compared byte for
//! byte with `tests/golden/<verdict>.<ext>`.
//!
//! Refresh after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p arbiter-report --test it golden::`, then review
//! the diff of `tests/golden/` like any other change.

use crate::common;

use arbiter_report::{render, Format};

#[test]
fn every_format_of_every_verdict_matches_its_golden_file() {
    let opts = common::golden_options();
    let golden = common::golden("golden");
    let mut failures = Vec::new();
    for (name, verdict) in common::all() {
        for format in Format::ALL {
            let mut out = render(&verdict, format, &opts);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            let file = format!("{name}.{}", format.extension());
            if let Err(e) = golden.check(&file, &out) {
                failures.push(e);
            }
        }
    }
    // `assert!` rather than returning `Err`, so the report prints readably.
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The cost breakdown of `arbiter cost` in each of its formats.
#[test]
fn every_cost_format_matches_its_golden_file() {
    use arbiter_report::{render_cost, CostFormat};
    let golden = common::golden("golden");
    let mut failures = Vec::new();
    for format in CostFormat::ALL {
        let mut out = render_cost(&common::ledger_cost(), format, Some("infra/prod/plan.json"));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        let file = format!("cost_ledger.{}", format.extension());
        if let Err(e) = golden.check(&file, &out) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
