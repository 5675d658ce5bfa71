//! The build: read every input, normalise and deduplicate sequences, build taxonomy, occurrences and
//! seeds, and write the index through [`edna_index::IndexWriter`].
//!
//! Determinism: inputs are read in the order given, records in file order; sequence ids follow a locality
//! order (marker, taxon, nucleotideSequenceID), taxa a sorted depth-first order, postings are sorted; so the
//! same inputs give byte-identical files whatever the thread count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use edna_index::format::SectionKind as K;
use edna_index::meta::{
    canonical_marker, cover, DatasetInfo, IndexMeta, InputIssue, LibraryInfo, MarkerSpans, SeedParams, ShardInfo,
    MAX_MARKER_SPANS,
};
use edna_index::schema::*;
use edna_index::{IndexError, IndexWriter};
use rayon::prelude::*;

use crate::dwca::{self, ArchiveLimits, DwcaSink};
use crate::model::{DatasetMeta, LibraryMeta, OccurrenceRecord, RankedName, ReferenceRecord, Warning};
use crate::reference::{self, LibrarySpec};

mod fasthash;
mod spill;
use fasthash::FastMap;
use spill::Spill;

/// Default seed parameters: k-mers of 14 and windows of 11, so every exact shared run of
/// `w + k − 1 = 24` bases yields a seed (lossless at ≥ 97 % identity over ≥ 100 bp).
pub const DEFAULT_SEEDS: SeedParams = SeedParams {
    k: 14,
    w: 11,
    hash_seed: 0x5eed_d0a1,
    bucket_bits: 20,
};

/// A GBIF reference-database package to read.
#[derive(Debug, Clone)]
pub struct RefdbSpec {
    /// Folder with data.tsv, sequences.fasta, metadata.yaml.
    pub dir: PathBuf,
    /// Marker override.
    pub marker: Option<String>,
    /// Name override.
    pub name: Option<String>,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Index directory to create or replace.
    pub out: PathBuf,
    /// Reference FASTA libraries.
    pub references: Vec<LibrarySpec>,
    /// GBIF reference-database packages.
    pub refdbs: Vec<RefdbSpec>,
    /// Darwin Core Archives, table folders or GBIF FASTA downloads.
    pub dwca: Vec<PathBuf>,
    /// Seed parameters.
    pub seeds: SeedParams,
    /// Zip safety limits.
    pub limits: ArchiveLimits,
    /// Build only this partition of the distinct sequences (see [`ShardInfo`]); `None` builds them all.
    pub shard: Option<ShardInfo>,
    /// Build only the sequences of these markers (canonical names, see `canonical_marker`): a marker
    /// shard, for routing by marker. Empty builds every marker.
    pub only_markers: Vec<String>,
}

/// Build failures that stop the build (per-record problems are counted in the summary instead).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A reference library could not be read.
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
    /// A dataset could not be read.
    #[error(transparent)]
    Dwca(#[from] dwca::DwcaError),
    /// Writing or verifying the index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Nothing to index.
    #[error("no input: give at least one --reference, --refdb or --dwca")]
    NoInput,
    /// Build-time taxon assignment failed.
    #[error("assigning occurrence sequences: {0}")]
    Assign(String),
    /// A spill file could not be written or read back.
    #[error("temporary spill file in {}: {source}", dir.display())]
    Spill {
        /// The directory of the spill files.
        dir: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Too large for the format's 32-bit ids.
    #[error("input too large: {0}")]
    TooLarge(String),
}

/// Progress events, for a progress bar in the binary.
pub trait Progress: Sync {
    /// A stage starts (`total` units when known).
    fn stage(&self, name: &str, total: Option<u64>);
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
}

/// A progress sink that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn stage(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}

/// Assigns occurrence sequences to taxa against the reference libraries at build time. The search
/// engine implements it; the builder does not depend on the engine.
pub trait OccurrenceAssigner: Sync {
    /// `reference_index` is a finished index of the reference libraries alone; each query is a cleaned
    /// occurrence sequence with its canonical marker. Returns the consensus lineage (top down) per query,
    /// or `None` when nothing can be said.
    fn assign(
        &self,
        reference_index: &Path,
        queries: &[(Vec<u8>, Option<String>)],
        progress: &dyn Progress,
    ) -> Result<Vec<Option<Vec<RankedName>>>, String>;
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    /// The index file written.
    pub path: PathBuf,
    /// Its metadata (counts, libraries, datasets, issues).
    pub meta: IndexMeta,
    /// Size of the index file.
    pub index_bytes: u64,
}

#[derive(Default)]
struct Strings {
    heap: Vec<u8>,
    map: FastMap<String, StrRef>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> StrRef {
        if s.is_empty() {
            return StrRef::default();
        }
        if let Some(r) = self.map.get(s) {
            return *r;
        }
        let r = StrRef {
            offset: self.heap.len() as u32,
            len: s.len() as u32,
        };
        self.heap.extend_from_slice(s.as_bytes());
        self.map.insert(s.to_string(), r);
        r
    }
    fn opt(&mut self, s: &Option<String>) -> StrRef {
        s.as_deref().map_or(StrRef::default(), |s| self.intern(s.trim()))
    }
}

#[derive(Default)]
struct Issues(HashMap<(String, String), InputIssue>);

impl Issues {
    fn add(&mut self, file: &str, reason: &str, first: String) {
        self.0
            .entry((file.to_string(), reason.to_string()))
            .or_insert_with(|| InputIssue {
                file: file.to_string(),
                reason: reason.to_string(),
                count: 0,
                first,
            })
            .count += 1;
    }
    fn warning(&mut self, w: &Warning) {
        self.add(&w.pos.file, w.reason, format!("{}: {}", w.pos, w.message));
    }
    fn into_sorted(self) -> Vec<InputIssue> {
        let mut v: Vec<InputIssue> = self.0.into_values().collect();
        v.sort_by(|a, b| (&a.file, &a.reason).cmp(&(&b.file, &b.reason)));
        v
    }
}

/// Taxonomy trie keyed by (parent, name); ranks from the first time a name is seen under a parent.
#[derive(Default)]
struct TaxonTrie {
    nodes: Vec<(u32, String, String)>, // (parent or NONE, rank, name)
    index: HashMap<(u32, String), u32>,
}

impl TaxonTrie {
    fn insert(&mut self, lineage: &[RankedName]) -> u32 {
        let mut parent = NONE;
        for rn in lineage {
            let name = rn.name.trim();
            if name.is_empty() {
                continue;
            }
            let key = (parent, name.to_string());
            parent = match self.index.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push((parent, rn.rank.clone(), name.to_string()));
                    self.index.insert(key, id);
                    id
                }
            };
        }
        parent
    }

    /// Final ids: depth-first, children sorted by (name, rank), so parents precede children and the order
    /// does not depend on input order. Returns (order of temporary ids, map temp → final).
    fn finalize(&self) -> (Vec<u32>, Vec<u32>) {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (id, (parent, _, _)) in self.nodes.iter().enumerate() {
            children.entry(*parent).or_default().push(id as u32);
        }
        for list in children.values_mut() {
            list.sort_by(|&a, &b| {
                let (na, nb) = (&self.nodes[a as usize], &self.nodes[b as usize]);
                (&na.2, &na.1).cmp(&(&nb.2, &nb.1))
            });
        }
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<u32> = children
            .get(&NONE)
            .map(|c| c.iter().rev().copied().collect())
            .unwrap_or_default();
        while let Some(id) = stack.pop() {
            order.push(id);
            if let Some(c) = children.get(&id) {
                stack.extend(c.iter().rev());
            }
        }
        let mut map = vec![NONE; self.nodes.len()];
        for (new, &old) in order.iter().enumerate() {
            map[old as usize] = new as u32;
        }
        (order, map)
    }
}

/// Distinct normalised sequences, keyed by nucleotideSequenceID digest, kept 2-bit packed (one large
/// arena instead of a vector per sequence: a quarter of the bytes, and memory the allocator can return).
#[derive(Default)]
struct SeqStore {
    by_md5: FastMap<[u8; 16], u32>,
    /// Packed bases; each sequence starts on a fresh byte.
    packed: Vec<u8>,
    /// Per sequence: (first byte in `packed`, length, first exception).
    entries: Vec<(u64, u32, u32)>,
    /// Non-ACGT symbols: (position in its sequence, symbol).
    exceptions: Vec<(u32, u8)>,
    md5: Vec<[u8; 16]>,
}

impl SeqStore {
    fn add(&mut self, cleaned: Vec<u8>) -> u32 {
        let d = edna_seq::normalize::md5_bytes(&cleaned);
        self.add_digested(&cleaned, d)
    }

    /// [`SeqStore::add`] for a sequence already digested and packed (by [`prepare_row`], in parallel).
    fn add_packed(&mut self, p: &PackedSeq) -> u32 {
        if let Some(&id) = self.by_md5.get(&p.md5) {
            return id;
        }
        let id = self.entries.len() as u32;
        self.by_md5.insert(p.md5, id);
        self.entries
            .push((self.packed.len() as u64, p.len, self.exceptions.len() as u32));
        self.packed.extend_from_slice(&p.packed);
        self.exceptions.extend_from_slice(&p.exceptions);
        self.md5.push(p.md5);
        id
    }

    /// [`SeqStore::add`] for a sequence whose digest `d` is known.
    fn add_digested(&mut self, cleaned: &[u8], d: [u8; 16]) -> u32 {
        if let Some(&id) = self.by_md5.get(&d) {
            return id;
        }
        let id = self.entries.len() as u32;
        self.by_md5.insert(d, id);
        self.entries.push((
            self.packed.len() as u64,
            cleaned.len() as u32,
            self.exceptions.len() as u32,
        ));
        edna_seq::pack::pack_into(cleaned, &mut self.packed, &mut self.exceptions);
        self.md5.push(d);
        id
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Packed bytes, length and exceptions of sequence `id`.
    fn parts(&self, id: u32) -> (&[u8], usize, &[(u32, u8)]) {
        let (offset, len, exc) = self.entries[id as usize];
        let exc_end = self
            .entries
            .get(id as usize + 1)
            .map_or(self.exceptions.len(), |e| e.2 as usize);
        let start = offset as usize;
        (
            &self.packed[start..start + (len as usize).div_ceil(4)],
            len as usize,
            &self.exceptions[exc as usize..exc_end],
        )
    }

    /// Sequence `id`, unpacked into `out`.
    fn get_into(&self, id: u32, out: &mut Vec<u8>) {
        let (packed, len, exceptions) = self.parts(id);
        edna_seq::pack::unpack_into(packed, len, exceptions.iter().copied(), out);
    }
}

struct RefTmp {
    seq: u32,
    taxon: u32,
    library: u32,
    id: StrRef,
    name: StrRef,
    accession: StrRef,
}

/// A spilled occurrence: its own fields, where its `occurrenceID` is in the id spill, and how many DNA
/// rows follow it in the row spill.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct SpilledOcc {
    id_start: u64,
    id_len: u32,
    event: u32,
    name: u32,
    n_dna: u32,
    organism_quantity: f64,
}

/// Fixed-width records stored once each (events, names, assays), with a map from their bytes.
struct Dedup<T> {
    items: Vec<T>,
    map: FastMap<Vec<u8>, u32>,
}

impl<T> Default for Dedup<T> {
    fn default() -> Self {
        Dedup {
            items: Vec::new(),
            map: FastMap::default(),
        }
    }
}

impl<T: bytemuck::Pod> Dedup<T> {
    fn id(&mut self, item: T) -> u32 {
        let key = bytemuck::bytes_of(&item);
        if let Some(&i) = self.map.get(key) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(item);
        self.map.insert(key.to_vec(), i);
        i
    }
}

/// The three spill files of the occurrences.
struct OccSpills {
    occs: Spill<SpilledOcc>,
    /// Rows hold the temporary sequence id in `seq` and the temporary legacy id in `legacy`.
    rows: Spill<OccDna>,
    ids: Spill<u8>,
}

/// Occurrences as read. What occurrences share (events, names, assays) is deduplicated in memory; what
/// each has of its own goes to spill files in the output directory and is streamed back into the
/// sections when the index is written, so the occurrences cost no memory per record.
struct OccStore {
    dir: PathBuf,
    spills: Option<OccSpills>,
    /// The first spill failure (reported when reading ends).
    error: Option<std::io::Error>,
    events: Dedup<OccEvent>,
    names: Dedup<OccName>,
    assays: Dedup<OccAssay>,
    /// The first DNA row of each distinct occurrence sequence, in first-seen order: (temporary sequence,
    /// marker, name).
    first_rows: Vec<[u32; 3]>,
    seen: Vec<bool>,
    /// Set by a shard build: what of the spilled occurrences stays, and how their ids change.
    shard: Option<ShardMaps>,
    /// Occurrences read.
    len: u64,
}

impl OccStore {
    fn new(dir: &Path) -> Self {
        OccStore {
            dir: dir.to_path_buf(),
            spills: None,
            error: None,
            events: Dedup::default(),
            names: Dedup::default(),
            assays: Dedup::default(),
            first_rows: Vec::new(),
            seen: Vec::new(),
            shard: None,
            len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Spills one occurrence (rows hold temporary sequence ids).
    fn push(&mut self, mut occ: SpilledOcc, id: &str, rows: &[OccDna]) {
        for r in rows {
            if r.seq != NONE {
                let s = r.seq as usize;
                if s >= self.seen.len() {
                    self.seen.resize(s + 1, false);
                }
                if !std::mem::replace(&mut self.seen[s], true) {
                    self.first_rows.push([r.seq, r.marker, occ.name]);
                }
            }
        }
        self.len += 1;
        if self.error.is_some() {
            return;
        }
        let result = (|| {
            if self.spills.is_none() {
                std::fs::create_dir_all(&self.dir)?;
                self.spills = Some(OccSpills {
                    occs: Spill::new(&self.dir)?,
                    rows: Spill::new(&self.dir)?,
                    ids: Spill::new(&self.dir)?,
                });
            }
            let Some(sp) = self.spills.as_mut() else {
                return Ok(());
            };
            occ.id_start = sp.ids.len();
            occ.id_len = id.len() as u32;
            occ.n_dna = rows.len() as u32;
            sp.ids.extend(id.as_bytes())?;
            sp.rows.extend(rows)?;
            sp.occs.push(&occ)
        })();
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Fails with the first spill error, if any.
    fn check(&mut self) -> Result<(), BuildError> {
        match self.error.take() {
            Some(source) => Err(BuildError::Spill {
                dir: self.dir.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Calls `f(i, occurrence, rows, id)` for every spilled occurrence `i` in input order (`id` is empty
    /// unless `with_ids`). Rows hold the temporary sequence ids as spilled.
    fn for_each(
        &mut self,
        with_ids: bool,
        mut f: impl FnMut(u64, &SpilledOcc, &[OccDna], &[u8]) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let dir = self.dir.clone();
        let io = |source| BuildError::Spill {
            dir: dir.clone(),
            source,
        };
        let Some(sp) = self.spills.as_mut() else {
            return Ok(());
        };
        let (mut occs, mut rows, mut ids) = (
            sp.occs.reader().map_err(io)?,
            sp.rows.reader().map_err(io)?,
            sp.ids.reader().map_err(io)?,
        );
        let (mut row_buf, mut id_buf) = (Vec::new(), Vec::new());
        let mut i = 0u64;
        while let Some(o) = occs.next().map_err(io)? {
            rows.take_into(o.n_dna as usize, &mut row_buf).map_err(io)?;
            if with_ids {
                ids.take_into(o.id_len as usize, &mut id_buf).map_err(io)?;
            }
            f(i, &o, &row_buf, &id_buf)?;
            i += 1;
        }
        Ok(())
    }

    /// How the spilled ids appear in the index being written.
    fn view(&self) -> OccView<'_> {
        OccView(&self.shard)
    }
}

/// Spilled occurrence ids as written: unchanged, or through a shard's maps.
#[derive(Clone, Copy)]
struct OccView<'a>(&'a Option<ShardMaps>);

impl OccView<'_> {
    /// Whether occurrence `i` is in the index being written.
    fn kept(self, i: u64) -> bool {
        self.0.as_ref().is_none_or(|m| m.keep[i as usize])
    }

    /// A spilled temporary sequence id as the current temporary id (NONE outside a shard).
    fn seq(self, spilled: u32) -> u32 {
        match (self.0, spilled) {
            (_, NONE) => NONE,
            (Some(m), s) => m.seq[s as usize],
            (None, s) => s,
        }
    }

    /// A spilled event id as written.
    fn event(self, spilled: u32) -> u32 {
        self.0.as_ref().map_or(spilled, |m| m.event[spilled as usize])
    }

    /// A spilled name id as written.
    fn name(self, spilled: u32) -> u32 {
        self.0.as_ref().map_or(spilled, |m| m.name[spilled as usize])
    }

    /// A spilled assay id as written.
    fn assay(self, spilled: u32) -> u32 {
        self.0.as_ref().map_or(spilled, |m| m.assay[spilled as usize])
    }
}

/// How a shard build sees the spilled occurrences.
struct ShardMaps {
    /// Per occurrence in spill order: kept.
    keep: Vec<bool>,
    /// Spilled temporary sequence id → the shard's temporary id, or NONE.
    seq: Vec<u32>,
    /// Spilled event, name and assay ids → the shard's (NONE when unused).
    event: Vec<u32>,
    name: Vec<u32>,
    assay: Vec<u32>,
}

/// Keeps the `used` items, passing each through `f`; returns them and the map old → new (NONE if unused).
fn compact<T: Copy>(items: &[T], used: &[bool], mut f: impl FnMut(T) -> T) -> (Vec<T>, Vec<u32>) {
    let mut kept = Vec::new();
    let map = items
        .iter()
        .zip(used)
        .map(|(&item, &u)| {
            if u {
                kept.push(f(item));
                kept.len() as u32 - 1
            } else {
                NONE
            }
        })
        .collect();
    (kept, map)
}

/// The state the readers feed.
struct Collector<'a> {
    strings: Strings,
    issues: Issues,
    taxa: TaxonTrie,
    seqs: SeqStore,
    refs: Vec<RefTmp>,
    occs: OccStore,
    /// Legacy dnaSequenceID digests (GBIF gives one to every non-empty published sequence, valid or not)
    /// with their temporary sequence id (NONE for an invalid one) and whether a shard dropped them,
    /// indexed by temporary legacy id.
    legacy: Vec<([u8; 16], u32, bool)>,
    legacy_ids: FastMap<[u8; 16], u32>,
    libraries: Vec<LibraryInfo>,
    datasets: Vec<DatasetInfo>,
    markers: Vec<String>,
    marker_ids: HashMap<String, u32>,
    input_bases: u64,
    /// Temporary sequence id → temporary taxon id from build-time assignment.
    assigned: HashMap<u32, u32>,
    progress: &'a dyn Progress,
}

impl Collector<'_> {
    fn marker_id(&mut self, raw: &str) -> u32 {
        let canon = canonical_marker(raw);
        if canon.is_empty() {
            return NONE;
        }
        if let Some(&id) = self.marker_ids.get(&canon) {
            return id;
        }
        let id = self.markers.len() as u32;
        self.markers.push(canon.clone());
        self.marker_ids.insert(canon, id);
        id
    }

    fn reference(&mut self, library: u32, rec: ReferenceRecord) {
        self.input_bases += rec.sequence.len() as u64;
        // References keep their ends (no GBIF anchor trimming): peers align against every base.
        let cleaned = match edna_seq::normalize::clean_reference(&rec.sequence) {
            Ok(c) if c.is_empty() => {
                self.issues.add(
                    &rec.pos.file,
                    "empty-sequence",
                    format!("{}: {} has no bases", rec.pos, rec.id),
                );
                return;
            }
            Ok(c) => c,
            Err(why) => {
                let reason = match why {
                    edna_seq::normalize::Invalid::NaturalLanguage => "natural-language",
                    edna_seq::normalize::Invalid::NonIupac { .. } => "non-iupac",
                };
                self.issues
                    .add(&rec.pos.file, reason, format!("{}: {}: {why}", rec.pos, rec.id));
                return;
            }
        };
        let seq = self.seqs.add(cleaned);
        let taxon = if rec.lineage.is_empty() {
            NONE
        } else {
            self.taxa.insert(&rec.lineage)
        };
        // Ids become TSV/blast6 columns and SAM reference names: no tabs or line breaks inside.
        let id = if rec.id.contains(['\t', '\r', '\n']) {
            self.strings.intern(&rec.id.replace(['\t', '\r', '\n'], " "))
        } else {
            self.strings.intern(&rec.id)
        };
        let name = self.strings.opt(&rec.name);
        let accession = self.strings.opt(&rec.accession);
        self.refs.push(RefTmp {
            seq,
            taxon,
            library,
            id,
            name,
            accession,
        });
        self.progress.advance(1);
    }

    fn occurrence(&mut self, dataset: u32, rec: OccurrenceRecord, prepared: Vec<PreparedRow>) {
        let f = |x: Option<f64>| x.unwrap_or(f64::NAN);
        let published_taxon = if rec.lineage.is_empty() && rec.scientific_name.is_none() {
            NONE
        } else {
            let mut lineage = rec.lineage.clone();
            if let Some(name) = rec.scientific_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                if lineage.last().is_none_or(|l| l.name != name) {
                    let rank = rec
                        .taxon_rank
                        .clone()
                        .unwrap_or_else(|| "unranked".into())
                        .to_ascii_lowercase();
                    lineage.push(RankedName {
                        rank,
                        name: name.to_string(),
                    });
                }
            }
            self.taxa.insert(&lineage)
        };
        let s = &mut self.strings;
        let event = self.occs.events.id(OccEvent {
            dataset,
            _pad: 0,
            event_date: s.opt(&rec.event_date),
            country_code: s.opt(&rec.country_code),
            locality: s.opt(&rec.locality),
            material_sample_id: s.opt(&rec.material_sample_id),
            basis_of_record: s.opt(&rec.basis_of_record),
            organism_quantity_type: s.opt(&rec.organism_quantity_type),
            sample_size_unit: s.opt(&rec.sample_size_unit),
            decimal_latitude: f(rec.decimal_latitude),
            decimal_longitude: f(rec.decimal_longitude),
            sample_size_value: f(rec.sample_size_value),
        });
        let name = self.occs.names.id(OccName {
            published_taxon,
            _pad: 0,
            scientific_name: s.opt(&rec.scientific_name),
            taxon_rank: s.opt(&rec.taxon_rank),
        });
        let mut rows = Vec::with_capacity(rec.dna.len());
        for (row, prep) in rec.dna.iter().zip(prepared) {
            self.input_bases += row.sequence.len() as u64;
            let seq = match &prep.seq {
                Ok(packed) => self.seqs.add_packed(packed),
                Err(reason) => {
                    self.issues.add(
                        &row.pos.file,
                        reason,
                        format!("{}: occurrence {}", row.pos, rec.occurrence_id),
                    );
                    NONE
                }
            };
            // The raw text decides the digest and the digest the sequence: one entry per digest.
            let legacy = prep.legacy.map_or(NONE, |md5| {
                let next = self.legacy.len() as u32;
                let id = *self.legacy_ids.entry(md5).or_insert(next);
                if id == next {
                    self.legacy.push((md5, seq, false));
                }
                id
            });
            let marker = row.target_gene.as_deref().map_or(NONE, |g| self.marker_id(g));
            let s = &mut self.strings;
            let assay = self.occs.assays.id(OccAssay {
                target_gene: s.opt(&row.target_gene),
                pcr_primer_forward: s.opt(&row.pcr_primer_forward),
                pcr_primer_reverse: s.opt(&row.pcr_primer_reverse),
                pcr_primer_name_forward: s.opt(&row.pcr_primer_name_forward),
                pcr_primer_name_reverse: s.opt(&row.pcr_primer_name_reverse),
            });
            rows.push(OccDna {
                seq,
                marker,
                assay,
                legacy,
                assigned_taxon: NONE,
            });
        }
        if let Some(d) = self.datasets.get_mut(dataset as usize) {
            d.occurrences += 1;
            d.dna_rows += rec.dna.len() as u64;
        }
        let occ = SpilledOcc {
            event,
            name,
            organism_quantity: f(rec.organism_quantity),
            ..Default::default()
        };
        self.occs.push(occ, &rec.occurrence_id, &rows);
        self.progress.advance(1);
    }
}

/// A DNA row's sequence cleaned as GBIF does and digested, or why it has none, and its legacy digest: the
/// part of reading that needs no shared state, so it runs in parallel over a batch of occurrences.
struct PreparedRow {
    seq: Result<PackedSeq, &'static str>,
    legacy: Option<[u8; 16]>,
}

/// A cleaned sequence, digested and 2-bit packed as [`SeqStore`] keeps it.
struct PackedSeq {
    md5: [u8; 16],
    len: u32,
    packed: Vec<u8>,
    exceptions: Vec<(u32, u8)>,
}

fn prepare_row(raw: &str) -> PreparedRow {
    use edna_seq::normalize::{clean, legacy_dna_sequence_digest, md5_bytes, Invalid};
    let seq = match clean(raw.as_bytes()) {
        Ok(c) if !c.is_empty() => {
            let (mut packed, mut exceptions) = (Vec::with_capacity(c.len().div_ceil(4)), Vec::new());
            edna_seq::pack::pack_into(&c, &mut packed, &mut exceptions);
            Ok(PackedSeq {
                md5: md5_bytes(&c),
                len: c.len() as u32,
                packed,
                exceptions,
            })
        }
        Ok(_) if raw.trim().is_empty() => Err("empty-sequence"),
        Ok(_) => Err("no-anchor"),
        Err(Invalid::NaturalLanguage) => Err("natural-language"),
        Err(Invalid::NonIupac { .. }) => Err("non-iupac"),
    };
    PreparedRow {
        seq,
        legacy: legacy_dna_sequence_digest(raw),
    }
}

/// What a reader thread found, in reading order.
enum Found {
    Dataset(DatasetMeta),
    Occurrences(Vec<OccurrenceRecord>),
    Warning(Warning),
}

/// Forwards a reader's findings to the collecting thread, occurrences in batches.
struct ChannelSink {
    tx: std::sync::mpsc::SyncSender<Found>,
    batch: Vec<OccurrenceRecord>,
}

impl ChannelSink {
    fn send_batch(&mut self) {
        if !self.batch.is_empty() {
            // The receiver lives until the reader ends; a failed send cannot happen.
            let _ = self.tx.send(Found::Occurrences(std::mem::take(&mut self.batch)));
        }
    }
}

impl DwcaSink for ChannelSink {
    fn dataset(&mut self, meta: DatasetMeta) {
        self.send_batch();
        let _ = self.tx.send(Found::Dataset(meta));
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        self.batch.push(record);
        if self.batch.len() >= OCCURRENCE_BATCH {
            self.send_batch();
        }
    }
    fn warning(&mut self, warning: Warning) {
        self.send_batch();
        let _ = self.tx.send(Found::Warning(warning));
    }
}

/// Occurrences per parallel batch.
const OCCURRENCE_BATCH: usize = 8192;

struct Sink<'a, 'b> {
    c: &'a mut Collector<'b>,
    root: PathBuf,
    /// Occurrences (with their dataset) whose rows are prepared together; dataset announcements and
    /// warnings flush it first, so everything reaches the collector in reading order.
    batch: Vec<(u32, OccurrenceRecord)>,
}

impl Sink<'_, '_> {
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let prepared: Vec<Vec<PreparedRow>> = batch
            .par_iter()
            .map(|(_, rec)| rec.dna.iter().map(|row| prepare_row(&row.sequence)).collect())
            .collect();
        for ((dataset, rec), rows) in batch.into_iter().zip(prepared) {
            self.c.occurrence(dataset, rec, rows);
        }
    }
}

impl DwcaSink for Sink<'_, '_> {
    fn dataset(&mut self, meta: DatasetMeta) {
        self.flush();
        let path = meta
            .path
            .strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or(meta.path.clone());
        self.c.datasets.push(DatasetInfo {
            key: meta.key,
            title: meta.title,
            licence: meta.licence,
            path: path.display().to_string(),
            occurrences: 0,
            dna_rows: 0,
        });
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        if self.c.datasets.is_empty() {
            // A reader must announce its dataset first; keep the record anyway under an anonymous one.
            self.dataset(DatasetMeta {
                key: "unnamed".into(),
                title: "unnamed".into(),
                ..Default::default()
            });
        }
        let ds = (self.c.datasets.len() - 1) as u32;
        self.batch.push((ds, record));
        if self.batch.len() >= OCCURRENCE_BATCH {
            self.flush();
        }
    }
    fn warning(&mut self, warning: Warning) {
        self.flush();
        self.c.issues.warning(&warning);
    }
}

fn library_info(meta: LibraryMeta, records: u64) -> LibraryInfo {
    LibraryInfo {
        name: meta.name,
        marker: canonical_marker(&meta.marker),
        version: meta.version,
        title: meta.title,
        licence: meta.licence,
        records,
        sequences: 0,
        files: meta.files.iter().map(|p| p.display().to_string()).collect(),
    }
}

/// Builds an index from `config`; the new index replaces the old one only once complete and verified.
pub fn build(config: &BuildConfig, progress: &dyn Progress) -> Result<BuildSummary, BuildError> {
    build_with(config, progress, None)
}

/// As [`build`], and with an `assigner` every distinct occurrence sequence gets a consensus taxon against
/// the reference libraries of the same build (kept beside the published one, with its own bitmaps).
pub fn build_with(
    config: &BuildConfig,
    progress: &dyn Progress,
    assigner: Option<&dyn OccurrenceAssigner>,
) -> Result<BuildSummary, BuildError> {
    if config.references.is_empty() && config.refdbs.is_empty() && config.dwca.is_empty() {
        return Err(BuildError::NoInput);
    }
    let mut c = Collector {
        strings: Strings::default(),
        issues: Issues::default(),
        taxa: TaxonTrie::default(),
        seqs: SeqStore::default(),
        refs: Vec::new(),
        occs: OccStore::new(&config.out),
        legacy: Vec::new(),
        legacy_ids: FastMap::default(),
        libraries: Vec::new(),
        datasets: Vec::new(),
        markers: Vec::new(),
        marker_ids: HashMap::new(),
        input_bases: 0,
        assigned: HashMap::new(),
        progress,
    };

    // Reference libraries: files are parsed in parallel, then merged in the order given.
    progress.stage("reading reference libraries", None);
    enum Lib<'a> {
        Fasta(&'a LibrarySpec),
        Refdb(&'a RefdbSpec),
    }
    let libs: Vec<Lib> = config
        .references
        .iter()
        .map(Lib::Fasta)
        .chain(config.refdbs.iter().map(Lib::Refdb))
        .collect();
    type LibRead = Result<(LibraryMeta, Vec<ReferenceRecord>, Vec<Warning>), reference::ReferenceError>;
    let read: Vec<LibRead> = libs
        .par_iter()
        .map(|lib| {
            let mut recs = Vec::new();
            let mut warns = Vec::new();
            let meta = match lib {
                Lib::Fasta(spec) => reference::read_library(spec, &mut |r| recs.push(r), &mut |w| warns.push(w))?,
                Lib::Refdb(spec) => reference::read_refdb(
                    &spec.dir,
                    spec.marker.as_deref(),
                    spec.name.as_deref(),
                    &mut |r| recs.push(r),
                    &mut |w| warns.push(w),
                )?,
            };
            Ok((meta, recs, warns))
        })
        .collect();
    for r in read {
        let (meta, recs, warns) = r?;
        for w in &warns {
            c.issues.warning(w);
        }
        let library = c.libraries.len() as u32;
        c.libraries.push(library_info(meta, recs.len() as u64));
        let marker = c.libraries[library as usize].marker.clone();
        c.marker_id(&marker);
        for rec in recs {
            c.reference(library, rec);
        }
    }

    progress.stage("reading datasets", None);
    for path in &config.dwca {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut sink = Sink {
            c: &mut c,
            root,
            batch: Vec::new(),
        };
        // The reader (unzipping, parsing, allocating records) runs on its own thread, the collector on
        // this one: at GBIF scale each would otherwise wait for the other. Findings arrive in reading
        // order, so the index does not depend on the threads.
        let read = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(4);
            let reader = scope.spawn(move || {
                let mut forward = ChannelSink { tx, batch: Vec::new() };
                let read = dwca::read_dwca(path, &config.limits, &mut forward);
                forward.send_batch();
                read
            });
            for found in rx {
                match found {
                    Found::Dataset(meta) => sink.dataset(meta),
                    Found::Occurrences(records) => records.into_iter().for_each(|r| sink.occurrence(r)),
                    Found::Warning(w) => sink.warning(w),
                }
            }
            reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        sink.flush();
        read?;
        c.occs.check()?;
    }
    // Lookup tables needed only while reading.
    c.legacy_ids = FastMap::default();
    c.occs.seen = Vec::new();
    c.occs.events.map = FastMap::default();
    c.occs.names.map = FastMap::default();
    c.occs.assays.map = FastMap::default();
    if let Some(assigner) = assigner {
        if !c.refs.is_empty() && !c.occs.is_empty() {
            assign_occurrences(config, &mut c, assigner, progress)?;
        }
    }
    if config.shard.is_some() || !config.only_markers.is_empty() {
        keep_shard(&mut c, config.shard, &config.only_markers)?;
    }
    write_index(config, c, progress)
}

/// Keeps the distinct sequences of partition `shard` and of the markers `only` (either may be absent)
/// with their reference records, occurrences and legacy ids, after everything was read (and assigned), so
/// that a shard holds exactly what the whole index holds for those sequences. A sequence is of a marker
/// when a reference record of a library of that marker or an occurrence DNA row of that marker carries
/// it. Occurrences follow their sequences: one whose DNA rows fall in several shards is kept in each
/// (rows of other shards lose their sequence link there); one without any valid sequence goes to
/// partition 0, and to a marker shard when one of its rows names the marker. Taxa, libraries, datasets
/// and input issues stay complete; strings are re-interned so a shard carries only its own.
fn keep_shard(c: &mut Collector<'_>, shard: Option<ShardInfo>, only: &[String]) -> Result<(), BuildError> {
    let wanted: Vec<bool> = c.markers.iter().map(|m| only.contains(m)).collect();
    let marker_ok = |m: u32| only.is_empty() || wanted.get(m as usize).copied().unwrap_or(false);
    // Which temporary sequences are of a wanted marker.
    let mut of_marker = vec![only.is_empty(); c.seqs.len()];
    if !only.is_empty() {
        for r in &c.refs {
            if c.libraries
                .get(r.library as usize)
                .is_some_and(|l| only.contains(&l.marker))
            {
                of_marker[r.seq as usize] = true;
            }
        }
        c.occs.for_each(false, |_, _, rows, _| {
            for r in rows {
                if r.seq != NONE && marker_ok(r.marker) {
                    of_marker[r.seq as usize] = true;
                }
            }
            Ok(())
        })?;
    }
    let old = std::mem::take(&mut c.seqs);
    let mut remap = vec![NONE; old.len()];
    let mut seq = Vec::new();
    for (i, md5) in old.md5.iter().enumerate() {
        if of_marker[i] && shard.is_none_or(|s| s.holds(md5)) {
            old.get_into(i as u32, &mut seq);
            remap[i] = c.seqs.add_digested(&seq, *md5);
        }
    }
    drop((old, of_marker));
    let keeps_unlinked = |rows: &[OccDna]| {
        shard.is_none_or(|s| s.index == 0) && (only.is_empty() || rows.iter().any(|r| marker_ok(r.marker)))
    };
    let old_strings = std::mem::take(&mut c.strings);
    let strings = &mut c.strings;
    let mut re = |r: StrRef| {
        let s = taxon_name(&old_strings.heap, r);
        strings.intern(s)
    };
    c.refs.retain_mut(|r| {
        r.seq = remap[r.seq as usize];
        if r.seq == NONE {
            return false;
        }
        (r.id, r.name, r.accession) = (re(r.id), re(r.name), re(r.accession));
        true
    });
    // Which occurrences stay, and the events, names and assays they use. Dataset counts describe this
    // shard's occurrences, as `IndexMeta::occurrences` does.
    for d in &mut c.datasets {
        (d.occurrences, d.dna_rows) = (0, 0);
    }
    let occs = &mut c.occs;
    let event_dataset: Vec<u32> = occs.events.items.iter().map(|e| e.dataset).collect();
    let mut keep = vec![false; occs.len as usize];
    let mut used_events = vec![false; occs.events.items.len()];
    let mut used_names = vec![false; occs.names.items.len()];
    let mut used_assays = vec![false; occs.assays.items.len()];
    let datasets = &mut c.datasets;
    occs.for_each(false, |i, o, rows, _| {
        let had_sequence = rows.iter().any(|d| d.seq != NONE);
        let linked = |d: &OccDna| d.seq != NONE && remap[d.seq as usize] != NONE;
        if rows.iter().any(linked) || (!had_sequence && keeps_unlinked(rows)) {
            keep[i as usize] = true;
            used_events[o.event as usize] = true;
            used_names[o.name as usize] = true;
            for r in rows {
                used_assays[r.assay as usize] = true;
            }
            if let Some(d) = datasets.get_mut(event_dataset[o.event as usize] as usize) {
                d.occurrences += 1;
                d.dna_rows += rows.len() as u64;
            }
        }
        Ok(())
    })?;
    let (events, event) = compact(&occs.events.items, &used_events, |mut e| {
        for r in e.strings_mut() {
            *r = re(*r);
        }
        e
    });
    let (names, name) = compact(&occs.names.items, &used_names, |mut n| {
        (n.scientific_name, n.taxon_rank) = (re(n.scientific_name), re(n.taxon_rank));
        n
    });
    let (assays, assay) = compact(&occs.assays.items, &used_assays, |mut a| {
        for r in a.strings_mut() {
            *r = re(*r);
        }
        a
    });
    (occs.events.items, occs.names.items, occs.assays.items) = (events, names, assays);
    for (_, tmp, dropped) in &mut c.legacy {
        if *tmp != NONE {
            *tmp = remap[*tmp as usize];
            *dropped = *tmp == NONE;
        }
    }
    c.assigned = c
        .assigned
        .drain()
        .filter_map(|(tmp, taxon)| Some((remap[tmp as usize], taxon)).filter(|(t, _)| *t != NONE))
        .collect();
    occs.shard = Some(ShardMaps {
        keep,
        seq: remap,
        event,
        name,
        assay,
    });
    Ok(())
}

fn assign_occurrences(
    config: &BuildConfig,
    c: &mut Collector<'_>,
    assigner: &dyn OccurrenceAssigner,
    progress: &dyn Progress,
) -> Result<(), BuildError> {
    // The references alone, as an index the engine can search (built by this same function).
    let refs_dir = config.out.join(format!(".assign-references-{}", std::process::id()));
    // Every reference, also for a shard: assignments must not depend on the partition.
    let refs_config = BuildConfig {
        out: refs_dir.clone(),
        dwca: Vec::new(),
        shard: None,
        only_markers: Vec::new(),
        ..config.clone()
    };
    let result = (|| {
        build(&refs_config, &NoProgress)?;
        // Distinct occurrence sequences in first-seen order, each with the marker of its first DNA row.
        let mut seen: HashMap<u32, ()> = HashMap::new();
        let mut ids = Vec::new();
        let mut queries = Vec::new();
        for &[spilled, marker, _] in &c.occs.first_rows {
            let tmp = c.occs.view().seq(spilled);
            if tmp != NONE && seen.insert(tmp, ()).is_none() {
                ids.push(tmp);
                let marker = c.markers.get(marker as usize).cloned();
                let mut seq = Vec::new();
                c.seqs.get_into(tmp, &mut seq);
                queries.push((seq, marker));
            }
        }
        progress.stage("assigning occurrence sequences", Some(queries.len() as u64));
        let lineages = assigner
            .assign(&refs_dir.join(edna_index::INDEX_FILE_NAME), &queries, progress)
            .map_err(BuildError::Assign)?;
        for (tmp, lineage) in ids.into_iter().zip(lineages) {
            if let Some(lineage) = lineage.filter(|l| !l.is_empty()) {
                let taxon = c.taxa.insert(&lineage);
                c.assigned.insert(tmp, taxon);
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&refs_dir);
    result
}

/// Which sequence ids hold each marker's references and occurrence rows (compressed bitmaps: ids of one
/// marker cluster), turned into [`IndexMeta::marker_spans`] at the end.
#[derive(Default)]
struct SpanSets {
    /// Per marker name: (references, occurrences).
    sets: std::collections::BTreeMap<String, [roaring::RoaringBitmap; 2]>,
}

impl SpanSets {
    fn insert(&mut self, marker: &str, occurrence: bool, seq: u32) {
        if !self.sets.contains_key(marker) {
            self.sets.insert(marker.to_string(), Default::default());
        }
        if let Some(sets) = self.sets.get_mut(marker) {
            sets[usize::from(occurrence)].insert(seq);
        }
    }

    fn finish(self) -> std::collections::BTreeMap<String, MarkerSpans> {
        let spans = |ids: &roaring::RoaringBitmap| {
            let mut runs: Vec<[u32; 2]> = Vec::new();
            for id in ids {
                match runs.last_mut() {
                    Some(r) if r[1] == id => r[1] = id + 1,
                    _ => runs.push([id, id + 1]),
                }
            }
            cover(&runs, MAX_MARKER_SPANS)
        };
        self.sets
            .into_iter()
            .map(|(marker, [refs, occs])| {
                let spans = MarkerSpans {
                    references: spans(&refs),
                    occurrences: spans(&occs),
                };
                (marker, spans)
            })
            .collect()
    }
}

/// `(marker rank, taxon)` per temporary sequence id: the marker (by name) and final taxon id of its first
/// reference record, else of its first occurrence (the build-time assigned taxon before the published one).
/// Unknown parts sort last.
fn locality_keys(
    n: usize,
    refs: &[RefTmp],
    occs: &OccStore,
    libraries: &[LibraryInfo],
    markers: &[String],
    assigned: &HashMap<u32, u32>,
    remap_taxon: &dyn Fn(u32) -> u32,
) -> Vec<(u32, u32)> {
    let mut names: Vec<&str> = markers.iter().map(String::as_str).collect();
    for l in libraries {
        names.push(&l.marker);
    }
    names.sort_unstable();
    names.dedup();
    let rank = |m: &str| names.binary_search(&m).map_or(NONE, |r| r as u32);
    let mut keys = vec![(NONE, NONE); n];
    let mut set = vec![false; n];
    for r in refs {
        let s = r.seq as usize;
        if !std::mem::replace(&mut set[s], true) {
            let marker = libraries.get(r.library as usize).map_or(NONE, |l| rank(&l.marker));
            keys[s] = (marker, remap_taxon(r.taxon));
        }
    }
    for &[spilled, marker, name] in &occs.first_rows {
        let tmp = occs.view().seq(spilled);
        if tmp == NONE || std::mem::replace(&mut set[tmp as usize], true) {
            continue;
        }
        let marker = markers.get(marker as usize).map_or(NONE, |m| rank(m));
        let published = occs
            .names
            .items
            .get(occs.view().name(name) as usize)
            .map_or(NONE, |n| n.published_taxon);
        let taxon = assigned.get(&tmp).copied().unwrap_or(published);
        keys[tmp as usize] = (marker, remap_taxon(taxon));
    }
    keys
}

/// Minimizer postings grouped by k-mer, k-mers ascending, each k-mer's postings by (sequence, position).
struct Postings {
    keys: Vec<u32>,
    key_offsets: Vec<u32>,
    postings: Vec<u32>,
    positions: Vec<u16>,
}

/// How [`seed_postings`] groups postings by k-mer (same output either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeedStrategy {
    /// Collect (k-mer, sequence, position) records and sort them: 18 bytes per posting at the peak.
    Sort,
    /// Count postings per k-mer in a table of 4^k counters, then place each posting in its slot: 6 bytes
    /// per posting plus 4 · 4^k bytes, and the minimizers computed twice.
    Count,
}

/// Largest k for [`SeedStrategy::Count`] (a 1 GiB table at 14).
const COUNTING_MAX_K: usize = 14;
/// Postings from which counting needs less memory than sorting (12 bytes saved per posting pay for the
/// table).
const COUNTING_MIN_POSTINGS: u64 = 100_000_000;
/// Computes the `(k-mer, position)` minimizers of a sequence id into its last argument (the second is
/// scratch space).
type MinimizersOf<'a> = dyn Fn(usize, &mut Vec<u8>, &mut Vec<(u32, u32)>) + Sync + 'a;

/// Sequences per parallel unit of minimizer work.
const SEED_CHUNK: usize = 4096;

/// The postings of sequences `0..n`, whose minimizers `mins_of(id, scratch, out)` computes: every
/// occurrence of a minimizer keeps its position, so the search can place the alignment; positions past
/// u16 are stored as u16::MAX ("scan the whole sequence").
fn seed_postings(
    n: usize,
    k: usize,
    strategy: SeedStrategy,
    mins_of: &MinimizersOf<'_>,
    progress: &dyn Progress,
) -> Postings {
    let position = |p: u32| u16::try_from(p).unwrap_or(u16::MAX);
    let chunks = n.div_ceil(SEED_CHUNK);
    let ids = |c: usize| c * SEED_CHUNK..(c * SEED_CHUNK + SEED_CHUNK).min(n);
    match strategy {
        SeedStrategy::Sort => {
            // Computed in chunks of exact size, then moved into one vector of the exact total, chunk by
            // chunk: the peak stays near one copy of the records.
            let parts: Vec<Vec<(u32, u32, u16)>> = (0..chunks)
                .into_par_iter()
                .map(|c| {
                    let (mut acc, mut seq, mut mins) = (Vec::new(), Vec::new(), Vec::new());
                    for id in ids(c) {
                        mins_of(id, &mut seq, &mut mins);
                        acc.extend(mins.iter().map(|&(m, p)| (m, id as u32, position(p))));
                        progress.advance(1);
                    }
                    acc.shrink_to_fit();
                    acc
                })
                .collect();
            let mut pairs: Vec<(u32, u32, u16)> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for part in parts {
                pairs.extend_from_slice(&part);
            }
            pairs.par_sort_unstable();
            let mut out = Postings {
                keys: Vec::new(),
                key_offsets: Vec::new(),
                postings: Vec::with_capacity(pairs.len()),
                positions: Vec::with_capacity(pairs.len()),
            };
            for (kmer, seq, pos) in pairs {
                if out.keys.last() != Some(&kmer) {
                    out.keys.push(kmer);
                    out.key_offsets.push(out.postings.len() as u32);
                }
                out.postings.push(seq);
                out.positions.push(pos);
            }
            out.key_offsets.push(out.postings.len() as u32);
            out
        }
        SeedStrategy::Count => {
            use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
            let table: Vec<AtomicU32> = (0..1usize << (2 * k)).map(|_| AtomicU32::new(0)).collect();
            (0..chunks).into_par_iter().for_each(|c| {
                let (mut seq, mut mins) = (Vec::new(), Vec::new());
                for id in ids(c) {
                    mins_of(id, &mut seq, &mut mins);
                    for &(m, _) in &mins {
                        table[m as usize].fetch_add(1, Relaxed);
                    }
                }
            });
            // Counts become each k-mer's next free slot.
            let mut table: Vec<u32> = table.into_iter().map(AtomicU32::into_inner).collect();
            let (mut keys, mut key_offsets, mut total) = (Vec::new(), Vec::new(), 0u32);
            for (kmer, slot) in table.iter_mut().enumerate() {
                if *slot > 0 {
                    keys.push(kmer as u32);
                    key_offsets.push(total);
                    (*slot, total) = (total, total + *slot);
                }
            }
            key_offsets.push(total);
            let mut postings = vec![0u32; total as usize];
            let mut positions = vec![0u16; total as usize];
            // Minimizers again, a batch of chunks in parallel, placed in sequence order so each k-mer's
            // postings come out by (sequence, position) as a sort would give them.
            let batch = rayon::current_num_threads().max(1) * 4;
            for first in (0..chunks).step_by(batch) {
                let found: Vec<Vec<(u32, u32)>> = (first..(first + batch).min(chunks))
                    .into_par_iter()
                    .map(|c| {
                        let (mut acc, mut seq, mut mins) = (Vec::new(), Vec::new(), Vec::new());
                        for id in ids(c) {
                            mins_of(id, &mut seq, &mut mins);
                            acc.push((u32::MAX, id as u32));
                            acc.extend_from_slice(&mins);
                        }
                        acc
                    })
                    .collect();
                for part in found {
                    let mut id = 0u32;
                    for (m, p) in part {
                        if m == u32::MAX {
                            id = p;
                            progress.advance(1);
                            continue;
                        }
                        let slot = &mut table[m as usize];
                        postings[*slot as usize] = id;
                        positions[*slot as usize] = position(p);
                        *slot += 1;
                    }
                }
            }
            Postings {
                keys,
                key_offsets,
                postings,
                positions,
            }
        }
    }
}

fn write_index(config: &BuildConfig, c: Collector<'_>, progress: &dyn Progress) -> Result<BuildSummary, BuildError> {
    let Collector {
        mut strings,
        issues,
        taxa,
        seqs,
        refs,
        mut occs,
        legacy,
        mut libraries,
        datasets,
        markers,
        input_bases,
        assigned,
        ..
    } = c;
    let n = seqs.len();
    let n_dna = occs.spills.as_ref().map_or(0, |s| s.rows.len());
    if n >= NONE as usize || occs.len >= NONE as u64 || n_dna >= NONE as u64 || refs.len() >= NONE as usize {
        return Err(BuildError::TooLarge(format!(
            "{n} sequences, {} occurrences with {n_dna} DNA rows, {} references",
            occs.len,
            refs.len()
        )));
    }

    let (taxon_order, taxon_map) = taxa.finalize();
    let remap_taxon = |t: u32| if t == NONE { NONE } else { taxon_map[t as usize] };

    // Sequence ids in locality order: by marker, then by taxon (depth-first ids, so relatives sit together),
    // then by digest. A query's candidates are its homologs, so they land in a few dense stretches of the
    // packed bases instead of all over the index (fewer cache and TLB misses per candidate).
    progress.stage("ordering sequences", Some(n as u64));
    let locality = locality_keys(n, &refs, &occs, &libraries, &markers, &assigned, &remap_taxon);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.par_sort_unstable_by_key(|&i| (locality[i as usize], seqs.md5[i as usize]));
    drop(locality);
    let mut new_id = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        new_id[old as usize] = new as u32;
    }

    // Packed sequences, in id order (each already packed on a fresh byte: copied as is).
    let mut packed = Vec::with_capacity(seqs.packed.len());
    let mut seq_entries = Vec::with_capacity(n + 1);
    let mut exceptions: Vec<Exception> = Vec::with_capacity(seqs.exceptions.len());
    let mut distinct_bases = 0u64;
    for &old in &order {
        let (bytes, len, exc) = seqs.parts(old);
        distinct_bases += len as u64;
        seq_entries.push(SeqEntry {
            packed_offset: packed.len() as u64,
            len: len as u32,
            exc_start: exceptions.len() as u32,
        });
        packed.extend_from_slice(bytes);
        exceptions.extend(exc.iter().map(|&(pos, symbol)| Exception {
            pos,
            symbol,
            _pad: [0; 3],
        }));
    }
    seq_entries.push(SeqEntry {
        packed_offset: packed.len() as u64,
        len: 0,
        exc_start: exceptions.len() as u32,
    });
    let md5: Vec<[u8; 16]> = order.iter().map(|&o| seqs.md5[o as usize]).collect();
    // The store in input order and its digest map are not needed any more (seeds read the packed copy).
    drop(seqs);

    // References and sequence → references.
    let ref_entries: Vec<RefEntry> = refs
        .iter()
        .map(|r| RefEntry {
            seq: new_id[r.seq as usize],
            taxon: remap_taxon(r.taxon),
            library: r.library,
            id: r.id,
            name: r.name,
            accession: r.accession,
        })
        .collect();
    let mut lib_seqs: Vec<Vec<u32>> = vec![Vec::new(); libraries.len()];
    for r in &ref_entries {
        lib_seqs[r.library as usize].push(r.seq);
    }
    // Per marker (by name), which sequence ids hold its references and its occurrence rows.
    let mut spans = SpanSets::default();
    for r in &ref_entries {
        if let Some(l) = libraries.get(r.library as usize) {
            spans.insert(&l.marker, false, r.seq);
        }
    }
    for (lib, mut s) in libraries.iter_mut().zip(lib_seqs) {
        s.sort_unstable();
        s.dedup();
        lib.sequences = s.len() as u64;
    }
    let (seq_ref_offsets, seq_ref_ids) = csr(n, ref_entries.iter().enumerate().map(|(i, r)| (r.seq, i as u32)));

    // Legacy ids, by digest; rows refer to them by position.
    let final_seq = |tmp: u32| if tmp == NONE { NONE } else { new_id[tmp as usize] };
    let mut legacy_order: Vec<u32> = (0..legacy.len() as u32).filter(|&i| !legacy[i as usize].2).collect();
    legacy_order.par_sort_unstable_by_key(|&i| {
        let (md5, tmp, _) = legacy[i as usize];
        (md5, final_seq(tmp))
    });
    let mut legacy_final = vec![NONE; legacy.len()];
    let legacy_entries: Vec<LegacyEntry> = legacy_order
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            legacy_final[i as usize] = pos as u32;
            let (md5, tmp, _) = legacy[i as usize];
            LegacyEntry {
                md5,
                seq: final_seq(tmp),
            }
        })
        .collect();
    drop((legacy, legacy_order));

    // Taxa.
    let mut taxon_entries = Vec::with_capacity(taxon_order.len());
    for &old in &taxon_order {
        let (parent, rank, name) = &taxa.nodes[old as usize];
        let parent = remap_taxon(*parent);
        let depth = if parent == NONE {
            0
        } else {
            taxon_entries
                .get(parent as usize)
                .map_or(0, |p: &TaxonEntry| p.depth + 1)
        };
        taxon_entries.push(TaxonEntry {
            parent,
            depth,
            rank: strings.intern(rank),
            name: strings.intern(name),
        });
    }
    let mut by_name: Vec<u32> = (0..taxon_entries.len() as u32).collect();
    let lower: Vec<String> = taxon_entries
        .iter()
        .map(|t| taxon_name(&strings.heap, t.name).to_ascii_lowercase())
        .collect();
    by_name.sort_by(|&a, &b| (&lower[a as usize], a).cmp(&(&lower[b as usize], b)));
    drop(lower);
    // No string is interned after the taxa: keep the heap, free the lookup table.
    let strings_heap = std::mem::take(&mut strings.heap);
    drop(strings);

    progress.stage("writing sequences", None);
    let mut w = IndexWriter::create(&config.out)?;
    w.add_bytes(K::Strings, &strings_heap)?;
    drop(strings_heap);
    w.add(K::SeqEntries, &seq_entries)?;
    w.add_bytes(K::SeqPacked, &packed)?;
    w.add(K::SeqExceptions, &exceptions)?;
    w.add(K::SeqMd5, &md5)?;
    let mut by_md5: Vec<u32> = (0..n as u32).collect();
    by_md5.par_sort_unstable_by_key(|&i| md5[i as usize]);
    w.add(K::SeqByMd5, &by_md5)?;
    drop((by_md5, md5));
    w.add(K::LegacyIds, &legacy_entries)?;
    drop(legacy_entries);
    w.add(K::SeqRefOffsets, &seq_ref_offsets)?;
    w.add(K::SeqRefIds, &seq_ref_ids)?;
    drop((seq_ref_offsets, seq_ref_ids));
    w.add(K::Refs, &ref_entries)?;
    let reference_sequences = ref_entries.len() as u64;
    drop(ref_entries);
    w.add(K::Taxa, &taxon_entries)?;
    w.add(K::TaxaByName, &by_name)?;
    drop(by_name);

    // Seeds.
    progress.stage("computing seeds", Some(n as u64));
    let seeds = &config.seeds;
    let (k, win) = (seeds.k as usize, seeds.w as usize);
    // Sequences are unpacked from the packed store one at a time (the unpacked copies are gone).
    let mins_of = |id: usize, seq: &mut Vec<u8>, mins: &mut Vec<(u32, u32)>| {
        let (e, next) = (seq_entries[id], seq_entries[id + 1]);
        let start = e.packed_offset as usize;
        edna_seq::pack::unpack_into(
            &packed[start..start + (e.len as usize).div_ceil(4)],
            e.len as usize,
            exceptions[e.exc_start as usize..next.exc_start as usize]
                .iter()
                .map(|x| (x.pos, x.symbol)),
            seq,
        );
        mins.clear();
        edna_seq::kmer::minimizer_positions(seq, k, win, seeds.hash_seed, mins);
    };
    let expected_postings = distinct_bases.saturating_mul(2) / (win as u64 + 1);
    let strategy = if k <= COUNTING_MAX_K && expected_postings >= COUNTING_MIN_POSTINGS {
        SeedStrategy::Count
    } else {
        SeedStrategy::Sort
    };
    let Postings {
        keys,
        key_offsets,
        postings,
        positions,
    } = seed_postings(n, k, strategy, &mins_of, progress);
    drop((seq_entries, packed, exceptions));
    // About four keys per bucket: the bucket table stays small for small indexes.
    let mut seeds = seeds.clone();
    seeds.bucket_bits = (usize::BITS - keys.len().max(1).leading_zeros())
        .saturating_sub(2)
        .clamp(8, 2 * seeds.k)
        .min(24);
    let shift = 2 * seeds.k - seeds.bucket_bits;
    let n_buckets = 1usize << seeds.bucket_bits;
    let mut buckets = vec![0u32; n_buckets + 1];
    let mut ki = 0usize;
    for (b, slot) in buckets.iter_mut().enumerate() {
        while ki < keys.len() && ((keys[ki] >> shift) as usize) < b {
            ki += 1;
        }
        *slot = ki as u32;
    }
    buckets[n_buckets] = keys.len() as u32;
    w.add(K::KmerBuckets, &buckets)?;
    w.add(K::KmerKeys, &keys)?;
    w.add(K::KmerOffsets, &key_offsets)?;
    drop((buckets, keys, key_offsets));
    w.add(K::KmerPostings, &postings)?;
    drop(postings);
    w.add(K::KmerPositions, &positions)?;
    drop(positions);

    // Occurrences: streamed from the spill files into their sections, ids mapped on the way, bitmaps
    // built in the same passes.
    progress.stage("writing occurrences", None);
    let events = std::mem::take(&mut occs.events.items);
    let mut names = std::mem::take(&mut occs.names.items);
    for n in &mut names {
        n.published_taxon = remap_taxon(n.published_taxon);
    }
    w.add(K::OccEvents, &events)?;
    w.add(K::OccNames, &names)?;
    w.add(K::OccAssays, &occs.assays.items)?;
    // Each name's lineage, walked once instead of once per occurrence.
    let name_lineages: Vec<Vec<u32>> = names
        .iter()
        .map(|nm| ancestors(&taxon_entries, nm.published_taxon))
        .collect();
    let mut taxon_bms = vec![roaring::RoaringBitmap::new(); taxon_entries.len()];
    let mut dataset_bms = vec![roaring::RoaringBitmap::new(); datasets.len()];
    let mut marker_bms = vec![roaring::RoaringBitmap::new(); markers.len()];
    let mut assigned_bms = vec![roaring::RoaringBitmap::new(); taxon_entries.len()];
    let mut seq_occ_pairs: Vec<(u32, u32)> = Vec::new();
    let (mut n_occ, mut n_rows, mut assigned_rows) = (0u32, 0u32, 0u64);
    // Pass 1: the occurrences themselves, and sequence → occurrences.
    let mut id_bytes = 0u64;
    w.begin(K::Occurrences, std::mem::size_of::<OccEntry>() as u32)?;
    let spill = &mut occs;
    let mut pending: Vec<OccEntry> = Vec::with_capacity(1 << 14);
    let mut kept_rows: Vec<(u32, u32)> = Vec::new();
    // The shard view is read inside the pass; take it out so the spill can be borrowed mutably.
    let shard = spill.shard.take();
    let view = OccView(&shard);
    spill.for_each(false, |i, o, rows, _| {
        if !view.kept(i) {
            return Ok(());
        }
        let e = OccEntry {
            id_start: id_bytes,
            event: view.event(o.event),
            name: view.name(o.name),
            dna_start: n_rows,
            _pad: 0,
            organism_quantity: o.organism_quantity,
        };
        pending.push(e);
        if pending.len() == pending.capacity() {
            w.append(&pending)?;
            pending.clear();
        }
        if let Some(bm) = events
            .get(e.event as usize)
            .and_then(|ev| dataset_bms.get_mut(ev.dataset as usize))
        {
            bm.insert(n_occ);
        }
        for &t in &name_lineages[e.name as usize] {
            taxon_bms[t as usize].insert(n_occ);
        }
        for r in rows {
            let s = view.seq(r.seq);
            if s != NONE {
                kept_rows.push((new_id[s as usize], n_occ));
            }
        }
        id_bytes += o.id_len as u64;
        n_rows += rows.len() as u32;
        n_occ += 1;
        Ok(())
    })?;
    pending.push(OccEntry {
        id_start: id_bytes,
        dna_start: n_rows,
        ..Default::default()
    });
    w.append(&pending)?;
    w.end()?;
    drop(pending);
    seq_occ_pairs.append(&mut kept_rows);
    seq_occ_pairs.par_sort_unstable();
    seq_occ_pairs.dedup();
    let (seq_occ_offsets, seq_occ_ids) = csr(n, seq_occ_pairs.into_iter());
    w.add(K::SeqOccOffsets, &seq_occ_offsets)?;
    w.add(K::SeqOccIds, &seq_occ_ids)?;
    drop((seq_occ_offsets, seq_occ_ids));
    // Pass 2: their DNA rows.
    w.begin(K::OccDna, std::mem::size_of::<OccDna>() as u32)?;
    let mut out_rows: Vec<OccDna> = Vec::with_capacity(1 << 14);
    let mut occ_no = 0u32;
    spill.for_each(false, |i, _, rows, _| {
        if !view.kept(i) {
            return Ok(());
        }
        for r in rows {
            let tmp = view.seq(r.seq);
            let (seq, assigned_taxon) = if tmp == NONE {
                (NONE, NONE)
            } else {
                (
                    new_id[tmp as usize],
                    assigned.get(&tmp).map_or(NONE, |&t| remap_taxon(t)),
                )
            };
            // NONE when a shard dropped the digest along with the sequence.
            let legacy = if r.legacy == NONE {
                NONE
            } else {
                legacy_final[r.legacy as usize]
            };
            if let Some(bm) = marker_bms.get_mut(r.marker as usize) {
                bm.insert(occ_no);
            }
            if let (Some(marker), true) = (markers.get(r.marker as usize), seq != NONE) {
                spans.insert(marker, true, seq);
            }
            if assigned_taxon != NONE {
                assigned_rows += 1;
                for t in ancestors(&taxon_entries, assigned_taxon) {
                    assigned_bms[t as usize].insert(occ_no);
                }
            }
            out_rows.push(OccDna {
                seq,
                marker: r.marker,
                assay: view.assay(r.assay),
                legacy,
                assigned_taxon,
            });
            if out_rows.len() == out_rows.capacity() {
                w.append(&out_rows)?;
                out_rows.clear();
            }
        }
        occ_no += 1;
        Ok(())
    })?;
    w.append(&out_rows)?;
    w.end()?;
    drop(out_rows);
    // Pass 3: their occurrenceIDs.
    w.begin(K::OccIds, 1)?;
    spill.for_each(true, |i, _, _, id| {
        if view.kept(i) {
            w.append_bytes(id)?;
        }
        Ok(())
    })?;
    w.end()?;
    drop(occs);

    let (tb_off, tb_data) = blobs(&taxon_bms);
    drop(taxon_bms);
    let (db_off, db_data) = blobs(&dataset_bms);
    let (mb_off, mb_data) = blobs(&marker_bms);
    let (ab_off, ab_data) = blobs(&assigned_bms);
    drop(assigned_bms);
    w.add(K::TaxonBitmapOffsets, &tb_off)?;
    w.add_bytes(K::TaxonBitmapData, &tb_data)?;
    drop(tb_data);
    w.add(K::DatasetBitmapOffsets, &db_off)?;
    w.add_bytes(K::DatasetBitmapData, &db_data)?;
    w.add(K::AssignedTaxonBitmapOffsets, &ab_off)?;
    w.add_bytes(K::AssignedTaxonBitmapData, &ab_data)?;
    drop(ab_data);
    w.add(K::MarkerBitmapOffsets, &mb_off)?;
    w.add_bytes(K::MarkerBitmapData, &mb_data)?;

    // The metadata goes last: its counts are known only now.
    let meta = IndexMeta {
        format_version: edna_index::format::FORMAT_VERSION,
        builder_version: env!("CARGO_PKG_VERSION").to_string(),
        seeds,
        libraries,
        datasets,
        markers,
        sequences: n as u64,
        reference_sequences,
        occurrences: n_occ as u64,
        dna_rows: n_rows as u64,
        taxa: taxon_entries.len() as u64,
        assigned_dna_rows: assigned_rows,
        input_bases,
        distinct_bases,
        issues: issues.into_sorted(),
        shard: config.shard,
        only_markers: (!config.only_markers.is_empty()).then(|| config.only_markers.clone()),
        marker_spans: Some(spans.finish()),
    };
    let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| IndexError::Meta {
        path: config.out.clone(),
        detail: e.to_string(),
    })?;
    w.add_bytes(K::Meta, &meta_json)?;
    // Every section is on disk and its vector dropped: verifying maps the whole file, and the peak
    // should be one of the two, not both.
    progress.stage("verifying index", None);
    let path = w.finish_verified()?;
    let index_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(BuildSummary {
        path,
        meta,
        index_bytes,
    })
}

/// Taxon `t` and its ancestors (empty for NONE; at most 64, so a malformed chain cannot loop).
fn ancestors(taxa: &[TaxonEntry], mut t: u32) -> Vec<u32> {
    let mut out = Vec::new();
    while t != NONE && out.len() < 64 {
        out.push(t);
        t = taxa.get(t as usize).map_or(NONE, |e| e.parent);
    }
    out
}

fn taxon_name(heap: &[u8], s: StrRef) -> &str {
    heap.get(s.offset as usize..(s.offset + s.len) as usize)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// Compressed-sparse-row from (row, value) pairs sorted by row.
fn csr(rows: usize, pairs: impl Iterator<Item = (u32, u32)>) -> (Vec<u32>, Vec<u32>) {
    let mut pairs: Vec<(u32, u32)> = pairs.collect();
    pairs.sort_unstable();
    let mut offsets = vec![0u32; rows + 1];
    for &(r, _) in &pairs {
        offsets[r as usize + 1] += 1;
    }
    for i in 0..rows {
        offsets[i + 1] += offsets[i];
    }
    (offsets, pairs.into_iter().map(|(_, v)| v).collect())
}

fn blobs(bms: &[roaring::RoaringBitmap]) -> (Vec<u64>, Vec<u8>) {
    let mut offsets = Vec::with_capacity(bms.len() + 1);
    let mut data = Vec::new();
    for bm in bms {
        offsets.push(data.len() as u64);
        if !bm.is_empty() {
            // Writing into a Vec cannot fail.
            let _ = bm.serialize_into(&mut data);
        }
    }
    offsets.push(data.len() as u64);
    (offsets, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting and sorting give the same postings, in the same order, on random sequences with repeats,
    /// ambiguity-free runs of every length and sequences longer than u16 positions.
    #[test]
    fn seed_strategies_agree() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seqs: Vec<Vec<u8>> = (0..3000)
            .map(|_| {
                let len = 20 + (next() % 400) as usize;
                (0..len).map(|_| b"ACGT"[(next() % 4) as usize]).collect()
            })
            .collect();
        // Shared stretches (many postings per k-mer), a sequence with an N run and one past 65,535 bases.
        let common: Vec<u8> = seqs[0][..20].to_vec();
        for s in seqs.iter_mut().step_by(7) {
            s.extend_from_slice(&common);
        }
        seqs[5].splice(10..10, b"NNNNN".iter().copied());
        seqs[9] = (0..70_000).map(|_| b"ACGT"[(next() % 4) as usize]).collect();
        for (k, w) in [(8, 5), (10, 11), (6, 3)] {
            let mins_of = |id: usize, _: &mut Vec<u8>, mins: &mut Vec<(u32, u32)>| {
                mins.clear();
                edna_seq::kmer::minimizer_positions(&seqs[id], k, w, 42, mins);
            };
            let a = seed_postings(seqs.len(), k, SeedStrategy::Sort, &mins_of, &NoProgress);
            let b = seed_postings(seqs.len(), k, SeedStrategy::Count, &mins_of, &NoProgress);
            assert!(!a.postings.is_empty());
            assert_eq!(a.keys, b.keys, "k={k} w={w}");
            assert_eq!(a.key_offsets, b.key_offsets);
            assert_eq!(a.postings, b.postings);
            assert_eq!(a.positions, b.positions);
            assert!(a.positions.contains(&u16::MAX));
        }
    }
}
