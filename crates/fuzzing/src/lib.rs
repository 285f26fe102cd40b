//! Fuzz target bodies: one `pub fn <target>(data: &[u8])` per parser that takes outside input.
//!
//! The cargo-fuzz binaries in `fuzz/` call these, and `tests/replay.rs` runs every committed
//! corpus and crash reproducer (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) through
//! them in the normal `cargo test`, so a fixed crash stays fixed without a nightly toolchain.
//!
//! A target must never panic on any input. Besides "does not crash", each checks properties that
//! must hold whatever the input (documented on the target); a broken property panics, which the
//! fuzzer reports as a crash.
mod cloudtrail;
mod criteria;
mod dns;
mod fixtures;
mod flow;
mod intel;
mod rest;
mod sigv4;

pub use cloudtrail::cloudtrail;
pub use criteria::criteria;
pub use dns::dns_log;
pub use flow::flow_log;
pub use intel::intel_list;
pub use rest::{rest_body, rest_uri};
pub use sigv4::sigv4;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target by the name its fuzz binary, corpus and regression directories carry.
pub const TARGETS: &[(&str, Target)] = &[
    ("cloudtrail", cloudtrail),
    ("criteria", criteria),
    ("rest_body", rest_body),
    ("rest_uri", rest_uri),
    ("sigv4", sigv4),
    ("intel_list", intel_list),
    ("flow_log", flow_log),
    ("dns_log", dns_log),
];
