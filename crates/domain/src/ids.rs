//! Identifiers. Detector ids are random (as in GuardDuty); finding ids are derived from the
//! aggregation key so that the same activity always lands on the same finding, which makes
//! re-ingestion idempotent and output deterministic for CI users.
use sha2::{Digest, Sha256};

/// 32 lowercase hex characters, random.
pub fn new_random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// 32 lowercase hex characters derived from the detector and an aggregation key.
pub fn finding_id(detector_id: &str, aggregation_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(detector_id.as_bytes());
    h.update([0u8]);
    h.update(aggregation_key.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// GuardDuty ids: 1..300 characters; ours are always 32 lowercase alphanumerics.
pub fn is_well_formed_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 300 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
