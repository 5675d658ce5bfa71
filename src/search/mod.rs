//! The search engine: exact lookup, seeded candidate generation, lossless filtering and alignment.
//!
//! For each query (and, with `Strand::Both`, its reverse complement):
//! 1. **Normalise** it as GBIF does; its nucleotideSequenceID finds an identical indexed sequence directly.
//! 2. **Seed**: query k-mers are looked up among the targets' minimizers; each target counts the query
//!    positions whose k-mer is one of its minimizers. When every allowed alignment must hold a whole
//!    minimizer window, the query's own minimizers suffice (and are all that is looked up).
//! 3. **Filter** with a bound that cannot lose a hit: a target that aligns at identity ≥ p over ≥ c of the
//!    query must share at least [`min_shared_seeds`] seeds, and its semi-global edit distance `d` (query
//!    ends may overhang the target by the uncovered fraction) must satisfy `n / (n + d) ≥ p`
//!    ([`edna_align::myers::identity_upper_bound`]). The seed count bound is applied per target to the query
//!    span its seed diagonals force, and the *positions* of the missing seeds give a second bound
//!    ([`SeedWindows`]): every query window whose minimizer the target lacks holds an edit. An alignment's
//!    longest exact run has a length bound too; when it spans a minimizer window it lies on a seed diagonal,
//!    which the 2-bit bases there must show (`runs`).
//! 4. **Align** the survivors with vsearch's scoring and keep those whose identity (vsearch `--iddef 2`)
//!    and query coverage pass the thresholds.
//!
//! Hits are sequence-level (one per distinct target sequence) in a total order: identity descending, then
//! query coverage descending, then sequence id ascending; `max_hits` truncates that order.

mod assign;
mod engine;
mod runs;
mod windows;

pub use assign::{assign, Assignment, MatchType, RankThresholds};
pub use engine::{
    min_shared_seeds, Hit, QueryResult, QueryStatus, SearchParams, SearchStats, Searcher, Strand, Target,
    ASSIGNMENT_WINDOW,
};
pub use windows::SeedWindows;
