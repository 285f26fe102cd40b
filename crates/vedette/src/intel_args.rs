//! Threat-intelligence flags shared by `vedette serve` (for --watch) and `vedette ingest`: the
//! operator's feeds, AWS's address ranges and GeoIP databases. Read once at start; a file that
//! cannot be read or parsed stops the command with its path and why.
use std::path::PathBuf;
use std::sync::Arc;

use vedette_domain::flow::FlowLayout;
use vedette_ingest::intel::{DomainFeedSpec, FeedSpec, load_dns_intel, load_inventory};
use vedette_ingest::{IngestOptions, IntelConfig, Intelligence};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct IntelArgs {
    /// An IP feed whose addresses raise the non-custom caller findings: KIND=PATH[,FORMAT].
    /// Kinds: see the error of an unknown kind (the FEED_KINDS table: `malicious`, `tor`, and
    /// the flow-log kinds scanner, c2, bitcoin, blackhole, droppoint, tor-relay). FORMAT is a list format (TXT, the default, STIX, OTX_CSV, ALIEN_VAULT,
    /// PROOF_POINT, FIRE_EYE). Repeatable; findings name the feed by its file name.
    #[arg(long = "feed", value_name = "KIND=PATH[,FORMAT]")]
    pub feeds: Vec<FeedSpec>,
    /// AWS's published ranges (ip-ranges.json): enables
    /// UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS (instance credentials
    /// used from an address outside them).
    #[arg(long, value_name = "PATH")]
    pub ip_ranges: Option<PathBuf>,
    /// A MaxMind-format City (or Country) database (.mmdb, e.g. GeoLite2-City, DB-IP City Lite):
    /// city, country and coordinates in remoteIpDetails; enables
    /// UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B.
    #[arg(long, value_name = "PATH")]
    pub geoip_city: Option<PathBuf>,
    /// A MaxMind-format ASN (or ISP) database (.mmdb, e.g. GeoLite2-ASN): remoteIpDetails.organization.
    #[arg(long, value_name = "PATH")]
    pub geoip_asn: Option<PathBuf>,
    /// A domain feed for DNS query logs: KIND=PATH, one domain a line (it and its subdomains
    /// match). Kinds: c2, bitcoin, blackhole, droppoint, phishing, driveby, dga (the !DNS types).
    /// Repeatable.
    #[arg(long = "domain-feed", value_name = "KIND=PATH")]
    pub domain_feeds: Vec<DomainFeedSpec>,
    /// The JSON `aws ec2 describe-instances` prints: instance details of flow-log and DNS findings
    /// (matched by ENI, private IP or instance id).
    #[arg(long, value_name = "PATH")]
    pub inventory: Option<PathBuf>,
    /// The Region of flow-log records that carry none (versions 2-3) in files outside an S3
    /// delivery tree: a v4+ `region` field wins, then the `AWSLogs/<account>/vpcflowlogs/<region>/`
    /// of the file's path. Without any of these a flow record is reported as bad.
    #[arg(long, value_name = "REGION")]
    pub flow_region: Option<String>,
    /// The field order of flow-log files without a header line, as given to
    /// `aws ec2 create-flow-logs --log-format` (`${version} ${srcaddr} ...`, or the names without
    /// `${}`): a custom format's records exported from CloudWatch Logs. Default: AWS's default
    /// format. A file's own header line always wins.
    #[arg(long, value_name = "FORMAT", value_parser = parse_flow_format)]
    pub flow_format: Option<FlowLayout>,
}

fn parse_flow_format(format: &str) -> Result<FlowLayout, String> {
    FlowLayout::from_format(format).map_err(|e| format!("not a flow-log format: {e}"))
}

impl IntelArgs {
    pub fn load(&self) -> Result<Arc<Intelligence>, String> {
        let config = IntelConfig {
            feeds: self.feeds.clone(),
            ip_ranges: self.ip_ranges.clone(),
            geoip_city: self.geoip_city.clone(),
            geoip_asn: self.geoip_asn.clone(),
        };
        Intelligence::load(&config).map(Arc::new).map_err(|e| e.to_string())
    }

    /// `options` with the intelligence and the flow / DNS inputs of these flags.
    pub fn apply(&self, options: IngestOptions) -> Result<IngestOptions, String> {
        let intel = self.load()?;
        let dns_intel = Arc::new(load_dns_intel(&self.domain_feeds, &intel.operator)?);
        let inventory = self.inventory.as_deref().map(load_inventory).transpose()?.map(Arc::new);
        Ok(IngestOptions { intel, dns_intel, inventory, flow_region: self.flow_region.clone(), flow_format: self.flow_format.clone(), ..options })
    }
}
