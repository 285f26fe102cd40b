//! A delegating store for tests that must act at a precise moment of another component's use of
//! the store (another writer overtaking an ingest run, a list changing while a file is read):
//! [`Intercepted`] hands every call to a hook, then forwards it to the wrapped store unless the
//! hook failed it (a full disk, say). Being generic over [`Store`], it wraps any backend, and a
//! new trait method is added here once.
use std::collections::BTreeMap;

use vedette_domain::criteria::{Criteria, Sort};
use vedette_domain::{Detector, DetectorConfig, Scope, model};

use crate::destinations::{Destination, DestinationProperties, DestinationStore};
use crate::export::{ExportStore, OutboxBatch, OutboxStats};
use crate::filters::{Filter, FilterStore, FilterUpdate, NewFilter};
use crate::lists::{ActiveList, ActiveListHead, ListKind, ListOutcome, ListRecord, ListStore, ListUpdate, ListWork, NewList};
use crate::state::StateStore;
use crate::{Commit, Group, GroupBy, Page, Progress, Result, Store, UpsertStats};

/// A call as the hook sees it: the calls tests act on carry their arguments, the rest their name.
#[derive(Debug)]
pub enum Call<'a> {
    Commit(&'a Commit<'a>),
    Progress(&'a str),
    ActiveLists(&'a str),
    Other(&'static str),
}

/// A hook run before each call, with the wrapped store at hand; an error is the call's answer.
pub type Hook<S> = Box<dyn Fn(&Call<'_>, &S) -> Result<()> + Send + Sync>;

pub struct Intercepted<S> {
    pub inner: S,
    hook: Hook<S>,
}

impl<S: Store> Intercepted<S> {
    pub fn new(inner: S, hook: impl Fn(&Call<'_>, &S) -> Result<()> + Send + Sync + 'static) -> Self {
        Intercepted { inner, hook: Box::new(hook) }
    }

    fn before(&self, call: Call<'_>) -> Result<()> {
        (self.hook)(&call, &self.inner)
    }
}

impl<S: Store> Store for Intercepted<S> {
    fn create_detector(&self, scope: &Scope, config: DetectorConfig, tags: BTreeMap<String, String>, client_token: Option<&str>) -> Result<Detector> {
        self.before(Call::Other("create_detector"))?;
        self.inner.create_detector(scope, config, tags, client_token)
    }
    fn get_detector(&self, scope: &Scope, detector_id: &str) -> Result<Detector> {
        self.before(Call::Other("get_detector"))?;
        self.inner.get_detector(scope, detector_id)
    }
    fn list_detectors(&self, scope: &Scope, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.before(Call::Other("list_detectors"))?;
        self.inner.list_detectors(scope, max_results, next_token)
    }
    fn update_detector(&self, scope: &Scope, detector_id: &str, config: DetectorConfig) -> Result<()> {
        self.before(Call::Other("update_detector"))?;
        self.inner.update_detector(scope, detector_id, config)
    }
    fn delete_detector(&self, scope: &Scope, detector_id: &str) -> Result<()> {
        self.before(Call::Other("delete_detector"))?;
        self.inner.delete_detector(scope, detector_id)
    }
    fn detector_for(&self, scope: &Scope) -> Result<Option<Detector>> {
        self.before(Call::Other("detector_for"))?;
        self.inner.detector_for(scope)
    }
    fn tag_resource(&self, scope: &Scope, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.before(Call::Other("tag_resource"))?;
        self.inner.tag_resource(scope, arn, tags)
    }
    fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> Result<()> {
        self.before(Call::Other("untag_resource"))?;
        self.inner.untag_resource(scope, arn, keys)
    }
    fn list_tags(&self, scope: &Scope, arn: &str) -> Result<BTreeMap<String, String>> {
        self.before(Call::Other("list_tags"))?;
        self.inner.list_tags(scope, arn)
    }
    fn commit(&self, commit: &Commit<'_>) -> Result<UpsertStats> {
        self.before(Call::Commit(commit))?;
        self.inner.commit(commit)
    }
    fn progress(&self, source_key: &str) -> Result<Option<Progress>> {
        self.before(Call::Progress(source_key))?;
        self.inner.progress(source_key)
    }
    fn find_finding(&self, finding_id: &str) -> Result<Option<(String, model::Finding)>> {
        self.before(Call::Other("find_finding"))?;
        self.inner.find_finding(finding_id)
    }
    fn list_findings(
        &self,
        detector_id: &str,
        criteria: &Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>> {
        self.before(Call::Other("list_findings"))?;
        self.inner.list_findings(detector_id, criteria, sort, max_results, next_token)
    }
    fn get_findings(&self, detector_id: &str, ids: &[String], sort: Option<&Sort>) -> Result<Vec<model::Finding>> {
        self.before(Call::Other("get_findings"))?;
        self.inner.get_findings(detector_id, ids, sort)
    }
    fn set_archived(&self, detector_id: &str, ids: &[String], archived: bool) -> Result<()> {
        self.before(Call::Other("set_archived"))?;
        self.inner.set_archived(detector_id, ids, archived)
    }
    fn set_feedback(&self, detector_id: &str, ids: &[String], feedback: &str, comments: Option<&str>) -> Result<()> {
        self.before(Call::Other("set_feedback"))?;
        self.inner.set_feedback(detector_id, ids, feedback, comments)
    }
    fn count_by_severity(&self, detector_id: &str, criteria: &Criteria) -> Result<BTreeMap<String, i64>> {
        self.before(Call::Other("count_by_severity"))?;
        self.inner.count_by_severity(detector_id, criteria)
    }
    fn group_findings(&self, detector_id: &str, criteria: &Criteria, group_by: GroupBy, descending: bool, max_results: usize) -> Result<Vec<Group>> {
        self.before(Call::Other("group_findings"))?;
        self.inner.group_findings(detector_id, criteria, group_by, descending, max_results)
    }
    fn expire_findings(&self, updated_before_ms: i64, max: usize) -> Result<u64> {
        self.before(Call::Other("expire_findings"))?;
        self.inner.expire_findings(updated_before_ms, max)
    }
    fn reset(&self) -> Result<()> {
        self.before(Call::Other("reset"))?;
        self.inner.reset()
    }
}

impl<S: Store> ListStore for Intercepted<S> {
    fn active_lists(&self, detector_id: &str) -> Result<Vec<ActiveList>> {
        self.before(Call::ActiveLists(detector_id))?;
        self.inner.active_lists(detector_id)
    }
    fn active_list_heads(&self, detector_id: &str) -> Result<Vec<ActiveListHead>> {
        self.before(Call::ActiveLists(detector_id))?;
        self.inner.active_list_heads(detector_id)
    }
    fn create_list(&self, scope: &Scope, detector_id: &str, list: NewList) -> Result<ListRecord> {
        self.before(Call::Other("create_list"))?;
        self.inner.create_list(scope, detector_id, list)
    }
    fn get_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.before(Call::Other("get_list"))?;
        self.inner.get_list(scope, detector_id, kind, list_id)
    }
    fn list_lists(&self, scope: &Scope, detector_id: &str, kind: ListKind, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.before(Call::Other("list_lists"))?;
        self.inner.list_lists(scope, detector_id, kind, max_results, next_token)
    }
    fn update_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str, update: ListUpdate) -> Result<ListRecord> {
        self.before(Call::Other("update_list"))?;
        self.inner.update_list(scope, detector_id, kind, list_id, update)
    }
    fn delete_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord> {
        self.before(Call::Other("delete_list"))?;
        self.inner.delete_list(scope, detector_id, kind, list_id)
    }
    fn pending_list_work(&self) -> Result<Vec<ListWork>> {
        self.before(Call::Other("pending_list_work"))?;
        self.inner.pending_list_work()
    }
    fn settle_list(&self, list_id: &str, generation: i64, outcome: ListOutcome) -> Result<bool> {
        self.before(Call::Other("settle_list"))?;
        self.inner.settle_list(list_id, generation, outcome)
    }
}

impl<S: Store> FilterStore for Intercepted<S> {
    fn create_filter(&self, scope: &Scope, detector_id: &str, filter: NewFilter, client_token: Option<&str>) -> Result<String> {
        self.before(Call::Other("create_filter"))?;
        self.inner.create_filter(scope, detector_id, filter, client_token)
    }
    fn get_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<Filter> {
        self.before(Call::Other("get_filter"))?;
        self.inner.get_filter(scope, detector_id, name)
    }
    fn list_filters(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<String>> {
        self.before(Call::Other("list_filters"))?;
        self.inner.list_filters(scope, detector_id, max_results, next_token)
    }
    fn update_filter(&self, scope: &Scope, detector_id: &str, name: &str, update: FilterUpdate) -> Result<()> {
        self.before(Call::Other("update_filter"))?;
        self.inner.update_filter(scope, detector_id, name, update)
    }
    fn delete_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<()> {
        self.before(Call::Other("delete_filter"))?;
        self.inner.delete_filter(scope, detector_id, name)
    }
}

impl<S: Store> ExportStore for Intercepted<S> {
    fn register_consumer(&self, name: &str, detector_id: Option<&str>) -> Result<()> {
        self.before(Call::Other("register_consumer"))?;
        self.inner.register_consumer(name, detector_id)
    }
    fn unregister_consumer(&self, name: &str) -> Result<()> {
        self.before(Call::Other("unregister_consumer"))?;
        self.inner.unregister_consumer(name)
    }
    fn consumers(&self) -> Result<Vec<(String, Option<String>)>> {
        self.before(Call::Other("consumers"))?;
        self.inner.consumers()
    }
    fn outbox_due(&self, consumer: &str, now_ms: i64, limit: usize) -> Result<OutboxBatch> {
        self.before(Call::Other("outbox_due"))?;
        self.inner.outbox_due(consumer, now_ms, limit)
    }
    fn outbox_ack(&self, consumer: &str, up_to_seq: i64) -> Result<()> {
        self.before(Call::Other("outbox_ack"))?;
        self.inner.outbox_ack(consumer, up_to_seq)
    }
    fn outbox_stats(&self) -> Result<OutboxStats> {
        self.before(Call::Other("outbox_stats"))?;
        self.inner.outbox_stats()
    }
}

impl<S: Store> DestinationStore for Intercepted<S> {
    fn create_destination(
        &self,
        scope: &Scope,
        detector_id: &str,
        destination_type: &str,
        properties: &DestinationProperties,
        tags: &BTreeMap<String, String>,
        client_token: Option<&str>,
    ) -> Result<Destination> {
        self.before(Call::Other("create_destination"))?;
        self.inner.create_destination(scope, detector_id, destination_type, properties, tags, client_token)
    }
    fn get_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<Destination> {
        self.before(Call::Other("get_destination"))?;
        self.inner.get_destination(scope, detector_id, destination_id)
    }
    fn list_destinations(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<Destination>> {
        self.before(Call::Other("list_destinations"))?;
        self.inner.list_destinations(scope, detector_id, max_results, next_token)
    }
    fn update_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str, properties: &DestinationProperties) -> Result<Destination> {
        self.before(Call::Other("update_destination"))?;
        self.inner.update_destination(scope, detector_id, destination_id, properties)
    }
    fn delete_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<()> {
        self.before(Call::Other("delete_destination"))?;
        self.inner.delete_destination(scope, detector_id, destination_id)
    }
    fn all_destinations(&self) -> Result<Vec<Destination>> {
        self.before(Call::Other("all_destinations"))?;
        self.inner.all_destinations()
    }
    fn record_publish_outcome(&self, destination_id: &str, generation: i64, ok: bool, at_ms: i64) -> Result<bool> {
        self.before(Call::Other("record_publish_outcome"))?;
        self.inner.record_publish_outcome(destination_id, generation, ok, at_ms)
    }
}

impl<S: Store> StateStore for Intercepted<S> {
    fn load_state(&self, detector_id: &str, key_prefix: &str) -> Result<Vec<(String, String)>> {
        self.before(Call::Other("load_state"))?;
        self.inner.load_state(detector_id, key_prefix)
    }
}
