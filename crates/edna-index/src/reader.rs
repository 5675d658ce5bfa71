//! Reading an index through a memory map.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use memmap2::Mmap;
use roaring::RoaringBitmap;

use crate::error::IndexError;
use crate::format::{
    Header, SectionEntry, SectionKind, ENDIAN_MARK, FORMAT_VERSION, HEADER_LEN, MAGIC, OLDEST_SUPPORTED_VERSION,
    SECTION_ALIGN, SECTION_ENTRY_LEN,
};
use crate::meta::IndexMeta;
use crate::schema::*;

/// A mapped index file whose header and section table have been checked.
pub struct IndexFile {
    map: Mmap,
    path: PathBuf,
    header: Header,
    sections: HashMap<u32, SectionEntry>,
}

impl IndexFile {
    /// Maps `path` and checks magic, byte order, version, table checksum and section bounds: O(1) in the
    /// size of the file.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let file = File::open(path).map_err(|e| IndexError::io(path, e))?;
        let len = file.metadata().map_err(|e| IndexError::io(path, e))?.len();
        if len < HEADER_LEN as u64 {
            if len >= 8 {
                // Still tell a foreign file from a truncated one.
                let mut magic = [0u8; 8];
                use std::io::Read;
                let mut f = &file;
                if f.read_exact(&mut magic).is_ok() && magic != MAGIC {
                    return Err(IndexError::BadMagic {
                        path: path.to_path_buf(),
                    });
                }
            }
            return Err(IndexError::corrupt(
                path,
                format!("file is {len} bytes, shorter than the {HEADER_LEN}-byte header"),
            ));
        }
        // SAFETY: the index file is never modified in place: writers create a new file and rename it over the
        // old one, so the mapped bytes stay valid for the lifetime of the map. Every read through the map is
        // bounds-checked against the validated section table below.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| IndexError::io(path, e))?;
        let header: Header = bytemuck::pod_read_unaligned(&map[..HEADER_LEN]);
        if header.magic != MAGIC {
            return Err(IndexError::BadMagic {
                path: path.to_path_buf(),
            });
        }
        if header.endian != ENDIAN_MARK {
            return Err(IndexError::BadEndian {
                path: path.to_path_buf(),
                found: header.endian,
            });
        }
        if !(OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION).contains(&header.version) {
            return Err(IndexError::Version {
                path: path.to_path_buf(),
                found: header.version,
                oldest: OLDEST_SUPPORTED_VERSION,
                newest: FORMAT_VERSION,
            });
        }
        // No flag is defined yet: a set one means a feature this reader does not know.
        if header.flags != 0 {
            return Err(IndexError::corrupt(
                path,
                format!(
                    "unknown header flags {:#x} (written by a newer edna-search, or corrupted)",
                    header.flags
                ),
            ));
        }
        if header.file_len != len {
            return Err(IndexError::corrupt(
                path,
                format!("header says {} bytes, file has {len}", header.file_len),
            ));
        }
        let n = header.n_sections as usize;
        if n > SectionKind::ALL.len() {
            return Err(IndexError::corrupt(
                path,
                format!("{n} sections listed, at most {} exist", SectionKind::ALL.len()),
            ));
        }
        let table_end = HEADER_LEN + n * SECTION_ENTRY_LEN;
        if table_end as u64 > len {
            return Err(IndexError::corrupt(
                path,
                "section table extends past the end of the file",
            ));
        }
        let entries: Vec<SectionEntry> = map[HEADER_LEN..table_end]
            .chunks_exact(SECTION_ENTRY_LEN)
            .map(bytemuck::pod_read_unaligned)
            .collect();
        if crate::writer::table_checksum(&header, &entries) != header.table_checksum {
            return Err(IndexError::corrupt(path, "header or section table checksum mismatch"));
        }
        let mut sections = HashMap::new();
        let mut spans: Vec<(u64, u64)> = Vec::new();
        for e in &entries {
            let kind = SectionKind::from_u32(e.kind)
                .ok_or_else(|| IndexError::corrupt(path, format!("unknown section kind {}", e.kind)))?;
            let end = e.offset.checked_add(e.len).filter(|&end| end <= len);
            let Some(end) = end else {
                return Err(IndexError::corrupt(
                    path,
                    format!("section {} lies outside the file", kind.name()),
                ));
            };
            if e.offset % SECTION_ALIGN != 0 || e.offset < table_end as u64 {
                return Err(IndexError::corrupt(
                    path,
                    format!("section {} is misplaced", kind.name()),
                ));
            }
            if e.elem_size == 0 || e.len % e.elem_size as u64 != 0 {
                return Err(IndexError::corrupt(
                    path,
                    format!("section {} has a partial element", kind.name()),
                ));
            }
            if sections.insert(e.kind, *e).is_some() {
                return Err(IndexError::corrupt(
                    path,
                    format!("section {} appears twice", kind.name()),
                ));
            }
            spans.push((e.offset, end));
        }
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(IndexError::corrupt(path, "sections overlap"));
        }
        Ok(IndexFile {
            map,
            path: path.to_path_buf(),
            header,
            sections,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// True for an empty file (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Section table entry of a kind.
    pub fn entry(&self, kind: SectionKind) -> Option<&SectionEntry> {
        self.sections.get(&(kind as u32))
    }

    fn range(&self, kind: SectionKind) -> Result<Range<usize>, IndexError> {
        let e = self.entry(kind).ok_or(IndexError::MissingSection {
            path: self.path.clone(),
            section: kind.name(),
        })?;
        Ok(e.offset as usize..(e.offset + e.len) as usize)
    }

    /// Raw bytes of a section.
    pub fn bytes(&self, kind: SectionKind) -> Result<&[u8], IndexError> {
        Ok(&self.map[self.range(kind)?])
    }

    /// A section as a slice of `T`, checking element size and alignment.
    pub fn typed<T: Pod>(&self, kind: SectionKind) -> Result<&[T], IndexError> {
        let e = self.entry(kind).ok_or(IndexError::MissingSection {
            path: self.path.clone(),
            section: kind.name(),
        })?;
        if e.elem_size as usize != std::mem::size_of::<T>() {
            return Err(IndexError::corrupt(
                &self.path,
                format!("section {} has element size {}", kind.name(), e.elem_size),
            ));
        }
        bytemuck::try_cast_slice(self.bytes(kind)?)
            .map_err(|err| IndexError::corrupt(&self.path, format!("section {}: {err}", kind.name())))
    }

    /// Recomputes every section checksum, and checks the header's reserved bytes (outside any checksum)
    /// are zero as written.
    pub fn verify_checksums(&self) -> Result<(), IndexError> {
        let header: Header = bytemuck::pod_read_unaligned(&self.map[..HEADER_LEN]);
        if header.reserved != [0; 24] {
            return Err(IndexError::corrupt(&self.path, "reserved header bytes are not zero"));
        }
        for kind in SectionKind::ALL {
            if let Some(e) = self.entry(*kind) {
                let bytes = &self.map[e.offset as usize..(e.offset + e.len) as usize];
                if xxhash_rust::xxh3::xxh3_64(bytes) != e.checksum {
                    return Err(IndexError::Checksum {
                        path: self.path.clone(),
                        section: kind.name(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// An open index: typed, bounds-checked accessors over the mapped sections.
///
/// Accessors never panic on a corrupted file: out-of-range values read as empty; `verify` reports them.
pub struct Index {
    file: IndexFile,
    meta: IndexMeta,
    // Byte ranges of the sections by kind value, resolved once so hot accessors skip the table.
    ranges: Vec<Range<usize>>,
}

impl Index {
    /// Opens `dir/index.edna` (or a file path directly).
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let file_path = if path.is_dir() {
            path.join(crate::INDEX_FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let file = IndexFile::open(&file_path)?;
        let meta_bytes = file.bytes(SectionKind::Meta)?;
        let meta: IndexMeta = serde_json::from_slice(meta_bytes).map_err(|e| IndexError::Meta {
            path: file_path.clone(),
            detail: e.to_string(),
        })?;
        let mut ranges = vec![0..0; 64];
        for kind in SectionKind::ALL {
            if let (Ok(r), Some(slot)) = (file.range(*kind), ranges.get_mut(*kind as usize)) {
                *slot = r;
            }
        }
        let index = Index { file, meta, ranges };
        index.check_shapes()?;
        Ok(index)
    }

    /// Raw bytes of a section (empty when absent).
    #[inline]
    pub(crate) fn b(&self, kind: SectionKind) -> &[u8] {
        let r = self.ranges.get(kind as usize).cloned().unwrap_or(0..0);
        self.file.map.get(r).unwrap_or(&[])
    }

    /// A section as `&[T]` (empty when absent or malformed; shapes are checked at open).
    #[inline]
    pub(crate) fn s<T: Pod>(&self, kind: SectionKind) -> &[T] {
        bytemuck::try_cast_slice(self.b(kind)).unwrap_or(&[])
    }

    // O(1) checks that every section exists with the element type and count the others imply.
    fn check_shapes(&self) -> Result<(), IndexError> {
        let f = &self.file;
        let path = f.path();
        for kind in SectionKind::ALL {
            if f.entry(*kind).is_none() {
                return Err(IndexError::MissingSection {
                    path: path.to_path_buf(),
                    section: kind.name(),
                });
            }
        }
        let n = f.typed::<[u8; 16]>(SectionKind::SeqMd5)?.len();
        let expect = |kind: SectionKind, got: usize, want: usize| -> Result<(), IndexError> {
            if got != want {
                return Err(IndexError::corrupt(
                    path,
                    format!("section {} has {got} elements, expected {want}", kind.name()),
                ));
            }
            Ok(())
        };
        expect(
            SectionKind::SeqEntries,
            f.typed::<SeqEntry>(SectionKind::SeqEntries)?.len(),
            n + 1,
        )?;
        expect(SectionKind::SeqByMd5, f.typed::<u32>(SectionKind::SeqByMd5)?.len(), n)?;
        expect(
            SectionKind::SeqRefOffsets,
            f.typed::<u32>(SectionKind::SeqRefOffsets)?.len(),
            n + 1,
        )?;
        expect(
            SectionKind::SeqOccOffsets,
            f.typed::<u32>(SectionKind::SeqOccOffsets)?.len(),
            n + 1,
        )?;
        let n_taxa = f.typed::<TaxonEntry>(SectionKind::Taxa)?.len();
        expect(
            SectionKind::TaxaByName,
            f.typed::<u32>(SectionKind::TaxaByName)?.len(),
            n_taxa,
        )?;
        expect(
            SectionKind::TaxonBitmapOffsets,
            f.typed::<u64>(SectionKind::TaxonBitmapOffsets)?.len(),
            n_taxa + 1,
        )?;
        expect(
            SectionKind::AssignedTaxonBitmapOffsets,
            f.typed::<u64>(SectionKind::AssignedTaxonBitmapOffsets)?.len(),
            n_taxa + 1,
        )?;
        expect(
            SectionKind::DatasetBitmapOffsets,
            f.typed::<u64>(SectionKind::DatasetBitmapOffsets)?.len(),
            self.meta.datasets.len() + 1,
        )?;
        expect(
            SectionKind::MarkerBitmapOffsets,
            f.typed::<u64>(SectionKind::MarkerBitmapOffsets)?.len(),
            self.meta.markers.len() + 1,
        )?;
        let n_occ = f.typed::<OccEntry>(SectionKind::Occurrences)?.len();
        if n_occ == 0 {
            return Err(IndexError::corrupt(path, "occurrence section lacks its sentinel"));
        }
        let n_keys = f.typed::<u32>(SectionKind::KmerKeys)?.len();
        expect(
            SectionKind::KmerOffsets,
            f.typed::<u32>(SectionKind::KmerOffsets)?.len(),
            n_keys + 1,
        )?;
        expect(
            SectionKind::KmerBuckets,
            f.typed::<u32>(SectionKind::KmerBuckets)?.len(),
            (1usize << self.meta.seeds.bucket_bits.min(30)) + 1,
        )?;
        for kind in [
            SectionKind::SeqExceptions,
            SectionKind::LegacyIds,
            SectionKind::Refs,
            SectionKind::OccDna,
        ] {
            // element-size checks
            match kind {
                SectionKind::SeqExceptions => drop(f.typed::<Exception>(kind)?),
                SectionKind::LegacyIds => drop(f.typed::<LegacyEntry>(kind)?),
                SectionKind::Refs => drop(f.typed::<RefEntry>(kind)?),
                _ => drop(f.typed::<OccDna>(kind)?),
            }
        }
        for kind in [
            SectionKind::SeqRefIds,
            SectionKind::SeqOccIds,
            SectionKind::KmerPostings,
        ] {
            f.typed::<u32>(kind)?;
        }
        if self.meta.seeds.k == 0
            || self.meta.seeds.k > 16
            || self.meta.seeds.w == 0
            || self.meta.seeds.bucket_bits > 2 * self.meta.seeds.k
            || 2 * self.meta.seeds.k - self.meta.seeds.bucket_bits >= 32
        {
            return Err(IndexError::corrupt(path, "seed parameters out of range"));
        }
        Ok(())
    }

    /// The underlying file.
    pub fn file(&self) -> &IndexFile {
        &self.file
    }

    /// Metadata (libraries, datasets, markers, counts, parameters).
    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    /// A string from the heap ("" when out of range or not UTF-8).
    pub fn str(&self, s: StrRef) -> &str {
        let heap = self.b(SectionKind::Strings);
        let start = s.offset as usize;
        heap.get(start..start.saturating_add(s.len as usize))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Number of distinct sequences.
    pub fn n_seqs(&self) -> u32 {
        self.s::<[u8; 16]>(SectionKind::SeqMd5).len() as u32
    }

    /// The sequence sections, looked up once: [`Sequences`] reads many sequences without resolving the
    /// sections again for each (the search reads thousands per query).
    #[inline]
    pub fn sequences(&self) -> Sequences<'_> {
        Sequences {
            entries: self.s::<SeqEntry>(SectionKind::SeqEntries),
            packed: self.b(SectionKind::SeqPacked),
            exceptions: self.s::<Exception>(SectionKind::SeqExceptions),
        }
    }

    /// Length of a sequence (0 when out of range).
    pub fn seq_len(&self, id: u32) -> u32 {
        self.sequences().len_of(id)
    }

    /// Where sequence `id`'s packed bases start in the packed section, and its length: what
    /// [`Index::prefetch_packed`] needs, read once with the length (`(0, 0)` when out of range).
    #[inline]
    pub fn seq_extent(&self, id: u32) -> (u64, u32) {
        self.sequences().extent(id)
    }

    /// Unpacks sequence `id` into `out` (cleared; left empty when out of range).
    pub fn seq_into(&self, id: u32, out: &mut Vec<u8>) {
        self.seq_range_into(id, 0, usize::MAX, out);
    }

    /// Asks the CPU to start loading the packed bases `start..end` of sequence `id` into cache, so a
    /// later read of them does not wait on memory. A hint only: nothing is read and results never change.
    pub fn prefetch_seq_range(&self, id: u32, start: usize, end: usize) {
        let (offset, len) = self.seq_extent(id);
        self.prefetch_packed(offset, len, start, end);
    }

    /// [`Index::prefetch_seq_range`] for a sequence whose [`Index::seq_extent`] the caller already has
    /// (saves reading the sequence table again, itself a likely cache miss).
    pub fn prefetch_packed(&self, offset: u64, len: u32, start: usize, end: usize) {
        self.sequences().prefetch_packed(offset, len, start, end);
    }

    /// Hints the CPU to load sequence `id`'s entry ([`Index::seq_extent`]) soon.
    #[inline]
    pub fn prefetch_seq_entry(&self, id: u32) {
        self.sequences().prefetch_entry(id);
    }

    /// Unpacks bases `start..end` of sequence `id` into `out` (cleared; clipped to the sequence). Returns
    /// true when the range holds a non-ACGT symbol.
    pub fn seq_range_into(&self, id: u32, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
        self.sequences().range_into(id, start, end, out)
    }

    /// As [`Index::seq_range_into`], writing each base through `decoding` and appending to `out`.
    pub fn seq_range_decoded_into(
        &self,
        id: u32,
        start: usize,
        end: usize,
        decoding: &Decoding,
        out: &mut Vec<u8>,
    ) -> bool {
        self.sequences().range_decoded_into(id, start, end, decoding, out)
    }

    /// The 2-bit packed bases of sequence `id` (base `i` in bits `2·(i % 4)` of byte `i / 4`; A=0 C=1 G=2
    /// T=3; positions holding another symbol are stored as A) and whether bases `start..end` include such a
    /// position. Lets filters read the bases without unpacking them. `None` when out of range.
    pub fn packed_with_exceptions(&self, id: u32, start: usize, end: usize) -> Option<(&[u8], bool)> {
        self.sequences().packed_with_exceptions(id, start, end)
    }

    /// Whether sequence `id` holds a non-ACGT symbol in bases `start..end`. Reads the sequence's entry and,
    /// only when it has any such symbol, its exception list.
    #[inline]
    pub fn has_exceptions_in(&self, id: u32, start: usize, end: usize) -> bool {
        self.sequences().has_exceptions_in(id, start, end)
    }

    /// Sequence `id` as a new vector.
    pub fn seq(&self, id: u32) -> Vec<u8> {
        let mut v = Vec::new();
        self.seq_into(id, &mut v);
        v
    }

    /// nucleotideSequenceID digest of a sequence.
    pub fn seq_md5(&self, id: u32) -> [u8; 16] {
        self.s::<[u8; 16]>(SectionKind::SeqMd5)
            .get(id as usize)
            .copied()
            .unwrap_or([0; 16])
    }

    /// Sequence id with this nucleotideSequenceID digest.
    pub fn find_md5(&self, md5: &[u8; 16]) -> Option<u32> {
        // Ids are in locality order, not digest order: search the digest-ordered permutation.
        let digests = self.s::<[u8; 16]>(SectionKind::SeqMd5);
        let by_md5 = self.s::<u32>(SectionKind::SeqByMd5);
        let i = by_md5.partition_point(|&id| digests.get(id as usize).is_some_and(|d| d < md5));
        by_md5
            .get(i)
            .copied()
            .filter(|&id| digests.get(id as usize) == Some(md5))
    }

    /// Sequence ids in ascending nucleotideSequenceID order.
    pub fn seqs_by_md5(&self) -> &[u32] {
        self.s::<u32>(SectionKind::SeqByMd5)
    }

    /// Sequence ids reached by a legacy dnaSequenceID digest.
    pub fn find_legacy(&self, md5: &[u8; 16]) -> Vec<u32> {
        let legacy = self.s::<LegacyEntry>(SectionKind::LegacyIds);
        let start = legacy.partition_point(|e| e.md5 < *md5);
        legacy[start..]
            .iter()
            .take_while(|e| e.md5 == *md5)
            .map(|e| e.seq)
            .filter(|&s| s != NONE)
            .collect()
    }

    /// Reference records carrying sequence `id`.
    pub fn seq_refs(&self, id: u32) -> &[u32] {
        csr(
            self.s::<u32>(SectionKind::SeqRefOffsets),
            self.s::<u32>(SectionKind::SeqRefIds),
            id,
        )
    }

    /// Occurrences carrying sequence `id`.
    pub fn seq_occs(&self, id: u32) -> &[u32] {
        csr(
            self.s::<u32>(SectionKind::SeqOccOffsets),
            self.s::<u32>(SectionKind::SeqOccIds),
            id,
        )
    }

    /// Number of reference records.
    pub fn n_refs(&self) -> u32 {
        self.s::<RefEntry>(SectionKind::Refs).len() as u32
    }

    /// A reference record.
    pub fn reference(&self, id: u32) -> Option<&RefEntry> {
        self.v_refs().get(id as usize)
    }

    fn v_refs(&self) -> &[RefEntry] {
        self.file.typed(SectionKind::Refs).unwrap_or(&[])
    }

    /// Number of taxa.
    pub fn n_taxa(&self) -> u32 {
        self.s::<TaxonEntry>(SectionKind::Taxa).len() as u32
    }

    /// A taxon.
    pub fn taxon(&self, id: u32) -> Option<&TaxonEntry> {
        self.file
            .typed::<TaxonEntry>(SectionKind::Taxa)
            .unwrap_or(&[])
            .get(id as usize)
    }

    /// Taxon ids from the root down to `id` (empty for NONE/out of range; cycles cut).
    pub fn lineage(&self, id: u32) -> Vec<u32> {
        let taxa = self.s::<TaxonEntry>(SectionKind::Taxa);
        let mut out = Vec::new();
        let mut cur = id;
        while let Some(t) = taxa.get(cur as usize) {
            out.push(cur);
            // Parents precede children, so a well-formed chain strictly decreases; anything else is cut.
            if t.parent == NONE || t.parent >= cur || out.len() > 64 {
                break;
            }
            cur = t.parent;
        }
        out.reverse();
        out
    }

    /// Taxa whose name equals `name` (ASCII case-insensitive).
    pub fn find_taxa_by_name(&self, name: &str) -> Vec<u32> {
        let key = name.to_ascii_lowercase();
        let name_of = |id: u32| {
            self.s::<TaxonEntry>(SectionKind::Taxa)
                .get(id as usize)
                .map(|t| self.str(t.name).to_ascii_lowercase())
                .unwrap_or_default()
        };
        let start = self
            .s::<u32>(SectionKind::TaxaByName)
            .partition_point(|&id| name_of(id) < key);
        self.s::<u32>(SectionKind::TaxaByName)[start..]
            .iter()
            .copied()
            .take_while(|&id| name_of(id) == key)
            .collect()
    }

    /// Number of occurrences.
    pub fn n_occurrences(&self) -> u32 {
        (self.s::<OccEntry>(SectionKind::Occurrences).len().saturating_sub(1)) as u32
    }

    /// An occurrence, its shared event and name fields resolved.
    pub fn occurrence(&self, id: u32) -> Option<Occurrence<'_>> {
        let entries = self.s::<OccEntry>(SectionKind::Occurrences);
        let (e, next) = (entries.get(id as usize)?, entries.get(id as usize + 1)?);
        let ids = self.b(SectionKind::OccIds);
        let occurrence_id = usize::try_from(e.id_start)
            .ok()
            .zip(usize::try_from(next.id_start).ok())
            .and_then(|(a, b)| ids.get(a..b))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        let event = self.s::<OccEvent>(SectionKind::OccEvents).get(e.event as usize)?;
        let name = self.s::<OccName>(SectionKind::OccNames).get(e.name as usize)?;
        Some(Occurrence {
            occurrence_id,
            dataset: event.dataset,
            published_taxon: name.published_taxon,
            scientific_name: name.scientific_name,
            taxon_rank: name.taxon_rank,
            event_date: event.event_date,
            country_code: event.country_code,
            locality: event.locality,
            material_sample_id: event.material_sample_id,
            basis_of_record: event.basis_of_record,
            organism_quantity_type: event.organism_quantity_type,
            sample_size_unit: event.sample_size_unit,
            decimal_latitude: event.decimal_latitude,
            decimal_longitude: event.decimal_longitude,
            sample_size_value: event.sample_size_value,
            organism_quantity: e.organism_quantity,
        })
    }

    /// DNA rows of an occurrence.
    pub fn occurrence_dna(&self, id: u32) -> &[OccDna] {
        let entries = self.s::<OccEntry>(SectionKind::Occurrences);
        let (Some(e), Some(next)) = (entries.get(id as usize), entries.get(id as usize + 1)) else {
            return &[];
        };
        self.s::<OccDna>(SectionKind::OccDna)
            .get(e.dna_start as usize..next.dna_start as usize)
            .unwrap_or(&[])
    }

    /// Target gene and primers of a DNA row.
    pub fn assay(&self, row: &OccDna) -> Option<&OccAssay> {
        self.s::<OccAssay>(SectionKind::OccAssays).get(row.assay as usize)
    }

    /// The legacy `dnaSequenceID` digest of a DNA row's raw published sequence, if it had one.
    pub fn legacy_md5(&self, row: &OccDna) -> Option<[u8; 16]> {
        self.s::<LegacyEntry>(SectionKind::LegacyIds)
            .get(row.legacy as usize)
            .map(|e| e.md5)
    }

    /// Sequence ids whose minimizers include `kmer`.
    pub fn postings(&self, kmer: u32) -> &[u32] {
        self.postings_with_positions(kmer).0
    }

    /// Sequence ids and positions whose minimizers include `kmer` (parallel slices).
    pub fn postings_with_positions(&self, kmer: u32) -> (&[u32], &[u16]) {
        let postings = self.kmer_postings();
        postings.get(postings.range(kmer))
    }

    /// The sequence id ranges holding every sequence of `marker` (as libraries and occurrence rows spell it) of
    /// the kinds asked for: those with a reference record, those carried by an occurrence, or both. Sorted and
    /// disjoint, possibly wider than needed; empty when no sequence has that marker. `None` when the index
    /// does not record them (built before they existed): then any id may hold one.
    pub fn marker_id_spans(&self, marker: &str, references: bool, occurrences: bool) -> Option<Vec<Range<u32>>> {
        let spans = self.meta.marker_spans.as_ref()?;
        let Some(m) = spans.get(marker) else {
            return Some(Vec::new());
        };
        let pick = |wanted: bool, list: &'_ [[u32; 2]]| if wanted { list.to_vec() } else { Vec::new() };
        Some(crate::meta::union_spans(
            &pick(references, &m.references),
            &pick(occurrences, &m.occurrences),
        ))
    }

    /// The k-mer sections, resolved once, for callers that look up many k-mers ([`Postings`]).
    pub fn kmer_postings(&self) -> Postings<'_> {
        let seeds = &self.meta.seeds;
        Postings {
            // Checked at open to be below 32.
            shift: (2 * seeds.k).saturating_sub(seeds.bucket_bits).min(31),
            buckets: self.s::<u32>(SectionKind::KmerBuckets),
            keys: self.s::<u32>(SectionKind::KmerKeys),
            offsets: self.s::<u32>(SectionKind::KmerOffsets),
            seqs: self.s::<u32>(SectionKind::KmerPostings),
            positions: self.s::<u16>(SectionKind::KmerPositions),
        }
    }

    /// Occurrences whose published lineage includes taxon `id`.
    pub fn taxon_bitmap(&self, id: u32) -> RoaringBitmap {
        blob_bitmap(
            self.s::<u64>(SectionKind::TaxonBitmapOffsets),
            self.b(SectionKind::TaxonBitmapData),
            id,
        )
    }

    /// Occurrences whose build-time assigned lineage includes taxon `id`.
    pub fn assigned_taxon_bitmap(&self, id: u32) -> RoaringBitmap {
        blob_bitmap(
            self.s::<u64>(SectionKind::AssignedTaxonBitmapOffsets),
            self.b(SectionKind::AssignedTaxonBitmapData),
            id,
        )
    }

    /// Occurrences of dataset `id`.
    pub fn dataset_bitmap(&self, id: u32) -> RoaringBitmap {
        blob_bitmap(
            self.s::<u64>(SectionKind::DatasetBitmapOffsets),
            self.b(SectionKind::DatasetBitmapData),
            id,
        )
    }

    /// Occurrences with a DNA row of marker `id`.
    pub fn marker_bitmap(&self, id: u32) -> RoaringBitmap {
        blob_bitmap(
            self.s::<u64>(SectionKind::MarkerBitmapOffsets),
            self.b(SectionKind::MarkerBitmapData),
            id,
        )
    }

    /// Full integrity check: every checksum and cross-reference. Linear in the file size.
    pub fn verify(&self) -> Result<(), IndexError> {
        self.file.verify_checksums()?;
        crate::verify::cross_references(self)
    }
}

/// An occurrence as [`Index::occurrence`] assembles it from its own record and the event and name
/// records it shares. Strings are [`StrRef`]s for [`Index::str`]; floating-point fields are NaN when
/// absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occurrence<'a> {
    /// `occurrenceID`.
    pub occurrence_id: &'a str,
    /// Dataset index (into `IndexMeta::datasets`).
    pub dataset: u32,
    /// Taxon of the published lineage, or [`NONE`].
    pub published_taxon: u32,
    /// Published `scientificName`.
    pub scientific_name: StrRef,
    /// Published `taxonRank`.
    pub taxon_rank: StrRef,
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
    /// `organismQuantity`.
    pub organism_quantity: f64,
}

fn csr<'a>(offsets: &[u32], ids: &'a [u32], i: u32) -> &'a [u32] {
    match (offsets.get(i as usize), offsets.get(i as usize + 1)) {
        (Some(&a), Some(&b)) => ids.get(a as usize..b as usize).unwrap_or(&[]),
        _ => &[],
    }
}

fn blob_bitmap(offsets: &[u64], data: &[u8], i: u32) -> RoaringBitmap {
    let (Some(&a), Some(&b)) = (offsets.get(i as usize), offsets.get(i as usize + 1)) else {
        return RoaringBitmap::new();
    };
    data.get(a as usize..b as usize)
        .filter(|s| !s.is_empty())
        .and_then(|s| RoaringBitmap::deserialize_from(s).ok())
        .unwrap_or_default()
}

/// The k-mer sections of an [`Index`] ([`Index::kmer_postings`]): the bucket table, keys, offsets, and the
/// postings' sequence ids and positions, resolved once. Every read is bounds-checked: a malformed section
/// reads as no postings.
#[derive(Debug, Clone, Copy)]
pub struct Postings<'a> {
    shift: u32,
    buckets: &'a [u32],
    keys: &'a [u32],
    offsets: &'a [u32],
    seqs: &'a [u32],
    positions: &'a [u16],
}

impl<'a> Postings<'a> {
    /// The range of `kmer`'s postings (empty when it is not a minimizer of any sequence).
    pub fn range(&self, kmer: u32) -> Range<usize> {
        self.find_key(self.bucket(kmer), kmer)
            .map_or(0..0, |key| self.offset_range(key))
    }

    /// The keys of `kmer`'s bucket (empty when the table is malformed there).
    fn bucket(&self, kmer: u32) -> Range<usize> {
        let b = (kmer >> self.shift) as usize;
        match (self.buckets.get(b), self.buckets.get(b + 1)) {
            (Some(&lo), Some(&hi)) if lo <= hi => lo as usize..hi as usize,
            _ => 0..0,
        }
    }

    /// Where `kmer` is among the keys of `bucket`.
    fn find_key(&self, bucket: Range<usize>, kmer: u32) -> Option<usize> {
        let start = bucket.start;
        let i = self.keys.get(bucket)?.binary_search(&kmer).ok()?;
        Some(start + i)
    }

    /// Postings `offsets[key] .. offsets[key + 1]`.
    fn offset_range(&self, key: usize) -> Range<usize> {
        match (self.offsets.get(key), self.offsets.get(key + 1)) {
            (Some(&a), Some(&b)) if a <= b => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// The ranges of every k-mer of `kmers`, in order, into `out` (cleared). The same as [`Postings::range`]
    /// one by one, but each step (bucket, keys, offsets, first postings) is asked of memory for all k-mers
    /// before any is waited for: on a large index each is a cache miss, and one lookup after the other waits
    /// for all of them in turn.
    pub fn ranges(&self, kmers: &[u32], out: &mut Vec<Range<usize>>) {
        out.clear();
        for &kmer in kmers {
            if let Some(b) = self.buckets.get((kmer >> self.shift) as usize) {
                prefetch(b);
            }
        }
        // The keys' range per k-mer, kept in `out` until its offsets are known.
        for &kmer in kmers {
            let range = self.bucket(kmer);
            if let Some(key) = self.keys.get(range.start) {
                prefetch(key);
            }
            out.push(range);
        }
        for (range, &kmer) in out.iter_mut().zip(kmers) {
            *range = match self.find_key(range.clone(), kmer) {
                Some(key) => {
                    if let Some(offset) = self.offsets.get(key) {
                        prefetch(offset);
                    }
                    key..key + 1
                }
                None => 0..0,
            };
        }
        for range in out.iter_mut() {
            if range.start < range.end {
                *range = self.offset_range(range.start);
                if let (Some(s), Some(p)) = (self.seqs.get(range.start), self.positions.get(range.start)) {
                    prefetch(s);
                    prefetch(p);
                }
            }
        }
    }

    /// The sequence ids and positions of postings `range` (parallel slices; empty when out of bounds).
    pub fn get(&self, range: Range<usize>) -> (&'a [u32], &'a [u16]) {
        match (self.seqs.get(range.clone()), self.positions.get(range)) {
            (Some(s), Some(p)) => (s, p),
            _ => (&[], &[]),
        }
    }
}

/// The sequence sections of an [`Index`] ([`Index::sequences`]): entries, packed bases and exceptions,
/// resolved once. Every read is bounds-checked: an id or range outside the index reads as empty.
#[derive(Debug, Clone, Copy)]
pub struct Sequences<'a> {
    entries: &'a [SeqEntry],
    packed: &'a [u8],
    exceptions: &'a [Exception],
}

impl<'a> Sequences<'a> {
    /// The entry of sequence `id`, its packed bytes and its exceptions.
    #[inline]
    fn parts(&self, id: u32) -> Option<(SeqEntry, &'a [u8], &'a [Exception])> {
        let (e, next) = (self.entries.get(id as usize)?, self.entries.get(id as usize + 1)?);
        let base = usize::try_from(e.packed_offset).ok()?;
        let packed = self
            .packed
            .get(base..base.saturating_add((e.len as usize).div_ceil(4)))?;
        let exc = self
            .exceptions
            .get(e.exc_start as usize..next.exc_start as usize)
            .unwrap_or(&[]);
        Some((*e, packed, exc))
    }

    /// Length of sequence `id` (0 when out of range).
    #[inline]
    pub fn len_of(&self, id: u32) -> u32 {
        self.entries.get(id as usize).map_or(0, |e| e.len)
    }

    /// Where sequence `id`'s packed bases start and its length, as [`Index::seq_extent`].
    #[inline]
    pub fn extent(&self, id: u32) -> (u64, u32) {
        self.entries
            .get(id as usize)
            .map_or((0, 0), |e| (e.packed_offset, e.len))
    }

    /// As [`Index::prefetch_packed`].
    #[inline]
    pub fn prefetch_packed(&self, offset: u64, len: u32, start: usize, end: usize) {
        let end = end.min(len as usize);
        if start >= end {
            return;
        }
        let base = usize::try_from(offset).unwrap_or(usize::MAX);
        let (first, last) = (base.saturating_add(start / 4), base.saturating_add(end.div_ceil(4)));
        let Some(bytes) = self.packed.get(first..last.min(self.packed.len())) else {
            return;
        };
        // One hint per cache line, plus the last byte's line.
        for b in bytes.iter().step_by(64).chain(bytes.last()) {
            prefetch(b);
        }
    }

    /// As [`Index::prefetch_seq_entry`].
    #[inline]
    pub fn prefetch_entry(&self, id: u32) {
        if let Some(e) = self.entries.get(id as usize) {
            prefetch(e);
        }
    }

    /// As [`Index::seq_range_into`].
    pub fn range_into(&self, id: u32, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        self.range_decoded_into(id, start, end, &ASCII, out)
    }

    /// As [`Index::seq_range_decoded_into`].
    pub fn range_decoded_into(
        &self,
        id: u32,
        start: usize,
        end: usize,
        decoding: &Decoding,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((e, packed, exc)) = self.parts(id) else {
            return false;
        };
        let end = end.min(e.len as usize);
        if start >= end {
            return false;
        }
        let first = out.len();
        out.resize(first + (end - start), 0);
        decode_range(packed, exc, start, decoding, &mut out[first..])
    }

    /// Decodes bases `start..` of sequence `id` into `dst`, as far as either reaches: returns the bases
    /// written and whether one is a non-ACGT symbol. For callers that reuse one buffer, with no growth or
    /// zero fill per call (the band screen decodes thousands of targets per query).
    pub fn range_decoded_to(&self, id: u32, start: usize, decoding: &Decoding, dst: &mut [u8]) -> (usize, bool) {
        let Some((e, packed, exc)) = self.parts(id) else {
            return (0, false);
        };
        let len = (e.len as usize).saturating_sub(start).min(dst.len());
        if len == 0 {
            return (0, false);
        }
        (len, decode_range(packed, exc, start, decoding, &mut dst[..len]))
    }

    /// As [`Index::packed_with_exceptions`].
    #[inline]
    pub fn packed_with_exceptions(&self, id: u32, start: usize, end: usize) -> Option<(&'a [u8], bool)> {
        let (_, packed, exc) = self.parts(id)?;
        let ambiguous = exc.iter().any(|x| (start..end).contains(&(x.pos as usize)));
        Some((packed, ambiguous))
    }

    /// As [`Index::has_exceptions_in`].
    #[inline]
    pub fn has_exceptions_in(&self, id: u32, start: usize, end: usize) -> bool {
        let (Some(e), Some(next)) = (self.entries.get(id as usize), self.entries.get(id as usize + 1)) else {
            return false;
        };
        e.exc_start != next.exc_start
            && self
                .exceptions
                .get(e.exc_start as usize..next.exc_start as usize)
                .is_some_and(|exc| exc.iter().any(|x| (start..end).contains(&(x.pos as usize))))
    }
}

/// Four bases per packed byte, decoded by table.
/// How bases are written out when unpacked: `symbol[b]` for each ASCII symbol `b` (A, C, G, T and the
/// non-ACGT symbols stored as exceptions). Build once with [`Decoding::new`] (a `const fn`).
pub struct Decoding {
    /// The four output bytes of each packed byte.
    four: [[u8; 4]; 256],
    symbol: [u8; 256],
    /// The output of a base isolated in a packed byte and shifted into the low nibble: entry `c` (first or
    /// third base of the byte) and entry `4c` (second or fourth) hold the symbol of code `c`, for a vector
    /// table lookup.
    nibble: [u8; 16],
}

impl Decoding {
    /// Writes `symbol[b]` for every base `b`.
    pub const fn new(symbol: [u8; 256]) -> Self {
        let mut four = [[0u8; 4]; 256];
        let bases = *b"ACGT";
        let mut i = 0;
        while i < 256 {
            four[i] = [
                symbol[bases[i & 3] as usize],
                symbol[bases[(i >> 2) & 3] as usize],
                symbol[bases[(i >> 4) & 3] as usize],
                symbol[bases[(i >> 6) & 3] as usize],
            ];
            i += 1;
        }
        let mut nibble = [0u8; 16];
        let mut c = 0;
        while c < 4 {
            nibble[c] = symbol[bases[c] as usize];
            nibble[4 * c] = symbol[bases[c] as usize];
            c += 1;
        }
        Decoding { four, symbol, nibble }
    }
}

/// The bases themselves (upper-case ASCII).
static ASCII: Decoding = Decoding::new({
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
});

/// Hints the CPU to load the cache line holding `value` (nothing on other architectures). A hint only: it
/// never faults and changes no result. Public for the search's own per-sequence tables.
#[inline]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults and has no architectural effect; the address is that of
    // a live reference anyway.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Decodes whole packed bytes from the start of `bytes` into `dst`, 32 bases (8 bytes) at a time while both
/// have room, and returns the bases written (a multiple of 32; the caller decodes the rest).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn unpack_avx2(bytes: &[u8], decoding: &Decoding, dst: &mut [u8]) -> usize {
    use std::arch::x86_64::*;
    // Each 128-bit half takes four of the eight bytes, each repeated four times, one per base.
    let repeat = _mm256_setr_epi8(
        0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7,
    );
    // The base each copy keeps: bits 0–1 first, 2–3 second, and so on.
    let position = _mm256_set1_epi32(0xC030_0C03_u32 as i32);
    let low_nibble = _mm256_set1_epi8(0x0f);
    let nibbles = u128::from_le_bytes(decoding.nibble);
    let table = _mm256_broadcastsi128_si256(_mm_set_epi64x((nibbles >> 64) as i64, nibbles as i64));
    let mut written = 0;
    for (out, eight) in dst.chunks_exact_mut(32).zip(bytes.chunks_exact(8)) {
        let Some(eight) = eight.first_chunk::<8>() else {
            break;
        };
        let v = _mm256_set1_epi64x(i64::from_le_bytes(*eight));
        let kept = _mm256_and_si256(_mm256_shuffle_epi8(v, repeat), position);
        // The kept base moved to the low nibble (the first and third bases are there already, shifted by
        // 0 or 4 bits: the table lists both).
        let nib = _mm256_and_si256(_mm256_or_si256(kept, _mm256_srli_epi16::<4>(kept)), low_nibble);
        let bases = _mm256_shuffle_epi8(table, nib);
        #[allow(unsafe_code)]
        // SAFETY: `out` is a chunk of exactly 32 bytes, the size of an unaligned 256-bit store.
        unsafe {
            _mm256_storeu_si256(out.as_mut_ptr().cast(), bases)
        };
        written += 32;
    }
    written
}

fn unpack_range(packed: &[u8], start: usize, decoding: &Decoding, dst: &mut [u8]) {
    unpack_range_with(packed, start, decoding, dst, true);
}

/// Bases `start..start + dst.len()` of a sequence (its packed bases and exceptions) into `dst`: whether one
/// is a non-ACGT symbol.
fn decode_range(packed: &[u8], exc: &[Exception], start: usize, decoding: &Decoding, dst: &mut [u8]) -> bool {
    unpack_range(packed, start, decoding, dst);
    let mut ambiguous = false;
    for x in exc {
        if let Some(slot) = (x.pos as usize).checked_sub(start).and_then(|i| dst.get_mut(i)) {
            *slot = decoding.symbol[x.symbol as usize];
            ambiguous = true;
        }
    }
    ambiguous
}

/// [`unpack_range`], with the vector loop only where `vector` (tests compare the two).
fn unpack_range_with(packed: &[u8], start: usize, decoding: &Decoding, dst: &mut [u8], vector: bool) {
    let end = start + dst.len();
    let code = |i: usize| decoding.four[packed.get(i / 4).copied().unwrap_or(0) as usize][i % 4];
    // Unaligned head, then whole bytes written four bases at a time (no per-byte capacity checks).
    let head = ((4 - start % 4) % 4).min(end - start);
    for (k, slot) in dst[..head].iter_mut().enumerate() {
        *slot = code(start + k);
    }
    let mut body_start = start + head;
    let mut body = head;
    #[cfg(target_arch = "x86_64")]
    if vector && std::is_x86_feature_detected!("avx2") {
        let bytes = packed.get(body_start / 4..).unwrap_or(&[]);
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `unpack_avx2`.
        let done = unsafe { unpack_avx2(bytes, decoding, &mut dst[head..]) };
        body_start += done;
        body += done;
    }
    let bytes = packed.get(body_start / 4..).unwrap_or(&[]);
    let mut chunks = dst[body..].chunks_exact_mut(4);
    for (chunk, &byte) in (&mut chunks).zip(bytes) {
        chunk.copy_from_slice(&decoding.four[byte as usize]);
    }
    let tail = chunks.into_remainder();
    let tail_start = end - tail.len();
    for (k, slot) in tail.iter_mut().enumerate() {
        *slot = code(tail_start + k);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vector;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The batched lookup finds the same postings as one lookup per k-mer, for present, absent and
        /// repeated k-mers, also when the sections are cut short (a malformed index reads as no postings).
        #[test]
        fn batched_ranges_equal_single_lookups(
            keys in proptest::collection::btree_set(0u32..1 << 16, 0..300),
            counts in proptest::collection::vec(0u32..5, 300),
            queries in proptest::collection::vec(0u32..1 << 16, 0..60),
            cut_offsets in 0usize..4,
        ) {
            let keys: Vec<u32> = keys.into_iter().collect();
            let shift = 12;
            let buckets: Vec<u32> = (0..=16u32).map(|b| keys.partition_point(|&k| k >> shift < b) as u32).collect();
            let mut offsets = vec![0u32];
            for i in 0..keys.len() {
                offsets.push(offsets[i] + counts[i]);
            }
            let total = *offsets.last().unwrap_or(&0) as usize;
            let seqs: Vec<u32> = (0..total as u32).collect();
            let positions: Vec<u16> = (0..total).map(|i| i as u16).collect();
            offsets.truncate(offsets.len().saturating_sub(cut_offsets));
            let postings = Postings { shift, buckets: &buckets, keys: &keys, offsets: &offsets, seqs: &seqs, positions: &positions };
            // Present k-mers too, not only random ones.
            let queries: Vec<u32> = queries.iter().chain(keys.iter().step_by(7)).copied().collect();
            let mut batched = Vec::new();
            postings.ranges(&queries, &mut batched);
            let single: Vec<Range<usize>> = queries.iter().map(|&k| postings.range(k)).collect();
            prop_assert_eq!(&batched, &single);
            for (range, &kmer) in single.iter().zip(&queries) {
                let expected = match keys.binary_search(&kmer) {
                    Ok(i) if i + 1 < offsets.len() => offsets[i] as usize..offsets[i + 1] as usize,
                    _ => 0..0,
                };
                prop_assert_eq!(range, &expected);
                prop_assert_eq!(postings.get(range.clone()).0.len(), range.len());
            }
        }

        /// The vector and table loops decode every base of every range like a base-by-base decoding, for
        /// any symbol table, start, end and what the output already held.
        #[test]
        fn unpacking_matches_base_by_base(
            packed in proptest::collection::vec(any::<u8>(), 0..200),
            start in 0usize..800,
            len in 0usize..800,
            symbols in any::<[u8; 4]>(),
            prefix in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let start = start.min(packed.len() * 4);
            let end = (start + len).min(packed.len() * 4);
            let mut table = [0u8; 256];
            for (code, &base) in b"ACGT".iter().enumerate() {
                table[base as usize] = symbols[code];
            }
            let decoding = Decoding::new(table);
            let mut expected = prefix.clone();
            expected.extend((start..end).map(|i| symbols[((packed[i / 4] >> (2 * (i % 4))) & 3) as usize]));
            for vector in [false, true] {
                let mut out = prefix.clone();
                out.resize(prefix.len() + (end - start), 0);
                unpack_range_with(&packed, start, &decoding, &mut out[prefix.len()..], vector);
                prop_assert_eq!(&out, &expected);
            }
        }
    }
}
