//! Timestamps in the one text form the log uses: RFC 3339, UTC, milliseconds
//! (`2025-03-01T12:00:00.000Z`). The calendar is chrono's; what is this
//! module's is the log's rule that a time has exactly one spelling.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in time with millisecond precision, 1970-01-01 to 9999-12-31 UTC.
///
/// Its text form is always `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 characters); parsing
/// accepts only that form, so a time has exactly one spelling and hashing the
/// text is the same as hashing the instant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(u64);

/// Why a text is not a log timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not of the shape `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    #[error("expected a UTC time as YYYY-MM-DDTHH:MM:SS.mmmZ (e.g. 2025-03-01T12:00:00.000Z), got {0:?}")]
    Format(String),
    /// The right shape, but a field is out of range (month 13, February 30, …).
    #[error("{field} out of range in {text:?}")]
    Range {
        /// Which field.
        field: &'static str,
        /// The whole text.
        text: String,
    },
    /// Milliseconds outside 1970-01-01 to 9999-12-31.
    #[error("time {0} ms since the Unix epoch is outside 1970..9999")]
    OutOfRange(u64),
}

/// Milliseconds of 9999-12-31T23:59:59.999Z.
const MAX_MS: u64 = 253_402_300_799_999;

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub fn from_unix_millis(ms: u64) -> Result<Timestamp, TimestampError> {
        if ms > MAX_MS {
            return Err(TimestampError::OutOfRange(ms));
        }
        Ok(Timestamp(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> u64 {
        self.0
    }

    /// The current time, truncated to milliseconds (the epoch if the clock is
    /// before 1970).
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(ms).unwrap_or(MAX_MS).min(MAX_MS))
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let b = text.as_bytes();
        let shape_ok = b.len() == 24
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z'
            && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
                .iter()
                .all(|&i| b[i].is_ascii_digit());
        if !shape_ok {
            return Err(TimestampError::Format(text.to_string()));
        }
        let num = |from: usize, to: usize| -> u64 {
            b[from..to]
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
        };
        let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
        let (hour, minute, second, milli) = (num(11, 13), num(14, 16), num(17, 19), num(20, 23));
        let range = |field| TimestampError::Range {
            field,
            text: text.to_string(),
        };
        if year < 1970 {
            return Err(range("year (before 1970)"));
        }
        if !(1..=12).contains(&month) {
            return Err(range("month"));
        }
        if hour > 23 {
            return Err(range("hour"));
        }
        if minute > 59 {
            return Err(range("minute"));
        }
        // No leap seconds: the log's clock is Unix time.
        if second > 59 {
            return Err(range("second"));
        }
        let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
        let date = i32::try_from(year)
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, month as u32, day as u32))
            .ok_or_else(|| range("day"))?;
        let days = u64::try_from(date.signed_duration_since(epoch).num_days())
            .map_err(|_| range("year (before 1970)"))?;
        Ok(Timestamp(
            ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        // At most MAX_MS (9999-12-31), always a chrono instant.
        let t = i64::try_from(self.0)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or(chrono::DateTime::UNIX_EPOCH);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.0 % 1000
        )
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.789
        let t = Timestamp::parse("2000-02-29T12:34:56.789Z").unwrap();
        assert_eq!(t.unix_millis(), 951_827_696_789);
        assert_eq!(Timestamp(MAX_MS).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn rejects_other_spellings_and_impossible_dates() {
        for bad in [
            "2025-03-01T12:00:00Z",
            "2025-03-01T12:00:00.000+00:00",
            "2025-03-01 12:00:00.000Z",
            "2025-03-01t12:00:00.000z",
            "2025-03-01T12:00:00.0000Z",
            "",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Format(_))),
                "{bad}"
            );
        }
        for bad in [
            "1900-01-01T00:00:00.000Z",
            "2025-13-01T00:00:00.000Z",
            "2025-02-29T00:00:00.000Z",
            "2100-02-29T00:00:00.000Z",
            "2025-04-31T00:00:00.000Z",
            "2025-01-01T24:00:00.000Z",
            "2025-01-01T00:60:00.000Z",
            "2025-01-01T00:00:60.000Z",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Range { .. })),
                "{bad}"
            );
        }
        assert!(Timestamp::from_unix_millis(MAX_MS + 1).is_err());
    }

    proptest! {
        #[test]
        fn text_round_trips(ms in 0u64..=MAX_MS) {
            let t = Timestamp::from_unix_millis(ms).unwrap();
            let text = t.to_string();
            prop_assert_eq!(text.len(), 24);
            prop_assert_eq!(Timestamp::parse(&text).unwrap(), t);
        }
    }
}
