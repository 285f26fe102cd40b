//! ListFindings, GetFindings, ArchiveFindings, UnarchiveFindings, UpdateFindingsFeedback.
use vedette_domain::criteria::{self, CriteriaError};
use vedette_model as model;

use crate::{DEFAULT_PAGE_SIZE, Principal, Result, Service, ServiceError, page_size, token, validate};

/// CriteriaError messages are already GuardDuty-worded ("The request is rejected because ...").
pub fn criteria_error(e: CriteriaError) -> ServiceError {
    ServiceError::bad_request(e.to_string())
}

impl Service {
    pub async fn list_findings(&self, p: &Principal, input: model::ListFindingsRequest) -> Result<model::ListFindingsResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let criteria = criteria::parse_criteria(input.finding_criteria.as_ref()).map_err(criteria_error)?;
        let sort = criteria::parse_sort(input.sort_criteria.as_ref()).map_err(criteria_error)?;
        let max = page_size(input.max_results, DEFAULT_PAGE_SIZE);
        let next = token(input.next_token);
        let page = self.store(move |s| s.list_findings(&detector.id, &criteria, &sort, max, next.as_deref())).await?;
        Ok(model::ListFindingsResponse { finding_ids: Some(page.items), next_token: page.next_token })
    }

    pub async fn get_findings(&self, p: &Principal, input: model::GetFindingsRequest) -> Result<model::GetFindingsResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let sort = match &input.sort_criteria {
            Some(s) => Some(criteria::parse_sort(Some(s)).map_err(criteria_error)?),
            None => None,
        };
        let ids = input.finding_ids.unwrap_or_default();
        let findings = self.store(move |s| s.get_findings(&detector.id, &ids, sort.as_ref())).await?;
        Ok(model::GetFindingsResponse { findings: Some(findings) })
    }

    pub async fn archive_findings(&self, p: &Principal, input: model::ArchiveFindingsRequest) -> Result<model::ArchiveFindingsResponse> {
        validate(&input)?;
        self.set_archived(p, input.detector_id.unwrap_or_default(), input.finding_ids.unwrap_or_default(), true).await?;
        Ok(model::ArchiveFindingsResponse::default())
    }

    pub async fn unarchive_findings(&self, p: &Principal, input: model::UnarchiveFindingsRequest) -> Result<model::UnarchiveFindingsResponse> {
        validate(&input)?;
        self.set_archived(p, input.detector_id.unwrap_or_default(), input.finding_ids.unwrap_or_default(), false).await?;
        Ok(model::UnarchiveFindingsResponse::default())
    }

    async fn set_archived(&self, p: &Principal, detector_id: String, ids: Vec<String>, archived: bool) -> Result<()> {
        let detector = self.owned_detector(p, &detector_id).await?;
        if !ids.is_empty() {
            self.store(move |s| s.set_archived(&detector.id, &ids, archived)).await?;
        }
        Ok(())
    }

    pub async fn update_findings_feedback(
        &self,
        p: &Principal,
        input: model::UpdateFindingsFeedbackRequest,
    ) -> Result<model::UpdateFindingsFeedbackResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let ids = input.finding_ids.unwrap_or_default();
        let feedback = input.feedback.unwrap_or_default();
        let comments = input.comments;
        if !ids.is_empty() {
            self.store(move |s| s.set_feedback(&detector.id, &ids, &feedback, comments.as_deref())).await?;
        }
        Ok(model::UpdateFindingsFeedbackResponse::default())
    }
}
