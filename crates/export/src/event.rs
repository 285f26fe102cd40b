//! The EventBridge envelope GuardDuty puts around a finding (docs/api.md#detectors):
//!
//! ```json
//! {"version":"0","id":"…","detail-type":"GuardDuty Finding","source":"aws.guardduty",
//!  "account":"111122223333","time":"2024-05-01T12:00:00Z","region":"us-east-1","resources":[],
//!  "detail":{ …the finding… }}
//! ```
//!
//! `detail` is the finding as GetFindings returns it, except `service.additionalInfo`: the API
//! JSON-encodes it into `{"value":"<JSON text>","type":"default"}`, while GuardDuty's exports
//! (EventBridge and S3) carry the raw object (docs/findings.md#finding-document, observed), e.g. `{"sample":true}`.
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use vedette_store::export::OutboxEvent;

pub const DETAIL_TYPE: &str = "GuardDuty Finding";
pub const SOURCE: &str = "aws.guardduty";

#[derive(Serialize)]
struct Envelope<'a> {
    version: &'static str,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: &'static str,
    source: &'static str,
    account: &'a str,
    time: String,
    region: &'a str,
    resources: [&'a str; 0],
    detail: &'a RawValue,
}

/// The envelope of one outbox event, as one line of JSON (no newline).
///
/// `id` is derived from the event's identity (detector, finding, outbox position), so a
/// redelivered event carries the same id and receivers can drop duplicates. `time` is when the
/// event became due (whole seconds, like EventBridge).
pub fn envelope(event: &OutboxEvent) -> serde_json::Result<String> {
    let detail = export_detail(&event.body_json)?;
    let detail = RawValue::from_string(detail)?;
    serde_json::to_string(&Envelope {
        version: "0",
        id: event_id(event),
        detail_type: DETAIL_TYPE,
        source: SOURCE,
        account: &event.account_id,
        time: iso_seconds(event.due_ms),
        region: &event.region,
        resources: [],
        detail: &detail,
    })
}

/// The finding document as exports carry it: `service.additionalInfo` decoded to the raw
/// object when its `value` holds JSON; anything else unchanged.
pub fn export_detail(body_json: &str) -> serde_json::Result<String> {
    // Most findings carry no additionalInfo: leave their text untouched (no parse).
    if !body_json.contains("\"additionalInfo\"") {
        return Ok(body_json.to_string());
    }
    // serde_json::Value: one nested member of a document written elsewhere is rewritten, off the
    // ingest path (the pump), so the generic tree is simplest.
    let mut doc: serde_json::Value = serde_json::from_str(body_json)?;
    if let Some(info) = doc.pointer_mut("/service/additionalInfo")
        && let Some(raw) = info
            .get("value")
            .and_then(|v| v.as_str())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .filter(serde_json::Value::is_object)
    {
        *info = raw;
    }
    serde_json::to_string(&doc)
}

/// A UUID-shaped id (version 5 layout) from the event's identity.
pub fn event_id(event: &OutboxEvent) -> String {
    let mut hash = Sha256::new();
    for part in [event.detector_id.as_str(), event.finding_id.as_str(), &event.seq.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let mut b: [u8; 16] = hash.finalize()[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `2024-05-01T12:00:00Z`
pub fn iso_seconds(epoch_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(epoch_ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> OutboxEvent {
        OutboxEvent {
            seq: 7,
            detector_id: "d".repeat(32),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            finding_id: "f".repeat(32),
            body_json: body.into(),
            created: true,
            enqueued_at_ms: 1_714_564_800_123,
            due_ms: 1_714_564_800_123,
        }
    }

    #[test]
    fn envelope_fields_are_eventbridge_s() {
        let body = r#"{"id":"ffff","type":"Recon:IAMUser/MaliciousIPCaller","service":{"archived":false,"count":2}}"#;
        let text = envelope(&event(body)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "0");
        assert_eq!(v["detail-type"], "GuardDuty Finding");
        assert_eq!(v["source"], "aws.guardduty");
        assert_eq!(v["account"], "111122223333");
        assert_eq!(v["region"], "eu-west-1");
        assert_eq!(v["time"], "2024-05-01T12:00:00Z");
        assert_eq!(v["resources"], serde_json::json!([]));
        assert_eq!(v["detail"], serde_json::from_str::<serde_json::Value>(body).unwrap());
        let id = v["id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'5');
        // Same event, same id; another position, another id.
        assert_eq!(event_id(&event(body)), id);
        let mut later = event(body);
        later.seq = 8;
        assert_ne!(event_id(&later), id);
        assert!(!text.contains('\n'));
    }

    #[test]
    fn additional_info_is_exported_raw() {
        let body = r#"{"id":"x","service":{"additionalInfo":{"value":"{\"sample\":true,\"threatListName\":\"t\"}","type":"default"}}}"#;
        let v: serde_json::Value = serde_json::from_str(&export_detail(body).unwrap()).unwrap();
        assert_eq!(v["service"]["additionalInfo"], serde_json::json!({"sample": true, "threatListName": "t"}));
        // A value that is not a JSON object stays as the API shows it.
        let odd = r#"{"service":{"additionalInfo":{"value":"plain text","type":"default"}}}"#;
        let v: serde_json::Value = serde_json::from_str(&export_detail(odd).unwrap()).unwrap();
        assert_eq!(v["service"]["additionalInfo"]["value"], "plain text");
    }
}
