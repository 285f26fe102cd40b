"""Finding types of the catalogue (docs/findings.md#finding-types), copied from the documentation
so the suite checks the server against the documented catalogue rather than against itself."""

CLOUDTRAIL_ACCESS_KEY = [
    "Policy:IAMUser/RootCredentialUsage",
    "Stealth:IAMUser/CloudTrailLoggingDisabled",
    "Stealth:IAMUser/PasswordPolicyChange",
    "PenTest:IAMUser/KaliLinux",
    "PenTest:IAMUser/ParrotLinux",
    "PenTest:IAMUser/PentooLinux",
    "Recon:IAMUser/MaliciousIPCaller",
    "Recon:IAMUser/MaliciousIPCaller.Custom",
    "Recon:IAMUser/TorIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:IAMUser/TorIPCaller",
    "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
    "Discovery:IAMUser/AnomalousBehavior",
    "CredentialAccess:IAMUser/AnomalousBehavior",
    "DefenseEvasion:IAMUser/AnomalousBehavior",
    "Exfiltration:IAMUser/AnomalousBehavior",
    "Impact:IAMUser/AnomalousBehavior",
    "InitialAccess:IAMUser/AnomalousBehavior",
    "Persistence:IAMUser/AnomalousBehavior",
    "PrivilegeEscalation:IAMUser/AnomalousBehavior",
]

CLOUDTRAIL_S3_POLICY = [
    "Policy:S3/BucketBlockPublicAccessDisabled",
    "Policy:S3/AccountBlockPublicAccessDisabled",
    "Policy:S3/BucketAnonymousAccessGranted",
    "Policy:S3/BucketPublicAccessGranted",
    "Stealth:S3/ServerAccessLoggingDisabled",
]

VPC_FLOW = [
    "Backdoor:EC2/C&CActivity.B",
    "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.Tcp",
    "Backdoor:EC2/DenialOfService.Udp",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
    "Backdoor:EC2/DenialOfService.UnusualProtocol",
    "Backdoor:EC2/Spambot",
    "Behavior:EC2/NetworkPortUnusual",
    "Behavior:EC2/TrafficVolumeUnusual",
    "CryptoCurrency:EC2/BitcoinTool.B",
    "Impact:EC2/PortSweep",
    "Impact:EC2/WinRMBruteForce",
    "Recon:EC2/PortProbeUnprotectedPort",
    "Recon:EC2/PortProbeEMRUnprotectedPort",
    "Recon:EC2/Portscan",
    "Trojan:EC2/BlackholeTraffic",
    "Trojan:EC2/DropPoint",
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:EC2/RDPBruteForce",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "UnauthorizedAccess:EC2/TorClient",
    "UnauthorizedAccess:EC2/TorRelay",
]

DNS = [
    "Backdoor:EC2/C&CActivity.B!DNS",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "Trojan:EC2/BlackholeTraffic!DNS",
    "Trojan:EC2/DGADomainRequest.B",
    "Trojan:EC2/DGADomainRequest.C!DNS",
    "Trojan:EC2/DNSDataExfiltration",
    "Trojan:EC2/DriveBySourceTraffic!DNS",
    "Trojan:EC2/DropPoint!DNS",
    "Trojan:EC2/PhishingDomainRequest!DNS",
    "UnauthorizedAccess:EC2/MetadataDNSRebind",
    "Impact:EC2/AbusedDomainRequest.Reputation",
    "Impact:EC2/BitcoinDomainRequest.Reputation",
    "Impact:EC2/MaliciousDomainRequest.Reputation",
    "Impact:EC2/SuspiciousDomainRequest.Reputation",
]

ACTIVE = CLOUDTRAIL_ACCESS_KEY + CLOUDTRAIL_S3_POLICY + VPC_FLOW + DNS

# Retired by AWS but still valid `findingTypes` for CreateSampleFindings (decision in docs/findings.md#cloudtrail-access-key-types).
RETIRED = [
    "Persistence:IAMUser/NetworkPermissions",
    "Persistence:IAMUser/ResourcePermissions",
    "Persistence:IAMUser/UserPermissions",
    "PrivilegeEscalation:IAMUser/AdministrativePermissions",
    "Recon:IAMUser/NetworkPermissions",
    "Recon:IAMUser/ResourcePermissions",
    "Recon:IAMUser/UserPermissions",
    "ResourceConsumption:IAMUser/ComputeResources",
    "Stealth:IAMUser/LoggingConfigurationModified",
    "UnauthorizedAccess:IAMUser/ConsoleLogin",
    "Discovery:S3/BucketEnumeration.Unusual",
    "Impact:S3/ObjectDelete.Unusual",
    "Impact:S3/PermissionsModification.Unusual",
]

# Expected resource / action kind per type family (docs/findings.md#finding-types table headings).
def expected_resource_type(finding_type: str) -> str:
    if finding_type in VPC_FLOW or finding_type in DNS:
        return "Instance"
    return "AccessKey"  # management-event S3 findings use AccessKey + s3BucketDetails (docs/findings.md#cloudtrail-s3-types)


def expected_action_type(finding_type: str) -> str | None:
    if finding_type in CLOUDTRAIL_ACCESS_KEY or finding_type in CLOUDTRAIL_S3_POLICY:
        return "AWS_API_CALL"
    if finding_type in DNS:
        return "DNS_REQUEST"
    if finding_type.startswith("Recon:EC2/PortProbe"):
        return "PORT_PROBE"
    if finding_type in VPC_FLOW:
        return "NETWORK_CONNECTION"
    return None
