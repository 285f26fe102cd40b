//! CreateSampleFindings: one sample per requested type (every current type when none is named),
//! stored like any detection so that repeating the call aggregates into the same samples.
use vedette_domain::finding_types::{self, FindingType};
use vedette_domain::{Evidence, Occurrence, samples, time};
use vedette_model as model;
use vedette_store::Commit;

use crate::{Principal, Result, Service, ServiceError, validate};

/// Evidence rule recorded for samples (`vedette explain` shows it).
pub const SAMPLE_RULE: &str = "sample";

/// The catalogue entries a request names: none ⇒ every non-retired type; retired types may be
/// asked for by name; an unknown name is a 400.
pub fn requested_types(names: Option<&[String]>) -> Result<Vec<&'static FindingType>> {
    let names = names.unwrap_or_default();
    if names.is_empty() {
        return Ok(finding_types::CATALOGUE.iter().filter(|t| !t.retired).collect());
    }
    let mut types: Vec<&'static FindingType> = Vec::with_capacity(names.len());
    for name in names {
        let ty = finding_types::lookup(name)
            .ok_or_else(|| ServiceError::invalid_value(Some(&format!("findingTypes contains an unsupported finding type: {name}"))))?;
        if !types.iter().any(|t| t.name == ty.name) {
            types.push(ty);
        }
    }
    Ok(types)
}

impl Service {
    pub async fn create_sample_findings(
        &self,
        p: &Principal,
        input: model::CreateSampleFindingsRequest,
    ) -> Result<model::CreateSampleFindingsResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let types = requested_types(input.finding_types.as_deref())?;
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
            self.store(move |s| s.commit(&Commit::occurrences(&occurrences))).await?;
        }
        Ok(model::CreateSampleFindingsResponse::default())
    }
}
