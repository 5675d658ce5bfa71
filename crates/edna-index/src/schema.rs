//! Fixed-width records stored in sections. Every struct is `#[repr(C)]`, has no padding bytes that
//! could leak uninitialised memory (explicit `_pad` fields instead), and is read in place with
//! `bytemuck::try_cast_slice`.

use bytemuck::{Pod, Zeroable};

/// "No value" for `u32` ids (missing taxon, invalid sequence).
pub const NONE: u32 = u32::MAX;

/// A string in the [`crate::format::SectionKind::Strings`] heap.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default)]
pub struct StrRef {
    /// Byte offset in the heap.
    pub offset: u32,
    /// Length in bytes (0 = empty / absent).
    pub len: u32,
}

/// Where a sequence's bases are.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct SeqEntry {
    /// Byte offset of the first packed base in `SeqPacked`.
    pub packed_offset: u64,
    /// Length in bases.
    pub len: u32,
    /// First index in `SeqExceptions` (the next entry's value ends the range).
    pub exc_start: u32,
}

/// A non-ACGT symbol inside a sequence.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct Exception {
    /// Position within the sequence.
    pub pos: u32,
    /// The IUPAC symbol (ASCII).
    pub symbol: u8,
    /// Zero.
    pub _pad: [u8; 3],
}

/// A legacy `dnaSequenceID` digest and the sequence it leads to.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct LegacyEntry {
    /// MD5 digest.
    pub md5: [u8; 16],
    /// Sequence id.
    pub seq: u32,
}

/// One reference-library record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct RefEntry {
    /// Sequence id.
    pub seq: u32,
    /// Taxon id or [`NONE`].
    pub taxon: u32,
    /// Library index (into `IndexMeta::libraries`).
    pub library: u32,
    /// Record id in its library.
    pub id: StrRef,
    /// blast-ws `name` (SH code, BIN, or the scientific name).
    pub name: StrRef,
    /// Accession.
    pub accession: StrRef,
}

/// One taxon (deduplicated by its full lineage path).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct TaxonEntry {
    /// Parent taxon id or [`NONE`] for a root.
    pub parent: u32,
    /// 0 for roots.
    pub depth: u32,
    /// Rank name (lower case).
    pub rank: StrRef,
    /// Name.
    pub name: StrRef,
}

/// One occurrence. Floating-point fields are NaN when absent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Default)]
pub struct OccEntry {
    /// Dataset index (into `IndexMeta::datasets`).
    pub dataset: u32,
    /// Taxon of the published lineage, or [`NONE`].
    pub published_taxon: u32,
    /// First index into `OccDna` (the next entry's value ends the range).
    pub dna_start: u32,
    /// Zero.
    pub _pad: u32,
    /// `occurrenceID`.
    pub occurrence_id: StrRef,
    /// `eventDate`.
    pub event_date: StrRef,
    /// `countryCode`.
    pub country_code: StrRef,
    /// `locality`.
    pub locality: StrRef,
    /// Published `scientificName`.
    pub scientific_name: StrRef,
    /// Published `taxonRank`.
    pub taxon_rank: StrRef,
    /// `organismQuantityType`.
    pub organism_quantity_type: StrRef,
    /// `sampleSizeUnit`.
    pub sample_size_unit: StrRef,
    /// `materialSampleID`.
    pub material_sample_id: StrRef,
    /// `basisOfRecord`.
    pub basis_of_record: StrRef,
    /// `decimalLatitude`.
    pub decimal_latitude: f64,
    /// `decimalLongitude`.
    pub decimal_longitude: f64,
    /// `organismQuantity`.
    pub organism_quantity: f64,
    /// `sampleSizeValue`.
    pub sample_size_value: f64,
}

/// One DNA-derived-data row of an occurrence.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct OccDna {
    /// Sequence id, or [`NONE`] when the published sequence is invalid or empty.
    pub seq: u32,
    /// Marker index (into `IndexMeta::markers`), or [`NONE`].
    pub marker: u32,
    /// `target_gene` as published.
    pub target_gene: StrRef,
    /// `pcr_primer_forward`.
    pub pcr_primer_forward: StrRef,
    /// `pcr_primer_reverse`.
    pub pcr_primer_reverse: StrRef,
    /// `pcr_primer_name_forward`.
    pub pcr_primer_name_forward: StrRef,
    /// `pcr_primer_name_reverse`.
    pub pcr_primer_name_reverse: StrRef,
    /// Legacy `dnaSequenceID` digest of the raw published sequence (all zero when empty).
    pub legacy_md5: [u8; 16],
    /// Consensus taxon assigned to the sequence at build time against the reference libraries, or [`NONE`].
    pub assigned_taxon: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    // Sizes are part of the format: a change here must bump FORMAT_VERSION.
    #[test]
    fn record_sizes_are_stable() {
        assert_eq!(std::mem::size_of::<StrRef>(), 8);
        assert_eq!(std::mem::size_of::<SeqEntry>(), 16);
        assert_eq!(std::mem::size_of::<Exception>(), 8);
        assert_eq!(std::mem::size_of::<LegacyEntry>(), 20);
        assert_eq!(std::mem::size_of::<RefEntry>(), 36);
        assert_eq!(std::mem::size_of::<TaxonEntry>(), 24);
        assert_eq!(std::mem::size_of::<OccEntry>(), 128);
        assert_eq!(std::mem::size_of::<OccDna>(), 68);
    }
}
