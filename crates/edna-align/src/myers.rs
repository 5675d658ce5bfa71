//! Bit-parallel semi-global edit distance (Myers 1999, block version by
//! Hyyrö) used as a cheap, lossless pre-filter before full alignment.
//!
//! Semi-global: the whole query must be aligned (every query base costs 1 if
//! not matched), while any target prefix and suffix is free. Columns whose
//! symbols are IUPAC-compatible cost 0, like matches in vsearch.
//!
//! The DP column is processed in blocks of 64 query rows. Only blocks that
//! can still contain a cell ≤ the current threshold are computed (Ukkonen's
//! cut-off at block granularity), and the threshold shrinks as better hits
//! are found, so most rejected targets cost a few words per column.

use crate::iupac::NT_MASK;

pub mod lanes;

/// Query rows per block (bits per word).
const W: usize = 64;
/// Bit of the last row of a full block.
const HIGH: u64 = 1 << 63;
/// Peq slot used for overhang columns: matches every query position.
const PAD: usize = 16;
/// Peq slots: the 16 target masks plus [`PAD`].
const SLOTS: usize = 17;
/// Queries up to this many blocks (4,096 bp) keep their state on the stack.
const STACK_BLOCKS: usize = 64;

/// Best semi-global hit of a query in a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hit {
    /// Edit distance (mismatches + inserted + deleted bases; compatible = match).
    pub distance: u32,
    /// Exclusive end of the best alignment in the (possibly padded) target:
    /// the alignment covers target positions `..target_end`.
    pub target_end: usize,
}

/// Vertical delta vectors of one block and the DP value of its last row.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// Rows whose value is one more than the row above.
    pv: u64,
    /// Rows whose value is one less than the row above.
    mv: u64,
    /// DP value at the block's last row (row `m` for the final block).
    score: i32,
}

/// A query preprocessed for many [`MyersQuery::best`] calls (immutable, `Sync`).
#[derive(Debug, Clone)]
pub struct MyersQuery {
    len: usize,
    blocks: usize,
    /// `peq[slot * blocks + b]`: bit `r` set iff query row `64b + r` matches
    /// target mask `slot` (or always, for [`PAD`]).
    peq: Vec<u64>,
    /// Bit of query row `m` inside the last block.
    last_high: u64,
}

/// Advances one block by one target column; returns the horizontal delta at
/// the row selected by `high` (the block's last row).
#[inline(always)]
fn advance(s: &mut Block, eq: u64, hin: i32, high: u64) -> i32 {
    let (pv, mv) = (s.pv, s.mv);
    let hin_neg = (hin < 0) as u64;
    let hin_pos = (hin > 0) as u64;
    let xv = eq | mv;
    // A -1 entering from above behaves like a match in the top row.
    let eq = eq | hin_neg;
    let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
    let ph = mv | !(xh | pv);
    let mh = pv & xh;
    let hout = ((ph & high) != 0) as i32 - ((mh & high) != 0) as i32;
    let ph = (ph << 1) | hin_pos;
    let mh = (mh << 1) | hin_neg;
    s.pv = mh | !(xv | ph);
    s.mv = ph & xv;
    s.score += hout;
    hout
}

impl MyersQuery {
    /// Precomputes the match masks of `query` (any length, including 0).
    pub fn new(query: &[u8]) -> Self {
        let len = query.len();
        let blocks = len.div_ceil(W);
        let mut peq = vec![0u64; SLOTS * blocks];
        // A row matches target mask `code` when their masks share a base: the rows of each of the four
        // base bits first (one pass over the query), then each code as the union of its bits' rows.
        for (blk, chunk) in query.chunks(W).enumerate() {
            let mut bits = [0u64; 4];
            for (r, &b) in chunk.iter().enumerate() {
                let qm = u64::from(NT_MASK[b as usize]);
                for (base, word) in bits.iter_mut().enumerate() {
                    *word |= ((qm >> base) & 1) << r;
                }
            }
            for code in 1..16 {
                peq[code * blocks + blk] = (0..4)
                    .filter(|base| code & (1 << base) != 0)
                    .fold(0, |acc, base| acc | bits[base]);
            }
        }
        // Overhang columns are wildcards; rows past the query end are ignored.
        peq[PAD * blocks..].fill(!0);
        let last_high = if len == 0 { 0 } else { 1u64 << ((len - 1) % W) };
        MyersQuery {
            len,
            blocks,
            peq,
            last_high,
        }
    }

    /// Query length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the empty query.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lowest semi-global edit distance of the query in `target`, if it is
    /// `≤ max_dist`; ties go to the smallest `target_end`. An empty query hits
    /// at distance 0, end 0.
    pub fn best(&self, target: &[u8], max_dist: u32) -> Option<Hit> {
        self.scan(
            target.iter().map(|&b| NT_MASK[b as usize] as usize),
            max_dist,
            usize::MAX,
        )
    }

    /// As [`MyersQuery::best`] on the target padded with `overhang` wildcard
    /// columns (matching everything) on each side, without allocating. This
    /// lets up to `overhang` query bases hang off each target end for free,
    /// like vsearch's uncounted terminal gaps.
    ///
    /// `target_end` is in padded coordinates (`0..=target.len() + 2 * overhang`);
    /// subtract `overhang` for target coordinates (the result may then be
    /// negative or exceed `target.len()` when the hit ends in the padding).
    pub fn best_with_overhang(&self, target: &[u8], max_dist: u32, overhang: usize) -> Option<Hit> {
        let pad = std::iter::repeat_n(PAD, overhang);
        let body = target.iter().map(|&b| NT_MASK[b as usize] as usize);
        self.scan(pad.clone().chain(body).chain(pad), max_dist, usize::MAX)
    }

    /// As [`MyersQuery::best`] on the target with `left` wildcard columns before it and `right` after it:
    /// the query may hang off an end only where that end is a real end of the target, which a caller
    /// scanning a window of a longer target knows. `target_end` is in padded coordinates.
    pub fn best_padded(&self, target: &[u8], max_dist: u32, left: usize, right: usize) -> Option<Hit> {
        self.best_padded_in_band(target, max_dist, left, right, usize::MAX)
    }

    /// As [`MyersQuery::best_padded`], for alignments whose cells all lie on diagonals `≤ max_diag`
    /// (column minus row, in padded coordinates: a cell after `j` padded target columns and `i` query rows
    /// has diagonal `j − i`). A caller that knows every acceptable alignment lies in that band (from seed
    /// diagonals and the edit budget) lets the scan skip rows above it and stop once no cell in the band
    /// is within the budget. The distance returned is never below the true semi-global distance, and never
    /// above the best distance of an alignment inside the band.
    pub fn best_padded_in_band(
        &self,
        target: &[u8],
        max_dist: u32,
        left: usize,
        right: usize,
        max_diag: usize,
    ) -> Option<Hit> {
        // A flat slot array keeps the column loop free of chained-iterator state (measured faster).
        let mut slots = Vec::with_capacity(left + target.len() + right);
        slots.resize(left, PAD as u8);
        slots.extend(target.iter().map(|&b| NT_MASK[b as usize]));
        slots.resize(left + target.len() + right, PAD as u8);
        self.scan(slots.iter().map(|&s| s as usize), max_dist, max_diag)
    }

    /// Length of the longest common subsequence of the query and `target` (IUPAC-compatible symbols count
    /// as equal, as in the alignment): the most matched columns any alignment of the two can have. With
    /// [`identity_upper_bound`]`(lcs, d)` it bounds the identity of every alignment with at least `d` edits
    /// far below `qlen / (qlen + d)` when the edits are mostly mismatches.
    ///
    /// Bit-parallel (Allison and Dix; Crochemore et al. 2001): bit `r` of `v` is 0 where the LCS of query
    /// rows `..=r` with the target so far is one more than with rows `..r`, and each target column costs
    /// one add (carried across 64-row blocks) and a few logical operations per block.
    pub fn lcs_len(&self, target: &[u8]) -> usize {
        if self.len == 0 {
            return 0;
        }
        let blocks = self.blocks;
        let mut stack = [!0u64; STACK_BLOCKS];
        let mut heap = Vec::new();
        let v: &mut [u64] = if blocks <= STACK_BLOCKS {
            &mut stack[..blocks]
        } else {
            heap.resize(blocks, !0u64);
            &mut heap
        };
        for &b in target {
            let slot = NT_MASK[b as usize] as usize;
            let eq = &self.peq[slot * blocks..(slot + 1) * blocks];
            let mut carry = 0u64;
            for (vb, &e) in v.iter_mut().zip(eq) {
                let u = *vb & e;
                let (sum, c1) = vb.overflowing_add(u);
                let (sum, c2) = sum.overflowing_add(carry);
                carry = u64::from(c1 | c2);
                *vb = sum | (*vb & !e);
            }
        }
        // Rows past the query end never match, so they start and stay 1 except for carries from below,
        // which are masked off here.
        let tail = self.len % W;
        v.iter()
            .enumerate()
            .map(|(i, &vb)| {
                let valid = if i + 1 == blocks && tail != 0 {
                    (1u64 << tail) - 1
                } else {
                    !0
                };
                (!vb & valid).count_ones() as usize
            })
            .sum()
    }

    /// Runs the column loop over Peq slots, with block state on the stack when small.
    fn scan<I: Iterator<Item = usize>>(&self, cols: I, max_dist: u32, max_diag: usize) -> Option<Hit> {
        if self.len == 0 {
            return Some(Hit {
                distance: 0,
                target_end: 0,
            });
        }
        if self.blocks <= STACK_BLOCKS {
            let mut buf = [Block::default(); STACK_BLOCKS];
            self.scan_in(cols, max_dist, max_diag, &mut buf[..self.blocks])
        } else {
            let mut buf = vec![Block::default(); self.blocks];
            self.scan_in(cols, max_dist, max_diag, &mut buf)
        }
    }

    /// Core loop. Invariant after each column (threshold `k`): every cell `≤ k`
    /// lies in blocks `0..=y`, and computed cells are exact when `≤ k` and
    /// `> k` otherwise. `k` only decreases, which preserves the invariant.
    fn scan_in<I: Iterator<Item = usize>>(
        &self,
        cols: I,
        max_dist: u32,
        max_diag: usize,
        st: &mut [Block],
    ) -> Option<Hit> {
        let m = self.len as i64;
        let nb = self.blocks;
        let last = nb - 1;
        // D[m][j] ≤ m always, so larger thresholds change nothing.
        let mut k: i64 = (max_dist as i64).min(m);
        let mut best = None;
        // Column 0: D[i][0] = i (every query base deleted).
        if m <= k {
            best = Some(Hit {
                distance: m as u32,
                target_end: 0,
            });
            k = m - 1;
        }
        for (b, s) in st.iter_mut().enumerate() {
            *s = Block {
                pv: !0,
                mv: 0,
                score: (((b + 1) * W) as i64).min(m) as i32,
            };
        }
        // Rows 1..=k hold values ≤ k in column 0; block 0 is always kept.
        let mut y = if k <= 0 { 0 } else { ((k as usize - 1) / W).min(last) };
        // Block 0 is always active and usually the only one: keeping it in
        // locals keeps the per-column dependency chain out of memory.
        let mut b0 = st[0];
        let high0 = if last == 0 { self.last_high } else { HIGH };
        // First block that can hold an in-band row (see `max_diag`); only grows.
        let mut x = 0usize;
        for (col, slot) in cols.enumerate() {
            let eq = &self.peq[slot * nb..slot * nb + nb];
            // Rows above `i_top` are outside the band in this column.
            let i_top = (col + 1).saturating_sub(max_diag);
            if i_top > 0 {
                x = x.max((i_top - 1) / W);
            }
            // Compute at least block y, so Ukkonen can still extend below it.
            let first = x.min(y);
            let mut hout;
            if first == 0 {
                // Semi-global: the top row is all zeros, so nothing enters block 0.
                hout = advance(&mut b0, eq[0], 0, high0);
            } else {
                // The rows above are frozen (outside the band): their unknown value enters as +1, an
                // over-estimate, so computed cells stay ≥ the true distance and exact inside the band.
                let high = if first == last { self.last_high } else { HIGH };
                hout = advance(&mut st[first], eq[first], 1, high);
            }
            // Score at the last row of block y, this column.
            let mut ybot = if first == 0 { b0.score } else { st[first].score };
            if y > first {
                let full = (y + 1).min(last);
                for (s, &e) in st[first + 1..full].iter_mut().zip(&eq[first + 1..full]) {
                    hout = advance(s, e, hout, HIGH);
                }
                if y == last {
                    hout = advance(&mut st[last], eq[last], hout, self.last_high);
                }
                ybot = st[y].score;
            }
            // Ukkonen: only the first row of block y+1 can newly reach ≤ k, and
            // only through a match from, or a -1 step at, block y's last row
            // whose previous value was ≤ k.
            let prev_bottom = (ybot - hout) as i64;
            if y < last && prev_bottom <= k && ((eq[y + 1] & 1) != 0 || hout < 0) {
                y += 1;
                let rows = if y == last { m as usize - y * W } else { W };
                // Unknown previous column: assume +1 per row below block y,
                // an over-estimate that stays > k where the truth is > k.
                st[y] = Block {
                    pv: !0,
                    mv: 0,
                    score: prev_bottom as i32 + rows as i32,
                };
                let high = if y == last { self.last_high } else { HIGH };
                advance(&mut st[y], eq[y], hout, high);
                ybot = st[y].score;
            } else {
                // A block whose last row is ≥ k + 64 has every row > k
                // (values change by at most 1 per row).
                while y > first && ybot as i64 >= k + W as i64 {
                    y -= 1;
                    ybot = if y == 0 { b0.score } else { st[y].score };
                }
            }
            if y == last && (ybot as i64) <= k {
                best = Some(Hit {
                    distance: ybot as u32,
                    target_end: col + 1,
                });
                // Later ends must be strictly better; 0 cannot be beaten.
                k = ybot as i64 - 1;
                if k < 0 {
                    break;
                }
            }
            // Past the band's first column no alignment can start any more, so once no in-band cell is ≤ k
            // none can reach the last row: all cells ≤ k lie in blocks ..=y, and blocks < x are out of band.
            if i_top > 0 {
                if x > y || (ybot as i64) >= k + W as i64 {
                    break;
                }
                let state = if y == 0 { &b0 } else { &st[y] };
                if x == y && col % 4 == 3 && self.band_min(state, y, i_top, col % 16 == 15) > k {
                    break;
                }
            }
        }
        best
    }

    /// A lower bound on the DP values of block `b` (state `s`) over its rows `≥ i_top`: exact when `exact`,
    /// else the cheaper bound "last row minus every +1 step above it" (one popcount).
    fn band_min(&self, s: &Block, b: usize, i_top: usize, exact: bool) -> i64 {
        let rows = if b == self.blocks - 1 { self.len - b * W } else { W };
        // Bit r holds row 64b + r + 1; rows above `lowest_bit` are outside the band.
        let lowest_bit = i_top.saturating_sub(b * W + 1);
        if lowest_bit + 1 >= rows {
            return s.score as i64;
        }
        let steps = (u64::MAX >> (W - rows)) & !(u64::MAX >> (W - 1 - lowest_bit));
        let bound = s.score as i64 - (s.pv & steps).count_ones() as i64;
        if !exact {
            return bound;
        }
        // Walk up from the last row.
        let mut val = s.score as i64;
        let mut min = val;
        for r in (lowest_bit + 1..rows).rev() {
            val -= ((s.pv >> r) & 1) as i64 - ((s.mv >> r) & 1) as i64;
            min = min.min(val);
        }
        min
    }
}

/// Upper bound on the vsearch identity (`--iddef 2`) of any alignment of a
/// query of length `qlen` whose semi-global edit distance is `edit_distance`;
/// lossless for pruning: `qlen / (qlen + d)` (1.0 for `qlen == 0, d == 0`).
///
/// # Proof
///
/// Take any alignment of the query against the target and drop its terminal
/// gaps. Let the remaining columns be `M` compatible pairs, `X` incompatible
/// pairs, `I` query bases against gaps and `D` target bases against gaps, and
/// `e = X + I + D` the non-matching columns. Then `cols = M + e` and
/// `identity = M / (M + e)`.
///
/// 1. `e ≥ d`: the aligned part is itself a semi-global alignment of the
///    aligned query bases with edit cost `e` (the target prefix and suffix
///    are free), and the query bases in terminal gaps can be placed against
///    wildcard padding at cost 0 — provided the distance was computed with
///    [`MyersQuery::best_with_overhang`] and an overhang at least as long as
///    the query overhang (always true with `overhang = qlen`; with
///    [`MyersQuery::best`] it holds for alignments without query overhang).
///    So `d ≤ e`.
/// 2. `M ≤ qlen`, since every compatible pair uses a distinct query base.
/// 3. `x ↦ x / (x + e)` is non-decreasing in `x ≥ 0` for `e ≥ 0`, so
///    `identity ≤ qlen / (qlen + e)` (equivalently: `cols = M + X + I + D ≤
///    qlen + D ≤ qlen + e` while `M = cols - e`).
/// 4. `e ↦ qlen / (qlen + e)` is non-increasing, and `e ≥ d`, so
///    `identity ≤ qlen / (qlen + d)`.
///
/// Rounded division is monotone, so `matches as f64 / columns as f64` never
/// exceeds the value returned here either. (With no columns vsearch identity
/// is 0, below any bound.)
pub fn identity_upper_bound(qlen: usize, edit_distance: u32) -> f64 {
    if qlen == 0 && edit_distance == 0 {
        return 1.0;
    }
    qlen as f64 / (qlen as f64 + edit_distance as f64)
}

/// Largest `d` with `identity_upper_bound(qlen, d) >= min_identity`: targets
/// whose distance exceeds it cannot reach `min_identity` and may be skipped
/// (pass it as `max_dist`). `u32::MAX` when `min_identity <= 0`.
pub fn max_edits_for_identity(qlen: usize, min_identity: f64) -> u32 {
    if min_identity.is_nan() || min_identity <= 0.0 {
        return u32::MAX;
    }
    if min_identity > 1.0 {
        // Nothing can pass; 0 keeps the filter lossless and cheap.
        return 0;
    }
    let q = qlen as f64;
    let est = (q * (1.0 - min_identity) / min_identity).floor();
    let mut d = if est >= u32::MAX as f64 {
        return u32::MAX;
    } else {
        est.max(0.0) as u32
    };
    // Settle floating-point rounding against the exact predicate used by callers.
    while d > 0 && identity_upper_bound(qlen, d) < min_identity {
        d -= 1;
    }
    while d < u32::MAX && identity_upper_bound(qlen, d + 1) >= min_identity {
        d += 1;
    }
    d
}

/// [`identity_upper_bound`] for a target of `tlen` bases: also `M ≤ tlen − X − D` (every compatible pair and
/// every target base against a gap uses a distinct target base), which caps identity well below
/// `qlen / (qlen + d)` when the target is not much longer than the query.
///
/// # Proof
///
/// With the terms of [`identity_upper_bound`]: `e = X + I + D ≥ d`, `M ≤ qlen − X − I` and `M ≤ tlen − X − D`.
/// For a fixed `e`, `M / (M + e)` grows with `M`, and `X > 0` only lowers both caps, so the best case has
/// `X = 0` and `I + D = e`: `M ≤ max over I of min(qlen − I, tlen − e + I) ≤ min(qlen, tlen, (qlen + tlen − e) / 2)`
/// (the two caps cross at `I = (qlen − tlen + e) / 2`). That cap does not grow with `e`, nor does
/// `M / (M + e)` for a fixed `M`, so `e ≥ d` gives `identity ≤ M* / (M* + d)` with
/// `M* = min(qlen, tlen, (qlen + tlen − d) / 2)` (0 when `M* ≤ 0` and `d > 0`).
pub fn identity_upper_bound_in(qlen: usize, tlen: usize, edit_distance: u32) -> f64 {
    if edit_distance == 0 {
        return identity_upper_bound(qlen, 0);
    }
    let d = edit_distance as f64;
    let m = (qlen as f64)
        .min(tlen as f64)
        .min((qlen as f64 + tlen as f64 - d) / 2.0);
    if m <= 0.0 {
        0.0
    } else {
        m / (m + d)
    }
}

/// Largest `d ≤ cap` with `identity_upper_bound_in(qlen, tlen, d) >= min_identity` (0 when none): the edit
/// budget of one target, where `cap` is the query's own, [`max_edits_for_identity`]`(qlen, min_identity)` or
/// less. Cheap enough to call per candidate: a closed form, settled against the predicate.
pub fn max_edits_for_identity_in(qlen: usize, tlen: usize, min_identity: f64, cap: u32) -> u32 {
    let p = min_identity;
    if cap == 0 || p.is_nan() || p <= 0.0 {
        return cap;
    }
    // identity_upper_bound_in ≥ p ⟺ d ≤ min(qlen, tlen)·(1−p)/p and d ≤ (qlen + tlen)·(1−p)/(1+p); the
    // query's own term is in `cap`.
    let est = ((tlen as f64) * (1.0 - p) / p)
        .min((qlen + tlen) as f64 * (1.0 - p) / (1.0 + p))
        .floor();
    let mut d = if est < cap as f64 { est.max(0.0) as u32 } else { cap };
    while d > 0 && identity_upper_bound_in(qlen, tlen, d) < p {
        d -= 1;
    }
    while d < cap && identity_upper_bound_in(qlen, tlen, d + 1) >= p {
        d += 1;
    }
    d
}

#[cfg(test)]
mod tests;
