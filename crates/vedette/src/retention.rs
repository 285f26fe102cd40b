//! Finding retention for `serve`: GuardDuty deletes a finding 90 days after its last update.
//! A task sweeps the store at start and then every hour, in bounded batches so a sweep never
//! holds the write lock for long; a finding updated again in time is never touched.
use std::sync::Arc;
use std::time::Duration;

use vedette_domain::aggregate::FINDING_RETENTION_MS;
use vedette_store::Store;
use vedette_supervisor::CancellationToken;

/// Time between sweeps: expiry is by the day, an hour late is immaterial.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
/// Findings deleted per write transaction.
const BATCH: usize = 2_000;

/// Metric: findings deleted by retention.
pub const EXPIRED_TOTAL: &str = "vedette_findings_expired_total";

/// Deletes every finding past retention at `now_ms`; returns how many. Stops between batches
/// once `stop` is cancelled (the rest goes at the next sweep).
pub fn sweep(store: &dyn Store, now_ms: i64, stop: &CancellationToken) -> Result<u64, vedette_store::StoreError> {
    let mut total = 0;
    loop {
        let n = store.expire_findings(now_ms - FINDING_RETENTION_MS, BATCH)?;
        total += n;
        if n < BATCH as u64 || stop.is_cancelled() {
            return Ok(total);
        }
    }
}

/// Sweeps now and every [`SWEEP_INTERVAL`] until `stop` is cancelled.
pub async fn run(store: Arc<dyn Store>, stop: CancellationToken) {
    loop {
        let swept = {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::task::spawn_blocking(move || sweep(store.as_ref(), vedette_domain::time::now_ms(), &stop)).await
        };
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                metrics::counter!(EXPIRED_TOTAL).increment(n);
                tracing::info!(findings = n, "deleted findings past the 90-day retention");
            }
            // Retried at the next sweep: nothing is lost by waiting.
            Ok(Err(e)) => tracing::warn!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep panicked"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}
