//! Durations as written in manifests: a whole number and one unit, `h`, `d`, `w` or `y`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
/// Certificates count years as 365 days: `365d` and `1y` are the same validity.
const YEAR: u64 = 365 * DAY;

/// The unit a duration was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Hour,
    Day,
    Week,
    Year,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Self::Hour => HOUR,
            Self::Day => DAY,
            Self::Week => WEEK,
            Self::Year => YEAR,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Hour => "h",
            Self::Day => "d",
            Self::Week => "w",
            Self::Year => "y",
        }
    }
}

/// A span of time written like `365d`, `12h`, `2w` or `1y`. Printed back exactly as written
/// (`365d` stays `365d`, a user reads their own words), compared by length (`365d == 1y`).
#[derive(Clone, Copy)]
pub struct Period {
    count: u64,
    unit: Unit,
}

impl Period {
    pub const fn from_days(days: u64) -> Self {
        Self {
            count: days,
            unit: Unit::Day,
        }
    }

    pub fn as_seconds(self) -> u64 {
        self.count * self.unit.seconds()
    }

    pub fn as_duration(self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.as_seconds()).unwrap_or(i64::MAX))
    }
}

impl PartialEq for Period {
    fn eq(&self, other: &Self) -> bool {
        self.as_seconds() == other.as_seconds()
    }
}

impl Eq for Period {}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Period {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_seconds().cmp(&other.as_seconds())
    }
}

impl Hash for Period {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_seconds().hash(state);
    }
}

/// Whole days from `now` until `not_after`, the way an admin counts them on a calendar: the
/// certificate's end date minus today's date (both UTC). A 365-day certificate made today has
/// 365 days left; one that ends later today has 0; negative once its date has passed.
pub fn days_left(not_after: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let utc = time::UtcOffset::UTC;
    (not_after.to_offset(utc).date() - now.to_offset(utc).date()).whole_days()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "`{0}` is not a duration: write a whole number and a unit, e.g. `365d` (units: h, d, w, y)"
    )]
    Malformed(String),
    #[error("`{0}` must be longer than zero")]
    Zero(String),
    #[error("`{0}` is too long (at most 100y)")]
    TooLong(String),
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || PeriodError::Malformed(s.to_owned());
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(malformed)?;
        let (digits, unit) = s.split_at(split);
        if digits.is_empty() || digits.len() > 6 {
            return Err(if digits.is_empty() {
                malformed()
            } else {
                PeriodError::TooLong(s.to_owned())
            });
        }
        let n: u64 = digits.parse().map_err(|_| malformed())?;
        let unit = match unit {
            "h" => Unit::Hour,
            "d" => Unit::Day,
            "w" => Unit::Week,
            "y" => Unit::Year,
            _ => return Err(malformed()),
        };
        if n == 0 {
            return Err(PeriodError::Zero(s.to_owned()));
        }
        let period = Self { count: n, unit };
        if period.as_seconds() > 100 * YEAR {
            return Err(PeriodError::TooLong(s.to_owned()));
        }
        Ok(period)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_written_and_compare_by_length() {
        for text in ["365d", "1y", "30d", "14d", "2w", "36h", "48h", "8760h"] {
            let p: Period = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        let parse = |s: &str| s.parse::<Period>().unwrap();
        assert_eq!(parse("365d"), parse("1y"));
        assert_eq!(parse("8760h"), parse("1y"));
        assert_eq!(parse("14d"), parse("2w"));
        assert!(parse("36h") < parse("2d"));
        assert_eq!(Period::from_days(30), parse("30d"));
    }

    #[test]
    fn days_left_counts_calendar_days_from_today_to_the_end_date() {
        use time::macros::datetime;
        let now = datetime!(2025-06-01 15:30 UTC);
        // A 365-day certificate made a second ago ends on 2026-06-01: 365 days, not 364.
        let made = now - time::Duration::seconds(1);
        assert_eq!(days_left(made + parse_days(365), now), 365);
        assert_eq!(days_left(datetime!(2025-06-01 23:59 UTC), now), 0);
        assert_eq!(days_left(datetime!(2025-06-01 01:00 UTC), now), 0);
        assert_eq!(days_left(datetime!(2025-06-02 00:01 UTC), now), 1);
        assert_eq!(days_left(datetime!(2025-05-31 23:00 UTC), now), -1);
        // Dates are UTC whatever the offset the times carry.
        assert_eq!(days_left(datetime!(2025-06-02 01:00 +02:00), now), 0);
    }

    fn parse_days(days: u64) -> time::Duration {
        Period::from_days(days).as_duration()
    }

    #[test]
    fn malformed_zero_and_huge_durations_are_refused() {
        for bad in ["", "d", "30", "30 d", "30D", "1.5d", "-1d", "30m", "d30"] {
            assert!(
                matches!(bad.parse::<Period>(), Err(PeriodError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!("0d".parse::<Period>(), Err(PeriodError::Zero(_))));
        assert!(matches!(
            "101y".parse::<Period>(),
            Err(PeriodError::TooLong(_))
        ));
        assert!(matches!(
            "99999999999d".parse::<Period>(),
            Err(PeriodError::TooLong(_))
        ));
    }
}
