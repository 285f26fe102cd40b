//! Publishing destinations in SQLite.
use rusqlite::Transaction;

use super::SqliteStore;
use crate::destinations::DestinationStore;
use crate::Result;

/// Schema v7 (publishing destinations). Replace the placeholder before the first release.
pub(super) const MIGRATION: &str = "SELECT 1;";

pub(super) fn on_delete_detector(_tx: &Transaction<'_>, _did: i64, _detector_id: &str) -> Result<()> {
    Ok(())
}

pub(super) fn on_reset(_tx: &Transaction<'_>) -> Result<()> {
    Ok(())
}

impl DestinationStore for SqliteStore {}
