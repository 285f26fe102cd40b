//! The embedded SQLite store (WAL, synchronous=FULL: an acknowledged write survives a crash).
//!
//! One writer connection behind a mutex, and a small pool of reader connections: WAL readers run
//! concurrently with each other and with the writer. Another process (`vedette ingest`) may write
//! the same database while `vedette serve` runs, so nothing a write can change is kept in memory
//! between calls; writes take the database lock up front (`BEGIN IMMEDIATE`) and wait for it
//! (`busy_timeout`). Methods are synchronous: async callers run them on a blocking thread.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter};
use vedette_domain::commit::{Change, Stored};
use vedette_domain::criteria::{Criteria, Sort, compare_for_sort};
use vedette_domain::{Detector, DetectorConfig, Scope, attributes, ids, model, time};

use crate::{Commit, Group, GroupBy, Page, Progress, Resource, Result, Store, StoreError, UpsertStats};

mod destinations;
mod export;
mod filters;
mod lists;
mod preflight;
mod query;
mod rows;
mod schema;
mod state;

use query::{
    Candidate, Cursor, CursorValue, Place, Sql, candidate_drivers, compile_criteria, pair_columns, place, query_key, single_equality, sort_expression,
};
use rows::{FindingRow, PathIds, SideValue, diff};

/// How long a statement waits for another connection's (or process's) write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle reader connections kept open (each keeps its prepared statements); more are opened
/// under load and closed afterwards.
const IDLE_READERS: usize = 16;
/// Private page cache of the writer, KiB: index pages that inserts touch at random stay here.
const WRITER_CACHE_KIB: i64 = 256 * 1024;
/// Private page cache of each reader, KiB (reads mostly go through the shared mapping below).
const READER_CACHE_KIB: i64 = 16 * 1024;
/// Bytes of the database file read through a memory mapping (shared by all connections and
/// processes via the OS page cache, no copy per read). SQLite caps it at its compiled maximum.
const MMAP_BYTES: i64 = 1 << 40;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Signalled whenever a group of writes ends (committed or not).
    group_ended: Condvar,
    /// Writers waiting for the write connection: while there are some, a finished write leaves
    /// the transaction open for them (group commit).
    writers_queued: AtomicUsize,
    /// Group commit on (the default); `VEDETTE_GROUP_COMMIT=0` commits every write alone (the
    /// baseline of `bench/api.sh`).
    group_commit: bool,
    readers: Mutex<Vec<Connection>>,
    /// Attribute path ids; rows of `attr_paths` are never changed or removed, so this is safe to keep.
    paths: PathIds,
    /// Parsed ARCHIVE filters, checked against the database's filters version on every use.
    suppression: filters::SuppressionCache,
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("stored JSON is unreadable: {e}"))
}

/// The detector configuration as stored (JSON in `detectors.config`).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConfig {
    enabled: bool,
    finding_publishing_frequency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_sources: Option<model::DataSourceConfigurations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    features: Option<Vec<model::DetectorFeatureConfiguration>>,
}

impl From<&DetectorConfig> for StoredConfig {
    fn from(c: &DetectorConfig) -> Self {
        StoredConfig {
            enabled: c.enabled,
            finding_publishing_frequency: c.finding_publishing_frequency.clone(),
            data_sources: c.data_sources.clone(),
            features: c.features.clone(),
        }
    }
}

impl From<StoredConfig> for DetectorConfig {
    fn from(c: StoredConfig) -> Self {
        DetectorConfig {
            enabled: c.enabled,
            finding_publishing_frequency: c.finding_publishing_frequency,
            data_sources: c.data_sources,
            features: c.features,
        }
    }
}

/// A reader connection borrowed from the pool; goes back on drop.
struct Reader<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = lock(&self.store.readers);
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// Most writes one group (one transaction, one fsync) carries.
const MAX_GROUP: usize = 64;

/// The write connection and the group commit's bookkeeping.
///
/// Group commit: every write runs in a savepoint of the open transaction. A write that finds
/// other writers queued behind it leaves the transaction open for them and waits; the last one
/// of the group (nobody queued, or the group full) commits for all and wakes them. Concurrent API
/// writes then share one fsync instead of queueing for one each, and each still returns only
/// after its own changes are durable. A write that fails is rolled back to its savepoint alone.
struct Writer {
    conn: Connection,
    /// The open transaction's group (0: none open).
    open_group: u64,
    /// Groups handed out so far.
    groups: u64,
    /// Successful writes of the open group waiting for its commit.
    waiting: usize,
    /// Every group up to this one has ended.
    ended: u64,
    /// Groups whose commit failed: the error, and how many waiting writes have yet to read it.
    failed: HashMap<u64, (String, usize)>,
}

impl Writer {
    fn new(conn: Connection) -> Self {
        Writer { conn, open_group: 0, groups: 0, waiting: 0, ended: 0, failed: HashMap::new() }
    }

    /// Commits the open group (rolls back if the commit fails) and tells its waiting writes.
    fn end_group(&mut self, ended: &Condvar) -> Result<()> {
        let group = self.open_group;
        let committed = self.conn.execute_batch("COMMIT").map_err(backend);
        if committed.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = &committed
            && self.waiting > 0
        {
            self.failed.insert(group, (e.to_string(), self.waiting));
        }
        self.open_group = 0;
        self.waiting = 0;
        self.ended = group;
        ended.notify_all();
        committed
    }

    /// The outcome of `group`'s commit for one of its waiting writes.
    fn take_failure(&mut self, group: u64) -> Option<String> {
        let (message, left) = self.failed.get_mut(&group)?;
        let message = message.clone();
        *left -= 1;
        if *left == 0 {
            self.failed.remove(&group);
        }
        Some(message)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves no transaction open (rusqlite rolls back on drop).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Gives every attribute the domain knows a path id (at open: later calls never need the write
/// lock for it) and returns the mapping.
fn register_paths(conn: &mut Connection) -> Result<PathIds> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut paths = PathIds::new();
    {
        let mut insert = tx.prepare("INSERT OR IGNORE INTO attr_paths (path) VALUES (?1)").map_err(backend)?;
        let mut select = tx.prepare("SELECT path_id FROM attr_paths WHERE path = ?1").map_err(backend)?;
        for attribute in attributes::all() {
            insert.execute([attribute.path]).map_err(backend)?;
            paths.insert(attribute.path, select.query_row([attribute.path], |r| r.get(0)).map_err(backend)?);
        }
    }
    tx.commit().map_err(backend)?;
    Ok(paths)
}

fn configure(conn: &Connection, reader: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -(if reader { READER_CACHE_KIB } else { WRITER_CACHE_KIB }))?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if reader {
        conn.pragma_update(None, "query_only", true)?;
    }
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/vedette.db` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Backend(format!("cannot create data directory {}: {e}", data_dir.display())))?;
        let path = data_dir.join("vedette.db");
        // Refuses (and never touches) a file that is not a healthy Vedette store.
        preflight::check_existing(&path)?;
        let mut writer = Connection::open(&path).map_err(backend)?;
        configure(&writer, false).map_err(backend)?;
        // WAL is a property of the database file: set once, every later connection uses it.
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("cannot switch {} to WAL (journal_mode is {mode})", path.display())));
        }
        schema::migrate(&mut writer)?;
        let paths = register_paths(&mut writer)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Writer::new(writer)),
            group_ended: Condvar::new(),
            writers_queued: AtomicUsize::new(0),
            group_commit: std::env::var("VEDETTE_GROUP_COMMIT").map_or(true, |v| v != "0"),
            readers: Mutex::new(Vec::new()),
            paths,
            suppression: Default::default(),
        })
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        schema::latest_version()
    }

    fn reader(&self) -> Result<Reader<'_>> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
                let conn = Connection::open_with_flags(&self.path, flags).map_err(backend)?;
                configure(&conn, true).map_err(backend)?;
                conn
            }
        };
        Ok(Reader { store: self, conn: Some(conn) })
    }

    /// Runs `f` in a read transaction: one consistent snapshot for all its statements.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.reader()?;
        let tx = conn.transaction().map_err(backend)?;
        let out = f(&tx)?;
        tx.finish().map_err(backend)?;
        Ok(out)
    }

    /// Runs `f` in a write transaction holding the database's write lock from the start, and
    /// returns once its changes are committed (see [`Writer`] for the group commit). An error
    /// from `f` undoes what `f` did and nothing else.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.writers_queued.fetch_add(1, Ordering::SeqCst);
        let mut w = lock(&self.writer);
        self.writers_queued.fetch_sub(1, Ordering::SeqCst);
        if w.open_group == 0 {
            w.conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
            w.groups += 1;
            w.open_group = w.groups;
        }
        let group = w.open_group;
        if let Err(e) = w.conn.execute_batch("SAVEPOINT vedette_write") {
            // This write cannot be isolated: end the group with what the others did.
            let _ = w.end_group(&self.group_ended);
            return Err(backend(e));
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&w.conn)));
        let succeeded = matches!(out, Ok(Ok(_)));
        let close = if succeeded { "RELEASE vedette_write" } else { "ROLLBACK TO vedette_write; RELEASE vedette_write" };
        if let Err(e) = w.conn.execute_batch(close) {
            // The savepoint is broken: nothing of the group can be trusted. Roll it all back.
            let _ = w.conn.execute_batch("ROLLBACK");
            let message = format!("write abandoned: {e}");
            if w.waiting > 0 {
                let waiting = w.waiting;
                w.failed.insert(group, (message.clone(), waiting));
            }
            w.open_group = 0;
            w.waiting = 0;
            w.ended = group;
            self.group_ended.notify_all();
            return Err(StoreError::Backend(message));
        }
        let hand_over = self.group_commit && self.writers_queued.load(Ordering::SeqCst) > 0 && w.waiting + 1 < MAX_GROUP;
        let out = match out {
            Ok(out) => out,
            Err(panic) => {
                if !hand_over {
                    let _ = w.end_group(&self.group_ended);
                }
                drop(w);
                std::panic::resume_unwind(panic);
            }
        };
        if hand_over {
            if !succeeded {
                return out; // nothing of this write to wait for
            }
            w.waiting += 1;
            while w.ended < group {
                w = self.group_ended.wait(w).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            return match w.take_failure(group) {
                Some(message) => Err(StoreError::Backend(message)),
                None => out,
            };
        }
        let committed = w.end_group(&self.group_ended);
        match (committed, out) {
            (Err(e), Ok(_)) => Err(e),
            (_, out) => out,
        }
    }
}

// --- progress ----------------------------------------------------------------------------------

/// The compare part of `apply_batch`'s compare-and-set: every record must still be at the
/// position its writer expects (run inside the write transaction, so no other process can move
/// it between this check and the write).
fn check_progress_expected(tx: &Connection, progress: &[Progress]) -> Result<()> {
    let mut select = tx.prepare_cached("SELECT position FROM progress WHERE source_key = ?1").map_err(backend)?;
    let mut moved = Vec::new();
    for p in progress {
        let stored: Option<i64> = select.query_row([&p.source_key], |r| r.get(0)).optional().map_err(backend)?;
        if stored.map(|position| position as u64) != p.expected_position {
            moved.push(p.source_key.clone());
        }
    }
    if moved.is_empty() { Ok(()) } else { Err(StoreError::ProgressMoved(moved)) }
}

// --- detectors --------------------------------------------------------------------------------

const DETECTOR_COLUMNS: &str = "id, account_id, region, created_at_ms, updated_at_ms, config";

fn detector_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Scope, i64, i64, String)> {
    Ok((r.get(0)?, Scope::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?), r.get(3)?, r.get(4)?, r.get(5)?))
}

fn load_detector(tx: &Connection, scope: &Scope, detector_id: &str) -> Result<Option<Detector>> {
    let row = tx
        .prepare_cached(&format!("SELECT {DETECTOR_COLUMNS} FROM detectors WHERE id = ?1 AND account_id = ?2 AND region = ?3"))
        .map_err(backend)?
        .query_row(params![detector_id, scope.account_id, scope.region], detector_from_row)
        .optional()
        .map_err(backend)?;
    let Some((id, scope, created_at_ms, updated_at_ms, config)) = row else { return Ok(None) };
    let config: StoredConfig = serde_json::from_str(&config).map_err(json_error)?;
    let tags = tags_of(tx, &scope.detector_arn(&id))?;
    Ok(Some(Detector { id, scope, created_at_ms, updated_at_ms, config: config.into(), tags }))
}

fn scope_detector(tx: &Connection, scope: &Scope) -> Result<Option<Detector>> {
    let id: Option<String> = tx
        .prepare_cached("SELECT id FROM detectors WHERE account_id = ?1 AND region = ?2")
        .map_err(backend)?
        .query_row(params![scope.account_id, scope.region], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    match id {
        Some(id) => load_detector(tx, scope, &id),
        None => Ok(None),
    }
}

fn tags_of(tx: &Connection, arn: &str) -> Result<BTreeMap<String, String>> {
    let mut stmt = tx.prepare_cached("SELECT key, value FROM tags WHERE arn = ?1").map_err(backend)?;
    let rows = stmt.query_map([arn], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
    rows.collect::<rusqlite::Result<_>>().map_err(backend)
}

fn put_tags(tx: &Connection, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value")
        .map_err(backend)?;
    for (key, value) in tags {
        stmt.execute(params![arn, key, value]).map_err(backend)?;
    }
    Ok(())
}

/// The detector's internal key, if it exists (in any scope: callers check ownership first).
fn detector_key(tx: &Connection, detector_id: &str) -> Result<Option<i64>> {
    tx.prepare_cached("SELECT did FROM detectors WHERE id = ?1").map_err(backend)?.query_row([detector_id], |r| r.get(0)).optional().map_err(backend)
}

// --- findings -----------------------------------------------------------------------------------

fn read_finding(body: &str) -> Result<model::Finding> {
    serde_json::from_str(body).map_err(json_error)
}

fn insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let columns: Vec<&str> = FindingRow::hot_columns().collect();
        let placeholders = vec!["?"; columns.len() + 3].join(", ");
        format!("INSERT INTO findings (did, id, {}, resource_id) VALUES ({placeholders})", columns.join(", "))
    })
}

fn update_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let sets: Vec<String> = FindingRow::hot_columns().map(|c| format!("{c} = ?")).collect();
        format!("UPDATE findings SET {}, resource_id = ? WHERE fid = ?", sets.join(", "))
    })
}

/// The side rows a finding has in the table.
fn side_rows(tx: &Connection, fid: i64) -> Result<Vec<(i64, SideValue)>> {
    let mut stmt = tx.prepare_cached("SELECT path_id, v FROM finding_attrs WHERE fid = ?1").map_err(backend)?;
    let rows = stmt
        .query_map([fid], |r| {
            let value = match r.get::<_, Value>(1)? {
                Value::Integer(i) => SideValue::Int(i),
                Value::Real(x) => SideValue::Real(x.to_bits()),
                Value::Text(s) => SideValue::Text(s),
                Value::Null | Value::Blob(_) => SideValue::Text(String::new()),
            };
            Ok((r.get(0)?, value))
        })
        .map_err(backend)?;
    let mut out: Vec<_> = rows.collect::<rusqlite::Result<_>>().map_err(backend)?;
    out.sort();
    Ok(out)
}

/// Inserts a new finding (`existing` = None) or rewrites one, keeping columns and side rows in
/// step with the document.
fn store_finding(tx: &Connection, did: i64, existing: Option<i64>, finding: &model::Finding, paths: &PathIds) -> Result<i64> {
    let id = finding.id.as_deref().ok_or_else(|| StoreError::Invalid("a finding without an id cannot be stored".into()))?;
    let row = FindingRow::of(finding, paths);
    let body = serde_json::to_string(finding).map_err(json_error)?;
    let (fid, old_side) = match existing {
        None => {
            let mut stmt = tx.prepare_cached(insert_sql()).map_err(backend)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&did, &id];
            values.extend(row.hot.iter().map(|v| v as &dyn rusqlite::ToSql));
            values.push(&row.resource_id);
            stmt.execute(values.as_slice()).map_err(backend)?;
            let fid = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO finding_bodies (fid, body) VALUES (?1, ?2)")
                .map_err(backend)?
                .execute(params![fid, body])
                .map_err(backend)?;
            (fid, Vec::new())
        }
        Some(fid) => {
            let mut stmt = tx.prepare_cached(update_sql()).map_err(backend)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = row.hot.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
            values.push(&row.resource_id);
            values.push(&fid);
            stmt.execute(values.as_slice()).map_err(backend)?;
            tx.prepare_cached("UPDATE finding_bodies SET body = ?1 WHERE fid = ?2").map_err(backend)?.execute(params![body, fid]).map_err(backend)?;
            (fid, side_rows(tx, fid)?)
        }
    };
    let (removed, added) = diff(&old_side, &row.side);
    if !removed.is_empty() {
        let mut stmt = tx.prepare_cached("DELETE FROM finding_attrs WHERE fid = ?1 AND path_id = ?2 AND v = ?3").map_err(backend)?;
        for (path_id, value) in removed {
            stmt.execute(params![fid, path_id, value]).map_err(backend)?;
        }
    }
    if !added.is_empty() {
        let mut stmt = tx.prepare_cached("INSERT INTO finding_attrs (fid, path_id, v) VALUES (?1, ?2, ?3)").map_err(backend)?;
        for (path_id, value) in added {
            stmt.execute(params![fid, path_id, value]).map_err(backend)?;
        }
    }
    Ok(fid)
}

/// `(fid, document)` of the detector's findings among `ids`.
/// Deletes one finding and what is kept beside it, keeping the detector's count right.
fn delete_finding(tx: &Connection, did: i64, fid: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM finding_attrs WHERE fid = ?1").map_err(backend)?.execute([fid]).map_err(backend)?;
    tx.prepare_cached("DELETE FROM finding_bodies WHERE fid = ?1").map_err(backend)?.execute([fid]).map_err(backend)?;
    export::on_delete_finding(tx, fid)?;
    let gone = tx.prepare_cached("DELETE FROM findings WHERE fid = ?1").map_err(backend)?.execute([fid]).map_err(backend)?;
    tx.prepare_cached("UPDATE detectors SET finding_count = finding_count - ?1 WHERE did = ?2")
        .map_err(backend)?
        .execute(params![gone as i64, did])
        .map_err(backend)?;
    Ok(())
}

fn findings_by_id(tx: &Connection, did: i64, ids: &[String]) -> Result<HashMap<String, (i64, String)>> {
    let mut out = HashMap::with_capacity(ids.len());
    let mut stmt = tx
        .prepare_cached("SELECT f.fid, b.body FROM findings f JOIN finding_bodies b USING (fid) WHERE f.did = ?1 AND f.id = ?2")
        .map_err(backend)?;
    for id in ids {
        if out.contains_key(id) {
            continue;
        }
        if let Some(found) = stmt.query_row(params![did, id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(backend)? {
            out.insert(id.clone(), found);
        }
    }
    Ok(out)
}

/// Applies `change` to each of `ids` (all must be the detector's, else nothing changes).
fn update_findings(
    store: &SqliteStore,
    detector_id: &str,
    ids: &[String],
    change: impl Fn(&mut model::Finding),
    extra: Option<(&str, &dyn rusqlite::ToSql)>,
) -> Result<()> {
    let paths = &store.paths;
    store.write(|tx| {
        let found = match detector_key(tx, detector_id)? {
            Some(did) => Some((did, findings_by_id(tx, did, ids)?)),
            None => None,
        };
        let missing: Vec<&str> =
            ids.iter().filter(|id| !found.as_ref().is_some_and(|(_, f)| f.contains_key(id.as_str()))).map(String::as_str).collect();
        if !missing.is_empty() {
            return Err(StoreError::UnknownFindings(missing.into_iter().map(str::to_string).collect()));
        }
        let Some((did, found)) = found else { return Ok(()) };
        for (fid, body) in found.values() {
            let mut finding = read_finding(body)?;
            change(&mut finding);
            store_finding(tx, did, Some(*fid), &finding, paths)?;
            if let Some((column, value)) = extra {
                tx.prepare_cached(&format!("UPDATE finding_bodies SET {column} = ?1 WHERE fid = ?2"))
                    .map_err(backend)?
                    .execute(params![value, fid])
                    .map_err(backend)?;
            }
        }
        Ok(())
    })
}

/// One ListFindings page request compiled to SQL. Findings without the sort attribute sort first
/// in ascending order and last in descending order, so a listing walks two segments: present
/// values `ORDER BY v, id`, absent ones `ORDER BY id`. Ties are broken by id ascending in both
/// directions (`compare_for_sort`).
///
/// Two plans. By default the detector's findings are walked in sort order (an index holds that
/// order for the usual sort attributes) and filtered on the way: cheap while matches are common.
/// When one criterion is selective (bounded count probes tell), the listing starts from that
/// criterion's candidates instead and sorts them. The choice is made per call from the data, so
/// it needs no statistics and follows what another process writes.
struct Listing<'a> {
    criteria: &'a Criteria,
    paths: &'a PathIds,
    descending: bool,
    sort_place: Place,
    /// The sort value for a finding `f` (any plan).
    expr: String,
    /// For a column sort walked in order: the index that holds the order (and pins the most).
    sort_index: Option<&'static str>,
    /// Digest of (detector, criteria, sort) that tokens carry.
    query: String,
    cursor: Option<Cursor>,
    /// Segment (0 or 1 in walking order) the cursor stands in.
    first_segment: usize,
}

impl<'a> Listing<'a> {
    fn new(
        store: &'a SqliteStore,
        detector_id: &str,
        criteria: &'a Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Self> {
        if max_results == 0 {
            return Err(StoreError::Invalid("maxResults must be at least 1".into()));
        }
        if sort.attribute.list {
            return Err(StoreError::Invalid(format!("cannot sort by {}: it may hold several values", sort.attribute.path)));
        }
        let query = query_key(detector_id, criteria, sort);
        let cursor = next_token.map(|t| Cursor::decode(t, &query)).transpose()?;
        let paths = &store.paths;
        let sort_place = place(sort.attribute.path, paths);
        let sort_index = match sort_place {
            Place::Column("updated_at_ms") if single_equality(criteria, "type") => Some("findings_by_type"),
            Place::Column("updated_at_ms") if single_equality(criteria, "service.action.awsApiCallAction.errorCode") => {
                Some("findings_by_error_updated")
            }
            Place::Column("updated_at_ms") if single_equality(criteria, "service.archived") => Some("findings_by_archived_updated"),
            Place::Column("updated_at_ms") => Some("findings_by_updated"),
            Place::Column("severity") if sort.descending && single_equality(criteria, "type") => Some("findings_by_type_severity"),
            Place::Column("severity") if sort.descending => Some("findings_by_severity_desc"),
            Place::Column("severity") => Some("findings_by_severity"),
            Place::Column("id") => Some("findings_by_id"),
            _ => None,
        };
        let mut listing = Listing {
            criteria,
            paths,
            descending: sort.descending,
            sort_place,
            expr: sort_expression(sort, paths),
            sort_index,
            query,
            cursor,
            first_segment: 0,
        };
        if let Some(c) = &listing.cursor {
            listing.first_segment = (0..2).find(|s| listing.segment_has_values(*s) == c.value.is_some()).expect("one of two");
        }
        Ok(listing)
    }

    /// Whether segment `segment` (in walking order) holds the findings that have the attribute.
    fn segment_has_values(&self, segment: usize) -> bool {
        (segment == 0) == self.descending
    }

    /// What the walk in sort order already restricts itself to: its index and the columns the
    /// index range pins or bounds. A candidate over those cannot beat the walk.
    fn exploited_by_walk(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Place::Column(column) = self.sort_place {
            out.push(column);
        }
        if let Some(index) = self.sort_index {
            out.push(index);
            match index {
                "findings_by_type" | "findings_by_type_severity" => out.push("type"),
                "findings_by_archived_updated" => out.push("archived"),
                "findings_by_error_updated" => out.push("error_code"),
                _ => {}
            }
        }
        out
    }

    /// The candidate query to start from, if one is selective enough to beat walking the
    /// detector's findings in sort order. Walking reads about `wanted × total / k` findings to
    /// fill a page when `k` of them match; starting from `k` candidates reads and sorts `k`
    /// (about twice the cost each): candidates win below k = √(wanted × total / 2). Each probe
    /// counts at most that many, so probing costs no more than the plan it might pick.
    fn choose_driver(&self, tx: &Connection, did: i64, wanted: usize) -> Result<Option<Sql>> {
        let exploited = self.exploited_by_walk();
        let mut candidates: Vec<Candidate> =
            candidate_drivers(self.criteria, self.paths, did).into_iter().filter(|c| !exploited.contains(&c.over)).collect();
        // Two-column candidates first: one that is not selective proves its columns are not.
        candidates.sort_by_key(|c| !c.is_pair());
        if candidates.is_empty() {
            return Ok(None);
        }
        let total: i64 = tx
            .prepare_cached("SELECT finding_count FROM detectors WHERE did = ?1")
            .map_err(backend)?
            .query_row([did], |r| r.get(0))
            .map_err(backend)?;
        let break_even = ((wanted as f64 * total as f64) / 2.0).sqrt().ceil() as i64;
        let mut best: Option<(i64, Sql)> = None;
        let mut unselective: Vec<&'static str> = Vec::new();
        for candidate in candidates {
            if unselective.contains(&candidate.over) {
                continue;
            }
            let cap = best.as_ref().map_or(break_even, |(count, _)| *count);
            let mut probe = Sql::default();
            probe.push("SELECT COUNT(*) FROM (");
            probe.append(&candidate.sql);
            probe.push(" LIMIT ");
            probe.bind(Value::Integer(cap));
            probe.push(")");
            let count: i64 =
                tx.prepare_cached(&probe.text).map_err(backend)?.query_row(params_from_iter(probe.params.iter()), |r| r.get(0)).map_err(backend)?;
            if count < cap {
                best = Some((count, candidate.sql));
                if count == 0 {
                    break;
                }
            } else if count >= break_even
                && let Some((pinned, ranged)) = pair_columns(candidate.over)
            {
                unselective.extend([pinned, ranged]);
            }
        }
        Ok(best.map(|(_, sql)| sql))
    }

    fn segment_sql(&self, did: i64, segment: usize, limit: usize, driver: Option<&Sql>) -> Sql {
        let with_values = self.segment_has_values(segment);
        let mut sql = Sql::default();
        let expr: &str = match (driver, self.sort_place) {
            (Some(driver), _) => {
                sql.push(&format!("SELECT f.id, {} FROM (", self.expr));
                sql.append(driver);
                sql.push(") m CROSS JOIN findings f ON f.fid = m.fid WHERE f.did = ");
                &self.expr
            }
            (None, Place::Side(path_id)) if with_values => {
                // The side index holds the values in order (one row per finding: a scalar).
                sql.push(&format!(
                    "SELECT f.id, s.v FROM finding_attrs s INDEXED BY finding_attrs_by_value \
                     CROSS JOIN findings f ON f.fid = s.fid WHERE s.path_id = {path_id} AND f.did = "
                ));
                "s.v"
            }
            (None, Place::Side(path_id)) => {
                sql.push(&format!(
                    "SELECT f.id, NULL FROM findings f INDEXED BY findings_by_id WHERE NOT EXISTS \
                     (SELECT 1 FROM finding_attrs a WHERE a.fid = f.fid AND a.path_id = {path_id}) AND f.did = "
                ));
                "NULL"
            }
            (None, Place::Column(_)) => {
                sql.push(&format!("SELECT f.id, {} FROM findings f ", self.expr));
                match self.sort_index {
                    Some(index) => sql.push(&format!("INDEXED BY {index} WHERE f.did = ")),
                    // No index holds this order and none narrows the findings: read the table
                    // in storage order (sequential) rather than through the id index (random).
                    None if candidate_drivers(self.criteria, self.paths, did).is_empty() => sql.push("WHERE +f.did = "),
                    None => sql.push("WHERE f.did = "),
                }
                &self.expr
            }
        };
        sql.bind(Value::Integer(did));
        compile_criteria(self.criteria, self.paths, &mut sql);
        let resume = self.cursor.as_ref().filter(|_| segment == self.first_segment);
        if with_values {
            let (dir, value_after) = if self.descending { ("DESC", "<") } else { ("ASC", ">") };
            sql.push(&format!(" AND {expr} IS NOT NULL"));
            if let Some(c) = resume {
                let value = c.value.as_ref().map(CursorValue::to_sql).unwrap_or(Value::Null);
                // (v, id) strictly after the cursor, written so that the index serves `v ≥ x`.
                sql.push(&format!(" AND {expr} {value_after}= "));
                sql.bind(value.clone());
                sql.push(&format!(" AND ({expr} {value_after} "));
                sql.bind(value);
                sql.push(" OR f.id > ");
                sql.bind(Value::Text(c.id.clone()));
                sql.push(")");
            }
            sql.push(&format!(" ORDER BY {expr} {dir}, f.id"));
        } else {
            if expr != "NULL" {
                sql.push(&format!(" AND {expr} IS NULL"));
            }
            if let Some(c) = resume {
                sql.push(" AND f.id > ");
                sql.bind(Value::Text(c.id.clone()));
            }
            sql.push(" ORDER BY f.id");
        }
        sql.push(" LIMIT ");
        sql.bind(Value::Integer(limit as i64));
        sql
    }

    /// Every statement of the listing, as they run.
    fn run(&self, tx: &Connection, did: i64, wanted: usize) -> Result<Vec<(String, Value)>> {
        let driver = self.choose_driver(tx, did, wanted)?;
        let mut rows = Vec::with_capacity(wanted);
        for segment in self.first_segment..2 {
            let sql = self.segment_sql(did, segment, wanted - rows.len(), driver.as_ref());
            let mut stmt = tx.prepare_cached(&sql.text).map_err(backend)?;
            let found = stmt.query_map(params_from_iter(sql.params.iter()), |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            for row in found {
                rows.push(row.map_err(backend)?);
            }
            if rows.len() >= wanted {
                break;
            }
        }
        Ok(rows)
    }
}

impl SqliteStore {
    /// SQLite's plan for each statement a ListFindings call would run (diagnostics, benchmarks).
    pub fn explain_list_findings(
        &self,
        detector_id: &str,
        criteria: &Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Vec<String>> {
        let listing = Listing::new(self, detector_id, criteria, sort, max_results, next_token)?;
        self.read(|tx| {
            let did = detector_key(tx, detector_id)?.ok_or(StoreError::NotFound(Resource::Detector))?;
            let mut plans = Vec::new();
            let driver = listing.choose_driver(tx, did, max_results + 1)?;
            for segment in listing.first_segment..2 {
                let sql = listing.segment_sql(did, segment, max_results + 1, driver.as_ref());
                let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text)).map_err(backend)?;
                let details = stmt
                    .query_map(params_from_iter(sql.params.iter()), |r| r.get::<_, String>(3))
                    .map_err(backend)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?;
                plans.push(format!("{}\n  {}", sql.text, details.join("\n  ")));
            }
            Ok(plans)
        })
    }
}

impl Store for SqliteStore {
    fn create_detector(&self, scope: &Scope, config: DetectorConfig, tags: BTreeMap<String, String>, client_token: Option<&str>) -> Result<Detector> {
        self.write(|tx| {
            let existing: Option<(String, Option<String>)> = tx
                .prepare_cached("SELECT id, client_token FROM detectors WHERE account_id = ?1 AND region = ?2")
                .map_err(backend)?
                .query_row(params![scope.account_id, scope.region], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(backend)?;
            if let Some((id, token)) = existing {
                // A retried create (same client token) gets the detector it created.
                if client_token.is_some() && token.as_deref() == client_token {
                    return load_detector(tx, scope, &id)?.ok_or(StoreError::NotFound(Resource::Detector));
                }
                return Err(StoreError::AlreadyExists(Resource::Detector));
            }
            let id = ids::new_random_id();
            let now = time::now_ms();
            let stored = serde_json::to_string(&StoredConfig::from(&config)).map_err(json_error)?;
            tx.prepare_cached(
                "INSERT INTO detectors (id, account_id, region, created_at_ms, updated_at_ms, config, client_token)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            )
            .map_err(backend)?
            .execute(params![id, scope.account_id, scope.region, now, stored, client_token])
            .map_err(backend)?;
            put_tags(tx, &scope.detector_arn(&id), &tags)?;
            Ok(Detector { id, scope: scope.clone(), created_at_ms: now, updated_at_ms: now, config, tags })
        })
    }

    fn get_detector(&self, scope: &Scope, detector_id: &str) -> Result<Detector> {
        self.read(|tx| load_detector(tx, scope, detector_id)?.ok_or(StoreError::NotFound(Resource::Detector)))
    }

    fn list_detectors(&self, scope: &Scope, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        if max_results == 0 {
            return Err(StoreError::Invalid("maxResults must be at least 1".into()));
        }
        let query = format!("detectors\n{}\n{}", scope.account_id, scope.region);
        let after = next_token.map(|t| Cursor::decode(t, &query)).transpose()?.map(|c| c.id);
        let mut ids: Vec<String> = self.read(|tx| {
            let mut stmt = tx
                .prepare_cached("SELECT id FROM detectors WHERE account_id = ?1 AND region = ?2 AND id > ?3 ORDER BY id LIMIT ?4")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![scope.account_id, scope.region, after.as_deref().unwrap_or(""), max_results as i64 + 1], |r| r.get(0))
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })?;
        let next_token = (ids.len() > max_results).then(|| {
            ids.truncate(max_results);
            Cursor { query, value: None, id: ids[max_results - 1].clone() }.encode()
        });
        Ok(Page { items: ids, next_token })
    }

    fn update_detector(&self, scope: &Scope, detector_id: &str, config: DetectorConfig) -> Result<()> {
        let stored = serde_json::to_string(&StoredConfig::from(&config)).map_err(json_error)?;
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE detectors SET config = ?1, updated_at_ms = ?2 WHERE id = ?3 AND account_id = ?4 AND region = ?5")
                .map_err(backend)?
                .execute(params![stored, time::now_ms(), detector_id, scope.account_id, scope.region])
                .map_err(backend)?;
            if changed == 0 { Err(StoreError::NotFound(Resource::Detector)) } else { Ok(()) }
        })
    }

    fn delete_detector(&self, scope: &Scope, detector_id: &str) -> Result<()> {
        self.write(|tx| {
            let did: i64 = tx
                .prepare_cached("SELECT did FROM detectors WHERE id = ?1 AND account_id = ?2 AND region = ?3")
                .map_err(backend)?
                .query_row(params![detector_id, scope.account_id, scope.region], |r| r.get(0))
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Resource::Detector))?;
            // Side rows first by key range: cheaper than one cascade per finding.
            tx.execute("DELETE FROM finding_attrs WHERE fid IN (SELECT fid FROM findings WHERE did = ?1)", [did]).map_err(backend)?;
            tx.execute("DELETE FROM finding_bodies WHERE fid IN (SELECT fid FROM findings WHERE did = ?1)", [did]).map_err(backend)?;
            tx.execute("DELETE FROM findings WHERE did = ?1", [did]).map_err(backend)?;
            lists::on_delete_detector(tx, did, detector_id)?;
            filters::on_delete_detector(tx, did, detector_id)?;
            export::on_delete_detector(tx, did, detector_id)?;
            destinations::on_delete_detector(tx, did, detector_id)?;
            state::on_delete_detector(tx, did, detector_id)?;
            tx.execute("DELETE FROM detectors WHERE did = ?1", [did]).map_err(backend)?;
            // Tags of the detector and of everything under it (`<detector arn>/…`).
            let arn = scope.detector_arn(detector_id);
            tx.execute("DELETE FROM tags WHERE arn = ?1 OR (arn > ?2 AND arn < ?3)", params![arn, format!("{arn}/"), format!("{arn}0")])
                .map_err(backend)?;
            Ok(())
        })
    }

    fn detector_for(&self, scope: &Scope) -> Result<Option<Detector>> {
        self.read(|tx| scope_detector(tx, scope))
    }

    fn tag_resource(&self, _scope: &Scope, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.write(|tx| put_tags(tx, arn, tags))
    }

    fn untag_resource(&self, _scope: &Scope, arn: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM tags WHERE arn = ?1 AND key = ?2").map_err(backend)?;
            for key in keys {
                stmt.execute(params![arn, key]).map_err(backend)?;
            }
            Ok(())
        })
    }

    fn list_tags(&self, _scope: &Scope, arn: &str) -> Result<BTreeMap<String, String>> {
        self.read(|tx| tags_of(tx, arn))
    }

    fn commit(&self, commit: &Commit<'_>) -> Result<UpsertStats> {
        let Commit { occurrences, progress, state } = *commit;
        let paths = &self.paths;
        let groups = vedette_domain::commit::group_by_finding(occurrences).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = time::now_ms();
        self.write(|tx| {
            // First, while holding the write lock: a refused write has nothing to undo.
            check_progress_expected(tx, progress)?;
            let mut stats = UpsertStats::default();
            let mut detectors: HashMap<&str, Option<i64>> = HashMap::new();
            let mut lookup = tx
                .prepare_cached(
                    "SELECT f.fid, b.body, f.updated_at_ms FROM findings f JOIN finding_bodies b USING (fid)
                     WHERE f.did = ?1 AND f.id = ?2",
                )
                .map_err(backend)?;
            let mut created_in: HashMap<i64, i64> = HashMap::new();
            for group in &groups {
                let first = group[0];
                let did = match detectors.get(first.detector_id.as_str()) {
                    Some(did) => *did,
                    None => {
                        let did = detector_key(tx, &first.detector_id)?;
                        detectors.insert(&first.detector_id, did);
                        did
                    }
                };
                // The detector was deleted meanwhile: its findings are discarded with it.
                let Some(did) = did else { continue };
                let existing: Option<(i64, String, Option<i64>)> =
                    lookup.query_row(params![did, first.finding_id()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional().map_err(backend)?;
                let (fid, stored) = match existing {
                    Some((fid, body, updated_at_ms)) => (Some(fid), Some(Stored { finding: read_finding(&body)?, updated_at_ms })),
                    None => (None, None),
                };
                let rules = filters::archive_rules(&self.suppression, tx, did)?;
                let resolution = vedette_domain::commit::resolve(stored, group, now, |f| rules.iter().any(|c| c.matches(f)));
                let fid = match resolution.change {
                    Change::Updated => fid,
                    Change::Created => None,
                    Change::Replaced => {
                        if let Some(old) = fid {
                            delete_finding(tx, did, old)?;
                        }
                        None
                    }
                };
                stats.created += resolution.created;
                stats.updated += resolution.updated;
                if resolution.change.is_new() {
                    *created_in.entry(did).or_default() += 1;
                }
                let fid = store_finding(tx, did, fid, &resolution.finding, paths)?;
                export::record(tx, did, fid, resolution.export)?;
            }
            state::write(tx, state)?;
            let mut count = tx.prepare_cached("UPDATE detectors SET finding_count = finding_count + ?1 WHERE did = ?2").map_err(backend)?;
            for (did, created) in created_in {
                count.execute(params![created, did]).map_err(backend)?;
            }
            for p in progress {
                let counters = serde_json::to_string(&p.counters).map_err(json_error)?;
                tx.prepare_cached(
                    "INSERT INTO progress (source_key, position, complete, counters) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (source_key) DO UPDATE SET position = excluded.position,
                         complete = excluded.complete, counters = excluded.counters",
                )
                .map_err(backend)?
                .execute(params![p.source_key, p.position as i64, p.complete, counters])
                .map_err(backend)?;
            }
            Ok(stats)
        })
    }

    fn progress(&self, source_key: &str) -> Result<Option<Progress>> {
        self.read(|tx| {
            let row: Option<(i64, bool, String)> = tx
                .prepare_cached("SELECT position, complete, counters FROM progress WHERE source_key = ?1")
                .map_err(backend)?
                .query_row([source_key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(backend)?;
            row.map(|(position, complete, counters)| {
                Ok(Progress {
                    source_key: source_key.to_string(),
                    position: position as u64,
                    complete,
                    counters: serde_json::from_str(&counters).map_err(json_error)?,
                    expected_position: None,
                })
            })
            .transpose()
        })
    }

    fn find_finding(&self, finding_id: &str) -> Result<Option<(String, model::Finding)>> {
        let row: Option<(String, String)> = self.read(|tx| {
            // One index probe per detector (there are few), not a scan of all findings.
            tx.prepare_cached(
                "SELECT d.id, b.body FROM detectors d JOIN findings f ON f.did = d.did AND f.id = ?1
                 JOIN finding_bodies b ON b.fid = f.fid LIMIT 1",
            )
            .map_err(backend)?
            .query_row([finding_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)
        })?;
        row.map(|(detector_id, body)| Ok((detector_id, read_finding(&body)?))).transpose()
    }

    fn list_findings(
        &self,
        detector_id: &str,
        criteria: &Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>> {
        let listing = Listing::new(self, detector_id, criteria, sort, max_results, next_token)?;
        let wanted = max_results + 1;
        let mut rows: Vec<(String, Value)> = self.read(|tx| match detector_key(tx, detector_id)? {
            Some(did) => listing.run(tx, did, wanted),
            None => Ok(Vec::new()),
        })?;
        let next_token = if rows.len() > max_results {
            rows.truncate(max_results);
            let (id, value) = rows.last().cloned().expect("max_results > 0");
            Some(Cursor { query: listing.query, value: CursorValue::from_sql(value), id }.encode())
        } else {
            None
        };
        Ok(Page { items: rows.into_iter().map(|(id, _)| id).collect(), next_token })
    }

    fn get_findings(&self, detector_id: &str, ids: &[String], sort: Option<&Sort>) -> Result<Vec<model::Finding>> {
        let bodies = self.read(|tx| match detector_key(tx, detector_id)? {
            Some(did) => findings_by_id(tx, did, ids),
            None => Ok(HashMap::new()),
        })?;
        let mut seen = std::collections::HashSet::new();
        let mut findings = Vec::with_capacity(bodies.len());
        for id in ids {
            if seen.insert(id.as_str())
                && let Some((_, body)) = bodies.get(id)
            {
                findings.push(read_finding(body)?);
            }
        }
        if let Some(sort) = sort {
            findings.sort_by(|a, b| compare_for_sort(a, b, sort));
        }
        Ok(findings)
    }

    fn set_archived(&self, detector_id: &str, ids: &[String], archived: bool) -> Result<()> {
        // Archiving does not move updatedAt (GuardDuty keeps it).
        update_findings(self, detector_id, ids, |f| f.service.get_or_insert_default().archived = Some(archived), None)
    }

    fn set_feedback(&self, detector_id: &str, ids: &[String], feedback: &str, comments: Option<&str>) -> Result<()> {
        update_findings(
            self,
            detector_id,
            ids,
            |f| f.service.get_or_insert_default().user_feedback = Some(feedback.to_string()),
            Some(("comments", &comments)),
        )
    }

    fn count_by_severity(&self, detector_id: &str, criteria: &Criteria) -> Result<BTreeMap<String, i64>> {
        let paths = &self.paths;
        let rows: Vec<(f64, i64)> = self.read(|tx| {
            let Some(did) = detector_key(tx, detector_id)? else { return Ok(Vec::new()) };
            let mut sql = Sql::default();
            sql.push("SELECT f.severity, COUNT(*) FROM findings f WHERE f.did = ");
            sql.bind(Value::Integer(did));
            compile_criteria(criteria, paths, &mut sql);
            sql.push(" AND f.severity IS NOT NULL GROUP BY f.severity");
            let mut stmt = tx.prepare_cached(&sql.text).map_err(backend)?;
            let rows = stmt.query_map(params_from_iter(sql.params.iter()), |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })?;
        Ok(rows.into_iter().map(|(severity, count)| (severity_key(severity), count)).collect())
    }

    fn group_findings(&self, detector_id: &str, criteria: &Criteria, group_by: GroupBy, descending: bool, max_results: usize) -> Result<Vec<Group>> {
        let paths = &self.paths;
        // (key expression, resource type, account, highest severity) per grouping.
        let (key, resource_type, account, severity) = match group_by {
            GroupBy::Account => ("f.account_id", "NULL", "f.account_id", "NULL"),
            GroupBy::Date => ("date(f.updated_at_ms / 1000.0, 'unixepoch')", "NULL", "NULL", "MAX(f.severity)"),
            GroupBy::FindingType => ("f.type", "NULL", "NULL", "NULL"),
            GroupBy::Resource => ("f.resource_id", "f.resource_type", "f.account_id", "NULL"),
            GroupBy::Severity => ("f.severity", "NULL", "NULL", "f.severity"),
        };
        let group_columns = match group_by {
            GroupBy::Resource => "1, 2, 3",
            _ => "1",
        };
        let order = if descending { "DESC" } else { "ASC" };
        self.read(|tx| {
            let Some(did) = detector_key(tx, detector_id)? else { return Ok(Vec::new()) };
            let mut sql = Sql::default();
            sql.push(&format!(
                "SELECT {key}, {resource_type}, {account}, COUNT(*), MAX(f.updated_at_ms), {severity} \
                 FROM findings f WHERE f.did = "
            ));
            sql.bind(Value::Integer(did));
            compile_criteria(criteria, paths, &mut sql);
            sql.push(&format!(" AND {key} IS NOT NULL GROUP BY {group_columns} ORDER BY 4 {order}, 1, 2, 3 LIMIT "));
            sql.bind(Value::Integer(max_results as i64));
            let mut stmt = tx.prepare_cached(&sql.text).map_err(backend)?;
            let rows = stmt
                .query_map(params_from_iter(sql.params.iter()), |r| {
                    let key = match r.get::<_, Value>(0)? {
                        Value::Real(x) => severity_key(x),
                        Value::Integer(i) => severity_key(i as f64),
                        Value::Text(s) => s,
                        Value::Null | Value::Blob(_) => String::new(),
                    };
                    Ok(Group {
                        key,
                        resource_type: r.get(1)?,
                        account_id: r.get(2)?,
                        total: r.get(3)?,
                        last_generated_ms: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                        severity: r.get(5)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })
    }

    fn expire_findings(&self, updated_before_ms: i64, max: usize) -> Result<u64> {
        self.write(|tx| {
            // Per detector, oldest first along findings_by_updated: a range scan, not a table scan.
            let dids: Vec<i64> = {
                let mut stmt = tx.prepare_cached("SELECT did FROM detectors").map_err(backend)?;
                stmt.query_map([], |r| r.get(0)).map_err(backend)?.collect::<rusqlite::Result<_>>().map_err(backend)?
            };
            let mut expired = 0u64;
            for did in dids {
                let room = max.saturating_sub(expired as usize);
                if room == 0 {
                    break;
                }
                let fids: Vec<i64> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT fid FROM findings WHERE did = ?1 AND updated_at_ms < ?2
                             ORDER BY updated_at_ms LIMIT ?3",
                        )
                        .map_err(backend)?;
                    stmt.query_map(params![did, updated_before_ms, room as i64], |r| r.get(0))
                        .map_err(backend)?
                        .collect::<rusqlite::Result<_>>()
                        .map_err(backend)?
                };
                for fid in fids {
                    delete_finding(tx, did, fid)?;
                    expired += 1;
                }
            }
            Ok(expired)
        })
    }

    fn reset(&self) -> Result<()> {
        // attr_paths stays: its rows are immutable and other processes may hold the mapping.
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM finding_attrs; DELETE FROM finding_bodies; DELETE FROM findings; DELETE FROM tags; DELETE FROM detectors; DELETE FROM progress;",
            )
            .map_err(backend)?;
            lists::on_reset(tx)?;
            filters::on_reset(tx)?;
            export::on_reset(tx)?;
            destinations::on_reset(tx)?;
            state::on_reset(tx)
        })
    }
}

/// A severity as GuardDuty prints it in statistics: a double, `8.0`, `5.5`.
fn severity_key(severity: f64) -> String {
    format!("{severity:?}")
}
