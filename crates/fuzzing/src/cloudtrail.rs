//! CloudTrail sources as `vedette ingest` reads them (plain or gzip; a log file, a JSON array or
//! JSON lines), then detection and aggregation on every record, as the ingest workers run them.
use std::collections::HashMap;
use std::io::Write;

use vedette_domain::cloudtrail::CloudTrailRecord;
use vedette_domain::detect::{self, DetectContext};
use vedette_domain::{Occurrence, aggregate, attributes};
use vedette_ingest::{ReadEnd, read_bytes_for_fuzzing as read};

use crate::fixtures::{self, DETECTOR_ID, NOW_MS};

/// What a read delivered at one position: a record (by the fields that identify it) or a bad one.
type Seen = (u64, Option<[String; 3]>);

fn fingerprint(record: &CloudTrailRecord<'_>) -> [String; 3] {
    [record.event_id.as_str().to_owned(), record.event_name.as_str().to_owned(), record.event_time.as_str().to_owned()]
}

/// The parts of a read's end that later runs depend on.
fn outcome(end: &ReadEnd) -> (u64, bool, bool, bool, bool) {
    (end.position, end.problem.is_some(), end.truncated, end.json_lines, end.empty)
}

/// `data` is a whole source file. Properties, besides not crashing:
/// * positions are delivered in order, after the start, and the end position covers them all;
/// * stopping at a position and resuming from the position the reader reports (what an
///   interrupted ingest does) delivers exactly the records of one uninterrupted read;
/// * the same bytes gzipped, as one member or as two (CloudTrail's concatenated deliveries),
///   read exactly as the plain bytes.
pub fn cloudtrail(data: &[u8]) {
    let mut seen: Vec<Seen> = Vec::new();
    let mut findings: HashMap<String, Occurrence> = HashMap::new();
    let full = read(data, 0, |position, item| {
        match item {
            Ok(record) => {
                seen.push((position, Some(fingerprint(record))));
                detect_into(record, position, &mut findings);
            }
            Err(_) => seen.push((position, None)),
        }
        true
    });
    check_order(&seen, 0, &full);
    aggregate_all(findings);

    // Interrupt at one position (the first item there, as the ingester's stop flag does), resume.
    let mut positions: Vec<u64> = seen.iter().map(|s| s.0).collect();
    positions.dedup();
    if !positions.is_empty() && !full.stopped {
        let stop_at = positions[data.len() % positions.len()];
        let mut before = Vec::new();
        let stopped = read(data, 0, |position, item| {
            if position == stop_at {
                return false;
            }
            before.push((position, item.ok().map(fingerprint)));
            true
        });
        assert!(stopped.stopped, "a stop at {stop_at} was not reported: {stopped:?}");
        assert_eq!(stopped.position, stop_at - 1, "a stop leaves the position before the stopped one");
        let mut after = Vec::new();
        let resumed = read(data, stopped.position, |position, item| {
            after.push((position, item.ok().map(fingerprint)));
            true
        });
        check_order(&after, stopped.position, &resumed);
        before.extend(after);
        assert_eq!(before, seen, "stopped at {stop_at} and resumed: not the records of one read");
        assert_eq!(outcome(&resumed), outcome(&full), "stopped at {stop_at} and resumed: another end");
    }

    // The gzip layer is transparent, including multi-member streams (input that is gzip already
    // would be read as the text of a gzip file: not the same source).
    if data.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let cut = data.len().checked_div(3).unwrap_or(0);
    for gz in [gzip(&[data]), gzip(&[&data[..cut], &data[cut..]])] {
        let mut zipped = Vec::new();
        let end = read(&gz, 0, |position, item| {
            zipped.push((position, item.ok().map(fingerprint)));
            true
        });
        assert_eq!(zipped, seen, "gzipped: other records");
        assert_eq!(outcome(&end), outcome(&full), "gzipped: another end");
    }
}

fn check_order(seen: &[Seen], start: u64, end: &ReadEnd) {
    let mut last = start;
    for (position, _) in seen {
        assert!(*position > start, "position {position} delivered when reading after {start}");
        assert!(*position >= last, "position {position} after {last}");
        last = *position;
    }
    if !end.stopped {
        assert!(end.position >= last, "the read ends at {} but delivered position {last}", end.position);
    }
}

/// What `SourceState::take` does with a record: route-independent checks, rules, occurrences,
/// repeats pre-merged by finding id.
fn detect_into(record: &CloudTrailRecord<'_>, position: u64, findings: &mut HashMap<String, Occurrence>) {
    if detect::missing_field(record).is_some() {
        return;
    }
    let hits = detect::hits(record);
    if hits.is_empty() || detect::event_time_ms(record).is_none() {
        return;
    }
    let ctx = DetectContext { detector_id: DETECTOR_ID, now_ms: NOW_MS, source: "fuzz", position, intel: fixtures::intel() };
    for occurrence in detect::build_occurrences(record, &ctx, hits) {
        match findings.get_mut(occurrence.finding_id()) {
            Some(existing) => aggregate::merge_occurrence_deferred(existing, &occurrence, NOW_MS),
            None => {
                findings.insert(occurrence.finding_id().to_owned(), occurrence);
            }
        }
    }
}

/// What the writer and the store do with the occurrences: evidence written, the finding merged
/// into a stored copy, indexed by attribute, serialized for the API.
fn aggregate_all(findings: HashMap<String, Occurrence>) {
    for (id, mut occurrence) in findings {
        occurrence.sync_evidence();
        assert_eq!(occurrence.finding_id(), id);
        let mut stored = occurrence.finding.clone();
        aggregate::merge(&mut stored, &occurrence, NOW_MS + 1);
        let count = |f: &vedette_domain::model::Finding| f.service.as_ref().and_then(|s| s.count).unwrap_or(1).max(1);
        assert_eq!(count(&stored), count(&occurrence.finding).saturating_mul(2), "a finding merged with itself counts twice");
        attributes::extract_all(&stored);
        serde_json::to_vec(&stored).expect("a finding serializes");
    }
}

fn gzip(members: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(member).expect("writing to memory");
        out.extend(encoder.finish().expect("writing to memory"));
    }
    out
}
