//! The dependency graph between resource blocks, from the `configuration`
//! section's `references` (and `depends_on`), resolved through module calls
//! (`var.x` → the caller's argument) and module outputs (`module.m.out` → what
//! the output refers to).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Configuration addresses of resource blocks and the edges between them.
///
/// Node names are configuration addresses without instance keys
/// (`module.svc.aws_instance.web`). An edge `a → b` means `a` refers to `b`
/// (so `a` is a dependant of `b`).
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    nodes: BTreeSet<String>,
    depends_on: BTreeMap<String, BTreeSet<String>>,
    dependants: BTreeMap<String, BTreeSet<String>>,
}

/// (top-level argument, raw references of its expression).
type RawArguments = Vec<(String, Vec<String>)>;

#[derive(Default)]
struct ModuleInfo {
    /// resource local address → raw references
    resources: Vec<(String, Vec<String>)>,
    /// resource local address → (top-level argument → raw references)
    arguments: Vec<(String, RawArguments)>,
    /// output name → raw references
    outputs: BTreeMap<String, Vec<String>>,
    /// module call name → (argument name → raw references)
    call_args: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl DependencyGraph {
    /// Builds the graph from a plan's `configuration` value. Unknown shapes are
    /// skipped, never an error: a graph is an aid, not a requirement.
    pub fn from_configuration(configuration: &Value) -> DependencyGraph {
        let mut modules: BTreeMap<String, ModuleInfo> = BTreeMap::new();
        if let Some(root) = configuration.get("root_module") {
            walk_module(root, String::new(), &mut modules);
        }
        let mut g = DependencyGraph::default();
        for (mpath, info) in &modules {
            for (local, _) in &info.resources {
                g.nodes.insert(join(mpath, local));
            }
        }
        for (mpath, info) in &modules {
            for (local, refs) in &info.resources {
                let from = join(mpath, local);
                let mut targets = BTreeSet::new();
                for r in refs {
                    resolve(r, mpath, &modules, &mut targets, &mut BTreeSet::new(), 0);
                }
                targets.remove(&from);
                for t in targets {
                    if g.nodes.contains(&t) {
                        g.dependants
                            .entry(t.clone())
                            .or_default()
                            .insert(from.clone());
                        g.depends_on.entry(from.clone()).or_default().insert(t);
                    }
                }
            }
        }
        g
    }

    /// Number of resource blocks.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no resource blocks.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether `config_address` is a resource block of the configuration.
    pub fn contains(&self, config_address: &str) -> bool {
        self.nodes.contains(config_address)
    }

    /// Direct dependencies of a block.
    pub fn dependencies(&self, config_address: &str) -> impl Iterator<Item = &str> {
        self.depends_on
            .get(config_address)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Direct dependants of a block.
    pub fn direct_dependants(&self, config_address: &str) -> impl Iterator<Item = &str> {
        self.dependants
            .get(config_address)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Every block that depends on `config_address`, directly or not.
    pub fn dependants(&self, config_address: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([config_address]);
        while let Some(n) = queue.pop_front() {
            for d in self.direct_dependants(n) {
                if d != config_address && seen.insert(d.to_string()) {
                    queue.push_back(d);
                }
            }
        }
        seen
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.depends_on.values().map(BTreeSet::len).sum()
    }
}

/// Configuration address of a resource block → (top-level argument → the
/// resource blocks that argument's expression refers to), resolved like the
/// graph's edges (through `var.x` and module outputs). Only arguments that
/// refer to some resource block are listed. Rules use it to find, say, the
/// security group that `aws_security_group_rule.security_group_id` names when
/// the id is known only at apply.
pub type ArgumentReferences = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Builds [`ArgumentReferences`] from a plan's `configuration` value. Unknown
/// shapes are skipped, never an error.
pub fn argument_references(configuration: &Value) -> ArgumentReferences {
    let mut modules: BTreeMap<String, ModuleInfo> = BTreeMap::new();
    if let Some(root) = configuration.get("root_module") {
        walk_module(root, String::new(), &mut modules);
    }
    let nodes: BTreeSet<String> = modules
        .iter()
        .flat_map(|(m, info)| info.resources.iter().map(move |(l, _)| join(m, l)))
        .collect();
    let mut out = ArgumentReferences::new();
    for (mpath, info) in &modules {
        for (local, args) in &info.arguments {
            let from = join(mpath, local);
            let mut per_arg = BTreeMap::new();
            for (arg, refs) in args {
                let mut targets = BTreeSet::new();
                for r in refs {
                    resolve(r, mpath, &modules, &mut targets, &mut BTreeSet::new(), 0);
                }
                targets.retain(|t| t != &from && nodes.contains(t));
                if !targets.is_empty() {
                    per_arg.insert(arg.clone(), targets);
                }
            }
            if !per_arg.is_empty() {
                out.insert(from, per_arg);
            }
        }
    }
    out
}

fn join(module_path: &str, local: &str) -> String {
    if module_path.is_empty() {
        local.to_string()
    } else {
        format!("{module_path}.{local}")
    }
}

fn walk_module(module: &Value, path: String, out: &mut BTreeMap<String, ModuleInfo>) {
    let mut info = ModuleInfo::default();
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(addr) = r.get("address").and_then(Value::as_str) else {
            continue;
        };
        let mut refs = Vec::new();
        let mut arguments = Vec::new();
        if let Some(exprs) = r.get("expressions").and_then(Value::as_object) {
            for (arg, e) in exprs {
                let mut arg_refs = Vec::new();
                collect_references(e, &mut arg_refs, 0);
                if !arg_refs.is_empty() {
                    prune_bare_modules(&mut arg_refs);
                    refs.extend(arg_refs.iter().cloned());
                    arguments.push((arg.clone(), arg_refs));
                }
            }
        } else if let Some(v) = r.get("expressions") {
            collect_references(v, &mut refs, 0);
        }
        for key in ["count_expression", "for_each_expression"] {
            if let Some(v) = r.get(key) {
                collect_references(v, &mut refs, 0);
            }
        }
        prune_bare_modules(&mut refs);
        info.arguments.push((addr.to_string(), arguments));
        for d in r
            .get("depends_on")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(s) = d.as_str() {
                refs.push(s.to_string());
            }
        }
        info.resources.push((addr.to_string(), refs));
    }
    if let Some(outputs) = module.get("outputs").and_then(Value::as_object) {
        for (name, o) in outputs {
            let mut refs = Vec::new();
            if let Some(e) = o.get("expression") {
                collect_references(e, &mut refs, 0);
            }
            prune_bare_modules(&mut refs);
            info.outputs.insert(name.clone(), refs);
        }
    }
    if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            let mut args = BTreeMap::new();
            if let Some(exprs) = call.get("expressions").and_then(Value::as_object) {
                for (arg, e) in exprs {
                    let mut refs = Vec::new();
                    collect_references(e, &mut refs, 0);
                    prune_bare_modules(&mut refs);
                    args.insert(arg.clone(), refs);
                }
            }
            // count/for_each/depends_on of the call apply to every argument.
            let mut shared = Vec::new();
            for key in ["count_expression", "for_each_expression"] {
                if let Some(v) = call.get(key) {
                    collect_references(v, &mut shared, 0);
                }
            }
            for d in call
                .get("depends_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(s) = d.as_str() {
                    shared.push(s.to_string());
                }
            }
            if !shared.is_empty() {
                args.insert("\u{0}call".into(), shared);
            }
            info.call_args.insert(name.clone(), args);
            if let Some(child) = call.get("module") {
                walk_module(child, join(&path, &format!("module.{name}")), out);
            }
        }
    }
    out.insert(path, info);
}

/// Terraform lists `module.m` beside `module.m.out` for an expression that
/// reads one output; the bare module adds nothing and would wrongly mean
/// "every resource of the module". Drops such bare references.
fn prune_bare_modules(refs: &mut Vec<String>) {
    // Most blocks refer to no module: nothing to split and compare.
    if !refs.iter().any(|r| r.starts_with("module")) {
        return;
    }
    let specific: Vec<String> = refs
        .iter()
        .filter_map(|r| {
            let p = parts(r);
            (p.len() >= 3 && p[0] == "module").then(|| format!("module.{}", p[1]))
        })
        .collect();
    refs.retain(|r| {
        let p = parts(r);
        !(p.len() == 2 && p[0] == "module" && specific.contains(&format!("module.{}", p[1])))
    });
}

/// Collects every string inside any `references` array below `v`.
fn collect_references(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "references" {
                    for r in child.as_array().into_iter().flatten() {
                        if let Some(s) = r.as_str() {
                            out.push(s.to_string());
                        }
                    }
                } else {
                    collect_references(child, out, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_references(c, out, depth + 1)),
        _ => {}
    }
}

/// Splits `a.b["x"].c[0]` into dot-separated parts with instance keys removed.
fn parts(reference: &str) -> Vec<String> {
    crate::address::config_address(reference)
        .split('.')
        .map(str::to_string)
        .collect()
}

fn resolve(
    reference: &str,
    module: &str,
    modules: &BTreeMap<String, ModuleInfo>,
    out: &mut BTreeSet<String>,
    visiting: &mut BTreeSet<(String, String)>,
    depth: usize,
) {
    if depth > 32 || !visiting.insert((module.to_string(), reference.to_string())) {
        return;
    }
    let p = parts(reference);
    match p.first().map(String::as_str) {
        Some("var") => {
            let Some(var) = p.get(1) else { return };
            // var.x inside module `parent.module.name` → the call's argument x in parent.
            let Some((parent, call)) = split_module(module) else {
                return;
            };
            if let Some(args) = modules.get(parent).and_then(|m| m.call_args.get(call)) {
                for key in [var.as_str(), "\u{0}call"] {
                    for r in args.get(key).into_iter().flatten() {
                        resolve(r, parent, modules, out, visiting, depth + 1);
                    }
                }
            }
        }
        Some("module") => {
            let Some(name) = p.get(1) else { return };
            let child = join(module, &format!("module.{name}"));
            let Some(info) = modules.get(&child) else {
                return;
            };
            match p.get(2) {
                Some(output) => {
                    for r in info.outputs.get(output).into_iter().flatten() {
                        resolve(r, &child, modules, out, visiting, depth + 1);
                    }
                }
                None => {
                    // A whole module (`depends_on = [module.m]`, or the module
                    // object itself): every resource in it and its children.
                    let nested = format!("{child}.");
                    for (path, m) in modules
                        .iter()
                        .filter(|(p, _)| *p == &child || p.starts_with(&nested))
                    {
                        for (local, _) in &m.resources {
                            out.insert(join(path, local));
                        }
                    }
                }
            }
        }
        Some("data") => {
            if let (Some(t), Some(n)) = (p.get(1), p.get(2)) {
                out.insert(join(module, &format!("data.{t}.{n}")));
            }
        }
        Some("local" | "each" | "count" | "path" | "terraform" | "self") | None => {}
        Some(t) => {
            if let Some(n) = p.get(1) {
                out.insert(join(module, &format!("{t}.{n}")));
            }
        }
    }
}

/// `module.a.module.b` → (`module.a`, `b`).
fn split_module(module: &str) -> Option<(&str, &str)> {
    let idx = module.rfind("module.")?;
    let name = &module[idx + "module.".len()..];
    let parent = module[..idx].trim_end_matches('.');
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_through_modules_vars_and_outputs() {
        let config = json!({"root_module": {
            "resources": [
                {"address": "aws_vpc.main", "expressions": {}},
                {"address": "aws_instance.app", "expressions": {"subnet_id": {"references": ["module.net.subnet_id", "module.net"]}},
                 "depends_on": ["aws_iam_role.r"]},
                {"address": "aws_iam_role.r", "expressions": {}}
            ],
            "module_calls": {"net": {
                "expressions": {"vpc_id": {"references": ["aws_vpc.main.id", "aws_vpc.main"]}},
                "module": {
                    "resources": [{"address": "aws_subnet.s", "expressions": {"vpc_id": {"references": ["var.vpc_id"]},
                                    "tags": [{"x": {"references": ["local.t"]}}]}}],
                    "outputs": {"subnet_id": {"expression": {"references": ["aws_subnet.s[0].id", "aws_subnet.s"]}}}
                }
            }}
        }});
        let g = DependencyGraph::from_configuration(&config);
        assert_eq!(g.len(), 4);
        assert_eq!(
            g.dependencies("module.net.aws_subnet.s")
                .collect::<Vec<_>>(),
            vec!["aws_vpc.main"]
        );
        assert_eq!(
            g.dependencies("aws_instance.app").collect::<Vec<_>>(),
            vec!["aws_iam_role.r", "module.net.aws_subnet.s"]
        );
        let deps: Vec<String> = g.dependants("aws_vpc.main").into_iter().collect();
        assert_eq!(
            deps,
            vec![
                "aws_instance.app".to_string(),
                "module.net.aws_subnet.s".to_string()
            ]
        );
    }

    #[test]
    fn argument_references_are_resolved_per_argument() {
        let config = json!({"root_module": {
            "resources": [
                {"address": "aws_security_group.db", "expressions": {"name": {"constant_value": "db"}}},
                {"address": "aws_security_group.app", "expressions": {}},
                {"address": "aws_security_group_rule.out", "expressions": {
                    "security_group_id": {"references": ["aws_security_group.db.id", "aws_security_group.db"]},
                    "source_security_group_id": {"references": ["module.net.sg_id", "module.net"]},
                    "type": {"constant_value": "egress"}}}
            ],
            "module_calls": {"net": {
                "expressions": {"app_sg": {"references": ["aws_security_group.app.id", "aws_security_group.app"]}},
                "module": {
                    "resources": [{"address": "aws_subnet.s", "expressions": {"vpc_id": {"references": ["var.missing"]}}}],
                    "outputs": {"sg_id": {"expression": {"references": ["var.app_sg"]}}}
                }
            }}
        }});
        let refs = argument_references(&config);
        let out = &refs["aws_security_group_rule.out"];
        assert_eq!(
            out["security_group_id"].iter().collect::<Vec<_>>(),
            vec!["aws_security_group.db"]
        );
        assert_eq!(
            out["source_security_group_id"].iter().collect::<Vec<_>>(),
            vec!["aws_security_group.app"]
        );
        assert!(!out.contains_key("type"));
        assert!(!refs.contains_key("module.net.aws_subnet.s"));
        assert!(argument_references(&json!(null)).is_empty());
    }

    #[test]
    fn cycles_and_garbage_do_not_hang() {
        let config = json!({"root_module": {
            "resources": [{"address": "a_b.x", "expressions": {"v": {"references": ["module.m.o"]}}}],
            "module_calls": {"m": {"expressions": {"i": {"references": ["module.m.o"]}},
                "module": {"outputs": {"o": {"expression": {"references": ["var.i"]}}}}}}
        }});
        let g = DependencyGraph::from_configuration(&config);
        assert_eq!(g.edge_count(), 0);
        let g = DependencyGraph::from_configuration(&json!([1, 2, 3]));
        assert!(g.is_empty());
    }
}
