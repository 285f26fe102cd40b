//! GuardDuty's operations, one method per operation, with the model's typed inputs and outputs.
//!
//! The service owns what GuardDuty decides: who may touch what (a [`Principal`] and
//! [`Service::owned_detector`]), the rules of each operation (names, criteria, quotas, ARNs),
//! and the background work some operations start (list activation). It knows nothing of HTTP:
//! `vedette-wire` decodes REST-JSON into the inputs and encodes the outputs and
//! [`ServiceError`]s; any other front end calls the same methods.
//!
//! The store is synchronous (see `vedette_store`): every store call runs on the blocking pool
//! through [`Service::store`], so no request holds a runtime thread while the database works.
use std::sync::Arc;

use vedette_domain::{Detector, Scope, ids};
use vedette_model::Validate;
use vedette_store::{Store, StoreError};
use vedette_supervisor::Supervisor;

pub mod destinations;
pub mod detectors;
pub mod error;
pub mod filters;
pub mod findings;
pub mod lists;
pub mod samples;
pub mod statistics;
pub mod tags;

pub use error::{ErrorCode, ServiceError};

pub type Result<T> = std::result::Result<T, ServiceError>;

/// Who is calling: an authenticated account in one Region. Everything a principal may touch
/// is decided from it, in one place ([`Service::owned_detector`] and [`tags`]' ARN check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub scope: Scope,
}

impl Principal {
    pub fn new(scope: Scope) -> Self {
        Principal { scope }
    }
}

/// Page size of every List* operation when the client gives none: the model's maximum for
/// each of them.
pub const DEFAULT_PAGE_SIZE: i32 = 50;

/// GuardDuty's operations over one store.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Reads IPSet / ThreatIntelSet files under the operator's policy.
    remote: Arc<vedette_remote::Remote>,
    /// Runs the background work operations start (list transitions), so that shutdown waits
    /// for it like for every other worker.
    supervisor: Supervisor,
    lists: lists::Activations,
}

impl Service {
    /// A service whose background work runs under `supervisor`.
    pub fn new(store: Arc<dyn Store>, remote: Arc<vedette_remote::Remote>, supervisor: Supervisor) -> Self {
        Service { inner: Arc::new(Inner { store, remote, supervisor, lists: lists::Activations::default() }) }
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.inner.supervisor
    }

    pub fn store_handle(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn remote(&self) -> &Arc<vedette_remote::Remote> {
        &self.inner.remote
    }

    /// Runs a store call on the blocking pool (the store does synchronous I/O).
    pub async fn store<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> vedette_store::Result<T> + Send + 'static,
    {
        self.store_raw(f).await.map_err(ServiceError::from)
    }

    /// As [`Self::store`], keeping the store's error for callers that word it themselves.
    pub async fn store_raw<T, F>(&self, f: F) -> vedette_store::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> vedette_store::Result<T> + Send + 'static,
    {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Backend(format!("store call panicked or was cancelled: {e}"))),
        }
    }

    /// The principal's detector `detector_id`. Unknown detectors and other principals'
    /// detectors get the same answer, so that detector ids cannot be probed.
    pub async fn owned_detector(&self, principal: &Principal, detector_id: &str) -> Result<Detector> {
        if !ids::is_well_formed_id(detector_id) {
            return Err(ServiceError::invalid_parameter("detectorId"));
        }
        let scope = principal.scope.clone();
        let id = detector_id.to_string();
        self.store(move |s| s.get_detector(&scope, &id)).await
    }

    /// Wipes every account's state: the `--auth any` test mode's reset, never reachable with
    /// real authentication.
    pub async fn reset_everything(&self) -> Result<()> {
        self.store(|s| s.reset()).await
    }
}

/// Runs the model's constraints (required, lengths, ranges, enums) on an input.
pub fn validate<T: Validate>(input: &T) -> Result<()> {
    let v = input.violations();
    if v.is_empty() { Ok(()) } else { Err(ServiceError::violations(&v)) }
}

/// A page size from the client's `maxResults`, or the default.
fn page_size(max_results: Option<i32>, default: i32) -> usize {
    max_results.unwrap_or(default).max(1) as usize
}

/// A pagination token as given; an empty one is no token.
fn token(next_token: Option<String>) -> Option<String> {
    next_token.filter(|t| !t.is_empty())
}
