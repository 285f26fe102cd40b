//! Detection state in SQLite.
use rusqlite::Transaction;

use super::SqliteStore;
use crate::state::{StateEntry, StateStore};
use crate::Result;

/// Schema v8 (detection state). Replace the placeholder before the first release.
pub(super) const MIGRATION: &str = "SELECT 1;";

/// Writes `entries` inside `apply`'s transaction. Entries of detectors that no longer exist are dropped.
pub(super) fn write(_tx: &Transaction<'_>, entries: &[StateEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    Err(crate::StoreError::Invalid("detection state is not stored yet".into()))
}

pub(super) fn on_delete_detector(_tx: &Transaction<'_>, _did: i64, _detector_id: &str) -> Result<()> {
    Ok(())
}

pub(super) fn on_reset(_tx: &Transaction<'_>) -> Result<()> {
    Ok(())
}

impl StateStore for SqliteStore {
    fn load_state(&self, _detector_id: &str, _key_prefix: &str) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
}
