use std::collections::BTreeMap;

use crate::{Scope, model};

/// What a client can set on a detector (CreateDetector / UpdateDetector).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    pub enabled: bool,
    /// FIFTEEN_MINUTES | ONE_HOUR | SIX_HOURS (GuardDuty's default).
    pub finding_publishing_frequency: String,
    /// Deprecated `dataSources` as the client sent it, if it did.
    pub data_sources: Option<model::DataSourceConfigurations>,
    /// `features` as the client sent it, if it did.
    pub features: Option<Vec<model::DetectorFeatureConfiguration>>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig { enabled: true, finding_publishing_frequency: "SIX_HOURS".into(), data_sources: None, features: None }
    }
}

/// A detector as stored: one per account and Region.
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    pub id: String,
    pub scope: Scope,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub config: DetectorConfig,
    pub tags: BTreeMap<String, String>,
}

impl Detector {
    pub fn arn(&self) -> String {
        self.scope.detector_arn(&self.id)
    }
}
