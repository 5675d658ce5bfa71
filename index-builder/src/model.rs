//! Records the readers produce and the build consumes.
//!
//! Readers (reference libraries, Darwin Core Archives) turn files into these plain records; they
//! never normalise sequences or assign ids in the index: that is the build's job.

use std::fmt;
use std::path::PathBuf;

/// A place in an input file, for messages that name file and line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourcePos {
    /// File (or `archive.zip!/member`) the record came from.
    pub file: String,
    /// 1-based line number (0 when unknown).
    pub line: u64,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{}", self.file)
        }
    }
}

/// One taxon name at a rank, as published (rank names are lower case: `kingdom`, `phylum`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RankedName {
    /// Lower-case rank name (`domain`, `kingdom`, `phylum`, `class`, `order`, `family`, `genus`, `species`, or
    /// `rank1`.. when the source does not say).
    pub rank: String,
    /// The name at that rank, cleaned of prefixes like `k__` and with `_` between words turned into spaces.
    pub name: String,
}

/// A barcode from a reference library.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferenceRecord {
    /// Stable id of the record within its library (header id, or generated `LIB:000123` when missing or
    /// duplicated).
    pub id: String,
    /// The sequence as read (not normalised).
    pub sequence: Vec<u8>,
    /// Lineage from the top rank down to the most specific name known (may be empty).
    pub lineage: Vec<RankedName>,
    /// blast-ws `name`: third `|` field of UNITE/BOLD headers (SH code, BIN); else the scientific name.
    pub name: Option<String>,
    /// GenBank/UNITE/BOLD accession when the header or table has one.
    pub accession: Option<String>,
    /// Where the record starts.
    pub pos: SourcePos,
}

/// Header style of a reference FASTA, auto-detected or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// `name|accession|SH|type|k__…;p__…;s__…` (UNITE / blast-ws).
    Unite,
    /// `id;tax=d:…,p:…,s:…;` (SINTAX / USEARCH).
    Sintax,
    /// The header is the lineage `Kingdom;Phylum;…;Species` (DADA2 `assignTaxonomy` training set).
    Dada2,
    /// Bare id; taxonomy from a side table `Feature ID<TAB>Taxon` (QIIME 2) or PR2 export.
    IdWithTable,
    /// `id|BIN|…` (BOLD-like).
    Bold,
    /// `id<TAB>description<TAB>…<TAB>lineage` (RDP / microbiomeutil).
    RdpTab,
    /// `Lineage;…;Species (ACCESSION)` (ScandiFish-like: DADA2 lineage with a trailing accession).
    LineageAccession,
}

/// What a reference library is and where it came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LibraryMeta {
    /// Short name, e.g. `12S_mitohelper`.
    pub name: String,
    /// Marker / target gene, e.g. `12S`, `ITS1`, `COI`, `16S`, `18S`.
    pub marker: String,
    /// Version when known (from metadata.yaml or the file name).
    pub version: Option<String>,
    /// Title (metadata.yaml `title`).
    pub title: Option<String>,
    /// Licence when known.
    pub licence: Option<String>,
    /// Input files.
    pub files: Vec<PathBuf>,
}

/// A dataset (one Darwin Core Archive, table folder or FASTA download).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetMeta {
    /// Stable key: eml `alternateIdentifier`/packageId when present, else the path relative to the input root.
    pub key: String,
    /// Title (eml.xml `dataset/title`), else the folder or file name.
    pub title: String,
    /// Licence URL or name when known (eml `intellectualRights`, or a `license` column all rows share).
    pub licence: Option<String>,
    /// Where it was read from.
    pub path: PathBuf,
}

/// One DNA-derived-data row of an occurrence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DnaRow {
    /// `DNA_sequence` as published (not normalised).
    pub sequence: String,
    /// `target_gene` (MIxS 0000044).
    pub target_gene: Option<String>,
    /// `target_subfragment` (MIxS 0000045).
    pub target_subfragment: Option<String>,
    /// `pcr_primer_forward`.
    pub pcr_primer_forward: Option<String>,
    /// `pcr_primer_reverse`.
    pub pcr_primer_reverse: Option<String>,
    /// `pcr_primer_name_forward`.
    pub pcr_primer_name_forward: Option<String>,
    /// `pcr_primer_name_reverse`.
    pub pcr_primer_name_reverse: Option<String>,
    /// Where the row was read.
    pub pos: SourcePos,
}

/// An occurrence with its DNA rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OccurrenceRecord {
    /// `occurrenceID` (or the core id / gbifID when that is all there is).
    pub occurrence_id: String,
    /// `eventDate` verbatim (ISO 8601 date or interval).
    pub event_date: Option<String>,
    /// `decimalLatitude`.
    pub decimal_latitude: Option<f64>,
    /// `decimalLongitude`.
    pub decimal_longitude: Option<f64>,
    /// `countryCode` (ISO 3166-1 alpha-2).
    pub country_code: Option<String>,
    /// `locality`.
    pub locality: Option<String>,
    /// `organismQuantity`.
    pub organism_quantity: Option<f64>,
    /// `organismQuantityType`.
    pub organism_quantity_type: Option<String>,
    /// `sampleSizeValue`.
    pub sample_size_value: Option<f64>,
    /// `sampleSizeUnit`.
    pub sample_size_unit: Option<String>,
    /// `materialSampleID`.
    pub material_sample_id: Option<String>,
    /// `basisOfRecord`.
    pub basis_of_record: Option<String>,
    /// Published `scientificName`.
    pub scientific_name: Option<String>,
    /// Published `taxonRank`.
    pub taxon_rank: Option<String>,
    /// Published lineage (`kingdom` … `genus`, plus `species` when given), top down, empty ranks left out.
    pub lineage: Vec<RankedName>,
    /// DNA rows linked to this occurrence (at least one).
    pub dna: Vec<DnaRow>,
    /// Where the core row was read (or the DNA row, for DNA-only tables).
    pub pos: SourcePos,
}

/// A problem with one record or row: it is counted and reported, and the build goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// Where.
    pub pos: SourcePos,
    /// Short stable reason code, e.g. `missing-taxonomy`, `duplicate-id`, `empty-sequence`, `csv-quoting`.
    pub reason: &'static str,
    /// Human-readable detail.
    pub message: String,
}
