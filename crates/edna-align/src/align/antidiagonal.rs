//! The band filled one anti-diagonal at a time (AVX2 or AVX-512, 16-bit cells).
//!
//! A row's cells chain through their horizontal gaps, so the row kernel pays a prefix maximum per row
//! whatever its width: most of the cost of the narrow bands the search engine aligns in (`4d + 17`
//! diagonals around an edit-distance placement with `d` edits, `4e + 17` and more around the seeds). The
//! cells of an anti-diagonal depend only on the two anti-diagonals before it, so a vector of them takes a
//! fixed handful of operations. On 188 bp this fills a band of 17 diagonals in half the row kernel's time,
//! one of 37 in 55 % and one of 89 in 78 % (`cargo bench -p edna-align --bench align`).
//!
//! Two builds, AVX2 with 16 cells per vector and AVX-512 (BW) with 32 where the CPU has it, each with the
//! anti-diagonals in registers (narrow bands) or in memory (wide ones). A band of up to 27 diagonals takes
//! one AVX2 vector; up to 59, two AVX2 vectors or one AVX-512 vector; up to 123, two AVX-512 vectors; up to
//! 2,043, a wide kernel (AVX-512, or AVX2 from 60 diagonals on CPUs without it), when its lanes cost less
//! than the rows (long barcodes; not a whole matrix, whose anti-diagonals are mostly outside it). With more
//! vectors in registers the state spilled; in memory a lane moves by an unaligned load, and 1,650 bases in
//! 217 diagonals take 95–100 µs (either build) against the rows' 153–175. Wider bands, and those a wide
//! kernel would not pay for, keep the row kernel.
//!
//! Lane `l` of anti-diagonal `t = i + j` holds row `i = s(t) + l`, with `s(t) = ⌈(t − hi)/2⌉ − 1`: lane 0
//! is the cell just above the band's highest diagonal, and the cell just below its lowest is kept too, so
//! every neighbour a band cell reads lies in the vectors. From `t − 1` to `t`, `s` grows by `δ` (0 and 1
//! in turn): the cell above, `(i − 1, j)`, sits in lane `l + δ − 1` of `t − 1`, the cell to the left,
//! `(i, j − 1)`, in lane `l + δ`, and the diagonal `(i − 1, j − 1)` in lane `l` of `t − 2`.
//!
//! Every band cell follows the row kernel's recurrence and tie-breaks (saturating 16-bit arithmetic, `E`
//! opened from `H' = max(diagonal, F)`, terminal penalties for vertical gaps in column `n` and horizontal
//! ones in row `m`). Cells outside the band are minus infinity, except row 0 and column 0 (the leading
//! terminal gaps), whose `H` on anti-diagonal `t` is `term(t)` either way. So the traceback bytes of every
//! cell a path can reach, and the alignments, are the row kernel's; the property tests hold the two to it.

use std::arch::x86_64::*;

use super::{Geom, RowEnds, Scoring};
use crate::iupac::is_unambiguous_mask;

/// Cells per AVX2 vector.
const AVX2_LANES: usize = 16;
/// Cells per AVX-512 vector.
const AVX512_LANES: usize = 32;
/// Most vectors per anti-diagonal. Wider bands take the row kernel: with three AVX2 vectors the state
/// outgrew the sixteen registers, and 89 diagonals filled slower than by rows; three AVX-512 vectors
/// (141 diagonals, 313 bp) filled no faster than by rows.
const MAX_VECTORS: usize = 2;
/// Most AVX-512 vectors per anti-diagonal of the wide kernel, which keeps its anti-diagonals in memory
/// (bands of up to 2·(32·32 − 3) + 1 = 2,043 diagonals).
const MAX_WIDE_VECTORS: usize = 32;

/// The widest band (in diagonals) the anti-diagonal fill takes on this CPU: 123 with AVX-512, 59 with
/// AVX2 alone.
pub(super) fn widest_band() -> usize {
    let lanes = if has_avx512() { AVX512_LANES } else { AVX2_LANES };
    // `fill` takes bands of up to 2·(lanes·MAX_VECTORS − 3) + 1 diagonals.
    2 * (lanes * MAX_VECTORS - 3) + 1
}

/// Query code of an ambiguous or invalid base: equal to no target code.
const QUERY_AMBIGUOUS: i16 = 0x40;
/// Target code of an ambiguous or invalid base.
const TARGET_AMBIGUOUS: i16 = 0x80;
/// A row number no lane holds.
const NO_ROW: i64 = -30_000;

/// Where [`fill`] put the traceback byte of each band cell: anti-diagonal `t` from `first` on, `stride`
/// bytes each, cell `(i, j)` in lane `i − s(i + j)`. The AVX2 kernel stores the bytes negated (it sums
/// all-ones comparisons).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    first: i64,
    hi: i64,
    stride: usize,
    negated: bool,
}

impl Layout {
    /// The traceback byte of band cell `(i, j)`, as the row kernel writes it.
    #[inline]
    pub(super) fn dir(&self, dirs: &[u8], i: usize, j: usize) -> u8 {
        let t = (i + j) as i64;
        let byte = dirs[(t - self.first) as usize * self.stride + (i as i64 - first_row(t, self.hi)) as usize];
        if self.negated {
            byte.wrapping_neg()
        } else {
            byte
        }
    }
}

/// `s(t)`: the row of lane 0 on anti-diagonal `t`, for a band whose highest diagonal is `hi`.
#[inline(always)]
fn first_row(t: i64, hi: i64) -> i64 {
    ((t - hi + 1) >> 1) - 1
}

/// The query and the reversed target as lane codes, with room either side for the lanes past their ends.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch {
    query: Vec<i16>,
    target: Vec<i16>,
    /// The wide kernel's anti-diagonals ([`fill_avx512_wide`]).
    wide: Vec<i16>,
}

/// Which kernels [`fill`] may take: AVX-512 ones where the CPU has them (tests turn them off), and the wide
/// one whatever its cost estimate (tests).
#[derive(Debug, Clone, Copy)]
pub(super) struct Kernels {
    pub(super) avx512: bool,
    pub(super) always_wide: bool,
}

/// Fills the traceback bits of every band cell into `dirs` and returns the exit cells and the layout,
/// or `None` when the band or the problem is too large for 16-bit lane arithmetic and the kernels, or the
/// wide kernel would cost more than the rows (the caller then runs the row kernel). Scores must fit 16-bit
/// cells (`fits_i16`). Bands of more than 27 diagonals take the AVX-512 kernels where the CPU has them.
#[target_feature(enable = "avx2")]
pub(super) fn fill(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
    kernels: Kernels,
) -> Option<(RowEnds, Layout)> {
    let lanes = (geom.hi - geom.lo).max(0) as usize / 2 + 3;
    if kernels.avx512 && lanes > AVX2_LANES && has_avx512() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX-512 F and BW (checked just above), what `fill_avx512` needs.
        return unsafe {
            match lanes.div_ceil(AVX512_LANES) {
                1 => fill_avx512::<1>(query, tcodes, sc, geom, dirs, scratch),
                MAX_VECTORS => fill_avx512::<MAX_VECTORS>(query, tcodes, sc, geom, dirs, scratch),
                vectors
                    if vectors <= MAX_WIDE_VECTORS
                        && (kernels.always_wide || wide_pays(query.len(), geom, vectors * AVX512_LANES)) =>
                {
                    fill_avx512_wide(query, tcodes, sc, geom, dirs, scratch, vectors)
                }
                _ => None,
            }
        };
    }
    match lanes.div_ceil(AVX2_LANES) {
        1 => fill_avx2::<1>(query, tcodes, sc, geom, dirs, scratch),
        MAX_VECTORS => fill_avx2::<MAX_VECTORS>(query, tcodes, sc, geom, dirs, scratch),
        vectors
            if vectors <= 2 * MAX_WIDE_VECTORS
                && (kernels.always_wide || wide_pays(query.len(), geom, vectors * AVX2_LANES)) =>
        {
            fill_avx2_wide(query, tcodes, sc, geom, dirs, scratch, vectors)
        }
        _ => None,
    }
}

/// Whether a wide kernel, which computes `width` lanes on every anti-diagonal of the band, should beat
/// the rows, which compute the band's cells: on this machine a lane costs about half what a row cell
/// does, in either build (`cargo bench -p edna-align --bench align`, 1,650 bases: 95–100 against 153–175
/// µs for 217 diagonals, 144–196 against 229–260 µs for 337), but a band wider than the matrix is short
/// (a whole-matrix alignment) leaves most lanes empty: 188 bases, whole matrix, 32 against 22 µs. So the
/// lanes must stay under 1.6 times the cells.
fn wide_pays(m: usize, geom: &Geom, width: usize) -> bool {
    let cells: u64 = (1..=m)
        .filter_map(|i| geom.range(i))
        .map(|(a, b)| (b + 1 - a) as u64)
        .sum();
    let (first_i, last_i) = ((1 - geom.hi).max(1), (geom.n as i64 - geom.lo).min(m as i64));
    let (Some((a, _)), Some((_, b))) = (geom.range(first_i.max(1) as usize), geom.range(last_i.max(1) as usize)) else {
        return false;
    };
    let anti_diagonals = (last_i + b as i64) - (first_i + a as i64) + 3;
    (anti_diagonals.max(0) as u64) * (width as u64) * 5 <= cells * 8
}

/// Whether the AVX-512 kernel can run here (F and BW).
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
}

/// `codes` with `front` copies of `pad` before them, and `pad` after up to `len` in all.
fn lay_out(codes: impl Iterator<Item = i16>, pad: i16, front: usize, len: usize, out: &mut Vec<i16>) {
    out.clear();
    out.resize(front, pad);
    out.extend(codes);
    out.resize(len.max(out.len()), pad);
}

/// The scores and penalties each lane needs, as 16-bit lane values: match, mismatch, ambiguous, interior
/// gap open + extend and extend, terminal open + extend and extend, and the two ambiguity code bits.
fn lane_constants(sc: &Scoring) -> [i16; 8] {
    [
        sc.match_score,
        sc.mismatch_score,
        sc.ambiguous_score,
        sc.gap_open + sc.gap_extend,
        sc.gap_extend,
        sc.terminal_gap_open + sc.terminal_gap_extend,
        sc.terminal_gap_extend,
        i32::from(QUERY_AMBIGUOUS | TARGET_AMBIGUOUS),
    ]
    .map(|v| v as i16)
}

/// What both kernels know of a problem: its anti-diagonals, where the lane codes start, the exit cells
/// and the run of steady anti-diagonals.
struct Plan {
    m: i64,
    n: i64,
    lo: i64,
    hi: i64,
    /// Lanes per anti-diagonal.
    w: i64,
    /// The first and last anti-diagonals with band cells, and the first one computed (two before, for
    /// the leading terminal gaps its cells read).
    t_first: i64,
    t_last: i64,
    t_start: i64,
    /// Anti-diagonal `t` reads the query's lane codes from `q_front + s(t) − 1` on and the reversed
    /// target's from `r_front + n − t + s(t)` on.
    q_front: i64,
    r_front: i64,
    /// Whether either sequence has an ambiguity code (else a lane scores a match or a mismatch).
    ambiguous: bool,
    /// The lowest cell of column n (row, anti-diagonal; −1 when the band misses the column).
    col_n: (i64, i64),
    /// The last cell of row m when left of column n (column, anti-diagonal).
    row_m: Option<(i64, i64)>,
    /// Steady anti-diagonals: no leading edge or terminal row or column in the lanes, and valid lanes
    /// `1 ..= c` with `c` set by the parity of `t` alone. They form one run, as every condition moves
    /// one way with `t`.
    steady: (i64, i64),
}

impl Plan {
    /// The plan of an `m × n` problem in `lanes` lanes per anti-diagonal, with the lane codes laid out in
    /// `scratch`; `None` when the band is empty or the numbers leave 16-bit lane arithmetic.
    fn new(query: &[u8], tcodes: &[u8], geom: &Geom, lanes: usize, scratch: &mut Scratch) -> Option<Plan> {
        let (m, n) = (query.len() as i64, tcodes.len() as i64);
        let (lo, hi) = (geom.lo, geom.hi);
        let w = lanes as i64;
        // Rows, columns and anti-diagonals are 16-bit lane numbers: keep them far inside that.
        if m + n + 4 * w > 16_000 || lo > hi {
            return None;
        }
        // From the first non-empty row's first cell to the last row's last.
        let (first_i, last_i) = ((1 - hi).max(1), (n - lo).min(m));
        if first_i > last_i {
            return None;
        }
        let (Some((a, _)), Some((_, b))) = (geom.range(first_i as usize), geom.range(last_i as usize)) else {
            return None;
        };
        let (t_first, t_last) = (first_i + a as i64, last_i + b as i64);
        let t_start = t_first - 2;
        let (s_start, s_last) = (first_row(t_start, hi), first_row(t_last, hi));
        // Both read positions move one way with t, so the ends of the loop bound every read.
        let (q_front, r_front) = ((1 - s_start).max(0), (t_last - n - s_last).max(0));
        let q_len = (q_front + s_last - 1 + w).max(q_front + m) as usize;
        let r_len = (r_front + n - t_start + s_start + w).max(r_front + n) as usize;
        let query_code = |b: &u8| {
            let c = crate::iupac::NT_MASK[*b as usize];
            if is_unambiguous_mask(c) {
                i16::from(c)
            } else {
                QUERY_AMBIGUOUS
            }
        };
        let target_code = |c: &u8| {
            if is_unambiguous_mask(*c) {
                i16::from(*c)
            } else {
                TARGET_AMBIGUOUS
            }
        };
        let Scratch {
            query: qcodes,
            target: rcodes,
            ..
        } = scratch;
        // Whether either sequence has an ambiguity code, noted while laying the codes out.
        let mut ambiguous = false;
        let mut note = |code: i16, ambiguity: i16| {
            ambiguous |= code == ambiguity;
            code
        };
        lay_out(
            query.iter().map(|b| note(query_code(b), QUERY_AMBIGUOUS)),
            QUERY_AMBIGUOUS,
            q_front as usize,
            q_len,
            qcodes,
        );
        lay_out(
            tcodes.iter().rev().map(|c| note(target_code(c), TARGET_AMBIGUOUS)),
            TARGET_AMBIGUOUS,
            r_front as usize,
            r_len,
            rcodes,
        );
        // Every read lies in these bounds (checked once, so the kernels load without checks).
        let q_reads = (q_front + s_start - 1, q_front + s_last - 1 + w);
        let r_reads = (r_front + n - t_last + s_last, r_front + n - t_start + s_start + w);
        if q_reads.0 < 0 || q_reads.1 > qcodes.len() as i64 || r_reads.0 < 0 || r_reads.1 > rcodes.len() as i64 {
            return None;
        }
        let col_n_row = (n - lo).min(m);
        let col_n = if col_n_row >= (n - hi).max(1) {
            (col_n_row, col_n_row + n)
        } else {
            (0, -1)
        };
        let row_m = geom
            .range(m as usize)
            .map(|(_, b)| b as i64)
            .filter(|&b| b < n)
            .map(|b| (b, m + b));
        let mut plan = Plan {
            m,
            n,
            lo,
            hi,
            w,
            t_first,
            t_last,
            t_start,
            q_front,
            r_front,
            ambiguous,
            col_n,
            row_m,
            steady: (t_last + 1, t_last),
        };
        if let Some(first) = (t_start..=t_last).find(|&t| plan.is_steady(t)) {
            let last = (first..=t_last).rev().find(|&t| plan.is_steady(t)).unwrap_or(first);
            plan.steady = (first, last);
        }
        Some(plan)
    }

    fn is_steady(&self, t: i64) -> bool {
        let (s, half) = (first_row(t, self.hi), (t - self.lo) >> 1);
        t >= self.t_first && s >= 1 && t - s >= self.w && t - s <= self.n && half < self.m && half < t
    }

    /// Valid lanes of anti-diagonal `t`: rows `max(s + 1, 1, t − n) ..= min((t − lo)/2, m, t − 1)`.
    fn lanes(&self, t: i64) -> (i64, i64) {
        let s = first_row(t, self.hi);
        (
            (s + 1).max(1).max(t - self.n) - s,
            ((t - self.lo) >> 1).min(self.m).min(t - 1) - s,
        )
    }

    /// Valid lanes of a steady anti-diagonal of the parity of `t`.
    fn steady_lanes(&self, t: i64) -> (i64, i64) {
        (1, ((t - self.lo) >> 1) - first_row(t, self.hi))
    }

    /// Whether `t` comes one lane on from `t − 1`: s(t) = ⌊(t − hi + 1)/2⌋ − 1 grows when t − hi is odd.
    fn shifted(&self, t: i64) -> bool {
        (t - self.hi) & 1 != 0
    }

    /// Lanes of the exit cells on anti-diagonal `t`: column n's lowest, row m's last.
    fn exits(&self, t: i64) -> (Option<usize>, Option<usize>) {
        let s = first_row(t, self.hi);
        (
            (t == self.col_n.1).then(|| (self.col_n.0 - s) as usize),
            self.row_m.filter(|r| r.1 == t).map(|_| (self.m - s) as usize),
        )
    }

    fn ends(&self, sc: &Scoring) -> RowEnds {
        RowEnds {
            row_m_last: None,
            col_n_last: (0, -sc.gap_cost(self.n as u32, true), super::NEG),
        }
    }

    /// The lane codes laid out by [`Plan::new`] and `dirs`, grown to `stride` bytes per anti-diagonal.
    fn buffers<'s>(
        &self,
        scratch: &'s Scratch,
        dirs: &'s mut Vec<u8>,
        stride: usize,
    ) -> (&'s [i16], &'s [i16], &'s mut [u8]) {
        let cells = (self.t_last - self.t_first + 1) as usize * stride;
        if dirs.len() < cells {
            dirs.resize(cells, 0);
        }
        (&scratch.query, &scratch.target, &mut dirs[..cells])
    }

    fn layout(&self, stride: usize, negated: bool) -> Layout {
        Layout {
            first: self.t_first,
            hi: self.hi,
            stride,
            negated,
        }
    }
}

/// Runs a kernel's `step!` over the plan's anti-diagonals: the general ones before the steady run, the
/// run in pairs (shifted, then not), the general rest; records the exit cells with `lane_value`.
macro_rules! drive {
    ($plan:ident, $ends:ident, $prev:ident, $before:ident, $step:ident, $lane_value:ident) => {{
        let mut t = $plan.t_start;
        while t <= $plan.t_last {
            if t == $plan.steady.0 && t <= $plan.steady.1 {
                if !$plan.shifted(t) {
                    let next = $step!(t, false, true);
                    $before = $prev.h;
                    $prev = next;
                    t += 1;
                }
                while t < $plan.steady.1 {
                    let next = $step!(t, true, true);
                    $before = $prev.h;
                    $prev = next;
                    let next = $step!(t + 1, false, true);
                    $before = $prev.h;
                    $prev = next;
                    t += 2;
                }
                if t > $plan.t_last {
                    break;
                }
            }
            let next = if $plan.shifted(t) {
                $step!(t, true, false)
            } else {
                $step!(t, false, false)
            };
            let (col_n, row_m) = $plan.exits(t);
            if let Some(lane) = col_n {
                let (h, f) = ($lane_value(&next.h, lane)?, $lane_value(&next.f, lane)?);
                $ends.col_n_last = ($plan.col_n.0 as usize, h.into(), f.into());
            }
            if let (Some(lane), Some((b, _))) = (row_m, $plan.row_m) {
                let (h, e) = ($lane_value(&next.h, lane)?, $lane_value(&next.e, lane)?);
                $ends.row_m_last = Some((b as usize, h.into(), e.into()));
            }
            $before = $prev.h;
            $prev = next;
            t += 1;
        }
    }};
}

/// The running state of one anti-diagonal: `H`, `H'`, `E` and `F` of each lane.
#[derive(Clone, Copy)]
struct Diagonal<V: Copy, const K: usize> {
    h: [V; K],
    h_prime: [V; K],
    e: [V; K],
    f: [V; K],
}

/// Lane `l` of vector `k` takes lane `l − 1` (lane 0 takes the last lane of vector `k − 1`; of vector 0,
/// a margin lane, anything).
#[target_feature(enable = "avx2")]
fn lane_before<const K: usize>(v: &[__m256i; K], k: usize) -> __m256i {
    let before = if k > 0 { v[k - 1] } else { v[k] };
    let joined = _mm256_permute2x128_si256::<0x03>(v[k], before);
    _mm256_alignr_epi8::<14>(v[k], joined)
}

/// Lane `l` of vector `k` takes lane `l + 1` (the last lane takes lane 0 of vector `k + 1`; of the last
/// vector, a margin lane, anything).
#[target_feature(enable = "avx2")]
fn lane_after<const K: usize>(v: &[__m256i; K], k: usize) -> __m256i {
    let after = if k + 1 < K { v[k + 1] } else { v[k] };
    let joined = _mm256_permute2x128_si256::<0x21>(v[k], after);
    _mm256_alignr_epi8::<2>(joined, v[k])
}

/// Lane `lane` of the anti-diagonal `v`.
#[target_feature(enable = "avx2")]
fn lane_value_avx2<const K: usize>(v: &[__m256i; K], lane: usize) -> Option<i16> {
    let mut out = [0i16; AVX2_LANES];
    #[allow(unsafe_code)]
    // SAFETY: `out` holds 16 cells, one unaligned 256-bit store.
    unsafe {
        _mm256_storeu_si256(out.as_mut_ptr().cast(), *v.get(lane / AVX2_LANES)?)
    };
    Some(out[lane % AVX2_LANES])
}

/// [`fill`] with `K` AVX2 vectors per anti-diagonal.
#[target_feature(enable = "avx2")]
fn fill_avx2<const K: usize>(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Option<(RowEnds, Layout)> {
    let width = K * AVX2_LANES;
    let plan = Plan::new(query, tcodes, geom, width, scratch)?;
    let Plan {
        m,
        n,
        hi,
        w,
        t_first,
        t_start,
        q_front,
        r_front,
        ambiguous,
        ..
    } = plan;
    let (qcodes, rcodes, dirs) = plan.buffers(scratch, dirs, width);

    let splat = |x: i64| _mm256_set1_epi16(x as i16);
    let term = |len: i64| -sc.gap_cost(len as u32, true);
    let neg = _mm256_set1_epi16(i16::MIN);
    let zero = _mm256_setzero_si256();
    let iota0 = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let iota: [__m256i; K] = std::array::from_fn(|k| _mm256_add_epi16(iota0, splat((k * AVX2_LANES) as i64)));
    let [ms, mm, amb, in_oe, in_e, end_oe, end_e, ambiguous_bits] = lane_constants(sc).map(|v| _mm256_set1_epi16(v));
    let match_gain = _mm256_subs_epi16(ms, mm);
    let mut ends = plan.ends(sc);
    // Lanes outside the band become minus infinity: min with MAX there, MIN elsewhere.
    let caps = |(first, last): (i64, i64)| -> [__m256i; K] {
        std::array::from_fn(|k| {
            let valid = _mm256_and_si256(
                _mm256_cmpgt_epi16(iota[k], splat(first - 1)),
                _mm256_cmpgt_epi16(splat(last + 1), iota[k]),
            );
            _mm256_xor_si256(valid, neg)
        })
    };
    let lane_range = |t: i64| plan.lanes(t);
    let steady_caps = [caps(plan.steady_lanes(t_start)), caps(plan.steady_lanes(t_start + 1))];
    let mut prev = Diagonal {
        h: [neg; K],
        h_prime: [neg; K],
        e: [neg; K],
        f: [neg; K],
    };
    let mut h_before = [neg; K];
    // One anti-diagonal from the two before it (`prev`, `h_before`); `shifted`: s(t) = s(t − 1) + 1. A
    // macro, so each use is inlined with its flags fixed.
    macro_rules! step {
        ($t:expr, $shifted:expr, $steady:expr) => {{
            let (t, shifted, steady): (i64, bool, bool) = ($t, $shifted, $steady);
            let s = first_row(t, hi);
            let cap = if steady {
                steady_caps[((t - t_start) & 1) as usize]
            } else {
                caps(lane_range(t))
            };
            // Row 0 (column t) and column 0 (row t), when in the lanes.
            let edges = !steady && ((t <= n && s <= 0) || (t <= m && t - s < w));
            let in_lanes = |row: i64| !steady && (s..s + w).contains(&row);
            // Vertical gaps in column n and horizontal ones in row m are terminal.
            let col_n = in_lanes(t - n).then(|| splat(t - n - s));
            let row_m = in_lanes(m).then(|| splat(m - s));
            let q_at = (q_front + s - 1) as usize;
            let r_at = (r_front + n - t + s) as usize;
            let mut next = prev;
            let mut bits = [zero; K];
            for k in 0..K {
                let (up_h, up_f, left_hp, left_e) = if shifted {
                    (
                        prev.h[k],
                        prev.f[k],
                        lane_after(&prev.h_prime, k),
                        lane_after(&prev.e, k),
                    )
                } else {
                    (
                        lane_before(&prev.h, k),
                        lane_before(&prev.f, k),
                        prev.h_prime[k],
                        prev.e[k],
                    )
                };
                #[allow(unsafe_code)]
                // SAFETY: q_at + 16k + 16 ≤ qcodes.len() and r_at + 16k + 16 ≤ rcodes.len(), as `Plan::new`
                // checked at the loop's ends (q_at grows and r_at shrinks with t).
                let (qv, tv) = unsafe {
                    (
                        _mm256_loadu_si256(qcodes.as_ptr().add(q_at + k * AVX2_LANES).cast()),
                        _mm256_loadu_si256(rcodes.as_ptr().add(r_at + k * AVX2_LANES).cast()),
                    )
                };
                let equal = _mm256_cmpeq_epi16(qv, tv);
                let score = if ambiguous {
                    let both_unambiguous =
                        _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_or_si256(qv, tv), ambiguous_bits), zero);
                    _mm256_blendv_epi8(_mm256_blendv_epi8(amb, mm, both_unambiguous), ms, equal)
                } else {
                    _mm256_add_epi16(mm, _mm256_and_si256(equal, match_gain))
                };
                let diag = _mm256_adds_epi16(h_before[k], score);
                let (mut f_oe, mut f_e) = (in_oe, in_e);
                let (mut e_oe, mut e_e) = (in_oe, in_e);
                if let Some(c) = col_n {
                    let at = _mm256_cmpeq_epi16(iota[k], c);
                    f_oe = _mm256_blendv_epi8(f_oe, end_oe, at);
                    f_e = _mm256_blendv_epi8(f_e, end_e, at);
                }
                if let Some(r) = row_m {
                    let at = _mm256_cmpeq_epi16(iota[k], r);
                    e_oe = _mm256_blendv_epi8(e_oe, end_oe, at);
                    e_e = _mm256_blendv_epi8(e_e, end_e, at);
                }
                let fo = _mm256_subs_epi16(up_h, f_oe);
                let fe = _mm256_subs_epi16(up_f, f_e);
                let f = _mm256_max_epi16(fo, fe);
                let hp = _mm256_max_epi16(diag, f);
                let eo = _mm256_subs_epi16(left_hp, e_oe);
                let ee = _mm256_subs_epi16(left_e, e_e);
                let e = _mm256_max_epi16(eo, ee);
                let h = _mm256_max_epi16(hp, e);
                // The row kernel's bits, negated: F_WINS + 2·E_WINS + 4·E_EXT + 8·F_EXT from the all-ones
                // comparisons (ties: diagonal over F over E, opening over extending).
                let mut acc = _mm256_cmpgt_epi16(fe, fo);
                acc = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(ee, eo));
                acc = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(e, hp));
                bits[k] = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(f, diag));
                let cap = cap[k];
                let (mut h, mut hp) = (_mm256_min_epi16(h, cap), _mm256_min_epi16(hp, cap));
                if edges {
                    let rows = _mm256_add_epi16(splat(s), iota[k]);
                    let at_edge = _mm256_or_si256(
                        _mm256_cmpeq_epi16(rows, splat(if t <= n { 0 } else { NO_ROW })),
                        _mm256_cmpeq_epi16(rows, splat(if t <= m { t } else { NO_ROW })),
                    );
                    // Edge lanes are never valid (minus infinity so far): the maximum puts term(t) there.
                    let edge = _mm256_blendv_epi8(neg, splat(term(t).into()), at_edge);
                    h = _mm256_max_epi16(h, edge);
                    hp = _mm256_max_epi16(hp, edge);
                }
                next.h[k] = h;
                next.h_prime[k] = hp;
                next.e[k] = _mm256_min_epi16(e, cap);
                next.f[k] = _mm256_min_epi16(f, cap);
            }
            if t >= t_first {
                let at = (t - t_first) as usize * width;
                for (c, pair) in bits.chunks(2).enumerate() {
                    let high = pair.get(1).copied().unwrap_or(zero);
                    let bytes = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi16(pair[0], high));
                    let out = &mut dirs[at + 2 * AVX2_LANES * c..];
                    if pair.len() == 2 {
                        debug_assert!(out.len() >= 2 * AVX2_LANES);
                        #[allow(unsafe_code)]
                        // SAFETY: `dirs` holds `width` bytes per anti-diagonal up to t_last; this pair's 32 lie
                        // inside this anti-diagonal's.
                        unsafe {
                            _mm256_storeu_si256(out.as_mut_ptr().cast(), bytes)
                        };
                    } else {
                        debug_assert!(out.len() >= AVX2_LANES);
                        #[allow(unsafe_code)]
                        // SAFETY: as above, for the last 16 bytes of the anti-diagonal.
                        unsafe {
                            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(bytes))
                        };
                    }
                }
            }
            next
        }};
    }

    drive!(plan, ends, prev, h_before, step, lane_value_avx2);
    Some((ends, plan.layout(width, true)))
}

/// A 32-bit lane mask with lanes `first ..= last` (of all `K` vectors' lanes) set in vector `k`.
fn lane_mask(first: i64, last: i64, k: usize) -> u32 {
    let base = (k * AVX512_LANES) as i64;
    let (a, b) = ((first - base).max(0), (last - base).min(AVX512_LANES as i64 - 1));
    if a > b {
        return 0;
    }
    let upto = |x: i64| if x >= 32 { u32::MAX } else { (1u32 << x) - 1 };
    upto(b + 1) & !upto(a)
}

/// Lane `lane` of the anti-diagonal `v`.
#[target_feature(enable = "avx512f,avx512bw")]
fn lane_value_avx512<const K: usize>(v: &[__m512i; K], lane: usize) -> Option<i16> {
    let mut out = [0i16; AVX512_LANES];
    #[allow(unsafe_code)]
    // SAFETY: `out` holds 32 cells, one unaligned 512-bit store.
    unsafe {
        _mm512_storeu_si512(out.as_mut_ptr().cast(), *v.get(lane / AVX512_LANES)?)
    };
    Some(out[lane % AVX512_LANES])
}

/// [`fill`] with `K` AVX-512 vectors per anti-diagonal: the AVX2 kernel's steps, with comparisons into
/// mask registers, blends by mask and the lane moves by one permute across the whole vector.
#[target_feature(enable = "avx512f,avx512bw")]
fn fill_avx512<const K: usize>(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Option<(RowEnds, Layout)> {
    let width = K * AVX512_LANES;
    let plan = Plan::new(query, tcodes, geom, width, scratch)?;
    let Plan {
        m,
        n,
        hi,
        t_first,
        t_start,
        q_front,
        r_front,
        ambiguous,
        ..
    } = plan;
    let (qcodes, rcodes, dirs) = plan.buffers(scratch, dirs, width);

    let splat = |x: i64| _mm512_set1_epi16(x as i16);
    let term = |len: i64| -sc.gap_cost(len as u32, true);
    let neg = _mm512_set1_epi16(i16::MIN);
    let [ms, mm, amb, in_oe, in_e, end_oe, end_e, ambiguous_bits] = lane_constants(sc).map(|v| _mm512_set1_epi16(v));
    let (one, two, four, eight) = (splat(1), splat(2), splat(4), splat(8));
    // Permute indices: lane l from lane l − 1 (lane 0 from the other vector's last) and from l + 1 (the
    // last lane from the other vector's first).
    let before_index: [i16; AVX512_LANES] = std::array::from_fn(|l| if l == 0 { 63 } else { l as i16 - 1 });
    let after_index: [i16; AVX512_LANES] = std::array::from_fn(|l| if l == 31 { 32 } else { l as i16 + 1 });
    #[allow(unsafe_code)]
    // SAFETY: each array holds 32 cells, one unaligned 512-bit load.
    let (before_index, after_index) = unsafe {
        (
            _mm512_loadu_si512(before_index.as_ptr().cast()),
            _mm512_loadu_si512(after_index.as_ptr().cast()),
        )
    };
    let lane_before =
        |v: &[__m512i; K], k: usize| _mm512_permutex2var_epi16(v[k], before_index, if k > 0 { v[k - 1] } else { v[k] });
    let lane_after = |v: &[__m512i; K], k: usize| {
        _mm512_permutex2var_epi16(v[k], after_index, if k + 1 < K { v[k + 1] } else { v[k] })
    };
    let mut ends = plan.ends(sc);
    let valid_masks = |(first, last): (i64, i64)| -> [u32; K] { std::array::from_fn(|k| lane_mask(first, last, k)) };
    let steady_masks = [
        valid_masks(plan.steady_lanes(t_start)),
        valid_masks(plan.steady_lanes(t_start + 1)),
    ];
    let mut prev = Diagonal {
        h: [neg; K],
        h_prime: [neg; K],
        e: [neg; K],
        f: [neg; K],
    };
    let mut h_before = [neg; K];
    // One anti-diagonal from the two before it (`prev`, `h_before`); a macro, as in `fill_avx2`.
    macro_rules! step {
        ($t:expr, $shifted:expr, $steady:expr) => {{
            let (t, shifted, steady): (i64, bool, bool) = ($t, $shifted, $steady);
            let s = first_row(t, hi);
            let valid = if steady {
                steady_masks[((t - t_start) & 1) as usize]
            } else {
                valid_masks(plan.lanes(t))
            };
            // Row 0 (column t) and column 0 (row t), when in the lanes.
            let edge_lanes = |k: usize| {
                if steady {
                    return 0;
                }
                let one = |row: i64, exists: bool| if exists { lane_mask(row - s, row - s, k) } else { 0 };
                one(0, t <= n) | one(t, t <= m)
            };
            // Vertical gaps in column n and horizontal ones in row m are terminal.
            let one_lane = |row: i64, k: usize| if steady { 0 } else { lane_mask(row - s, row - s, k) };
            let q_at = (q_front + s - 1) as usize;
            let r_at = (r_front + n - t + s) as usize;
            let mut next = prev;
            let at = if t >= t_first {
                Some((t - t_first) as usize * width)
            } else {
                None
            };
            for k in 0..K {
                let (up_h, up_f, left_hp, left_e) = if shifted {
                    (
                        prev.h[k],
                        prev.f[k],
                        lane_after(&prev.h_prime, k),
                        lane_after(&prev.e, k),
                    )
                } else {
                    (
                        lane_before(&prev.h, k),
                        lane_before(&prev.f, k),
                        prev.h_prime[k],
                        prev.e[k],
                    )
                };
                #[allow(unsafe_code)]
                // SAFETY: q_at + 32k + 32 ≤ qcodes.len() and r_at + 32k + 32 ≤ rcodes.len(), as `Plan::new`
                // checked at the loop's ends (q_at grows and r_at shrinks with t).
                let (qv, tv) = unsafe {
                    (
                        _mm512_loadu_si512(qcodes.as_ptr().add(q_at + k * AVX512_LANES).cast()),
                        _mm512_loadu_si512(rcodes.as_ptr().add(r_at + k * AVX512_LANES).cast()),
                    )
                };
                let equal = _mm512_cmpeq_epi16_mask(qv, tv);
                let score = if ambiguous {
                    let both_unambiguous = _mm512_testn_epi16_mask(_mm512_or_si512(qv, tv), ambiguous_bits);
                    _mm512_mask_blend_epi16(equal, _mm512_mask_blend_epi16(both_unambiguous, amb, mm), ms)
                } else {
                    _mm512_mask_blend_epi16(equal, mm, ms)
                };
                let diag = _mm512_adds_epi16(h_before[k], score);
                let (col_n, row_m) = (one_lane(t - n, k), one_lane(m, k));
                let (f_oe, f_e) = (
                    _mm512_mask_blend_epi16(col_n, in_oe, end_oe),
                    _mm512_mask_blend_epi16(col_n, in_e, end_e),
                );
                let (e_oe, e_e) = (
                    _mm512_mask_blend_epi16(row_m, in_oe, end_oe),
                    _mm512_mask_blend_epi16(row_m, in_e, end_e),
                );
                let fo = _mm512_subs_epi16(up_h, f_oe);
                let fe = _mm512_subs_epi16(up_f, f_e);
                let f = _mm512_max_epi16(fo, fe);
                let hp = _mm512_max_epi16(diag, f);
                let eo = _mm512_subs_epi16(left_hp, e_oe);
                let ee = _mm512_subs_epi16(left_e, e_e);
                let e = _mm512_max_epi16(eo, ee);
                let h = _mm512_max_epi16(hp, e);
                if let Some(at) = at {
                    // The row kernel's bits (ties: diagonal over F over E, opening over extending).
                    let mut bits = _mm512_maskz_mov_epi16(_mm512_cmpgt_epi16_mask(f, diag), one);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(e, hp), bits, two);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(ee, eo), bits, four);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(fe, fo), bits, eight);
                    let out = &mut dirs[at + k * AVX512_LANES..at + (k + 1) * AVX512_LANES];
                    #[allow(unsafe_code)]
                    // SAFETY: `out` holds 32 bytes, one unaligned 256-bit store.
                    unsafe {
                        _mm256_storeu_si256(out.as_mut_ptr().cast(), _mm512_cvtepi16_epi8(bits))
                    };
                }
                let valid = valid[k];
                let (mut h, mut hp) = (
                    _mm512_mask_blend_epi16(valid, neg, h),
                    _mm512_mask_blend_epi16(valid, neg, hp),
                );
                if !steady {
                    let edges = edge_lanes(k);
                    let term_t = splat(term(t).into());
                    h = _mm512_mask_blend_epi16(edges, h, term_t);
                    hp = _mm512_mask_blend_epi16(edges, hp, term_t);
                }
                next.h[k] = h;
                next.h_prime[k] = hp;
                next.e[k] = _mm512_mask_blend_epi16(valid, neg, e);
                next.f[k] = _mm512_mask_blend_epi16(valid, neg, f);
            }
            next
        }};
    }
    drive!(plan, ends, prev, h_before, step, lane_value_avx512);
    Some((ends, plan.layout(width, false)))
}

/// [`fill`] with `vectors` AVX-512 vectors per anti-diagonal, the anti-diagonals in memory: lanes move by
/// reading one lane before or after (the arena keeps a vector of minus infinity around each anti-diagonal).
#[target_feature(enable = "avx512f,avx512bw")]
fn fill_avx512_wide(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
    vectors: usize,
) -> Option<(RowEnds, Layout)> {
    if vectors > MAX_WIDE_VECTORS {
        return None;
    }
    let width = vectors * AVX512_LANES;
    let plan = Plan::new(query, tcodes, geom, width, scratch)?;
    let Plan {
        m,
        n,
        hi,
        t_first,
        t_start,
        q_front,
        r_front,
        ambiguous,
        ..
    } = plan;
    let arena = WideArena::new(&mut scratch.wide, width, AVX512_LANES);
    let (qcodes, rcodes, dirs) = plan.buffers(scratch, dirs, width);

    let splat = |x: i64| _mm512_set1_epi16(x as i16);
    let term = |len: i64| -sc.gap_cost(len as u32, true);
    let neg = _mm512_set1_epi16(i16::MIN);
    let [ms, mm, amb, in_oe, in_e, end_oe, end_e, ambiguous_bits] = lane_constants(sc).map(|v| _mm512_set1_epi16(v));
    let (one, two, four, eight) = (splat(1), splat(2), splat(4), splat(8));
    let mut ends = plan.ends(sc);
    let valid_masks =
        |(first, last): (i64, i64)| -> [u32; MAX_WIDE_VECTORS] { std::array::from_fn(|k| lane_mask(first, last, k)) };
    let steady_masks = [
        valid_masks(plan.steady_lanes(t_start)),
        valid_masks(plan.steady_lanes(t_start + 1)),
    ];
    let lane_value = |&at: &usize, lane: usize| arena.lane_value(at, lane);
    let (mut prev, mut h_before) = arena.first();
    let base = arena.base;
    macro_rules! step {
        ($t:expr, $shifted:expr, $steady:expr) => {{
            let (t, shifted, steady): (i64, bool, bool) = ($t, $shifted, $steady);
            let s = first_row(t, hi);
            let general = if steady { None } else { Some(plan.lanes(t)) };
            let steady_valid = &steady_masks[((t - t_start) & 1) as usize];
            let edge_lanes = |k: usize| {
                let one = |row: i64, exists: bool| if exists { lane_mask(row - s, row - s, k) } else { 0 };
                one(0, t <= n) | one(t, t <= m)
            };
            let q_at = (q_front + s - 1) as usize;
            let r_at = (r_front + n - t + s) as usize;
            let next = arena.next(&prev, h_before);
            let at = if t >= t_first {
                Some((t - t_first) as usize * width)
            } else {
                None
            };
            let term_t = splat(term(t).into());
            // The cell above is one lane before when s(t) = s(t − 1), the same lane otherwise; the cell to
            // the left is in the same lane, or one lane after.
            let (up, left) = arena.neighbours(shifted);
            for k in 0..vectors {
                let l = k * AVX512_LANES;
                #[allow(unsafe_code)]
                // SAFETY: every arena read is a vector of lanes of one region (`l` ≤ width − 32), or that
                // vector one lane before or after (`WideArena::neighbours`), inside the region's margins.
                // q_at + 32k + 32 ≤ qcodes.len() and r_at + 32k + 32 ≤ rcodes.len(), as `Plan::new` checked
                // at the loop's ends.
                let (up_h, up_f, left_hp, left_e, diag_h, qv, tv) = unsafe {
                    (
                        _mm512_loadu_si512(base.add((prev.h + l).wrapping_add(up)).cast()),
                        _mm512_loadu_si512(base.add((prev.f + l).wrapping_add(up)).cast()),
                        _mm512_loadu_si512(base.add(prev.h_prime + l + left).cast()),
                        _mm512_loadu_si512(base.add(prev.e + l + left).cast()),
                        _mm512_loadu_si512(base.add(h_before + l).cast()),
                        _mm512_loadu_si512(qcodes.as_ptr().add(q_at + l).cast()),
                        _mm512_loadu_si512(rcodes.as_ptr().add(r_at + l).cast()),
                    )
                };
                let equal = _mm512_cmpeq_epi16_mask(qv, tv);
                let score = if ambiguous {
                    let both_unambiguous = _mm512_testn_epi16_mask(_mm512_or_si512(qv, tv), ambiguous_bits);
                    _mm512_mask_blend_epi16(equal, _mm512_mask_blend_epi16(both_unambiguous, amb, mm), ms)
                } else {
                    _mm512_mask_blend_epi16(equal, mm, ms)
                };
                let diag = _mm512_adds_epi16(diag_h, score);
                let (fo, fe, eo, ee) = if steady {
                    (
                        _mm512_subs_epi16(up_h, in_oe),
                        _mm512_subs_epi16(up_f, in_e),
                        _mm512_subs_epi16(left_hp, in_oe),
                        _mm512_subs_epi16(left_e, in_e),
                    )
                } else {
                    let (col_n, row_m) = (lane_mask(t - n - s, t - n - s, k), lane_mask(m - s, m - s, k));
                    (
                        _mm512_subs_epi16(up_h, _mm512_mask_blend_epi16(col_n, in_oe, end_oe)),
                        _mm512_subs_epi16(up_f, _mm512_mask_blend_epi16(col_n, in_e, end_e)),
                        _mm512_subs_epi16(left_hp, _mm512_mask_blend_epi16(row_m, in_oe, end_oe)),
                        _mm512_subs_epi16(left_e, _mm512_mask_blend_epi16(row_m, in_e, end_e)),
                    )
                };
                let f = _mm512_max_epi16(fo, fe);
                let hp = _mm512_max_epi16(diag, f);
                let e = _mm512_max_epi16(eo, ee);
                let h = _mm512_max_epi16(hp, e);
                if let Some(at) = at {
                    let mut bits = _mm512_maskz_mov_epi16(_mm512_cmpgt_epi16_mask(f, diag), one);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(e, hp), bits, two);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(ee, eo), bits, four);
                    bits = _mm512_mask_add_epi16(bits, _mm512_cmpgt_epi16_mask(fe, fo), bits, eight);
                    let out = &mut dirs[at + l..at + l + AVX512_LANES];
                    #[allow(unsafe_code)]
                    // SAFETY: `out` holds 32 bytes, one unaligned 256-bit store.
                    unsafe {
                        _mm256_storeu_si256(out.as_mut_ptr().cast(), _mm512_cvtepi16_epi8(bits))
                    };
                }
                let valid = match general {
                    Some((first, last)) => lane_mask(first, last, k),
                    None => steady_valid[k],
                };
                let (mut h, mut hp) = (
                    _mm512_mask_blend_epi16(valid, neg, h),
                    _mm512_mask_blend_epi16(valid, neg, hp),
                );
                if !steady {
                    let edges = edge_lanes(k);
                    h = _mm512_mask_blend_epi16(edges, h, term_t);
                    hp = _mm512_mask_blend_epi16(edges, hp, term_t);
                }
                #[allow(unsafe_code)]
                // SAFETY: each store is a vector of lanes of one region (`next.* + l`, l ≤ width − 32).
                unsafe {
                    _mm512_storeu_si512(base.add(next.h + l).cast(), h);
                    _mm512_storeu_si512(base.add(next.h_prime + l).cast(), hp);
                    _mm512_storeu_si512(base.add(next.e + l).cast(), _mm512_mask_blend_epi16(valid, neg, e));
                    _mm512_storeu_si512(base.add(next.f + l).cast(), _mm512_mask_blend_epi16(valid, neg, f));
                }
            }
            next
        }};
    }
    drive!(plan, ends, prev, h_before, step, lane_value);
    Some((ends, plan.layout(width, false)))
}

/// [`fill`] with `vectors` AVX2 vectors per anti-diagonal, the anti-diagonals in memory as in
/// [`fill_avx512_wide`], the cells as in [`fill_avx2`] (for CPUs without AVX-512).
#[target_feature(enable = "avx2")]
fn fill_avx2_wide(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
    vectors: usize,
) -> Option<(RowEnds, Layout)> {
    if vectors > 2 * MAX_WIDE_VECTORS {
        return None;
    }
    let width = vectors * AVX2_LANES;
    let plan = Plan::new(query, tcodes, geom, width, scratch)?;
    let Plan {
        m,
        n,
        hi,
        t_first,
        t_start,
        q_front,
        r_front,
        ambiguous,
        ..
    } = plan;
    let arena = WideArena::new(&mut scratch.wide, width, AVX2_LANES);
    let (qcodes, rcodes, dirs) = plan.buffers(scratch, dirs, width);

    let splat = |x: i64| _mm256_set1_epi16(x as i16);
    let term = |len: i64| -sc.gap_cost(len as u32, true);
    let neg = _mm256_set1_epi16(i16::MIN);
    let zero = _mm256_setzero_si256();
    let iota0 = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let [ms, mm, amb, in_oe, in_e, end_oe, end_e, ambiguous_bits] = lane_constants(sc).map(|v| _mm256_set1_epi16(v));
    let match_gain = _mm256_subs_epi16(ms, mm);
    let mut ends = plan.ends(sc);
    // Lanes outside the band become minus infinity: min with MAX there, MIN elsewhere.
    let cap = |(first, last): (i64, i64), iota: __m256i| {
        let valid = _mm256_and_si256(
            _mm256_cmpgt_epi16(iota, splat(first - 1)),
            _mm256_cmpgt_epi16(splat(last + 1), iota),
        );
        _mm256_xor_si256(valid, neg)
    };
    let steady_caps: [[__m256i; 2 * MAX_WIDE_VECTORS]; 2] = [t_start, t_start + 1].map(|t| {
        std::array::from_fn(|k| {
            cap(
                plan.steady_lanes(t),
                _mm256_add_epi16(iota0, splat((k * AVX2_LANES) as i64)),
            )
        })
    });
    let lane_value = |&at: &usize, lane: usize| arena.lane_value(at, lane);
    let (mut prev, mut h_before) = arena.first();
    let base = arena.base;
    macro_rules! step {
        ($t:expr, $shifted:expr, $steady:expr) => {{
            let (t, shifted, steady): (i64, bool, bool) = ($t, $shifted, $steady);
            let s = first_row(t, hi);
            let general = if steady { None } else { Some(plan.lanes(t)) };
            let steady_caps = &steady_caps[((t - t_start) & 1) as usize];
            let w = width as i64;
            let edges = !steady && ((t <= n && s <= 0) || (t <= m && t - s < w));
            let in_lanes = |row: i64| !steady && (s..s + w).contains(&row);
            let col_n = in_lanes(t - n).then(|| splat(t - n - s));
            let row_m = in_lanes(m).then(|| splat(m - s));
            let q_at = (q_front + s - 1) as usize;
            let r_at = (r_front + n - t + s) as usize;
            let next = arena.next(&prev, h_before);
            let at = if t >= t_first {
                Some((t - t_first) as usize * width)
            } else {
                None
            };
            // As in `fill_avx512_wide`: the cell above one lane before, or the same lane, and the cell to
            // the left in the same lane, or one lane after.
            let (up, left) = arena.neighbours(shifted);
            for k in 0..vectors {
                let l = k * AVX2_LANES;
                let iota = _mm256_add_epi16(iota0, splat(l as i64));
                #[allow(unsafe_code)]
                // SAFETY: as in `fill_avx512_wide`, with vectors of 16 lanes and margins of 16.
                let (up_h, up_f, left_hp, left_e, diag_h, qv, tv) = unsafe {
                    (
                        _mm256_loadu_si256(base.add((prev.h + l).wrapping_add(up)).cast()),
                        _mm256_loadu_si256(base.add((prev.f + l).wrapping_add(up)).cast()),
                        _mm256_loadu_si256(base.add(prev.h_prime + l + left).cast()),
                        _mm256_loadu_si256(base.add(prev.e + l + left).cast()),
                        _mm256_loadu_si256(base.add(h_before + l).cast()),
                        _mm256_loadu_si256(qcodes.as_ptr().add(q_at + l).cast()),
                        _mm256_loadu_si256(rcodes.as_ptr().add(r_at + l).cast()),
                    )
                };
                let equal = _mm256_cmpeq_epi16(qv, tv);
                let score = if ambiguous {
                    let both_unambiguous =
                        _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_or_si256(qv, tv), ambiguous_bits), zero);
                    _mm256_blendv_epi8(_mm256_blendv_epi8(amb, mm, both_unambiguous), ms, equal)
                } else {
                    _mm256_add_epi16(mm, _mm256_and_si256(equal, match_gain))
                };
                let diag = _mm256_adds_epi16(diag_h, score);
                let (mut f_oe, mut f_e) = (in_oe, in_e);
                let (mut e_oe, mut e_e) = (in_oe, in_e);
                if let Some(c) = col_n {
                    let at = _mm256_cmpeq_epi16(iota, c);
                    f_oe = _mm256_blendv_epi8(f_oe, end_oe, at);
                    f_e = _mm256_blendv_epi8(f_e, end_e, at);
                }
                if let Some(r) = row_m {
                    let at = _mm256_cmpeq_epi16(iota, r);
                    e_oe = _mm256_blendv_epi8(e_oe, end_oe, at);
                    e_e = _mm256_blendv_epi8(e_e, end_e, at);
                }
                let fo = _mm256_subs_epi16(up_h, f_oe);
                let fe = _mm256_subs_epi16(up_f, f_e);
                let f = _mm256_max_epi16(fo, fe);
                let hp = _mm256_max_epi16(diag, f);
                let eo = _mm256_subs_epi16(left_hp, e_oe);
                let ee = _mm256_subs_epi16(left_e, e_e);
                let e = _mm256_max_epi16(eo, ee);
                let h = _mm256_max_epi16(hp, e);
                if let Some(at) = at {
                    // `fill_avx2`'s negated bits, one vector's 16 bytes at a time.
                    let mut acc = _mm256_cmpgt_epi16(fe, fo);
                    acc = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(ee, eo));
                    acc = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(e, hp));
                    let bits = _mm256_add_epi16(_mm256_add_epi16(acc, acc), _mm256_cmpgt_epi16(f, diag));
                    let bytes = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi16(bits, bits));
                    let out = &mut dirs[at + l..at + l + AVX2_LANES];
                    #[allow(unsafe_code)]
                    // SAFETY: `out` holds 16 bytes, one unaligned 128-bit store.
                    unsafe {
                        _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(bytes))
                    };
                }
                let cap = match general {
                    Some(range) => cap(range, iota),
                    None => steady_caps[k],
                };
                let (mut h, mut hp) = (_mm256_min_epi16(h, cap), _mm256_min_epi16(hp, cap));
                if edges {
                    let rows = _mm256_add_epi16(splat(s), iota);
                    let at_edge = _mm256_or_si256(
                        _mm256_cmpeq_epi16(rows, splat(if t <= n { 0 } else { NO_ROW })),
                        _mm256_cmpeq_epi16(rows, splat(if t <= m { t } else { NO_ROW })),
                    );
                    let edge = _mm256_blendv_epi8(neg, splat(term(t).into()), at_edge);
                    h = _mm256_max_epi16(h, edge);
                    hp = _mm256_max_epi16(hp, edge);
                }
                #[allow(unsafe_code)]
                // SAFETY: each store is a vector of lanes of one region (`next.* + l`, l ≤ width − 16).
                unsafe {
                    _mm256_storeu_si256(base.add(next.h + l).cast(), h);
                    _mm256_storeu_si256(base.add(next.h_prime + l).cast(), hp);
                    _mm256_storeu_si256(base.add(next.e + l).cast(), _mm256_min_epi16(e, cap));
                    _mm256_storeu_si256(base.add(next.f + l).cast(), _mm256_min_epi16(f, cap));
                }
            }
            next
        }};
    }
    drive!(plan, ends, prev, h_before, step, lane_value);
    Some((ends, plan.layout(width, true)))
}

/// Where a wide kernel keeps an anti-diagonal's `H`, `H'`, `E` and `F`: offsets of lane 0 in its arena.
#[derive(Clone, Copy)]
struct WideSlots {
    h: usize,
    h_prime: usize,
    e: usize,
    f: usize,
}

/// The wide kernels' anti-diagonals in memory: nine regions of `width` lanes (three `H`: `t − 2`, `t − 1`,
/// `t`; two each of `H'`, `E`, `F`), each with a vector of margin lanes (minus infinity, never written)
/// either side, so the lanes one before and one after any vector of the band can be read.
struct WideArena {
    base: *mut i16,
    region: usize,
    margin: usize,
    width: usize,
}

impl WideArena {
    fn new(buf: &mut Vec<i16>, width: usize, margin: usize) -> Self {
        let region = width + 2 * margin;
        buf.clear();
        buf.resize(9 * region, i16::MIN);
        WideArena {
            base: buf.as_mut_ptr(),
            region,
            margin,
            width,
        }
    }

    /// Lane 0 of region `r`.
    fn lane0(&self, r: usize) -> usize {
        r * self.region + self.margin
    }

    /// The slots of the anti-diagonal before the first computed, and the `H` one before it (all minus
    /// infinity, as the register kernels start).
    fn first(&self) -> (WideSlots, usize) {
        let slots = WideSlots {
            h: self.lane0(0),
            h_prime: self.lane0(3),
            e: self.lane0(5),
            f: self.lane0(7),
        };
        (slots, self.lane0(1))
    }

    /// The slots of the next anti-diagonal: the `H` region neither `prev` nor `h_before` holds, and the
    /// other region of each pair.
    fn next(&self, prev: &WideSlots, h_before: usize) -> WideSlots {
        let other = |at: usize, first: usize| 2 * self.lane0(first) + self.region - at;
        WideSlots {
            h: self.lane0(0) + self.lane0(1) + self.lane0(2) - prev.h - h_before,
            h_prime: other(prev.h_prime, 3),
            e: other(prev.e, 5),
            f: other(prev.f, 7),
        }
    }

    /// What to add (wrapping) to a vector's offset in the slots of `t − 1` for the vectors its cells read:
    /// the cell above is one lane before when s(t) = s(t − 1), the same lane when `shifted`; the cell to the
    /// left the same lane, or one lane after.
    fn neighbours(&self, shifted: bool) -> (usize, usize) {
        if shifted {
            (0, 1)
        } else {
            (usize::MAX, 0)
        }
    }

    /// Lane `lane` of the region whose lane 0 is at `at`.
    fn lane_value(&self, at: usize, lane: usize) -> Option<i16> {
        #[allow(unsafe_code)]
        // SAFETY: `at` is a region's lane 0 and `lane` one of its lanes, inside the buffer `new` sized.
        (lane < self.width).then(|| unsafe { *self.base.add(at + lane) })
    }
}
