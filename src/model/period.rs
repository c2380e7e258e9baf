//! Durations as written in manifests: a whole number and one unit, `h`, `d`, `w` or `y`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
/// Certificates count years as 365 days: `365d` and `1y` are the same validity.
const YEAR: u64 = 365 * DAY;

/// A span of time written like `365d`, `12h`, `2w` or `1y`. Kept in seconds; printed back in
/// the largest unit that divides it exactly, so `8760h` prints as `1y`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    seconds: u64,
}

impl Period {
    pub const fn from_seconds(seconds: u64) -> Self {
        Self { seconds }
    }

    pub const fn from_days(days: u64) -> Self {
        Self {
            seconds: days * DAY,
        }
    }

    pub fn as_seconds(self) -> u64 {
        self.seconds
    }

    pub fn as_duration(self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }
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
        let unit_seconds = match unit {
            "h" => HOUR,
            "d" => DAY,
            "w" => WEEK,
            "y" => YEAR,
            _ => return Err(malformed()),
        };
        if n == 0 {
            return Err(PeriodError::Zero(s.to_owned()));
        }
        let seconds = n * unit_seconds;
        if seconds > 100 * YEAR {
            return Err(PeriodError::TooLong(s.to_owned()));
        }
        Ok(Self { seconds })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        for (unit, size) in [("y", YEAR), ("w", WEEK), ("d", DAY), ("h", HOUR)] {
            if s >= size && s.is_multiple_of(size) {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
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
    fn units_parse_and_print_in_their_largest_exact_unit() {
        for (text, printed) in [
            ("365d", "1y"),
            ("1y", "1y"),
            ("30d", "30d"),
            ("14d", "2w"),
            ("36h", "36h"),
            ("48h", "2d"),
        ] {
            let p: Period = text.parse().unwrap();
            assert_eq!(p.to_string(), printed, "{text}");
        }
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
