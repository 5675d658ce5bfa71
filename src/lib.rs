//! edna-search: find where a DNA sequence has been found and what it is.
//!
//! # Layout
//! - [`search`]: the blocking search engine shared by the CLI and (later) the HTTP service: exact lookup,
//!   seeded candidates, lossless filtering, vsearch-compatible alignment, taxon assignment.
//! - [`output`]: result writers (blast6, tsv, JSON lines, SAM); [`bam`] encodes the SAM into BAM.
//! - [`batch`]: streaming batch search over FASTA/FASTQ files in bounded memory, output in input order.
//! - [`http`]: the HTTP service over the same engine.
//! - [`build_assign`]: build-time taxon assignment of occurrence sequences with the engine.
//! - [`defaults`]: the embedded default index built from the data bundled in the repository.
//! - [`merge`]: merges the search outputs of index shards into the answer of the whole index.
//!
//! The index format lives in `edna-index`, ingestion in `edna-index-builder`, alignment in `edna-align`.

#![warn(missing_docs)]

pub mod bam;
pub mod batch;
pub mod build_assign;
pub mod build_file;
pub mod defaults;
pub mod http;
pub mod merge;
pub mod output;
pub mod search;
