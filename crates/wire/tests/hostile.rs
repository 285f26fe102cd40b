//! Hostile HTTP against the real accept loop: oversized and malformed requests, slow and idle
//! clients, connection floods, replayed and mis-scoped signatures. Every case ends in a defined
//! answer (GuardDuty's error shape where a request got that far, hyper's 4xx or a closed
//! connection before that), and the server keeps serving afterwards.
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method, StatusCode};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vedette_store::SqliteStore;
use vedette_wire::{AppState, AuthConfig, Credential, Credentials, ServerLimits};

/// A SigV4 server over a fresh store with the given limits, stopped when dropped.
struct Limited {
    addr: SocketAddr,
    accounts: Vec<Account>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Limited {
    async fn start(limits: ServerLimits) -> Limited {
        let accounts = accounts();
        let mut creds = Credentials::default();
        for a in &accounts {
            creds.insert(Credential {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                account_id: a.account_id.clone(),
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::with_limits(Arc::new(SqliteStore::open(dir.path()).unwrap()), AuthConfig::sigv4(creds), limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(vedette_wire::run(listener, state, async move {
            let _ = rx.await;
        }));
        Limited { addr, accounts, _stop: tx, _dir: dir }
    }

    fn client(&self, account: usize) -> Client {
        Client { addr: self.addr, account: self.accounts[account].clone(), region: REGION.into(), clock_offset_secs: 0 }
    }
}

/// An HTTP/1.1 answer read off a raw socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response (head + content-length body); None if the peer closed first.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut lines = head.split("\r\n");
            let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
            let headers: Vec<(String, String)> =
                lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
            let len: usize = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await.ok()?.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(RawResponse { status, headers, body: buf[end + 4..end + 4 + len].to_vec() });
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await.expect("an answer in time").ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits for the server to close `stream`; returns how long that took (panics after `limit`).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut sink = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut sink)).await {
            Err(_) => panic!("connection still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

fn short_timeouts() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(700),
        ..ServerLimits::default()
    }
}

#[tokio::test]
async fn oversized_heads_and_too_many_headers_get_431() {
    let server = Limited::start(ServerLimits { max_header_bytes: 8 * 1024, max_header_count: 40, ..ServerLimits::default() }).await;
    let c = server.client(0);
    let mut req = c.unsigned(Method::GET, "/detector", b"");
    req.headers_mut().insert("x-padding", HeaderValue::from_str(&"p".repeat(9 * 1024)).unwrap());
    c.sign(&mut req, b"");
    assert_eq!(send(server.addr, req).await.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let mut req = c.unsigned(Method::GET, "/detector", b"");
    for i in 0..40 {
        req.headers_mut().insert(axum::http::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(), HeaderValue::from_static("v"));
    }
    c.sign(&mut req, b"");
    assert_eq!(send(server.addr, req).await.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // A long URI counts against the head too.
    let r = c.get(&format!("/detector?nextToken={}", "t".repeat(9 * 1024))).await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // Inside the limits, a padded request with many headers is served.
    let mut req = c.unsigned(Method::GET, "/detector", b"");
    req.headers_mut().insert("x-padding", HeaderValue::from_str(&"p".repeat(6 * 1024)).unwrap());
    for i in 0..20 {
        req.headers_mut().insert(axum::http::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(), HeaderValue::from_static("v"));
    }
    c.sign(&mut req, b"");
    assert_eq!(send(server.addr, req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let server = Limited::start(ServerLimits { max_body_bytes: 1024, ..ServerLimits::default() }).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // No content-length to refuse up front: the limit must hold while the body streams in.
    s.write_all(b"POST /detector HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n").await.unwrap();
    let chunk = format!("400\r\n{}\r\n", "a".repeat(0x400));
    for _ in 0..4 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let r = read_response(&mut s, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(r.status, 413);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("RequestEntityTooLargeException"));
    assert!(r.json()["message"].as_str().unwrap().contains("1024"));
}

/// `open` repeated `depth` times around `inner`, closed again.
fn nested(open: &str, close: &str, inner: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[tokio::test]
async fn deeply_nested_json_is_a_bad_request() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let id = c.create_detector().await;
    let depth = 100_000;
    let bodies = [
        // In an unknown member (skipped), in a typed one, in a free-form map.
        ("/detector".to_string(), format!(r#"{{"enable":true,"unknown":{}}}"#, nested("[", "]", "1", depth))),
        (format!("/detector/{id}/findings"), format!(r#"{{"findingCriteria":{{"criterion":{}}}}}"#, nested(r#"{"a":"#, "}", "1", depth))),
        (format!("/detector/{id}/findings/get"), format!(r#"{{"findingIds":{}}}"#, nested("[", "]", "", depth))),
        (format!("/tags/{}", encode_label(&c.detector_arn(&id))), format!(r#"{{"tags":{}}}"#, nested(r#"{"k":"#, "}", r#""v""#, depth))),
        // Just past the limit (64 levels).
        (format!("/detector/{id}/findings"), format!(r#"{{"findingCriteria":{{"criterion":{}}}}}"#, nested(r#"{"a":"#, "}", "1", 63))),
    ];
    for (path, body) in &bodies {
        let r = c.post(path, body).await;
        r.assert_bad_request(BAD_JSON);
        request_id(&r);
    }
    // Inside the limit, the wrong shape is the operation's own 400.
    let r =
        c.post(&format!("/detector/{id}/findings"), &format!(r#"{{"findingCriteria":{{"criterion":{}}}}}"#, nested(r#"{"a":"#, "}", "1", 50))).await;
    r.assert_error(400, "BadRequestException");
    // Still serving.
    assert_eq!(c.get(&format!("/detector/{id}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn invalid_utf8_is_a_bad_request() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let id = c.create_detector().await;
    let bad_bodies: [&[u8]; 4] = [
        b"{\"enable\":true,\"clientToken\":\"\xff\xfe\"}",
        b"{\"enable\":true,\"\xc3\x28\":1}",
        b"\xef\xbb\xbf{\"enable\":true}",                      // a byte-order mark is not JSON either
        b"{\"enable\":true,\"clientToken\":\"\xed\xa0\x80\"}", // an encoded surrogate
    ];
    for body in bad_bodies {
        let r = send(server.addr, c.signed(Method::POST, "/detector", body)).await;
        r.assert_bad_request(BAD_JSON);
    }
    let r = send(
        server.addr,
        c.signed(Method::POST, &format!("/detector/{id}/findings"), b"{\"findingCriteria\":{\"criterion\":{\"type\":{\"eq\":[\"\xff\"]}}}}"),
    )
    .await;
    r.assert_bad_request(BAD_JSON);
    // A percent-encoded label that is not UTF-8.
    c.get("/detector/%FF%FE").await.assert_bad_request("The request is rejected because the parameter DetectorId has an invalid value.");
    // Raw bytes above 0x7f in the request line: hyper refuses them before any routing.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /detector/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let r = read_response(&mut s, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(r.status, 400);
    // In an unsigned header value they are opaque bytes nobody reads.
    let mut req = c.signed(Method::GET, "/detector", b"");
    req.headers_mut().insert("x-odd", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    assert_eq!(send(server.addr, req).await.status, StatusCode::OK);
    // A signed one cannot be canonicalised as the SDKs would: the signature does not match.
    let mut req = c.signed(Method::GET, "/detector", b"");
    let auth = req.headers()["authorization"].to_str().unwrap().replace("SignedHeaders=", "SignedHeaders=x-odd;");
    req.headers_mut().insert("authorization", HeaderValue::from_str(&auth).unwrap());
    req.headers_mut().insert("x-odd", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    send(server.addr, req).await.assert_error(403, "InvalidSignatureException");
    assert_eq!(c.get(&format!("/detector/{id}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_slow_head_is_cut_off_at_the_header_timeout() {
    let server = Limited::start(short_timeouts()).await;
    // Half a head, then nothing.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /detector HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(400), "closed after {took:?}");

    // Slowloris: a byte every 100 ms does not extend the timeout.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let head = b"GET /detector HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for b in head {
        if s.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !cut {
        closed_within(&mut s, Duration::from_secs(5)).await;
    }
    assert!(start.elapsed() < Duration::from_secs(3), "a trickled head held the connection {:?}", start.elapsed());

    // The server still answers.
    assert_eq!(server.client(0).get("/detector").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_slow_body_gets_408_and_the_connection_closes() {
    let server = Limited::start(short_timeouts()).await;
    let c = server.client(0);
    let body = br#"{"enable":true,"clientToken":"0123456789012345678901234567890123456789"}"#;
    let req = c.signed(Method::POST, "/detector", body);
    let mut head = format!("POST /detector HTTP/1.1\r\ncontent-length: {}\r\n", body.len());
    for (n, v) in req.headers() {
        head.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..10]).await.unwrap();
    let start = Instant::now();
    let r = read_response(&mut s, Duration::from_secs(5)).await.expect("an answer");
    assert!(start.elapsed() >= Duration::from_millis(400), "answered after {:?}", start.elapsed());
    assert_eq!(r.status, 408);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("RequestTimeoutException"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["__type"], "RequestTimeoutException");
    assert!(r.header("x-amzn-RequestId").is_some());
    closed_within(&mut s, Duration::from_secs(5)).await;
    // Nothing was created from the half request.
    assert_eq!(c.get("/detector").await.json()["detectorIds"], serde_json::json!([]));
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_and_busy_ones_kept() {
    let server = Limited::start(short_timeouts()).await;
    let c = server.client(0);
    let request = |c: &Client| {
        let req = c.signed(Method::GET, "/detector", b"");
        let mut raw = "GET /detector HTTP/1.1\r\n".to_string();
        for (n, v) in req.headers() {
            raw.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
        }
        raw.push_str("\r\n");
        raw
    };
    // Requests 400 ms apart on one connection: never idle for the 700 ms timeout.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..4 {
        s.write_all(request(&c).as_bytes()).await.unwrap();
        let r = read_response(&mut s, Duration::from_secs(5)).await.expect("kept alive");
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Then idle: closed about the idle timeout after the last answer.
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(200), "closed after {took:?}");
    // A connection that never sends anything is closed too.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(600), "closed after {took:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = Limited::start(ServerLimits { max_connections: 4, ..ServerLimits::default() }).await;
    let c = server.client(0);
    let mut holders = Vec::new();
    for _ in 0..4 {
        holders.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth connects (kernel backlog) but is not served while four are open.
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.get("/detector").await }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!waiting.is_finished(), "served beyond the connection cap");
    drop(holders.pop());
    let r = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("served once a slot frees").unwrap();
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_flood_of_idle_and_trickling_connections_is_shed() {
    let limits = ServerLimits {
        max_connections: 16,
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let server = Limited::start(limits).await;
    let mut flood = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /detec").await.unwrap();
        }
        flood.push(s);
    }
    // Queued behind the flood, a real client is still served: every flood connection is dropped
    // within a timeout of being accepted, 16 at a time.
    let start = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(30), server.client(0).get("/detector")).await.expect("served after the flood");
    assert_eq!(r.status, StatusCode::OK);
    eprintln!("served after {:?} behind 200 hostile connections", start.elapsed());
    for s in &mut flood {
        closed_within(s, Duration::from_secs(10)).await;
    }
}

#[tokio::test]
async fn shutdown_finishes_despite_open_idle_connections() {
    let server = TestServer::sigv4().await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /detector HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // TestServer::shutdown allows 10 s, the default header timeout is 10 s: idle ones close at once.
    let start = Instant::now();
    server.shutdown().await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(11));
}

// --- signatures -------------------------------------------------------------------------------

/// SigV4 allows a captured request to be sent again while its X-Amz-Date is inside the clock-skew
/// window (15 minutes), and so do AWS's endpoints: a replay is authenticated and processed like
/// the original. What keeps replays harmless is GuardDuty's own semantics — reads are
/// idempotent, a second CreateDetector is refused, archive/feedback converge — and TLS in front
/// of the server keeps requests from being captured at all.
#[tokio::test]
async fn replays_inside_the_skew_window_are_accepted_as_aws_does() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let body = br#"{"enable":true}"#;
    let create = c.signed(Method::POST, "/detector", body);
    let replay = clone_request(&create, body);
    let r = send(server.addr, create).await;
    assert_eq!(r.status, StatusCode::OK);
    let id = r.json()["detectorId"].as_str().unwrap().to_string();
    // Processed again, and refused by the operation's own rule.
    send(server.addr, replay).await.assert_bad_request(DETECTOR_EXISTS);
    let get = c.signed(Method::GET, &format!("/detector/{id}"), b"");
    let again = clone_request(&get, b"");
    assert_eq!(send(server.addr, get).await.status, StatusCode::OK);
    assert_eq!(send(server.addr, again).await.status, StatusCode::OK);
    // Signed 14 minutes ago: still inside the window.
    assert_eq!(c.clone().with_clock_offset(-14 * 60).get(&format!("/detector/{id}")).await.status, StatusCode::OK);
}

fn clone_request(
    req: &axum::http::Request<http_body_util::Full<bytes::Bytes>>,
    body: &[u8],
) -> axum::http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut builder = axum::http::Request::builder().method(req.method().clone()).uri(req.uri().clone());
    for (n, v) in req.headers() {
        builder = builder.header(n, v);
    }
    builder.body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(body))).unwrap()
}

#[tokio::test]
async fn expired_and_future_signatures_use_aws_wording() {
    let server = TestServer::sigv4().await;
    let amz = r"\d{8}T\d{6}Z";
    let r = server.client(0).with_clock_offset(-16 * 60).get("/detector").await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(matches_shape(&msg, &format!(r"^Signature expired: {amz} is now earlier than {amz} \({amz} - 15 min\.\)$")), "{msg}");
    let r = server.client(0).with_clock_offset(16 * 60).get("/detector").await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(matches_shape(&msg, &format!(r"^Signature not yet current: {amz} is still later than {amz} \({amz} \+ 15 min\.\)$")), "{msg}");
}

/// A tiny matcher for the shapes above: `\d{N}` runs of digits, escaped literals, ^ and $.
fn matches_shape(text: &str, pattern: &str) -> bool {
    let pattern = pattern.trim_start_matches('^').trim_end_matches('$');
    let (mut t, mut p) = (text.as_bytes(), pattern.as_bytes());
    while !p.is_empty() {
        if p.starts_with(br"\d{") {
            let close = p.iter().position(|&b| b == b'}').unwrap();
            let n: usize = std::str::from_utf8(&p[3..close]).unwrap().parse().unwrap();
            if t.len() < n || !t[..n].iter().all(u8::is_ascii_digit) {
                return false;
            }
            t = &t[n..];
            p = &p[close + 1..];
        } else {
            let (lit, rest) = if p[0] == b'\\' { (p[1], &p[2..]) } else { (p[0], &p[1..]) };
            if t.first() != Some(&lit) {
                return false;
            }
            t = &t[1..];
            p = rest;
        }
    }
    t.is_empty()
}

/// Rewrites the credential scope of a signed request's Authorization header.
fn rescoped(
    mut req: axum::http::Request<http_body_util::Full<bytes::Bytes>>,
    from: &str,
    to: &str,
) -> axum::http::Request<http_body_util::Full<bytes::Bytes>> {
    let auth = req.headers()["authorization"].to_str().unwrap().replace(from, to);
    req.headers_mut().insert("authorization", HeaderValue::from_str(&auth).unwrap());
    req
}

#[tokio::test]
async fn signatures_for_another_service_or_region_are_refused() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    // Scoped to another service.
    for service in ["iam", "s3", "securityhub"] {
        let r = send(server.addr, rescoped(c.signed(Method::GET, "/detector", b""), "/guardduty/", &format!("/{service}/"))).await;
        let msg = r.assert_error(403, "InvalidSignatureException");
        assert_eq!(msg, "Credential should be scoped to correct service: 'guardduty'. ");
    }
    // Signed for one Region, presented under another's scope: the signature covers the scope.
    let eu = c.clone().with_region("eu-west-1");
    let r = send(server.addr, rescoped(eu.signed(Method::GET, "/detector", b""), "/eu-west-1/", "/us-east-1/")).await;
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(msg.starts_with("The request signature we calculated does not match"), "{msg}");
    // A scope that names no AWS Region at all.
    for region in ["local", "aws-global", "us-east", "moon"] {
        let r = c.clone().with_region(region).get("/detector").await;
        let msg = r.assert_error(403, "InvalidSignatureException");
        assert_eq!(msg, format!("Credential should be scoped to a valid region, not '{region}'. "));
    }
    // Every real Region shape is one scope each (one server serves them all).
    for region in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-northwest-1", "ap-southeast-5", "us-isob-east-1", "eusc-de-east-1"] {
        let r = c.clone().with_region(region).get("/detector").await;
        assert_eq!(r.status, StatusCode::OK, "{region}: {}", String::from_utf8_lossy(&r.body));
    }
}
