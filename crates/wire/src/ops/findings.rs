//! ListFindings, GetFindings, ArchiveFindings, UnarchiveFindings, UpdateFindingsFeedback.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_domain::criteria::{self, CriteriaError};
use vedette_model as model;

use super::OpContext;
use crate::error::ApiError;
use crate::rest;

/// ListFindings' page size when the client gives none (spec §1.2).
const DEFAULT_MAX_RESULTS: i32 = 50;

/// CriteriaError messages are already GuardDuty-worded ("The request is rejected because ...").
pub fn criteria_error(e: CriteriaError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::ListFindingsRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let criteria = criteria::parse_criteria(req.finding_criteria.as_ref()).map_err(criteria_error)?;
    let sort = criteria::parse_sort(req.sort_criteria.as_ref()).map_err(criteria_error)?;
    let max = req.max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
    let token = req.next_token.filter(|t| !t.is_empty());
    let page = ctx.store(move |s| s.list_findings(&detector.id, &criteria, &sort, max, token.as_deref())).await?;
    rest::json(&model::ListFindingsResponse { finding_ids: Some(page.items), next_token: page.next_token })
}

pub async fn get(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::GetFindingsRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let sort = match &req.sort_criteria {
        Some(s) => Some(criteria::parse_sort(Some(s)).map_err(criteria_error)?),
        None => None,
    };
    let ids = req.finding_ids.unwrap_or_default();
    let findings = ctx.store(move |s| s.get_findings(&detector.id, &ids, sort.as_ref())).await?;
    rest::json(&model::GetFindingsResponse { findings: Some(findings) })
}

pub async fn archive(ctx: OpContext) -> Result<Response, ApiError> {
    set_archived(ctx, true).await
}

pub async fn unarchive(ctx: OpContext) -> Result<Response, ApiError> {
    set_archived(ctx, false).await
}

async fn set_archived(ctx: OpContext, archived: bool) -> Result<Response, ApiError> {
    // Archive and Unarchive take the same input; validate it as the operation's own shape.
    let ids = if archived {
        let mut req: model::ArchiveFindingsRequest = rest::parse_body(&ctx.body)?;
        req.detector_id = ctx.label("DetectorId");
        rest::validate(&req)?;
        req.finding_ids
    } else {
        let mut req: model::UnarchiveFindingsRequest = rest::parse_body(&ctx.body)?;
        req.detector_id = ctx.label("DetectorId");
        rest::validate(&req)?;
        req.finding_ids
    }
    .unwrap_or_default();
    let detector = ctx.owned_detector(&ctx.label("DetectorId").unwrap_or_default()).await?;
    if !ids.is_empty() {
        ctx.store(move |s| s.set_archived(&detector.id, &ids, archived)).await?;
    }
    Ok(rest::empty(StatusCode::OK))
}

pub async fn feedback(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdateFindingsFeedbackRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx.owned_detector(req.detector_id.as_deref().unwrap_or_default()).await?;
    let ids = req.finding_ids.unwrap_or_default();
    let feedback = req.feedback.unwrap_or_default();
    let comments = req.comments;
    if !ids.is_empty() {
        ctx.store(move |s| s.set_feedback(&detector.id, &ids, &feedback, comments.as_deref())).await?;
    }
    Ok(rest::empty(StatusCode::OK))
}
