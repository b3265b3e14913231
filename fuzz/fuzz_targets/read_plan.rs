//! Bytes → `read_plan`, then everything that takes a read plan as it is:
//! the attribute diff of every change, configuration addresses, the
//! sensitive-value collector and the dependency graph. Any panic, overflow
//! or sanitizer report is a bug: the reader promises errors, never crashes.

#![no_main]

use arbiter_plan::sensitive::sensitive_strings;
use arbiter_plan::{attribute_changes, read_plan, DependencyGraph};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = read_plan(data) else {
        return;
    };
    for rc in plan.resource_changes.iter().chain(&plan.resource_drift) {
        let _ = attribute_changes(&rc.change);
        let _ = rc.config_address();
    }
    let _ = sensitive_strings(&plan);
    if let Some(configuration) = &plan.configuration {
        let _ = DependencyGraph::from_configuration(configuration);
    }
});
