//! The pump: one task per `--export` sink that moves due outbox events to the sink, acknowledging
//! only what the sink took (at-least-once). A sink that fails is retried with exponential
//! back-off and jitter, capped; the events wait in the outbox meanwhile (nothing is dropped).
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;
use vedette_domain::time;
use vedette_store::export::OutboxBatch;
use vedette_store::{Store, StoreError};

use crate::event;
use crate::sink::{Outgoing, Sink, SinkSpec};

/// Metric names (Prometheus), shared with the /metrics renderer and tests.
pub mod names {
    /// Counter, label `sink`: events delivered.
    pub const DELIVERED: &str = "vedette_export_events_delivered_total";
    /// Counter, label `sink`: failed delivery attempts (each retry counts).
    pub const FAILED: &str = "vedette_export_delivery_failures_total";
    /// Histogram, label `sink`: seconds from an event being due to its delivery.
    pub const DELIVERY_LAG: &str = "vedette_export_delivery_lag_seconds";
}

#[derive(Debug, Clone)]
pub struct PumpConfig {
    /// How often the outbox is looked at when it had nothing for the sink.
    pub poll: Duration,
    /// Events handed to the sink at once.
    pub batch: usize,
    /// First wait after a failure; doubles per consecutive failure...
    pub initial_backoff: Duration,
    /// ...up to this.
    pub max_backoff: Duration,
}

impl Default for PumpConfig {
    fn default() -> Self {
        PumpConfig { poll: Duration::from_millis(500), batch: 500, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(30) }
    }
}

/// The wait before retry number `failures` (1 = first retry): `initial × 2^(failures-1)`,
/// capped, then "equal jitter": a uniformly random point in its upper half, so that sinks
/// failing together do not retry in lockstep.
pub fn backoff(config: &PumpConfig, failures: u32) -> Duration {
    let exp = config.initial_backoff.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let capped = exp.min(config.max_backoff);
    let half = capped / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

pub struct SinkPump {
    store: Arc<dyn Store>,
    spec: SinkSpec,
    sink: Sink,
    config: PumpConfig,
}

impl SinkPump {
    /// Registers the sink's outbox consumer (keeping its cursor if it exists).
    pub async fn start(store: Arc<dyn Store>, spec: SinkSpec, sink: Sink, config: PumpConfig) -> Result<Self, StoreError> {
        let name = spec.consumer_name();
        blocking(&store, move |s| s.register_consumer(&name, None)).await?;
        Ok(SinkPump { store, spec, sink, config })
    }

    /// Delivers until `stop` is cancelled. A delivery in flight is abandoned then: what it did
    /// not acknowledge is delivered again after the next start.
    pub async fn run(mut self, stop: CancellationToken) {
        tracing::info!(sink = %self.spec, "export: delivering");
        tokio::select! {
            _ = self.deliver_forever() => {}
            _ = stop.cancelled() => {}
        }
        tracing::info!(sink = %self.spec, "export: stopped");
    }

    async fn deliver_forever(&mut self) {
        let name = self.spec.consumer_name();
        let kind = self.spec.kind();
        let mut failures: u32 = 0;
        let mut acked: Option<i64> = None;
        loop {
            let wanted = self.config.batch;
            let consumer = name.clone();
            let batch = match blocking(&self.store, move |s| s.outbox_due(&consumer, time::now_ms(), wanted)).await {
                Ok(batch) => batch,
                Err(StoreError::NotFound(_)) => {
                    // Unregistered under us (a reset): register again and carry on.
                    let consumer = name.clone();
                    if let Err(e) = blocking(&self.store, move |s| s.register_consumer(&consumer, None)).await {
                        tracing::error!(sink = %self.spec, error = %e, "export: cannot register the sink");
                    }
                    tokio::time::sleep(self.config.poll).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(sink = %self.spec, error = %e, "export: cannot read the outbox");
                    tokio::time::sleep(self.config.max_backoff.min(Duration::from_secs(5))).await;
                    continue;
                }
            };
            let OutboxBatch { events, ack_to } = batch;
            let full = events.len() >= wanted;
            let mut outgoing = Vec::with_capacity(events.len());
            for e in &events {
                match event::envelope(e) {
                    Ok(line) => outgoing.push(Outgoing { seq: e.seq, account_id: e.account_id.clone(), region: e.region.clone(), line }),
                    // A stored document that does not parse cannot be sent, now or later.
                    Err(err) => {
                        tracing::error!(sink = %self.spec, finding = %e.finding_id, error = %err, "export: finding skipped: unreadable document")
                    }
                }
            }
            let delivery = self.sink.deliver(&outgoing).await;
            let now = time::now_ms();
            // The events up to the last one the sink took (skipped unreadable ones included).
            let delivered = match delivery.delivered.checked_sub(1).map(|i| outgoing[i].seq) {
                Some(last) => &events[..events.iter().position(|e| e.seq > last).unwrap_or(events.len())],
                None => &events[..0],
            };
            if delivery.delivered > 0 {
                metrics::counter!(names::DELIVERED, "sink" => kind).increment(delivery.delivered as u64);
                let lag = metrics::histogram!(names::DELIVERY_LAG, "sink" => kind);
                for e in delivered {
                    lag.record((now - e.due_ms).max(0) as f64 / 1000.0);
                }
                tracing::debug!(sink = %self.spec, events = delivery.delivered, "export: delivered");
            }
            // Acknowledge what was delivered: everything (and what the batch skipped) on
            // success, else up to the last delivered event.
            let up_to = match &delivery.error {
                None => Some(ack_to),
                Some(_) => delivered.last().map(|e| e.seq),
            };
            if let Some(up_to) = up_to.filter(|u| acked.is_none_or(|a| *u > a)) {
                let consumer = name.clone();
                match blocking(&self.store, move |s| s.outbox_ack(&consumer, up_to)).await {
                    Ok(()) => acked = Some(up_to),
                    Err(e) => {
                        tracing::error!(sink = %self.spec, error = %e, "export: cannot acknowledge (events will be delivered again)")
                    }
                }
            }
            match delivery.error {
                None => {
                    if failures > 0 {
                        tracing::info!(sink = %self.spec, after_failures = failures, "export: sink delivering again");
                    }
                    failures = 0;
                    if !full {
                        tokio::time::sleep(self.config.poll).await;
                    }
                }
                Some(error) => {
                    failures += 1;
                    metrics::counter!(names::FAILED, "sink" => kind).increment(1);
                    let wait = backoff(&self.config, failures);
                    tracing::warn!(sink = %self.spec, %error, attempt = failures, retry_in_ms = wait.as_millis() as u64,
                        waiting = events.len() - delivered.len(), "export: delivery failed; will retry");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Backend(format!("store call panicked or was cancelled: {e}"))),
    }
}

/// Logs the outbox's depth and each consumer's backlog every `every` while something waits
/// (and once when it drains), until `stop` is cancelled.
pub async fn log_outbox(store: Arc<dyn Store>, every: Duration, stop: CancellationToken) {
    let mut was_empty = true;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let stats = match blocking(&store, |s| s.outbox_stats()).await {
            Ok(stats) => stats,
            Err(e) => {
                tracing::warn!(error = %e, "export: cannot read the outbox's size");
                continue;
            }
        };
        let now = time::now_ms();
        let empty = stats.queued == 0;
        if !empty || !was_empty {
            let lag_s = stats.oldest_due_ms.map(|t| (now - t).max(0) / 1000).unwrap_or(0);
            tracing::info!(depth = stats.depth(), queued = stats.queued, pending_updates = stats.pending_updates, lag_s, "export: outbox");
            for c in stats.consumers.iter().filter(|c| c.backlog > 0) {
                let lag_s = c.oldest_due_ms.map(|t| (now - t).max(0) / 1000).unwrap_or(0);
                tracing::info!(consumer = %c.name, backlog = c.backlog, lag_s, "export: consumer behind");
            }
        }
        was_empty = empty;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let config = PumpConfig { initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2), ..Default::default() };
        for _ in 0..50 {
            let first = backoff(&config, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = backoff(&config, 3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = backoff(&config, 40);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2), "{late:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(&config, 5)).collect();
        assert!(spread.len() > 1, "jitter");
    }
}
