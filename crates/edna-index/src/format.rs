//! Byte layout of `index.edna`.
//!
//! ```text
//! offset  size  field
//! 0       8     magic            b"EDNAIDX\0"
//! 8       4     endian mark      0x0000FEFF (u32 LE; reads 0xFFFE0000 on a foreign byte order)
//! 12      4     format version   FORMAT_VERSION (u32 LE)
//! 16      4     n_sections       u32 LE
//! 20      4     flags            0
//! 24      8     file_len         u64 LE, total bytes of the file
//! 32      8     table checksum   xxh3-64 of bytes 0..32 and of the section table
//! 40      24    reserved         zero
//! 64      32·n  section table    n × SectionEntry { kind u32, elem_size u32, offset u64, len u64, xxh3 u64 }
//! ...           sections         each starts at a multiple of 64, zero padded between sections
//! ```
//! All integers are little-endian; sections are arrays of fixed-width `#[repr(C)]` records read in place
//! through the memory map (see [`crate::schema`]). A reader accepts versions
//! `OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION`; any change to the bytes bumps `FORMAT_VERSION`.

use bytemuck::{Pod, Zeroable};

/// First eight bytes of every index file.
pub const MAGIC: [u8; 8] = *b"EDNAIDX\0";
/// Byte-order mark as written on a little-endian machine.
pub const ENDIAN_MARK: u32 = 0xFEFF;
/// Version written by this build.
pub const FORMAT_VERSION: u32 = 3;
/// Oldest version this build reads.
pub const OLDEST_SUPPORTED_VERSION: u32 = 3;
/// Alignment of every section start.
pub const SECTION_ALIGN: u64 = 64;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 64;

/// The fixed header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`ENDIAN_MARK`].
    pub endian: u32,
    /// Format version.
    pub version: u32,
    /// Number of entries in the section table.
    pub n_sections: u32,
    /// Reserved flags (0).
    pub flags: u32,
    /// Total file length in bytes.
    pub file_len: u64,
    /// xxh3-64 over header bytes 0..32 and the section table.
    pub table_checksum: u64,
    /// Zero.
    pub reserved: [u8; 24],
}

/// One entry of the section table.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct SectionEntry {
    /// [`SectionKind`] as u32.
    pub kind: u32,
    /// Size of one element (1 for byte sections).
    pub elem_size: u32,
    /// Offset from the start of the file (multiple of [`SECTION_ALIGN`]).
    pub offset: u64,
    /// Length in bytes (a multiple of `elem_size`).
    pub len: u64,
    /// xxh3-64 of the section bytes.
    pub checksum: u64,
}

/// Size of a section-table entry.
pub const SECTION_ENTRY_LEN: usize = std::mem::size_of::<SectionEntry>();

macro_rules! section_kinds {
    ($($(#[$doc:meta])* $name:ident = $v:expr,)*) => {
        /// What a section holds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum SectionKind { $($(#[$doc])* $name = $v,)* }
        impl SectionKind {
            /// Every kind, in table order.
            pub const ALL: &'static [SectionKind] = &[$(SectionKind::$name,)*];
            /// The kind for a table value.
            pub fn from_u32(v: u32) -> Option<Self> { match v { $($v => Some(SectionKind::$name),)* _ => None } }
            /// Name for messages.
            pub fn name(self) -> &'static str { match self { $(SectionKind::$name => stringify!($name),)* } }
        }
    };
}

section_kinds! {
    /// JSON [`crate::IndexMeta`].
    Meta = 1,
    /// String heap (UTF-8), addressed by [`crate::schema::StrRef`].
    Strings = 2,
    /// `SeqEntry[n_seqs + 1]` (last one is a sentinel).
    SeqEntries = 10,
    /// 2-bit packed bases of all sequences.
    SeqPacked = 11,
    /// `Exception[]`: non-ACGT symbols.
    SeqExceptions = 12,
    /// `[u8; 16][n_seqs]`: nucleotideSequenceID digest of each sequence (by sequence id).
    SeqMd5 = 13,
    /// `LegacyEntry[]` sorted by digest: legacy dnaSequenceID → sequence.
    LegacyIds = 14,
    /// `u32[n_seqs + 1]` CSR offsets into `SeqRefIds`.
    SeqRefOffsets = 15,
    /// `u32[]` reference ids per sequence.
    SeqRefIds = 16,
    /// `u32[n_seqs + 1]` CSR offsets into `SeqOccIds`.
    SeqOccOffsets = 17,
    /// `u32[]` occurrence ids per sequence.
    SeqOccIds = 18,
    /// `u32[n_seqs]`: sequence ids in ascending digest order (lookup by nucleotideSequenceID).
    SeqByMd5 = 19,
    /// `RefEntry[n_refs]`.
    Refs = 20,
    /// `TaxonEntry[n_taxa]`, parents before children.
    Taxa = 21,
    /// `u32[n_taxa]` taxon ids sorted by lower-cased name.
    TaxaByName = 22,
    /// `OccEntry[n_occ + 1]` (last one is a sentinel for DNA ranges).
    Occurrences = 30,
    /// `OccDna[]`: DNA rows of the occurrences.
    OccDna = 31,
    /// UTF-8 `occurrenceID`s, back to back, addressed by `OccEntry::id_start`.
    OccIds = 32,
    /// `OccEvent[]`: what the occurrences of a sampling event share.
    OccEvents = 33,
    /// `OccName[]`: published names of occurrences.
    OccNames = 34,
    /// `OccAssay[]`: target genes and primers of DNA rows.
    OccAssays = 35,
    /// `u32[buckets + 1]`: first key index per bucket of the top bits of a k-mer.
    KmerBuckets = 40,
    /// `u32[n_keys]`: distinct minimizer k-mers, ascending.
    KmerKeys = 41,
    /// `u32[n_keys + 1]` CSR offsets into `KmerPostings`.
    KmerOffsets = 42,
    /// `u32[]`: sequence ids per k-mer, ascending within a k-mer (one entry per occurrence of the
    /// minimizer in the sequence).
    KmerPostings = 43,
    /// `u16[]`, parallel to `KmerPostings`: position of the minimizer in the sequence, or
    /// `u16::MAX` when it does not fit (the search then scans the whole sequence).
    KmerPositions = 44,
    /// `u64[n_taxa + 1]` offsets into `TaxonBitmapData`.
    TaxonBitmapOffsets = 50,
    /// Serialized roaring bitmaps: occurrences whose published lineage contains the taxon.
    TaxonBitmapData = 51,
    /// `u64[n_datasets + 1]` offsets into `DatasetBitmapData`.
    DatasetBitmapOffsets = 52,
    /// Serialized roaring bitmaps: occurrences per dataset.
    DatasetBitmapData = 53,
    /// `u64[n_taxa + 1]` offsets into `AssignedTaxonBitmapData`.
    AssignedTaxonBitmapOffsets = 56,
    /// Serialized roaring bitmaps: occurrences whose build-time assigned lineage contains the taxon.
    AssignedTaxonBitmapData = 57,
    /// `u64[n_markers + 1]` offsets into `MarkerBitmapData`.
    MarkerBitmapOffsets = 54,
    /// Serialized roaring bitmaps: occurrences per marker.
    MarkerBitmapData = 55,
}
