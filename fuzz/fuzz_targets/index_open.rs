//! Index files: arbitrary bytes as `index.edna` → `Index::open`, `verify`, and every read accessor.
//!
//! The first input byte picks a mode (its value modulo 4):
//! - 0: the rest is the file as is;
//! - 1: the same, with section and table checksums recomputed first, so mutations get past the checksums
//!   and reach the O(1) open checks, the cross-reference checks of `verify` and the accessors' bounds checks;
//! - 2: the rest is a list of byte patches `(offset u16 LE, value u8)` applied to a tiny real index built
//!   from the bundled fixtures (`seeds/tiny_index.edna`): small corpus entries, every mutation lands on a
//!   well-formed file (offset 0xFFFF truncates the file to value/256 of its length, 0xFFFE by value bytes);
//! - 3: patches, then checksums recomputed.
//!
//! Invariants: no panic (accessors promise to read out-of-range values as empty); an open error names
//! the file; and when `verify` passes, the index is self-consistent: every digest finds its own sequence,
//! sequences unpack to their recorded length, posting ids are sequence ids with parallel positions,
//! lineages run root → taxon, and CSR lists hold in-range ids.
#![no_main]

use std::sync::OnceLock;

use edna_index::format::{SectionKind, HEADER_LEN, SECTION_ENTRY_LEN};
use edna_index::Index;
use libfuzzer_sys::fuzz_target;

/// A tiny real index: two reference libraries and three occurrences (see fuzz/README.md).
const TINY: &[u8] = include_bytes!("../seeds/tiny_index.edna");

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// Recomputes every in-bounds section checksum, then the header/table checksum.
fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let n = (u32_at(bytes, 16) as usize).min((bytes.len() - HEADER_LEN) / SECTION_ENTRY_LEN);
    for i in 0..n {
        let at = HEADER_LEN + i * SECTION_ENTRY_LEN;
        let (off, len) = (u64_at(bytes, at + 8), u64_at(bytes, at + 16));
        if let Some(s) = off
            .checked_add(len)
            .filter(|&end| end <= bytes.len() as u64)
            .map(|end| &bytes[off as usize..end as usize])
        {
            let sum = xxhash_rust::xxh3::xxh3_64(s);
            bytes[at + 24..at + 32].copy_from_slice(&sum.to_le_bytes());
        }
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&bytes[..32]);
    h.update(&bytes[HEADER_LEN..HEADER_LEN + n * SECTION_ENTRY_LEN]);
    let sum = h.digest();
    bytes[32..40].copy_from_slice(&sum.to_le_bytes());
}

/// Every accessor over a range of ids, including out-of-range ones.
fn exercise(index: &Index, consistent: bool) {
    let n = index.n_seqs();
    let mut buf = Vec::new();
    let mut ids: Vec<u32> = (0..n.min(32)).collect();
    ids.extend([n / 2, n.saturating_sub(1), n, n.saturating_add(1), u32::MAX]);
    let k = index.meta().seeds.k as usize;
    for &id in &ids {
        index.seq_into(id, &mut buf);
        let len = index.seq_len(id) as usize;
        if consistent && id < n {
            assert_eq!(buf.len(), len, "sequence {id} unpacks to {} of {len} bases", buf.len());
            assert!(
                buf.iter().all(|&b| b.is_ascii()),
                "sequence {id} holds non-ASCII symbols"
            );
        }
        for (a, b) in [(0, len), (1, len / 2), (len / 2, len + 10), (5, 3), (0, usize::MAX)] {
            let mut part = Vec::new();
            index.seq_range_into(id, a, b, &mut part);
            if consistent && id < n {
                let want = b.min(len).saturating_sub(a);
                assert_eq!(part.len(), want);
                assert_eq!(&part[..], buf.get(a..a + want).unwrap_or(&[]));
            }
        }
        let md5 = index.seq_md5(id);
        let found = index.find_md5(&md5);
        if consistent && id < n {
            assert_eq!(found, Some(id), "digest of {id} finds {found:?}");
        }
        for &s in index.find_legacy(&md5).iter() {
            assert!(!consistent || s < n);
        }
        for &r in index.seq_refs(id) {
            assert!(!consistent || r < index.n_refs());
        }
        for &o in index.seq_occs(id) {
            assert!(!consistent || o < index.n_occurrences());
        }
        let mut kmers = vec![0u32, 1, u32::MAX];
        if (1..=16).contains(&k) {
            edna_seq::kmer::for_each_kmer(&buf, k, |p, km| {
                if p < 8 {
                    kmers.push(km)
                }
            });
        }
        for km in kmers {
            let a = index.postings(km);
            let (s, p) = index.postings_with_positions(km);
            assert_eq!(s.len(), p.len());
            if consistent {
                assert_eq!(a, s);
                assert!(s.iter().all(|&x| x < n));
            }
        }
        if let Some(r) = index.reference(id) {
            for s in [r.id, r.name, r.accession] {
                let _ = index.str(s);
            }
            let _ = index.lineage(r.taxon);
        }
        if let Some(t) = index.taxon(id) {
            let _ = index.str(t.rank);
            let name = index.str(t.name).to_string();
            let hits = index.find_taxa_by_name(&name);
            if consistent && !name.is_empty() {
                assert!(hits.iter().all(|&h| h < index.n_taxa()));
            }
        }
        let lineage = index.lineage(id);
        if consistent && id < index.n_taxa() {
            assert_eq!(lineage.last(), Some(&id));
            assert!(lineage.windows(2).all(|w| w[0] < w[1]));
        }
        if let Some(o) = index.occurrence(id) {
            let _ = o.occurrence_id.len();
            for s in [
                o.event_date,
                o.country_code,
                o.locality,
                o.scientific_name,
                o.taxon_rank,
            ] {
                let _ = index.str(s);
            }
        }
        for d in index.occurrence_dna(id) {
            if let Some(a) = index.assay(d) {
                let _ = index.str(a.target_gene);
            }
            let _ = index.legacy_md5(d);
            assert!(!consistent || d.seq == edna_index::schema::NONE || d.seq < n);
        }
        for bm in [
            index.taxon_bitmap(id),
            index.assigned_taxon_bitmap(id),
            index.dataset_bitmap(id),
            index.marker_bitmap(id),
        ] {
            if consistent {
                assert!(bm.max().is_none_or(|m| m < index.n_occurrences()));
            }
        }
    }
    let _ = index.find_taxa_by_name("");
    for kind in SectionKind::ALL {
        let _ = index.file().bytes(*kind);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = if mode & 2 == 0 {
        rest.to_vec()
    } else {
        let mut b = TINY.to_vec();
        for p in rest.chunks_exact(3) {
            match (u16::from_le_bytes([p[0], p[1]]), usize::from(p[2])) {
                // Truncations: to value/256 of the length, or by value bytes.
                (0xFFFF, v) => b.truncate(b.len() * v / 256),
                (0xFFFE, v) => b.truncate(b.len().saturating_sub(v)),
                (at, v) if !b.is_empty() => {
                    let at = usize::from(at) % b.len();
                    b[at] = v as u8;
                }
                _ => {}
            }
        }
        b
    };
    if mode & 1 == 1 {
        reseal(&mut bytes);
    }
    let p = dir().path().join("index.edna");
    std::fs::write(&p, &bytes).unwrap();
    match Index::open(&p) {
        Err(e) => assert!(e.to_string().contains("index.edna"), "{e}"),
        Ok(index) => {
            let ok = index.verify().is_ok();
            exercise(&index, ok);
        }
    }
});
