//! IPSets and ThreatIntelSets in SQLite.
//!
//! One row per list in `lists`; the activated snapshot (the entries detection uses) in
//! `list_snapshots`, one row per list with the entries as one newline-separated text: a list
//! is written and read whole (up to 250,000 entries), never entry by entry.
use rusqlite::{Connection, OptionalExtension, params};
use vedette_domain::{Scope, ids, time};

use super::query::Cursor;
use super::{SqliteStore, backend, put_tags, tags_of};
use crate::lists::{
    ActiveList, ActiveListHead, DELETED_RETENTION_MS, ListKind, ListOutcome, ListRecord, ListStatus, ListStore, ListUpdate, ListWork, NewList,
    SnapshotInfo,
};
use crate::{Page, Resource, Result, StoreError};

/// Schema v4 (lists).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE lists (
        lid                    INTEGER PRIMARY KEY,
        did                    INTEGER NOT NULL REFERENCES detectors (did) ON DELETE CASCADE,
        id                     TEXT NOT NULL UNIQUE,
        kind                   TEXT NOT NULL,            -- 'IPSET' | 'THREAT_INTEL_SET'
        name                   TEXT NOT NULL,
        format                 TEXT NOT NULL,
        location               TEXT NOT NULL,
        status                 TEXT NOT NULL,
        generation             INTEGER NOT NULL,
        client_token           TEXT,
        expected_bucket_owner  TEXT,
        last_error             TEXT,
        created_at_ms          INTEGER NOT NULL,
        updated_at_ms          INTEGER NOT NULL
    );
    CREATE INDEX lists_by_detector ON lists (did, kind, id);
    CREATE INDEX lists_by_status ON lists (status);

    CREATE TABLE list_snapshots (
        lid              INTEGER PRIMARY KEY REFERENCES lists (lid) ON DELETE CASCADE,
        file_sha256      TEXT NOT NULL,
        entry_count      INTEGER NOT NULL,
        bad_lines        INTEGER NOT NULL,
        location         TEXT NOT NULL,
        activated_at_ms  INTEGER NOT NULL,
        entries          TEXT NOT NULL                   -- canonical nets, one per line
    );
"#;

/// Called inside `delete_detector`'s transaction: removes the detector's lists (their tags go
/// with the detector's ARN prefix).
pub(super) fn on_delete_detector(tx: &Connection, did: i64, _detector_id: &str) -> Result<()> {
    tx.execute("DELETE FROM list_snapshots WHERE lid IN (SELECT lid FROM lists WHERE did = ?1)", [did]).map_err(backend)?;
    tx.execute("DELETE FROM lists WHERE did = ?1", [did]).map_err(backend)?;
    Ok(())
}

/// Called inside `reset`'s transaction.
pub(super) fn on_reset(tx: &Connection) -> Result<()> {
    tx.execute_batch("DELETE FROM list_snapshots; DELETE FROM lists;").map_err(backend)
}

fn kind_text(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => "IPSET",
        ListKind::Threat => "THREAT_INTEL_SET",
    }
}

fn kind_of(text: &str) -> Result<ListKind> {
    match text {
        "IPSET" => Ok(ListKind::Trusted),
        "THREAT_INTEL_SET" => Ok(ListKind::Threat),
        other => Err(StoreError::Backend(format!("stored list kind {other:?} is unknown"))),
    }
}

fn status_of(text: &str) -> Result<ListStatus> {
    ListStatus::parse(text).ok_or_else(|| StoreError::Backend(format!("stored list status {text:?} is unknown")))
}

/// The scope's detector `detector_id`: (did, scope as stored).
fn owned_did(tx: &Connection, scope: &Scope, detector_id: &str) -> Result<i64> {
    tx.prepare_cached("SELECT did FROM detectors WHERE id = ?1 AND account_id = ?2 AND region = ?3")
        .map_err(backend)?
        .query_row(params![detector_id, scope.account_id, scope.region], |r| r.get(0))
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Resource::Detector))
}

const LIST_COLUMNS: &str = "l.lid, l.id, l.kind, l.name, l.format, l.location, l.status, l.generation, \
     l.expected_bucket_owner, l.last_error, l.created_at_ms, l.updated_at_ms, d.id, d.account_id, d.region, \
     s.file_sha256, s.entry_count, s.bad_lines, s.location, s.activated_at_ms";

const LIST_FROM: &str = "FROM lists l JOIN detectors d ON d.did = l.did LEFT JOIN list_snapshots s ON s.lid = l.lid";

struct Row {
    lid: i64,
    record: ListRecord,
    scope: Scope,
}

/// A `lists` row with its detector and snapshot summary (tags are read separately).
fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ListRecord, Scope, String, String)> {
    let snapshot = match r.get::<_, Option<String>>(15)? {
        Some(file_sha256) => Some(SnapshotInfo {
            file_sha256,
            entry_count: r.get::<_, i64>(16)? as u64,
            bad_lines: r.get::<_, i64>(17)? as u64,
            location: r.get(18)?,
            activated_at_ms: r.get(19)?,
        }),
        None => None,
    };
    let record = ListRecord {
        kind: ListKind::Trusted, // set by the caller from the kind text
        list_id: r.get(1)?,
        detector_id: r.get(12)?,
        name: r.get(3)?,
        format: r.get(4)?,
        location: r.get(5)?,
        status: ListStatus::Inactive, // idem, from the status text
        tags: Default::default(),
        created_at_ms: r.get(10)?,
        updated_at_ms: r.get(11)?,
        generation: r.get(7)?,
        last_error: r.get(9)?,
        snapshot,
        expected_bucket_owner: r.get(8)?,
    };
    let scope = Scope::new(r.get::<_, String>(13)?, r.get::<_, String>(14)?);
    Ok((r.get(0)?, record, scope, r.get(2)?, r.get(6)?))
}

/// Loads one list (any status) matching `condition` on `l`, with its tags.
fn load(tx: &Connection, condition: &str, values: &[&dyn rusqlite::ToSql]) -> Result<Option<Row>> {
    let sql = format!("SELECT {LIST_COLUMNS} {LIST_FROM} WHERE {condition}");
    let raw = tx.prepare_cached(&sql).map_err(backend)?.query_row(values, read_row).optional().map_err(backend)?;
    let Some((lid, mut record, scope, kind, status)) = raw else {
        return Ok(None);
    };
    record.kind = kind_of(&kind)?;
    record.status = status_of(&status)?;
    record.tags = tags_of(tx, &record.kind.arn(&scope, &record.detector_id, &record.list_id))?;
    Ok(Some(Row { lid, record, scope }))
}

/// The scope's list `list_id` of `kind` in detector `detector_id`.
fn owned_list(tx: &Connection, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<Row> {
    let did = owned_did(tx, scope, detector_id)?;
    load(tx, "l.id = ?1 AND l.did = ?2 AND l.kind = ?3", &[&list_id, &did, &kind_text(kind)])?.ok_or(StoreError::NotFound(kind.resource()))
}

fn purge_old_tombstones(tx: &Connection) -> Result<()> {
    tx.prepare_cached("DELETE FROM lists WHERE status = 'DELETED' AND updated_at_ms < ?1")
        .map_err(backend)?
        .execute([time::now_ms() - DELETED_RETENTION_MS])
        .map_err(backend)?;
    Ok(())
}

fn set_status(tx: &Connection, lid: i64, status: ListStatus, bump_generation: bool) -> Result<()> {
    tx.prepare_cached("UPDATE lists SET status = ?1, generation = generation + ?2, updated_at_ms = ?3 WHERE lid = ?4")
        .map_err(backend)?
        .execute(params![status.as_str(), bump_generation as i64, time::now_ms(), lid])
        .map_err(backend)?;
    Ok(())
}

impl ListStore for SqliteStore {
    fn active_lists(&self, detector_id: &str) -> Result<Vec<ActiveList>> {
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT l.kind, l.id, l.name, s.file_sha256, s.entries, s.activated_at_ms
                     FROM lists l JOIN detectors d ON d.did = l.did JOIN list_snapshots s ON s.lid = l.lid
                     WHERE d.id = ?1 AND l.status = 'ACTIVE' ORDER BY l.kind, l.id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([detector_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, list_id, name, file_sha256, entries, activated_at_ms) = row.map_err(backend)?;
                out.push(ActiveList {
                    kind: kind_of(&kind)?,
                    list_id,
                    name,
                    file_sha256,
                    entries: entries.lines().map(str::to_string).collect(),
                    activated_at_ms,
                });
            }
            Ok(out)
        })
    }

    fn active_list_heads(&self, detector_id: &str) -> Result<Vec<ActiveListHead>> {
        // The rows of `active_lists` without their entries (detection asks once per file).
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT l.kind, l.id, l.name, l.format, s.file_sha256, s.entry_count, s.activated_at_ms
                     FROM lists l JOIN detectors d ON d.did = l.did JOIN list_snapshots s ON s.lid = l.lid
                     WHERE d.id = ?1 AND l.status = 'ACTIVE' ORDER BY l.kind, l.id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([detector_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        ActiveListHead {
                            kind: ListKind::Trusted,
                            list_id: r.get(1)?,
                            name: r.get(2)?,
                            format: Some(r.get(3)?),
                            file_sha256: r.get(4)?,
                            entry_count: r.get::<_, i64>(5)? as u64,
                            activated_at_ms: r.get(6)?,
                        },
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, head) = row.map_err(backend)?;
                out.push(ActiveListHead { kind: kind_of(&kind)?, ..head });
            }
            Ok(out)
        })
    }

    fn create_list(&self, scope: &Scope, detector_id: &str, list: NewList) -> Result<ListRecord> {
        self.write(|tx| {
            let did = owned_did(tx, scope, detector_id)?;
            if let Some(token) = list.client_token.as_deref().filter(|t| !t.is_empty()) {
                // A retried create (same token) gets the list it created.
                let existing = load(tx, "l.did = ?1 AND l.kind = ?2 AND l.client_token = ?3", &[&did, &kind_text(list.kind), &token])?;
                if let Some(row) = existing {
                    return Ok(row.record);
                }
            }
            purge_old_tombstones(tx)?;
            let existing: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM lists WHERE did = ?1 AND kind = ?2 AND status NOT IN ('DELETED', 'DELETE_PENDING')")
                .map_err(backend)?
                .query_row(params![did, kind_text(list.kind)], |r| r.get(0))
                .map_err(backend)?;
            if existing as usize >= list.kind.max_lists() {
                return Err(StoreError::QuotaExceeded { resource: list.kind.resource(), max: list.kind.max_lists() });
            }
            let id = ids::new_random_id();
            let now = time::now_ms();
            let status = if list.activate { ListStatus::Activating } else { ListStatus::Inactive };
            tx.prepare_cached(
                "INSERT INTO lists (did, id, kind, name, format, location, status, generation, client_token,
                                    expected_bucket_owner, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10, ?10)",
            )
            .map_err(backend)?
            .execute(params![
                did,
                id,
                kind_text(list.kind),
                list.name,
                list.format,
                list.location,
                status.as_str(),
                list.client_token.as_deref().filter(|t| !t.is_empty()),
                list.expected_bucket_owner,
                now
            ])
            .map_err(backend)?;
            put_tags(tx, &list.kind.arn(scope, detector_id, &id), &list.tags)?;
            Ok(ListRecord {
                kind: list.kind,
                list_id: id,
                detector_id: detector_id.to_string(),
                name: list.name,
                format: list.format,
                location: list.location,
                status,
                tags: list.tags,
                created_at_ms: now,
                updated_at_ms: now,
                generation: 1,
                last_error: None,
                snapshot: None,
                expected_bucket_owner: list.expected_bucket_owner,
            })
        })
    }

    fn get_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.read(|tx| owned_list(tx, scope, detector_id, kind, list_id).map(|row| row.record))
    }

    fn list_lists(&self, scope: &Scope, detector_id: &str, kind: ListKind, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        if max_results == 0 {
            return Err(StoreError::Invalid("maxResults must be at least 1".into()));
        }
        let query = format!("lists\n{detector_id}\n{}", kind_text(kind));
        let after = next_token.map(|t| Cursor::decode(t, &query)).transpose()?.map(|c| c.id);
        let mut ids: Vec<String> = self.read(|tx| {
            let did = owned_did(tx, scope, detector_id)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id FROM lists WHERE did = ?1 AND kind = ?2 AND status <> 'DELETED' AND id > ?3
                     ORDER BY id LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![did, kind_text(kind), after.as_deref().unwrap_or(""), max_results as i64 + 1], |r| r.get(0))
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })?;
        let next_token = (ids.len() > max_results).then(|| {
            ids.truncate(max_results);
            Cursor { query, value: None, id: ids[max_results - 1].clone() }.encode()
        });
        Ok(Page { items: ids, next_token })
    }

    fn update_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str, update: ListUpdate) -> Result<ListRecord> {
        self.write(|tx| {
            let row = owned_list(tx, scope, detector_id, kind, list_id)?;
            if matches!(row.record.status, ListStatus::Deleted | ListStatus::DeletePending) {
                return Err(StoreError::NotFound(kind.resource()));
            }
            let now = time::now_ms();
            tx.prepare_cached(
                "UPDATE lists SET name = COALESCE(?1, name), location = COALESCE(?2, location),
                        expected_bucket_owner = COALESCE(?3, expected_bucket_owner), updated_at_ms = ?4
                 WHERE lid = ?5",
            )
            .map_err(backend)?
            .execute(params![update.name, update.location, update.expected_bucket_owner, now, row.lid])
            .map_err(backend)?;
            match update.activate {
                Some(true) => set_status(tx, row.lid, ListStatus::Activating, true)?,
                Some(false) => set_status(tx, row.lid, ListStatus::Deactivating, true)?,
                None => {}
            }
            let reloaded = load(tx, "l.lid = ?1", &[&row.lid])?.ok_or(StoreError::NotFound(kind.resource()))?;
            debug_assert_eq!(reloaded.scope, row.scope);
            Ok(reloaded.record)
        })
    }

    fn delete_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.write(|tx| {
            let row = owned_list(tx, scope, detector_id, kind, list_id)?;
            match row.record.status {
                ListStatus::Deleted => return Err(StoreError::NotFound(kind.resource())),
                ListStatus::DeletePending => return Ok(row.record),
                _ => {}
            }
            set_status(tx, row.lid, ListStatus::DeletePending, true)?;
            purge_old_tombstones(tx)?;
            Ok(load(tx, "l.lid = ?1", &[&row.lid])?.ok_or(StoreError::NotFound(kind.resource()))?.record)
        })
    }

    fn pending_list_work(&self) -> Result<Vec<ListWork>> {
        self.read(|tx| {
            let lids: Vec<i64> = {
                let mut stmt = tx
                    .prepare_cached("SELECT lid FROM lists WHERE status IN ('ACTIVATING', 'DEACTIVATING', 'DELETE_PENDING') ORDER BY lid")
                    .map_err(backend)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<rusqlite::Result<_>>().map_err(backend)?
            };
            let mut work = Vec::with_capacity(lids.len());
            for lid in lids {
                if let Some(row) = load(tx, "l.lid = ?1", &[&lid])? {
                    work.extend(ListWork::of(&row.record));
                }
            }
            Ok(work)
        })
    }

    fn settle_list(&self, list_id: &str, generation: i64, outcome: ListOutcome) -> Result<bool> {
        self.write(|tx| {
            let Some(row) = load(tx, "l.id = ?1", &[&list_id])? else { return Ok(false) };
            let expected = match &outcome {
                ListOutcome::Activated(_) | ListOutcome::Failed(_) => ListStatus::Activating,
                ListOutcome::Deactivated => ListStatus::Deactivating,
                ListOutcome::Deleted => ListStatus::DeletePending,
            };
            if row.record.generation != generation || row.record.status != expected {
                return Ok(false);
            }
            let now = time::now_ms();
            match outcome {
                ListOutcome::Activated(snapshot) => {
                    if snapshot.entries.len() > row.record.kind.max_entries() {
                        return Err(StoreError::Invalid(format!(
                            "a {} holds at most {} entries",
                            row.record.kind.resource_name(),
                            row.record.kind.max_entries()
                        )));
                    }
                    tx.prepare_cached(
                        "INSERT INTO list_snapshots (lid, file_sha256, entry_count, bad_lines, location, activated_at_ms, entries)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (lid) DO UPDATE SET file_sha256 = excluded.file_sha256,
                             entry_count = excluded.entry_count, bad_lines = excluded.bad_lines,
                             location = excluded.location, activated_at_ms = excluded.activated_at_ms,
                             entries = excluded.entries",
                    )
                    .map_err(backend)?
                    .execute(params![
                        row.lid,
                        snapshot.file_sha256,
                        snapshot.entries.len() as i64,
                        snapshot.bad_lines as i64,
                        snapshot.location,
                        snapshot.activated_at_ms,
                        snapshot.entries.join("\n")
                    ])
                    .map_err(backend)?;
                    tx.prepare_cached("UPDATE lists SET status = 'ACTIVE', last_error = NULL, updated_at_ms = ?1 WHERE lid = ?2")
                        .map_err(backend)?
                        .execute(params![now, row.lid])
                        .map_err(backend)?;
                }
                ListOutcome::Failed(reason) => {
                    // The previous snapshot is kept for the record but not used: only ACTIVE
                    // lists take part in detection.
                    tx.prepare_cached("UPDATE lists SET status = 'ERROR', last_error = ?1, updated_at_ms = ?2 WHERE lid = ?3")
                        .map_err(backend)?
                        .execute(params![reason, now, row.lid])
                        .map_err(backend)?;
                }
                ListOutcome::Deactivated => {
                    tx.execute("DELETE FROM list_snapshots WHERE lid = ?1", [row.lid]).map_err(backend)?;
                    set_status(tx, row.lid, ListStatus::Inactive, false)?;
                }
                ListOutcome::Deleted => {
                    tx.execute("DELETE FROM list_snapshots WHERE lid = ?1", [row.lid]).map_err(backend)?;
                    let arn = row.record.kind.arn(&row.scope, &row.record.detector_id, &row.record.list_id);
                    tx.execute("DELETE FROM tags WHERE arn = ?1", [arn]).map_err(backend)?;
                    set_status(tx, row.lid, ListStatus::Deleted, false)?;
                }
            }
            Ok(true)
        })
    }
}
