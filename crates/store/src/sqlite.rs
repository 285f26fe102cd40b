//! The embedded SQLite store (WAL, synchronous=FULL: an acknowledged write survives a crash).
pub struct SqliteStore {}
