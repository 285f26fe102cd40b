//! CreateSampleFindings: one sample per requested type (every current type when none is named),
//! stored like any detection so that repeating the call aggregates into the same samples.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_domain::finding_types::{self, FindingType};
use vedette_domain::{Evidence, Occurrence, samples, time};
use vedette_model as model;

use super::OpContext;
use crate::error::ApiError;
use crate::rest;

/// Evidence rule recorded for samples (`vedette explain` shows it).
pub const SAMPLE_RULE: &str = "sample";

/// The catalogue entries a request names: none ⇒ every non-retired type; retired types may be
/// asked for by name; an unknown name is a 400.
pub fn requested_types(names: Option<&[String]>) -> Result<Vec<&'static FindingType>, ApiError> {
    let names = names.unwrap_or_default();
    if names.is_empty() {
        return Ok(finding_types::CATALOGUE.iter().filter(|t| !t.retired).collect());
    }
    let mut types: Vec<&'static FindingType> = Vec::with_capacity(names.len());
    for name in names {
        let ty = finding_types::lookup(name)
            .ok_or_else(|| ApiError::invalid_value(Some(&format!("findingTypes contains an unsupported finding type: {name}"))))?;
        if !types.iter().any(|t| t.name == ty.name) {
            types.push(ty);
        }
    }
    Ok(types)
}

pub async fn create(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::CreateSampleFindingsRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let types = requested_types(req.finding_types.as_deref())?;
    let now = time::now_ms();
    let occurrences: Vec<Occurrence> = types
        .into_iter()
        .map(|ty| Occurrence {
            detector_id: detector.id.clone(),
            finding: samples::sample_finding(ty, &detector.scope, &detector.id, now),
            event_time_ms: now,
            evidence: Evidence { rule: SAMPLE_RULE.to_string(), ..Default::default() },
        })
        .collect();
    if !occurrences.is_empty() {
        ctx.store(move |s| s.apply(&occurrences, None)).await?;
    }
    Ok(rest::empty(StatusCode::OK))
}
