//! Time as GuardDuty writes it: finding timestamps are ISO-8601 strings with milliseconds
//! (`2020-05-26T22:21:48.385Z`); criteria compare them as epoch milliseconds.
use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2020-05-26T22:21:48.385Z`
pub fn iso_ms(epoch_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The first and last instants [`iso_ms`] writes as ISO-8601 with a four-digit year (and
/// [`parse_iso_ms`] reads back): 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
pub const MIN_ISO_MS: i64 = -62_167_219_200_000;
pub const MAX_ISO_MS: i64 = 253_402_300_799_999;

/// `epoch_ms` if findings can show it (see [`MAX_ISO_MS`]); log times past it are damage, and
/// [`iso_ms`] would write them as 1970 or as a five-digit year no client parses.
pub fn iso_range(epoch_ms: i64) -> Option<i64> {
    (MIN_ISO_MS..=MAX_ISO_MS).contains(&epoch_ms).then_some(epoch_ms)
}

/// Parses RFC 3339 / ISO-8601 (`2020-05-26T22:02:24Z`, with or without fraction or offset).
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_millis())
}

/// `2024-03-01T10:00:05.123Z`: the first token of a CloudWatch Logs export line
/// (`aws logs create-export-task` writes each event as `<timestamp> <message>`). Flow-log and
/// query-log readers skip it.
pub fn is_cloudwatch_export_timestamp(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() >= 20 && b[4] == b'-' && b[10] == b'T' && b[..4].iter().all(u8::is_ascii_digit) && parse_iso_ms(token).is_some()
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

    #[test]
    fn the_iso_range_is_what_round_trips() {
        for ms in [MIN_ISO_MS, 0, MAX_ISO_MS] {
            assert_eq!(iso_range(ms), Some(ms));
            assert_eq!(parse_iso_ms(&iso_ms(ms)), Some(ms), "{}", iso_ms(ms));
        }
        assert_eq!(iso_ms(MAX_ISO_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso_ms(MIN_ISO_MS), "0000-01-01T00:00:00.000Z");
        for ms in [MIN_ISO_MS - 1, MAX_ISO_MS + 1, i64::MAX, i64::MIN] {
            assert_eq!(iso_range(ms), None);
            assert_eq!(parse_iso_ms(&iso_ms(ms)).and_then(iso_range).filter(|back| *back == ms), None);
        }
    }
}
