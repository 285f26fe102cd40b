//! Route 53 Resolver query-log records (docs/logs.md#dns-query-logs), one JSON object per query, borrowed from the
//! input line: only the fields detection and the finding mapping read.
//!
//! Parsing is as tolerant as CloudTrail's ([`crate::cloudtrail`]): a string field holding a
//! number reads as its text (`srcport` is a string in AWS's example, a number in some exports),
//! an object or array where a string belongs reads as absent, a non-object `srcids` reads as
//! empty, a non-array `answers` as no answers. Only malformed JSON (or a top level that is not an
//! object) fails a record; nothing panics.
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

pub use crate::cloudtrail::{Obj, Text};

/// Parses one query-log record (a JSON object) borrowing from `json`: a line of a query-log file
/// as Resolver delivers it to S3, or a line of a CloudWatch Logs export (see [`query_json`]).
pub fn parse_query_record(json: &[u8]) -> Result<QueryLogRecord<'_>, sonic_rs::Error> {
    let json = query_json(json);
    // serde would read a JSON array as a struct's fields in order: a record is an object.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(<sonic_rs::Error as de::Error>::custom("a Route 53 Resolver query-log record must be a JSON object"));
    }
    sonic_rs::from_slice(json)
}

/// The JSON of a query-log line. Resolver query logs sent to CloudWatch Logs and exported from
/// there (`aws logs create-export-task`) carry each event as `<ISO-8601 timestamp> <message>`
/// (`2024-03-01T10:00:05.123Z {"version":...}`): the timestamp (when CloudWatch received the
/// event; `query_timestamp` inside is the query's time) and its space are skipped. Any other line
/// is returned as it is.
pub fn query_json(line: &[u8]) -> &[u8] {
    let line = line.trim_ascii_start();
    if line.first() == Some(&b'{') {
        return line;
    }
    // A timestamp is at most ~35 bytes (nanoseconds and an offset): never scan a long line.
    let Some(space) = line.iter().take(EXPORT_TIMESTAMP_MAX_LEN + 1).position(|b| *b == b' ') else {
        return line;
    };
    match std::str::from_utf8(&line[..space]) {
        Ok(stamp) if crate::time::is_cloudwatch_export_timestamp(stamp) => line[space..].trim_ascii_start(),
        _ => line,
    }
}

/// Longest export timestamp accepted (`2024-03-01T10:00:05.123456789+00:00` is 35 bytes).
const EXPORT_TIMESTAMP_MAX_LEN: usize = 40;

/// One Route 53 Resolver query-log record.
#[derive(Debug, Default, serde::Deserialize)]
pub struct QueryLogRecord<'a> {
    /// `"1.100000"` in AWS's example.
    #[serde(borrow, default)]
    pub version: Text<'a>,
    #[serde(borrow, default)]
    pub account_id: Text<'a>,
    #[serde(borrow, default)]
    pub region: Text<'a>,
    #[serde(borrow, default)]
    pub vpc_id: Text<'a>,
    /// ISO-8601 UTC, e.g. `2021-02-04T17:51:55Z`.
    #[serde(borrow, default)]
    pub query_timestamp: Text<'a>,
    /// The queried name as sent, usually with a trailing dot.
    #[serde(borrow, default)]
    pub query_name: Text<'a>,
    #[serde(borrow, default)]
    pub query_type: Text<'a>,
    #[serde(borrow, default)]
    pub query_class: Text<'a>,
    #[serde(borrow, default)]
    pub rcode: Text<'a>,
    #[serde(borrow, default)]
    pub answers: Seq<Obj<Answer<'a>>>,
    #[serde(borrow, default)]
    pub srcaddr: Text<'a>,
    #[serde(borrow, default)]
    pub srcport: Text<'a>,
    /// `UDP` / `TCP`.
    #[serde(borrow, default)]
    pub transport: Text<'a>,
    #[serde(borrow, default)]
    pub srcids: Obj<SourceIds<'a>>,
    #[serde(borrow, default)]
    pub firewall_rule_group_id: Text<'a>,
    /// `BLOCK` / `ALERT` / `ALLOW`.
    #[serde(borrow, default)]
    pub firewall_rule_action: Text<'a>,
    #[serde(borrow, default)]
    pub firewall_domain_list_id: Text<'a>,
}

/// One resource record of the answer section.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Answer<'a> {
    #[serde(rename = "Rdata", borrow, default)]
    pub rdata: Text<'a>,
    #[serde(rename = "Type", borrow, default)]
    pub record_type: Text<'a>,
    #[serde(rename = "Class", borrow, default)]
    pub class: Text<'a>,
}

/// Where the query came from: an EC2 instance, or an inbound Resolver endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SourceIds<'a> {
    #[serde(borrow, default)]
    pub instance: Text<'a>,
    #[serde(borrow, default)]
    pub resolver_endpoint: Text<'a>,
}

impl<'a> QueryLogRecord<'a> {
    pub fn instance_id(&self) -> Option<&str> {
        self.srcids.0.instance.get()
    }

    pub fn answers(&self) -> impl Iterator<Item = &Answer<'a>> {
        self.answers.0.iter().map(|a| &a.0)
    }

    /// True when a Route 53 Resolver DNS Firewall rule blocked the query (decision in docs/logs.md#dns-query-logs).
    pub fn blocked(&self) -> bool {
        self.firewall_rule_action.as_str().eq_ignore_ascii_case("BLOCK")
    }

    /// The query time in epoch ms, if it parses to a time findings can show (an offset can push
    /// `9999-12-31T23:59:59-01:00` into year 10000, which no finding time can hold: found by
    /// fuzzing).
    pub fn time_ms(&self) -> Option<i64> {
        self.query_timestamp.get().and_then(crate::time::parse_iso_ms).and_then(crate::time::iso_range)
    }

    /// The first member routing and the finding mapping need that the record lacks, if any.
    pub fn missing_field(&self) -> Option<&'static str> {
        if self.account_id.get().is_none() {
            Some("account_id")
        } else if self.region.get().is_none() {
            Some("region")
        } else if self.query_timestamp.get().is_none() {
            Some("query_timestamp")
        } else if self.query_name.get().is_none() {
            Some("query_name")
        } else {
            None
        }
    }
}

/// An array member; anything else (null, a string, an object...) reads as empty.
#[derive(Debug)]
pub struct Seq<T>(pub Vec<T>);

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Seq(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
            type Value = Seq<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    out.push(item);
                }
                Ok(Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Seq::default())
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Seq::default())
            }
        }

        deserializer.deserialize_any(SeqVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record laid out like the example in the Route 53 Developer Guide ("Values that appear in
    /// Resolver query logs"), on one line; the values are ours.
    const AWS_EXAMPLE: &[u8] = br#"{"version":"1.100000","account_id":"111122223333","region":"us-west-2","vpc_id":"vpc-7example","query_timestamp":"2021-02-04T17:51:55Z","query_name":"amazon.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"176.32.103.205","Type":"A","Class":"IN"},{"Rdata":"205.251.242.103","Type":"A","Class":"IN"}],"srcaddr":"172.31.45.44","srcport":"51298","transport":"UDP","srcids":{"instance":"i-0d15cd0d3example"}}"#;

    #[test]
    fn reads_aws_example_borrowing_from_the_input() {
        let r = parse_query_record(AWS_EXAMPLE).unwrap();
        assert_eq!(r.account_id.get(), Some("111122223333"));
        assert_eq!(r.query_name.get(), Some("amazon.com."));
        assert!(matches!(r.query_name.0, std::borrow::Cow::Borrowed(_)));
        assert_eq!(r.instance_id(), Some("i-0d15cd0d3example"));
        let rdata: Vec<&str> = r.answers().map(|a| a.rdata.as_str()).collect();
        assert_eq!(rdata, ["176.32.103.205", "205.251.242.103"]);
        assert_eq!(r.answers().next().unwrap().record_type.get(), Some("A"));
        assert_eq!(r.srcport.get(), Some("51298"));
        assert_eq!(r.time_ms(), crate::time::parse_iso_ms("2021-02-04T17:51:55Z"));
        assert!(!r.blocked());
        assert_eq!(r.missing_field(), None);
    }

    /// The example record of the Route 53 Developer Guide page "Route 53 VPC Resolver query log
    /// example" (resolver-query-logs-example-json), pretty-printed as there.
    const AWS_DOCUMENTED_EXAMPLE: &str = r#"{
        "srcaddr": "4.5.64.102",
        "vpc_id": "vpc-7example",
        "answers": [
            {
                "Rdata": "203.0.113.9",
                "Type": "PTR",
                "Class": "IN"
            }
        ],
        "firewall_rule_group_id": "rslvr-frg-01234567890abcdef",
        "firewall_rule_action": "BLOCK",
        "query_name": "15.3.4.32.in-addr.arpa.",
        "firewall_domain_list_id": "rslvr-fdl-01234567890abcdef",
        "query_class": "IN",
        "srcids": {
            "instance": "i-0d15cd0d3example"
        },
        "rcode": "NOERROR",
        "query_type": "PTR",
        "transport": "UDP",
        "version": "1.100000",
        "account_id": "111122223333",
        "srcport": "56067",
        "query_timestamp": "2021-02-04T17:51:55Z",
        "region": "us-east-1"
    }"#;

    #[test]
    fn reads_the_documented_example() {
        let r = parse_query_record(AWS_DOCUMENTED_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(r.version.get(), Some("1.100000"));
        assert_eq!(r.region.get(), Some("us-east-1"));
        assert_eq!(r.query_type.get(), Some("PTR"));
        assert_eq!(
            r.answers().map(|a| (a.rdata.as_str(), a.record_type.as_str(), a.class.as_str())).collect::<Vec<_>>(),
            [("203.0.113.9", "PTR", "IN")]
        );
        assert_eq!(r.instance_id(), Some("i-0d15cd0d3example"));
        assert_eq!(r.srcids.0.resolver_endpoint.get(), None);
        assert!(r.blocked());
        assert_eq!(r.firewall_rule_group_id.get(), Some("rslvr-frg-01234567890abcdef"));
        assert_eq!(r.firewall_domain_list_id.get(), Some("rslvr-fdl-01234567890abcdef"));
        assert_eq!((r.srcaddr.get(), r.srcport.get(), r.transport.get()), (Some("4.5.64.102"), Some("56067"), Some("UDP")));
        assert_eq!(r.missing_field(), None);
    }

    /// Regression (fuzz/regressions/dns_log/query-time-in-year-10000).
    #[test]
    fn a_time_past_year_9999_is_no_time() {
        let record = |time: &str| format!(r#"{{"query_timestamp":"{time}"}}"#);
        let time_ms = |time: &str| parse_query_record(record(time).as_bytes()).unwrap().time_ms();
        assert_eq!(time_ms("9999-12-31T23:59:59-01:00"), None);
        assert_eq!(time_ms("9999-12-31T23:59:59+01:00"), Some(crate::time::MAX_ISO_MS - 999 - 3_600_000));
        assert_eq!(time_ms("9999-12-31T23:59:59.999Z"), Some(crate::time::MAX_ISO_MS));
    }

    #[test]
    fn tolerates_odd_types() {
        let r = parse_query_record(
            br#"{"account_id":111122223333,"srcport":51298,"answers":"none","srcids":["i-1"],"firewall_rule_action":"block","query_name":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(r.account_id.get(), Some("111122223333"));
        assert_eq!(r.srcport.get(), Some("51298"));
        assert_eq!(r.answers().count(), 0);
        assert_eq!(r.instance_id(), None);
        assert!(r.blocked());
        assert_eq!(r.query_name.get(), None);
        assert_eq!(r.missing_field(), Some("region"));
        let r = parse_query_record(br#"{"answers":[1,{"Rdata":"169.254.169.254"},null]}"#).unwrap();
        assert_eq!(r.answers().map(|a| a.rdata.as_str()).collect::<Vec<_>>(), ["", "169.254.169.254", ""]);
    }

    #[test]
    fn reads_a_cloudwatch_logs_export_line() {
        let line = [b"2021-02-04T17:51:56.123Z ".as_slice(), AWS_EXAMPLE].concat();
        let r = parse_query_record(&line).unwrap();
        assert_eq!(r.query_name.get(), Some("amazon.com."));
        assert_eq!(r.time_ms(), crate::time::parse_iso_ms("2021-02-04T17:51:55Z"), "the query's own time, not CloudWatch's");
        assert!(matches!(r.query_name.0, std::borrow::Cow::Borrowed(_)));
        assert_eq!(query_json(b"  {\"a\":1}"), b"{\"a\":1}");
        assert_eq!(query_json(b"2021-02-04T17:51:56+00:00   {}"), b"{}");
        // Not a timestamp: left alone, and not a record.
        for odd in [&b"2021-02-04 {}"[..], b"yesterday {}", b"2021-02-04T17:51:56.123Z", b"2021-13-04T17:51:56.123Z {}"] {
            assert_eq!(query_json(odd), odd);
            assert!(parse_query_record(odd).is_err(), "{odd:?}");
        }
        assert!(parse_query_record(b"2021-02-04T17:51:56.123Z [1]").is_err());
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(parse_query_record(br#"{"query_name":"x""#).is_err());
        assert!(parse_query_record(b"[1,2]").is_err());
        assert!(parse_query_record(b"").is_err());
    }
}
