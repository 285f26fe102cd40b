//! Detection state that must outlive one ingest run and one file: windows, last-seen values.
//! Written in the same transaction as the findings it led to, so a crash never splits them.
use crate::Result;

/// One key of a detector's detection state. `value: None` deletes the key.
#[derive(Debug, Clone, PartialEq)]
pub struct StateEntry {
    pub detector_id: String,
    /// Namespaced by the rule that owns it, e.g. `console-login:<principal>`.
    pub key: String,
    /// Opaque to the store (the rule's own JSON).
    pub value: Option<String>,
}

/// Persistence of detection state.
pub trait StateStore {
    /// The detector's state entries whose key starts with `key_prefix`, as (key, value).
    fn load_state(&self, detector_id: &str, key_prefix: &str) -> Result<Vec<(String, String)>>;
}
