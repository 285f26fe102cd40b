//! What every finding Vedette raises shares, whatever log it came from.
//!
//! * [`recorded_instance`]: the `Instance` resource when the inventory does not know the
//!   instance, built from what the log says and nothing else (flow and DNS findings).
use std::net::IpAddr;

use crate::intel::is_publicly_routable;
use crate::model;

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
        private_ip_addresses: private.map(|ip| {
            vec![model::PrivateIpAddressDetails { private_ip_address: Some(ip), private_dns_name: None }]
        }),
        ipv6_addresses: interface.address.filter(IpAddr::is_ipv6).map(|ip| vec![ip.to_string()]),
        ..Default::default()
    };
    let has_interface = eni != model::NetworkInterface::default();
    model::InstanceDetails {
        instance_id: instance_id.map(str::to_owned),
        network_interfaces: has_interface.then(|| vec![eni]),
        ..Default::default()
    }
}
