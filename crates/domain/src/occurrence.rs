use crate::model;

/// How many source events a finding keeps as evidence (the latest by event time).
pub const EVIDENCE_KEEP: usize = 10;

/// What produced a finding occurrence: kept so every finding can be explained.
///
/// The three lists run in parallel, one entry per source event, ordered oldest → latest by
/// (event time, event id, source), and keep the latest [`EVIDENCE_KEEP`]. Findings carry it in
/// `service.additionalInfo.value` under the `vedette` key (see [`Evidence::to_info_json`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The rule (finding type definition) that fired.
    pub rule: String,
    /// Source event ids (CloudTrail `eventID`), the latest few.
    pub event_ids: Vec<String>,
    /// Where the events came from: `file:line` / `stdin:line`.
    pub sources: Vec<String>,
    /// Event times (epoch ms): the order key, kept so merging stays independent of input order.
    #[serde(default)]
    pub event_times_ms: Vec<i64>,
}

impl Evidence {
    pub fn single(rule: &str, event_id: &str, event_time_ms: i64, source: String) -> Self {
        Evidence { rule: rule.to_owned(), event_ids: vec![event_id.to_owned()], sources: vec![source], event_times_ms: vec![event_time_ms] }
    }

    fn entries(&self) -> impl Iterator<Item = (i64, &str, &str)> {
        let n = self.event_ids.len().min(self.sources.len()).min(self.event_times_ms.len());
        (0..n).map(move |i| (self.event_times_ms[i], self.event_ids[i].as_str(), self.sources[i].as_str()))
    }

    /// The latest event as (time, id): which occurrence's details a finding shows.
    pub fn latest(&self) -> Option<(i64, &str)> {
        self.entries().max().map(|(t, id, _)| (t, id))
    }

    /// Union of both, ordered, duplicates dropped, the latest [`EVIDENCE_KEEP`] kept.
    pub fn merge(&mut self, other: &Evidence) {
        let mut all: Vec<(i64, String, String)> =
            self.entries().chain(other.entries()).map(|(t, id, src)| (t, id.to_owned(), src.to_owned())).collect();
        all.sort();
        all.dedup();
        let skip = all.len().saturating_sub(EVIDENCE_KEEP);
        self.event_times_ms.clear();
        self.event_ids.clear();
        self.sources.clear();
        for (t, id, src) in all.into_iter().skip(skip) {
            self.event_times_ms.push(t);
            self.event_ids.push(id);
            self.sources.push(src);
        }
        if self.rule.is_empty() {
            self.rule = other.rule.clone();
        }
    }

    /// `service.additionalInfo.value`: `{"vedette":{"rule","eventIds","sources","eventTimes"}}`.
    pub fn to_info_json(&self) -> String {
        let times: Vec<String> = self.event_times_ms.iter().map(|&t| crate::time::iso_ms(t)).collect();
        serde_json::json!({
            "vedette": {
                "rule": self.rule,
                "eventIds": self.event_ids,
                "sources": self.sources,
                "eventTimes": times,
            }
        })
        .to_string()
    }

    /// Reads the evidence back from a finding's `service.additionalInfo` (None when it has none).
    pub fn from_finding(finding: &model::Finding) -> Option<Evidence> {
        let value = finding.service.as_ref()?.additional_info.as_ref()?.value.as_deref()?;
        let parsed: serde_json::Value = serde_json::from_str(value).ok()?;
        let v = parsed.get("vedette")?;
        let strings = |key: &str| -> Vec<String> {
            v.get(key).and_then(|a| a.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        Some(Evidence {
            rule: v.get("rule").and_then(|r| r.as_str()).unwrap_or_default().to_owned(),
            event_ids: strings("eventIds"),
            sources: strings("sources"),
            event_times_ms: strings("eventTimes").iter().map(|t| crate::time::parse_iso_ms(t).unwrap_or(0)).collect(),
        })
    }

    /// Writes the evidence into `service.additionalInfo` (`type: "default"`), keeping any other
    /// keys the value already holds.
    pub fn store_in(&self, finding: &mut model::Finding) {
        let service = finding.service.get_or_insert_with(Default::default);
        let info = service.additional_info.get_or_insert_with(Default::default);
        info.r#type.get_or_insert_with(|| "default".into());
        let ours_only = info.value.as_deref().is_none_or(|v| v.starts_with("{\"vedette\":") && !v.contains("},\""));
        if ours_only {
            // The common case (detection's own findings): no other keys to keep.
            info.value = Some(self.to_info_json());
            return;
        }
        let mut object =
            info.value.as_deref().and_then(|v| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(v).ok()).unwrap_or_default();
        let ours: serde_json::Value = serde_json::from_str(&self.to_info_json()).unwrap_or_default();
        if let Some(v) = ours.get("vedette") {
            object.insert("vedette".into(), v.clone());
        }
        info.value = Some(serde_json::Value::Object(object).to_string());
        info.r#type.get_or_insert_with(|| "default".into());
    }
}

/// One detection: a finding as it would look if it were new (id set, count 1, first/last seen =
/// the event time), to be merged into the stored finding of the same id if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub detector_id: String,
    pub finding: model::Finding,
    /// Event time in epoch ms (drives first/last seen, and which occurrence's details win).
    pub event_time_ms: i64,
    pub evidence: Evidence,
}

impl Occurrence {
    pub fn finding_id(&self) -> &str {
        self.finding.id.as_deref().unwrap_or_default()
    }

    /// Writes `evidence` into the finding's `additionalInfo` (after deferred merges).
    pub fn sync_evidence(&mut self) {
        self.evidence.store_in(&mut self.finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(entries: &[(i64, &str)]) -> Evidence {
        Evidence {
            rule: "r".into(),
            event_ids: entries.iter().map(|e| e.1.to_owned()).collect(),
            sources: entries.iter().map(|e| format!("f:{}", e.1)).collect(),
            event_times_ms: entries.iter().map(|e| e.0).collect(),
        }
    }

    #[test]
    fn merge_keeps_the_latest_few_in_order_without_duplicates() {
        let mut a = ev(&(0..8).map(|i| (i * 10, "a")).collect::<Vec<_>>());
        a.event_ids.iter_mut().enumerate().for_each(|(i, id)| *id = format!("a{i}"));
        let b = ev(&[(75, "b"), (5, "c"), (70, "a7")]);
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged.event_ids.len(), EVIDENCE_KEEP);
        assert!(merged.event_times_ms.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(merged.latest(), Some((75, "b")));
        assert!(!merged.event_ids.contains(&"a0".to_owned()), "oldest dropped: {merged:?}");
    }

    #[test]
    fn round_trips_through_a_finding() {
        let e = ev(&[(1_700_000_000_000, "x"), (1_700_000_001_000, "y")]);
        let mut f = model::Finding::default();
        e.store_in(&mut f);
        assert_eq!(f.service.as_ref().unwrap().additional_info.as_ref().unwrap().r#type.as_deref(), Some("default"));
        assert_eq!(Evidence::from_finding(&f), Some(e));
    }
}
