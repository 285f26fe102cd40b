//! CreatePublishingDestination, DescribePublishingDestination, ListPublishingDestinations,
//! UpdatePublishingDestination, DeletePublishingDestination (destination type S3).
//!
//! The bucket is checked by the publisher (`vedette-export`), not here: a new or changed
//! destination is PENDING_VERIFICATION until its first check or write, within about a second,
//! then PUBLISHING or UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY. A suspended detector's
//! destinations report STOPPED.
use vedette_domain::ids;
use vedette_model as model;
use vedette_store::destinations::{DESTINATION_TYPE_S3, Destination, DestinationProperties, S3DestinationArn, consumer_name, is_valid_kms_key_arn};

use crate::{DEFAULT_PAGE_SIZE, Principal, Result, Service, ServiceError, page_size, tags, token, validate};

const STOPPED: &str = "STOPPED";

impl Service {
    pub async fn create_publishing_destination(
        &self,
        p: &Principal,
        input: model::CreatePublishingDestinationRequest,
    ) -> Result<model::CreatePublishingDestinationResponse> {
        validate(&input)?;
        if let Some(t) = &input.tags {
            tags::check_keys(t.keys(), "tags")?;
        }
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let properties = checked_properties(input.destination_properties.unwrap_or_default())?;
        let destination_type = input.destination_type.unwrap_or_else(|| DESTINATION_TYPE_S3.to_string());
        let scope = p.scope.clone();
        let tags = input.tags.unwrap_or_default();
        let client_token = token(input.client_token);
        let detector_id = detector.id.clone();
        let destination = self
            .store(move |s| {
                let d = s.create_destination(&scope, &detector_id, &destination_type, &properties, &tags, client_token.as_deref())?;
                // Before answering: findings raised from now on are queued for the destination.
                s.register_consumer(&consumer_name(&d.id), Some(&detector_id))?;
                Ok(d)
            })
            .await?;
        Ok(model::CreatePublishingDestinationResponse { destination_id: Some(destination.id) })
    }

    pub async fn describe_publishing_destination(
        &self,
        p: &Principal,
        input: model::DescribePublishingDestinationRequest,
    ) -> Result<model::DescribePublishingDestinationResponse> {
        validate(&input)?;
        let d = self.owned_destination(p, input.detector_id.unwrap_or_default(), input.destination_id.unwrap_or_default()).await?;
        Ok(model::DescribePublishingDestinationResponse {
            destination_id: Some(d.id.clone()),
            destination_type: Some(d.destination_type.clone()),
            status: Some(status(&d).to_string()),
            // Required by the model: 0 = no failure (what moto and SDK defaults show).
            publishing_failure_start_timestamp: Some(d.failure_started_ms.unwrap_or(0)),
            destination_properties: Some(wire_properties(&d.properties)),
            tags: Some(d.tags),
        })
    }

    pub async fn list_publishing_destinations(
        &self,
        p: &Principal,
        input: model::ListPublishingDestinationsRequest,
    ) -> Result<model::ListPublishingDestinationsResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        let max = page_size(input.max_results, DEFAULT_PAGE_SIZE);
        let next = token(input.next_token);
        let page = self.store(move |s| s.list_destinations(&scope, &detector.id, max, next.as_deref())).await?;
        Ok(model::ListPublishingDestinationsResponse {
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

    pub async fn update_publishing_destination(
        &self,
        p: &Principal,
        input: model::UpdatePublishingDestinationRequest,
    ) -> Result<model::UpdatePublishingDestinationResponse> {
        validate(&input)?;
        let current = self.owned_destination(p, input.detector_id.unwrap_or_default(), input.destination_id.unwrap_or_default()).await?;
        let Some(given) =
            input.destination_properties.filter(|p| p.destination_arn.is_some() || p.kms_key_arn.is_some() || p.expected_bucket_owner.is_some())
        else {
            return Err(ServiceError::invalid_value(Some("destinationProperties must name something to change")));
        };
        // Members not given keep their values.
        let merged = model::DestinationProperties {
            destination_arn: given.destination_arn.or(Some(current.properties.destination_arn.clone())),
            kms_key_arn: given.kms_key_arn.or(Some(current.properties.kms_key_arn.clone())),
            expected_bucket_owner: given.expected_bucket_owner.or(current.properties.expected_bucket_owner.clone()),
        };
        let properties = checked_properties(merged)?;
        let scope = p.scope.clone();
        self.store(move |s| s.update_destination(&scope, &current.detector_id, &current.id, &properties)).await?;
        Ok(model::UpdatePublishingDestinationResponse::default())
    }

    pub async fn delete_publishing_destination(
        &self,
        p: &Principal,
        input: model::DeletePublishingDestinationRequest,
    ) -> Result<model::DeletePublishingDestinationResponse> {
        validate(&input)?;
        let d = self.owned_destination(p, input.detector_id.unwrap_or_default(), input.destination_id.unwrap_or_default()).await?;
        let scope = p.scope.clone();
        self.store(move |s| {
            s.delete_destination(&scope, &d.detector_id, &d.id)?;
            // Findings still queued for it are dropped with the consumer.
            s.unregister_consumer(&consumer_name(&d.id))
        })
        .await?;
        Ok(model::DeletePublishingDestinationResponse::default())
    }

    /// The principal's destination: a foreign or unknown detector is the usual "not owned"
    /// answer, an unknown destination of the principal's detector GuardDuty's invalid-parameters
    /// answer.
    pub(crate) async fn owned_destination(&self, p: &Principal, detector_id: String, destination_id: String) -> Result<Destination> {
        let detector = self.owned_detector(p, &detector_id).await?;
        if !ids::is_well_formed_id(&destination_id) {
            return Err(ServiceError::unknown_destination());
        }
        let scope = p.scope.clone();
        self.store(move |s| s.get_destination(&scope, &detector.id, &destination_id)).await
    }
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
fn checked_properties(p: model::DestinationProperties) -> Result<DestinationProperties> {
    let destination_arn = p.destination_arn.unwrap_or_default();
    if S3DestinationArn::parse(&destination_arn).is_none() {
        return Err(ServiceError::invalid_parameter("destinationArn"));
    }
    let kms_key_arn = p.kms_key_arn.unwrap_or_default();
    if !is_valid_kms_key_arn(&kms_key_arn) {
        return Err(ServiceError::invalid_parameter("kmsKeyArn"));
    }
    if let Some(owner) = &p.expected_bucket_owner
        && !(owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ServiceError::invalid_parameter("expectedBucketOwner"));
    }
    Ok(DestinationProperties { destination_arn, kms_key_arn, expected_bucket_owner: p.expected_bucket_owner })
}
