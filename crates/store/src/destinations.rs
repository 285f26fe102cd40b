//! Publishing destinations (CreatePublishingDestination family): where a detector's findings are
//! exported, and whether publishing there works.

/// Persistence of publishing destinations (operations are added by the destinations work).
pub trait DestinationStore {
    // Every method gets a default body (`Err(StoreError::Backend("... not supported"))`) so that
    // wrapper stores in tests keep compiling; SqliteStore overrides them.
}
