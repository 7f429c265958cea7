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

    /// This instant plus `hours` hours.
    #[must_use]
    pub fn plus_hours(self, hours: i64) -> Self {
        Self(self.0 + Duration::hours(hours))
    }

    /// This instant plus `millis` milliseconds.
    #[must_use]
    pub fn plus_millis(self, millis: i64) -> Self {
        Self(self.0 + Duration::milliseconds(millis))
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
        let mut now = self.0.lock().expect("clock lock");
        *now = now.plus_hours(hours);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
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
