//! Detection state kept across records, files and runs (console-login histories, flow windows, the
//! DNS heuristics): one [`StateCache`] per kind, shared by the workers so that records of one
//! user or instance in different sources meet. A detector's stored values are loaded the first
//! time a record of it needs one; what changed is written back in the commits of the records
//! that changed it (`Store::commit`).
//!
//! Each write carries its place in the order the workers changed the cache, and the writer keeps
//! the latest of a key when several chunks of a batch hold one.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use vedette_domain::detect::console_login::{self, LoginHistory};
use vedette_domain::dns::DnsHeuristics;
use vedette_domain::flow::FlowState;
use vedette_store::{StateEntry, Store, StoreError};

/// A state entry with its place in the order the workers changed state.
pub(crate) type OrderedState = (u64, StateEntry);

/// A kind of detection state as the store holds it: text under keys that start with a prefix.
pub(crate) trait Persisted: Default + Send {
    /// Every key of this kind starts with it (a single-value kind uses it as its key).
    const PREFIX: &'static str;
    /// The stored text as state: anything unreadable (written by an incompatible version) is a
    /// fresh state, as windowed state is worth less than a failed run.
    fn decode(stored: &str) -> Self;
    fn encode(&self) -> Option<String>;
}

fn decode_json<T: DeserializeOwned + Default>(stored: &str) -> T {
    serde_json::from_str(stored).unwrap_or_default()
}

fn encode_json<T: Serialize>(state: &T) -> Option<String> {
    serde_json::to_string(state).ok()
}

impl Persisted for LoginHistory {
    const PREFIX: &'static str = console_login::STATE_PREFIX;
    fn decode(stored: &str) -> Self {
        LoginHistory::from_json(stored)
    }
    fn encode(&self) -> Option<String> {
        Some(self.to_json())
    }
}

impl Persisted for FlowState {
    const PREFIX: &'static str = "flow:state";
    fn decode(stored: &str) -> Self {
        decode_json(stored)
    }
    fn encode(&self) -> Option<String> {
        encode_json(self)
    }
}

impl Persisted for DnsHeuristics {
    const PREFIX: &'static str = "dns:heuristics";
    fn decode(stored: &str) -> Self {
        decode_json(stored)
    }
    fn encode(&self) -> Option<String> {
        encode_json(self)
    }
}

/// Every detector's state of one kind in this run, by (detector, key).
pub(crate) struct StateCache<V> {
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    /// Detectors whose stored values have been read.
    loaded: HashSet<Arc<str>>,
    /// Nested so that the per-record lookup borrows the key instead of building a pair.
    values: HashMap<Arc<str>, HashMap<String, V>>,
    /// Order of the entries handed out.
    changes: u64,
}

impl<V> Default for StateCache<V> {
    fn default() -> Self {
        StateCache { inner: Mutex::new(Inner { loaded: HashSet::new(), values: HashMap::new(), changes: 0 }) }
    }
}

impl<V: Persisted> StateCache<V> {
    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state of `key` (a fresh one when nothing is stored), under the cache's lock.
    pub(crate) fn with<T>(&self, store: &dyn Store, detector: &Arc<str>, key: &str, f: impl FnOnce(&mut V) -> T) -> Result<T, StoreError> {
        let mut inner = self.lock();
        Ok(f(inner.value(store, detector, key)?))
    }

    /// Runs `f` on the state of `key`; when `f` says it changed it, also returns the entry that
    /// writes it as it is now. For state whose stored form must match the records committed with
    /// it: a value written later could hold records of chunks lost in a crash, which would then
    /// look already seen when read again.
    pub(crate) fn change<T>(
        &self,
        store: &dyn Store,
        detector: &Arc<str>,
        key: &str,
        f: impl FnOnce(&mut V) -> (T, bool),
    ) -> Result<(T, Option<OrderedState>), StoreError> {
        let mut inner = self.lock();
        let value = inner.value(store, detector, key)?;
        let (out, changed) = f(value);
        if !changed {
            return Ok((out, None));
        }
        let encoded = value.encode();
        Ok((out, encoded.map(|value| inner.entry(detector, key, value))))
    }

    /// The entries that write the current state of `key` for each of `detectors` (for state
    /// written as it stands at a commit: big values serialized once per commit, not per chunk).
    pub(crate) fn snapshots(&self, key: &str, detectors: &mut Vec<Arc<str>>, out: &mut Vec<OrderedState>) {
        if detectors.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for detector in detectors.drain(..) {
            let encoded = inner.values.get(&detector).and_then(|values| values.get(key)).and_then(V::encode);
            out.extend(encoded.map(|value| inner.entry(&detector, key, value)));
        }
    }
}

impl<V: Persisted> Inner<V> {
    fn value(&mut self, store: &dyn Store, detector: &Arc<str>, key: &str) -> Result<&mut V, StoreError> {
        if !self.loaded.contains(detector) {
            let values = self.values.entry(detector.clone()).or_default();
            for (key, stored) in store.load_state(detector, V::PREFIX)? {
                values.insert(key, V::decode(&stored));
            }
            self.loaded.insert(detector.clone());
        }
        if !self.values.get(detector).is_some_and(|values| values.contains_key(key)) {
            self.values.entry(detector.clone()).or_default().insert(key.to_owned(), V::default());
        }
        Ok(self.values.get_mut(detector).and_then(|values| values.get_mut(key)).expect("inserted above"))
    }

    fn entry(&mut self, detector: &Arc<str>, key: &str, value: String) -> OrderedState {
        self.changes += 1;
        (self.changes, StateEntry { detector_id: detector.to_string(), key: key.to_owned(), value: Some(value) })
    }
}

/// The detectors whose flow / DNS state records changed since it was last written. That state
/// can weigh megabytes: it is serialized once per commit, as it stands then, not once per chunk.
#[derive(Default)]
pub(crate) struct Dirty {
    pub(crate) flow: Vec<Arc<str>>,
    pub(crate) dns: Vec<Arc<str>>,
}

impl Dirty {
    /// Adds what `other` names.
    pub(crate) fn absorb(&mut self, other: Dirty) {
        for d in &other.flow {
            mark(&mut self.flow, d);
        }
        for d in &other.dns {
            mark(&mut self.dns, d);
        }
    }

    /// The state entries to write for what this names (which it then forgets).
    pub(crate) fn snapshots(&mut self, flow: &StateCache<FlowState>, dns: &StateCache<DnsHeuristics>) -> Vec<OrderedState> {
        let mut out = Vec::new();
        flow.snapshots(FlowState::PREFIX, &mut self.flow, &mut out);
        dns.snapshots(DnsHeuristics::PREFIX, &mut self.dns, &mut out);
        out
    }
}

pub(crate) fn mark(list: &mut Vec<Arc<str>>, detector: &Arc<str>) {
    if !list.iter().any(|d| d == detector) {
        list.push(detector.clone());
    }
}

#[cfg(test)]
mod tests {
    use vedette_domain::{DetectorConfig, Scope};
    use vedette_store::{Commit, SqliteStore};

    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Count(u64);

    impl Persisted for Count {
        const PREFIX: &'static str = "count:";
        fn decode(stored: &str) -> Self {
            Count(stored.parse().unwrap_or_default())
        }
        fn encode(&self) -> Option<String> {
            Some(self.0.to_string())
        }
    }

    fn entry(detector: &str, key: &str, value: &str) -> StateEntry {
        StateEntry { detector_id: detector.into(), key: key.into(), value: Some(value.into()) }
    }

    #[test]
    fn loads_a_detectors_stored_values_once_and_orders_what_it_hands_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let detector =
            store.create_detector(&Scope::new("111122223333", "us-east-1"), DetectorConfig::default(), Default::default(), None).unwrap().id;
        let stored = [entry(&detector, "count:a", "5"), entry(&detector, "count:bad", "not a number"), entry(&detector, "other:a", "9")];
        store.commit(&Commit { state: &stored, ..Default::default() }).unwrap();
        let detector: Arc<str> = Arc::from(detector.as_str());
        let cache = StateCache::<Count>::default();

        assert_eq!(cache.with(&store, &detector, "count:a", |c| c.0).unwrap(), 5);
        assert_eq!(cache.with(&store, &detector, "count:bad", |c| c.0).unwrap(), 0, "unreadable: fresh");
        assert_eq!(cache.with(&store, &detector, "count:new", |c| c.0).unwrap(), 0);
        // The run's values win over the store's from now on.
        store.commit(&Commit { state: &[entry(&detector, "count:a", "50")], ..Default::default() }).unwrap();
        let bump = |c: &mut Count| {
            c.0 += 1;
            (c.0, true)
        };
        let (value, first) = cache.change(&store, &detector, "count:a", bump).unwrap();
        assert_eq!((value, first.map(|(order, e)| (order, e.value))), (6, Some((1, Some("6".into())))));
        let (_, unchanged) = cache.change(&store, &detector, "count:a", |c| (c.0, false)).unwrap();
        assert_eq!(unchanged, None, "nothing to write");

        let mut dirty = vec![detector.clone()];
        let mut out = Vec::new();
        cache.snapshots("count:a", &mut dirty, &mut out);
        assert!(dirty.is_empty());
        assert_eq!(out, [(2, entry(&detector, "count:a", "6"))], "after the entry handed out before");
    }
}
