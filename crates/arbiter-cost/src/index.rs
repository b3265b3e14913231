//! Cross-resource lookups a few models need: the launch template of an
//! autoscaling group, the task definition of an ECS service. Built lazily,
//! once per plan, only when such a model asks.

use arbiter_plan::{DependencyGraph, Plan, ResourceChange, ResourceMode};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// `value of attr` → index of the first resource change with it.
type AttrIndex = HashMap<String, usize>;

/// Lookups over one plan's resource changes.
pub struct PlanIndex<'a> {
    plan: &'a Plan,
    given_graph: Option<&'a DependencyGraph>,
    graph: OnceLock<DependencyGraph>,
    by_config: OnceLock<HashMap<String, Vec<usize>>>,
    /// (resource type, attribute) → its index, built on first lookup so a
    /// plan with many groups scans its templates once, not once per group.
    by_attr: Mutex<HashMap<(String, String), std::sync::Arc<AttrIndex>>>,
}

impl<'a> PlanIndex<'a> {
    /// An index over `plan`; `graph` is the plan's dependency graph when the
    /// caller has it (it is built on first use otherwise).
    pub fn new(plan: &'a Plan, graph: Option<&'a DependencyGraph>) -> PlanIndex<'a> {
        PlanIndex {
            plan,
            given_graph: graph,
            graph: OnceLock::new(),
            by_config: OnceLock::new(),
            by_attr: Mutex::new(HashMap::new()),
        }
    }

    fn graph(&self) -> &DependencyGraph {
        if let Some(g) = self.given_graph {
            return g;
        }
        self.graph.get_or_init(|| {
            self.plan
                .configuration
                .as_ref()
                .map(DependencyGraph::from_configuration)
                .unwrap_or_default()
        })
    }

    fn by_config(&self) -> &HashMap<String, Vec<usize>> {
        self.by_config.get_or_init(|| {
            let mut m: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, rc) in self.plan.resource_changes.iter().enumerate() {
                if rc.mode == ResourceMode::Managed && rc.deposed.is_none() {
                    m.entry(rc.config_address()).or_default().push(i);
                }
            }
            m
        })
    }

    /// Resources of `resource_type` that `rc`'s configuration block refers
    /// to (through the configuration's references), nearest instance first:
    /// the one with the same instance key when there is one.
    pub fn referenced(&self, rc: &ResourceChange, resource_type: &str) -> Vec<&'a ResourceChange> {
        let from = rc.config_address();
        let mut out = Vec::new();
        for dep in self.graph().dependencies(&from) {
            let Some(idx) = self.by_config().get(dep) else {
                continue;
            };
            let mut hits: Vec<&'a ResourceChange> = idx
                .iter()
                .filter_map(|i| self.plan.resource_changes.get(*i))
                .filter(|r| r.resource_type == resource_type)
                .collect();
            hits.sort_by_key(|r| r.index != rc.index);
            out.extend(hits);
        }
        out
    }

    /// The first managed resource of `resource_type` whose after (or before)
    /// value has `attr` equal to `value`.
    pub fn find_by_attr(
        &self,
        resource_type: &str,
        attr: &str,
        value: &str,
    ) -> Option<&'a ResourceChange> {
        let key = (resource_type.to_string(), attr.to_string());
        let index = {
            let cached = self.by_attr.lock().ok().and_then(|m| m.get(&key).cloned());
            match cached {
                Some(i) => i,
                None => {
                    let built = std::sync::Arc::new(self.build_attr_index(resource_type, attr));
                    if let Ok(mut m) = self.by_attr.lock() {
                        m.insert(key, built.clone());
                    }
                    built
                }
            }
        };
        index
            .get(value)
            .and_then(|i| self.plan.resource_changes.get(*i))
    }

    fn build_attr_index(&self, resource_type: &str, attr: &str) -> AttrIndex {
        let mut out = AttrIndex::new();
        for (i, r) in self.plan.resource_changes.iter().enumerate() {
            if r.resource_type != resource_type || r.mode != ResourceMode::Managed {
                continue;
            }
            for v in [r.change.after.as_ref(), r.change.before.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(x) = v.value_or_null().get(attr).and_then(|x| x.as_str()) {
                    out.entry(x.to_string()).or_insert(i);
                }
            }
        }
        out
    }
}
