//! GetFindingsStatistics in both forms: the 2020 `findingStatisticTypes: [COUNT_BY_SEVERITY]`
//! and the current `groupBy` (exactly one of them, as the current model documents).
use chrono::NaiveDate;
use vedette_domain::criteria;
use vedette_model as model;
use vedette_store::{Group, GroupBy};

use crate::findings::criteria_error;
use crate::{Principal, Result, Service, ServiceError, page_size, validate};

/// `maxResults` default of the groupBy form (model documentation).
const DEFAULT_MAX_RESULTS: i32 = 25;

fn group_by(name: &str) -> Option<GroupBy> {
    Some(match name {
        "ACCOUNT" => GroupBy::Account,
        "DATE" => GroupBy::Date,
        "FINDING_TYPE" => GroupBy::FindingType,
        "RESOURCE" => GroupBy::Resource,
        "SEVERITY" => GroupBy::Severity,
        _ => return None,
    })
}

fn count(n: i64) -> Option<i32> {
    Some(n.clamp(0, i32::MAX as i64) as i32)
}

/// Timestamp members use rest-json's default: epoch seconds.
fn epoch_secs(ms: i64) -> Option<f64> {
    Some(ms as f64 / 1000.0)
}

pub fn grouped(by: GroupBy, groups: Vec<Group>) -> model::FindingStatistics {
    let mut stats = model::FindingStatistics::default();
    match by {
        GroupBy::Account => {
            stats.grouped_by_account = Some(
                groups
                    .into_iter()
                    .map(|g| model::AccountStatistics {
                        account_id: Some(g.key),
                        last_generated_at: epoch_secs(g.last_generated_ms),
                        total_findings: count(g.total),
                    })
                    .collect(),
            )
        }
        GroupBy::Date => {
            stats.grouped_by_date = Some(
                groups
                    .into_iter()
                    .map(|g| model::DateStatistics {
                        date: NaiveDate::parse_from_str(&g.key, "%Y-%m-%d")
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|t| t.and_utc().timestamp() as f64),
                        last_generated_at: epoch_secs(g.last_generated_ms),
                        severity: g.severity,
                        total_findings: count(g.total),
                    })
                    .collect(),
            )
        }
        GroupBy::FindingType => {
            stats.grouped_by_finding_type = Some(
                groups
                    .into_iter()
                    .map(|g| model::FindingTypeStatistics {
                        finding_type: Some(g.key),
                        last_generated_at: epoch_secs(g.last_generated_ms),
                        total_findings: count(g.total),
                    })
                    .collect(),
            )
        }
        GroupBy::Resource => {
            stats.grouped_by_resource = Some(
                groups
                    .into_iter()
                    .map(|g| model::ResourceStatistics {
                        account_id: g.account_id,
                        last_generated_at: epoch_secs(g.last_generated_ms),
                        resource_id: Some(g.key),
                        resource_type: g.resource_type,
                        total_findings: count(g.total),
                    })
                    .collect(),
            )
        }
        GroupBy::Severity => {
            stats.grouped_by_severity = Some(
                groups
                    .into_iter()
                    .map(|g| model::SeverityStatistics {
                        severity: g.severity.or_else(|| g.key.parse().ok()),
                        last_generated_at: epoch_secs(g.last_generated_ms),
                        total_findings: count(g.total),
                    })
                    .collect(),
            )
        }
    }
    stats
}

impl Service {
    pub async fn get_findings_statistics(
        &self,
        p: &Principal,
        input: model::GetFindingsStatisticsRequest,
    ) -> Result<model::GetFindingsStatisticsResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let statistic_types = input.finding_statistic_types.as_deref().unwrap_or_default();
        let form = match (statistic_types.is_empty(), input.group_by.as_deref()) {
            (false, None) => None,
            (true, Some(g)) => Some(group_by(g).ok_or_else(|| ServiceError::invalid_value(Some("groupBy")))?),
            _ => return Err(ServiceError::invalid_value(Some("specify exactly one of findingStatisticTypes and groupBy"))),
        };
        let criteria = criteria::parse_criteria(input.finding_criteria.as_ref()).map_err(criteria_error)?;
        let statistics = match form {
            None => {
                let counts = self.store(move |s| s.count_by_severity(&detector.id, &criteria)).await?;
                model::FindingStatistics {
                    count_by_severity: Some(counts.into_iter().map(|(k, v)| (k, count(v).unwrap_or_default())).collect()),
                    ..Default::default()
                }
            }
            Some(by) => {
                let descending = input.order_by.as_deref() != Some("ASC");
                let max = page_size(input.max_results, DEFAULT_MAX_RESULTS);
                let groups = self.store(move |s| s.group_findings(&detector.id, &criteria, by, descending, max)).await?;
                grouped(by, groups)
            }
        };
        Ok(model::GetFindingsStatisticsResponse { finding_statistics: Some(statistics), next_token: None })
    }
}
