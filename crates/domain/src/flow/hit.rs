//! What a flow rule found on one record, before it is a finding.
use crate::envelope::ThreatMatch;
use crate::finding_types::{self as ft, ResourceRole};
use crate::model;

/// What a rule found on one record.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowHit {
    pub finding_type: &'static str,
    pub rule: &'static str,
    pub role: ResourceRole,
    pub severity: Option<f64>,
    pub threats: Vec<ThreatMatch>,
    pub detail: Option<String>,
    /// Title and description replacing the catalogue's, when the role changes what they must say
    /// (the catalogue describes a type's default role: brute force *against* the instance).
    pub title: Option<&'static str>,
    pub description: Option<&'static str>,
    /// `Some` for PORT_PROBE findings: the probes to list.
    pub probes: Option<Vec<model::PortProbeDetail>>,
    /// Windowed rules: the first and last event times of what the window holds. They, not the
    /// record that crossed the threshold, are the finding's first and last seen: the record that
    /// crosses it depends on the order records arrive in (files read in parallel), the window's
    /// span does not.
    pub window_ms: Option<(i64, i64)>,
}

impl FlowHit {
    pub(crate) fn new(finding_type: &'static str, rule: &'static str) -> Self {
        let role = ft::lookup(finding_type).map_or(ResourceRole::Actor, |t| t.role);
        FlowHit {
            finding_type,
            rule,
            role,
            severity: None,
            threats: Vec::new(),
            detail: None,
            title: None,
            description: None,
            probes: None,
            window_ms: None,
        }
    }
}
