//! Every operation of the model, decoded from REST-JSON into its typed input, handed to
//! [`Service`] with the caller's [`Principal`], and its output or error encoded back.
//!
//! Binding: URI labels and query members fill the input's members named by the model's
//! `location`; the JSON body fills the rest. An output with no members set goes out as an empty
//! body (`content-length: 0`) with the operation's success code, as GuardDuty sends it.
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vedette_model::{self as model, OperationSpec};
use vedette_service::{Principal, Service, ServiceError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, RequestBody, rest};

/// Whether `name` (a model operation) is served by [`dispatch`].
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

    pub fn label(&self, name: &str) -> Option<String> {
        self.labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    /// The JSON body as the operation's input shape.
    fn body<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        rest::parse_body(&self.body)
    }

    fn max_results(&self) -> Result<Option<i32>, ApiError> {
        rest::query_i32(&self.query, "maxResults")
    }

    fn next_token(&self) -> Option<String> {
        rest::query_string(&self.query, "nextToken")
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

/// Runs one operation: `$input` builds the typed input from `ctx`, the service method of the
/// same name answers.
macro_rules! call {
    ($ctx:ident, $method:ident, $input:expr) => {{
        let input = $input;
        let output = $ctx.service.$method(&$ctx.principal, input).await;
        $ctx.reply(output)
    }};
}

/// A JSON-body operation whose URI carries the detector id.
macro_rules! with_detector {
    ($ctx:ident, $method:ident, $shape:ty) => {
        call!($ctx, $method, {
            let mut input: $shape = $ctx.body()?;
            input.detector_id = $ctx.label("DetectorId");
            input
        })
    };
}

const SERVED: &[&str] = &[
    "CreateDetector", "GetDetector", "ListDetectors", "UpdateDetector", "DeleteDetector",
    "ListFindings", "GetFindings", "ArchiveFindings", "UnarchiveFindings", "UpdateFindingsFeedback",
    "CreateSampleFindings", "GetFindingsStatistics",
    "CreateFilter", "GetFilter", "ListFilters", "UpdateFilter", "DeleteFilter",
    "CreatePublishingDestination", "DescribePublishingDestination", "ListPublishingDestinations",
    "UpdatePublishingDestination", "DeletePublishingDestination",
    "CreateIPSet", "GetIPSet", "ListIPSets", "UpdateIPSet", "DeleteIPSet",
    "CreateThreatIntelSet", "GetThreatIntelSet", "ListThreatIntelSets", "UpdateThreatIntelSet", "DeleteThreatIntelSet",
    "TagResource", "UntagResource", "ListTagsForResource",
];

async fn dispatch(ctx: OpContext) -> Result<Response, ApiError> {
    match ctx.op.name {
        "CreateDetector" => call!(ctx, create_detector, ctx.body::<model::CreateDetectorRequest>()?),
        "GetDetector" => call!(ctx, get_detector, model::GetDetectorRequest { detector_id: ctx.label("DetectorId") }),
        "ListDetectors" => call!(
            ctx,
            list_detectors,
            model::ListDetectorsRequest { max_results: ctx.max_results()?, next_token: ctx.next_token() }
        ),
        "UpdateDetector" => with_detector!(ctx, update_detector, model::UpdateDetectorRequest),
        "DeleteDetector" => call!(ctx, delete_detector, model::DeleteDetectorRequest { detector_id: ctx.label("DetectorId") }),

        "ListFindings" => with_detector!(ctx, list_findings, model::ListFindingsRequest),
        "GetFindings" => with_detector!(ctx, get_findings, model::GetFindingsRequest),
        "ArchiveFindings" => with_detector!(ctx, archive_findings, model::ArchiveFindingsRequest),
        "UnarchiveFindings" => with_detector!(ctx, unarchive_findings, model::UnarchiveFindingsRequest),
        "UpdateFindingsFeedback" => with_detector!(ctx, update_findings_feedback, model::UpdateFindingsFeedbackRequest),
        "CreateSampleFindings" => with_detector!(ctx, create_sample_findings, model::CreateSampleFindingsRequest),
        "GetFindingsStatistics" => with_detector!(ctx, get_findings_statistics, model::GetFindingsStatisticsRequest),

        "CreateFilter" => with_detector!(ctx, create_filter, model::CreateFilterRequest),
        "GetFilter" => call!(
            ctx,
            get_filter,
            model::GetFilterRequest { detector_id: ctx.label("DetectorId"), filter_name: ctx.label("FilterName") }
        ),
        "ListFilters" => call!(
            ctx,
            list_filters,
            model::ListFiltersRequest {
                detector_id: ctx.label("DetectorId"),
                max_results: ctx.max_results()?,
                next_token: ctx.next_token()
            }
        ),
        "UpdateFilter" => call!(ctx, update_filter, {
            let mut input: model::UpdateFilterRequest = ctx.body()?;
            input.detector_id = ctx.label("DetectorId");
            input.filter_name = ctx.label("FilterName");
            input
        }),
        "DeleteFilter" => call!(
            ctx,
            delete_filter,
            model::DeleteFilterRequest { detector_id: ctx.label("DetectorId"), filter_name: ctx.label("FilterName") }
        ),

        "CreatePublishingDestination" => with_detector!(ctx, create_publishing_destination, model::CreatePublishingDestinationRequest),
        "DescribePublishingDestination" => call!(
            ctx,
            describe_publishing_destination,
            model::DescribePublishingDestinationRequest { detector_id: ctx.label("DetectorId"), destination_id: ctx.label("DestinationId") }
        ),
        "ListPublishingDestinations" => call!(
            ctx,
            list_publishing_destinations,
            model::ListPublishingDestinationsRequest {
                detector_id: ctx.label("DetectorId"),
                max_results: ctx.max_results()?,
                next_token: ctx.next_token()
            }
        ),
        "UpdatePublishingDestination" => call!(ctx, update_publishing_destination, {
            let mut input: model::UpdatePublishingDestinationRequest = ctx.body()?;
            input.detector_id = ctx.label("DetectorId");
            input.destination_id = ctx.label("DestinationId");
            input
        }),
        "DeletePublishingDestination" => call!(
            ctx,
            delete_publishing_destination,
            model::DeletePublishingDestinationRequest { detector_id: ctx.label("DetectorId"), destination_id: ctx.label("DestinationId") }
        ),

        "CreateIPSet" => with_detector!(ctx, create_ip_set, model::CreateIPSetRequest),
        "GetIPSet" => call!(ctx, get_ip_set, model::GetIPSetRequest { detector_id: ctx.label("DetectorId"), ip_set_id: ctx.label("IpSetId") }),
        "ListIPSets" => call!(
            ctx,
            list_ip_sets,
            model::ListIPSetsRequest { detector_id: ctx.label("DetectorId"), max_results: ctx.max_results()?, next_token: ctx.next_token() }
        ),
        "UpdateIPSet" => call!(ctx, update_ip_set, {
            let mut input: model::UpdateIPSetRequest = ctx.body()?;
            input.detector_id = ctx.label("DetectorId");
            input.ip_set_id = ctx.label("IpSetId");
            input
        }),
        "DeleteIPSet" => call!(
            ctx,
            delete_ip_set,
            model::DeleteIPSetRequest { detector_id: ctx.label("DetectorId"), ip_set_id: ctx.label("IpSetId") }
        ),

        "CreateThreatIntelSet" => with_detector!(ctx, create_threat_intel_set, model::CreateThreatIntelSetRequest),
        "GetThreatIntelSet" => call!(
            ctx,
            get_threat_intel_set,
            model::GetThreatIntelSetRequest { detector_id: ctx.label("DetectorId"), threat_intel_set_id: ctx.label("ThreatIntelSetId") }
        ),
        "ListThreatIntelSets" => call!(
            ctx,
            list_threat_intel_sets,
            model::ListThreatIntelSetsRequest {
                detector_id: ctx.label("DetectorId"),
                max_results: ctx.max_results()?,
                next_token: ctx.next_token()
            }
        ),
        "UpdateThreatIntelSet" => call!(ctx, update_threat_intel_set, {
            let mut input: model::UpdateThreatIntelSetRequest = ctx.body()?;
            input.detector_id = ctx.label("DetectorId");
            input.threat_intel_set_id = ctx.label("ThreatIntelSetId");
            input
        }),
        "DeleteThreatIntelSet" => call!(
            ctx,
            delete_threat_intel_set,
            model::DeleteThreatIntelSetRequest { detector_id: ctx.label("DetectorId"), threat_intel_set_id: ctx.label("ThreatIntelSetId") }
        ),

        "TagResource" => call!(ctx, tag_resource, {
            let mut input: model::TagResourceRequest = ctx.body()?;
            input.resource_arn = ctx.label("ResourceArn");
            input
        }),
        "UntagResource" => call!(
            ctx,
            untag_resource,
            model::UntagResourceRequest { resource_arn: ctx.label("ResourceArn"), tag_keys: rest::query_all(&ctx.query, "tagKeys") }
        ),
        "ListTagsForResource" => call!(ctx, list_tags_for_resource, model::ListTagsForResourceRequest { resource_arn: ctx.label("ResourceArn") }),

        name => Err(ServiceError::unsupported_operation(name).into()),
    }
}
