//! Errors of the index format.

use std::path::PathBuf;

/// Why an index could not be written, opened or verified. Messages say what to do where they can.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// I/O on the index file.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file does not start with the edna-search magic bytes.
    #[error("{path}: not an edna-search index (bad magic bytes)")]
    BadMagic {
        /// File concerned.
        path: PathBuf,
    },
    /// Written on a machine of the other byte order, or corrupted.
    #[error("{path}: byte-order mark {found:#x} is not 0xfeff (foreign or corrupted index)")]
    BadEndian {
        /// File concerned.
        path: PathBuf,
        /// Mark found.
        found: u32,
    },
    /// Format version this build cannot read.
    #[error("{path}: index format version {found} is not supported (this build reads {oldest}..={newest}); rebuild the index with this version of edna-search")]
    Version {
        /// File concerned.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Oldest readable.
        oldest: u32,
        /// Newest readable.
        newest: u32,
    },
    /// The file is shorter or longer than its header says, or a section lies outside it.
    #[error("{path}: index is truncated or corrupted: {detail}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A section's checksum does not match (found by `verify`).
    #[error("{path}: checksum mismatch in section {section}")]
    Checksum {
        /// File concerned.
        path: PathBuf,
        /// Section name.
        section: &'static str,
    },
    /// A required section is missing.
    #[error("{path}: section {section} is missing")]
    MissingSection {
        /// File concerned.
        path: PathBuf,
        /// Section name.
        section: &'static str,
    },
    /// The metadata section is not valid JSON of the expected shape.
    #[error("{path}: metadata section is unreadable: {detail}")]
    Meta {
        /// File concerned.
        path: PathBuf,
        /// Parser message.
        detail: String,
    },
}

impl IndexError {
    pub(crate) fn corrupt(path: &std::path::Path, detail: impl Into<String>) -> Self {
        IndexError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
