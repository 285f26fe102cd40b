//! The sink pump against a real store: what it delivers, what it acknowledges, what a restart
//! or a failing receiver changes.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use vedette_domain::{DetectorConfig, Evidence, Occurrence, Scope, model, time};
use vedette_export::pump::{PumpConfig, SinkPump};
use vedette_export::{Sink, SinkSpec};
use vedette_store::{ExportStore, SqliteStore, Store};

fn fast() -> PumpConfig {
    PumpConfig { poll: Duration::from_millis(20), batch: 4, initial_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(80) }
}

fn finding(detector_id: &str, n: u64) -> model::Finding {
    let id = format!("{n:032x}");
    model::Finding {
        account_id: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        schema_version: Some("2.0".into()),
        id: Some(id.clone()),
        arn: Some(Scope::new("111122223333", "us-east-1").finding_arn(detector_id, &id)),
        r#type: Some("Policy:IAMUser/RootCredentialUsage".into()),
        severity: Some(2.0),
        created_at: Some(time::iso_ms(1_700_000_000_000)),
        updated_at: Some(time::iso_ms(1_700_000_000_000)),
        service: Some(model::Service { detector_id: Some(detector_id.into()), archived: Some(false), count: Some(1), ..Default::default() }),
        ..Default::default()
    }
}

fn raise(store: &SqliteStore, detector_id: &str, numbers: impl IntoIterator<Item = u64>) {
    let occurrences: Vec<Occurrence> = numbers
        .into_iter()
        .map(|n| Occurrence {
            detector_id: detector_id.into(),
            finding: finding(detector_id, n),
            event_time_ms: 1_700_000_000_000,
            evidence: Evidence::default(),
        })
        .collect();
    store.commit(&vedette_store::Commit::occurrences(&occurrences)).unwrap();
}

fn setup() -> (tempfile::TempDir, Arc<SqliteStore>, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let d = store.create_detector(&Scope::new("111122223333", "us-east-1"), DetectorConfig::default(), BTreeMap::new(), None).unwrap().id;
    (dir, store, d)
}

/// Finding ids of the event lines in `text`.
fn ids(text: &str) -> Vec<String> {
    // Complete lines only: the pump may be mid-append while a test polls the file.
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["detail-type"], "GuardDuty Finding");
            v["detail"]["id"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Runs a pump for `spec` until `done`, then stops it.
async fn pump_until(store: &Arc<SqliteStore>, spec: &SinkSpec, what: &str, done: impl FnMut() -> bool) {
    let sink = Sink::new(spec, None).unwrap();
    let pump = SinkPump::start(store.clone() as Arc<dyn Store>, spec.clone(), sink, fast()).await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(pump.run(stop.clone()));
    wait_until(what, done).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sink_appends_every_event_once_across_restarts() {
    let (dir, store, d) = setup();
    let path = dir.path().join("events.jsonl");
    let spec = SinkSpec::File(path.clone());
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    // Registered before findings are raised (as serve does).
    store.register_consumer(&spec.consumer_name(), None).unwrap();
    raise(&store, &d, 1..=10);
    // Until written AND acknowledged: a pump stopped between the two redelivers (at-least-once).
    let acked = || store.outbox_stats().unwrap().depth() == 0;
    pump_until(&store, &spec, "ten events", || ids(&read()).len() >= 10 && acked()).await;
    let expected: Vec<String> = (1..=10).map(|n| format!("{n:032x}")).collect();
    assert_eq!(ids(&read()), expected, "in order, each once (batches of 4)");

    // Another start: nothing again; new findings after it.
    raise(&store, &d, 11..=12);
    pump_until(&store, &spec, "two more", || ids(&read()).len() >= 12 && acked()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ids(&read()).len(), 12);
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sink_that_cannot_write_keeps_its_events() {
    let (dir, store, d) = setup();
    // A directory where the file should be: every append fails.
    let path = dir.path().join("blocked");
    std::fs::create_dir(&path).unwrap();
    let spec = SinkSpec::File(path.clone());
    store.register_consumer(&spec.consumer_name(), None).unwrap();
    raise(&store, &d, 1..=3);
    let started = std::time::Instant::now();
    pump_until(&store, &spec, "a few failed attempts", || started.elapsed() > Duration::from_millis(300)).await;
    assert_eq!(store.outbox_stats().unwrap().queued, 3);
    // Fixed: everything arrives.
    std::fs::remove_dir(&path).unwrap();
    pump_until(&store, &spec, "three events", || {
        std::fs::read_to_string(&path).is_ok_and(|t| ids(&t).len() == 3) && store.outbox_stats().unwrap().depth() == 0
    })
    .await;
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

/// A loopback HTTP receiver answering each POST with the next status of `script` (then 200),
/// recording the bodies it answered 2xx to.
async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.into_iter()));
    let seen = got.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (seen, script) = (seen.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // Read one request: head, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    assert!(head.starts_with("post /hook http/1.1"), "{head}");
                    assert!(head.contains("content-type: application/json"), "{head}");
                    let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.trim().parse().ok()).unwrap();
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
                    buf.drain(..head_end + length);
                    let status = script.lock().unwrap().next().unwrap_or(200);
                    if (200..300).contains(&status) {
                        seen.lock().unwrap().push(body);
                    }
                    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_retries_failures_and_delivers_in_order() {
    let (_dir, store, d) = setup();
    // The third POST fails twice (500, 503): the first two stay delivered, the rest is retried.
    let (url, got) = receiver(vec![200, 200, 500, 503]).await;
    let spec = SinkSpec::parse(&format!("webhook:{url}")).unwrap();
    store.register_consumer(&spec.consumer_name(), None).unwrap();
    raise(&store, &d, 1..=6);
    pump_until(&store, &spec, "six events", || got.lock().unwrap().len() >= 6 && store.outbox_stats().unwrap().depth() == 0).await;
    let bodies = got.lock().unwrap().clone();
    let delivered = ids(&(bodies.join("\n") + "\n"));
    let expected: Vec<String> = (1..=6).map(|n| format!("{n:032x}")).collect();
    assert_eq!(delivered, expected, "each once: the acknowledged prefix is not sent again");
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_is_down_loses_nothing() {
    let (_dir, store, d) = setup();
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spec = SinkSpec::parse(&format!("webhook:http://127.0.0.1:{port}/hook")).unwrap();
    store.register_consumer(&spec.consumer_name(), None).unwrap();
    raise(&store, &d, 1..=3);
    let started = std::time::Instant::now();
    pump_until(&store, &spec, "attempts", || started.elapsed() > Duration::from_millis(300)).await;
    assert_eq!(store.outbox_stats().unwrap().queued, 3);
}
