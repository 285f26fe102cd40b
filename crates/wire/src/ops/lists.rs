//! CreateIPSet, GetIPSet, ListIPSets, UpdateIPSet, DeleteIPSet and the same five for
//! ThreatIntelSet (spec §1.2, §5), and the background work behind their status life cycle.
//!
//! Requests change the stored status at once (ACTIVATING, DEACTIVATING, DELETE_PENDING) and
//! start a task that carries the transition out: an activation reads the file through
//! `vedette_remote` (policy and 35 MB limit), parses it with `domain::intel::parse_list`,
//! enforces the entry quota and stores the snapshot in one write (ACTIVE), or records why it
//! failed (ERROR, logged with the list id). Each transition carries the list's generation: a
//! later request supersedes an unfinished one. Transitions left unfinished by a crash are
//! resumed by [`resume_pending`] at start-up.
//!
//! After DeleteIPSet the list is DELETED: GetIPSet still answers (status DELETED) for a day,
//! ListIPSets no longer shows it, Update/Delete answer "not owned" (decision; spec §5).
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use vedette_domain::intel::{ListFormat, parse_list};
use vedette_domain::{ids, time};
use vedette_model as model;
use vedette_remote::{Location, RemoteError};
use vedette_store::lists::{
    ListKind, ListOutcome, ListRecord, ListStatus, ListUpdate, ListWork, MAX_LIST_FILE_BYTES, NewList, Snapshot,
};
use vedette_store::{Store, StoreError};

use super::{OpContext, tags};
use crate::error::ApiError;
use crate::{AppState, rest};

/// List pages hold at most this many ids (the model's maximum and default).
const DEFAULT_MAX_RESULTS: i32 = 50;
/// Activations read and parse whole files (up to 35 MB each): at most this many at once.
static ACTIVATION_SLOTS: Semaphore = Semaphore::const_new(2);

fn store_error(kind: ListKind, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::bad_request(kind.not_found_message()),
        StoreError::Invalid(m) if m.starts_with("The request is rejected") => ApiError::bad_request(m),
        other => other.into(),
    }
}

/// IPSet names: alphanumerics, whitespace, `-` and `_` (the model's documentation; lengths are
/// checked by the model). ThreatIntelSet names carry no such rule.
fn check_name(kind: ListKind, name: &str) -> Result<(), ApiError> {
    let ok = kind == ListKind::Threat
        || name
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter("name"))
    }
}

/// The location, refused with 400 when it cannot be read under this server's policy.
fn check_location(ctx: &OpContext, location: &str) -> Result<(), ApiError> {
    let refused = |e: RemoteError| {
        ApiError::bad_request(format!(
            "The request is rejected because the parameter location is not usable: {e}"
        ))
    };
    let parsed = Location::parse(location).map_err(refused)?;
    ctx.state.remote().check(&parsed).map_err(refused)
}

fn check_list_id(kind: ListKind, id: &str) -> Result<(), ApiError> {
    if ids::is_well_formed_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(kind.not_found_message()))
    }
}

struct CreateInput {
    detector_id: String,
    name: String,
    format: String,
    location: String,
    activate: bool,
    client_token: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
    expected_bucket_owner: Option<String>,
}

async fn create(ctx: &OpContext, kind: ListKind, input: CreateInput) -> Result<String, ApiError> {
    let detector = ctx.owned_detector(&input.detector_id).await?;
    check_name(kind, &input.name)?;
    if let Some(t) = &input.tags {
        tags::check_keys(t.keys(), "tags")?;
    }
    check_location(ctx, &input.location)?;
    let list = NewList {
        kind,
        name: input.name,
        format: input.format,
        location: input.location,
        activate: input.activate,
        tags: input.tags.unwrap_or_default(),
        // An empty token is no token: it cannot identify a retry.
        client_token: input.client_token.filter(|t| !t.is_empty()),
        expected_bucket_owner: input.expected_bucket_owner,
    };
    let scope = ctx.scope().clone();
    let created = ctx
        .store_raw(move |s| s.create_list(&scope, &detector.id, list))
        .await
        .map_err(|e| store_error(kind, e))?;
    // A retried create may find the list mid-transition: starting the task again is harmless
    // (the generation check lets one of them settle it).
    start(&ctx.state, &created);
    Ok(created.list_id)
}

async fn get(ctx: &OpContext, kind: ListKind, detector_id: String, list_id: String) -> Result<ListRecord, ApiError> {
    let detector = ctx.owned_detector(&detector_id).await?;
    check_list_id(kind, &list_id)?;
    let scope = ctx.scope().clone();
    ctx.store_raw(move |s| s.get_list(&scope, &detector.id, kind, &list_id))
        .await
        .map_err(|e| store_error(kind, e))
}

async fn list(
    ctx: &OpContext,
    kind: ListKind,
    detector_id: String,
    max_results: Option<i32>,
    next_token: Option<String>,
) -> Result<vedette_store::Page<String>, ApiError> {
    let detector = ctx.owned_detector(&detector_id).await?;
    let scope = ctx.scope().clone();
    let max = max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
    ctx.store_raw(move |s| s.list_lists(&scope, &detector.id, kind, max, next_token.as_deref()))
        .await
        .map_err(|e| store_error(kind, e))
}

async fn update(
    ctx: &OpContext,
    kind: ListKind,
    detector_id: String,
    list_id: String,
    update: ListUpdate,
) -> Result<(), ApiError> {
    let detector = ctx.owned_detector(&detector_id).await?;
    check_list_id(kind, &list_id)?;
    if let Some(name) = &update.name {
        check_name(kind, name)?;
    }
    if let Some(location) = &update.location {
        check_location(ctx, location)?;
    }
    let scope = ctx.scope().clone();
    let updated = ctx
        .store_raw(move |s| s.update_list(&scope, &detector.id, kind, &list_id, update))
        .await
        .map_err(|e| store_error(kind, e))?;
    start(&ctx.state, &updated);
    Ok(())
}

async fn delete(ctx: &OpContext, kind: ListKind, detector_id: String, list_id: String) -> Result<(), ApiError> {
    let detector = ctx.owned_detector(&detector_id).await?;
    check_list_id(kind, &list_id)?;
    let scope = ctx.scope().clone();
    let deleting = ctx
        .store_raw(move |s| s.delete_list(&scope, &detector.id, kind, &list_id))
        .await
        .map_err(|e| store_error(kind, e))?;
    start(&ctx.state, &deleting);
    Ok(())
}

// --- IPSet -------------------------------------------------------------------------------------

pub async fn create_ip_set(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::CreateIPSetRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let input = CreateInput {
        detector_id: req.detector_id.unwrap_or_default(),
        name: req.name.unwrap_or_default(),
        format: req.format.unwrap_or_default(),
        location: req.location.unwrap_or_default(),
        activate: req.activate.unwrap_or_default(),
        client_token: req.client_token,
        tags: req.tags,
        expected_bucket_owner: req.expected_bucket_owner,
    };
    let id = create(&ctx, ListKind::Trusted, input).await?;
    rest::json(&model::CreateIPSetResponse { ip_set_id: Some(id) })
}

pub async fn get_ip_set(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::GetIPSetRequest {
        detector_id: ctx.label("DetectorId"),
        ip_set_id: ctx.label("IpSetId"),
    };
    rest::validate(&req)?;
    let r = get(
        &ctx,
        ListKind::Trusted,
        req.detector_id.unwrap_or_default(),
        req.ip_set_id.unwrap_or_default(),
    )
    .await?;
    rest::json(&model::GetIPSetResponse {
        name: Some(r.name),
        format: Some(r.format),
        location: Some(r.location),
        status: Some(r.status.as_str().to_string()),
        tags: Some(r.tags),
        expected_bucket_owner: r.expected_bucket_owner,
    })
}

pub async fn list_ip_sets(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListIPSetsRequest {
        detector_id: ctx.label("DetectorId"),
        max_results: rest::query_i32(&ctx.query, "maxResults")?,
        next_token: rest::query_string(&ctx.query, "nextToken").filter(|t| !t.is_empty()),
    };
    rest::validate(&req)?;
    let page = list(
        &ctx,
        ListKind::Trusted,
        req.detector_id.unwrap_or_default(),
        req.max_results,
        req.next_token,
    )
    .await?;
    rest::json(&model::ListIPSetsResponse {
        ip_set_ids: Some(page.items),
        next_token: page.next_token,
    })
}

pub async fn update_ip_set(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdateIPSetRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    req.ip_set_id = ctx.label("IpSetId");
    rest::validate(&req)?;
    let change = ListUpdate {
        name: req.name,
        location: req.location,
        activate: req.activate,
        expected_bucket_owner: req.expected_bucket_owner,
    };
    update(
        &ctx,
        ListKind::Trusted,
        req.detector_id.unwrap_or_default(),
        req.ip_set_id.unwrap_or_default(),
        change,
    )
    .await?;
    Ok(rest::empty(StatusCode::OK))
}

pub async fn delete_ip_set(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DeleteIPSetRequest {
        detector_id: ctx.label("DetectorId"),
        ip_set_id: ctx.label("IpSetId"),
    };
    rest::validate(&req)?;
    delete(
        &ctx,
        ListKind::Trusted,
        req.detector_id.unwrap_or_default(),
        req.ip_set_id.unwrap_or_default(),
    )
    .await?;
    Ok(rest::empty(StatusCode::OK))
}

// --- ThreatIntelSet ----------------------------------------------------------------------------

pub async fn create_threat_intel_set(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::CreateThreatIntelSetRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let input = CreateInput {
        detector_id: req.detector_id.unwrap_or_default(),
        name: req.name.unwrap_or_default(),
        format: req.format.unwrap_or_default(),
        location: req.location.unwrap_or_default(),
        activate: req.activate.unwrap_or_default(),
        client_token: req.client_token,
        tags: req.tags,
        expected_bucket_owner: req.expected_bucket_owner,
    };
    let id = create(&ctx, ListKind::Threat, input).await?;
    rest::json(&model::CreateThreatIntelSetResponse {
        threat_intel_set_id: Some(id),
    })
}

pub async fn get_threat_intel_set(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::GetThreatIntelSetRequest {
        detector_id: ctx.label("DetectorId"),
        threat_intel_set_id: ctx.label("ThreatIntelSetId"),
    };
    rest::validate(&req)?;
    let r = get(
        &ctx,
        ListKind::Threat,
        req.detector_id.unwrap_or_default(),
        req.threat_intel_set_id.unwrap_or_default(),
    )
    .await?;
    rest::json(&model::GetThreatIntelSetResponse {
        name: Some(r.name),
        format: Some(r.format),
        location: Some(r.location),
        status: Some(r.status.as_str().to_string()),
        tags: Some(r.tags),
        expected_bucket_owner: r.expected_bucket_owner,
    })
}

pub async fn list_threat_intel_sets(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListThreatIntelSetsRequest {
        detector_id: ctx.label("DetectorId"),
        max_results: rest::query_i32(&ctx.query, "maxResults")?,
        next_token: rest::query_string(&ctx.query, "nextToken").filter(|t| !t.is_empty()),
    };
    rest::validate(&req)?;
    let page = list(
        &ctx,
        ListKind::Threat,
        req.detector_id.unwrap_or_default(),
        req.max_results,
        req.next_token,
    )
    .await?;
    rest::json(&model::ListThreatIntelSetsResponse {
        threat_intel_set_ids: Some(page.items),
        next_token: page.next_token,
    })
}

pub async fn update_threat_intel_set(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdateThreatIntelSetRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    req.threat_intel_set_id = ctx.label("ThreatIntelSetId");
    rest::validate(&req)?;
    let change = ListUpdate {
        name: req.name,
        location: req.location,
        activate: req.activate,
        expected_bucket_owner: req.expected_bucket_owner,
    };
    let (detector_id, list_id) = (
        req.detector_id.unwrap_or_default(),
        req.threat_intel_set_id.unwrap_or_default(),
    );
    update(&ctx, ListKind::Threat, detector_id, list_id, change).await?;
    Ok(rest::empty(StatusCode::OK))
}

pub async fn delete_threat_intel_set(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DeleteThreatIntelSetRequest {
        detector_id: ctx.label("DetectorId"),
        threat_intel_set_id: ctx.label("ThreatIntelSetId"),
    };
    rest::validate(&req)?;
    let (detector_id, list_id) = (
        req.detector_id.unwrap_or_default(),
        req.threat_intel_set_id.unwrap_or_default(),
    );
    delete(&ctx, ListKind::Threat, detector_id, list_id).await?;
    Ok(rest::empty(StatusCode::OK))
}

/// Whether the caller's detector has this list (tagging a list ARN needs one; a DELETED list
/// has no tags to change).
pub async fn exists(ctx: &OpContext, kind: ListKind, detector_id: String, list_id: String) -> Result<(), ApiError> {
    check_list_id(kind, &list_id)?;
    let scope = ctx.scope().clone();
    let record = ctx
        .store_raw(move |s| s.get_list(&scope, &detector_id, kind, &list_id))
        .await
        .map_err(|e| store_error(kind, e))?;
    if record.status == ListStatus::Deleted {
        Err(ApiError::bad_request(kind.not_found_message()))
    } else {
        Ok(())
    }
}

// --- transitions -------------------------------------------------------------------------------

/// Starts the background task for `record`'s transition, if it is in one.
fn start(state: &AppState, record: &ListRecord) {
    if let Some(work) = ListWork::of(record) {
        spawn(state.clone(), work);
    }
}

fn spawn(state: AppState, work: ListWork) {
    tokio::spawn(async move {
        let list_id = work.list_id.clone();
        if let Err(e) = run(&state, work).await {
            // The transition stays pending in the store; the next start-up resumes it.
            tracing::error!(list_id = %list_id, error = %e, "list transition could not be recorded");
        }
    });
}

/// Resumes every transition a previous run left unfinished (call once at start-up, inside the
/// runtime). Returns how many were started.
pub async fn resume_pending(state: &AppState) -> Result<usize, StoreError> {
    let store = state.store().clone();
    let work = tokio::task::spawn_blocking(move || store.pending_list_work())
        .await
        .map_err(|e| StoreError::Backend(format!("store call failed: {e}")))??;
    let count = work.len();
    for w in work {
        tracing::info!(list_id = %w.list_id, detector_id = %w.detector_id, status = w.status.as_str(), "resuming list transition");
        spawn(state.clone(), w);
    }
    Ok(count)
}

async fn settle(store: &Arc<dyn Store>, work: &ListWork, outcome: ListOutcome) -> Result<bool, StoreError> {
    let store = store.clone();
    let (list_id, generation) = (work.list_id.clone(), work.generation);
    tokio::task::spawn_blocking(move || store.settle_list(&list_id, generation, outcome))
        .await
        .map_err(|e| StoreError::Backend(format!("store call failed: {e}")))?
}

async fn run(state: &AppState, work: ListWork) -> Result<(), StoreError> {
    let outcome = match work.status {
        ListStatus::Activating => {
            let _slot = ACTIVATION_SLOTS
                .acquire()
                .await
                .map_err(|_| StoreError::Backend("shutting down".into()))?;
            match activate(state, &work).await {
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
    if !settle(state.store(), &work, outcome).await? {
        tracing::debug!(list_id = %work.list_id, generation = work.generation, "list transition superseded");
    }
    Ok(())
}

/// Reads, parses and checks the list file. The error is the reason shown in logs and kept in
/// the store: it never quotes the file.
async fn activate(state: &AppState, work: &ListWork) -> Result<Snapshot, String> {
    let kind = work.kind;
    let format =
        ListFormat::from_api(&work.format).ok_or_else(|| format!("the format {} is not supported", work.format))?;
    let location = Location::parse(&work.location).map_err(|e| e.to_string())?;
    let bytes = state
        .remote()
        .fetch(&location, MAX_LIST_FILE_BYTES)
        .await
        .map_err(|e| e.to_string())?;
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
            return Err(format!(
                "the file has {} entries; a {} holds at most {}",
                entries.len(),
                kind.resource_name(),
                kind.max_entries()
            ));
        }
        if parsed.bad_lines > 0 {
            let first: Vec<String> = parsed.first_bad_lines.iter().map(u64::to_string).collect();
            tracing::warn!(list_id = %list_id, bad_lines = parsed.bad_lines, first = %first.join(", "), "list lines skipped");
        }
        Ok(Snapshot {
            file_sha256,
            entries,
            bad_lines: parsed.bad_lines,
            location: location_text,
            activated_at_ms: time::now_ms(),
        })
    })
    .await
    .map_err(|e| format!("parsing failed: {e}"))?
}
