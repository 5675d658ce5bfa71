//! Banded bit-parallel edit distance for several targets side by side.
//!
//! At low identity thresholds most candidates are homologous barcodes that share a seed or two with
//! the query but sit far below the threshold; the block scan of [`MyersQuery::best_padded_in_band`]
//! rejects each of them one at a time, bound by the latency of its chain of dependent operations.
//! When the seed diagonals confine every acceptable alignment to a band of at most [`BAND_ROWS`]
//! diagonals, one 64-bit word per target column holds the whole band (Hyyrö's banded formulation:
//! the word slides down one query row per column), and [`LANES`] targets run in the lanes of one
//! AVX2 vector. The scan only answers "may this target align within the budget?"; targets that may
//! go on to the exact scan, so the hits found do not change.
//!
//! Longer queries at low identity need wider bands: up to [`WIDE_BAND_ROWS`] diagonals fit a 128-bit
//! word, and [`WIDE_LANES`] targets share a vector.
//!
//! The word of column `j` covers query rows `j − U ..= j − U + 62` (diagonals `U − 62 ..= U`, where
//! `U` is the band's highest diagonal; 126 for the wide word). Rows above row 1 are virtual rows of value 0 (the free target
//! prefix); the value of a row just below the band, unknown, enters as the row above plus one, and a
//! row just above it contributes a horizontal step of +1: both over-estimate, so every computed cell
//! is at least the true semi-global distance and exact for alignments inside the band.

use std::ops::{BitAnd, BitOr, BitXor, Not, Shl, Shr};

use super::{MyersQuery, PAD};

/// Diagonals covered by a band scan: the word holds these rows plus the row entering at the bottom.
pub const BAND_ROWS: usize = 63;
/// Targets scanned side by side with AVX2.
pub const LANES: usize = 4;
/// Targets scanned side by side with AVX-512; the most [`BandQuery::may_align_lanes`] takes.
pub const MAX_LANES: usize = 8;
/// Diagonals covered by a wide band scan (128-bit words).
pub const WIDE_BAND_ROWS: usize = 127;
/// Targets scanned side by side with wide words and AVX2.
pub const WIDE_LANES: usize = 2;
/// Targets scanned side by side with wide words and AVX-512; the most [`BandQuery::may_align_wide_lanes`]
/// takes.
pub const MAX_WIDE_LANES: usize = 8;
/// Diagonals covered by a tight band scan (32-bit words): most candidates at high identity need no more.
pub const TIGHT_BAND_ROWS: usize = 31;
/// Targets scanned side by side by the tight AVX-512 kernel (16 words of 32 bits); the most
/// [`BandQuery::may_align_tight_lanes`] takes.
pub const MAX_TIGHT_LANES: usize = 16;
/// Table rows before query row 1: a 128-bit word starting this far up is all virtual rows.
const LEAD: i64 = 128;
/// Table rows past the last query row: the upper half of a wide word read from the row after it.
const TAIL: usize = 66;
/// Columns between two checks of whether a lane can still reach the budget.
const CHECK_EVERY: usize = 8;
const HIGH: u64 = 1 << 63;
/// Table entries per query row: one per target mask, 0 to 15, where the padding column shares slot 15 (see
/// [`PAD_SLOT`]); a power of two, so a masked slot indexes in bounds, and half the 32 entries the 17 Peq
/// slots would need: the table is built for every query, and an AVX-512 lookup takes one permute, not two.
const STRIDE: usize = 16;
/// The word's bottom row, relative to the row before its top (`BAND_ROWS`).
const WORD_BOTTOM: i64 = BAND_ROWS as i64;

/// One target of a band scan.
#[derive(Debug, Clone, Copy)]
pub struct BandTarget<'a> {
    /// Peq slots of the padded target columns, as built by [`padded_slots`].
    pub slots: &'a [u8],
    /// Highest diagonal (padded column minus query row) an acceptable alignment may use; the scan
    /// covers diagonals `max_diag − 62 ..= max_diag` ([`BAND_ROWS`]; `− 126` for a wide scan).
    pub max_diag: usize,
    /// Edit budget.
    pub max_dist: u32,
}

/// The match masks of a query laid out for band scans (immutable, `Sync`): entry
/// `(o + 128) * STRIDE + slot` holds bit `r` set iff query row `o + r` (1-based) matches `slot`, with rows
/// above the query always matching and rows below it never. A 128-bit word is two 64-bit entries 64 rows
/// apart, so one table serves both word sizes.
#[derive(Debug, Default)]
pub struct BandQuery {
    len: usize,
    table: Vec<u64>,
}

/// How many targets [`BandQuery::may_align_lanes`] scans at once on this CPU: [`MAX_LANES`] with
/// AVX-512, else [`LANES`].
pub fn narrow_lanes() -> usize {
    if has_avx512() {
        MAX_LANES
    } else {
        LANES
    }
}

/// How many targets [`BandQuery::may_align_wide_lanes`] scans at once on this CPU: [`MAX_WIDE_LANES`]
/// with AVX-512, else [`WIDE_LANES`].
pub fn wide_lanes() -> usize {
    if has_avx512() {
        MAX_WIDE_LANES
    } else {
        WIDE_LANES
    }
}

/// How many targets [`BandQuery::may_align_tight_lanes`] scans at once with vector instructions on this
/// CPU: [`MAX_TIGHT_LANES`] with AVX-512, else 0 (without it the narrow scan serves tight bands as fast).
pub fn tight_lanes() -> usize {
    if has_avx512() {
        MAX_TIGHT_LANES
    } else {
        0
    }
}

/// Whether the AVX-512 kernels can run here (F and BW).
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The slot of a wildcard column (query overhang), which matches every query row: slot 15, target `N`,
/// which the band table makes match every query row too (a query row with an invalid symbol against a target
/// `N` then counts as a match, which only lowers the bound: the screen stays lossless).
pub const PAD_SLOT: u8 = 15;

/// Appends the Peq slots of `target` with `left` and `right` wildcard columns around it to `out`
/// (cleared first): the column input of every scan in this module.
pub fn padded_slots(target: &[u8], left: usize, right: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(left + target.len() + right);
    out.resize(left, PAD_SLOT);
    out.extend(target.iter().map(|&b| crate::iupac::NT_MASK[b as usize]));
    out.resize(left + target.len() + right, PAD_SLOT);
}

impl BandQuery {
    /// Lays out the match masks of `query` for band scans.
    pub fn new(query: &MyersQuery) -> Self {
        let mut band = BandQuery::default();
        band.rebuild(query);
        band
    }

    /// Lays out the match masks of `query` in place of the current ones, reusing the table's memory (a
    /// search builds one per query strand).
    pub fn rebuild(&mut self, query: &MyersQuery) {
        let m = query.len;
        let rows = m + LEAD as usize + TAIL;
        self.len = m;
        self.table.clear();
        self.table.reserve(rows * STRIDE);
        // Entry `row` of a slot is the window of query positions from `row − LEAD − 1` (0-based), so each
        // row is the one before shifted down by one, with the position 63 further on entering at the top:
        // virtual rows above the query match, rows past it do not. Row 0 is all virtual.
        self.table.resize(rows * STRIDE, !0);
        // The Peq word of every slot holding the entering position, reloaded when it moves to the next
        // 64 positions: the per-row update is then a fixed-size loop over plain arrays, which vectorises.
        let mut peq_block = [0u64; STRIDE];
        let mut loaded = usize::MAX;
        let mut previous: &[u64; STRIDE] = &[!0; STRIDE];
        for (row, words) in self.table.chunks_exact_mut(STRIDE).enumerate().skip(1) {
            let Ok(words) = <&mut [u64; STRIDE]>::try_from(words) else {
                break;
            };
            // The position entering at the bottom of the word of the previous row.
            let entering = row as i64 - 1 - LEAD + 63;
            match usize::try_from(entering) {
                Err(_) => *words = *previous,
                Ok(p) if p < m => {
                    let (block, shift) = (p / 64, p % 64);
                    if block != loaded {
                        for (slot, peq) in peq_block.iter_mut().enumerate() {
                            let source = if slot == PAD_SLOT as usize { PAD } else { slot };
                            *peq = query.peq.get(source * query.blocks + block).copied().unwrap_or(!0);
                        }
                        loaded = block;
                    }
                    for ((word, before), peq) in words.iter_mut().zip(previous).zip(&peq_block) {
                        *word = (before >> 1) | (((peq >> shift) & 1) << 63);
                    }
                }
                Ok(_) => {
                    for (word, before) in words.iter_mut().zip(previous) {
                        *word = before >> 1;
                    }
                }
            }
            previous = words;
        }
    }

    /// The table rows of the two halves of the 128-bit word whose top row is `top` (rows past the query
    /// end read the row after it, all non-matching).
    #[inline(always)]
    fn wide_rows(&self, top: i64) -> Option<(&[u64; STRIDE], &[u64; STRIDE])> {
        let row = wide_row(top, self.len as i64);
        let low = self.table.get(row..row + STRIDE)?.try_into().ok()?;
        let high = self.table.get(row + 64 * STRIDE..row + 65 * STRIDE)?.try_into().ok()?;
        Some((low, high))
    }

    /// Query length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the empty query.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// False only when no cell of the band reaches the last query row within the budget: no alignment
    /// inside the band has at most `max_dist` edits (true whenever one does; false whenever the
    /// semi-global distance over the whole padded target exceeds `max_dist`).
    pub fn may_align(&self, t: &BandTarget) -> bool {
        self.scan::<u64, 1>(std::slice::from_ref(t))[0]
    }

    /// [`BandQuery::may_align`] over [`WIDE_BAND_ROWS`] diagonals (`max_diag − 126 ..= max_diag`).
    pub fn may_align_wide(&self, t: &BandTarget) -> bool {
        self.scan::<u128, 1>(std::slice::from_ref(t))[0]
    }

    /// [`BandQuery::may_align`] over [`TIGHT_BAND_ROWS`] diagonals (`max_diag − 30 ..= max_diag`).
    pub fn may_align_tight(&self, t: &BandTarget) -> bool {
        self.scan::<u32, 1>(std::slice::from_ref(t))[0]
    }

    /// [`BandQuery::may_align_tight`] for up to [`MAX_TIGHT_LANES`] targets at once (answers beyond the
    /// targets given are false), vectorised with AVX-512 where the CPU has it.
    pub fn may_align_tight_lanes(&self, targets: &[BandTarget]) -> [bool; MAX_TIGHT_LANES] {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX-512 F and BW (checked just above), all `scan_tight_avx512` needs.
                return unsafe { self.scan_tight_avx512(targets) };
            }
        }
        self.scan::<u32, MAX_TIGHT_LANES>(targets)
    }

    /// [`BandQuery::may_align_tight_lanes`] without the vector instructions.
    pub fn may_align_tight_lanes_portable(&self, targets: &[BandTarget]) -> [bool; MAX_TIGHT_LANES] {
        self.scan::<u32, MAX_TIGHT_LANES>(targets)
    }

    /// [`BandQuery::may_align_wide`] for up to [`wide_lanes`] targets at once (answers beyond the targets
    /// given are false), vectorised with AVX-512 or AVX2 where the CPU has them.
    pub fn may_align_wide_lanes(&self, targets: &[BandTarget]) -> [bool; MAX_WIDE_LANES] {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX-512 F and BW (checked just above), all `scan_wide_avx512` needs.
                return unsafe { self.scan_wide_avx512(targets) };
            }
            if std::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `scan_wide_avx2`.
                let two = unsafe { self.scan_wide_avx2(targets) };
                return std::array::from_fn(|l| l < WIDE_LANES && two[l]);
            }
        }
        self.may_align_wide_lanes_portable(&targets[..targets.len().min(WIDE_LANES)])
    }

    /// [`BandQuery::may_align_wide_lanes`] without the vector instructions, for up to [`MAX_WIDE_LANES`]
    /// targets.
    pub fn may_align_wide_lanes_portable(&self, targets: &[BandTarget]) -> [bool; MAX_WIDE_LANES] {
        self.scan::<u128, MAX_WIDE_LANES>(targets)
    }

    /// The AVX2 wide kernel (two targets) even where AVX-512 is present, for tests; `None` without AVX2.
    #[doc(hidden)]
    pub fn may_align_wide_lanes_avx2(&self, targets: &[BandTarget]) -> Option<[bool; WIDE_LANES]> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `scan_wide_avx2`.
                return Some(unsafe { self.scan_wide_avx2(targets) });
            }
        }
        let _ = targets;
        None
    }

    /// [`BandQuery::may_align`] for up to [`narrow_lanes`] targets at once (answers beyond the targets
    /// given are false), vectorised with AVX-512 or AVX2 where the CPU has them.
    pub fn may_align_lanes(&self, targets: &[BandTarget]) -> [bool; MAX_LANES] {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX-512 F and BW (checked just above), all `scan_avx512` needs.
                return unsafe { self.scan_avx512(targets) };
            }
            if std::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `scan_avx2`.
                return unsafe { self.scan_avx2(targets) };
            }
        }
        pad_answers(self.scan::<u64, LANES>(targets))
    }

    /// [`BandQuery::may_align_lanes`] without the vector instructions (what other CPUs run), for up to
    /// [`MAX_LANES`] targets.
    pub fn may_align_lanes_portable(&self, targets: &[BandTarget]) -> [bool; MAX_LANES] {
        self.scan::<u64, MAX_LANES>(targets)
    }

    /// [`BandQuery::may_align_lanes`] on the AVX2 kernel (four targets) even where AVX-512 is present, for
    /// tests; `None` without AVX2.
    #[doc(hidden)]
    pub fn may_align_lanes_avx2(&self, targets: &[BandTarget]) -> Option<[bool; MAX_LANES]> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `scan_avx2`.
                return Some(unsafe { self.scan_avx2(targets) });
            }
        }
        let _ = targets;
        None
    }

    /// The scan of [`BandQuery::scan`] with one target per 64-bit lane of an AVX2 vector (the same steps,
    /// written with the vector instructions; a property test holds the two to the same answers).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_avx2(&self, targets: &[BandTarget]) -> [bool; MAX_LANES] {
        use std::arch::x86_64::*;
        let m = self.len as i64;
        let Some(mut plan) = Plan::<LANES>::new(m, WORD_BOTTOM, targets) else {
            return [false; MAX_LANES];
        };
        let lanes = |v: [i64; LANES]| _mm256_set_epi64x(v[3], v[2], v[1], v[0]);
        // Kept out of `plan`, which the loop mutates, so they stay in registers.
        let (slots, lead) = (plan.slots, plan.lead);
        let mut top = -1 - plan.u;
        let mut vp = _mm256_set1_epi64x(initial_vp::<u64>(plan.u) as i64);
        let mut vn = _mm256_setzero_si256();
        let mut score = _mm256_set1_epi64x(plan.score0);
        let budget_vec = lanes(plan.budget);
        let budget_plus1 = lanes(plan.budget.map(|b| b + 1));
        let ones = _mm256_set1_epi64x(1);
        let all = _mm256_set1_epi64x(-1);
        let high = _mm256_set1_epi64x(HIGH as i64);
        let nibble = _mm256_set1_epi8(0x0f);
        let low_byte = _mm256_set1_epi64x(0xff);
        let popcount4 = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let mut j = 0usize;
        while plan.open != 0 && j < plan.end {
            top += 1;
            let row = narrow_row(top, m);
            let Some(eq_row) = self
                .table
                .get(row..row + STRIDE)
                .and_then(|r| <&[u64; STRIDE]>::try_from(r).ok())
            else {
                break;
            };
            let eqs: [i64; LANES] =
                std::array::from_fn(|l| eq_row[slot(&slots, &lead, l, j) as usize & (STRIDE - 1)] as i64);
            j += 1;
            let eq = lanes(eqs);
            let vp_in = if top + 63 >= 1 { _mm256_or_si256(vp, high) } else { vp };
            let xv = _mm256_or_si256(eq, vn);
            let sum = _mm256_add_epi64(_mm256_and_si256(eq, vp_in), vp_in);
            let xh = _mm256_or_si256(_mm256_xor_si256(sum, vp_in), eq);
            let ph = _mm256_or_si256(vn, _mm256_andnot_si256(_mm256_or_si256(xh, vp_in), all));
            let mh = _mm256_and_si256(vp_in, xh);
            let mut ph2 = _mm256_slli_epi64::<1>(ph);
            if top >= 2 {
                ph2 = _mm256_or_si256(ph2, ones);
            }
            let mh2 = _mm256_slli_epi64::<1>(mh);
            let vp2 = _mm256_or_si256(mh2, _mm256_andnot_si256(_mm256_or_si256(xv, ph2), all));
            let vn2 = _mm256_and_si256(ph2, xv);
            let below = m - top;
            if below >= 63 {
                // The bottom row's step, 1 − (xv | mh2) at the top bit (see `band_scan_avx512`).
                let stay = _mm256_srli_epi64::<63>(_mm256_or_si256(xv, mh2));
                score = _mm256_add_epi64(score, _mm256_sub_epi64(ones, stay));
            } else {
                let bit = _mm_cvtsi64_si128(below.clamp(0, 62));
                let hp = _mm256_and_si256(_mm256_srl_epi64(ph, bit), ones);
                let hm = _mm256_and_si256(_mm256_srl_epi64(mh, bit), ones);
                score = _mm256_add_epi64(score, _mm256_sub_epi64(hp, hm));
            }
            vp = _mm256_srli_epi64::<1>(vp2);
            vn = _mm256_srli_epi64::<1>(vn2);
            if below <= WORD_BOTTOM {
                let within = _mm256_cmpgt_epi64(budget_plus1, score);
                plan.answer(_mm256_movemask_pd(_mm256_castsi256_pd(within)) as u32);
            }
            plan.close_finished(j);
            if j.is_multiple_of(CHECK_EVERY) && top >= 0 && plan.open != 0 {
                // lower_bound() in every lane at once: per-byte step counts by nibble lookup, the rise
                // below each byte by a shifted suffix sum, the largest drop by a shifted maximum.
                let mask = _mm256_set1_epi64x(steps_mask::<u64>(below) as i64);
                let (p, n) = (_mm256_and_si256(vp, mask), _mm256_and_si256(vn, mask));
                let byte_ones = |v: __m256i| {
                    let lo = _mm256_and_si256(v, nibble);
                    let hi = _mm256_and_si256(_mm256_srli_epi64::<4>(v), nibble);
                    _mm256_add_epi8(_mm256_shuffle_epi8(popcount4, lo), _mm256_shuffle_epi8(popcount4, hi))
                };
                let (up, down) = (byte_ones(p), byte_ones(n));
                // Inclusive rise from each byte to the tracked row, then the drop bound of each byte.
                let mut rise = _mm256_sub_epi8(up, down);
                rise = _mm256_add_epi8(rise, _mm256_srli_epi64::<8>(rise));
                rise = _mm256_add_epi8(rise, _mm256_srli_epi64::<16>(rise));
                rise = _mm256_add_epi8(rise, _mm256_srli_epi64::<32>(rise));
                let mut drop = _mm256_add_epi8(rise, down);
                drop = _mm256_max_epi8(drop, _mm256_srli_epi64::<8>(drop));
                drop = _mm256_max_epi8(drop, _mm256_srli_epi64::<16>(drop));
                drop = _mm256_max_epi8(drop, _mm256_srli_epi64::<32>(drop));
                let drop = _mm256_and_si256(drop, low_byte);
                let beyond = _mm256_cmpgt_epi64(score, _mm256_add_epi64(budget_vec, drop));
                plan.open &= !(_mm256_movemask_pd(_mm256_castsi256_pd(beyond)) as u32);
            }
        }
        pad_answers(plan.answer)
    }

    /// The narrow scan with one target per 64-bit lane of an AVX-512 vector (eight at once): the steps of
    /// [`BandQuery::scan_avx2`] on wider vectors. A property test holds it to the portable scan's answers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn scan_avx512(&self, targets: &[BandTarget]) -> [bool; MAX_LANES] {
        use std::arch::x86_64::*;
        band_scan_avx512!(self, targets, words512::Feed64, u64, i64, MAX_LANES, WORD_BOTTOM,
            set1: _mm512_set1_epi64, lanes: words512::lanes64, add: _mm512_add_epi64, sub: _mm512_sub_epi64,
            shl: _mm512_slli_epi64, shr: _mm512_srli_epi64, shr_by: _mm512_srl_epi64, gt: _mm512_cmpgt_epi64_mask,
            byte_shifts: [8, 16, 32])
    }

    /// The tight scan with one target per 32-bit lane of an AVX-512 vector (sixteen at once): the steps of
    /// [`BandQuery::scan`] on 32-bit words. A lane's match word is the low half of the 64-bit table entry
    /// of the narrow scan, picked by one in-register permute of the row's sixteen entries narrowed to 32
    /// bits. A property test holds it to the portable scan's answers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn scan_tight_avx512(&self, targets: &[BandTarget]) -> [bool; MAX_TIGHT_LANES] {
        use std::arch::x86_64::*;
        band_scan_avx512!(self, targets, words512::Feed32, u32, i32, MAX_TIGHT_LANES, TIGHT_BAND_ROWS as i64,
            set1: _mm512_set1_epi32, lanes: words512::lanes32, add: _mm512_add_epi32, sub: _mm512_sub_epi32,
            shl: _mm512_slli_epi32, shr: _mm512_srli_epi32, shr_by: _mm512_srl_epi32, gt: _mm512_cmpgt_epi32_mask,
            byte_shifts: [8, 16])
    }

    /// The wide scan with eight targets at once on AVX-512: each target's 128-bit word is split across two
    /// vectors, its low 64 bits in one and its high 64 bits in the other, so the lanes are those of the
    /// narrow kernel ([`BandQuery::scan_avx512`]) and so is the match-word lookup (two in-register
    /// permutes per half); additions and shifts carry from the low vector into the high one. The steps of
    /// [`BandQuery::scan`]; a property test holds it to the portable answers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn scan_wide_avx512(&self, targets: &[BandTarget]) -> [bool; MAX_WIDE_LANES] {
        use std::arch::x86_64::*;
        const BOTTOM: i64 = WIDE_BAND_ROWS as i64;
        let m = self.len as i64;
        let Some(mut plan) = Plan::<MAX_WIDE_LANES>::new(m, BOTTOM, targets) else {
            return [false; MAX_WIDE_LANES];
        };
        let lanes = words512::lanes64;
        let (slots, lead) = (plan.slots, plan.lead);
        let mut top = -1 - plan.u;
        let start = initial_vp::<u128>(plan.u);
        let (mut vp_lo, mut vp_hi) = (_mm512_set1_epi64(start as i64), _mm512_set1_epi64((start >> 64) as i64));
        let (mut vn_lo, mut vn_hi) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let mut score = _mm512_set1_epi64(plan.score0);
        let budget_vec = lanes(plan.budget);
        let budget_plus1 = lanes(plan.budget.map(|b| b + 1));
        let ones = _mm512_set1_epi64(1);
        let all = _mm512_set1_epi64(-1);
        let high = _mm512_set1_epi64(HIGH as i64);
        let mut feed = words512::Feed64::new();
        let mut j = 0usize;
        while plan.open != 0 && j < plan.end {
            top += 1;
            let Some((low_row, high_row)) = self.wide_rows(top) else {
                break;
            };
            if j.is_multiple_of(8) {
                feed.refill(&slots, &lead, j);
            }
            j += 1;
            let (eq_lo, eq_hi) = (feed.match_words(low_row), feed.match_words(high_row));
            feed.advance();
            let vp_hi_in = if top + BOTTOM >= 1 {
                _mm512_or_si512(vp_hi, high)
            } else {
                vp_hi
            };
            let (vp_lo_in, vp_hi_in) = (vp_lo, vp_hi_in);
            let xv_lo = _mm512_or_si512(eq_lo, vn_lo);
            let xv_hi = _mm512_or_si512(eq_hi, vn_hi);
            // sum = (eq & vp) + vp over 128 bits: the low words' carry goes into the high words.
            let (a_lo, a_hi) = (_mm512_and_si512(eq_lo, vp_lo_in), _mm512_and_si512(eq_hi, vp_hi_in));
            let sum_lo = _mm512_add_epi64(a_lo, vp_lo_in);
            let carry = _mm512_cmpgt_epu64_mask(a_lo, sum_lo);
            let sum_hi = _mm512_add_epi64(a_hi, vp_hi_in);
            let sum_hi = _mm512_mask_add_epi64(sum_hi, carry, sum_hi, ones);
            let xh_lo = _mm512_or_si512(_mm512_xor_si512(sum_lo, vp_lo_in), eq_lo);
            let xh_hi = _mm512_or_si512(_mm512_xor_si512(sum_hi, vp_hi_in), eq_hi);
            let ph_lo = _mm512_or_si512(vn_lo, _mm512_andnot_si512(_mm512_or_si512(xh_lo, vp_lo_in), all));
            let ph_hi = _mm512_or_si512(vn_hi, _mm512_andnot_si512(_mm512_or_si512(xh_hi, vp_hi_in), all));
            let (mh_lo, mh_hi) = (_mm512_and_si512(vp_lo_in, xh_lo), _mm512_and_si512(vp_hi_in, xh_hi));
            // 128-bit shifts left by one.
            let shl1 = |lo: __m512i, hi: __m512i| {
                (
                    _mm512_slli_epi64::<1>(lo),
                    _mm512_or_si512(_mm512_slli_epi64::<1>(hi), _mm512_srli_epi64::<63>(lo)),
                )
            };
            let (mut ph2_lo, ph2_hi) = shl1(ph_lo, ph_hi);
            if top >= 2 {
                ph2_lo = _mm512_or_si512(ph2_lo, ones);
            }
            let (mh2_lo, mh2_hi) = shl1(mh_lo, mh_hi);
            let vp2_lo = _mm512_or_si512(mh2_lo, _mm512_andnot_si512(_mm512_or_si512(xv_lo, ph2_lo), all));
            let vp2_hi = _mm512_or_si512(mh2_hi, _mm512_andnot_si512(_mm512_or_si512(xv_hi, ph2_hi), all));
            let (vn2_lo, vn2_hi) = (_mm512_and_si512(ph2_lo, xv_lo), _mm512_and_si512(ph2_hi, xv_hi));
            let below = m - top;
            if below >= BOTTOM {
                // The bottom row's step, 1 − (xv | mh2) at the top bit, as in the narrow kernels.
                let stay = _mm512_srli_epi64::<63>(_mm512_or_si512(xv_hi, mh2_hi));
                score = _mm512_add_epi64(score, _mm512_sub_epi64(ones, stay));
            } else {
                let bit = below.clamp(0, BOTTOM - 1);
                let (hp, hm) = if bit < 64 {
                    let c = _mm_cvtsi64_si128(bit);
                    (_mm512_srl_epi64(ph_lo, c), _mm512_srl_epi64(mh_lo, c))
                } else {
                    let c = _mm_cvtsi64_si128(bit - 64);
                    (_mm512_srl_epi64(ph_hi, c), _mm512_srl_epi64(mh_hi, c))
                };
                score = _mm512_add_epi64(
                    score,
                    _mm512_sub_epi64(_mm512_and_si512(hp, ones), _mm512_and_si512(hm, ones)),
                );
            }
            // 128-bit shifts right by one.
            let shr1 = |lo: __m512i, hi: __m512i| {
                (
                    _mm512_or_si512(_mm512_srli_epi64::<1>(lo), _mm512_slli_epi64::<63>(hi)),
                    _mm512_srli_epi64::<1>(hi),
                )
            };
            (vp_lo, vp_hi) = shr1(vp2_lo, vp2_hi);
            (vn_lo, vn_hi) = shr1(vn2_lo, vn2_hi);
            if below <= BOTTOM {
                plan.answer(u32::from(_mm512_cmpgt_epi64_mask(budget_plus1, score)));
            }
            plan.close_finished(j);
            if j.is_multiple_of(CHECK_EVERY) && top >= 0 && plan.open != 0 {
                plan.open &= !wide512::beyond_budget([vp_lo, vp_hi], [vn_lo, vn_hi], score, budget_vec, below);
            }
        }
        plan.answer
    }

    /// The wide scan ([`BandQuery::scan`] with `u128` words) with one target per 128-bit half of an AVX2
    /// vector: each half holds a target's low and high 64-bit words, and additions and shifts carry from
    /// the low word into the high one. A property test holds it to the portable scan's answers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_wide_avx2(&self, targets: &[BandTarget]) -> [bool; WIDE_LANES] {
        use std::arch::x86_64::*;
        use wide::*;
        const BOTTOM: i64 = WIDE_BAND_ROWS as i64;
        let m = self.len as i64;
        let Some(mut plan) = Plan::<WIDE_LANES>::new(m, BOTTOM, targets) else {
            return [false; WIDE_LANES];
        };
        let (slots, lead) = (plan.slots, plan.lead);
        let mut top = -1 - plan.u;
        let start = initial_vp::<u128>(plan.u);
        let mut vp = pair([start, start]);
        let mut vn = _mm256_setzero_si256();
        let mut score = low_words([plan.score0, plan.score0]);
        let budget_vec = low_words(plan.budget);
        let budget_plus1 = low_words(plan.budget.map(|b| b + 1));
        let ones_low = low_words([1, 1]);
        let low_mask = low_words([-1, -1]);
        let all = _mm256_set1_epi64x(-1);
        let high = _mm256_set_epi64x(HIGH as i64, 0, HIGH as i64, 0);
        let mut j = 0usize;
        while plan.open != 0 && j < plan.end {
            top += 1;
            let Some((low_row, high_row)) = self.wide_rows(top) else {
                break;
            };
            let eqs: [u128; WIDE_LANES] = std::array::from_fn(|l| {
                let s = slot(&slots, &lead, l, j) as usize & (STRIDE - 1);
                u128::from(low_row[s]) | (u128::from(high_row[s]) << 64)
            });
            j += 1;
            let eq = pair(eqs);
            let vp_in = if top + BOTTOM >= 1 {
                _mm256_or_si256(vp, high)
            } else {
                vp
            };
            let xv = _mm256_or_si256(eq, vn);
            let sum = add128(_mm256_and_si256(eq, vp_in), vp_in);
            let xh = _mm256_or_si256(_mm256_xor_si256(sum, vp_in), eq);
            let ph = _mm256_or_si256(vn, _mm256_andnot_si256(_mm256_or_si256(xh, vp_in), all));
            let mh = _mm256_and_si256(vp_in, xh);
            let mut ph2 = shl1(ph);
            if top >= 2 {
                ph2 = _mm256_or_si256(ph2, ones_low);
            }
            let mh2 = shl1(mh);
            let vp2 = _mm256_or_si256(mh2, _mm256_andnot_si256(_mm256_or_si256(xv, ph2), all));
            let vn2 = _mm256_and_si256(ph2, xv);
            let below = m - top;
            if below >= BOTTOM {
                // The bottom row's step, 1 − (xv | mh2) at bit 127 (see `band_scan_avx512`), moved from the
                // high word to the low one, where the score is.
                let stay = _mm256_bsrli_epi128::<8>(_mm256_srli_epi64::<63>(_mm256_or_si256(xv, mh2)));
                score = _mm256_add_epi64(score, _mm256_sub_epi64(ones_low, stay));
            } else {
                let bit = below.clamp(0, BOTTOM - 1);
                let (hp, hm) = if bit < 64 {
                    let c = _mm_cvtsi64_si128(bit);
                    (_mm256_srl_epi64(ph, c), _mm256_srl_epi64(mh, c))
                } else {
                    let c = _mm_cvtsi64_si128(bit - 64);
                    (
                        _mm256_bsrli_epi128::<8>(_mm256_srl_epi64(ph, c)),
                        _mm256_bsrli_epi128::<8>(_mm256_srl_epi64(mh, c)),
                    )
                };
                let dh = _mm256_sub_epi64(_mm256_and_si256(hp, ones_low), _mm256_and_si256(hm, ones_low));
                score = _mm256_add_epi64(score, dh);
            }
            vp = shr1(vp2);
            vn = shr1(vn2);
            if below <= BOTTOM {
                let within = _mm256_and_si256(_mm256_cmpgt_epi64(budget_plus1, score), low_mask);
                plan.answer(low_lane_bits(within));
            }
            plan.close_finished(j);
            if j.is_multiple_of(CHECK_EVERY) && top >= 0 && plan.open != 0 {
                plan.open &= !beyond_budget(vp, vn, score, budget_vec, below);
            }
        }
        [plan.answer[0], plan.answer[1]]
    }

    /// The band scan of up to `N` targets in lock step, the portable reference of the vector
    /// version.
    ///
    /// The lanes share one clock: a lane whose band sits lower (smaller `max_diag`) starts that many
    /// columns late, fed non-matching columns until then, which leave its column-0 values unchanged (every
    /// row `i` stays at `i`). So every lane's word covers the same query rows at every step, and the rows,
    /// the match-table row and the tracked-row arithmetic are shared.
    #[inline(always)]
    fn scan<W: Word, const N: usize>(&self, targets: &[BandTarget]) -> [bool; N] {
        let m = self.len as i64;
        let bottom = W::BITS as i64 - 1; // the word's bottom row, relative to the row before its top
        let Some(mut plan) = Plan::<N>::new(m, bottom, targets) else {
            return [false; N];
        };
        let high = W::ONE << (W::BITS - 1);
        let mut top = -1 - plan.u;
        let mut score = [plan.score0; N];
        let mut vp = [initial_vp::<W>(plan.u); N];
        let mut vn = [W::ZERO; N];
        let mut j = 0usize;
        while plan.open != 0 && j < plan.end {
            top += 1;
            let eq: [W; N] = std::array::from_fn(|l| {
                W::match_word(
                    &self.table,
                    top,
                    m,
                    slot(&plan.slots, &plan.lead, l, j) as usize & (STRIDE - 1),
                )
            });
            j += 1;
            let new_bottom = if top + bottom >= 1 { high } else { W::ZERO };
            let hin_pos = if top >= 2 { W::ONE } else { W::ZERO };
            let below = m - top; // ≥ 1 for every open lane: the last query row is still in the word
            let bit = below.clamp(0, bottom - 1) as u32;
            let moving = below >= bottom;
            for l in 0..N {
                let vp_in = vp[l] | new_bottom;
                let xv = eq[l] | vn[l];
                let xh = ((eq[l] & vp_in).wrapping_add(vp_in) ^ vp_in) | eq[l];
                let ph = vn[l] | !(xh | vp_in);
                let mh = vp_in & xh;
                let ph2 = (ph << 1) | hin_pos;
                let mh2 = mh << 1;
                let vp2 = mh2 | !(xv | ph2);
                let vn2 = ph2 & xv;
                score[l] += ph.bit(bit) - mh.bit(bit);
                if moving {
                    score[l] += vp2.bit(W::BITS - 1) - vn2.bit(W::BITS - 1);
                }
                vp[l] = vp2 >> 1;
                vn[l] = vn2 >> 1;
            }
            if below <= bottom {
                let within = (0..N)
                    .filter(|&l| score[l] <= plan.budget[l])
                    .fold(0u32, |b, l| b | 1 << l);
                plan.answer(within);
            }
            plan.close_finished(j);
            // Past the band's first column no alignment can start any more: a lane none of whose cells
            // can still be within budget is done.
            if j.is_multiple_of(CHECK_EVERY) && top >= 0 {
                for l in 0..N {
                    if plan.open & (1 << l) != 0 && lower_bound(vp[l], vn[l], score[l], below) > plan.budget[l] {
                        plan.open &= !(1 << l);
                    }
                }
            }
        }
        plan.answer
    }
}

/// The answers of `N` lanes as `M`, false beyond the first `N`.
fn pad_answers<const N: usize, const M: usize>(answers: [bool; N]) -> [bool; M] {
    std::array::from_fn(|l| answers.get(l).copied().unwrap_or(false))
}

/// Where the [`BandQuery`] table row of the 64-bit word whose top row is `top` starts (query length `m`):
/// words wholly above the query all read the first virtual row, words below it the row after its end.
#[inline(always)]
fn narrow_row(top: i64, m: i64) -> usize {
    (top.clamp(-64, m + 1) + LEAD) as usize * STRIDE
}

/// [`narrow_row`] for the low half of a 128-bit word; its high half is 64 rows (`64 * STRIDE` entries) on.
#[inline(always)]
fn wide_row(top: i64, m: i64) -> usize {
    (top.clamp(-128, m + 1) + LEAD) as usize * STRIDE
}

/// The slot lane `l` reads at step `j` (0-based): 0 before its first column and past its target.
#[inline(always)]
fn slot<const N: usize>(slots: &[&[u8]; N], lead: &[usize; N], l: usize, j: usize) -> u8 {
    slots[l].get(j.wrapping_sub(lead[l])).copied().unwrap_or(0)
}

/// The slots lane `l` reads at steps `j..j + 8`, one byte each, the first lowest.
#[inline(always)]
fn slot_block<const N: usize>(slots: &[&[u8]; N], lead: &[usize; N], l: usize, j: usize) -> i64 {
    let slots = slots[l];
    if let Some(bytes) = j
        .checked_sub(lead[l])
        .and_then(|start| slots.get(start..)?.first_chunk::<8>())
    {
        return i64::from_le_bytes(*bytes);
    }
    // Before the lane's first column or near its end: slot 0 where it has none.
    let mut bytes = [0u8; 8];
    for (c, b) in bytes.iter_mut().enumerate() {
        if let Some(&s) = (j + c).checked_sub(lead[l]).and_then(|p| slots.get(p)) {
            *b = s;
        }
    }
    i64::from_le_bytes(bytes)
}

/// What every kernel works out before its first column: the shared clock, each lane's wait, last step
/// and budget, and the lanes that already answered at column 0.
struct Plan<'t, const N: usize> {
    /// The highest band's top diagonal: the word's top row starts at `−1 − u`.
    u: i64,
    /// Steps each lane waits before its first column (fed slot 0, which matches no query row).
    lead: [usize; N],
    /// The step of each lane's last column (the last query row leaves the word after step `m + u`).
    last: [usize; N],
    /// Edit budget per lane (−1 for a missing lane).
    budget: [i64; N],
    slots: [&'t [u8]; N],
    /// The tracked row's value at column 0 (rows above row 1 are 0, row `i` is `i`).
    score0: i64,
    /// Lanes still scanning, one bit each.
    open: u32,
    answer: [bool; N],
    /// Steps the scan may take.
    end: usize,
    /// The first step at which an open lane reaches its last column.
    next_close: usize,
}

impl<'t, const N: usize> Plan<'t, N> {
    /// The plan for up to `N` of `targets` (query length `m`, word bottom row `bottom`), or `None` for none.
    fn new(m: i64, bottom: i64, targets: &[BandTarget<'t>]) -> Option<Self> {
        let targets = &targets[..targets.len().min(N)];
        let u = targets.iter().map(|t| t.max_diag as i64).max()?;
        let lead: [usize; N] = std::array::from_fn(|l| targets.get(l).map_or(0, |t| (u - t.max_diag as i64) as usize));
        let last: [usize; N] = std::array::from_fn(|l| {
            targets
                .get(l)
                .map_or(0, |t| ((t.slots.len() + lead[l]) as i64).min(m + u).max(0) as usize)
        });
        let budget: [i64; N] = std::array::from_fn(|l| targets.get(l).map_or(-1, |t| t.max_dist as i64));
        let top = -1 - u;
        let score0 = m.min(top + bottom).max(0);
        let mut plan = Plan {
            u,
            lead,
            last,
            budget,
            slots: std::array::from_fn(|l| targets.get(l).map_or(&[][..], |t| t.slots)),
            score0,
            open: 0,
            answer: [false; N],
            end: last.iter().copied().max().unwrap_or(0),
            next_close: 0,
        };
        for l in 0..targets.len() {
            // The last query row is already in the word at column 0 (tiny queries) and within budget.
            if m - top <= bottom && score0 <= budget[l] {
                plan.answer[l] = true;
            } else if last[l] > 0 {
                plan.open |= 1 << l;
            }
        }
        plan.next_close = plan.first_close();
        Some(plan)
    }

    /// Lanes among `within` (bits) that are open have answered true and stop.
    #[inline(always)]
    fn answer(&mut self, within: u32) {
        let hits = within & self.open;
        if hits != 0 {
            for (l, a) in self.answer.iter_mut().enumerate().take(N) {
                if hits & (1 << l) != 0 {
                    *a = true;
                }
            }
            self.open &= !hits;
        }
    }

    /// Closes the lanes whose last column was step `j` (1-based).
    #[inline(always)]
    fn close_finished(&mut self, j: usize) {
        if j >= self.next_close {
            for (l, &last) in self.last.iter().enumerate() {
                if j >= last {
                    self.open &= !(1 << l);
                }
            }
            self.next_close = self.first_close();
        }
    }

    fn first_close(&self) -> usize {
        (0..N)
            .filter(|l| self.open & (1 << l) != 0)
            .map(|l| self.last[l])
            .min()
            .unwrap_or(usize::MAX)
    }
}

/// A column word: `u64` for [`BAND_ROWS`] diagonals, `u128` for [`WIDE_BAND_ROWS`].
trait Word:
    Copy
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
{
    const BITS: u32;
    const ZERO: Self;
    const ONE: Self;
    fn wrapping_add(self, other: Self) -> Self;
    /// Bit `i` as 0 or 1.
    fn bit(self, i: u32) -> i64;
    /// Set bits among bits `8i .. 8i + 8`.
    fn byte_ones(self, i: u32) -> i64;
    /// The match word of `slot` whose top row is `top`, from a [`BandQuery`] table (query length `m`).
    fn match_word(table: &[u64], top: i64, m: i64, slot: usize) -> Self;
}

/// The [`Word`] items every unsigned integer word implements alike.
macro_rules! word_basics {
    () => {
        const BITS: u32 = Self::BITS;
        const ZERO: Self = 0;
        const ONE: Self = 1;
        #[inline(always)]
        fn wrapping_add(self, other: Self) -> Self {
            Self::wrapping_add(self, other)
        }
        #[inline(always)]
        fn bit(self, i: u32) -> i64 {
            ((self >> i) & 1) as i64
        }
        #[inline(always)]
        fn byte_ones(self, i: u32) -> i64 {
            ((self >> (8 * i)) & 0xff).count_ones() as i64
        }
    };
}

impl Word for u64 {
    word_basics!();
    #[inline(always)]
    fn match_word(table: &[u64], top: i64, m: i64, slot: usize) -> Self {
        let row = narrow_row(top, m);
        table.get(row + slot).copied().unwrap_or(0)
    }
}

impl Word for u32 {
    word_basics!();
    /// The low half of the 64-bit word with the same top row (rows above `−64` are all virtual, like the
    /// first 32 rows of the clamped row's word).
    #[inline(always)]
    fn match_word(table: &[u64], top: i64, m: i64, slot: usize) -> Self {
        let row = narrow_row(top, m);
        table.get(row + slot).copied().unwrap_or(0) as u32
    }
}

impl Word for u128 {
    word_basics!();
    #[inline(always)]
    fn match_word(table: &[u64], top: i64, m: i64, slot: usize) -> Self {
        let row = wide_row(top, m);
        let half = |r: usize| u128::from(table.get(r + slot).copied().unwrap_or(0));
        half(row) | (half(row + 64 * STRIDE) << 64)
    }
}

/// The wide kernel's vector lower-bound test against [`lower_bound`] on the same words, for tests: the
/// vector answer for (vp, vn, score, budget) pairs; `None` without AVX2.
#[doc(hidden)]
pub fn wide_beyond_budget_for_tests(words: [(u128, u128, i64, i64); 2], below: i64) -> Option<[bool; 2]> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            #[allow(unsafe_code)]
            // SAFETY: the CPU supports AVX2 (checked just above).
            let bits = unsafe {
                wide::beyond_budget(
                    wide::pair([words[0].0, words[1].0]),
                    wide::pair([words[0].1, words[1].1]),
                    wide::low_words([words[0].2, words[1].2]),
                    wide::low_words([words[0].3, words[1].3]),
                    below,
                )
            };
            return Some([bits & 1 != 0, bits & 2 != 0]);
        }
    }
    let _ = (words, below);
    None
}

/// The AVX-512 wide kernel's lower-bound test, like [`wide_beyond_budget_for_tests`]; `None` without
/// AVX-512.
#[doc(hidden)]
pub fn wide512_beyond_budget_for_tests(
    words: [(u128, u128, i64, i64); MAX_WIDE_LANES],
    below: i64,
) -> Option<[bool; MAX_WIDE_LANES]> {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            use std::arch::x86_64::*;
            let half = |v: [u128; MAX_WIDE_LANES], h: u32| {
                let w = v.map(|x| (x >> (64 * h)) as i64);
                #[allow(unsafe_code)]
                // SAFETY: the CPU supports AVX-512 F (checked just above).
                unsafe {
                    _mm512_set_epi64(w[7], w[6], w[5], w[4], w[3], w[2], w[1], w[0])
                }
            };
            let lanes = |v: [i64; MAX_WIDE_LANES]| {
                #[allow(unsafe_code)]
                // SAFETY: as above.
                unsafe {
                    _mm512_set_epi64(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0])
                }
            };
            let (vp, vn) = (words.map(|w| w.0), words.map(|w| w.1));
            #[allow(unsafe_code)]
            // SAFETY: the CPU supports AVX-512 F and BW (checked just above).
            let bits = unsafe {
                wide512::beyond_budget(
                    [half(vp, 0), half(vp, 1)],
                    [half(vn, 0), half(vn, 1)],
                    lanes(words.map(|w| w.2)),
                    lanes(words.map(|w| w.3)),
                    below,
                )
            };
            return Some(std::array::from_fn(|i| bits & (1 << i) != 0));
        }
    }
    let _ = (words, below);
    None
}

/// [`lower_bound`] for tests.
#[doc(hidden)]
pub fn wide_lower_bound_for_tests(vp: u128, vn: u128, score: i64, below: i64) -> i64 {
    lower_bound(vp, vn, score, below)
}

/// `row[slot & 15]` in every 64-bit lane, where `block`'s low byte in each lane is its slot, from registers: one
/// two-table permute picks among the 16 entries by the low four bits (eight scalar loads with their bounds
/// checks cost as much as the bit-parallel step).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn pick_match_words(row: &[u64; STRIDE], block: std::arch::x86_64::__m512i) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let half = |h: usize| {
        #[allow(unsafe_code)]
        // SAFETY: `row` holds STRIDE = 16 u64s, so half h < 2 reads 8 of them in bounds; unaligned loads have
        // no other requirement.
        unsafe {
            _mm512_loadu_si512(row.as_ptr().add(8 * h).cast())
        }
    };
    _mm512_permutex2var_epi64(half(0), block, half(1))
}

/// The body of the AVX-512 band kernels on `$word` words (64-bit: eight lanes; 32-bit: sixteen), the steps
/// of [`BandQuery::scan`] written with the vector instructions of that element width; `$feed` hands each
/// lane its match word (see [`words512`]). Expanded inside a function with AVX-512 F and BW enabled.
#[cfg(target_arch = "x86_64")]
macro_rules! band_scan_avx512 {
    ($band:expr, $targets:expr, $feed:ty, $word:ty, $elem:ty, $n:expr, $bottom:expr,
     set1: $set1:ident, lanes: $lanes:path, add: $add:ident, sub: $sub:ident, shl: $shl:ident, shr: $shr:ident,
     shr_by: $shr_by:ident, gt: $gt:ident, byte_shifts: [$($shift:literal),*]) => {{
        const BOTTOM: i64 = $bottom;
        const TOP_BIT: u32 = <$word>::BITS - 1;
        let band: &BandQuery = $band;
        let m = band.len as i64;
        let Some(mut plan) = Plan::<{ $n }>::new(m, BOTTOM, $targets) else {
            return [false; $n];
        };
        // Kept out of `plan`, which the loop mutates, so they stay in registers.
        let (slots, lead) = (plan.slots, plan.lead);
        let mut top = -1 - plan.u;
        let mut vp = $set1(initial_vp::<$word>(plan.u) as $elem);
        let mut vn = _mm512_setzero_si512();
        let mut score = $set1(plan.score0 as $elem);
        let budget_vec = $lanes(plan.budget);
        let budget_plus1 = $lanes(plan.budget.map(|b| b + 1));
        let ones = $set1(1);
        let all = $set1(-1);
        let high = $set1(<$elem>::MIN);
        let low_byte = $set1(0xff);
        let nibble = _mm512_set1_epi8(0x0f);
        let popcount4 = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        let mut feed = <$feed>::new();
        let mut j = 0usize;
        while plan.open != 0 && j < plan.end {
            top += 1;
            let row = narrow_row(top, m);
            let Some(eq_row) = band
                .table
                .get(row..row + STRIDE)
                .and_then(|r| <&[u64; STRIDE]>::try_from(r).ok())
            else {
                break;
            };
            if j.is_multiple_of(8) {
                feed.refill(&slots, &lead, j);
            }
            j += 1;
            let eq = feed.match_words(eq_row);
            feed.advance();
            let vp_in = if top + BOTTOM >= 1 { _mm512_or_si512(vp, high) } else { vp };
            let xv = _mm512_or_si512(eq, vn);
            let sum = $add(_mm512_and_si512(eq, vp_in), vp_in);
            let xh = _mm512_or_si512(_mm512_xor_si512(sum, vp_in), eq);
            let ph = _mm512_or_si512(vn, _mm512_andnot_si512(_mm512_or_si512(xh, vp_in), all));
            let mh = _mm512_and_si512(vp_in, xh);
            let mut ph2 = $shl::<1>(ph);
            if top >= 2 {
                ph2 = _mm512_or_si512(ph2, ones);
            }
            let mh2 = $shl::<1>(mh);
            let vp2 = _mm512_or_si512(mh2, _mm512_andnot_si512(_mm512_or_si512(xv, ph2), all));
            let vn2 = _mm512_and_si512(ph2, xv);
            let below = m - top;
            if below >= BOTTOM {
                // The tracked row is the word's bottom row, one row further down each column: its change is
                // the horizontal step of the row above plus the vertical step into it, which from the
                // definitions of `vp2` and `vn2` comes to 1 − (xv | mh2) at the top bit.
                let stay = $shr::<TOP_BIT>(_mm512_or_si512(xv, mh2));
                score = $add(score, $sub(ones, stay));
            } else {
                // The tracked row is the last query row, `below` rows into the word: its horizontal step.
                let bit = _mm_cvtsi64_si128(below.clamp(0, BOTTOM - 1));
                let hp = _mm512_and_si512($shr_by(ph, bit), ones);
                let hm = _mm512_and_si512($shr_by(mh, bit), ones);
                score = $add(score, $sub(hp, hm));
            }
            vp = $shr::<1>(vp2);
            vn = $shr::<1>(vn2);
            if below <= BOTTOM {
                plan.answer(u32::from($gt(budget_plus1, score)));
            }
            plan.close_finished(j);
            if j.is_multiple_of(CHECK_EVERY) && top >= 0 && plan.open != 0 {
                // lower_bound() in every lane: per-byte step counts by nibble lookup, the rise below each
                // byte by a shifted suffix sum within the lane, the largest drop by a shifted maximum.
                let mask = $set1(steps_mask::<$word>(below) as $elem);
                let (p, n) = (_mm512_and_si512(vp, mask), _mm512_and_si512(vn, mask));
                let byte_ones = |v: __m512i| {
                    let lo = _mm512_and_si512(v, nibble);
                    let hi = _mm512_and_si512($shr::<4>(v), nibble);
                    _mm512_add_epi8(_mm512_shuffle_epi8(popcount4, lo), _mm512_shuffle_epi8(popcount4, hi))
                };
                let (up, down) = (byte_ones(p), byte_ones(n));
                let mut rise = _mm512_sub_epi8(up, down);
                $(rise = _mm512_add_epi8(rise, $shr::<$shift>(rise));)*
                let mut drop = _mm512_add_epi8(rise, down);
                $(drop = _mm512_max_epi8(drop, $shr::<$shift>(drop));)*
                let drop = _mm512_and_si512(drop, low_byte);
                plan.open &= !u32::from($gt(score, $add(budget_vec, drop)));
            }
        }
        plan.answer
    }};
}
#[cfg(target_arch = "x86_64")]
use band_scan_avx512;

/// What differs between the AVX-512 band kernels besides the element width: how each lane's slots reach its
/// lane and pick its match word from the row's sixteen 64-bit table entries.
#[cfg(target_arch = "x86_64")]
mod words512 {
    use super::{slot_block, STRIDE};
    use std::arch::x86_64::*;

    /// Eight 64-bit lanes from their values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn lanes64(v: [i64; 8]) -> __m512i {
        _mm512_set_epi64(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0])
    }

    /// Sixteen 32-bit lanes from their values (clamped to 32 bits: budgets and -1 for a missing lane).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn lanes32(v: [i64; 16]) -> __m512i {
        let mut w = [0i32; 16];
        for (w, x) in w.iter_mut().zip(v) {
            *w = x.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        }
        let v = w;
        _mm512_set_epi32(
            v[15], v[14], v[13], v[12], v[11], v[10], v[9], v[8], v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0],
        )
    }

    /// Slots of eight 64-bit lanes: the next eight columns' slots of each lane, one byte each, the current
    /// one lowest.
    pub(super) struct Feed64 {
        block: __m512i,
    }

    impl Feed64 {
        /// No slots yet (the first step refills).
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn new() -> Self {
            Feed64 {
                block: _mm512_setzero_si512(),
            }
        }

        /// Loads steps `j..j + 8` of every lane.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn refill(&mut self, slots: &[&[u8]; 8], lead: &[usize; 8], j: usize) {
            // Lane by lane into registers: eight scalar stores read back as one vector stall the store
            // forwarding (8 % of the kernel).
            let at = |l: usize| slot_block(slots, lead, l, j);
            self.block = _mm512_set_epi64(at(7), at(6), at(5), at(4), at(3), at(2), at(1), at(0));
        }

        /// `row[slot]` in every lane (see [`super::pick_match_words`]).
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        pub(super) fn match_words(&self, row: &[u64; STRIDE]) -> __m512i {
            super::pick_match_words(row, self.block)
        }

        /// On to the next step's slots.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn advance(&mut self) {
            self.block = _mm512_srli_epi64::<8>(self.block);
        }
    }

    /// Slots of sixteen 32-bit lanes, held as two vectors of eight 64-bit lanes like [`Feed64`]'s (lanes 0–7
    /// and 8–15); their even 32-bit halves, interleaved, put each lane's current slot in its lowest byte.
    pub(super) struct Feed32 {
        low: __m512i,
        high: __m512i,
    }

    impl Feed32 {
        /// No slots yet (the first step refills).
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn new() -> Self {
            Feed32 {
                low: _mm512_setzero_si512(),
                high: _mm512_setzero_si512(),
            }
        }

        /// Loads steps `j..j + 8` of every lane.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn refill(&mut self, slots: &[&[u8]; 16], lead: &[usize; 16], j: usize) {
            // Lane by lane into registers, as in `Feed64::refill`.
            let at = |l: usize| slot_block(slots, lead, l, j);
            self.low = _mm512_set_epi64(at(7), at(6), at(5), at(4), at(3), at(2), at(1), at(0));
            self.high = _mm512_set_epi64(at(15), at(14), at(13), at(12), at(11), at(10), at(9), at(8));
        }

        /// The low half of `row[slot]` in every lane: the row's entries narrowed to 32 bits, permuted by
        /// each lane's slot (its lowest four bits).
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        pub(super) fn match_words(&self, row: &[u64; STRIDE]) -> __m512i {
            let even_halves = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let slots = _mm512_permutex2var_epi32(self.low, even_halves, self.high);
            let half = |h: usize| {
                #[allow(unsafe_code)]
                // SAFETY: `row` holds STRIDE = 16 u64s, so half h < 2 reads 8 of them in bounds; unaligned
                // loads have no other requirement.
                unsafe {
                    _mm512_cvtepi64_epi32(_mm512_loadu_si512(row.as_ptr().add(8 * h).cast()))
                }
            };
            let words = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half(0)), half(1));
            _mm512_permutexvar_epi32(slots, words)
        }

        /// On to the next step's slots.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn advance(&mut self) {
            self.low = _mm512_srli_epi64::<8>(self.low);
            self.high = _mm512_srli_epi64::<8>(self.high);
        }
    }
}

/// AVX-512 helpers of the wide scan: eight 128-bit words as two vectors, the low 64-bit halves and the high.
#[cfg(target_arch = "x86_64")]
mod wide512 {
    use std::arch::x86_64::*;

    /// One bit per lane: whether `lower_bound` of its word (`[low, high]` halves) exceeds its budget, as in
    /// the AVX2 helper: the per-byte steps of the low half's bytes rise by the high half's whole total.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn beyond_budget(
        vp: [__m512i; 2],
        vn: [__m512i; 2],
        score: __m512i,
        budget: __m512i,
        below: i64,
    ) -> u32 {
        let steps = super::steps_mask::<u128>(below);
        let masks = [_mm512_set1_epi64(steps as i64), _mm512_set1_epi64((steps >> 64) as i64)];
        let nibble = _mm512_set1_epi8(0x0f);
        let popcount4 = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        let byte_ones = |v: __m512i| {
            let lo = _mm512_and_si512(v, nibble);
            let hi = _mm512_and_si512(_mm512_srli_epi64::<4>(v), nibble);
            _mm512_add_epi8(_mm512_shuffle_epi8(popcount4, lo), _mm512_shuffle_epi8(popcount4, hi))
        };
        // Per half: the inclusive rise from each byte to the half's last byte.
        let rise_and_down = |h: usize| {
            let up = byte_ones(_mm512_and_si512(vp[h], masks[h]));
            let down = byte_ones(_mm512_and_si512(vn[h], masks[h]));
            let mut rise = _mm512_sub_epi8(up, down);
            rise = _mm512_add_epi8(rise, _mm512_srli_epi64::<8>(rise));
            rise = _mm512_add_epi8(rise, _mm512_srli_epi64::<16>(rise));
            rise = _mm512_add_epi8(rise, _mm512_srli_epi64::<32>(rise));
            (rise, down)
        };
        let (rise_lo, down_lo) = rise_and_down(0);
        let (rise_hi, down_hi) = rise_and_down(1);
        // The high half's total (its first byte) added to every byte of the low half.
        let first_byte = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8));
        let rise_lo = _mm512_add_epi8(rise_lo, _mm512_shuffle_epi8(rise_hi, first_byte));
        let max_bytes = |mut d: __m512i| {
            d = _mm512_max_epi8(d, _mm512_srli_epi64::<8>(d));
            d = _mm512_max_epi8(d, _mm512_srli_epi64::<16>(d));
            _mm512_max_epi8(d, _mm512_srli_epi64::<32>(d))
        };
        let drop = _mm512_max_epi8(
            max_bytes(_mm512_add_epi8(rise_lo, down_lo)),
            max_bytes(_mm512_add_epi8(rise_hi, down_hi)),
        );
        let drop = _mm512_and_si512(drop, _mm512_set1_epi64(0xff));
        u32::from(_mm512_cmpgt_epi64_mask(score, _mm512_add_epi64(budget, drop)))
    }
}

/// AVX2 helpers of the wide scan: two 128-bit words per vector, low 64-bit word first in each half.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::*;

    /// Two 128-bit words.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn pair(v: [u128; 2]) -> __m256i {
        _mm256_set_epi64x((v[1] >> 64) as i64, v[1] as i64, (v[0] >> 64) as i64, v[0] as i64)
    }

    /// Two 64-bit values in the low words, zero in the high ones.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn low_words(v: [i64; 2]) -> __m256i {
        _mm256_set_epi64x(0, v[1], 0, v[0])
    }

    /// One bit per half: whether its low word is all ones (a comparison result).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn low_lane_bits(v: __m256i) -> u32 {
        let bits = _mm256_movemask_pd(_mm256_castsi256_pd(v)) as u32;
        (bits & 1) | ((bits >> 1) & 2)
    }

    /// 128-bit addition in each half: the low words' unsigned carry goes into the high words.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn add128(a: __m256i, b: __m256i) -> __m256i {
        let sum = _mm256_add_epi64(a, b);
        let sign = _mm256_set1_epi64x(i64::MIN);
        // Unsigned a > sum exactly when the 64-bit addition wrapped.
        let wrapped = _mm256_cmpgt_epi64(_mm256_xor_si256(a, sign), _mm256_xor_si256(sum, sign));
        let carry = _mm256_bslli_epi128::<8>(_mm256_and_si256(wrapped, _mm256_set1_epi64x(1)));
        _mm256_add_epi64(sum, carry)
    }

    /// 128-bit shift left by one in each half.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn shl1(x: __m256i) -> __m256i {
        _mm256_or_si256(
            _mm256_slli_epi64::<1>(x),
            _mm256_bslli_epi128::<8>(_mm256_srli_epi64::<63>(x)),
        )
    }

    /// 128-bit shift right by one in each half.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn shr1(x: __m256i) -> __m256i {
        _mm256_or_si256(
            _mm256_srli_epi64::<1>(x),
            _mm256_bsrli_epi128::<8>(_mm256_slli_epi64::<63>(x)),
        )
    }

    /// One bit per half: whether `lower_bound` of its word exceeds its budget (both in the low words).
    /// Per-byte step counts, then suffix sums and maxima over the 16 bytes of each half (byte shifts stay
    /// inside a half).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn beyond_budget(vp: __m256i, vn: __m256i, score: __m256i, budget: __m256i, below: i64) -> u32 {
        let steps = super::steps_mask::<u128>(below);
        let mask = pair([steps, steps]);
        let (up, down) = (
            byte_ones(_mm256_and_si256(vp, mask)),
            byte_ones(_mm256_and_si256(vn, mask)),
        );
        let mut rise = _mm256_sub_epi8(up, down);
        rise = _mm256_add_epi8(rise, _mm256_bsrli_epi128::<1>(rise));
        rise = _mm256_add_epi8(rise, _mm256_bsrli_epi128::<2>(rise));
        rise = _mm256_add_epi8(rise, _mm256_bsrli_epi128::<4>(rise));
        rise = _mm256_add_epi8(rise, _mm256_bsrli_epi128::<8>(rise));
        let mut drop = _mm256_add_epi8(rise, down);
        drop = _mm256_max_epi8(drop, _mm256_bsrli_epi128::<1>(drop));
        drop = _mm256_max_epi8(drop, _mm256_bsrli_epi128::<2>(drop));
        drop = _mm256_max_epi8(drop, _mm256_bsrli_epi128::<4>(drop));
        drop = _mm256_max_epi8(drop, _mm256_bsrli_epi128::<8>(drop));
        let drop = _mm256_and_si256(drop, low_words([0xff, 0xff]));
        let beyond = _mm256_cmpgt_epi64(score, _mm256_add_epi64(budget, drop));
        low_lane_bits(_mm256_and_si256(beyond, low_words([-1, -1])))
    }

    /// Set bits of every byte.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn byte_ones(v: __m256i) -> __m256i {
        let nibble = _mm256_set1_epi8(0x0f);
        let popcount4 = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let lo = _mm256_and_si256(v, nibble);
        let hi = _mm256_and_si256(_mm256_srli_epi64::<4>(v), nibble);
        _mm256_add_epi8(_mm256_shuffle_epi8(popcount4, lo), _mm256_shuffle_epi8(popcount4, hi))
    }
}

/// Vertical deltas of column 0 for a band whose highest diagonal is `u`: +1 from row 1 down, 0 for
/// the virtual rows above it (bit `r` is row `r − u`; the word's top bit is the entering row, left 0).
fn initial_vp<W: Word>(u: i64) -> W {
    if u + 1 >= W::BITS as i64 - 1 {
        W::ZERO
    } else {
        (!W::ZERO << (u as u32 + 1)) & !(W::ONE << (W::BITS - 1))
    }
}

/// A lower bound on every value in the word from its top row down to the tracked row (the last query
/// row or the word's bottom row, value `score`), when `below` = last query row minus the row before the
/// word's top. Walking up from the tracked row one byte (8 rows) at a time, the value at each byte's last
/// row is exact, and no row in the byte is lower than that minus the byte's +1 steps.
#[inline(always)]
fn lower_bound<W: Word>(vp: W, vn: W, score: i64, below: i64) -> i64 {
    let mask = steps_mask::<W>(below);
    let (p, n) = (vp & mask, vn & mask);
    let mut lowest = score;
    let mut rise = 0i64; // value of the tracked row minus the value at the current byte's last row
    for byte in (0..W::BITS / 8).rev() {
        let up = p.byte_ones(byte);
        let down = n.byte_ones(byte);
        lowest = lowest.min(score - rise - up);
        rise += up - down;
    }
    lowest
}

/// The vertical steps that separate the word's rows from the tracked row: bit `b` holds the step into
/// row `top + 1 + b`; the tracked row is at bit `min(below, BITS − 1) − 1`, and the step into the top row
/// comes from outside the word.
#[inline(always)]
fn steps_mask<W: Word>(below: i64) -> W {
    !(!W::ZERO << below.clamp(1, W::BITS as i64 - 1) as u32) & !W::ONE
}

/// Bits `r` = query position `p + r` (0-based) of one Peq slot: 1 above the query, 0 below it. The
/// definition [`BandQuery::rebuild`]'s row-by-row recurrence is tested against.
#[cfg(test)]
fn window_bits(words: &[u64], m: usize, p: i64) -> u64 {
    if p <= -64 {
        return !0;
    }
    if p >= m as i64 {
        return 0;
    }
    let word = |i: usize| words.get(i).copied().unwrap_or(0);
    let bits = if p < 0 {
        let lead = (-p) as u32;
        (word(0) << lead) | ((1u64 << lead) - 1)
    } else {
        let (w, s) = (p as usize / 64, p as usize % 64);
        let hi = if s == 0 { 0 } else { word(w + 1) << (64 - s) };
        (word(w) >> s) | hi
    };
    // Rows past the query end never match (the wildcard slot has them set in `peq`).
    let real = m as i64 - p;
    if real < 64 {
        bits & ((1u64 << real) - 1)
    } else {
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every entry of the table, built by shifting one row into the next, is the window of Peq bits it
        /// stands for, also when the table of a longer query is rebuilt in place.
        #[test]
        fn table_rows_are_peq_windows(
            first in proptest::collection::vec(prop::sample::select(b"ACGTNRYKMSWBDHV".to_vec()), 0..300),
            second in proptest::collection::vec(prop::sample::select(b"ACGTNRYKMSWBDHV".to_vec()), 0..300),
        ) {
            let mut band = BandQuery::new(&MyersQuery::new(&first));
            for query in [&first, &second] {
                let mq = MyersQuery::new(query);
                band.rebuild(&mq);
                let m = query.len();
                prop_assert_eq!(band.table.len(), (m + LEAD as usize + TAIL) * STRIDE);
                for (row, entries) in band.table.chunks(STRIDE).enumerate() {
                    for (slot, &entry) in entries.iter().enumerate() {
                        let source = if slot == PAD_SLOT as usize { PAD } else { slot };
                        let words = &mq.peq[source * mq.blocks..(source + 1) * mq.blocks];
                        prop_assert_eq!(entry, window_bits(words, m, row as i64 - LEAD - 1), "row {} slot {}", row, slot);
                    }
                }
            }
        }
    }
}
