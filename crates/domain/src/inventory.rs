//! Instance inventory: the JSON `aws ec2 describe-instances` prints, supplied by the operator,
//! turned into GuardDuty's `instanceDetails` and looked up by ENI id, private IP or instance id
//! (docs/logs.md#instances). Flow-log findings about an instance not in the inventory carry only
//! what the log itself says.
use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::model;

/// `describe-instances` output (only the members GuardDuty's `instanceDetails` shows).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInstances {
    #[serde(default)]
    reservations: Vec<Reservation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reservation {
    #[serde(default)]
    instances: Vec<Ec2Instance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2Instance {
    instance_id: Option<String>,
    instance_type: Option<String>,
    image_id: Option<String>,
    launch_time: Option<String>,
    state: Option<InstanceState>,
    placement: Option<Placement>,
    iam_instance_profile: Option<IamProfile>,
    tags: Vec<Ec2Tag>,
    platform: Option<String>,
    outpost_arn: Option<String>,
    product_codes: Vec<Ec2ProductCode>,
    network_interfaces: Vec<Ec2NetworkInterface>,
    // Instance-level fallbacks, for inventories trimmed of NetworkInterfaces.
    private_ip_address: Option<String>,
    private_dns_name: Option<String>,
    public_ip_address: Option<String>,
    public_dns_name: Option<String>,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    security_groups: Vec<Ec2Group>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct InstanceState {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Placement {
    availability_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IamProfile {
    arn: Option<String>,
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2Tag {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2ProductCode {
    product_code_id: Option<String>,
    product_code_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2Group {
    group_id: Option<String>,
    group_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Association {
    public_ip: Option<String>,
    public_dns_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2PrivateIp {
    private_ip_address: Option<String>,
    private_dns_name: Option<String>,
    association: Option<Association>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipv6Address {
    ipv6_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ec2NetworkInterface {
    network_interface_id: Option<String>,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    private_ip_address: Option<String>,
    private_dns_name: Option<String>,
    private_ip_addresses: Vec<Ec2PrivateIp>,
    ipv6_addresses: Vec<Ipv6Address>,
    association: Option<Association>,
    groups: Vec<Ec2Group>,
}

/// Why an inventory file was refused.
#[derive(Debug, thiserror::Error)]
#[error("instance inventory is not describe-instances JSON: {0}")]
pub struct InventoryError(String);

/// The operator's instances, indexed.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    instances: Vec<model::InstanceDetails>,
    by_instance_id: HashMap<String, usize>,
    by_eni: HashMap<String, usize>,
    /// Every instance holding the address, in inventory order: private ranges repeat across
    /// VPCs, so an address alone may name several.
    by_ip: HashMap<IpAddr, Vec<usize>>,
}

impl Inventory {
    /// Parses `aws ec2 describe-instances` output (one document; `Reservations[].Instances[]`).
    pub fn from_json(json: &str) -> Result<Inventory, InventoryError> {
        let parsed: DescribeInstances = serde_json::from_str(json).map_err(|e| {
            // Position and category only: never the document's content.
            InventoryError(format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()))
        })?;
        let mut inventory = Inventory::default();
        for instance in parsed.reservations.into_iter().flat_map(|r| r.instances) {
            inventory.add(instance);
        }
        Ok(inventory)
    }

    fn add(&mut self, instance: Ec2Instance) {
        let index = self.instances.len();
        let details = instance_details(instance);
        if let Some(id) = &details.instance_id {
            self.by_instance_id.insert(id.clone(), index);
        }
        for eni in details.network_interfaces.iter().flatten() {
            if let Some(id) = &eni.network_interface_id {
                self.by_eni.insert(id.clone(), index);
            }
            let addresses = eni
                .private_ip_address
                .iter()
                .chain(eni.private_ip_addresses.iter().flatten().filter_map(|p| p.private_ip_address.as_ref()))
                .chain(eni.public_ip.iter())
                .chain(eni.ipv6_addresses.iter().flatten());
            for address in addresses {
                if let Ok(ip) = address.parse::<IpAddr>() {
                    let owners = self.by_ip.entry(ip).or_default();
                    if owners.last() != Some(&index) {
                        owners.push(index);
                    }
                }
            }
        }
        self.instances.push(details);
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    pub fn by_instance_id(&self, id: &str) -> Option<&model::InstanceDetails> {
        self.by_instance_id.get(id).map(|&i| &self.instances[i])
    }

    pub fn by_eni(&self, eni: &str) -> Option<&model::InstanceDetails> {
        self.by_eni.get(eni).map(|&i| &self.instances[i])
    }

    /// The last instance in the inventory holding `ip` (any VPC).
    pub fn by_ip(&self, ip: IpAddr) -> Option<&model::InstanceDetails> {
        self.by_ip.get(&ip).and_then(|owners| owners.last()).map(|&i| &self.instances[i])
    }

    /// The instance with a network interface in `vpc_id` holding `ip`: an address is an
    /// instance's only within its VPC.
    pub fn by_ip_in_vpc(&self, ip: IpAddr, vpc_id: &str) -> Option<&model::InstanceDetails> {
        let owners = self.by_ip.get(&ip)?;
        owners
            .iter()
            .rev()
            .map(|&i| &self.instances[i])
            .find(|details| details.network_interfaces.iter().flatten().any(|eni| eni.vpc_id.as_deref() == Some(vpc_id) && interface_owns(eni, ip)))
    }

    /// The instance a flow record belongs to: by instance id, else ENI, else local address.
    pub fn find(&self, instance_id: Option<&str>, eni: Option<&str>, ip: Option<IpAddr>) -> Option<&model::InstanceDetails> {
        instance_id.and_then(|id| self.by_instance_id(id)).or_else(|| eni.and_then(|e| self.by_eni(e))).or_else(|| ip.and_then(|ip| self.by_ip(ip)))
    }
}

/// True when `ip` is one of the instance's own addresses (private, public or IPv6).
pub fn owns_address(details: &model::InstanceDetails, ip: IpAddr) -> bool {
    details.network_interfaces.iter().flatten().any(|eni| interface_owns(eni, ip))
}

fn interface_owns(eni: &model::NetworkInterface, ip: IpAddr) -> bool {
    let matches = |s: &String| s.parse::<IpAddr>().is_ok_and(|a| a == ip);
    eni.private_ip_address.iter().any(matches)
        || eni.private_ip_addresses.iter().flatten().filter_map(|p| p.private_ip_address.as_ref()).any(matches)
        || eni.public_ip.iter().any(matches)
        || eni.ipv6_addresses.iter().flatten().any(matches)
}

fn groups(groups: Vec<Ec2Group>) -> Option<Vec<model::SecurityGroup>> {
    (!groups.is_empty()).then(|| groups.into_iter().map(|g| model::SecurityGroup { group_id: g.group_id, group_name: g.group_name }).collect())
}

/// `LaunchTime` as GuardDuty writes times (ISO with ms); kept as given when it does not parse.
fn launch_time(value: String) -> String {
    crate::time::parse_iso_ms(&value).map_or(value, crate::time::iso_ms)
}

fn instance_details(i: Ec2Instance) -> model::InstanceDetails {
    let mut interfaces: Vec<model::NetworkInterface> = i
        .network_interfaces
        .into_iter()
        .map(|eni| {
            let public = eni.association.unwrap_or_default();
            model::NetworkInterface {
                network_interface_id: eni.network_interface_id,
                vpc_id: eni.vpc_id,
                subnet_id: eni.subnet_id,
                private_ip_address: eni.private_ip_address,
                private_dns_name: eni.private_dns_name,
                private_ip_addresses: (!eni.private_ip_addresses.is_empty()).then(|| {
                    eni.private_ip_addresses
                        .into_iter()
                        .map(|p| model::PrivateIpAddressDetails { private_ip_address: p.private_ip_address, private_dns_name: p.private_dns_name })
                        .collect()
                }),
                public_ip: public.public_ip,
                public_dns_name: public.public_dns_name,
                ipv6_addresses: (!eni.ipv6_addresses.is_empty()).then(|| eni.ipv6_addresses.into_iter().filter_map(|a| a.ipv6_address).collect()),
                security_groups: groups(eni.groups),
            }
        })
        .collect();
    if interfaces.is_empty() && (i.private_ip_address.is_some() || i.vpc_id.is_some()) {
        // A trimmed inventory: the instance's primary interface from its top-level members.
        interfaces.push(model::NetworkInterface {
            vpc_id: i.vpc_id,
            subnet_id: i.subnet_id,
            private_ip_address: i.private_ip_address.clone(),
            private_dns_name: i.private_dns_name.clone(),
            private_ip_addresses: i
                .private_ip_address
                .map(|ip| vec![model::PrivateIpAddressDetails { private_ip_address: Some(ip), private_dns_name: i.private_dns_name }]),
            public_ip: i.public_ip_address,
            public_dns_name: i.public_dns_name,
            security_groups: groups(i.security_groups),
            ..Default::default()
        });
    }
    model::InstanceDetails {
        instance_id: i.instance_id,
        instance_type: i.instance_type,
        image_id: i.image_id,
        instance_state: i.state.and_then(|s| s.name),
        availability_zone: i.placement.and_then(|p| p.availability_zone),
        iam_instance_profile: i.iam_instance_profile.map(|p| model::IamInstanceProfile { arn: p.arn, id: p.id }),
        launch_time: i.launch_time.map(launch_time),
        platform: i.platform,
        outpost_arn: i.outpost_arn,
        tags: (!i.tags.is_empty()).then(|| i.tags.into_iter().map(|t| model::Tag { key: t.key, value: t.value }).collect()),
        product_codes: (!i.product_codes.is_empty()).then(|| {
            i.product_codes.into_iter().map(|c| model::ProductCode { code: c.product_code_id, product_type: c.product_code_type }).collect()
        }),
        network_interfaces: (!interfaces.is_empty()).then_some(interfaces),
        ..Default::default()
    }
}
