//! Timestamps as the original writes them, and the clock port.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, written as ISO-8601 with microseconds and a `+00:00` offset
/// (`2026-05-18T12:34:56.789012+00:00`), exactly as the original records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Wraps a chrono instant.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at)
    }

    /// Builds a timestamp from microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros).map(Self)
    }

    /// Microseconds since the Unix epoch; the sort key stores index on.
    pub fn unix_micros(self) -> i64 {
        self.0.timestamp_micros()
    }

    /// Whole seconds since the Unix epoch (JWT `exp`/`nbf` compare against this).
    pub fn unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// This instant plus `hours` hours, or `None` when that is beyond the representable range
    /// (or beyond year 9999, which RFC 3339 cannot write).
    #[must_use]
    pub fn checked_plus_hours(self, hours: i64) -> Option<Self> {
        let delta = Duration::try_hours(hours)?;
        self.checked_plus(delta)
    }

    /// This instant plus `millis` milliseconds, or `None` out of range (see
    /// [`Timestamp::checked_plus_hours`]).
    #[must_use]
    pub fn checked_plus_millis(self, millis: i64) -> Option<Self> {
        self.checked_plus(Duration::try_milliseconds(millis)?)
    }

    /// This instant plus `seconds` seconds, or `None` out of range (see
    /// [`Timestamp::checked_plus_hours`]).
    #[must_use]
    pub fn checked_plus_seconds(self, seconds: u64) -> Option<Self> {
        self.checked_plus(Duration::try_seconds(i64::try_from(seconds).ok()?)?)
    }

    fn checked_plus(self, delta: Duration) -> Option<Self> {
        let at = self.0.checked_add_signed(delta)?;
        (at <= Self::latest().0 && at >= Self::earliest().0).then_some(Self(at))
    }

    /// The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999999+00:00.
    pub fn latest() -> Self {
        Self(
            DateTime::from_timestamp_micros(253_402_300_799_999_999)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }

    /// The earliest instant RFC 3339 can write: 0000-01-01T00:00:00+00:00.
    pub fn earliest() -> Self {
        Self(
            DateTime::from_timestamp_micros(-62_167_219_200_000_000)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
    }

    /// This instant plus `hours` hours, saturating at the ends of the writable range (for
    /// tests and fixtures; the workflow uses [`Timestamp::checked_plus_hours`]).
    #[must_use]
    pub fn plus_hours(self, hours: i64) -> Self {
        self.checked_plus_hours(hours).unwrap_or_else(|| {
            if hours < 0 {
                Self::earliest()
            } else {
                Self::latest()
            }
        })
    }

    /// This instant plus `millis` milliseconds, saturating (see [`Timestamp::plus_hours`]).
    #[must_use]
    pub fn plus_millis(self, millis: i64) -> Self {
        self.checked_plus_millis(millis).unwrap_or_else(|| {
            if millis < 0 {
                Self::earliest()
            } else {
                Self::latest()
            }
        })
    }

    /// The wrapped chrono instant.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, false))
    }
}

/// A timestamp string that is not RFC 3339.
#[derive(Debug, thiserror::Error)]
#[error("invalid timestamp: {0}")]
pub struct InvalidTimestamp(String);

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|at| Self(at.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp(s.to_owned()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock port: where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[cfg(feature = "runtime")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(feature = "runtime")]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Utc::now())
    }
}

/// A clock that tests move by hand.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    /// Moves the clock forward.
    pub fn advance_hours(&self, hours: i64) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now.plus_hours(hours);
    }

    /// Moves the clock forward by milliseconds.
    pub fn advance_millis(&self, millis: i64) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now.plus_millis(millis);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_with_microseconds_and_utc_offset_like_the_original() {
        let at: Timestamp = "2026-05-18T12:34:56.789012+00:00".parse().unwrap();
        assert_eq!(at.to_string(), "2026-05-18T12:34:56.789012+00:00");
        let whole: Timestamp = "2026-05-18T12:34:56+00:00".parse().unwrap();
        assert_eq!(whole.to_string(), "2026-05-18T12:34:56.000000+00:00");
    }

    #[test]
    fn other_offsets_are_normalised_to_utc() {
        let at: Timestamp = "2026-05-18T14:00:00+02:00".parse().unwrap();
        assert_eq!(at.to_string(), "2026-05-18T12:00:00.000000+00:00");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!("yesterday".parse::<Timestamp>().is_err());
    }
}
