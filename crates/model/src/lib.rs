//! GuardDuty's wire shapes, generated from botocore's `service-2.json` (see `tools/gen_model.py`).
//! Every field is optional on the Rust side; absent fields are omitted on the wire, never `null`.

mod generated;
pub mod validate;

pub use generated::*;
pub use validate::{Validate, Violation, Violations};
