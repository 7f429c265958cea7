//! How times and durations read in the console: ages ("12 min"), what is left before a request
//! expires ("in 23 h 5 min", "overdue by 4 min") and instants ("2026-05-18 12:35:00 UTC").

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::time::Timestamp;

/// A span of whole seconds in at most two units: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    (to.unix_micros() - from.unix_micros()) / 1_000_000
}

/// How long ago `at` was.
pub fn age(at: Timestamp, now: Timestamp) -> String {
    duration(seconds_between(at, now))
}

/// What is left of a request's lifetime: a pending request's deadline ("in 23 h 5 min",
/// "overdue by 4 min"); an active break-glass override's remaining time ("3 h 59 min left",
/// "ended 5 min ago"); "decided" for the rest.
pub fn time_left(approval: &Approval, now: Timestamp) -> String {
    let left = seconds_between(now, approval.expires_at);
    match approval.state {
        ApprovalState::Pending if left >= 0 => format!("in {}", duration(left)),
        ApprovalState::Pending => format!("overdue by {}", duration(-left)),
        ApprovalState::BreakGlass if left > 0 => format!("{} left", duration(left)),
        ApprovalState::BreakGlass => format!("ended {} ago", duration(-left)),
        _ => "decided".to_owned(),
    }
}

/// An instant as `2026-05-18 12:35:00 UTC`.
pub fn instant(at: Timestamp) -> String {
    at.as_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A Unix time in seconds (a token's `exp`) as a timestamp.
pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
    seconds
        .checked_mul(1_000_000)
        .and_then(Timestamp::from_unix_micros)
}

/// The first `n` characters of a hash, for tables; the full value stays in the title.
pub fn short_hash(hash: &str, n: usize) -> String {
    if hash.chars().count() <= n {
        hash.to_owned()
    } else {
        format!("{}…", hash.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn durations_read_in_at_most_two_units() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(60), "1 min");
        assert_eq!(duration(12 * 60 + 59), "12 min");
        assert_eq!(duration(3 * 3600), "3 h");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3 h 5 min");
        assert_eq!(duration(2 * 86_400), "2 d");
        assert_eq!(duration(2 * 86_400 + 4 * 3600 + 59), "2 d 4 h");
        assert_eq!(
            duration(-5),
            "0 s",
            "a clock slightly behind never shows a negative age"
        );
    }

    #[test]
    fn given_a_pending_request_when_time_passes_then_time_left_counts_down_and_then_overdue() {
        let mut record = crate::testing::record("apr_000000000001", ApprovalState::Pending);
        record.expires_at = at("2026-05-19T12:00:00+00:00");
        assert_eq!(
            time_left(&record, at("2026-05-18T12:55:00+00:00")),
            "in 23 h 5 min"
        );
        assert_eq!(
            time_left(&record, at("2026-05-19T12:04:00+00:00")),
            "overdue by 4 min"
        );
        record.state = ApprovalState::Approved;
        assert_eq!(
            time_left(&record, at("2026-05-18T12:55:00+00:00")),
            "decided"
        );
    }

    #[test]
    fn given_an_active_override_then_its_remaining_time_shows_until_it_ends() {
        let mut record = crate::testing::record("apr_000000000003", ApprovalState::BreakGlass);
        record.expires_at = at("2026-05-18T16:00:00+00:00");
        assert_eq!(
            time_left(&record, at("2026-05-18T12:01:00+00:00")),
            "3 h 59 min left"
        );
        assert_eq!(
            time_left(&record, at("2026-05-18T16:05:00+00:00")),
            "ended 5 min ago"
        );
    }

    #[test]
    fn ages_and_instants_are_in_utc() {
        let requested = at("2026-05-18T14:35:00+02:00");
        assert_eq!(instant(requested), "2026-05-18 12:35:00 UTC");
        assert_eq!(age(requested, at("2026-05-18T12:47:30+00:00")), "12 min");
        assert_eq!(
            from_unix_seconds(1_779_107_700).map(instant).as_deref(),
            Some("2026-05-18 12:35:00 UTC")
        );
    }

    #[test]
    fn short_hashes_keep_short_values_whole() {
        assert_eq!(short_hash("abcdef", 12), "abcdef");
        assert_eq!(short_hash("0123456789abcdef", 8), "01234567…");
    }
}
