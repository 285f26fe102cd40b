//! Threat-intelligence flags shared by `vedette serve` (for --watch) and `vedette ingest`: the
//! operator's feeds, AWS's address ranges and GeoIP databases. Read once at start; a file that
//! cannot be read or parsed stops the command with its path and why.
use std::path::PathBuf;
use std::sync::Arc;

use vedette_ingest::intel::FeedSpec;
use vedette_ingest::{IntelConfig, Intelligence};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct IntelArgs {
    /// An IP feed whose addresses raise the non-custom caller findings: KIND=PATH[,FORMAT].
    /// Kinds: `malicious` (Recon/UnauthorizedAccess:IAMUser/MaliciousIPCaller) and `tor`
    /// (.../TorIPCaller). FORMAT is a list format (TXT, the default, STIX, OTX_CSV, ALIEN_VAULT,
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
}
