#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Reads every file under `tests/fixtures/terraform` (real `terraform show
//! -json` output: upstream plans from checkov's test suite and plans/states
//! generated here with Terraform 1.11, see PROVENANCE.md) and checks concrete
//! facts about each one.
//!
//! The table in [`fixtures`] lists every fixture and what to assert about it;
//! `table_covers_every_fixture_file` fails when a data file is added without a
//! row, so new fixtures always get tests. Tests that document a library bug
//! are `#[ignore = "BUG: ..."]`; run them with `cargo test -- --ignored`.

use arbiter_plan::{
    attribute_changes, read_plan, read_plan_file, read_state, read_state_file, Action,
    DependencyGraph, InstanceKey, NotPlanJson, Plan, PlanError, ResourceChange, ResourceMode,
    State, StateForm,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The fixture tree, relative to this crate.
const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/terraform"
);

fn root() -> PathBuf {
    PathBuf::from(ROOT)
}

fn bytes(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("reading fixture {rel}: {e}"))
}

fn plan(rel: &str) -> Plan {
    read_plan(&bytes(rel)).unwrap_or_else(|e| panic!("{rel}: read_plan failed: {e}"))
}

fn state(rel: &str) -> State {
    read_state(&bytes(rel)).unwrap_or_else(|e| panic!("{rel}: read_state failed: {e}"))
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/// What a fixture file is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `terraform show -json PLANFILE`.
    Plan,
    /// Raw `terraform.tfstate` (version 4).
    RawState,
    /// `terraform show -json` of a state (no plan file).
    ShowState,
    /// Not plan JSON: something given by mistake, which the reader must
    /// name (and say how to make plan JSON).
    NotPlan(NotPlanJson),
}

impl Kind {
    fn is_state(self) -> bool {
        matches!(self, Kind::RawState | Kind::ShowState)
    }
}

/// One row: a fixture and what must hold for it.
struct Fixture {
    path: &'static str,
    kind: Kind,
    /// Starts with a UTF-16 LE byte-order mark.
    utf16: bool,
    /// `(format_version, terraform_version)` as written in the file.
    versions: Option<(Option<&'static str>, Option<&'static str>)>,
    /// Number of resource changes and how many of each action kind
    /// ([`Action::kind`]); every plan row must say.
    changes: Option<(usize, &'static [(&'static str, usize)])>,
    /// Number of `resource_drift` entries.
    drift: usize,
    /// Number of `output_changes`.
    outputs: usize,
    /// Number of reader warnings.
    warnings: usize,
    /// Number of resource instances (states).
    resources: usize,
    /// Fixture-specific facts.
    plan_check: Option<fn(&Plan)>,
    state_check: Option<fn(&State)>,
}

impl Fixture {
    fn new(path: &'static str, kind: Kind) -> Fixture {
        Fixture {
            path,
            kind,
            utf16: false,
            versions: None,
            changes: None,
            drift: 0,
            outputs: 0,
            warnings: 0,
            resources: 0,
            plan_check: None,
            state_check: None,
        }
    }
    fn plan(path: &'static str) -> Fixture {
        Fixture::new(path, Kind::Plan)
    }
    fn raw_state(path: &'static str, resources: usize) -> Fixture {
        Fixture {
            resources,
            ..Fixture::new(path, Kind::RawState)
        }
    }
    fn show_state(path: &'static str, resources: usize) -> Fixture {
        Fixture {
            resources,
            ..Fixture::new(path, Kind::ShowState)
        }
    }
    fn not_plan(path: &'static str, kind: NotPlanJson) -> Fixture {
        Fixture::new(path, Kind::NotPlan(kind))
    }
    fn utf16(mut self) -> Self {
        self.utf16 = true;
        self
    }
    fn versions(mut self, format: Option<&'static str>, terraform: Option<&'static str>) -> Self {
        self.versions = Some((format, terraform));
        self
    }
    fn changes(mut self, n: usize, actions: &'static [(&'static str, usize)]) -> Self {
        self.changes = Some((n, actions));
        self
    }
    fn drift(mut self, n: usize) -> Self {
        self.drift = n;
        self
    }
    fn outputs(mut self, n: usize) -> Self {
        self.outputs = n;
        self
    }
    fn warnings(mut self, n: usize) -> Self {
        self.warnings = n;
        self
    }
    fn check(mut self, f: fn(&Plan)) -> Self {
        self.plan_check = Some(f);
        self
    }
    fn state_check(mut self, f: fn(&State)) -> Self {
        self.state_check = Some(f);
        self
    }
}

/// Every fixture file and what to assert about it.
fn fixtures() -> Vec<Fixture> {
    vec![
        // ---- generated here with Terraform 1.11.4 (see generate.sh) ----
        Fixture::plan("generated/modules-lifecycle/plan-create.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(9, &[("create", 9)])
            .outputs(2)
            .check(checks::modules_lifecycle_create),
        Fixture::plan("generated/modules-lifecycle/plan-noop.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(9, &[("no-op", 9)])
            .outputs(2)
            .check(checks::modules_lifecycle_noop),
        Fixture::plan("generated/modules-lifecycle/plan-update-replace-delete.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(
                11,
                &[("create", 2), ("update", 2), ("delete", 1), ("replace", 2), ("no-op", 4)],
            )
            .outputs(2)
            .check(checks::modules_lifecycle_update),
        Fixture::plan("generated/modules-lifecycle/plan-destroy.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(9, &[("delete", 9)])
            .outputs(2)
            .check(checks::modules_lifecycle_destroy),
        Fixture::raw_state("generated/modules-lifecycle/state-v1.tfstate", 9)
            .state_check(checks::modules_lifecycle_state),
        Fixture::show_state("generated/modules-lifecycle/state-v1.show.json", 9)
            .state_check(checks::modules_lifecycle_state),
        Fixture::plan("generated/moved-forget-check/plan-moved-forget-check.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(3, &[("no-op", 2), ("forget", 1)])
            .check(checks::moved_forget),
        Fixture::plan("generated/nested-modules/plan-create.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(16, &[("create", 16)])
            .outputs(3)
            .check(checks::nested_create),
        Fixture::plan("generated/nested-modules/plan-update.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(
                21,
                &[("create", 5), ("update", 8), ("delete", 1), ("replace", 3), ("no-op", 4)],
            )
            .outputs(3)
            .check(checks::nested_update),
        Fixture::plan("generated/nested-modules/plan-destroy.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(16, &[("delete", 16)])
            .outputs(3)
            .check(checks::nested_destroy),
        Fixture::raw_state("generated/nested-modules/state.tfstate", 16)
            .state_check(checks::nested_state),
        Fixture::show_state("generated/nested-modules/state.show.json", 16)
            .state_check(checks::nested_state),
        // Two states of one stack (setup/main.tf applied, then main.tf):
        // the state history's diff and rollback fixtures.
        Fixture::raw_state("generated/state-history/state-v1.tfstate", 11)
            .state_check(checks::state_history_v1),
        Fixture::show_state("generated/state-history/state-v1.show.json", 11)
            .state_check(checks::state_history_v1),
        Fixture::raw_state("generated/state-history/state-v2.tfstate", 14)
            .state_check(checks::state_history_v2),
        Fixture::show_state("generated/state-history/state-v2.show.json", 14)
            .state_check(checks::state_history_v2),
        // Refresh-only plans have no resource_changes key and an empty
        // planned_values: nothing to do, one warning.
        Fixture::plan("generated/refresh-only-drift/plan-refresh-only-clean.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(0, &[])
            .warnings(1),
        Fixture::plan("generated/refresh-only-drift/plan-refresh-only-moved.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(0, &[])
            .drift(3)
            .warnings(1)
            .check(checks::refresh_only_moved),
        Fixture::plan("generated/refresh-only-drift/plan-moved.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(3, &[("no-op", 3)])
            .check(checks::moved_instance_keys),
        Fixture::plan("generated/import-taint-remove/plan-import-taint-remove.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(4, &[("no-op", 1), ("update", 1), ("delete", 1), ("replace", 1)])
            .check(checks::import_taint_remove),
        Fixture::not_plan("generated/not-plans/tfplan", NotPlanJson::BinaryPlan),
        Fixture::not_plan("generated/not-plans/plan-log.jsonl", NotPlanJson::PlanLog),
        Fixture::not_plan("generated/not-plans/plan-output.txt", NotPlanJson::PlanOutput),
        Fixture::not_plan("generated/not-plans/terraform.tfvars", NotPlanJson::Variables),
        // ---- upstream: bridgecrewio/checkov test data (Apache-2.0) ----
        Fixture::plan("plans/checkov--cloudformation--parser--tfplan.json")
            .versions(Some("0.1"), Some("0.12.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--common--runner_registry--plan_module_skip_for_enrichment--tf--tfplan.json")
            .versions(Some("0.1"), Some("0.15.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--common--runner_registry--plan_with_external_tf_modules_for_enrichment--tfplan.json")
            .versions(Some("0.1"), Some("0.15.1"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--common--runner_registry--plan_with_for_each_for_enrichment--tf_plan.json")
            .versions(Some("1.2"), Some("1.9.5"))
            .changes(5, &[("create", 5)])
            .check(checks::for_each_keys),
        Fixture::plan("plans/checkov--common--runner_registry--plan_with_hcl_for_enrichment--tfplan.json")
            .versions(Some("0.1"), Some("0.13.6"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--common--runner_registry--plan_with_tf_modules_for_enrichment--tfplan.json")
            .versions(Some("0.1"), Some("0.15.1"))
            .changes(2, &[("create", 2)]),
        Fixture::plan("plans/checkov--terraform--checks--data--aws--example_GithubActionsOIDCTrustPolicy--tfplan.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(9, &[("create", 5), ("read", 4)]),
        Fixture::plan("plans/checkov--terraform--checks--resource--aws--example_SecretManagerSecretEncrypted--tfplan.json")
            .versions(Some("0.2"), Some("1.0.11"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--graph--modules_edges_tfplan--tfplan.json")
            .versions(Some("0.2"), Some("1.0.7"))
            .changes(4, &[("create", 4)])
            .check(checks::modules_edges_graph),
        Fixture::plan("plans/checkov--terraform--image_referencer--aws--apprunner_tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--image_referencer--aws--batch_tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--image_referencer--aws--codebuild_tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--image_referencer--aws--ecs_tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--image_referencer--aws--lightsail_tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(2, &[("create", 2)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_after_unknown--tfplan.json")
            .versions(Some("1.0"), Some("1.1.3"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_batch_job_null_container_properties--tfplan.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_booleans--tfplan.json")
            .versions(Some("1.0"), Some("1.1.3"))
            .changes(2, &[("create", 2)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_encodings--tfplan_mac_utf8.json")
            .versions(Some("0.1"), Some("0.15.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_encodings--tfplan_win_utf16.json")
            .utf16()
            .versions(Some("1.1"), Some("1.2.2"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_encodings--tfplan_win_utf8.json")
            .versions(Some("1.1"), Some("1.2.2"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_module_with_connected_resources--tfplan.json")
            .versions(Some("0.2"), Some("1.0.7"))
            .changes(2, &[("create", 2)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_multiple_providers--tfplan.json")
            .versions(Some("1.2"), Some("1.10.5"))
            .changes(0, &[])
            .warnings(1),
        Fixture::plan("plans/checkov--terraform--parser--plan_provisioners--tfplan.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_provisioners--tfplan2.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_tags--tfplan.json")
            .versions(Some("0.1"), Some("0.12.23"))
            .changes(55, &[("create", 55)])
            .outputs(10)
            .check(checks::plan_tags_outputs),
        Fixture::plan("plans/checkov--terraform--parser--plan_tags_variety--tfplan.json")
            .versions(Some("0.2"), Some("1.0.7"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--parser--plan_vpc_endpoint--tfplan.json")
            .versions(None, None)
            .changes(1, &[("create", 1)])
            .warnings(2)
            .check(checks::synthesized_from_planned_values),
        Fixture::plan("plans/checkov--terraform--runner--extra_tf_plan_checks--modules.json")
            .versions(Some("0.1"), Some("0.13.7"))
            .changes(11, &[("create", 11)]),
        Fixture::plan("plans/checkov--terraform--runner--plan--tf_plan_filtered_rule_fail.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(1, &[("update", 1)])
            .check(checks::filtered_rule_fail),
        Fixture::plan("plans/checkov--terraform--runner--plan--tf_plan_filtered_rule_success.json")
            .versions(Some("1.2"), Some("1.5.7"))
            .changes(1, &[("update", 1)]),
        Fixture::plan("plans/checkov--terraform--runner--plan--tfplan.json")
            .versions(Some("0.1"), Some("0.12.23"))
            .changes(55, &[("create", 55)])
            .outputs(10),
        Fixture::plan("plans/checkov--terraform--runner--plan_and_tf_combine_graph--tfplan.json")
            .versions(Some("1.1"), Some("1.2.7"))
            .changes(4, &[("create", 4)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_and_tf_combine_graph_with_missing_resources--tfplan.json")
            .versions(Some("1.1"), Some("1.2.7"))
            .changes(4, &[("create", 4)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_change_keys--tfplan.json")
            .versions(Some("1.1"), Some("1.4.6"))
            .changes(2, &[("update", 2)])
            .check(checks::change_keys),
        Fixture::plan("plans/checkov--terraform--runner--plan_data_resource_partial_values--tfplan.json")
            .versions(Some("0.1"), Some("0.13.5"))
            .changes(2, &[("create", 1), ("read", 1)])
            .check(checks::data_source_in_nested_module),
        Fixture::plan("plans/checkov--terraform--runner--plan_nested_child_modules--tfplan.json")
            .versions(Some("0.1"), Some("0.13.4"))
            .changes(3, &[("create", 3)])
            .check(checks::nested_child_modules),
        Fixture::plan("plans/checkov--terraform--runner--plan_nested_child_modules_with_connections--tfplan.json")
            .versions(Some("1.1"), Some("1.2.4"))
            .changes(9, &[("create", 9)])
            .check(checks::nested_connections_graph),
        Fixture::plan("plans/checkov--terraform--runner--plan_resources_ids--tfplan.json")
            .versions(Some("0.1"), Some("0.13.4"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_resources_ids_with_nested_modules--tfplan.json")
            .versions(Some("0.1"), Some("0.13.4"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_root_module_resources_no_values--tfplan.json")
            .versions(Some("0.1"), Some("0.13.4"))
            .changes(2, &[("create", 1), ("read", 1)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_root_module_resources_no_values--tfplan_route53.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(4, &[("create", 4)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_child_modules--tfplan.json")
            .versions(Some("0.1"), Some("0.12.28"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_deleted_resources--tfplan.json")
            .versions(Some("1.1"), Some("1.2.4"))
            .changes(1, &[("replace", 1)])
            .check(checks::create_before_destroy_secret),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_iam_data_block--tfplan.json")
            .versions(Some("1.1"), Some("1.3.9"))
            .changes(3, &[("create", 2), ("read", 1)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_iam_policies--tfplan.json")
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(7, &[("create", 7)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_lifecycle_check--tfplan.json")
            .utf16()
            .versions(Some("1.0"), Some("1.1.5"))
            .changes(1, &[("create", 1)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_providers--tfplan.json")
            .versions(Some("1.2"), Some("1.11.4"))
            .changes(0, &[])
            .warnings(1),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_resource_reference--tfplan.json")
            .versions(Some("0.1"), Some("0.12.25"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_resource_reference--tfplan_extra_ref.json")
            .versions(Some("1.1"), Some("1.3.6"))
            .changes(4, &[("create", 4)])
            .check(checks::resource_reference_graph),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_resource_reference--tfplan_graph.json")
            .versions(Some("0.2"), Some("1.0.11"))
            .changes(2, &[("create", 2)])
            .warnings(1),
        Fixture::plan("plans/checkov--terraform--runner--plan_with_utf_16_encoding--tfplan.json")
            .utf16()
            .versions(Some("0.2"), Some("1.0.5"))
            .changes(3, &[("create", 3)]),
        Fixture::plan("plans/checkov--terraform--runner--py_graph_check_tf_plan--py_graph_check_paln.json")
            .versions(Some("0.1"), Some("0.13.7"))
            .changes(11, &[("create", 11)]),
        // Not a plan at all: a state's `show -json` form, which checkov keeps as
        // its "corrupted plan" case.
        Fixture::show_state("plans/checkov--terraform--runner--plan--corrupted-tfplan.json", 1)
            .state_check(checks::corrupted_is_a_state),
    ]
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn rc<'a>(plan: &'a Plan, address: &str) -> &'a ResourceChange {
    plan.resource_changes
        .iter()
        .find(|r| r.address == address)
        .unwrap_or_else(|| {
            let have: Vec<&str> = plan
                .resource_changes
                .iter()
                .map(|r| r.address.as_str())
                .collect();
            panic!("no resource change {address}; the plan has {have:#?}")
        })
}

/// `path: before -> after` lines of a change, values rendered as reports show them.
fn diff(rc: &ResourceChange) -> Vec<String> {
    attribute_changes(&rc.change)
        .iter()
        .map(|a| format!("{}: {} -> {}", a.path, a.before.render(), a.after.render()))
        .collect()
}

#[track_caller]
fn has_line(lines: &[String], want: &str) {
    assert!(
        lines.iter().any(|l| l == want),
        "expected the diff line {want:?} in {lines:#?}"
    );
}

fn action_counts(changes: &[ResourceChange]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for rc in changes {
        *m.entry(rc.action.kind().to_string()).or_insert(0) += 1;
    }
    m
}

fn expected_counts(actions: &[(&str, usize)]) -> BTreeMap<String, usize> {
    actions.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

fn json_of(raw: &Option<arbiter_plan::RawJson>) -> Value {
    raw.as_ref()
        .map_or(Value::Null, |r| r.value_or_null().clone())
}

/// Strings at positions `mask` marks sensitive (`marked`) and at positions it
/// does not (`unmarked`), computed here independently of the library.
fn split_by_mask(
    value: &Value,
    mask: &Value,
    sensitive: bool,
    marked: &mut BTreeSet<String>,
    unmarked: &mut BTreeSet<String>,
) {
    let sensitive = sensitive || mask == &Value::Bool(true);
    match value {
        Value::String(s) if s.chars().count() >= 4 => {
            if sensitive {
                marked.insert(s.clone());
            } else {
                unmarked.insert(s.clone());
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                let m = mask.get(k).unwrap_or(&Value::Null);
                split_by_mask(v, m, sensitive, marked, unmarked);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let m = mask.get(i).unwrap_or(&Value::Null);
                split_by_mask(v, m, sensitive, marked, unmarked);
            }
        }
        _ => {}
    }
}

fn plan_fixtures() -> Vec<Fixture> {
    fixtures()
        .into_iter()
        .filter(|f| f.kind == Kind::Plan)
        .collect()
}

/// Runs `f` on every row, catching failures so that one report lists them all.
fn for_each_row(rows: &[Fixture], f: impl Fn(&Fixture)) {
    let mut failed = Vec::new();
    for row in rows {
        let outcome = catch_unwind(AssertUnwindSafe(|| f(row)));
        let status = if outcome.is_ok() { "PASS" } else { "FAIL" };
        eprintln!("{status}  {}", row.path);
        if outcome.is_err() {
            failed.push(row.path);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} fixtures failed (messages above): {failed:#?}",
        failed.len(),
        rows.len()
    );
}

fn graph_of(rel: &str) -> DependencyGraph {
    let p = plan(rel);
    let config = p
        .configuration
        .as_ref()
        .unwrap_or_else(|| panic!("{rel} has no configuration section"));
    DependencyGraph::from_configuration(config)
}

fn deps(g: &DependencyGraph, node: &str) -> Vec<String> {
    assert!(g.contains(node), "the graph has no node {node}");
    g.dependencies(node).map(str::to_string).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// Fixture-specific facts
// ---------------------------------------------------------------------------

mod checks {
    use super::*;

    pub fn modules_lifecycle_create(p: &Plan) {
        assert_eq!(p.sensitive_variables, vec!["db_password".to_string()]);
        let node = rc(p, r#"module.svc["api"].terraform_data.node[1]"#);
        assert_eq!(node.module_address.as_deref(), Some(r#"module.svc["api"]"#));
        assert_eq!(node.index, Some(InstanceKey::Int(1)));
        assert_eq!(node.config_address(), "module.svc.terraform_data.node");
        assert_eq!(
            (node.resource_type.as_str(), node.name.as_str()),
            ("terraform_data", "node")
        );
        assert_eq!(node.mode, ResourceMode::Managed);
        assert_eq!(
            node.provider_name.as_deref(),
            Some("terraform.io/builtin/terraform")
        );
        assert_eq!(
            rc(p, "terraform_data.legacy[0]").index,
            Some(InstanceKey::Int(0))
        );
        assert_eq!(rc(p, "terraform_data.release").index, None);
        assert_eq!(rc(p, "terraform_data.release").module_address, None);
        let cfg = diff(rc(p, r#"module.svc["worker"].terraform_data.config"#));
        has_line(&cfg, r#"input.secret: null -> "(sensitive)""#);
        has_line(&cfg, r#"id: null -> "(known after apply)""#);
        has_line(&cfg, r#"output: null -> "(known after apply)""#);
        assert!(!cfg.join("\n").contains("initial-Passw0rd"), "{cfg:#?}");
        has_line(
            &diff(rc(p, "terraform_data.release")),
            r#"triggers_replace[0]: null -> "v1""#,
        );
        let pw = &p.output_changes["password"];
        assert_eq!(pw.actions, vec!["create"]);
        assert_eq!(json_of(&pw.after_sensitive), json!(true));
        let nodes = &p.output_changes["api_nodes"];
        assert_eq!(json_of(&nodes.after_sensitive), json!(false));
        assert_eq!(json_of(&nodes.after_unknown), json!([true, true]));
    }

    pub fn modules_lifecycle_noop(p: &Plan) {
        assert_eq!(p.changing().count(), 0);
        assert!(p.resource_changes.iter().all(|r| diff(r).is_empty()));
        assert!(p
            .output_changes
            .values()
            .all(|o| o.actions == vec!["no-op"]));
    }

    pub fn modules_lifecycle_update(p: &Plan) {
        let cbd = rc(p, "terraform_data.cbd");
        assert_eq!(cbd.action, Action::CreateThenDelete);
        assert_eq!(
            cbd.action_reason.as_deref(),
            Some("replace_because_cannot_update")
        );
        assert_eq!(
            json_of(&cbd.change.replace_paths),
            json!([["triggers_replace"]])
        );
        let release = rc(p, "terraform_data.release");
        assert_eq!(release.action, Action::DeleteThenCreate);
        assert_eq!(
            release.action_reason.as_deref(),
            Some("replace_because_cannot_update")
        );
        let rd = diff(release);
        has_line(&rd, r#"input: "v1" -> "v2""#);
        has_line(&rd, r#"triggers_replace[0]: "v1" -> "v2""#);
        let legacy = rc(p, "terraform_data.legacy[0]");
        assert_eq!(legacy.action, Action::Delete);
        assert_eq!(
            legacy.action_reason.as_deref(),
            Some("delete_because_count_index")
        );
        let added = rc(p, r#"module.svc["worker"].terraform_data.node[2]"#);
        assert_eq!(
            (added.action, added.index.clone()),
            (Action::Create, Some(InstanceKey::Int(2)))
        );
        let cfg = rc(p, r#"module.svc["api"].terraform_data.config"#);
        assert_eq!(cfg.action, Action::Update);
        let lines = diff(cfg);
        has_line(&lines, r#"input.secret: "(sensitive)" -> "(sensitive)""#);
        has_line(&lines, r#"input.nodes[2]: null -> "(known after apply)""#);
        let secret_lines: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("input.secret"))
            .collect();
        assert!(
            secret_lines
                .iter()
                .all(|l| !l.contains("initial-Passw0rd") && !l.contains("rotated-Secret9")),
            "{secret_lines:#?}"
        );
        let pw = &p.output_changes["password"];
        assert_eq!(pw.actions, vec!["update"]);
        assert_eq!(json_of(&pw.before_sensitive), json!(true));
        assert_eq!(json_of(&pw.after_sensitive), json!(true));
        assert_eq!(p.variables["replicas"].value_or_null(), &json!("3"));
    }

    pub fn modules_lifecycle_destroy(p: &Plan) {
        assert!(p
            .resource_changes
            .iter()
            .all(|r| r.action == Action::Delete && r.action.destroys()));
        assert!(p
            .output_changes
            .values()
            .all(|o| o.actions == vec!["delete"]));
        let lines = diff(rc(p, r#"module.svc["api"].terraform_data.config"#));
        has_line(&lines, r#"input.secret: "(sensitive)" -> null"#);
    }

    pub fn modules_lifecycle_state(s: &State) {
        assert_eq!(s.terraform_version.as_deref(), Some("1.11.4"));
        let cfg = s
            .resources
            .iter()
            .find(|r| r.address == r#"module.svc["api"].terraform_data.config"#)
            .expect("module.svc[\"api\"].terraform_data.config in state");
        assert_eq!(cfg.module_address.as_deref(), Some(r#"module.svc["api"]"#));
        assert_eq!(
            cfg.depends_on,
            vec!["module.svc.terraform_data.node".to_string()]
        );
        let node = s
            .resources
            .iter()
            .find(|r| r.address == r#"module.svc["worker"].terraform_data.node[1]"#)
            .expect("worker node[1] in state");
        assert_eq!(node.index, Some(InstanceKey::Int(1)));
        assert_eq!(
            node.values.value_or_null()["id"].as_str().map(str::len),
            Some(36)
        );
        if s.form == StateForm::ShowJson {
            // (The raw form keeps dynamic attributes wrapped: see
            // raw_and_show_state_values_agree.)
            assert_eq!(
                node.values.value_or_null()["input"]["name"],
                json!("worker-1")
            );
        }
    }

    pub fn moved_forget(p: &Plan) {
        let moved = rc(p, "terraform_data.new_name");
        assert_eq!(
            moved.previous_address.as_deref(),
            Some("terraform_data.old_name")
        );
        assert_eq!(moved.action, Action::NoOp);
        let forgotten = rc(p, "terraform_data.to_forget");
        assert_eq!(forgotten.action, Action::Forget);
        assert!(
            !forgotten.action.destroys(),
            "forget must not count as destroying"
        );
        assert_eq!(
            forgotten.action_reason.as_deref(),
            Some("delete_because_no_resource_config")
        );
        assert_eq!(rc(p, "terraform_data.dep").previous_address, None);
        assert_eq!(p.changing().count(), 1);
    }

    pub fn nested_create(p: &Plan) {
        assert_eq!(p.sensitive_variables, vec!["api_token".to_string()]);
        let node = rc(
            p,
            r#"module.region["eu"].module.cluster.terraform_data.node[1]"#,
        );
        assert_eq!(
            node.module_address.as_deref(),
            Some(r#"module.region["eu"].module.cluster"#)
        );
        assert_eq!(node.index, Some(InstanceKey::Int(1)));
        assert_eq!(
            node.config_address(),
            "module.region.module.cluster.terraform_data.node"
        );
        let modules: BTreeSet<&str> = p
            .resource_changes
            .iter()
            .filter_map(|r| r.module_address.as_deref())
            .collect();
        assert_eq!(
            modules,
            BTreeSet::from([
                "module.network",
                r#"module.region["eu"]"#,
                r#"module.region["eu"].module.cluster"#,
                r#"module.region["us"]"#,
                r#"module.region["us"].module.cluster"#,
            ])
        );
        let secret = diff(rc(p, r#"module.region["us"].terraform_data.secret"#));
        has_line(&secret, r#"input: null -> "(sensitive)""#);
        assert!(
            !secret.join("\n").contains("tok-ARBITER-CANARY"),
            "{secret:#?}"
        );
        let dns = diff(rc(p, "terraform_data.dns"));
        has_line(&dns, r#"input.eu: null -> "(known after apply)""#);
        has_line(&dns, r#"input.us: null -> "(known after apply)""#);
        has_line(&dns, r#"id: null -> "(known after apply)""#);
        let token = &p.output_changes["token"];
        assert_eq!(json_of(&token.after_sensitive), json!(true));
        assert_eq!(token.actions, vec!["create"]);
        assert_eq!(
            json_of(&p.output_changes["endpoints"].after_unknown),
            json!(true)
        );
        assert_eq!(
            json_of(&p.output_changes["network_id"].after_unknown),
            json!(true)
        );
    }

    pub fn nested_update(p: &Plan) {
        let subnet = rc(p, "module.network.terraform_data.subnet[0]");
        assert_eq!(subnet.action, Action::DeleteThenCreate);
        assert_eq!(subnet.action_reason.as_deref(), Some("replace_by_request"));
        let node = rc(
            p,
            r#"module.region["eu"].module.cluster.terraform_data.node[0]"#,
        );
        assert_eq!(node.action, Action::DeleteThenCreate);
        assert_eq!(
            node.action_reason.as_deref(),
            Some("replace_because_cannot_update")
        );
        has_line(&diff(node), r#"input.release: "r1" -> "r2""#);
        let gone = rc(
            p,
            r#"module.region["eu"].module.cluster.terraform_data.node[1]"#,
        );
        assert_eq!(gone.action, Action::Delete);
        assert_eq!(
            gone.action_reason.as_deref(),
            Some("delete_because_count_index")
        );
        let new_region: Vec<&ResourceChange> = p
            .resource_changes
            .iter()
            .filter(|r| r.address.starts_with(r#"module.region["ap"]"#))
            .collect();
        assert_eq!(new_region.len(), 4);
        assert!(new_region.iter().all(|r| r.action == Action::Create));
        let secret = diff(rc(p, r#"module.region["eu"].terraform_data.secret"#));
        has_line(&secret, r#"input: "(sensitive)" -> "(sensitive)""#);
        assert!(
            secret
                .iter()
                .filter(|l| l.starts_with("input"))
                .all(|l| !l.contains("tok-ARBITER-CANARY")),
            "{secret:#?}"
        );
        let token = &p.output_changes["token"];
        assert_eq!(token.actions, vec!["update"]);
        assert_eq!(json_of(&token.before_sensitive), json!(true));
        assert_eq!(p.output_changes["network_id"].actions, vec!["no-op"]);
        assert_eq!(
            p.variables["regions"].value_or_null(),
            &json!({"ap": 1, "eu": 1, "us": 2})
        );
    }

    pub fn nested_destroy(p: &Plan) {
        assert!(p
            .resource_changes
            .iter()
            .all(|r| r.action == Action::Delete));
        assert_eq!(p.output_changes["token"].actions, vec!["delete"]);
        let secret = diff(rc(p, r#"module.region["eu"].terraform_data.secret"#));
        has_line(&secret, r#"input: "(sensitive)" -> null"#);
    }

    /// Facts both versions of the state-history stack share, and the
    /// masks of the sensitive token (raw `sensitive_attributes` and
    /// show-json `sensitive_values` must agree).
    fn state_history_common(s: &State) {
        let by_addr: BTreeMap<&str, &arbiter_plan::StateResource> = s
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r))
            .collect();
        let mask = |a: &str| {
            by_addr[a]
                .sensitive_values
                .as_ref()
                .map(|m| m.value_or_null().clone())
        };
        assert_eq!(
            mask("terraform_data.credentials"),
            Some(json!({"input": true}))
        );
        let key = mask(r#"module.zone["a"].terraform_data.key"#);
        assert_eq!(
            key.as_ref().map(|k| &k["input"]["key"]),
            Some(&json!(true)),
            "{key:?}"
        );
        assert!(mask("terraform_data.keep")
            .map(|m| !m.to_string().contains("true"))
            .unwrap_or(true));
        assert!(s.outputs["api_token"].sensitive);
        assert!(!s.outputs["app_image"].sensitive);
        if s.form == StateForm::RawV4 {
            assert!(s.lineage.as_deref().is_some_and(|l| l.len() == 36));
        }
    }

    pub fn state_history_v1(s: &State) {
        state_history_common(s);
        assert!(s
            .resources
            .iter()
            .any(|r| r.address == "terraform_data.legacy"));
        assert_eq!(
            s.outputs["api_token"].value.value_or_null(),
            &json!("tok-STATE-CANARY-v1-51c7e0")
        );
    }

    pub fn state_history_v2(s: &State) {
        state_history_common(s);
        assert!(s
            .resources
            .iter()
            .any(|r| r.address == r#"module.zone["c"].terraform_data.subnet"#));
        assert_eq!(
            s.outputs["app_image"].value.value_or_null(),
            &json!("app:2.0")
        );
    }

    pub fn nested_state(s: &State) {
        let by_addr: BTreeMap<&str, &arbiter_plan::StateResource> = s
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r))
            .collect();
        let node = by_addr[r#"module.region["eu"].module.cluster.terraform_data.node[1]"#];
        assert_eq!(
            node.module_address.as_deref(),
            Some(r#"module.region["eu"].module.cluster"#)
        );
        assert_eq!(node.index, Some(InstanceKey::Int(1)));
        if s.form == StateForm::ShowJson {
            assert_eq!(node.values.value_or_null()["input"]["name"], json!("eu-1"));
        }
        let monitor = by_addr["terraform_data.monitor"];
        assert!(
            monitor
                .depends_on
                .contains(&"module.region.terraform_data.secret".to_string()),
            "{:?}",
            monitor.depends_on
        );
        assert!(by_addr["terraform_data.bootstrap"].depends_on.is_empty());
        if s.form == StateForm::ShowJson {
            let secret = by_addr[r#"module.region["us"].terraform_data.secret"#];
            let mask = secret
                .sensitive_values
                .as_ref()
                .map(|m| m.value_or_null().clone());
            assert_eq!(mask, Some(json!({"input": true})));
        }
    }

    pub fn refresh_only_moved(p: &Plan) {
        let by_addr: BTreeMap<&str, &ResourceChange> = p
            .resource_drift
            .iter()
            .map(|r| (r.address.as_str(), r))
            .collect();
        assert_eq!(
            by_addr.keys().copied().collect::<Vec<_>>(),
            vec![
                "terraform_data.application",
                r#"terraform_data.cache["a"]"#,
                r#"terraform_data.cache["b"]"#
            ]
        );
        assert!(p.resource_drift.iter().all(|r| r.action == Action::NoOp));
        assert_eq!(
            by_addr["terraform_data.application"]
                .previous_address
                .as_deref(),
            Some("terraform_data.app")
        );
        let a = by_addr[r#"terraform_data.cache["a"]"#];
        assert_eq!(
            a.previous_address.as_deref(),
            Some("terraform_data.cache[0]")
        );
        assert_eq!(a.index, Some(InstanceKey::Str("a".into())));
        assert!(
            p.warnings.iter().any(|w| w.contains("no resource_changes")),
            "{:?}",
            p.warnings
        );
    }

    pub fn moved_instance_keys(p: &Plan) {
        let b = rc(p, r#"terraform_data.cache["b"]"#);
        assert_eq!(
            b.previous_address.as_deref(),
            Some("terraform_data.cache[1]")
        );
        assert_eq!(b.index, Some(InstanceKey::Str("b".into())));
        assert_eq!(b.config_address(), "terraform_data.cache");
        assert_eq!(
            rc(p, "terraform_data.application")
                .previous_address
                .as_deref(),
            Some("terraform_data.app")
        );
        assert!(
            p.resource_drift.is_empty(),
            "a normal plan lists moves as changes, not drift"
        );
    }

    pub fn import_taint_remove(p: &Plan) {
        let imported = rc(p, "terraform_data.imported");
        assert_eq!(imported.action, Action::Update);
        assert_eq!(
            imported
                .change
                .importing
                .as_ref()
                .and_then(|i| i.id.as_deref()),
            Some("ext-0042")
        );
        assert_eq!(imported.change.generated_config, None);
        let generated = rc(p, "terraform_data.generated");
        assert_eq!(
            generated
                .change
                .importing
                .as_ref()
                .and_then(|i| i.id.as_deref()),
            Some("ext-0043")
        );
        let hcl = generated
            .change
            .generated_config
            .as_deref()
            .unwrap_or_default();
        assert!(
            hcl.contains(r#"resource "terraform_data" "generated""#),
            "{hcl}"
        );
        let web = rc(p, "terraform_data.web");
        assert_eq!(web.action, Action::DeleteThenCreate);
        assert_eq!(
            web.action_reason.as_deref(),
            Some("replace_because_tainted")
        );
        let legacy = rc(p, "terraform_data.legacy");
        assert_eq!(legacy.action, Action::Delete);
        assert_eq!(
            legacy.action_reason.as_deref(),
            Some("delete_because_no_resource_config")
        );
    }

    pub fn change_keys(p: &Plan) {
        assert_eq!(
            diff(rc(p, "aws_security_group_rule.foo")),
            vec![
                r#"security_group_rule_id: null -> "sgr-5a4b695164c564a8f""#.to_string(),
                "to_port: 5432 -> 5433".to_string(),
            ]
        );
        assert_eq!(
            diff(rc(p, "aws_security_group_rule.bar")),
            vec![
                r#"protocol: "tcp" -> "udp""#.to_string(),
                r#"security_group_rule_id: null -> "sgr-5a4b695164c564a90""#.to_string(),
            ]
        );
    }

    pub fn filtered_rule_fail(p: &Plan) {
        assert_eq!(
            diff(rc(p, "aws_s3_bucket_lifecycle_configuration.this")),
            vec![
                "rule[0].abort_incomplete_multipart_upload[0].days_after_initiation: 6 -> 7"
                    .to_string()
            ]
        );
    }

    pub fn create_before_destroy_secret(p: &Plan) {
        let r = rc(p, "aws_secretsmanager_secret.default");
        assert_eq!(r.action, Action::CreateThenDelete);
        assert!(r.action.is_replace() && r.action.destroys());
        has_line(&diff(r), r#"arn: null -> "(known after apply)""#);
        has_line(&diff(r), r#"name: null -> "test""#);
    }

    pub fn data_source_in_nested_module(p: &Plan) {
        let d = rc(p, "module.child.module.b.data.aws_eks_cluster.cluster");
        assert_eq!(d.mode, ResourceMode::Data);
        assert_eq!(d.action, Action::Read);
        assert_eq!(d.keyed_type(), "data.aws_eks_cluster");
        assert_eq!(d.module_address.as_deref(), Some("module.child.module.b"));
        assert_eq!(
            d.config_address(),
            "module.child.module.b.data.aws_eks_cluster.cluster"
        );
        assert_eq!(
            p.changing().count(),
            1,
            "reading a data source is not a change"
        );
    }

    pub fn for_each_keys(p: &Plan) {
        let z = rc(p, r#"aws_route53_zone.example["example2.eu"]"#);
        assert_eq!(z.index, Some(InstanceKey::Str("example2.eu".into())));
        assert_eq!(z.config_address(), "aws_route53_zone.example");
        let sg = rc(p, r#"module.sg["bad_example"].aws_security_group.bad"#);
        assert_eq!(
            sg.module_address.as_deref(),
            Some(r#"module.sg["bad_example"]"#)
        );
        assert_eq!(sg.index, None);
        assert_eq!(sg.config_address(), "module.sg.aws_security_group.bad");
    }

    pub fn nested_child_modules(p: &Plan) {
        let r = rc(p, "module.child_0.module.child_1_b.aws_eks_cluster.cluster");
        assert_eq!(
            r.module_address.as_deref(),
            Some("module.child_0.module.child_1_b")
        );
        assert_eq!(r.resource_type, "aws_eks_cluster");
    }

    pub fn plan_tags_outputs(p: &Plan) {
        let names: Vec<&str> = p.output_changes.keys().map(String::as_str).collect();
        assert!(
            names.contains(&"secret") && names.contains(&"vpc_id"),
            "{names:?}"
        );
        assert!(p
            .output_changes
            .values()
            .all(|o| o.actions == vec!["create"]));
        assert_eq!(rc(p, "aws_db_instance.default").action, Action::Create);
    }

    pub fn resource_reference_graph(p: &Plan) {
        let g =
            DependencyGraph::from_configuration(p.configuration.as_ref().expect("configuration"));
        assert_eq!(g.len(), 4);
        assert_eq!(
            deps(&g, "azurerm_network_security_rule.pass"),
            vec![
                "azurerm_network_security_group.pass",
                "azurerm_resource_group.test"
            ]
        );
        assert_eq!(
            g.dependants("azurerm_resource_group.test"),
            set(&[
                "azurerm_network_security_group.fail",
                "azurerm_network_security_group.pass",
                "azurerm_network_security_rule.pass"
            ])
        );
        assert_eq!(
            g.dependants("azurerm_network_security_group.fail"),
            BTreeSet::new()
        );
    }

    pub fn nested_connections_graph(p: &Plan) {
        let g =
            DependencyGraph::from_configuration(p.configuration.as_ref().expect("configuration"));
        assert_eq!(
            deps(&g, "aws_s3_bucket_public_access_block.root"),
            vec!["aws_s3_bucket.root_bucket"]
        );
        assert_eq!(
            deps(&g, "module.s3_module.module.s3_submodule.aws_s3_bucket_public_access_block.submodule_bucket"),
            vec!["module.s3_module.module.s3_submodule.aws_s3_bucket.submodule_bucket"]
        );
        // depends_on inside a module resolves to that module's resource.
        assert!(deps(
            &g,
            "module.s3_bucket.aws_s3_bucket_lifecycle_configuration.this"
        )
        .contains(&"module.s3_bucket.aws_s3_bucket_versioning.this".to_string()));
        // Nothing crosses between sibling modules that do not refer to each other.
        assert!(g
            .dependants("module.s3_module.aws_s3_bucket.module_bucket")
            .iter()
            .all(|d| d.starts_with("module.s3_module.")));
    }

    pub fn modules_edges_graph(p: &Plan) {
        let g =
            DependencyGraph::from_configuration(p.configuration.as_ref().expect("configuration"));
        let acl = "module.test.module.s3-bucket-1.aws_s3_bucket_acl.this";
        let d = deps(&g, acl);
        assert!(
            d.contains(&"module.test.module.s3-bucket-1.aws_s3_bucket.this".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(
                &"module.test.module.s3-bucket-1.aws_s3_bucket_ownership_controls.this".to_string()
            ),
            "{d:?}"
        );
        assert!(
            d.iter()
                .all(|x| x.starts_with("module.test.module.s3-bucket-1.")),
            "{d:?}"
        );
        let bucket2 = g.dependants("module.test.module.s3-bucket-2.aws_s3_bucket.this");
        assert!(bucket2.len() > 10, "{bucket2:?}");
        assert!(bucket2
            .iter()
            .all(|x| x.starts_with("module.test.module.s3-bucket-2.")));
    }

    pub fn synthesized_from_planned_values(p: &Plan) {
        let r = rc(p, "aws_vpc_endpoint.test");
        assert_eq!(r.action, Action::Create);
        assert_eq!(r.resource_type, "aws_vpc_endpoint");
        let policy = r
            .change
            .after
            .as_ref()
            .map(|a| a.value_or_null()["policy"].clone());
        assert!(policy
            .and_then(|v| v.as_str().map(|s| s.contains("\"Principal\":\"*\"")))
            .unwrap_or(false));
        assert!(
            p.warnings.iter().any(|w| w.contains("format_version")),
            "{:?}",
            p.warnings
        );
    }

    pub fn corrupted_is_a_state(s: &State) {
        assert_eq!(s.form, StateForm::ShowJson);
        assert_eq!(s.resources[0].address, "test_instance.test");
        let mask = s.resources[0]
            .sensitive_values
            .as_ref()
            .map(|m| m.value_or_null().clone());
        assert_eq!(mask, Some(json!({"ami": true})));
    }
}

// ---------------------------------------------------------------------------
// Tests over the whole table
// ---------------------------------------------------------------------------

/// Files in the tree that are not fixtures: sources and documentation.
fn is_source_file(rel: &str) -> bool {
    rel == "PROVENANCE.md"
        || rel == "generate.sh"
        || (rel.starts_with("generated/") && rel.ends_with(".tf"))
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            let rel = p.strip_prefix(root()).expect("under the root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn table_covers_every_fixture_file() {
    let mut files = Vec::new();
    walk(&root(), &mut files);
    assert!(
        files.len() > 60,
        "expected the fixture tree at {ROOT}, found {} files",
        files.len()
    );
    let table: Vec<&str> = fixtures().iter().map(|f| f.path).collect();
    let listed: BTreeSet<&str> = table.iter().copied().collect();
    assert_eq!(listed.len(), table.len(), "a fixture is listed twice");
    let uncovered: Vec<&String> = files
        .iter()
        .filter(|f| !is_source_file(f) && !listed.contains(f.as_str()))
        .collect();
    assert!(
        uncovered.is_empty(),
        "fixture files without a row in fixtures() (add one saying what to assert): {uncovered:#?}"
    );
    let missing: Vec<&&str> = listed
        .iter()
        .filter(|p| !files.iter().any(|f| f == *p))
        .collect();
    assert!(
        missing.is_empty(),
        "rows for files that do not exist: {missing:#?}"
    );
}

#[test]
fn every_upstream_plan_is_in_provenance() {
    let provenance = std::fs::read_to_string(root().join("PROVENANCE.md")).expect("PROVENANCE.md");
    assert!(provenance.contains("Apache-2.0") && provenance.contains("bridgecrewio/checkov"));
    let mut files = Vec::new();
    walk(&root(), &mut files);
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("plans/"))
        .filter(|f| !provenance.contains(f.trim_start_matches("plans/")))
        .collect();
    assert!(
        missing.is_empty(),
        "upstream files without provenance: {missing:#?}"
    );
    for scenario in [
        "nested-modules",
        "refresh-only-drift",
        "import-taint-remove",
        "modules-lifecycle",
        "moved-forget-check",
        "state-history",
    ] {
        assert!(
            provenance.contains(scenario),
            "PROVENANCE.md does not describe {scenario}"
        );
    }
}

#[test]
fn every_plan_fixture_reads_with_the_expected_facts() {
    for_each_row(&plan_fixtures(), |f| {
        let p = plan(f.path);
        let from_file = read_plan_file(&root().join(f.path))
            .unwrap_or_else(|e| panic!("{}: read_plan_file failed: {e}", f.path));
        assert_eq!(
            from_file.resource_changes.len(),
            p.resource_changes.len(),
            "{}: read_plan_file and read_plan disagree",
            f.path
        );
        if let Some((format, terraform)) = f.versions {
            assert_eq!(
                p.format_version_text.as_deref(),
                format,
                "{}: format_version",
                f.path
            );
            assert_eq!(
                p.terraform_version.as_deref(),
                terraform,
                "{}: terraform_version",
                f.path
            );
        }
        let Some((n, actions)) = f.changes else {
            panic!(
                "{}: the row does not say which resource changes to expect",
                f.path
            )
        };
        assert_eq!(
            p.resource_changes.len(),
            n,
            "{}: number of resource changes",
            f.path
        );
        assert_eq!(
            action_counts(&p.resource_changes),
            expected_counts(actions),
            "{}: actions",
            f.path
        );
        assert_eq!(
            p.resource_drift.len(),
            f.drift,
            "{}: resource_drift",
            f.path
        );
        assert_eq!(
            p.output_changes.len(),
            f.outputs,
            "{}: output_changes",
            f.path
        );
        assert_eq!(
            p.warnings.len(),
            f.warnings,
            "{}: warnings {:?}",
            f.path,
            p.warnings
        );
        assert!(!p.errored, "{}: errored", f.path);
        for r in p.resource_changes.iter().chain(&p.resource_drift) {
            assert!(
                !r.resource_type.is_empty(),
                "{}: {} has no type",
                f.path,
                r.address
            );
            assert_eq!(
                r.action.as_list(),
                r.change
                    .actions
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice(),
                "{}: {}",
                f.path,
                r.address
            );
            assert!(
                r.address
                    .ends_with(&format!("{}.{}", r.resource_type, r.name))
                    || r.index.is_some(),
                "{}: {} vs type/name",
                f.path,
                r.address
            );
        }
        if let Some(check) = f.plan_check {
            check(&p);
        }
    });
}

#[test]
fn every_state_fixture_reads_with_the_expected_facts() {
    let rows: Vec<Fixture> = fixtures()
        .into_iter()
        .filter(|f| f.kind.is_state())
        .collect();
    assert!(
        rows.len() >= 5,
        "expected raw and show-json states in the table"
    );
    for_each_row(&rows, |f| {
        let s = state(f.path);
        let from_file = read_state_file(&root().join(f.path))
            .unwrap_or_else(|e| panic!("{}: read_state_file failed: {e}", f.path));
        assert_eq!(from_file.resources.len(), s.resources.len());
        let form = match f.kind {
            Kind::RawState => StateForm::RawV4,
            _ => StateForm::ShowJson,
        };
        assert_eq!(s.form, form, "{}: form", f.path);
        assert_eq!(
            s.resources.len(),
            f.resources,
            "{}: resource instances",
            f.path
        );
        if form == StateForm::RawV4 {
            assert!(
                s.serial.is_some() && s.lineage.is_some(),
                "{}: serial and lineage",
                f.path
            );
        }
        let distinct: BTreeSet<&str> = s.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            distinct.len(),
            s.resources.len(),
            "{}: duplicate addresses",
            f.path
        );
        if let Some(check) = f.state_check {
            check(&s);
        }
    });
}

#[test]
fn state_files_are_refused_as_plans_with_a_message_naming_state() {
    let rows: Vec<Fixture> = fixtures()
        .into_iter()
        .filter(|f| f.kind.is_state())
        .collect();
    for_each_row(&rows, |f| match read_plan(&bytes(f.path)) {
        Err(PlanError::WrongDocument(msg)) => {
            assert!(
                msg.contains("state"),
                "{}: message does not mention state: {msg}",
                f.path
            );
            assert!(
                msg.contains("terraform show -json"),
                "{}: message does not say how to make a plan: {msg}",
                f.path
            );
        }
        Err(other) => panic!("{}: expected WrongDocument, got {other:?}", f.path),
        Ok(p) => panic!(
            "{}: a state was read as a plan with {} changes",
            f.path,
            p.resource_changes.len()
        ),
    });
}

/// What people give instead of plan JSON (real Terraform 1.11 output and
/// the configuration it came from) is named, with the command that makes
/// plan JSON; the binary plan's command names the file as given.
#[test]
fn mistaken_inputs_are_named_with_the_command_that_makes_plan_json() {
    let mut rows: Vec<(String, NotPlanJson)> = fixtures()
        .iter()
        .filter_map(|f| match f.kind {
            Kind::NotPlan(k) => Some((f.path.to_string(), k)),
            _ => None,
        })
        .collect();
    rows.push((
        "generated/not-plans/main.tf".into(),
        NotPlanJson::Configuration,
    ));
    for dir in ["modules-lifecycle", "nested-modules", "state-history"] {
        rows.push((
            format!("generated/{dir}/main.tf"),
            NotPlanJson::Configuration,
        ));
    }
    assert!(rows.len() >= 8, "{rows:?}");
    for (rel, kind) in &rows {
        check_not_plan(&root().join(rel), *kind);
    }
    // The same with what this machine's Terraform makes now, when it has one.
    let terraform = std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".into());
    let found = std::process::Command::new(&terraform)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found || std::env::var_os("ARBITER_SKIP_TERRAFORM").is_some() {
        eprintln!(
            "SKIPPED: fresh Terraform outputs (terraform not found or ARBITER_SKIP_TERRAFORM set)"
        );
        return;
    }
    let out = std::env::temp_dir().join(format!("arbiter-not-plans-{}", std::process::id()));
    let status = std::process::Command::new("bash")
        .arg(root().join("generate.sh"))
        .arg("--out")
        .arg(&out)
        .arg("not-plans")
        .status()
        .expect("running generate.sh");
    assert!(status.success(), "generate.sh failed: {status}");
    for (rel, kind) in rows
        .iter()
        .filter(|(r, _)| r.starts_with("generated/not-plans/"))
    {
        check_not_plan(&out.join(rel.trim_start_matches("generated/")), *kind);
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[track_caller]
fn check_not_plan(path: &Path, kind: NotPlanJson) {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert_eq!(
        arbiter_plan::read::not_plan_json(&bytes),
        Some(kind),
        "{shown}"
    );
    match read_plan_file(path) {
        Err(PlanError::NotPlanJson { kind: k, file }) => {
            assert_eq!(k, kind, "{shown}");
            assert_eq!(file.as_deref(), Some(shown.as_str()));
        }
        other => panic!("{shown}: expected NotPlanJson({kind:?}), got {other:?}"),
    }
    let msg = read_plan_file(path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let want: &[&str] = match kind {
        NotPlanJson::BinaryPlan => &[
            "saved binary plan",
            "terraform show -json ",
            "tofu show -json ",
        ],
        NotPlanJson::Variables => &[
            "(.tfvars)",
            "terraform plan -var-file=",
            "tofu plan -var-file=",
        ],
        _ => &[
            "`terraform plan -out=tfplan && terraform show -json tfplan > plan.json`",
            "`tofu plan -out=tfplan && tofu show -json tfplan > plan.json`",
        ],
    };
    for w in want {
        assert!(msg.contains(w), "{shown}: {msg:?} lacks {w:?}");
    }
    if matches!(kind, NotPlanJson::BinaryPlan | NotPlanJson::Variables) {
        assert!(
            msg.contains(&shown),
            "{shown}: the command does not name the file: {msg}"
        );
    }
}

#[test]
fn plans_are_refused_as_states() {
    for_each_row(&plan_fixtures(), |f| match read_state(&bytes(f.path)) {
        Err(PlanError::WrongDocument(msg)) => assert!(msg.contains("plan"), "{}: {msg}", f.path),
        Err(other) => panic!("{}: expected WrongDocument, got {other:?}", f.path),
        Ok(s) => panic!(
            "{}: a plan was read as a state with {} resources",
            f.path,
            s.resources.len()
        ),
    });
}

#[test]
fn utf16_fixtures_are_really_utf16_and_read_like_utf8() {
    let rows = fixtures();
    let utf16: Vec<&Fixture> = rows.iter().filter(|f| f.utf16).collect();
    assert_eq!(utf16.len(), 3);
    for f in rows.iter() {
        let b = bytes(f.path);
        assert_eq!(
            b.starts_with(&[0xFF, 0xFE]),
            f.utf16,
            "{}: utf16 flag does not match the BOM",
            f.path
        );
    }
    // The same plan saved by PowerShell (UTF-16) and as UTF-8 gives the same model.
    let a = plan("plans/checkov--terraform--parser--plan_encodings--tfplan_win_utf16.json");
    let b = plan("plans/checkov--terraform--parser--plan_encodings--tfplan_win_utf8.json");
    assert_eq!(a.resource_changes.len(), b.resource_changes.len());
    for (x, y) in a.resource_changes.iter().zip(&b.resource_changes) {
        assert_eq!(x.address, y.address);
        assert_eq!(json_of(&x.change.after), json_of(&y.change.after));
        assert_ne!(json_of(&x.change.after), Value::Null);
    }
}

/// Module address, instance key, values and sorted dependencies.
type InstanceFacts = (Option<String>, Option<InstanceKey>, Value, Vec<String>);

#[test]
fn raw_state_and_its_show_json_form_agree() {
    for (raw, show) in [
        (
            "generated/modules-lifecycle/state-v1.tfstate",
            "generated/modules-lifecycle/state-v1.show.json",
        ),
        (
            "generated/nested-modules/state.tfstate",
            "generated/nested-modules/state.show.json",
        ),
    ] {
        let r = state(raw);
        let s = state(show);
        let key = |st: &State| -> BTreeMap<String, InstanceFacts> {
            st.resources
                .iter()
                .map(|x| {
                    let mut d = x.depends_on.clone();
                    d.sort();
                    (
                        x.address.clone(),
                        (
                            x.module_address.clone(),
                            x.index.clone(),
                            x.values.value_or_null().clone(),
                            d,
                        ),
                    )
                })
                .collect()
        };
        let (kr, ks) = (key(&r), key(&s));
        assert_eq!(
            kr.keys().collect::<Vec<_>>(),
            ks.keys().collect::<Vec<_>>(),
            "{raw} vs {show}: addresses"
        );
        for (addr, (m, i, v, d)) in &kr {
            let (m2, i2, v2, d2) = &ks[addr];
            assert_eq!(
                (m, i, d),
                (m2, i2, d2),
                "{addr}: module, index, dependencies"
            );
            // Statically typed attributes are stored alike in both forms.
            assert_eq!(v["id"], v2["id"], "{addr}: id");
            assert!(v["id"].is_string(), "{addr}: id");
        }
    }
}

/// The diff between the two states of the state-history stack, from raw
/// states and from their show-json forms: the same resources and attribute
/// paths either way, and neither token anywhere in it.
#[test]
fn state_history_diff_is_resource_and_attribute_level_and_masked() {
    use arbiter_plan::{diff_states, DeltaKind};
    let render = |d: &arbiter_plan::StateDiff| -> Vec<String> {
        let mut out = Vec::new();
        for r in &d.resources {
            out.push(format!(
                "{} {} replaced={}",
                r.kind.as_str(),
                r.address,
                r.replaced
            ));
            for a in &r.attributes {
                out.push(format!(
                    "  {}: {} -> {}",
                    a.path,
                    a.before.render(),
                    a.after.render()
                ));
            }
        }
        for o in &d.outputs {
            out.push(format!(
                "output {} {}: {} -> {}",
                o.kind.as_str(),
                o.name,
                o.before.render(),
                o.after.render()
            ));
        }
        out
    };
    let base = "generated/state-history";
    let raw = diff_states(
        &state(&format!("{base}/state-v1.tfstate")),
        &state(&format!("{base}/state-v2.tfstate")),
    );
    let show = diff_states(
        &state(&format!("{base}/state-v1.show.json")),
        &state(&format!("{base}/state-v2.show.json")),
    );
    let mixed = diff_states(
        &state(&format!("{base}/state-v1.tfstate")),
        &state(&format!("{base}/state-v2.show.json")),
    );
    let lines = render(&raw);
    assert_eq!(lines, render(&show), "raw and show-json forms disagree");
    assert_eq!(
        lines,
        render(&mixed),
        "a raw and a show-json state disagree"
    );
    let text = lines.join("\n");
    assert!(
        !text.contains("CANARY"),
        "a sensitive value leaked:\n{text}"
    );
    let kinds: BTreeMap<&str, (&str, bool)> = raw
        .resources
        .iter()
        .map(|r| (r.address.as_str(), (r.kind.as_str(), r.replaced)))
        .collect();
    let want: BTreeMap<&str, (&str, bool)> = [
        ("terraform_data.app", ("changed", false)),
        ("terraform_data.cache", ("added", false)),
        ("terraform_data.credentials", ("changed", false)),
        ("terraform_data.legacy", ("removed", false)),
        ("terraform_data.rotated", ("changed", true)),
        ("terraform_data.worker[2]", ("added", false)),
        (r#"module.zone["a"].terraform_data.key"#, ("changed", false)),
        (r#"module.zone["b"].terraform_data.key"#, ("changed", false)),
        (r#"module.zone["c"].terraform_data.key"#, ("added", false)),
        (
            r#"module.zone["c"].terraform_data.subnet"#,
            ("added", false),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds, want, "{text}");
    assert_eq!(raw.unchanged, 5, "keep, worker[0..1], zone a/b subnets");
    assert_eq!(raw.count(DeltaKind::Added), 4);
    assert_eq!(raw.count(DeltaKind::Changed), 5);
    for l in [
        "  input.image: \"app:1.0\" -> \"app:2.0\"",
        "  input.replicas: 2 -> 3",
        "  input: \"(sensitive)\" -> \"(sensitive)\"",
        "  input.key: \"(sensitive)\" -> \"(sensitive)\"",
        // terraform_data copies input to output without the mark.
        "  output.key: \"(sensitive)\" -> \"(sensitive)\"",
        "  input: \"gen-1\" -> \"gen-2\"",
        "  triggers_replace[0]: 1 -> 2",
        "output changed api_token: \"(sensitive)\" -> \"(sensitive)\"",
        "output changed app_image: \"app:1.0\" -> \"app:2.0\"",
    ] {
        has_line(&lines, l);
    }
    assert!(diff_states(
        &state(&format!("{base}/state-v2.tfstate")),
        &state(&format!("{base}/state-v2.show.json"))
    )
    .is_empty());
}

/// The plan that rolls the state-history stack back from version 2 to 1
/// reads as a plan, with the right action for each instance.
#[test]
fn state_history_restore_plan_reads_as_a_plan() {
    let base = "generated/state-history";
    let v1 = state(&format!("{base}/state-v1.tfstate"));
    let v2 = state(&format!("{base}/state-v2.tfstate"));
    let restore = arbiter_plan::restore_plan(&v2, &v1);
    let p = read_plan(restore.document.to_string().as_bytes()).expect("the restore plan reads");
    let actions: BTreeMap<&str, Action> = p
        .resource_changes
        .iter()
        .map(|r| (r.address.as_str(), r.action))
        .collect();
    assert_eq!(actions.len(), 15, "every managed instance of either state");
    assert_eq!(actions["terraform_data.legacy"], Action::Create);
    assert_eq!(actions["terraform_data.cache"], Action::Delete);
    assert_eq!(actions["terraform_data.rotated"], Action::DeleteThenCreate);
    assert_eq!(actions["terraform_data.app"], Action::Update);
    assert_eq!(
        actions[r#"module.zone["c"].terraform_data.key"#],
        Action::Delete
    );
    assert_eq!(actions["terraform_data.keep"], Action::NoOp);
    assert_eq!(restore.changes.len(), 10);
    // The masks travel with the values, so the judge can redact them.
    let cred = p
        .resource_changes
        .iter()
        .find(|r| r.address == "terraform_data.credentials")
        .expect("credentials");
    assert_eq!(
        json_of(&cred.change.after_sensitive),
        json!({"input": true})
    );
    let secrets = arbiter_plan::sensitive::sensitive_strings(&p);
    assert!(secrets.contains("tok-STATE-CANARY-v1-51c7e0"));
    assert!(secrets.contains("tok-STATE-CANARY-v2-8e4b19"));
}

/// Raw states' `sensitive_attributes` and the show-json `sensitive_values`
/// of the same state mark the same values.
#[test]
fn raw_and_show_state_masks_agree() {
    fn marked(v: &Value, path: String, out: &mut BTreeSet<String>) {
        match v {
            Value::Bool(true) => {
                out.insert(path);
            }
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| marked(v, format!("{path}.{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| marked(v, format!("{path}[{i}]"), out)),
            _ => {}
        }
    }
    for (raw, show) in [
        (
            "generated/nested-modules/state.tfstate",
            "generated/nested-modules/state.show.json",
        ),
        (
            "generated/modules-lifecycle/state-v1.tfstate",
            "generated/modules-lifecycle/state-v1.show.json",
        ),
        (
            "generated/state-history/state-v1.tfstate",
            "generated/state-history/state-v1.show.json",
        ),
        (
            "generated/state-history/state-v2.tfstate",
            "generated/state-history/state-v2.show.json",
        ),
    ] {
        let paths = |rel: &str| {
            let mut out = BTreeSet::new();
            for r in state(rel).resources {
                if let Some(m) = &r.sensitive_values {
                    marked(m.value_or_null(), r.address.clone(), &mut out);
                }
            }
            out
        };
        let (a, b) = (paths(raw), paths(show));
        assert!(!a.is_empty(), "{raw}: nothing marked");
        assert_eq!(a, b, "{raw} vs {show}");
    }
}

/// `StateResource::values` promises attribute values; the raw form should
/// give the same values as `terraform show -json` of the same state.
#[test]
fn raw_and_show_state_values_agree() {
    let raw = state("generated/nested-modules/state.tfstate");
    let show = state("generated/nested-modules/state.show.json");
    let values = |st: &State| -> BTreeMap<String, Value> {
        st.resources
            .iter()
            .map(|r| (r.address.clone(), r.values.value_or_null().clone()))
            .collect()
    };
    let (r, s) = (values(&raw), values(&show));
    let differing: Vec<(&String, &Value, &Value)> = r
        .iter()
        .filter(|(a, v)| s.get(*a) != Some(*v))
        .map(|(a, v)| (a, v, &s[a]))
        .collect();
    assert!(
        differing.is_empty(),
        "raw vs show values differ: {differing:#?}"
    );
}

/// The multi-module graph: edges through module outputs, module variables
/// (two levels deep), `depends_on` on a resource and on a module call.
#[test]
fn nested_modules_dependency_graph() {
    let g = graph_of("generated/nested-modules/plan-create.json");
    let node = "module.region.module.cluster.terraform_data.node";
    let pool = "module.region.module.cluster.terraform_data.pool";
    let lb = "module.region.terraform_data.lb";
    let secret = "module.region.terraform_data.secret";
    let vpc = "module.network.terraform_data.vpc";
    let subnet = "module.network.terraform_data.subnet";
    let boot = "terraform_data.bootstrap";
    assert_eq!(g.len(), 10, "one node per resource block");
    let has = |from: &str, to: &str| {
        assert!(
            g.dependencies(from).any(|d| d == to),
            "missing edge {from} -> {to}; {from} depends on {:?}",
            deps(&g, from)
        )
    };
    // var.network_id (cluster) -> var.network_id (region) -> module.network.id -> vpc
    has(node, vpc);
    // the call's depends_on reaches resources that use any of its variables
    has(node, boot);
    has(secret, boot);
    assert_eq!(deps(&g, pool), vec![node]);
    // module.cluster.node_ids output -> node
    assert_eq!(deps(&g, lb), vec![node, boot]);
    assert_eq!(deps(&g, subnet), vec![vpc]);
    // a reference to the whole module depends on every resource in it (as
    // Terraform records in the state)
    assert_eq!(deps(&g, "terraform_data.dns"), vec![node, pool, lb, secret]);
    // depends_on = [module.region] likewise
    assert_eq!(
        deps(&g, "terraform_data.monitor"),
        vec![node, pool, lb, secret]
    );
    assert_eq!(
        deps(&g, "terraform_data.audit"),
        vec!["terraform_data.monitor"]
    );
    let downstream = g.dependants(vpc);
    for d in [
        subnet,
        node,
        pool,
        lb,
        "terraform_data.dns",
        "terraform_data.monitor",
        "terraform_data.audit",
    ] {
        assert!(
            downstream.contains(d),
            "{d} should be a dependant of {vpc}: {downstream:?}"
        );
    }
    assert!(
        !downstream.contains(boot) && !downstream.contains(secret),
        "{downstream:?}"
    );
    assert_eq!(
        g.direct_dependants(node).collect::<BTreeSet<_>>(),
        BTreeSet::from([pool, lb, "terraform_data.dns", "terraform_data.monitor"])
    );
    assert_eq!(g.dependants("terraform_data.audit"), BTreeSet::new());
    assert_eq!(
        g.dependants(boot),
        set(&[
            node,
            pool,
            lb,
            secret,
            "terraform_data.dns",
            "terraform_data.monitor",
            "terraform_data.audit"
        ])
    );
    // the same configuration in the update and destroy plans gives the same graph
    for other in [
        "generated/nested-modules/plan-update.json",
        "generated/nested-modules/plan-destroy.json",
    ] {
        let h = graph_of(other);
        assert_eq!(
            (h.len(), h.edge_count()),
            (g.len(), g.edge_count()),
            "{other}"
        );
    }
}

/// Exactly the edges of the configuration: `module.network.id` is a reference
/// to one output, not to the whole module.
#[test]
fn nested_modules_graph_has_no_false_edges() {
    let g = graph_of("generated/nested-modules/plan-create.json");
    assert_eq!(
        deps(&g, "module.region.module.cluster.terraform_data.node"),
        vec![
            "module.network.terraform_data.vpc",
            "terraform_data.bootstrap"
        ]
    );
    assert_eq!(g.edge_count(), 16);
}

/// Graph edges (`from -> to`) that Terraform did not record in the state's
/// dependency lists, which are the ground truth for the same configuration.
fn edges_terraform_did_not_record(plan_rel: &str, state_rel: &str) -> Vec<String> {
    let g = graph_of(plan_rel);
    let s = state(state_rel);
    let recorded: BTreeMap<String, BTreeSet<String>> = s
        .resources
        .iter()
        .map(|r| {
            (
                arbiter_plan::address::config_address(&r.address),
                r.depends_on.iter().cloned().collect(),
            )
        })
        .collect();
    assert!(
        recorded.keys().all(|k| g.contains(k)),
        "{plan_rel}: state and graph name different blocks"
    );
    let mut out = Vec::new();
    for (from, tf_deps) in &recorded {
        for to in g.dependencies(from) {
            if !tf_deps.contains(to) {
                out.push(format!("{from} -> {to}"));
            }
        }
    }
    out
}

/// Every edge the graph finds must be one Terraform also recorded in the
/// state (no invented dependants).
#[test]
fn graph_edges_are_dependencies_terraform_recorded() {
    let g = graph_of("generated/modules-lifecycle/plan-create.json");
    assert_eq!(
        deps(&g, "module.svc.terraform_data.config"),
        vec!["module.svc.terraform_data.node"]
    );
    let wrong = edges_terraform_did_not_record(
        "generated/modules-lifecycle/plan-create.json",
        "generated/modules-lifecycle/state-v1.tfstate",
    );
    assert!(
        wrong.is_empty(),
        "edges Terraform does not know: {wrong:#?}"
    );
}

#[test]

fn nested_graph_edges_are_dependencies_terraform_recorded() {
    let wrong = edges_terraform_did_not_record(
        "generated/nested-modules/plan-create.json",
        "generated/nested-modules/state.tfstate",
    );
    assert!(
        wrong.is_empty(),
        "edges Terraform does not know: {wrong:#?}"
    );
}

/// The converse: every dependency Terraform recorded is a (transitive)
/// dependency in the graph, so `dependants()` finds everything that waits for
/// a resource.
#[test]

fn graph_finds_every_dependency_terraform_recorded() {
    let g = graph_of("generated/nested-modules/plan-create.json");
    let s = state("generated/nested-modules/state.tfstate");
    let mut missing = BTreeSet::new();
    for r in &s.resources {
        let from = arbiter_plan::address::config_address(&r.address);
        for to in &r.depends_on {
            if !g.dependants(to).contains(&from) {
                missing.insert(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "dependencies Terraform recorded that the graph lacks: {missing:#?}"
    );
}

/// Sensitive values: every string a plan marks sensitive (computed here from
/// the masks, independently of the library) is absent from the rendered diff
/// of that change, unless the plan itself also prints it unmarked.
#[test]
fn marked_sensitive_values_never_appear_in_attribute_changes() {
    let mut checked = 0;
    for_each_row(&plan_fixtures(), |f| {
        let p = plan(f.path);
        for r in p.resource_changes.iter().chain(&p.resource_drift) {
            let c = &r.change;
            let mut marked = BTreeSet::new();
            let mut unmarked = BTreeSet::new();
            split_by_mask(
                &json_of(&c.before),
                &json_of(&c.before_sensitive),
                false,
                &mut marked,
                &mut unmarked,
            );
            split_by_mask(
                &json_of(&c.after),
                &json_of(&c.after_sensitive),
                false,
                &mut marked,
                &mut unmarked,
            );
            let rendered = diff(r).join("\n");
            for s in marked.difference(&unmarked) {
                assert!(
                    !rendered.contains(s.as_str()),
                    "{}: {}: sensitive {s:?} in diff:\n{rendered}",
                    f.path,
                    r.address
                );
            }
        }
    });
    // The generated plans must have exercised this.
    for rel in [
        "generated/nested-modules/plan-update.json",
        "generated/modules-lifecycle/plan-update-replace-delete.json",
    ] {
        let p = plan(rel);
        for r in &p.resource_changes {
            let mut marked = BTreeSet::new();
            split_by_mask(
                &json_of(&r.change.after),
                &json_of(&r.change.after_sensitive),
                false,
                &mut marked,
                &mut BTreeSet::new(),
            );
            checked += marked.len();
        }
    }
    assert!(
        checked >= 4,
        "the generated plans should carry sensitive values"
    );
}

/// terraform_data copies `input` to `output`, and Terraform marks only
/// `input` sensitive: the secret is in `before.output` unmarked. The diff
/// promises "sensitive values never appear", so it must still be hidden.
#[test]
fn canary_secrets_never_appear_in_attribute_changes() {
    let canaries = ["tok-ARBITER-CANARY", "initial-Passw0rd", "rotated-Secret9"];
    let mut leaks = Vec::new();
    for f in plan_fixtures()
        .iter()
        .filter(|f| f.path.starts_with("generated/"))
    {
        let p = plan(f.path);
        for r in &p.resource_changes {
            for line in diff(r) {
                if canaries.iter().any(|c| line.contains(c)) {
                    leaks.push(format!("{}: {}: {line}", f.path, r.address));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "secrets in attribute diffs: {leaks:#?}");
}

/// Values known only after apply render as "(known after apply)": top-level
/// attributes, keys of nested objects, and list elements added by an update.
#[test]
fn unknown_values_render_as_known_after_apply() {
    let p = plan("generated/nested-modules/plan-create.json");
    let dns = diff(rc(&p, "terraform_data.dns"));
    has_line(&dns, r#"input.eu: null -> "(known after apply)""#);
    has_line(&dns, r#"output: null -> "(known after apply)""#);
    assert!(
        !dns.iter()
            .any(|l| l.starts_with("input.eu") && l.ends_with("-> null")),
        "{dns:#?}"
    );
    let p = plan("generated/modules-lifecycle/plan-update-replace-delete.json");
    let cfg = diff(rc(&p, r#"module.svc["worker"].terraform_data.config"#));
    has_line(&cfg, r#"input.nodes[2]: null -> "(known after apply)""#);
    assert!(
        cfg.iter()
            .any(|l| l.starts_with("output: {") && l.ends_with(r#"-> "(known after apply)""#)),
        "{cfg:#?}"
    );
}

/// The same inside lists of a creation, and inside blocks whose whole
/// `after` is null.
#[test]
fn unknown_list_elements_of_a_creation_render_as_known_after_apply() {
    let mut missing = Vec::new();
    for (rel, address, want) in [
        (
            "generated/modules-lifecycle/plan-create.json",
            r#"module.svc["api"].terraform_data.config"#,
            r#"input.nodes[0]: null -> "(known after apply)""#,
        ),
        (
            "generated/nested-modules/plan-create.json",
            r#"module.region["eu"].terraform_data.lb"#,
            r#"input.targets[0]: null -> "(known after apply)""#,
        ),
        (
            "plans/checkov--terraform--parser--plan_after_unknown--tfplan.json",
            "aws_cloudfront_distribution.cloudfront",
            r#"logging_config[0].bucket: null -> "(known after apply)""#,
        ),
    ] {
        let lines = diff(rc(&plan(rel), address));
        if !lines.iter().any(|l| l == want) {
            missing.push(format!("{rel}: {address}: want {want:?}, got {lines:?}"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// `terraform plan -refresh-only` prints no resource_changes (and, with
/// moves, only resource_drift) and an empty planned_values. The reader must
/// not synthesise creations from anything in it.
#[test]
fn refresh_only_plans_have_no_resource_changes() {
    for rel in [
        "generated/refresh-only-drift/plan-refresh-only-clean.json",
        "generated/refresh-only-drift/plan-refresh-only-moved.json",
    ] {
        let p = plan(rel);
        let creates: Vec<&str> = p
            .resource_changes
            .iter()
            .filter(|r| r.action == Action::Create)
            .map(|r| r.address.as_str())
            .collect();
        assert!(
            creates.is_empty(),
            "{rel}: a refresh-only plan was read as creating {creates:?}"
        );
    }
}

/// Regenerates the scenarios with the real binary (when installed) into a
/// temporary directory and checks the fresh outputs against the same facts,
/// so the committed fixtures stay reproducible.
#[test]
fn generate_script_reproduces_the_fixtures() {
    let terraform = std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".into());
    let found = std::process::Command::new(&terraform)
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIPPED: terraform not found ({terraform}); generate_script_reproduces_the_fixtures needs Terraform 1.11 on PATH");
        return;
    }
    if std::env::var_os("ARBITER_SKIP_TERRAFORM").is_some() {
        eprintln!("SKIPPED: ARBITER_SKIP_TERRAFORM is set");
        return;
    }
    let out = std::env::temp_dir().join(format!("arbiter-fixtures-regen-{}", std::process::id()));
    let status = std::process::Command::new("bash")
        .arg(root().join("generate.sh"))
        .arg("--out")
        .arg(&out)
        .arg("nested-modules")
        .arg("refresh-only-drift")
        .arg("import-taint-remove")
        .status()
        .expect("running generate.sh");
    assert!(status.success(), "generate.sh failed: {status}");
    let rows = fixtures();
    let mut checked = 0;
    for f in rows.iter().filter(|f| f.kind == Kind::Plan) {
        let Some(rel) = f.path.strip_prefix("generated/") else {
            continue;
        };
        let fresh = out.join(rel);
        if !fresh.exists() {
            continue;
        }
        let p = read_plan(&std::fs::read(&fresh).expect("fresh plan"))
            .unwrap_or_else(|e| panic!("{}: {e}", fresh.display()));
        if let Some((n, actions)) = f.changes {
            assert_eq!(p.resource_changes.len(), n, "{rel}");
            assert_eq!(
                action_counts(&p.resource_changes),
                expected_counts(actions),
                "{rel}"
            );
        }
        assert_eq!(p.resource_drift.len(), f.drift, "{rel}");
        if let Some(check) = f.plan_check {
            check(&p);
        }
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(checked, 7, "every regenerated plan was checked");
}
