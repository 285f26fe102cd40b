//! CreateSampleFindings: one fully populated sample of a finding type.
use std::collections::BTreeMap;

use crate::finding_types::{ActionKind, BUCKET_ANONYMOUS_ACCESS_GRANTED, BUCKET_PUBLIC_ACCESS_GRANTED, FindingType, ResourceKind, ResourceRole};
use crate::model::{
    AccessControlList, AccessKeyDetails, AccountLevelPermissions, Action, AwsApiCallAction, BlockPublicAccess, BucketLevelPermissions, BucketPolicy,
    City, Country, DefaultServerSideEncryption, DnsRequestAction, Evidence, GeoLocation, IamInstanceProfile, InstanceDetails, LocalIpDetails,
    LocalPortDetails, NetworkConnectionAction, NetworkInterface, Organization, Owner, PermissionConfiguration, PortProbeAction, PortProbeDetail,
    PrivateIpAddressDetails, ProductCode, PublicAccess, RemoteAccountDetails, RemoteIpDetails, RemotePortDetails, Resource, S3BucketDetail,
    SecurityGroup, Service, ServiceAdditionalInfo, Tag, ThreatIntelligenceDetail,
};
use crate::time::iso_ms;
use crate::{Scope, ids, model};

/// GuardDuty's sample placeholders (docs/api.md#sample-findings).
pub const SAMPLE_IP: &str = "198.51.100.0";
pub const SAMPLE_PRIVATE_IP: &str = "10.0.0.1";
pub const SAMPLE_INSTANCE_ID: &str = "i-99999999";
pub const SAMPLE_BUCKET: &str = "bucketName";
pub const SAMPLE_THREAT_LIST: &str = "GeneratedFindingCustomerListName";

/// The aggregation key of a type's sample: the same (detector, type) always yields the same id.
pub fn sample_id(ty: &FindingType, detector_id: &str) -> String {
    ids::finding_id(detector_id, &format!("sample\0{}", ty.name))
}

/// A sample finding of `ty`, marked `additionalInfo.sample = true`, with the placeholder values
/// GuardDuty's samples use. Its id is derived from (detector, type) so that generating samples
/// again aggregates into the same finding, as GuardDuty's do.
pub fn sample_finding(ty: &FindingType, scope: &Scope, detector_id: &str, now_ms: i64) -> model::Finding {
    let id = sample_id(ty, detector_id);
    let now = iso_ms(now_ms);
    model::Finding {
        account_id: Some(scope.account_id.clone()),
        arn: Some(scope.finding_arn(detector_id, &id)),
        created_at: Some(now.clone()),
        description: Some(ty.description.to_string()),
        id: Some(id),
        partition: Some(scope.partition().to_string()),
        region: Some(scope.region.clone()),
        resource: Some(resource(ty, scope, now_ms)),
        schema_version: Some("2.0".into()),
        service: Some(Service {
            action: Some(action(ty, scope)),
            evidence: intel_matched(ty).then(|| Evidence {
                threat_intelligence_details: Some(vec![ThreatIntelligenceDetail {
                    threat_list_name: Some(threat_list_name(ty).into()),
                    threat_names: Some(vec!["GeneratedFindingThreatName".into()]),
                    threat_file_sha256: None,
                }]),
            }),
            archived: Some(false),
            count: Some(1),
            detector_id: Some(detector_id.to_string()),
            event_first_seen: Some(now.clone()),
            event_last_seen: Some(now.clone()),
            resource_role: Some(ty.role.as_str().into()),
            service_name: Some("guardduty".into()),
            additional_info: Some(additional_info(ty)),
            ..Default::default()
        }),
        severity: Some(ty.severity),
        title: Some(ty.title.to_string()),
        r#type: Some(ty.name.to_string()),
        updated_at: Some(now),
        ..Default::default()
    }
}

/// Types whose trigger is a threat-list match carry `evidence.threatIntelligenceDetails`.
fn intel_matched(ty: &FindingType) -> bool {
    ty.is_custom_threat_list() || ty.name.ends_with("!DNS")
}

fn threat_list_name(ty: &FindingType) -> &'static str {
    if ty.is_custom_threat_list() { SAMPLE_THREAT_LIST } else { "GeneratedFindingThreatListName" }
}

/// The API carries additionalInfo JSON-encoded in `value` (docs/findings.md#finding-document).
fn additional_info(ty: &FindingType) -> ServiceAdditionalInfo {
    let mut info = serde_json::Map::new();
    info.insert("sample".into(), true.into());
    if ty.is_custom_threat_list() {
        info.insert("threatListName".into(), SAMPLE_THREAT_LIST.into());
    }
    ServiceAdditionalInfo { value: Some(serde_json::Value::Object(info).to_string()), r#type: Some("default".into()) }
}

fn resource(ty: &FindingType, scope: &Scope, now_ms: i64) -> Resource {
    let access_key = || AccessKeyDetails {
        access_key_id: Some("GeneratedFindingAccessKeyId".into()),
        principal_id: Some("GeneratedFindingPrincipalId".into()),
        user_name: Some("GeneratedFindingUserName".into()),
        user_type: Some("IAMUser".into()),
    };
    let mut r = Resource { resource_type: Some(ty.resource.as_str().into()), ..Default::default() };
    match ty.resource {
        ResourceKind::AccessKey => {
            r.access_key_details = Some(access_key());
            if ty.concerns_bucket() {
                r.s3_bucket_details = Some(vec![bucket(ty, scope, now_ms)]);
            }
        }
        // S3 data-event findings name both the caller's key and the bucket.
        ResourceKind::S3Bucket => {
            r.access_key_details = Some(access_key());
            r.s3_bucket_details = Some(vec![bucket(ty, scope, now_ms)]);
        }
        ResourceKind::Instance => r.instance_details = Some(instance(scope, now_ms)),
    }
    r
}

fn tag(key: &str, value: &str) -> Tag {
    Tag { key: Some(key.into()), value: Some(value.into()) }
}

fn instance(scope: &Scope, now_ms: i64) -> InstanceDetails {
    let partition = scope.partition();
    InstanceDetails {
        availability_zone: Some(format!("{}a", scope.region)),
        iam_instance_profile: Some(IamInstanceProfile {
            arn: Some(format!("arn:{partition}:iam::{}:instance-profile/GeneratedFindingInstanceProfile", scope.account_id)),
            id: Some("GeneratedFindingInstanceProfileId".into()),
        }),
        image_description: Some("GeneratedFindingInstanceImageDescription".into()),
        image_id: Some("ami-99999999".into()),
        instance_id: Some(SAMPLE_INSTANCE_ID.into()),
        instance_state: Some("running".into()),
        instance_type: Some("m3.xlarge".into()),
        outpost_arn: Some(format!("arn:{partition}:outposts:{}:{}:outpost/op-99999999", scope.region, scope.account_id)),
        // Launched a day before the sample's activity.
        launch_time: Some(iso_ms(now_ms - 86_400_000)),
        network_interfaces: Some(vec![NetworkInterface {
            ipv6_addresses: Some(vec![]),
            network_interface_id: Some("eni-bfcffe88".into()),
            private_dns_name: Some("GeneratedFindingPrivateDnsName".into()),
            private_ip_address: Some(SAMPLE_PRIVATE_IP.into()),
            private_ip_addresses: Some(vec![PrivateIpAddressDetails {
                private_dns_name: Some("GeneratedFindingPrivateName".into()),
                private_ip_address: Some(SAMPLE_PRIVATE_IP.into()),
            }]),
            public_dns_name: Some("GeneratedFindingPublicDNSName".into()),
            public_ip: Some(SAMPLE_IP.into()),
            security_groups: Some(vec![SecurityGroup {
                group_id: Some("GeneratedFindingSecurityId".into()),
                group_name: Some("GeneratedFindingSecurityGroupName".into()),
            }]),
            subnet_id: Some("GeneratedFindingSubnetId".into()),
            vpc_id: Some("GeneratedFindingVPCId".into()),
        }]),
        platform: Some("linux".into()),
        product_codes: Some(vec![ProductCode {
            code: Some("GeneratedFindingProductCodeId".into()),
            product_type: Some("GeneratedFindingProductCodeType".into()),
        }]),
        tags: Some(vec![
            tag("GeneratedFindingInstanceTag1", "GeneratedFindingInstanceValue1"),
            tag("GeneratedFindingInstanceTag2", "GeneratedFindingInstanceValue2"),
        ]),
    }
}

fn bucket(ty: &FindingType, scope: &Scope, now_ms: i64) -> S3BucketDetail {
    let public = ty.name == BUCKET_ANONYMOUS_ACCESS_GRANTED || ty.name == BUCKET_PUBLIC_ACCESS_GRANTED;
    let block_all = |on: bool| BlockPublicAccess {
        ignore_public_acls: Some(on),
        restrict_public_buckets: Some(on),
        block_public_acls: Some(on),
        block_public_policy: Some(on),
    };
    S3BucketDetail {
        arn: Some(format!("arn:{}:s3:::{SAMPLE_BUCKET}", scope.partition())),
        name: Some(SAMPLE_BUCKET.into()),
        r#type: Some("Destination".into()),
        // The model's bucket createdAt is epoch seconds.
        created_at: Some((now_ms / 1000) as f64),
        owner: Some(Owner { id: Some("CanonicalId of Owner".into()) }),
        tags: Some(vec![tag("foo", "bar")]),
        default_server_side_encryption: Some(DefaultServerSideEncryption {
            encryption_type: Some("SSEAlgorithm".into()),
            kms_master_key_arn: Some(format!("arn:{}:kms:{}:{}:key/GeneratedFindingKmsKeyId", scope.partition(), scope.region, scope.account_id)),
        }),
        public_access: Some(PublicAccess {
            effective_permission: Some(if public { "PUBLIC" } else { "NOT_PUBLIC" }.into()),
            permission_configuration: Some(PermissionConfiguration {
                bucket_level_permissions: Some(BucketLevelPermissions {
                    access_control_list: Some(AccessControlList { allows_public_read_access: Some(false), allows_public_write_access: Some(false) }),
                    bucket_policy: Some(BucketPolicy { allows_public_read_access: Some(public), allows_public_write_access: Some(false) }),
                    block_public_access: Some(block_all(!public)),
                }),
                account_level_permissions: Some(AccountLevelPermissions { block_public_access: Some(block_all(false)) }),
            }),
        }),
        s3_object_details: None,
    }
}

fn remote_ip() -> RemoteIpDetails {
    RemoteIpDetails {
        city: Some(City { city_name: Some("GeneratedFindingCityName".into()) }),
        country: Some(Country { country_code: Some("GeneratedFindingCountryCode".into()), country_name: Some("GeneratedFindingCountryName".into()) }),
        geo_location: Some(GeoLocation { lat: Some(0.0), lon: Some(0.0) }),
        ip_address_v4: Some(SAMPLE_IP.into()),
        ip_address_v6: None,
        organization: Some(Organization {
            asn: Some("-1".into()),
            asn_org: Some("GeneratedFindingASNOrg".into()),
            isp: Some("GeneratedFindingISP".into()),
            org: Some("GeneratedFindingORG".into()),
        }),
    }
}

fn local_ip() -> LocalIpDetails {
    LocalIpDetails { ip_address_v4: Some(SAMPLE_PRIVATE_IP.into()), ip_address_v6: None }
}

/// The port the type is about (local for inbound, remote for outbound), with its IANA name.
fn service_port(ty: &FindingType) -> (i32, &'static str) {
    match ty.name {
        n if n.contains("SSHBruteForce") => (22, "SSH"),
        n if n.contains("RDPBruteForce") => (3389, "RDP"),
        n if n.contains("WinRMBruteForce") => (5985, "WINRM"),
        n if n.contains("Spambot") => (25, "SMTP"),
        n if n.contains("PortProbeEMR") => (8088, "Unknown"),
        n if n.contains("DenialOfService.Dns") => (53, "DNS"),
        _ => (80, "HTTP"),
    }
}

fn action(ty: &FindingType, scope: &Scope) -> Action {
    let mut a = Action { action_type: Some(ty.action.as_str().into()), ..Default::default() };
    let (port, port_name) = service_port(ty);
    match ty.action {
        ActionKind::AwsApiCall => {
            let mut affected = BTreeMap::new();
            if ty.concerns_bucket() {
                affected.insert("AWS::S3::Bucket".to_string(), SAMPLE_BUCKET.to_string());
            }
            a.aws_api_call_action = Some(AwsApiCallAction {
                api: Some("GeneratedFindingAPIName".into()),
                caller_type: Some("Remote IP".into()),
                domain_details: None,
                // Every API-call sample represents a failed call, so that clients see the
                // errorCode member (the founding requirement) without ingesting real logs.
                error_code: Some("AccessDenied".into()),
                user_agent: Some("GeneratedFindingUserAgent".into()),
                remote_ip_details: Some(remote_ip()),
                service_name: Some("GeneratedFindingAPIServiceName".into()),
                remote_account_details: Some(RemoteAccountDetails {
                    account_id: Some(scope.account_id.clone()),
                    affiliated: Some(true),
                    aws_service_name: None,
                }),
                affected_resources: Some(affected),
            });
        }
        ActionKind::NetworkConnection => {
            // The instance is the target of inbound traffic, or the actor of outbound traffic.
            let inbound = ty.role == ResourceRole::Target;
            let (local, remote) = if inbound { ((port, port_name), (32794, "Unknown")) } else { ((32794, "Unknown"), (port, port_name)) };
            a.network_connection_action = Some(NetworkConnectionAction {
                blocked: Some(false),
                connection_direction: Some(if inbound { "INBOUND" } else { "OUTBOUND" }.into()),
                local_port_details: Some(LocalPortDetails { port: Some(local.0), port_name: Some(local.1.into()) }),
                protocol: Some(if ty.name.contains(".Udp") || ty.name.contains(".Dns") { "UDP" } else { "TCP" }.into()),
                local_ip_details: Some(local_ip()),
                local_network_interface: None,
                remote_ip_details: Some(remote_ip()),
                remote_port_details: Some(RemotePortDetails { port: Some(remote.0), port_name: Some(remote.1.into()) }),
            });
        }
        ActionKind::PortProbe => {
            a.port_probe_action = Some(PortProbeAction {
                blocked: Some(false),
                port_probe_details: Some(vec![PortProbeDetail {
                    local_port_details: Some(LocalPortDetails { port: Some(port), port_name: Some(port_name.into()) }),
                    local_ip_details: Some(local_ip()),
                    remote_ip_details: Some(remote_ip()),
                }]),
            });
        }
        ActionKind::DnsRequest => {
            a.dns_request_action = Some(DnsRequestAction {
                domain: Some("GeneratedFindingDomainName".into()),
                protocol: Some("UDP".into()),
                blocked: Some(false),
                domain_with_suffix: Some("GeneratedFindingDomainName".into()),
                vpc_owner_account_id: Some(scope.account_id.clone()),
            });
        }
    }
    a
}
