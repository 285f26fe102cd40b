//! GuardDuty's REST-JSON protocol over HTTP: routing, SigV4, AWS error shapes.
//!
//! [`app`] builds the router (every route of `vedette_model::OPERATIONS`), [`run`] serves it on
//! a listener until a shutdown future resolves. Layers, outermost first: request id + accounting
//! of rejected requests, panic → 500, body limit + authentication, then the operation.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::catch_panic::CatchPanicLayer;
use vedette_service::Service;
use vedette_store::Store;
use vedette_supervisor::Supervisor;

pub mod auth;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod rest;
pub mod server;
pub mod sigv4;

pub use auth::{AuthConfig, AuthMode, Caller, Credential, Credentials};
pub use error::ApiError;
pub use server::{DEFAULT_BODY_LIMIT, ServerLimits};

pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// Wipe-all endpoints, routed only under `--auth any` (moto's path is the alias test suites know).
pub const RESET_PATHS: [&str; 2] = ["/_vedette/reset", "/moto-api/reset"];

/// Request counters (read them for metrics or tests).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl Metrics {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Requests answered with a 4xx.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Requests answered with a 5xx.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// GuardDuty's operations; every API request ends there.
    service: Service,
    auth: AuthConfig,
    limits: ServerLimits,
    metrics: Metrics,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, auth: AuthConfig) -> Self {
        Self::with_body_limit(store, auth, DEFAULT_BODY_LIMIT)
    }

    pub fn with_body_limit(store: Arc<dyn Store>, auth: AuthConfig, body_limit: usize) -> Self {
        Self::with_limits(store, auth, ServerLimits { max_body_bytes: body_limit, ..ServerLimits::default() })
    }

    pub fn with_limits(store: Arc<dyn Store>, auth: AuthConfig, limits: ServerLimits) -> Self {
        let service = Service::new(store, Arc::new(vedette_remote::Remote::disabled()), Supervisor::new());
        AppState { inner: Arc::new(Inner { service, auth, limits, metrics: Metrics::default() }) }
    }

    /// Sets the client for list locations (default: every location refused). Call it before
    /// the state is cloned (before serving).
    pub fn with_remote(mut self, remote: vedette_remote::Remote) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("with_remote is called before the state is shared");
        inner.service = Service::new(inner.service.store_handle().clone(), Arc::new(remote), inner.service.supervisor().clone());
        self
    }

    /// Runs the service's background work (list transitions) under `supervisor`. Call it before
    /// the state is cloned (before serving).
    pub fn with_supervisor(mut self, supervisor: Supervisor) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("with_supervisor is called before the state is shared");
        inner.service = Service::new(inner.service.store_handle().clone(), inner.service.remote().clone(), supervisor);
        self
    }

    pub fn remote(&self) -> &Arc<vedette_remote::Remote> {
        self.inner.service.remote()
    }

    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    pub fn limits(&self) -> &ServerLimits {
        &self.inner.limits
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.service.store_handle()
    }

    pub fn auth(&self) -> &AuthConfig {
        &self.inner.auth
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

/// The GuardDuty API as an axum router.
pub fn app(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for op in vedette_model::OPERATIONS {
        let Some(filter) = method_filter(op.method) else { continue };
        let handler = move |State(state): State<AppState>, req: Request| ops::handle(op, state, req);
        match by_path.iter_mut().find(|(p, _)| *p == op.request_uri) {
            Some((_, mr)) => *mr = std::mem::take(mr).on(filter, handler),
            None => by_path.push((op.request_uri, MethodRouter::new().on(filter, handler).fallback(unknown_operation))),
        }
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(path, mr);
    }
    if state.auth().is_any() {
        for path in RESET_PATHS {
            router = router.route(path, MethodRouter::new().post(reset).fallback(unknown_operation));
        }
    }
    let api = router
        .fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), request_accounting))
        .with_state(state.clone());
    // /metrics and /health: outside the API's layers (no SigV4), see [`metrics`].
    metrics::operator_routes(state).merge(api)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and returns. The
/// connection limits are the state's [`ServerLimits`] (see [`server`]).
pub async fn run(listener: tokio::net::TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let limits = state.limits().clone();
    server::serve(listener, app(state), limits, shutdown).await
}

fn method_filter(method: &str) -> Option<MethodFilter> {
    Some(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        "PATCH" => MethodFilter::PATCH,
        _ => return None,
    })
}

async fn unknown_operation() -> ApiError {
    ApiError::unknown_operation()
}

async fn reset(State(state): State<AppState>) -> Response {
    match state.service().reset_everything().await {
        Ok(()) => {
            tracing::info!("all state wiped (reset endpoint)");
            rest::empty(axum::http::StatusCode::OK)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %message, "handler panicked");
    ApiError::internal().into_response()
}

/// A UUID-shaped random id (8-4-4-4-12 hex), like GuardDuty's.
pub fn new_request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Gives every response an `x-amzn-RequestId`, and counts and logs every rejected request.
async fn request_accounting(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = new_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let operation = metrics::operation_of(&req);
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    metrics::record_request(operation, response.status(), started.elapsed());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let metrics = state.metrics();
    metrics.requests.fetch_add(1, Ordering::Relaxed);
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let info = response.extensions().get::<error::ErrorInfo>();
        let code = info.map_or("-", |i| i.code);
        let message = info.map_or("", |i| i.message.as_str());
        if status.is_server_error() {
            metrics.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%request_id, %method, %path, status = status.as_u16(), code, message, "request failed");
        } else {
            metrics.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%request_id, %method, %path, status = status.as_u16(), code, message, "request rejected");
        }
    } else {
        tracing::debug!(%request_id, %method, %path, status = status.as_u16(), "request served");
    }
    response
}

/// The raw request body, read once (it is signed) and handed to the operation.
#[derive(Clone, Debug)]
pub struct RequestBody(pub Bytes);

/// 408 for a body that did not arrive within the body timeout, and the connection closes (the
/// rest of the body is never read). SDKs retry `RequestTimeoutException`.
fn body_read_timed_out(timeout: std::time::Duration) -> Response {
    let message = format!("The request is rejected because the request body was not received within {} seconds.", timeout.as_secs_f64());
    let mut response =
        ApiError::new(axum::http::StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException", "RequestTimeoutException", message).into_response();
    response.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads the body within the limit, then verifies the caller (SigV4, or `--auth any`).
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.inner.limits.max_body_bytes;
    let read_timeout = state.inner.limits.body_read_timeout;
    let (mut parts, body) = req.into_parts();
    let declared = parts.headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::payload_too_large(limit).into_response();
    }
    let read = tokio::time::timeout(read_timeout, Limited::new(body, limit).collect()).await;
    let bytes = match read {
        Err(_elapsed) => return body_read_timed_out(read_timeout),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return ApiError::payload_too_large(limit).into_response(),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "request body could not be read");
            return ApiError::bad_request("The request is rejected because the request body could not be read.").into_response();
        }
    };

    let is_reset = state.auth().is_any() && parts.method == Method::POST && RESET_PATHS.contains(&parts.uri.path());
    if !is_reset {
        let headers: Vec<(&str, &[u8])> = parts.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        let signed = auth::SignedRequest {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query(),
            headers: &headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
            body: &bytes,
        };
        match auth::authenticate(state.auth(), &signed, chrono::Utc::now()) {
            Ok(caller) => {
                parts.extensions.insert(caller);
            }
            Err(e) => return e.into_response(),
        }
    }
    parts.extensions.insert(RequestBody(bytes));
    next.run(Request::from_parts(parts, Body::empty())).await
}
