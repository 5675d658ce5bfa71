//! Exact lookups per second on one core.
//!
//! Corpus model: every distinct sequence of an index, looked up (a) by its nucleotideSequenceID digest
//! and (b) from the raw sequence (GBIF normalisation + MD5 + binary search), as `edna-search lookup` and
//! the HTTP service do. Index: `$EDNA_BENCH_INDEX` (e.g. the shared-data index from
//! `benches/build_all.sh`), else the bundled default index built into a temporary directory.
//! Run with: `cargo bench --bench exact_lookup`

use std::time::Instant;

use edna_index::Index;

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = match std::env::var_os("EDNA_BENCH_INDEX") {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let cfg =
                edna_search::defaults::default_build_config(&edna_search::defaults::repo_root(), tmp.path().into());
            edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build");
            tmp.path().to_path_buf()
        }
    };
    let t = Instant::now();
    let index = Index::open(&dir).expect("open");
    println!(
        "open: {:.3} ms ({} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        index.file().len()
    );
    let n = index.n_seqs();
    let digests: Vec<[u8; 16]> = (0..n).map(|s| index.seq_md5(s)).collect();
    let seqs: Vec<Vec<u8>> = (0..n.min(200_000)).map(|s| index.seq(s)).collect();

    let rounds = (2_000_000 / n.max(1) as usize).max(1);
    let t = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for d in &digests {
            found += index.find_md5(d).is_some() as usize;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(found, rounds * n as usize, "every digest must be found");
    println!(
        "lookup by nucleotideSequenceID: {:.2} M/s ({} lookups)",
        found as f64 / secs / 1e6,
        found
    );

    let t = Instant::now();
    let mut found = 0usize;
    for s in &seqs {
        // References keep their ends, so some are not GBIF-normal: count what normalises to itself.
        if let Ok(c) = edna_seq::normalize::clean(s) {
            found += index.find_md5(&edna_seq::normalize::md5_bytes(&c)).is_some() as usize;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "lookup from raw sequence (normalise + MD5 + search): {:.2} M/s over {} sequences ({} found)",
        seqs.len() as f64 / secs / 1e6,
        seqs.len(),
        found
    );

    // What a metabarcoding query is: ASV-length sequences (≤ 500 bp), in index order.
    let asvs: Vec<&Vec<u8>> = seqs.iter().filter(|s| s.len() <= 500).collect();
    let bases: usize = asvs.iter().map(|s| s.len()).sum();
    let rounds = (1_000_000 / asvs.len().max(1)).max(1);
    let t = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for s in &asvs {
            if let Ok(c) = edna_seq::normalize::clean(s) {
                found += index.find_md5(&edna_seq::normalize::md5_bytes(&c)).is_some() as usize;
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "lookup from raw ASV-length sequence (<= 500 bp, mean {:.0} bp): {:.2} M/s over {} lookups ({} found)",
        bases as f64 / asvs.len().max(1) as f64,
        (rounds * asvs.len()) as f64 / secs / 1e6,
        rounds * asvs.len(),
        found
    );
}
