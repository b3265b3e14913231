//! Timestamps in the one text form the log uses: RFC 3339, UTC, milliseconds
//! (`2025-03-01T12:00:00.000Z`), without a date library.

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
        if day < 1 || day > days_in_month(year, month) {
            return Err(range("day"));
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
        let days = days_from_civil(year, month, day);
        Ok(Timestamp(
            ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli,
        ))
    }
}

fn is_leap(y: u64) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970).
/// Howard Hinnant's algorithm, restricted to non-negative years.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let (y, mo, d) = civil_from_days(ms / 86_400_000);
        let in_day = ms % 86_400_000;
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
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
