//! Threat intelligence for detection: the operator's feeds, AWS's ranges and GeoIP databases
//! (loaded once per process from `--feed`, `--ip-ranges`, `--geoip-city`, `--geoip-asn`), and each
//! detector's ACTIVE trusted and threat lists (read from the store, cached, re-read when the store
//! says they changed).
//!
//! * Feeds use the list formats of GuardDuty's lists (`--feed tor=/path/exits.txt,TXT`); a feed's
//!   name in findings (`threatListName`) is its file name.
//! * GeoIP: MaxMind-format `.mmdb` files (GeoLite2/GeoIP2 City or Country, ASN or ISP; DB-IP's
//!   lite databases share those layouts). Every database given is asked and the first answer for
//!   each member wins, so one file holding both location and ASN also works.
//! * Lists: [`Intelligence::lists`] compares [`vedette_store::ListStore::active_list_heads`]
//!   with what it built last; the ingester asks for every file and every chunk it hands over, so
//!   a list (re-)activated during a run applies to the events analysed after it became ACTIVE.
//!   Detectors holding the same file share its set.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};
use vedette_domain::detect::intel::feed_kind;
use vedette_domain::detect::{DetectorLists, FEED_KINDS, Feed, FeedKind, NamedSet, OperatorIntel};
use vedette_domain::geo::{GeoInfo, GeoLookup};
use vedette_domain::intel::{IpNet, IpSet, ListFormat, parse_aws_ip_ranges, parse_list};
use vedette_store::{ActiveList, ActiveListHead, ListKind, Store, StoreError};

/// What the operator asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct IntelConfig {
    pub feeds: Vec<FeedSpec>,
    /// AWS's `ip-ranges.json`.
    pub ip_ranges: Option<PathBuf>,
    /// A City (or Country) database.
    pub geoip_city: Option<PathBuf>,
    /// An ASN (or ISP) database.
    pub geoip_asn: Option<PathBuf>,
}

/// `KIND=PATH[,FORMAT]`: a feed of a [`FEED_KINDS`] kind in one of the list formats (TXT when
/// not given).
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub kind: &'static FeedKind,
    pub path: PathBuf,
    pub format: ListFormat,
}

/// `KIND=PATH`: a domain feed of a [`vedette_domain::dns::DOMAIN_FEED_KINDS`] kind (one domain
/// a line; DNS findings).
#[derive(Debug, Clone)]
pub struct DomainFeedSpec {
    pub kind: &'static vedette_domain::dns::DomainFeedKind,
    pub path: PathBuf,
}

impl std::str::FromStr for DomainFeedSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kinds = || vedette_domain::dns::DOMAIN_FEED_KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
        let (kind, path) = s.split_once('=').ok_or_else(|| format!("expected KIND=PATH (kinds: {})", kinds()))?;
        let kind = vedette_domain::dns::detect::domain_feed_kind(kind.trim())
            .ok_or_else(|| format!("unknown domain feed kind {kind:?} (kinds: {})", kinds()))?;
        if path.is_empty() {
            return Err("the feed's PATH is empty".into());
        }
        Ok(DomainFeedSpec { kind, path: PathBuf::from(path) })
    }
}

/// The operator's domain intelligence: the domain feeds, and the black-hole IP feeds already
/// loaded in `operator` (a query answered with one of their addresses is black-hole traffic).
pub fn load_dns_intel(specs: &[DomainFeedSpec], operator: &OperatorIntel) -> Result<vedette_domain::dns::DnsIntel, String> {
    let mut intel = vedette_domain::dns::DnsIntel::default();
    for spec in specs {
        let bytes = std::fs::read(&spec.path).map_err(|e| format!("domain feed {}: {e}", spec.path.display()))?;
        let parsed = vedette_domain::dns::parse_domain_feed(&bytes).map_err(|e| format!("domain feed {}: {e}", spec.path.display()))?;
        let name = spec.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| spec.path.display().to_string());
        intel.feeds.push(vedette_domain::dns::DomainFeed {
            kind: spec.kind,
            name,
            file_sha256: hex::encode(Sha256::digest(&bytes)),
            set: Arc::new(vedette_domain::dns::DomainSet::from_names(parsed.domains)),
        });
    }
    intel.blackhole_ips = operator.feeds.iter().filter(|f| f.kind.name == "blackhole").map(|f| f.list.clone()).collect();
    Ok(intel)
}

/// The operator's EC2 inventory (what `aws ec2 describe-instances` prints).
pub fn load_inventory(path: &Path) -> Result<vedette_domain::inventory::Inventory, String> {
    let json = std::fs::read_to_string(path).map_err(|e| format!("inventory {}: {e}", path.display()))?;
    vedette_domain::inventory::Inventory::from_json(&json).map_err(|e| format!("inventory {}: {e}", path.display()))
}

impl std::str::FromStr for FeedSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kinds = || FEED_KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
        let (kind, rest) = s.split_once('=').ok_or_else(|| format!("expected KIND=PATH[,FORMAT] (kinds: {})", kinds()))?;
        let kind = feed_kind(kind.trim()).ok_or_else(|| format!("unknown feed kind {kind:?} (kinds: {})", kinds()))?;
        // A trailing `,FORMAT` only when it names a format: paths may hold commas.
        let (path, format) = match rest.rsplit_once(',') {
            Some((path, format)) if ListFormat::from_api(&format.trim().to_ascii_uppercase()).is_some() => {
                (path, ListFormat::from_api(&format.trim().to_ascii_uppercase()).expect("checked"))
            }
            _ => (rest, ListFormat::Txt),
        };
        if path.is_empty() {
            return Err("the feed's PATH is empty".into());
        }
        Ok(FeedSpec { kind, path: PathBuf::from(path), format })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> IntelError {
    IntelError::File { path: path.to_owned(), message: message.to_string() }
}

fn read(path: &Path) -> Result<Vec<u8>, IntelError> {
    std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))
}

/// Everything detection consults beyond the record, shared by the workers of a run (and by the
/// runs of `serve --watch`).
#[derive(Default)]
pub struct Intelligence {
    pub operator: OperatorIntel,
    lists: ListsCache,
}

impl std::fmt::Debug for Intelligence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intelligence").field("operator", &self.operator).finish_non_exhaustive()
    }
}

impl Intelligence {
    pub fn new(operator: OperatorIntel) -> Self {
        Intelligence { operator, lists: ListsCache::default() }
    }

    /// Loads what `config` names; any file that cannot be read or parsed is an error (the
    /// operator asked for it). What was loaded is logged.
    pub fn load(config: &IntelConfig) -> Result<Self, IntelError> {
        Ok(Self::new(load_operator_intel(config)?))
    }

    /// The detector's ACTIVE lists: from the cache when the store's version of them has not
    /// moved, else read and built again.
    pub fn lists(&self, store: &dyn Store, detector_id: &str) -> Result<Arc<DetectorLists>, StoreError> {
        self.lists.get(store, detector_id)
    }
}

/// Each detector's lists as last built, and the sets they are made of, shared between detectors
/// whose lists hold the same file (an organisation commonly loads the same threat lists in every
/// account and Region: one set in memory, built once).
#[derive(Default)]
struct ListsCache {
    inner: Mutex<CacheInner>,
}

/// What identifies a list's entries: the file, how it was parsed, and how many entries that gave.
/// A store that cannot say the format gets no sharing (the list id is part of the key).
type ContentKey = (String, String, u64);

#[derive(Default)]
struct CacheInner {
    /// detector id → (the heads the lists were built from, the lists).
    detectors: HashMap<String, (Vec<ActiveListHead>, Arc<DetectorLists>)>,
    /// Sets still used by some detector's lists.
    sets: HashMap<ContentKey, Weak<IpSet>>,
    /// Unions of several threat lists, by their sorted keys.
    unions: HashMap<Vec<ContentKey>, Weak<IpSet>>,
}

fn content_key(head: &ActiveListHead) -> ContentKey {
    let format = head.format.clone().unwrap_or_else(|| format!("list {}", head.list_id));
    (head.file_sha256.clone(), format, head.entry_count)
}

/// How many times the heads may change under a build before it gives up (each change is a list
/// activated while the previous one was being read).
const MAX_BUILD_ATTEMPTS: usize = 5;

impl ListsCache {
    fn get(&self, store: &dyn Store, detector_id: &str) -> Result<Arc<DetectorLists>, StoreError> {
        let mut heads = store.active_list_heads(detector_id)?;
        // Built under the lock: the other workers want the same lists, not a second copy.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_from, lists)) = inner.detectors.get(detector_id)
            && *built_from == heads
        {
            return Ok(lists.clone());
        }
        for _ in 0..MAX_BUILD_ATTEMPTS {
            match inner.build(store, detector_id, &heads)? {
                Some(lists) => {
                    let lists = Arc::new(lists);
                    if !heads.is_empty() {
                        tracing::info!(detector = detector_id, lists = heads.len(), "active trusted/threat lists loaded");
                    }
                    inner.detectors.insert(detector_id.to_owned(), (heads, lists.clone()));
                    inner.sets.retain(|_, set| set.strong_count() > 0);
                    inner.unions.retain(|_, set| set.strong_count() > 0);
                    return Ok(lists);
                }
                // A list changed between the heads and the entries: read the heads again.
                None => heads = store.active_list_heads(detector_id)?,
            }
        }
        Err(StoreError::Backend(format!("the lists of detector {detector_id} kept changing while being read")))
    }
}

impl CacheInner {
    /// The lists `heads` describe, from shared sets where possible. None when the entries read
    /// are not those of `heads` (a list was re-activated meanwhile).
    fn build(&mut self, store: &dyn Store, detector_id: &str, heads: &[ActiveListHead]) -> Result<Option<DetectorLists>, StoreError> {
        let keys: Vec<ContentKey> = heads.iter().map(content_key).collect();
        let is_threat = |i: &usize| heads[*i].kind == ListKind::Threat;
        let threat: Vec<usize> = (0..heads.len()).filter(is_threat).collect();
        let trusted: Vec<usize> = (0..heads.len()).filter(|i| !is_threat(i)).collect();
        let mut union_key: Vec<ContentKey> = threat.iter().map(|&i| keys[i].clone()).collect();
        union_key.sort();
        let cached_union = (threat.len() > 1).then(|| self.unions.get(&union_key).and_then(Weak::upgrade)).flatten();
        let cached: Vec<Option<Arc<IpSet>>> = keys.iter().map(|k| self.sets.get(k).and_then(Weak::upgrade)).collect();

        // Which lists' entries are needed: those without a shared set, all threat lists for a
        // missing union, all trusted lists when several must be merged. Read and parsed once.
        let needs =
            |i: usize| cached[i].is_none() || (threat.len() > 1 && cached_union.is_none() && is_threat(&i)) || (trusted.len() > 1 && !is_threat(&i));
        let mut nets: HashMap<usize, Vec<IpNet>> = HashMap::new();
        if (0..heads.len()).any(needs) {
            let mut all: HashMap<String, ActiveList> = store.active_lists(detector_id)?.into_iter().map(|l| (l.list_id.clone(), l)).collect();
            for i in (0..heads.len()).filter(|&i| needs(i)) {
                let head = &heads[i];
                let Some(list) = all.remove(&head.list_id) else { return Ok(None) };
                if list.file_sha256 != head.file_sha256 || list.activated_at_ms != head.activated_at_ms {
                    return Ok(None);
                }
                // The store keeps canonical text written from parsed entries: anything else is skipped.
                nets.insert(i, list.entries.iter().filter_map(|e| parse_entry(e)).collect());
            }
        }
        let mut sets: Vec<Arc<IpSet>> = Vec::with_capacity(heads.len());
        for (i, cached) in cached.into_iter().enumerate() {
            let set = match cached {
                Some(set) => set,
                None => {
                    let set = Arc::new(IpSet::from_nets(nets[&i].iter().copied()));
                    self.sets.insert(keys[i].clone(), Arc::downgrade(&set));
                    set
                }
            };
            sets.push(set);
        }
        // GuardDuty allows one trusted list; should a store hold several, they are merged.
        let trusted_set = match trusted.as_slice() {
            [] => Arc::default(),
            [one] => sets[*one].clone(),
            several => Arc::new(IpSet::from_nets(several.iter().flat_map(|i| nets[i].iter().copied()))),
        };
        let any_threat = match cached_union {
            Some(union) => Some(union),
            None if threat.len() > 1 => {
                let union = Arc::new(IpSet::from_nets(threat.iter().flat_map(|i| nets[i].iter().copied())));
                self.unions.insert(union_key, Arc::downgrade(&union));
                Some(union)
            }
            None => None,
        };
        let named = threat
            .iter()
            .map(|&i| NamedSet { name: heads[i].name.clone(), file_sha256: heads[i].file_sha256.clone(), set: sets[i].clone() })
            .collect();
        Ok(Some(DetectorLists::from_sets(trusted_set, named, any_threat)))
    }
}

/// A stored entry as a network. Entries are canonical text (`198.51.100.7/32`): IPv4 ones, the
/// vast majority, are read by a direct scan (list loading is dominated by parsing 1.5 M of
/// them); anything else goes through [`IpNet`]'s parser.
fn parse_entry(text: &str) -> Option<IpNet> {
    parse_ipv4_net(text).or_else(|| text.parse().ok())
}

/// `a.b.c.d` or `a.b.c.d/p` in canonical decimal (no leading zeros, no spaces); None for
/// anything else (the general parser then decides).
fn parse_ipv4_net(text: &str) -> Option<IpNet> {
    let bytes = text.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    let number = |i: &mut usize, max: u32| -> Option<u32> {
        let start = *i;
        let mut value: u32 = 0;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() && *i - start < 3 {
            value = value * 10 + u32::from(bytes[*i] - b'0');
            *i += 1;
        }
        let len = *i - start;
        (len > 0 && value <= max && !(len > 1 && bytes[start] == b'0')).then_some(value)
    };
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if bytes.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        *octet = number(&mut i, 255)? as u8;
    }
    let prefix = match bytes.get(i) {
        None => 32,
        Some(b'/') => {
            i += 1;
            number(&mut i, 32)? as u8
        }
        Some(_) => return None,
    };
    if i != bytes.len() {
        return None;
    }
    IpNet::new(IpAddr::from(octets), prefix)
}

/// Reads the feeds, ranges and databases `config` names.
pub fn load_operator_intel(config: &IntelConfig) -> Result<OperatorIntel, IntelError> {
    let mut operator = OperatorIntel::default();
    for spec in &config.feeds {
        operator.feeds.push(load_feed(spec)?);
    }
    if let Some(path) = &config.ip_ranges {
        let ranges = parse_aws_ip_ranges(&read(path)?).map_err(|e| file_error(path, e))?;
        if ranges.bad_prefixes > 0 {
            tracing::warn!(path = %path.display(), skipped = ranges.bad_prefixes, "AWS ip-ranges: prefixes that are not networks skipped");
        }
        tracing::info!(path = %path.display(), prefixes = ranges.set.len(), created = ranges.create_date.as_deref().unwrap_or("?"), "AWS ip-ranges loaded");
        operator.aws_ranges = Some(ranges.set);
    }
    let mut databases = Vec::new();
    for path in [&config.geoip_city, &config.geoip_asn].into_iter().flatten() {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| file_error(path, format!("not a MaxMind DB file: {e}")))?;
        tracing::info!(path = %path.display(), database_type = %reader.metadata().database_type, "GeoIP database loaded");
        databases.push(reader);
    }
    if !databases.is_empty() {
        operator.geo = Some(Box::new(MaxMindGeo { databases }));
    }
    Ok(operator)
}

fn load_feed(spec: &FeedSpec) -> Result<Feed, IntelError> {
    let bytes = read(&spec.path)?;
    let parsed = parse_list(spec.format, &bytes).map_err(|e| file_error(&spec.path, e))?;
    if parsed.bad_lines > 0 {
        // Line numbers only: feed files may be licensed or secret.
        tracing::warn!(path = %spec.path.display(), bad_lines = parsed.bad_lines, first = ?parsed.first_bad_lines, "feed lines that are not addresses skipped");
    }
    let name = spec.path.file_name().map_or_else(|| spec.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let list = NamedSet { name, file_sha256: hex::encode(Sha256::digest(&bytes)), set: Arc::new(IpSet::from_nets(parsed.entries)) };
    tracing::info!(kind = spec.kind.name, path = %spec.path.display(), entries = list.set.len(), "feed loaded");
    Ok(Feed { kind: spec.kind, list })
}

/// MaxMind-format databases asked in turn.
struct MaxMindGeo {
    databases: Vec<maxminddb::Reader<Vec<u8>>>,
}

/// The members of GeoIP2/GeoLite2 City, Country, ASN and ISP records that findings use.
#[derive(Debug, Default, serde::Deserialize)]
struct MmdbRecord<'a> {
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
    #[serde(borrow, default)]
    country: Option<MmdbCountry<'a>>,
    /// Where the block is registered: the country when the database has no `country`.
    #[serde(borrow, default)]
    registered_country: Option<MmdbCountry<'a>>,
    #[serde(default)]
    location: Option<MmdbLocation>,
    #[serde(default)]
    autonomous_system_number: Option<Number>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    isp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    organization: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

impl Named<'_> {
    /// The English name (databases name places in several languages; findings are in English).
    fn english(&self) -> Option<String> {
        self.names.get("en").map(|n| n.to_string())
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct MmdbCountry<'a> {
    #[serde(borrow, default)]
    iso_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    names: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct MmdbLocation {
    #[serde(default)]
    latitude: Option<Number>,
    #[serde(default)]
    longitude: Option<Number>,
    #[serde(default)]
    accuracy_radius: Option<Number>,
}

/// A number of whichever MMDB type the database used (MaxMind's own files use uint16/uint32 and
/// double; other writers may use uint64 or float): one unexpected width must not hide a record.
#[derive(Debug, Clone, Copy)]
struct Number(f64);

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl serde::de::Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_f32<E>(self, v: f32) -> Result<Number, E> {
                Ok(Number(f64::from(v)))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

impl Number {
    /// As an AS number: a whole number in u32's range.
    fn as_u32(self) -> Option<u32> {
        (self.0.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&self.0)).then_some(self.0 as u32)
    }
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

impl GeoLookup for MaxMindGeo {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let mut info = GeoInfo::default();
        for db in &self.databases {
            // A lookup error (corrupt file) is treated as "not in this database": enrichment is
            // best effort, and omitted members are never invented.
            let Ok(Some(record)) = db.lookup(ip).and_then(|r| r.decode::<MmdbRecord<'_>>()) else { continue };
            fill(&mut info.city_name, record.city.as_ref().and_then(Named::english));
            let country = record.country.as_ref().or(record.registered_country.as_ref());
            if let Some(country) = country {
                fill(&mut info.country_code, country.iso_code.as_ref().map(|c| c.to_string()));
                fill(&mut info.country_name, country.names.get("en").map(|n| n.to_string()));
            }
            if let Some(location) = &record.location
                && let (Some(lat), Some(lon)) = (location.latitude, location.longitude)
            {
                fill(&mut info.lat, Some(lat.0));
                fill(&mut info.lon, Some(lon.0));
                fill(&mut info.accuracy_km, location.accuracy_radius.map(|r| r.0));
            }
            fill(&mut info.asn, record.autonomous_system_number.and_then(Number::as_u32));
            fill(&mut info.asn_org, record.autonomous_system_organization.map(Cow::into_owned));
            fill(&mut info.isp, record.isp.map(Cow::into_owned));
            fill(&mut info.org, record.organization.map(Cow::into_owned));
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_fast_path_agrees_with_the_general_parser() {
        for text in [
            "198.51.100.7/32",
            "198.51.100.7",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "255.255.255.255/32",
            "192.0.2.77/24",
            "1.2.3.4/33",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4/",
            "1.2.3.4/032",
            "1.2.3.4/ 8",
            " 1.2.3.4",
            "1.2.3.4 ",
            "2001:db8::/32",
            "::ffff:1.2.3.4",
            "1234.1.1.1",
            "1.2.3.4/8x",
            "",
            "a.b.c.d",
        ] {
            let general: Option<IpNet> = text.parse().ok();
            assert_eq!(parse_entry(text), general, "{text:?}");
            if let Some(fast) = parse_ipv4_net(text) {
                assert_eq!(Some(fast), general, "{text:?}");
            }
        }
    }

    #[test]
    fn feed_specs_parse_kind_path_and_optional_format() {
        let spec: FeedSpec = "tor=/data/exits.txt".parse().unwrap();
        assert_eq!((spec.kind.name, spec.path.as_path(), spec.format), ("tor", Path::new("/data/exits.txt"), ListFormat::Txt));
        let spec: FeedSpec = "malicious=/data/a,b.csv,proof_point".parse().unwrap();
        assert_eq!((spec.kind.name, spec.path.as_path(), spec.format), ("malicious", Path::new("/data/a,b.csv"), ListFormat::ProofPoint));
        let spec: FeedSpec = "malicious=/data/a,b.csv".parse().unwrap();
        assert_eq!(spec.path, Path::new("/data/a,b.csv"), "not a format: part of the path");
        assert!("nonsense=/x".parse::<FeedSpec>().unwrap_err().contains("unknown feed kind"));
        assert!("/x".parse::<FeedSpec>().is_err());
        assert!("tor=".parse::<FeedSpec>().is_err());
        for kind in ["scanner", "c2", "bitcoin", "blackhole", "droppoint", "tor-relay"] {
            assert_eq!(format!("{kind}=/f").parse::<FeedSpec>().unwrap().kind.name, kind);
        }
        assert_eq!("phishing=/d.txt".parse::<DomainFeedSpec>().unwrap().kind.name, "phishing");
        assert!("scanner=/d.txt".parse::<DomainFeedSpec>().unwrap_err().contains("unknown domain feed kind"));
        assert!("dga=".parse::<DomainFeedSpec>().is_err());
    }
}
