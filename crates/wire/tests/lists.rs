//! IPSet and ThreatIntelSet operations over HTTP against the real router, with list files in a
//! temporary intel directory and a raw HTTP server on 127.0.0.1:0 for http:// locations.
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vedette_remote::{Remote, RemoteConfig};
use vedette_store::lists::{ListKind, NewList};
use vedette_store::{ListStore, SqliteStore, Store};
use vedette_wire::{AppState, AuthConfig, Credential, Credentials};

/// The service's answer to an unknown list of `kind`.
fn not_found_message(kind: ListKind) -> String {
    vedette_service::ServiceError::from(vedette_store::StoreError::NotFound(kind.resource())).message
}

/// The service's answer to a create beyond `kind`'s quota.
fn quota_message(kind: ListKind) -> String {
    vedette_service::ServiceError::from(vedette_store::StoreError::QuotaExceeded { resource: kind.resource(), max: kind.max_lists() }).message
}

struct Server {
    addr: std::net::SocketAddr,
    state: AppState,
    accounts: Vec<Account>,
    intel: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Server {
    /// A SigV4 server reading `file://` lists under its intel dir and `http://` from `hosts`.
    async fn start(hosts: &[String]) -> Server {
        let intel = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        Self::start_on(intel, data, hosts).await
    }

    async fn start_on(intel: tempfile::TempDir, data: tempfile::TempDir, hosts: &[String]) -> Server {
        let accounts = accounts();
        let mut creds = Credentials::default();
        for a in &accounts {
            creds.insert(Credential {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                account_id: a.account_id.clone(),
            });
        }
        let store = SqliteStore::open(data.path()).unwrap();
        let remote = Remote::new(RemoteConfig { intel_dirs: vec![intel.path().to_path_buf()], allowed_hosts: hosts.to_vec(), s3: None }).unwrap();
        let state = AppState::new(Arc::new(store), AuthConfig::sigv4(creds)).with_remote(remote);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(vedette_wire::run(listener, state.clone(), std::future::pending()));
        Server { addr, state, accounts, intel, _data: data }
    }

    fn client(&self, account: usize) -> Client {
        Client { addr: self.addr, account: self.accounts[account].clone(), region: REGION.into(), clock_offset_secs: 0 }
    }

    /// Writes a list file in the intel dir and returns its `file://` location.
    fn file(&self, name: &str, content: &str) -> String {
        let path = self.intel.path().join(name);
        std::fs::write(&path, content).unwrap();
        format!("file://{}", path.display())
    }
}

fn kind_path(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => "ipset",
        ListKind::Threat => "threatintelset",
    }
}

fn id_member(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => "ipSetId",
        ListKind::Threat => "threatIntelSetId",
    }
}

async fn create(c: &Client, did: &str, kind: ListKind, body: Value) -> Resp {
    c.post(&format!("/detector/{did}/{}", kind_path(kind)), &body.to_string()).await
}

async fn create_ok(c: &Client, did: &str, kind: ListKind, name: &str, location: &str, activate: bool) -> String {
    let r = create(c, did, kind, json!({"name": name, "format": "TXT", "location": location, "activate": activate})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    r.json()[id_member(kind)].as_str().unwrap().to_string()
}

async fn get(c: &Client, did: &str, kind: ListKind, id: &str) -> Resp {
    c.get(&format!("/detector/{did}/{}/{id}", kind_path(kind))).await
}

/// Polls Get until the status is one of `wanted` (or fails after 10 s).
async fn wait_for(c: &Client, did: &str, kind: ListKind, id: &str, wanted: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(c, did, kind, id).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        let body = r.json();
        if wanted.contains(&body["status"].as_str().unwrap()) {
            return body;
        }
        assert!(Instant::now() < deadline, "status stuck at {}", body["status"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn threat_list_life_cycle() {
    let server = Server::start(&[]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let location = server.file("threats.txt", "# bad actors\n198.51.100.7\n203.0.113.0/24\n\nnot-an-ip\n");
    let r = create(
        &c,
        &did,
        ListKind::Threat,
        json!({
            "name": "Bad actors", "format": "TXT", "location": location, "activate": true, "tags": {"team": "sec"}
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["threatIntelSetId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);

    let got = wait_for(&c, &did, ListKind::Threat, &id, &["ACTIVE"]).await;
    assert_eq!(got, json!({"name": "Bad actors", "format": "TXT", "location": location, "status": "ACTIVE", "tags": {"team": "sec"}}));
    let active = server.state.store().active_lists(&did).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].entries, vec!["198.51.100.7/32", "203.0.113.0/24"]);
    assert_eq!(active[0].name, "Bad actors");

    // A new location is only read at re-activation.
    let v2 = server.file("v2.txt", "192.0.2.44\n");
    let r = c.post(&format!("/detector/{did}/threatintelset/{id}"), &json!({"location": v2}).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&c, &did, ListKind::Threat, &id).await.json()["status"], "ACTIVE");
    assert_eq!(server.state.store().active_lists(&did).unwrap()[0].entries.len(), 2);
    let r = c.post(&format!("/detector/{did}/threatintelset/{id}"), &json!({"activate": true}).to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for(&c, &did, ListKind::Threat, &id, &["ACTIVE"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.state.store().active_lists(&did).unwrap().first().map(|l| l.entries.clone()) != Some(vec!["192.0.2.44/32".into()]) {
        assert!(Instant::now() < deadline, "re-activation did not take the new file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Deactivate, then delete.
    let r = c.post(&format!("/detector/{did}/threatintelset/{id}"), &json!({"activate": false}).to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for(&c, &did, ListKind::Threat, &id, &["INACTIVE"]).await;
    assert!(server.state.store().active_lists(&did).unwrap().is_empty());
    let r = c.delete(&format!("/detector/{did}/threatintelset/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for(&c, &did, ListKind::Threat, &id, &["DELETED"]).await;
    let listed = c.get(&format!("/detector/{did}/threatintelset")).await.json();
    assert_eq!(listed, json!({"threatIntelSetIds": []}));
    let again = c.delete(&format!("/detector/{did}/threatintelset/{id}")).await;
    again.assert_bad_request(&not_found_message(ListKind::Threat));
}

#[tokio::test]
async fn unreadable_files_end_in_error_with_the_reason_kept() {
    let server = Server::start(&[]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let garbage = server.file("garbage.txt", "SECRET-LINE-1\nSECRET-LINE-2\n");
    let missing = format!("file://{}/missing.txt", server.intel.path().display());
    let stix = server.file("broken.xml", "SECRET plain text, not XML\n");
    let too_many: String = (0..2001).map(|i| format!("10.0.{}.{}\n", i / 256, i % 256)).collect();
    let too_many = server.file("too-many.txt", &too_many);
    let cases = [
        (ListKind::Threat, "TXT", garbage, "no usable"),
        (ListKind::Threat, "TXT", missing, "not found"),
        (ListKind::Threat, "STIX", stix, "STIX"),
        (ListKind::Trusted, "TXT", too_many, "2000"),
    ];
    for (kind, format, location, why) in cases {
        let r = create(&c, &did, kind, json!({"name": "l", "format": format, "location": location, "activate": true})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        let id = r.json()[id_member(kind)].as_str().unwrap().to_string();
        let got = wait_for(&c, &did, kind, &id, &["ERROR", "ACTIVE"]).await;
        assert_eq!(got["status"], "ERROR", "{format} {why}");
        let scope = vedette_domain::Scope::new(c.account.account_id.clone(), REGION);
        let record = server.state.store().get_list(&scope, &did, kind, &id).unwrap();
        let reason = record.last_error.unwrap();
        assert!(reason.contains(why), "{reason}");
        assert!(!reason.contains("SECRET"), "{reason}");
        // Room for the next case of the same kind.
        c.delete(&format!("/detector/{did}/{}/{id}", kind_path(kind))).await;
        wait_for(&c, &did, kind, &id, &["DELETED"]).await;
    }
    assert!(server.state.store().active_lists(&did).unwrap().is_empty());
}

#[tokio::test]
async fn unusable_locations_are_400_at_create_and_update() {
    let server = Server::start(&["127.0.0.1:9".to_string()]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let intel = server.intel.path().display().to_string();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), server.intel.path().join("escape.txt")).unwrap();
    let refused = [
        format!("file://{}", outside.path().display()),
        format!("file://{intel}/../x.txt"),
        format!("file://{intel}/escape.txt"),
        "http://127.0.0.2:9/list.txt".to_string(),
        "http://127.0.0.1:10/list.txt".to_string(),
        "https://127.0.0.1:9/list.txt".to_string(),
        "ftp://127.0.0.1/list.txt".to_string(),
        "s3://my-bucket/list.txt".to_string(),
        "https://s3.amazonaws.com/my-bucket/list.txt".to_string(),
        "not a url".to_string(),
    ];
    for location in &refused {
        let r = create(&c, &did, ListKind::Threat, json!({"name": "l", "format": "TXT", "location": location, "activate": true})).await;
        let message = r.assert_error(400, "BadRequestException");
        assert!(message.starts_with("The request is rejected because the parameter location"), "{location}: {message}");
    }
    assert_eq!(c.get(&format!("/detector/{did}/threatintelset")).await.json()["threatIntelSetIds"], json!([]));

    let id = create_ok(&c, &did, ListKind::Threat, "l", &server.file("ok.txt", "192.0.2.1\n"), false).await;
    for location in &refused {
        let r = c.post(&format!("/detector/{did}/threatintelset/{id}"), &json!({"location": location}).to_string()).await;
        r.assert_error(400, "BadRequestException");
    }
    assert_eq!(get(&c, &did, ListKind::Threat, &id).await.json()["location"], server.file("ok.txt", "192.0.2.1\n"));
}

/// Serves `body` with 200 to every connection.
async fn http_file_server(body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn http_locations_on_allowed_hosts_activate() {
    let port = http_file_server("198.51.100.0/24\n").await;
    let server = Server::start(&[format!("127.0.0.1:{port}")]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let id = create_ok(&c, &did, ListKind::Trusted, "office_net-1", &format!("http://127.0.0.1:{port}/office.txt"), true).await;
    wait_for(&c, &did, ListKind::Trusted, &id, &["ACTIVE"]).await;
    let active = server.state.store().active_lists(&did).unwrap();
    assert_eq!((active[0].kind, active[0].entries.clone()), (ListKind::Trusted, vec!["198.51.100.0/24".to_string()]));
}

#[tokio::test]
async fn quotas_names_ids_and_idempotency() {
    let server = Server::start(&[]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let location = server.file("l.txt", "192.0.2.1\n");

    let body = json!({"name": "office", "format": "TXT", "location": location, "activate": false, "clientToken": "tok-1"});
    let first = create(&c, &did, ListKind::Trusted, body.clone()).await.json()["ipSetId"].clone();
    assert_eq!(create(&c, &did, ListKind::Trusted, body).await.json()["ipSetId"], first);
    let second = create(&c, &did, ListKind::Trusted, json!({"name": "other", "format": "TXT", "location": location, "activate": false})).await;
    second.assert_bad_request(&quota_message(ListKind::Trusted));

    for i in 0..6 {
        create_ok(&c, &did, ListKind::Threat, &format!("t{i}"), &location, i == 0).await;
    }
    let seventh = create(&c, &did, ListKind::Threat, json!({"name": "t7", "format": "TXT", "location": location, "activate": false})).await;
    seventh.assert_bad_request(&quota_message(ListKind::Threat));

    // Pagination over the six.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/detector/{did}/threatintelset?maxResults=4&nextToken={}", encode_label(t)),
            None => format!("/detector/{did}/threatintelset?maxResults=4"),
        };
        let page = c.get(&path).await.json();
        seen.extend(page["threatIntelSetIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    c.get(&format!("/detector/{did}/threatintelset?maxResults=51")).await.assert_error(400, "BadRequestException");
    c.get(&format!("/detector/{did}/threatintelset?maxResults=0")).await.assert_error(400, "BadRequestException");

    // IPSet names: alphanumerics, whitespace, '-' and '_'.
    let bad = create(&c, &did, ListKind::Trusted, json!({"name": "bad/name", "format": "TXT", "location": location, "activate": false})).await;
    bad.assert_error(400, "BadRequestException");
    // Model constraints: unknown format, missing activate.
    create(&c, &did, ListKind::Threat, json!({"name": "x", "format": "CSV", "location": location, "activate": false}))
        .await
        .assert_error(400, "BadRequestException");
    create(&c, &did, ListKind::Threat, json!({"name": "x", "format": "TXT", "location": location})).await.assert_error(400, "BadRequestException");

    // Unknown ids, and a list id of the other kind.
    let unknown = "0123456789abcdef0123456789abcdef";
    get(&c, &did, ListKind::Threat, unknown).await.assert_bad_request(&not_found_message(ListKind::Threat));
    get(&c, &did, ListKind::Threat, first.as_str().unwrap()).await.assert_bad_request(&not_found_message(ListKind::Threat));
    c.post(&format!("/detector/{did}/ipset/{unknown}"), "{}").await.assert_bad_request(&not_found_message(ListKind::Trusted));
    c.delete(&format!("/detector/{did}/ipset/{unknown}")).await.assert_bad_request(&not_found_message(ListKind::Trusted));
}

#[tokio::test]
async fn another_accounts_detector_and_lists_are_not_owned() {
    let server = Server::start(&[]).await;
    let (owner, other) = (server.client(0), server.client(1));
    let did = owner.create_detector().await;
    other.create_detector().await;
    let location = server.file("l.txt", "192.0.2.1\n");
    let id = create_ok(&owner, &did, ListKind::Threat, "mine", &location, false).await;
    create(&other, &did, ListKind::Threat, json!({"name": "x", "format": "TXT", "location": location, "activate": true}))
        .await
        .assert_bad_request(NOT_OWNED);
    get(&other, &did, ListKind::Threat, &id).await.assert_bad_request(NOT_OWNED);
    other.get(&format!("/detector/{did}/threatintelset")).await.assert_bad_request(NOT_OWNED);
    other.delete(&format!("/detector/{did}/threatintelset/{id}")).await.assert_bad_request(NOT_OWNED);
    assert_eq!(get(&owner, &did, ListKind::Threat, &id).await.json()["status"], "INACTIVE");
}

#[tokio::test]
async fn list_arns_take_tags() {
    let server = Server::start(&[]).await;
    let c = server.client(0);
    let did = c.create_detector().await;
    let id = create_ok(&c, &did, ListKind::Trusted, "office", &server.file("l.txt", "192.0.2.1\n"), false).await;
    let arn = format!("{}/ipset/{id}", c.detector_arn(&did));
    let r = c.post(&format!("/tags/{}", encode_label(&arn)), r#"{"tags":{"env":"prod"}}"#).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&c, &did, ListKind::Trusted, &id).await.json()["tags"], json!({"env": "prod"}));
    assert_eq!(c.get(&format!("/tags/{}", encode_label(&arn))).await.json(), json!({"tags": {"env": "prod"}}));
    let unknown = format!("{}/ipset/0123456789abcdef0123456789abcdef", c.detector_arn(&did));
    c.get(&format!("/tags/{}", encode_label(&unknown))).await.assert_bad_request(&not_found_message(ListKind::Trusted));
}

#[tokio::test]
async fn unfinished_transitions_resume_at_start_up() {
    let intel = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = intel.path().join("l.txt");
    std::fs::write(&path, "192.0.2.77\n").unwrap();
    let account = accounts()[0].account_id.clone();
    let scope = vedette_domain::Scope::new(account, REGION);
    // A previous run accepted the activation and stopped before carrying it out.
    let (did, id) = {
        let store = SqliteStore::open(data.path()).unwrap();
        let did = store.create_detector(&scope, Default::default(), Default::default(), None).unwrap().id;
        let list = NewList {
            kind: ListKind::Threat,
            name: "resumed".into(),
            format: "TXT".into(),
            location: format!("file://{}", path.display()),
            activate: true,
            tags: Default::default(),
            client_token: None,
            expected_bucket_owner: None,
        };
        (did.clone(), store.create_list(&scope, &did, list).unwrap().list_id)
    };
    let server = Server::start_on(intel, data, &[]).await;
    assert_eq!(server.state.service().resume_list_transitions().await.unwrap(), 1);
    let c = server.client(0);
    wait_for(&c, &did, ListKind::Threat, &id, &["ACTIVE"]).await;
    assert_eq!(server.state.store().active_lists(&did).unwrap()[0].entries, vec!["192.0.2.77/32"]);
}
