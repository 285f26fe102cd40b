/// Where a request or a log record belongs: GuardDuty scopes everything by account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub account_id: String,
    pub region: String,
}

impl Scope {
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Self {
        Scope { account_id: account_id.into(), region: region.into() }
    }

    /// The ARN partition of the Region.
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    pub fn detector_arn(&self, detector_id: &str) -> String {
        format!("arn:{}:guardduty:{}:{}:detector/{}", self.partition(), self.region, self.account_id, detector_id)
    }

    pub fn finding_arn(&self, detector_id: &str, finding_id: &str) -> String {
        format!("{}/finding/{}", self.detector_arn(detector_id), finding_id)
    }
}
