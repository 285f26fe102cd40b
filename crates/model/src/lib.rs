//! GuardDuty's wire shapes, generated from botocore's `service-2.json` (see `tools/gen_model.py`).
//! Every field is optional on the Rust side; absent fields are omitted on the wire, never `null`.
//!
//! Every operation of the model is in [`OPERATIONS`] and [`for_each_operation!`], and its input type
//! implements [`Operation`]: a request becomes an input with [`Operation::bind`], then
//! [`Validate::violations`] checks the model's constraints.
//!
//! ```
//! // A table built from the model, one entry per operation, with no list of its own.
//! macro_rules! names {
//!     ($(($name:ident, $method:ident, $input:ty, $output:ty)),* $(,)?) => {
//!         [$((stringify!($name), <$input as vedette_model::Operation>::SPEC.name)),*]
//!     };
//! }
//! let names = vedette_model::for_each_operation!(names);
//! assert_eq!(names.len(), vedette_model::OPERATIONS.len());
//! assert!(names.iter().all(|(listed, spec)| listed == spec));
//! ```

pub mod bind;
mod generated;
pub mod validate;

pub use bind::BindError;
pub use generated::*;
pub use validate::{Validate, Violation, Violations};

/// One operation as the model declares it (the router's table is [`OPERATIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationSpec {
    pub name: &'static str,
    pub method: &'static str,
    /// The URI template, labels in braces: `/detector/{DetectorId}/findings`.
    pub request_uri: &'static str,
    /// The status of a successful answer (200, or 204 / 202 where the model says so).
    pub response_code: u16,
}

/// An operation's input type: how a REST-JSON request binds to it, and what the operation answers.
/// Implemented (generated) for the input of every operation of the model; an operation the model
/// declares without input has an empty input struct.
pub trait Operation: Sized + Default + Validate {
    /// This operation's entry of [`OPERATIONS`].
    const SPEC: &'static OperationSpec;
    /// The output shape; `()` for an operation without one (its answer has an empty body).
    type Output: serde::Serialize;
    /// Binds the request: the JSON body into the members without a location (an empty body is `{}`;
    /// the body is not read at all when the input has no such member), then the members bound to a URI
    /// label (by the label's name in [`OperationSpec::request_uri`], already percent-decoded by the
    /// caller) and to the query string (decoded pairs in request order; typed, see [`bind`]).
    /// Constraints are not checked here: [`Validate::violations`] does that next.
    fn bind(labels: &[(&str, String)], query: &[(String, String)], body: &[u8]) -> Result<Self, BindError>;
}

#[cfg(test)]
mod tests;
