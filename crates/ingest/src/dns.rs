//! Route 53 Resolver query-log records in the pipeline: routed by their `account_id` and `region`;
//! the stateless rules and the heuristics (their state in a [`crate::state::StateCache`]) see each query.
//! The operator's inventory (`--inventory`) fills the instance details of DNS findings as it does
//! flow findings', and names the instance of a query logged without `srcids`.
use vedette_domain::dns::detect::{Query, build_occurrences, query_hits};
use vedette_domain::dns::{DnsContext, DnsHeuristics, QueryLogRecord};

use crate::IngestError;
use crate::analyze::Analyzer;
use crate::router::Router;
use crate::state::Persisted;

impl Analyzer<'_, '_> {
    /// Runs for every enabled detector whatever its configuration: DNS logs are a foundational
    /// source, always analysed by an enabled detector (see `take_flow`).
    pub(crate) fn take_query(
        &mut self,
        position: u64,
        record: &QueryLogRecord<'_>,
        router: &mut Router<'_>,
        source: &str,
    ) -> Result<(), IngestError> {
        // The reader hands over only records with account_id, region, time and name.
        let (account, region) = (record.account_id.as_str(), record.region.as_str());
        let Some(detector_id) = self.route_to(position, account, region, router)? else { return Ok(()) };
        let intel = self.shared.options.dns_intel.clone();
        let inventory = self.shared.options.inventory.clone();
        let ctx =
            DnsContext { detector_id: &detector_id, now_ms: self.shared.now_ms, source, position, intel: &intel, inventory: inventory.as_deref() };
        let Some(query) = Query::resolve(record, ctx.inventory) else { return Ok(()) };
        let mut occurrences = build_occurrences(&query, &ctx, query_hits(&query, &intel));
        // The heuristics key their windows on the query's instance (`srcids`, or the inventory's).
        let store = self.shared.store;
        occurrences.extend(self.shared.dns_state.with(store, &detector_id, DnsHeuristics::PREFIX, |h| h.observe_query(&query, &ctx))?);
        self.mark_dns_dirty(&detector_id);
        self.add_occurrences(occurrences);
        Ok(())
    }
}
