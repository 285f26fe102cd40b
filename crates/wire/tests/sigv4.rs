//! SigV4 over real HTTP: requests signed by the `aws-sigv4` crate are accepted; each kind of
//! bad request gets the 403 an SDK recognises, with a request id, and is counted.
mod support;

use axum::http::{HeaderValue, Method, StatusCode};
use support::*;

#[tokio::test]
async fn accepts_requests_signed_by_the_sdk_signer() {
    let server = TestServer::sigv4().await;
    let client = server.client(0);
    let r = client.get("/detector").await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), serde_json::json!({"detectorIds": []}));
    // A query string and a percent-encoded label (double-encoded in the canonical URI) verify too.
    let id = client.create_detector().await;
    let r = client.get("/detector?maxResults=1&nextToken=").await;
    assert_eq!(r.json()["detectorIds"], serde_json::json!([id]));
    let arn = encode_label(&client.detector_arn(&id));
    let r = client.post(&format!("/tags/{arn}"), r#"{"tags":{"k/1":"v 1"}}"#).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    let r = client.call(Method::DELETE, &format!("/tags/{arn}?tagKeys=k%2F1&tagKeys=other"), "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn rejects_a_wrong_secret() {
    let server = TestServer::sigv4().await;
    let r = server.client(0).with_secret("not-the-secret").get("/detector").await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(msg.starts_with("The request signature we calculated does not match"), "{msg}");
    request_id(&r);
}

#[tokio::test]
async fn rejects_an_unknown_access_key() {
    let server = TestServer::sigv4().await;
    let r = server.client(0).with_key("AKIAUNKNOWN000000000").get("/detector").await;
    let msg = r.assert_error(403, "UnrecognizedClientException");
    assert_eq!(msg, "The security token included in the request is invalid.");
}

#[tokio::test]
async fn rejects_expired_and_future_signatures() {
    let server = TestServer::sigv4().await;
    let r = server.client(0).with_clock_offset(-20 * 60).get("/detector").await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(msg.starts_with("Signature expired: "), "{msg}");
    let r = server.client(0).with_clock_offset(20 * 60).get("/detector").await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(msg.starts_with("Signature not yet current: "), "{msg}");
    // Within the 15-minute window a skewed clock is fine.
    let r = server.client(0).with_clock_offset(-10 * 60).get("/detector").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn rejects_a_tampered_body() {
    let server = TestServer::sigv4().await;
    let client = server.client(0);
    let mut req = client.unsigned(Method::POST, "/detector", br#"{"enable":true}"#);
    client.sign(&mut req, br#"{"enable":false}"#);
    let r = send(server.addr, req).await;
    r.assert_error(403, "InvalidSignatureException");
    // Nothing was created.
    assert_eq!(client.get("/detector").await.json()["detectorIds"], serde_json::json!([]));
}

#[tokio::test]
async fn rejects_a_tampered_path_query_or_header() {
    let server = TestServer::sigv4().await;
    let client = server.client(0);
    let mut req = client.signed(Method::GET, "/detector?maxResults=5", b"");
    *req.uri_mut() = "/detector?maxResults=6".parse().unwrap();
    send(server.addr, req).await.assert_error(403, "InvalidSignatureException");

    let mut req = client.signed(Method::GET, "/detector", b"");
    req.headers_mut().insert("host", HeaderValue::from_static("elsewhere.example"));
    send(server.addr, req).await.assert_error(403, "InvalidSignatureException");

    // Signed for another service.
    let mut req = client.signed(Method::GET, "/detector", b"");
    let auth = req.headers()["authorization"].to_str().unwrap().replace("/guardduty/", "/iam/");
    req.headers_mut().insert("authorization", HeaderValue::from_str(&auth).unwrap());
    send(server.addr, req).await.assert_error(403, "InvalidSignatureException");
}

#[tokio::test]
async fn rejects_missing_and_malformed_authorization() {
    let server = TestServer::sigv4().await;
    let client = server.client(0);
    let r = send(server.addr, client.unsigned(Method::GET, "/detector", b"")).await;
    let msg = r.assert_error(403, "MissingAuthenticationTokenException");
    assert_eq!(msg, "Missing Authentication Token");
    request_id(&r);

    let mut req = client.signed(Method::GET, "/detector", b"");
    let auth = req.headers()["authorization"].to_str().unwrap().to_string();
    let without_signature = auth.split(", Signature=").next().unwrap().to_string();
    req.headers_mut().insert("authorization", HeaderValue::from_str(&without_signature).unwrap());
    send(server.addr, req).await.assert_error(403, "IncompleteSignatureException");

    let mut req = client.signed(Method::GET, "/detector", b"");
    req.headers_mut().remove("x-amz-date");
    send(server.addr, req).await.assert_error(403, "IncompleteSignatureException");
}

#[tokio::test]
async fn rejects_a_content_hash_that_does_not_match_the_body() {
    let server = TestServer::sigv4().await;
    let client = server.client(0);
    let mut req = client.unsigned(Method::POST, "/detector", br#"{"enable":true}"#);
    req.headers_mut().insert("x-amz-content-sha256", HeaderValue::from_static("0000000000000000000000000000000000000000000000000000000000000000"));
    client.sign(&mut req, br#"{"enable":true}"#);
    send(server.addr, req).await.assert_error(403, "InvalidSignatureException");
}

#[tokio::test]
async fn counts_every_rejected_request() {
    let server = TestServer::sigv4().await;
    let before = server.state.metrics().rejected();
    server.client(0).with_secret("x").get("/detector").await;
    send(server.addr, server.client(0).unsigned(Method::GET, "/detector", b"")).await;
    server.client(0).get("/detector/unknownunknownunknownunknown1234").await;
    assert_eq!(server.state.metrics().rejected() - before, 3);
    assert_eq!(server.state.metrics().failed(), 0);
}

#[tokio::test]
async fn scope_is_the_key_account_and_the_signed_region() {
    let server = TestServer::sigv4().await;
    let a = server.client(0);
    let id = a.create_detector().await;
    // Same account, other Region: a different scope, so the detector is not visible there.
    let other_region = a.clone().with_region("eu-west-1");
    assert_eq!(other_region.get("/detector").await.json()["detectorIds"], serde_json::json!([]));
    other_region.get(&format!("/detector/{id}")).await.assert_bad_request(NOT_OWNED);
    // And it can have its own detector.
    let id2 = other_region.create_detector().await;
    assert_ne!(id, id2);
    let r = other_region.get(&format!("/detector/{id2}")).await;
    assert!(r.json()["serviceRole"].as_str().unwrap().contains(&a.account.account_id));
}
