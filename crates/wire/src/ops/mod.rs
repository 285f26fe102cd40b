//! Every operation of the model, decoded from REST-JSON into its typed input, handed to
//! [`Service`] with the caller's [`Principal`], and its output or error encoded back.
//!
//! Binding is the model's (`vedette_model::Operation::bind`, generated): URI labels and query
//! members fill the input's members named by their `location`; the JSON body fills the rest. An output with no members set goes out as an empty
//! body (`content-length: 0`) with the operation's success code, as GuardDuty sends it.
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use vedette_model::{BindError, Operation, OperationSpec};
use vedette_service::{Principal, Service, ServiceError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, RequestBody, rest};

/// Whether `name` (a model operation) is served by [`dispatch`] (the rest answer
/// `UnsupportedOperationException`).
pub fn is_implemented(name: &str) -> bool {
    SERVED.contains(&name)
}

pub(crate) async fn handle(op: &'static OperationSpec, state: AppState, req: Request) -> Response {
    let result = async {
        let ctx = OpContext::from_request(op, state, req)?;
        dispatch(ctx).await
    };
    match result.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// What an operation is called with: the caller and the request's raw parts.
pub struct OpContext {
    pub service: Service,
    pub op: &'static OperationSpec,
    pub principal: Principal,
    pub labels: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl OpContext {
    fn from_request(op: &'static OperationSpec, state: AppState, req: Request) -> Result<Self, ApiError> {
        let (parts, _) = req.into_parts();
        // Both are put there by the authentication layer; their absence is a server bug.
        let caller = parts.extensions.get::<Caller>().cloned().ok_or_else(ApiError::internal)?;
        let body = parts.extensions.get::<RequestBody>().map(|b| b.0.clone()).unwrap_or_default();
        let labels = rest::path_labels(op.request_uri, parts.uri.path())?;
        let query = rest::parse_query(parts.uri.query())?;
        Ok(OpContext { service: state.service().clone(), op, principal: Principal::new(caller.scope), labels, query, body })
    }

    /// The output as GuardDuty sends it: JSON, or an empty body when no member is set.
    fn reply<T: Serialize>(&self, output: Result<T, ServiceError>) -> Result<Response, ApiError> {
        let output = output?;
        let body = serde_json::to_vec(&output).map_err(|e| {
            tracing::error!(error = %e, "response serialization failed");
            ApiError::internal()
        })?;
        let status = StatusCode::from_u16(self.op.response_code).unwrap_or(StatusCode::OK);
        if body == b"{}" {
            return Ok(rest::empty(status));
        }
        let mut response = rest::json_bytes(body);
        *response.status_mut() = status;
        Ok(response)
    }
}

impl OpContext {
    /// The operation's typed input, bound from the URI labels, the query and the JSON body as the
    /// model's `location`s say (`vedette_model::Operation::bind`).
    fn bind<I: Operation>(&self) -> Result<I, ApiError> {
        // The served table pairs an operation with a service method; a method taking another
        // operation's input would bind the wrong members.
        if I::SPEC.name != self.op.name {
            tracing::error!(operation = self.op.name, input = I::SPEC.name, "served table pairs an operation with another's input");
            return Err(ApiError::internal());
        }
        I::bind(&self.labels, &self.query, &self.body).map_err(|e| match e {
            BindError::MalformedBody { detail } => {
                tracing::debug!(error = %detail, "unprocessable JSON body");
                ApiError::malformed_json()
            }
            e @ BindError::InvalidQueryValue { .. } => ApiError::invalid_value(Some(&e.to_string())),
        })
    }
}

/// The operations this server serves, each with the service method that answers it: the one
/// list of them. Every other operation of the model is routed too and answers
/// `UnsupportedOperationException`. The input type of each call is the method's own, bound by
/// [`OpContext::bind`].
macro_rules! served {
    ($($operation:ident => $method:ident),* $(,)?) => {
        const SERVED: &[&str] = &[$(stringify!($operation)),*];

        async fn dispatch(ctx: OpContext) -> Result<Response, ApiError> {
            match ctx.op.name {
                $(stringify!($operation) => {
                    let input = ctx.bind()?;
                    let output = ctx.service.$method(&ctx.principal, input).await;
                    ctx.reply(output)
                })*
                name => Err(ServiceError::unsupported_operation(name).into()),
            }
        }
    };
}

served! {
    CreateDetector => create_detector,
    GetDetector => get_detector,
    ListDetectors => list_detectors,
    UpdateDetector => update_detector,
    DeleteDetector => delete_detector,

    ListFindings => list_findings,
    GetFindings => get_findings,
    ArchiveFindings => archive_findings,
    UnarchiveFindings => unarchive_findings,
    UpdateFindingsFeedback => update_findings_feedback,
    CreateSampleFindings => create_sample_findings,
    GetFindingsStatistics => get_findings_statistics,

    CreateFilter => create_filter,
    GetFilter => get_filter,
    ListFilters => list_filters,
    UpdateFilter => update_filter,
    DeleteFilter => delete_filter,

    CreatePublishingDestination => create_publishing_destination,
    DescribePublishingDestination => describe_publishing_destination,
    ListPublishingDestinations => list_publishing_destinations,
    UpdatePublishingDestination => update_publishing_destination,
    DeletePublishingDestination => delete_publishing_destination,

    CreateIPSet => create_ip_set,
    GetIPSet => get_ip_set,
    ListIPSets => list_ip_sets,
    UpdateIPSet => update_ip_set,
    DeleteIPSet => delete_ip_set,

    CreateThreatIntelSet => create_threat_intel_set,
    GetThreatIntelSet => get_threat_intel_set,
    ListThreatIntelSets => list_threat_intel_sets,
    UpdateThreatIntelSet => update_threat_intel_set,
    DeleteThreatIntelSet => delete_threat_intel_set,

    TagResource => tag_resource,
    UntagResource => untag_resource,
    ListTagsForResource => list_tags_for_resource,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_is_in_the_model_once() {
        for name in SERVED {
            assert_eq!(vedette_model::OPERATIONS.iter().filter(|op| op.name == *name).count(), 1, "{name}");
        }
        let mut names = SERVED.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SERVED.len(), "an operation is listed twice");
    }
}
