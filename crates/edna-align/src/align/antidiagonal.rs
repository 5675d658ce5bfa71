//! The band filled one anti-diagonal at a time (AVX2, 16-bit cells).
//!
//! A row's cells chain through their horizontal gaps, so the row kernel pays a prefix maximum per row
//! whatever its width: most of the cost of the narrow bands the search engine aligns in (`4d + 17`
//! diagonals around an edit-distance placement with `d` edits). The cells of an anti-diagonal depend only
//! on the two anti-diagonals before it, so a vector of them takes a fixed handful of operations. On 188 bp
//! this fills a band of 17 diagonals in half the row kernel's time and one of 37 in three quarters
//! (`cargo bench -p edna-align --bench align`); from 60 diagonals on, the row kernel stays.
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

/// Cells per vector.
const LANES: usize = 16;
/// Most vectors per anti-diagonal (bands of up to 59 diagonals). Wider bands take the row kernel: with
/// three vectors the state outgrows the sixteen AVX2 registers, and 89 diagonals filled slower than by rows.
const MAX_VECTORS: usize = 2;
/// Query code of an ambiguous or invalid base: equal to no target code.
const QUERY_AMBIGUOUS: i16 = 0x40;
/// Target code of an ambiguous or invalid base.
const TARGET_AMBIGUOUS: i16 = 0x80;
/// A row number no lane holds.
const NO_ROW: i64 = -30_000;

/// Where [`fill`] put the traceback byte of each band cell: anti-diagonal `t` from `first` on, `width`
/// bytes each, cell `(i, j)` in lane `i − s(i + j)`, negated (the kernel sums all-ones comparisons).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    first: i64,
    hi: i64,
    width: usize,
}

impl Layout {
    /// The traceback byte of band cell `(i, j)` (stored negated).
    #[inline]
    pub(super) fn dir(&self, dirs: &[u8], i: usize, j: usize) -> u8 {
        let t = (i + j) as i64;
        dirs[(t - self.first) as usize * self.width + (i as i64 - first_row(t, self.hi)) as usize].wrapping_neg()
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
}

/// Fills the traceback bytes of every band cell into `dirs` and returns the exit cells and the layout,
/// or `None` when the band or the problem is too large for 16-bit lane arithmetic and [`MAX_VECTORS`]
/// (the caller then runs the row kernel). Scores must fit 16-bit cells (`fits_i16`).
#[target_feature(enable = "avx2")]
pub(super) fn fill(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Option<(RowEnds, Layout)> {
    let lanes = (geom.hi - geom.lo).max(0) as usize / 2 + 3;
    match lanes.div_ceil(LANES) {
        1 => fill_vectors::<1>(query, tcodes, sc, geom, dirs, scratch),
        MAX_VECTORS => fill_vectors::<MAX_VECTORS>(query, tcodes, sc, geom, dirs, scratch),
        _ => None,
    }
}

/// The running state of one anti-diagonal: `H`, `H'`, `E` and `F` of each lane.
#[derive(Clone, Copy)]
struct Diagonal<const K: usize> {
    h: [__m256i; K],
    h_prime: [__m256i; K],
    e: [__m256i; K],
    f: [__m256i; K],
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
fn lane_value<const K: usize>(v: &[__m256i; K], lane: usize) -> Option<i16> {
    let mut out = [0i16; LANES];
    #[allow(unsafe_code)]
    // SAFETY: `out` holds 16 cells, one unaligned 256-bit store.
    unsafe {
        _mm256_storeu_si256(out.as_mut_ptr().cast(), *v.get(lane / LANES)?)
    };
    Some(out[lane % LANES])
}

/// `codes` with `front` copies of `pad` before them, and `pad` after up to `len` in all.
fn lay_out(codes: impl Iterator<Item = i16>, pad: i16, front: usize, len: usize, out: &mut Vec<i16>) {
    out.clear();
    out.resize(front, pad);
    out.extend(codes);
    out.resize(len.max(out.len()), pad);
}

/// [`fill`] with `K` vectors per anti-diagonal.
#[target_feature(enable = "avx2")]
fn fill_vectors<const K: usize>(
    query: &[u8],
    tcodes: &[u8],
    sc: &Scoring,
    geom: &Geom,
    dirs: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Option<(RowEnds, Layout)> {
    let (m, n) = (query.len() as i64, tcodes.len() as i64);
    let (lo, hi) = (geom.lo, geom.hi);
    let width = K * LANES;
    let w = width as i64;
    // Rows, columns and anti-diagonals are 16-bit lane numbers: keep them far inside that.
    if m + n + 4 * w > 16_000 || lo > hi {
        return None;
    }
    // Anti-diagonals holding band cells: from the first non-empty row's first cell to the last row's last.
    let (first_i, last_i) = ((1 - hi).max(1), (n - lo).min(m));
    if first_i > last_i {
        return None;
    }
    let (Some((a, _)), Some((_, b))) = (geom.range(first_i as usize), geom.range(last_i as usize)) else {
        return None;
    };
    let (t_first, t_last) = (first_i + a as i64, last_i + b as i64);
    // The two anti-diagonals before the first hold the leading terminal gaps its cells read.
    let t_start = t_first - 2;
    let (s_start, s_last) = (first_row(t_start, hi), first_row(t_last, hi));

    // Anti-diagonal t reads the query's lane codes from row s(t) − 1 on and the reversed target's from
    // n − t + s(t) on, `width` of each; both move monotonically with t, so the ends of the loop bound
    // every read.
    let (q_front, r_front) = ((1 - s_start).max(0), (t_last - n - s_last).max(0));
    let q_len = (q_front + s_last - 1 + w).max(q_front + m) as usize;
    let r_len = (r_front + n - t_start + s_start + w).max(r_front + n) as usize;
    let Scratch {
        query: qcodes,
        target: rcodes,
    } = scratch;
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
    lay_out(
        query.iter().map(query_code),
        QUERY_AMBIGUOUS,
        q_front as usize,
        q_len,
        qcodes,
    );
    lay_out(
        tcodes.iter().rev().map(target_code),
        TARGET_AMBIGUOUS,
        r_front as usize,
        r_len,
        rcodes,
    );
    // Without ambiguity codes a lane scores a match or a mismatch (padding lanes are masked out anyway).
    let ambiguous = query.iter().any(|b| query_code(b) == QUERY_AMBIGUOUS)
        || tcodes.iter().any(|c| target_code(c) == TARGET_AMBIGUOUS);
    // Every read below lies in these bounds (checked here once, so the loop loads without checks).
    let q_reads = (q_front + s_start - 1, q_front + s_last - 1 + w);
    let r_reads = (r_front + n - t_last + s_last, r_front + n - t_start + s_start + w);
    if q_reads.0 < 0 || q_reads.1 > qcodes.len() as i64 || r_reads.0 < 0 || r_reads.1 > rcodes.len() as i64 {
        return None;
    }
    let cells = (t_last - t_first + 1) as usize * width;
    if dirs.len() < cells {
        dirs.resize(cells, 0);
    }
    let (qcodes, rcodes, dirs) = (&qcodes[..], &rcodes[..], &mut dirs[..cells]);

    let splat = |x: i64| _mm256_set1_epi16(x as i16);
    let term = |len: i64| -sc.gap_cost(len as u32, true);
    let neg = _mm256_set1_epi16(i16::MIN);
    let zero = _mm256_setzero_si256();
    let iota0 = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let iota: [__m256i; K] = std::array::from_fn(|k| _mm256_add_epi16(iota0, splat((k * LANES) as i64)));
    let (ms, mm, amb) = (
        splat(sc.match_score.into()),
        splat(sc.mismatch_score.into()),
        splat(sc.ambiguous_score.into()),
    );
    let match_gain = _mm256_subs_epi16(ms, mm);
    let (in_oe, in_e) = (splat((sc.gap_open + sc.gap_extend).into()), splat(sc.gap_extend.into()));
    let (end_oe, end_e) = (
        splat((sc.terminal_gap_open + sc.terminal_gap_extend).into()),
        splat(sc.terminal_gap_extend.into()),
    );
    let ambiguous_bits = splat((QUERY_AMBIGUOUS | TARGET_AMBIGUOUS).into());

    // The exit cells: the lowest of column n, and the last of row m when left of column n.
    let col_n_row = (n - lo).min(m);
    let col_n_t = if col_n_row >= (n - hi).max(1) {
        col_n_row + n
    } else {
        -1
    };
    let row_m_end = geom.range(m as usize).map(|(_, b)| b as i64).filter(|&b| b < n);
    let row_m_t = row_m_end.map_or(-1, |b| m + b);
    let mut ends = RowEnds {
        row_m_last: None,
        col_n_last: (0, term(n), super::NEG),
    };

    // Valid lanes: rows max(s + 1, 1, t − n) ..= min((t − lo)/2, m, t − 1), as lane numbers.
    let lane_range = |t: i64| {
        let s = first_row(t, hi);
        ((s + 1).max(1).max(t - n) - s, ((t - lo) >> 1).min(m).min(t - 1) - s)
    };
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
    // Steady anti-diagonals: no leading edge or terminal row or column in the lanes, and the valid lanes
    // are 1 ..= c, where c depends on the parity of t alone; their caps are worked out once.
    let is_steady = |t: i64| {
        let s = first_row(t, hi);
        t >= t_first && s >= 1 && t - s >= w && t - s <= n && (t - lo) >> 1 < m && (t - lo) >> 1 < t
    };
    let steady_lanes = |t: i64| (1, ((t - lo) >> 1) - first_row(t, hi));
    let steady_caps = [caps(steady_lanes(t_start)), caps(steady_lanes(t_start + 1))];
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
                // SAFETY: q_at + 16k + 16 ≤ q_reads.1 ≤ qcodes.len() and r_at + 16k + 16 ≤ r_reads.1 ≤
                // rcodes.len() (checked before the loop; q_at grows and r_at shrinks with t).
                let (qv, tv) = unsafe {
                    (
                        _mm256_loadu_si256(qcodes.as_ptr().add(q_at + k * LANES).cast()),
                        _mm256_loadu_si256(rcodes.as_ptr().add(r_at + k * LANES).cast()),
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
                    let out = &mut dirs[at + 2 * LANES * c..];
                    if pair.len() == 2 {
                        debug_assert!(out.len() >= 2 * LANES);
                        #[allow(unsafe_code)]
                        // SAFETY: `dirs` holds `width` bytes per anti-diagonal up to t_last; this pair's 32 lie
                        // inside this anti-diagonal's.
                        unsafe {
                            _mm256_storeu_si256(out.as_mut_ptr().cast(), bytes)
                        };
                    } else {
                        debug_assert!(out.len() >= LANES);
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

    // s(t) = ⌊(t − hi + 1)/2⌋ − 1 grows exactly when t − hi is odd.
    let shifted = |t: i64| (t - hi) & 1 != 0;
    macro_rules! advance {
        ($t:expr, $shifted:expr, $steady:expr) => {{
            let t = $t;
            let next = step!(t, $shifted, $steady);
            if !$steady {
                if t == col_n_t {
                    let lane = (col_n_row - first_row(t, hi)) as usize;
                    let (hv, fv) = (lane_value(&next.h, lane)?, lane_value(&next.f, lane)?);
                    ends.col_n_last = (col_n_row as usize, hv.into(), fv.into());
                }
                if t == row_m_t {
                    let lane = (m - first_row(t, hi)) as usize;
                    let (hv, ev) = (lane_value(&next.h, lane)?, lane_value(&next.e, lane)?);
                    ends.row_m_last = row_m_end.map(|b| (b as usize, hv.into(), ev.into()));
                }
            }
            h_before = prev.h;
            prev = next;
        }};
    }
    macro_rules! general {
        ($range:expr) => {
            for t in $range {
                if shifted(t) {
                    advance!(t, true, false)
                } else {
                    advance!(t, false, false)
                }
            }
        };
    }
    // The steady anti-diagonals form one run: each condition moves one way with t.
    let (steady_first, steady_last) = match (t_start..=t_last).find(|&t| is_steady(t)) {
        Some(first) => (first, (first..=t_last).rev().find(|&t| is_steady(t)).unwrap_or(first)),
        None => (t_last + 1, t_last),
    };
    general!(t_start..steady_first);
    let mut t = steady_first;
    if t <= steady_last && !shifted(t) {
        advance!(t, false, true);
        t += 1;
    }
    while t < steady_last {
        advance!(t, true, true);
        advance!(t + 1, false, true);
        t += 2;
    }
    general!(t..=t_last);
    Some((
        ends,
        Layout {
            first: t_first,
            hi,
            width,
        },
    ))
}
