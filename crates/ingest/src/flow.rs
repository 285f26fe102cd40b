//! VPC flow-log records in the pipeline, and the flow / DNS detection state of each detector.
//!
//! Routing: a flow record goes to the detector of its `account-id` and Region. The Region is the
//! record's own v4+ `region` field when the layout has one, else the Region of the object's S3
//! delivery key (`AWSLogs/<account>/vpcflowlogs/<region>/…`), else [`IngestOptions::flow_region`]
//! (`--flow-region`): v2/v3 records do not say where they were logged, and guessing would route
//! them to a detector of the wrong Region. A record with none of these is a bad record.
//!
//! State: brute-force counts, scan fan-out and probe lists ([`FlowState`]) and the DNS heuristics'
//! windows ([`DnsHeuristics`]) are kept per detector in a [`crate::state::StateCache`] each, and written back
//! with the commits of the records that changed them: a day of logs as one file or many, or
//! across a restart, meets the same state.
//!
//! [`IngestOptions::flow_region`]: crate::IngestOptions::flow_region
use std::sync::Arc;

use vedette_domain::Scope;
use vedette_domain::detect::Intel;
use vedette_domain::flow::{self, FlowContext, FlowRecord, FlowState};

use crate::IngestError;
use crate::analyze::Analyzer;
use crate::router::Router;
use crate::state::{Persisted, mark};

impl Analyzer<'_, '_> {
    /// Runs for every enabled detector whatever its configuration: flow logs are one of GuardDuty's
    /// foundational sources, which an enabled detector always analyses (UpdateDetector's
    /// `DataSources` and `Features` cannot name FLOW_LOGS, DNS_LOGS or CLOUD_TRAIL; GetDetector
    /// reports them ENABLED), so there is no setting to honour.
    pub(crate) fn take_flow(&mut self, position: u64, record: &FlowRecord<'_>, router: &mut Router<'_>, source: &str) -> Result<(), IngestError> {
        let Some(account) = record.account_id else {
            self.bad(position, || "not a usable flow-log record: no account-id".into());
            return Ok(());
        };
        let region = record.region.or(self.delivery_region).or(self.shared.options.flow_region.as_deref());
        let Some(region) = region else {
            self.bad(position, || {
                "flow-log record without a Region: no v4 region field, no AWSLogs/<account>/vpcflowlogs/<region>/ path and no --flow-region".into()
            });
            return Ok(());
        };
        let Some(detector_id) = self.route_to(position, account, region, router)? else { return Ok(()) };
        let store = self.shared.store;
        let intel = &self.shared.options.intel;
        let lists = self.detectors.lists(store, intel, &detector_id)?.clone();
        let scope = Scope::new(account, region);
        let ctx = FlowContext {
            detector_id: &detector_id,
            scope: &scope,
            now_ms: self.shared.now_ms,
            source,
            position,
            intel: Intel { operator: &intel.operator, lists: &lists },
            inventory: self.shared.options.inventory.as_deref(),
        };
        let occurrences = self.shared.flow_state.with(store, &detector_id, FlowState::PREFIX, |state| flow::detect(record, &ctx, state))?;
        mark(&mut self.network_dirty.flow, &detector_id);
        self.add_occurrences(occurrences);
        Ok(())
    }

    pub(crate) fn mark_dns_dirty(&mut self, detector: &Arc<str>) {
        mark(&mut self.network_dirty.dns, detector);
    }
}
