//! Cost models: one function per resource type that turns the attributes of
//! one side of a change (before or after) into cost components.
//!
//! A model never guesses a price: every component is a catalogue row, and a
//! missing row for a non-zero quantity makes the resource unpriced with the
//! row it needed. Quantities the plan does not give come from the usage file
//! or from a documented default, and are marked as assumptions.

mod compute;
mod data;
mod network;
mod serverless;
mod services;

use crate::attrs::Attrs;
use crate::catalogue::{Catalogue, Price};
use crate::index::PlanIndex;
use crate::usage::UsageView;
use arbiter_plan::ResourceChange;
use arbiter_verdict::CostComponent;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A component's name or assumption: borrowed when it is a fixed text.
pub type Text = Cow<'static, str>;

/// Hours in a month, as AWS's calculator and Infracost count them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Why a side of a change has no components.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// No charge in this configuration (a gateway endpoint, a cache node
    /// billed through its replication group), with why.
    Free(String),
    /// Could not be priced, with why (missing row, unknown value, absurd size).
    Unpriced(String),
}

/// Which side of the change is being priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The prior state.
    Before,
    /// The planned state.
    After,
}

/// The state a model works on and the components it produces.
pub struct Pricer<'a> {
    pub(crate) catalogue: &'a Catalogue,
    pub(crate) region: &'a str,
    pub(crate) rc: &'a ResourceChange,
    pub(crate) attrs: &'a Attrs,
    pub(crate) usage: &'a UsageView<'a>,
    pub(crate) index: &'a PlanIndex<'a>,
    pub(crate) side: Side,
    pub(crate) components: Vec<CostComponent>,
    pub(crate) classes: Vec<arbiter_verdict::CostClass>,
    pub(crate) details: Vec<String>,
}

impl<'a> Pricer<'a> {
    /// The resource's address.
    pub fn address(&self) -> &str {
        &self.rc.address
    }

    /// The price of `component`/`sku` under the first of `types` that has it.
    pub fn price(&self, types: &[&str], component: &str, sku: &str) -> Result<&'a Price, Stop> {
        self.try_price(types, component, sku).ok_or_else(|| {
            Stop::Unpriced(format!(
                "no {} price for {} {component} {sku:?} in the catalogue",
                self.region,
                types.first().copied().unwrap_or_default()
            ))
        })
    }

    /// Like [`Pricer::price`], `None` when missing.
    pub fn try_price(&self, types: &[&str], component: &str, sku: &str) -> Option<&'a Price> {
        types
            .iter()
            .find_map(|t| self.catalogue.lookup(self.region, t, component, sku))
    }

    /// Adds `quantity` units of `price` (quantity already monthly).
    pub fn add(
        &mut self,
        name: impl Into<Text>,
        unit: &'static str,
        quantity: f64,
        price: &Price,
        assumption: Option<Text>,
    ) {
        let monthly = quantity * price.usd;
        self.components.push(CostComponent {
            name: name.into(),
            unit: std::borrow::Cow::Borrowed(unit),
            quantity,
            unit_price_usd: price.usd,
            monthly_usd: monthly,
            assumed: assumption.is_some(),
            assumption,
            price_key: price.key.clone(),
            price_source: price.cite.clone(),
        });
    }

    /// Adds a priced component of `quantity` units; a missing price is an
    /// error only when the quantity is not zero (nothing to bill otherwise).
    #[allow(clippy::too_many_arguments)]
    pub fn add_priced(
        &mut self,
        name: impl Into<Text>,
        unit: &'static str,
        quantity: f64,
        types: &[&str],
        component: &str,
        sku: &str,
        assumption: Option<Text>,
    ) -> Result<(), Stop> {
        match self.try_price(types, component, sku) {
            Some(p) => {
                self.add(name, unit, quantity, p, assumption);
                Ok(())
            }
            None if quantity == 0.0 => Ok(()),
            None => Err(self
                .price(types, component, sku)
                .err()
                .unwrap_or_else(|| Stop::Unpriced(format!("no price for {component} {sku}")))),
        }
    }

    /// A usage figure: the usage file's `key`, else `default` (stated as an
    /// assumption). `scale` converts it to the price's unit.
    #[allow(clippy::too_many_arguments)]
    pub fn add_usage(
        &mut self,
        name: impl Into<Text>,
        unit: &'static str,
        key: &'static str,
        default: f64,
        scale: f64,
        types: &[&str],
        component: &str,
        sku: &str,
    ) -> Result<(), Stop> {
        let (q, assumption) = self.usage_value(key, default);
        self.add_priced(name, unit, q * scale, types, component, sku, assumption)
    }

    /// A usage figure billed in tiers: the usage file's `key` (else 0, stated
    /// as an assumption) times `scale`, split over `tiers` of
    /// `(component, label, size)` in the price's unit (the last tier's size
    /// is ignored: it takes the rest). The first tier is always shown (with
    /// the assumption); later ones only when the quantity reaches them.
    #[allow(clippy::too_many_arguments)]
    pub fn add_tiered(
        &mut self,
        name: &str,
        unit: &'static str,
        key: &'static str,
        scale: f64,
        tiers: &[(&str, &str, f64)],
        types: &[&str],
        sku: &str,
    ) -> Result<(), Stop> {
        let (q, assumption) = self.usage_value(key, 0.0);
        self.add_tiers(name, unit, q * scale, tiers, types, sku, assumption)
    }

    /// Like [`Pricer::add_tiered`] for a quantity already in the price's unit.
    #[allow(clippy::too_many_arguments)]
    pub fn add_tiers(
        &mut self,
        name: &str,
        unit: &'static str,
        quantity: f64,
        tiers: &[(&str, &str, f64)],
        types: &[&str],
        sku: &str,
        assumption: Option<Text>,
    ) -> Result<(), Stop> {
        let mut left = quantity;
        let last = tiers.len().saturating_sub(1);
        for (i, (component, label, size)) in tiers.iter().enumerate() {
            let q = if i == last { left } else { left.min(*size) };
            if i == 0 || q > 0.0 {
                self.add_priced(
                    format!("{name} ({label})"),
                    unit,
                    q,
                    types,
                    component,
                    sku,
                    if i == 0 { assumption.clone() } else { None },
                )?;
            }
            left -= q;
        }
        Ok(())
    }

    /// `count` things billed by the hour all month (instances × count or
    /// desired capacity, cache nodes, brokers, endpoints, or one of anything
    /// with an hourly fee): `HOURS_PER_MONTH × count` hours at the price of
    /// `component`/`sku`, named `name` (for several, usually
    /// [`times`]`(what, count)`). Returns the price, for callers that show it.
    pub fn add_hourly(
        &mut self,
        name: impl Into<Text>,
        count: f64,
        types: &[&str],
        component: &str,
        sku: &str,
        assumption: Option<Text>,
    ) -> Result<&'a Price, Stop> {
        let price = self.price(types, component, sku)?;
        self.add(name, "hours", HOURS_PER_MONTH * count, price, assumption);
        Ok(price)
    }

    /// An hourly charge plus the data it processes (NAT gateways, classic
    /// load balancers, transit gateway attachments, firewall endpoints…):
    /// [`Pricer::add_hourly`] of the `hours` component, then "Data processed"
    /// in GB of the `data` component, from the usage file's
    /// `monthly_data_processed_gb` (else 0, stated as an assumption). Both
    /// rows have the same `sku`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_hourly_and_data(
        &mut self,
        name: impl Into<Text>,
        count: f64,
        assumption: Option<Text>,
        types: &[&str],
        hours: &str,
        data: &str,
        sku: &str,
    ) -> Result<(), Stop> {
        self.add_hourly(name, count, types, hours, sku, assumption)?;
        self.add_usage(
            "Data processed",
            "GB",
            "monthly_data_processed_gb",
            0.0,
            1.0,
            types,
            data,
            sku,
        )
    }

    /// The usage file's value of `key`, or `default` with the assumption text.
    pub fn usage_value(&self, key: &'static str, default: f64) -> (f64, Option<Text>) {
        match self.usage.get(key) {
            Some(v) => (v, None),
            None => (default, Some(no_usage(key, default))),
        }
    }

    /// A numeric attribute checked for sanity: `None` when absent or null; an
    /// error when negative, not finite or above `max` (a slip, not a size).
    pub fn checked(&self, key: &str, max: f64) -> Result<Option<f64>, Stop> {
        match self.attrs.num(key) {
            None => Ok(None),
            Some(v) => check(key, v, max).map(Some),
        }
    }

    /// Marks the resource as falling in an expensive class.
    pub fn class(&mut self, class: arbiter_verdict::CostClass, detail: String) {
        if !self.classes.contains(&class) {
            self.classes.push(class);
        }
        if !detail.is_empty() && !self.details.contains(&detail) {
            self.details.push(detail);
        }
    }

    /// A stop for a value the plan knows only after apply.
    pub fn unknown(&self, key: &str) -> Stop {
        Stop::Unpriced(format!("{key} is known only after apply"))
    }
}

/// "no usage given: 0 assumed; set KEY in the usage file", made once per key:
/// a large plan states it for thousands of components.
pub fn no_usage(key: &'static str, default: f64) -> Text {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let text = |k: &str| {
        format!(
            "no usage given: {} assumed; set {k} in the usage file",
            trim_num(default)
        )
    };
    if default != 0.0 {
        return Cow::Owned(text(key));
    }
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    match cache.lock() {
        Ok(mut m) => {
            // A handful of keys, each leaked once: bounded by the models' key lists.
            let s: &'static str = m
                .entry(key)
                .or_insert_with(|| Box::leak(text(key).into_boxed_str()));
            Cow::Borrowed(s)
        }
        Err(_) => Cow::Owned(text(key)),
    }
}

/// Checks that an attribute value is a plausible amount.
pub fn check(key: &str, v: f64, max: f64) -> Result<f64, Stop> {
    if !v.is_finite() {
        return Err(Stop::Unpriced(format!(
            "{key} = {v} is not a finite number"
        )));
    }
    if v < 0.0 {
        return Err(Stop::Unpriced(format!(
            "{key} = {} is negative",
            trim_num(v)
        )));
    }
    if v > max {
        return Err(Stop::Unpriced(format!(
            "{key} = {} is beyond any real size (at most {} expected)",
            trim_num(v),
            trim_num(max)
        )));
    }
    Ok(v)
}

/// "`what` × `count`": the name of a component for several identical things.
pub fn times(what: &str, count: f64) -> String {
    format!("{what} × {}", trim_num(count))
}

/// `3`, `0.5`, `1.25e12` without trailing zeros.
pub fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v}");
        s
    }
}

/// A model: the attributes it reads, the usage keys it understands, and the
/// function that prices one side.
pub struct Model {
    /// Terraform resource type.
    pub resource_type: &'static str,
    /// Top-level attributes read from the plan.
    pub keys: &'static [&'static str],
    /// Usage file keys (dotted for nested ones).
    pub usage_keys: &'static [&'static str],
    /// Prices one side.
    pub price: fn(&mut Pricer<'_>) -> Result<(), Stop>,
}

/// Every model, sorted by resource type.
pub fn models() -> &'static [Model] {
    MODELS
}

/// Services priced the same wherever the provider points (edge and DNS
/// services): their prices are looked up in [`GLOBAL_PRICE_REGION`] and the
/// resource is shown in region `global`.
pub fn is_global(resource_type: &str) -> bool {
    matches!(
        resource_type,
        "aws_cloudfront_distribution"
            | "aws_globalaccelerator_accelerator"
            | "aws_route53_health_check"
            | "aws_route53_record"
            | "aws_route53_zone"
    )
}

/// The region whose rows hold the prices of global services (AWS lists them
/// under US East, N. Virginia).
pub const GLOBAL_PRICE_REGION: &str = "us-east-1";

/// The model of a resource type.
pub fn model_for(resource_type: &str) -> Option<&'static Model> {
    MODELS
        .binary_search_by(|m| m.resource_type.cmp(resource_type))
        .ok()
        .and_then(|i| MODELS.get(i))
}

/// The table of models. Kept sorted (a unit test checks it).
static MODELS: &[Model] = &[
    serverless::ACM_CERTIFICATE,
    network::ALB,
    services::API_GATEWAY_REST_API,
    services::APIGATEWAYV2_API,
    compute::ASG,
    services::CLOUDFRONT_DISTRIBUTION,
    services::CLOUDWATCH_DASHBOARD,
    data::CLOUDWATCH_LOG_GROUP,
    data::CLOUDWATCH_METRIC_ALARM,
    services::CONFIG_RULE,
    data::DB_INSTANCE,
    data::DOCDB_CLUSTER,
    data::DOCDB_CLUSTER_INSTANCE,
    data::DYNAMODB_TABLE,
    compute::EBS_SNAPSHOT,
    compute::EBS_SNAPSHOT_COPY,
    compute::EBS_VOLUME,
    network::CLIENT_VPN_ENDPOINT,
    network::CLIENT_VPN_ASSOCIATION,
    network::TGW_PEERING_ATTACHMENT,
    network::TGW_VPC_ATTACHMENT,
    serverless::ECR_REPOSITORY,
    serverless::ECS_SERVICE,
    serverless::ECS_TASK_DEFINITION,
    serverless::EFS_FILE_SYSTEM,
    network::EIP,
    serverless::EKS_CLUSTER,
    compute::EKS_NODE_GROUP,
    data::ELASTICACHE_CLUSTER,
    data::ELASTICACHE_REPLICATION_GROUP,
    data::ELASTICSEARCH_DOMAIN,
    network::ELB,
    services::GLOBAL_ACCELERATOR,
    compute::INSTANCE,
    services::KINESIS_STREAM,
    serverless::KMS_KEY,
    serverless::KMS_REPLICA_KEY,
    serverless::LAMBDA_FUNCTION,
    network::LB,
    services::MQ_BROKER,
    data::MSK_CLUSTER,
    network::NAT_GATEWAY,
    network::NETWORK_FIREWALL,
    data::OPENSEARCH_DOMAIN,
    data::RDS_CLUSTER,
    data::RDS_CLUSTER_INSTANCE,
    data::REDSHIFT_CLUSTER,
    network::ROUTE53_HEALTH_CHECK,
    network::ROUTE53_RECORD,
    network::RESOLVER_ENDPOINT,
    network::ROUTE53_ZONE,
    serverless::S3_BUCKET,
    serverless::SECRETSMANAGER_SECRET,
    services::SFN_STATE_MACHINE,
    serverless::SNS_TOPIC,
    serverless::SNS_TOPIC_SUBSCRIPTION,
    serverless::SQS_QUEUE,
    network::VPC_ENDPOINT,
    network::VPN_CONNECTION,
    services::WAFV2_WEB_ACL,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_table_is_sorted_and_unique() {
        for w in MODELS.windows(2) {
            assert!(
                w[0].resource_type < w[1].resource_type,
                "{} must come before {}",
                w[1].resource_type,
                w[0].resource_type
            );
        }
        assert!(model_for("aws_instance").is_some());
        assert!(model_for("aws_nope").is_none());
    }
}
