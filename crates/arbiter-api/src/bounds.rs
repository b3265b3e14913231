//! The range of every number the API accepts, in one place.
//!
//! Numbers are checked at the edge, before anything is stored, computed
//! with or written to the audit log: a value outside its range is refused
//! (HTTP 422) with a message naming the field. The audit log's canonical
//! JSON carries integers up to 2^53 exactly and nothing larger, so no
//! accepted integer exceeds 2^53 − 1; durations are also kept small enough
//! that converting them to milliseconds and adding them to a clock cannot
//! overflow.

use crate::{AgentLimits, AgentScope, RollbackRequest, StackSpec, StackUpdate, TokenSpec};
use thiserror::Error;

/// Largest integer exactly representable in the audit log (2^53 − 1).
pub const MAX_EXACT_INTEGER: i64 = (1 << 53) - 1;
/// Longest duration accepted, seconds (100 years).
pub const MAX_SECONDS: i64 = 100 * 365 * 86_400;
/// Most resources a limit may name.
pub const MAX_RESOURCES: u64 = 1_000_000_000;
/// Most submissions per minute a limit may allow.
pub const MAX_SUBMISSIONS_PER_MINUTE: u32 = 1_000_000;
/// Largest amount of money accepted, USD (10^15, as in usage files).
pub const MAX_USD: f64 = 1e15;

/// A number outside its range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} must be {range}, got {value}")]
pub struct OutOfRange {
    /// The field, as named in the request (`scope.max_ttl_seconds`).
    pub field: String,
    /// The accepted range, in words.
    pub range: String,
    /// The value received.
    pub value: String,
}

fn out(field: &str, range: String, value: impl std::fmt::Display) -> OutOfRange {
    OutOfRange {
        field: field.to_string(),
        range,
        value: value.to_string(),
    }
}

/// A duration in whole seconds: 1 to [`MAX_SECONDS`].
pub fn seconds(field: &str, v: i64) -> Result<(), OutOfRange> {
    if (1..=MAX_SECONDS).contains(&v) {
        Ok(())
    } else {
        Err(out(
            field,
            format!("a whole number of seconds from 1 to {MAX_SECONDS} (100 years)"),
            v,
        ))
    }
}

/// A count of resources: `min` to [`MAX_RESOURCES`].
pub fn resources(field: &str, v: u64, min: u64) -> Result<(), OutOfRange> {
    if (min..=MAX_RESOURCES).contains(&v) {
        Ok(())
    } else {
        Err(out(
            field,
            format!("a whole number from {min} to {MAX_RESOURCES}"),
            v,
        ))
    }
}

/// An amount of money: 0 to [`MAX_USD`].
pub fn usd(field: &str, v: f64) -> Result<(), OutOfRange> {
    if v.is_finite() && (0.0..=MAX_USD).contains(&v) {
        Ok(())
    } else {
        Err(out(field, "a number of USD from 0 to 10^15".into(), v))
    }
}

/// A percentage: 0 to 100.
pub fn percent(field: &str, v: f64) -> Result<(), OutOfRange> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(())
    } else {
        Err(out(field, "between 0 and 100".into(), v))
    }
}

/// A version or sequence number: 1 to [`MAX_EXACT_INTEGER`].
pub fn version(field: &str, v: i64) -> Result<(), OutOfRange> {
    if (1..=MAX_EXACT_INTEGER).contains(&v) {
        Ok(())
    } else {
        Err(out(
            field,
            format!("a whole number from 1 to {MAX_EXACT_INTEGER}"),
            v,
        ))
    }
}

/// A counter that starts at 0 (Terraform's state serial): 0 to
/// [`MAX_EXACT_INTEGER`].
pub fn counter(field: &str, v: u64) -> Result<i64, OutOfRange> {
    i64::try_from(v)
        .ok()
        .filter(|v| *v <= MAX_EXACT_INTEGER)
        .ok_or_else(|| {
            out(
                field,
                format!("a whole number from 0 to {MAX_EXACT_INTEGER}"),
                v,
            )
        })
}

impl StackSpec {
    /// Checks the ranges of the stack's numbers.
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        if let Some(t) = self.auto_apply_threshold {
            percent("auto_apply_threshold", t)?;
        }
        if let Some(b) = self.monthly_budget_usd {
            usd("monthly_budget_usd", b)?;
        }
        if let Some(t) = self.ttl_seconds {
            seconds("ttl_seconds", t)?;
        }
        Ok(())
    }
}

impl StackUpdate {
    /// Checks the ranges of the numbers an update sets.
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        if let Some(Some(t)) = self.auto_apply_threshold {
            percent("auto_apply_threshold", t)?;
        }
        if let Some(Some(b)) = self.monthly_budget_usd {
            usd("monthly_budget_usd", b)?;
        }
        if let Some(Some(t)) = self.ttl_seconds {
            seconds("ttl_seconds", t)?;
        }
        if let Some(v) = self.if_version {
            version("if_version", v)?;
        }
        Ok(())
    }
}

impl AgentScope {
    /// Checks the ranges of the scope's numbers.
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        if let Some(b) = self.max_blast_radius {
            resources("scope.max_blast_radius", b, 0)?;
        }
        if let Some(c) = self.max_monthly_cost_increase_usd {
            usd("scope.max_monthly_cost_increase_usd", c)?;
        }
        if let Some(t) = self.max_ttl_seconds {
            seconds("scope.max_ttl_seconds", t)?;
        }
        Ok(())
    }
}

impl AgentLimits {
    /// Checks the ranges of the limits (each at least 1: revoke an agent to
    /// stop it altogether).
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        if !(1..=MAX_SUBMISSIONS_PER_MINUTE).contains(&self.submissions_per_minute) {
            return Err(out(
                "limits.submissions_per_minute",
                format!("a whole number from 1 to {MAX_SUBMISSIONS_PER_MINUTE}"),
                self.submissions_per_minute,
            ));
        }
        resources(
            "limits.blast_radius_per_hour",
            self.blast_radius_per_hour,
            1,
        )
    }
}

impl TokenSpec {
    /// Checks the token's lifetime.
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        match self.expires_in_seconds {
            Some(s) => seconds("expires_in_seconds", s),
            None => Ok(()),
        }
    }
}

impl RollbackRequest {
    /// Checks the target version.
    pub fn check_ranges(&self) -> Result<(), OutOfRange> {
        version("to", self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_at_their_ends() {
        let big = (1i64 << 53) + 1;
        assert!(seconds("t", 1).is_ok() && seconds("t", MAX_SECONDS).is_ok());
        for v in [0, -1, MAX_SECONDS + 1, big, i64::MAX, i64::MIN] {
            assert!(seconds("t", v).is_err(), "{v}");
        }
        assert!(resources("r", 0, 0).is_ok() && resources("r", 0, 1).is_err());
        assert!(resources("r", MAX_RESOURCES + 1, 0).is_err());
        assert!(resources("r", u64::MAX, 0).is_err());
        assert!(usd("u", 0.0).is_ok() && usd("u", MAX_USD).is_ok());
        for v in [-0.01, 1e16, f64::INFINITY, f64::NAN, f64::MAX] {
            assert!(usd("u", v).is_err(), "{v}");
        }
        assert!(percent("p", 100.0).is_ok() && percent("p", 100.1).is_err());
        assert!(version("v", MAX_EXACT_INTEGER).is_ok());
        assert!(version("v", MAX_EXACT_INTEGER + 1).is_err() && version("v", 0).is_err());
        assert_eq!(counter("serial", 0), Ok(0));
        assert!(counter("serial", big as u64).is_err() && counter("serial", u64::MAX).is_err());
        let e = seconds("scope.max_ttl_seconds", big)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("scope.max_ttl_seconds must be a whole number of seconds from 1 to 3153600000 (100 years), got 9007199254740993")
        );
    }
}
