//! Saved filters (GuardDuty's CreateFilter family). ARCHIVE filters are suppression rules,
//! applied by the store to every finding it creates or updates (spec §3.4).

/// Persistence of filters (operations are added by the filters work).
pub trait FilterStore {
    // Every method gets a default body (`Err(StoreError::Backend("... not supported"))`) so that
    // wrapper stores in tests keep compiling; SqliteStore overrides them.
}
