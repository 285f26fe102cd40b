//! CreateFilter, GetFilter, ListFilters, UpdateFilter, DeleteFilter (spec §1.2, §3.4).
//!
//! Criteria are checked with the same parser ListFindings uses and stored in GuardDuty's current
//! spelling: legacy operators (`eq`, `gt`, …) become their long synonyms (`equals`,
//! `greaterThan`, …), as GuardDuty itself returns them from GetFilter.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_domain::criteria;
use vedette_model as model;
use vedette_store::StoreError;
use vedette_store::filters::{FilterAction, FilterUpdate, NewFilter};

use super::findings::criteria_error;
use super::{OpContext, tags};
use crate::error::ApiError;
use crate::rest;

/// ListFilters' page size when the client gives none (the model's maximum).
const DEFAULT_MAX_RESULTS: i32 = 50;

/// Store answers already worded as GuardDuty words them ("The request is rejected since no such
/// resource found.", "... rank is out-of-bounds.") go out verbatim.
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(m) | StoreError::Conflict(m) if m.starts_with("The request is rejected") => {
            ApiError::bad_request(m)
        }
        other => other.into(),
    }
}

/// Filter names: 3..64 (checked by the model) of `[A-Za-z0-9._-]`.
pub fn is_valid_filter_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if is_valid_filter_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter("name"))
    }
}

fn action(text: Option<&str>) -> Result<Option<FilterAction>, ApiError> {
    // The model's enum check has run; anything else here is a server bug, still a 400.
    text.map(|t| FilterAction::parse(t).ok_or_else(|| ApiError::invalid_parameter("action")))
        .transpose()
}

/// Validates criteria as ListFindings does and returns them in canonical spelling. A filter
/// without any criterion would match every finding (an ARCHIVE one would hide them all), so it is
/// refused (decision; GuardDuty's console does not allow one either).
fn checked_criteria(c: &model::FindingCriteria) -> Result<model::FindingCriteria, ApiError> {
    let parsed = criteria::parse_criteria(Some(c)).map_err(criteria_error)?;
    if parsed.is_empty() {
        return Err(ApiError::invalid_value(Some(
            "findingCriteria needs at least one criterion",
        )));
    }
    Ok(canonical(c))
}

/// Legacy and current spellings of one operator merged into the current one (lists joined,
/// bounds tightened: both were ANDed, so the result selects the same findings).
pub fn canonical(c: &model::FindingCriteria) -> model::FindingCriteria {
    fn join(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> Option<Vec<String>> {
        match (a, b) {
            (None, None) => None,
            _ => Some(a.iter().chain(b.iter()).flatten().cloned().collect()),
        }
    }
    fn tighter(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
        match (a, b) {
            (Some(x), Some(y)) => Some(pick(x, y)),
            (x, y) => x.or(y),
        }
    }
    let criterion = c.criterion.as_ref().map(|conditions| {
        conditions
            .iter()
            .map(|(path, k)| {
                let condition = model::Condition {
                    equals: join(&k.eq, &k.equals),
                    not_equals: join(&k.neq, &k.not_equals),
                    greater_than: tighter(k.gt, k.greater_than, i64::max),
                    greater_than_or_equal: tighter(k.gte, k.greater_than_or_equal, i64::max),
                    less_than: tighter(k.lt, k.less_than, i64::min),
                    less_than_or_equal: tighter(k.lte, k.less_than_or_equal, i64::min),
                    matches: k.matches.clone(),
                    not_matches: k.not_matches.clone(),
                    ..Default::default()
                };
                (path.clone(), condition)
            })
            .collect()
    });
    model::FindingCriteria { criterion }
}

pub async fn create(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::CreateFilterRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let name = req.name.unwrap_or_default();
    check_name(&name)?;
    if let Some(t) = &req.tags {
        tags::check_keys(t.keys(), "tags")?;
    }
    let action = action(req.action.as_deref())?.unwrap_or(FilterAction::Noop);
    let criteria = checked_criteria(&req.finding_criteria.unwrap_or_default())?;
    let filter = NewFilter {
        name,
        description: req.description,
        action,
        rank: req.rank.map(|r| r as u32),
        criteria,
        tags: req.tags.unwrap_or_default(),
    };
    // An empty token is no token: it cannot identify a retry.
    let token = req.client_token.filter(|t| !t.is_empty());
    let scope = ctx.scope().clone();
    let name = ctx
        .store_raw(move |s| s.create_filter(&scope, &detector.id, filter, token.as_deref()))
        .await
        .map_err(store_error)?;
    rest::json(&model::CreateFilterResponse { name: Some(name) })
}

pub async fn get(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::GetFilterRequest {
        detector_id: ctx.label("DetectorId"),
        filter_name: ctx.label("FilterName"),
    };
    rest::validate(&req)?;
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let scope = ctx.scope().clone();
    let name = req.filter_name.unwrap_or_default();
    let f = ctx
        .store_raw(move |s| s.get_filter(&scope, &detector.id, &name))
        .await
        .map_err(store_error)?;
    rest::json(&model::GetFilterResponse {
        name: Some(f.name),
        description: f.description,
        action: Some(f.action.as_str().to_string()),
        rank: Some(f.rank as i32),
        finding_criteria: Some(f.criteria),
        tags: Some(f.tags),
        // Timestamp members are epoch seconds on the wire (spec §1.1).
        created_at: Some(f.created_at_ms as f64 / 1000.0),
        updated_at: Some(f.updated_at_ms as f64 / 1000.0),
        version: Some(f.version),
    })
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListFiltersRequest {
        detector_id: ctx.label("DetectorId"),
        max_results: rest::query_i32(&ctx.query, "maxResults")?,
        next_token: rest::query_string(&ctx.query, "nextToken").filter(|t| !t.is_empty()),
    };
    rest::validate(&req)?;
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let scope = ctx.scope().clone();
    let max = req.max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
    let token = req.next_token;
    let page = ctx
        .store_raw(move |s| s.list_filters(&scope, &detector.id, max, token.as_deref()))
        .await
        .map_err(store_error)?;
    rest::json(&model::ListFiltersResponse {
        filter_names: Some(page.items),
        next_token: page.next_token,
    })
}

pub async fn update(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdateFilterRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    req.filter_name = ctx.label("FilterName");
    rest::validate(&req)?;
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let update = FilterUpdate {
        description: req.description,
        action: action(req.action.as_deref())?,
        rank: req.rank.map(|r| r as u32),
        criteria: req.finding_criteria.as_ref().map(checked_criteria).transpose()?,
    };
    let scope = ctx.scope().clone();
    let name = req.filter_name.unwrap_or_default();
    let updated = name.clone();
    ctx.store_raw(move |s| s.update_filter(&scope, &detector.id, &updated, update))
        .await
        .map_err(store_error)?;
    rest::json(&model::UpdateFilterResponse { name: Some(name) })
}

pub async fn delete(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DeleteFilterRequest {
        detector_id: ctx.label("DetectorId"),
        filter_name: ctx.label("FilterName"),
    };
    rest::validate(&req)?;
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let scope = ctx.scope().clone();
    let name = req.filter_name.unwrap_or_default();
    ctx.store_raw(move |s| s.delete_filter(&scope, &detector.id, &name))
        .await
        .map_err(store_error)?;
    Ok(rest::empty(StatusCode::OK))
}

/// Whether the caller's detector has this filter (tagging a filter ARN needs one).
pub async fn exists(ctx: &OpContext, detector_id: String, name: String) -> Result<(), ApiError> {
    let scope = ctx.scope().clone();
    ctx.store_raw(move |s| s.get_filter(&scope, &detector_id, &name).map(|_| ()))
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn names_follow_guardduty_charset() {
        for ok in ["abc", "my-filter_1.2", "ABC123"] {
            assert!(is_valid_filter_name(ok), "{ok}");
        }
        for bad in ["with space", "a/b", "ünï", "a:b", "a*b"] {
            assert!(!is_valid_filter_name(bad), "{bad}");
        }
    }

    #[test]
    fn legacy_operators_become_their_current_spelling() {
        let legacy = model::Condition {
            eq: Some(vec!["a".into()]),
            equals: Some(vec!["b".into()]),
            neq: Some(vec!["c".into()]),
            gt: Some(3),
            greater_than: Some(5),
            lte: Some(10),
            less_than_or_equal: Some(8),
            gte: Some(1),
            ..Default::default()
        };
        let c = model::FindingCriteria {
            criterion: Some(BTreeMap::from([("type".to_string(), legacy)])),
        };
        let got = canonical(&c).criterion.unwrap().remove("type").unwrap();
        assert_eq!(
            got,
            model::Condition {
                equals: Some(vec!["a".into(), "b".into()]),
                not_equals: Some(vec!["c".into()]),
                greater_than: Some(5),
                greater_than_or_equal: Some(1),
                less_than_or_equal: Some(8),
                ..Default::default()
            }
        );
    }
}
