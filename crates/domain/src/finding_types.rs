//! The finding-type catalogue: the one place each finding type is defined (name, severity,
//! resource and action kind, the source that triggers it). Detection rules refer to these
//! entries; adding a type is a new row here plus, for a detectable type, its rule.

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

/// Every type of the spec's catalogue (§4), retired ones included.
pub static CATALOGUE: &[FindingType] = &[];

pub fn lookup(name: &str) -> Option<&'static FindingType> {
    CATALOGUE.iter().find(|t| t.name == name)
}
