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

    -- One row per finding: the full GuardDuty document in `body`, plus the hot attributes as
    -- columns (NULL = attribute absent, exactly as the in-memory evaluator sees it).
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
        event_last_seen_ms   INTEGER,
        feedback_comments    TEXT,
        body                 TEXT NOT NULL
    );
    CREATE UNIQUE INDEX findings_by_id ON findings (did, id);
    -- Listing order is (sort value ASC|DESC, id ASC): the indexes store exactly that order so a
    -- page is an index range scan, even where thousands of findings share a value (severity).
    CREATE INDEX findings_by_updated ON findings (did, updated_at_ms DESC, id);
    CREATE INDEX findings_by_archived_updated ON findings (did, archived, updated_at_ms DESC, id);
    CREATE INDEX findings_by_severity_desc ON findings (did, severity DESC, id);
    CREATE INDEX findings_by_severity ON findings (did, severity, id);
    CREATE INDEX findings_by_type ON findings (did, type, updated_at_ms DESC, id);

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
    // v2: documents move out of `findings` (narrow rows: filtering and unindexed sorts read
    // little), per-detector finding counts for the listing planner, the (type, severity) index.
    // Indexes are dropped and rebuilt so that every v1 layout ends identical.
    r#"
    CREATE TABLE finding_bodies (
        fid       INTEGER PRIMARY KEY REFERENCES findings (fid) ON DELETE CASCADE,
        body      TEXT NOT NULL,
        comments  TEXT
    );
    INSERT INTO finding_bodies (fid, body, comments) SELECT fid, body, feedback_comments FROM findings;

    DROP INDEX IF EXISTS findings_by_updated;
    DROP INDEX IF EXISTS findings_by_archived_updated;
    DROP INDEX IF EXISTS findings_by_severity_desc;
    DROP INDEX IF EXISTS findings_by_severity;
    DROP INDEX IF EXISTS findings_by_type;
    ALTER TABLE findings DROP COLUMN body;
    ALTER TABLE findings DROP COLUMN feedback_comments;

    -- Listing order is (sort value ASC|DESC, id ASC): the indexes store exactly that order so a
    -- page is an index range scan, even where thousands of findings share a value (severity).
    CREATE INDEX findings_by_updated ON findings (did, updated_at_ms DESC, id);
    CREATE INDEX findings_by_archived_updated ON findings (did, archived, updated_at_ms DESC, id);
    CREATE INDEX findings_by_severity_desc ON findings (did, severity DESC, id);
    CREATE INDEX findings_by_severity ON findings (did, severity, id);
    CREATE INDEX findings_by_type ON findings (did, type, updated_at_ms DESC, id);
    CREATE INDEX findings_by_type_severity ON findings (did, type, severity DESC, id);

    -- Number of findings, kept by the writers: the listing planner's table size.
    ALTER TABLE detectors ADD COLUMN finding_count INTEGER NOT NULL DEFAULT 0;
    UPDATE detectors SET finding_count = (SELECT COUNT(*) FROM findings f WHERE f.did = detectors.did);
    "#,
    // v3: `service.action.awsApiCallAction.errorCode` (why Vedette exists: failed calls) becomes
    // a column with its own listing index, moved out of the side table. The listing indexes
    // also carry the attributes typical criteria test (type, severity, archived, updatedAt,
    // errorCode) after the order-giving columns, so that walking one never reads table rows to
    // check them (a random page read per finding when cold).
    r#"
    ALTER TABLE findings ADD COLUMN error_code TEXT;
    UPDATE findings SET error_code = (
        SELECT a.v FROM finding_attrs a
        WHERE a.fid = findings.fid
          AND a.path_id = (SELECT path_id FROM attr_paths WHERE path = 'service.action.awsApiCallAction.errorCode')
    );
    DELETE FROM finding_attrs
    WHERE path_id = (SELECT path_id FROM attr_paths WHERE path = 'service.action.awsApiCallAction.errorCode');

    DROP INDEX findings_by_updated;
    DROP INDEX findings_by_archived_updated;
    DROP INDEX findings_by_severity_desc;
    DROP INDEX findings_by_severity;
    DROP INDEX findings_by_type;
    DROP INDEX findings_by_type_severity;
    CREATE INDEX findings_by_updated ON findings (did, updated_at_ms DESC, id, archived, severity, type, error_code);
    CREATE INDEX findings_by_archived_updated ON findings (did, archived, updated_at_ms DESC, id, severity, type, error_code);
    CREATE INDEX findings_by_severity_desc ON findings (did, severity DESC, id, archived, updated_at_ms, type, error_code);
    CREATE INDEX findings_by_severity ON findings (did, severity, id, archived, updated_at_ms, type, error_code);
    CREATE INDEX findings_by_type ON findings (did, type, updated_at_ms DESC, id, archived, severity, error_code);
    CREATE INDEX findings_by_type_severity ON findings (did, type, severity DESC, id, archived, updated_at_ms, error_code);
    CREATE INDEX findings_by_error_updated ON findings (did, error_code, updated_at_ms DESC, id, archived, severity, type);
    "#,
    // v4 .. v8: one per resource family, defined beside its code.
    super::lists::MIGRATION,
    super::filters::MIGRATION,
    super::export::MIGRATION,
    super::destinations::MIGRATION,
    super::state::MIGRATION,
];

/// Brings the database to the latest schema. Refuses a database written by a newer Vedette.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(backend)?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0)).map_err(backend)?;
    let latest = MIGRATIONS.len() as i64;
    if current > latest {
        return Err(StoreError::Backend(format!("the database has schema version {current}, newer than this Vedette supports ({latest})")));
    }
    let mut current = current;
    if current == 1 && table_exists(&tx, "finding_bodies")? {
        // A pre-release build briefly wrote the v2 layout under version 1.
        tx.execute("INSERT INTO schema_version (version) VALUES (2)", []).map_err(backend)?;
        current = 2;
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [index as i64 + 1]).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn table_exists(tx: &rusqlite::Transaction<'_>, name: &str) -> Result<bool> {
    tx.query_row("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| r.get::<_, i64>(0))
        .map(|n| n > 0)
        .map_err(backend)
}

pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteStore, Store};

    #[test]
    fn v1_databases_migrate_to_the_latest_layout() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"{"id":"f1","type":"Policy:IAMUser/RootCredentialUsage","severity":2.0}"#;
        {
            let conn = Connection::open(dir.path().join("vedette.db")).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
                 INSERT INTO detectors (did, id, account_id, region, created_at_ms, updated_at_ms, config)
                     VALUES (1, 'd1', '111122223333', 'us-east-1', 0, 0,
                             '{\"enabled\":true,\"finding_publishing_frequency\":\"SIX_HOURS\"}');",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO findings (fid, did, id, type, severity, body, feedback_comments) VALUES (7, 1, 'f1', 'Policy:IAMUser/RootCredentialUsage', 2.0, ?1, 'noted')",
                [body],
            )
            .unwrap();
            conn.execute_batch(
                "INSERT INTO attr_paths (path_id, path) VALUES (5, 'service.action.awsApiCallAction.errorCode'), (6, 'service.resourceRole');
                 INSERT INTO finding_attrs (fid, path_id, v) VALUES (7, 5, 'AccessDenied'), (7, 6, 'TARGET');",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let found = store.get_findings("d1", &["f1".to_string()], None).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Some(2.0));

        let conn = Connection::open(dir.path().join("vedette.db")).unwrap();
        let version: i64 = conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, latest_version());
        let (count, comments): (i64, String) = conn
            .query_row("SELECT d.finding_count, b.comments FROM detectors d, finding_bodies b WHERE b.fid = 7", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((count, comments.as_str()), (1, "noted"));
        let body_columns: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('findings') WHERE name IN ('body', 'feedback_comments')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(body_columns, 0);
        // errorCode moved from the side table to its column; other side rows stay.
        let (error_code, side_rows): (String, i64) = conn
            .query_row("SELECT f.error_code, (SELECT COUNT(*) FROM finding_attrs) FROM findings f WHERE f.fid = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((error_code.as_str(), side_rows), ("AccessDenied", 1));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join("vedette.db")).unwrap();
        conn.execute("INSERT INTO schema_version (version) VALUES (?1)", [latest_version() + 1]).unwrap();
        drop(conn);
        assert!(matches!(SqliteStore::open(dir.path()), Err(StoreError::Backend(m)) if m.contains("newer")));
    }
}
