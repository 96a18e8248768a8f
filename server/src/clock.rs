//! Timestamps as the RealtimeKit API writes them: ISO 8601 in UTC with milliseconds, e.g.
//! `2026-11-22T10:15:00.123Z`. They sort as text, which the store relies on.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// The current time as an API timestamp.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Formats with exactly three fractional digits, so that every stored timestamp has the same length.
pub fn format(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .expect("a UTC date always formats")
}

/// Any RFC 3339 time (`2026-11-22T10:15:00+01:00`, `...Z`, any precision) as an API timestamp, so that it compares
/// as text with stored ones; None if it is not one.
pub fn normalize(text: &str) -> Option<String> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(format)
}

/// Minutes between two API timestamps (or from `from` until now), for `minutes_consumed`.
pub fn minutes_between(from: &str, to: Option<&str>) -> f64 {
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    let (Some(start), Some(end)) = (parse(from), to.map_or_else(|| Some(OffsetDateTime::now_utc()), parse)) else {
        return 0.0;
    };
    ((end - start).as_seconds_f64() / 60.0).max(0.0)
}

/// An API timestamp (any RFC 3339 time) as milliseconds since the Unix epoch; None if it is not one.
pub fn to_unix_ms(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Milliseconds since the Unix epoch: the outbox's clock for scheduling attempts.
pub fn unix_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_parse_back() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_123_456_789).unwrap();
        let text = format(at);
        assert_eq!(text, "2026-11-18T11:06:40.123Z");
        assert_eq!(now().len(), text.len());
        assert!((minutes_between("2026-11-18T10:13:20.123Z", Some("2026-11-18T10:16:20.123Z")) - 3.0).abs() < 1e-9);
        assert_eq!(minutes_between("garbage", None), 0.0);
        assert_eq!(normalize("2026-11-18T12:06:40.1234+01:00").as_deref(), Some("2026-11-18T11:06:40.123Z"));
        assert_eq!(normalize("yesterday"), None);
    }
}
