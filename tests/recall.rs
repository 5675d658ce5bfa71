//! Recall against exhaustive vsearch (`--maxaccepts 0 --maxrejects 0 --query_cov 0.5`), stored in
//! `fixtures/vsearch/` by `benches/make_vsearch_fixture.sh`: the bundled NOAA 12S ASVs against the
//! occurrence sequences of the default index, plus strand only (vsearch's default).

use std::collections::HashMap;

use edna_index::Index;
use edna_index_builder::build::{build, NoProgress};
use edna_search::defaults::{default_build_config, repo_root};
use edna_search::search::{SearchParams, Searcher, Strand, Target};

fn vsearch_pairs(file: &str) -> HashMap<(String, String), f64> {
    let text = std::fs::read_to_string(repo_root().join("fixtures/vsearch").join(file)).expect("fixture");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (f[0].to_string(), f[1].to_string()),
                f[2].parse::<f64>().expect("identity"),
            )
        })
        .collect()
}

fn our_pairs(index: &Index, min_identity: f64) -> HashMap<(String, String), f64> {
    let mut reader =
        edna_seq::fastx::Reader::from_path(&repo_root().join("fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta"))
            .unwrap();
    let params = SearchParams {
        min_identity,
        min_coverage: 0.5,
        max_hits: 0,
        strand: Strand::Plus,
        target: Target::Occurrences,
        ..Default::default()
    };
    let mut searcher = Searcher::new(index);
    let mut out = HashMap::new();
    while let Some(rec) = reader.next_record() {
        let rec = rec.unwrap();
        for h in searcher.search(&rec.id, &rec.seq, &params).hits {
            let target = edna_seq::normalize::to_hex(&index.seq_md5(h.seq));
            out.insert((rec.id.clone(), target), h.identity * 100.0);
        }
    }
    out
}

fn check(index: &Index, fixture: &str, min_identity: f64, min_recall: f64) {
    let truth = vsearch_pairs(fixture);
    let ours = our_pairs(index, min_identity);
    assert!(truth.len() > 1000, "fixture too small: {}", truth.len());
    let missed: Vec<_> = truth.keys().filter(|k| !ours.contains_key(*k)).collect();
    let recall = 1.0 - missed.len() as f64 / truth.len() as f64;
    assert!(
        recall >= min_recall,
        "recall {recall:.4} < {min_recall}: missed {:?}",
        &missed[..missed.len().min(5)]
    );
    let shared: Vec<_> = truth.keys().filter(|k| ours.contains_key(*k)).collect();
    // vsearch prints identity with one decimal: allow its rounding on top of the 0.5-point budget.
    let close = shared.iter().filter(|k| (truth[**k] - ours[**k]).abs() <= 0.55).count();
    assert!(
        close as f64 >= 0.99 * shared.len() as f64,
        "identity agrees on only {close} of {} pairs",
        shared.len()
    );
}

#[test]
fn recall_against_exhaustive_vsearch() {
    let dir = tempfile::tempdir().unwrap();
    build(
        &default_build_config(&repo_root(), dir.path().to_path_buf()),
        &NoProgress,
    )
    .unwrap();
    let index = Index::open(dir.path()).unwrap();
    // Every query is >= 100 bp: lossless at 97 %.
    check(&index, "noaa_asvs_vs_occurrences_97.tsv", 0.97, 1.0);
    check(&index, "noaa_asvs_vs_occurrences_90.tsv", 0.90, 0.99);
}
