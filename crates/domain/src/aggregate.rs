//! Aggregation: a repeat of the same activity on the same resource updates the existing finding.
//!
//! The aggregation key (docs/findings.md#aggregation) is built by detection into the finding id
//! (`ids::finding_id(detector, key)`), so "same id" means "same activity on the same resource".
//! Merging is commutative and associative (up to `updatedAt`): an occurrence may itself be a
//! pre-merged batch, and any order or batching of the same occurrences gives the same finding.
use crate::model;
use crate::time::{iso_ms, parse_iso_ms};
use crate::{Evidence, Occurrence};

/// GuardDuty keeps a finding 90 days after its last update, archived or not (not adjustable,
/// docs/api.md#retention). Past that it is deleted, and a new occurrence of the same activity starts a new
/// finding instead of updating it (docs/findings.md#aggregation).
pub const FINDING_RETENTION_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Whether a finding last updated at `updated_at_ms` is past retention at `now_ms`.
pub fn is_expired(updated_at_ms: i64, now_ms: i64) -> bool {
    updated_at_ms < now_ms - FINDING_RETENTION_MS
}

/// Merges `occ` into `existing` (same id): count grows, first/last seen widen, `updatedAt` moves
/// to `now`, and the action details become those of the latest occurrence by event time, so that
/// out-of-order input converges on the same result. A manually archived finding is unarchived.
pub fn merge(existing: &mut model::Finding, occ: &Occurrence, now_ms: i64) {
    let mut evidence = Evidence::from_finding(existing).unwrap_or_default();
    merge_parts(existing, &mut evidence, occ, now_ms);
    evidence.store_in(existing);
}

/// Merges `other` into `into` (two occurrences of the same finding id, e.g. within one ingest
/// batch): the result is one occurrence standing for both.
pub fn merge_occurrence(into: &mut Occurrence, other: &Occurrence, now_ms: i64) {
    let mut evidence = std::mem::take(&mut into.evidence);
    merge_parts(&mut into.finding, &mut evidence, other, now_ms);
    evidence.store_in(&mut into.finding);
    into.evidence = evidence;
    into.event_time_ms = into.event_time_ms.max(other.event_time_ms);
}

/// [`merge_occurrence`] without rewriting `into.finding`'s evidence JSON: for hot loops that merge
/// many repeats, followed by one [`Occurrence::sync_evidence`] before the occurrence leaves.
pub fn merge_occurrence_deferred(into: &mut Occurrence, other: &Occurrence, now_ms: i64) {
    merge_parts(&mut into.finding, &mut into.evidence, other, now_ms);
    into.event_time_ms = into.event_time_ms.max(other.event_time_ms);
}

/// (event time, event id) of the event whose details a finding shows: the order key.
fn latest_key(finding: &model::Finding, evidence: &Evidence) -> (i64, String) {
    match evidence.latest() {
        Some((t, id)) => (t, id.to_owned()),
        None => (seen(finding, |s| &s.event_last_seen).unwrap_or(i64::MIN), String::new()),
    }
}

fn seen(finding: &model::Finding, field: impl Fn(&model::Service) -> &Option<String>) -> Option<i64> {
    finding.service.as_ref().and_then(|s| field(s).as_deref()).and_then(parse_iso_ms)
}

fn merge_parts(existing: &mut model::Finding, evidence: &mut Evidence, occ: &Occurrence, now_ms: i64) {
    let incoming = &occ.finding;
    let occ_wins = {
        let mut occ_key = latest_key(incoming, &occ.evidence);
        if occ.evidence.latest().is_none() {
            occ_key.0 = occ_key.0.max(occ.event_time_ms);
        }
        occ_key > latest_key(existing, evidence)
    };

    let first = min_opt(seen(existing, |s| &s.event_first_seen), seen(incoming, |s| &s.event_first_seen).or(Some(occ.event_time_ms)));
    let last = max_opt(seen(existing, |s| &s.event_last_seen), seen(incoming, |s| &s.event_last_seen).or(Some(occ.event_time_ms)));
    let count = count_of(existing).saturating_add(count_of(incoming));
    let created = min_opt(existing.created_at.as_deref().and_then(parse_iso_ms), incoming.created_at.as_deref().and_then(parse_iso_ms));

    if occ_wins {
        existing.severity = incoming.severity;
        existing.title = incoming.title.clone();
        existing.description = incoming.description.clone();
        existing.resource = incoming.resource.clone();
        if let Some(action) = incoming.service.as_ref().and_then(|s| s.action.clone()) {
            existing.service.get_or_insert_with(Default::default).action = Some(action);
        }
        // The threat list the latest occurrence's caller was on goes with its details
        // (`evidence.threatIntelligenceDetails`, `additionalInfo.threatListName`); the evidence
        // key of `additionalInfo` is written back after the merge.
        if let Some(incoming) = incoming.service.as_ref() {
            let service = existing.service.get_or_insert_with(Default::default);
            service.evidence = incoming.evidence.clone();
            service.additional_info = incoming.additional_info.clone();
        }
    }
    evidence.merge(&occ.evidence);

    let service = existing.service.get_or_insert_with(Default::default);
    service.count = Some(count);
    service.event_first_seen = first.map(iso_ms);
    service.event_last_seen = last.map(iso_ms);
    // docs/api.md#archiving-and-suppression: a manually archived finding that recurs is back among current findings.
    service.archived = Some(false);
    if let Some(created) = created {
        existing.created_at = Some(iso_ms(created));
    }
    existing.updated_at = Some(iso_ms(now_ms));
}

fn count_of(finding: &model::Finding) -> i32 {
    finding.service.as_ref().and_then(|s| s.count).unwrap_or(1).max(1)
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000_000;

    /// An occurrence as detection makes it: details (here the remote IP and errorCode) vary.
    fn occurrence(time_ms: i64, event_id: &str, ip: &str, error: Option<&str>) -> Occurrence {
        let evidence = Evidence::single("rule", event_id, time_ms, format!("file.json:{event_id}"));
        let mut finding = model::Finding {
            id: Some("f1".into()),
            r#type: Some("Policy:IAMUser/RootCredentialUsage".into()),
            severity: Some(2.0),
            created_at: Some(iso_ms(NOW)),
            updated_at: Some(iso_ms(NOW)),
            service: Some(model::Service {
                count: Some(1),
                archived: Some(false),
                event_first_seen: Some(iso_ms(time_ms)),
                event_last_seen: Some(iso_ms(time_ms)),
                action: Some(model::Action {
                    action_type: Some("AWS_API_CALL".into()),
                    aws_api_call_action: Some(model::AwsApiCallAction {
                        error_code: error.map(str::to_owned),
                        remote_ip_details: Some(model::RemoteIpDetails { ip_address_v4: Some(ip.into()), ..Default::default() }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        evidence.store_in(&mut finding);
        Occurrence { detector_id: "d".into(), finding, event_time_ms: time_ms, evidence }
    }

    fn action_ip(f: &model::Finding) -> String {
        f.service
            .as_ref()
            .unwrap()
            .action
            .as_ref()
            .unwrap()
            .aws_api_call_action
            .as_ref()
            .unwrap()
            .remote_ip_details
            .as_ref()
            .unwrap()
            .ip_address_v4
            .clone()
            .unwrap()
    }

    #[test]
    fn repeat_updates_count_times_and_takes_the_latest_details() {
        let mut stored = occurrence(2_000, "b", "10.0.0.2", Some("AccessDenied")).finding;
        merge(&mut stored, &occurrence(3_000, "c", "10.0.0.3", None), NOW + 5);
        merge(&mut stored, &occurrence(1_000, "a", "10.0.0.1", Some("Throttling")), NOW + 9);
        let service = stored.service.as_ref().unwrap();
        assert_eq!(service.count, Some(3));
        assert_eq!(service.event_first_seen.as_deref(), Some(iso_ms(1_000).as_str()));
        assert_eq!(service.event_last_seen.as_deref(), Some(iso_ms(3_000).as_str()));
        assert_eq!(action_ip(&stored), "10.0.0.3", "latest by event time wins, not latest applied");
        let api = service.action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap();
        assert_eq!(api.error_code, None, "the latest call succeeded: no errorCode");
        assert_eq!(stored.updated_at.as_deref(), Some(iso_ms(NOW + 9).as_str()));
        assert_eq!(Evidence::from_finding(&stored).unwrap().event_ids, ["a", "b", "c"]);
    }

    #[test]
    fn archived_finding_that_recurs_is_unarchived() {
        let mut stored = occurrence(1_000, "a", "10.0.0.1", None).finding;
        stored.service.as_mut().unwrap().archived = Some(true);
        merge(&mut stored, &occurrence(500, "z", "10.0.0.9", None), NOW);
        assert_eq!(stored.service.as_ref().unwrap().archived, Some(false));
        assert_eq!(action_ip(&stored), "10.0.0.1", "an older occurrence does not replace details");
    }

    #[test]
    fn same_time_ties_break_on_the_larger_event_id() {
        let mut x = occurrence(1_000, "b", "10.0.0.2", None).finding;
        merge(&mut x, &occurrence(1_000, "a", "10.0.0.1", None), NOW);
        let mut y = occurrence(1_000, "a", "10.0.0.1", None).finding;
        merge(&mut y, &occurrence(1_000, "b", "10.0.0.2", None), NOW);
        assert_eq!(action_ip(&x), "10.0.0.2");
        assert_eq!(x, y);
    }

    fn strip_updated(mut f: model::Finding) -> model::Finding {
        f.updated_at = None;
        f
    }

    proptest! {
        /// Any order and any batching of the same occurrences gives the same finding.
        #[test]
        fn merge_is_order_and_batch_independent(
            times in prop::collection::vec((0i64..50, 0u8..4), 1..25),
            perm_seed in any::<u64>(),
            split in 0usize..25,
        ) {
            let occs: Vec<Occurrence> = times.iter().enumerate().map(|(i, (t, e))| {
                let error = (*e == 0).then_some("AccessDenied");
                occurrence(t * 1000, &format!("e{:02}", (i * 7) % 25), &format!("10.0.{e}.{i}"), error)
            }).collect();

            // In order, one at a time into the stored finding.
            let mut sequential = occs[0].finding.clone();
            for o in &occs[1..] { merge(&mut sequential, o, NOW); }

            // Shuffled, pre-merged in two in-memory batches, then both batches applied.
            let mut shuffled = occs.clone();
            let mut seed = perm_seed;
            for i in (1..shuffled.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let cut = split.min(shuffled.len() - 1) + 1;
            let batch = |part: &[Occurrence]| {
                let mut acc = part[0].clone();
                for o in &part[1..] { merge_occurrence(&mut acc, o, NOW); }
                acc
            };
            let first = batch(&shuffled[..cut]);
            let mut batched = first.finding.clone();
            if cut < shuffled.len() {
                merge(&mut batched, &batch(&shuffled[cut..]), NOW + 1);
            }
            prop_assert_eq!(strip_updated(sequential.clone()), strip_updated(batched));
            prop_assert_eq!(sequential.service.as_ref().unwrap().count, Some(occs.len() as i32));
        }
    }
}
