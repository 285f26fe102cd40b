//! VPC flow logs (spec §4.3, §6.2): records, and the findings they raise about EC2 instances.
pub mod record;

pub use record::{FlowAction, FlowDirection, FlowError, FlowField, FlowLayout, FlowLine, FlowReader, FlowRecord, LogStatus, ReadLine};
