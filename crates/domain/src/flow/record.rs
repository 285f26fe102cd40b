//! VPC flow-log records (docs/logs.md#vpc-flow-logs): space-separated text, `-` = no value, field order given by
//! the file's header line (S3 delivery) or the default v2 order. Parsing borrows from the line;
//! it never panics, whatever the bytes, and errors name the field, never its content (a log may
//! hold addresses the operator does not want echoed into error logs).
//!
//! CloudWatch Logs exports (`aws logs create-export-task`) write each event as
//! `<ISO-8601 ingestion timestamp> <message>`: the prefix is recognised and skipped.
use std::net::IpAddr;

/// A field of the flow-log record format (VPC UG "Available fields", versions 2–5). Fields of
/// later versions (ECS, reject-reason) are accepted in headers and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowField {
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
    Region,
    AzId,
    SublocationType,
    SublocationId,
    PktSrcAwsService,
    PktDstAwsService,
    FlowDirection,
    TrafficPath,
}

/// Field names as written in headers and `--log-format` (`${name}`), with the version adding them.
const FIELD_NAMES: &[(&str, FlowField, u8)] = &[
    ("version", FlowField::Version, 2),
    ("account-id", FlowField::AccountId, 2),
    ("interface-id", FlowField::InterfaceId, 2),
    ("srcaddr", FlowField::SrcAddr, 2),
    ("dstaddr", FlowField::DstAddr, 2),
    ("srcport", FlowField::SrcPort, 2),
    ("dstport", FlowField::DstPort, 2),
    ("protocol", FlowField::Protocol, 2),
    ("packets", FlowField::Packets, 2),
    ("bytes", FlowField::Bytes, 2),
    ("start", FlowField::Start, 2),
    ("end", FlowField::End, 2),
    ("action", FlowField::Action, 2),
    ("log-status", FlowField::LogStatus, 2),
    ("vpc-id", FlowField::VpcId, 3),
    ("subnet-id", FlowField::SubnetId, 3),
    ("instance-id", FlowField::InstanceId, 3),
    ("tcp-flags", FlowField::TcpFlags, 3),
    ("type", FlowField::Type, 3),
    ("pkt-srcaddr", FlowField::PktSrcAddr, 3),
    ("pkt-dstaddr", FlowField::PktDstAddr, 3),
    ("region", FlowField::Region, 4),
    ("az-id", FlowField::AzId, 4),
    ("sublocation-type", FlowField::SublocationType, 4),
    ("sublocation-id", FlowField::SublocationId, 4),
    ("pkt-src-aws-service", FlowField::PktSrcAwsService, 5),
    ("pkt-dst-aws-service", FlowField::PktDstAwsService, 5),
    ("flow-direction", FlowField::FlowDirection, 5),
    ("traffic-path", FlowField::TrafficPath, 5),
];

/// Names of later-version fields a header may carry; their columns are skipped.
const IGNORED_FIELD_NAMES: &[&str] = &[
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

/// The 14 fields of the default format, in order.
pub const DEFAULT_V2_FIELDS: [FlowField; 14] = [
    FlowField::Version,
    FlowField::AccountId,
    FlowField::InterfaceId,
    FlowField::SrcAddr,
    FlowField::DstAddr,
    FlowField::SrcPort,
    FlowField::DstPort,
    FlowField::Protocol,
    FlowField::Packets,
    FlowField::Bytes,
    FlowField::Start,
    FlowField::End,
    FlowField::Action,
    FlowField::LogStatus,
];

impl FlowField {
    pub fn from_name(name: &str) -> Option<FlowField> {
        FIELD_NAMES.iter().find(|(n, _, _)| *n == name).map(|(_, f, _)| *f)
    }

    pub fn name(self) -> &'static str {
        FIELD_NAMES.iter().find(|(_, f, _)| *f == self).map_or("?", |(n, _, _)| n)
    }

    /// The flow-log version that introduced the field.
    pub fn version(self) -> u8 {
        FIELD_NAMES.iter().find(|(_, f, _)| *f == self).map_or(2, |(_, _, v)| *v)
    }
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("flow-log record has {found} fields, the format has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("flow-log field {field} is not valid")]
    InvalidField { field: &'static str },
    #[error("flow-log header names an unknown field (column {column})")]
    UnknownHeaderField { column: usize },
    #[error("flow-log header names field {field} twice")]
    DuplicateHeaderField { field: &'static str },
    #[error("flow-log record is not text")]
    NotText,
}

/// A field order, built once per header and reused for every line under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLayout {
    /// One entry per column: the field, or `None` for a column Vedette ignores.
    columns: Vec<Option<FlowField>>,
    /// The highest version among the declared fields (docs/logs.md#vpc-flow-logs).
    version: u8,
}

impl Default for FlowLayout {
    fn default() -> Self {
        FlowLayout::new(DEFAULT_V2_FIELDS.iter().copied().map(Some).collect())
    }
}

impl FlowLayout {
    fn new(columns: Vec<Option<FlowField>>) -> Self {
        let version = columns.iter().flatten().map(|f| f.version()).max().unwrap_or(2);
        FlowLayout { columns, version }
    }

    /// The layout a header line declares (`version account-id ...`, or the `${field}` form of a
    /// `--log-format`). `None` when the line is not a header (its first token is no field name).
    pub fn from_header(line: &str) -> Option<Result<FlowLayout, FlowError>> {
        // Fast path for records: field names start with a lowercase letter (or `${`).
        let first_byte = line.trim_start().bytes().next()?;
        if !(first_byte.is_ascii_lowercase() || first_byte == b'$') {
            return None;
        }
        let mut tokens = line.split_ascii_whitespace().map(|t| t.trim_start_matches("${").trim_end_matches('}'));
        let first = tokens.next()?;
        if FlowField::from_name(first).is_none() && !IGNORED_FIELD_NAMES.contains(&first) {
            return None;
        }
        let mut columns = Vec::new();
        for (column, token) in std::iter::once(first).chain(tokens).enumerate() {
            match FlowField::from_name(token) {
                Some(field) if columns.contains(&Some(field)) => {
                    return Some(Err(FlowError::DuplicateHeaderField { field: field.name() }));
                }
                Some(field) => columns.push(Some(field)),
                None if IGNORED_FIELD_NAMES.contains(&token) => columns.push(None),
                None => return Some(Err(FlowError::UnknownHeaderField { column: column + 1 })),
            }
        }
        Some(Ok(FlowLayout::new(columns)))
    }

    /// The layout of a `--log-format` string (`${version} ${srcaddr} ...`).
    pub fn from_format(format: &str) -> Result<FlowLayout, FlowError> {
        FlowLayout::from_header(format).unwrap_or(Err(FlowError::UnknownHeaderField { column: 1 }))
    }

    pub fn fields(&self) -> impl Iterator<Item = Option<FlowField>> + '_ {
        self.columns.iter().copied()
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    /// Parses one record line (a CloudWatch Logs export timestamp prefix is skipped).
    pub fn parse<'a>(&self, line: &'a str) -> Result<FlowLine<'a>, FlowError> {
        let mut tokens = line.split_ascii_whitespace();
        let mut found = tokens.clone().count();
        if found == self.columns.len() + 1 && tokens.clone().next().is_some_and(crate::time::is_cloudwatch_export_timestamp) {
            tokens.next();
            found -= 1;
        }
        if found != self.columns.len() {
            return Err(FlowError::FieldCount { expected: self.columns.len(), found });
        }
        let mut record = FlowRecord::default();
        for (column, token) in self.columns.iter().zip(tokens) {
            let Some(field) = column else { continue };
            if token == "-" {
                continue;
            }
            record.set(*field, token)?;
        }
        match record.log_status {
            Some(status @ (LogStatus::NoData | LogStatus::SkipData)) => Ok(FlowLine::Skipped(status)),
            _ => Ok(FlowLine::Record(record)),
        }
    }
}

/// What one line holds.
// The record stays inline: boxing it would cost an allocation per line on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum FlowLine<'a> {
    Record(FlowRecord<'a>),
    /// A NODATA / SKIPDATA row: no traffic in the window, or records lost (counted, not analysed).
    Skipped(LogStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FlowAction {
    Accept,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStatus {
    Ok,
    NoData,
    SkipData,
}

/// `flow-direction` (v5): relative to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDirection {
    Ingress,
    Egress,
}

/// One flow record; every field is optional (`-`, or absent from the layout).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowRecord<'a> {
    pub version: Option<u8>,
    pub account_id: Option<&'a str>,
    pub interface_id: Option<&'a str>,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    /// IANA protocol number.
    pub protocol: Option<u8>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// Unix seconds.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub action: Option<FlowAction>,
    pub log_status: Option<LogStatus>,
    pub vpc_id: Option<&'a str>,
    pub subnet_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    /// OR of the TCP flags seen in the window (FIN 1, SYN 2, RST 4, ACK 16; SYN-ACK = 18).
    pub tcp_flags: Option<u16>,
    pub traffic_type: Option<&'a str>,
    pub pkt_srcaddr: Option<IpAddr>,
    pub pkt_dstaddr: Option<IpAddr>,
    pub region: Option<&'a str>,
    pub az_id: Option<&'a str>,
    pub sublocation_type: Option<&'a str>,
    pub sublocation_id: Option<&'a str>,
    pub pkt_src_aws_service: Option<&'a str>,
    pub pkt_dst_aws_service: Option<&'a str>,
    pub flow_direction: Option<FlowDirection>,
    pub traffic_path: Option<u8>,
}

impl<'a> FlowRecord<'a> {
    fn set(&mut self, field: FlowField, token: &'a str) -> Result<(), FlowError> {
        fn num<T: std::str::FromStr>(field: FlowField, token: &str) -> Result<Option<T>, FlowError> {
            token.parse().map(Some).map_err(|_| FlowError::InvalidField { field: field.name() })
        }
        fn ip(field: FlowField, token: &str) -> Result<Option<IpAddr>, FlowError> {
            num(field, token)
        }
        let invalid = || FlowError::InvalidField { field: field.name() };
        match field {
            FlowField::Version => self.version = num(field, token)?,
            FlowField::AccountId => self.account_id = Some(token),
            FlowField::InterfaceId => self.interface_id = Some(token),
            FlowField::SrcAddr => self.srcaddr = ip(field, token)?,
            FlowField::DstAddr => self.dstaddr = ip(field, token)?,
            FlowField::SrcPort => self.srcport = num(field, token)?,
            FlowField::DstPort => self.dstport = num(field, token)?,
            FlowField::Protocol => self.protocol = num(field, token)?,
            FlowField::Packets => self.packets = num(field, token)?,
            FlowField::Bytes => self.bytes = num(field, token)?,
            FlowField::Start => self.start = num(field, token)?,
            FlowField::End => self.end = num(field, token)?,
            FlowField::Action => {
                self.action = Some(match token {
                    "ACCEPT" => FlowAction::Accept,
                    "REJECT" => FlowAction::Reject,
                    _ => return Err(invalid()),
                })
            }
            FlowField::LogStatus => {
                self.log_status = Some(match token {
                    "OK" => LogStatus::Ok,
                    "NODATA" => LogStatus::NoData,
                    "SKIPDATA" => LogStatus::SkipData,
                    _ => return Err(invalid()),
                })
            }
            FlowField::VpcId => self.vpc_id = Some(token),
            FlowField::SubnetId => self.subnet_id = Some(token),
            FlowField::InstanceId => self.instance_id = Some(token),
            FlowField::TcpFlags => self.tcp_flags = num(field, token)?,
            FlowField::Type => self.traffic_type = Some(token),
            FlowField::PktSrcAddr => self.pkt_srcaddr = ip(field, token)?,
            FlowField::PktDstAddr => self.pkt_dstaddr = ip(field, token)?,
            FlowField::Region => self.region = Some(token),
            FlowField::AzId => self.az_id = Some(token),
            FlowField::SublocationType => self.sublocation_type = Some(token),
            FlowField::SublocationId => self.sublocation_id = Some(token),
            FlowField::PktSrcAwsService => self.pkt_src_aws_service = Some(token),
            FlowField::PktDstAwsService => self.pkt_dst_aws_service = Some(token),
            FlowField::FlowDirection => {
                self.flow_direction = Some(match token {
                    "ingress" => FlowDirection::Ingress,
                    "egress" => FlowDirection::Egress,
                    _ => return Err(invalid()),
                })
            }
            FlowField::TrafficPath => self.traffic_path = num(field, token)?,
        }
        Ok(())
    }

    /// `end` (else `start`) in epoch ms: the record's event time. A time past the years findings
    /// can show counts as absent (found by fuzzing: `end` 9223372036854775 made a finding last
    /// seen in 1970).
    pub fn event_time_ms(&self) -> Option<i64> {
        self.end.and_then(seconds_to_ms).or_else(|| self.start.and_then(seconds_to_ms))
    }

    /// `start` (else `end`) in epoch ms (the same bounds).
    pub fn start_ms(&self) -> Option<i64> {
        self.start.and_then(seconds_to_ms).or_else(|| self.end.and_then(seconds_to_ms))
    }
}

fn seconds_to_ms(seconds: i64) -> Option<i64> {
    seconds.checked_mul(1000).and_then(crate::time::iso_range)
}

/// Reads a flow-log file line by line: a header line (re)defines the layout, blank lines are
/// ignored, every other line is a record under the current layout (the default v2 order until a
/// header is seen).
#[derive(Debug, Clone, Default)]
pub struct FlowReader {
    layout: FlowLayout,
}

/// One line's outcome.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ReadLine<'a> {
    Header,
    Blank,
    Line(FlowLine<'a>),
}

impl FlowReader {
    /// A reader starting from `layout` (a `--log-format` known out of band).
    pub fn with_layout(layout: FlowLayout) -> Self {
        FlowReader { layout }
    }

    pub fn layout(&self) -> &FlowLayout {
        &self.layout
    }

    pub fn read_bytes<'a>(&mut self, line: &'a [u8]) -> Result<ReadLine<'a>, FlowError> {
        self.read(std::str::from_utf8(line).map_err(|_| FlowError::NotText)?)
    }

    pub fn read<'a>(&mut self, line: &'a str) -> Result<ReadLine<'a>, FlowError> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Ok(ReadLine::Blank);
        }
        if let Some(layout) = FlowLayout::from_header(line) {
            self.layout = layout?;
            return Ok(ReadLine::Header);
        }
        self.layout.parse(line).map(ReadLine::Line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fuzz/regressions/flow_log/event-time-past-year-9999): times no ISO-8601 date can
    /// show are no event time, so no finding claims 1970 or a five-digit year.
    #[test]
    fn times_past_year_9999_are_no_event_time() {
        let line = |start: i64, end: i64| format!("2 111122223333 eni-1 10.0.1.10 64.9.9.9 1 2 6 1 1 {start} {end} ACCEPT OK");
        let parse = |text: &str| match FlowLayout::default().parse(text) {
            Ok(FlowLine::Record(record)) => (record.start_ms(), record.event_time_ms()),
            other => panic!("{other:?}"),
        };
        assert_eq!(parse(&line(9_223_372_036_854_775, 9_223_372_036_854_775)), (None, None));
        assert_eq!(parse(&line(253_402_300_800, 253_402_300_800)), (None, None));
        assert_eq!(parse(&line(1_700_000_000, 253_402_300_800)), (Some(1_700_000_000_000), Some(1_700_000_000_000)));
        assert_eq!(parse(&line(1_700_000_000, 1_700_000_060)), (Some(1_700_000_000_000), Some(1_700_000_060_000)));
        assert_eq!(parse(&line(-62_167_219_201, -1)), (Some(-1_000), Some(-1_000)));
    }
}
