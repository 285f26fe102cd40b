//! Findings out of Vedette, from the store's outbox (`vedette_store::export`):
//!
//! * [`event`]: the EventBridge envelope GuardDuty puts around a finding;
//! * [`sink`] and [`pump`]: `vedette serve --export` sinks (JSON-lines file, standard output,
//!   HTTP webhook, S3-compatible bucket), each fed by its own task, at-least-once;
//! * `destinations`: the publisher of GuardDuty publishing destinations (S3).
pub mod destinations;
pub mod event;
pub mod pump;
pub mod sink;

pub use event::{envelope, export_detail};
pub use pump::{PumpConfig, SinkPump};
pub use sink::{Sink, SinkSpec};
