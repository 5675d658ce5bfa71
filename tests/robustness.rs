//! Robustness: corrupted, truncated and foreign index files must give errors (never panics), and the
//! parsers (FASTA/FASTQ, GBIF normalisation, DwC-A, reference libraries) must survive arbitrary bytes.
//!
//! Long fuzzing runs live in `fuzz/` (cargo-fuzz); these tests are the short, deterministic CI share.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use edna_index::format::{SectionEntry, SectionKind, FORMAT_VERSION, HEADER_LEN, SECTION_ENTRY_LEN};
use edna_index::{Index, IndexError};
use edna_index_builder::dwca::{read_dwca, ArchiveLimits, DwcaSink};
use edna_index_builder::model::{DatasetMeta, HeaderStyle, OccurrenceRecord, ReferenceRecord, Warning};
use edna_index_builder::reference::{read_library, LibrarySpec};
use edna_search::search::{SearchParams, Searcher};
use edna_seq::fastx::Reader;
use edna_seq::normalize::{clean, is_iupac_dna, legacy_dna_sequence_id, normalize};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------------
// Index corruption
// ---------------------------------------------------------------------------------------------------

/// The default index built from the bundled data, as bytes (built once per test binary).
fn index_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let cfg =
            edna_search::defaults::default_build_config(&edna_search::defaults::repo_root(), dir.path().to_path_buf());
        edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build default index");
        std::fs::read(dir.path().join(edna_index::INDEX_FILE_NAME)).expect("read index")
    })
}

/// A scratch directory per test, under the cargo target dir.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

/// Writes `bytes` as `name` in `dir` and returns the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn table(bytes: &[u8]) -> Vec<SectionEntry> {
    let n = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    bytes[HEADER_LEN..HEADER_LEN + n * SECTION_ENTRY_LEN]
        .chunks_exact(SECTION_ENTRY_LEN)
        .map(|c| SectionEntry {
            kind: u32_at(c, 0),
            elem_size: u32_at(c, 4),
            offset: u64_at(c, 8),
            len: u64_at(c, 16),
            checksum: u64_at(c, 24),
        })
        .collect()
}

/// The section-table entry of `kind` (every test index has each section).
fn entry(bytes: &[u8], kind: SectionKind) -> SectionEntry {
    table(bytes)
        .into_iter()
        .find(|e| e.kind == kind as u32)
        .unwrap_or_else(|| panic!("no {kind:?} section"))
}

fn put_table(bytes: &mut [u8], entries: &[SectionEntry]) {
    for (i, e) in entries.iter().enumerate() {
        let at = HEADER_LEN + i * SECTION_ENTRY_LEN;
        bytes[at..at + 4].copy_from_slice(&e.kind.to_le_bytes());
        bytes[at + 4..at + 8].copy_from_slice(&e.elem_size.to_le_bytes());
        bytes[at + 8..at + 16].copy_from_slice(&e.offset.to_le_bytes());
        bytes[at + 16..at + 24].copy_from_slice(&e.len.to_le_bytes());
        bytes[at + 24..at + 32].copy_from_slice(&e.checksum.to_le_bytes());
    }
}

/// Recomputes the header/table checksum (xxh3 of header bytes 0..32 and the table), so a corruption
/// gets past the O(1) open checks and reaches the accessors and `verify`.
fn reseal_table(bytes: &mut [u8]) {
    let n = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let n = n.min((bytes.len() - HEADER_LEN) / SECTION_ENTRY_LEN);
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&bytes[..32]);
    h.update(&bytes[HEADER_LEN..HEADER_LEN + n * SECTION_ENTRY_LEN]);
    let sum = h.digest();
    bytes[32..40].copy_from_slice(&sum.to_le_bytes());
}

/// Recomputes one section's checksum and then the table checksum: the file is "valid" as far as
/// checksums go, so only the cross-reference checks (and the accessors' bounds checks) stand between
/// the corruption and the caller.
fn reseal_section(bytes: &mut [u8], kind: u32) {
    let mut entries = table(bytes);
    for e in &mut entries {
        if e.kind == kind {
            let s = &bytes[e.offset as usize..(e.offset + e.len) as usize];
            e.checksum = xxhash_rust::xxh3::xxh3_64(s);
        }
    }
    put_table(bytes, &entries);
    reseal_table(bytes);
}

/// What happened to one corrupted file.
#[derive(Debug, PartialEq)]
enum Outcome {
    OpenFailed,
    VerifyFailed,
    Verified,
}

/// Opens `path`, verifies, and calls every public accessor over a range of ids (and out-of-range ids),
/// plus one search. Panics propagate to the caller's `catch_unwind`.
fn open_and_exercise(path: &Path, search: bool) -> Outcome {
    let index = match Index::open(path) {
        Ok(i) => i,
        Err(e) => {
            // Every open error names the file.
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            return OpenFailed;
        }
    };
    let verified = index.verify();
    exercise(&index);
    if search {
        let mut s = Searcher::new(&index);
        let params = SearchParams {
            with_alignment: true,
            ..SearchParams::default()
        };
        for id in [0u32, index.n_seqs() / 2] {
            let q = index.seq(id);
            if !q.is_empty() {
                s.search("q", &q, &params);
            }
        }
        s.search("fixed", QUERY, &params);
    }
    match verified {
        Ok(()) => Verified,
        Err(_) => VerifyFailed,
    }
}
use Outcome::*;

/// A real 12S query (first ASV of the bundled query set).
const QUERY: &[u8] = b"CACCGCGGTTATACGAGAGGCCCAAGTTGATAGACATCGGCGTAAAGAGTGGTTATGGAAAATAAAAACTAAAGCCGAACACCCTCAGAGCTGTTATACGCACCCGGGTGTACGAAGAACCCCCACGAAAGTGGCTTTATAACCCCTGAACCCACGAAAGCTAAGAAA";

/// Bases decoded to lower case.
static LOWER: edna_index::reader::Decoding = edna_index::reader::Decoding::new({
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
});

/// Calls every public read accessor; results are ignored, only panics matter.
fn exercise(index: &Index) {
    let n = index.n_seqs();
    let mut buf = Vec::new();
    let mut ids: Vec<u32> = (0..n.min(64)).collect();
    ids.extend([n / 2, n.saturating_sub(1), n, n + 1, u32::MAX - 1, u32::MAX]);
    let k = index.meta().seeds.k as usize;
    for &id in &ids {
        index.seq_into(id, &mut buf);
        let len = index.seq_len(id) as usize;
        for (a, b) in [
            (0, len),
            (1, len / 2),
            (len / 2, len + 10),
            (5, 3),
            (0, usize::MAX),
            (usize::MAX, 0),
        ] {
            let ambiguous = index.seq_range_into(id, a, b, &mut buf);
            // The decoded variant appends the same bases through its table, with the same flag.
            let mut lower = vec![b'>'];
            assert_eq!(index.seq_range_decoded_into(id, a, b, &LOWER, &mut lower), ambiguous);
            assert_eq!(lower[1..], buf.to_ascii_lowercase()[..]);
            index.prefetch_seq_range(id, a, b);
            let (offset, len) = index.seq_extent(id);
            index.prefetch_packed(offset, len, a, b);
            index.prefetch_packed(u64::MAX, u32::MAX, a, b);
        }
        let md5 = index.seq_md5(id);
        let _ = index.find_md5(&md5);
        let _ = index.find_legacy(&md5);
        let _ = index.seq_refs(id);
        let _ = index.seq_occs(id);
        // Postings of the sequence's first k-mers (and of extreme values).
        let seq = index.seq(id);
        let mut kmers = vec![0u32, 1, u32::MAX, u32::MAX >> 4];
        if (1..=16).contains(&k) {
            edna_seq::kmer::for_each_kmer(&seq, k, |p, km| {
                if p < 16 {
                    kmers.push(km);
                }
            });
        }
        for km in kmers {
            let _ = index.postings(km);
            let _ = index.postings_with_positions(km);
        }
        if let Some(r) = index.reference(id) {
            for s in [r.id, r.name, r.accession] {
                let _ = index.str(s);
            }
            let _ = index.lineage(r.taxon);
        }
        if let Some(t) = index.taxon(id) {
            let name = index.str(t.name).to_string();
            let _ = index.str(t.rank);
            let _ = index.find_taxa_by_name(&name);
        }
        let _ = index.lineage(id);
        if let Some(o) = index.occurrence(id) {
            let _ = o.occurrence_id.len();
            for s in [
                o.event_date,
                o.country_code,
                o.locality,
                o.scientific_name,
                o.taxon_rank,
                o.organism_quantity_type,
                o.sample_size_unit,
                o.material_sample_id,
                o.basis_of_record,
            ] {
                let _ = index.str(s);
            }
        }
        for d in index.occurrence_dna(id) {
            let _ = index.legacy_md5(d);
            let _ = index.seq_len(d.seq);
            let Some(a) = index.assay(d) else { continue };
            for s in a.strings() {
                let _ = index.str(s);
            }
        }
        let _ = index.taxon_bitmap(id);
        let _ = index.assigned_taxon_bitmap(id);
        let _ = index.dataset_bitmap(id);
        let _ = index.marker_bitmap(id);
    }
    let _ = (
        index.n_refs(),
        index.n_taxa(),
        index.n_occurrences(),
        index.meta().clone(),
    );
    let _ = index.find_taxa_by_name("Gadus morhua");
    let _ = index.find_taxa_by_name("");
    for kind in SectionKind::ALL {
        let _ = index.file().bytes(*kind);
        let _ = index.file().entry(*kind);
    }
}

/// Runs `f`, turning a panic into `Err(message)`.
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

#[test]
fn the_intact_index_opens_and_verifies() {
    let dir = scratch();
    let p = write(dir.path(), "index.edna", index_bytes());
    assert_eq!(open_and_exercise(&p, true), Verified);
    // A directory works as well as the file path.
    assert!(Index::open(dir.path()).is_ok());
}

#[test]
fn truncated_index_files_are_errors() {
    let full = index_bytes();
    let n = table(full).len();
    let header_and_table = HEADER_LEN + n * SECTION_ENTRY_LEN;
    let dir = scratch();
    let mut failures = Vec::new();
    for len in [
        0,
        1,
        7,
        8,
        63,
        64,
        65,
        header_and_table - 1,
        header_and_table,
        full.len() / 2,
        full.len() - 64,
        full.len() - 1,
    ] {
        let p = write(dir.path(), &format!("trunc-{len}.edna"), &full[..len]);
        match no_panic(|| Index::open(&p).map(|_| ())) {
            Err(panic) => failures.push(format!("length {len}: panic: {panic}")),
            Ok(Ok(())) => failures.push(format!("length {len}: opened")),
            Ok(Err(e)) => {
                let msg = e.to_string();
                if !matches!(e, IndexError::Corrupt { .. }) || !msg.contains("truncated") || !msg.contains("trunc-") {
                    failures.push(format!("length {len}: unclear error: {msg}"));
                }
            }
        }
    }
    // One byte too many is as wrong as one too few.
    let mut longer = full.to_vec();
    longer.push(0);
    let p = write(dir.path(), "longer.edna", &longer);
    assert!(matches!(Index::open(&p), Err(IndexError::Corrupt { .. })));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_flipped_byte_in_any_section_is_caught() {
    let full = index_bytes();
    let entries = table(full);
    assert_eq!(entries.len(), SectionKind::ALL.len());
    let dir = scratch();
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for e in &entries {
        let kind = SectionKind::from_u32(e.kind).expect("known kind").name();
        if e.len == 0 {
            continue;
        }
        for (where_, at) in [
            ("middle", e.offset + e.len / 2),
            ("first", e.offset),
            ("last", e.offset + e.len - 1),
        ] {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = full.to_vec();
                bytes[at as usize] ^= mask;
                let case = format!("{kind} {where_} byte ^{mask:#04x}");
                let p = write(dir.path(), "index.edna", &bytes);
                match no_panic(|| open_and_exercise(&p, where_ == "middle" && mask == 0xff)) {
                    Err(panic) => failures.push(format!("{case}: panic: {panic}")),
                    // The section checksum is not checked at open, but verify must see it.
                    Ok(Verified) => failures.push(format!("{case}: verify passed")),
                    Ok(o) => outcomes.push(o),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        outcomes.contains(&VerifyFailed),
        "no case opened at all: accessors untested"
    );
}

/// The same flips with the checksums recomputed: only the cross-reference checks and the bounds-checked
/// accessors protect the caller now. verify may pass (a flipped letter in a string is still a string)
/// but nothing may panic, and a search over the damaged index must not panic either.
#[test]
fn resealed_corruption_never_panics() {
    let full = index_bytes();
    let entries = table(full);
    let dir = scratch();
    let mut failures = Vec::new();
    let mut counts = [0usize; 3];
    for e in &entries {
        let kind = SectionKind::from_u32(e.kind).expect("known kind");
        if e.len == 0 {
            continue;
        }
        // Bytes across the section: elements' low and high bytes, first and last elements.
        let elem = u64::from(e.elem_size.max(1));
        let mid = e.offset + (e.len / 2) / elem * elem;
        let mut spots = vec![e.offset, e.offset + e.len - 1, mid];
        spots.extend((0..elem.min(8)).map(|i| mid + i).filter(|&p| p < e.offset + e.len));
        if kind == SectionKind::Meta {
            // JSON: corrupt digits of the seed parameters, where a bad value changes meaning.
            let meta = &full[e.offset as usize..(e.offset + e.len) as usize];
            let text = String::from_utf8_lossy(meta);
            for key in ["\"k\": ", "\"w\": ", "\"bucket_bits\": ", "\"hash_seed\": "] {
                if let Some(i) = text.find(key) {
                    spots.push(e.offset + (i + key.len()) as u64);
                }
            }
        }
        spots.sort_unstable();
        spots.dedup();
        for at in spots {
            let masks: &[u8] = if kind == SectionKind::Meta {
                &[0x01, 0x02, 0x04, 0x08]
            } else {
                &[0x01, 0x80, 0xff]
            };
            for &mask in masks {
                let mut bytes = full.to_vec();
                bytes[at as usize] ^= mask;
                reseal_section(&mut bytes, e.kind);
                let case = format!("{} byte {} ^{mask:#04x} (resealed)", kind.name(), at - e.offset);
                let p = write(dir.path(), "index.edna", &bytes);
                match no_panic(|| open_and_exercise(&p, mask == masks[0])) {
                    Err(panic) => failures.push(format!("{case}: panic: {panic}")),
                    Ok(o) => counts[o as usize] += 1,
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        counts[VerifyFailed as usize] > 0 && counts[Verified as usize] > 0,
        "{counts:?}"
    );
}

#[test]
fn swapped_section_entries_are_errors() {
    let full = index_bytes();
    let entries = table(full);
    let dir = scratch();
    let mut failures = Vec::new();
    let pairs: Vec<(usize, usize)> = (0..entries.len())
        .flat_map(|i| [(i, (i + 1) % entries.len()), (i, (i + 7) % entries.len())])
        .collect();
    for (i, j) in pairs {
        let (a, b) = (
            SectionKind::from_u32(entries[i].kind).unwrap().name(),
            SectionKind::from_u32(entries[j].kind).unwrap().name(),
        );
        // Swap the kinds: each table slot now claims the other section's bytes.
        let mut swapped = entries.clone();
        let (ka, kb) = (swapped[i].kind, swapped[j].kind);
        swapped[i].kind = kb;
        swapped[j].kind = ka;
        let mut bytes = full.to_vec();
        put_table(&mut bytes, &swapped);
        let p = write(dir.path(), "index.edna", &bytes);
        match no_panic(|| Index::open(&p).map(|_| ())) {
            Err(panic) => failures.push(format!("{a}<->{b}: panic: {panic}")),
            Ok(Ok(())) => failures.push(format!("{a}<->{b}: opened")),
            Ok(Err(e)) => {
                if !e.to_string().contains("checksum") {
                    failures.push(format!("{a}<->{b}: unexpected error {e}"));
                }
            }
        }
        // With the table checksum recomputed: open or verify must still refuse it.
        reseal_table(&mut bytes);
        let p = write(dir.path(), "index.edna", &bytes);
        match no_panic(|| open_and_exercise(&p, false)) {
            Err(panic) => failures.push(format!("{a}<->{b} (resealed): panic: {panic}")),
            Ok(Verified) => failures.push(format!("{a}<->{b} (resealed): verify passed")),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn foreign_files_are_bad_magic() {
    let dir = scratch();
    // Random bytes (a fixed xorshift stream), long and short.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for len in [8, 12, 63, 64, 4096] {
        let p = write(dir.path(), &format!("random-{len}.edna"), &random[..len]);
        let e = Index::open(&p).err().expect("random bytes opened");
        assert!(matches!(e, IndexError::BadMagic { .. }), "{len}: {e}");
        assert!(e.to_string().contains("not an edna-search index"), "{e}");
    }
    // A zip archive (the DwC-A fixture) and a FASTA file.
    let zip =
        std::fs::read(edna_search::defaults::repo_root().join("fixtures/dwca/noaa_gu1901_12S/GU19_leg1_dwca.zip"))
            .expect("fixture zip");
    let p = write(dir.path(), "archive.zip", &zip);
    assert!(matches!(Index::open(&p), Err(IndexError::BadMagic { .. })));
    let p = write(dir.path(), "a.fasta", b">a\nACGTACGTACGTACGTACGT\n");
    assert!(matches!(Index::open(&p), Err(IndexError::BadMagic { .. })));
    // A directory without an index: an I/O error naming the file.
    let empty = scratch();
    let e = Index::open(empty.path()).err().expect("empty dir opened");
    assert!(
        matches!(e, IndexError::Io { .. }) && e.to_string().contains("index.edna"),
        "{e}"
    );
}

#[test]
fn other_format_versions_and_byte_orders_are_refused() {
    let dir = scratch();
    for version in [0, FORMAT_VERSION + 1, u32::MAX] {
        let mut bytes = index_bytes().to_vec();
        bytes[12..16].copy_from_slice(&version.to_le_bytes());
        let p = write(dir.path(), "index.edna", &bytes);
        let e = Index::open(&p).err().expect("other version opened");
        assert!(
            matches!(e, IndexError::Version { found, .. } if found == version),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("rebuild") && msg.contains(&version.to_string()), "{msg}");
    }
    let mut bytes = index_bytes().to_vec();
    bytes[8..12].copy_from_slice(&0xFEFFu32.to_be_bytes());
    let p = write(dir.path(), "index.edna", &bytes);
    assert!(matches!(Index::open(&p), Err(IndexError::BadEndian { .. })));
}

#[test]
fn corrupted_header_fields_are_errors() {
    let full = index_bytes();
    let dir = scratch();
    let mut failures = Vec::new();
    // Every byte of the header and of the table, flipped, with and without a resealed table checksum.
    let entries = table(full);
    let table_end = HEADER_LEN + entries.len() * SECTION_ENTRY_LEN;
    let empty_elem_size = |at: usize| {
        at >= HEADER_LEN
            && (4..8).contains(&((at - HEADER_LEN) % SECTION_ENTRY_LEN))
            && entries[(at - HEADER_LEN) / SECTION_ENTRY_LEN].len == 0
    };
    for at in (0..table_end).step_by(3) {
        for reseal in [false, true] {
            let mut bytes = full.to_vec();
            bytes[at] ^= 0xa5;
            if reseal && !(32..40).contains(&at) {
                reseal_table(&mut bytes);
            }
            let p = write(dir.path(), "index.edna", &bytes);
            match no_panic(|| open_and_exercise(&p, false)) {
                Err(panic) => failures.push(format!("byte {at} (reseal {reseal}): panic: {panic}")),
                // The element size of an empty section carries no meaning.
                Ok(Verified) if !empty_elem_size(at) => {
                    failures.push(format!("byte {at} (reseal {reseal}): verify passed"))
                }
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------------------
// Parsers on arbitrary input
// ---------------------------------------------------------------------------------------------------

/// Bytes that look a little like FASTA/FASTQ, so the generator reaches past the first line.
fn fastx_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b">".to_vec()),
        Just(b"@".to_vec()),
        Just(b"+".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"ACGT".to_vec()),
        Just(b"acgtn".to_vec()),
        Just(b"IIII".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(vec![0x1f, 0x8b]),
        Just(vec![0]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..80).prop_map(|v| v.concat())
}

fn check_fastx(data: &[u8]) -> Result<(), TestCaseError> {
    let mut reader = Reader::new(data, "input".to_string());
    // Each record consumes at least one line, so lines + 2 calls must reach the end.
    let bound = data.iter().filter(|&&b| b == b'\n').count() + 3;
    let mut last_line = 0u64;
    let mut ended = false;
    for _ in 0..bound {
        match reader.next_record() {
            None => {
                ended = true;
                break;
            }
            Some(Err(e)) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(reader.next_record().is_none(), "reader goes on after an error");
                ended = true;
                break;
            }
            Some(Ok(r)) => {
                prop_assert!(
                    r.line > last_line,
                    "line numbers go back: {} after {}",
                    r.line,
                    last_line
                );
                last_line = r.line;
                prop_assert!(!r.seq.iter().any(|b| b.is_ascii_whitespace() || *b < 0x20 || *b == 0x7f));
                prop_assert!(!r.id.contains([' ', '\t']));
                if let Some(q) = &r.qual {
                    prop_assert_eq!(q.len(), r.seq.len());
                }
            }
        }
    }
    prop_assert!(ended, "reader did not finish within {} records", bound);
    prop_assert!(reader.next_record().is_none());
    Ok(())
}

/// Strings mixing DNA letters, ambiguity codes, gaps, whitespace, `UNMERGED` and anything else.
fn dna_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[ACGTacgt]{1,20}",
        1 => "[RYSWKMBDHVNnUu?]{1,6}",
        1 => "[-. \t\r\n]{1,3}",
        1 => Just("UNMERGED".to_string()),
        1 => Just("NNNNNNNNNNNN".to_string()),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn check_normalize(raw: &str) -> Result<(), TestCaseError> {
    let n = normalize(raw);
    prop_assert_eq!(&n.raw_sequence, raw);
    if let Some(seq) = &n.sequence {
        prop_assert!(!n.invalid);
        prop_assert!(seq.bytes().all(is_iupac_dna), "non-IUPAC in {:?}", seq);
        prop_assert_eq!(seq.len(), n.sequence_length);
    } else {
        prop_assert!(n.invalid);
    }
    if let Some(id) = &n.nucleotide_sequence_id {
        prop_assert_eq!(id.len(), 32);
        prop_assert!(
            id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{}",
            id
        );
        prop_assert_eq!(
            Some(id.clone()),
            n.sequence
                .as_deref()
                .map(|s| edna_seq::normalize::md5_hex(s.as_bytes()))
        );
    }
    for f in [n.non_iupac_fraction, n.non_acgtn_fraction, n.n_fraction, n.gc_content] {
        prop_assert!((0.0..=1.0).contains(&f), "fraction {} out of range", f);
    }
    match clean(raw.as_bytes()) {
        Ok(c) => {
            prop_assert!(c.iter().copied().all(is_iupac_dna));
            prop_assert_eq!(clean(&c), Ok(c.clone()), "clean is not idempotent");
            // The hot path agrees with the full normaliser whenever it accepts a sequence.
            prop_assert_eq!(n.sequence.as_deref().map(str::as_bytes), Some(&c[..]));
        }
        Err(why) => {
            prop_assert!(!why.to_string().is_empty());
            // The builder takes the hot path for every published sequence: it must refuse exactly what
            // the full normaliser marks invalid, for the same reason.
            prop_assert!(n.invalid, "clean refused what normalize accepts");
            prop_assert_eq!(
                matches!(why, edna_seq::normalize::Invalid::NaturalLanguage),
                n.natural_language_detected
            );
        }
    }
    match legacy_dna_sequence_id(raw) {
        None => prop_assert!(raw.is_empty()),
        Some(id) => {
            prop_assert_eq!(id.len(), 32);
            prop_assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }
    Ok(())
}

/// Collects what `read_dwca` produces.
#[derive(Default)]
struct Collect {
    datasets: usize,
    occurrences: usize,
    warnings: usize,
}

impl DwcaSink for Collect {
    fn dataset(&mut self, _meta: DatasetMeta) {
        self.datasets += 1;
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        assert!(self.datasets > 0, "occurrence before any dataset");
        let _ = record;
        self.occurrences += 1;
    }
    fn warning(&mut self, _warning: Warning) {
        self.warnings += 1;
    }
}

/// Small limits, so that a generated zip bomb is refused quickly.
fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_uncompressed_bytes: 4 << 20,
        max_ratio: 100,
        max_entries: 64,
    }
}

fn check_dwca(path: &Path) -> Result<(), TestCaseError> {
    let mut sink = Collect::default();
    match read_dwca(path, &limits(), &mut sink) {
        Ok(()) => prop_assert!(sink.datasets > 0),
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

/// A meta.xml assembled from plausible and implausible parts: attribute values include huge indexes,
/// empty and multi-byte delimiters, unknown encodings and entities.
fn meta_xml() -> impl Strategy<Value = String> {
    let index = prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just("2".to_string()),
        Just("3".to_string()),
        Just("".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("4294967296".to_string()),
        Just("x".to_string()),
    ];
    let delim = prop_oneof![
        Just("\\t".to_string()),
        Just(",".to_string()),
        Just("&#9;".to_string()),
        Just("".to_string()),
        Just(";;".to_string()),
        Just("\\\\t".to_string()),
        Just("tab".to_string()),
        Just("&amp;".to_string()),
        Just("&#x110000;".to_string()),
    ];
    let quote = prop_oneof![Just("".to_string()), Just("&quot;".to_string()), Just("'".to_string())];
    let enc = prop_oneof![Just("UTF-8"), Just("latin1"), Just("cp1252"), Just("EBCDIC"), Just("")];
    let header = prop_oneof![Just("0"), Just("1"), Just("2"), Just(""), Just("99999999999999999999")];
    let term = prop_oneof![
        Just("http://rs.tdwg.org/dwc/terms/occurrenceID"),
        Just("http://rs.tdwg.org/dwc/terms/eventDate"),
        Just("http://rs.tdwg.org/dwc/terms/scientificName"),
        Just("http://rs.gbif.org/terms/1.0/DNA_sequence"),
        Just("https://w3id.org/mixs/0000044"),
        Just("http://rs.tdwg.org/dwc/terms/decimalLatitude"),
        Just(""),
    ];
    let field = (index.clone(), term, prop::option::of("[a-zA-Z0-9 &<>\"]{0,6}")).prop_map(|(i, t, d)| {
        let default = d
            .map(|d| {
                format!(
                    " default=\"{}\"",
                    d.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
                )
            })
            .unwrap_or_default();
        format!("<field index=\"{i}\" term=\"{t}\"{default}/>")
    });
    let table = (
        prop_oneof![Just("core"), Just("extension")],
        prop_oneof![
            Just("http://rs.tdwg.org/dwc/terms/Occurrence"),
            Just("http://rs.tdwg.org/dwc/terms/Event"),
            Just("http://rs.gbif.org/terms/1.0/DNADerivedData"),
            Just(""),
        ],
        delim,
        quote,
        enc,
        header,
        prop_oneof![Just("occurrence.txt"), Just("dna.txt"), Just("missing.txt"), Just("../x"), Just("")],
        index,
        prop::collection::vec(field, 0..6),
    )
        .prop_map(|(tag, row, d, q, e, h, loc, id, fields)| {
            let id_tag = if tag == "core" { "id" } else { "coreid" };
            format!(
                "<{tag} rowType=\"{row}\" fieldsTerminatedBy=\"{d}\" fieldsEnclosedBy=\"{q}\" encoding=\"{e}\" \
                 ignoreHeaderLines=\"{h}\"><files><location>{loc}</location></files><{id_tag} index=\"{id}\"/>{}</{tag}>",
                fields.concat()
            )
        });
    (prop::collection::vec(table, 0..3), any::<bool>()).prop_map(|(tables, archive)| {
        if archive {
            format!("<?xml version=\"1.0\"?><archive xmlns=\"http://rs.tdwg.org/dwc/text/\" metadata=\"eml.xml\">{}</archive>", tables.concat())
        } else {
            tables.concat()
        }
    })
}

/// Data-file content: rows of tab/comma separated DNA-ish values, quotes, blank lines.
fn table_text() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        Just("occ1".to_string()),
        Just("ACGTACGTACGTACGTACGTAAAA".to_string()),
        Just("2019-07-01".to_string()),
        Just("\"quoted, \"\"field\"\"\"".to_string()),
        Just("\"unterminated".to_string()),
        Just("12.5".to_string()),
        Just("".to_string()),
        "[ -~]{0,8}",
    ];
    let row = (
        prop::collection::vec(cell, 0..6),
        prop_oneof![Just("\t"), Just(","), Just(";")],
    )
        .prop_map(|(cells, d)| cells.join(d));
    prop::collection::vec(row, 0..6).prop_map(|rows| (rows.join("\n") + "\n").into_bytes())
}

/// A zip with the given members, stored (no compression), built by hand so the test needs no zip writer.
fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name_len = name.len() as u16;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attrs, external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let n = members.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn check_library(
    dir: &Path,
    fasta: &[u8],
    style: Option<HeaderStyle>,
    taxonomy: Option<&[u8]>,
) -> Result<(), TestCaseError> {
    let path = write(dir, "lib.fasta", fasta);
    let taxonomy = taxonomy.map(|t| write(dir, "lib.taxonomy.tsv", t));
    let spec = LibrarySpec {
        fasta: path,
        taxonomy,
        style,
        marker: None,
        name: Some("lib".into()),
    };
    let mut records: Vec<ReferenceRecord> = Vec::new();
    let mut warnings = 0usize;
    let r = read_library(&spec, &mut |r| records.push(r), &mut |_| warnings += 1);
    if let Err(e) = r {
        prop_assert!(!e.to_string().is_empty());
    }
    let mut ids = std::collections::HashSet::new();
    for r in &records {
        prop_assert!(!r.sequence.is_empty(), "record {} with an empty sequence", r.id);
        prop_assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
        prop_assert!(r.lineage.iter().all(|n| !n.rank.is_empty()), "{:?}", r.lineage);
        // Lineage names are printed in tab-separated output.
        prop_assert!(
            r.lineage.iter().all(|n| !n.name.contains(['\t', '\n'])),
            "{:?}",
            r.lineage
        );
    }
    Ok(())
}

fn header_style() -> impl Strategy<Value = Option<HeaderStyle>> {
    prop::option::of(prop_oneof![
        Just(HeaderStyle::Unite),
        Just(HeaderStyle::Sintax),
        Just(HeaderStyle::Dada2),
        Just(HeaderStyle::IdWithTable),
        Just(HeaderStyle::Bold),
        Just(HeaderStyle::RdpTab),
        Just(HeaderStyle::LineageAccession),
    ])
}

/// FASTA whose headers mix the styles the reference reader detects.
fn reference_fasta() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("Abc_def|KX123|SH1.08FU|reps|k__Fungi;p__Asco;s__Abc_def".to_string()),
        Just("id1;tax=d:Bacteria,p:Proteo,s:E_coli;".to_string()),
        Just("Animalia;Chordata;Actinopteri;Gadiformes;Gadidae;Gadus;Gadus morhua".to_string()),
        Just("ABCD123-19|BOLD:AAA0001|Gadus".to_string()),
        Just("X1 desc\tBacteria; Proteo; Gamma".to_string()),
        Just("Eukaryota;Chordata;Gadus morhua (MN12345)".to_string()),
        Just("".to_string()),
        Just("dup".to_string()),
        "[ -~\t]{0,30}",
        "[;|:,=_ a-z]{0,20}",
    ];
    let seq = prop_oneof![
        Just("ACGTACGTACGTACGTAAAACCCC".to_string()),
        Just("".to_string()),
        Just("acgu-nn..ry".to_string()),
        "[ACGTN \t]{0,30}",
        "[ -~]{0,10}",
    ];
    prop::collection::vec((header, seq), 0..8).prop_map(|recs| {
        recs.into_iter()
            .map(|(h, s)| format!(">{h}\n{s}\n"))
            .collect::<String>()
            .into_bytes()
    })
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn fastx_reader_terminates_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_fastx(&data)?;
    }

    #[test]
    fn fastx_reader_terminates_on_fastx_like_bytes(data in fastx_like()) {
        check_fastx(&data)?;
    }

    #[test]
    fn normalize_invariants_on_arbitrary_strings(raw in any::<String>()) {
        check_normalize(&raw)?;
    }

    #[test]
    fn normalize_invariants_on_dna_like_strings(raw in dna_like()) {
        check_normalize(&raw)?;
    }
}

proptest! {
    #![proptest_config(cfg(96))]

    #[test]
    fn read_dwca_survives_arbitrary_zip_bytes(data in prop::collection::vec(any::<u8>(), 0..1024), pk in any::<bool>()) {
        let dir = scratch();
        let mut bytes = data;
        if pk {
            // Past the magic check, into the zip reader.
            bytes.splice(0..0, *b"PK\x03\x04");
        }
        check_dwca(&write(dir.path(), "archive.zip", &bytes))?;
    }

    #[test]
    fn read_dwca_survives_arbitrary_meta_xml(meta in prop::collection::vec(any::<u8>(), 0..1024)) {
        let dir = scratch();
        write(dir.path(), "meta.xml", &meta);
        check_dwca(dir.path())?;
    }

    #[test]
    fn read_dwca_survives_generated_archives(
        meta in meta_xml(),
        occ in table_text(),
        dna in table_text(),
        zipped in any::<bool>(),
    ) {
        let dir = scratch();
        let eml = b"<eml:eml packageId=\"x\"><dataset><title>T</title></dataset></eml:eml>";
        if zipped {
            let zip = stored_zip(&[
                ("meta.xml", meta.as_bytes()),
                ("occurrence.txt", &occ),
                ("dna.txt", &dna),
                ("eml.xml", eml),
            ]);
            check_dwca(&write(dir.path(), "archive.zip", &zip))?;
        } else {
            write(dir.path(), "meta.xml", meta.as_bytes());
            write(dir.path(), "occurrence.txt", &occ);
            write(dir.path(), "dna.txt", &dna);
            write(dir.path(), "eml.xml", eml);
            check_dwca(dir.path())?;
        }
    }

    #[test]
    fn read_dwca_survives_table_folders(occ in table_text(), dna in table_text(), header in any::<bool>()) {
        // No meta.xml: tables recognised by their header row.
        let dir = scratch();
        let mut o = if header { b"occurrenceID\teventDate\tscientificName\n".to_vec() } else { Vec::new() };
        o.extend_from_slice(&occ);
        let mut d = if header { b"occurrenceID\tDNA_sequence\ttarget_gene\n".to_vec() } else { Vec::new() };
        d.extend_from_slice(&dna);
        write(dir.path(), "occurrence.txt", &o);
        write(dir.path(), "dna_derived_data.txt", &d);
        check_dwca(dir.path())?;
    }

    #[test]
    fn read_library_survives_arbitrary_fasta(data in prop::collection::vec(any::<u8>(), 0..1024), style in header_style()) {
        let dir = scratch();
        check_library(dir.path(), &data, style, None)?;
    }

    #[test]
    fn read_library_survives_generated_fasta(
        fasta in reference_fasta(),
        style in header_style(),
        taxonomy in prop::option::of(table_text()),
    ) {
        let dir = scratch();
        check_library(dir.path(), &fasta, style, taxonomy.as_deref())?;
    }
}

/// Regression cases found while writing these tests and the fuzz targets (see fuzz/README.md).
#[test]
fn regressions() {
    let dir = scratch();
    // meta.xml column index usize::MAX on an empty data file.
    let meta = r#"<archive><core rowType="http://rs.tdwg.org/dwc/terms/Occurrence" fieldsTerminatedBy="\t"><files><location>occurrence.txt</location></files><id index="18446744073709551615"/><field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/><field index="1" term="http://rs.gbif.org/terms/1.0/DNA_sequence"/></core></archive>"#;
    write(dir.path(), "meta.xml", meta.as_bytes());
    write(dir.path(), "occurrence.txt", b"");
    let r = no_panic(|| read_dwca(dir.path(), &limits(), &mut Collect::default()).map_err(|e| e.to_string()));
    assert!(r.is_ok(), "{r:?}");

    // A tab inside a header's lineage (the description keeps tabs) must not reach a taxon name.
    let fasta = write(
        dir.path(),
        "lib.fasta",
        b">Animalia;Chordata;Gadus morhua\tx_\ty\nACGTACGTACGTACGT\n",
    );
    let spec = LibrarySpec {
        fasta,
        taxonomy: None,
        style: Some(HeaderStyle::Dada2),
        marker: None,
        name: Some("lib".into()),
    };
    let mut records = Vec::new();
    read_library(&spec, &mut |r| records.push(r), &mut |_| {}).expect("library");
    let names: Vec<&str> = records[0].lineage.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"Gadus morhua x y"), "{names:?}");
}

/// Replaces `from` by `to` (same length) inside section `kind` and reseals the checksums.
fn edit_section(kind: SectionKind, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut bytes = index_bytes().to_vec();
    let e = entry(&bytes, kind);
    let s = &mut bytes[e.offset as usize..(e.offset + e.len) as usize];
    let at = s
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in section");
    s[at..at + to.len()].copy_from_slice(to);
    reseal_section(&mut bytes, kind as u32);
    bytes
}

/// Seed parameters in the metadata are trusted by the reader and the search engine: implausible ones
/// must be refused at open (or at least never panic).
#[test]
fn implausible_seed_parameters_never_panic() {
    let dir = scratch();
    let mut failures = Vec::new();
    let edits: &[(&str, &str)] = &[
        ("\"w\": 11", "\"w\": 0 "),
        ("\"w\": 11", "\"w\": 1 "),
        ("\"w\": 11", "\"w\": 99"),
        ("\"k\": 14", "\"k\": 0 "),
        ("\"k\": 14", "\"k\": 1 "),
        ("\"k\": 14", "\"k\": 16"),
        ("\"k\": 14", "\"k\": 17"),
        ("\"k\": 14", "\"k\": 99"),
    ];
    for (from, to) in edits {
        let bytes = edit_section(SectionKind::Meta, from.as_bytes(), to.as_bytes());
        let p = write(dir.path(), "index.edna", &bytes);
        if let Err(panic) = no_panic(|| open_and_exercise(&p, true)) {
            failures.push(format!("{to}: panic: {panic}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Offsets near `u64::MAX` in a resealed file: verify's arithmetic must not overflow.
#[test]
fn extreme_offsets_never_panic() {
    let full = index_bytes();
    let dir = scratch();
    let mut failures = Vec::new();
    let entries = table(full);
    let find = |k: SectionKind| entries.iter().find(|e| e.kind == k as u32).copied().expect("section");
    // (section, byte offset in the section, value written as u64 / u32 little-endian)
    let seq_entries = find(SectionKind::SeqEntries);
    let mid_entry = (seq_entries.len / 16 / 2) * 16;
    let cases: Vec<(SectionKind, u64, Vec<u8>)> = vec![
        (SectionKind::SeqEntries, 0, u64::MAX.to_le_bytes().to_vec()),
        (SectionKind::SeqEntries, mid_entry, u64::MAX.to_le_bytes().to_vec()),
        (
            SectionKind::SeqEntries,
            mid_entry,
            (u64::MAX - 1).to_le_bytes().to_vec(),
        ),
        (SectionKind::SeqEntries, mid_entry + 8, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::SeqEntries, mid_entry + 12, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::TaxonBitmapOffsets, 8, u64::MAX.to_le_bytes().to_vec()),
        (SectionKind::DatasetBitmapOffsets, 8, u64::MAX.to_le_bytes().to_vec()),
        (SectionKind::SeqRefOffsets, 4, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::KmerOffsets, 4, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::KmerBuckets, 4, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::Occurrences, 8, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::Taxa, 0, 0u32.to_le_bytes().to_vec()),
        (SectionKind::Refs, 12, u32::MAX.to_le_bytes().to_vec()),
        (SectionKind::Refs, 16, u32::MAX.to_le_bytes().to_vec()),
    ];
    for (kind, at, value) in cases {
        let e = find(kind);
        let mut bytes = full.to_vec();
        let start = (e.offset + at) as usize;
        bytes[start..start + value.len()].copy_from_slice(&value);
        reseal_section(&mut bytes, e.kind);
        let p = write(dir.path(), "index.edna", &bytes);
        match no_panic(|| open_and_exercise(&p, true)) {
            Err(panic) => failures.push(format!("{} +{at}: panic: {panic}", kind.name())),
            Ok(Verified) => failures.push(format!("{} +{at}: verify passed", kind.name())),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `k = 16` with `bucket_bits = 0` passes the open checks, and then the bucket shift is 32 bits.
#[test]
fn a_bucket_shift_of_32_bits_never_panics() {
    let mut bytes = edit_section(SectionKind::Meta, b"\"k\": 14", b"\"k\": 16");
    let e = entry(&bytes, SectionKind::Meta);
    let meta = &mut bytes[e.offset as usize..(e.offset + e.len) as usize];
    let at = meta
        .windows(16)
        .position(|w| w.starts_with(b"\"bucket_bits\": "))
        .unwrap();
    meta[at + 15..at + 17].copy_from_slice(b"0 ");
    reseal_section(&mut bytes, SectionKind::Meta as u32);
    // One bucket: [0, n_keys].
    let mut entries = table(&bytes);
    let keys = entries
        .iter()
        .find(|e| e.kind == SectionKind::KmerKeys as u32)
        .unwrap()
        .len
        / 4;
    let b = entries
        .iter_mut()
        .find(|e| e.kind == SectionKind::KmerBuckets as u32)
        .unwrap();
    b.len = 8;
    let at = b.offset as usize;
    bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&(keys as u32).to_le_bytes());
    put_table(&mut bytes, &entries);
    reseal_section(&mut bytes, SectionKind::KmerBuckets as u32);
    let dir = scratch();
    let p = write(dir.path(), "index.edna", &bytes);
    let r = no_panic(|| open_and_exercise(&p, true));
    assert!(r.is_ok(), "{r:?}");
}

/// The digest permutation is what lookups binary-search: verify must refuse one out of order even when its
/// checksum is recomputed.
#[test]
fn an_unsorted_digest_permutation_fails_verify() {
    let full = index_bytes();
    let e = entry(full, SectionKind::SeqByMd5);
    assert!(e.len >= 8);
    let mut bytes = full.to_vec();
    let at = e.offset as usize;
    let (first, second) = (bytes[at..at + 4].to_vec(), bytes[at + 4..at + 8].to_vec());
    bytes[at..at + 4].copy_from_slice(&second);
    bytes[at + 4..at + 8].copy_from_slice(&first);
    reseal_section(&mut bytes, e.kind);
    let dir = scratch();
    let p = write(dir.path(), "index.edna", &bytes);
    let index = Index::open(&p).expect("opens: shapes are intact");
    let err = index.verify().expect_err("verify must see the order");
    assert!(err.to_string().contains("SeqByMd5"), "{err}");
}

/// An occurrence whose `occurrenceID` range runs past the id heap opens (shapes are intact) but fails
/// `verify`, and reading it gives an empty id rather than a panic.
#[test]
fn an_occurrence_id_outside_its_heap_fails_verify() {
    let full = index_bytes();
    let e = entry(full, SectionKind::Occurrences);
    let mut bytes = full.to_vec();
    // The second entry's `id_start` (its first 8 bytes) ends the first occurrence's id.
    let at = e.offset as usize + std::mem::size_of::<edna_index::schema::OccEntry>();
    bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal_section(&mut bytes, e.kind);
    let dir = scratch();
    let p = write(dir.path(), "index.edna", &bytes);
    let index = Index::open(&p).expect("opens: shapes are intact");
    assert_eq!(index.occurrence(0).map(|o| o.occurrence_id), Some(""));
    let err = index.verify().expect_err("verify must see the id range");
    assert!(err.to_string().contains("Occurrences"), "{err}");
}
