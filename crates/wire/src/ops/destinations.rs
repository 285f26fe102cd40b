//! CreatePublishingDestination, DescribePublishingDestination, ListPublishingDestinations,
//! UpdatePublishingDestination, DeletePublishingDestination (destination type S3).
//!
//! The bucket is checked by the publisher (`vedette-export`), not here: a new or changed
//! destination is PENDING_VERIFICATION until its first check or write, within about a second,
//! then PUBLISHING or UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY. A suspended detector's
//! destinations report STOPPED.
use axum::http::StatusCode;
use axum::response::Response;
use vedette_domain::ids;
use vedette_model as model;
use vedette_store::StoreError;
use vedette_store::destinations::{
    DESTINATION_TYPE_S3, Destination, DestinationProperties, S3DestinationArn, UNKNOWN_DESTINATION, consumer_name,
    is_valid_kms_key_arn,
};

use super::{OpContext, tags};
use crate::error::ApiError;
use crate::rest;

/// ListPublishingDestinations' page size when the client gives none (the model's maximum).
const DEFAULT_MAX_RESULTS: i32 = 50;
const STOPPED: &str = "STOPPED";

pub async fn create(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::CreatePublishingDestinationRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    rest::validate(&req)?;
    if let Some(t) = &req.tags {
        tags::check_keys(t.keys(), "tags")?;
    }
    let detector = ctx
        .owned_detector(req.detector_id.as_deref().unwrap_or_default())
        .await?;
    let properties = checked_properties(req.destination_properties.unwrap_or_default())?;
    let destination_type = req.destination_type.unwrap_or_else(|| DESTINATION_TYPE_S3.to_string());
    let scope = ctx.scope().clone();
    let tags = req.tags.unwrap_or_default();
    // An empty token is no token: it cannot identify a retry.
    let token = req.client_token.filter(|t| !t.is_empty());
    let detector_id = detector.id.clone();
    let created = ctx
        .store_raw(move |s| {
            let d = s.create_destination(
                &scope,
                &detector_id,
                &destination_type,
                &properties,
                &tags,
                token.as_deref(),
            )?;
            // Before answering: findings raised from now on are queued for the destination.
            s.register_consumer(&consumer_name(&d.id), Some(&detector_id))?;
            Ok(d)
        })
        .await;
    let destination = match created {
        // GuardDuty's own wording ("The request failed because a publishingDestination already exists…").
        Err(StoreError::Conflict(message)) => return Err(ApiError::bad_request(message)),
        other => other?,
    };
    rest::json(&model::CreatePublishingDestinationResponse {
        destination_id: Some(destination.id),
    })
}

pub async fn describe(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DescribePublishingDestinationRequest {
        detector_id: ctx.label("DetectorId"),
        destination_id: ctx.label("DestinationId"),
    };
    rest::validate(&req)?;
    let d = owned_destination(
        &ctx,
        req.detector_id.unwrap_or_default(),
        req.destination_id.unwrap_or_default(),
    )
    .await?;
    rest::json(&model::DescribePublishingDestinationResponse {
        destination_id: Some(d.id.clone()),
        destination_type: Some(d.destination_type.clone()),
        status: Some(status(&d).to_string()),
        // Required by the model: 0 = no failure (what moto and SDK defaults show).
        publishing_failure_start_timestamp: Some(d.failure_started_ms.unwrap_or(0)),
        destination_properties: Some(wire_properties(&d.properties)),
        tags: Some(d.tags),
    })
}

pub async fn list(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::ListPublishingDestinationsRequest {
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
        .store(move |s| s.list_destinations(&scope, &detector.id, max, token.as_deref()))
        .await?;
    rest::json(&model::ListPublishingDestinationsResponse {
        destinations: Some(
            page.items
                .iter()
                .map(|d| model::Destination {
                    destination_id: Some(d.id.clone()),
                    destination_type: Some(d.destination_type.clone()),
                    status: Some(status(d).to_string()),
                })
                .collect(),
        ),
        next_token: page.next_token,
    })
}

pub async fn update(ctx: OpContext) -> Result<Response, ApiError> {
    let mut req: model::UpdatePublishingDestinationRequest = rest::parse_body(&ctx.body)?;
    req.detector_id = ctx.label("DetectorId");
    req.destination_id = ctx.label("DestinationId");
    rest::validate(&req)?;
    let current = owned_destination(
        &ctx,
        req.detector_id.unwrap_or_default(),
        req.destination_id.unwrap_or_default(),
    )
    .await?;
    let Some(given) = req
        .destination_properties
        .filter(|p| p.destination_arn.is_some() || p.kms_key_arn.is_some() || p.expected_bucket_owner.is_some())
    else {
        return Err(ApiError::invalid_value(Some(
            "destinationProperties must name something to change",
        )));
    };
    // Members not given keep their values.
    let merged = model::DestinationProperties {
        destination_arn: given
            .destination_arn
            .or(Some(current.properties.destination_arn.clone())),
        kms_key_arn: given.kms_key_arn.or(Some(current.properties.kms_key_arn.clone())),
        expected_bucket_owner: given
            .expected_bucket_owner
            .or(current.properties.expected_bucket_owner.clone()),
    };
    let properties = checked_properties(merged)?;
    let scope = ctx.scope().clone();
    ctx.store(move |s| s.update_destination(&scope, &current.detector_id, &current.id, &properties))
        .await?;
    Ok(rest::empty(StatusCode::OK))
}

pub async fn delete(ctx: OpContext) -> Result<Response, ApiError> {
    let req = model::DeletePublishingDestinationRequest {
        detector_id: ctx.label("DetectorId"),
        destination_id: ctx.label("DestinationId"),
    };
    rest::validate(&req)?;
    let d = owned_destination(
        &ctx,
        req.detector_id.unwrap_or_default(),
        req.destination_id.unwrap_or_default(),
    )
    .await?;
    let scope = ctx.scope().clone();
    ctx.store(move |s| {
        s.delete_destination(&scope, &d.detector_id, &d.id)?;
        // Findings still queued for it are dropped with the consumer.
        s.unregister_consumer(&consumer_name(&d.id))
    })
    .await?;
    Ok(rest::empty(StatusCode::OK))
}

/// The caller's destination: a foreign or unknown detector is the usual "not owned" answer, an
/// unknown destination of the caller's detector GuardDuty's invalid-parameters answer.
async fn owned_destination(
    ctx: &OpContext,
    detector_id: String,
    destination_id: String,
) -> Result<Destination, ApiError> {
    let detector = ctx.owned_detector(&detector_id).await?;
    if !ids::is_well_formed_id(&destination_id) {
        return Err(ApiError::bad_request(UNKNOWN_DESTINATION));
    }
    let scope = ctx.scope().clone();
    ctx.store(move |s| s.get_destination(&scope, &detector.id, &destination_id))
        .await
}

/// Ok if the caller's detector has this destination (TagResource on a destination ARN).
pub(crate) async fn exists(ctx: &OpContext, detector_id: String, destination_id: String) -> Result<(), ApiError> {
    owned_destination(ctx, detector_id, destination_id).await.map(|_| ())
}

/// The status clients see: a suspended detector publishes nothing.
fn status(d: &Destination) -> &'static str {
    if d.detector_enabled { d.status.as_str() } else { STOPPED }
}

fn wire_properties(p: &DestinationProperties) -> model::DestinationProperties {
    model::DestinationProperties {
        destination_arn: Some(p.destination_arn.clone()),
        kms_key_arn: Some(p.kms_key_arn.clone()),
        expected_bucket_owner: p.expected_bucket_owner.clone(),
    }
}

/// `destinationArn` must be an S3 bucket (or bucket folder) ARN. `kmsKeyArn` is required, as
/// GuardDuty requires a key for S3 exports; Vedette stores and reports it but does not encrypt
/// with it (objects are written with the bucket's default encryption).
fn checked_properties(p: model::DestinationProperties) -> Result<DestinationProperties, ApiError> {
    let destination_arn = p.destination_arn.unwrap_or_default();
    if S3DestinationArn::parse(&destination_arn).is_none() {
        return Err(ApiError::invalid_parameter("destinationArn"));
    }
    let kms_key_arn = p.kms_key_arn.unwrap_or_default();
    if !is_valid_kms_key_arn(&kms_key_arn) {
        return Err(ApiError::invalid_parameter("kmsKeyArn"));
    }
    if let Some(owner) = &p.expected_bucket_owner
        && !(owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::invalid_parameter("expectedBucketOwner"));
    }
    Ok(DestinationProperties {
        destination_arn,
        kms_key_arn,
        expected_bucket_owner: p.expected_bucket_owner,
    })
}
