//! What flow detection remembers between records: bounded, and serializable so the ingester can
//! persist it (`serve --watch` restarts) — the same records give the same findings whether they
//! arrive in one batch or many.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bounded::make_room;
use super::connection::ConnectionTable;
use super::heuristics::HeuristicState;
use crate::model;

/// Probes listed per port-probe finding: the most recent distinct (local port, remote IP) pairs.
pub const MAX_PROBE_DETAILS: usize = 10;
/// Port-probe findings tracked at once; the least recently probed is forgotten first.
pub const MAX_PROBE_FINDINGS: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    /// (finding type, resource key) → the probes to list, latest last.
    #[serde(default)]
    probes: BTreeMap<String, ProbeList>,
    /// Brute force, scans and floods ([`super::heuristics`]).
    #[serde(default)]
    pub heuristics: HeuristicState,
    /// Connections seen lately, so a connection's later records are not counted again. State
    /// written before this table existed loads with it empty: a connection then in progress may
    /// be counted once more, never missed.
    #[serde(default)]
    pub connections: ConnectionTable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ProbeList {
    last_seen_ms: i64,
    details: Vec<model::PortProbeDetail>,
}

fn same_probe(a: &model::PortProbeDetail, b: &model::PortProbeDetail) -> bool {
    a.local_port_details.as_ref().and_then(|p| p.port) == b.local_port_details.as_ref().and_then(|p| p.port)
        && a.remote_ip_details == b.remote_ip_details
        && a.local_ip_details == b.local_ip_details
}

impl FlowState {
    /// Adds a probe to the finding's list and returns the list as the finding should show it.
    pub fn record_probe(
        &mut self,
        resource_key: &str,
        finding_type: &str,
        time_ms: i64,
        detail: model::PortProbeDetail,
    ) -> Vec<model::PortProbeDetail> {
        let key = format!("{finding_type}\u{1f}{resource_key}");
        if !self.probes.contains_key(&key) && self.probes.len() >= MAX_PROBE_FINDINGS {
            // Probe lists have no window: only the least recently probed make room.
            make_room(&mut self.probes, MAX_PROBE_FINDINGS, i64::MIN, |l| l.last_seen_ms);
        }
        let list = self.probes.entry(key).or_default();
        list.last_seen_ms = list.last_seen_ms.max(time_ms);
        list.details.retain(|d| !same_probe(d, &detail));
        list.details.push(detail);
        let excess = list.details.len().saturating_sub(MAX_PROBE_DETAILS);
        list.details.drain(..excess);
        list.details.clone()
    }

    /// Findings whose probe lists are remembered.
    pub fn probe_findings(&self) -> usize {
        self.probes.len()
    }
}
