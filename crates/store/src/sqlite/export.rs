//! The export outbox in SQLite.
use rusqlite::Transaction;
use vedette_domain::model;

use super::SqliteStore;
use crate::export::ExportStore;
use crate::Result;

/// Schema v6 (outbox). Replace the placeholder with the real tables before the first release.
pub(super) const MIGRATION: &str = "SELECT 1;";

/// Called by `apply` after a finding was written (after suppression: `finding` is what is
/// stored), inside the write transaction. `created`: the finding is new.
pub(super) fn record(_tx: &Transaction<'_>, _did: i64, _finding: &model::Finding, _created: bool) -> Result<()> {
    Ok(())
}

pub(super) fn on_delete_detector(_tx: &Transaction<'_>, _did: i64, _detector_id: &str) -> Result<()> {
    Ok(())
}

pub(super) fn on_reset(_tx: &Transaction<'_>) -> Result<()> {
    Ok(())
}

impl ExportStore for SqliteStore {}
