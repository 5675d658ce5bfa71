//! vsearch-compatible global alignment (`--usearch_global`).
//!
//! The whole query is aligned against the whole target (Needleman–Wunsch with
//! Gotoh affine gaps). As in vsearch, a gap of length `L` costs
//! `open + L * extend`, and gaps at either end of either sequence
//! (*terminal* gaps) use their own, much lower, penalties.
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
/// Penalties are positive numbers; a gap of length `L` costs `open + L * extend`.
/// Keep magnitudes reasonable (well below 2^20) so scores cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scoring {
    /// Score of two identical unambiguous bases (vsearch `--match`, +2).
    pub match_score: i32,
    /// Score of two different unambiguous bases (vsearch `--mismatch`, -4).
    pub mismatch_score: i32,
    /// Score of a column where either symbol is ambiguous or invalid (vsearch: 0).
    pub ambiguous_score: i32,
    /// Interior gap open penalty (vsearch `--gapopen 20I`).
    pub gap_open: i32,
    /// Interior gap extension penalty per column (vsearch `--gapext 2I`).
    pub gap_extend: i32,
    /// Terminal gap open penalty (vsearch `--gapopen 2E`).
    pub terminal_gap_open: i32,
    /// Terminal gap extension penalty per column (vsearch `--gapext 1E`).
    pub terminal_gap_extend: i32,
}

impl Scoring {
    /// vsearch defaults: match +2, mismatch -4, ambiguous 0, gaps 20/2 interior, 2/1 terminal.
    pub const fn vsearch() -> Self {
        Scoring {
            match_score: 2,
            mismatch_score: -4,
            ambiguous_score: 0,
            gap_open: 20,
            gap_extend: 2,
            terminal_gap_open: 2,
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

    /// 16×16 table indexed by `(query_mask << 4) | target_mask`.
    fn table(&self) -> [i32; 256] {
        let mut t = [0; 256];
        for (k, v) in t.iter_mut().enumerate() {
            *v = self.mask_score((k >> 4) as u8, (k & 15) as u8);
        }
        t
    }
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
#[derive(Debug, Clone, Default)]
pub struct Aligner {
    /// H of two rows (previous, current), each `n + 1` long, indexed by `j`.
    h: Vec<i32>,
    /// F (vertical gap) of two rows, same layout as `h`.
    f: Vec<i32>,
    /// Traceback bytes of the band cells, row by row.
    dirs: Vec<u8>,
    /// Offset of each row in `dirs`.
    row_off: Vec<usize>,
    /// Target as 4-bit masks.
    tcodes: Vec<u8>,
    /// Per query mask, the substitution score against every target position
    /// (filled lazily for the masks the query uses), so the row loop is a
    /// plain vectorisable pass with no table lookups.
    prof: Vec<i32>,
    /// Path collected backwards during traceback.
    rev_ops: Vec<(Op, u32)>,
    /// Cached substitution table and the scoring it was built for.
    table: Vec<i32>,
    table_for: Option<Scoring>,
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

    /// First computed column of row `i` (may exceed the last one when empty).
    #[inline]
    fn first_col(&self, i: usize) -> usize {
        (i as i64 + self.lo).max(1) as usize
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
        let (m, n) = (query.len(), target.len());
        let term = |len: usize| -scoring.gap_cost(len as u32, true);
        if m == 0 || n == 0 {
            // Nothing to align: a single terminal gap (or nothing at all).
            let mut ops = Vec::new();
            push_run(&mut ops, Op::Del, n as u32);
            push_run(&mut ops, Op::Ins, m as u32);
            return finish(ops, term(m.max(n)), m, n);
        }
        if self.table_for != Some(*scoring) {
            self.table = scoring.table().to_vec();
            self.table_for = Some(*scoring);
        }
        let geom = Geom::new(m, n, band);

        let Aligner {
            h,
            f,
            dirs,
            row_off,
            tcodes,
            prof,
            rev_ops,
            table,
            ..
        } = self;
        tcodes.clear();
        tcodes.extend(target.iter().map(|&b| NT_MASK[b as usize]));
        if prof.len() < 16 * n {
            prof.resize(16 * n, 0);
        }
        let mut prof_ready = 0u32;

        // Two row buffers; row 0 is a leading terminal Del run and has no F.
        h.clear();
        h.resize(2 * (n + 1), NEG);
        f.clear();
        f.resize(2 * (n + 1), NEG);
        for (j, hj) in h[..=n].iter_mut().enumerate() {
            *hj = term(j);
        }
        let (h_even, h_odd) = h.split_at_mut(n + 1);
        let (f_even, f_odd) = f.split_at_mut(n + 1);

        row_off.clear();
        row_off.resize(m + 1, 0);
        let mut total = 0usize;
        for (i, off) in row_off.iter_mut().enumerate().skip(1) {
            *off = total;
            if let Some((a, b)) = geom.range(i) {
                total += b - a + 1;
            }
        }
        // Every band cell is written before it is read: no need to clear.
        if dirs.len() < total {
            dirs.resize(total, 0);
        }

        let (f_oe, f_e) = (scoring.gap_open + scoring.gap_extend, scoring.gap_extend);
        let terminal = (
            scoring.terminal_gap_open + scoring.terminal_gap_extend,
            scoring.terminal_gap_extend,
        );
        // Last computed cell of row m left of column n: (j, H, E).
        let mut row_m_last: Option<(usize, i32, i32)> = None;
        // Lowest computed cell of column n: (i, H, F). Row 0 always has it.
        let mut col_n_last: (usize, i32, i32) = (0, term(n), NEG);

        for i in 1..=m {
            let (hprev, hcur, fprev, fcur) = if i % 2 == 1 {
                (&*h_even, &mut *h_odd, &*f_even, &mut *f_odd)
            } else {
                (&*h_odd, &mut *h_even, &*f_odd, &mut *f_even)
            };
            let col0 = term(i);
            hcur[0] = col0;
            let Some((a, b)) = geom.range(i) else {
                // Band still left of column 1: the next non-empty row reads
                // only columns 0 and 1 of this row.
                if (i as i64) + geom.hi < 1 {
                    hcur[1] = NEG;
                    fcur[1] = NEG;
                }
                continue;
            };
            let qc = NT_MASK[query[i - 1] as usize] as usize;
            if prof_ready & (1 << qc) == 0 {
                let row = &table[qc * 16..qc * 16 + 16];
                for (p, &tc) in prof[qc * n..qc * n + n].iter_mut().zip(tcodes.iter()) {
                    *p = row[(tc & 15) as usize];
                }
                prof_ready |= 1 << qc;
            }
            let prow = &prof[qc * n..qc * n + n];
            let len = b - a + 1;
            let off = row_off[i];
            let drow = &mut dirs[off..off + len];

            // Phase 1 (no dependency along the row, auto-vectorised):
            // H' = max(diagonal, F), with interior vertical penalties for j < n.
            let li = b.min(n - 1);
            if li >= a {
                let cnt = li + 1 - a;
                let hd = &hprev[a - 1..a - 1 + cnt];
                let hu = &hprev[a..a + cnt];
                let fu = &fprev[a..a + cnt];
                let sp = &prow[a - 1..a - 1 + cnt];
                let hc = &mut hcur[a..a + cnt];
                let fc = &mut fcur[a..a + cnt];
                let dr = &mut drow[..cnt];
                for k in 0..cnt {
                    let d = hd[k] + sp[k];
                    let fo = hu[k] - f_oe;
                    let fe = fu[k] - f_e;
                    let fv = fo.max(fe);
                    hc[k] = d.max(fv);
                    fc[k] = fv;
                    // Ties: diagonal over F, opening over extending.
                    dr[k] = ((fv > d) as u8) | (((fe > fo) as u8) << 3);
                }
            }
            if b == n {
                // Column n: a vertical gap here is a trailing terminal gap.
                let d = hprev[n - 1] + prow[n - 1];
                let fo = hprev[n] - terminal.0;
                let fe = fprev[n] - terminal.1;
                let fv = fo.max(fe);
                hcur[n] = d.max(fv);
                fcur[n] = fv;
                drow[len - 1] = ((fv > d) as u8) | (((fe > fo) as u8) << 3);
            }

            // Phase 2 (sequential): horizontal gaps. E may be opened from H'
            // instead of H: where H came from E, opening from it can never beat
            // extending E (open ≥ 0), so scores and paths are unchanged while
            // the loop-carried chain shrinks to one subtract and one max.
            let (e_oe, e_e) = if i == m { terminal } else { (f_oe, f_e) };
            let mut hpl = if a == 1 { col0 } else { NEG };
            let mut el = NEG;
            for (hc, dr) in hcur[a..=b].iter_mut().zip(drow.iter_mut()) {
                let eo = hpl - e_oe;
                let ee = el - e_e;
                let ev = eo.max(ee);
                let hp = *hc;
                *hc = hp.max(ev);
                *dr |= (((ev > hp) as u8) << 1) | (((ee > eo) as u8) << 2);
                hpl = hp;
                el = ev;
            }

            if b == n {
                col_n_last = (i, hcur[n], fcur[n]);
            } else {
                // The band grows by at most one column per row: poison the one
                // stale cell the next row can read.
                hcur[b + 1] = NEG;
                fcur[b + 1] = NEG;
                if i == m {
                    row_m_last = Some((b, hcur[b], el));
                }
            }
        }

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
        rev_ops.clear();
        let (mut i, mut j, mut state) = match exit {
            Exit::Corner => (m, n, State::H),
            Exit::Column(i, st) => {
                push_run(rev_ops, Op::Ins, (m - i) as u32);
                (i, n, st)
            }
            Exit::Row(j, st) => {
                push_run(rev_ops, Op::Del, (n - j) as u32);
                (m, j, st)
            }
        };
        while i > 0 && j > 0 {
            let d = dirs[row_off[i] + (j - geom.first_col(i))];
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
                        push_run(rev_ops, op, 1);
                        i -= 1;
                        j -= 1;
                    }
                }
                State::E => {
                    push_run(rev_ops, Op::Del, 1);
                    state = if d & E_EXT != 0 { State::E } else { State::H };
                    j -= 1;
                }
                State::F => {
                    push_run(rev_ops, Op::Ins, 1);
                    state = if d & F_EXT != 0 { State::F } else { State::H };
                    i -= 1;
                }
            }
        }
        // Leading terminal gap along column 0 or row 0.
        push_run(rev_ops, Op::Ins, i as u32);
        push_run(rev_ops, Op::Del, j as u32);
        let ops: Vec<(Op, u32)> = rev_ops.iter().rev().copied().collect();
        finish(ops, score, m, n)
    }
}

/// One-shot [`Aligner::align`] (allocates scratch space; reuse an [`Aligner`] in loops).
pub fn align(query: &[u8], target: &[u8], scoring: &Scoring, band: Option<Band>) -> Alignment {
    Aligner::new().align(query, target, scoring, band)
}

#[cfg(test)]
mod tests;
