//! The detection engine: log records in, finding occurrences out.
