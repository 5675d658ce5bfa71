//! The lossless filters in front of the exact scan and the alignment change no answer: every query of the
//! bundled set, and its reverse complement, gets the same hits with the vector band screen, the per-target
//! seed bounds (span and missing-seed positions, the marker's id spans, the exact run every hit holds on a seed
//! diagonal) and the common-subsequence bound on
//! and off, for every target kind, several thresholds, with or without `max_hits` and a marker. Neither does
//! aligning in the seeds' band without an edit-distance placement first, nor taking an exact occurrence of
//! the query as its alignment without filling a matrix, nor reusing an alignment for every candidate whose
//! window holds the same bases.

use edna_index::meta::ShardInfo;
use edna_index::Index;
use edna_index_builder::build::{build, NoProgress};
use edna_search::defaults::{default_build_config, default_queries, repo_root};
use edna_search::search::{SearchParams, Searcher, Strand, Target};

fn reverse_complement(s: &[u8]) -> Vec<u8> {
    s.iter()
        .rev()
        .map(|&b| match b {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            other => other,
        })
        .collect()
}

/// The whole bundled index and its three partition shards (few candidates per query, so groups are often
/// partly filled and the two strands' groups interleave).
#[test]
fn screen_changes_no_hit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut rejected, mut seed_rejected, mut match_rejected, mut run_rejected) = (0, 0, 0, 0);
    for shard in [None, Some(0), Some(1), Some(2)] {
        let out = dir.path().join(format!("idx{shard:?}"));
        let mut cfg = default_build_config(&repo_root(), out.clone());
        cfg.shard = shard.map(|index| ShardInfo { index, count: 3 });
        build(&cfg, &NoProgress).expect("build");
        let index = Index::open(&out).expect("open");
        let (band, seeds, matches, runs) = compare_on(&index);
        rejected += band;
        seed_rejected += seeds;
        match_rejected += matches;
        run_rejected += runs;
    }
    assert!(rejected > 10_000, "the screen hardly ran: {rejected} rejections");
    assert!(
        seed_rejected > 10_000,
        "the seed bounds hardly ran: {seed_rejected} rejections"
    );
    assert!(
        match_rejected > 5_000,
        "the common-subsequence bound hardly ran: {match_rejected} rejections"
    );
    assert!(
        run_rejected > 3_000,
        "the exact-run bound hardly ran: {run_rejected} rejections"
    );
}

/// Compares every query with the filters on and off; returns how many candidates the band screen, the seed
/// bounds, the common-subsequence bound and the exact-run bound rejected.
fn compare_on(index: &Index) -> (u64, u64, u64, u64) {
    let mut reader = edna_seq::fastx::Reader::from_path(&default_queries()).expect("queries");
    let mut queries = Vec::new();
    while let Some(rec) = reader.next_record() {
        let rec = rec.expect("record");
        queries.push((format!("{}_rc", rec.id), reverse_complement(&rec.seq)));
        queries.push((rec.id, rec.seq));
    }
    let mut screened = Searcher::new(index);
    let mut plain = Searcher::new(index);
    plain.set_vector_screen(false);
    plain.set_seed_filters(false);
    plain.set_lcs_bound(false);
    plain.set_direct_alignment(false);
    plain.set_exact_alignment(false);
    plain.set_alignment_memo(false);
    let mut compared = 0usize;
    // With a marker, seeding reads only the postings inside its id spans (a seed filter too).
    let settings = [
        (0.8, 0, None),
        (0.9, 0, None),
        (0.97, 0, None),
        (0.9, 5, None),
        // blast-ws's defaults: the common-subsequence bound at a rising top-hits bar.
        (0.8, 5, Some("12S")),
        (0.9, 0, Some("12S")),
        (0.97, 5, Some("12S")),
        (0.9, 0, Some("ITS")),
    ];
    for target in [Target::References, Target::Occurrences, Target::All] {
        for (min_identity, max_hits, marker) in settings {
            let params = SearchParams {
                min_identity,
                max_hits,
                target,
                marker: marker.map(String::from),
                strand: Strand::Both,
                with_alignment: true,
                ..Default::default()
            };
            for (id, seq) in &queries {
                let a = screened.search(id, seq, &params);
                let b = plain.search(id, seq, &params);
                assert_eq!(
                    format!("{:?}", (&a.hits, &a.reference_hits)),
                    format!("{:?}", (&b.hits, &b.reference_hits)),
                    "{id} {target:?} {min_identity} {max_hits} {marker:?}"
                );
                compared += a.hits.len();
            }
        }
    }
    assert!(compared > 1_000, "too few hits compared: {compared}");
    assert!(
        screened.stats.direct > 100,
        "too few direct alignments: {}",
        screened.stats.direct
    );
    assert!(
        screened.stats.exact > 500,
        "too few queries found exactly and aligned without a matrix: {}",
        screened.stats.exact
    );
    assert!(
        screened.stats.memo_hits > 20,
        "too few alignments taken from an earlier candidate's: {}",
        screened.stats.memo_hits
    );
    (
        screened.stats.band_rejected,
        screened.stats.position_rejected,
        screened.stats.lcs_rejected,
        screened.stats.run_rejected,
    )
}
