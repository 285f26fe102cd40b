//! Saved filters in SQLite, and suppression (ARCHIVE filters) applied to findings as they are written.
use rusqlite::Transaction;
use vedette_domain::model;

use super::SqliteStore;
use crate::filters::FilterStore;
use crate::Result;

/// Schema v5 (filters). Replace the placeholder with the real tables before the first release.
pub(super) const MIGRATION: &str = "SELECT 1;";

/// Called by `apply` for every finding it is about to write (`created`: new, else merged into an
/// existing one), inside the write transaction: an ARCHIVE filter that matches archives it.
pub(super) fn suppress(_tx: &Transaction<'_>, _did: i64, _finding: &mut model::Finding, _created: bool) -> Result<()> {
    Ok(())
}

pub(super) fn on_delete_detector(_tx: &Transaction<'_>, _did: i64, _detector_id: &str) -> Result<()> {
    Ok(())
}

pub(super) fn on_reset(_tx: &Transaction<'_>) -> Result<()> {
    Ok(())
}

impl FilterStore for SqliteStore {}
