//! `vedette serve --watch` as a user runs it: the built binary on 127.0.0.1:0, a detector created
//! through the API with a SigV4-signed request (signed by the `aws-sigv4` crate, the Rust SDK's
//! signer), a CloudTrail object dropped into the watched tree, and the finding read back through
//! ListFindings / GetFindings. Then SIGTERM: server and watcher stop cleanly.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};

/// `--auth any` puts every caller in this account (the server's default).
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// One signed request on a fresh connection; returns (status, JSON body).
fn call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let identity = aws_credential_types::Credentials::new("AKIDWATCHTEST", "secret-not-checked", None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("guardduty")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = addr.to_string();
    let headers = [("host", host.as_str()), ("content-type", "application/json")];
    let url = format!("http://{host}{path}");
    let signable = SignableRequest::new(method, &url, headers.iter().copied(), SignableBody::Bytes(body.as_bytes())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();

    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = if payload.is_empty() { Value::Null } else { serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}")) };
    (status, json)
}

fn root_call(id: &str, key: &str, name: &str, error: Option<&str>) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": "2024-03-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": name, "awsRegion": REGION, "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "eventID": id, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT,
        "requestParameters": null, "responseElements": null,
        "userIdentity": {"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT, "accessKeyId": key},
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

/// The server with its stderr collected (and drained, so logging never blocks it).
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(data: &std::path::Path, watched: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vedette"))
            .args(["serve", "--auth", "any", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--watch")
            .arg(watched)
            .env_remove("VEDETTE_DATA_DIR")
            .env("VEDETTE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("vedette listening on http://") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the server prints its address").parse().unwrap();
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_watch_ingests_dropped_files_and_stops_with_the_server() {
    let data = tempfile::tempdir().unwrap();
    let watched = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), watched.path());

    let (status, created) = call(server.addr, "POST", "/detector", &json!({"enable": true}));
    assert_eq!(status, 200, "{created}");
    let detector = created["detectorId"].as_str().unwrap().to_owned();
    let list_path = format!("/detector/{detector}/findings");
    let (status, empty) = call(server.addr, "POST", &list_path, &json!({}));
    assert_eq!((status, &empty["findingIds"]), (200, &json!([])), "{empty}");

    // A CloudTrail object delivered into the tree while the server runs.
    let day = watched.path().join(format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&day).unwrap();
    let records = [
        root_call("ev-denied", "ASIAROOTDENIED", "CreateAccessKey", Some("AccessDenied")),
        root_call("ev-ok", "ASIAROOTOK", "ListUsers", None),
        json!({"eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "awsRegion": REGION, "recipientAccountId": ACCOUNT, "eventTime": "2024-03-01T10:01:00Z", "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIABENIGN"}}),
    ];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({"Records": records}).to_string().as_bytes()).unwrap();
    std::fs::write(day.join(format!("{ACCOUNT}_CloudTrail_{REGION}_20240301T1000Z_watch.json.gz")), gz.finish().unwrap()).unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let ids = loop {
        let (status, listed) = call(server.addr, "POST", &list_path, &json!({}));
        assert_eq!(status, 200, "{listed}");
        let ids = listed["findingIds"].as_array().unwrap().clone();
        if ids.len() >= 2 {
            break ids;
        }
        assert!(Instant::now() < deadline, "no findings after 20 s; server log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ids.len(), 2);

    let (status, got) = call(server.addr, "POST", &format!("/detector/{detector}/findings/get"), &json!({"findingIds": ids}));
    assert_eq!(status, 200, "{got}");
    let findings = got["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    let api_call = |key: &str| {
        let f = findings
            .iter()
            .find(|f| f["resource"]["accessKeyDetails"]["accessKeyId"] == key)
            .unwrap_or_else(|| panic!("no finding for {key}: {got}"));
        assert_eq!(f["type"], "Policy:IAMUser/RootCredentialUsage");
        assert_eq!(f["accountId"], ACCOUNT);
        assert_eq!(f["region"], REGION);
        f["service"]["action"]["awsApiCallAction"].clone()
    };
    let denied = api_call("ASIAROOTDENIED");
    assert_eq!(
        (&denied["api"], &denied["serviceName"], &denied["errorCode"]),
        (&json!("CreateAccessKey"), &json!("iam.amazonaws.com"), &json!("AccessDenied"))
    );
    let ok = api_call("ASIAROOTOK");
    assert_eq!(ok["api"], "ListUsers");
    assert!(ok.get("errorCode").is_none(), "a successful call's finding has no errorCode: {ok}");

    // SIGTERM: the HTTP server and the watcher both stop, and the process exits successfully.
    let term = Command::new("kill").arg("-TERM").arg(server.child.id().to_string()).status().unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 20 s after SIGTERM; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}; log:\n{}", server.log());
    std::thread::sleep(Duration::from_millis(200)); // the stderr reader catches up
    let log = server.log();
    assert!(log.contains("watch: ingested batch"), "{log}");
    assert!(log.contains("findings_created=2"), "{log}");
    assert!(log.contains("watch: stopped"), "{log}");
}
