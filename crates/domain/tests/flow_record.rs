//! Flow-log record parsing (docs/logs.md#vpc-flow-logs) over files written in each layout.
use std::net::IpAddr;

use proptest::prelude::*;
use vedette_domain::flow::{FlowAction, FlowDirection, FlowError, FlowField, FlowLayout, FlowLine, FlowReader, FlowRecord, LogStatus, ReadLine};

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/flow/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every line of a file through one reader: records (owned clones of the fields that matter
/// here), and counts of skipped rows and headers.
struct Read<'a> {
    records: Vec<FlowRecord<'a>>,
    skipped: Vec<LogStatus>,
    headers: usize,
}

fn read(text: &str) -> Read<'_> {
    let mut reader = FlowReader::default();
    let mut out = Read { records: Vec::new(), skipped: Vec::new(), headers: 0 };
    for line in text.lines() {
        match reader.read(line).unwrap_or_else(|e| panic!("{line:?}: {e}")) {
            ReadLine::Header => out.headers += 1,
            ReadLine::Blank => {}
            ReadLine::Line(FlowLine::Record(r)) => out.records.push(r),
            ReadLine::Line(FlowLine::Skipped(s)) => out.skipped.push(s),
        }
    }
    out
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn default_v2_order_without_header() {
    let text = data("v2_default.log");
    let r = read(&text);
    assert_eq!(r.headers, 0);
    assert_eq!(r.skipped, vec![LogStatus::NoData, LogStatus::SkipData]);
    assert_eq!(r.records.len(), 3);
    let first = &r.records[0];
    assert_eq!(first.version, Some(2));
    assert_eq!(first.account_id, Some("123456789010"));
    assert_eq!(first.interface_id, Some("eni-1235b8ca123456789"));
    assert_eq!((first.srcaddr, first.dstaddr), (ip("172.31.16.139"), ip("172.31.16.21")));
    assert_eq!((first.srcport, first.dstport, first.protocol), (Some(20641), Some(22), Some(6)));
    assert_eq!((first.packets, first.bytes), (Some(20), Some(4249)));
    assert_eq!((first.start, first.end), (Some(1418530010), Some(1418530070)));
    assert_eq!(first.event_time_ms(), Some(1_418_530_070_000));
    assert_eq!(first.action, Some(FlowAction::Accept));
    assert_eq!(r.records[1].action, Some(FlowAction::Reject));
    assert_eq!(r.records[2].srcaddr, ip("2001:db8:1234:a100:8d6e:3477:df66:f105"));
    assert_eq!(first.instance_id, None, "v2 has no instance id");
}

#[test]
fn header_line_gives_the_same_records_as_the_default() {
    let with_header = data("v2_header.log");
    let default = data("v2_default.log");
    let a = read(&with_header);
    let b = read(&default);
    assert_eq!(a.headers, 1);
    assert_eq!(a.records[0], b.records[0]);
}

#[test]
fn v3_custom_order_with_packet_addresses() {
    let text = data("v3_custom.log");
    let r = read(&text);
    assert_eq!(r.records.len(), 2);
    let rec = &r.records[0];
    assert_eq!(rec.instance_id, Some("i-01234567890123456"));
    assert_eq!((rec.vpc_id, rec.subnet_id), (Some("vpc-0a1b2c3d"), Some("subnet-aaaa1111")));
    assert_eq!(rec.pkt_dstaddr, ip("10.20.33.164"));
    assert_eq!(rec.tcp_flags, Some(3));
    assert_eq!(rec.traffic_type, Some("IPv4"));
    assert_eq!(rec.version, Some(3));
    assert_eq!(rec.packets, None, "not in this layout");
    assert_eq!(r.records[1].instance_id, None, "'-' is no value");
    assert_eq!(r.records[1].tcp_flags, Some(19));
}

#[test]
fn v4_and_v5_fields() {
    let v4 = data("v4_custom.log");
    let r = read(&v4);
    let rec = &r.records[0];
    assert_eq!((rec.region, rec.az_id), (Some("us-east-1"), Some("use1-az4")));
    assert_eq!((rec.sublocation_type, rec.sublocation_id), (Some("outpost"), Some("op-0123456789abcdef0")));
    assert_eq!(rec.srcaddr, ip("52.213.180.42"));

    let v5 = data("v5_custom.log");
    let mut reader = FlowReader::default();
    let mut lines = v5.lines();
    assert_eq!(reader.read(lines.next().unwrap()), Ok(ReadLine::Header));
    assert_eq!(reader.layout().version(), 5);
    assert_eq!(reader.layout().fields().count(), 18, "reject-reason is kept as an ignored column");
    let ReadLine::Line(FlowLine::Record(egress)) = reader.read(lines.next().unwrap()).unwrap() else { panic!() };
    assert_eq!(egress.flow_direction, Some(FlowDirection::Egress));
    assert_eq!((egress.pkt_src_aws_service, egress.pkt_dst_aws_service), (None, Some("S3")));
    assert_eq!(egress.traffic_path, Some(8));
    let ReadLine::Line(FlowLine::Record(ingress)) = reader.read(lines.next().unwrap()).unwrap() else { panic!() };
    assert_eq!(ingress.flow_direction, Some(FlowDirection::Ingress));
    assert_eq!(ingress.traffic_path, None);
}

#[test]
fn cloudwatch_export_prefix_is_skipped() {
    let text = data("cloudwatch_export.log");
    let r = read(&text);
    let plain = data("v2_default.log");
    assert_eq!(r.records, vec![read(&plain).records[0].clone()]);
    assert_eq!(r.skipped, vec![LogStatus::NoData]);
}

#[test]
fn log_format_string_builds_a_layout() {
    let layout = FlowLayout::from_format("${version} ${srcaddr} ${dstaddr} ${flow-direction}").unwrap();
    assert_eq!(layout.version(), 5);
    assert_eq!(
        layout.fields().collect::<Vec<_>>(),
        vec![Some(FlowField::Version), Some(FlowField::SrcAddr), Some(FlowField::DstAddr), Some(FlowField::FlowDirection)]
    );
    let FlowLine::Record(r) = layout.parse("5 10.0.0.1 8.8.8.8 egress").unwrap() else { panic!() };
    assert_eq!(r.dstaddr, ip("8.8.8.8"));
}

#[test]
fn errors_name_the_field_not_the_content() {
    let layout = FlowLayout::default();
    let bad_port = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 SECRETVALUE 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
    let err = layout.parse(bad_port).unwrap_err();
    assert_eq!(err, FlowError::InvalidField { field: "srcport" });
    assert!(!err.to_string().contains("SECRETVALUE"));
    let port_too_big = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 70000 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
    assert_eq!(layout.parse(port_too_big).unwrap_err(), FlowError::InvalidField { field: "srcport" });
    let bad_action = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 20 4249 1418530010 1418530070 MAYBE OK";
    assert_eq!(layout.parse(bad_action).unwrap_err(), FlowError::InvalidField { field: "action" });
    assert_eq!(layout.parse("2 123456789010 eni-1").unwrap_err(), FlowError::FieldCount { expected: 14, found: 3 });
    assert!(matches!(FlowLayout::from_header("version srcaddr bogus-field"), Some(Err(FlowError::UnknownHeaderField { column: 3 }))));
    assert!(matches!(FlowLayout::from_header("version srcaddr srcaddr"), Some(Err(FlowError::DuplicateHeaderField { field: "srcaddr" }))));
    let mut reader = FlowReader::default();
    assert_eq!(reader.read_bytes(b"2 \xff\xfe"), Err(FlowError::NotText));
}

proptest! {
    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut reader = FlowReader::default();
        let _ = reader.read_bytes(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = FlowLayout::default().parse(text);
            let _ = FlowLayout::from_header(text);
        }
    }

    #[test]
    fn never_panics_on_record_shaped_lines(tokens in proptest::collection::vec("[-0-9a-zA-Z.:]{0,12}", 14..16)) {
        let line = tokens.join(" ");
        let _ = FlowLayout::default().parse(&line);
    }
}
