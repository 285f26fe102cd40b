//! `TestStore` forwards every store call to the handle it holds, so that tests pass it where a
//! `&dyn Store` or an `S: Store` is wanted. (A `&TestStore` does not coerce to `&dyn Store`
//! through `Deref`: the compiler only tries the unsizing coercion.)
use std::collections::BTreeMap;

use vedette_domain::criteria::{Criteria, Sort};
use vedette_domain::{Detector, DetectorConfig, Scope, model};
use vedette_store::destinations::{Destination, DestinationProperties, DestinationStore};
use vedette_store::export::{ExportStore, OutboxBatch, OutboxStats};
use vedette_store::filters::{Filter, FilterStore, FilterUpdate, NewFilter};
use vedette_store::lists::{ActiveList, ActiveListHead, ListKind, ListOutcome, ListRecord, ListStore, ListUpdate, ListWork, NewList};
use vedette_store::state::StateStore;
use vedette_store::{Commit, Group, GroupBy, Page, Progress, Result, Store, UpsertStats};

use super::TestStore;

impl Store for TestStore {
    fn create_detector(&self, scope: &Scope, config: DetectorConfig, tags: BTreeMap<String, String>, client_token: Option<&str>) -> Result<Detector> {
        self.store.create_detector(scope, config, tags, client_token)
    }
    fn get_detector(&self, scope: &Scope, detector_id: &str) -> Result<Detector> {
        self.store.get_detector(scope, detector_id)
    }
    fn list_detectors(&self, scope: &Scope, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.store.list_detectors(scope, max_results, next_token)
    }
    fn update_detector(&self, scope: &Scope, detector_id: &str, config: DetectorConfig) -> Result<()> {
        self.store.update_detector(scope, detector_id, config)
    }
    fn delete_detector(&self, scope: &Scope, detector_id: &str) -> Result<()> {
        self.store.delete_detector(scope, detector_id)
    }
    fn detector_for(&self, scope: &Scope) -> Result<Option<Detector>> {
        self.store.detector_for(scope)
    }
    fn tag_resource(&self, scope: &Scope, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.store.tag_resource(scope, arn, tags)
    }
    fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> Result<()> {
        self.store.untag_resource(scope, arn, keys)
    }
    fn list_tags(&self, scope: &Scope, arn: &str) -> Result<BTreeMap<String, String>> {
        self.store.list_tags(scope, arn)
    }
    fn commit(&self, commit: &Commit<'_>) -> Result<UpsertStats> {
        self.store.commit(commit)
    }
    fn progress(&self, source_key: &str) -> Result<Option<Progress>> {
        self.store.progress(source_key)
    }
    fn find_finding(&self, finding_id: &str) -> Result<Option<(String, model::Finding)>> {
        self.store.find_finding(finding_id)
    }
    fn list_findings(
        &self,
        detector_id: &str,
        criteria: &Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>> {
        self.store.list_findings(detector_id, criteria, sort, max_results, next_token)
    }
    fn get_findings(&self, detector_id: &str, ids: &[String], sort: Option<&Sort>) -> Result<Vec<model::Finding>> {
        self.store.get_findings(detector_id, ids, sort)
    }
    fn set_archived(&self, detector_id: &str, ids: &[String], archived: bool) -> Result<()> {
        self.store.set_archived(detector_id, ids, archived)
    }
    fn set_feedback(&self, detector_id: &str, ids: &[String], feedback: &str, comments: Option<&str>) -> Result<()> {
        self.store.set_feedback(detector_id, ids, feedback, comments)
    }
    fn count_by_severity(&self, detector_id: &str, criteria: &Criteria) -> Result<BTreeMap<String, i64>> {
        self.store.count_by_severity(detector_id, criteria)
    }
    fn group_findings(&self, detector_id: &str, criteria: &Criteria, group_by: GroupBy, descending: bool, max_results: usize) -> Result<Vec<Group>> {
        self.store.group_findings(detector_id, criteria, group_by, descending, max_results)
    }
    fn expire_findings(&self, updated_before_ms: i64, max: usize) -> Result<u64> {
        self.store.expire_findings(updated_before_ms, max)
    }
    fn reset(&self) -> Result<()> {
        self.store.reset()
    }
}

impl ListStore for TestStore {
    fn active_lists(&self, detector_id: &str) -> Result<Vec<ActiveList>> {
        self.store.active_lists(detector_id)
    }
    fn active_list_heads(&self, detector_id: &str) -> Result<Vec<ActiveListHead>> {
        self.store.active_list_heads(detector_id)
    }
    fn create_list(&self, scope: &Scope, detector_id: &str, list: NewList) -> Result<ListRecord> {
        self.store.create_list(scope, detector_id, list)
    }
    fn get_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.store.get_list(scope, detector_id, kind, list_id)
    }
    fn list_lists(&self, scope: &Scope, detector_id: &str, kind: ListKind, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.store.list_lists(scope, detector_id, kind, max_results, next_token)
    }
    fn update_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str, update: ListUpdate) -> Result<ListRecord> {
        self.store.update_list(scope, detector_id, kind, list_id, update)
    }
    fn delete_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.store.delete_list(scope, detector_id, kind, list_id)
    }
    fn pending_list_work(&self) -> Result<Vec<ListWork>> {
        self.store.pending_list_work()
    }
    fn settle_list(&self, list_id: &str, generation: i64, outcome: ListOutcome) -> Result<bool> {
        self.store.settle_list(list_id, generation, outcome)
    }
}

impl FilterStore for TestStore {
    fn create_filter(&self, scope: &Scope, detector_id: &str, filter: NewFilter, client_token: Option<&str>) -> Result<String> {
        self.store.create_filter(scope, detector_id, filter, client_token)
    }
    fn get_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<Filter> {
        self.store.get_filter(scope, detector_id, name)
    }
    fn list_filters(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.store.list_filters(scope, detector_id, max_results, next_token)
    }
    fn update_filter(&self, scope: &Scope, detector_id: &str, name: &str, update: FilterUpdate) -> Result<()> {
        self.store.update_filter(scope, detector_id, name, update)
    }
    fn delete_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<()> {
        self.store.delete_filter(scope, detector_id, name)
    }
}

impl ExportStore for TestStore {
    fn register_consumer(&self, name: &str, detector_id: Option<&str>) -> Result<()> {
        self.store.register_consumer(name, detector_id)
    }
    fn unregister_consumer(&self, name: &str) -> Result<()> {
        self.store.unregister_consumer(name)
    }
    fn consumers(&self) -> Result<Vec<(String, Option<String>)>> {
        self.store.consumers()
    }
    fn outbox_due(&self, consumer: &str, now_ms: i64, limit: usize) -> Result<OutboxBatch> {
        self.store.outbox_due(consumer, now_ms, limit)
    }
    fn outbox_ack(&self, consumer: &str, up_to_seq: i64) -> Result<()> {
        self.store.outbox_ack(consumer, up_to_seq)
    }
    fn outbox_stats(&self) -> Result<OutboxStats> {
        self.store.outbox_stats()
    }
}

impl DestinationStore for TestStore {
    fn create_destination(
        &self,
        scope: &Scope,
        detector_id: &str,
        destination_type: &str,
        properties: &DestinationProperties,
        tags: &BTreeMap<String, String>,
        client_token: Option<&str>,
    ) -> Result<Destination> {
        self.store.create_destination(scope, detector_id, destination_type, properties, tags, client_token)
    }
    fn get_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<Destination> {
        self.store.get_destination(scope, detector_id, destination_id)
    }
    fn list_destinations(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<Destination>> {
        self.store.list_destinations(scope, detector_id, max_results, next_token)
    }
    fn update_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str, properties: &DestinationProperties) -> Result<Destination> {
        self.store.update_destination(scope, detector_id, destination_id, properties)
    }
    fn delete_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<()> {
        self.store.delete_destination(scope, detector_id, destination_id)
    }
    fn all_destinations(&self) -> Result<Vec<Destination>> {
        self.store.all_destinations()
    }
    fn record_publish_outcome(&self, destination_id: &str, generation: i64, ok: bool, at_ms: i64) -> Result<bool> {
        self.store.record_publish_outcome(destination_id, generation, ok, at_ms)
    }
}

impl StateStore for TestStore {
    fn load_state(&self, detector_id: &str, key_prefix: &str) -> Result<Vec<(String, String)>> {
        self.store.load_state(detector_id, key_prefix)
    }
}
