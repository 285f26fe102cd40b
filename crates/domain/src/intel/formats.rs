//! GuardDuty's list formats (spec §5): TXT, STIX, OTX_CSV, ALIEN_VAULT, PROOF_POINT, FIRE_EYE.
use super::IpNet;

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
    /// From the API's `format` value (`TXT`, `STIX`, ...).
    pub fn from_api(_s: &str) -> Option<Self> {
        todo!("intel helper")
    }
}

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

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ListError {
    /// The file as a whole is not in the format (not XML for STIX, no header for a CSV...).
    #[error("the file is not a valid {format} list: {reason}")]
    Malformed { format: &'static str, reason: String },
}

pub fn parse_list(_format: ListFormat, _bytes: &[u8]) -> Result<ParsedList, ListError> {
    todo!("intel helper")
}
