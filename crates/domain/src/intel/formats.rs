//! GuardDuty's list formats (docs/threat-lists.md): TXT, STIX, OTX_CSV, ALIEN_VAULT, PROOF_POINT, FIRE_EYE.
//!
//! Every parser is total (any bytes in, a result out, never a panic) and tolerant: blank lines and
//! comments are skipped, a UTF-8 BOM, UTF-16 with a BOM and CRLF line ends are accepted, a line
//! (record) that is not usable is counted in `bad_lines` with its number and skipped, and
//! indicators GuardDuty does not match on (domains, URLs, hashes, e-mail addresses...) are counted
//! in `ignored`. A whole file is refused (`ListError`) only when it is plainly not in the format:
//! binary data, STIX that is not XML or has no `STIX_Package`, a CSV whose header names none of
//! the columns the format needs. Errors and counts never carry file content: lists can be secret.
//!
//! Layouts and where they come from (GuardDuty documents none of them beyond the format names
//! and the TXT sample, so what GuardDuty itself accepts in each is unconfirmed):
//! * TXT — GuardDuty User Guide ("Working with trusted IP lists and threat lists"): one IP
//!   address or CIDR per line, sample `54.20.175.217` / `205.0.0.0/8`. Decision: the entry is the
//!   first token; anything after whitespace, `#`, `;` or `,` is commentary (blocklists such as
//!   Spamhaus DROP write `1.10.16.0/20 ; SBL256894`). Lines starting with `#`, `;` or `//` are
//!   comments. Zero-padded octets (`010.0.0.1`) are refused as ambiguous (octal to inet_aton).
//! * STIX — STIX 1.x XML as in the STIX project's "IP watchlist" idiom: a `stix:STIX_Package`
//!   whose indicators' observables hold CybOX `AddressObj:AddressObjectType` properties
//!   (`category` `ipv4-addr` — CybOX's default —, `ipv6-addr`, `ipv4-net`, `ipv6-net`, `cidr`)
//!   with `<AddressObj:Address_Value condition="Equals" apply_condition="ANY">a##comma##b</…>`.
//!   Plain commas (CybOX before 2.1) also separate values. `InclusiveBetween` (`low##comma##high`)
//!   becomes the covering CIDRs. Other conditions, other categories (`e-mail`, `mac`...), other
//!   object types (domain, URI, file) and addresses outside an address object count as ignored.
//!   Namespace prefixes are not checked (producers use `AddressObj:` and `AddressObject:`), and
//!   TAXII envelopes around the package are accepted. STIX 2.x (JSON) is not read.
//! * OTX_CSV — AlienVault OTX pulse "Download CSV" export as seen in public parsers of it:
//!   header `Indicator type,Indicator,Description` (quoted or not, CRLF), rows such as
//!   `IPv4,198.51.100.7,` or `FileHash-SHA256,<hash>,`. Types `IPv4`, `IPv6`, `CIDR` are taken;
//!   the other OTX indicator types (`domain`, `hostname`, `URL`, `FileHash-*`, `email`...) are
//!   ignored. Headerless files are accepted when the first row starts with a known type.
//! * ALIEN_VAULT — AlienVault IP reputation database (`reputation.data`, "OSSIM format"):
//!   `ip#reliability#risk#activity#country#city#lat,long#x`, e.g.
//!   `198.51.100.7#4#2#Malicious Host#US##37.7,-122.4#11`; only the first field is used, so the
//!   `reputation.generic` variant `198.51.100.7 # Malicious Host` is read too.
//! * PROOF_POINT — Proofpoint ET Intelligence reputation lists: the "detailed" IP list
//!   (`detailed-iprepdata.txt`) columns IP address, category, score, first seen, last seen,
//!   ports (`|`-separated); header optional (`ip,category,score,first_seen,last_seen,ports`, or
//!   `IP Address,Category,...`). The ET domain list (first column `domain`) is accepted with
//!   every row ignored.
//! * FIRE_EYE — FireEye iSIGHT indicator CSV export, header required. iSIGHT records carry
//!   `reportId`, `title`, `ThreatScape`, `intelligenceType`, `publishDate`... and one column per
//!   indicator kind; the exact export column list could not be confirmed, so addresses are taken
//!   from any column named `ip`, `ipv4`, `ipv6`, `ipAddress`, `cidr`, `sourceIp` or
//!   `destinationIp` (case, `_`, `-` and spaces ignored). `networkIdentifier` (the role:
//!   Attacker, Victim, Related...) does not filter rows. Rows with no address but another
//!   indicator (`domain`, `url`, `md5`, `sha256`, `senderAddress`...) count as ignored.
use super::IpNet;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Txt,
    Stix,
    OtxCsv,
    AlienVault,
    ProofPoint,
    FireEye,
}

impl ListFormat {
    pub const ALL: [ListFormat; 6] =
        [ListFormat::Txt, ListFormat::Stix, ListFormat::OtxCsv, ListFormat::AlienVault, ListFormat::ProofPoint, ListFormat::FireEye];

    /// From the API's `format` value (`TXT`, `STIX`, ...).
    pub fn from_api(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_api() == s)
    }

    /// The API's `format` value.
    pub fn as_api(self) -> &'static str {
        match self {
            ListFormat::Txt => "TXT",
            ListFormat::Stix => "STIX",
            ListFormat::OtxCsv => "OTX_CSV",
            ListFormat::AlienVault => "ALIEN_VAULT",
            ListFormat::ProofPoint => "PROOF_POINT",
            ListFormat::FireEye => "FIRE_EYE",
        }
    }
}

impl std::fmt::Display for ListFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_api())
    }
}

/// How many bad line numbers `ParsedList::first_bad_lines` keeps.
pub const MAX_BAD_LINE_NUMBERS: usize = 10;

/// A list file's usable entries, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedList {
    pub entries: Vec<IpNet>,
    /// Lines (or records) that were neither an entry, a comment nor blank.
    pub bad_lines: u64,
    /// 1-based numbers of the first few bad lines (never their content: files may be secret).
    pub first_bad_lines: Vec<u64>,
    /// Domain names and other indicators that lists may carry but GuardDuty ignores.
    pub ignored: u64,
}

impl ParsedList {
    fn bad(&mut self, line: u64) {
        self.bad_lines += 1;
        if self.first_bad_lines.len() < MAX_BAD_LINE_NUMBERS {
            self.first_bad_lines.push(line);
        }
    }

    /// Record one indicator: an entry, an ignored indicator or a bad line.
    fn indicator(&mut self, text: &str, line: u64) {
        match classify(text) {
            Indicator::Net(net) => self.entries.push(net),
            Indicator::Other => self.ignored += 1,
            Indicator::Invalid => self.bad(line),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ListError {
    /// The file as a whole is not in the format (not XML for STIX, no header for a CSV...).
    #[error("the file is not a valid {format} list: {reason}")]
    Malformed { format: &'static str, reason: String },
}

fn malformed(format: ListFormat, reason: impl Into<String>) -> ListError {
    ListError::Malformed { format: format.as_api(), reason: reason.into() }
}

pub fn parse_list(format: ListFormat, bytes: &[u8]) -> Result<ParsedList, ListError> {
    let text = decode_text(format, bytes)?;
    match format {
        ListFormat::Txt => Ok(parse_txt(&text)),
        ListFormat::AlienVault => Ok(parse_alien_vault(&text)),
        ListFormat::Stix => parse_stix(&text),
        ListFormat::OtxCsv => parse_otx_csv(&text),
        ListFormat::ProofPoint => parse_proof_point(&text),
        ListFormat::FireEye => parse_fire_eye(&text),
    }
}

/// The file as text: UTF-8 (BOM dropped; invalid sequences become U+FFFD, which makes their
/// line bad) or UTF-16 with a BOM. Compressed or binary data is refused outright.
fn decode_text(format: ListFormat, bytes: &[u8]) -> Result<Cow<'_, str>, ListError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return refuse_binary(format, String::from_utf8_lossy(rest));
    }
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let units = rest.chunks(2).map(|pair| match pair {
            [a, b] => unit([*a, *b]),
            _ => 0xFFFD, // odd trailing byte
        });
        let text: String = char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        text
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return refuse_binary(format, Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return refuse_binary(format, Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    if bytes.starts_with(b"\x1F\x8B") || bytes.starts_with(b"PK\x03\x04") {
        return Err(malformed(format, "compressed data (gzip or zip), not text"));
    }
    refuse_binary(format, String::from_utf8_lossy(bytes))
}

/// NUL characters near the start mean binary data, not a text list.
fn refuse_binary(format: ListFormat, text: Cow<'_, str>) -> Result<Cow<'_, str>, ListError> {
    let head = text.as_bytes().iter().take(8192);
    if head.into_iter().any(|&b| b == 0) {
        return Err(malformed(format, "binary data, not text"));
    }
    Ok(text)
}

/// Lines with their 1-based numbers, CR of CRLF removed.
fn numbered_lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n').enumerate().map(|(i, line)| (i as u64 + 1, line.strip_suffix('\r').unwrap_or(line)))
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#') || line.starts_with(';') || line.starts_with("//")
}

enum Indicator {
    Net(IpNet),
    /// A well-formed indicator of a kind GuardDuty does not match on (domain, URL, hash, e-mail).
    Other,
    Invalid,
}

fn classify(text: &str) -> Indicator {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Indicator::Net(net);
    }
    if is_other_indicator(text) { Indicator::Other } else { Indicator::Invalid }
}

/// Domain names, host names, URLs, e-mail addresses and file hashes.
fn is_other_indicator(text: &str) -> bool {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if let Some((scheme, rest)) = text.split_once("://") {
        return !rest.is_empty() && !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    }
    if matches!(text.len(), 32 | 40 | 64 | 128) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let host = match text.split_once('@') {
        Some((local, domain)) if !local.is_empty() => domain,
        Some(_) => return false,
        None => text,
    };
    is_domain_name(host)
}

/// At least two labels of letters, digits, `-` and `_`, and a top-level label that is not all
/// digits (so `1.2.3` and `1.2.3.4.5` are malformed addresses, not domains).
fn is_domain_name(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    let text = text.strip_prefix("*.").unwrap_or(text);
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// TXT and ALIEN_VAULT: one entry per line.

fn parse_txt(text: &str) -> ParsedList {
    let mut list = ParsedList::default();
    for (number, line) in numbered_lines(text) {
        let line = line.trim();
        if line.is_empty() || is_comment(line) {
            continue;
        }
        let end = line.find(|c: char| c.is_whitespace() || "#;,".contains(c)).unwrap_or(line.len());
        list.indicator(&line[..end], number);
    }
    list
}

fn parse_alien_vault(text: &str) -> ParsedList {
    let mut list = ParsedList::default();
    for (number, line) in numbered_lines(text) {
        let line = line.trim();
        if line.is_empty() || is_comment(line) {
            continue;
        }
        let address = line.split('#').next().unwrap_or_default();
        list.indicator(address, number);
    }
    list
}

// ---------------------------------------------------------------------------------------------
// CSV formats.

/// A CSV record's trimmed fields and the line it starts on.
struct CsvRow {
    line: u64,
    fields: Vec<String>,
}

/// Records of a CSV file (RFC 4180 quoting: a quoted field may hold commas, doubled quotes and
/// line breaks), skipping blank records and comment lines (`#` or `//` first). Hand-rolled
/// rather than the `csv` crate because that one misnumbers lines after skipped blank and comment
/// lines, and bad-line numbers are what the operator gets to find a problem.
fn csv_rows(text: &str) -> impl Iterator<Item = CsvRow> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut line = 1u64;
    std::iter::from_fn(move || {
        while pos < bytes.len() {
            let start_line = line;
            let rest = &text[pos..];
            let line_len = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let first_line = rest[..line_len].trim();
            if first_line.is_empty() || first_line.starts_with('#') || first_line.starts_with("//") {
                pos += line_len;
                line += 1;
                continue;
            }
            let (fields, consumed, newlines) = csv_record(rest);
            pos += consumed;
            line += newlines;
            if fields.iter().all(String::is_empty) {
                continue;
            }
            return Some(CsvRow { line: start_line, fields });
        }
        None
    })
}

/// One record from the start of `text`: its trimmed fields, the bytes it used (terminator
/// included) and the line breaks it spanned. The special characters are ASCII, so slicing at
/// them keeps UTF-8 intact.
fn csv_record(text: &str) -> (Vec<String>, usize, u64) {
    let bytes = text.as_bytes();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut newlines = 0u64;
    let mut i = 0usize;
    let mut in_quotes = false;
    let mut plain_from = 0usize; // start of the unquoted run being collected
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            match b {
                b'"' if bytes.get(i + 1) == Some(&b'"') => {
                    field.push_str(&text[plain_from..=i]);
                    i += 2;
                    plain_from = i;
                }
                b'"' => {
                    field.push_str(&text[plain_from..i]);
                    in_quotes = false;
                    i += 1;
                    plain_from = i;
                }
                b'\n' => {
                    newlines += 1;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            // A quote opening a field (after optional spaces) starts a quoted section; a quote
            // elsewhere is kept as text.
            b'"' if field.trim().is_empty() && text[plain_from..i].trim().is_empty() => {
                field.clear();
                in_quotes = true;
                i += 1;
                plain_from = i;
            }
            b',' => {
                field.push_str(&text[plain_from..i]);
                fields.push(field.trim().to_string());
                field.clear();
                i += 1;
                plain_from = i;
            }
            b'\n' => {
                field.push_str(&text[plain_from..i]);
                fields.push(field.trim().to_string());
                return (fields, i + 1, newlines + 1);
            }
            _ => i += 1,
        }
    }
    // End of file; an unterminated quote has run to here and makes one (bad) field.
    field.push_str(&text[plain_from..]);
    fields.push(field.trim().to_string());
    (fields, bytes.len(), newlines)
}

/// Header names compared without case, spaces, `_` and `-`.
fn header_key(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&header_key(h).as_str()))
}

fn field(row: &CsvRow, index: usize) -> &str {
    row.fields.get(index).map_or("", String::as_str)
}

/// OTX indicator types GuardDuty can match (an address or network).
const OTX_ADDRESS_TYPES: &[&str] = &["ipv4", "ipv6", "cidr"];
/// The other OTX indicator types (OTX API `IndicatorTypes`).
const OTX_OTHER_TYPES: &[&str] = &[
    "domain",
    "hostname",
    "url",
    "uri",
    "email",
    "filehash-md5",
    "filehash-sha1",
    "filehash-sha256",
    "filehash-pehash",
    "filehash-imphash",
    "filepath",
    "mutex",
    "cve",
    "yara",
    "ja3",
    "osquery",
    "sslcertfingerprint",
    "bitcoinaddress",
];

fn parse_otx_csv(text: &str) -> Result<ParsedList, ListError> {
    let format = ListFormat::OtxCsv;
    let mut rows = csv_rows(text).peekable();
    let Some(first) = rows.peek() else {
        return Ok(ParsedList::default());
    };
    let (type_col, value_col) = match column(&first.fields, &["indicator"]) {
        Some(value_col) => {
            let type_col = column(&first.fields, &["indicatortype", "type"]);
            rows.next();
            (type_col, value_col)
        }
        None => {
            let kind = field(first, 0).to_ascii_lowercase();
            if OTX_ADDRESS_TYPES.contains(&kind.as_str()) || OTX_OTHER_TYPES.contains(&kind.as_str()) {
                (Some(0), 1) // no header: the export's column order
            } else {
                return Err(malformed(format, "no `Indicator` column in the header"));
            }
        }
    };
    let mut list = ParsedList::default();
    for row in rows {
        let value = field(&row, value_col);
        let kind = type_col.map(|c| field(&row, c).to_ascii_lowercase()).unwrap_or_default();
        if kind.is_empty() || OTX_ADDRESS_TYPES.contains(&kind.as_str()) {
            list.indicator(value, row.line);
        } else if value.is_empty() {
            list.bad(row.line);
        } else {
            list.ignored += 1;
        }
    }
    Ok(list)
}

fn parse_proof_point(text: &str) -> Result<ParsedList, ListError> {
    let format = ListFormat::ProofPoint;
    let mut rows = csv_rows(text).peekable();
    let Some(first) = rows.peek() else {
        return Ok(ParsedList::default());
    };
    let mut list = ParsedList::default();
    let mut headerless = false;
    let ip_col = if let Some(col) = column(&first.fields, &["ip", "ipaddress", "ipaddr", "address"]) {
        rows.next();
        col
    } else if column(&first.fields, &["domain", "domainname", "hostname"]).is_some() {
        // ET domain reputation: valid, nothing GuardDuty matches on.
        list.ignored = rows.skip(1).count() as u64;
        return Ok(list);
    } else {
        headerless = true;
        0 // the header is optional: addresses in the first column
    };
    for row in rows {
        list.indicator(field(&row, ip_col), row.line);
    }
    if headerless && list.entries.is_empty() && list.ignored == 0 && list.bad_lines > 0 {
        return Err(malformed(format, "neither an `ip` header nor addresses in the first column"));
    }
    Ok(list)
}

/// FireEye iSIGHT columns holding an address or network.
const FIRE_EYE_ADDRESS_COLUMNS: &[&str] = &["ip", "ipv4", "ipv6", "ipaddress", "cidr", "sourceip", "destinationip"];
/// iSIGHT columns holding other indicators.
const FIRE_EYE_OTHER_COLUMNS: &[&str] = &[
    "domain",
    "sourcedomain",
    "url",
    "md5",
    "sha1",
    "sha256",
    "fuzzyhash",
    "filename",
    "senderaddress",
    "emailidentifier",
    "useragent",
    "registry",
    "filepath",
    "asn",
];

fn parse_fire_eye(text: &str) -> Result<ParsedList, ListError> {
    let format = ListFormat::FireEye;
    let mut rows = csv_rows(text);
    let Some(header) = rows.next() else {
        return Ok(ParsedList::default());
    };
    let keys: Vec<String> = header.fields.iter().map(|h| header_key(h)).collect();
    let address_cols: Vec<usize> = (0..keys.len()).filter(|&i| FIRE_EYE_ADDRESS_COLUMNS.contains(&keys[i].as_str())).collect();
    let other_cols: Vec<usize> = (0..keys.len()).filter(|&i| FIRE_EYE_OTHER_COLUMNS.contains(&keys[i].as_str())).collect();
    if address_cols.is_empty() && other_cols.is_empty() {
        return Err(malformed(format, "the header names no indicator column (`ip`, `cidr`, `domain`...)"));
    }
    let mut list = ParsedList::default();
    for row in rows {
        let mut found = false;
        for &col in &address_cols {
            let value = field(&row, col);
            if !value.is_empty() {
                found = true;
                list.indicator(value, row.line);
            }
        }
        if found {
            continue;
        }
        if other_cols.iter().any(|&col| !field(&row, col).is_empty()) {
            list.ignored += 1;
        } else {
            list.bad(row.line);
        }
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// STIX 1.x XML.

fn parse_stix(text: &str) -> Result<ParsedList, ListError> {
    stix::parse(text).map_err(|reason| malformed(ListFormat::Stix, reason))
}

mod stix {
    use super::ParsedList;
    use crate::intel::IpNet;
    use quick_xml::Reader;
    use quick_xml::events::{BytesStart, Event};
    use std::net::IpAddr;

    /// The address object being read: its `category` and the depth of its `Properties`.
    struct AddressObject {
        depth: usize,
        category: String,
    }

    /// The `Address_Value` being read.
    struct AddressValue {
        line: u64,
        condition: Option<String>,
        text: String,
    }

    /// Turns byte offsets into 1-based line numbers, scanning forward only.
    struct LineCounter<'a> {
        text: &'a [u8],
        offset: usize,
        line: u64,
    }

    impl LineCounter<'_> {
        fn line_at(&mut self, offset: u64) -> u64 {
            let target = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
            if target > self.offset {
                let newlines = self.text[self.offset..target].iter().filter(|&&b| b == b'\n').count();
                self.line += newlines as u64;
                self.offset = target;
            }
            self.line
        }
    }

    fn attribute(element: &BytesStart<'_>, local: &[u8]) -> Option<String> {
        element
            .attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == local)
            .map(|a| a.unescape_value().map(|v| v.into_owned()).unwrap_or_default())
    }

    pub(super) fn parse(text: &str) -> Result<ParsedList, String> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = false; // tolerate sloppy producers
        let mut lines = LineCounter { text: text.as_bytes(), offset: 0, line: 1 };
        let mut list = ParsedList::default();
        let mut depth = 0usize;
        let mut seen_root = false;
        let mut seen_package = false;
        let mut object: Option<AddressObject> = None;
        let mut value: Option<AddressValue> = None;
        loop {
            let start_offset = reader.buffer_position();
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(_) => {
                    let line = lines.line_at(reader.error_position());
                    if seen_package {
                        // A damaged or truncated package: keep what was read before the damage.
                        list.bad(line);
                        return Ok(list);
                    }
                    return Err(format!("not well-formed XML (line {line})"));
                }
            };
            match event {
                Event::Start(ref element) | Event::Empty(ref element) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    let name = element.local_name();
                    let name = name.as_ref();
                    seen_root = true;
                    if name == b"STIX_Package" {
                        // quick-xml reads attributes lazily; a broken root tag is not STIX.
                        if element.attributes().any(|a| a.is_err()) {
                            let line = lines.line_at(start_offset);
                            return Err(format!("not well-formed XML (line {line})"));
                        }
                        seen_package = true;
                    }
                    if !is_empty {
                        depth += 1;
                    }
                    if name == b"Properties" {
                        let kind = attribute(element, b"type").unwrap_or_default();
                        if kind.ends_with("AddressObjectType") {
                            if !is_empty {
                                let category = attribute(element, b"category").unwrap_or_else(|| "ipv4-addr".into());
                                object = Some(AddressObject { depth, category });
                            }
                        } else if !kind.is_empty() {
                            list.ignored += 1;
                        }
                    } else if name == b"Address_Value" && object.is_none() {
                        // An e-mail sender or similar outside an address object.
                        list.ignored += 1;
                    } else if name == b"Address_Value" {
                        let line = lines.line_at(start_offset);
                        let condition = attribute(element, b"condition");
                        let entry = AddressValue { line, condition, text: String::new() };
                        if is_empty {
                            list.bad(line);
                        } else {
                            value = Some(entry);
                        }
                    }
                }
                Event::End(ref element) => {
                    if element.local_name().as_ref() == b"Address_Value"
                        && let (Some(v), Some(o)) = (value.take(), object.as_ref())
                    {
                        address_value(&mut list, &o.category, v);
                    }
                    if object.as_ref().is_some_and(|o| o.depth == depth) {
                        object = None;
                    }
                    depth = depth.saturating_sub(1);
                }
                Event::Text(ref t) => {
                    if let Some(v) = value.as_mut() {
                        v.text.push_str(&t.decode().unwrap_or_default());
                    }
                }
                Event::CData(ref t) => {
                    if let Some(v) = value.as_mut() {
                        v.text.push_str(&t.decode().unwrap_or_default());
                    }
                }
                Event::GeneralRef(ref r) => {
                    if let Some(v) = value.as_mut() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => v.text.push(c),
                            _ => {
                                let name = r.decode().unwrap_or_default();
                                match quick_xml::escape::resolve_predefined_entity(&name) {
                                    Some(s) => v.text.push_str(s),
                                    None => v.text.push('\u{FFFD}'),
                                }
                            }
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_package {
            return Err(if seen_root { "no STIX_Package element".into() } else { "not XML".into() });
        }
        Ok(list)
    }

    /// Categories whose values are addresses or networks.
    const ADDRESS_CATEGORIES: &[&str] = &["ipv4-addr", "ipv6-addr", "ipv4-net", "ipv6-net", "cidr"];

    fn address_value(list: &mut ParsedList, category: &str, value: AddressValue) {
        if !ADDRESS_CATEGORIES.contains(&category) {
            list.ignored += 1; // e-mail, mac, asn, netmask...
            return;
        }
        // CybOX 2.1 separates list items with `##comma##`; older producers used plain commas,
        // which never occur inside an address, so either separator is accepted.
        let items: Vec<&str> = if value.text.contains("##comma##") {
            value.text.split("##comma##").map(str::trim).collect()
        } else {
            value.text.split(',').map(str::trim).collect()
        };
        match value.condition.as_deref() {
            None | Some("Equals") => {
                for item in items {
                    list.indicator(item, value.line);
                }
            }
            Some("InclusiveBetween") => match items.as_slice() {
                [low, high] => match (low.parse::<IpAddr>(), high.parse::<IpAddr>()) {
                    (Ok(low), Ok(high)) => match range_to_nets(low, high) {
                        Some(nets) => list.entries.extend(nets),
                        None => list.bad(value.line),
                    },
                    _ => list.bad(value.line),
                },
                _ => list.bad(value.line),
            },
            // StartsWith, Contains, FitsPattern, DoesNotEqual...: not a set of networks.
            Some(_) => list.ignored += 1,
        }
    }

    /// The smallest list of CIDRs covering `low..=high` (same family, low <= high).
    pub(crate) fn range_to_nets(low: IpAddr, high: IpAddr) -> Option<Vec<IpNet>> {
        let (mut low, high, bits) = match (low, high) {
            (IpAddr::V4(l), IpAddr::V4(h)) => (u128::from(u32::from(l)), u128::from(u32::from(h)), 32u32),
            (IpAddr::V6(l), IpAddr::V6(h)) => (u128::from(l), u128::from(h), 128u32),
            _ => return None,
        };
        if low > high {
            return None;
        }
        let block_last = |start: u128, size_bits: u32| {
            let span = if size_bits >= 128 { u128::MAX } else { (1u128 << size_bits) - 1 };
            start.checked_add(span)
        };
        let mut nets = Vec::new();
        loop {
            // The largest aligned block starting at `low` that ends within `high` (a block of
            // one address always does, so this stops).
            let mut size_bits = low.trailing_zeros().min(bits);
            while size_bits > 0 && block_last(low, size_bits).is_none_or(|last| last > high) {
                size_bits -= 1;
            }
            let last = block_last(low, size_bits).unwrap_or(high);
            let addr = if bits == 32 { IpAddr::from((low as u32).to_be_bytes()) } else { IpAddr::from(low.to_be_bytes()) };
            nets.push(IpNet { addr, prefix: (bits - size_bits) as u8 });
            if last >= high {
                return Some(nets);
            }
            low = last + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_minimal_cidrs() {
        let nets = |a: &str, b: &str| {
            stix::range_to_nets(a.parse().unwrap(), b.parse().unwrap()).unwrap().iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(nets("10.0.0.0", "10.0.0.255"), ["10.0.0.0/24"]);
        assert_eq!(nets("10.0.0.1", "10.0.0.4"), ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/32"]);
        assert_eq!(nets("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(nets("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["::/0"]);
        assert_eq!(nets("2001:db8::", "2001:db8::1"), ["2001:db8::/127"]);
        assert!(stix::range_to_nets("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap()).is_none());
    }
}
