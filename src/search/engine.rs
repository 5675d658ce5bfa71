//! Candidate generation, filtering and verification (see the module docs of [`crate::search`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::runs::{shares_exact_run, PackedQuery};
use super::windows::SeedWindows;
use edna_align::align::{Aligner, Alignment, Band, Scoring};
use edna_align::myers::lanes::{
    narrow_lanes, tight_lanes, wide_lanes, BandQuery, BandTarget, BAND_ROWS, MAX_LANES, MAX_TIGHT_LANES,
    MAX_WIDE_LANES, PAD_SLOT, TIGHT_BAND_ROWS, WIDE_BAND_ROWS,
};
use edna_align::myers::MyersQuery;
use edna_align::{identity_upper_bound, max_edits_for_identity, max_edits_for_identity_in};
use edna_index::meta::canonical_marker;
use edna_index::reader::{prefetch, Decoding, Postings, Sequences};
use edna_index::schema::NONE;
use edna_index::Index;
use serde::Serialize;

/// Which strands of the query to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strand {
    /// The query and its reverse complement.
    #[default]
    Both,
    /// The query as given.
    Plus,
}

/// Which indexed sequences count as targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Sequences of reference-library records.
    #[default]
    References,
    /// Sequences carried by occurrences.
    Occurrences,
    /// Both.
    All,
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct SearchParams {
    /// Minimum identity (fraction, vsearch `--iddef 2`).
    pub min_identity: f64,
    /// Minimum fraction of the query inside the alignment.
    pub min_coverage: f64,
    /// Hits kept per query (0 = all).
    pub max_hits: usize,
    /// Only targets of this marker (canonical name, e.g. `12S`).
    pub marker: Option<String>,
    /// Strands searched.
    pub strand: Strand,
    /// Target kind.
    pub target: Target,
    /// Keep CIGAR and aligned strings.
    pub with_alignment: bool,
    /// Longest query accepted (longer ones get an `invalid` status).
    pub max_query_len: usize,
    /// Shortest query searched (shorter ones get an `invalid` status): a handful of bases aligns by chance
    /// to thousands of targets, and seeds of 14 bases cannot find them all.
    pub min_query_len: usize,
    /// With `target` other than references, also search for the reference hits a taxon assignment needs
    /// ([`QueryResult::reference_hits`]); costs more when occurrence hits fill the top. Off when no
    /// assignment is wanted.
    pub find_reference_hits: bool,
}

/// [`SearchParams::min_query_len`] by default: the issue's "very short" bound. Exact hits are guaranteed from
/// `w + k − 1` = 24 bases (a whole minimizer window); from 20 to 23 bases they are found when a target
/// minimizer falls inside the query.
pub const MIN_QUERY_LEN: usize = 20;

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            min_identity: 0.97,
            min_coverage: 0.5,
            max_hits: 100,
            marker: None,
            strand: Strand::Both,
            target: Target::References,
            with_alignment: false,
            max_query_len: 100_000,
            min_query_len: MIN_QUERY_LEN,
            find_reference_hits: true,
        }
    }
}

impl SearchParams {
    /// The same settings restricted to reference targets.
    pub fn references_only(&self) -> SearchParams {
        self.with_target(Target::References)
    }

    /// The same settings with another target kind.
    pub fn with_target(&self, target: Target) -> SearchParams {
        SearchParams { target, ..self.clone() }
    }
}

/// One aligned hit against a distinct indexed sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Target sequence id in the index.
    #[serde(skip)]
    pub seq: u32,
    /// The target's nucleotideSequenceID digest: the tie-break of the documented order, the same in every
    /// index and shard whatever its id layout.
    #[serde(skip)]
    pub digest: [u8; 16],
    /// Identity (0–1), matching columns / alignment columns, terminal gaps excluded.
    pub identity: f64,
    /// Alignment columns (terminal gaps excluded).
    pub alignment_length: u32,
    /// Mismatching columns.
    pub mismatches: u32,
    /// Interior gap openings.
    pub gap_opens: u32,
    /// 1-based first aligned query position (on the searched strand of the query as given).
    pub q_start: u32,
    /// 1-based last aligned query position.
    pub q_end: u32,
    /// 1-based first aligned target position.
    pub t_start: u32,
    /// 1-based last aligned target position.
    pub t_end: u32,
    /// Strand of the query that aligned.
    pub strand: char,
    /// Fraction of the query inside the alignment.
    pub query_coverage: f64,
    /// Alignment score (vsearch scoring) of the reported path over the whole target, terminal gaps included.
    pub score: i32,
    /// Target length.
    pub target_length: u32,
    /// CIGAR (`=`/`X`/`I`/`D`), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cigar: Option<String>,
    /// Aligned query, midline and target, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aligned: Option<[String; 3]>,
    /// The query was aligned in GBIF's normal form although its form as given differs (an occurrence target
    /// of a query with trimmed ends or capped N runs, see [`QueryResult::given`]): the CIGAR, aligned strings
    /// and coverage are of the normal form, the query positions on the query as given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub normalised_query: bool,
}

/// How a query fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum QueryStatus {
    /// Hits found.
    Ok,
    /// Valid query without hits.
    NoHits,
    /// Rejected query, with the reason.
    Invalid(String),
}

impl std::fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryStatus::Ok => write!(f, "ok"),
            QueryStatus::NoHits => write!(f, "no_hits"),
            QueryStatus::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

/// The answer for one query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    /// Query id.
    pub id: String,
    /// Status.
    pub status: QueryStatus,
    /// Normalised query (GBIF rules), when valid.
    pub sequence: Option<String>,
    /// nucleotideSequenceID of the normalised query.
    pub nucleotide_sequence_id: Option<String>,
    /// The query as given (cleaned like a reference barcode: no end trimming, no N-run capping) when that
    /// differs from `sequence`. Reference targets keep every base, so the query meets them in this form,
    /// as a peer aligner would; occurrence sequences are stored in the normal form and meet it in that.
    /// Query positions of every hit are on this form.
    #[serde(skip)]
    pub given: Option<String>,
    /// Indexed sequence identical to the query, if any.
    #[serde(skip)]
    pub exact: Option<u32>,
    /// Hits in the documented order, truncated to `max_hits`.
    pub hits: Vec<Hit>,
    /// Hits found before truncation (with `max_hits`, the pruning stops looking once the top is settled,
    /// so this is a lower bound on all hits above the threshold).
    pub total_hits: usize,
    /// With `target` other than references: the reference hits a taxon assignment uses, found however many
    /// occurrence hits rank above them (see [`QueryResult::assignment_hits`]): with `max_hits`, the best
    /// `max_hits` of those within [`ASSIGNMENT_WINDOW`] of the best reference hit.
    #[serde(skip)]
    pub reference_hits: Option<Vec<Hit>>,
}

impl QueryResult {
    /// The hits a taxon assignment uses: the reference hits, which with `target` references are the hits.
    pub fn assignment_hits(&self) -> &[Hit] {
        self.reference_hits.as_deref().unwrap_or(&self.hits)
    }
}

/// Per-thread scratch space; reuse one per worker for speed.
pub struct Searcher<'a> {
    index: &'a Index,
    /// The index's sequence sections, resolved once (thousands of targets are read per query).
    seqs: Sequences<'a>,
    /// The index's k-mer sections, resolved once.
    postings: Postings<'a>,
    /// Scratch of seeding: the query's k-mers and their postings ranges.
    seed_keys: Vec<u32>,
    seed_ranges: Vec<Range<usize>>,
    /// Per target: seeds shared with the query, the smallest and largest seed diagonal, and the target's
    /// shape (one record, so seeding touches one cache line per target, not four).
    seeding: Vec<SeedTally>,
    touched: Vec<u32>,
    /// Scratch of the candidate sort.
    sort_scratch: Vec<Candidate>,
    align_buf: Vec<u8>,
    aligner: Aligner,
    target_buf: Vec<u8>,
    /// Per strand, the padded target slots of the candidates waiting for a vector band scan.
    /// Indexed by group (strand × band scan kind, see [`group_of`]) and lane.
    lane_slots: [[Vec<u8>; MAX_TIGHT_LANES]; GROUPS],
    /// Per strand, the query's match table for the band scans, rebuilt in place for each query that needs one
    /// (a fresh table per query cost ~5 % of a search on short barcodes).
    bands: [BandQuery; 2],
    /// Targets per tight, narrow and wide vector group on this CPU ([`tight_lanes`], [`narrow_lanes`],
    /// [`wide_lanes`]; no tight groups when it is 0).
    tight_group: usize,
    narrow_group: usize,
    wide_group: usize,
    vector_screen: bool,
    /// Whether the per-target seed bounds (span and positions, [`SeedWindows`]) run at seeding.
    seed_filters: bool,
    /// See [`Searcher::set_lcs_bound`].
    lcs_bound: bool,
    /// The widest band aligned without a placement first (see [`Searcher::set_direct_alignment`]).
    fast_band: usize,
    /// See [`Searcher::set_exact_alignment`].
    exact_alignment: bool,
    /// Eligibility per sequence for the most recent target kinds and markers, the current one first
    /// ([`Searcher::prepare_eligibility`]).
    eligibility_caches: Vec<EligibilityCache>,
    /// See [`Searcher::set_stop`].
    stop: Option<Arc<AtomicBool>>,
    /// The current query's alignments and placements by window (see [`WindowMemo`]); `None` when turned off.
    memo: Option<Memos>,
    /// Work counters, for benchmarks and tuning.
    pub stats: SearchStats,
}

/// Work done by a [`Searcher`] so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct SearchStats {
    /// Postings (target, position) read at seeding.
    pub postings: u64,
    /// Targets touched by at least one seed.
    pub seeded: u64,
    /// Eligible targets rejected at seeding by the per-target seed count or seed position bounds.
    pub position_rejected: u64,
    /// Targets passing the seed bounds.
    pub candidates: u64,
    /// Target bases scanned by the edit-distance filter.
    pub filter_bases: u64,
    /// Targets passing the exact-piece bound.
    pub piece_passed: u64,
    /// Targets rejected by the vector band scan.
    pub band_rejected: u64,
    /// Targets within the edit budget that the common-subsequence bound rejects
    /// ([`Searcher::set_lcs_bound`]).
    pub lcs_rejected: u64,
    /// Hits aligned in their seed band whose path ran along its edge, aligned again on the whole target.
    pub realigned: u64,
    /// Candidates aligned in their seed band without a placement ([`Searcher::set_direct_alignment`]).
    pub direct: u64,
    /// Targets passing the edit-distance bound (aligned).
    pub aligned: u64,
    /// Of those, queries found exactly in their target, aligned without a matrix ([`edna_align::exact_alignment`]).
    pub exact: u64,
    /// Hits kept.
    pub hits: u64,
    /// Candidates without an exact run as long as every hit holds on their seed diagonals (`search::runs`).
    pub run_rejected: u64,
    /// Alignments taken from an earlier candidate of the query with the same window and band
    /// ([`Searcher::set_alignment_memo`]).
    pub memo_hits: u64,
    /// Edit-distance placements taken from an earlier candidate of the query with the same stretch, pads,
    /// band and budget ([`Searcher::set_alignment_memo`]).
    pub placement_memo_hits: u64,
}

/// Minimum number of query positions whose k-mer must be a minimizer of any target that aligns at
/// identity ≥ `min_identity` over at least `min_coverage` of a query of length `qlen` with `ambiguous`
/// non-ACGT bases (each counted as an error).
///
/// Proof sketch: an aligned query span of length `L ≥ ⌈c·n⌉` has at most `e = ⌊(1−p)·L/p⌋` error columns
/// (identity `(C−e)/C ≥ p` with `C ≤ L + e`), splitting it into at most `e + 1` exact segments holding at least
/// `L − e` bases. A segment of `s` bases contains `⌊(s − k + 1)/w⌋` disjoint windows of `w` k-mers, each with
/// its own target minimizer at a distinct query position. Summing with the worst split gives
/// `T(L) = ⌈(L − e − (e+1)(w+k−2)) / w⌉`. `T` is *not* monotone in `L`: each step of `e` costs a whole
/// segment's slack (e.g. n = 188, p = 0.97: `T(94) = 3` but `T(100) = 1`), so the bound is the minimum over
/// every allowed span `⌈c·n⌉ ≤ L ≤ n`. At least one seed is always required (a target without any shared
/// seed cannot be found).
pub fn min_shared_seeds(
    qlen: usize,
    ambiguous: usize,
    min_identity: f64,
    min_coverage: f64,
    k: usize,
    w: usize,
) -> u32 {
    seeds_by_span(qlen, ambiguous, min_identity, k, w)[shortest_span(qlen, min_coverage)]
}

/// The fewest query bases (at least one) an alignment covering `min_coverage` of a `qlen`-base query aligns.
fn shortest_span(qlen: usize, min_coverage: f64) -> usize {
    ((min_coverage.clamp(0.0, 1.0) * qlen as f64).ceil() as usize).clamp(1, qlen.max(1))
}

/// The most query bases that may hang off a target end while `min_coverage` of a `qlen`-base query aligns.
fn max_overhang(qlen: usize, min_coverage: f64) -> usize {
    ((1.0 - min_coverage.clamp(0.0, 1.0)) * qlen as f64).floor() as usize
}

/// [`min_shared_seeds`] for every shortest aligned span at once: entry `m` (for `m` in `0..=qlen`) is the
/// fewest shared seeds of any alignment covering at least `max(m, 1)` query bases, `min T(L)` over
/// `max(m, 1) ≤ L ≤ qlen`. A candidate whose seed diagonals limit how far the query can hang off the
/// target's ends must cover more of the query, so it is held to a later, usually higher, entry.
pub fn seeds_by_span(qlen: usize, ambiguous: usize, min_identity: f64, k: usize, w: usize) -> Vec<u32> {
    SpanBounds::new(qlen, ambiguous, min_identity, k, w).seeds_by_span
}

/// The seed bounds of one query length, identity and ambiguity count, for every aligned span, worked out in
/// one pass (a search needs them for both strands and its bar: each pass had cost ~2 % of a search).
struct SpanBounds {
    /// [`seeds_by_span`].
    seeds_by_span: Vec<u32>,
    /// The longest aligned span (0 for none) that [`window_bases`] says may hold no whole window.
    windowless_up_to: usize,
    /// Entry `m`: the fewest bases in the longest exact run of any alignment covering at least `m` query
    /// bases, `min ⌈(L − e)/(e + 1)⌉` over `max(m, 1) ≤ L ≤ qlen` with `e` its errors and ambiguity codes.
    runs_by_span: Vec<u32>,
}

impl SpanBounds {
    fn new(qlen: usize, ambiguous: usize, min_identity: f64, k: usize, w: usize) -> Self {
        let p = min_identity.clamp(0.01, 1.0);
        let n = qlen.max(1);
        let mut seeds_by_span = vec![1u32; n + 1];
        let mut runs_by_span = vec![0u32; n + 1];
        let mut windowless_up_to = 0;
        // The budget of span l, max_edit_distance(l, p), never shrinks as l grows (l/(l + d) grows with l, and
        // a correctly rounded division keeps that order), so one forward walk settles all of them.
        let slack_p = p - BOUND_SLACK;
        let mut d = 0u32;
        for (l, seeds) in seeds_by_span.iter_mut().enumerate().skip(1) {
            while identity_upper_bound(l, d + 1) >= slack_p {
                d += 1;
            }
            let breaks = d as usize + ambiguous;
            runs_by_span[l] = (l.saturating_sub(breaks)).div_ceil(breaks + 1) as u32;
            let good = window_bases(l, d as usize + ambiguous, k, w);
            if good <= 0 {
                windowless_up_to = l;
            }
            *seeds = if good <= 0 {
                1
            } else {
                (good as u64).div_ceil(w.max(1) as u64).max(1) as u32
            };
        }
        // Entry m is the fewest over every span of at least m bases.
        for l in (1..n).rev() {
            seeds_by_span[l] = seeds_by_span[l].min(seeds_by_span[l + 1]);
            runs_by_span[l] = runs_by_span[l].min(runs_by_span[l + 1]);
        }
        seeds_by_span[0] = seeds_by_span[1];
        runs_by_span[0] = runs_by_span[1];
        SpanBounds {
            seeds_by_span,
            windowless_up_to,
            runs_by_span,
        }
    }

    /// Whether every alignment allowed (at least `shortest` query bases) holds a whole query window without
    /// an edit. Then its minimizer is a seed, so looking up the query's minimizers alone finds every target
    /// the bounds admit, with the same counts the bounds are stated in; otherwise a hit may share only k-mers
    /// that are not window minimizers of the query, and every query k-mer is looked up.
    fn windows_guaranteed(&self, shortest: usize) -> bool {
        self.windowless_up_to < shortest.max(1)
    }
}

/// Bases of an aligned span of `l` query bases with `e` errors (ambiguity codes included) that the worst error
/// placement still leaves in whole minimizer windows (`L − e − (e+1)(w+k−2)` in [`min_shared_seeds`]); zero or
/// less when an alignment may hold no whole window at all.
fn window_bases(l: usize, e: usize, k: usize, w: usize) -> i64 {
    l as i64 - e as i64 - (e as i64 + 1) * (w as i64 + k as i64 - 2)
}

/// Seed diagonals (`dmax − dmin + 1`) up to which a candidate's diagonals are searched for an exact run.
/// Three in four candidates the bound rejects have one; reading more diagonals saved no time on 12S or ITS1.
const RUN_BOUND_MAX_DIAGONALS: i32 = 1;

/// Every bound is taken at identity `p − BOUND_SLACK`: looser than the final check's `1e-12`, so rounding can
/// never make a bound reject an alignment that the check keeps.
const BOUND_SLACK: f64 = 1e-9;

/// From this identity on, a candidate the band screen passes is aligned in the stretch and band its seeds
/// allow, with no edit-distance placement first ([`Searcher::place`]), when the aligner fills that band
/// fast. Below it, many candidates within the edit budget are homologs the common-subsequence bound rejects
/// without aligning them, and the bound needs the placement's distance (UNITE ITS1 self-search: 21 % of the
/// screened candidates at 80 %, 9 % at 90 %, 3 % at 97 %).
const DIRECT_ALIGNMENT_MIN_IDENTITY: f64 = 0.9;

/// Stretches up to this many times the query's length get the common-subsequence bound right after their
/// placement ([`Searcher::place`]); on 12S ASVs at 80 % every rejection came from stretches under 4×.
const LCS_STRETCH_MAX_FACTOR: usize = 4;

/// The band-screen slot of a target column that matches no query base (an empty IUPAC mask).
const NO_MATCH_SLOT: u8 = 0;

/// Every how many bases of query overhang the band screen may charge one edit at identity `bar`:
/// `r = ⌈p/(1 − p)⌉`. An alignment hanging `o` query bases off the target aligns `n − o`, which allows
/// `e(n − o)` edits, and `e(n) ≥ e(n − o) + ⌊o/r⌋` (`e(l) = ⌊l(1 − p)/p⌋`, and `1/r ≤ (1 − p)/p`), so an alignment
/// that passes still fits the whole query's budget with its overhang charged. `None` when nothing can be
/// charged (`p` of 1 or out of range).
fn overhang_charge_every(bar: f64) -> Option<usize> {
    let p = bar - BOUND_SLACK;
    if !(0.0..1.0).contains(&p) {
        return None;
    }
    let r = (p / (1.0 - p)).ceil();
    (1.0..1e6).contains(&r).then_some(r as usize)
}

/// Turns every `every`-th wildcard column of a candidate's padding, counted outward from the target's ends,
/// into one that matches nothing (`slots`: `pad_left` wildcards, `bases` target columns, the right padding).
/// Crossing such a column costs the scan one edit however the alignment does it (a mismatch, or a gap that
/// skips it), so a query hanging `o` bases off an end pays at least `⌊o/every⌋`: what its shorter aligned span
/// takes off the edit budget ([`overhang_charge_every`]). A homolog that only reaches the budget by hanging
/// far off the target is rejected by the vector screen instead of being placed or aligned.
fn charge_overhang(slots: &mut [u8], (pad_left, bases): (usize, usize), every: usize) {
    let right = pad_left + bases;
    for j in (every..=pad_left).step_by(every.max(1)) {
        slots[pad_left - j] = NO_MATCH_SLOT;
    }
    for j in (every..=slots.len().saturating_sub(right)).step_by(every.max(1)) {
        slots[right + j - 1] = NO_MATCH_SLOT;
    }
}

/// Largest edit distance that still allows identity ≥ `p` (less [`BOUND_SLACK`]) for `n` query bases:
/// `n/(n+d) ≥ p`.
fn max_edit_distance(n: usize, p: f64) -> u32 {
    max_edits_for_identity(n, p.clamp(0.01, 1.0) - BOUND_SLACK)
}

impl<'a> Searcher<'a> {
    /// Scratch space for searching `index`.
    pub fn new(index: &'a Index) -> Self {
        let n = index.n_seqs() as usize;
        Searcher {
            index,
            seqs: index.sequences(),
            postings: index.kmer_postings(),
            seed_keys: Vec::new(),
            seed_ranges: Vec::new(),
            seeding: vec![SeedTally::default(); n],
            touched: Vec::new(),
            sort_scratch: Vec::new(),
            align_buf: Vec::new(),
            aligner: Aligner::new(),
            target_buf: Vec::new(),
            lane_slots: Default::default(),
            bands: Default::default(),
            tight_group: tight_lanes(),
            narrow_group: narrow_lanes(),
            wide_group: wide_lanes(),
            vector_screen: true,
            seed_filters: true,
            lcs_bound: true,
            fast_band: edna_align::widest_fast_band(),
            exact_alignment: true,
            eligibility_caches: Vec::new(),
            stop: None,
            memo: Some(Memos::default()),
            stats: SearchStats::default(),
        }
    }

    /// A flag that, once raised, stops the search under way within `STOP_CHECK_EVERY` (64) candidates: it
    /// returns what it has found, an incomplete answer its caller must discard. The HTTP search threads
    /// raise it when the request is gone (client disconnected, timed out), so a 10 kb query at 80 %, tens
    /// of seconds of work, does not keep a thread from the next request. `None` (the default): never stop.
    pub fn set_stop(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.stop = flag;
    }

    /// Turns off or on (on by default) reusing a query's alignment for every candidate whose aligned window
    /// holds the same bases in the same band, and its edit-distance placement for every candidate whose
    /// scanned stretch does, with the same pads, band and budget (`WindowMemo`); tests compare the two.
    pub fn set_alignment_memo(&mut self, on: bool) {
        self.memo = on.then(Memos::default);
    }

    /// Whether the flag of [`Searcher::set_stop`] is raised.
    pub fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// Turns the vector band screen off or on (on by default). The hits are the same either way; this
    /// exists so tests and benchmarks can show it.
    pub fn set_vector_screen(&mut self, on: bool) {
        self.vector_screen = on;
    }

    /// Turns the per-target seed bounds off or on (on by default): as with [`Searcher::set_vector_screen`],
    /// the hits are the same either way.
    pub fn set_seed_filters(&mut self, on: bool) {
        self.seed_filters = on;
    }

    /// Turns the common-subsequence bound in front of each alignment off or on (on by default): as with
    /// [`Searcher::set_vector_screen`], the hits are the same either way.
    pub fn set_lcs_bound(&mut self, on: bool) {
        self.lcs_bound = on;
    }

    /// Turns off or on (on by default) aligning a candidate in the band its seeds allow, with no
    /// edit-distance placement first, from `DIRECT_ALIGNMENT_MIN_IDENTITY` on and where the band is one the
    /// aligner fills fast ([`edna_align::widest_fast_band`]). The band reaches `2e + 8` diagonals past the
    /// seeds, as far as a placement's window reaches past the placement with the most edits the budget `e`
    /// allows; tests compare the two.
    pub fn set_direct_alignment(&mut self, on: bool) {
        self.fast_band = if on { edna_align::widest_fast_band() } else { 0 };
    }

    /// Turns off or on (on by default) taking an exact occurrence of the query as its alignment without
    /// filling a matrix, where [`edna_align::exact_alignment`] vouches that the matrix gives the same; tests
    /// compare the two.
    pub fn set_exact_alignment(&mut self, on: bool) {
        self.exact_alignment = on;
    }

    /// The index searched.
    pub fn index(&self) -> &'a Index {
        self.index
    }

    /// Makes the eligibility cache of `params`' target kind and marker the current one. The caches of the
    /// last [`ELIGIBILITY_CACHES`] keys are kept: a service that alternates between, say, 12S references
    /// (`/blast/batch`) and all targets without a marker (`/v1/search`) would otherwise start from nothing
    /// at every switch, and working out a sequence's eligibility walks its occurrences.
    fn prepare_eligibility(&mut self, params: &SearchParams) {
        let caches = &mut self.eligibility_caches;
        let found = caches
            .iter()
            .position(|c| c.target == params.target && c.marker == params.marker);
        let cache = match found {
            Some(i) => caches.remove(i),
            None => {
                // A new table, or the least recently used one's, cleared.
                let mut flags = if caches.len() >= ELIGIBILITY_CACHES {
                    caches.pop().map(|c| c.flags)
                } else {
                    None
                }
                .unwrap_or_default();
                flags.clear();
                flags.resize(self.index.n_seqs() as usize, 0);
                let canonical = params.marker.as_deref().map(canonical_marker);
                let (refs, occs) = match params.target {
                    Target::References => (true, false),
                    Target::Occurrences => (false, true),
                    Target::All => (true, true),
                };
                EligibilityCache {
                    target: params.target,
                    marker: params.marker.clone(),
                    id_spans: canonical
                        .as_deref()
                        .and_then(|m| self.index.marker_id_spans(m, refs, occs)),
                    canonical_marker: canonical,
                    flags,
                }
            }
        };
        caches.insert(0, cache);
    }

    /// Length of sequence `seq` and whether it holds a non-ACGT symbol, read from the index the first time
    /// it is seeded and then from its [`SeedTally`] (`tally` is a copy of it).
    #[inline]
    fn shape(&mut self, seq: u32, tally: &SeedTally) -> Shape {
        if tally.shape != 0 && tally.shape != SHAPE_LONG {
            return Shape {
                len: (tally.shape & !SHAPE_AMBIGUOUS) as u32 - 1,
                ambiguous: tally.shape & SHAPE_AMBIGUOUS != 0,
            };
        }
        let len = self.seqs.len_of(seq);
        let ambiguous = self.seqs.has_exceptions_in(seq, 0, usize::MAX);
        if let Some(t) = self.seeding.get_mut(seq as usize) {
            t.shape = match u16::try_from(len.saturating_add(1)) {
                Ok(l) if l < SHAPE_LONG => l | if ambiguous { SHAPE_AMBIGUOUS } else { 0 },
                _ => SHAPE_LONG,
            };
        }
        Shape { len, ambiguous }
    }

    /// Whether `seq` is a target of `params`, and whether it is a reference target (of the marker), cached
    /// per sequence for the key set by [`Searcher::prepare_eligibility`].
    #[inline]
    fn eligibility(&mut self, seq: u32, params: &SearchParams) -> Eligibility {
        let Some(&flags) = self.eligibility_caches.first().and_then(|c| c.flags.get(seq as usize)) else {
            return Eligibility::default();
        };
        let flags = if flags & ELIGIBILITY_KNOWN != 0 {
            flags
        } else {
            self.work_out_eligibility(seq, params)
        };
        Eligibility {
            target: flags & ELIGIBILITY_TARGET != 0,
            reference: flags & ELIGIBILITY_REFERENCE != 0,
        }
    }

    /// The first [`Searcher::eligibility`] of `seq` for the current key: walks its references and occurrences
    /// and caches the answer (kept out of line: the cached path is the hot one).
    #[cold]
    #[inline(never)]
    fn work_out_eligibility(&mut self, seq: u32, params: &SearchParams) -> u8 {
        let Some(cache) = self.eligibility_caches.first_mut() else {
            return 0;
        };
        let want = cache.canonical_marker.as_deref();
        let target = eligible(self.index, seq, params.target, want);
        let reference = if params.target == Target::References {
            target
        } else {
            eligible(self.index, seq, Target::References, want)
        };
        let f = ELIGIBILITY_KNOWN
            | if target { ELIGIBILITY_TARGET } else { 0 }
            | if reference { ELIGIBILITY_REFERENCE } else { 0 };
        if let Some(slot) = cache.flags.get_mut(seq as usize) {
            *slot = f;
        }
        f
    }

    /// Searches one query (raw, as the user gave it).
    pub fn search(&mut self, id: &str, raw: &[u8], params: &SearchParams) -> QueryResult {
        let mut result = QueryResult {
            id: id.to_string(),
            status: QueryStatus::NoHits,
            sequence: None,
            nucleotide_sequence_id: None,
            given: None,
            exact: None,
            hits: Vec::new(),
            total_hits: 0,
            reference_hits: None,
        };
        let query = match edna_seq::normalize::clean(raw) {
            Ok(q) => q,
            Err(why) => {
                result.status = QueryStatus::Invalid(why.to_string());
                return result;
            }
        };
        if query.is_empty() {
            result.status = QueryStatus::Invalid(if raw.iter().all(u8::is_ascii_whitespace) {
                "empty sequence".into()
            } else {
                "no run of 8 unambiguous bases (nothing left after GBIF trimming)".into()
            });
            return result;
        }
        if query.len() < params.min_query_len {
            result.status = QueryStatus::Invalid(format!(
                "sequence of {} bases is shorter than the minimum of {}",
                query.len(),
                params.min_query_len
            ));
            return result;
        }
        if query.len() > params.max_query_len {
            result.status = QueryStatus::Invalid(format!(
                "sequence of {} bases exceeds the limit of {}",
                query.len(),
                params.max_query_len
            ));
            return result;
        }
        let md5 = edna_seq::normalize::md5_bytes(&query);
        result.nucleotide_sequence_id = Some(edna_seq::normalize::to_hex(&md5));
        result.exact = self.index.find_md5(&md5);
        let given = given_form(raw, &query, params);
        let mut hits = match &given {
            None => self.verify_both_strands(&query, params),
            Some((given, positions)) => {
                let on_normal = |s: &mut Self, params: &SearchParams| {
                    let mut hits = s.verify_both_strands(&query, params);
                    for h in &mut hits {
                        h.normalised_query = true;
                        h.q_start = positions[h.q_start as usize - 1] + 1;
                        h.q_end = positions[h.q_end as usize - 1] + 1;
                    }
                    hits
                };
                let hits = match params.target {
                    Target::References => self.verify_both_strands(given, params),
                    Target::Occurrences => on_normal(self, params),
                    Target::All => {
                        let mut hits = self.verify_both_strands(given, &params.references_only());
                        hits.extend(on_normal(self, &params.with_target(Target::Occurrences)));
                        // The reference hits below are read from the cache of `params`' own target kind.
                        self.prepare_eligibility(params);
                        hits
                    }
                };
                result.given = Some(String::from_utf8_lossy(given).into_owned());
                hits
            }
        };
        // Keep the better strand per target.
        hits.sort_by(|a, b| a.seq.cmp(&b.seq).then(order(a, b)));
        hits.dedup_by_key(|h| h.seq);
        hits.sort_by(order);
        result.total_hits = hits.len();
        if params.target != Target::References && params.find_reference_hits {
            let limit = if params.max_hits > 0 {
                params.max_hits
            } else {
                usize::MAX
            };
            // Every hit was a candidate, so its eligibility is cached.
            let mut refs_found: Vec<Hit> = Vec::new();
            for h in &hits {
                if refs_found.len() == limit {
                    break;
                }
                if self.eligibility(h.seq, params).reference {
                    refs_found.push(h.clone());
                }
            }
            if params.max_hits > 0 {
                // Only the window is searched exhaustively; what lies below it may be incomplete.
                let floor = refs_found.first().map_or(0.0, |h| h.identity - ASSIGNMENT_WINDOW);
                refs_found.retain(|h| h.identity + 1e-9 >= floor);
            }
            result.reference_hits = Some(refs_found);
        }
        if params.max_hits > 0 {
            hits.truncate(params.max_hits);
        }
        result.status = if hits.is_empty() {
            QueryStatus::NoHits
        } else {
            QueryStatus::Ok
        };
        result.hits = hits;
        result.sequence = Some(String::from_utf8_lossy(&query).into_owned());
        result
    }

    /// Finds the hits of one form of the query, on the strands `params` asks for.
    fn verify_both_strands(&mut self, query: &[u8], params: &SearchParams) -> Vec<Hit> {
        let rc;
        let mut strands: Vec<(&[u8], char)> = vec![(query, '+')];
        if params.strand == Strand::Both {
            rc = edna_seq::pack::reverse_complement(query);
            strands.push((&rc, '-'));
        }
        self.verify(&strands, params)
    }

    /// Seeds one strand: appends `(seed count, target, strand, dmin, dmax)` for every eligible target that
    /// passes the seed-count bound.
    #[inline(never)]
    fn seed_candidates(
        &mut self,
        query: &[u8],
        strand: usize,
        params: &SearchParams,
        bounds: &SpanBounds,
        out: &mut Vec<Candidate>,
    ) {
        let index = self.index;
        let seeds = &index.meta().seeds;
        let (k, w) = (seeds.k as usize, seeds.w as usize);
        let n = query.len();
        // Count, per target, the query positions whose k-mer is one of its minimizers, and the range of
        // diagonals those seeds lie on.
        let shortest = shortest_span(n, params.min_coverage);
        let max_d = max_edit_distance(n, params.min_identity);
        // At low identity the budget exceeds what missing seeds can ever prove: one edit per window span
        // of query is the most (and the windows are not even worked out when the budget exceeds that).
        let span = w + k - 1;
        let want_windows = (max_d as usize) < n.saturating_sub(span - 1).div_ceil(span.max(1));
        let mut windows = SeedWindows::default();
        let mut kmers: Vec<(usize, u32)> = Vec::with_capacity(n);
        if self.seed_filters && bounds.windows_guaranteed(shortest) {
            let mut mins = Vec::with_capacity(n / 4);
            if want_windows {
                windows = SeedWindows::with_minimizers(query, k, w, seeds.hash_seed, &mut mins);
            } else {
                edna_seq::kmer::minimizer_positions(query, k, w, seeds.hash_seed, &mut mins);
            }
            kmers.extend(mins.into_iter().map(|(km, p)| (p as usize, km)));
        } else {
            edna_seq::kmer::for_each_kmer(query, k, |p, km| kmers.push((p, km)));
            if want_windows {
                windows = SeedWindows::new(query, k, w, seeds.hash_seed);
            }
        }
        self.seed_keys.clear();
        self.seed_keys.extend(kmers.iter().map(|&(_, km)| km));
        self.postings.ranges(&self.seed_keys, &mut self.seed_ranges);
        // The current key's cache is first (`verify` prepared it).
        let id_spans = self
            .eligibility_caches
            .first()
            .and_then(|c| c.id_spans.as_deref())
            .filter(|_| self.seed_filters);
        let postings = tally_postings(
            &self.postings,
            (&kmers, &self.seed_ranges),
            id_spans,
            n,
            &mut self.seeding,
            &mut self.touched,
        );
        let by_span = &bounds.seeds_by_span;
        let threshold = by_span[shortest];
        let slack = max_d as i64 + 2;
        let positional = windows.most_edits() > max_d;
        // Neither per-target bound can reject anything when both are vacuous (low identity).
        let per_target = self.seed_filters && (positional || by_span[n] > threshold);
        let overhang = max_overhang(n, params.min_coverage);
        self.stats.postings += postings;
        self.stats.seeded += self.touched.len() as u64;
        let touched = std::mem::take(&mut self.touched);
        let first_new = out.len();
        for (i, &s) in touched.iter().enumerate() {
            if let Some(&a) = touched.get(i + TALLY_PREFETCH) {
                let a = a as usize;
                self.seeding.get(a).map(prefetch);
                if let Some(cache) = self.eligibility_caches.first() {
                    cache.flags.get(a).map(prefetch);
                }
            }
            let si = s as usize;
            // Cleared for the next query but its shape (`tally_postings` sets the diagonals at the first touch).
            let tally = self.seeding[si];
            self.seeding[si].count = 0;
            self.seeding[si].seeds = 0;
            // A saturated count stands for "as many as the query has positions", which meets every bound.
            let count = match tally.count {
                u16::MAX => (n as u32).max(u16::MAX.into()),
                c => u32::from(c),
            };
            if count < threshold {
                continue;
            }
            let e = self.eligibility(s, params);
            if !e.target {
                continue;
            }
            let shape = per_target.then(|| self.shape(s, &tally));
            let c = Candidate {
                count,
                seq: s,
                strand: strand as u8,
                dmin: if tally.dmin == TALLY_FULL_SCAN {
                    FULL_SCAN
                } else {
                    tally.dmin.into()
                },
                dmax: tally.dmax.into(),
                tlen: shape.map_or_else(|| self.seqs.len_of(s), |shape| shape.len),
                packed_offset: 0,
                is_ref: e.reference,
                seeds: tally.seeds,
            };
            // The bound for the query span the seed diagonals force (see `verify`), unless a target ambiguity
            // code, which breaks seeds without being an error, lies where the alignment could be.
            // The same goes for the windows whose minimizers the target lacks.
            if let Some(shape) = shape {
                let (pad_left, pad_right) = pads(&c, n, slack, overhang);
                let short = c.dmin != FULL_SCAN && count < by_span[n.saturating_sub(pad_left + pad_right)];
                if short || (positional && !windows.may_align(tally.seeds, pad_left, pad_right, max_d)) {
                    let (fs, fe) = stretch(&c, n, slack);
                    if !shape.ambiguous || !self.seqs.has_exceptions_in(s, fs, fe) {
                        self.stats.position_rejected += 1;
                        continue;
                    }
                }
            }
            // Only for the few that go on, the sequence table entry: a likely cache miss, so it is only
            // requested here and read once the loop is done, when it has arrived.
            self.seqs.prefetch_entry(s);
            out.push(c);
        }
        for c in &mut out[first_new..] {
            c.packed_offset = self.seqs.extent(c.seq).0;
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// Verifies the candidates of every strand, best seeded first. With `max_hits`, the identity of the
    /// `max_hits`-th best target found so far becomes the bar for the rest (only targets at least that
    /// good can enter the top), which tightens the edit-distance and piece filters as good hits arrive;
    /// the top `max_hits` in the documented order come out exactly as without it.
    ///
    /// Candidates whose seeds confine any acceptable alignment to a narrow diagonal band are first
    /// screened a vector at a time by the band scan; only those it cannot reject go on to the exact
    /// scan and alignment, so the hits are the same as scanning each one alone.
    fn verify(&mut self, strands: &[(&[u8], char)], params: &SearchParams) -> Vec<Hit> {
        let index = self.index;
        self.prepare_eligibility(params);
        // Memoised alignments and placements hold for these strands only.
        if let Some(memo) = &mut self.memo {
            memo.alignments.clear();
            memo.placements.clear();
        }
        let n = strands[0].0.len();
        let seeds = &index.meta().seeds;
        let (k, w) = (seeds.k as usize, seeds.w as usize);
        // The reverse complement has the same length and ambiguity codes, so the same bounds.
        let query_ambiguous = strands[0]
            .0
            .iter()
            .filter(|b| !matches!(b, b'A' | b'C' | b'G' | b'T'))
            .count();
        let bounds = SpanBounds::new(n, query_ambiguous, params.min_identity, k, w);
        let mut candidates = Vec::new();
        for (i, (q, _)) in strands.iter().enumerate() {
            self.seed_candidates(q, i, params, &bounds, &mut candidates);
        }
        // The exact-run bound needs the query's bases packed like the targets', when it can apply at all: from
        // the start, or once a top-hits bar rises.
        let run_bound = self.seed_filters && (bounds.runs_by_span[n] as usize >= k + w - 1 || params.max_hits > 0);
        let packed_queries: Vec<Option<PackedQuery>> = strands
            .iter()
            .map(|(q, _)| run_bound.then(|| PackedQuery::new(q)).flatten())
            .collect();
        // Most seeds first (only the order of counts matters: it lets the bar stop the walk early); ties
        // stay in seeding order, which depends on the query and index alone, never on threads. A counting
        // sort: counts are small integers, and a comparison sort of the candidates cost 15 % of a search.
        sort_by_count_descending(&mut candidates, &mut self.sort_scratch);
        let ctx = BarContext {
            n,
            ambiguous: query_ambiguous,
            min_coverage: params.min_coverage,
            k,
            w,
            max_hits: params.max_hits,
        };
        // With max_hits, one bar over all targets; with target `all` a second over references alone, so the
        // reference hits a taxon assignment needs are found however many occurrence hits rank above them.
        let all_bar = TopBar::new(strands, params.min_identity, &bounds);
        let two_classes = params.max_hits > 0 && params.target == Target::All && params.find_reference_hits;
        let ref_bar = two_classes.then(|| TopBar {
            window: Some(ASSIGNMENT_WINDOW),
            ..TopBar::new(strands, params.min_identity, &bounds)
        });
        let mut v = Verification {
            strands,
            params,
            ctx,
            myers: strands.iter().map(|(q, _)| MyersQuery::new(q)).collect(),
            band_ready: [false; 2],
            scoring: Scoring::vsearch(),
            overhang: max_overhang(n, params.min_coverage),
            all_bar,
            ref_bar,
            hits: Vec::new(),
            lcs_passes: Cell::new(LcsPasses::default()),
        };
        let mut pending: [Vec<Job>; GROUPS] = Default::default();
        for (i, &c) in candidates.iter().enumerate() {
            // The stretch of a candidate a few places ahead starts loading now: the targets are scattered
            // over the index, and waiting for each one's bases in turn cost more than scanning them.
            if let Some(ahead) = candidates.get(i + PREFETCH_AHEAD) {
                let (a, b) = stretch(ahead, v.ctx.n, v.all_bar.max_d as i64 + 2);
                self.seqs.prefetch_packed(ahead.packed_offset, ahead.tlen, a, b);
                // Its sequence table entry too: read at seeding, but thousands of candidates ago.
                self.seqs.prefetch_entry(ahead.seq);
            }
            // Candidates come most-seeded first: once they fall below what the current bar requires, no
            // later one can enter the top either.
            if c.count < v.seed_floor() || (i % STOP_CHECK_EVERY == 0 && self.stop_requested()) {
                break;
            }
            let bar = v.bar_for(&c);
            if c.count < bar.min_seeds {
                continue;
            }
            let n = v.ctx.n;
            let max_d = bar.budget_for(n, c.tlen as usize);
            self.stats.candidates += 1;
            let (s, dmin, dmax) = (c.seq, c.dmin, c.dmax);
            // Every alignment with at most max_d errors that contains one of the seeds lies inside
            // [dmin − max_d, dmax + n + max_d]; scan only that stretch (all of it when a position is unknown).
            let slack = max_d as i64 + 2;
            let (fs, fe) = stretch(&c, n, slack);
            self.stats.filter_bases += (fe - fs) as u64;
            // The query may hang off an end only where the scanned stretch reaches the target's real end,
            // and (by the same diagonal argument as the window) by at most −dmin + slack bases on the left
            // and dmax + n − tlen + slack on the right.
            let (pad_left, pad_right) = pads(&c, n, slack, v.overhang);
            // A target ambiguity code may be compatible with the query: such windows skip the piece filter.
            // The filter reads the packed bases; only survivors are unpacked.
            let Some((packed, ambiguous)) = self.seqs.packed_with_exceptions(s, fs, fe) else {
                continue;
            };
            // The query may hang off the target by at most the pads, so a hit covers the rest of it, which
            // needs more shared seeds than the shortest span the coverage allows (all of the query without
            // room for an overhang).
            if !ambiguous && dmin != FULL_SCAN && c.count < bar.seeds_by_span[n.saturating_sub(pad_left + pad_right)] {
                continue;
            }
            // Every hit holds an exact run of `need` bases; when that is a whole minimizer window, the run holds
            // a seed, so it lies on a diagonal in dmin..=dmax (see `runs`). Checked only where the seeds leave
            // one diagonal, as they do for most candidates.
            if let Some(query) = &packed_queries[c.strand as usize] {
                let need = bar.runs_by_span[n.saturating_sub(pad_left + pad_right)] as usize;
                if !ambiguous
                    && dmin != FULL_SCAN
                    && need >= k + w - 1
                    && dmax - dmin < RUN_BOUND_MAX_DIAGONALS
                    && !shares_exact_run(
                        query,
                        packed,
                        c.tlen as usize,
                        (dmin.into(), dmax.into()),
                        (c.seeds, k),
                        need,
                    )
                {
                    self.stats.run_rejected += 1;
                    continue;
                }
            }
            // The same diagonal argument bounds the band: every cell of such an alignment lies on a diagonal
            // in [dmin − max_d, dmax + max_d] (target coordinates), so the scan may stop once that band holds
            // no cell within the edit budget.
            let (max_diag, min_diag) = if dmin == FULL_SCAN {
                (usize::MAX, i64::MIN)
            } else {
                let shift = pad_left as i64 - fs as i64;
                (
                    (dmax as i64 + slack + shift).max(0) as usize,
                    dmin as i64 - slack + shift,
                )
            };
            // The vector scans cover BAND_ROWS (or WIDE_BAND_ROWS) diagonals ending at max_diag: enough when
            // the seeds say so. A candidate they take skips the piece filter, which costs more per candidate
            // than the vector screen (both are lossless, so the hits are the same).
            let width = if max_diag == usize::MAX {
                i64::MAX
            } else {
                max_diag as i64 - min_diag + 1
            };
            let scan = if width <= TIGHT_BAND_ROWS as i64 && self.tight_group > 0 {
                BandScan::Tight
            } else if width <= BAND_ROWS as i64 {
                BandScan::Narrow
            } else {
                BandScan::Wide
            };
            let screened = self.vector_screen && width <= WIDE_BAND_ROWS as i64;
            if !screened && !ambiguous && !bar.pieces[c.strand as usize].may_align(packed, fs, fe, pad_left + pad_right)
            {
                continue;
            }
            self.stats.piece_passed += 1;
            let job = Job {
                c,
                fs,
                fe,
                pad_left,
                pad_right,
                max_diag,
                max_d,
                slots: 0,
            };
            if screened {
                let g = group_of(job.c.strand, scan);
                let lane = pending[g].len();
                // The lane's buffer only grows: each candidate overwrites what it uses, pads included.
                let slots = &mut self.lane_slots[g][lane];
                let most = pad_left + fe.saturating_sub(fs) + pad_right;
                if slots.len() < most {
                    slots.resize(most, PAD_SLOT);
                }
                slots[..pad_left].fill(PAD_SLOT);
                let (bases, _) =
                    self.seqs
                        .range_decoded_to(s, fs, &SLOT_DECODING, &mut slots[pad_left..most - pad_right]);
                let used = pad_left + bases + pad_right;
                slots[pad_left + bases..used].fill(PAD_SLOT);
                // The bar's own budget (a target shorter than that already has its overhang in its budget).
                if c.tlen as usize >= n + bar.max_d as usize {
                    if let Some(every) = bar.charge_every {
                        charge_overhang(&mut slots[..used], (pad_left, bases), every);
                    }
                }
                pending[g].push(Job { slots: used, ..job });
                let full = match scan {
                    BandScan::Tight => self.tight_group,
                    BandScan::Narrow => self.narrow_group,
                    BandScan::Wide => self.wide_group,
                };
                if pending[g].len() == full {
                    self.flush_lanes(&mut v, &mut pending[g], scan);
                }
            } else {
                self.finish(&mut v, &job);
            }
        }
        for (g, group) in pending.iter_mut().enumerate() {
            self.flush_lanes(&mut v, group, BandScan::ALL[g % BandScan::ALL.len()]);
        }
        v.hits
    }

    /// Screens a group of deferred candidates of one strand with the vector band scan and finishes the
    /// ones it cannot reject, in their original order.
    fn flush_lanes(&mut self, v: &mut Verification, group: &mut Vec<Job>, scan: BandScan) {
        let Some(first) = group.first() else {
            return;
        };
        let strand = first.c.strand as usize;
        let slots = &self.lane_slots[group_of(first.c.strand, scan)];
        if !v.band_ready[strand] {
            self.bands[strand].rebuild(&v.myers[strand]);
            v.band_ready[strand] = true;
        }
        let band = &self.bands[strand];
        let targets: [BandTarget; MAX_TIGHT_LANES] = std::array::from_fn(|l| BandTarget {
            slots: group
                .get(l)
                .and_then(|job| slots[l].get(..job.slots))
                .unwrap_or_default(),
            max_diag: group.get(l).map_or(0, |job| job.max_diag),
            max_dist: group.get(l).map_or(0, |job| job.max_d),
        });
        let given = &targets[..group.len()];
        let may: [bool; MAX_TIGHT_LANES] = match scan {
            BandScan::Tight => band.may_align_tight_lanes(given),
            BandScan::Narrow => {
                let n = band.may_align_lanes(given);
                std::array::from_fn(|l| l < MAX_LANES && n[l])
            }
            BandScan::Wide => {
                let w = band.may_align_wide_lanes(given);
                std::array::from_fn(|l| l < MAX_WIDE_LANES && w[l])
            }
        };
        for (l, job) in group.drain(..).enumerate() {
            if may[l] {
                self.finish(v, &job);
            } else {
                self.stats.band_rejected += 1;
            }
        }
    }

    /// The exact edit-distance scan and the alignment of one candidate, against the bar as it stands now
    /// (a deferred candidate may meet a higher bar than when it was screened).
    fn finish(&mut self, v: &mut Verification, job: &Job) {
        let index = self.index;
        let c = &job.c;
        let bar = v.bar_for(c);
        if c.count < bar.min_seeds {
            return;
        }
        let max_d = bar.max_d.min(job.max_d);
        let (query, strand) = v.strands[c.strand as usize];
        let (s, n, tlen) = (c.seq, v.ctx.n, c.tlen as usize);
        // Every alignment within the budget holds a seed, so it lies within `max_d` diagonals of the seeds
        // (see `verify`): align there, with no edit-distance placement first, when that band is one the
        // aligner fills fast. It reaches 2·max_d + 8 diagonals past the seeds, as far as the window around a
        // placement reaches past it (2d + 8 for d edits) at the most edits allowed, so a better-scoring path
        // with more edits (a long gap near an end, below the bar), which vsearch would report instead, is
        // found here too.
        let reach = 2 * job.max_d as i64 + 8;
        let direct = c.dmin != FULL_SCAN
            && v.params.min_identity >= DIRECT_ALIGNMENT_MIN_IDENTITY
            && (c.dmax - c.dmin) as i64 + 2 * reach < self.fast_band as i64;
        // Where the query may occur exactly (target coordinates): on the diagonal of all its seeds, or
        // where a placement without an edit ends.
        let (mut wstart, mut wend, band, exact_start) = if direct {
            self.stats.direct += 1;
            let (ws, we) = stretch(c, n, reach);
            let band = Band::new(c.dmin as i64 - reach - ws as i64, c.dmax as i64 + reach - ws as i64);
            self.seqs.range_into(s, ws, we, &mut self.align_buf);
            (ws, we, band, (c.dmin == c.dmax).then_some(c.dmin as i64))
        } else {
            match self.place(v, job, max_d) {
                Some(window) => window,
                None => return,
            }
        };
        self.stats.aligned += 1;
        // A query found exactly, and only once, needs no matrix (a quarter of the alignments of UNITE ITS1
        // against itself at 97 %, 4 % of 12S ASVs' against all the data); `exact_alignment` vouches for it
        // being the matrix's answer.
        let exact = exact_start
            .filter(|_| self.exact_alignment)
            .and_then(|start| usize::try_from(start - wstart as i64).ok())
            .and_then(|offset| edna_align::exact_alignment(query, &self.align_buf, offset, &v.scoring, Some(band)));
        let mut aln = match exact {
            Some(aln) => {
                self.stats.exact += 1;
                aln
            }
            None => self.align_window(query, c.strand, band, &v.scoring),
        };
        let params = v.params;
        let passes = |aln: &edna_align::Alignment| {
            aln.identity() + 1e-12 >= params.min_identity
                && aln.query_coverage(n) + 1e-12 >= params.min_coverage
                && aln.columns > 0
        };
        if !passes(&aln) {
            return;
        }
        // A hit whose path runs along the band's edge may be beaten by a path leaving the band: one with more
        // edits than the budget, so below the bar, which is what vsearch, aligning against the whole target,
        // would report. Such hits are aligned again that way (they are rare; the cap keeps huge targets banded).
        if direct
            && aln.diagonals().is_some_and(|(lo, hi)| lo <= band.lo || hi >= band.hi)
            && (n as u64).saturating_mul(tlen as u64) <= WIDE_ALIGNMENT_CELLS
        {
            self.stats.realigned += 1;
            (wstart, wend) = (0, tlen);
            self.seqs.range_into(s, 0, tlen, &mut self.align_buf);
            aln = self.aligner.align(query, &self.align_buf, &v.scoring, None);
            if !passes(&aln) {
                return;
            }
        }
        let identity = aln.identity();
        self.stats.hits += 1;
        let mut hit = to_hit(
            s,
            index.seq_md5(s),
            &aln,
            query,
            &self.align_buf,
            wstart,
            strand,
            n,
            tlen,
            params.with_alignment,
        );
        // The score of the path over the whole target, not just the window it was aligned in.
        hit.score = aln.score_in_longer_target(&v.scoring, wstart as u32, (tlen - wend) as u32);
        v.hits.push(hit);
        if params.max_hits > 0 {
            v.all_bar.record(s, identity, v.strands, &v.ctx);
            if let (Some(r), true) = (v.ref_bar.as_mut(), c.is_ref) {
                r.record(s, identity, v.strands, &v.ctx);
            }
        }
    }

    /// The alignment of `query` (strand `strand`) in the window unpacked into `align_buf`, within `band`: the
    /// memo's when an earlier candidate of the query had the same window bases and band, else computed (and
    /// kept for the next one).
    fn align_window(&mut self, query: &[u8], strand: u8, band: Band, scoring: &Scoring) -> Alignment {
        let Some(memo) = self.memo.as_mut().map(|m| &mut m.alignments) else {
            return self.aligner.align(query, &self.align_buf, scoring, Some(band));
        };
        let params = [band.lo, band.hi, 0, 0];
        let key = window_key(strand, params, &self.align_buf);
        if let Some(aln) = memo.get(key, strand, params, &self.align_buf) {
            self.stats.memo_hits += 1;
            return aln.clone();
        }
        let aln = self.aligner.align(query, &self.align_buf, scoring, Some(band));
        memo.insert(key, strand, params, &self.align_buf, &aln);
        aln
    }

    /// The best edit-distance placement of `myers` (strand `strand`) in the stretch unpacked into `target_buf`,
    /// within `(budget, pad_left, pad_right, max_diag)` as [`MyersQuery::best_padded_in_band`] takes them: the
    /// memo's when an earlier candidate of the query had the same stretch and parameters, else computed.
    fn place_in_stretch(
        &mut self,
        myers: &MyersQuery,
        strand: u8,
        (budget, pad_left, pad_right, max_diag): (u32, usize, usize, usize),
    ) -> Option<edna_align::Hit> {
        let Some(memo) = self.memo.as_mut().map(|m| &mut m.placements) else {
            return myers.best_padded_in_band(&self.target_buf, budget, pad_left, pad_right, max_diag);
        };
        let params = [i64::from(budget), pad_left as i64, pad_right as i64, max_diag as i64];
        let key = window_key(strand, params, &self.target_buf);
        if let Some(&placement) = memo.get(key, strand, params, &self.target_buf) {
            self.stats.placement_memo_hits += 1;
            return placement;
        }
        let placement = myers.best_padded_in_band(&self.target_buf, budget, pad_left, pad_right, max_diag);
        memo.insert(key, strand, params, &self.target_buf, &placement);
        placement
    }

    /// The window and band to align a candidate in below [`DIRECT_ALIGNMENT_MIN_IDENTITY`] (or with unknown
    /// seed positions): around the query's best edit-distance placement, unpacked into `align_buf`, and
    /// where the query starts in the target when that placement has no edit; `None` when no placement is
    /// within `max_d` edits or the common-subsequence bound rules the alignment out.
    fn place(&mut self, v: &Verification, job: &Job, max_d: u32) -> Option<(usize, usize, Band, Option<i64>)> {
        let c = &job.c;
        let (s, n, tlen) = (c.seq, v.ctx.n, c.tlen as usize);
        let (fs, fe, pad_left, pad_right) = (job.fs, job.fe, job.pad_left, job.pad_right);
        self.seqs.range_into(s, fs, fe, &mut self.target_buf);
        let myers = &v.myers[c.strand as usize];
        let m = self.place_in_stretch(myers, c.strand, (max_d, pad_left, pad_right, job.max_diag))?;
        // Every alignment that can pass lies in this stretch, so it matches at most the common subsequence's
        // bases and, with identity at least the bar, has at most the edits that allows (see `cannot_reach`),
        // while it has at least the placement's. On blast-ws's 80 % this rejects three in four of the 12S
        // candidates placed, for one bit-parallel pass instead of the two `cannot_reach` makes in the window.
        // Against a stretch many times the query's length the subsequence nears the query's length and
        // rejects nothing (a whole mitogenome scanned for want of seed positions).
        // Whether this candidate gets the bound's passes (see `LcsPasses`): decided once, for both.
        let lcs_bound = self.lcs_bound && v.lcs_bound_pays();
        if lcs_bound && m.distance > 0 && fe - fs <= LCS_STRETCH_MAX_FACTOR * n {
            let p = v.bar_for(c).bar - BOUND_SLACK;
            if identity_upper_bound(n.saturating_sub(m.distance as usize + pad_left + pad_right), m.distance) < p {
                let rejected = m.distance > max_edits_for_identity(myers.lcs_len(&self.target_buf), p);
                v.note_lcs_pass(rejected);
                if rejected {
                    self.stats.lcs_rejected += 1;
                    return None;
                }
            }
        }
        // Align in a window around the best placement; the rest of the target is terminal gap.
        let end = m.target_end as i64 - pad_left as i64 + fs as i64;
        let mut window = window(n, tlen, end, m.distance as usize);
        // A placement that may hang off the target has free matches against the padding: with pads as long as
        // the query it may lie wholly off the target at no cost, and an overhang with fewer edits may score far
        // below a placement on the target. vsearch aligns against the whole target; so does this, within the
        // stretch the seeds allow (every alignment within the budget lies there).
        if end < (n + m.distance as usize) as i64 || end > tlen as i64 {
            let seeded = (c.dmin != FULL_SCAN).then(|| {
                let slack = job.max_d as i64 + 2;
                (c.dmin as i64 - slack, c.dmax as i64 + slack)
            });
            window = widen(window, (fs, fe), seeded, n);
        }
        let (wstart, wend, band) = window;
        self.seqs.range_into(s, wstart, wend, &mut self.align_buf);
        if lcs_bound && self.cannot_reach(v, c, m, pad_left + pad_right, band) {
            self.stats.lcs_rejected += 1;
            return None;
        }
        Some((wstart, wend, band, (m.distance == 0).then_some(end - n as i64)))
    }

    /// Whether no alignment of the query in the window just unpacked into `align_buf` (within `band`) can
    /// reach the candidate's bar, so the alignment may be skipped with the same answers.
    ///
    /// Matched columns never outnumber the longest common subsequence `L` of the query and the window, and
    /// an alignment has at least as many edits as the query's semi-global distance `D` to the window (with
    /// the query hanging off an edge wherever the band lets it, as far as the coverage allows), so identity
    /// ≤ `L/(L + D)` ([`identity_upper_bound`]). That is far below `n/(n + D)` for homologs whose edits are
    /// mostly mismatches: at 80 %, most candidates within the edit budget fail their alignment. Every real
    /// match of `found` (placed with `pads` bases of padding at most) lies in the window, so when even
    /// `n − d − pads` matches would pass there is nothing to compute.
    fn cannot_reach(&self, v: &Verification, c: &Candidate, found: edna_align::Hit, pads: usize, band: Band) -> bool {
        let n = v.ctx.n;
        let p = v.bar_for(c).bar - BOUND_SLACK;
        let d = found.distance;
        if d == 0 || identity_upper_bound(n.saturating_sub(d as usize + pads), d) >= p {
            return false;
        }
        let myers = &v.myers[c.strand as usize];
        let lcs = myers.lcs_len(&self.align_buf);
        let budget = max_edits_for_identity(lcs, p);
        // The query may hang off the window's left edge down column 0 (diagonals below 0), and off its right
        // edge down the last column (diagonals from width − n up).
        let width = self.align_buf.len() as i64;
        let left = (1 - band.lo).clamp(0, v.overhang as i64) as usize;
        let right = (band.hi - (width - n as i64) + 1).clamp(0, v.overhang as i64) as usize;
        let rejected = myers.best_padded(&self.align_buf, budget, left, right).is_none();
        v.note_lcs_pass(rejected);
        rejected
    }
}

/// The state of one query's verification, shared by the candidates it visits.
struct Verification<'q> {
    strands: &'q [(&'q [u8], char)],
    params: &'q SearchParams,
    ctx: BarContext,
    myers: Vec<MyersQuery>,
    /// Per strand, whether [`Searcher::bands`] holds this query's table yet (built on first use).
    band_ready: [bool; 2],
    scoring: Scoring,
    overhang: usize,
    all_bar: TopBar,
    ref_bar: Option<TopBar>,
    hits: Vec<Hit>,
    /// Recent passes of the common-subsequence bound, how many rejected, and the candidates it skipped
    /// since its last pass (see [`Verification::lcs_bound_pays`]).
    lcs_passes: Cell<LcsPasses>,
}

/// A query's recent passes of the common-subsequence bound, how many rejected, and the candidates it
/// skipped since its last pass.
#[derive(Clone, Copy, Default)]
struct LcsPasses {
    passes: u32,
    rejections: u32,
    skipped: u32,
}

impl LcsPasses {
    /// Whether to try the bound on this candidate: while fewer than one recent pass in eight has rejected,
    /// only on one candidate in [`LCS_PROBE_EVERY`]. The bound only skips alignments that would fail, so the
    /// hits are the same either way; a pass costs about what a placement does and saves an alignment when
    /// it rejects. On blast-ws's 80 % it rejects three 12S candidates in four; on full-length 18S at 90 %,
    /// where nearly every candidate is a hit, one in 17, for 11 % of the time. Candidates come most seeded
    /// first, so a query's first passes meet its closest relatives; the probes turn the bound back on when
    /// the later ones start to fail.
    fn pays(&mut self) -> bool {
        if self.passes < LCS_TRIAL_PASSES || self.rejections * 8 >= self.passes {
            return true;
        }
        self.skipped += 1;
        self.skipped >= LCS_PROBE_EVERY
    }

    /// Counts a pass; beyond [`LCS_MEMORY_PASSES`] the older ones count half.
    fn note(&mut self, rejected: bool) {
        self.passes += 1;
        self.rejections += u32::from(rejected);
        self.skipped = 0;
        if self.passes >= LCS_MEMORY_PASSES {
            self.passes /= 2;
            self.rejections /= 2;
        }
    }
}

/// Passes of the common-subsequence bound a query makes before [`LcsPasses::pays`] judges it.
const LCS_TRIAL_PASSES: u32 = 32;
/// Passes [`LcsPasses`] remembers in full; older ones count half, then a quarter…
const LCS_MEMORY_PASSES: u32 = 128;
/// While the bound does not pay, one candidate in this many still gets a pass, so a query whose later,
/// less similar candidates it would reject turns it back on.
const LCS_PROBE_EVERY: u32 = 8;

impl Verification<'_> {
    /// Whether to try the common-subsequence bound on this candidate ([`LcsPasses::pays`]).
    fn lcs_bound_pays(&self) -> bool {
        let mut state = self.lcs_passes.get();
        let pays = state.pays();
        self.lcs_passes.set(state);
        pays
    }

    /// Counts a pass of the common-subsequence bound.
    fn note_lcs_pass(&self, rejected: bool) {
        let mut state = self.lcs_passes.get();
        state.note(rejected);
        self.lcs_passes.set(state);
    }

    /// The fewest seeds any remaining candidate needs.
    fn seed_floor(&self) -> u32 {
        self.ref_bar
            .as_ref()
            .map_or(self.all_bar.min_seeds, |r| r.min_seeds.min(self.all_bar.min_seeds))
    }

    /// The bar a candidate is held to: a reference meets the lower of the two.
    fn bar_for(&self, c: &Candidate) -> &TopBar {
        match &self.ref_bar {
            Some(r) if c.is_ref && r.bar < self.all_bar.bar => r,
            _ => &self.all_bar,
        }
    }
}

/// A candidate that passed the cheap filters, with the stretch and band to scan.
struct Job {
    c: Candidate,
    fs: usize,
    fe: usize,
    pad_left: usize,
    pad_right: usize,
    max_diag: usize,
    /// Edit budget when the candidate was screened.
    max_d: u32,
    /// Length of its lane's slots (pads included), when it waits for a band scan.
    slots: usize,
}

/// How far below the best reference hit (identity fraction) reference hits are still searched for with
/// `target` all and `max_hits`: 2 points covers the consensus margins in use (0.5) and blast-ws's
/// AMBIGUOUS rule (another EXACT hit within 1 point).
pub const ASSIGNMENT_WINDOW: f64 = 0.02;

/// What a [`TopBar`] needs to turn an identity bar into filter settings.
struct BarContext {
    n: usize,
    ambiguous: usize,
    min_coverage: f64,
    k: usize,
    w: usize,
    max_hits: usize,
}

/// The exact top-k bar of one class of targets: once `max_hits` distinct targets are found, the k-th best
/// identity is what any further target must reach, with the edit budget, pieces and seed count it implies.
struct TopBar {
    bar: f64,
    max_d: u32,
    pieces: Vec<Pieces>,
    min_seeds: u32,
    /// Seeds a target needs when its seed diagonals say a hit covers at least `m` query bases, by `m`
    /// ([`seeds_by_span`]).
    seeds_by_span: Vec<u32>,
    /// The exact run every hit holds, by the same `m` ([`SpanBounds::runs_by_span`]).
    runs_by_span: Vec<u32>,
    /// [`TopBar::budget_for`] by target length below `n + max_d`, plus one (0: not worked out yet).
    budgets: Vec<Cell<u32>>,
    /// [`overhang_charge_every`] at `bar`.
    charge_every: Option<usize>,
    /// Best identity found per target.
    best_per_target: HashMap<u32, f64>,
    /// The `max_hits`-th best of those, once there are that many.
    kth_best: Option<f64>,
    /// When set, targets more than this far below the best one found are not wanted either.
    window: Option<f64>,
    best: f64,
}

impl TopBar {
    /// The bar before any hit: `min_identity`, whose bounds the caller has worked out.
    fn new(strands: &[(&[u8], char)], min_identity: f64, bounds: &SpanBounds) -> Self {
        let n = strands[0].0.len();
        let max_d = max_edit_distance(n, min_identity);
        TopBar {
            bar: min_identity,
            max_d,
            pieces: strands.iter().map(|(q, _)| Pieces::new(q, max_d as usize)).collect(),
            min_seeds: 0,
            seeds_by_span: bounds.seeds_by_span.clone(),
            runs_by_span: bounds.runs_by_span.clone(),
            budgets: (0..n + max_d as usize).map(|_| Cell::new(0)).collect(),
            charge_every: overhang_charge_every(min_identity),
            window: None,
            best: 0.0,
            best_per_target: HashMap::new(),
            kth_best: None,
        }
    }

    /// The edit budget of a target of `tlen` bases against a query of `n`: one not much longer than the query
    /// caps the identity further (from `n + max_d` bases on, the bound is the query's own). Remembered per
    /// length: a query's candidates share a few lengths, and each costs several divisions to work out.
    fn budget_for(&self, n: usize, tlen: usize) -> u32 {
        if tlen >= n + self.max_d as usize {
            return self.max_d;
        }
        let known = self.budgets.get(tlen).map_or(0, Cell::get);
        if known > 0 {
            return known - 1;
        }
        let d = max_edits_for_identity_in(n, tlen, self.bar - BOUND_SLACK, self.max_d);
        if let Some(slot) = self.budgets.get(tlen) {
            slot.set(d + 1);
        }
        d
    }

    /// Records a hit on target `s` and raises the bar when the top is full.
    fn record(&mut self, s: u32, identity: f64, strands: &[(&[u8], char)], ctx: &BarContext) {
        let slot = self.best_per_target.entry(s).or_insert(f64::NEG_INFINITY);
        let grew = identity > *slot;
        *slot = slot.max(identity);
        self.best = self.best.max(identity);
        // The max_hits-th best identity among distinct targets so far. It can only change when a target
        // rises above it (or when the count first reaches max_hits), so it is not recomputed per hit.
        let count = self.best_per_target.len();
        let stale = match self.kth_best {
            None => count >= ctx.max_hits,
            Some(k) => grew && identity > k,
        };
        if stale {
            let mut ids: Vec<f64> = self.best_per_target.values().copied().collect();
            let k = ctx.max_hits - 1;
            ids.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
            self.kth_best = Some(ids[k]);
        }
        let mut kth = self.window.map_or(0.0, |w| self.best - w);
        if let Some(k) = self.kth_best {
            kth = kth.max(k);
        }
        if kth > self.bar {
            self.bar = kth;
            self.budgets.iter().for_each(|b| b.set(0));
            self.charge_every = overhang_charge_every(kth);
            let d = max_edit_distance(ctx.n, self.bar);
            if d < self.max_d {
                self.max_d = d;
                self.pieces = strands.iter().map(|(q, _)| Pieces::new(q, d as usize)).collect();
            }
            let bounds = SpanBounds::new(ctx.n, ctx.ambiguous, self.bar, ctx.k, ctx.w);
            (self.seeds_by_span, self.runs_by_span) = (bounds.seeds_by_span, bounds.runs_by_span);
            self.min_seeds = self.seeds_by_span[shortest_span(ctx.n, ctx.min_coverage)];
        }
    }
}

/// Target kinds and markers whose eligibility a [`Searcher`] keeps at once (one byte per indexed sequence
/// each).
const ELIGIBILITY_CACHES: usize = 4;

/// [`EligibilityCache::flags`] bits: worked out, a target, a reference target.
const ELIGIBILITY_KNOWN: u8 = 1;
const ELIGIBILITY_TARGET: u8 = 2;
const ELIGIBILITY_REFERENCE: u8 = 4;

/// [`Searcher::eligibility`]'s answers for one target kind and marker: per sequence, 0 until worked out,
/// then flags.
struct EligibilityCache {
    target: Target,
    marker: Option<String>,
    /// The canonical form of `marker`, computed once.
    canonical_marker: Option<String>,
    /// With a marker, the sequence id ranges its eligible targets lie in, when the index records them
    /// ([`Index::marker_id_spans`]): seeding reads only the postings inside them.
    id_spans: Option<Vec<Range<u32>>>,
    flags: Vec<u8>,
}

/// What the seed bounds need to know about a target ([`Searcher::shape`]).
#[derive(Debug, Clone, Copy)]
struct Shape {
    len: u32,
    ambiguous: bool,
}

/// Cached answer of [`Searcher::eligibility`].
#[derive(Debug, Clone, Copy, Default)]
struct Eligibility {
    target: bool,
    reference: bool,
}

/// The vector band scan a candidate's band fits: [`TIGHT_BAND_ROWS`] diagonals (where the CPU has the
/// tight kernel), [`BAND_ROWS`], or [`WIDE_BAND_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BandScan {
    Tight,
    Narrow,
    Wide,
}

impl BandScan {
    /// Every kind, in group order.
    const ALL: [BandScan; 3] = [BandScan::Tight, BandScan::Narrow, BandScan::Wide];
}

/// Groups of candidates waiting for a vector band scan: per strand, one per [`BandScan`].
const GROUPS: usize = 6;

/// The group of a candidate on `strand` (0 or 1) waiting for `scan`.
fn group_of(strand: u8, scan: BandScan) -> usize {
    BandScan::ALL.len() * (strand as usize & 1) + scan as usize
}

/// Unpacks target bases straight into the match-mask slots of the band scan.
static SLOT_DECODING: Decoding = Decoding::new(edna_align::NT_MASK);

/// Candidates between the one verified and the one whose bases are prefetched.
const PREFETCH_AHEAD: usize = 8;

/// The stretch of a candidate's target that can hold an alignment through one of its seeds with at most
/// `slack − 2` edits, for a query of length `n`: all of it when a seed position is unknown.
fn stretch(c: &Candidate, n: usize, slack: i64) -> (usize, usize) {
    let tlen = c.tlen as usize;
    if c.dmin == FULL_SCAN {
        return (0, tlen);
    }
    let a = (c.dmin as i64 - slack).clamp(0, tlen as i64) as usize;
    let b = (c.dmax as i64 + n as i64 + slack).clamp(0, tlen as i64) as usize;
    (a, b.max(a))
}

/// How far the query may hang off the left and right end of a candidate's target in an alignment with at
/// most `slack − 2` edits through one of its seeds: only where the scanned [`stretch`] reaches the target's
/// real end, and (by the same diagonal argument) by at most −dmin + slack bases on the left and
/// dmax + n − tlen + slack on the right; never more than `overhang`, what the coverage allows.
fn pads(c: &Candidate, n: usize, slack: i64, overhang: usize) -> (usize, usize) {
    if c.dmin == FULL_SCAN {
        return (overhang, overhang);
    }
    let tlen = c.tlen as usize;
    let (fs, fe) = stretch(c, n, slack);
    let left = (slack - c.dmin as i64).clamp(0, overhang as i64) as usize;
    let right = (c.dmax as i64 + n as i64 + slack - tlen as i64).clamp(0, overhang as i64) as usize;
    (if fs == 0 { left } else { 0 }, if fe == tlen { right } else { 0 })
}

/// What seeding gathers about one target (see [`Searcher`]); all zero between queries but `shape`.
#[derive(Clone, Copy, Default)]
struct SeedTally {
    /// Query positions whose k-mer is a seed (saturating; see [`Searcher::seed_candidates`]).
    count: u16,
    /// The target's [`Shape`], kept from query to query: 0 until first worked out, then its length + 1 with
    /// [`SHAPE_AMBIGUOUS`] for a non-ACGT symbol, or [`SHAPE_LONG`] when the length does not fit (then it is
    /// looked up every time). Here rather than in a table of its own: one cache miss per target, not two.
    shape: u16,
    /// Smallest and largest seed diagonal (target pos − query pos); `dmin` is [`TALLY_FULL_SCAN`] when a
    /// seed's position is unknown or its diagonal does not fit 16 bits (targets or queries beyond 32 kb),
    /// which scans the whole target. 16 bits keep the record at 16 bytes: the table has one per indexed
    /// sequence in every search thread (320 MB at 20 M sequences, not 480).
    dmin: i16,
    dmax: i16,
    /// Query positions that are seeds, as [`SeedWindows::bit`]s.
    seeds: u64,
}

/// Adds every posting of the query's seeds `kmers` (query position, k-mer), whose postings are `ranges`, to
/// the targets' tallies, listing each target the first time it is touched; returns the number of postings
/// read. With `id_spans`, only the postings of targets inside them (postings are sorted by target).
#[inline(never)]
fn tally_postings(
    index: &Postings,
    (kmers, ranges): (&[(usize, u32)], &[Range<usize>]),
    id_spans: Option<&[Range<u32>]>,
    n: usize,
    seeding: &mut [SeedTally],
    touched: &mut Vec<u32>,
) -> u64 {
    let mut postings = 0u64;
    let everything = std::slice::from_ref(&EVERY_ID);
    let spans = id_spans.unwrap_or(everything);
    for (&(qp, _), range) in kmers.iter().zip(ranges) {
        let bit = SeedWindows::bit(qp, n);
        let (all_seqs, all_positions) = index.get(range.clone());
        // The postings inside each span, found from where the last span's ended: a marker's spans may be
        // dozens (one per dataset), and two searches of the whole list per span cost a fifth of seeding.
        let mut from = 0;
        for span in spans {
            if from == all_seqs.len() {
                break;
            }
            from += gallop(&all_seqs[from..], span.start);
            let to = from + gallop(&all_seqs[from..], span.end);
            let (seqs, positions) = (&all_seqs[from..to], &all_positions[from..to]);
            from = to;
            postings += seqs.len() as u64;
            for (i, (&s, &tp)) in seqs.iter().zip(positions).enumerate() {
                // Tallies are scattered over a table larger than the cache; ask for one a few postings ahead.
                if let Some(t) = seqs.get(i + TALLY_PREFETCH).and_then(|&a| seeding.get(a as usize)) {
                    prefetch(t);
                }
                let Some(t) = seeding.get_mut(s as usize) else {
                    continue;
                };
                if t.count == 0 {
                    touched.push(s);
                    t.dmin = i16::MAX;
                    t.dmax = i16::MIN;
                }
                t.count = t.count.saturating_add(1);
                t.seeds |= bit;
                if t.dmin != TALLY_FULL_SCAN {
                    // A diagonal too far out for the compact record scans the whole target, like an unknown one.
                    match i16::try_from(tp as i32 - qp as i32) {
                        Ok(d) if tp != u16::MAX && d != TALLY_FULL_SCAN => {
                            t.dmin = t.dmin.min(d);
                            t.dmax = t.dmax.max(d);
                        }
                        _ => t.dmin = TALLY_FULL_SCAN,
                    }
                }
            }
        }
    }
    postings
}

/// How many of the ascending `ids` lie below `bound`, by galloping from the front: cheap when the answer
/// is near the start, as it is for consecutive spans walked along one postings list.
fn gallop(ids: &[u32], bound: u32) -> usize {
    let mut hi = 1;
    while hi < ids.len() && ids[hi - 1] < bound {
        hi *= 2;
    }
    let lo = hi / 2;
    let hi = hi.min(ids.len());
    lo + ids[lo..hi].partition_point(|&s| s < bound)
}

/// The id span of a search without a marker's spans.
const EVERY_ID: Range<u32> = 0..u32::MAX;

/// [`SeedTally::shape`]'s flag for a target with a non-ACGT symbol.
const SHAPE_AMBIGUOUS: u16 = 1 << 15;
/// [`SeedTally::shape`] of a target of 32,766 bases or more.
const SHAPE_LONG: u16 = SHAPE_AMBIGUOUS - 1;

/// How many postings (or touched targets) ahead a [`SeedTally`] is prefetched.
const TALLY_PREFETCH: usize = 16;

/// [`FULL_SCAN`] in a [`SeedTally`].
const TALLY_FULL_SCAN: i16 = i16::MIN;

/// A target to verify on one strand.
#[derive(Clone, Copy, Default)]
struct Candidate {
    count: u32,
    seq: u32,
    strand: u8,
    dmin: i32,
    dmax: i32,
    tlen: u32,
    /// Where the target's packed bases start (for the prefetch hint).
    packed_offset: u64,
    is_ref: bool,
    /// Query positions that are seeds, as [`SeedWindows::bit`]s.
    seeds: u64,
}

/// Stable counting sort of `candidates` by seed count, highest first (`scratch` is reused between calls).
fn sort_by_count_descending(candidates: &mut Vec<Candidate>, scratch: &mut Vec<Candidate>) {
    let Some(top) = candidates.iter().map(|c| c.count as usize).max() else {
        return;
    };
    // starts[i]: first output slot of count top − i.
    let mut starts = vec![0usize; top + 2];
    for c in candidates.iter() {
        starts[top - c.count as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    scratch.clear();
    scratch.resize(candidates.len(), Candidate::default());
    for c in candidates.iter() {
        let slot = &mut starts[top - c.count as usize];
        scratch[*slot] = *c;
        *slot += 1;
    }
    std::mem::swap(candidates, scratch);
}

/// The pigeonhole filter in front of the edit-distance scan: cut the query into `s` disjoint pieces; an
/// alignment with at most `e` edits leaves at least `s − e` pieces intact, and each intact piece occurs
/// exactly in the target window (one edit touches at most one piece). Pieces that may hang off a target
/// end, or contain ambiguity codes, are counted as present, and a window with ambiguity codes is never
/// rejected, so the filter cannot lose a hit. It only runs where it can reject anything (high identity).
struct Pieces {
    /// 2-bit code of the first `k` bases of each usable piece.
    codes: Vec<u64>,
    /// Open-addressing table: code → bitmask of piece indices (for repeated pieces).
    table: Vec<(u64, u64)>,
    /// One bit per value of a code's low 16 bits: most window positions are rejected by this L1-resident
    /// test before the table is probed.
    quick: Box<[u64; QUICK_WORDS]>,
    k: usize,
    piece_len: usize,
    /// Pieces that must be found when no overhang is possible.
    need: usize,
}

const PIECE_MIN: usize = 12;
const PIECE_TABLE: usize = 128;
/// Low code bits tested by the quick filter (8 bases; pieces are at least [`PIECE_MIN`] bases).
const QUICK_MASK: u64 = (1 << 16) - 1;
const QUICK_WORDS: usize = (1 << 16) / 64;

impl Pieces {
    fn new(query: &[u8], max_edits: usize) -> Self {
        let n = query.len();
        let s = (2 * max_edits + 2).min(n / PIECE_MIN).min(63);
        let mut p = Pieces {
            codes: Vec::new(),
            table: vec![(u64::MAX, 0); PIECE_TABLE],
            quick: Box::new([0; QUICK_WORDS]),
            k: 0,
            piece_len: 0,
            need: 0,
        };
        if s <= max_edits {
            return p;
        }
        let piece_len = n / s;
        let k = piece_len.min(32);
        let mut need = s - max_edits;
        for i in 0..s {
            match edna_seq_code(&query[i * piece_len..i * piece_len + k]) {
                Some(c) => p.codes.push(c),
                // An ambiguous piece cannot be checked: count it as found.
                None => need = need.saturating_sub(1),
            }
        }
        for (i, &c) in p.codes.iter().enumerate() {
            let q = (c & QUICK_MASK) as usize;
            p.quick[q / 64] |= 1 << (q % 64);
            let mut slot = (mix(c) as usize) % PIECE_TABLE;
            loop {
                let e = &mut p.table[slot];
                if e.0 == u64::MAX || e.0 == c {
                    e.0 = c;
                    e.1 |= 1 << i;
                    break;
                }
                slot = (slot + 1) % PIECE_TABLE;
            }
        }
        p.k = k;
        p.piece_len = piece_len;
        p.need = need;
        p
    }

    /// False only when no alignment with at most `max_edits` edits can exist in bases `start..end` of the
    /// 2-bit `packed` target (see `Index::packed_with_exceptions`; the range must hold only ACGT).
    fn may_align(&self, packed: &[u8], start: usize, end: usize, padding: usize) -> bool {
        if self.need == 0 {
            return true;
        }
        // Pieces that might lie in the free overhang are not required.
        let overhang_pieces = if padding == 0 {
            0
        } else {
            padding / self.piece_len.max(1) + 2
        };
        let need = self.need.saturating_sub(overhang_pieces);
        if need == 0 {
            return true;
        }
        let mask: u64 = if self.k == 32 {
            u64::MAX
        } else {
            (1u64 << (2 * self.k)) - 1
        };
        let end = end.min(packed.len() * 4);
        if end < start + self.k {
            return false;
        }
        let mut found = 0u64;
        // Reports whether the piece(s) with this code complete the requirement.
        let mut hit = |code: u64| -> bool {
            let q = (code & QUICK_MASK) as usize;
            if self.quick[q >> 6] & (1 << (q & 63)) == 0 {
                return false;
            }
            let mut slot = (mix(code) as usize) & (PIECE_TABLE - 1);
            loop {
                let e = self.table[slot];
                if e.0 == code {
                    found |= e.1;
                    return found.count_ones() as usize >= need;
                }
                if e.0 == u64::MAX {
                    return false;
                }
                slot = (slot + 1) & (PIECE_TABLE - 1);
            }
        };
        let base = |i: usize| ((packed[i / 4] >> (2 * (i % 4))) & 3) as u64;
        // The first k − 1 bases only fill the rolling code.
        let mut code = 0u64;
        let mut i = start;
        while i < start + self.k - 1 {
            code = (code << 2) | base(i);
            i += 1;
        }
        // Bases one at a time up to a byte boundary, then four per byte load.
        while i < end && !i.is_multiple_of(4) {
            code = ((code << 2) | base(i)) & mask;
            if hit(code) {
                return true;
            }
            i += 1;
        }
        for &byte in &packed[i / 4..end / 4] {
            for shift in [0, 2, 4, 6] {
                code = ((code << 2) | ((byte >> shift) & 3) as u64) & mask;
                if hit(code) {
                    return true;
                }
            }
        }
        i = i.max(end / 4 * 4);
        while i < end {
            code = ((code << 2) | base(i)) & mask;
            if hit(code) {
                return true;
            }
            i += 1;
        }
        false
    }
}

fn edna_seq_code(bases: &[u8]) -> Option<u64> {
    bases
        .iter()
        .try_fold(0u64, |acc, &b| edna_seq::pack::code2(b).map(|c| (acc << 2) | c as u64))
}

#[inline]
fn mix(x: u64) -> u64 {
    let x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// Marks a target whose seeds include one without a stored position.
const FULL_SCAN: i32 = i32::MIN;

/// Window of the target to align around the best edit-distance placement (`end` in target coordinates,
/// beyond the target when the query hangs off it), and the diagonal band inside it. Everything outside
/// the window is terminal gap, which vsearch does not count either.
fn window(n: usize, tlen: usize, end: i64, dist: usize) -> (usize, usize, Band) {
    let radius = 2 * dist as i64 + 8;
    let start_est = end - n as i64;
    let wstart = (start_est - radius).clamp(0, tlen as i64) as usize;
    let wend = ((end + radius).clamp(0, tlen as i64) as usize).max(wstart);
    // Query base i sits near window position i + (start_est − wstart).
    let band = Band::around(start_est - wstart as i64, radius as u32);
    (wstart, wend, band)
}

/// Band cells a widened alignment may hold (one traceback byte each), unless the window it widens held more.
const WIDE_ALIGNMENT_CELLS: u64 = 1 << 24;

/// The union of an alignment `window` (from [`window`]) with the target stretch `fs..fe` and, in target
/// coordinates, the seed diagonals `seeded` (every diagonal when unknown), for a query of `n` bases; the
/// window unchanged when the union would hold more than [`WIDE_ALIGNMENT_CELLS`] (and more than it).
fn widen(
    window: (usize, usize, Band),
    (fs, fe): (usize, usize),
    seeded: Option<(i64, i64)>,
    n: usize,
) -> (usize, usize, Band) {
    let (wstart, wend, band) = window;
    let (start, end) = (wstart.min(fs), wend.max(fe));
    let (lo, hi) = seeded.unwrap_or((-(n as i64), end as i64));
    let lo = lo.min(band.lo + wstart as i64) - start as i64;
    let hi = hi.max(band.hi + wstart as i64) - start as i64;
    let wide = Band::new(lo, hi);
    // A row and a column each hold at most one cell per diagonal.
    let cells = |band: Band, len: usize| band.width().saturating_mul(n.min(len) as u64);
    if cells(wide, end - start) > WIDE_ALIGNMENT_CELLS.max(cells(band, wend - wstart)) {
        return window;
    }
    (start, end, wide)
}

#[allow(clippy::too_many_arguments)]
fn to_hit(
    seq: u32,
    digest: [u8; 16],
    aln: &Alignment,
    query: &[u8],
    window: &[u8],
    wstart: usize,
    strand: char,
    n: usize,
    tlen: usize,
    with_alignment: bool,
) -> Hit {
    let (q_start, q_end) = if strand == '+' {
        (aln.query_start as u32 + 1, aln.query_end as u32)
    } else {
        // Report query coordinates on the query as given (BLAST convention for minus-strand hits).
        ((n - aln.query_start) as u32, (n - aln.query_end) as u32 + 1)
    };
    Hit {
        seq,
        digest,
        identity: aln.identity(),
        alignment_length: aln.columns,
        mismatches: aln.mismatches,
        gap_opens: aln.gap_opens,
        q_start,
        q_end,
        t_start: (wstart + aln.target_start) as u32 + 1,
        t_end: (wstart + aln.target_end) as u32,
        strand,
        query_coverage: aln.query_coverage(n),
        score: aln.score,
        target_length: tlen as u32,
        normalised_query: false,
        cigar: with_alignment.then(|| aln.cigar_string()),
        aligned: with_alignment.then(|| {
            let (a, b, c) = aln.aligned_strings(query, window);
            [a, b, c]
        }),
    }
}

impl Hit {
    /// BLAST-style bit score and E-value of this hit, for clients that read BLAST fields (blast-ws's
    /// `bitScore`/`expectValue`): the alignment is rescored with megablast's defaults (match +1, mismatch −2,
    /// linear gaps 2.5 per column) and converted with their Karlin–Altschul parameters (λ = 1.28,
    /// K = 0.46) over a search space of `query_len × db_bases`. Not BLAST's own numbers (BLAST would align
    /// differently), but of the same scale, never negative, and ordered like the hits' quality.
    pub fn blast_statistics(&self, query_len: usize, db_bases: u64) -> (f64, f64) {
        const LAMBDA: f64 = 1.28;
        const K: f64 = 0.46;
        let cols = self.alignment_length as f64;
        let matches = (self.identity * cols).round();
        let gaps = (cols - matches - self.mismatches as f64).max(0.0);
        let raw = matches - 2.0 * self.mismatches as f64 - 2.5 * gaps;
        let bits = ((LAMBDA * raw - K.ln()) / std::f64::consts::LN_2).max(0.0);
        let evalue = query_len as f64 * db_bases.max(1) as f64 * (-bits).exp2();
        (bits, evalue)
    }
}

/// The query cleaned like a reference barcode, with the positions of its normal form's bases in it, when
/// the two differ (ends trimmed or N runs capped) and it is within the length limit; `None` for almost every
/// query (the fast path of [`edna_seq::normalize::clean`] returns the input itself), and for one whose ends
/// hold characters GBIF accepts only because it trims them off (such a query is searched in its normal form).
fn given_form(raw: &[u8], normal: &[u8], params: &SearchParams) -> Option<(Vec<u8>, Vec<u32>)> {
    if raw == normal {
        return None;
    }
    let given = edna_seq::normalize::clean_reference(raw).ok()?;
    if given == normal || given.len() > params.max_query_len {
        return None;
    }
    let (again, positions) = edna_seq::normalize::normal_form_with_positions(&given);
    // The same rules in the same order: a mismatch would be a normaliser bug, and mapping through it wrong.
    (again == normal).then_some((given, positions))
}

/// A query's alignments and edit-distance placements by the target bases they were computed on
/// (`WindowMemo`).
#[derive(Debug, Default)]
struct Memos {
    alignments: WindowMemo<Alignment>,
    placements: WindowMemo<Option<edna_align::Hit>>,
}

/// Results of one query by the target window they were computed on. An alignment is a function of the query
/// strand, the window's bases and the band alone (coordinates are relative to the window), and a placement
/// of the strand, the stretch's bases, the pads, the band and the budget; so a candidate whose window holds
/// the same bases with the same parameters gets the same result. A short query against long, closely related
/// references meets the same stretch in many of them (400 bases of 18S against 3,100 PR2 Chlorophyta
/// references at 90 %: 46 % of the alignments; 12S ASVs against mitohelper at 90 %: 22 %). Windows are
/// compared base for base, never by hash alone.
#[derive(Debug)]
struct WindowMemo<V> {
    /// Hash of (strand, parameters, bases) to the entry holding them; a second window with the same hash is
    /// not kept.
    by_hash: HashMap<u64, u32>,
    entries: Vec<MemoEntry<V>>,
    /// The entries' window bases, one after the other.
    bases: Vec<u8>,
}

impl<V> Default for WindowMemo<V> {
    fn default() -> Self {
        WindowMemo {
            by_hash: HashMap::new(),
            entries: Vec::new(),
            bases: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct MemoEntry<V> {
    strand: u8,
    params: [i64; 4],
    bases: Range<usize>,
    value: V,
}

/// The hash a [`WindowMemo`] files a window under: strand, parameters and bases, eight bases a step.
fn window_key(strand: u8, params: [i64; 4], window: &[u8]) -> u64 {
    let mut h = mix(u64::from(strand) ^ 0x9e37);
    for p in params {
        h = mix(h ^ p as u64);
    }
    let mut words = window.chunks_exact(8);
    for w in &mut words {
        h = mix(h ^ u64::from_le_bytes(w.try_into().unwrap_or_default()));
    }
    for &b in words.remainder() {
        h = mix(h ^ u64::from(b));
    }
    mix(h ^ window.len() as u64)
}

/// Window bases a [`WindowMemo`] keeps per query at most (beyond, results are not memoised).
const MEMO_MAX_BASES: usize = 16 << 20;

impl<V: Clone> WindowMemo<V> {
    fn clear(&mut self) {
        self.by_hash.clear();
        self.entries.clear();
        self.bases.clear();
    }

    fn get(&self, key: u64, strand: u8, params: [i64; 4], window: &[u8]) -> Option<&V> {
        let e = self.entries.get(*self.by_hash.get(&key)? as usize)?;
        (e.strand == strand && e.params == params && self.bases.get(e.bases.clone()) == Some(window))
            .then_some(&e.value)
    }

    fn insert(&mut self, key: u64, strand: u8, params: [i64; 4], window: &[u8], value: &V) {
        if self.bases.len() + window.len() > MEMO_MAX_BASES || self.by_hash.contains_key(&key) {
            return;
        }
        let Ok(at) = u32::try_from(self.entries.len()) else {
            return;
        };
        let start = self.bases.len();
        self.bases.extend_from_slice(window);
        self.entries.push(MemoEntry {
            strand,
            params,
            bases: start..self.bases.len(),
            value: value.clone(),
        });
        self.by_hash.insert(key, at);
    }
}

/// Candidates verified between two looks at the flag of [`Searcher::set_stop`] (a relaxed load each).
pub const STOP_CHECK_EVERY: usize = 64;

/// The documented total order: identity desc, coverage desc, nucleotideSequenceID asc (then plus strand
/// first).
pub(crate) fn order(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.identity
        .total_cmp(&a.identity)
        .then(b.query_coverage.total_cmp(&a.query_coverage))
        .then(a.digest.cmp(&b.digest))
        .then(a.strand.cmp(&b.strand))
}

/// Whether `seq` is a target of kind `target` for the marker `want` (canonical name; any when `None`).
fn eligible(index: &Index, seq: u32, target: Target, want: Option<&str>) -> bool {
    let meta = index.meta();
    let ref_ok = || {
        index.seq_refs(seq).iter().any(|&r| {
            index.reference(r).is_some_and(|r| {
                want.is_none_or(|m| meta.libraries.get(r.library as usize).is_some_and(|l| l.marker == m))
            })
        })
    };
    let occ_ok = || {
        let occs = index.seq_occs(seq);
        match want {
            None => !occs.is_empty(),
            Some(m) => occs.iter().any(|&o| {
                index.occurrence_dna(o).iter().any(|d| {
                    d.seq == seq && d.marker != NONE && meta.markers.get(d.marker as usize).is_some_and(|x| x == m)
                })
            }),
        }
    };
    match target {
        Target::References => ref_ok(),
        Target::Occurrences => occ_ok(),
        Target::All => ref_ok() || occ_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_subsequence_bound_steps_aside_while_it_rejects_nothing_and_returns_when_it_does() {
        let mut lcs = LcsPasses::default();
        for _ in 0..LCS_TRIAL_PASSES {
            assert!(lcs.pays());
            lcs.note(false);
        }
        // Now one candidate in eight gets a pass.
        let mut tried = 0;
        for _ in 0..8 * LCS_PROBE_EVERY {
            if lcs.pays() {
                tried += 1;
                lcs.note(false);
            }
        }
        assert_eq!(tried, 8);
        // Passes that reject bring it back for every candidate.
        for _ in 0..LCS_TRIAL_PASSES {
            while !lcs.pays() {}
            lcs.note(true);
        }
        assert!((0..LCS_PROBE_EVERY).all(|_| lcs.pays()));
        // Memory is bounded: older passes count half.
        for _ in 0..10 * LCS_MEMORY_PASSES {
            lcs.note(true);
        }
        assert!(lcs.passes < LCS_MEMORY_PASSES);
    }

    #[test]
    fn the_overhang_charge_never_exceeds_what_the_shorter_span_saves() {
        for p in [
            0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999,
        ] {
            let every = overhang_charge_every(p).expect("an identity below 1 charges");
            for n in (1..700).chain([1_000, 2_999, 10_000]) {
                let whole = max_edit_distance(n, p);
                for o in 0..=n {
                    let charged = (o / every) as u32;
                    assert!(
                        max_edit_distance(n - o, p) + charged <= whole,
                        "p {p}, n {n}, overhang {o}: charged {charged} of {whole}"
                    );
                }
            }
        }
        assert_eq!(
            (overhang_charge_every(0.9), overhang_charge_every(0.97)),
            (Some(9), Some(33))
        );
        assert_eq!(overhang_charge_every(1.0), None);
        // Columns counted outward from each end of the target.
        let mut slots = vec![PAD_SLOT; 7 + 3 + 5];
        slots[7..10].fill(1);
        charge_overhang(&mut slots, (7, 3), 3);
        let expect = [
            PAD_SLOT,
            NO_MATCH_SLOT,
            PAD_SLOT,
            PAD_SLOT,
            NO_MATCH_SLOT,
            PAD_SLOT,
            PAD_SLOT,
            1,
            1,
            1,
        ];
        assert_eq!(&slots[..10], &expect);
        assert_eq!(&slots[10..], &[PAD_SLOT, PAD_SLOT, NO_MATCH_SLOT, PAD_SLOT, PAD_SLOT]);
    }

    #[test]
    fn a_widened_alignment_window_is_capped() {
        // A 300-bp stretch with the seeds 16,000 bases into the query: widened (≈ 0.3 M cells).
        let old = window(16_300, 300, 2, 0);
        let (start, end, band) = widen(old, (0, 300), Some((-16_506, -15_494)), 16_300);
        assert_eq!((start, end), (0, 300));
        assert!(band.lo <= -16_506 && band.hi >= -15_494, "{band:?}");
        // Every diagonal of a 10 kb query against a 30 kb stretch would be 300 M cells: left as it was.
        let old = window(10_000, 30_000, 20_000, 10);
        assert_eq!(widen(old, (0, 30_000), None, 10_000), old);
    }

    /// The one-pass bounds equal their definitions: each span's own budget from `max_edit_distance`, the
    /// fewest seeds over every longer span, and the window guarantee span by span.
    #[test]
    fn span_bounds_follow_their_definitions() {
        let (k, w) = (14, 11);
        for n in (1..420).step_by(7).chain([1, 2, 24, 100, 188, 1000]) {
            for p in [0.5, 0.8, 0.9, 0.95, 0.97, 0.99, 1.0] {
                for ambiguous in [0, 1, 3] {
                    let bounds = SpanBounds::new(n, ambiguous, p, k, w);
                    let t = |l: usize| {
                        let good = window_bases(l, max_edit_distance(l, p) as usize + ambiguous, k, w);
                        if good <= 0 {
                            1
                        } else {
                            (good as u64).div_ceil(w as u64) as u32
                        }
                    };
                    // Walking m down, the spans of at least m bases are the ones seen so far.
                    let (mut fewest, mut guaranteed) = (u32::MAX, true);
                    for m in (0..=n).rev() {
                        let l = m.max(1);
                        fewest = fewest.min(t(l));
                        guaranteed &= window_bases(l, max_edit_distance(l, p) as usize + ambiguous, k, w) > 0;
                        assert_eq!(bounds.seeds_by_span[m], fewest, "n {n} p {p} amb {ambiguous} m {m}");
                        assert_eq!(
                            bounds.windows_guaranteed(m),
                            guaranteed,
                            "n {n} p {p} amb {ambiguous} m {m}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn seed_bound_examples() {
        // 97 % over a 100-bp query with full coverage: at least one seed (the w+k-1 = 24 run argument).
        assert!(min_shared_seeds(100, 0, 0.97, 1.0, 14, 11) >= 1);
        // Lower identity never needs more seeds.
        for n in [80, 150, 300, 1000] {
            assert!(min_shared_seeds(n, 0, 0.9, 0.5, 14, 11) <= min_shared_seeds(n, 0, 0.97, 0.5, 14, 11));
        }
        assert_eq!(max_edit_distance(170, 0.97), 5);
        // Not the shortest span's bound: 100 aligned bases with 3 errors, spaced 24 apart, leave one
        // guaranteed seed (T(94) = 3 would have missed that hit).
        assert_eq!(min_shared_seeds(188, 0, 0.97, 0.5, 14, 11), 1);
    }

    proptest::proptest! {
        /// Galloping finds what a binary search of the whole slice finds.
        #[test]
        fn gallop_equals_partition_point(
            mut ids in proptest::collection::vec(0u32..500, 0..300),
            bound in 0u32..520,
        ) {
            ids.sort_unstable();
            proptest::prop_assert_eq!(gallop(&ids, bound), ids.partition_point(|&s| s < bound));
        }

        /// Real sequences: a target within the error budget of the bound shares at least the bound's count of
        /// the query's own minimizers whenever [`windows_guaranteed`] holds, so looking those up alone loses
        /// nothing.
        #[test]
        fn query_minimizers_meet_the_bound(
            query in proptest::collection::vec(0u8..4, 60..400),
            edits in proptest::collection::vec((0usize..10_000, 0u8..3, 0u8..4), 0..14),
            k in 10usize..16,
            w in 4usize..12,
            worst in proptest::bool::ANY,
        ) {
            let base = |b: u8| b"ACGT"[(b & 3) as usize];
            let q: Vec<u8> = query.iter().map(|&b| base(b)).collect();
            let mut t = q.clone();
            // The worst placement: a substitution every w + k − 1 bases leaves no whole window between two.
            let worst_edits: Vec<(usize, u8, u8)> =
                (1..=edits.len()).map(|i| (i * (w + k - 1) - 1, 0, q[(i * (w + k - 1) - 1) % q.len()])).collect();
            let edits = if worst { worst_edits } else { edits };
            for &(at, kind, b) in &edits {
                let i = at % t.len().max(1);
                match kind {
                    0 => t[i] = base(b.wrapping_add(1)),
                    1 => t.insert(i, base(b)),
                    _ if t.len() > 1 => {
                        t.remove(i);
                    }
                    _ => {}
                }
            }
            let n = q.len();
            let e = edits.len();
            // The identity at which the bound allows exactly e errors over the whole query.
            let p = n as f64 / (n + e) as f64;
            proptest::prop_assume!(SpanBounds::new(n, 0, p, k, w).windows_guaranteed(n));
            let mut target_mins = Vec::new();
            edna_seq::kmer::minimizer_positions(&t, k, w, 3, &mut target_mins);
            let target_set: std::collections::HashSet<u32> = target_mins.iter().map(|m| m.0).collect();
            let mut query_mins = Vec::new();
            edna_seq::kmer::minimizer_positions(&q, k, w, 3, &mut query_mins);
            let shared = query_mins.iter().filter(|m| target_set.contains(&m.0)).count();
            let bound = min_shared_seeds(n, 0, p, 1.0, k, w);
            proptest::prop_assert!(shared >= bound as usize, "{shared} shared query minimizers, bound {bound}");
        }

        /// Builds the worst error placement for every allowed span (each error closes a segment of
        /// w + k − 2 bases, too short for a whole minimizer window) and counts the seeds it still guarantees:
        /// the bound may never ask for more.
        #[test]
        fn seed_bound_holds_for_the_worst_error_placement(
            n in 20usize..400,
            pid in 80u32..=100,
            cov in 0u32..=100,
            k in 8usize..16,
            w in 2usize..12,
            ambiguous in 0usize..3,
        ) {
            let (p, c) = (f64::from(pid) / 100.0, f64::from(cov) / 100.0);
            let bound = min_shared_seeds(n, ambiguous, p, c, k, w);
            proptest::prop_assert!(bound >= 1);
            let shortest = ((c * n as f64).ceil() as usize).clamp(1, n);
            for l in shortest..=n {
                let errors = ((1.0 - p) * l as f64 / p + 1e-9).floor() as usize + ambiguous;
                let mut rest = l.saturating_sub(errors);
                for _ in 0..errors {
                    rest -= (w + k - 2).min(rest);
                }
                let guaranteed = if rest + 1 >= k { (rest + 1 - k) / w } else { 0 };
                proptest::prop_assert!(
                    bound as usize <= guaranteed.max(1),
                    "span {l}: {guaranteed} seeds guaranteed, bound {bound}"
                );
            }
        }
    }
}
