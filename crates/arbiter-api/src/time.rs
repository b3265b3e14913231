//! One time type for the whole API: an instant in UTC with millisecond
//! precision, written as RFC 3339 (`2026-12-01T15:03:16.123Z`) on the wire.
//! Compared as instants, never as strings.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An instant (UTC, milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// Text that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 time (like 2026-12-01T15:03:16Z): {reason}")]
pub struct TimestampError {
    /// The text given.
    pub text: String,
    /// Why it was refused.
    pub reason: String,
}

impl Timestamp {
    /// Now, truncated to milliseconds.
    pub fn now() -> Timestamp {
        Timestamp::from_unix_ms(Utc::now().timestamp_millis())
    }

    /// From Unix milliseconds (what the store keeps). Out-of-range values
    /// (beyond year 262,143) clamp to the nearest representable instant.
    pub fn from_unix_ms(ms: i64) -> Timestamp {
        match Utc.timestamp_millis_opt(ms).single() {
            Some(t) => Timestamp(t),
            None if ms < 0 => Timestamp(DateTime::<Utc>::MIN_UTC),
            None => Timestamp(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Unix milliseconds.
    pub fn unix_ms(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The chrono value, for arithmetic and calendar formatting.
    pub fn as_chrono(self) -> DateTime<Utc> {
        self.0
    }

    /// The calendar date, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Timestamp {
        Timestamp::from_unix_ms(t.timestamp_millis())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Timestamp::from(t.with_timezone(&Utc)))
            .map_err(|e| TimestampError {
                text: s.chars().take(64).collect(),
                reason: e.to_string(),
            })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_rfc3339_with_milliseconds_and_z() {
        assert_eq!(
            Timestamp::from_unix_ms(1_796_137_396_123).to_string(),
            "2026-12-01T15:03:16.123Z"
        );
        assert_eq!(
            Timestamp::from_unix_ms(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_ms(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn parses_offsets_and_compares_as_instants() {
        let a: Timestamp = "2026-12-01T16:03:16+01:00".parse().unwrap();
        let b: Timestamp = "2026-12-01T15:03:16.000Z".parse().unwrap();
        assert_eq!(a, b);
        let c: Timestamp = "2026-12-01T15:03:16.5Z".parse().unwrap();
        assert!(c > b);
        assert_eq!(c.unix_ms() - b.unix_ms(), 500);
        let e = "2026-13-01".parse::<Timestamp>().unwrap_err();
        assert!(e.to_string().contains("2026-13-01"), "{e}");
    }

    #[test]
    fn round_trips_through_json() {
        let t = Timestamp::from_unix_ms(1_796_137_396_123);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2026-12-01T15:03:16.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
