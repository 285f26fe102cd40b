//! VPC flow logs (docs/findings.md#vpc-flow-types, docs/logs.md#vpc-flow-logs): records, and the findings they raise about EC2 instances.
mod bounded;
pub mod connection;
pub mod detect;
pub mod heuristics;
pub mod hit;
pub mod record;
pub mod state;

pub use detect::{FlowContext, detect};
pub use record::{FlowAction, FlowDirection, FlowError, FlowField, FlowLayout, FlowLine, FlowReader, FlowRecord, LogStatus, ReadLine};
pub use state::FlowState;
