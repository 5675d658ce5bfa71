//! Fatal errors of the Darwin Core Archive readers.

use std::io;

use crate::model::SourcePos;

/// A problem with the structure of an archive: reading stops.
///
/// Problems with single rows are [`crate::model::Warning`]s instead. Every message names the file (and the
/// line when there is one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DwcaError {
    /// The file is not a zip archive (or the zip is corrupt).
    #[error("{path}: not a zip archive: {reason}")]
    NotZip {
        /// The file.
        path: String,
        /// What the zip reader said.
        reason: String,
    },
    /// A zip entry name is absolute or climbs out of the archive with `..`.
    #[error("{archive}: zip entry `{entry}` has an absolute or `..` path; refused")]
    PathTraversal {
        /// The zip file.
        archive: String,
        /// The offending entry name.
        entry: String,
    },
    /// A zip-bomb guard tripped (entry count, total uncompressed size or compression ratio).
    #[error("{file}: {what} {actual} exceeds the limit {limit} (possible zip bomb)")]
    LimitExceeded {
        /// The archive or member.
        file: String,
        /// Which limit.
        what: &'static str,
        /// The value found.
        actual: u64,
        /// The configured limit.
        limit: u64,
    },
    /// meta.xml cannot be parsed or says something impossible.
    #[error("{pos}: malformed meta.xml: {reason}")]
    MetaXml {
        /// meta.xml (and line when known).
        pos: SourcePos,
        /// What is wrong.
        reason: String,
    },
    /// meta.xml names a data file the archive does not have.
    #[error("{meta}: {role} file `{location}` is missing")]
    MissingFile {
        /// meta.xml.
        meta: String,
        /// `core`, `DNA extension`, ...
        role: &'static str,
        /// The `<location>` as written.
        location: String,
    },
    /// meta.xml maps a column the data file does not have.
    #[error("{pos}: meta.xml maps column index {index} ({term}) but the row has {columns} columns")]
    ColumnOutOfRange {
        /// Data file and line.
        pos: SourcePos,
        /// The index from meta.xml.
        index: usize,
        /// The term (or `id`/`coreid`).
        term: String,
        /// Columns found.
        columns: usize,
    },
    /// Nothing readable: no meta.xml archive, no occurrence or DNA table, no GBIF FASTA.
    #[error("{path}: no occurrence or DNA table found{detail}")]
    NoTable {
        /// The path given or the archive.
        path: String,
        /// Extra explanation (starts with `: ` when present).
        detail: String,
    },
    /// A gzip stream ends before its end marker.
    #[error("{pos}: truncated gzip stream")]
    TruncatedGzip {
        /// File and the line being read.
        pos: SourcePos,
    },
    /// Reading failed.
    #[error("{pos}: {source}")]
    Io {
        /// File and the line being read.
        pos: SourcePos,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Raised inside a reader when a decompression guard trips; turned back into
/// [`DwcaError::LimitExceeded`] by [`DwcaError::from_io`].
#[derive(Debug)]
pub(crate) struct LimitHit {
    pub(crate) what: &'static str,
    pub(crate) actual: u64,
    pub(crate) limit: u64,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} exceeds the limit {}", self.what, self.actual, self.limit)
    }
}

impl std::error::Error for LimitHit {}

impl DwcaError {
    /// Classify an I/O error met while reading `file` at `line`: guard trips and truncated gzip streams get
    /// their own variants.
    pub(crate) fn from_io(err: io::Error, file: &str, line: u64, gz: bool) -> DwcaError {
        if let Some(hit) = err.get_ref().and_then(|e| e.downcast_ref::<LimitHit>()) {
            return DwcaError::LimitExceeded {
                file: file.to_string(),
                what: hit.what,
                actual: hit.actual,
                limit: hit.limit,
            };
        }
        let pos = SourcePos {
            file: file.to_string(),
            line,
        };
        if gz && err.kind() == io::ErrorKind::UnexpectedEof {
            return DwcaError::TruncatedGzip { pos };
        }
        DwcaError::Io { pos, source: err }
    }

    /// An I/O error on a file as a whole (opening, listing).
    pub(crate) fn io(err: io::Error, file: impl Into<String>) -> DwcaError {
        let file = file.into();
        DwcaError::from_io(err, &file, 0, false)
    }
}
