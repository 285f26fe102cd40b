//! Saved filters in SQLite, and suppression (ARCHIVE filters) applied to findings as they are written.
//!
//! Suppression is judged for every finding `commit` writes, so the parsed ARCHIVE rules are
//! cached per detector in the store. Every change to any filter (here, or by another process on
//! the same database) bumps the one-row `filters_version` counter in the same transaction;
//! `archive_rules` reads the counter and drops the cache when it moved, so no process ever
//! applies stale rules.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use vedette_domain::criteria::{Criteria, parse_criteria};
use vedette_domain::{Scope, model, time};

use super::{Cursor, SqliteStore, backend, json_error, lock, put_tags, tags_of};
use crate::filters::{Filter, FilterAction, FilterStore, FilterUpdate, MAX_FILTERS_PER_DETECTOR, NewFilter, filter_arn};
use crate::{Page, Resource, Result, StoreError};

/// Schema v5 (filters).
pub(super) const MIGRATION: &str = r#"
    -- rank: 1..=n per detector, no gaps (kept so by every write).
    CREATE TABLE filters (
        did            INTEGER NOT NULL REFERENCES detectors (did) ON DELETE CASCADE,
        name           TEXT NOT NULL,
        rank           INTEGER NOT NULL,
        action         TEXT NOT NULL,
        description    TEXT,
        criteria       TEXT NOT NULL,
        client_token   TEXT,
        created_at_ms  INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL,
        version        INTEGER NOT NULL,
        PRIMARY KEY (did, name)
    ) WITHOUT ROWID;
    CREATE INDEX filters_by_rank ON filters (did, rank);

    -- Bumped by every change to any filter: processes caching ARCHIVE rules compare it.
    CREATE TABLE filters_version (
        only_row  INTEGER PRIMARY KEY CHECK (only_row = 1),
        version   INTEGER NOT NULL
    );
    INSERT INTO filters_version (only_row, version) VALUES (1, 0);
"#;

/// Parsed ARCHIVE rules per detector key, valid for one `filters_version`.
#[derive(Default)]
pub(super) struct SuppressionCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    version: Option<i64>,
    rules: HashMap<i64, Arc<[Criteria]>>,
}

fn filters_version(tx: &Connection) -> Result<i64> {
    tx.prepare_cached("SELECT version FROM filters_version WHERE only_row = 1").map_err(backend)?.query_row([], |r| r.get(0)).map_err(backend)
}

fn bump_version(tx: &Connection) -> Result<()> {
    tx.prepare_cached("UPDATE filters_version SET version = version + 1 WHERE only_row = 1").map_err(backend)?.execute([]).map_err(backend)?;
    Ok(())
}

/// The detector's ARCHIVE rules in rank order. A stored criteria document that no longer parses
/// (an attribute this build dropped) is skipped rather than stopping ingest.
fn load_archive_rules(tx: &Connection, did: i64) -> Result<Arc<[Criteria]>> {
    let mut stmt = tx.prepare_cached("SELECT name, criteria FROM filters WHERE did = ?1 AND action = 'ARCHIVE' ORDER BY rank").map_err(backend)?;
    let rows = stmt.query_map([did], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(backend)?;
    let mut rules = Vec::new();
    for row in rows {
        let (name, text) = row.map_err(backend)?;
        let parsed = serde_json::from_str::<model::FindingCriteria>(&text)
            .map_err(|e| e.to_string())
            .and_then(|c| parse_criteria(Some(&c)).map_err(|e| e.to_string()));
        match parsed {
            Ok(criteria) => rules.push(criteria),
            Err(error) => {
                tracing::warn!(filter = %name, %error, "ARCHIVE filter skipped: its criteria no longer parse")
            }
        }
    }
    Ok(rules.into())
}

/// The detector's ARCHIVE filters, parsed once per change of any filter (a version row bumped by
/// every filter write, so that another process's changes are seen at once). The decision to
/// archive is [`vedette_domain::commit::resolve`]'s.
pub(super) fn archive_rules(cache: &SuppressionCache, tx: &Connection, did: i64) -> Result<Arc<[Criteria]>> {
    let version = filters_version(tx)?;
    let mut state = lock(&cache.state);
    if state.version != Some(version) {
        state.rules.clear();
        state.version = Some(version);
    }
    match state.rules.get(&did) {
        Some(rules) => Ok(rules.clone()),
        None => {
            let rules = load_archive_rules(tx, did)?;
            state.rules.insert(did, rules.clone());
            Ok(rules)
        }
    }
}

pub(super) fn on_delete_detector(tx: &Connection, did: i64, _detector_id: &str) -> Result<()> {
    // Tags under the detector's ARN are removed by delete_detector itself.
    tx.execute("DELETE FROM filters WHERE did = ?1", [did]).map_err(backend)?;
    // The detector key may be reused by a later detector: cached rules must not outlive it.
    bump_version(tx)
}

pub(super) fn on_reset(tx: &Connection) -> Result<()> {
    tx.execute("DELETE FROM filters", []).map_err(backend)?;
    bump_version(tx)
}

/// The detector's key if it belongs to `scope`; `NotFound` otherwise.
fn owned_detector(tx: &Connection, scope: &Scope, detector_id: &str) -> Result<i64> {
    tx.prepare_cached("SELECT did FROM detectors WHERE id = ?1 AND account_id = ?2 AND region = ?3")
        .map_err(backend)?
        .query_row(params![detector_id, scope.account_id, scope.region], |r| r.get(0))
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Resource::Detector))
}

fn filter_count(tx: &Connection, did: i64) -> Result<u32> {
    tx.prepare_cached("SELECT COUNT(*) FROM filters WHERE did = ?1").map_err(backend)?.query_row([did], |r| r.get(0)).map_err(backend)
}

fn filter_rank(tx: &Connection, did: i64, name: &str) -> Result<u32> {
    tx.prepare_cached("SELECT rank FROM filters WHERE did = ?1 AND name = ?2")
        .map_err(backend)?
        .query_row(params![did, name], |r| r.get(0))
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Resource::Filter))
}

fn out_of_bounds() -> StoreError {
    StoreError::RankOutOfBounds
}

fn criteria_json(criteria: &model::FindingCriteria) -> Result<String> {
    serde_json::to_string(criteria).map_err(json_error)
}

impl FilterStore for SqliteStore {
    fn create_filter(&self, scope: &Scope, detector_id: &str, filter: NewFilter, client_token: Option<&str>) -> Result<String> {
        let criteria = criteria_json(&filter.criteria)?;
        let now = time::now_ms();
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            if let Some(token) = client_token {
                let earlier: Option<String> = tx
                    .prepare_cached("SELECT name FROM filters WHERE did = ?1 AND client_token = ?2")
                    .map_err(backend)?
                    .query_row(params![did, token], |r| r.get(0))
                    .optional()
                    .map_err(backend)?;
                match earlier {
                    // A retry of a request that succeeded: same answer, nothing new.
                    Some(name) if name == filter.name => return Ok(name),
                    Some(_) => {
                        return Err(StoreError::TokenReused(Resource::Filter));
                    }
                    None => {}
                }
            }
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM filters WHERE did = ?1 AND name = ?2)")
                .map_err(backend)?
                .query_row(params![did, filter.name], |r| r.get(0))
                .map_err(backend)?;
            if exists {
                return Err(StoreError::AlreadyExists(Resource::Filter));
            }
            let count = filter_count(tx, did)?;
            if count as usize >= MAX_FILTERS_PER_DETECTOR {
                return Err(StoreError::QuotaExceeded { resource: Resource::Filter, max: MAX_FILTERS_PER_DETECTOR });
            }
            let rank = filter.rank.unwrap_or(count + 1);
            if rank < 1 || rank > count + 1 {
                return Err(out_of_bounds());
            }
            tx.prepare_cached("UPDATE filters SET rank = rank + 1 WHERE did = ?1 AND rank >= ?2")
                .map_err(backend)?
                .execute(params![did, rank])
                .map_err(backend)?;
            tx.prepare_cached(
                "INSERT INTO filters (did, name, rank, action, description, criteria, client_token, created_at_ms, updated_at_ms, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1)",
            )
            .map_err(backend)?
            .execute(params![did, filter.name, rank, filter.action.as_str(), filter.description, criteria, client_token, now])
            .map_err(backend)?;
            put_tags(tx, &filter_arn(scope, detector_id, &filter.name), &filter.tags)?;
            bump_version(tx)?;
            Ok(filter.name.clone())
        })
    }

    fn get_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<Filter> {
        self.read(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            type Row = (u32, String, Option<String>, String, i64, i64, i64);
            let row: Option<Row> = tx
                .prepare_cached(
                    "SELECT rank, action, description, criteria, created_at_ms, updated_at_ms, version
                     FROM filters WHERE did = ?1 AND name = ?2",
                )
                .map_err(backend)?
                .query_row(params![did, name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
                .optional()
                .map_err(backend)?;
            let Some((rank, action, description, criteria, created_at_ms, updated_at_ms, version)) = row else {
                return Err(StoreError::NotFound(Resource::Filter));
            };
            let action =
                FilterAction::parse(&action).ok_or_else(|| StoreError::Backend(format!("filter {name} has an unknown action {action:?}")))?;
            Ok(Filter {
                name: name.to_string(),
                description,
                action,
                rank,
                criteria: serde_json::from_str(&criteria).map_err(json_error)?,
                tags: tags_of(tx, &filter_arn(scope, detector_id, name))?,
                created_at_ms,
                updated_at_ms,
                version,
            })
        })
    }

    fn list_filters(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        if max_results == 0 {
            return Err(StoreError::Invalid("maxResults must be at least 1".into()));
        }
        let query = format!("filters\n{}\n{}\n{detector_id}", scope.account_id, scope.region);
        let after = next_token.map(|t| Cursor::decode(t, &query)).transpose()?.map(|c| c.id);
        let mut names: Vec<String> = self.read(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let mut stmt = tx.prepare_cached("SELECT name FROM filters WHERE did = ?1 AND name > ?2 ORDER BY name LIMIT ?3").map_err(backend)?;
            let rows = stmt.query_map(params![did, after.as_deref().unwrap_or(""), max_results as i64 + 1], |r| r.get(0)).map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })?;
        let next_token = (names.len() > max_results).then(|| {
            names.truncate(max_results);
            Cursor { query, value: None, id: names[max_results - 1].clone() }.encode()
        });
        Ok(Page { items: names, next_token })
    }

    fn update_filter(&self, scope: &Scope, detector_id: &str, name: &str, update: FilterUpdate) -> Result<()> {
        let criteria = update.criteria.as_ref().map(criteria_json).transpose()?;
        let now = time::now_ms();
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let old_rank = filter_rank(tx, did, name)?;
            if let Some(rank) = update.rank {
                let count = filter_count(tx, did)?;
                if rank < 1 || rank > count {
                    return Err(out_of_bounds());
                }
                // Move: the filters between the old and the new place shift one towards the gap.
                if rank < old_rank {
                    tx.prepare_cached("UPDATE filters SET rank = rank + 1 WHERE did = ?1 AND rank >= ?2 AND rank < ?3")
                        .map_err(backend)?
                        .execute(params![did, rank, old_rank])
                        .map_err(backend)?;
                } else if rank > old_rank {
                    tx.prepare_cached("UPDATE filters SET rank = rank - 1 WHERE did = ?1 AND rank > ?2 AND rank <= ?3")
                        .map_err(backend)?
                        .execute(params![did, old_rank, rank])
                        .map_err(backend)?;
                }
            }
            tx.prepare_cached(
                "UPDATE filters SET rank = ?3, action = COALESCE(?4, action), description = COALESCE(?5, description),
                     criteria = COALESCE(?6, criteria), updated_at_ms = ?7, version = version + 1
                 WHERE did = ?1 AND name = ?2",
            )
            .map_err(backend)?
            .execute(params![did, name, update.rank.unwrap_or(old_rank), update.action.map(FilterAction::as_str), update.description, criteria, now])
            .map_err(backend)?;
            bump_version(tx)
        })
    }

    fn delete_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<()> {
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let rank = filter_rank(tx, did, name)?;
            tx.prepare_cached("DELETE FROM filters WHERE did = ?1 AND name = ?2").map_err(backend)?.execute(params![did, name]).map_err(backend)?;
            tx.prepare_cached("UPDATE filters SET rank = rank - 1 WHERE did = ?1 AND rank > ?2")
                .map_err(backend)?
                .execute(params![did, rank])
                .map_err(backend)?;
            tx.prepare_cached("DELETE FROM tags WHERE arn = ?1")
                .map_err(backend)?
                .execute([filter_arn(scope, detector_id, name)])
                .map_err(backend)?;
            bump_version(tx)
        })
    }
}
