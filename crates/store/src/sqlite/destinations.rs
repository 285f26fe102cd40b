//! Publishing destinations in SQLite.
use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use vedette_domain::{Scope, ids, time};

use super::query::Cursor;
use super::{SqliteStore, backend, put_tags, tags_of};
use crate::destinations::{Destination, DestinationProperties, DestinationStore, PublishingStatus, destination_arn};
use crate::{Page, Resource, Result, StoreError};

/// Schema v7 (publishing destinations). One row per destination; at most one per detector and
/// type (GuardDuty's limit). Tags live in the shared `tags` table under the destination's ARN.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE publishing_destinations (
        id                     TEXT PRIMARY KEY,
        did                    INTEGER NOT NULL REFERENCES detectors (did) ON DELETE CASCADE,
        destination_type       TEXT NOT NULL,
        destination_arn        TEXT NOT NULL,
        kms_key_arn            TEXT NOT NULL,
        expected_bucket_owner  TEXT,
        status                 TEXT NOT NULL,
        failure_started_ms     INTEGER,
        generation             INTEGER NOT NULL,
        client_token           TEXT,
        created_at_ms          INTEGER NOT NULL,
        updated_at_ms          INTEGER NOT NULL,
        UNIQUE (did, destination_type)
    );
"#;

/// Called inside `delete_detector`'s transaction (tags under the detector ARN go with it).
pub(super) fn on_delete_detector(tx: &Connection, did: i64, _detector_id: &str) -> Result<()> {
    tx.execute("DELETE FROM publishing_destinations WHERE did = ?1", [did]).map_err(backend)?;
    Ok(())
}

pub(super) fn on_reset(tx: &Connection) -> Result<()> {
    tx.execute("DELETE FROM publishing_destinations", []).map_err(backend)?;
    Ok(())
}

const COLUMNS: &str = "p.id, d.id, d.account_id, d.region, d.config, p.destination_type, p.destination_arn, p.kms_key_arn, \
     p.expected_bucket_owner, p.status, p.failure_started_ms, p.generation, p.created_at_ms, p.updated_at_ms";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Destination> {
    let config: String = r.get(4)?;
    let status: String = r.get(9)?;
    Ok(Destination {
        id: r.get(0)?,
        detector_id: r.get(1)?,
        scope: Scope::new(r.get::<_, String>(2)?, r.get::<_, String>(3)?),
        detector_enabled: detector_enabled(&config),
        destination_type: r.get(5)?,
        properties: DestinationProperties { destination_arn: r.get(6)?, kms_key_arn: r.get(7)?, expected_bucket_owner: r.get(8)? },
        // Rows are written only by this module, with `as_str` values.
        status: PublishingStatus::parse(&status).unwrap_or(PublishingStatus::PendingVerification),
        failure_started_ms: r.get(10)?,
        generation: r.get(11)?,
        created_at_ms: r.get(12)?,
        updated_at_ms: r.get(13)?,
        tags: BTreeMap::new(),
    })
}

/// `enabled` from the stored detector configuration JSON; unreadable counts as enabled (the
/// detector module owns the format and fails loudly on it elsewhere).
fn detector_enabled(config: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Enabled {
        enabled: bool,
    }
    serde_json::from_str::<Enabled>(config).map(|c| c.enabled).unwrap_or(true)
}

/// The scope's detector key, or `NotFound` (unknown and foreign detectors alike).
fn owned_detector(tx: &Connection, scope: &Scope, detector_id: &str) -> Result<i64> {
    tx.prepare_cached("SELECT did FROM detectors WHERE id = ?1 AND account_id = ?2 AND region = ?3")
        .map_err(backend)?
        .query_row(params![detector_id, scope.account_id, scope.region], |r| r.get(0))
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Resource::Detector))
}

fn load(tx: &Connection, did: i64, destination_id: &str) -> Result<Option<Destination>> {
    let found = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM publishing_destinations p JOIN detectors d ON d.did = p.did WHERE p.did = ?1 AND p.id = ?2"))
        .map_err(backend)?
        .query_row(params![did, destination_id], from_row)
        .optional()
        .map_err(backend)?;
    let Some(mut destination) = found else { return Ok(None) };
    destination.tags = tags_of(tx, &destination.arn())?;
    Ok(Some(destination))
}

fn unknown_destination() -> StoreError {
    StoreError::NotFound(Resource::PublishingDestination)
}

impl DestinationStore for SqliteStore {
    fn create_destination(
        &self,
        scope: &Scope,
        detector_id: &str,
        destination_type: &str,
        properties: &DestinationProperties,
        tags: &BTreeMap<String, String>,
        client_token: Option<&str>,
    ) -> Result<Destination> {
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let existing: Option<(String, Option<String>)> = tx
                .prepare_cached("SELECT id, client_token FROM publishing_destinations WHERE did = ?1 AND destination_type = ?2")
                .map_err(backend)?
                .query_row(params![did, destination_type], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(backend)?;
            if let Some((id, token)) = existing {
                if client_token.is_some() && token.as_deref() == client_token {
                    return load(tx, did, &id)?.ok_or_else(unknown_destination);
                }
                return Err(StoreError::AlreadyExists(Resource::PublishingDestination));
            }
            let id = ids::new_random_id();
            let now = time::now_ms();
            tx.prepare_cached(
                "INSERT INTO publishing_destinations (id, did, destination_type, destination_arn, kms_key_arn,
                     expected_bucket_owner, status, failure_started_ms, generation, client_token, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 1, ?8, ?9, ?9)",
            )
            .map_err(backend)?
            .execute(params![
                id,
                did,
                destination_type,
                properties.destination_arn,
                properties.kms_key_arn,
                properties.expected_bucket_owner,
                PublishingStatus::PendingVerification.as_str(),
                client_token,
                now
            ])
            .map_err(backend)?;
            put_tags(tx, &destination_arn(scope, detector_id, &id), tags)?;
            load(tx, did, &id)?.ok_or_else(|| StoreError::Backend("inserted destination not found".into()))
        })
    }

    fn get_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<Destination> {
        self.read(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            load(tx, did, destination_id)?.ok_or_else(unknown_destination)
        })
    }

    fn list_destinations(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<Destination>> {
        if max_results == 0 {
            return Err(StoreError::Invalid("maxResults must be at least 1".into()));
        }
        let query = format!("publishing_destinations\n{detector_id}");
        let after = next_token.map(|t| Cursor::decode(t, &query)).transpose()?.map(|c| c.id);
        let mut page: Vec<Destination> = self.read(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM publishing_destinations p JOIN detectors d ON d.did = p.did
                     WHERE p.did = ?1 AND p.id > ?2 ORDER BY p.id LIMIT ?3"
                ))
                .map_err(backend)?;
            let rows = stmt.query_map(params![did, after.as_deref().unwrap_or(""), max_results as i64 + 1], from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })?;
        let next_token = (page.len() > max_results).then(|| {
            page.truncate(max_results);
            Cursor { query, value: None, id: page[max_results - 1].id.clone() }.encode()
        });
        Ok(Page { items: page, next_token })
    }

    fn update_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str, properties: &DestinationProperties) -> Result<Destination> {
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let changed = tx
                .prepare_cached(
                    "UPDATE publishing_destinations
                     SET destination_arn = ?3, kms_key_arn = ?4, expected_bucket_owner = ?5, status = ?6,
                         failure_started_ms = NULL, generation = generation + 1, updated_at_ms = ?7
                     WHERE did = ?1 AND id = ?2",
                )
                .map_err(backend)?
                .execute(params![
                    did,
                    destination_id,
                    properties.destination_arn,
                    properties.kms_key_arn,
                    properties.expected_bucket_owner,
                    PublishingStatus::PendingVerification.as_str(),
                    time::now_ms()
                ])
                .map_err(backend)?;
            if changed == 0 {
                return Err(unknown_destination());
            }
            load(tx, did, destination_id)?.ok_or_else(unknown_destination)
        })
    }

    fn delete_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<()> {
        self.write(|tx| {
            let did = owned_detector(tx, scope, detector_id)?;
            let deleted =
                tx.execute("DELETE FROM publishing_destinations WHERE did = ?1 AND id = ?2", params![did, destination_id]).map_err(backend)?;
            if deleted == 0 {
                return Err(unknown_destination());
            }
            tx.execute("DELETE FROM tags WHERE arn = ?1", [destination_arn(scope, detector_id, destination_id)]).map_err(backend)?;
            Ok(())
        })
    }

    fn all_destinations(&self) -> Result<Vec<Destination>> {
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM publishing_destinations p JOIN detectors d ON d.did = p.did ORDER BY p.id"))
                .map_err(backend)?;
            let rows = stmt.query_map([], from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })
    }

    fn record_publish_outcome(&self, destination_id: &str, generation: i64, ok: bool, at_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let changed = if ok {
                tx.prepare_cached(
                    "UPDATE publishing_destinations SET status = ?3, failure_started_ms = NULL
                     WHERE id = ?1 AND generation = ?2",
                )
                .map_err(backend)?
                .execute(params![destination_id, generation, PublishingStatus::Publishing.as_str()])
            } else {
                tx.prepare_cached(
                    "UPDATE publishing_destinations SET status = ?3, failure_started_ms = COALESCE(failure_started_ms, ?4)
                     WHERE id = ?1 AND generation = ?2",
                )
                .map_err(backend)?
                .execute(params![destination_id, generation, PublishingStatus::UnableToPublish.as_str(), at_ms])
            }
            .map_err(backend)?;
            Ok(changed > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use vedette_domain::DetectorConfig;

    fn props(arn: &str) -> DestinationProperties {
        DestinationProperties {
            destination_arn: arn.into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            expected_bucket_owner: None,
        }
    }

    fn setup() -> (tempfile::TempDir, SqliteStore, Scope, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let scope = Scope::new("111122223333", "us-east-1");
        let detector = store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), None).unwrap();
        (dir, store, scope, detector.id)
    }

    #[test]
    fn one_s3_destination_per_detector_and_retried_creates_get_the_same() {
        let (_dir, store, scope, did) = setup();
        let tags = BTreeMap::from([("team".to_string(), "sec".to_string())]);
        let d = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::b"), &tags, Some("tok")).unwrap();
        assert_eq!(d.status, PublishingStatus::PendingVerification);
        assert_eq!(d.tags, tags);
        let again = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::other"), &BTreeMap::new(), Some("tok")).unwrap();
        assert_eq!(again.id, d.id);
        assert_eq!(again.properties.destination_arn, "arn:aws:s3:::b");
        for token in [None, Some("other")] {
            let err = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::c"), &BTreeMap::new(), token).unwrap_err();
            assert!(matches!(err, StoreError::AlreadyExists(Resource::PublishingDestination)), "{err:?}");
        }
    }

    #[test]
    fn foreign_detectors_and_unknown_destinations_are_told_apart() {
        let (_dir, store, scope, did) = setup();
        let d = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
        let stranger = Scope::new("999999999999", "us-east-1");
        assert!(matches!(store.get_destination(&stranger, &did, &d.id), Err(StoreError::NotFound(Resource::Detector))));
        assert!(matches!(store.delete_destination(&stranger, &did, &d.id), Err(StoreError::NotFound(Resource::Detector))));
        let unknown = store.get_destination(&scope, &did, "0123456789abcdef0123456789abcdef").unwrap_err();
        assert!(matches!(unknown, StoreError::NotFound(Resource::PublishingDestination)));
        store.delete_destination(&scope, &did, &d.id).unwrap();
        assert!(matches!(store.delete_destination(&scope, &did, &d.id), Err(StoreError::NotFound(Resource::PublishingDestination))));
        assert!(store.list_tags(&scope, &d.arn()).unwrap().is_empty());
    }

    #[test]
    fn outcomes_keep_the_first_failure_and_stale_generations_are_ignored() {
        let (_dir, store, scope, did) = setup();
        let d = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
        assert!(store.record_publish_outcome(&d.id, d.generation, false, 1_000).unwrap());
        assert!(store.record_publish_outcome(&d.id, d.generation, false, 2_000).unwrap());
        let failing = store.get_destination(&scope, &did, &d.id).unwrap();
        assert_eq!((failing.status, failing.failure_started_ms), (PublishingStatus::UnableToPublish, Some(1_000)));
        assert!(store.record_publish_outcome(&d.id, d.generation, true, 3_000).unwrap());
        let fine = store.get_destination(&scope, &did, &d.id).unwrap();
        assert_eq!((fine.status, fine.failure_started_ms), (PublishingStatus::Publishing, None));

        let updated = store.update_destination(&scope, &did, &d.id, &props("arn:aws:s3:::new/prefix")).unwrap();
        assert_eq!(updated.generation, d.generation + 1);
        assert_eq!(updated.status, PublishingStatus::PendingVerification);
        // An outcome learnt for the old bucket says nothing about the new one.
        assert!(!store.record_publish_outcome(&d.id, d.generation, false, 4_000).unwrap());
        assert_eq!(store.get_destination(&scope, &did, &d.id).unwrap().status, PublishingStatus::PendingVerification);
    }

    #[test]
    fn lists_page_by_id_and_detector_deletion_takes_destinations() {
        let (_dir, store, scope, did) = setup();
        let d = store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
        let page = store.list_destinations(&scope, &did, 1, None).unwrap();
        assert_eq!(page.items.iter().map(|x| x.id.clone()).collect::<Vec<_>>(), vec![d.id.clone()]);
        assert_eq!(page.next_token, None);
        assert!(store.list_destinations(&scope, &did, 1, Some("garbage")).is_err());
        assert_eq!(store.all_destinations().unwrap().len(), 1);
        store.delete_detector(&scope, &did).unwrap();
        assert!(store.all_destinations().unwrap().is_empty());
        assert!(store.list_tags(&scope, &d.arn()).unwrap().is_empty());
    }

    #[test]
    fn a_suspended_detector_is_seen_by_its_destinations() {
        let (_dir, store, scope, did) = setup();
        store.create_destination(&scope, &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
        assert!(store.all_destinations().unwrap()[0].detector_enabled);
        let config = DetectorConfig { enabled: false, ..DetectorConfig::default() };
        store.update_detector(&scope, &did, config).unwrap();
        assert!(!store.all_destinations().unwrap()[0].detector_enabled);
    }
}
