//! AWS's published address ranges (`https://ip-ranges.amazonaws.com/ip-ranges.json`), used by
//! UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS: instance credentials
//! used from an address outside every AWS range.
//!
//! Layout (AWS General Reference, "AWS IP address ranges"):
//! `{"syncToken": "...", "createDate": "yyyy-mm-dd-hh-mm-ss",
//!   "prefixes": [{"ip_prefix": "3.5.140.0/22", "region": "...", "network_border_group": "...", "service": "AMAZON"}],
//!   "ipv6_prefixes": [{"ipv6_prefix": "2600:1f18::/33", "region": "...", "network_border_group": "...", "service": "..."}]}`.
//! Every service's prefixes are kept (the `AMAZON` entries already cover the others); unknown
//! fields are ignored so that AWS can add some.
use super::{IpNet, IpSet};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Deserialize)]
struct RangesFile<'a> {
    #[serde(rename = "syncToken", borrow, default)]
    sync_token: Option<Cow<'a, str>>,
    #[serde(rename = "createDate", borrow, default)]
    create_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prefixes: Vec<V4Prefix<'a>>,
    #[serde(borrow, default)]
    ipv6_prefixes: Vec<V6Prefix<'a>>,
}

#[derive(Debug, Deserialize)]
struct V4Prefix<'a> {
    #[serde(borrow)]
    ip_prefix: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct V6Prefix<'a> {
    #[serde(borrow)]
    ipv6_prefix: Cow<'a, str>,
}

/// AWS's ranges as a lookup set, with the file's identity.
#[derive(Debug, Clone, Default)]
pub struct AwsIpRanges {
    pub sync_token: Option<String>,
    pub create_date: Option<String>,
    pub set: IpSet,
    /// Prefixes that did not parse as a network of the expected family (skipped).
    pub bad_prefixes: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AwsRangesError {
    #[error("not an AWS ip-ranges.json document: {0}")]
    Malformed(String),
}

pub fn parse_aws_ip_ranges(bytes: &[u8]) -> Result<AwsIpRanges, AwsRangesError> {
    let file: RangesFile<'_> = serde_json::from_slice(bytes).map_err(|err| {
        // serde_json's message can quote input (e.g. unknown variant names); keep only where.
        AwsRangesError::Malformed(format!("invalid JSON at line {} column {}", err.line(), err.column()))
    })?;
    if file.prefixes.is_empty() && file.ipv6_prefixes.is_empty() {
        return Err(AwsRangesError::Malformed("no prefixes or ipv6_prefixes".into()));
    }
    let mut bad_prefixes = 0u64;
    let mut nets = Vec::with_capacity(file.prefixes.len() + file.ipv6_prefixes.len());
    let v4 = file.prefixes.iter().map(|p| (p.ip_prefix.as_ref(), true));
    let v6 = file.ipv6_prefixes.iter().map(|p| (p.ipv6_prefix.as_ref(), false));
    for (text, want_v4) in v4.chain(v6) {
        match text.trim().parse::<IpNet>() {
            Ok(net) if net.addr.is_ipv4() == want_v4 => nets.push(net),
            _ => bad_prefixes += 1,
        }
    }
    Ok(AwsIpRanges {
        sync_token: file.sync_token.map(Cow::into_owned),
        create_date: file.create_date.map(Cow::into_owned),
        set: IpSet::from_nets(nets),
        bad_prefixes,
    })
}
