//! The vocabulary of a judgement: findings, severities, effects, critic reports,
//! decisions and the [`Verdict`] itself.
//!
//! Every engine (policies, critics, the judge) speaks these types; only
//! `arbiter-report` turns them into text, JSON, SARIF or markdown. This crate
//! knows nothing about Terraform, Rego or HTTP.

pub mod fix;
pub mod money;
pub mod schema;

pub use fix::{AttrPath, Counterfactual, FixAction, FixStep, RemainingFinding};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

/// How bad a finding is, independent of what it does to the decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Exploitable or destructive as it stands.
    Critical,
    /// Serious weakness.
    High,
    /// Weakness that matters in some contexts.
    Medium,
    /// Minor weakness.
    Low,
    /// Hygiene or context, never a weakness on its own.
    Info,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lowercase name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Parses a severity name (case-insensitive); `None` when unknown.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" | "informational" | "none" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding does to the decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Rules the change out: the decision is `reject`.
    Deny,
    /// Needs a person: the decision is at best `review`.
    Escalate,
    /// Lowers confidence a little; never blocks on its own.
    Warn,
    /// Context only; no effect on the decision.
    Info,
}

impl Effect {
    /// The lowercase name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Deny => "deny",
            Effect::Escalate => "escalate",
            Effect::Warn => "warn",
            Effect::Info => "info",
        }
    }

    /// Parses an effect name (case-insensitive); `None` when unknown.
    pub fn parse(s: &str) -> Option<Effect> {
        match s.trim().to_ascii_lowercase().as_str() {
            "deny" | "violation" | "reject" => Some(Effect::Deny),
            "escalate" | "review" => Some(Effect::Escalate),
            "warn" | "warning" => Some(Effect::Warn),
            "info" => Some(Effect::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a finding relates to the change being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRelation {
    /// The change introduces the weakness (it is absent before, present after).
    #[default]
    Introduced,
    /// The weakness exists before and after; the change leaves it untouched.
    Preexisting,
    /// The weakness exists before and the change removes it.
    Fixed,
    /// The finding is about the change itself (an action, a count), not a state.
    Change,
}

impl ChangeRelation {
    /// The snake_case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeRelation::Introduced => "introduced",
            ChangeRelation::Preexisting => "preexisting",
            ChangeRelation::Fixed => "fixed",
            ChangeRelation::Change => "change",
        }
    }
}

/// Where a finding's rule is defined (for SARIF and for "see rule" links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceLocation {
    /// File path as given by the user, or `builtin:<file>` for the rule pack.
    pub file: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// One observation by a rule, a policy or a critic.
///
/// Guarantee: `message`, `evidence` and `remediation` never contain a value the
/// plan marks as sensitive once the judge has redacted the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable identifier: a built-in rule ID (`ARB-AWS-IAM-001`), a policy rule
    /// (`policy:main.deny`) or a critic finding (`BLAST-DELETE-STATEFUL`).
    pub rule_id: String,
    /// What produced it: `builtin`, `policy`, or `critic:<name>`.
    pub source: String,
    /// How bad it is.
    pub severity: Severity,
    /// What it does to the decision.
    pub effect: Effect,
    /// Resource address it is about, if any.
    pub address: Option<String>,
    /// One sentence a reviewer can check.
    pub message: String,
    /// Short title of the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Values that support the message (attribute paths and values, ports…).
    #[serde(default, skip_serializing_if = "is_null_or_empty")]
    pub evidence: serde_json::Value,
    /// Whether the change introduces, keeps or fixes the weakness.
    #[serde(default)]
    pub relation: ChangeRelation,
    /// Corresponding checks of other tools (e.g. Checkov IDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Where the rule is defined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
    /// Confidence points (0–100 scale) this finding costs; filled by the judge.
    #[serde(default)]
    pub confidence_cost: f64,
    /// The waiver that matches this finding, if any. An active waiver makes
    /// the finding cost nothing and block nothing; an expired one is shown
    /// (with `expired: true`) but changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverMark>,
    /// True when this finding alone keeps the change out of auto-approve
    /// through the stack's floor for introduced weaknesses
    /// (`escalate_introduced_at`), whatever the points.
    #[serde(default, skip_serializing_if = "is_false")]
    pub held_by_floor: bool,
    /// The mechanical fix the rule declares (steps on the resource's
    /// attribute values); empty when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<FixStep>,
}

/// A waiver as it applies to one finding: who accepted the risk, why, and
/// until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaiverMark {
    /// Server-side waiver ID; absent for waivers from a stack file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The waived rule ID.
    pub rule: String,
    /// The address glob the waiver names.
    pub address: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the decision.
    pub owner: String,
    /// Last day (UTC) on which the waiver counts, `YYYY-MM-DD`.
    pub expires: String,
    /// True when the waiver has expired: the finding counts as if unwaived.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expired: bool,
}

impl Finding {
    /// Whether an unexpired waiver covers this finding.
    pub fn is_waived(&self) -> bool {
        self.waiver.as_ref().is_some_and(|w| !w.expired)
    }
}

fn is_null_or_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

impl Finding {
    /// A finding with the given identity and message; other fields empty.
    pub fn new(
        rule_id: impl Into<String>,
        source: impl Into<String>,
        severity: Severity,
        effect: Effect,
        address: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule_id: rule_id.into(),
            source: source.into(),
            severity,
            effect,
            address,
            message: message.into(),
            title: None,
            remediation: None,
            evidence: serde_json::Value::Null,
            relation: ChangeRelation::Introduced,
            references: Vec::new(),
            location: None,
            confidence_cost: 0.0,
            waiver: None,
            held_by_floor: false,
            fix: Vec::new(),
        }
    }
}

/// A critic's part in a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CriticReport {
    /// Critic name (`security`, `blast_radius`, …).
    pub name: String,
    /// Risk in `[0, 1]`; 0 means the critic sees nothing to worry about.
    pub risk: f64,
    /// Number of findings this critic contributed.
    pub findings: usize,
    /// One line on what drove the risk.
    pub summary: String,
}

/// The tiered decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Within policy and confident enough: may be applied without a person.
    Approve,
    /// Needs a person.
    Review,
    /// Forbidden by a rule or policy.
    Reject,
}

impl Decision {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Review => "review",
            Decision::Reject => "reject",
        }
    }

    /// Process exit code of `arbiter evaluate` (and `submit`): 0 approve, 2
    /// review, 3 reject. The one table of them; 1 is every error.
    pub fn exit_code(self) -> u8 {
        match self {
            Decision::Approve => 0,
            Decision::Review => 2,
            Decision::Reject => 3,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Decision {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Decision, UnknownName> {
        [Decision::Approve, Decision::Review, Decision::Reject]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownName::new("decision", s, "approve, review, reject"))
    }
}

/// A spelling that names none of a vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named (`decision`, `environment`, …).
    pub what: &'static str,
    /// The text given (at most 64 characters).
    pub text: String,
    /// The accepted spellings.
    pub expected: &'static str,
}

impl UnknownName {
    /// The error for `text`, clipped.
    pub fn new(what: &'static str, text: &str, expected: &'static str) -> UnknownName {
        UnknownName {
            what,
            text: text.chars().take(64).collect(),
            expected,
        }
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} must be one of {}",
            self.what, self.text, self.expected
        )
    }
}

impl std::error::Error for UnknownName {}

/// The environment a stack deploys to (PRODUCT.md §2); weighs how much a
/// change there can hurt. Written `prod`, `staging`, `dev`, `ephemeral`
/// (the only spellings the API accepts); a stack file may also use the
/// aliases of [`Environment::parse_alias`]. Where none is known the judge
/// works with `None`, judged like production (fail safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Production.
    Prod,
    /// Staging / pre-production.
    Staging,
    /// Development.
    Dev,
    /// Short-lived (preview, per-branch) environment.
    Ephemeral,
}

impl Environment {
    /// Every environment, most sensitive first.
    pub const ALL: [Environment; 4] = [
        Environment::Prod,
        Environment::Staging,
        Environment::Dev,
        Environment::Ephemeral,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Prod => "prod",
            Environment::Staging => "staging",
            Environment::Dev => "dev",
            Environment::Ephemeral => "ephemeral",
        }
    }

    /// Parses the canonical names and the common spellings a stack file may
    /// use (`production`, `stage`, `development`, `preview`, …; any case);
    /// `None` when unrecognised.
    pub fn parse_alias(s: &str) -> Option<Environment> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prod" | "production" | "prd" | "live" => Some(Environment::Prod),
            "staging" | "stage" | "stg" | "preprod" | "pre-prod" | "uat" | "qa" => {
                Some(Environment::Staging)
            }
            "dev" | "development" | "sandbox" | "test" | "testing" => Some(Environment::Dev),
            "ephemeral" | "preview" | "review" | "temp" | "temporary" => {
                Some(Environment::Ephemeral)
            }
            _ => None,
        }
    }

    /// How much a change here can hurt, relative to production (1.0); an
    /// unknown environment (`None`) weighs like production.
    pub fn weight(env: Option<Environment>) -> f64 {
        match env {
            Some(Environment::Prod) | None => 1.0,
            Some(Environment::Staging) => 0.5,
            Some(Environment::Dev) => 0.25,
            Some(Environment::Ephemeral) => 0.1,
        }
    }

    /// How an environment is named in findings and explanations; an unknown
    /// one says it is judged as prod.
    pub fn name(env: Option<Environment>) -> &'static str {
        env.map_or("unknown environment (judged as prod)", Environment::as_str)
    }

    /// Production-like: prod, or unknown.
    pub fn is_production_like(env: Option<Environment>) -> bool {
        matches!(env, Some(Environment::Prod) | None)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Only the canonical names (what the API accepts).
impl std::str::FromStr for Environment {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Environment, UnknownName> {
        Environment::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownName::new("environment", s, "prod, staging, dev, ephemeral"))
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Environment, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An expensive class a priced resource falls in after the change.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum CostClass {
    /// GPU or other accelerator (`gpu`).
    #[serde(rename = "gpu")]
    Gpu,
    /// Provisioned IOPS storage (`provisioned-iops`).
    #[serde(rename = "provisioned-iops")]
    ProvisionedIops,
    /// Multi-AZ deployment (`multi-az`).
    #[serde(rename = "multi-az")]
    MultiAz,
}

impl CostClass {
    /// The name in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            CostClass::Gpu => "gpu",
            CostClass::ProvisionedIops => "provisioned-iops",
            CostClass::MultiAz => "multi-az",
        }
    }
}

impl fmt::Display for CostClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Count of resource changes per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionSummary {
    /// Resources created.
    pub create: usize,
    /// Resources updated in place.
    pub update: usize,
    /// Resources destroyed.
    pub delete: usize,
    /// Resources replaced (either order).
    pub replace: usize,
    /// Resources unchanged.
    pub no_op: usize,
    /// Data sources read.
    pub read: usize,
    /// Resources removed from state without being destroyed.
    #[serde(default)]
    pub forget: usize,
}

impl ActionSummary {
    /// Number of changes that alter infrastructure (everything but no-op and read).
    pub fn changing(&self) -> usize {
        self.create + self.update + self.delete + self.replace + self.forget
    }
}

/// Monthly cost figures of the change, with the breakdown behind them.
///
/// Produced by the cost engine (`arbiter-cost`); a verdict carries it as its
/// `cost` section. Guarantees when `computed` is true: the totals are the sums
/// over `resources` plus the resources left out of the list (see
/// `omitted_resources`), every resource in `unpriced` is excluded from both
/// totals, and every figure that rests on an assumption is marked so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostSummary {
    /// Monthly cost of the resources before the change, USD.
    pub monthly_before_usd: f64,
    /// Monthly cost after the change, USD.
    pub monthly_after_usd: f64,
    /// `after - before`, USD.
    pub monthly_delta_usd: f64,
    /// Whether a pricing engine produced these figures; `false` means all zero
    /// because nothing was priced.
    pub computed: bool,
    /// Why the figures are what they are (e.g. "no pricing catalogue").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Region the plan was priced in (the provider's, `--region`, or the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Which catalogue the prices come from (embedded version or a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<String>,
    /// Priced resources whose cost is not zero or changes, largest change first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceCost>,
    /// Priced resources counted in the totals but left out of `resources`
    /// (to keep a verdict small); 0 in a full breakdown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_resources: usize,
    /// Resources that could not be priced, with why. Not in the totals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<UnpricedResource>,
    /// Unpriced resources left out of `unpriced` (to keep a verdict small).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_unpriced: usize,
    /// How many resources were priced, known to be free, or could not be priced.
    #[serde(default)]
    pub counts: CostCounts,
    /// Problems met while pricing (usage file keys that match nothing, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl CostSummary {
    /// Keeps at most `max` resources and `max` unpriced entries (the largest
    /// changes first, as sorted by the engine), counting what was left out.
    /// The totals are untouched.
    pub fn truncate(&mut self, max: usize) {
        if self.resources.len() > max {
            self.omitted_resources += self.resources.len() - max;
            self.resources.truncate(max);
        }
        if self.unpriced.len() > max {
            self.omitted_unpriced += self.unpriced.len() - max;
            self.unpriced.truncate(max);
        }
    }
}

/// How many resources of a plan fell in each pricing outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CostCounts {
    /// Resources with a cost model and catalogue prices.
    pub priced: usize,
    /// Resources known to have no charge of their own.
    pub free: usize,
    /// Resources that could not be priced (see `CostSummary::unpriced`).
    pub unpriced: usize,
    /// Cost components whose quantity is an assumption (a default or a
    /// stated guess for a value unknown until apply), not a plan value.
    pub assumed_components: usize,
}

/// The monthly cost of one resource before and after the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceCost {
    /// Full resource address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `create`, `update`, `delete`, `replace`, `no-op`, `forget`.
    pub action: String,
    /// Region the resource was priced in.
    pub region: String,
    /// Monthly cost before the change (0 when created), USD.
    pub monthly_before_usd: f64,
    /// Monthly cost after the change (0 when destroyed), USD.
    pub monthly_after_usd: f64,
    /// `after - before`, USD.
    pub monthly_delta_usd: f64,
    /// Components of the cost before the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<CostComponent>,
    /// Components of the cost after the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<CostComponent>,
    /// Expensive classes the resource falls in after the change: `gpu`
    /// (GPU or other accelerator), `provisioned-iops`, `multi-az`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<CostClass>,
    /// Facts behind the classes, for findings: e.g. "8 × NVIDIA A100".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// One line of a cost breakdown: quantity × unit price = monthly cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostComponent {
    /// What is billed, e.g. "Instance usage (Linux/UNIX, on-demand, t3.medium)".
    pub name: Cow<'static, str>,
    /// Unit of `quantity` ("hours", "GB", "1M requests", …).
    pub unit: Cow<'static, str>,
    /// Monthly quantity (730 hours a month).
    pub quantity: f64,
    /// USD per unit.
    pub unit_price_usd: f64,
    /// `quantity × unit_price_usd`, USD per month.
    pub monthly_usd: f64,
    /// True when the quantity is an assumption rather than a plan value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub assumed: bool,
    /// What was assumed and how to change it (usage file key, attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumption: Option<Cow<'static, str>>,
    /// Catalogue key of the price: `resource_type/component/sku`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub price_key: Cow<'static, str>,
    /// Where the price comes from and as of when (catalogue row).
    // `Cow`: the embedded catalogue's texts are static, so the thousands of
    // components of a large plan borrow them instead of copying each.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub price_source: Cow<'static, str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A resource the cost engine could not price, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnpricedResource {
    /// Full resource address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `create`, `update`, `delete`, `replace`, `no-op`, `forget`.
    pub action: String,
    /// Why: the missing catalogue row, the unknown value, the unsupported type.
    pub reason: String,
    /// `usage-based` when the type is billed only by usage the engine does not
    /// model (no fixed charge); `no-price` otherwise.
    pub kind: String,
}

/// How one attribute of a resource changes, ready for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttributeDelta {
    /// Attribute path such as `tags.env` or `ingress[0].cidr_blocks[1]`.
    pub path: String,
    /// Rendered old value (`null` when absent); `"(sensitive)"` when masked.
    pub before: serde_json::Value,
    /// Rendered new value; `"(known after apply)"` when unknown.
    pub after: serde_json::Value,
}

/// One resource change as shown to a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeView {
    /// Full resource address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `create`, `update`, `delete`, `replace`, `read`, `no-op`, `forget`.
    pub action: String,
    /// Address before a `moved` block, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_address: Option<String>,
    /// Attribute-level differences (sensitive values masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeDelta>,
}

/// The stack the change was judged against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackInfo {
    /// Stack name, if known.
    pub name: Option<String>,
    /// Environment (`prod`, `staging`, `dev`, `ephemeral`), if known.
    pub environment: Option<String>,
    /// Labels such as `team:payments`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Monthly budget in USD, if any.
    pub monthly_budget_usd: Option<f64>,
    /// Confidence needed for approval.
    pub auto_apply_threshold: f64,
    /// Severity from which a weakness the change introduces keeps it out of
    /// auto-approve, whatever the points; absent when the floor is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_introduced_at: Option<Severity>,
}

/// Facts about the judged plan file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanInfo {
    /// The `format_version` the file declared.
    pub format_version: Option<String>,
    /// The Terraform/OpenTofu version that wrote it.
    pub terraform_version: Option<String>,
}

/// The verdict on one change: deterministic for the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// `approve`, `review` or `reject`.
    pub decision: Decision,
    /// 0–100, `100 × Π(1 − risk)` over the critics.
    pub confidence: f64,
    /// Changes per action.
    pub summary: ActionSummary,
    /// Every finding, most important first.
    pub findings: Vec<Finding>,
    /// One report per critic.
    pub critics: Vec<CriticReport>,
    /// Monthly cost figures.
    pub cost: CostSummary,
    /// Why the decision is what it is, in a few sentences.
    pub explanation: String,
    /// The stack context used.
    pub stack: StackInfo,
    /// Facts about the plan file.
    pub plan: PlanInfo,
    /// Resource-by-resource view of the change (sensitive values masked).
    pub changes: Vec<ChangeView>,
    /// Non-fatal problems met while judging (newer format version, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The verdict with every finding's mechanical fix applied; present only
    /// when some finding has a fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterfactual: Option<Counterfactual>,
}

impl Verdict {
    /// Distinct rule IDs among the findings, sorted.
    pub fn rule_ids(&self) -> BTreeSet<&str> {
        self.findings.iter().map(|f| f.rule_id.as_str()).collect()
    }

    /// Findings that change the decision or cost confidence.
    pub fn significant_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| {
            matches!(f.effect, Effect::Deny | Effect::Escalate) || f.confidence_cost > 0.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_and_effect_names_round_trip() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for e in [Effect::Deny, Effect::Escalate, Effect::Warn, Effect::Info] {
            assert_eq!(Effect::parse(e.as_str()), Some(e));
        }
        assert_eq!(Severity::parse("bogus"), None);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Decision::Approve.exit_code(), 0);
        assert_eq!(Decision::Review.exit_code(), 2);
        assert_eq!(Decision::Reject.exit_code(), 3);
    }

    #[test]
    fn vocabularies_round_trip_and_refuse_other_spellings() {
        for d in [Decision::Approve, Decision::Review, Decision::Reject] {
            assert_eq!(d.as_str().parse::<Decision>(), Ok(d));
            let j = serde_json::to_string(&d).unwrap_or_default();
            assert_eq!(j, format!("\"{d}\""));
        }
        for e in Environment::ALL {
            assert_eq!(e.as_str().parse::<Environment>(), Ok(e));
            assert_eq!(Environment::parse_alias(e.as_str()), Some(e));
            let j = serde_json::to_string(&e).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Environment>(&j).ok(), Some(e));
        }
        assert_eq!(
            Environment::parse_alias("Production"),
            Some(Environment::Prod)
        );
        assert_eq!(Environment::parse_alias("uat"), Some(Environment::Staging));
        assert_eq!(Environment::parse_alias("elsewhere"), None);
        let e = "production"
            .parse::<Environment>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("environment \"production\" must be one of prod, staging, dev, ephemeral")
        );
        assert!(serde_json::from_str::<Environment>("\"production\"").is_err());
        assert!(Environment::weight(Some(Environment::Staging)) < Environment::weight(None));
        for c in [
            CostClass::Gpu,
            CostClass::ProvisionedIops,
            CostClass::MultiAz,
        ] {
            let j = serde_json::to_string(&c).unwrap_or_default();
            assert_eq!(j, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<CostClass>(&j).ok(), Some(c));
        }
    }
}
