//! Checks an existing store file before anything writes to it: a file that is not SQLite, an
//! SQLite database of some other program, or a damaged Vedette store is refused with a message
//! saying so, and left byte for byte as it was (it is only read, through a read-only
//! connection that never checkpoints or recovers into it).
use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// `PRAGMA quick_check` reads the whole file (~80 MB/s cold on a small VM): stores up to this
/// size are checked page by page at every open; larger ones get the structural checks only.
pub(super) const QUICK_CHECK_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Tables every Vedette schema since version 1 has.
const CORE_TABLES: [&str; 3] = ["schema_version", "detectors", "findings"];

fn refuse(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!(
        "{} is not a usable Vedette store: {why}. It was left untouched; move it away (or choose another --data-dir) to start a new store.",
        path.display()
    ))
}

/// Ok when `path` is absent, empty, an empty SQLite database or a readable Vedette store.
pub(super) fn check_existing(path: &Path) -> Result<()> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Backend(format!("cannot read {}: {e}", path.display()))),
    };
    if len == 0 {
        // What SQLite itself creates before the first write: a new store.
        return Ok(());
    }
    let mut header = [0u8; 100];
    let mut file = std::fs::File::open(path).map_err(|e| StoreError::Backend(format!("cannot read {}: {e}", path.display())))?;
    if len < 100 || file.read_exact(&mut header).is_err() || &header[..16] != SQLITE_MAGIC {
        return Err(refuse(path, "it is not an SQLite database"));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n if n >= 512 && n.is_power_of_two() => n as u64,
        n => return Err(refuse(path, format!("its header is damaged (page size {n})"))),
    };
    // The header's page count is valid when its version-valid-for number matches the change counter.
    let header_pages = u32::from_be_bytes(header[28..32].try_into().unwrap()) as u64;
    // A store stopped mid-checkpoint has page 1 (with the new size) written before the pages that
    // grow the file; its WAL still holds them all, so only a store without one is judged by size.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let has_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if !has_wal && header[92..96] == header[24..28] && header_pages * page_size > len {
        return Err(refuse(path, format!("it is truncated ({len} bytes, its header says {})", header_pages * page_size)));
    }

    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| refuse(path, format!("SQLite cannot open it ({e})")))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| refuse(path, format!("its schema cannot be read ({e})")))?;
    if tables.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = CORE_TABLES.iter().copied().filter(|t| !tables.iter().any(|n| n == t)).collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = tables.iter().map(String::as_str).take(8).collect();
        let more = if tables.len() > shown.len() { ", ..." } else { "" };
        return Err(refuse(
            path,
            format!("it is an SQLite database of another program (tables: {}{more}; no {})", shown.join(", "), missing.join(", ")),
        ));
    }
    let version: std::result::Result<i64, _> = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0));
    match version {
        Ok(v) if v >= 1 => {}
        Ok(v) => return Err(refuse(path, format!("its schema_version table holds no Vedette version ({v})"))),
        Err(e) => return Err(refuse(path, format!("its schema_version table cannot be read ({e})"))),
    }
    if len <= QUICK_CHECK_MAX_BYTES {
        let problems: Vec<String> = conn
            .prepare("PRAGMA quick_check(5)")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| refuse(path, format!("it is damaged ({e})")))?;
        if problems.first().is_none_or(|p| p != "ok") {
            return Err(refuse(path, format!("it is damaged ({})", problems.join("; "))));
        }
    }
    Ok(())
}
