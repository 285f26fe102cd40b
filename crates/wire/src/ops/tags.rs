//! TagResource, UntagResource, ListTagsForResource — for the caller's detector and filter ARNs.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_model as model;
use vedette_store::filters::filter_arn;
use vedette_store::lists::ListKind;

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

/// The ARN tags are kept under, if `arn` names a resource of the caller's scope: its detector
/// (`detector/<id>`) or something under it (`detector/<id>/filter/<name>`,
/// `detector/<id>/publishingdestination/<id>`).
/// A malformed ARN is an invalid parameter; another account's or Region's detector is, like an
/// unknown one, "not owned"; an unknown resource under an owned detector is that resource's
/// "no such resource".
async fn owned_resource_arn(ctx: &OpContext, arn: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(ApiError::invalid_parameter("resourceArn"));
    };
    let Some(path) = resource.strip_prefix("detector/") else {
        return Err(ApiError::invalid_parameter("resourceArn"));
    };
    let (detector_id, child) = match path.split_once('/') {
        Some((id, child)) => (id, Some(child)),
        None => (path, None),
    };
    if prefix != "arn" || service != "guardduty" || partition.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) || detector_id.is_empty() {
        return Err(ApiError::invalid_parameter("resourceArn"));
    }
    let scope = ctx.scope();
    if partition != scope.partition() || region != scope.region || account != scope.account_id {
        return Err(ApiError::detector_not_owned());
    }
    let detector = ctx.owned_detector(detector_id).await?;
    match child.map(|c| c.split_once('/')) {
        None => Ok(scope.detector_arn(&detector.id)),
        Some(Some(("filter", name))) if !name.is_empty() => {
            super::filters::exists(ctx, detector.id.clone(), name.to_string()).await?;
            Ok(filter_arn(scope, &detector.id, name))
        }
        Some(Some(("publishingdestination", id))) if !id.is_empty() => {
            super::destinations::exists(ctx, detector.id.clone(), id.to_string()).await?;
            Ok(vedette_store::destinations::destination_arn(scope, &detector.id, id))
        }
        Some(Some((segment @ ("ipset" | "threatintelset"), id))) if !id.is_empty() => {
            let kind = if segment == "ipset" { ListKind::Trusted } else { ListKind::Threat };
            super::lists::exists(ctx, kind, detector.id.clone(), id.to_string()).await?;
            Ok(kind.arn(scope, &detector.id, id))
        }
        Some(_) => Err(ApiError::invalid_parameter("resourceArn")),
    }
}

pub async fn tag(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::TagResourceRequest = rest::parse_body(&ctx.body)?;
    req.resource_arn = ctx.label("ResourceArn");
    rest::validate(&req)?;
    check_keys(req.tags.iter().flat_map(|t| t.keys()), "tags")?;
    let arn = owned_resource_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let tags = req.tags.unwrap_or_default();
    ctx.store(move |s| s.tag_resource(&scope, &arn, &tags)).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub async fn untag(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::UntagResourceRequest { resource_arn: ctx.label("ResourceArn"), tag_keys: rest::query_all(&ctx.query, "tagKeys") };
    rest::validate(&req)?;
    check_keys(req.tag_keys.iter().flatten(), "tagKeys")?;
    let arn = owned_resource_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let keys = req.tag_keys.unwrap_or_default();
    ctx.store(move |s| s.untag_resource(&scope, &arn, &keys)).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListTagsForResourceRequest { resource_arn: ctx.label("ResourceArn") };
    rest::validate(&req)?;
    let arn = owned_resource_arn(&ctx, req.resource_arn.as_deref().unwrap_or_default()).await?;
    let scope = ctx.scope().clone();
    let tags = ctx.store(move |s| s.list_tags(&scope, &arn)).await?;
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
