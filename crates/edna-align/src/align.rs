//! vsearch-compatible global alignment (`--usearch_global`).
//!
//! The whole query is aligned against the whole target (Needleman–Wunsch with
//! Gotoh affine gaps). A gap of length `L` costs `open + L * extend` here;
//! vsearch's `--gapopen` penalty includes the gap's first column (it charges
//! `open + (L − 1) * extend`), so [`Scoring::vsearch`] takes its open penalties
//! less one extension. Gaps at either end of either sequence (*terminal* gaps)
//! use their own, much lower, penalties.
//!
//! # Terminal gaps
//!
//! A run of target bases against a gap (`Op::Del`) is terminal when it lies
//! before the first or after the last query base (DP row 0 or row `m`); a run of
//! query bases against a gap (`Op::Ins`) is terminal when it lies before the
//! first or after the last target base (column 0 or column `n`). This is
//! exactly vsearch's left/right gap rule. Terminal gaps are kept in
//! [`Alignment::ops`] (so the score can be recomputed from the path) but are
//! excluded from the coordinates, the counts and the identity (`--iddef 2`).
//!
//! # Tie-breaking (same as vsearch's `nw`/SIMD traceback)
//!
//! * A cell prefers, among equal scores: diagonal > `Ins` (query base vs gap,
//!   "up") > `Del` (target base vs gap, "left").
//! * A gap state prefers opening (coming from `H`) over extending on equal
//!   scores; it only extends when that is strictly better.
//! * At the end, the corner `(m, n)` is preferred over leaving the band along
//!   column `n`, which is preferred over leaving along row `m` (see [`Band`]).
//!
//! # Scoring of ambiguous symbols
//!
//! vsearch scores any column involving an ambiguous symbol (`N`, `R`, ...) as
//! 0 but *counts* it as a match when the two symbols are compatible
//! (`A` vs `R`). [`Scoring::ambiguous_score`] reproduces that; the
//! `Op::Match`/`Op::Mismatch` split always follows compatibility.

use crate::iupac::{is_unambiguous_mask, NT_MASK};

/// "Minus infinity" for DP cells; far from `i32::MIN` so that subtracting a
/// few penalties can never wrap.
const NEG: i32 = i32::MIN / 2;

// Traceback byte per band cell (vsearch's encoding): F beats the diagonal,
// E beats both, E extended, F extended. One byte keeps the matrix small.
const F_WINS: u8 = 1;
const E_WINS: u8 = 2;
const E_EXT: u8 = 4;
const F_EXT: u8 = 8;

/// Scores (added) and gap penalties (subtracted) of the alignment.
///
/// Penalties are non-negative numbers; a gap of length `L` costs
/// `open + L * extend`. Open penalties must be `>= 0` (the aligner relies on
/// it), and magnitudes should stay small (well below 2^16) so that scores of
/// sequences up to ~10^5 bp cannot overflow `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scoring {
    /// Score of two identical unambiguous bases (vsearch `--match`, +2).
    pub match_score: i32,
    /// Score of two different unambiguous bases (vsearch `--mismatch`, -4).
    pub mismatch_score: i32,
    /// Score of a column where either symbol is ambiguous or invalid (vsearch: 0).
    pub ambiguous_score: i32,
    /// Interior gap open penalty, charged once per gap on top of `gap_extend` per column (vsearch's
    /// `--gapopen 20I` less one extension: 18).
    pub gap_open: i32,
    /// Interior gap extension penalty per column (vsearch `--gapext 2I`).
    pub gap_extend: i32,
    /// Terminal gap open penalty, charged once per gap on top of `terminal_gap_extend` per column (vsearch's
    /// `--gapopen 2E` less one extension: 1).
    pub terminal_gap_open: i32,
    /// Terminal gap extension penalty per column (vsearch `--gapext 1E`).
    pub terminal_gap_extend: i32,
}

impl Scoring {
    /// vsearch defaults: match +2, mismatch -4, ambiguous 0, gaps `--gapopen 20I/2E --gapext 2I/1E`.
    ///
    /// vsearch's open penalty covers the gap's first column: its raw scores for a 150 bp query against
    /// itself with 1, 2 and 3 bases inserted inside are 280, 278 and 276 (300 without), and with 1 and 3
    /// bases added at an end 298 and 296. So a gap of `L` columns costs `20 + 2(L − 1)` inside and
    /// `2 + (L − 1)` at an end, which is `open + L * extend` with open 18 and 1. With one more extension per
    /// gap, a near tie between a gap and a few mismatches went the other way: a 160 bp UNITE ITS1 query
    /// against a reference with two mismatches and a one-base insertion aligned at 96.9 % (five
    /// mismatches) where vsearch reports 98.1 %.
    pub const fn vsearch() -> Self {
        Scoring {
            match_score: 2,
            mismatch_score: -4,
            ambiguous_score: 0,
            gap_open: 18,
            gap_extend: 2,
            terminal_gap_open: 1,
            terminal_gap_extend: 1,
        }
    }

    /// Score of aligning byte `a` against byte `b` (no gap).
    pub fn pair_score(&self, a: u8, b: u8) -> i32 {
        self.mask_score(NT_MASK[a as usize], NT_MASK[b as usize])
    }

    /// Score of a column given the two 4-bit masks.
    fn mask_score(&self, a: u8, b: u8) -> i32 {
        if is_unambiguous_mask(a) && is_unambiguous_mask(b) {
            if a == b {
                self.match_score
            } else {
                self.mismatch_score
            }
        } else {
            self.ambiguous_score
        }
    }

    /// Penalty (positive) of one gap run of `len` columns; 0 for `len == 0`.
    pub fn gap_cost(&self, len: u32, terminal: bool) -> i32 {
        if len == 0 {
            return 0;
        }
        let (open, ext) = if terminal {
            (self.terminal_gap_open, self.terminal_gap_extend)
        } else {
            (self.gap_open, self.gap_extend)
        };
        open + len as i32 * ext
    }

    /// Whether, for an unambiguous query found exactly and only once in an unambiguous target, that exact
    /// occurrence is the one optimal alignment ([`exact_alignment`]). Next to it, any other path gives
    /// up a mismatch (`match − mismatch`), a query base off the target (`match + 2 · terminal extension`:
    /// its match, its own gap column and one more target base in a gap) or an interior gap (`gap_open`
    /// beyond the extensions), and saves at most the two terminal gap opens of the exact path; so the
    /// exact path wins outright when each of those exceeds `2 · terminal_gap_open` (vsearch's: 6, 4 and 18
    /// against 2), with gap costs never negative and interior extensions no cheaper than terminal ones.
    pub fn exact_occurrence_is_optimal(&self) -> bool {
        let saved = 2 * i64::from(self.terminal_gap_open);
        self.terminal_gap_open >= 0
            && self.terminal_gap_extend >= 0
            && self.gap_open >= 0
            && self.gap_extend >= self.terminal_gap_extend
            && i64::from(self.match_score) - i64::from(self.mismatch_score) > saved
            && i64::from(self.match_score) + 2 * i64::from(self.terminal_gap_extend) > saved
            && i64::from(self.gap_open) > saved
    }
}

/// The alignment [`Aligner::align`] gives when `query` occurs in `target` at `offset` and nowhere else,
/// both written in `A`, `C`, `G`, `T` only, under a scoring that passes
/// [`Scoring::exact_occurrence_is_optimal`] and a band (if any) holding diagonal `offset`: that occurrence
/// with the rest of the target as terminal gaps, found without filling a matrix (a quarter of the
/// alignments of UNITE ITS1 searched against itself at 97 %). `None` when any of that does not hold.
pub fn exact_alignment(
    query: &[u8],
    target: &[u8],
    offset: usize,
    scoring: &Scoring,
    band: Option<Band>,
) -> Option<Alignment> {
    let n = query.len();
    let end = offset.checked_add(n)?;
    if n == 0 || target.get(offset..end)? != query || !scoring.exact_occurrence_is_optimal() {
        return None;
    }
    if band.is_some_and(|b| (offset as i64) < b.lo || offset as i64 > b.hi) {
        return None;
    }
    let unambiguous = |s: &[u8]| s.iter().all(|b| matches!(b, b'A' | b'C' | b'G' | b'T'));
    if !unambiguous(query) || !unambiguous(target) {
        return None;
    }
    // A second occurrence could tie or win (fewer terminal gap opens): leave it to the matrix.
    let elsewhere = (0..=target.len() - n)
        .filter(|&o| o != offset && target[o] == query[0])
        .any(|o| &target[o..o + n] == query);
    if elsewhere {
        return None;
    }
    let right = target.len() - end;
    let mut ops = Vec::with_capacity(3);
    for (op, len) in [(Op::Del, offset), (Op::Match, n), (Op::Del, right)] {
        if len > 0 {
            ops.push((op, u32::try_from(len).ok()?));
        }
    }
    let columns = u32::try_from(n).ok()?;
    let score = scoring
        .match_score
        .checked_mul(i32::try_from(n).ok()?)?
        .checked_sub(scoring.gap_cost(u32::try_from(offset).ok()?, true))?
        .checked_sub(scoring.gap_cost(u32::try_from(right).ok()?, true))?;
    Some(Alignment {
        ops,
        score,
        query_start: 0,
        query_end: n,
        target_start: offset,
        target_end: end,
        matches: columns,
        mismatches: 0,
        gap_opens: 0,
        gap_columns: 0,
        columns,
    })
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring::vsearch()
    }
}

/// Diagonal band: interior DP cells `(i, j)` (query prefix `i`, target prefix
/// `j`, both ≥ 1) are computed only when `lo <= j - i <= hi`.
///
/// Semantics chosen so that overhangs at the ends of a target *window* stay
/// cheap even when the band does not contain the corners:
///
/// * Row 0 and column 0 are always available, so the path may start with a
///   leading terminal gap that runs outside the band, then enter it.
/// * The path may leave the band only by a trailing terminal gap: from any
///   computed cell of row `m` straight along row `m` to `(m, n)`, or from any
///   computed cell of column `n` straight down column `n` to `(m, n)`.
/// * The all-gap paths `D^n I^m` / `I^m D^n` are always allowed.
///
/// A band covering every diagonal (see [`Band::covering`]) gives exactly the
/// unbanded result. `lo > hi` is an empty band (only all-gap paths remain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Band {
    /// Lowest allowed diagonal `target_pos - query_pos` (inclusive).
    pub lo: i64,
    /// Highest allowed diagonal `target_pos - query_pos` (inclusive).
    pub hi: i64,
}

impl Band {
    /// Band of diagonals `lo..=hi`.
    pub const fn new(lo: i64, hi: i64) -> Self {
        Band { lo, hi }
    }

    /// Band of `2 * radius + 1` diagonals centred on `diagonal`.
    pub const fn around(diagonal: i64, radius: u32) -> Self {
        Band {
            lo: diagonal - radius as i64,
            hi: diagonal + radius as i64,
        }
    }

    /// Band containing every diagonal of an `m × n` problem (same result as no band).
    pub const fn covering(query_len: usize, target_len: usize) -> Self {
        Band {
            lo: -(query_len as i64),
            hi: target_len as i64,
        }
    }

    /// Number of diagonals in the band (0 when empty).
    pub const fn width(&self) -> u64 {
        if self.hi < self.lo {
            0
        } else {
            (self.hi - self.lo) as u64 + 1
        }
    }
}

/// One alignment column kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Compatible symbols (SAM `=`); identical or IUPAC-overlapping.
    Match,
    /// Incompatible symbols (SAM `X`).
    Mismatch,
    /// Query base against a gap in the target (SAM `I`).
    Ins,
    /// Target base against a gap in the query (SAM `D`).
    Del,
}

impl Op {
    /// True if the column consumes a query base.
    pub const fn consumes_query(self) -> bool {
        !matches!(self, Op::Del)
    }

    /// True if the column consumes a target base.
    pub const fn consumes_target(self) -> bool {
        !matches!(self, Op::Ins)
    }

    /// Extended SAM CIGAR letter (`=`, `X`, `I`, `D`).
    pub const fn sam_char(self) -> char {
        match self {
            Op::Match => '=',
            Op::Mismatch => 'X',
            Op::Ins => 'I',
            Op::Del => 'D',
        }
    }
}

/// CIGAR flavour for [`Alignment::cigar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CigarStyle {
    /// `=`/`X` for compatible/incompatible columns.
    #[default]
    Extended,
    /// Classic `M` for any aligned pair.
    Classic,
}

/// Result of [`align`]: the full optimal path plus vsearch-style statistics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alignment {
    /// Run-length path from `(0, 0)` to `(m, n)`, *including* terminal gaps.
    pub ops: Vec<(Op, u32)>,
    /// Optimal score (terminal gaps included, with their own penalties).
    pub score: i32,
    /// First aligned query base (0-based), terminal gaps excluded.
    pub query_start: usize,
    /// One past the last aligned query base.
    pub query_end: usize,
    /// First aligned target base (0-based), terminal gaps excluded.
    pub target_start: usize,
    /// One past the last aligned target base.
    pub target_end: usize,
    /// Compatible columns (IUPAC overlap counts as a match, like vsearch).
    pub matches: u32,
    /// Incompatible aligned pairs.
    pub mismatches: u32,
    /// Interior gap runs.
    pub gap_opens: u32,
    /// Interior gap columns.
    pub gap_columns: u32,
    /// Columns excluding terminal gaps (`matches + mismatches + gap_columns`).
    pub columns: u32,
}

/// Index range of `ops` holding the non-terminal part and where it starts.
struct Core {
    first: usize,
    last: usize,
    q0: usize,
    t0: usize,
}

impl Alignment {
    /// The score of this path when the target it was aligned to is a window of a longer one, with `left`
    /// more target bases before it and `right` after it: the path gains a leading and a trailing target gap
    /// (merged into a terminal one already there), and a query overhang at a window edge that is not a
    /// target end becomes an interior gap. The same path scored on the whole target, as vsearch scores it.
    pub fn score_in_longer_target(&self, scoring: &Scoring, left: u32, right: u32) -> i32 {
        let edge = |run: Option<&(Op, u32)>, extra: u32| -> i32 {
            if extra == 0 {
                return 0;
            }
            let outside = scoring.gap_cost(extra, true);
            match run {
                Some(&(Op::Del, len)) => scoring.gap_cost(len, true) - scoring.gap_cost(len + extra, true),
                Some(&(Op::Ins, len)) => scoring.gap_cost(len, true) - scoring.gap_cost(len, false) - outside,
                _ => -outside,
            }
        };
        if let [(Op::Ins, len)] = self.ops[..] {
            // Nothing of the window was aligned: the query's run stays terminal only at a target end.
            let terminal = left == 0 || right == 0;
            return -(scoring.gap_cost(len, terminal) + scoring.gap_cost(left, true) + scoring.gap_cost(right, true));
        }
        self.score + edge(self.ops.first(), left) + edge(self.ops.last(), right)
    }

    /// vsearch `--iddef 2` identity: matches / columns without terminal gaps (0 if none).
    pub fn identity(&self) -> f64 {
        if self.columns == 0 {
            0.0
        } else {
            self.matches as f64 / self.columns as f64
        }
    }

    /// Fraction of the query inside the aligned (non-terminal) part (0 if `qlen == 0`).
    pub fn query_coverage(&self, qlen: usize) -> f64 {
        if qlen == 0 {
            0.0
        } else {
            (self.query_end - self.query_start) as f64 / qlen as f64
        }
    }

    /// Lengths `(query, target)` implied by `ops`.
    fn lengths(&self) -> (usize, usize) {
        let mut m = 0;
        let mut n = 0;
        for &(op, c) in &self.ops {
            if op.consumes_query() {
                m += c as usize;
            }
            if op.consumes_target() {
                n += c as usize;
            }
        }
        (m, n)
    }

    /// The non-terminal runs of `ops`, or `None` when everything is terminal gap.
    fn core(&self) -> Option<Core> {
        let (m, n) = self.lengths();
        core_span(&self.ops, m, n)
    }

    /// The lowest and highest diagonal (target position minus query position) of the cells the aligned
    /// part passes through, terminal gaps excluded: a band holds the path when it holds these. `None` when
    /// everything is terminal gap.
    pub fn diagonals(&self) -> Option<(i64, i64)> {
        let core = self.core()?;
        let d0 = core.t0 as i64 - core.q0 as i64;
        let (mut d, mut lo, mut hi) = (d0, d0, d0);
        for &(op, len) in &self.ops[core.first..=core.last] {
            match op {
                Op::Match | Op::Mismatch => continue,
                Op::Ins => d -= i64::from(len),
                Op::Del => d += i64::from(len),
            }
            lo = lo.min(d);
            hi = hi.max(d);
        }
        Some((lo, hi))
    }

    /// SAM-style CIGAR of the aligned part with `=`/`X`/`I`/`D` (see [`Alignment::cigar`]).
    pub fn cigar_string(&self) -> String {
        self.cigar(CigarStyle::Extended)
    }

    /// SAM CIGAR relative to `target_start`: query overhangs (terminal `I`)
    /// become soft clips `S`, target overhangs (terminal `D`) are omitted.
    /// Returns `"*"` when nothing is aligned.
    pub fn cigar(&self, style: CigarStyle) -> String {
        use std::fmt::Write;
        let Some(core) = self.core() else {
            return "*".to_string();
        };
        let (m, _) = self.lengths();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let mut emit = |len: u32, c: char| {
            if len > 0 {
                let _ = write!(out, "{len}{c}");
            }
        };
        emit(self.query_start as u32, 'S');
        let mut pending: Option<(char, u32)> = None;
        for &(op, len) in &self.ops[core.first..=core.last] {
            let c = match (style, op) {
                (CigarStyle::Classic, Op::Match | Op::Mismatch) => 'M',
                _ => op.sam_char(),
            };
            match pending {
                Some((pc, ref mut pl)) if pc == c => *pl += len,
                _ => {
                    if let Some((pc, pl)) = pending {
                        emit(pl, pc);
                    }
                    pending = Some((c, len));
                }
            }
        }
        if let Some((pc, pl)) = pending {
            emit(pl, pc);
        }
        emit((m - self.query_end) as u32, 'S');
        out
    }

    /// Three display rows of the aligned part: query (with `-`), midline
    /// (`|` for a compatible pair, space otherwise) and target (with `-`).
    /// `query`/`target` must be the aligned sequences; out-of-range positions
    /// show as `?` rather than panicking.
    pub fn aligned_strings(&self, query: &[u8], target: &[u8]) -> (String, String, String) {
        let mut q = String::new();
        let mut mid = String::new();
        let mut t = String::new();
        let Some(core) = self.core() else {
            return (q, mid, t);
        };
        let sym = |s: &[u8], k: usize| s.get(k).map_or('?', |&b| b as char);
        let (mut i, mut j) = (core.q0, core.t0);
        for &(op, len) in &self.ops[core.first..=core.last] {
            for _ in 0..len {
                match op {
                    Op::Match | Op::Mismatch => {
                        q.push(sym(query, i));
                        t.push(sym(target, j));
                        mid.push(if op == Op::Match { '|' } else { ' ' });
                        i += 1;
                        j += 1;
                    }
                    Op::Ins => {
                        q.push(sym(query, i));
                        t.push('-');
                        mid.push(' ');
                        i += 1;
                    }
                    Op::Del => {
                        q.push('-');
                        t.push(sym(target, j));
                        mid.push(' ');
                        j += 1;
                    }
                }
            }
        }
        (q, mid, t)
    }
}

/// Is a gap run of `op` starting at `(i, j)` terminal in an `m × n` problem?
fn run_is_terminal(op: Op, i: usize, j: usize, m: usize, n: usize) -> bool {
    match op {
        Op::Del => i == 0 || i == m,
        Op::Ins => j == 0 || j == n,
        Op::Match | Op::Mismatch => false,
    }
}

/// Finds the runs between the leading and trailing terminal gaps. Terminal
/// runs can only sit at the ends of a path (row 0/column 0 before anything
/// else, row m/column n after everything), so a prefix/suffix scan suffices.
fn core_span(ops: &[(Op, u32)], m: usize, n: usize) -> Option<Core> {
    let (mut i, mut j) = (0usize, 0usize);
    let mut first = None;
    for (k, &(op, len)) in ops.iter().enumerate() {
        if !run_is_terminal(op, i, j, m, n) {
            first = Some((k, i, j));
            break;
        }
        if op.consumes_query() {
            i += len as usize;
        }
        if op.consumes_target() {
            j += len as usize;
        }
    }
    let (first, q0, t0) = first?;
    let (mut i, mut j) = (m, n);
    let mut last = first;
    for (k, &(op, len)) in ops.iter().enumerate().rev() {
        // Position at the start of this run, walking backwards from (m, n).
        if op.consumes_query() {
            i -= len as usize;
        }
        if op.consumes_target() {
            j -= len as usize;
        }
        if !run_is_terminal(op, i, j, m, n) {
            last = k;
            break;
        }
    }
    Some(Core { first, last, q0, t0 })
}

/// Builds the statistics of a finished path.
fn finish(ops: Vec<(Op, u32)>, score: i32, m: usize, n: usize) -> Alignment {
    let mut a = Alignment {
        ops,
        score,
        ..Alignment::default()
    };
    let Some(core) = core_span(&a.ops, m, n) else {
        return a;
    };
    let (mut i, mut j) = (core.q0, core.t0);
    a.query_start = i;
    a.target_start = j;
    for &(op, len) in &a.ops[core.first..=core.last] {
        match op {
            Op::Match => a.matches += len,
            Op::Mismatch => a.mismatches += len,
            Op::Ins | Op::Del => {
                a.gap_opens += 1;
                a.gap_columns += len;
            }
        }
        if op.consumes_query() {
            i += len as usize;
        }
        if op.consumes_target() {
            j += len as usize;
        }
    }
    a.query_end = i;
    a.target_end = j;
    a.columns = a.matches + a.mismatches + a.gap_columns;
    a
}

/// Appends `len` columns of `op` to a run-length path (no-op for 0).
#[inline]
fn push_run(ops: &mut Vec<(Op, u32)>, op: Op, len: u32) {
    if len == 0 {
        return;
    }
    match ops.last_mut() {
        Some((last, c)) if *last == op => *c += len,
        _ => ops.push((op, len)),
    }
}

/// Run-length encoder that keeps the current run in registers.
struct RunBuilder<'a> {
    out: &'a mut Vec<(Op, u32)>,
    op: Op,
    len: u32,
}

impl<'a> RunBuilder<'a> {
    fn new(out: &'a mut Vec<(Op, u32)>) -> Self {
        out.clear();
        RunBuilder {
            out,
            op: Op::Match,
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, op: Op, len: u32) {
        if len == 0 {
            return;
        }
        if op == self.op {
            self.len += len;
        } else {
            self.flush();
            self.op = op;
            self.len = len;
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.out.push((self.op, self.len));
            self.len = 0;
        }
    }
}

/// Gotoh state during traceback.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    H,
    E,
    F,
}

/// Where the optimal path reaches `(m, n)` from.
#[derive(Clone, Copy)]
enum Exit {
    Corner,
    /// Trailing terminal `Ins` run down column `n` from row `i`.
    Column(usize, State),
    /// Trailing terminal `Del` run along row `m` from column `j`.
    Row(usize, State),
}

/// Reusable aligner: owns all scratch buffers so repeated calls do not allocate
/// (beyond the returned `ops`).
///
/// Memory: one traceback byte per computed cell (`m × band width`, or `m × n`
/// without a band) plus `O(n)` scratch; use a band for long targets.
#[derive(Debug, Clone, Default)]
pub struct Aligner {
    /// Row scratch for problems whose scores fit 16 bits (most barcodes).
    rows16: Rows<i16>,
    /// Row scratch for the others.
    rows32: Rows<i32>,
    /// Traceback bytes of the band cells, row by row.
    dirs: Vec<u8>,
    /// Per row `i`, `offset_in_dirs - first_column` (wrapping), so that cell
    /// `(i, j)` lives at `dirs[row_base[i] + j]`; the total cell count last.
    row_base: Vec<usize>,
    /// Target as 4-bit masks.
    tcodes: Vec<u8>,
    /// Path collected backwards during traceback.
    rev_ops: Vec<(Op, u32)>,
    /// Lane codes of the anti-diagonal kernel.
    #[cfg(target_arch = "x86_64")]
    lanes: antidiagonal::Scratch,
    /// Keeps the anti-diagonal fill to AVX2 (tests of that kernel on CPUs with AVX-512).
    avx2_only: bool,
    /// Sends every band the wide anti-diagonal kernel takes to it, whatever the cost estimate says (tests).
    always_wide: bool,
}

/// Where the fill put each band cell's traceback byte.
#[derive(Clone, Copy)]
enum DirLayout {
    /// Row by row ([`Aligner`]'s `row_base`).
    Rows,
    /// Anti-diagonal by anti-diagonal.
    #[cfg(target_arch = "x86_64")]
    AntiDiagonals(antidiagonal::Layout),
}

/// DP row scratch with cells of type `T`.
#[derive(Debug, Clone, Default)]
struct Rows<T> {
    /// H of two rows (previous, current), each `n + 1` long, indexed by `j`.
    h: Vec<T>,
    /// F (vertical gap) of two rows, same layout as `h`.
    f: Vec<T>,
    /// Per query mask, the substitution score against every target position
    /// (filled lazily for the masks the query uses), so the row loop is a
    /// plain vectorisable pass with no table lookups.
    prof: Vec<T>,
    /// Row scratch: `X(j) = H'(j) + j·ext` at `[1 + j - a]`, `X(a-1)` at 0.
    xbuf: Vec<T>,
    /// Row scratch: prefix maxima of `xbuf` (`P(j)` at `[1 + j - a]`).
    pbuf: Vec<T>,
    /// Row scratch: phase-1 traceback bits, kept in cells of the row's width
    /// so that narrowing to bytes happens once per cell.
    fbits: Vec<T>,
}

/// A DP cell: `i32`, or `i16` when every score of the problem fits (see [`fits_i16`]). `i16` arithmetic
/// saturates and `i32`'s `NEG` is far from `i32::MIN`, so "minus infinity" stays below every real score
/// without wrapping.
trait Cell: Copy + Ord + Default + std::ops::BitOr<Output = Self> + std::ops::Shl<u32, Output = Self> {
    /// Minus infinity.
    const NEG: Self;
    /// The cell holding `v` (in range by the caller's check).
    fn of(v: i32) -> Self;
    /// The score as `i32`.
    fn get(self) -> i32;
    /// `self + o`, saturating.
    fn plus(self, o: Self) -> Self;
    /// `self − o`, saturating.
    fn minus(self, o: Self) -> Self;
    /// 1 for true, 0 for false.
    fn flag(b: bool) -> Self;
    /// `self + o` for the row offsets, which never leave the range: plain (wrapping) so the loop keeps a
    /// simple induction variable and vectorises.
    fn step(self, o: Self) -> Self;
    /// Fills one row with a fused vector kernel, if this cell type has one and `simd` says the build may
    /// use it (only [`Aligner::align`]'s AVX2 build passes true): H and F of the row into `hcur`/`fcur`, its
    /// traceback bytes into `drow`, and returns E of the row's last cell. `None`: the caller runs the passes.
    #[inline(always)]
    fn fused_row(
        simd: bool,
        row: &SimdRow<Self>,
        hcur: &mut [Self],
        fcur: &mut [Self],
        drow: &mut [u8],
        pbuf: &mut [Self],
    ) -> Option<i32> {
        let _ = (simd, row, hcur, fcur, drow, pbuf);
        None
    }
}

impl Cell for i32 {
    const NEG: i32 = NEG;
    #[inline(always)]
    fn of(v: i32) -> i32 {
        v
    }
    #[inline(always)]
    fn get(self) -> i32 {
        self
    }
    // NEG is far from i32::MIN: plain arithmetic cannot wrap (see `NEG`).
    #[inline(always)]
    fn plus(self, o: i32) -> i32 {
        self + o
    }
    #[inline(always)]
    fn minus(self, o: i32) -> i32 {
        self - o
    }
    #[inline(always)]
    fn flag(b: bool) -> i32 {
        b as i32
    }
    #[inline(always)]
    fn step(self, o: i32) -> i32 {
        self.wrapping_add(o)
    }
}

impl Cell for i16 {
    const NEG: i16 = i16::MIN;
    #[inline(always)]
    fn fused_row(
        simd: bool,
        row: &SimdRow<i16>,
        hcur: &mut [i16],
        fcur: &mut [i16],
        drow: &mut [u8],
        pbuf: &mut [i16],
    ) -> Option<i32> {
        #[cfg(target_arch = "x86_64")]
        if simd {
            #[allow(unsafe_code)]
            // SAFETY: `simd` is true only in `Aligner::align_avx2`, which runs only once AVX2 is detected, the
            // one requirement of `fused_row_avx2`.
            return unsafe { fused_row_avx2(row, hcur, fcur, drow, pbuf) };
        }
        let _ = (simd, row, hcur, fcur, drow, pbuf);
        None
    }
    #[inline(always)]
    fn of(v: i32) -> i16 {
        v as i16
    }
    #[inline(always)]
    fn get(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn plus(self, o: i16) -> i16 {
        self.saturating_add(o)
    }
    #[inline(always)]
    fn minus(self, o: i16) -> i16 {
        self.saturating_sub(o)
    }
    #[inline(always)]
    fn flag(b: bool) -> i16 {
        b as i16
    }
    #[inline(always)]
    fn step(self, o: i16) -> i16 {
        self.wrapping_add(o)
    }
}

/// Whether 16-bit cells are exact for an `m × n` problem. Minus infinity is `i16::MIN`, and a value that
/// started there rises by at most `up = match + ext` per row and column (`(m + n)·up` in all). Every real
/// cell is reached by a terminal gap along row or column 0 to its diagonal and then down that diagonal, so
/// it scores at least `−(t_open + max(m, n)·max(t_ext, dearest diagonal step))`; its row offset (`j·ext`)
/// and one more step's penalty take it at most `n·ext + pen` lower. When the risen minus infinity stays
/// below that, and the highest real value (`(m + n)·up` with its offsets) and the terminal gap of any
/// anti-diagonal fit, saturating 16-bit arithmetic makes every comparison the 32-bit one does. (The bound
/// once charged the dearest gap to every column, `(m + n)·(open + ext)`, which sent every pair longer than
/// 676 + 676 bases to 32-bit cells and a kernel half as wide: 18S barcodes aligned 2.4× slower per cell.)
fn fits_i16(m: usize, n: usize, sc: &Scoring) -> bool {
    let clamp = |v: i32| i64::from(v.max(0));
    let up = clamp(sc.match_score.max(sc.ambiguous_score)) + clamp(sc.gap_extend.max(sc.terminal_gap_extend));
    let diagonal_step = clamp(-sc.match_score)
        .max(clamp(-sc.mismatch_score))
        .max(clamp(-sc.ambiguous_score));
    let (t_open, t_ext) = (
        i64::from(sc.terminal_gap_open).abs(),
        i64::from(sc.terminal_gap_extend).abs(),
    );
    let ext = i64::from(sc.gap_extend).abs().max(t_ext);
    let pen = (i64::from(sc.gap_open).abs() + i64::from(sc.gap_extend).abs()).max(t_open + t_ext);
    let (m, n) = (m as i64, n as i64);
    let steps = m + n + 2;
    let risen_minus_infinity = steps.saturating_mul(up);
    let lowest_real = t_open + (m.max(n) + 1).saturating_mul(t_ext.max(diagonal_step)) + (n + 1) * ext + pen;
    let limit = i64::from(i16::MAX) - 256;
    // Row and anti-diagonal numbers are 16-bit too (lanes compare them with `t`, and with −30,000 for none).
    steps < 30_000
        && risen_minus_infinity.saturating_add(lowest_real) < limit
        && steps.saturating_mul(up) < limit
        && steps.saturating_mul(t_ext).saturating_add(t_open) < limit
}

/// Cells per chunk of the row passes. They run whole chunks, into slack past each row buffer's end, so a
/// narrow band's rows (9 to 100 cells) take no scalar remainder loop; the cells past a row's end are computed
/// from leftovers and never read as real cells (prefix maxima run left to right, and the one stale cell the
/// next row reads is reset after each row).
const CHUNK: usize = 16;

/// Cells of minus infinity before the row scratch `X`, which the prefix maxima read past the row's start.
const XPAD: usize = 8;

/// `len` rounded up to whole chunks.
#[inline(always)]
fn whole_chunks(len: usize) -> usize {
    len.div_ceil(CHUNK) * CHUNK
}

/// The cells the exit is chosen from.
struct RowEnds {
    /// Last computed cell of row m left of column n: (j, H, E).
    row_m_last: Option<(usize, i32, i32)>,
    /// Lowest computed cell of column n: (i, H, F).
    col_n_last: (usize, i32, i32),
}

/// Fills `row_base` (see [`Aligner`]) for the band of an `m`-row problem, with the cell count last.
fn row_bases(geom: &Geom, m: usize, row_base: &mut Vec<usize>) {
    row_base.clear();
    row_base.resize(m + 2, 0);
    let mut total = 0usize;
    for (i, base) in row_base[..=m].iter_mut().enumerate().skip(1) {
        if let Some((a, b)) = geom.range(i) {
            *base = total.wrapping_sub(a);
            total += b - a + 1;
        }
    }
    row_base[m + 1] = total;
}

/// Band clipped to the problem, with a helper for each row's active columns.
#[derive(Clone, Copy)]
struct Geom {
    n: usize,
    lo: i64,
    hi: i64,
}

impl Geom {
    fn new(m: usize, n: usize, band: Option<Band>) -> Geom {
        let (mi, ni) = (m as i64, n as i64);
        let (lo, hi) = match band {
            None => (-mi, ni),
            Some(b) if b.lo > b.hi => (ni + 1, ni + 1),
            // Clamping keeps order and excludes nothing that exists, and makes
            // `i + lo`/`i + hi` overflow-free for extreme inputs.
            Some(b) => (b.lo.clamp(-mi - 1, ni + 1), b.hi.clamp(-mi - 1, ni + 1)),
        };
        Geom { n, lo, hi }
    }

    /// Computed columns `a..=b` of row `i ≥ 1`, or `None` when the row is empty.
    #[inline]
    fn range(&self, i: usize) -> Option<(usize, usize)> {
        let a = (i as i64 + self.lo).max(1);
        let b = (i as i64 + self.hi).min(self.n as i64);
        (a <= b).then_some((a as usize, b as usize))
    }
}

impl Aligner {
    /// New aligner with empty scratch space (grows on first use).
    pub fn new() -> Self {
        Aligner::default()
    }

    /// Optimal global alignment of `query` against `target`; see the module docs
    /// for terminal gaps and tie-breaking and [`Band`] for band semantics.
    pub fn align(&mut self, query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `align_avx2`.
                return unsafe { self.align_avx2(query, target, scoring, band) };
            }
        }
        self.align_portable(query, target, scoring, band)
    }

    /// [`Aligner::align`] compiled for AVX2: the same integer steps, with the row loops vectorised twice as
    /// wide (the answers are identical; a test holds the two to it).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn align_avx2(&mut self, query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
        self.align_in(query, target, scoring, band, true, true)
    }

    /// [`Aligner::align`] with the baseline instruction set (what CPUs without AVX2 run).
    pub fn align_portable(&mut self, query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
        self.align_in(query, target, scoring, band, true, false)
    }

    /// [`Aligner::align_portable`] with 32-bit cells whatever the problem (tests hold the 16-bit cells to it).
    #[cfg(test)]
    fn align_cells32(&mut self, query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
        self.align_in(query, target, scoring, band, false, false)
    }

    #[inline(always)]
    fn align_in(
        &mut self,
        query: &[u8],
        target: &[u8],
        scoring: &Scoring,
        band: Option<Band>,
        allow_cells16: bool,
        simd: bool,
    ) -> Alignment {
        let (m, n) = (query.len(), target.len());
        let term = |len: usize| -scoring.gap_cost(len as u32, true);
        if m == 0 || n == 0 {
            // Nothing to align: a single terminal gap (or nothing at all).
            let mut ops = Vec::new();
            push_run(&mut ops, Op::Del, n as u32);
            push_run(&mut ops, Op::Ins, m as u32);
            return finish(ops, term(m.max(n)), m, n);
        }
        let geom = Geom::new(m, n, band);

        let tcodes = &mut self.tcodes;
        tcodes.clear();
        tcodes.extend(target.iter().map(|&b| NT_MASK[b as usize]));
        // 16-bit cells hold twice as many per vector; they are exact whenever every score of the problem fits.
        let cells16 = allow_cells16 && fits_i16(m, n, scoring);
        // Narrow bands go by anti-diagonals where the build has the kernel, and long bands of up to 2,043
        // diagonals with AVX-512 (see `antidiagonal`).
        #[cfg(target_arch = "x86_64")]
        let kernels = antidiagonal::Kernels {
            avx512: !self.avx2_only,
            always_wide: self.always_wide,
        };
        #[cfg(target_arch = "x86_64")]
        let by_anti_diagonals = if simd && cells16 {
            #[allow(unsafe_code)]
            // SAFETY: `simd` is true only in `Aligner::align_avx2`, which runs only once AVX2 is detected, the
            // one requirement of `antidiagonal::fill`.
            unsafe {
                antidiagonal::fill(
                    query,
                    &self.tcodes,
                    scoring,
                    &geom,
                    &mut self.dirs,
                    &mut self.lanes,
                    kernels,
                )
            }
        } else {
            None
        };
        #[cfg(not(target_arch = "x86_64"))]
        let by_anti_diagonals: Option<(RowEnds, DirLayout)> = None;
        let (ends, layout) = if let Some((ends, layout)) = by_anti_diagonals {
            #[cfg(target_arch = "x86_64")]
            let layout = DirLayout::AntiDiagonals(layout);
            (ends, layout)
        } else {
            row_bases(&geom, m, &mut self.row_base);
            let total = self.row_base.last().copied().unwrap_or(0);
            // Every band cell is written before it is read: no need to clear.
            // The row passes write whole chunks; what spills past a row's end is overwritten by the rows after it.
            if self.dirs.len() < total + CHUNK {
                self.dirs.resize(total + CHUNK, 0);
            }
            let row_base = &self.row_base[..m + 1];
            let ends = if cells16 {
                self.rows16
                    .fill(query, &self.tcodes, scoring, (&geom, row_base), &mut self.dirs, simd)
            } else {
                self.rows32
                    .fill(query, &self.tcodes, scoring, (&geom, row_base), &mut self.dirs, simd)
            };
            (ends, DirLayout::Rows)
        };
        let RowEnds { row_m_last, col_n_last } = ends;
        let (tcodes, dirs, rev_ops) = (&self.tcodes, &self.dirs, &mut self.rev_ops);
        let row_base = &self.row_base;
        let dir_at = |i: usize, j: usize| match layout {
            DirLayout::Rows => dirs[row_base[i].wrapping_add(j)],
            #[cfg(target_arch = "x86_64")]
            DirLayout::AntiDiagonals(l) => l.dir(dirs, i, j),
        };
        // Choose the exit; later candidates must be strictly better.
        let (to, te) = (scoring.terminal_gap_open, scoring.terminal_gap_extend);
        // Leaving along an edge: open a terminal gap from H, or extend the
        // gap already running in that direction (only if strictly better).
        let leave = |hv: i32, gv: i32, run: usize| -> (i32, bool) {
            let open = hv - to - run as i32 * te;
            let ext = gv - run as i32 * te;
            if ext > open {
                (ext, true)
            } else {
                (open, false)
            }
        };
        let mut best: Option<(i32, Exit)> = None;
        let mut offer = |score: i32, exit: Exit| {
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, exit));
            }
        };
        let (ci, ch, cf) = col_n_last;
        if ci == m {
            offer(ch, Exit::Corner);
        } else {
            let (s, ext) = leave(ch, cf, m - ci);
            offer(s, Exit::Column(ci, if ext { State::F } else { State::H }));
        }
        if let Some((j, hv, ev)) = row_m_last {
            let (s, ext) = leave(hv, ev, n - j);
            offer(s, Exit::Row(j, if ext { State::E } else { State::H }));
        }
        // All-gap paths; dominated whenever the band touches the edges.
        offer(term(n) + term(m), Exit::Column(0, State::H));
        offer(term(m) + term(n), Exit::Row(0, State::H));
        let (score, exit) = best.unwrap_or((term(n) + term(m), Exit::Column(0, State::H)));

        // Traceback, collecting runs backwards.
        let mut runs = RunBuilder::new(rev_ops);
        let (mut i, mut j, mut state) = match exit {
            Exit::Corner => (m, n, State::H),
            Exit::Column(i, st) => {
                runs.push(Op::Ins, (m - i) as u32);
                (i, n, st)
            }
            Exit::Row(j, st) => {
                runs.push(Op::Del, (n - j) as u32);
                (m, j, st)
            }
        };
        while i > 0 && j > 0 {
            let d = dir_at(i, j);
            match state {
                State::H => {
                    if d & E_WINS != 0 {
                        state = State::E;
                    } else if d & F_WINS != 0 {
                        state = State::F;
                    } else {
                        let op = if NT_MASK[query[i - 1] as usize] & tcodes[j - 1] != 0 {
                            Op::Match
                        } else {
                            Op::Mismatch
                        };
                        runs.push(op, 1);
                        i -= 1;
                        j -= 1;
                    }
                }
                State::E => {
                    runs.push(Op::Del, 1);
                    state = if d & E_EXT != 0 { State::E } else { State::H };
                    j -= 1;
                }
                State::F => {
                    runs.push(Op::Ins, 1);
                    state = if d & F_EXT != 0 { State::F } else { State::H };
                    i -= 1;
                }
            }
        }
        // Leading terminal gap along column 0 or row 0.
        runs.push(Op::Ins, i as u32);
        runs.push(Op::Del, j as u32);
        runs.flush();
        let ops: Vec<(Op, u32)> = rev_ops.iter().rev().copied().collect();
        finish(ops, score, m, n)
    }
}

impl<T: Cell> Rows<T> {
    /// Fills the traceback bytes of every band cell (`dirs`, laid out by `row_base`) and returns the
    /// cells the exit is chosen from. Always inlined, so each instruction-set build vectorises it; `simd`
    /// (the AVX2 build only) lets cell types with a fused vector row kernel use it.
    #[inline(always)]
    fn fill(
        &mut self,
        query: &[u8],
        tcodes: &[u8],
        scoring: &Scoring,
        (geom, row_base): (&Geom, &[usize]),
        dirs: &mut [u8],
        simd: bool,
    ) -> RowEnds {
        let (m, n) = (query.len(), tcodes.len());
        let term = |len: usize| -scoring.gap_cost(len as u32, true);
        let Rows {
            h,
            f,
            prof,
            xbuf,
            pbuf,
            fbits,
        } = self;
        let neg = T::NEG;
        // Every row buffer has CHUNK cells of slack past its end: the row passes run whole chunks (see CHUNK).
        let stride = n + CHUNK;
        if prof.len() < 16 * stride {
            prof.resize(16 * stride, T::default());
        }
        if xbuf.len() < XPAD + n + 2 + CHUNK {
            xbuf.resize(XPAD + n + 2 + CHUNK, T::default());
            pbuf.resize(n + 2 + CHUNK, T::default());
            fbits.resize(n + 2 + CHUNK, T::default());
        }
        let mut prof_ready = 0u32;
        xbuf[..XPAD].fill(neg);

        // Two row buffers; row 0 is a leading terminal Del run and has no F.
        h.clear();
        h.resize(2 * (n + 1 + CHUNK), neg);
        f.clear();
        f.resize(2 * (n + 1 + CHUNK), neg);
        for (j, hj) in h[..=n].iter_mut().enumerate() {
            *hj = T::of(term(j));
        }
        let (h_even, h_odd) = h.split_at_mut(n + 1 + CHUNK);
        let (f_even, f_odd) = f.split_at_mut(n + 1 + CHUNK);

        let (f_oe, f_e) = (T::of(scoring.gap_open + scoring.gap_extend), T::of(scoring.gap_extend));
        let terminal = (
            T::of(scoring.terminal_gap_open + scoring.terminal_gap_extend),
            T::of(scoring.terminal_gap_extend),
        );
        let (ms, mm, amb) = (
            T::of(scoring.match_score),
            T::of(scoring.mismatch_score),
            T::of(scoring.ambiguous_score),
        );
        let mut ends = RowEnds {
            row_m_last: None,
            // Row 0 always has column n.
            col_n_last: (0, term(n), NEG),
        };

        for i in 1..=m {
            let (hprev, hcur, fprev, fcur) = if i % 2 == 1 {
                (&*h_even, &mut *h_odd, &*f_even, &mut *f_odd)
            } else {
                (&*h_odd, &mut *h_even, &*f_odd, &mut *f_even)
            };
            let col0 = T::of(term(i));
            hcur[0] = col0;
            let Some((a, b)) = geom.range(i) else {
                // Band still left of column 1: the next non-empty row reads
                // only columns 0 and 1 of this row.
                if (i as i64) + geom.hi < 1 {
                    hcur[1] = neg;
                    fcur[1] = neg;
                }
                continue;
            };
            let qc = NT_MASK[query[i - 1] as usize] as usize;
            if prof_ready & (1 << qc) == 0 {
                // Same rule as `Scoring::mask_score`, written branch-free so it
                // vectorises (no table gather).
                let dst = &mut prof[qc * stride..qc * stride + n];
                let qc8 = qc as u8;
                if is_unambiguous_mask(qc8) {
                    for (p, &tc) in dst.iter_mut().zip(tcodes.iter()) {
                        let unamb = tc != 0 && tc & tc.wrapping_sub(1) == 0;
                        *p = if tc == qc8 {
                            ms
                        } else if unamb {
                            mm
                        } else {
                            amb
                        };
                    }
                } else {
                    dst.fill(amb);
                }
                prof_ready |= 1 << qc;
            }
            let prow = &prof[qc * stride..qc * stride + stride];
            let len = b - a + 1;
            let off = row_base[i].wrapping_add(a);
            let drow = &mut dirs[off..off + whole_chunks(len)];

            // Horizontal gaps of this row use terminal penalties in row m.
            let (e_oe, e_e) = if i == m { terminal } else { (f_oe, f_e) };
            let e_open = e_oe.minus(e_e);
            let hleft0 = if a == 1 { col0 } else { neg };

            let simd_row = SimdRow {
                hprev,
                fprev,
                prow,
                a,
                b,
                n,
                x_before: hleft0.plus(T::of((a as i32 - 1) * e_e.get())),
                vertical: (f_oe, f_e),
                terminal,
                e_open,
                e_e,
            };
            // The fused vector row where the build has one, else the three passes below.
            let el = if let Some(el) = T::fused_row(simd, &simd_row, hcur, fcur, drow, pbuf) {
                el
            } else {
                // Phase 1 (no dependency along the row, auto-vectorised):
                // H' = max(diagonal, F), with interior vertical penalties for j < n,
                // stored as X(j) = H'(j) + j·ext for phase 2.
                let li = b.min(n - 1);
                xbuf[XPAD] = simd_row.x_before;
                if li >= a {
                    let cnt = whole_chunks(li + 1 - a);
                    let hd = &hprev[a - 1..a - 1 + cnt];
                    let hu = &hprev[a..a + cnt];
                    let fu = &fprev[a..a + cnt];
                    let sp = &prow[a - 1..a - 1 + cnt];
                    let xc = &mut xbuf[XPAD + 1..XPAD + 1 + cnt];
                    let fc = &mut fcur[a..a + cnt];
                    let fb = &mut fbits[..cnt];
                    let ofs = T::of(a as i32 * e_e.get());
                    vertical_pass(VerticalIn { hd, hu, fu, sp }, xc, fc, fb, ofs, (f_oe, f_e, e_e));
                }
                if b == n {
                    // Column n: a vertical gap here is a trailing terminal gap.
                    let d = hprev[n - 1].plus(prow[n - 1]);
                    let fo = hprev[n].minus(terminal.0);
                    let fe = fprev[n].minus(terminal.1);
                    let fv = fo.max(fe);
                    xbuf[XPAD + len] = d.max(fv).plus(T::of(n as i32 * e_e.get()));
                    fcur[n] = fv;
                    fbits[len - 1] = T::flag(fv > d) | (T::flag(fe > fo) << 3);
                }

                // Phase 2: horizontal gaps. E is opened from H' rather than H
                // (where H came from E, opening from it never beats extending E
                // since open ≥ 0, so scores and paths are unchanged). Then
                //   E(j) = max_{k<j} (H'(k) - open - (j-k)·ext) = P(j) - open - j·ext
                // with P the running maximum of X: a scan with a one-max chain.
                // Eight cells share one step of the chain; inside a chunk, each cell's maximum over itself and
                // the seven cells before it takes eight shifted loads and maxima, independent of each other (the
                // seven cells before the row's first are minus infinity; before a later chunk's they are cells
                // of the row already in `p`, so including them changes nothing).
                // Whole chunks: the cells past `len` hold leftovers, and prefix maxima run left to right.
                let lenc = whole_chunks(len);
                let ps = &mut pbuf[..lenc + 1];
                ps[0] = neg;
                let mut p = neg;
                let xw = &xbuf[XPAD - 7..XPAD + lenc];
                for (c, pq) in ps[1..].chunks_exact_mut(8).enumerate() {
                    let Some(win) = xw.get(8 * c..8 * c + 15) else {
                        break;
                    };
                    let mut v = [neg; 8];
                    for back in 0..8 {
                        for (l, x) in v.iter_mut().enumerate() {
                            *x = (*x).max(win[l + 7 - back]);
                        }
                    }
                    for (out, a) in pq.iter_mut().zip(v) {
                        *out = a.max(p);
                    }
                    p = p.max(v[7]);
                }
                // Final pass (auto-vectorised): H, "E wins" and "E extended" bits.
                // ext(j): E(j-1) - ext > H'(j-1) - open - ext  ⟺  P(j-1) > X(j-1).
                let hc = &mut hcur[a..a + lenc];
                let xh = &xbuf[XPAD + 1..XPAD + 1 + lenc];
                let xp = &xbuf[XPAD..XPAD + lenc];
                let pj = &pbuf[1..1 + lenc];
                let pp = &pbuf[..lenc];
                let fb = &fbits[..lenc];
                let ofs = T::of(a as i32 * e_e.get());
                final_pass(FinalIn { xh, xp, pj, pp, fb }, hc, drow, ofs, (e_open, e_e));
                // E of the last computed cell, for a trailing exit along row m.
                pbuf[len].get() - e_open.get() - b as i32 * e_e.get()
            };

            if b == n {
                ends.col_n_last = (i, hcur[n].get(), fcur[n].get());
            } else {
                // The band grows by at most one column per row: poison the one
                // stale cell the next row can read.
                hcur[b + 1] = neg;
                fcur[b + 1] = neg;
                if i == m {
                    ends.row_m_last = Some((b, hcur[b].get(), el));
                }
            }
        }
        ends
    }
}

/// What a fused row kernel reads: the row above (H and F, indexed by column), the row's substitution
/// scores (`prow[j − 1]` for column `j`), its columns `a..=b` of `n`, X of column `a − 1`, and the penalties.
struct SimdRow<'a, T> {
    hprev: &'a [T],
    fprev: &'a [T],
    prow: &'a [T],
    a: usize,
    b: usize,
    n: usize,
    /// `X(a − 1)`: column 0's H when `a` is 1, else minus infinity, plus its offset.
    x_before: T,
    /// Interior vertical gap (open + extend, extend).
    vertical: (T, T),
    /// Terminal gap (open + extend, extend): vertical gaps in column `n`.
    terminal: (T, T),
    /// Horizontal gap open (without the extension) and extension of this row.
    e_open: T,
    e_e: T,
}

/// One row of [`Rows::fill`] for 16-bit cells, 16 cells per AVX2 vector, its three passes fused so the
/// horizontal-gap prefix maximum never goes through memory: reloading the row of X just stored missed store
/// forwarding, ~40 ns per row whatever its width, most of a narrow band's cost. Every cell gets the values
/// and bits the passes compute (saturating adds, the same offsets and comparisons; property tests hold the
/// two to the same alignments). Cells past `b` are computed from the buffers' slack and never read as real.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn fused_row_avx2(
    row: &SimdRow<i16>,
    hcur: &mut [i16],
    fcur: &mut [i16],
    drow: &mut [u8],
    pbuf: &mut [i16],
) -> Option<i32> {
    use std::arch::x86_64::*;
    const LANES: usize = 16;
    let (a, b, n) = (row.a, row.b, row.n);
    let len = b + 1 - a;
    let chunks = len.div_ceil(LANES);
    let span = chunks * LANES;
    // Every slice the kernel touches, checked once: loads and stores below stay inside them.
    let (Some(hd), Some(hu), Some(fu), Some(sp), Some(hc), Some(fc), Some(dr), Some(ps)) = (
        row.hprev.get(a - 1..a - 1 + span),
        row.hprev.get(a..a + span),
        row.fprev.get(a..a + span),
        row.prow.get(a - 1..a - 1 + span),
        hcur.get_mut(a..a + span),
        fcur.get_mut(a..a + span),
        drow.get_mut(..span),
        pbuf.get_mut(..span),
    ) else {
        return None;
    };
    #[allow(unsafe_code)]
    let load = |v: &[i16], at: usize| -> __m256i {
        debug_assert!(at + LANES <= v.len());
        // SAFETY: callers pass `at` a multiple of 16 below `span`, and every slice here holds `span` cells.
        unsafe { _mm256_loadu_si256(v.as_ptr().add(at).cast()) }
    };
    #[allow(unsafe_code)]
    let store = |v: &mut [i16], at: usize, x: __m256i| {
        debug_assert!(at + LANES <= v.len());
        // SAFETY: as for `load`.
        unsafe { _mm256_storeu_si256(v.as_mut_ptr().add(at).cast(), x) }
    };
    let neg = _mm256_set1_epi16(i16::MIN);
    let one = _mm256_set1_epi16(1);
    let (two, four, eight) = (_mm256_set1_epi16(2), _mm256_set1_epi16(4), _mm256_set1_epi16(8));
    let lane_index = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // Offsets j·ext of a chunk's cells: the chunk's first, plus lane·ext (wrapping, as `step`).
    let lane_steps = _mm256_mullo_epi16(lane_index, _mm256_set1_epi16(row.e_e));
    let chunk_step = (LANES as i16).wrapping_mul(row.e_e);
    let mut base = (a as i32 * i32::from(row.e_e)) as i16;
    let (v_oe, v_e) = (_mm256_set1_epi16(row.vertical.0), _mm256_set1_epi16(row.vertical.1));
    let e_open = _mm256_set1_epi16(row.e_open);
    // Lane `l` of each vector below broadcasts the last cell of the previous chunk (X(a − 1) at first).
    let broadcast_last = |v: __m256i| -> __m256i {
        let top = _mm256_permute4x64_epi64::<0xFF>(v);
        let high = _mm256_shufflehi_epi16::<0xFF>(top);
        _mm256_unpackhi_epi64(high, high)
    };
    // Shifts a vector up one lane across both halves, `before` (broadcast) entering lane 0.
    let shift_in = |v: __m256i, before: __m256i| -> __m256i {
        let joined = _mm256_permute2x128_si256::<0x02>(v, before);
        _mm256_alignr_epi8::<14>(v, joined)
    };
    let mut carry = _mm256_set1_epi16(row.x_before);
    let mut last_x = carry;
    for c in 0..chunks {
        let at = c * LANES;
        let ofs = _mm256_add_epi16(_mm256_set1_epi16(base), lane_steps);
        base = base.wrapping_add(chunk_step);
        // Vertical gaps in column n are terminal.
        let (mut f_oe, mut f_e) = (v_oe, v_e);
        if (a + at..a + at + LANES).contains(&n) {
            let at_n = _mm256_cmpeq_epi16(lane_index, _mm256_set1_epi16((n - a - at) as i16));
            f_oe = _mm256_blendv_epi8(f_oe, _mm256_set1_epi16(row.terminal.0), at_n);
            f_e = _mm256_blendv_epi8(f_e, _mm256_set1_epi16(row.terminal.1), at_n);
        }
        let d = _mm256_adds_epi16(load(hd, at), load(sp, at));
        let fo = _mm256_subs_epi16(load(hu, at), f_oe);
        let fe = _mm256_subs_epi16(load(fu, at), f_e);
        let fv = _mm256_max_epi16(fo, fe);
        let x = _mm256_adds_epi16(_mm256_max_epi16(d, fv), ofs);
        store(fc, at, fv);
        // Ties: diagonal over F, opening over extending.
        let f_bits = _mm256_or_si256(
            _mm256_and_si256(_mm256_cmpgt_epi16(fv, d), one),
            _mm256_and_si256(_mm256_cmpgt_epi16(fe, fo), eight),
        );
        // Inclusive prefix maximum of X inside the chunk (three in-lane steps, then the low half's last cell
        // into the high half), then the carry of the cells before.
        let mut inc = _mm256_max_epi16(x, _mm256_alignr_epi8::<14>(x, neg));
        inc = _mm256_max_epi16(inc, _mm256_alignr_epi8::<12>(inc, neg));
        inc = _mm256_max_epi16(inc, _mm256_alignr_epi8::<8>(inc, neg));
        let low_last = _mm256_permute2x128_si256::<0x02>(inc, neg);
        let low_last = _mm256_shufflehi_epi16::<0xFF>(low_last);
        inc = _mm256_max_epi16(inc, _mm256_unpackhi_epi64(low_last, low_last));
        inc = _mm256_max_epi16(inc, carry);
        // P(j): the maximum of X over the columns before j; and X(j − 1).
        let p = shift_in(inc, carry);
        let x_prev = shift_in(x, last_x);
        store(ps, at, p);
        let ev = _mm256_subs_epi16(p, e_open);
        store(hc, at, _mm256_subs_epi16(_mm256_max_epi16(x, ev), ofs));
        // Opening wins ties (vsearch); E must strictly beat H'. Extended: P(j − 1) > X(j − 1), which is
        // X(j − 1) < P(j).
        let bits = _mm256_or_si256(
            f_bits,
            _mm256_or_si256(
                _mm256_and_si256(_mm256_cmpgt_epi16(ev, x), two),
                _mm256_and_si256(_mm256_cmpgt_epi16(p, x_prev), four),
            ),
        );
        let bytes = _mm256_permute4x64_epi64::<0xD8>(_mm256_packus_epi16(bits, _mm256_setzero_si256()));
        let mut out = [0u8; 32];
        #[allow(unsafe_code)]
        // SAFETY: `out` holds 32 bytes, one unaligned 256-bit store.
        unsafe {
            _mm256_storeu_si256(out.as_mut_ptr().cast(), bytes)
        };
        dr[at..at + LANES].copy_from_slice(&out[..LANES]);
        carry = broadcast_last(inc);
        last_x = broadcast_last(x);
    }
    // E of the last computed cell, for a trailing exit along row m.
    let p_last = ps.get(len - 1).copied()?;
    Some(i32::from(p_last) - i32::from(row.e_open) - b as i32 * i32::from(row.e_e))
}

/// The rows phase 1 of [`Rows::fill`] reads: H of the row above (diagonal and up), its F, and the
/// substitution scores.
struct VerticalIn<'a, T> {
    hd: &'a [T],
    hu: &'a [T],
    fu: &'a [T],
    sp: &'a [T],
}

/// Phase 1 of a row (no dependency along it): `H' = max(diagonal, F)` stored as `X = H' + j·ext`, F, and
/// the F traceback bits. A function of its own so that its slices arrive as distinct borrows: inlined
/// into the row loop, the compiler had to check at run time that they do not overlap, every row.
#[inline(always)]
fn vertical_pass<T: Cell>(
    rows: VerticalIn<T>,
    xc: &mut [T],
    fc: &mut [T],
    fb: &mut [T],
    mut ofs: T,
    (f_oe, f_e, e_e): (T, T, T),
) {
    let n = xc.len().min(fc.len()).min(fb.len());
    let (hd, hu, fu, sp) = (&rows.hd[..n], &rows.hu[..n], &rows.fu[..n], &rows.sp[..n]);
    let (xc, fc, fb) = (&mut xc[..n], &mut fc[..n], &mut fb[..n]);
    // Additive induction (SSE2 has no 32-bit vector multiply).
    for c in (0..n).step_by(CHUNK) {
        let (Some(hd), Some(hu), Some(fu), Some(sp)) = (
            hd[c..].first_chunk::<CHUNK>(),
            hu[c..].first_chunk::<CHUNK>(),
            fu[c..].first_chunk::<CHUNK>(),
            sp[c..].first_chunk::<CHUNK>(),
        ) else {
            break;
        };
        let (Some(xc), Some(fc), Some(fb)) = (
            xc[c..].first_chunk_mut::<CHUNK>(),
            fc[c..].first_chunk_mut::<CHUNK>(),
            fb[c..].first_chunk_mut::<CHUNK>(),
        ) else {
            break;
        };
        for k in 0..CHUNK {
            let d = hd[k].plus(sp[k]);
            let fo = hu[k].minus(f_oe);
            let fe = fu[k].minus(f_e);
            let fv = fo.max(fe);
            xc[k] = d.max(fv).plus(ofs);
            ofs = ofs.step(e_e);
            fc[k] = fv;
            // Ties: diagonal over F, opening over extending.
            fb[k] = T::flag(fv > d) | (T::flag(fe > fo) << 3);
        }
    }
}

/// What the final pass of a row reads: `X` at `j` and `j − 1`, the prefix maxima `P` at `j` and `j − 1`,
/// and phase 1's bits.
struct FinalIn<'a, T> {
    xh: &'a [T],
    xp: &'a [T],
    pj: &'a [T],
    pp: &'a [T],
    fb: &'a [T],
}

/// The final pass of a row: H, "E wins" and "E extended" bits (a function of its own for the same reason
/// as [`vertical_pass`]).
#[inline(always)]
fn final_pass<T: Cell>(rows: FinalIn<T>, hc: &mut [T], drow: &mut [u8], mut ofs: T, (e_open, e_e): (T, T)) {
    let n = hc.len().min(drow.len());
    let (xh, xp, pj, pp, fb) = (
        &rows.xh[..n],
        &rows.xp[..n],
        &rows.pj[..n],
        &rows.pp[..n],
        &rows.fb[..n],
    );
    let (hc, drow) = (&mut hc[..n], &mut drow[..n]);
    for c in (0..n).step_by(CHUNK) {
        let (Some(xh), Some(xp), Some(pj), Some(pp), Some(fb)) = (
            xh[c..].first_chunk::<CHUNK>(),
            xp[c..].first_chunk::<CHUNK>(),
            pj[c..].first_chunk::<CHUNK>(),
            pp[c..].first_chunk::<CHUNK>(),
            fb[c..].first_chunk::<CHUNK>(),
        ) else {
            break;
        };
        let (Some(hc), Some(drow)) = (hc[c..].first_chunk_mut::<CHUNK>(), drow[c..].first_chunk_mut::<CHUNK>()) else {
            break;
        };
        for k in 0..CHUNK {
            let ev = pj[k].minus(e_open);
            let hp = xh[k];
            hc[k] = hp.max(ev).minus(ofs);
            ofs = ofs.step(e_e);
            // Opening wins ties (vsearch); E must strictly beat H'.
            let bits = fb[k] | (T::flag(ev > hp) << 1) | (T::flag(pp[k] > xp[k]) << 2);
            drow[k] = bits.get() as u8;
        }
    }
}

/// The widest band (in diagonals) this CPU aligns by anti-diagonals, the fast path for narrow bands
/// (wider bands cost about twice as much per cell); 0 without AVX2.
pub fn widest_fast_band() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            return antidiagonal::widest_band();
        }
    }
    0
}

/// One-shot [`Aligner::align`] (allocates scratch space; reuse an [`Aligner`] in loops).
pub fn align(query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
    Aligner::new().align(query, target, scoring, band)
}

#[cfg(target_arch = "x86_64")]
mod antidiagonal;
#[cfg(test)]
mod tests;
