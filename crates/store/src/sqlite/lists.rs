//! IPSets and ThreatIntelSets in SQLite.
use rusqlite::Transaction;

use super::SqliteStore;
use crate::lists::{ActiveList, ListStore};
use crate::Result;

/// Schema v4 (lists). Replace the placeholder with the real tables before the first release.
pub(super) const MIGRATION: &str = "SELECT 1;";

/// Called inside `delete_detector`'s transaction: removes the detector's lists.
pub(super) fn on_delete_detector(_tx: &Transaction<'_>, _did: i64, _detector_id: &str) -> Result<()> {
    Ok(())
}

/// Called inside `reset`'s transaction.
pub(super) fn on_reset(_tx: &Transaction<'_>) -> Result<()> {
    Ok(())
}

impl ListStore for SqliteStore {
    fn active_lists(&self, _detector_id: &str) -> Result<Vec<ActiveList>> {
        Ok(Vec::new())
    }
}
