//! Who is calling: the credentials file, the two auth modes, and request authentication.
//!
//! Credentials file (TOML), one `[[credentials]]` table per access key:
//!
//! ```toml
//! [[credentials]]
//! access_key_id = "AKIAIOSFODNN7EXAMPLE"
//! secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
//! account_id = "111122223333"
//! ```
//!
//! A request's scope is (the key's account, the Region of its credential scope).
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vedette_domain::Scope;

use crate::error::ApiError;
use crate::sigv4::{self, RequestParts};

/// GuardDuty's default: requests are accepted within 15 minutes of the server's clock.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// `--auth any` maps every caller to this account unless told otherwise.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    by_key: HashMap<String, Credential>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read credentials file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("credentials file {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credentials: Vec<CredentialEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialEntry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

/// An AWS Region code: a 2-4 letter prefix, dash-separated words, a number (`us-east-1`,
/// `us-gov-west-1`, `us-isob-east-1`, `eusc-de-east-1`).
pub fn is_region_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else { return false };
    let lower = |w: &&str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
    words.len() >= 2
        && (2..=4).contains(&words[0].len())
        && words.iter().all(lower)
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Credentials {
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io { path: path.display().to_string(), source })?;
        Self::from_toml(&text).map_err(|message| CredentialsError::Invalid { path: path.display().to_string(), message })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: CredentialsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut creds = Credentials::default();
        for e in file.credentials {
            if e.access_key_id.is_empty() || e.access_key_id.contains('/') || e.access_key_id.chars().any(char::is_whitespace) {
                return Err(format!("access_key_id {:?} must be non-empty, without '/' or spaces", e.access_key_id));
            }
            if e.secret_access_key.is_empty() {
                return Err(format!("secret_access_key of {} is empty", e.access_key_id));
            }
            if !is_account_id(&e.account_id) {
                return Err(format!("account_id of {} must be 12 digits, got {:?}", e.access_key_id, e.account_id));
            }
            let key = e.access_key_id.clone();
            let entry = Credential { access_key_id: e.access_key_id, secret_access_key: e.secret_access_key, account_id: e.account_id };
            if creds.by_key.insert(key.clone(), entry).is_some() {
                return Err(format!("access_key_id {key} appears twice"));
            }
        }
        Ok(creds)
    }

    pub fn insert(&mut self, credential: Credential) {
        self.by_key.insert(credential.access_key_id.clone(), credential);
    }

    pub fn get(&self, access_key_id: &str) -> Option<&Credential> {
        self.by_key.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Every request's SigV4 signature is verified against the credentials.
    SigV4(Credentials),
    /// Local testing: any well-formed SigV4 Authorization header is accepted without checking
    /// the signature, and the caller is `default_account`. Enables the reset endpoints.
    Any { default_account: String },
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub max_clock_skew: Duration,
}

impl AuthConfig {
    pub fn sigv4(credentials: Credentials) -> Self {
        AuthConfig { mode: AuthMode::SigV4(credentials), max_clock_skew: DEFAULT_MAX_CLOCK_SKEW }
    }

    pub fn any(default_account: impl Into<String>) -> Self {
        AuthConfig { mode: AuthMode::Any { default_account: default_account.into() }, max_clock_skew: DEFAULT_MAX_CLOCK_SKEW }
    }

    pub fn is_any(&self) -> bool {
        matches!(self.mode, AuthMode::Any { .. })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub scope: Scope,
}

/// Everything authentication looks at.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    /// `(lower-case name, value)` for every header occurrence.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The request authority when it is not in a `host` header (HTTP/2 `:authority`).
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

pub fn authenticate(config: &AuthConfig, req: &SignedRequest<'_>, now: DateTime<Utc>) -> Result<Caller, ApiError> {
    let Some(authorization) = req.header("authorization") else {
        return Err(ApiError::missing_authentication());
    };
    let auth = sigv4::parse_authorization(authorization).map_err(|e| ApiError::incomplete_signature(e.0))?;
    // One server answers for every Region (the scope's Region selects the caller's data), but
    // only for names that are Regions: they end up in ARNs and findings.
    if !is_region_code(&auth.region) {
        return Err(ApiError::invalid_signature(format!("Credential should be scoped to a valid region, not '{}'. ", auth.region)));
    }

    let credential = match &config.mode {
        AuthMode::Any { default_account } => {
            return Ok(Caller { access_key_id: auth.access_key_id, scope: Scope::new(default_account.clone(), auth.region) });
        }
        AuthMode::SigV4(credentials) => credentials.get(&auth.access_key_id).ok_or_else(ApiError::unrecognized_client)?,
    };

    if auth.service != sigv4::SERVICE {
        return Err(ApiError::invalid_signature(format!("Credential should be scoped to correct service: '{}'. ", sigv4::SERVICE)));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(ApiError::invalid_signature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."));
    }

    // X-Amz-Date, or failing that the HTTP Date header.
    let (amz_date, signed_at) = if let Some(d) = req.header("x-amz-date") {
        let t = sigv4::parse_amz_date(d.trim()).ok_or_else(|| {
            ApiError::incomplete_signature(format!("Date must be in ISO-8601 'basic format'. Got '{d}'. See http://en.wikipedia.org/wiki/ISO_8601"))
        })?;
        (d.trim().to_string(), t)
    } else if let Some(d) = req.header("date") {
        let t = DateTime::parse_from_rfc2822(d.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::incomplete_signature(format!("Date header is not a valid HTTP date. Got '{d}'.")))?;
        (sigv4::format_amz_date(t), t)
    } else {
        return Err(ApiError::incomplete_signature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."));
    };
    if amz_date[..8] != auth.date {
        return Err(ApiError::invalid_signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        )));
    }
    let skew = chrono::Duration::from_std(config.max_clock_skew).unwrap_or(chrono::Duration::minutes(15));
    let minutes = skew.num_minutes();
    if signed_at < now - skew {
        return Err(ApiError::invalid_signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
            sigv4::format_amz_date(now - skew),
            sigv4::format_amz_date(now)
        )));
    }
    if signed_at > now + skew {
        return Err(ApiError::invalid_signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            sigv4::format_amz_date(now + skew),
            sigv4::format_amz_date(now)
        )));
    }

    let body_hash = sigv4::sha256_hex(req.body);
    let payload_hash = match req.header("x-amz-content-sha256").map(str::trim) {
        Some(sigv4::UNSIGNED_PAYLOAD) => sigv4::UNSIGNED_PAYLOAD.to_string(),
        // The client signed this value instead of the body: it must be the body's hash.
        Some(claimed) if !claimed.eq_ignore_ascii_case(&body_hash) => {
            return Err(ApiError::invalid_signature("The provided 'x-amz-content-sha256' header does not match what was computed."));
        }
        Some(claimed) => claimed.to_string(),
        None => body_hash,
    };

    // HTTP/2 carries the host in `:authority`, which is not in the header list.
    let host_fallback: Vec<(&str, &[u8])>;
    let headers = if req.header("host").is_none()
        && let Some(authority) = req.authority
    {
        host_fallback = req.headers.iter().copied().chain(std::iter::once(("host", authority.as_bytes()))).collect();
        &host_fallback[..]
    } else {
        req.headers
    };

    let parts = RequestParts { method: req.method, raw_path: req.raw_path, raw_query: req.raw_query, headers, payload_hash: &payload_hash };
    let expected = sigv4::expected_signature(&credential.secret_access_key, &amz_date, &auth, &parts);
    if !sigv4::signatures_match(&expected, &auth.signature) {
        return Err(ApiError::signature_mismatch());
    }
    Ok(Caller { access_key_id: auth.access_key_id, scope: Scope::new(credential.account_id.clone(), auth.region) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_credentials_file() {
        let creds = Credentials::from_toml(
            r#"
            [[credentials]]
            access_key_id = "AKIDA"
            secret_access_key = "sa"
            account_id = "111111111111"
            [[credentials]]
            access_key_id = "AKIDB"
            secret_access_key = "sb"
            account_id = "222222222222"
            "#,
        )
        .unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds.get("AKIDB").unwrap().account_id, "222222222222");
        assert!(creds.get("AKIDC").is_none());
    }

    #[test]
    fn rejects_bad_credentials_files() {
        for bad in [
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount_id = \"12\"\n",
            "[[credentials]]\naccess_key_id = \"\"\nsecret_access_key = \"s\"\naccount_id = \"111111111111\"\n",
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount_id = \"111111111111\"\n[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"t\"\naccount_id = \"111111111111\"\n",
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount_id = \"111111111111\"\nregion = \"x\"\n",
            "not toml",
        ] {
            assert!(Credentials::from_toml(bad).is_err(), "accepted {bad}");
        }
    }
}
