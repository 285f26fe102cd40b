//! TagResource, UntagResource, ListTagsForResource — for the caller's detector ARN.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_model as model;

use super::OpContext;
use crate::error::ApiError;
use crate::rest;

/// The model's TagKey pattern, `(?!aws:)[a-zA-Z+-=._:/]+`: note `+-=` is a range (0x2B..=0x3D),
/// which takes in digits, `,`, `-`, `.`, `/`, `:`, `;`, `<` and `=`.
const TAG_KEY_PATTERN: &str = "^(?!aws:)[a-zA-Z+-=._:/]+$";

pub fn is_valid_tag_key(key: &str) -> bool {
    !key.starts_with("aws:")
        && !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphabetic() || (b'+'..=b'=').contains(&b) || matches!(b, b'.' | b'_' | b':' | b'/'))
}

/// Rejects keys the model's pattern rejects (the generated validator checks only lengths).
pub fn check_keys<'a>(keys: impl IntoIterator<Item = &'a String>, member: &str) -> Result<(), ApiError> {
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
    if violations.is_empty() { Ok(()) } else { Err(ApiError::violations(&violations)) }
}

/// The detector id named by `arn` if it is a detector ARN of the caller's scope.
/// A malformed ARN is an invalid parameter; another account's or Region's detector is, like an
/// unknown one, "not owned".
async fn owned_detector_arn(ctx: &OpContext, arn: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(ApiError::invalid_parameter("resourceArn"));
    };
    let Some(detector_id) = resource.strip_prefix("detector/") else {
        return Err(ApiError::invalid_parameter("resourceArn"));
    };
    if prefix != "arn" || service != "guardduty" || partition.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) || detector_id.is_empty() {
        return Err(ApiError::invalid_parameter("resourceArn"));
    }
    let scope = ctx.scope();
    if partition != scope.partition() || region != scope.region || account != scope.account_id {
        return Err(ApiError::detector_not_owned());
    }
    let detector = ctx.owned_detector(detector_id).await?;
    Ok(detector.id)
}

pub async fn tag(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::TagResourceRequest = rest::parse_body(&ctx.body)?;
    req.resource_arn = ctx.label("ResourceArn");
    rest::validate(&req)?;
    check_keys(req.tags.iter().flat_map(|t| t.keys()), "tags")?;
    let detector_id = owned_detector_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let tags = req.tags.unwrap_or_default();
    ctx.store(move |s| s.tag_resource(&scope, &scope.detector_arn(&detector_id), &tags)).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub async fn untag(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::UntagResourceRequest { resource_arn: ctx.label("ResourceArn"), tag_keys: rest::query_all(&ctx.query, "tagKeys") };
    rest::validate(&req)?;
    check_keys(req.tag_keys.iter().flatten(), "tagKeys")?;
    let detector_id = owned_detector_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let keys = req.tag_keys.unwrap_or_default();
    ctx.store(move |s| s.untag_resource(&scope, &scope.detector_arn(&detector_id), &keys)).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListTagsForResourceRequest { resource_arn: ctx.label("ResourceArn") };
    rest::validate(&req)?;
    let detector_id = owned_detector_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let tags = ctx.store(move |s| s.list_tags(&scope, &scope.detector_arn(&detector_id))).await?;
    rest::json(&model::ListTagsForResourceResponse { tags: Some(tags) })
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
