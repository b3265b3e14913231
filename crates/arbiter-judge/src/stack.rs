//! The stack file (`STACK.toml`): every key optional, unknown keys refused.

use crate::waiver::Waiver;
use arbiter_critics::Environment;
use arbiter_verdict::Severity;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::Path;

/// Default confidence needed for approval.
pub const DEFAULT_THRESHOLD: f64 = 95.0;

/// Rule-pack adjustments in a stack file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Rule IDs to disable.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Rule ID → new severity.
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
    /// Rule ID → new effect.
    #[serde(default)]
    pub effect: BTreeMap<String, String>,
}

/// A stack as described by PRODUCT.md §4.1.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// Stack name.
    #[serde(default)]
    pub name: Option<String>,
    /// `prod`, `staging`, `dev`, `ephemeral`.
    #[serde(default)]
    pub environment: Option<String>,
    /// Labels such as `team:payments`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Monthly budget in USD.
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
    /// Confidence (0–100) needed for approval; default 95.
    #[serde(default)]
    pub auto_apply_threshold: Option<f64>,
    /// Rule-pack adjustments.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Severity from which a weakness the change introduces keeps it out of
    /// auto-approve whatever the points (`critical`…`info`, or `off`);
    /// default by environment, see [`IntroducedFloor::default_for`].
    #[serde(default)]
    pub escalate_introduced_at: Option<IntroducedFloor>,
    /// Accepted risks: findings they match cost nothing and block nothing
    /// until they expire.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

/// The floor for introduced weaknesses: a built-in rule finding that the
/// change introduces (by an update or by creating the resource), with this
/// severity or worse, keeps the change out of auto-approve whatever the
/// confidence points.
///
/// Why: a single weakening of a production resource (IMDSv1 allowed again,
/// encryption or deletion protection switched off) costs only a point or two
/// of confidence, so a plan that makes it still scores above the threshold.
/// Points measure how much is at stake in a change as a whole; they cannot
/// tell "one small weakening" from "nothing". The floor makes the rule
/// "never auto-approve a new weakness in production" hold regardless of
/// weights, while pre-existing weaknesses and fixes stay out of the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntroducedFloor {
    /// No floor: points alone decide.
    Off,
    /// Introduced findings of this severity or worse hold the change.
    At(Severity),
}

impl IntroducedFloor {
    /// The default: `medium` in prod and unknown environments, `high` in
    /// staging, off in dev and ephemeral stacks.
    pub fn default_for(env: Option<Environment>) -> IntroducedFloor {
        match env {
            Some(Environment::Prod) | None => IntroducedFloor::At(Severity::Medium),
            Some(Environment::Staging) => IntroducedFloor::At(Severity::High),
            Some(Environment::Dev | Environment::Ephemeral) => IntroducedFloor::Off,
        }
    }

    /// Parses `off` (also `none`, `never`) or a severity name.
    pub fn parse(s: &str) -> Option<IntroducedFloor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "never" => Some(IntroducedFloor::Off),
            other => Severity::parse(other).map(IntroducedFloor::At),
        }
    }

    /// The severity from which findings are held, `None` when off.
    pub fn severity(self) -> Option<Severity> {
        match self {
            IntroducedFloor::Off => None,
            IntroducedFloor::At(s) => Some(s),
        }
    }

    /// The spelling used in stack files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IntroducedFloor::Off => "off",
            IntroducedFloor::At(s) => s.as_str(),
        }
    }

    /// Whether a finding of severity `s` reaches the floor.
    pub fn holds(self, s: Severity) -> bool {
        // Severities order from critical (smallest) to info.
        self.severity().is_some_and(|floor| s <= floor)
    }
}

impl<'de> Deserialize<'de> for IntroducedFloor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IntroducedFloor::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not critical|high|medium|low|info|off"))
        })
    }
}

impl serde::Serialize for IntroducedFloor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl StackConfig {
    /// Reads and validates a stack file.
    pub fn from_file(path: &Path) -> Result<StackConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading stack file {}: {e}", path.display()))?;
        StackConfig::from_toml(&text).map_err(|e| format!("stack file {}: {e}", path.display()))
    }

    /// Parses and validates stack TOML.
    pub fn from_toml(text: &str) -> Result<StackConfig, String> {
        let cfg: StackConfig = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(t) = self.auto_apply_threshold {
            if !(0.0..=100.0).contains(&t) || t.is_nan() {
                return Err(format!(
                    "auto_apply_threshold must be between 0 and 100, got {t}"
                ));
            }
        }
        if let Some(b) = self.monthly_budget_usd {
            if b < 0.0 || b.is_nan() || b.is_infinite() {
                return Err(format!(
                    "monthly_budget_usd must be a non-negative number, got {b}"
                ));
            }
        }
        for (i, w) in self.waivers.iter().enumerate() {
            w.validate()
                .map_err(|e| format!("waivers[{i}] (rule {:?}): {e}", w.rule))?;
        }
        Ok(())
    }

    /// The floor for introduced weaknesses in force: the stack's own, else
    /// the environment's default.
    pub fn introduced_floor(&self) -> IntroducedFloor {
        self.escalate_introduced_at
            .unwrap_or_else(|| IntroducedFloor::default_for(self.environment_kind()))
    }

    /// The environment as judged: the stack file's spelling (aliases such
    /// as `production` included) read as an [`Environment`]; `None` when
    /// absent or unrecognised (judged like production).
    pub fn environment_kind(&self) -> Option<Environment> {
        self.environment
            .as_deref()
            .and_then(Environment::parse_alias)
    }

    /// The approval threshold in force.
    pub fn threshold(&self) -> f64 {
        self.auto_apply_threshold.unwrap_or(DEFAULT_THRESHOLD)
    }

    /// This stack with what `candidate` sets laid over it (policy
    /// backtests): environment, budget, threshold, floor, labels and rule
    /// adjustments replace this stack's when the candidate sets them; its
    /// waivers are added. Its name is not applied (it selects stacks).
    pub fn overlay(&self, candidate: &StackConfig) -> StackConfig {
        let mut s = self.clone();
        if candidate.environment.is_some() {
            s.environment.clone_from(&candidate.environment);
        }
        if candidate.monthly_budget_usd.is_some() {
            s.monthly_budget_usd = candidate.monthly_budget_usd;
        }
        if candidate.auto_apply_threshold.is_some() {
            s.auto_apply_threshold = candidate.auto_apply_threshold;
        }
        if candidate.escalate_introduced_at.is_some() {
            s.escalate_introduced_at = candidate.escalate_introduced_at;
        }
        if !candidate.labels.is_empty() {
            s.labels.clone_from(&candidate.labels);
        }
        if candidate.rules != RulesConfig::default() {
            s.rules = candidate.rules.clone();
        }
        s.waivers.extend(candidate.waivers.iter().cloned());
        s
    }
}

/// toml's messages span several lines (with a source excerpt); keep them on one.
fn one_line(msg: &str) -> String {
    let mut parts: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^' || c == ' ')
        })
        .collect();
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_replaces_only_what_the_candidate_sets() -> Result<(), String> {
        let base = StackConfig::from_toml(
            "name = \"web\"\nenvironment = \"prod\"\nmonthly_budget_usd = 100\nauto_apply_threshold = 95\nlabels = [\"team:web\"]\n",
        )?;
        let cand = StackConfig::from_toml(
            "name = \"other\"\nauto_apply_threshold = 80\n[rules]\ndisable = [\"ARB-X\"]\n",
        )?;
        let s = base.overlay(&cand);
        assert_eq!(s.name.as_deref(), Some("web"));
        assert_eq!(s.environment.as_deref(), Some("prod"));
        assert_eq!(s.monthly_budget_usd, Some(100.0));
        assert_eq!(s.threshold(), 80.0);
        assert_eq!(s.labels, vec!["team:web".to_string()]);
        assert_eq!(s.rules.disable, vec!["ARB-X".to_string()]);
        assert_eq!(base.overlay(&StackConfig::default()), base);
        Ok(())
    }

    #[test]
    fn parses_contract_keys() -> Result<(), String> {
        let s = StackConfig::from_toml("name = \"a\"\nenvironment = \"prod\"\nlabels = [\"team:x\"]\nmonthly_budget_usd = 20000\nauto_apply_threshold = 90\n")?;
        assert_eq!(s.name.as_deref(), Some("a"));
        assert_eq!(s.threshold(), 90.0);
        assert_eq!(StackConfig::from_toml("")?.threshold(), 95.0);
        Ok(())
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        let e = StackConfig::from_toml("name = \"a\"\nenviroment = \"prod\"\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("enviroment") && e.contains("line 2"), "{e}");
        let e = StackConfig::from_toml("auto_apply_threshold = 120")
            .err()
            .unwrap_or_default();
        assert!(e.contains("between 0 and 100"), "{e}");
        let e = StackConfig::from_toml("monthly_budget_usd = \"lots\"")
            .err()
            .unwrap_or_default();
        assert!(e.contains("monthly_budget_usd"), "{e}");
    }
}
