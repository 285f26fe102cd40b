//! The operator surface beside the API: `GET /metrics` (Prometheus text format) and
//! `GET /health`. Both are routed before authentication: they are meant for the operator's
//! scraper and probes on the (loopback by default) listener, and reveal no finding data.
//!
//! Metrics go through the `metrics` facade to one process-wide Prometheus recorder
//! ([`prometheus`]); anything in the process (the export pumps, serve's watcher) records there.
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use vedette_domain::time;

use crate::AppState;

/// Metric names (Prometheus).
pub mod names {
    /// Counter, labels `operation` (GuardDuty operation name, `Reset`, or `unknown`), `status`.
    pub const REQUESTS: &str = "vedette_http_requests_total";
    /// Histogram, label `operation`.
    pub const REQUEST_DURATION: &str = "vedette_http_request_duration_seconds";
    /// Gauges: outbox rows (queued events + pending updates), and each part.
    pub const OUTBOX_DEPTH: &str = "vedette_outbox_depth";
    pub const OUTBOX_QUEUED: &str = "vedette_outbox_queued_events";
    pub const OUTBOX_PENDING: &str = "vedette_outbox_pending_updates";
    /// Gauge: seconds since the oldest event not yet delivered everywhere became due (0: none).
    pub const EXPORT_LAG: &str = "vedette_export_lag_seconds";
    /// Gauges, label `consumer`: events waiting for it, and the age of its oldest.
    pub const CONSUMER_BACKLOG: &str = "vedette_export_consumer_backlog_events";
    pub const CONSUMER_LAG: &str = "vedette_export_consumer_lag_seconds";
    /// Gauge: 1 when the store answered the last scrape, else 0.
    pub const STORE_UP: &str = "vedette_store_up";
    /// Gauge (1), label `version`.
    pub const BUILD_INFO: &str = "vedette_build_info";
}

/// Histogram buckets (seconds) for every `*_seconds` histogram: API latencies are sub-ms to
/// seconds, export lags seconds to hours (publishing frequency up to six hours).
const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0];

/// The process-wide recorder's handle, installing the recorder on first use. If another
/// recorder was installed first (a test harness), metrics go there and this renders nothing.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed: /metrics shows only what reaches this one");
        }
        metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Histograms keep raw samples until drained: drain them even when nobody scrapes.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("vedette-metrics".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// `GET /metrics` and `GET /health`, unauthenticated.
pub(crate) fn operator_routes(state: AppState) -> Router {
    Router::new().route("/metrics", get(render)).route("/health", get(health)).with_state(state)
}

async fn render(State(state): State<AppState>) -> Response {
    let handle = prometheus();
    let store = state.store().clone();
    // Outbox figures are read at scrape time: exact whichever process fed the outbox.
    match tokio::task::spawn_blocking(move || store.outbox_stats()).await {
        Ok(Ok(stats)) => {
            let now = time::now_ms();
            let age = |due: Option<i64>| due.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
            metrics::gauge!(names::OUTBOX_DEPTH).set(stats.depth() as f64);
            metrics::gauge!(names::OUTBOX_QUEUED).set(stats.queued as f64);
            metrics::gauge!(names::OUTBOX_PENDING).set(stats.pending_updates as f64);
            metrics::gauge!(names::EXPORT_LAG).set(age(stats.oldest_due_ms));
            for c in &stats.consumers {
                metrics::gauge!(names::CONSUMER_BACKLOG, "consumer" => c.name.clone()).set(c.backlog as f64);
                metrics::gauge!(names::CONSUMER_LAG, "consumer" => c.name.clone()).set(age(c.oldest_due_ms));
            }
            metrics::gauge!(names::STORE_UP).set(1.0);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "/metrics: cannot read the outbox");
            metrics::gauge!(names::STORE_UP).set(0.0);
        }
        Err(_) => metrics::gauge!(names::STORE_UP).set(0.0),
    }
    let mut response = handle.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    store: String,
}

/// 200 `{"status":"ok","version":…,"store":"reachable"}`, or 503 with the store's error.
async fn health(State(state): State<AppState>) -> Response {
    let store = state.store().clone();
    // A read that touches the database (a progress lookup of a key nobody uses).
    let probe = tokio::task::spawn_blocking(move || store.progress("")).await;
    let (code, status, store) = match probe {
        Ok(Ok(_)) => (StatusCode::OK, "ok", "reachable".to_string()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("unreachable: {e}")),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("unreachable: {e}")),
    };
    (code, axum::Json(Health { status, version: env!("CARGO_PKG_VERSION"), store })).into_response()
}

/// The operation a request was routed to: the model's name for the route and method, `Reset`,
/// or `unknown` (no route or method).
pub(crate) fn operation_of(req: &Request) -> &'static str {
    static BY_ROUTE: OnceLock<HashMap<(&'static str, &'static str), &'static str>> = OnceLock::new();
    let Some(path) = req.extensions().get::<MatchedPath>() else { return "unknown" };
    if crate::RESET_PATHS.contains(&path.as_str()) {
        return "Reset";
    }
    let by_route = BY_ROUTE.get_or_init(|| vedette_model::OPERATIONS.iter().map(|op| ((op.method, op.request_uri), op.name)).collect());
    by_route.get(&(req.method().as_str(), path.as_str())).copied().unwrap_or("unknown")
}

/// Counts a request and its latency.
pub(crate) fn record_request(operation: &'static str, status: StatusCode, elapsed: Duration) {
    prometheus();
    metrics::counter!(names::REQUESTS, "operation" => operation, "status" => status.as_u16().to_string()).increment(1);
    metrics::histogram!(names::REQUEST_DURATION, "operation" => operation).record(elapsed.as_secs_f64());
}
