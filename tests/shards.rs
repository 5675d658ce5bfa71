//! Sharded builds (`build --shard i/n`) and `merge`: the default index built whole and as 3 shards; the
//! bundled queries searched against each; the merged shard outputs must be byte-identical to the whole
//! index's output (blast6, tsv; json apart from the taxon assignment, which merge does not recompute).

use std::path::{Path, PathBuf};
use std::process::Command;

use edna_index::meta::ShardInfo;
use edna_index::Index;
use edna_index_builder::build::{build, NoProgress};
use edna_search::defaults::{default_build_config, default_queries, repo_root};

const SHARDS: u32 = 3;

struct Fixture {
    _dir: tempfile::TempDir,
    whole: PathBuf,
    shards: Vec<PathBuf>,
    queries: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = dir.path().join("whole");
        build(&default_build_config(&repo_root(), whole.clone()), &NoProgress).expect("whole build");
        let shards: Vec<PathBuf> = (0..SHARDS)
            .map(|i| {
                let out = dir.path().join(format!("shard{i}"));
                let mut cfg = default_build_config(&repo_root(), out.clone());
                cfg.shard = Some(ShardInfo {
                    index: i,
                    count: SHARDS,
                });
                build(&cfg, &NoProgress).expect("shard build");
                out
            })
            .collect();
        // The bundled ASVs plus queries that are invalid or too short, so every status is merged.
        let mut text = std::fs::read_to_string(default_queries()).expect("queries");
        text.push_str(
            ">bad_char\nACGTACGTACGTJACGTACGTACGT\n>no_anchor\nACGNNACG\n>lonely\nACGTTGCAACGTTGCAGGCCTTAA\n",
        );
        // And one GBIF's normaliser trims, whose hits are on its form as given (`queryAsGiven`).
        let first = text.lines().nth(1).expect("a bundled query").to_string();
        text.push_str(&format!(">trimmed\nRN{first}\n"));
        let queries = dir.path().join("queries.fasta");
        std::fs::write(&queries, text).expect("write queries");
        Fixture {
            _dir: dir,
            whole,
            shards,
            queries,
        }
    })
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edna-search"))
}

fn run(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().expect("run edna-search");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn search(index: &Path, queries: &Path, format: &str, extra: &[&str]) -> Vec<u8> {
    let mut cmd = bin();
    cmd.arg("search")
        .arg("--index")
        .arg(index)
        .arg(queries)
        .args(["--format", format, "--threads", "2"])
        .args(extra);
    run(cmd)
}

/// Searches every shard (JSON, `shard_extra` options), merges into `format` with `merge_extra`.
fn search_shards_and_merge(format: &str, shard_extra: &[&str], merge_extra: &[&str]) -> Vec<u8> {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = bin();
    cmd.args(["merge", "--format", format]).args(merge_extra);
    // Shard outputs in reverse order: the merge must not depend on it.
    for (i, shard) in f.shards.iter().enumerate().rev() {
        let path = dir.path().join(format!("shard{i}.json"));
        std::fs::write(&path, search(shard, &f.queries, "json", shard_extra)).expect("write shard output");
        cmd.arg(path);
    }
    run(cmd)
}

fn assert_same(what: &str, whole: &[u8], merged: &[u8]) {
    let (w, m) = (String::from_utf8_lossy(whole), String::from_utf8_lossy(merged));
    if w != m {
        let first = w.lines().zip(m.lines()).position(|(a, b)| a != b);
        panic!(
            "{what}: merged shard output differs from the whole index ({} vs {} lines); first difference at line {first:?}:\n{:?}\n{:?}",
            w.lines().count(),
            m.lines().count(),
            first.and_then(|i| w.lines().nth(i)),
            first.and_then(|i| m.lines().nth(i)),
        );
    }
}

#[test]
fn shards_partition_the_whole_index() {
    let f = fixture();
    let whole = Index::open(&f.whole).expect("open whole");
    assert_eq!(whole.meta().shard, None);
    let (mut seqs, mut refs, mut bases) = (0, 0, 0);
    let mut occurrences = std::collections::BTreeSet::new();
    for (i, dir) in f.shards.iter().enumerate() {
        let idx = Index::open(dir).expect("open shard");
        idx.verify().expect("verify shard");
        let m = idx.meta();
        let shard = m.shard.expect("shard recorded in meta");
        assert_eq!((shard.index, shard.count), (i as u32, SHARDS));
        // Metadata stays complete.
        assert_eq!(m.taxa, whole.meta().taxa);
        assert_eq!(m.libraries.len(), whole.meta().libraries.len());
        assert_eq!(m.datasets.len(), whole.meta().datasets.len());
        for s in 0..idx.n_seqs() {
            let md5 = idx.seq_md5(s);
            assert!(shard.holds(&md5), "shard {i} holds a sequence of another partition");
            // The same sequence, references and occurrences as in the whole index.
            let w = whole.find_md5(&md5).expect("shard sequence is in the whole index");
            assert_eq!(idx.seq(s), whole.seq(w));
            let ids = |ix: &Index, s: u32| -> Vec<String> {
                ix.seq_refs(s)
                    .iter()
                    .filter_map(|&r| ix.reference(r))
                    .map(|r| ix.str(r.id).to_string())
                    .collect()
            };
            assert_eq!(ids(&idx, s), ids(&whole, w));
            let occ_ids = |ix: &Index, s: u32| -> Vec<String> {
                ix.seq_occs(s)
                    .iter()
                    .filter_map(|&o| ix.occurrence(o))
                    .map(|o| o.occurrence_id.to_string())
                    .collect()
            };
            assert_eq!(occ_ids(&idx, s), occ_ids(&whole, w));
        }
        for o in 0..idx.n_occurrences() {
            if let Some(e) = idx.occurrence(o) {
                occurrences.insert(e.occurrence_id.to_string());
            }
        }
        seqs += m.sequences;
        refs += m.reference_sequences;
        bases += m.distinct_bases;
    }
    assert_eq!(seqs, whole.meta().sequences);
    assert_eq!(refs, whole.meta().reference_sequences);
    assert_eq!(bases, whole.meta().distinct_bases);
    assert_eq!(occurrences.len() as u64, whole.meta().occurrences);
    let info = String::from_utf8(run({
        let mut c = bin();
        c.arg("info").arg("--index").arg(&f.shards[1]);
        c
    }))
    .expect("utf8");
    assert!(info.contains("shard          1/3"), "{info}");
    let json: serde_json::Value = serde_json::from_slice(&run({
        let mut c = bin();
        c.args(["info", "--json", "--index"]).arg(&f.shards[2]);
        c
    }))
    .expect("info json");
    assert_eq!(json["shard"], serde_json::json!({"index": 2, "count": 3}));
}

#[test]
fn merged_blast6_and_tsv_equal_the_whole_index_with_max_hits() {
    let f = fixture();
    // The defaults (references, 97 %: few hits for Gulf of Mexico ASVs against a UK fish library), then
    // occurrences too at 90 %, where most queries have more than 5 hits and the truncation matters.
    for opts in [&[][..], &["--target", "all", "--min-identity", "0.9"][..]] {
        for format in ["blast6", "tsv"] {
            let mut whole_opts = opts.to_vec();
            whole_opts.extend(["--max-hits", "5"]);
            let whole = search(&f.whole, &f.queries, format, &whole_opts);
            if !opts.is_empty() {
                let all = search(&f.whole, &f.queries, format, &[opts, &["--max-hits", "0"]].concat());
                assert!(
                    whole.len() > 20_000 && all.len() > 2 * whole.len(),
                    "too few hits to compare"
                );
            }
            // Shards searched with the final limit and without one both give the same answer.
            for shard_max in ["5", "0"] {
                let mut shard_opts = opts.to_vec();
                shard_opts.extend(["--max-hits", shard_max]);
                let merged = search_shards_and_merge(format, &shard_opts, &["--max-hits", "5"]);
                assert_same(
                    &format!("{format} {opts:?}, shards --max-hits {shard_max}"),
                    &whole,
                    &merged,
                );
            }
        }
    }
}

#[test]
fn merged_outputs_equal_the_whole_index_all_targets_all_hits() {
    let f = fixture();
    let opts = [
        "--max-hits",
        "0",
        "--target",
        "all",
        "--min-identity",
        "0.9",
        "--alignment",
    ];
    for format in ["blast6", "tsv"] {
        let whole = search(&f.whole, &f.queries, format, &opts);
        let merged = search_shards_and_merge(format, &opts, &["--max-hits", "0"]);
        assert_same(format, &whole, &merged);
    }
    // JSON: byte-identical from `exactMatch` on (keys are sorted, so only `assignment` precedes it);
    // merge writes `"assignment":null` because it needs every reference hit's lineage.
    let whole = String::from_utf8(search(&f.whole, &f.queries, "json", &opts)).expect("utf8");
    let merged = String::from_utf8(search_shards_and_merge("json", &opts, &["--max-hits", "0"])).expect("utf8");
    assert_eq!(whole.lines().count(), merged.lines().count());
    let mut with_hits = 0;
    for (w, m) in whole.lines().zip(merged.lines()) {
        let tail = |s: &'static str, l: &str| -> String {
            let at = l
                .find(",\"exactMatch\":")
                .unwrap_or_else(|| panic!("{s}: no exactMatch in {l}"));
            l[at..].to_string()
        };
        assert!(m.starts_with("{\"assignment\":null,"), "{m}");
        assert_eq!(tail("whole", w), tail("merged", m));
        with_hits += usize::from(!m.contains("\"hits\":[]"));
    }
    assert!(with_hits > 50, "only {with_hits} queries with hits");
}

/// A marker shard (`build --only-marker 12S`) holds exactly the sequences the whole index counts as 12S
/// (a 12S library record or a 12S occurrence row), and answers like the whole index searched with
/// `--marker 12S`: the same hits for every target class, so nginx can route `/m/12S/...` to it.
#[test]
fn a_marker_shard_answers_like_the_whole_index_restricted_to_its_marker() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("12S");
    let mut cfg = default_build_config(&repo_root(), out.clone());
    cfg.only_markers = vec!["12S".into()];
    build(&cfg, &NoProgress).expect("marker shard build");
    let (whole, shard) = (Index::open(&f.whole).expect("whole"), Index::open(&out).expect("shard"));
    shard.verify().expect("the shard verifies");
    assert_eq!(shard.meta().only_markers.as_deref(), Some(&["12S".to_string()][..]));

    let marker_12s = |ix: &Index, s: u32| {
        let m = ix.meta();
        let lib_12s = ix.seq_refs(s).iter().any(|&r| {
            ix.reference(r)
                .and_then(|e| m.libraries.get(e.library as usize))
                .is_some_and(|l| l.marker == "12S")
        });
        let occ_12s = ix.seq_occs(s).iter().any(|&o| {
            ix.occurrence_dna(o)
                .iter()
                .any(|d| d.seq == s && m.markers.get(d.marker as usize).is_some_and(|x| x == "12S"))
        });
        lib_12s || occ_12s
    };
    let digests = |ix: &Index, only_12s: bool| -> std::collections::BTreeSet<[u8; 16]> {
        (0..ix.n_seqs())
            .filter(|&s| !only_12s || marker_12s(ix, s))
            .map(|s| ix.seq_md5(s))
            .collect()
    };
    let want = digests(&whole, true);
    assert!(
        !want.is_empty() && want.len() < whole.n_seqs() as usize,
        "the default index mixes markers"
    );
    assert_eq!(digests(&shard, false), want);
    assert!((0..shard.n_seqs()).all(|s| marker_12s(&shard, s)));
    assert!(shard.meta().reference_sequences < whole.meta().reference_sequences);
    assert_eq!(
        shard.meta().occurrences,
        whole.meta().occurrences,
        "every bundled occurrence is 12S"
    );

    for target in ["references", "occurrences", "all"] {
        let args = ["--target", target, "--min-identity", "0.9", "--max-hits", "0"];
        let from_whole = search(
            &f.whole,
            &f.queries,
            "blast6",
            &[&args[..], &["--marker", "12S"]].concat(),
        );
        let from_shard = search(&out, &f.queries, "blast6", &args);
        assert!(!from_whole.is_empty());
        assert!(from_whole == from_shard, "{target}: the 12S shard answers differently");
    }
}
