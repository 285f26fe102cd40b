//! Detection state in SQLite: one row per (detector, key), written by `apply_with_state` in the
//! same transaction as the findings it led to.
use rusqlite::{Connection, params};

use super::{SqliteStore, backend, detector_key};
use crate::Result;
use crate::state::{StateEntry, StateStore};

/// Schema v8 (detection state).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE detection_state (
        did    INTEGER NOT NULL REFERENCES detectors (did) ON DELETE CASCADE,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (did, key)
    ) WITHOUT ROWID;
"#;

/// Writes `entries` inside `apply`'s transaction, in order (a key written twice keeps the last
/// value). Entries of detectors that no longer exist are dropped, like their findings.
pub(super) fn write(tx: &Connection, entries: &[StateEntry]) -> Result<()> {
    let mut last: Option<(&str, Option<i64>)> = None;
    for entry in entries {
        let did = match last {
            Some((id, did)) if id == entry.detector_id => did,
            _ => {
                let did = detector_key(tx, &entry.detector_id)?;
                last = Some((&entry.detector_id, did));
                did
            }
        };
        let Some(did) = did else { continue };
        match &entry.value {
            Some(value) => tx
                .prepare_cached(
                    "INSERT INTO detection_state (did, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (did, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(backend)?
                .execute(params![did, entry.key, value])
                .map_err(backend)?,
            None => tx
                .prepare_cached("DELETE FROM detection_state WHERE did = ?1 AND key = ?2")
                .map_err(backend)?
                .execute(params![did, entry.key])
                .map_err(backend)?,
        };
    }
    Ok(())
}

pub(super) fn on_delete_detector(tx: &Connection, did: i64, _detector_id: &str) -> Result<()> {
    tx.execute("DELETE FROM detection_state WHERE did = ?1", [did]).map_err(backend)?;
    Ok(())
}

pub(super) fn on_reset(tx: &Connection) -> Result<()> {
    tx.execute("DELETE FROM detection_state", []).map_err(backend)?;
    Ok(())
}

impl StateStore for SqliteStore {
    fn load_state(&self, detector_id: &str, key_prefix: &str) -> Result<Vec<(String, String)>> {
        self.read(|tx| {
            let Some(did) = detector_key(tx, detector_id)? else { return Ok(Vec::new()) };
            // A key range (BINARY collation compares UTF-8 bytes): every key starting with the
            // prefix sorts below prefix + U+10FFFF, the greatest character.
            let upper = format!("{key_prefix}\u{10FFFF}");
            let mut stmt = tx
                .prepare_cached("SELECT key, value FROM detection_state WHERE did = ?1 AND key >= ?2 AND key < ?3 ORDER BY key")
                .map_err(backend)?;
            let rows = stmt.query_map(params![did, key_prefix, upper], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(backend)?;
            rows.map(|r| r.map_err(backend)).collect()
        })
    }
}
