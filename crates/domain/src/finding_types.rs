//! The finding-type catalogue: the one place each finding type is defined (name, severity,
//! resource and action kind, the source that triggers it). Detection rules refer to these
//! entries; adding a type is a new row here plus, for a detectable type, its rule.
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    AccessKey,
    Instance,
    S3Bucket,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::AccessKey => "AccessKey",
            ResourceKind::Instance => "Instance",
            ResourceKind::S3Bucket => "S3Bucket",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    AwsApiCall,
    NetworkConnection,
    PortProbe,
    DnsRequest,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::AwsApiCall => "AWS_API_CALL",
            ActionKind::NetworkConnection => "NETWORK_CONNECTION",
            ActionKind::PortProbe => "PORT_PROBE",
            ActionKind::DnsRequest => "DNS_REQUEST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    CloudTrail,
    VpcFlow,
    Dns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceRole {
    Target,
    Actor,
}

impl ResourceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceRole::Target => "TARGET",
            ResourceRole::Actor => "ACTOR",
        }
    }
}

#[derive(Debug)]
pub struct FindingType {
    /// e.g. `Policy:IAMUser/RootCredentialUsage`
    pub name: &'static str,
    /// Default severity (Low 2.0, Medium 5.0, High 8.0).
    pub severity: f64,
    pub resource: ResourceKind,
    pub action: ActionKind,
    pub role: ResourceRole,
    pub source: LogSource,
    pub title: &'static str,
    pub description: &'static str,
    /// Retired by AWS but still accepted by CreateSampleFindings.
    pub retired: bool,
}

// Names the detection rules raise, spelled once here so a typo is a compile error.
pub const ROOT_CREDENTIAL_USAGE: &str = "Policy:IAMUser/RootCredentialUsage";
pub const CLOUDTRAIL_LOGGING_DISABLED: &str = "Stealth:IAMUser/CloudTrailLoggingDisabled";
pub const PASSWORD_POLICY_CHANGE: &str = "Stealth:IAMUser/PasswordPolicyChange";
pub const PENTEST_KALI_LINUX: &str = "PenTest:IAMUser/KaliLinux";
pub const PENTEST_PARROT_LINUX: &str = "PenTest:IAMUser/ParrotLinux";
pub const PENTEST_PENTOO_LINUX: &str = "PenTest:IAMUser/PentooLinux";
pub const BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED: &str = "Policy:S3/BucketBlockPublicAccessDisabled";
pub const ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED: &str = "Policy:S3/AccountBlockPublicAccessDisabled";
pub const BUCKET_ANONYMOUS_ACCESS_GRANTED: &str = "Policy:S3/BucketAnonymousAccessGranted";
pub const BUCKET_PUBLIC_ACCESS_GRANTED: &str = "Policy:S3/BucketPublicAccessGranted";
pub const SERVER_ACCESS_LOGGING_DISABLED: &str = "Stealth:S3/ServerAccessLoggingDisabled";
pub const RECON_MALICIOUS_IP_CALLER: &str = "Recon:IAMUser/MaliciousIPCaller";
pub const RECON_MALICIOUS_IP_CALLER_CUSTOM: &str = "Recon:IAMUser/MaliciousIPCaller.Custom";
pub const RECON_TOR_IP_CALLER: &str = "Recon:IAMUser/TorIPCaller";
pub const UNAUTHORIZED_MALICIOUS_IP_CALLER: &str = "UnauthorizedAccess:IAMUser/MaliciousIPCaller";
pub const UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM: &str = "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom";
pub const UNAUTHORIZED_TOR_IP_CALLER: &str = "UnauthorizedAccess:IAMUser/TorIPCaller";
pub const CONSOLE_LOGIN_SUCCESS_B: &str = "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B";
pub const INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS: &str = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS";
pub const SSH_BRUTE_FORCE: &str = "UnauthorizedAccess:EC2/SSHBruteForce";
pub const METADATA_DNS_REBIND: &str = "UnauthorizedAccess:EC2/MetadataDNSRebind";

/// Default severities (docs/findings.md#severity).
pub const LOW: f64 = 2.0;
pub const MEDIUM: f64 = 5.0;
pub const HIGH: f64 = 8.0;

impl FindingType {
    /// True for types about an S3 bucket (their findings carry `s3BucketDetails`).
    pub fn concerns_bucket(&self) -> bool {
        self.name.contains(":S3/")
    }

    /// Types raised from a customer ThreatIntelSet match (`.Custom` suffix).
    pub fn is_custom_threat_list(&self) -> bool {
        self.name.ends_with(".Custom")
    }
}

// Row builders keep the table readable: one line of facts per type.
const fn cloudtrail(name: &'static str, severity: f64, title: &'static str, description: &'static str) -> FindingType {
    FindingType {
        name,
        severity,
        resource: ResourceKind::AccessKey,
        action: ActionKind::AwsApiCall,
        role: ResourceRole::Target,
        source: LogSource::CloudTrail,
        title,
        description,
        retired: false,
    }
}

/// VPC-flow type. `role` Actor = the instance initiates the traffic (outbound).
const fn flow(
    name: &'static str,
    severity: f64,
    action: ActionKind,
    role: ResourceRole,
    title: &'static str,
    description: &'static str,
) -> FindingType {
    FindingType { name, severity, resource: ResourceKind::Instance, action, role, source: LogSource::VpcFlow, title, description, retired: false }
}

/// DNS-log type: the instance makes the query, so it is always the actor.
const fn dns(name: &'static str, severity: f64, title: &'static str, description: &'static str) -> FindingType {
    FindingType {
        name,
        severity,
        resource: ResourceKind::Instance,
        action: ActionKind::DnsRequest,
        role: ResourceRole::Actor,
        source: LogSource::Dns,
        title,
        description,
        retired: false,
    }
}

const fn retired(t: FindingType) -> FindingType {
    FindingType { retired: true, ..t }
}

use ActionKind::{NetworkConnection as NC, PortProbe as PP};
use ResourceRole::{Actor as ACTOR, Target as TARGET};

/// Every type of the catalogue (docs/findings.md#finding-types), retired ones included.
pub static CATALOGUE: &[FindingType] = &[
    // CloudTrail management events, resource AccessKey (docs/findings.md#cloudtrail-access-key-types).
    cloudtrail(
        ROOT_CREDENTIAL_USAGE,
        LOW,
        "An API was invoked using root credentials.",
        "An API was invoked using the root credentials of the account. Root credentials should not be used for everyday tasks.",
    ),
    cloudtrail(
        CLOUDTRAIL_LOGGING_DISABLED,
        LOW,
        "AWS CloudTrail trail was disabled.",
        "A CloudTrail trail was stopped, deleted or updated so that it no longer logs, or the bucket holding its logs was deleted.",
    ),
    cloudtrail(
        PASSWORD_POLICY_CHANGE,
        LOW,
        "Account password policy was weakened.",
        "The account password policy was deleted or changed to require less than before.",
    ),
    cloudtrail(
        PENTEST_KALI_LINUX,
        MEDIUM,
        "An API was invoked from a Kali Linux computer.",
        "An API was invoked from a machine running Kali Linux, a penetration-testing distribution.",
    ),
    cloudtrail(
        PENTEST_PARROT_LINUX,
        MEDIUM,
        "An API was invoked from a Parrot Security Linux computer.",
        "An API was invoked from a machine running Parrot Security Linux, a penetration-testing distribution.",
    ),
    cloudtrail(
        PENTEST_PENTOO_LINUX,
        MEDIUM,
        "An API was invoked from a Pentoo Linux computer.",
        "An API was invoked from a machine running Pentoo Linux, a penetration-testing distribution.",
    ),
    cloudtrail(
        "Recon:IAMUser/MaliciousIPCaller",
        MEDIUM,
        "Reconnaissance API invoked from a known malicious IP address.",
        "An API commonly used to discover resources was invoked from an IP address on a threat list.",
    ),
    cloudtrail(
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        MEDIUM,
        "Reconnaissance API invoked from an IP address on a custom threat list.",
        "An API commonly used to discover resources was invoked from an IP address on a threat list you uploaded.",
    ),
    cloudtrail(
        "Recon:IAMUser/TorIPCaller",
        MEDIUM,
        "Reconnaissance API invoked from a Tor exit node.",
        "An API commonly used to discover resources was invoked from a Tor exit node IP address.",
    ),
    cloudtrail(
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        MEDIUM,
        "API invoked from a known malicious IP address.",
        "An API was invoked from an IP address on a threat list.",
    ),
    cloudtrail(
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
        MEDIUM,
        "API invoked from an IP address on a custom threat list.",
        "An API was invoked from an IP address on a threat list you uploaded.",
    ),
    cloudtrail(
        "UnauthorizedAccess:IAMUser/TorIPCaller",
        MEDIUM,
        "API invoked from a Tor exit node.",
        "An API was invoked from a Tor exit node IP address.",
    ),
    cloudtrail(
        "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
        MEDIUM,
        "Multiple worldwide successful console logins were observed.",
        "Several successful console logins for the same IAM user happened at about the same time from distant locations.",
    ),
    cloudtrail(
        INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS,
        HIGH,
        "Credentials for an EC2 instance role were used from an external IP address.",
        "Temporary credentials created for an EC2 instance through its instance role are being used from an IP address outside AWS.",
    ),
    // Name before the September 2021 rename to `.OutsideAWS`.
    retired(cloudtrail(
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",
        HIGH,
        "Credentials for an EC2 instance role were used from an external IP address.",
        "Temporary credentials created for an EC2 instance through its instance role are being used from an external IP address.",
    )),
    cloudtrail(
        "Discovery:IAMUser/AnomalousBehavior",
        LOW,
        "A discovery API was invoked in an anomalous way.",
        "An API commonly used to gather information about resources was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "CredentialAccess:IAMUser/AnomalousBehavior",
        MEDIUM,
        "A credential access API was invoked in an anomalous way.",
        "An API commonly used to obtain passwords, secrets or access tokens was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "DefenseEvasion:IAMUser/AnomalousBehavior",
        MEDIUM,
        "A defense evasion API was invoked in an anomalous way.",
        "An API commonly used to evade defenses, such as disabling logging, was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "Exfiltration:IAMUser/AnomalousBehavior",
        HIGH,
        "An exfiltration API was invoked in an anomalous way.",
        "An API commonly used to copy data out of the account was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "Impact:IAMUser/AnomalousBehavior",
        HIGH,
        "An impact API was invoked in an anomalous way.",
        "An API commonly used to tamper with data or processes was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "InitialAccess:IAMUser/AnomalousBehavior",
        MEDIUM,
        "An initial access API was invoked in an anomalous way.",
        "An API commonly used to gain unauthorized access was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "Persistence:IAMUser/AnomalousBehavior",
        MEDIUM,
        "A persistence API was invoked in an anomalous way.",
        "An API commonly used to maintain access was invoked in a way unusual for this identity.",
    ),
    cloudtrail(
        "PrivilegeEscalation:IAMUser/AnomalousBehavior",
        MEDIUM,
        "A privilege escalation API was invoked in an anomalous way.",
        "An API commonly used to obtain higher-level permissions was invoked in a way unusual for this identity.",
    ),
    // "No prior history" types, retired 2021-03-12 (docs/findings.md#retired-types).
    retired(cloudtrail(
        "Persistence:IAMUser/NetworkPermissions",
        MEDIUM,
        "Unusual changes to network permissions.",
        "An IAM entity with no prior history of doing so invoked an API that changes network access permissions.",
    )),
    retired(cloudtrail(
        "Persistence:IAMUser/ResourcePermissions",
        MEDIUM,
        "Unusual changes to resource access permissions.",
        "An IAM entity with no prior history of doing so invoked an API that changes resource access policies.",
    )),
    retired(cloudtrail(
        "Persistence:IAMUser/UserPermissions",
        MEDIUM,
        "Unusual changes to user permissions.",
        "An IAM entity with no prior history of doing so invoked an API that changes user or group permissions.",
    )),
    retired(cloudtrail(
        "PrivilegeEscalation:IAMUser/AdministrativePermissions",
        LOW,
        "An IAM entity attempted to grant itself broad permissions.",
        "An IAM entity with no prior history of doing so attempted to assign an administrative policy.",
    )),
    retired(cloudtrail(
        "Recon:IAMUser/NetworkPermissions",
        MEDIUM,
        "Unusual enumeration of network permissions.",
        "An IAM entity with no prior history of doing so invoked an API that lists network access permissions.",
    )),
    retired(cloudtrail(
        "Recon:IAMUser/ResourcePermissions",
        MEDIUM,
        "Unusual enumeration of resource access permissions.",
        "An IAM entity with no prior history of doing so invoked an API that lists resource access policies.",
    )),
    retired(cloudtrail(
        "Recon:IAMUser/UserPermissions",
        MEDIUM,
        "Unusual enumeration of user permissions.",
        "An IAM entity with no prior history of doing so invoked an API that lists user or group permissions.",
    )),
    retired(cloudtrail(
        "ResourceConsumption:IAMUser/ComputeResources",
        MEDIUM,
        "Unusual launch of compute resources.",
        "An IAM entity with no prior history of doing so invoked an API that launches compute resources.",
    )),
    retired(cloudtrail(
        "Stealth:IAMUser/LoggingConfigurationModified",
        MEDIUM,
        "Unusual change to logging configuration.",
        "An IAM entity with no prior history of doing so invoked an API that disables or modifies logging.",
    )),
    retired(cloudtrail(
        "UnauthorizedAccess:IAMUser/ConsoleLogin",
        MEDIUM,
        "Unusual console login.",
        "An IAM entity with no prior history of doing so signed in to the AWS Management Console.",
    )),
    retired(cloudtrail(
        "Discovery:S3/BucketEnumeration.Unusual",
        MEDIUM,
        "Unusual enumeration of S3 buckets.",
        "An IAM entity with no prior history of doing so invoked an API used to discover S3 buckets.",
    )),
    retired(cloudtrail(
        "Impact:S3/ObjectDelete.Unusual",
        MEDIUM,
        "Unusual deletion of S3 data.",
        "An IAM entity with no prior history of doing so invoked an API used to delete data in an S3 bucket.",
    )),
    retired(cloudtrail(
        "Impact:S3/PermissionsModification.Unusual",
        MEDIUM,
        "Unusual change to S3 permissions.",
        "An IAM entity with no prior history of doing so invoked an API that modifies permissions on S3 resources.",
    )),
    // Other retired CloudTrail types (docs/findings.md#retired-types).
    retired(cloudtrail(
        "Behavior:IAMUser/InstanceLaunchUnusual",
        HIGH,
        "Unusual EC2 instance launch.",
        "An IAM entity launched an EC2 instance of an unusual type.",
    )),
    retired(cloudtrail(
        "UnauthorizedAccess:IAMUser/UnusualASNCaller",
        HIGH,
        "API invoked from an unusual network.",
        "An API was invoked from an IP address of an unusual autonomous system.",
    )),
    // CloudTrail management events about S3 buckets, resource AccessKey + s3BucketDetails (docs/findings.md#cloudtrail-s3-types).
    cloudtrail(
        BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
        LOW,
        "Amazon S3 Block Public Access was disabled for an S3 bucket.",
        "Block Public Access settings were turned off for an S3 bucket.",
    ),
    cloudtrail(
        ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
        LOW,
        "Amazon S3 Block Public Access was disabled for the account.",
        "Account-level Block Public Access settings for S3 were turned off.",
    ),
    cloudtrail(
        BUCKET_ANONYMOUS_ACCESS_GRANTED,
        HIGH,
        "Amazon S3 bucket was granted access to anonymous users.",
        "A bucket policy or ACL change made an S3 bucket accessible to anyone on the internet.",
    ),
    cloudtrail(
        BUCKET_PUBLIC_ACCESS_GRANTED,
        HIGH,
        "Amazon S3 bucket was granted access to all authenticated AWS users.",
        "A bucket policy or ACL change made an S3 bucket accessible to every authenticated AWS user.",
    ),
    cloudtrail(
        SERVER_ACCESS_LOGGING_DISABLED,
        LOW,
        "Amazon S3 server access logging was disabled for a bucket.",
        "Server access logging was turned off for an S3 bucket.",
    ),
    // VPC flow logs, resource Instance (docs/findings.md#vpc-flow-types).
    flow(
        "Backdoor:EC2/C&CActivity.B",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is communicating with a command and control server.",
        "An EC2 instance is communicating with an IP address associated with a known command and control server.",
    ),
    flow(
        "Backdoor:EC2/DenialOfService.Dns",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is behaving as a DNS denial of service source.",
        "An EC2 instance is sending a large volume of outbound DNS traffic to a remote host.",
    ),
    flow(
        "Backdoor:EC2/DenialOfService.Tcp",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is behaving as a TCP denial of service source.",
        "An EC2 instance is sending a large volume of outbound TCP traffic to a remote host.",
    ),
    flow(
        "Backdoor:EC2/DenialOfService.Udp",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is behaving as a UDP denial of service source.",
        "An EC2 instance is sending a large volume of outbound UDP traffic to a remote host.",
    ),
    flow(
        "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is sending UDP denial of service traffic to TCP ports.",
        "An EC2 instance is sending a large volume of outbound UDP traffic to a port normally used for TCP.",
    ),
    flow(
        "Backdoor:EC2/DenialOfService.UnusualProtocol",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is sending denial of service traffic over an unusual protocol.",
        "An EC2 instance is sending a large volume of outbound traffic over an unusual protocol such as IGMP.",
    ),
    flow(
        "Backdoor:EC2/Spambot",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is communicating with a remote host on port 25.",
        "An EC2 instance with no prior history of doing so is communicating with a remote host on port 25.",
    ),
    flow(
        "Behavior:EC2/NetworkPortUnusual",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is communicating on an unusual server port.",
        "An EC2 instance is communicating with a remote host on a port it has not used before.",
    ),
    flow(
        "Behavior:EC2/TrafficVolumeUnusual",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is sending an unusually large volume of traffic.",
        "An EC2 instance is sending far more traffic to a remote host than its baseline.",
    ),
    flow(
        "CryptoCurrency:EC2/BitcoinTool.B",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is communicating with Bitcoin-related IP addresses.",
        "An EC2 instance is communicating with an IP address associated with cryptocurrency activity.",
    ),
    flow(
        "Impact:EC2/PortSweep",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is probing a port on many hosts.",
        "An EC2 instance is probing one port on a large number of public IP addresses.",
    ),
    flow(
        "Impact:EC2/WinRMBruteForce",
        LOW,
        NC,
        TARGET,
        "Windows Remote Management brute force attack against an EC2 instance.",
        "A remote host is attempting a WinRM brute force attack against an EC2 instance.",
    ),
    flow(
        "Recon:EC2/PortProbeUnprotectedPort",
        LOW,
        PP,
        TARGET,
        "Unprotected port on an EC2 instance is being probed.",
        "An unprotected port on an EC2 instance is being probed by known malicious hosts.",
    ),
    flow(
        "Recon:EC2/PortProbeEMRUnprotectedPort",
        HIGH,
        PP,
        TARGET,
        "Unprotected EMR-related port on an EC2 instance is being probed.",
        "An EMR-related port on an EC2 instance of an EMR cluster is not blocked and is being probed by known malicious hosts.",
    ),
    flow(
        "Recon:EC2/Portscan",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is performing outbound port scans.",
        "An EC2 instance is connecting to many ports of a remote host in a short time.",
    ),
    flow(
        "Trojan:EC2/BlackholeTraffic",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is communicating with a black hole IP address.",
        "An EC2 instance is trying to communicate with the IP address of a black hole (sink hole) network.",
    ),
    flow(
        "Trojan:EC2/DropPoint",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is communicating with a drop point.",
        "An EC2 instance is communicating with an IP address known to hold data stolen by malware.",
    ),
    flow(
        "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
        MEDIUM,
        NC,
        ACTOR,
        "EC2 instance is communicating with an IP address on a custom threat list.",
        "An EC2 instance is communicating with an IP address on a threat list you uploaded.",
    ),
    flow(
        "UnauthorizedAccess:EC2/RDPBruteForce",
        LOW,
        NC,
        TARGET,
        "RDP brute force attack against an EC2 instance.",
        "A remote host is attempting an RDP brute force attack against an EC2 instance.",
    ),
    flow(
        SSH_BRUTE_FORCE,
        LOW,
        NC,
        TARGET,
        "SSH brute force attack against an EC2 instance.",
        "A remote host is attempting an SSH brute force attack against an EC2 instance.",
    ),
    flow(
        "UnauthorizedAccess:EC2/TorClient",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is communicating with Tor entry nodes.",
        "An EC2 instance is making connections to Tor guard or directory authority nodes.",
    ),
    flow(
        "UnauthorizedAccess:EC2/TorRelay",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is acting as a Tor relay.",
        "An EC2 instance is making connections to the Tor network in a way that suggests it acts as a Tor relay.",
    ),
    // Retired VPC flow types (docs/findings.md#retired-types).
    retired(flow(
        "UnauthorizedAccess:EC2/TorIPCaller",
        MEDIUM,
        NC,
        TARGET,
        "EC2 instance is receiving connections from a Tor exit node.",
        "An EC2 instance is receiving inbound connections from a Tor exit node.",
    )),
    retired(flow(
        "Backdoor:EC2/XORDDOS",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is communicating with an XOR DDoS-related IP address.",
        "An EC2 instance is communicating with an IP address associated with XOR DDoS malware.",
    )),
    retired(flow(
        "CryptoCurrency:EC2/BitcoinTool.A",
        HIGH,
        NC,
        ACTOR,
        "EC2 instance is communicating with Bitcoin mining pools.",
        "An EC2 instance is communicating with Bitcoin mining pools.",
    )),
    // DNS logs, resource Instance (docs/findings.md#dns-types).
    dns(
        "Backdoor:EC2/C&CActivity.B!DNS",
        HIGH,
        "EC2 instance is querying a domain name associated with a command and control server.",
        "An EC2 instance is querying a domain name associated with a known command and control server.",
    ),
    dns(
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        HIGH,
        "EC2 instance is querying a domain name associated with Bitcoin activity.",
        "An EC2 instance is querying a domain name associated with cryptocurrency activity.",
    ),
    dns(
        "Trojan:EC2/BlackholeTraffic!DNS",
        MEDIUM,
        "EC2 instance is querying a domain name redirected to a black hole IP address.",
        "An EC2 instance is querying a domain name that is being redirected to a black hole IP address.",
    ),
    dns(
        "Trojan:EC2/DGADomainRequest.B",
        HIGH,
        "EC2 instance is querying algorithmically generated domains.",
        "An EC2 instance is querying domains that look algorithmically generated, as malware does to find its server.",
    ),
    dns(
        "Trojan:EC2/DGADomainRequest.C!DNS",
        HIGH,
        "EC2 instance is querying algorithmically generated domains.",
        "An EC2 instance is querying algorithmically generated domains known to threat intelligence.",
    ),
    dns(
        "Trojan:EC2/DNSDataExfiltration",
        HIGH,
        "EC2 instance is exfiltrating data through DNS queries.",
        "An EC2 instance is sending data out through DNS queries.",
    ),
    dns(
        "Trojan:EC2/DriveBySourceTraffic!DNS",
        HIGH,
        "EC2 instance is querying a domain name of a drive-by download source.",
        "An EC2 instance is querying a domain name of a host known to serve drive-by downloads.",
    ),
    dns(
        "Trojan:EC2/DropPoint!DNS",
        MEDIUM,
        "EC2 instance is querying a domain name of a drop point.",
        "An EC2 instance is querying a domain name of a host known to hold data stolen by malware.",
    ),
    dns(
        "Trojan:EC2/PhishingDomainRequest!DNS",
        HIGH,
        "EC2 instance is querying a phishing domain.",
        "An EC2 instance is querying a domain name associated with phishing attacks.",
    ),
    dns(
        METADATA_DNS_REBIND,
        HIGH,
        "EC2 instance is querying a domain that resolves to the instance metadata IP address.",
        "An EC2 instance is querying a domain name that resolves to 169.254.169.254, which may be a DNS rebinding attack on the metadata service.",
    ),
    dns(
        "Impact:EC2/AbusedDomainRequest.Reputation",
        MEDIUM,
        "EC2 instance is querying a low-reputation domain name associated with abused domains.",
        "An EC2 instance is querying a low-reputation domain in a commonly abused category.",
    ),
    dns(
        "Impact:EC2/BitcoinDomainRequest.Reputation",
        HIGH,
        "EC2 instance is querying a low-reputation domain name associated with cryptocurrency.",
        "An EC2 instance is querying a low-reputation domain associated with cryptocurrency activity.",
    ),
    dns(
        "Impact:EC2/MaliciousDomainRequest.Reputation",
        HIGH,
        "EC2 instance is querying a low-reputation domain name associated with malicious domains.",
        "An EC2 instance is querying a low-reputation domain linked to known malicious domains.",
    ),
    dns(
        "Impact:EC2/SuspiciousDomainRequest.Reputation",
        LOW,
        "EC2 instance is querying a suspicious low-reputation domain name.",
        "An EC2 instance is querying a new or rarely seen domain of suspicious reputation.",
    ),
];

static BY_NAME: LazyLock<HashMap<&'static str, &'static FindingType>> = LazyLock::new(|| CATALOGUE.iter().map(|t| (t.name, t)).collect());

pub fn lookup(name: &str) -> Option<&'static FindingType> {
    BY_NAME.get(name).copied()
}

/// Active (not retired) types: what CreateSampleFindings generates when no type is named.
pub fn active() -> impl Iterator<Item = &'static FindingType> {
    CATALOGUE.iter().filter(|t| !t.retired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// `ThreatPurpose:ResourceType/ThreatFamily[.Variant...][!Artifact]` (UG finding-type format).
    fn well_formed(name: &str) -> bool {
        let Some((purpose, rest)) = name.split_once(':') else { return false };
        let Some((resource, family)) = rest.split_once('/') else { return false };
        let (family, artifact) = match family.split_once('!') {
            Some((f, a)) => (f, Some(a)),
            None => (family, None),
        };
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        word(purpose)
            && purpose.starts_with(|c: char| c.is_ascii_uppercase())
            && word(resource)
            && family.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '&'))
            && artifact.is_none_or(word)
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for t in CATALOGUE {
            assert!(seen.insert(t.name), "duplicate {}", t.name);
            assert!(well_formed(t.name), "malformed {}", t.name);
            assert!(t.name.len() <= 100, "CreateSampleFindings caps type names at 100: {}", t.name);
        }
        assert!(!well_formed("RootCredentialUsage"));
        assert!(!well_formed("Policy:IAMUser/"));
        assert!(!well_formed("Policy:IAMUser/Root Usage"));
    }

    #[test]
    fn lookup_finds_every_entry_and_nothing_else() {
        for t in CATALOGUE {
            assert!(std::ptr::eq(lookup(t.name).unwrap(), t));
        }
        assert!(lookup("policy:iamuser/rootcredentialusage").is_none());
        assert!(lookup("Policy:IAMUser/RootCredentialUsage ").is_none());
        assert_eq!(lookup(ROOT_CREDENTIAL_USAGE).unwrap().severity, LOW);
    }

    #[test]
    fn entries_agree_with_their_section() {
        for t in CATALOGUE {
            assert!([LOW, MEDIUM, HIGH].contains(&t.severity), "{}", t.name);
            match t.source {
                LogSource::CloudTrail => {
                    assert_eq!((t.resource, t.action, t.role), (ResourceKind::AccessKey, ActionKind::AwsApiCall, ResourceRole::Target), "{}", t.name);
                }
                LogSource::VpcFlow => {
                    assert_eq!(t.resource, ResourceKind::Instance, "{}", t.name);
                    assert!(matches!(t.action, ActionKind::NetworkConnection | ActionKind::PortProbe), "{}", t.name);
                }
                LogSource::Dns => {
                    assert_eq!((t.resource, t.action, t.role), (ResourceKind::Instance, ActionKind::DnsRequest, ResourceRole::Actor), "{}", t.name);
                }
            }
            assert_eq!(t.name.contains("/EC2") || t.name.contains(":EC2/"), t.resource == ResourceKind::Instance, "{}", t.name);
            assert!(!t.title.is_empty() && !t.description.is_empty(), "{}", t.name);
        }
    }

    #[test]
    fn issue_8_types_are_active_cloudtrail_types() {
        for name in [
            ROOT_CREDENTIAL_USAGE,
            CLOUDTRAIL_LOGGING_DISABLED,
            PASSWORD_POLICY_CHANGE,
            PENTEST_KALI_LINUX,
            PENTEST_PARROT_LINUX,
            PENTEST_PENTOO_LINUX,
            BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
            ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
            BUCKET_ANONYMOUS_ACCESS_GRANTED,
            BUCKET_PUBLIC_ACCESS_GRANTED,
            SERVER_ACCESS_LOGGING_DISABLED,
        ] {
            let t = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(!t.retired && t.source == LogSource::CloudTrail, "{name}");
        }
        assert!(lookup(BUCKET_ANONYMOUS_ACCESS_GRANTED).unwrap().concerns_bucket());
        assert!(!lookup(ROOT_CREDENTIAL_USAGE).unwrap().concerns_bucket());
    }

    #[test]
    fn retired_types_are_kept_but_not_active() {
        let retired: Vec<_> = CATALOGUE.iter().filter(|t| t.retired).map(|t| t.name).collect();
        for name in ["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration", "Backdoor:EC2/XORDDOS", "UnauthorizedAccess:IAMUser/ConsoleLogin"] {
            assert!(retired.contains(&name), "{name}");
        }
        assert!(active().all(|t| !retired.contains(&t.name)));
        assert_eq!(active().count() + retired.len(), CATALOGUE.len());
    }
}
