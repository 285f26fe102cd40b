//! CreateIPSet, GetIPSet, ListIPSets, UpdateIPSet, DeleteIPSet and the same five for
//! ThreatIntelSet, and the background work behind their status life cycle. Both families share
//! one implementation; [`list_operations!`] binds each family's model shapes to it.
//!
//! Requests change the stored status at once (ACTIVATING, DEACTIVATING, DELETE_PENDING) and
//! start a task that carries the transition out: an activation reads the file through
//! `vedette_remote` (policy and 35 MB limit), parses it with `domain::intel::parse_list`,
//! enforces the entry quota and stores the snapshot in one write (ACTIVE), or records why it
//! failed (ERROR, logged with the list id). Each transition carries the list's generation: a
//! later request supersedes an unfinished one. Transitions left unfinished by a crash are
//! resumed by [`Service::resume_list_transitions`] at start-up.
//!
//! After DeleteIPSet the list is DELETED: GetIPSet still answers (status DELETED) for a day,
//! ListIPSets no longer shows it, Update/Delete answer "not owned" (decision: GuardDuty does not
//! document how long a deleted list stays visible).
use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use vedette_domain::intel::{ListFormat, parse_list};
use vedette_domain::{ids, time};
use vedette_model as model;
use vedette_remote::{Location, RemoteError};
use vedette_store::lists::{ListKind, ListOutcome, ListRecord, ListStatus, ListUpdate, ListWork, MAX_LIST_FILE_BYTES, NewList, Snapshot};
use vedette_store::{Page, StoreError};

use crate::{DEFAULT_PAGE_SIZE, Principal, Result, Service, ServiceError, page_size, tags, token, validate};

/// Activations read and parse whole files (up to 35 MB each): at most this many at once.
const ACTIVATION_SLOTS: usize = 2;

/// The service's list activations: bounded in number, one permit per running activation.
pub(crate) struct Activations {
    slots: Arc<Semaphore>,
}

impl Default for Activations {
    fn default() -> Self {
        Activations { slots: Arc::new(Semaphore::new(ACTIVATION_SLOTS)) }
    }
}

/// IPSet names: alphanumerics, whitespace, `-` and `_` (the model's documentation; lengths are
/// checked by the model). ThreatIntelSet names carry no such rule.
fn check_name(kind: ListKind, name: &str) -> Result<()> {
    let ok = kind == ListKind::Threat || name.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(ServiceError::invalid_parameter("name")) }
}

fn not_found(kind: ListKind) -> ServiceError {
    ServiceError::from(StoreError::NotFound(kind.resource()))
}

fn check_list_id(kind: ListKind, id: &str) -> Result<()> {
    if ids::is_well_formed_id(id) { Ok(()) } else { Err(not_found(kind)) }
}

/// What CreateIPSet and CreateThreatIntelSet both carry.
struct CreateList {
    detector_id: String,
    name: String,
    format: String,
    location: String,
    activate: bool,
    client_token: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    expected_bucket_owner: Option<String>,
}

/// What GetIPSet and GetThreatIntelSet both answer.
struct ListView {
    name: Option<String>,
    format: Option<String>,
    location: Option<String>,
    status: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    expected_bucket_owner: Option<String>,
}

impl From<ListRecord> for ListView {
    fn from(r: ListRecord) -> Self {
        ListView {
            name: Some(r.name),
            format: Some(r.format),
            location: Some(r.location),
            status: Some(r.status.as_str().to_string()),
            tags: Some(r.tags),
            expected_bucket_owner: r.expected_bucket_owner,
        }
    }
}

impl Service {
    /// The location, refused with 400 when it cannot be read under this server's policy.
    fn check_location(&self, location: &str) -> Result<()> {
        let refused =
            |e: RemoteError| ServiceError::bad_request(format!("The request is rejected because the parameter location is not usable: {e}"));
        let parsed = Location::parse(location).map_err(refused)?;
        self.remote().check(&parsed).map_err(refused)
    }

    async fn create_list(&self, p: &Principal, kind: ListKind, input: CreateList) -> Result<String> {
        let detector = self.owned_detector(p, &input.detector_id).await?;
        check_name(kind, &input.name)?;
        if let Some(t) = &input.tags {
            tags::check_keys(t.keys(), "tags")?;
        }
        self.check_location(&input.location)?;
        let list = NewList {
            kind,
            name: input.name,
            format: input.format,
            location: input.location,
            activate: input.activate,
            tags: input.tags.unwrap_or_default(),
            client_token: token(input.client_token),
            expected_bucket_owner: input.expected_bucket_owner,
        };
        let scope = p.scope.clone();
        let created = self.store(move |s| s.create_list(&scope, &detector.id, list)).await?;
        // A retried create may find the list mid-transition: starting the task again is harmless
        // (the generation check lets one of them settle it).
        self.start_transition(&created);
        Ok(created.list_id)
    }

    async fn get_list(&self, p: &Principal, kind: ListKind, detector_id: String, list_id: String) -> Result<ListRecord> {
        let detector = self.owned_detector(p, &detector_id).await?;
        check_list_id(kind, &list_id)?;
        let scope = p.scope.clone();
        self.store(move |s| s.get_list(&scope, &detector.id, kind, &list_id)).await
    }

    async fn list_lists(
        &self,
        p: &Principal,
        kind: ListKind,
        detector_id: String,
        max_results: Option<i32>,
        next_token: Option<String>,
    ) -> Result<Page<String>> {
        let detector = self.owned_detector(p, &detector_id).await?;
        let scope = p.scope.clone();
        let max = page_size(max_results, DEFAULT_PAGE_SIZE);
        let next = token(next_token);
        self.store(move |s| s.list_lists(&scope, &detector.id, kind, max, next.as_deref())).await
    }

    async fn update_list(&self, p: &Principal, kind: ListKind, detector_id: String, list_id: String, update: ListUpdate) -> Result<()> {
        let detector = self.owned_detector(p, &detector_id).await?;
        check_list_id(kind, &list_id)?;
        if let Some(name) = &update.name {
            check_name(kind, name)?;
        }
        if let Some(location) = &update.location {
            self.check_location(location)?;
        }
        let scope = p.scope.clone();
        let updated = self.store(move |s| s.update_list(&scope, &detector.id, kind, &list_id, update)).await?;
        self.start_transition(&updated);
        Ok(())
    }

    async fn delete_list(&self, p: &Principal, kind: ListKind, detector_id: String, list_id: String) -> Result<()> {
        let detector = self.owned_detector(p, &detector_id).await?;
        check_list_id(kind, &list_id)?;
        let scope = p.scope.clone();
        let deleting = self.store(move |s| s.delete_list(&scope, &detector.id, kind, &list_id)).await?;
        self.start_transition(&deleting);
        Ok(())
    }

    /// Ok if the principal's detector has this list (tagging a list ARN needs one; a DELETED
    /// list has no tags to change).
    pub(crate) async fn existing_list(&self, p: &Principal, kind: ListKind, detector_id: String, list_id: String) -> Result<()> {
        check_list_id(kind, &list_id)?;
        let scope = p.scope.clone();
        let record = self.store(move |s| s.get_list(&scope, &detector_id, kind, &list_id)).await?;
        if record.status == ListStatus::Deleted { Err(not_found(kind)) } else { Ok(()) }
    }
}

/// The five operations of one list family, bound to its model shapes (the two families differ
/// only in names: `IPSet`/`ipSetId` and `ThreatIntelSet`/`threatIntelSetId`).
macro_rules! list_operations {
    (
        kind: $kind:expr, id: $id:ident,
        $create:ident($create_in:ident) -> $create_out:ident { $create_id:ident },
        $get:ident($get_in:ident) -> $get_out:ident,
        $list:ident($list_in:ident) -> $list_out:ident { $list_ids:ident },
        $update:ident($update_in:ident) -> $update_out:ident,
        $delete:ident($delete_in:ident) -> $delete_out:ident $(,)?
    ) => {
        impl Service {
            pub async fn $create(&self, p: &Principal, input: model::$create_in) -> Result<model::$create_out> {
                validate(&input)?;
                let create = CreateList {
                    detector_id: input.detector_id.unwrap_or_default(),
                    name: input.name.unwrap_or_default(),
                    format: input.format.unwrap_or_default(),
                    location: input.location.unwrap_or_default(),
                    activate: input.activate.unwrap_or_default(),
                    client_token: input.client_token,
                    tags: input.tags,
                    expected_bucket_owner: input.expected_bucket_owner,
                };
                let id = self.create_list(p, $kind, create).await?;
                Ok(model::$create_out { $create_id: Some(id) })
            }

            pub async fn $get(&self, p: &Principal, input: model::$get_in) -> Result<model::$get_out> {
                validate(&input)?;
                let view = ListView::from(self.get_list(p, $kind, input.detector_id.unwrap_or_default(), input.$id.unwrap_or_default()).await?);
                Ok(model::$get_out {
                    name: view.name,
                    format: view.format,
                    location: view.location,
                    status: view.status,
                    tags: view.tags,
                    expected_bucket_owner: view.expected_bucket_owner,
                })
            }

            pub async fn $list(&self, p: &Principal, input: model::$list_in) -> Result<model::$list_out> {
                validate(&input)?;
                let page = self.list_lists(p, $kind, input.detector_id.unwrap_or_default(), input.max_results, input.next_token).await?;
                Ok(model::$list_out { $list_ids: Some(page.items), next_token: page.next_token })
            }

            pub async fn $update(&self, p: &Principal, input: model::$update_in) -> Result<model::$update_out> {
                validate(&input)?;
                let change = ListUpdate {
                    name: input.name,
                    location: input.location,
                    activate: input.activate,
                    expected_bucket_owner: input.expected_bucket_owner,
                };
                self.update_list(p, $kind, input.detector_id.unwrap_or_default(), input.$id.unwrap_or_default(), change).await?;
                Ok(model::$update_out::default())
            }

            pub async fn $delete(&self, p: &Principal, input: model::$delete_in) -> Result<model::$delete_out> {
                validate(&input)?;
                self.delete_list(p, $kind, input.detector_id.unwrap_or_default(), input.$id.unwrap_or_default()).await?;
                Ok(model::$delete_out::default())
            }
        }
    };
}

list_operations! {
    kind: ListKind::Trusted, id: ip_set_id,
    create_ip_set(CreateIPSetRequest) -> CreateIPSetResponse { ip_set_id },
    get_ip_set(GetIPSetRequest) -> GetIPSetResponse,
    list_ip_sets(ListIPSetsRequest) -> ListIPSetsResponse { ip_set_ids },
    update_ip_set(UpdateIPSetRequest) -> UpdateIPSetResponse,
    delete_ip_set(DeleteIPSetRequest) -> DeleteIPSetResponse,
}

list_operations! {
    kind: ListKind::Threat, id: threat_intel_set_id,
    create_threat_intel_set(CreateThreatIntelSetRequest) -> CreateThreatIntelSetResponse { threat_intel_set_id },
    get_threat_intel_set(GetThreatIntelSetRequest) -> GetThreatIntelSetResponse,
    list_threat_intel_sets(ListThreatIntelSetsRequest) -> ListThreatIntelSetsResponse { threat_intel_set_ids },
    update_threat_intel_set(UpdateThreatIntelSetRequest) -> UpdateThreatIntelSetResponse,
    delete_threat_intel_set(DeleteThreatIntelSetRequest) -> DeleteThreatIntelSetResponse,
}

// --- transitions -------------------------------------------------------------------------------

impl Service {
    /// Starts the background task for `record`'s transition, if it is in one.
    fn start_transition(&self, record: &ListRecord) {
        if let Some(work) = ListWork::of(record) {
            self.spawn_transition(work);
        }
    }

    /// A transition runs as a supervised worker. Stopped or failed, it stays pending in the store
    /// and the next start-up resumes it, so nothing a request asked for is lost.
    fn spawn_transition(&self, work: ListWork) {
        let service = self.clone();
        let list_id = work.list_id.clone();
        let started = self.supervisor().spawn(format!("list transition {list_id}"), move |cancel| async move {
            tokio::select! {
                done = service.run_transition(work) => done,
                () = cancel.cancelled() => Ok(()),
            }
        });
        if let Err(e) = started {
            tracing::warn!(list_id = %list_id, error = %e, "list transition not started; it resumes at the next start");
        }
    }

    /// Resumes every transition a previous run left unfinished (call once at start-up, inside
    /// the runtime). Returns how many were started.
    pub async fn resume_list_transitions(&self) -> std::result::Result<usize, StoreError> {
        let work = self.store_raw(|s| s.pending_list_work()).await?;
        let count = work.len();
        for w in work {
            tracing::info!(list_id = %w.list_id, detector_id = %w.detector_id, status = w.status.as_str(), "resuming list transition");
            self.spawn_transition(w);
        }
        Ok(count)
    }

    async fn run_transition(&self, work: ListWork) -> std::result::Result<(), StoreError> {
        let outcome = match work.status {
            ListStatus::Activating => {
                let _slot = self.inner.lists.slots.clone().acquire_owned().await.map_err(|_| StoreError::Backend("shutting down".into()))?;
                match activate(self.remote(), &work).await {
                    Ok(snapshot) => {
                        tracing::info!(
                            list_id = %work.list_id, detector_id = %work.detector_id, entries = snapshot.entries.len(),
                            bad_lines = snapshot.bad_lines, sha256 = %snapshot.file_sha256, "list activated"
                        );
                        ListOutcome::Activated(snapshot)
                    }
                    Err(reason) => {
                        tracing::warn!(
                            list_id = %work.list_id, detector_id = %work.detector_id, location = %work.location,
                            reason = %reason, "list activation failed: status ERROR"
                        );
                        ListOutcome::Failed(reason)
                    }
                }
            }
            ListStatus::Deactivating => ListOutcome::Deactivated,
            ListStatus::DeletePending => ListOutcome::Deleted,
            _ => return Ok(()),
        };
        let (list_id, generation) = (work.list_id.clone(), work.generation);
        if !self.store_raw(move |s| s.settle_list(&list_id, generation, outcome)).await? {
            tracing::debug!(list_id = %work.list_id, generation = work.generation, "list transition superseded");
        }
        Ok(())
    }
}

/// Reads, parses and checks the list file. The error is the reason shown in logs and kept in
/// the store: it never quotes the file.
async fn activate(remote: &vedette_remote::Remote, work: &ListWork) -> std::result::Result<Snapshot, String> {
    let kind = work.kind;
    let format = ListFormat::from_api(&work.format).ok_or_else(|| format!("the format {} is not supported", work.format))?;
    let location = Location::parse(&work.location).map_err(|e| e.to_string())?;
    let bytes = remote.fetch(&location, MAX_LIST_FILE_BYTES).await.map_err(|e| e.to_string())?;
    let location_text = work.location.clone();
    let list_id = work.list_id.clone();
    tokio::task::spawn_blocking(move || {
        let file_sha256 = hex::encode(Sha256::digest(&bytes));
        let parsed = parse_list(format, &bytes).map_err(|e| e.to_string())?;
        // A file with lines but not one IP or CIDR is almost certainly the wrong file or format
        // (decision: ERROR rather than an ACTIVE list that matches nothing). An empty file is fine.
        if parsed.entries.is_empty() && parsed.bad_lines + parsed.ignored > 0 {
            let first: Vec<String> = parsed.first_bad_lines.iter().map(u64::to_string).collect();
            return Err(format!(
                "the file has no usable {} entries (IPs or CIDRs): {} line(s) could not be read{}, {} other indicator(s) ignored",
                format.as_api(),
                parsed.bad_lines,
                if first.is_empty() { String::new() } else { format!(" (first: line {})", first.join(", ")) },
                parsed.ignored
            ));
        }
        let mut entries: Vec<String> = parsed.entries.iter().map(ToString::to_string).collect();
        entries.sort_unstable();
        entries.dedup();
        if entries.len() > kind.max_entries() {
            return Err(format!("the file has {} entries; a {} holds at most {}", entries.len(), kind.resource_name(), kind.max_entries()));
        }
        if parsed.bad_lines > 0 {
            let first: Vec<String> = parsed.first_bad_lines.iter().map(u64::to_string).collect();
            tracing::warn!(list_id = %list_id, bad_lines = parsed.bad_lines, first = %first.join(", "), "list lines skipped");
        }
        Ok(Snapshot { file_sha256, entries, bad_lines: parsed.bad_lines, location: location_text, activated_at_ms: time::now_ms() })
    })
    .await
    .map_err(|e| format!("parsing failed: {e}"))?
}
