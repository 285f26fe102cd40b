//! The export outbox in SQLite (semantics: `crate::export`).
//!
//! `outbox_log` holds due events in `seq` order (AUTOINCREMENT: a sequence number is never
//! reused, so a consumer cursor never skips a later event). Writers hold the database's write
//! lock for a whole transaction, so events commit in `seq` order: a reader that sees sequence
//! number N has seen every event up to N. `outbox_pending` holds updates waiting for their
//! publishing boundary. Both reference the finding by `fid`; the document is read when the event
//! is handed out. No foreign keys: `on_delete_detector` removes the rows in the same transaction
//! as the findings, and the hot insert skips the parent probe.
use rusqlite::{Connection, OptionalExtension, params};
use vedette_domain::commit::ExportEvent;
use vedette_domain::time;

use super::{SqliteStore, backend};
use crate::export::{ConsumerStats, ExportStore, OutboxBatch, OutboxEvent, OutboxStats};
use crate::{Resource, Result, StoreError};

/// Schema v6 (outbox).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE export_consumers (
        cid               INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        -- NULL: every detector.
        did               INTEGER,
        -- Highest seq acknowledged.
        cursor            INTEGER NOT NULL,
        registered_at_ms  INTEGER NOT NULL
    );

    CREATE TABLE outbox_log (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        fid             INTEGER NOT NULL UNIQUE,
        did             INTEGER NOT NULL,
        created         INTEGER NOT NULL,
        enqueued_at_ms  INTEGER NOT NULL,
        due_ms          INTEGER NOT NULL
    );

    CREATE TABLE outbox_pending (
        fid             INTEGER PRIMARY KEY,
        did             INTEGER NOT NULL,
        due_ms          INTEGER NOT NULL,
        enqueued_at_ms  INTEGER NOT NULL
    );
    CREATE INDEX outbox_pending_by_due ON outbox_pending (due_ms);
"#;

/// Whether some consumer wants detector ?1's findings (a handful of rows: scanned).
const WANTED: &str = "EXISTS (SELECT 1 FROM export_consumers c WHERE c.did IS NULL OR c.did = ?1)";

/// Pending updates moved into the log per transaction (keeps each write short).
const PROMOTE_BATCH: usize = 5_000;

/// Records what [`vedette_domain::commit::resolve`] decided the outbox must hear of finding
/// `fid`, inside the write transaction that stored it.
pub(super) fn record(tx: &Connection, did: i64, fid: i64, event: ExportEvent) -> Result<()> {
    let now = time::now_ms();
    match event {
        ExportEvent::Nothing => {}
        ExportEvent::Withdraw => drop_events(tx, fid)?,
        ExportEvent::New => {
            // REPLACE: a stale row for a reused fid (cannot normally exist) gets a fresh seq.
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO outbox_log (fid, did, created, enqueued_at_ms, due_ms)
                 SELECT f.fid, f.did, 1, ?3, ?3 FROM findings f WHERE f.did = ?1 AND f.fid = ?2 AND {WANTED}"
            ))
            .map_err(backend)?
            .execute(params![did, fid, now])
            .map_err(backend)?;
        }
        ExportEvent::Update => {
            // The boundary is computed here from the detector's stored frequency (same rule as
            // `export::next_boundary_ms`); a finding already pending keeps its row and due time.
            tx.prepare_cached(&format!(
                "INSERT INTO outbox_pending (fid, did, due_ms, enqueued_at_ms)
                 SELECT f.fid, f.did, (?3 / p.period + 1) * p.period, ?3
                 FROM findings f, (SELECT CASE json_extract(d.config, '$.finding_publishing_frequency')
                                       WHEN 'FIFTEEN_MINUTES' THEN 900000 WHEN 'ONE_HOUR' THEN 3600000
                                       ELSE 21600000 END AS period
                                   FROM detectors d WHERE d.did = ?1) p
                 WHERE f.did = ?1 AND f.fid = ?2 AND {WANTED}
                 ON CONFLICT (fid) DO NOTHING"
            ))
            .map_err(backend)?
            .execute(params![did, fid, now])
            .map_err(backend)?;
        }
    }
    Ok(())
}

/// A finding is deleted (retention): its queued events go with it.
pub(super) fn on_delete_finding(tx: &Connection, fid: i64) -> Result<()> {
    drop_events(tx, fid)
}

fn drop_events(tx: &Connection, fid: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM outbox_pending WHERE fid = ?1").map_err(backend)?.execute([fid]).map_err(backend)?;
    tx.prepare_cached("DELETE FROM outbox_log WHERE fid = ?1").map_err(backend)?.execute([fid]).map_err(backend)?;
    Ok(())
}

pub(super) fn on_delete_detector(tx: &Connection, did: i64, _detector_id: &str) -> Result<()> {
    // Rare: a scan of the outbox is fine (no per-detector index to maintain on every insert).
    tx.execute("DELETE FROM outbox_log WHERE did = ?1", [did]).map_err(backend)?;
    tx.execute("DELETE FROM outbox_pending WHERE did = ?1", [did]).map_err(backend)?;
    tx.execute("DELETE FROM export_consumers WHERE did = ?1", [did]).map_err(backend)?;
    Ok(())
}

pub(super) fn on_reset(tx: &Connection) -> Result<()> {
    // Global consumers (the configured sinks) survive a reset: the server still delivers.
    tx.execute_batch("DELETE FROM outbox_log; DELETE FROM outbox_pending; DELETE FROM export_consumers WHERE did IS NOT NULL;").map_err(backend)
}

/// The highest sequence number ever handed out (0 for none).
fn log_end(tx: &Connection) -> Result<i64> {
    let end: Option<i64> = tx
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'outbox_log'")
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    Ok(end.unwrap_or(0))
}

/// (cid, did limit, cursor) of a consumer.
fn consumer(tx: &Connection, name: &str) -> Result<(i64, Option<i64>, i64)> {
    tx.prepare_cached("SELECT cid, did, cursor FROM export_consumers WHERE name = ?1")
        .map_err(backend)?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Resource::Consumer))
}

/// Deletes the events in (after, up_to] that every consumer wanting them has acknowledged.
fn collect(tx: &Connection, after: i64, up_to: i64) -> Result<()> {
    if up_to <= after {
        return Ok(());
    }
    tx.prepare_cached(
        "DELETE FROM outbox_log WHERE seq > ?1 AND seq <= ?2 AND NOT EXISTS (
             SELECT 1 FROM export_consumers c
             WHERE (c.did IS NULL OR c.did = outbox_log.did) AND c.cursor < outbox_log.seq)",
    )
    .map_err(backend)?
    .execute(params![after, up_to])
    .map_err(backend)?;
    Ok(())
}

/// Moves up to `PROMOTE_BATCH` updates due by `now_ms` into the log; whether more remain.
fn promote(tx: &Connection, now_ms: i64) -> Result<bool> {
    let due: Vec<(i64, i64, i64, i64)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT fid, did, due_ms, enqueued_at_ms FROM outbox_pending WHERE due_ms <= ?1
                 ORDER BY due_ms, fid LIMIT ?2",
            )
            .map_err(backend)?;
        let rows =
            stmt.query_map(params![now_ms, PROMOTE_BATCH as i64 + 1], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)?
    };
    let more = due.len() > PROMOTE_BATCH;
    let mut append = tx
        .prepare_cached("INSERT OR REPLACE INTO outbox_log (fid, did, created, enqueued_at_ms, due_ms) VALUES (?1, ?2, 0, ?3, ?4)")
        .map_err(backend)?;
    let mut remove = tx.prepare_cached("DELETE FROM outbox_pending WHERE fid = ?1").map_err(backend)?;
    for (fid, did, due_ms, enqueued_at_ms) in due.into_iter().take(PROMOTE_BATCH) {
        append.execute(params![fid, did, enqueued_at_ms, due_ms]).map_err(backend)?;
        remove.execute([fid]).map_err(backend)?;
    }
    Ok(more)
}

impl ExportStore for SqliteStore {
    fn register_consumer(&self, name: &str, detector_id: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let did = match detector_id {
                Some(id) => Some(super::detector_key(tx, id)?.ok_or(StoreError::NotFound(Resource::Detector))?),
                None => None,
            };
            let end = log_end(tx)?;
            tx.prepare_cached(
                "INSERT INTO export_consumers (name, did, cursor, registered_at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET did = excluded.did",
            )
            .map_err(backend)?
            .execute(params![name, did, end, time::now_ms()])
            .map_err(backend)?;
            Ok(())
        })
    }

    fn unregister_consumer(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let cursor = match consumer(tx, name) {
                Ok((_, _, cursor)) => cursor,
                Err(StoreError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
            tx.prepare_cached("DELETE FROM export_consumers WHERE name = ?1").map_err(backend)?.execute([name]).map_err(backend)?;
            // Events nobody wants any more go too, and with no consumer left, the pending updates.
            tx.execute(
                "DELETE FROM outbox_log WHERE seq > ?1 AND NOT EXISTS (
                     SELECT 1 FROM export_consumers c
                     WHERE (c.did IS NULL OR c.did = outbox_log.did) AND c.cursor < outbox_log.seq)",
                [cursor],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM outbox_pending WHERE NOT EXISTS (
                     SELECT 1 FROM export_consumers c WHERE c.did IS NULL OR c.did = outbox_pending.did)",
                [],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn consumers(&self) -> Result<Vec<(String, Option<String>)>> {
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached("SELECT c.name, d.id FROM export_consumers c LEFT JOIN detectors d ON d.did = c.did ORDER BY c.name")
                .map_err(backend)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })
    }

    fn outbox_due(&self, consumer_name: &str, now_ms: i64, limit: usize) -> Result<OutboxBatch> {
        if limit == 0 {
            return Err(StoreError::Invalid("limit must be at least 1".into()));
        }
        // Promotion needs the write lock: take it only when an update is due.
        let due_updates = self.read(|tx| {
            tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox_pending WHERE due_ms <= ?1)")
                .map_err(backend)?
                .query_row([now_ms], |r| r.get::<_, bool>(0))
                .map_err(backend)
        })?;
        if due_updates {
            while self.write(|tx| promote(tx, now_ms))? {}
        }
        self.read(|tx| {
            let (_, did, cursor) = consumer(tx, consumer_name)?;
            let end = log_end(tx)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT l.seq, l.created, l.enqueued_at_ms, l.due_ms, d.id, d.account_id, d.region,
                            f.id, COALESCE(f.archived, 0), b.body
                     FROM outbox_log l
                     LEFT JOIN detectors d ON d.did = l.did
                     LEFT JOIN findings f ON f.fid = l.fid
                     LEFT JOIN finding_bodies b ON b.fid = l.fid
                     WHERE l.seq > ?1 AND (?2 IS NULL OR l.did = ?2)
                     ORDER BY l.seq LIMIT ?3",
                )
                .map_err(backend)?;
            let mut rows = stmt.query(params![cursor, did, limit as i64]).map_err(backend)?;
            let mut events = Vec::new();
            let mut looked_at = 0usize;
            let mut last_seq = cursor;
            while let Some(r) = rows.next().map_err(backend)? {
                looked_at += 1;
                last_seq = r.get(0).map_err(backend)?;
                let detector_id: Option<String> = r.get(4).map_err(backend)?;
                let finding_id: Option<String> = r.get(7).map_err(backend)?;
                let archived: bool = r.get(8).map_err(backend)?;
                let body: Option<String> = r.get(9).map_err(backend)?;
                // Archived since queued, or gone (deleted with its detector by another process
                // between two reads): nothing to deliver.
                let (Some(detector_id), Some(finding_id), Some(body_json), false) = (detector_id, finding_id, body, archived) else {
                    continue;
                };
                events.push(OutboxEvent {
                    seq: last_seq,
                    detector_id,
                    account_id: r.get(5).map_err(backend)?,
                    region: r.get(6).map_err(backend)?,
                    finding_id,
                    body_json,
                    created: r.get(1).map_err(backend)?,
                    enqueued_at_ms: r.get(2).map_err(backend)?,
                    due_ms: r.get(3).map_err(backend)?,
                });
            }
            // A short batch saw everything up to the end of the log as of this snapshot.
            let ack_to = if looked_at < limit { end.max(cursor) } else { last_seq };
            Ok(OutboxBatch { events, ack_to })
        })
    }

    fn outbox_ack(&self, consumer_name: &str, up_to_seq: i64) -> Result<()> {
        self.write(|tx| {
            let (cid, _, cursor) = consumer(tx, consumer_name)?;
            let up_to = up_to_seq.min(log_end(tx)?);
            if up_to <= cursor {
                return Ok(());
            }
            tx.prepare_cached("UPDATE export_consumers SET cursor = ?1 WHERE cid = ?2")
                .map_err(backend)?
                .execute(params![up_to, cid])
                .map_err(backend)?;
            collect(tx, cursor, up_to)
        })
    }

    fn outbox_stats(&self) -> Result<OutboxStats> {
        self.read(|tx| {
            let (queued, pending_updates): (i64, i64) = tx
                .prepare_cached("SELECT (SELECT COUNT(*) FROM outbox_log), (SELECT COUNT(*) FROM outbox_pending)")
                .map_err(backend)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT c.name, d.id,
                            (SELECT COUNT(*) FROM outbox_log l WHERE l.seq > c.cursor AND (c.did IS NULL OR l.did = c.did)),
                            (SELECT MIN(l.due_ms) FROM outbox_log l WHERE l.seq > c.cursor AND (c.did IS NULL OR l.did = c.did))
                     FROM export_consumers c LEFT JOIN detectors d ON d.did = c.did ORDER BY c.name",
                )
                .map_err(backend)?;
            let consumers: Vec<ConsumerStats> = stmt
                .query_map([], |r| {
                    Ok(ConsumerStats { name: r.get(0)?, detector_id: r.get(1)?, backlog: r.get::<_, i64>(2)? as u64, oldest_due_ms: r.get(3)? })
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<_>>()
                .map_err(backend)?;
            let oldest_due_ms = consumers.iter().filter_map(|c| c.oldest_due_ms).min();
            Ok(OutboxStats { queued: queued as u64, pending_updates: pending_updates as u64, oldest_due_ms, consumers })
        })
    }
}
