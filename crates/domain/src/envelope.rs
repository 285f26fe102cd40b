//! What every finding Vedette raises shares, whatever log it came from.
//!
//! * [`FindingEnvelope`]: the finding around a detection (ids, ARN, type, title, description,
//!   severity, times, `service`, threat-list evidence, the provenance kept in `additionalInfo`)
//!   and the [`Occurrence`] that carries it. Each source (CloudTrail, flow logs, DNS logs) fills
//!   in only what differs: the resource, the action, the role, the event's id and times, and any
//!   `additionalInfo` keys of its own.
//! * [`aggregation_key`]: the aggregation key (docs/findings.md#aggregation), the same shape for every source.
//! * [`remote_ip_details`]: a remote address with what the GeoIP database knows of it.
//! * [`recorded_instance`]: the `Instance` resource when the inventory does not know the
//!   instance, built from what the log says and nothing else (flow and DNS findings).
use std::fmt::Display;
use std::net::IpAddr;

use crate::finding_types::{FindingType, ResourceRole};
use crate::geo::GeoInfo;
use crate::intel::is_publicly_routable;
use crate::time::iso_ms;
use crate::{Evidence, Occurrence, Scope, ids, model};

/// The aggregation key (docs/findings.md#aggregation): type, resource role, and the resource as each source names
/// it (`AccessKey:…`, `Instance:…`, …). The finding id is derived from it.
pub fn aggregation_key(ty: &FindingType, role: ResourceRole, resource: impl Display) -> String {
    format!("{}\u{1f}{}\u{1f}{}", ty.name, role.as_str(), resource)
}

/// One detection, before it is a finding: what every source fills the same way.
#[derive(Debug, Clone, Copy)]
pub struct FindingEnvelope<'e> {
    /// The detector the event was routed to, and its account and Region.
    pub detector_id: &'e str,
    pub scope: &'e Scope,
    /// Wall-clock time: `createdAt` / `updatedAt`.
    pub now_ms: i64,
    pub finding_type: &'static FindingType,
    pub role: ResourceRole,
    /// From [`aggregation_key`].
    pub aggregation_key: &'e str,
    /// `None`: the catalogue's.
    pub severity: Option<f64>,
    /// One sentence appended to the catalogue description.
    pub detail: Option<&'e str>,
    /// The lists or feeds that matched: `additionalInfo.threatListName` (the first) and
    /// `evidence.threatIntelligenceDetails` (all).
    pub threats: &'e [ThreatMatch],
    /// `eventFirstSeen` (a flow record's start) and `eventLastSeen` (the event time), epoch ms.
    pub first_seen_ms: i64,
    pub event_time_ms: i64,
    /// Provenance: the rule, the event's id, and where it was read (`"{source}:{position}"`).
    pub rule: &'e str,
    pub event_id: &'e str,
    pub source: &'e str,
    pub position: u64,
}

impl FindingEnvelope<'_> {
    /// The occurrence: `resource` and `action` as the source built them (their `resourceType`
    /// and `actionType` are the catalogue's), `additionalInfo` holding `threatListName`, then
    /// `info`, then the provenance.
    pub fn occurrence(
        self,
        mut resource: model::Resource,
        mut action: model::Action,
        info: serde_json::Map<String, serde_json::Value>,
    ) -> Occurrence {
        let ty = self.finding_type;
        let id = ids::finding_id(self.detector_id, self.aggregation_key);
        let now = iso_ms(self.now_ms);
        let last_seen = iso_ms(self.event_time_ms);
        let first_seen = if self.first_seen_ms == self.event_time_ms { last_seen.clone() } else { iso_ms(self.first_seen_ms) };
        resource.resource_type = Some(ty.resource.as_str().to_owned());
        action.action_type = Some(ty.action.as_str().to_owned());
        let description = match self.detail {
            Some(detail) => format!("{} {detail}", ty.description),
            None => ty.description.to_owned(),
        };
        let additional_info = match self.threats.first() {
            None if info.is_empty() => None,
            first => {
                let mut object = serde_json::Map::new();
                if let Some(t) = first {
                    object.insert("threatListName".into(), t.list_name.clone().into());
                }
                object.extend(info);
                Some(model::ServiceAdditionalInfo { value: Some(serde_json::Value::Object(object).to_string()), r#type: Some("default".into()) })
            }
        };
        let evidence = Evidence::single(self.rule, self.event_id, self.event_time_ms, format!("{}:{}", self.source, self.position));
        let mut finding = model::Finding {
            schema_version: Some("2.0".into()),
            account_id: Some(self.scope.account_id.clone()),
            region: Some(self.scope.region.clone()),
            partition: Some(self.scope.partition().to_owned()),
            arn: Some(self.scope.finding_arn(self.detector_id, &id)),
            id: Some(id),
            r#type: Some(ty.name.to_owned()),
            severity: Some(self.severity.unwrap_or(ty.severity)),
            title: Some(ty.title.to_owned()),
            description: Some(description),
            created_at: Some(now.clone()),
            updated_at: Some(now),
            resource: Some(resource),
            service: Some(model::Service {
                service_name: Some("guardduty".into()),
                detector_id: Some(self.detector_id.to_owned()),
                action: Some(action),
                resource_role: Some(self.role.as_str().to_owned()),
                event_first_seen: Some(first_seen),
                event_last_seen: Some(last_seen),
                count: Some(1),
                archived: Some(false),
                evidence: ThreatMatch::evidence(self.threats),
                additional_info,
                ..Default::default()
            }),
            ..Default::default()
        };
        evidence.store_in(&mut finding);
        Occurrence { detector_id: self.detector_id.to_owned(), finding, event_time_ms: self.event_time_ms, evidence }
    }
}

/// `remoteIpDetails` for `ip`: the address, and what the GeoIP database knows of it.
pub fn remote_ip_details(ip: IpAddr, geo: GeoInfo) -> model::RemoteIpDetails {
    let mut details = model::RemoteIpDetails {
        ip_address_v4: ip.is_ipv4().then(|| ip.to_string()),
        ip_address_v6: ip.is_ipv6().then(|| ip.to_string()),
        ..Default::default()
    };
    geo.enrich(&mut details);
    details
}

/// The list a caller was found on, for `additionalInfo.threatListName` and
/// `evidence.threatIntelligenceDetails`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatMatch {
    pub list_name: String,
    pub file_sha256: String,
}

impl ThreatMatch {
    /// `service.evidence` for the lists that matched (None when none did). Lists and feeds
    /// carry addresses or domains, not threat names, so `threatNames` is empty.
    pub fn evidence(threats: &[ThreatMatch]) -> Option<crate::model::Evidence> {
        (!threats.is_empty()).then(|| crate::model::Evidence {
            threat_intelligence_details: Some(
                threats
                    .iter()
                    .map(|t| crate::model::ThreatIntelligenceDetail {
                        threat_list_name: Some(t.list_name.clone()),
                        threat_names: Some(Vec::new()),
                        threat_file_sha256: Some(t.file_sha256.clone()).filter(|s| !s.is_empty()),
                    })
                    .collect(),
            ),
        })
    }
}

/// What a log record says about the instance's network interface.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordedInterface<'r> {
    pub network_interface_id: Option<&'r str>,
    pub vpc_id: Option<&'r str>,
    pub subnet_id: Option<&'r str>,
    /// The instance's own address as the record shows it.
    pub address: Option<IpAddr>,
}

/// `instanceDetails` from the log alone: the instance id and one network interface holding what
/// the record carries (no interface when it carries nothing). Availability zone, type, image,
/// tags and the rest come only from the inventory: a log never says them.
///
/// An IPv4 address is the interface's `privateIpAddress` only when it is not publicly routable
/// (a public one may be a NAT or the far side of an elastic IP, not the interface's own private
/// address); an IPv6 address goes to `ipv6Addresses`, as GuardDuty lists an instance's IPv6
/// addresses there, never in `privateIpAddress`.
pub fn recorded_instance(instance_id: Option<&str>, interface: RecordedInterface<'_>) -> model::InstanceDetails {
    let private = interface.address.filter(|ip| ip.is_ipv4() && !is_publicly_routable(*ip)).map(|ip| ip.to_string());
    let eni = model::NetworkInterface {
        network_interface_id: interface.network_interface_id.map(str::to_owned),
        vpc_id: interface.vpc_id.map(str::to_owned),
        subnet_id: interface.subnet_id.map(str::to_owned),
        private_ip_address: private.clone(),
        private_ip_addresses: private.map(|ip| vec![model::PrivateIpAddressDetails { private_ip_address: Some(ip), private_dns_name: None }]),
        ipv6_addresses: interface.address.filter(IpAddr::is_ipv6).map(|ip| vec![ip.to_string()]),
        ..Default::default()
    };
    let has_interface = eni != model::NetworkInterface::default();
    model::InstanceDetails { instance_id: instance_id.map(str::to_owned), network_interfaces: has_interface.then(|| vec![eni]), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(address: &str) -> Option<model::NetworkInterface> {
        let recorded = RecordedInterface { address: Some(address.parse().unwrap()), ..Default::default() };
        recorded_instance(Some("i-1"), recorded).network_interfaces.map(|mut n| n.remove(0))
    }

    #[test]
    fn recorded_addresses_go_where_guardduty_lists_them() {
        let private = interface("10.0.0.5").unwrap();
        assert_eq!(private.private_ip_address.as_deref(), Some("10.0.0.5"));
        assert_eq!(private.private_ip_addresses.unwrap()[0].private_ip_address.as_deref(), Some("10.0.0.5"));
        let v6 = interface("2600:1f18::10").unwrap();
        assert_eq!((v6.private_ip_address, v6.ipv6_addresses), (None, Some(vec!["2600:1f18::10".to_owned()])));
        // A public IPv4 alone says nothing about the interface: no interface at all.
        assert_eq!(interface("3.80.10.20"), None);
        assert_eq!(recorded_instance(None, RecordedInterface::default()), model::InstanceDetails::default());
    }
}
