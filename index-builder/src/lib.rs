//! Ingestion for edna-search: reference libraries and Darwin Core Archives in, index out.
//!
//! # Layout
//! - [`model`]: the plain records readers produce.
//! - [`reference`](mod@reference): reference-library readers (FASTA header styles, side taxonomy tables, GBIF refdb packages).
//! - [`dwca`]: Darwin Core Archive readers (meta.xml, zip, tables, DNA-derived-data extension).

#![warn(missing_docs)]

pub mod build;
pub mod dwca;
pub mod model;
pub mod reference;
