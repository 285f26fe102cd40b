//! The store conformance harness and the builders every store test shares.
//!
//! Conformance tests obtain stores only through [`open`] (a fresh, empty database) and [`TestStore::connect`]
//! / [`TestStore::reopen`] (another handle on the same database, as a second process opening it
//! has), so the same tests run against every backend. The backend is chosen here, once, by the
//! `VEDETTE_TEST_STORE` environment variable (default `sqlite`); a new backend implements
//! [`Backend`] and [`Database`] and is named in [`backend_named`].
#![allow(dead_code)]
mod forward;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tempfile::TempDir;
use vedette_domain::model;
use vedette_domain::{DetectorConfig, Evidence, Occurrence, Scope, time};
use vedette_store::{Commit, SqliteStore, Store};

/// The environment variable naming the backend under test.
pub const BACKEND_VARIABLE: &str = "VEDETTE_TEST_STORE";

/// A kind of store the suite runs against. Tests run in parallel, each on its own database: a
/// server backend creates one (a database or schema with a unique name) per call, reading where
/// its server is from its own environment variable, and drops it when the [`Database`] is dropped.
pub trait Backend: Send + Sync {
    /// A fresh, empty database of this backend, private to one test and removed when dropped.
    fn create_database(&self) -> Box<dyn Database>;
}

/// One database of a backend.
pub trait Database: Send + Sync {
    /// A new handle on the database, independent of the others (its own connections and caches),
    /// as another process opening it has: it sees everything the other handles committed.
    fn connect(&self) -> Box<dyn Store>;
}

/// The embedded SQLite store, one temporary data directory per database.
pub struct Sqlite;

struct SqliteDatabase {
    dir: TempDir,
}

impl Backend for Sqlite {
    fn create_database(&self) -> Box<dyn Database> {
        Box::new(SqliteDatabase { dir: tempfile::tempdir().expect("a temporary data directory") })
    }
}

impl Database for SqliteDatabase {
    fn connect(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path()).expect("SQLite store opens"))
    }
}

/// The backends the suite knows, by the name `VEDETTE_TEST_STORE` gives.
pub fn backend_named(name: &str) -> Result<&'static dyn Backend, String> {
    match name {
        "sqlite" => Ok(&Sqlite),
        other => Err(format!("{BACKEND_VARIABLE}={other:?} names no store backend; known: sqlite")),
    }
}

/// The backend under test: `VEDETTE_TEST_STORE`, `sqlite` when unset. An unknown name fails every
/// test rather than quietly testing another backend.
pub fn backend() -> &'static dyn Backend {
    static CHOSEN: OnceLock<Result<&'static dyn Backend, String>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| match std::env::var(BACKEND_VARIABLE) {
        Ok(name) => backend_named(&name),
        Err(std::env::VarError::NotPresent) => backend_named("sqlite"),
        Err(e) => Err(format!("{BACKEND_VARIABLE}: {e}")),
    });
    match chosen {
        Ok(backend) => *backend,
        Err(message) => panic!("{message}"),
    }
}

/// A handle on a test database, itself a [`Store`] (every call goes to the handle). The database
/// lives as long as any of its handles.
pub struct TestStore {
    // Declared first so that it is dropped (closed) before the database is removed.
    store: Box<dyn Store>,
    database: Arc<dyn Database>,
}

impl TestStore {
    /// Another handle on the same database.
    pub fn connect(&self) -> TestStore {
        TestStore { store: self.database.connect(), database: self.database.clone() }
    }

    /// Closes this handle and opens a new one on the same database: what was committed must
    /// survive (a restart).
    pub fn reopen(self) -> TestStore {
        let TestStore { store, database } = self;
        drop(store);
        TestStore { store: database.connect(), database }
    }
}

/// A fresh, empty store of the backend under test.
pub fn open() -> TestStore {
    let database: Arc<dyn Database> = Arc::from(backend().create_database());
    TestStore { store: database.connect(), database }
}

pub fn scope() -> Scope {
    Scope::new("111122223333", "us-east-1")
}

pub fn detector(store: &dyn Store, scope: &Scope) -> String {
    store.create_detector(scope, DetectorConfig::default(), BTreeMap::new(), None).unwrap().id
}

/// A 32-hex finding id made from a number.
pub fn fid(n: u64) -> String {
    format!("{n:032x}")
}

/// An AccessKey finding with the attributes the tests vary.
pub fn finding(detector_id: &str, id: &str, ty: &str, severity: f64, updated_ms: i64) -> model::Finding {
    model::Finding {
        account_id: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        partition: Some("aws".into()),
        schema_version: Some("2.0".into()),
        id: Some(id.into()),
        arn: Some(scope().finding_arn(detector_id, id)),
        r#type: Some(ty.into()),
        severity: Some(severity),
        title: Some(format!("title of {ty}")),
        description: Some("description".into()),
        created_at: Some(time::iso_ms(updated_ms - 1000)),
        updated_at: Some(time::iso_ms(updated_ms)),
        resource: Some(model::Resource {
            resource_type: Some("AccessKey".into()),
            access_key_details: Some(model::AccessKeyDetails {
                access_key_id: Some(format!("AKIA{}", &id[id.len() - 8..])),
                principal_id: Some("AIDAEXAMPLE".into()),
                user_name: Some("alice".into()),
                user_type: Some("IAMUser".into()),
            }),
            ..Default::default()
        }),
        service: Some(model::Service {
            service_name: Some("guardduty".into()),
            detector_id: Some(detector_id.into()),
            archived: Some(false),
            count: Some(1),
            event_first_seen: Some(time::iso_ms(updated_ms - 2000)),
            event_last_seen: Some(time::iso_ms(updated_ms - 1000)),
            resource_role: Some("TARGET".into()),
            action: Some(model::Action {
                action_type: Some("AWS_API_CALL".into()),
                aws_api_call_action: Some(model::AwsApiCallAction {
                    api: Some("ListBuckets".into()),
                    service_name: Some("s3.amazonaws.com".into()),
                    caller_type: Some("Remote IP".into()),
                    error_code: Some("AccessDenied".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn occurrence(detector_id: &str, finding: model::Finding) -> Occurrence {
    let event_time_ms = finding.updated_at.as_deref().and_then(time::parse_iso_ms).unwrap_or(0);
    Occurrence { detector_id: detector_id.into(), finding, event_time_ms, evidence: Evidence::default() }
}

/// Commits the findings as occurrences of the detector, with no progress or state.
pub fn insert(store: &dyn Store, detector_id: &str, findings: Vec<model::Finding>) {
    let occurrences: Vec<Occurrence> = findings.into_iter().map(|f| occurrence(detector_id, f)).collect();
    store.commit(&Commit::occurrences(&occurrences)).unwrap();
}
