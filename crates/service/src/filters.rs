//! CreateFilter, GetFilter, ListFilters, UpdateFilter, DeleteFilter.
//!
//! Criteria are checked with the same parser ListFindings uses and stored in GuardDuty's current
//! spelling: legacy operators (`eq`, `gt`, …) become their long synonyms (`equals`,
//! `greaterThan`, …), as GuardDuty itself returns them from GetFilter. ARCHIVE filters are
//! suppression rules: they archive matching findings as they are created or updated, never
//! retroactively (see `vedette_domain::commit`).
use vedette_domain::criteria;
use vedette_model as model;
use vedette_store::filters::{FilterAction, FilterUpdate, NewFilter};
use vedette_store::{Resource, StoreError};

use crate::findings::criteria_error;
use crate::{DEFAULT_PAGE_SIZE, Principal, Result, Service, ServiceError, page_size, tags, token, validate};

/// Filter names: 3..64 (checked by the model) of `[A-Za-z0-9._-]`.
pub fn is_valid_filter_name(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_name(name: &str) -> Result<()> {
    if is_valid_filter_name(name) { Ok(()) } else { Err(ServiceError::invalid_parameter("name")) }
}

fn action(text: Option<&str>) -> Result<Option<FilterAction>> {
    // The model's enum check has run; anything else here is a server bug, still a 400.
    text.map(|t| FilterAction::parse(t).ok_or_else(|| ServiceError::invalid_parameter("action"))).transpose()
}

/// Validates criteria as ListFindings does and returns them in canonical spelling. A filter
/// without any criterion would match every finding (an ARCHIVE one would hide them all), so it is
/// refused (decision; GuardDuty's console does not allow one either).
fn checked_criteria(c: &model::FindingCriteria) -> Result<model::FindingCriteria> {
    let parsed = criteria::parse_criteria(Some(c)).map_err(criteria_error)?;
    if parsed.is_empty() {
        return Err(ServiceError::invalid_value(Some("findingCriteria needs at least one criterion")));
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

impl Service {
    pub async fn create_filter(&self, p: &Principal, input: model::CreateFilterRequest) -> Result<model::CreateFilterResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let name = input.name.unwrap_or_default();
        check_name(&name)?;
        if let Some(t) = &input.tags {
            tags::check_keys(t.keys(), "tags")?;
        }
        let action = action(input.action.as_deref())?.unwrap_or(FilterAction::Noop);
        let criteria = checked_criteria(&input.finding_criteria.unwrap_or_default())?;
        let filter = NewFilter {
            name: name.clone(),
            description: input.description,
            action,
            rank: input.rank.map(|r| r as u32),
            criteria,
            tags: input.tags.unwrap_or_default(),
        };
        let client_token = token(input.client_token);
        let scope = p.scope.clone();
        let created = self.store_raw(move |s| s.create_filter(&scope, &detector.id, filter, client_token.as_deref())).await;
        let name = match created {
            Err(StoreError::AlreadyExists(Resource::Filter)) => return Err(ServiceError::filter_exists(&name)),
            other => other?,
        };
        Ok(model::CreateFilterResponse { name: Some(name) })
    }

    pub async fn get_filter(&self, p: &Principal, input: model::GetFilterRequest) -> Result<model::GetFilterResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let name = input.filter_name.unwrap_or_default();
        let f = self.store(move |s| s.get_filter(&scope, &detector.id, &name)).await?;
        Ok(model::GetFilterResponse {
            name: Some(f.name),
            description: f.description,
            action: Some(f.action.as_str().to_string()),
            rank: Some(f.rank as i32),
            finding_criteria: Some(f.criteria),
            tags: Some(f.tags),
            // Timestamp members are epoch seconds on the wire.
            created_at: Some(f.created_at_ms as f64 / 1000.0),
            updated_at: Some(f.updated_at_ms as f64 / 1000.0),
            version: Some(f.version),
        })
    }

    pub async fn list_filters(&self, p: &Principal, input: model::ListFiltersRequest) -> Result<model::ListFiltersResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let max = page_size(input.max_results, DEFAULT_PAGE_SIZE);
        let next = token(input.next_token);
        let page = self.store(move |s| s.list_filters(&scope, &detector.id, max, next.as_deref())).await?;
        Ok(model::ListFiltersResponse { filter_names: Some(page.items), next_token: page.next_token })
    }

    pub async fn update_filter(&self, p: &Principal, input: model::UpdateFilterRequest) -> Result<model::UpdateFilterResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let update = FilterUpdate {
            description: input.description,
            action: action(input.action.as_deref())?,
            rank: input.rank.map(|r| r as u32),
            criteria: input.finding_criteria.as_ref().map(checked_criteria).transpose()?,
        };
        let scope = p.scope.clone();
        let name = input.filter_name.unwrap_or_default();
        let updated = name.clone();
        self.store(move |s| s.update_filter(&scope, &detector.id, &updated, update)).await?;
        Ok(model::UpdateFilterResponse { name: Some(name) })
    }

    pub async fn delete_filter(&self, p: &Principal, input: model::DeleteFilterRequest) -> Result<model::DeleteFilterResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let name = input.filter_name.unwrap_or_default();
        self.store(move |s| s.delete_filter(&scope, &detector.id, &name)).await?;
        Ok(model::DeleteFilterResponse::default())
    }
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
        let c = model::FindingCriteria { criterion: Some(BTreeMap::from([("type".to_string(), legacy)])) };
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
