//! CreateDetector, GetDetector, ListDetectors, UpdateDetector, DeleteDetector.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_domain::{Detector, DetectorConfig, time};
use vedette_model as model;
use vedette_store::StoreError;

use super::{OpContext, tags};
use crate::error::ApiError;
use crate::rest;

/// ListDetectors' page size when the client gives none (the model's maximum).
const DEFAULT_MAX_RESULTS: i32 = 50;

pub async fn create(ctx: OpContext) -> Result<Response, ApiError> {
    let req: model::CreateDetectorRequest = rest::parse_body(&ctx.body)?;
    rest::validate(&req)?;
    if let Some(t) = &req.tags {
        tags::check_keys(t.keys(), "tags")?;
    }
    let config = DetectorConfig {
        enabled: req.enable.unwrap_or(true),
        finding_publishing_frequency: req.finding_publishing_frequency.unwrap_or_else(|| DetectorConfig::default().finding_publishing_frequency),
        data_sources: req.data_sources,
        features: req.features,
    };
    let scope = ctx.scope().clone();
    let tags = req.tags.unwrap_or_default();
    // An empty token is no token: it cannot identify a retry.
    let token = req.client_token.filter(|t| !t.is_empty());
    let detector = match ctx.store_raw(move |s| s.create_detector(&scope, config, tags, token.as_deref())).await {
        Err(StoreError::Conflict(_)) => return Err(ApiError::detector_exists()),
        other => other?,
    };
    rest::json(&model::CreateDetectorResponse { detector_id: Some(detector.id), unprocessed_data_sources: None })
}

pub async fn get(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::GetDetectorRequest { detector_id: ctx.label("DetectorId") };
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    rest::json(&describe(&detector))
}

const ENABLED: &str = "ENABLED";
const DISABLED: &str = "DISABLED";

fn status(enabled: bool) -> String {
    if enabled { ENABLED } else { DISABLED }.to_string()
}

/// S3 protection as the client configured it, through `features` or the deprecated
/// `dataSources`; off unless asked for (Vedette does not read S3 data events).
fn s3_status(config: &DetectorConfig) -> String {
    let from_features = config.features.iter().flatten().find(|f| f.name.as_deref() == Some("S3_DATA_EVENTS")).and_then(|f| f.status.clone());
    let from_data_sources = config.data_sources.as_ref().and_then(|d| d.s3_logs.as_ref()).and_then(|s| s.enable).map(status);
    from_features.or(from_data_sources).unwrap_or_else(|| DISABLED.to_string())
}

/// GetDetector's answer: the log sources Vedette reads are always on; other features are
/// reported as the client set them.
pub fn describe(d: &Detector) -> model::GetDetectorResponse {
    let updated_secs = d.updated_at_ms as f64 / 1000.0;
    let s3 = s3_status(&d.config);
    let mut features: Vec<model::DetectorFeatureConfigurationResult> = ["CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"]
        .into_iter()
        .map(|name| model::DetectorFeatureConfigurationResult {
            name: Some(name.into()),
            status: Some(ENABLED.into()),
            updated_at: Some(updated_secs),
            ..Default::default()
        })
        .collect();
    features.push(model::DetectorFeatureConfigurationResult {
        name: Some("S3_DATA_EVENTS".into()),
        status: Some(s3.clone()),
        updated_at: Some(updated_secs),
        ..Default::default()
    });
    for f in d.config.features.iter().flatten() {
        if f.name.as_deref() == Some("S3_DATA_EVENTS") {
            continue;
        }
        features.push(model::DetectorFeatureConfigurationResult {
            name: f.name.clone(),
            status: Some(f.status.clone().unwrap_or_else(|| DISABLED.into())),
            updated_at: Some(updated_secs),
            additional_configuration: f.additional_configuration.as_ref().map(|list| {
                list.iter()
                    .map(|a| model::DetectorAdditionalConfigurationResult {
                        name: a.name.clone(),
                        status: Some(a.status.clone().unwrap_or_else(|| DISABLED.into())),
                        updated_at: Some(updated_secs),
                        managed_by: None,
                    })
                    .collect()
            }),
            managed_by: None,
        });
    }
    model::GetDetectorResponse {
        created_at: Some(time::iso_ms(d.created_at_ms)),
        finding_publishing_frequency: Some(d.config.finding_publishing_frequency.clone()),
        service_role: Some(service_role(d)),
        status: Some(status(d.config.enabled)),
        updated_at: Some(time::iso_ms(d.updated_at_ms)),
        data_sources: Some(model::DataSourceConfigurationsResult {
            cloud_trail: Some(model::CloudTrailConfigurationResult { status: Some(ENABLED.into()) }),
            dns_logs: Some(model::DNSLogsConfigurationResult { status: Some(ENABLED.into()) }),
            flow_logs: Some(model::FlowLogsConfigurationResult { status: Some(ENABLED.into()) }),
            s3_logs: Some(model::S3LogsConfigurationResult { status: Some(s3) }),
            kubernetes: None,
            malware_protection: None,
        }),
        tags: Some(d.tags.clone()),
        features: Some(features),
    }
}

/// The service-linked role GuardDuty reports (spec §1.6).
fn service_role(d: &Detector) -> String {
    format!(
        "arn:{}:iam::{}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
        d.scope.partition(),
        d.scope.account_id
    )
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListDetectorsRequest {
        max_results: rest::query_i32(&ctx.query, "maxResults")?,
        next_token: rest::query_string(&ctx.query, "nextToken").filter(|t| !t.is_empty()),
    };
    rest::validate(&req)?;
    let scope = ctx.scope().clone();
    let max = req.max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
    let token = req.next_token;
    let page = ctx.store(move |s| s.list_detectors(&scope, max, token.as_deref())).await?;
    rest::json(&model::ListDetectorsResponse { detector_ids: Some(page.items), next_token: page.next_token })
}

pub async fn update(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdateDetectorRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let mut config = detector.config.clone();
    if let Some(enable) = req.enable {
        config.enabled = enable;
    }
    if let Some(f) = req.finding_publishing_frequency {
        config.finding_publishing_frequency = f;
    }
    if let Some(ds) = req.data_sources {
        config.data_sources = Some(ds);
    }
    if let Some(updates) = req.features {
        // Features are configured one by one: an update names only those it changes.
        let mut merged = config.features.take().unwrap_or_default();
        for u in updates {
            match merged.iter_mut().find(|f| f.name == u.name) {
                Some(existing) => *existing = u,
                None => merged.push(u),
            }
        }
        config.features = Some(merged);
    }
    let scope = ctx.scope().clone();
    let id = detector.id.clone();
    ctx.store(move |s| s.update_detector(&scope, &id, config)).await?;
    Ok(rest::empty(StatusCode::OK))
}

pub async fn delete(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DeleteDetectorRequest { detector_id: ctx.label("DetectorId") };
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    ctx.store(move |s| s.delete_detector(&scope, &detector.id)).await?;
    Ok(rest::empty(StatusCode::OK))
}
