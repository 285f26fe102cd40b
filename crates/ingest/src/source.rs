//! What the pipeline reads: a [`Source`] is one object of log records (a file, standard input),
//! known to the store by a stable key. The pipeline never asks what kind of source it holds.
//!
//! How further kinds fit, without changing the pipeline:
//!
//! * An S3 object: its key is `s3://bucket/key` plus its version id (or ETag when the bucket is not
//!   versioned), all known from the listing or notification that named it, so [`Source::identify`]
//!   does no I/O; its size is the listed size; [`Source::open`] issues a GetObject and returns the
//!   streaming body behind a blocking `Read` (the workers are threads: the body's reads wait on a
//!   runtime handle); [`Source::location`] is the object key (`AWSLogs/<account>/vpcflowlogs/<region>/…`
//!   names the Region of flow records as a file path does); [`Source::can_grow`] is false (an
//!   object is immutable: a rewrite has a new version, hence a new key). A GetObject that fails is
//!   a "cannot read" problem and the object is tried again on the next run, as an unreadable file is.
//! * An object an SQS notification names: an S3 object source that also holds the message's
//!   receipt handle; [`Source::settled`] deletes the message once the object is
//!   [`Settled::Complete`] (or [`Settled::Elsewhere`]: another process has it), and leaves it to be
//!   delivered again otherwise (stopped part way, unreadable).
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::IngestError;
use crate::discover::SourceInput;

/// One object of log records, as the pipeline sees it. Implementations are shared by the worker
/// threads (one reads it, the writer reports on it).
pub trait Source: Send + Sync {
    /// How problems, evidence and [`crate::Summary::sources_ingested_elsewhere`] name it.
    fn name(&self) -> String;

    /// Bytes the progress bar counts for it, when known before reading (None: not metered).
    fn size_hint(&self) -> Option<u64>;

    /// Where the object sits in a log delivery layout (a file's path; an S3 object's key), from
    /// which the Region of records that carry none is taken.
    fn location(&self) -> Option<&Path>;

    /// Whether the object may be appended to under the same key (a file: a JSON-lines log read on
    /// from where an earlier run stopped, or one still being written in watch mode). An object
    /// whose key names its content (stdin's hash, an S3 version) never grows.
    fn can_grow(&self) -> bool;

    /// The key of its progress records and its current size. An error stops the run: a source
    /// that cannot be named cannot be recorded as read either.
    fn identify(&self) -> Result<Identity, IngestError>;

    /// Its raw bytes from the beginning (gzip is recognised by the reader, not here). The reader
    /// skips the records that every detector has already analysed: record positions count
    /// records, not bytes, so no source is asked to seek. An error is reported as a problem of
    /// the source, which is tried again on the next run.
    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>>;

    /// Told by the writer once the store holds the source's outcome for this run.
    fn settled(&self, _outcome: Settled) {}
}

/// What names a source in the store, and how big it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The key of the source's progress record (detectors' records derive from it).
    pub key: String,
    /// Compared with the size an earlier run recorded: a completed source that changed size is
    /// read on (when it can grow and is JSON lines) or reported.
    pub size: u64,
}

/// How a source's run ended, once committed (see [`Source::settled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every record is committed for every detector it concerns (now or by earlier runs).
    Complete,
    /// Committed up to some record; a later run reads on (stopped, or ends inside a record).
    Partial,
    /// Could not be read; nothing recorded.
    Unreadable,
    /// Another process committed progress on it first; this run wrote nothing more of it.
    Elsewhere,
}

/// A file found by [`crate::discover()`]: keyed by its canonical path.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    /// As listed when discovered.
    pub size: u64,
}

impl Source for FileSource {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.size)
    }

    fn location(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn can_grow(&self) -> bool {
        true
    }

    fn identify(&self) -> Result<Identity, IngestError> {
        Ok(Identity { key: format!("file:{}", self.path.display()), size: self.size })
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::fs::File::open(&self.path)?))
    }
}

/// Standard input: read whole when identified (its key is a hash of the content, so the same
/// input piped again is recognised), then read from memory.
#[derive(Debug, Default)]
pub struct StdinSource {
    content: OnceLock<Vec<u8>>,
}

impl Source for StdinSource {
    fn name(&self) -> String {
        "stdin".into()
    }

    fn size_hint(&self) -> Option<u64> {
        None
    }

    fn location(&self) -> Option<&Path> {
        None
    }

    fn can_grow(&self) -> bool {
        false
    }

    fn identify(&self) -> Result<Identity, IngestError> {
        let content = match self.content.get() {
            Some(content) => content,
            None => {
                let mut content = Vec::new();
                io::stdin().lock().read_to_end(&mut content).map_err(IngestError::Stdin)?;
                self.content.get_or_init(|| content)
            }
        };
        Ok(Identity { key: format!("stdin:sha256:{}", hex::encode(Sha256::digest(content))), size: content.len() as u64 })
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        match self.content.get() {
            Some(content) => Ok(Box::new(content.as_slice())),
            None => Err(io::Error::other("standard input was not read before being opened")),
        }
    }
}

/// The source a discovered input is.
pub fn of_input(input: SourceInput) -> Box<dyn Source> {
    match input {
        SourceInput::File { path, size } => Box::new(FileSource { path, size }),
        SourceInput::Stdin => Box::new(StdinSource::default()),
    }
}
