//! Schema and migrations. Each migration runs once, in order, inside the transaction that records
//! it in `schema_version`, so two processes opening the same database at once cannot both apply it.
use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

use super::backend;

/// Append only: a released migration never changes; a schema change is a new entry.
const MIGRATIONS: &[&str] = &[
    // v1
    r#"
    CREATE TABLE detectors (
        did            INTEGER PRIMARY KEY,
        id             TEXT NOT NULL UNIQUE,
        account_id     TEXT NOT NULL,
        region         TEXT NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL,
        config         TEXT NOT NULL,
        client_token   TEXT,
        -- Number of findings, kept by the writers: the listing planner's table size.
        finding_count  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, region)
    );

    CREATE TABLE tags (
        arn    TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (arn, key)
    ) WITHOUT ROWID;

    -- Stable small integers for attribute paths (the side table stores these, not the text).
    -- Rows are only ever added, so a process may keep the mapping in memory.
    CREATE TABLE attr_paths (
        path_id  INTEGER PRIMARY KEY,
        path     TEXT NOT NULL UNIQUE
    );

    -- One narrow row per finding: the hot attributes as columns (NULL = attribute absent,
    -- exactly as the in-memory evaluator sees it). Narrow so that filtering on them and sorting
    -- by an unindexed one read little; the document lives in finding_bodies.
    CREATE TABLE findings (
        fid                  INTEGER PRIMARY KEY,
        did                  INTEGER NOT NULL REFERENCES detectors (did) ON DELETE CASCADE,
        id                   TEXT NOT NULL,
        type                 TEXT,
        severity             REAL,
        created_at_ms        INTEGER,
        updated_at_ms        INTEGER,
        account_id           TEXT,
        region               TEXT,
        resource_type        TEXT,
        resource_id          TEXT,
        archived             INTEGER,
        count                INTEGER,
        event_first_seen_ms  INTEGER,
        event_last_seen_ms   INTEGER
    );
    CREATE UNIQUE INDEX findings_by_id ON findings (did, id);
    -- Listing order is (sort value ASC|DESC, id ASC): the indexes store exactly that order so a
    -- page is an index range scan, even where thousands of findings share a value (severity).
    CREATE INDEX findings_by_updated ON findings (did, updated_at_ms DESC, id);
    CREATE INDEX findings_by_archived_updated ON findings (did, archived, updated_at_ms DESC, id);
    CREATE INDEX findings_by_severity_desc ON findings (did, severity DESC, id);
    CREATE INDEX findings_by_severity ON findings (did, severity, id);
    CREATE INDEX findings_by_type ON findings (did, type, updated_at_ms DESC, id);
    CREATE INDEX findings_by_type_severity ON findings (did, type, severity DESC, id);

    -- The full GuardDuty document (serde_json of model::Finding), and feedback comments.
    CREATE TABLE finding_bodies (
        fid       INTEGER PRIMARY KEY REFERENCES findings (fid) ON DELETE CASCADE,
        body      TEXT NOT NULL,
        comments  TEXT
    );

    -- Every other attribute value (several rows for list-valued attributes). `v` has no declared
    -- type on purpose: text stays text and numbers stay numbers, so comparisons never coerce.
    CREATE TABLE finding_attrs (
        fid      INTEGER NOT NULL REFERENCES findings (fid) ON DELETE CASCADE,
        path_id  INTEGER NOT NULL,
        v        NOT NULL,
        PRIMARY KEY (fid, path_id, v)
    ) WITHOUT ROWID;
    CREATE INDEX finding_attrs_by_value ON finding_attrs (path_id, v);

    CREATE TABLE progress (
        source_key  TEXT PRIMARY KEY,
        position    INTEGER NOT NULL,
        complete    INTEGER NOT NULL,
        counters    TEXT NOT NULL
    );
    "#,
];

/// Brings the database to the latest schema. Refuses a database written by a newer Vedette.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(backend)?;
    let current: i64 = tx
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
        .map_err(backend)?;
    let latest = MIGRATIONS.len() as i64;
    if current > latest {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this Vedette supports ({latest})"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [index as i64 + 1]).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
