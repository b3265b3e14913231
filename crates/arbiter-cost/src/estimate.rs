//! Pricing a whole plan: region per resource, both sides of every change,
//! totals, and the list of what could not be priced.

use crate::attrs::Attrs;
use crate::catalogue::Catalogue;
use crate::error::CostError;
use crate::index::PlanIndex;
use crate::model::{model_for, Model, Pricer, Side, Stop};
use crate::region::{self, DEFAULT_REGION};
use crate::usage::Usage;
use arbiter_plan::sensitive::Redactor;
use arbiter_plan::{Action, DependencyGraph, Plan, RawJson, ResourceChange, ResourceMode};
use arbiter_verdict::{CostComponent, CostCounts, CostSummary, ResourceCost, UnpricedResource};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Providers whose resources exist only in Terraform's state or on the
/// machine running it (`terraform_data`, `null_resource`, `random_*`,
/// `local_file`, …): nothing to bill.
const LOCAL_PROVIDERS: &[&str] = &[
    "terraform",
    "null",
    "random",
    "time",
    "tls",
    "local",
    "archive",
    "external",
    "http",
    "cloudinit",
    "template",
];

/// Plans with more changes than this are priced on two threads.
const PARALLEL_FROM: usize = 1024;

/// Prices plans: a catalogue, usage figures and an optional region override.
/// Cheap to clone (shared data).
#[derive(Debug, Clone)]
pub struct CostEngine {
    catalogue: Arc<Catalogue>,
    usage: Arc<Usage>,
    region: Option<String>,
}

impl Default for CostEngine {
    fn default() -> Self {
        CostEngine::embedded()
    }
}

impl CostEngine {
    /// The embedded catalogue, no usage file, regions from the plans.
    pub fn embedded() -> CostEngine {
        CostEngine {
            catalogue: Arc::new(Catalogue::embedded()),
            usage: Arc::new(Usage::none()),
            region: None,
        }
    }

    /// An engine with the given catalogue, usage figures and region override
    /// (`--region`, which wins over the plan's provider configuration).
    /// Fails when the region is not an AWS region code.
    pub fn new(
        catalogue: Catalogue,
        usage: Usage,
        region: Option<String>,
    ) -> Result<CostEngine, CostError> {
        if let Some(r) = &region {
            if !region::is_known(r) {
                return Err(CostError::UnknownRegion { region: r.clone() });
            }
        }
        Ok(CostEngine {
            catalogue: Arc::new(catalogue),
            usage: Arc::new(usage),
            region,
        })
    }

    /// The catalogue in use.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Prices every managed resource of the plan before and after the change.
    ///
    /// Never fails: a resource that cannot be priced is listed in
    /// `unpriced` with the reason and left out of both totals; problems with
    /// the usage file or the region are `warnings`. `graph` is the plan's
    /// dependency graph when the caller has one (built on demand otherwise).
    pub fn estimate(&self, plan: &Plan, graph: Option<&DependencyGraph>) -> CostSummary {
        let regions = RegionResolver::new(plan, self.region.as_deref());
        let index = PlanIndex::new(plan, graph);
        let changes: Vec<&ResourceChange> = plan
            .resource_changes
            .iter()
            .filter(|rc| rc.mode == ResourceMode::Managed)
            .collect();
        let work = |slice: &[&ResourceChange]| -> Vec<Outcome> {
            slice
                .iter()
                .map(|rc| self.price_change(rc, &index, &regions))
                .collect()
        };
        let outcomes: Vec<Outcome> = if changes.len() >= PARALLEL_FROM {
            let (a, b) = changes.split_at(changes.len() / 2);
            std::thread::scope(|s| {
                let h = s.spawn(|| work(b));
                let mut first = work(a);
                match h.join() {
                    Ok(second) => first.extend(second),
                    Err(_) => first.extend(work(b)),
                }
                first
            })
        } else {
            work(&changes)
        };

        let mut summary = CostSummary {
            computed: true,
            region: Some(regions.default.clone()),
            catalogue: Some(self.catalogue.name().to_string()),
            ..CostSummary::default()
        };
        let mut counts = CostCounts::default();
        let mut used_regions: BTreeSet<String> = BTreeSet::new();
        for o in outcomes {
            match o {
                Outcome::Skip => {}
                Outcome::Free => counts.free += 1,
                Outcome::Priced(r) => {
                    counts.priced += 1;
                    let shown = if r.after.is_empty() {
                        &r.before
                    } else {
                        &r.after
                    };
                    counts.assumed_components += shown.iter().filter(|c| c.assumed).count();
                    summary.monthly_before_usd += r.monthly_before_usd;
                    summary.monthly_after_usd += r.monthly_after_usd;
                    used_regions.insert(r.region.clone());
                    summary.resources.push(r);
                }
                Outcome::Unpriced(u, region) => {
                    counts.unpriced += 1;
                    used_regions.extend(region);
                    summary.unpriced.push(u);
                }
            }
        }
        summary.monthly_delta_usd = summary.monthly_after_usd - summary.monthly_before_usd;
        summary.counts = counts;
        summary.resources.sort_by(|a, b| {
            b.monthly_delta_usd
                .abs()
                .total_cmp(&a.monthly_delta_usd.abs())
                .then(b.monthly_after_usd.total_cmp(&a.monthly_after_usd))
                .then(a.address.cmp(&b.address))
        });
        summary.unpriced.sort_by(|a, b| {
            (a.kind != "no-price")
                .cmp(&(b.kind != "no-price"))
                .then(a.address.cmp(&b.address))
        });
        summary.note = regions.note.clone();
        summary.warnings.extend(regions.warnings.iter().cloned());
        for r in &used_regions {
            if r != "global" && !self.catalogue.has_region(r) {
                summary.warnings.push(format!(
                    "the catalogue has no prices for region {r}; its resources are unpriced (regions with prices: {})",
                    self.catalogue.regions().join(", ")
                ));
            }
        }
        summary.warnings.extend(self.usage.warnings.iter().cloned());
        summary.warnings.extend(usage_warnings(&self.usage, plan));
        summary
    }

    fn price_change(
        &self,
        rc: &ResourceChange,
        index: &PlanIndex<'_>,
        regions: &RegionResolver,
    ) -> Outcome {
        let (want_before, want_after) = match rc.action {
            Action::Read | Action::CreateThenForget => return Outcome::Skip,
            _ if rc.deposed.is_some() => (true, false),
            Action::Create => (false, true),
            Action::Delete | Action::Forget => (true, false),
            Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete => (true, true),
            // Unchanged: priced once, counted on both sides.
            Action::NoOp => (false, true),
        };
        let action = if rc.deposed.is_some() {
            "delete"
        } else {
            rc.action.kind()
        };
        let unpriced_in = |reason: String, kind: &str, region: Option<&str>| {
            Outcome::Unpriced(
                UnpricedResource {
                    address: rc.address.clone(),
                    resource_type: rc.resource_type.clone(),
                    action: action.to_string(),
                    reason,
                    kind: kind.to_string(),
                },
                region.map(str::to_string),
            )
        };
        let unpriced = |reason: String, kind: &str| unpriced_in(reason, kind, None);
        let Some(model) = model_for(&rc.resource_type) else {
            if let Some((reason, _)) = Catalogue::free_entry(&rc.resource_type) {
                return if reason.starts_with("free:") {
                    Outcome::Free
                } else {
                    unpriced(reason.to_string(), "usage-based")
                };
            }
            let provider = rc.resource_type.split('_').next().unwrap_or_default();
            if LOCAL_PROVIDERS.contains(&provider) {
                // Resources that live only in the state or on the machine
                // running Terraform: nothing in a cloud account to bill.
                return Outcome::Free;
            }
            return if provider == "aws" {
                unpriced(
                    format!("no cost model for {} yet", rc.resource_type),
                    "no-price",
                )
            } else {
                unpriced(
                    format!(
                        "provider {provider:?} is not covered (the catalogue has AWS prices only)"
                    ),
                    "no-price",
                )
            };
        };
        // Global services are priced from one region's rows wherever the
        // provider points, and shown as `global`.
        let global = crate::model::is_global(&rc.resource_type);
        let (region, shown_region) = if global {
            (
                crate::model::GLOBAL_PRICE_REGION.to_string(),
                "global".to_string(),
            )
        } else {
            let r = regions.region_for(rc);
            (r.clone(), r)
        };
        if !self.catalogue.has_region(&region) {
            return unpriced_in(
                format!("no prices for region {region} in the catalogue"),
                "no-price",
                Some(&region),
            );
        }
        let usage = self
            .usage
            .for_resource(&rc.address, &rc.config_address(), &rc.resource_type);
        let side = |s: Side| -> Result<SideCost, Stop> {
            let (values, unknown) = match s {
                Side::Before => (rc.change.before.as_ref(), None),
                Side::After => (
                    if rc.action == Action::NoOp {
                        rc.change.after.as_ref().or(rc.change.before.as_ref())
                    } else {
                        rc.change.after.as_ref()
                    },
                    rc.change.after_unknown.as_ref(),
                ),
            };
            price_side(
                model,
                &self.catalogue,
                &region,
                rc,
                values,
                unknown,
                &usage,
                index,
                s,
            )
        };
        let before = want_before.then(|| side(Side::Before));
        let mut after = want_after.then(|| side(Side::After));
        if rc.action == Action::NoOp {
            // The same state on both sides.
            return match after.take() {
                Some(Ok(sc)) => Outcome::Priced(resource_cost(
                    rc,
                    action,
                    &shown_region,
                    Some(sc.clone()),
                    Some(sc),
                )),
                Some(Err(Stop::Free(_))) => Outcome::Free,
                Some(Err(Stop::Unpriced(r))) => unpriced(r, "no-price"),
                None => Outcome::Skip,
            };
        }
        let both = want_before && want_after;
        for (label, s) in [("before the change", &before), ("after the change", &after)] {
            if let Some(Err(Stop::Unpriced(r))) = s {
                let reason = if both {
                    format!("{label}: {r}")
                } else {
                    r.clone()
                };
                return unpriced(reason, "no-price");
            }
        }
        let is_free =
            |s: &Option<Result<SideCost, Stop>>| matches!(s, None | Some(Err(Stop::Free(_))));
        if is_free(&before) && is_free(&after) {
            return Outcome::Free;
        }
        let ok = |s: Option<Result<SideCost, Stop>>| s.and_then(Result::ok);
        Outcome::Priced(resource_cost(
            rc,
            action,
            &shown_region,
            ok(before),
            ok(after),
        ))
    }
}

#[derive(Debug, Clone, Default)]
struct SideCost {
    components: Vec<CostComponent>,
    classes: Vec<arbiter_verdict::CostClass>,
    details: Vec<String>,
}

enum Outcome {
    Skip,
    Free,
    Priced(ResourceCost),
    /// With the region it was priced in, when a model ran.
    Unpriced(UnpricedResource, Option<String>),
}

#[allow(clippy::too_many_arguments)]
fn price_side(
    model: &Model,
    catalogue: &Catalogue,
    region: &str,
    rc: &ResourceChange,
    values: Option<&RawJson>,
    unknown: Option<&RawJson>,
    usage: &crate::usage::UsageView<'_>,
    index: &PlanIndex<'_>,
    side: Side,
) -> Result<SideCost, Stop> {
    let attrs = Attrs::extract(values, unknown, model.keys);
    let mut p = Pricer {
        catalogue,
        region,
        rc,
        attrs: &attrs,
        usage,
        index,
        side,
        components: Vec::new(),
        classes: Vec::new(),
        details: Vec::new(),
    };
    (model.price)(&mut p)?;
    Ok(SideCost {
        components: p.components,
        classes: p.classes,
        details: p.details,
    })
}

fn resource_cost(
    rc: &ResourceChange,
    action: &str,
    region: &str,
    before: Option<SideCost>,
    after: Option<SideCost>,
) -> ResourceCost {
    // `+ 0.0` turns the -0.0 an f64 sum starts from into 0.0.
    let sum = |s: &Option<SideCost>| {
        s.as_ref().map_or(0.0, |s| {
            s.components.iter().map(|c| c.monthly_usd).sum::<f64>()
        }) + 0.0
    };
    let b = sum(&before);
    let a = sum(&after);
    let (classes, details) = match (&after, &before) {
        (Some(s), _) | (None, Some(s)) => (s.classes.clone(), s.details.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    ResourceCost {
        address: rc.address.clone(),
        resource_type: rc.resource_type.clone(),
        action: action.to_string(),
        region: region.to_string(),
        monthly_before_usd: b,
        monthly_after_usd: a,
        monthly_delta_usd: a - b,
        before: before.map(|s| s.components).unwrap_or_default(),
        after: after.map(|s| s.components).unwrap_or_default(),
        classes,
        details,
    }
}

/// Which region each resource is priced in.
struct RegionResolver {
    forced: Option<String>,
    default: String,
    /// provider config key (`aws`, `aws.west`) → region
    by_key: HashMap<String, String>,
    /// configuration address → provider config key
    provider_of: HashMap<String, String>,
    note: Option<String>,
    warnings: Vec<String>,
}

impl RegionResolver {
    fn new(plan: &Plan, forced: Option<&str>) -> RegionResolver {
        let mut r = RegionResolver {
            forced: forced.map(str::to_string),
            default: DEFAULT_REGION.to_string(),
            by_key: HashMap::new(),
            provider_of: HashMap::new(),
            note: None,
            warnings: Vec::new(),
        };
        if let Some(f) = forced {
            r.default = f.to_string();
            r.note = Some(format!("priced in {f} (--region)"));
            return r;
        }
        let config = plan.configuration.as_ref();
        if let Some(pc) = config
            .and_then(|c| c.get("provider_config"))
            .and_then(Value::as_object)
        {
            for (key, p) in pc {
                if p.get("name").and_then(Value::as_str) != Some("aws") {
                    continue;
                }
                if let Some(region) = provider_region(p, plan) {
                    if !region::is_known(&region) {
                        r.warnings.push(format!(
                            "provider configuration {key}: region {region:?} is not an AWS region code"
                        ));
                    }
                    r.by_key.insert(key.clone(), region);
                }
            }
        }
        if let Some(root) = config.and_then(|c| c.get("root_module")) {
            walk_providers(root, "", &mut r.provider_of);
        }
        let distinct: BTreeSet<&String> = r.by_key.values().collect();
        match (r.by_key.get("aws"), distinct.len()) {
            (Some(d), _) => r.default = d.clone(),
            (None, 1) => {
                if let Some(d) = distinct.into_iter().next() {
                    r.default = d.clone();
                }
            }
            _ => {
                r.note = Some(format!(
                    "the plan's provider configuration gives no region: priced in {DEFAULT_REGION} unless a resource says otherwise (use --region)"
                ));
            }
        }
        r
    }

    fn region_for(&self, rc: &ResourceChange) -> String {
        if let Some(f) = &self.forced {
            return f.clone();
        }
        let config_address = rc.config_address();
        if let Some(key) = self.provider_of.get(&config_address) {
            // Module resources name their provider as `module.m:aws` in older plans.
            let key = key.rsplit(':').next().unwrap_or(key);
            if let Some(region) = self.by_key.get(key) {
                return region.clone();
            }
        }
        if self.by_key.is_empty() {
            // No region in the configuration: the resource's ARN or zone, if any.
            for v in [rc.change.after.as_ref(), rc.change.before.as_ref()]
                .into_iter()
                .flatten()
            {
                let a = Attrs::extract(Some(v), None, &["arn", "availability_zone"]);
                for k in ["arn", "availability_zone"] {
                    if let Some(r) = a.str(k).and_then(region::from_arn_or_zone) {
                        return r.to_string();
                    }
                }
            }
        }
        self.default.clone()
    }
}

fn provider_region(p: &Value, plan: &Plan) -> Option<String> {
    let expr = p.get("expressions")?.get("region")?;
    if let Some(s) = expr.get("constant_value").and_then(Value::as_str) {
        return Some(s.to_string());
    }
    // `region = var.region`: the root variable's value.
    let refs = expr.get("references").and_then(Value::as_array)?;
    for r in refs.iter().filter_map(Value::as_str) {
        if let Some(name) = r.strip_prefix("var.") {
            if let Some(v) = plan.variables.get(name) {
                // The reader keeps each variable's `value`.
                if let Some(s) = v.value_or_null().as_str() {
                    return Some(s.to_string());
                }
            }
        }
    }
    None
}

fn walk_providers(module: &Value, prefix: &str, out: &mut HashMap<String, String>) {
    if let Some(rs) = module.get("resources").and_then(Value::as_array) {
        for r in rs {
            if let (Some(addr), Some(key)) = (
                r.get("address").and_then(Value::as_str),
                r.get("provider_config_key").and_then(Value::as_str),
            ) {
                out.insert(format!("{prefix}{addr}"), key.to_string());
            }
        }
    }
    if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(m) = call.get("module") {
                walk_providers(m, &format!("{prefix}module.{name}."), out);
            }
        }
    }
}

/// Usage file entries that match no resource, and keys no model reads.
fn usage_warnings(usage: &Usage, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if usage.is_empty() {
        return out;
    }
    let mut types_by_addr: BTreeMap<String, &str> = BTreeMap::new();
    for rc in plan
        .resource_changes
        .iter()
        .filter(|r| r.mode == ResourceMode::Managed)
    {
        types_by_addr.insert(rc.address.clone(), &rc.resource_type);
        types_by_addr.insert(rc.config_address(), &rc.resource_type);
        if let Some(stripped) = rc.address.strip_suffix(']') {
            if let Some(open) = stripped.rfind('[') {
                types_by_addr.insert(format!("{}[*]", &rc.address[..open]), &rc.resource_type);
            }
        }
    }
    let check_keys = |path: String,
                      rtype: &str,
                      keys: &crate::usage::UsageValues,
                      out: &mut Vec<String>| {
        let Some(model) = model_for(rtype) else {
            out.push(format!("usage file: {path}: {rtype} has no usage-based cost model; its figures are not used"));
            return;
        };
        for k in keys.keys() {
            if !model.usage_keys.contains(&k.as_str()) {
                let known = if model.usage_keys.is_empty() {
                    "none".to_string()
                } else {
                    model.usage_keys.join(", ")
                };
                out.push(format!(
                    "usage file: {path}.{k} is not a usage key of {rtype} (known: {known})"
                ));
            }
        }
    };
    for (addr, keys) in &usage.by_address {
        match types_by_addr.get(addr) {
            None => out.push(format!(
                "usage file: resource_usage.{addr} matches no resource in the plan"
            )),
            Some(t) => check_keys(format!("resource_usage.{addr}"), t, keys, &mut out),
        }
    }
    for (t, keys) in &usage.by_type {
        check_keys(
            format!("resource_type_default_usage.{t}"),
            t,
            keys,
            &mut out,
        );
    }
    out
}

/// Removes the plan's sensitive values from every string of a cost summary.
pub fn redact(summary: &mut CostSummary, r: &Redactor) {
    if r.is_empty() {
        return;
    }
    let fix = |s: &mut String| *s = r.text(s);
    // Fixed texts hold no plan values; only owned ones can carry a secret.
    let fix_cow = |s: &mut std::borrow::Cow<'static, str>| {
        if let std::borrow::Cow::Owned(o) = s {
            *o = r.text(o);
        }
    };
    if let Some(n) = &mut summary.note {
        fix(n);
    }
    for w in &mut summary.warnings {
        fix(w);
    }
    for u in &mut summary.unpriced {
        fix(&mut u.reason);
    }
    for res in &mut summary.resources {
        for d in &mut res.details {
            fix(d);
        }
        for c in res.before.iter_mut().chain(res.after.iter_mut()) {
            fix_cow(&mut c.name);
            if r.text(&c.price_key) != c.price_key.as_ref() {
                c.price_key = std::borrow::Cow::Owned(r.text(&c.price_key));
            }
            if let Some(a) = &mut c.assumption {
                fix_cow(a);
            }
        }
    }
}
