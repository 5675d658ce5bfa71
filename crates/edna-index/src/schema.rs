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

/// A legacy `dnaSequenceID` digest and the sequence it leads to ([`NONE`] when the published text it
/// digests is not a valid sequence: GBIF still gives it the digest).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Default)]
pub struct LegacyEntry {
    /// MD5 digest.
    pub md5: [u8; 16],
    /// Sequence id, or [`NONE`].
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

/// One occurrence: what is its own. Fields it shares with other occurrences of the same sampling event
/// or the same published name live once in [`OccEvent`] and [`OccName`] (an eDNA dataset publishes
/// hundreds of occurrences per sample), so an occurrence costs 32 bytes plus its `occurrenceID`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Default)]
pub struct OccEntry {
    /// Byte offset of its `occurrenceID` in `OccIds` (the next entry's value ends it).
    pub id_start: u64,
    /// Index into `OccEvents`.
    pub event: u32,
    /// Index into `OccNames`.
    pub name: u32,
    /// First index into `OccDna` (the next entry's value ends the range).
    pub dna_start: u32,
    /// Zero.
    pub _pad: u32,
    /// `organismQuantity` (NaN when absent).
    pub organism_quantity: f64,
}

/// What the occurrences of one sampling event share (deduplicated). Floating-point fields are NaN when
/// absent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Default)]
pub struct OccEvent {
    /// Dataset index (into `IndexMeta::datasets`).
    pub dataset: u32,
    /// Zero.
    pub _pad: u32,
    /// `eventDate`.
    pub event_date: StrRef,
    /// `countryCode`.
    pub country_code: StrRef,
    /// `locality`.
    pub locality: StrRef,
    /// `materialSampleID`.
    pub material_sample_id: StrRef,
    /// `basisOfRecord`.
    pub basis_of_record: StrRef,
    /// `organismQuantityType`.
    pub organism_quantity_type: StrRef,
    /// `sampleSizeUnit`.
    pub sample_size_unit: StrRef,
    /// `decimalLatitude`.
    pub decimal_latitude: f64,
    /// `decimalLongitude`.
    pub decimal_longitude: f64,
    /// `sampleSizeValue`.
    pub sample_size_value: f64,
}

impl OccEvent {
    /// Its strings, for code that checks or re-interns each of them.
    pub fn strings_mut(&mut self) -> [&mut StrRef; 7] {
        [
            &mut self.event_date,
            &mut self.country_code,
            &mut self.locality,
            &mut self.material_sample_id,
            &mut self.basis_of_record,
            &mut self.organism_quantity_type,
            &mut self.sample_size_unit,
        ]
    }

    /// Its strings.
    pub fn strings(mut self) -> [StrRef; 7] {
        self.strings_mut().map(|s| *s)
    }
}

/// A published name as occurrences carry it (deduplicated).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default)]
pub struct OccName {
    /// Taxon of the published lineage, or [`NONE`].
    pub published_taxon: u32,
    /// Zero.
    pub _pad: u32,
    /// Published `scientificName`.
    pub scientific_name: StrRef,
    /// Published `taxonRank`.
    pub taxon_rank: StrRef,
}

/// One DNA-derived-data row of an occurrence.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default)]
pub struct OccDna {
    /// Sequence id, or [`NONE`] when the published sequence is invalid or empty.
    pub seq: u32,
    /// Marker index (into `IndexMeta::markers`), or [`NONE`].
    pub marker: u32,
    /// Index into `OccAssays` (target gene and primers as published).
    pub assay: u32,
    /// Index into `LegacyIds` of the legacy `dnaSequenceID` of the raw published sequence, or [`NONE`].
    pub legacy: u32,
    /// Consensus taxon assigned to the sequence at build time against the reference libraries, or [`NONE`].
    pub assigned_taxon: u32,
}

/// Target gene and primers of DNA rows (deduplicated).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default)]
pub struct OccAssay {
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
}

impl OccAssay {
    /// Its strings, for code that checks or re-interns each of them.
    pub fn strings_mut(&mut self) -> [&mut StrRef; 5] {
        [
            &mut self.target_gene,
            &mut self.pcr_primer_forward,
            &mut self.pcr_primer_reverse,
            &mut self.pcr_primer_name_forward,
            &mut self.pcr_primer_name_reverse,
        ]
    }

    /// Its strings.
    pub fn strings(mut self) -> [StrRef; 5] {
        self.strings_mut().map(|s| *s)
    }
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
        assert_eq!(std::mem::size_of::<OccEntry>(), 32);
        assert_eq!(std::mem::size_of::<OccEvent>(), 88);
        assert_eq!(std::mem::size_of::<OccName>(), 24);
        assert_eq!(std::mem::size_of::<OccDna>(), 20);
        assert_eq!(std::mem::size_of::<OccAssay>(), 40);
    }
}
