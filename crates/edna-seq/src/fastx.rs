//! FASTA/FASTQ reading (placeholder).
