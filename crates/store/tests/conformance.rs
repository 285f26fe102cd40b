//! The store conformance suite: what every `Store` backend must do, as examples and properties
//! (listing against the in-memory reference evaluator, pagination under concurrent inserts,
//! exactly-once progress). Every test gets its stores from the harness in `common`, so the whole
//! suite runs against the backend `VEDETTE_TEST_STORE` names (default `sqlite`):
//! `VEDETTE_TEST_STORE=sqlite cargo test -p vedette-store --test conformance`.
mod common;

mod conformance {
    mod commit;
    mod concurrent_writes;
    mod criteria_prop;
    mod destinations;
    mod detectors;
    mod filters;
    mod findings;
    mod harness;
    mod lists;
    mod outbox;
    mod pagination_prop;
    mod retention;
    mod state;
}
