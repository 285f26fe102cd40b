"""Assertions on GuardDuty error responses, both as botocore parses them and as raw HTTP."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from vedette_harness import RawResponse

# Codes an SDK maps to an authentication failure (decision in docs/api.md#errors, unconfirmed which one AWS
# sends for which case): all 403.
AUTH_ERROR_CODES = {
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "AccessDeniedException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "SignatureDoesNotMatch",
}


def assert_client_error(err: ClientError, status: int, code: str | set[str],
                        message_part: str | None = None) -> None:
    """The error as botocore surfaces it (`__type` is not surfaced for rest-json: see assert_raw_error)."""
    meta = err.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status, err.response
    codes = {code} if isinstance(code, str) else code
    assert err.response["Error"]["Code"] in codes, err.response
    assert meta.get("RequestId"), f"no x-amzn-RequestId: {err.response}"
    message = err.response["Error"].get("Message", "")
    assert message, f"empty message: {err.response}"
    if message_part is not None:
        assert message_part in message, f"{message_part!r} not in {message!r}"
    headers = {k.lower(): v for k, v in meta.get("HTTPHeaders", {}).items()}
    assert headers.get("x-amzn-errortype", "").split(":")[0] in codes, headers


def assert_raw_error(resp: RawResponse, status: int, code: str | set[str],
                     message_part: str | None = None, type_: str | None = None) -> dict:
    codes = {code} if isinstance(code, str) else code
    assert resp.status == status, (resp.status, resp.headers, resp.body)
    assert resp.header("x-amzn-RequestId"), resp.headers
    error_type = (resp.header("x-amzn-ErrorType") or "").split(":")[0]
    assert error_type in codes, (error_type, resp.headers, resp.body)
    assert (resp.header("Content-Type") or "").startswith("application/json"), resp.headers
    body = json.loads(resp.body)
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("__type"), str) and body["__type"], body
    assert set(body) <= {"message", "__type", "type"}, body
    if message_part is not None:
        assert message_part in body["message"], body
    if type_ is not None:
        assert body["__type"] == type_, body
    return body
