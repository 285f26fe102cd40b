//! The export outbox: every finding change that must reach the sinks (EventBridge-style events,
//! publishing destinations) is recorded in the same transaction as the change itself, so a
//! crash or a sink that is down loses nothing (spec §1.2, §3.1).

/// Persistence of the outbox and of sink cursors (operations are added by the export work).
pub trait ExportStore {
    // Every method gets a default body (`Err(StoreError::Backend("... not supported"))`) so that
    // wrapper stores in tests keep compiling; SqliteStore overrides them.
}
