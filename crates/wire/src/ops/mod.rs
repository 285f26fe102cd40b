//! One module per operation group. Each operation is an async fn taking an [`OpContext`]
//! (the caller, URI labels, query, raw body) and answering a response or an [`ApiError`].
use std::future::Future;
use std::pin::Pin;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vedette_domain::{Detector, Scope, ids};
use vedette_model::OperationSpec;
use vedette_store::{Store, StoreError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, RequestBody, rest};

pub mod destinations;
pub mod detectors;
pub mod filters;
pub mod findings;
pub mod lists;
pub mod samples;
pub mod statistics;
pub mod tags;

type OpFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
type OpFn = fn(OpContext) -> OpFuture;

/// The operations this server implements; the rest of the model's routes answer
/// [`ApiError::unsupported_operation`].
fn implementation(name: &str) -> Option<OpFn> {
    Some(match name {
        "CreateDetector" => |c| Box::pin(detectors::create(c)),
        "GetDetector" => |c| Box::pin(detectors::get(c)),
        "ListDetectors" => |c| Box::pin(detectors::list(c)),
        "UpdateDetector" => |c| Box::pin(detectors::update(c)),
        "DeleteDetector" => |c| Box::pin(detectors::delete(c)),
        "ListFindings" => |c| Box::pin(findings::list(c)),
        "GetFindings" => |c| Box::pin(findings::get(c)),
        "ArchiveFindings" => |c| Box::pin(findings::archive(c)),
        "UnarchiveFindings" => |c| Box::pin(findings::unarchive(c)),
        "UpdateFindingsFeedback" => |c| Box::pin(findings::feedback(c)),
        "CreateSampleFindings" => |c| Box::pin(samples::create(c)),
        "GetFindingsStatistics" => |c| Box::pin(statistics::get(c)),
        "CreateFilter" => |c| Box::pin(filters::create(c)),
        "GetFilter" => |c| Box::pin(filters::get(c)),
        "ListFilters" => |c| Box::pin(filters::list(c)),
        "UpdateFilter" => |c| Box::pin(filters::update(c)),
        "DeleteFilter" => |c| Box::pin(filters::delete(c)),
        "CreatePublishingDestination" => |c| Box::pin(destinations::create(c)),
        "DescribePublishingDestination" => |c| Box::pin(destinations::describe(c)),
        "ListPublishingDestinations" => |c| Box::pin(destinations::list(c)),
        "UpdatePublishingDestination" => |c| Box::pin(destinations::update(c)),
        "DeletePublishingDestination" => |c| Box::pin(destinations::delete(c)),
        "CreateIPSet" => |c| Box::pin(lists::create_ip_set(c)),
        "GetIPSet" => |c| Box::pin(lists::get_ip_set(c)),
        "ListIPSets" => |c| Box::pin(lists::list_ip_sets(c)),
        "UpdateIPSet" => |c| Box::pin(lists::update_ip_set(c)),
        "DeleteIPSet" => |c| Box::pin(lists::delete_ip_set(c)),
        "CreateThreatIntelSet" => |c| Box::pin(lists::create_threat_intel_set(c)),
        "GetThreatIntelSet" => |c| Box::pin(lists::get_threat_intel_set(c)),
        "ListThreatIntelSets" => |c| Box::pin(lists::list_threat_intel_sets(c)),
        "UpdateThreatIntelSet" => |c| Box::pin(lists::update_threat_intel_set(c)),
        "DeleteThreatIntelSet" => |c| Box::pin(lists::delete_threat_intel_set(c)),
        "TagResource" => |c| Box::pin(tags::tag(c)),
        "UntagResource" => |c| Box::pin(tags::untag(c)),
        "ListTagsForResource" => |c| Box::pin(tags::list(c)),
        _ => return None,
    })
}

/// Whether `name` (a model operation) is served.
pub fn is_implemented(name: &str) -> bool {
    implementation(name).is_some()
}

pub(crate) async fn handle(op: &'static OperationSpec, state: AppState, req: Request) -> Response {
    let result = async {
        let ctx = OpContext::from_request(op, state, req)?;
        match implementation(op.name) {
            Some(f) => f(ctx).await,
            None => Err(ApiError::unsupported_operation(op.name)),
        }
    };
    match result.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

pub struct OpContext {
    pub state: AppState,
    pub op: &'static OperationSpec,
    pub caller: Caller,
    pub labels: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl OpContext {
    fn from_request(op: &'static OperationSpec, state: AppState, req: Request) -> Result<Self, ApiError> {
        let (parts, _) = req.into_parts();
        // Both are put there by the authentication layer; their absence is a server bug.
        let caller = parts.extensions.get::<Caller>().cloned().ok_or_else(ApiError::internal)?;
        let body = parts.extensions.get::<RequestBody>().map(|b| b.0.clone()).unwrap_or_default();
        let labels = rest::path_labels(op.request_uri, parts.uri.path())?;
        let query = rest::parse_query(parts.uri.query())?;
        Ok(OpContext { state, op, caller, labels, query, body })
    }

    pub fn scope(&self) -> &Scope {
        &self.caller.scope
    }

    pub fn label(&self, name: &str) -> Option<String> {
        self.labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    /// Runs a store call on the blocking pool (the store does synchronous I/O).
    pub async fn store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> vedette_store::Result<T> + Send + 'static,
    {
        self.store_raw(f).await.map_err(ApiError::from)
    }

    /// As [`Self::store`], keeping the store's error for callers that word it themselves.
    pub async fn store_raw<T, F>(&self, f: F) -> vedette_store::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> vedette_store::Result<T> + Send + 'static,
    {
        let store = self.state.store().clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Backend(format!("store call panicked or was cancelled: {e}"))),
        }
    }

    /// The caller's detector `detector_id`; unknown and foreign detectors are the same 400.
    pub async fn owned_detector(&self, detector_id: &str) -> Result<Detector, ApiError> {
        if !ids::is_well_formed_id(detector_id) {
            return Err(ApiError::invalid_parameter("detectorId"));
        }
        let scope = self.scope().clone();
        let id = detector_id.to_string();
        self.store(move |s| s.get_detector(&scope, &id)).await
    }
}
