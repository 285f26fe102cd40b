//! Route 53 Resolver query-log records in the pipeline: routed by their `account_id` and `region`;
//! the stateless rules and the heuristics (state in [`crate::flow::NetworkState`]) see each query.
use vedette_domain::dns::detect::build_occurrences;
use vedette_domain::dns::{DnsContext, QueryLogRecord, dns_hits};

use crate::{IngestError, Router, SourceState};

impl SourceState<'_, '_> {
    pub(crate) fn take_query(&mut self, position: u64, record: &QueryLogRecord<'_>, router: &mut Router<'_>, source: &str) -> Result<(), IngestError> {
        // The reader hands over only records with account_id, region, time and name.
        let (account, region) = (record.account_id.as_str(), record.region.as_str());
        let Some(detector_id) = self.route_to(position, account, region, router)? else { return Ok(()) };
        let intel = self.shared.options.dns_intel.clone();
        let ctx = DnsContext { detector_id: &detector_id, now_ms: self.shared.now_ms, source, position, intel: &intel };
        let Some((query, hits)) = dns_hits(record, &intel) else { return Ok(()) };
        let mut occurrences = build_occurrences(&query, &ctx, hits);
        let store = self.shared.store;
        occurrences.extend(self.shared.network_state.with_dns(store, &detector_id, |h| h.observe_query(&query, &ctx))?);
        self.mark_dns_dirty(&detector_id);
        self.add_occurrences(occurrences);
        Ok(())
    }
}
