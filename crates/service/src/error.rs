//! The errors GuardDuty's operations answer, with GuardDuty's wording. Each message is written
//! once, here; the wire maps an [`ErrorCode`] to its HTTP status and error shape.
//!
//! Where GuardDuty's exact wording is not documented, the message follows the pattern of the
//! documented ones ("The request is rejected because …") and says so beside it.
use vedette_model::Violations;
use vedette_store::{Resource, StoreError};

const REJECTED: &str = "The request is rejected because";

/// The model's error shapes an operation can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `BadRequestException` (400): every bad input, unknown and foreign resources alike.
    BadRequest,
    /// `InternalServerErrorException` (500).
    InternalServerError,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} ({reason}): {message}")]
pub struct ServiceError {
    pub code: ErrorCode,
    /// The finer reason GuardDuty sends beside the code (`__type`), e.g. `InvalidInputException`.
    pub reason: &'static str,
    pub message: String,
}

impl ServiceError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ServiceError { code: ErrorCode::BadRequest, reason: "InvalidInputException", message: message.into() }
    }

    /// Unknown detector and another account's detector alike: GuardDuty never says 404 here.
    pub fn detector_not_owned() -> Self {
        Self::bad_request(format!("{REJECTED} the input detectorId is not owned by the current account."))
    }

    pub fn invalid_parameter(name: &str) -> Self {
        Self::bad_request(format!("{REJECTED} the parameter {name} has an invalid value."))
    }

    pub fn detector_exists() -> Self {
        Self::bad_request(format!("{REJECTED} a detector already exists for the current account."))
    }

    pub fn malformed_json() -> Self {
        Self::bad_request(format!("{REJECTED} the JSON could not be processed."))
    }

    /// `...an invalid or out-of-range value is specified as an input parameter[: detail]`.
    pub fn invalid_value(detail: Option<&str>) -> Self {
        let base = format!("{REJECTED} an invalid or out-of-range value is specified as an input parameter");
        Self::bad_request(match detail {
            Some(d) if !d.is_empty() => format!("{base}: {d}"),
            _ => format!("{base}."),
        })
    }

    pub fn violations(v: &Violations) -> Self {
        Self::bad_request(v.message())
    }

    /// A model operation this server does not implement: a modelled 400 (every GuardDuty
    /// operation declares BadRequestException), so SDKs raise a typed, non-retried error.
    pub fn unsupported_operation(name: &str) -> Self {
        ServiceError {
            code: ErrorCode::BadRequest,
            reason: "UnsupportedOperationException",
            message: format!("{REJECTED} the operation {name} is not supported by this server."),
        }
    }

    pub fn internal() -> Self {
        ServiceError {
            code: ErrorCode::InternalServerError,
            reason: "InternalServerErrorException",
            message: format!("{REJECTED} an internal server error occurred."),
        }
    }

    /// An unknown filter name (the wording clients such as Terraform expect).
    pub fn no_such_filter() -> Self {
        Self::bad_request("The request is rejected since no such resource found.")
    }

    /// A rank that would leave a gap among the detector's filters (or point past the last one).
    pub fn rank_out_of_bounds() -> Self {
        Self::bad_request(format!("{REJECTED} the parameter rank is out-of-bounds."))
    }

    pub fn filter_exists(name: &str) -> Self {
        Self::bad_request(format!("{REJECTED} a filter named {name} already exists."))
    }

    /// Wording unconfirmed, modelled on the documented messages.
    pub fn client_token_reused(what: &str) -> Self {
        Self::bad_request(format!("{REJECTED} the clientToken was already used to create another {what}."))
    }

    /// An unknown destination id on Describe/Update/Delete. Wording from a third-party capture
    /// of GuardDuty's answer, unconfirmed.
    pub fn unknown_destination() -> Self {
        Self::bad_request(format!("{REJECTED} the one or more input parameters have invalid values."))
    }

    /// A second S3 destination for a detector (the message AWS's own tools show).
    pub fn destination_exists() -> Self {
        Self::bad_request("The request failed because a publishingDestination already exists with the destinationType value provided in the request.")
    }

    /// An unknown (or deleted, or another detector's) IPSet or ThreatIntelSet. Wording
    /// unconfirmed: modelled on the documented "input detectorId is not owned" message.
    pub fn list_not_found(id_parameter: &str) -> Self {
        Self::bad_request(format!("{REJECTED} the input {id_parameter} is not owned by the current account."))
    }

    /// Wording unconfirmed.
    pub fn quota_exceeded(what: &str, max: usize) -> Self {
        Self::bad_request(format!("{REJECTED} the detector already has the maximum number of {what}: {max}. Delete one before creating another."))
    }

    pub fn unknown_findings(ids: &[String]) -> Self {
        Self::bad_request(format!("{REJECTED} the input findingIds are not valid: {}.", ids.join(", ")))
    }

    pub fn bad_next_token() -> Self {
        Self::bad_request(format!("{REJECTED} the nextToken is not valid."))
    }
}

/// Store answers in GuardDuty's terms, where the resource alone decides the wording. Callers
/// with more to say (a filter's name) match the variant first.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(Resource::Detector | Resource::Consumer | Resource::Finding) => ServiceError::detector_not_owned(),
            StoreError::NotFound(Resource::Filter) => ServiceError::no_such_filter(),
            StoreError::NotFound(Resource::IpSet) => ServiceError::list_not_found("ipSetId"),
            StoreError::NotFound(Resource::ThreatIntelSet) => ServiceError::list_not_found("threatIntelSetId"),
            StoreError::NotFound(Resource::PublishingDestination) => ServiceError::unknown_destination(),
            StoreError::AlreadyExists(Resource::Detector) => ServiceError::detector_exists(),
            StoreError::AlreadyExists(Resource::PublishingDestination) => ServiceError::destination_exists(),
            StoreError::AlreadyExists(r) => ServiceError::bad_request(format!("{REJECTED} the {} already exists.", resource_name(r))),
            StoreError::TokenReused(r) => ServiceError::client_token_reused(resource_name(r)),
            StoreError::QuotaExceeded { resource: Resource::Filter, max } => {
                ServiceError::bad_request(format!("{REJECTED} the detector already has the maximum of {max} filters."))
            }
            StoreError::QuotaExceeded { resource, max } => ServiceError::quota_exceeded(quota_name(resource), max),
            StoreError::BadToken => ServiceError::bad_next_token(),
            StoreError::UnknownFindings(ids) => ServiceError::unknown_findings(&ids),
            StoreError::RankOutOfBounds => ServiceError::rank_out_of_bounds(),
            StoreError::Invalid(detail) => ServiceError::invalid_value(Some(&detail)),
            StoreError::ProgressMoved(keys) => {
                // API operations write no progress: reaching here is a bug, not the caller's.
                tracing::error!(?keys, "progress conflict on an API write");
                ServiceError::internal()
            }
            StoreError::Backend(m) => {
                tracing::error!(error = %m, "storage failure");
                ServiceError::internal()
            }
        }
    }
}

fn resource_name(r: Resource) -> &'static str {
    match r {
        Resource::Detector => "detector",
        Resource::Filter => "filter",
        Resource::IpSet => "IPSet",
        Resource::ThreatIntelSet => "ThreatIntelSet",
        Resource::PublishingDestination => "publishingDestination",
        Resource::Consumer => "consumer",
        Resource::Finding => "finding",
    }
}

fn quota_name(r: Resource) -> &'static str {
    match r {
        Resource::IpSet => "trusted IP list (IPSet)",
        Resource::ThreatIntelSet => "threat lists (ThreatIntelSets)",
        other => resource_name(other),
    }
}
