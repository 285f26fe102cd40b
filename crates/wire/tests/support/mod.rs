//! Test harness: the real router on 127.0.0.1:0 over the embedded store, and a client that signs
//! with the `aws-sigv4` crate (the Rust SDK's signer), independent of the server's verifier.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use vedette_store::SqliteStore;
use vedette_wire::{AppState, AuthConfig, Credential, Credentials};

pub const REGION: &str = "us-east-1";

#[derive(Clone, Debug)]
pub struct Account {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

pub fn accounts() -> Vec<Account> {
    (0..2)
        .map(|i| Account {
            access_key_id: format!("AKIAWIRETEST{i:08}"),
            // '/' and '+' as in real secrets: they must not need escaping anywhere.
            secret_access_key: format!("wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET{i}"),
            account_id: format!("{:012}", 111_111_111_111u64 * (i + 1)),
        })
        .collect()
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub accounts: Vec<Account>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn sigv4() -> TestServer {
        let accounts = accounts();
        let mut creds = Credentials::default();
        for a in &accounts {
            creds.insert(Credential {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                account_id: a.account_id.clone(),
            });
        }
        Self::start(AuthConfig::sigv4(creds), accounts, vedette_wire::DEFAULT_BODY_LIMIT).await
    }

    pub async fn any(default_account: &str) -> TestServer {
        let accounts =
            vec![Account { access_key_id: "AKIDANYTHING".into(), secret_access_key: "not checked".into(), account_id: default_account.into() }];
        Self::start(AuthConfig::any(default_account), accounts, vedette_wire::DEFAULT_BODY_LIMIT).await
    }

    pub async fn start(auth: AuthConfig, accounts: Vec<Account>, body_limit: usize) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open store");
        let state = AppState::with_body_limit(Arc::new(store), auth, body_limit);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(vedette_wire::run(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer { addr, state, accounts, shutdown: Some(tx), task: Some(task), _dir: dir }
    }

    pub fn client(&self, account: usize) -> Client {
        Client { addr: self.addr, account: self.accounts[account].clone(), region: REGION.into(), clock_offset_secs: 0 }
    }

    /// Stops the server and waits for `run` to return.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task).await.expect("run returns after shutdown").expect("run task")
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a GuardDuty-shaped error: status, `x-amzn-ErrorType`, body `message` + `__type`.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("x-amzn-ErrorType"), Some(code), "error type header");
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert!(body["__type"].is_string(), "__type missing: {body}");
        body["message"].as_str().expect("message").to_string()
    }

    /// Asserts GuardDuty's generic 400 with the given message.
    pub fn assert_bad_request(&self, message: &str) {
        let got = self.assert_error(400, "BadRequestException");
        assert_eq!(got, message);
        assert_eq!(self.json()["__type"], "InvalidInputException");
    }
}

pub fn request_id(resp: &Resp) -> String {
    resp.header("x-amzn-RequestId").expect("x-amzn-RequestId on every response").to_string()
}

pub const NOT_OWNED: &str = "The request is rejected because the input detectorId is not owned by the current account.";
pub const BAD_JSON: &str = "The request is rejected because the JSON could not be processed.";
pub const DETECTOR_EXISTS: &str = "The request is rejected because a detector already exists for the current account.";

#[derive(Clone, Debug)]
pub struct Client {
    pub addr: SocketAddr,
    pub account: Account,
    pub region: String,
    /// Signs as if the client's clock were this far off.
    pub clock_offset_secs: i64,
}

impl Client {
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = region.into();
        self
    }

    pub fn with_secret(mut self, secret: &str) -> Self {
        self.account.secret_access_key = secret.into();
        self
    }

    pub fn with_key(mut self, key: &str) -> Self {
        self.account.access_key_id = key.into();
        self
    }

    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }

    /// An unsigned request with a JSON content type when there is a body.
    pub fn unsigned(&self, method: Method, path_and_query: &str, body: &[u8]) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(method).uri(path_and_query).header("host", self.addr.to_string());
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        builder.body(Full::new(Bytes::copy_from_slice(body))).unwrap()
    }

    /// The request signed over `body` (SigV4, service guardduty, the SDK's default settings).
    pub fn signed(&self, method: Method, path_and_query: &str, body: &[u8]) -> Request<Full<Bytes>> {
        let mut req = self.unsigned(method, path_and_query, body);
        self.sign(&mut req, body);
        req
    }

    pub fn sign(&self, req: &mut Request<Full<Bytes>>, signed_body: &[u8]) {
        let time = if self.clock_offset_secs >= 0 {
            SystemTime::now() + Duration::from_secs(self.clock_offset_secs as u64)
        } else {
            SystemTime::now() - Duration::from_secs(self.clock_offset_secs.unsigned_abs())
        };
        let identity =
            aws_credential_types::Credentials::new(&self.account.access_key_id, &self.account.secret_access_key, None, None, "wire-tests").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("guardduty")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("http://{}{}", self.addr, req.uri());
        let headers: Vec<(String, String)> = req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string())).collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(signed_body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(req);
    }

    pub async fn call(&self, method: Method, path_and_query: &str, body: &str) -> Resp {
        send(self.addr, self.signed(method, path_and_query, body.as_bytes())).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, "").await
    }

    pub async fn post(&self, path: &str, body: &str) -> Resp {
        self.call(Method::POST, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, "").await
    }

    /// Creates this client's detector and returns its id.
    pub async fn create_detector(&self) -> String {
        let r = self.post("/detector", r#"{"enable":true}"#).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        r.json()["detectorId"].as_str().unwrap().to_string()
    }

    pub fn detector_arn(&self, detector_id: &str) -> String {
        format!("arn:aws:guardduty:{}:{}:detector/{detector_id}", self.region, self.account.account_id)
    }
}

/// Percent-encodes a URI label the way the SDKs do (everything but unreserved characters).
pub fn encode_label(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One request on a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.expect("response");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Resp { status: parts.status, headers: parts.headers, body }
}
