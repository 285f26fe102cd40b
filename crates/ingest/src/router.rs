//! Routing: a record goes to the enabled detector of its account and Region. Lookups are cached
//! per worker for the run; with [`crate::IngestOptions::create_detectors`] a missing detector is
//! created first (for plausible account and Region names only).
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use vedette_domain::{DetectorConfig, Scope};
use vedette_store::{Store, StoreError};

/// Where the records of one (account, Region) go.
#[derive(Clone)]
pub(crate) struct Route {
    /// `account/Region`.
    pub(crate) scope: Arc<str>,
    pub(crate) target: Target,
}

#[derive(Clone)]
pub(crate) enum Target {
    /// The enabled detector's id.
    Enabled(Arc<str>),
    Disabled,
    Missing,
}

pub(crate) struct Router<'s> {
    store: &'s dyn Store,
    /// Where created detectors are noted (shared by the workers); None: detectors are not created.
    created: Option<&'s Mutex<BTreeMap<String, String>>>,
    /// Every route looked up, for [`crate::Summary::scopes`] (shared by the workers).
    looked_up: &'s Mutex<BTreeMap<String, Option<String>>>,
    routes: HashMap<String, HashMap<String, Route>>,
    /// The last (account, Region) looked up: a CloudTrail file holds one account and Region, so
    /// this answers nearly every record without hashing.
    last: Option<(String, String, Route)>,
}

impl<'s> Router<'s> {
    pub(crate) fn new(
        store: &'s dyn Store,
        created: Option<&'s Mutex<BTreeMap<String, String>>>,
        looked_up: &'s Mutex<BTreeMap<String, Option<String>>>,
    ) -> Self {
        Router { store, created, looked_up, routes: HashMap::new(), last: None }
    }

    pub(crate) fn route(&mut self, account: &str, region: &str) -> Result<&Route, StoreError> {
        let hit = self.last.as_ref().is_some_and(|(a, r, _)| a == account && r == region);
        if !hit {
            let route = self.lookup(account, region)?.clone();
            self.last = Some((account.to_owned(), region.to_owned(), route));
        }
        Ok(&self.last.as_ref().expect("set above").2)
    }

    /// The enabled detector of an `account/Region` scope (None: missing, suspended, or not a scope).
    pub(crate) fn enabled_detector(&mut self, scope: &str) -> Result<Option<Arc<str>>, StoreError> {
        let Some((account, region)) = scope.split_once('/') else { return Ok(None) };
        Ok(match &self.route(account, region)?.target {
            Target::Enabled(id) => Some(id.clone()),
            Target::Disabled | Target::Missing => None,
        })
    }

    fn lookup(&mut self, account: &str, region: &str) -> Result<&Route, StoreError> {
        let cached = self.routes.get(account).is_some_and(|r| r.contains_key(region));
        if !cached {
            let scope = Scope::new(account, region);
            let mut detector = self.store.detector_for(&scope)?;
            if detector.is_none()
                && let Some(created) = self.created
                && is_plausible_scope(account, region)
            {
                detector = create_detector(self.store, &scope, created)?;
            }
            let target = match detector {
                Some(d) if d.config.enabled => Target::Enabled(Arc::from(d.id.as_str())),
                Some(_) => Target::Disabled,
                None => Target::Missing,
            };
            let route = Route { scope: Arc::from(format!("{account}/{region}")), target };
            let detector = match &route.target {
                Target::Enabled(id) => Some(id.to_string()),
                Target::Disabled | Target::Missing => None,
            };
            self.looked_up.lock().unwrap_or_else(|e| e.into_inner()).insert(route.scope.to_string(), detector);
            self.routes.entry(account.to_owned()).or_default().insert(region.to_owned(), route);
        }
        Ok(&self.routes[account][region])
    }
}

/// Creates the scope's detector (enabled, default configuration) and notes it in `created`.
fn create_detector(
    store: &dyn Store,
    scope: &Scope,
    created: &Mutex<BTreeMap<String, String>>,
) -> Result<Option<vedette_domain::Detector>, StoreError> {
    match store.create_detector(scope, DetectorConfig::default(), BTreeMap::new(), None) {
        Ok(detector) => {
            let name = format!("{}/{}", scope.account_id, scope.region);
            created.lock().unwrap_or_else(|e| e.into_inner()).insert(name, detector.id.clone());
            Ok(Some(detector))
        }
        // Another worker, or the API, created it meanwhile.
        Err(StoreError::AlreadyExists(_)) => store.detector_for(scope),
        Err(e) => Err(e),
    }
}

/// A 12-digit account and a Region-shaped name (`us-east-1`, `us-gov-west-1`): records with
/// anything else in these fields do not get a detector created for them.
fn is_plausible_scope(account: &str, region: &str) -> bool {
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let region_ok = (4..=32).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.as_bytes()[0].is_ascii_lowercase()
        && region.bytes().last().is_some_and(|b| b.is_ascii_digit())
        && region.contains('-');
    account_ok && region_ok
}
