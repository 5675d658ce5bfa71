//! The edna-search index format: one crate owns the bytes.
//!
//! An index is a directory holding `index.edna`, a single little-endian file of 64-byte-aligned sections
//! behind a fixed header and a section table (layout in [`format`](mod@format), and in ARCHITECTURE.md). The
//! [`writer`] streams sections to a temporary file and publishes the directory atomically; the
//! [`reader`] memory-maps the file and hands out typed slices without copying or deserialising the big
//! sections, so opening costs a few header checks; [`Index::verify`] checks every checksum and
//! cross-reference.
//!
//! # Layout
//! - [`format`](mod@format): magic, version, header and section-table structs, section kinds.
//! - [`schema`]: the fixed-width records stored in sections (sequences, references, taxa, occurrences).
//! - [`writer`]: `IndexWriter` (sections → temp file → fsync → rename).
//! - [`reader`]: `IndexFile` (mmap + header checks) and [`Index`] (typed, validated accessors).
//! - [`meta`]: the small JSON metadata section (build parameters, libraries, datasets, counts).

#![warn(missing_docs)]

pub mod error;
pub mod format;
pub mod meta;
pub mod reader;
pub mod schema;
mod verify;
pub mod writer;

pub use error::IndexError;
pub use meta::IndexMeta;
pub use reader::{Index, IndexFile, Postings, Sequences};
pub use writer::IndexWriter;

/// Name of the index file inside an index directory.
pub const INDEX_FILE_NAME: &str = "index.edna";
