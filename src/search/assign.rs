//! Taxon assignment from reference hits: GBIF's match type of the best hit (blast-ws rules) and a
//! consensus (lowest common ancestor) taxon cut to the deepest rank its identity supports.

use edna_index::schema::NONE;
use edna_index::Index;
use serde::Serialize;

use super::engine::Hit;

/// GBIF blast-ws match types (gbif-compat.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MatchType {
    /// Best identity > 99 %.
    #[serde(rename = "BLAST_EXACT_MATCH")]
    Exact,
    /// Best is EXACT and another EXACT hit lies within 1 point of it.
    #[serde(rename = "BLAST_AMBIGUOUS_MATCH")]
    Ambiguous,
    /// Best identity > 90 %.
    #[serde(rename = "BLAST_CLOSE_MATCH")]
    Close,
    /// Anything else.
    #[serde(rename = "BLAST_WEAK_MATCH")]
    Weak,
    /// No hit.
    #[serde(rename = "BLAST_NO_MATCH")]
    NoMatch,
}

impl MatchType {
    /// GBIF's string.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Exact => "BLAST_EXACT_MATCH",
            MatchType::Ambiguous => "BLAST_AMBIGUOUS_MATCH",
            MatchType::Close => "BLAST_CLOSE_MATCH",
            MatchType::Weak => "BLAST_WEAK_MATCH",
            MatchType::NoMatch => "BLAST_NO_MATCH",
        }
    }

    /// blast-ws `getMatchType` for one identity (percent): strict `>` thresholds 99 and 90.
    pub fn of_identity(percent: f64) -> MatchType {
        if percent > 99.0 {
            MatchType::Exact
        } else if percent > 90.0 {
            MatchType::Close
        } else {
            MatchType::Weak
        }
    }
}

/// Identity (percent) a rank needs before the consensus may be that specific.
#[derive(Debug, Clone, Serialize)]
pub struct RankThresholds(pub Vec<(String, f64)>);

impl Default for RankThresholds {
    fn default() -> Self {
        RankThresholds(vec![
            ("species".into(), 99.0),
            ("genus".into(), 97.0),
            ("family".into(), 95.0),
            ("order".into(), 90.0),
        ])
    }
}

impl RankThresholds {
    fn required(&self, rank: &str) -> Option<f64> {
        self.0
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(rank))
            .map(|(_, t)| *t)
    }
}

/// A taxon in an answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaxonRef {
    /// Taxon key in this index.
    pub key: u32,
    /// Name.
    pub name: String,
    /// Rank.
    pub rank: String,
}

/// Consensus taxon and the evidence behind it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// GBIF match type of the best hit.
    pub match_type: MatchType,
    /// Identity of the best hit (percent).
    pub best_identity: Option<f64>,
    /// Reference record id of the best hit.
    pub best_reference: Option<String>,
    /// Consensus taxon (None when no hit carries taxonomy).
    pub taxon: Option<TaxonRef>,
    /// Its lineage, root first.
    pub lineage: Vec<TaxonRef>,
    /// Hits within the margin that the consensus used.
    pub hits_used: usize,
    /// Distinct leaf taxa among them.
    pub distinct_taxa: usize,
    /// Fraction of the used hits whose own lineage reaches the consensus before the rank cut.
    pub agreement: f64,
    /// Identity margin (points) below the best that still votes.
    pub margin: f64,
}

/// Assigns a taxon from sequence-level hits (best first). Only reference records of `libraries` (all when
/// empty) vote.
pub fn assign(index: &Index, hits: &[Hit], margin: f64, thresholds: &RankThresholds, libraries: &[u32]) -> Assignment {
    // Expand sequence hits into reference records.
    let mut voters: Vec<(f64, u32)> = Vec::new(); // (identity %, reference id)
    for h in hits {
        for &r in index.seq_refs(h.seq) {
            if let Some(e) = index.reference(r) {
                if libraries.is_empty() || libraries.contains(&e.library) {
                    voters.push((h.identity * 100.0, r));
                }
            }
        }
    }
    let mut out = Assignment {
        match_type: MatchType::NoMatch,
        best_identity: None,
        best_reference: None,
        taxon: None,
        lineage: Vec::new(),
        hits_used: 0,
        distinct_taxa: 0,
        agreement: 0.0,
        margin,
    };
    let Some(&(best, best_ref)) = voters.first() else {
        return out;
    };
    out.best_identity = Some(best);
    out.best_reference = index.reference(best_ref).map(|r| index.str(r.id).to_string());
    let mut mt = MatchType::of_identity(best);
    // blast-ws (branch moredbs): another EXACT hit within 1 point makes an EXACT best AMBIGUOUS.
    if mt == MatchType::Exact
        && voters[1..]
            .iter()
            .any(|&(id, _)| MatchType::of_identity(id) == MatchType::Exact && best - id < 1.0)
    {
        mt = MatchType::Ambiguous;
    }
    out.match_type = mt;

    let used: Vec<u32> = voters
        .iter()
        .filter(|(id, _)| best - id <= margin + 1e-9)
        .filter_map(|&(_, r)| index.reference(r).map(|e| e.taxon))
        .filter(|&t| t != NONE)
        .collect();
    out.hits_used = used.len();
    let mut leaves = used.clone();
    leaves.sort_unstable();
    leaves.dedup();
    out.distinct_taxa = leaves.len();
    let lineages: Vec<Vec<u32>> = leaves.iter().map(|&t| index.lineage(t)).collect();
    let Some(first) = lineages.first() else {
        return out;
    };
    let mut lca_len = first.len();
    for l in &lineages[1..] {
        lca_len = lca_len.min(first.iter().zip(l).take_while(|(a, b)| a == b).count());
    }
    // Cut at the first rank whose threshold the best identity does not reach.
    let mut cut = 0;
    for &t in &first[..lca_len] {
        let rank = index.taxon(t).map(|e| index.str(e.rank)).unwrap_or("");
        if thresholds.required(rank).is_some_and(|need| best < need) {
            break;
        }
        cut += 1;
    }
    let lineage: Vec<TaxonRef> = first[..cut].iter().map(|&t| taxon_ref(index, t)).collect();
    if let Some(last) = lineage.last() {
        let key = last.key;
        let agreeing = used.iter().filter(|&&t| index.lineage(t).contains(&key)).count();
        out.agreement = agreeing as f64 / used.len().max(1) as f64;
        out.taxon = Some(last.clone());
    }
    out.lineage = lineage;
    out
}

/// Name and rank of a taxon.
pub fn taxon_ref(index: &Index, t: u32) -> TaxonRef {
    let e = index.taxon(t);
    TaxonRef {
        key: t,
        name: e.map(|e| index.str(e.name).to_string()).unwrap_or_default(),
        rank: e.map(|e| index.str(e.rank).to_string()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::MatchType;

    #[test]
    fn match_type_thresholds_are_strict() {
        assert_eq!(MatchType::of_identity(100.0), MatchType::Exact);
        assert_eq!(MatchType::of_identity(99.0), MatchType::Close);
        assert_eq!(MatchType::of_identity(99.01), MatchType::Exact);
        assert_eq!(MatchType::of_identity(90.0), MatchType::Weak);
        assert_eq!(MatchType::of_identity(90.5), MatchType::Close);
    }
}
