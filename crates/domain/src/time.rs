//! Time as GuardDuty writes it: finding timestamps are ISO-8601 strings with milliseconds
//! (`2020-05-26T22:21:48.385Z`); criteria compare them as epoch milliseconds.
use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2020-05-26T22:21:48.385Z`
pub fn iso_ms(epoch_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 / ISO-8601 (`2020-05-26T22:02:24Z`, with or without fraction or offset).
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_milliseconds() {
        let ms = parse_iso_ms("2020-05-26T22:21:48.385Z").unwrap();
        assert_eq!(iso_ms(ms), "2020-05-26T22:21:48.385Z");
        assert_eq!(parse_iso_ms("2020-05-26T22:02:24Z"), Some(ms - 48_385 + 24_000 - 19 * 60_000));
        assert_eq!(parse_iso_ms("yesterday"), None);
    }
}
