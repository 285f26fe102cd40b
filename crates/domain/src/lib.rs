//! Vedette's domain: the finding model (GuardDuty's own, from `vedette-model`), the finding-type
//! catalogue, FindingCriteria, detection rules and aggregation. It knows nothing of HTTP or SQL.

pub use vedette_model as model;

pub mod aggregate;
pub mod attributes;
pub mod cloudtrail;
pub mod commit;
pub mod criteria;
pub mod detect;
pub mod detector;
pub mod dns;
pub mod envelope;
pub mod finding_types;
pub mod flow;
pub mod geo;
pub mod ids;
pub mod intel;
pub mod inventory;
pub mod occurrence;
pub mod samples;
pub mod scope;
pub mod time;

pub use criteria::{Criteria, Sort};
pub use detector::{Detector, DetectorConfig};
pub use occurrence::{Evidence, Occurrence};
pub use scope::Scope;
