//! DNA sequences for edna-search: GBIF normalisation and hashes, 2-bit packing, k-mers and minimizers,
//! and a FASTA/FASTQ reader that names file and line in its errors.

#![warn(missing_docs)]

pub mod fastx;
pub mod kmer;
pub mod normalize;
pub mod pack;
