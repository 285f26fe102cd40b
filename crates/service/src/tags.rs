//! TagResource, UntagResource, ListTagsForResource — for the ARNs of the principal's detectors and
//! of what they hold (filters, IPSets, ThreatIntelSets, publishing destinations).
use vedette_model as model;
use vedette_store::filters::filter_arn;
use vedette_store::lists::ListKind;

use crate::{Principal, Result, Service, ServiceError, validate};

/// The model's TagKey pattern, `(?!aws:)[a-zA-Z+-=._:/]+`: note `+-=` is a range (0x2B..=0x3D),
/// which takes in digits, `,`, `-`, `.`, `/`, `:`, `;`, `<` and `=`.
const TAG_KEY_PATTERN: &str = "^(?!aws:)[a-zA-Z+-=._:/]+$";

pub fn is_valid_tag_key(key: &str) -> bool {
    !key.starts_with("aws:")
        && !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphabetic() || (b'+'..=b'=').contains(&b) || matches!(b, b'.' | b'_' | b':' | b'/'))
}

/// Rejects keys the model's pattern rejects (the generated validator checks only lengths).
pub fn check_keys<'a>(keys: impl IntoIterator<Item = &'a String>, member: &str) -> Result<()> {
    let mut violations = model::Violations::default();
    for key in keys {
        if !is_valid_tag_key(key) {
            violations.0.push(model::Violation {
                path: member.to_string(),
                constraint: format!("Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}"),
            });
            break;
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(ServiceError::violations(&violations)) }
}

impl Service {
    /// The ARN tags are kept under, if `arn` names a resource the principal owns: its detector
    /// (`detector/<id>`) or something under it (`detector/<id>/filter/<name>`,
    /// `detector/<id>/publishingdestination/<id>`, `detector/<id>/ipset/<id>`,
    /// `detector/<id>/threatintelset/<id>`). A malformed ARN is an invalid parameter; another
    /// account's or Region's detector is, like an unknown one, "not owned"; an unknown resource
    /// under an owned detector is that resource's "no such resource".
    async fn owned_resource_arn(&self, p: &Principal, arn: &str) -> Result<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(ServiceError::invalid_parameter("resourceArn"));
        };
        let Some(path) = resource.strip_prefix("detector/") else {
            return Err(ServiceError::invalid_parameter("resourceArn"));
        };
        let (detector_id, child) = match path.split_once('/') {
            Some((id, child)) => (id, Some(child)),
            None => (path, None),
        };
        if prefix != "arn" || service != "guardduty" || partition.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) || detector_id.is_empty()
        {
            return Err(ServiceError::invalid_parameter("resourceArn"));
        }
        let scope = &p.scope;
        if partition != scope.partition() || region != scope.region || account != scope.account_id {
            return Err(ServiceError::detector_not_owned());
        }
        let detector = self.owned_detector(p, detector_id).await?;
        match child.map(|c| c.split_once('/')) {
            None => Ok(scope.detector_arn(&detector.id)),
            Some(Some(("filter", name))) if !name.is_empty() => {
                let (owner, detector_id, filter) = (scope.clone(), detector.id.clone(), name.to_string());
                self.store(move |s| s.get_filter(&owner, &detector_id, &filter).map(|_| ())).await?;
                Ok(filter_arn(scope, &detector.id, name))
            }
            Some(Some(("publishingdestination", id))) if !id.is_empty() => {
                self.owned_destination(p, detector.id.clone(), id.to_string()).await?;
                Ok(vedette_store::destinations::destination_arn(scope, &detector.id, id))
            }
            Some(Some((segment @ ("ipset" | "threatintelset"), id))) if !id.is_empty() => {
                let kind = if segment == "ipset" { ListKind::Trusted } else { ListKind::Threat };
                self.existing_list(p, kind, detector.id.clone(), id.to_string()).await?;
                Ok(kind.arn(scope, &detector.id, id))
            }
            Some(_) => Err(ServiceError::invalid_parameter("resourceArn")),
        }
    }

    pub async fn tag_resource(&self, p: &Principal, input: model::TagResourceRequest) -> Result<model::TagResourceResponse> {
        validate(&input)?;
        check_keys(input.tags.iter().flat_map(|t| t.keys()), "tags")?;
        let arn = self.owned_resource_arn(p, input.resource_arn.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let tags = input.tags.unwrap_or_default();
        self.store(move |s| s.tag_resource(&scope, &arn, &tags)).await?;
        Ok(model::TagResourceResponse::default())
    }

    pub async fn untag_resource(&self, p: &Principal, input: model::UntagResourceRequest) -> Result<model::UntagResourceResponse> {
        validate(&input)?;
        check_keys(input.tag_keys.iter().flatten(), "tagKeys")?;
        let arn = self.owned_resource_arn(p, input.resource_arn.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let keys = input.tag_keys.unwrap_or_default();
        self.store(move |s| s.untag_resource(&scope, &arn, &keys)).await?;
        Ok(model::UntagResourceResponse::default())
    }

    pub async fn list_tags_for_resource(
        &self,
        p: &Principal,
        input: model::ListTagsForResourceRequest,
    ) -> Result<model::ListTagsForResourceResponse> {
        validate(&input)?;
        let arn = self.owned_resource_arn(p, input.resource_arn.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let tags = self.store(move |s| s.list_tags(&scope, &arn)).await?;
        Ok(model::ListTagsForResourceResponse { tags: Some(tags) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_model_tag_key_pattern() {
        for ok in ["Team", "a/b", "cost-center", "x.y_z", "k=v", "0", "a:b", "aws", "AWS:x"] {
            assert!(is_valid_tag_key(ok), "{ok}");
        }
        for bad in ["aws:reserved", "", "with space", "ünicode", "a@b", "a?b"] {
            assert!(!is_valid_tag_key(bad), "{bad}");
        }
    }
}
