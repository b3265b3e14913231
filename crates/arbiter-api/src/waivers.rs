//! Waivers kept by the server (`/api/v1/stacks/{name}/waivers`): a named,
//! owned, time-limited acceptance of one rule's findings on the addresses a
//! glob matches. The judge marks the findings they cover; a covered finding
//! costs no confidence and blocks nothing until the waiver expires.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A waiver to create (`POST /api/v1/stacks/{name}/waivers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverSpec {
    /// The rule whose findings are waived, exactly as reported
    /// (`ARB-AWS-EC2-001`, `policy:main.deny`).
    pub rule: String,
    /// Resource address glob: `*` any run of characters, `?` one
    /// (default `*`: every address).
    #[serde(default = "every_address")]
    pub address: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the decision (a person or team).
    pub owner: String,
    /// Last day (UTC) on which it counts, `YYYY-MM-DD`, or an RFC 3339
    /// instant; in the future and at most 366 days ahead.
    pub expires: String,
}

fn every_address() -> String {
    "*".into()
}

/// A stored waiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiver {
    /// Identifier, unique per server (shown on the findings it covers).
    pub id: i64,
    /// The stack it applies to.
    pub stack: String,
    /// The waived rule.
    pub rule: String,
    /// Address glob.
    pub address: String,
    /// Why.
    pub reason: String,
    /// Who owns the decision.
    pub owner: String,
    /// Canonical expiry: `YYYY-MM-DD` or RFC 3339.
    pub expires: String,
    /// Who created it (`user:NAME`).
    pub created_by: String,
    /// RFC 3339.
    pub created_at: Timestamp,
    /// RFC 3339, if revoked.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    #[serde(default)]
    pub revoked_by: Option<String>,
    /// Whether it has expired at the time of the answer.
    pub expired: bool,
}

impl Waiver {
    /// Whether it still makes findings count for nothing: neither revoked
    /// nor expired.
    pub fn active(&self) -> bool {
        self.revoked_at.is_none() && !self.expired
    }
}
