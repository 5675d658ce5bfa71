//! Build-time taxon assignment: the builder hands over an index of the reference libraries and the
//! distinct occurrence sequences; the search engine assigns each one exactly as `edna-search assign`
//! would, so "occurrences of this taxon" is consistent across datasets whatever names publishers used.

use std::path::Path;

use edna_index::Index;
use edna_index_builder::build::{OccurrenceAssigner, Progress};
use edna_index_builder::model::RankedName;
use rayon::prelude::*;

use crate::batch::SearcherPool;
use crate::search::{assign, RankThresholds, SearchParams, Strand, Target};

/// Assigns occurrence sequences with the search engine.
#[derive(Debug, Clone)]
pub struct EngineAssigner {
    /// Lowest identity a reference hit may have to vote.
    pub min_identity: f64,
    /// Fraction of the occurrence sequence the alignment must cover.
    pub min_coverage: f64,
    /// Identity margin (points) below the best hit that still votes.
    pub margin: f64,
}

impl Default for EngineAssigner {
    fn default() -> Self {
        // Down to the order threshold of the default rank cut; most of the query must align.
        EngineAssigner {
            min_identity: 0.90,
            min_coverage: 0.8,
            margin: 0.5,
        }
    }
}

impl OccurrenceAssigner for EngineAssigner {
    fn assign(
        &self,
        reference_index: &Path,
        queries: &[(Vec<u8>, Option<String>)],
        progress: &dyn Progress,
    ) -> Result<Vec<Option<Vec<RankedName>>>, String> {
        let index = Index::open(reference_index).map_err(|e| e.to_string())?;
        let lib_markers: Vec<String> = index.meta().libraries.iter().map(|l| l.marker.clone()).collect();
        let pool = SearcherPool::new(&index);
        let thresholds = RankThresholds::default();
        let base = SearchParams {
            min_identity: self.min_identity,
            min_coverage: self.min_coverage,
            max_hits: 0,
            strand: Strand::Both,
            target: Target::References,
            ..Default::default()
        };
        Ok(queries
            .par_iter()
            .map(|(seq, marker)| {
                progress.advance(1);
                // Only libraries of the occurrence's own marker vote; a marker without a library gets none
                // (a vertebrate mitochondrial 16S must not be named from a prokaryotic 16S library).
                let marker = marker.as_ref()?;
                if !lib_markers.iter().any(|m| m == marker) {
                    return None;
                }
                let params = SearchParams {
                    marker: Some(marker.clone()),
                    ..base.clone()
                };
                pool.with(|s| {
                    let r = s.search("", seq, &params);
                    let a = assign(&index, r.assignment_hits(), self.margin, &thresholds, &[]);
                    let lineage: Vec<RankedName> = a
                        .lineage
                        .into_iter()
                        .map(|t| RankedName {
                            rank: t.rank,
                            name: t.name,
                        })
                        .collect();
                    (!lineage.is_empty()).then_some(lineage)
                })
            })
            .collect())
    }
}
