//! Taxon assignment on a small hand-made library: GBIF match types (including AMBIGUOUS) and the
//! consensus cut by rank thresholds.

use edna_index::Index;
use edna_index_builder::build::{build, BuildConfig, NoProgress, DEFAULT_SEEDS};
use edna_index_builder::reference::LibrarySpec;
use edna_search::search::{assign, MatchType, RankThresholds, SearchParams, Searcher};

/// A deterministic pseudo-random 200-bp sequence.
fn base_seq(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x % 4) as usize]
        })
        .collect()
}

/// `seq` with substitutions at the given positions.
fn mutate(seq: &[u8], positions: &[usize]) -> Vec<u8> {
    let mut s = seq.to_vec();
    for &p in positions {
        s[p] = match s[p] {
            b'A' => b'C',
            b'C' => b'G',
            b'G' => b'T',
            _ => b'A',
        };
    }
    s
}

fn library(dir: &std::path::Path) -> Index {
    let a = base_seq(1);
    let records = [
        // Two species of one genus, 1 substitution apart (99.5 %), and a more distant genus of the family.
        (
            "r1",
            "d:Eukaryota,p:Chordata,c:Actinopteri,o:Gadiformes,f:Gadidae,g:Gadus,s:Gadus_morhua",
            a.clone(),
        ),
        (
            "r2",
            "d:Eukaryota,p:Chordata,c:Actinopteri,o:Gadiformes,f:Gadidae,g:Gadus,s:Gadus_macrocephalus",
            mutate(&a, &[100]),
        ),
        (
            "r3",
            "d:Eukaryota,p:Chordata,c:Actinopteri,o:Gadiformes,f:Gadidae,g:Melanogrammus,s:Melanogrammus_aeglefinus",
            mutate(&a, &[10, 40, 70, 130, 160, 190]),
        ),
        // An unrelated sequence.
        (
            "r4",
            "d:Eukaryota,p:Chordata,c:Mammalia,o:Primates,f:Hominidae,g:Homo,s:Homo_sapiens",
            base_seq(2),
        ),
    ];
    let fasta = dir.join("lib.fasta");
    let mut text = String::new();
    for (id, tax, seq) in &records {
        text.push_str(&format!(">{id};tax={tax};\n{}\n", String::from_utf8_lossy(seq)));
    }
    std::fs::write(&fasta, text).unwrap();
    let out = dir.join("idx");
    let cfg = BuildConfig {
        out: out.clone(),
        references: vec![LibrarySpec {
            fasta,
            marker: Some("12S".into()),
            ..Default::default()
        }],
        refdbs: Vec::new(),
        dwca: Vec::new(),
        seeds: DEFAULT_SEEDS,
        limits: Default::default(),
        shard: None,
        only_markers: Vec::new(),
    };
    build(&cfg, &NoProgress).unwrap();
    Index::open(&out).unwrap()
}

#[test]
fn match_types_and_consensus() {
    let tmp = tempfile::tempdir().unwrap();
    let index = library(tmp.path());
    let mut s = Searcher::new(&index);
    let params = SearchParams {
        min_identity: 0.8,
        max_hits: 0,
        ..Default::default()
    };
    let t = RankThresholds::default();
    let a = base_seq(1);

    // Identical to r1, and r2 is 99.5 %: both EXACT (> 99) within 1 point -> AMBIGUOUS; the consensus is
    // the genus (the LCA of the two species within the 0.5-point margin).
    let r = s.search("q1", &a, &params);
    let asg = assign(&index, &r.hits, 0.5, &t, &[]);
    assert_eq!(asg.match_type, MatchType::Ambiguous);
    assert_eq!(asg.best_identity, Some(100.0));
    assert_eq!(asg.taxon.as_ref().map(|x| x.name.as_str()), Some("Gadus"));
    assert_eq!(asg.taxon.as_ref().map(|x| x.rank.as_str()), Some("genus"));
    assert_eq!(asg.hits_used, 2);
    assert_eq!(asg.distinct_taxa, 2);

    // A narrower margin keeps only the best hit: species level.
    let asg = assign(&index, &r.hits, 0.1, &t, &[]);
    assert_eq!(asg.taxon.as_ref().map(|x| x.name.as_str()), Some("Gadus morhua"));

    // 3 substitutions from r3 only (98.5 % to r3; r1/r2 further): CLOSE; 98.5 < 99 cuts species, keeps genus.
    let q = mutate(&mutate(&a, &[10, 40, 70, 130, 160, 190]), &[20, 50, 80]);
    let r = s.search("q2", &q, &params);
    let asg = assign(&index, &r.hits, 0.5, &t, &[]);
    assert_eq!(asg.match_type, MatchType::Close);
    assert_eq!(asg.taxon.as_ref().map(|x| x.name.as_str()), Some("Melanogrammus"));

    // 12 substitutions from r1 (94 %): CLOSE, only order-level support (95 % needed for family).
    let q = mutate(&a, &[5, 21, 37, 53, 69, 85, 111, 127, 143, 159, 175, 191]);
    let r = s.search("q3", &q, &params);
    let asg = assign(&index, &r.hits, 0.5, &t, &[]);
    assert_eq!(asg.match_type, MatchType::Close);
    assert_eq!(asg.taxon.as_ref().map(|x| x.rank.as_str()), Some("order"));

    // Nothing similar: NO_MATCH and no taxon.
    let r = s.search("q4", &base_seq(99), &params);
    let asg = assign(&index, &r.hits, 0.5, &t, &[]);
    assert_eq!(asg.match_type, MatchType::NoMatch);
    assert!(asg.taxon.is_none());
}
