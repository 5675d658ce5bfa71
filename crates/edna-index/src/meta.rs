//! The JSON metadata section: build parameters, libraries, datasets, markers, counts.
//! Small and human-readable on purpose; parsed once at open.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Parameters that change what the seeds mean; a reader must use the same ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeedParams {
    /// k-mer length.
    pub k: u32,
    /// Minimizer window (in k-mers).
    pub w: u32,
    /// Seed of the k-mer order hash.
    pub hash_seed: u32,
    /// Number of top k-mer bits used for the bucket table.
    pub bucket_bits: u32,
}

/// A reference library in the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct LibraryInfo {
    /// Short name.
    pub name: String,
    /// Marker (target gene).
    pub marker: String,
    /// Version when known.
    pub version: Option<String>,
    /// Title when known.
    pub title: Option<String>,
    /// Licence when known.
    pub licence: Option<String>,
    /// Records read.
    pub records: u64,
    /// Distinct normalised sequences of this library.
    pub sequences: u64,
    /// Input files.
    pub files: Vec<String>,
}

/// A dataset in the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DatasetInfo {
    /// Stable key.
    pub key: String,
    /// Title.
    pub title: String,
    /// Licence when known.
    pub licence: Option<String>,
    /// Where it was read from.
    pub path: String,
    /// Occurrences indexed.
    pub occurrences: u64,
    /// DNA rows indexed.
    pub dna_rows: u64,
}

/// Counts of rejected or odd input, by file and reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct InputIssue {
    /// File.
    pub file: String,
    /// Reason code.
    pub reason: String,
    /// How many times.
    pub count: u64,
    /// First place it happened (`file:line`) and message.
    pub first: String,
}

/// The most ranges one [`MarkerSpans`] list holds: a longer list is merged across its smallest gaps
/// ([`cover`]), a superset, which is all a search needs.
pub const MAX_MARKER_SPANS: usize = 64;

/// Where one marker's sequences lie among the sequence ids. Ids follow a locality order, by marker first,
/// so each marker's sequences fill a few stretches; a search restricted to the marker reads only the
/// postings inside them. Each list holds sorted, disjoint, non-adjacent half-open ranges `[start, end)`
/// that cover at least every sequence of its kind (`verify` checks it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerSpans {
    /// Sequences with a reference record in a library of this marker.
    pub references: Vec<[u32; 2]>,
    /// Sequences carried by an occurrence DNA row of this marker.
    pub occurrences: Vec<[u32; 2]>,
}

/// The fewest ranges, at most `max` (and at least one when `runs` has any), that cover the sorted,
/// disjoint `runs`: while there are too many, the runs either side of the smallest gaps are joined (the
/// ranges grow by as few ids as possible).
pub fn cover(runs: &[[u32; 2]], max: usize) -> Vec<[u32; 2]> {
    let max = max.max(1);
    if runs.len() <= max {
        return runs.to_vec();
    }
    // Keep the `max − 1` widest gaps (ties: the later one), join across the rest.
    let mut gaps: Vec<(u32, usize)> = runs
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1][0] - w[0][1], i))
        .collect();
    gaps.sort_unstable_by(|a, b| b.cmp(a));
    let mut kept: Vec<usize> = gaps[..max - 1].iter().map(|&(_, i)| i).collect();
    kept.sort_unstable();
    let mut out = Vec::with_capacity(max);
    let mut start = runs[0][0];
    for i in kept {
        out.push([start, runs[i][1]]);
        start = runs[i + 1][0];
    }
    out.push([start, runs[runs.len() - 1][1]]);
    out
}

/// The sorted union of two span lists, as ranges (touching or overlapping ranges joined).
pub fn union_spans(a: &[[u32; 2]], b: &[[u32; 2]]) -> Vec<Range<u32>> {
    let mut all: Vec<[u32; 2]> = a.iter().chain(b).copied().filter(|r| r[0] < r[1]).collect();
    all.sort_unstable();
    let mut out: Vec<Range<u32>> = Vec::with_capacity(all.len());
    for [start, end] in all {
        match out.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => out.push(start..end),
        }
    }
    out
}

/// Everything small about an index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexMeta {
    /// Format version of the file.
    pub format_version: u32,
    /// edna-search version that built it.
    pub builder_version: String,
    /// Seed parameters.
    pub seeds: SeedParams,
    /// Reference libraries (index = `RefEntry::library`).
    pub libraries: Vec<LibraryInfo>,
    /// Datasets (index = `OccEvent::dataset`).
    pub datasets: Vec<DatasetInfo>,
    /// Marker names (index = `OccDna::marker`).
    pub markers: Vec<String>,
    /// Distinct normalised sequences.
    pub sequences: u64,
    /// Reference records.
    pub reference_sequences: u64,
    /// Occurrences.
    pub occurrences: u64,
    /// DNA rows of occurrences.
    pub dna_rows: u64,
    /// Taxa.
    pub taxa: u64,
    /// DNA rows whose sequence got a taxon by build-time assignment.
    #[serde(default)]
    pub assigned_dna_rows: u64,
    /// Bases read from all inputs (every record and row counted).
    pub input_bases: u64,
    /// Bases of the distinct sequences.
    pub distinct_bases: u64,
    /// Rejected or odd input.
    pub issues: Vec<InputIssue>,
    /// The partition this index holds when built with `--shard i/n`; absent for a whole index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The markers this index holds when built with `--only-marker` (a marker shard); absent when it
    /// holds every marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_markers: Option<Vec<String>>,
    /// Per marker name (as libraries and occurrence rows spell it), where its sequences lie among the ids;
    /// absent in indexes built before it existed (searches then read every posting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_spans: Option<BTreeMap<String, MarkerSpans>>,
}

/// One partition of a sharded build: the distinct sequences whose nucleotideSequenceID falls in
/// partition `index` of `count` (see [`ShardInfo::partition_of`]), with their reference records and
/// occurrences. Taxa, libraries and datasets are described completely in every shard.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardInfo {
    /// Partition held (0-based, `< count`).
    pub index: u32,
    /// Number of partitions.
    pub count: u32,
}

impl ShardInfo {
    /// The partition of a nucleotideSequenceID digest among `count`: the first 8 bytes of the MD5 read
    /// as a big-endian u64, modulo `count`. Stable across versions and machines (it depends on the
    /// digest alone), so a router can tell which shard holds a sequence without opening any index.
    pub fn partition_of(md5: &[u8; 16], count: u32) -> u32 {
        let mut head = [0u8; 8];
        head.copy_from_slice(&md5[..8]);
        (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32
    }

    /// Whether the sequence with this digest belongs to this shard.
    pub fn holds(&self, md5: &[u8; 16]) -> bool {
        Self::partition_of(md5, self.count) == self.index
    }
}

impl std::fmt::Display for ShardInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for ShardInfo {
    type Err = String;
    /// Parses `i/n` with `0 <= i < n`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard {s:?}: expected i/n, e.g. 0/3"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {s:?}: need 0 <= i < n"));
        }
        Ok(ShardInfo { index, count })
    }
}

/// Canonical marker name for a published `target_gene` or a library marker, so that `12S rRNA (SSU
/// mitochondria)`, `12s` and `SSU_rRNA_12S_mitochondrial` all file under `12S`. Unknown values are
/// returned trimmed as they are.
pub fn canonical_marker(raw: &str) -> String {
    let squashed: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .collect::<String>()
        .to_ascii_lowercase();
    let has = |s: &str| squashed.contains(s);
    let canon = if has("its1") {
        "ITS1"
    } else if has("its2") {
        "ITS2"
    } else if has("its") {
        "ITS"
    } else if has("coi") || has("co1") || has("cox1") {
        "COI"
    } else if has("12s") {
        "12S"
    } else if has("16s") {
        "16S"
    } else if has("18s") {
        "18S"
    } else if has("23s") {
        "23S"
    } else if has("28s") {
        "28S"
    } else if has("5s") {
        "5S"
    } else if has("rbcl") {
        "rbcL"
    } else if has("cytb") {
        "cytb"
    } else if has("matk") {
        "matK"
    } else {
        return raw.trim().to_string();
    };
    canon.to_string()
}

#[cfg(test)]
mod tests {
    use super::{canonical_marker, cover, union_spans, ShardInfo};
    use proptest::prelude::*;

    proptest! {
        /// A cover holds every run, has at most `max` ranges, stays sorted and disjoint, and adds no id when
        /// the runs already fit.
        #[test]
        fn covers_hold_every_run(
            ids in proptest::collection::btree_set(0u32..2000, 0..300),
            max in 1usize..10,
        ) {
            let mut runs: Vec<[u32; 2]> = Vec::new();
            for id in ids {
                match runs.last_mut() {
                    Some(r) if r[1] == id => r[1] = id + 1,
                    _ => runs.push([id, id + 1]),
                }
            }
            let covered = cover(&runs, max);
            prop_assert!(covered.len() <= max.max(1));
            prop_assert!(covered.windows(2).all(|w| w[0][1] < w[1][0]));
            for r in &runs {
                prop_assert!(covered.iter().any(|c| c[0] <= r[0] && r[1] <= c[1]), "{:?} not in {:?}", r, covered);
            }
            if runs.len() <= max {
                prop_assert_eq!(&covered, &runs);
            } else {
                prop_assert_eq!(covered.len(), max);
            }
        }

        /// The union of two span lists holds exactly the ids either holds.
        #[test]
        fn unions_hold_exactly_either(
            a in proptest::collection::vec((0u32..300, 0u32..20), 0..8),
            b in proptest::collection::vec((0u32..300, 0u32..20), 0..8),
        ) {
            let a: Vec<[u32; 2]> = a.into_iter().map(|(s, l)| [s, s + l]).collect();
            let b: Vec<[u32; 2]> = b.into_iter().map(|(s, l)| [s, s + l]).collect();
            let union = union_spans(&a, &b);
            prop_assert!(union.windows(2).all(|w| w[0].end < w[1].start));
            for id in 0..330 {
                let either = a.iter().chain(&b).any(|r| r[0] <= id && id < r[1]);
                prop_assert_eq!(union.iter().any(|r| r.contains(&id)), either, "id {}", id);
            }
        }
    }

    #[test]
    fn shards() {
        let s: ShardInfo = "1/3".parse().unwrap();
        assert_eq!(s, ShardInfo { index: 1, count: 3 });
        assert_eq!(s.to_string(), "1/3");
        for bad in ["3/3", "1", "a/3", "0/0", "-1/3"] {
            assert!(bad.parse::<ShardInfo>().is_err(), "{bad}");
        }
        // The documented rule, pinned: first 8 digest bytes, big-endian, modulo n.
        let mut d = [0u8; 16];
        d[7] = 7;
        assert_eq!(ShardInfo::partition_of(&d, 3), 1);
        d[0] = 1; // 2^56 + 7 ≡ 1 + 1 (mod 3)
        assert_eq!(ShardInfo::partition_of(&d, 3), 2);
        assert!(ShardInfo { index: 2, count: 3 }.holds(&d));
    }
    #[test]
    fn markers() {
        for (raw, want) in [
            ("12S rRNA (SSU mitochondria)", "12S"),
            ("SSU_rRNA_18S_eukaryotic", "18S"),
            ("COI-5P", "COI"),
            ("co1", "COI"),
            ("ITS2", "ITS2"),
            ("its", "ITS"),
            ("16S", "16S"),
            ("bac5s", "5S"),
            ("weird", "weird"),
        ] {
            assert_eq!(canonical_marker(raw), want, "{raw}");
        }
    }
}
