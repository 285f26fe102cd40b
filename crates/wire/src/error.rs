//! GuardDuty's error shape: the `x-amzn-ErrorType` header carries the error code (botocore's
//! rest-json parser reads it first), the JSON body carries `message` and the finer reason in
//! `__type` (what the real service sends) and `type` (the current model's wire name).
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vedette_service::{ErrorCode, ServiceError};

/// Response header naming the error code.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The error code clients see (`x-amzn-ErrorType`), e.g. `BadRequestException`.
    pub code: &'static str,
    /// The finer reason (`__type` / `type` in the body), e.g. `InvalidInputException`.
    pub reason: &'static str,
    pub message: String,
}

/// Attached to every error response so the request layer can log and count it.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, reason, message: message.into() }
    }

    /// 400 BadRequestException / InvalidInputException — GuardDuty's answer to every bad input.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ServiceError::bad_request(message).into()
    }

    pub fn invalid_parameter(name: &str) -> Self {
        ServiceError::invalid_parameter(name).into()
    }

    pub fn malformed_json() -> Self {
        ServiceError::malformed_json().into()
    }

    /// `...an invalid or out-of-range value is specified as an input parameter[: detail]`.
    pub fn invalid_value(detail: Option<&str>) -> Self {
        ServiceError::invalid_value(detail).into()
    }

    /// A path/method that is no GuardDuty operation at all.
    pub fn unknown_operation() -> Self {
        Self::new(StatusCode::NOT_FOUND, "UnknownOperationException", "UnknownOperationException", "Unknown operation")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            "RequestEntityTooLargeException",
            format!("Request body exceeds the maximum allowed size of {limit} bytes."),
        )
    }

    pub fn internal() -> Self {
        ServiceError::internal().into()
    }

    // --- authentication (403, the codes AWS's front ends use and SDKs recognise) ---------------

    pub fn missing_authentication() -> Self {
        Self::new(StatusCode::FORBIDDEN, "MissingAuthenticationTokenException", "MissingAuthenticationTokenException", "Missing Authentication Token")
    }

    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "IncompleteSignatureException", "IncompleteSignatureException", message)
    }

    pub fn unrecognized_client() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "InvalidSignatureException", "InvalidSignatureException", message)
    }

    pub fn signature_mismatch() -> Self {
        Self::invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "__type")]
    legacy_type: &'a str,
    #[serde(rename = "type")]
    current_type: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody { message: &self.message, legacy_type: self.reason, current_type: self.reason })
            .unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ERROR_TYPE_HEADER, HeaderValue::from_static(self.code));
        response.extensions_mut().insert(ErrorInfo { code: self.code, message: self.message });
        response
    }
}

/// The service's errors as GuardDuty sends them over HTTP.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, code) = match e.code {
            ErrorCode::BadRequest => (StatusCode::BAD_REQUEST, "BadRequestException"),
            ErrorCode::InternalServerError => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerErrorException"),
        };
        ApiError { status, code, reason: e.reason, message: e.message }
    }
}
