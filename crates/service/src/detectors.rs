//! CreateDetector, GetDetector, ListDetectors, UpdateDetector, DeleteDetector.
use vedette_domain::{Detector, DetectorConfig, time};
use vedette_model as model;

use crate::{DEFAULT_PAGE_SIZE, Principal, Result, Service, page_size, tags, token, validate};

impl Service {
    pub async fn create_detector(&self, p: &Principal, input: model::CreateDetectorRequest) -> Result<model::CreateDetectorResponse> {
        validate(&input)?;
        if let Some(t) = &input.tags {
            tags::check_keys(t.keys(), "tags")?;
        }
        let config = DetectorConfig {
            enabled: input.enable.unwrap_or(true),
            finding_publishing_frequency: input
                .finding_publishing_frequency
                .unwrap_or_else(|| DetectorConfig::default().finding_publishing_frequency),
            data_sources: input.data_sources,
            features: input.features,
        };
        let scope = p.scope.clone();
        let tags = input.tags.unwrap_or_default();
        let client_token = token(input.client_token);
        let detector = self.store(move |s| s.create_detector(&scope, config, tags, client_token.as_deref())).await?;
        Ok(model::CreateDetectorResponse { detector_id: Some(detector.id), unprocessed_data_sources: None })
    }

    pub async fn get_detector(&self, p: &Principal, input: model::GetDetectorRequest) -> Result<model::GetDetectorResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        Ok(describe(&detector))
    }

    pub async fn list_detectors(&self, p: &Principal, input: model::ListDetectorsRequest) -> Result<model::ListDetectorsResponse> {
        validate(&input)?;
        let scope = p.scope.clone();
        let max = page_size(input.max_results, DEFAULT_PAGE_SIZE);
        let next = token(input.next_token);
        let page = self.store(move |s| s.list_detectors(&scope, max, next.as_deref())).await?;
        Ok(model::ListDetectorsResponse { detector_ids: Some(page.items), next_token: page.next_token })
    }

    pub async fn update_detector(&self, p: &Principal, input: model::UpdateDetectorRequest) -> Result<model::UpdateDetectorResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let mut config = detector.config.clone();
        if let Some(enable) = input.enable {
            config.enabled = enable;
        }
        if let Some(f) = input.finding_publishing_frequency {
            config.finding_publishing_frequency = f;
        }
        if let Some(ds) = input.data_sources {
            config.data_sources = Some(ds);
        }
        if let Some(updates) = input.features {
            // Features are configured one by one: an update names only those it changes.
            let mut merged = config.features.take().unwrap_or_default();
            for u in updates {
                match merged.iter_mut().find(|f| f.name == u.name) {
                    Some(existing) => *existing = u,
                    None => merged.push(u),
                }
            }
            config.features = Some(merged);
        }
        let scope = p.scope.clone();
        self.store(move |s| s.update_detector(&scope, &detector.id, config)).await?;
        Ok(model::UpdateDetectorResponse::default())
    }

    pub async fn delete_detector(&self, p: &Principal, input: model::DeleteDetectorRequest) -> Result<model::DeleteDetectorResponse> {
        validate(&input)?;
        let detector = self.owned_detector(p, input.detector_id.as_deref().unwrap_or_default()).await?;
        let scope = p.scope.clone();
        self.store(move |s| s.delete_detector(&scope, &detector.id)).await?;
        Ok(model::DeleteDetectorResponse::default())
    }
}

const ENABLED: &str = "ENABLED";
const DISABLED: &str = "DISABLED";

fn status(enabled: bool) -> String {
    if enabled { ENABLED } else { DISABLED }.to_string()
}

/// S3 protection as the client configured it, through `features` or the deprecated
/// `dataSources`; off unless asked for (Vedette does not read S3 data events).
fn s3_status(config: &DetectorConfig) -> String {
    let from_features = config.features.iter().flatten().find(|f| f.name.as_deref() == Some("S3_DATA_EVENTS")).and_then(|f| f.status.clone());
    let from_data_sources = config.data_sources.as_ref().and_then(|d| d.s3_logs.as_ref()).and_then(|s| s.enable).map(status);
    from_features.or(from_data_sources).unwrap_or_else(|| DISABLED.to_string())
}

/// GetDetector's answer: the log sources Vedette reads are always on; other features are
/// reported as the client set them.
pub fn describe(d: &Detector) -> model::GetDetectorResponse {
    let updated_secs = d.updated_at_ms as f64 / 1000.0;
    let s3 = s3_status(&d.config);
    let mut features: Vec<model::DetectorFeatureConfigurationResult> = ["CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"]
        .into_iter()
        .map(|name| model::DetectorFeatureConfigurationResult {
            name: Some(name.into()),
            status: Some(ENABLED.into()),
            updated_at: Some(updated_secs),
            ..Default::default()
        })
        .collect();
    features.push(model::DetectorFeatureConfigurationResult {
        name: Some("S3_DATA_EVENTS".into()),
        status: Some(s3.clone()),
        updated_at: Some(updated_secs),
        ..Default::default()
    });
    for f in d.config.features.iter().flatten() {
        if f.name.as_deref() == Some("S3_DATA_EVENTS") {
            continue;
        }
        features.push(model::DetectorFeatureConfigurationResult {
            name: f.name.clone(),
            status: Some(f.status.clone().unwrap_or_else(|| DISABLED.into())),
            updated_at: Some(updated_secs),
            additional_configuration: f.additional_configuration.as_ref().map(|list| {
                list.iter()
                    .map(|a| model::DetectorAdditionalConfigurationResult {
                        name: a.name.clone(),
                        status: Some(a.status.clone().unwrap_or_else(|| DISABLED.into())),
                        updated_at: Some(updated_secs),
                        managed_by: None,
                    })
                    .collect()
            }),
            managed_by: None,
        });
    }
    model::GetDetectorResponse {
        created_at: Some(time::iso_ms(d.created_at_ms)),
        finding_publishing_frequency: Some(d.config.finding_publishing_frequency.clone()),
        service_role: Some(service_role(d)),
        status: Some(status(d.config.enabled)),
        updated_at: Some(time::iso_ms(d.updated_at_ms)),
        data_sources: Some(model::DataSourceConfigurationsResult {
            cloud_trail: Some(model::CloudTrailConfigurationResult { status: Some(ENABLED.into()) }),
            dns_logs: Some(model::DNSLogsConfigurationResult { status: Some(ENABLED.into()) }),
            flow_logs: Some(model::FlowLogsConfigurationResult { status: Some(ENABLED.into()) }),
            s3_logs: Some(model::S3LogsConfigurationResult { status: Some(s3) }),
            kubernetes: None,
            malware_protection: None,
        }),
        tags: Some(d.tags.clone()),
        features: Some(features),
    }
}

/// The service-linked role GuardDuty reports for every detector.
fn service_role(d: &Detector) -> String {
    format!("arn:{}:iam::{}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty", d.scope.partition(), d.scope.account_id)
}
