//! DNS findings and the operator's instance inventory: `instanceDetails` is the inventory's entry
//! when it knows the instance (as for flow findings), else only what the query log says; a query
//! without `srcids` is attributed through the inventory by `srcaddr` within the record's VPC.
use vedette_domain::dns::detect::{self, DnsContext, DnsIntel};
use vedette_domain::dns::parse_query_record;
use vedette_domain::inventory::Inventory;
use vedette_domain::{Occurrence, model};

const WEB: &str = "i-0aaaaaaaaaaaaaaa1";
const WEB_VPC: &str = "vpc-0123456789abcdef0";
const WEB_IP: &str = "10.0.1.10";

fn inventory() -> Inventory {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flow/describe_instances.json");
    Inventory::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A query for AWS's test C&C domain (raises C&CActivity.B!DNS with no feed); `extra` holds the
/// members that differ (`vpc_id`, `srcaddr`, `srcids`).
fn query(extra: &str) -> String {
    format!(
        r#"{{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2024-03-01T10:00:00Z","query_name":"guarddutyc2activityb.com.","transport":"UDP"{extra}}}"#
    )
}

fn detect(line: &str, inventory: Option<&Inventory>) -> Vec<Occurrence> {
    let intel = DnsIntel::default();
    let record = parse_query_record(line.as_bytes()).unwrap();
    let ctx = DnsContext {
        detector_id: "d0123456789abcdef0123456789abcdef",
        now_ms: 1_800_000_000_000,
        source: "q.log",
        position: 1,
        intel: &intel,
        inventory,
    };
    detect::detect_query(&record, &ctx)
}

fn details(occurrences: &[Occurrence]) -> &model::InstanceDetails {
    assert_eq!(occurrences.len(), 1, "{occurrences:#?}");
    occurrences[0].finding.resource.as_ref().unwrap().instance_details.as_ref().unwrap()
}

#[test]
fn a_known_instance_gets_the_inventory_details() {
    let inventory = inventory();
    let line = query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"{WEB_IP}","srcids":{{"instance":"{WEB}"}}"#));
    let with = detect(&line, Some(&inventory));
    let d = details(&with);
    assert_eq!(d, inventory.by_instance_id(WEB).unwrap(), "the inventory's entry, as flow findings carry it");
    assert_eq!(d.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(d.availability_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(d.network_interfaces.as_ref().unwrap()[0].network_interface_id.as_deref(), Some("eni-0aaaaaaaaaaaaaaa1"));

    // Without the inventory: the instance id and what the record says, nothing more.
    let without = detect(&line, None);
    let d = details(&without);
    assert_eq!(d.instance_id.as_deref(), Some(WEB));
    assert_eq!((d.instance_type.as_ref(), d.availability_zone.as_ref(), d.tags.as_ref()), (None, None, None));
    let eni = &d.network_interfaces.as_ref().unwrap()[0];
    assert_eq!((eni.vpc_id.as_deref(), eni.private_ip_address.as_deref()), (Some(WEB_VPC), Some(WEB_IP)));
    assert_eq!(eni.network_interface_id, None);
    // Same finding either way: the inventory changes details, not identity.
    assert_eq!(with[0].finding_id(), without[0].finding_id());
}

#[test]
fn an_instance_the_inventory_lacks_carries_what_the_log_has() {
    let inventory = inventory();
    let line = query(r#","vpc_id":"vpc-9","srcaddr":"10.9.9.9","srcids":{"instance":"i-0notininventory"}"#);
    let occurrences = detect(&line, Some(&inventory));
    let d = details(&occurrences);
    assert_eq!(d.instance_id.as_deref(), Some("i-0notininventory"));
    assert_eq!((d.instance_type.as_ref(), d.availability_zone.as_ref()), (None, None));
    let eni = &d.network_interfaces.as_ref().unwrap()[0];
    assert_eq!(eni.private_ip_address.as_deref(), Some("10.9.9.9"));
    assert_eq!(eni.private_ip_addresses.as_ref().unwrap()[0].private_ip_address.as_deref(), Some("10.9.9.9"));
}

#[test]
fn without_srcids_the_inventory_names_the_instance_by_address_within_the_vpc() {
    let inventory = inventory();
    let attributed = detect(&query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"{WEB_IP}""#)), Some(&inventory));
    assert_eq!(details(&attributed).instance_id.as_deref(), Some(WEB));
    assert_eq!(details(&attributed).instance_type.as_deref(), Some("t3.micro"));
    // A secondary private address of the same interface names it too.
    let secondary = detect(&query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"10.0.1.11","srcids":{{}}"#)), Some(&inventory));
    assert_eq!(details(&secondary).instance_id.as_deref(), Some(WEB));
    // The same finding as a query that named the instance itself.
    let named = detect(&query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"{WEB_IP}","srcids":{{"instance":"{WEB}"}}"#)), Some(&inventory));
    assert_eq!(attributed[0].finding_id(), named[0].finding_id());

    let nothing = [
        // The address in another VPC is another host.
        query(&format!(r#","vpc_id":"vpc-other","srcaddr":"{WEB_IP}""#)),
        // No VPC: the address alone is ambiguous.
        query(&format!(r#","srcaddr":"{WEB_IP}""#)),
        // A Resolver endpoint's query comes from outside the VPC.
        query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"{WEB_IP}","srcids":{{"resolver_endpoint":"rslvr-in-1"}}"#)),
        // An address no instance holds.
        query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"10.0.1.99""#)),
        // The public address is not what the resolver sees.
        query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"3.80.10.20""#)),
    ];
    for line in &nothing {
        assert!(detect(line, Some(&inventory)).is_empty(), "{line}");
    }
    // Without an inventory nothing names the instance.
    assert!(detect(&query(&format!(r#","vpc_id":"{WEB_VPC}","srcaddr":"{WEB_IP}""#)), None).is_empty());
}

#[test]
fn the_same_private_address_in_two_vpcs_names_the_instance_of_the_records_vpc() {
    let inventory = Inventory::from_json(
        r#"{"Reservations":[{"Instances":[
            {"InstanceId":"i-0a","InstanceType":"t3.small","PrivateIpAddress":"10.0.0.5","VpcId":"vpc-a"},
            {"InstanceId":"i-0b","InstanceType":"t3.large","PrivateIpAddress":"10.0.0.5","VpcId":"vpc-b"}]}]}"#,
    )
    .unwrap();
    for (vpc, instance, ty) in [("vpc-a", "i-0a", "t3.small"), ("vpc-b", "i-0b", "t3.large")] {
        let occurrences = detect(&query(&format!(r#","vpc_id":"{vpc}","srcaddr":"10.0.0.5""#)), Some(&inventory));
        let d = details(&occurrences);
        assert_eq!((d.instance_id.as_deref(), d.instance_type.as_deref()), (Some(instance), Some(ty)), "{vpc}");
    }
}

#[test]
fn recorded_addresses_follow_the_flow_findings_rules() {
    // IPv6: in ipv6Addresses, never privateIpAddress.
    let v6 = detect(&query(r#","vpc_id":"vpc-1","srcaddr":"2600:1f18:abc::10","srcids":{"instance":"i-1"}"#), None);
    let eni = &details(&v6).network_interfaces.as_ref().unwrap()[0];
    assert_eq!(eni.ipv6_addresses.as_deref(), Some(&["2600:1f18:abc::10".to_owned()][..]));
    assert_eq!(eni.private_ip_address, None);
    // A publicly routable IPv4 source is not a private address: only the VPC is recorded.
    let public = detect(&query(r#","vpc_id":"vpc-1","srcaddr":"3.80.10.20","srcids":{"instance":"i-1"}"#), None);
    let eni = &details(&public).network_interfaces.as_ref().unwrap()[0];
    assert_eq!((eni.vpc_id.as_deref(), eni.private_ip_address.as_ref()), (Some("vpc-1"), None));
}
