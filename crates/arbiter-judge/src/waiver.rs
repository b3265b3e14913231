//! Waivers: a named, owned, time-limited acceptance of one rule's findings on
//! the addresses a glob matches.
//!
//! A waived finding is still reported (marked with its waiver) but costs no
//! confidence and blocks nothing: not a deny, not an escalation, not the floor
//! for introduced weaknesses. An expired waiver stops counting and says so on
//! the finding and in the verdict's warnings, so a forgotten exception does
//! not silently outlive its reason.

use arbiter_verdict::{Finding, WaiverMark};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Deserializer};

/// Longest accepted rule ID, address glob, reason or owner.
const MAX_TEXT: usize = 1000;

/// One waiver, from a stack file (`[[waivers]]`) or the server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Server-side ID (`None` in a stack file).
    #[serde(skip)]
    pub id: Option<String>,
    /// The rule whose findings are waived, exactly as reported
    /// (`ARB-AWS-EC2-001`, `policy:main.deny`, `BLAST-DELETE-STATEFUL`).
    pub rule: String,
    /// Resource addresses the waiver covers: a glob where `*` matches any
    /// run of characters and `?` one character (`module.legacy.*`,
    /// `aws_instance.web[*]`); default `*` (every address).
    #[serde(default = "every_address")]
    pub address: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the decision (a person or team).
    pub owner: String,
    /// Last day (UTC) on which the waiver counts (`2027-03-31`), or an
    /// RFC 3339 instant.
    pub expires: Expiry,
}

fn every_address() -> String {
    "*".into()
}

/// When a waiver stops counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Counts through the end of this day, UTC.
    Day(NaiveDate),
    /// Counts until this instant.
    Instant(DateTime<Utc>),
}

impl Expiry {
    /// Parses `YYYY-MM-DD` or an RFC 3339 date-time.
    pub fn parse(s: &str) -> Result<Expiry, String> {
        let t = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(Expiry::Day(d));
        }
        DateTime::parse_from_rfc3339(t)
            .map(|d| Expiry::Instant(d.with_timezone(&Utc)))
            .map_err(|_| format!("expires: {t:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
    }

    /// The first instant at which the waiver no longer counts.
    pub fn end(self) -> DateTime<Utc> {
        match self {
            Expiry::Day(d) => match d.succ_opt() {
                Some(next) => next.and_time(NaiveTime::MIN).and_utc(),
                None => DateTime::<Utc>::MAX_UTC,
            },
            Expiry::Instant(t) => t,
        }
    }

    /// Whether the waiver has expired at `now`.
    pub fn expired_at(self, now: DateTime<Utc>) -> bool {
        now >= self.end()
    }
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expiry::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Expiry::Instant(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // TOML writes dates bare (`expires = 2027-03-31`), which arrive as a
        // datetime value; JSON and quoted TOML as strings.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Toml(t) => t.to_string(),
        };
        Expiry::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Expiry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Waiver {
    /// Checks that every field says something.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("rule", &self.rule),
            ("address", &self.address),
            ("reason", &self.reason),
            ("owner", &self.owner),
        ] {
            if v.trim().is_empty() {
                return Err(format!("{name} must not be empty"));
            }
            if v.len() > MAX_TEXT {
                return Err(format!("{name} is longer than {MAX_TEXT} bytes"));
            }
        }
        Ok(())
    }

    /// Whether the waiver names this finding's rule and address.
    pub fn matches(&self, f: &Finding) -> bool {
        f.rule_id == self.rule
            && match &f.address {
                Some(a) => glob_match(&self.address, a),
                None => self.address == "*",
            }
    }

    fn mark(&self, now: DateTime<Utc>) -> WaiverMark {
        WaiverMark {
            id: self.id.clone(),
            rule: self.rule.clone(),
            address: self.address.clone(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            expires: self.expires.to_string(),
            expired: self.expires.expired_at(now),
        }
    }
}

/// Marks every finding a waiver matches. An unexpired waiver wins over an
/// expired one; among several unexpired ones the first listed is shown.
pub fn apply(waivers: &[Waiver], findings: &mut [Finding], now: DateTime<Utc>) {
    if waivers.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        let mut best: Option<WaiverMark> = None;
        for w in waivers.iter().filter(|w| w.matches(f)) {
            let m = w.mark(now);
            let better = match &best {
                None => true,
                Some(b) => b.expired && !m.expired,
            };
            if better {
                best = Some(m);
            }
        }
        if best.is_some() {
            f.waiver = best;
        }
    }
}

/// Glob match where `*` is any run of characters (dots and brackets
/// included) and `?` exactly one; everything else is literal. Linear in
/// practice (the classic two-pointer match with one backtrack point).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbiter_verdict::{Effect, Severity};

    fn finding(rule: &str, addr: Option<&str>) -> Finding {
        Finding::new(
            rule,
            "builtin",
            Severity::Medium,
            Effect::Warn,
            addr.map(String::from),
            "m",
        )
    }

    fn waiver(rule: &str, addr: &str, expires: &str) -> Waiver {
        Waiver {
            id: None,
            rule: rule.into(),
            address: addr.into(),
            reason: "legacy host, replaced in Q1".into(),
            owner: "team-payments".into(),
            expires: Expiry::parse(expires).unwrap_or(Expiry::Day(NaiveDate::MIN)),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "aws_instance.web", true),
            ("aws_instance.*", "aws_instance.web", true),
            ("aws_instance.*", "aws_s3_bucket.web", false),
            ("module.legacy.*", "module.legacy.aws_instance.a[0]", true),
            ("aws_instance.web[*]", "aws_instance.web[3]", true),
            ("aws_instance.web[*]", "aws_instance.web", false),
            ("aws_instance.web[?]", "aws_instance.web[3]", true),
            ("aws_instance.web[?]", "aws_instance.web[12]", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("aws_instance.web", "aws_instance.web", true),
            ("aws_instance.web", "aws_instance.webx", false),
            ("*.é*", "x.éa", true),
        ] {
            assert_eq!(glob_match(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn marks_matching_findings_and_expiry() {
        let ws = vec![waiver("R1", "aws_instance.*", "2027-01-31")];
        let mut fs = vec![
            finding("R1", Some("aws_instance.a")),
            finding("R1", Some("aws_s3_bucket.a")),
            finding("R2", Some("aws_instance.a")),
            finding("R1", None),
        ];
        apply(&ws, &mut fs, at("2027-01-31T23:59:59Z"));
        assert!(fs[0].is_waived());
        assert!(fs[1].waiver.is_none() && fs[2].waiver.is_none() && fs[3].waiver.is_none());
        // The last day counts in full; the next instant it has expired.
        let mut fs = vec![finding("R1", Some("aws_instance.a"))];
        apply(&ws, &mut fs, at("2027-02-01T00:00:00Z"));
        assert!(!fs[0].is_waived());
        assert!(fs[0].waiver.as_ref().is_some_and(|w| w.expired));
    }

    #[test]
    fn unexpired_waiver_wins_over_expired() {
        let ws = vec![
            waiver("R1", "*", "2020-01-01"),
            waiver("R1", "aws_instance.a", "2030-01-01"),
        ];
        let mut fs = vec![finding("R1", Some("aws_instance.a"))];
        apply(&ws, &mut fs, at("2026-06-01T00:00:00Z"));
        assert!(fs[0].is_waived());
        assert_eq!(
            fs[0].waiver.as_ref().map(|w| w.expires.as_str()),
            Some("2030-01-01")
        );
    }

    #[test]
    fn expiry_forms() {
        assert!(Expiry::parse("2027-03-31").is_ok());
        assert!(Expiry::parse("2027-03-31T12:00:00+02:00").is_ok());
        let e = Expiry::parse("31/03/2027").err().unwrap_or_default();
        assert!(e.contains("31/03/2027"), "{e}");
        assert!(Expiry::parse("9999-12-31").is_ok_and(|e| !e.expired_at(Utc::now())));
    }
}
