//! The positional seed filter: which query minimizers a target lacks, and how many edits that takes.
//!
//! The index stores every minimizer of every target, and minimizers depend only on a window's content. So
//! when a whole query window (`w` consecutive k-mers, `w + k − 1` bases) lies inside an alignment without an
//! edit, the target holds the same window and the window's minimizer is one of the target's: that query
//! position is a seed. Turned around: every query window whose minimizer is *not* a seed of a target holds an
//! edit of any alignment to that target (or lies where the query may hang off the target). The fewest edits
//! that can touch all those windows is a lower bound on the edit distance; since the windows all have the same
//! length, the greedy stabbing of the leftmost open window at its end gives that minimum exactly.
//!
//! This counts *where* seeds are missing, not just how many: a homolog that shares a few seeds but misses
//! minimizers spread along the query is rejected before its bases are read, without losing any target the
//! edit-distance scan would accept.

/// A run of query windows that share one minimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WindowRun {
    /// Bit of the minimizer's query position in a seed mask ([`SeedWindows::bit`]).
    bit: u64,
    /// First and last window start (query positions) of the run.
    first: u32,
    last: u32,
}

/// The minimizer windows of one query strand.
#[derive(Debug, Clone)]
pub struct SeedWindows {
    /// The runs (the tests' naive count walks them).
    #[cfg(test)]
    runs: Vec<WindowRun>,
    /// Per query position `p` up to the last window start, the first window start at or after `p` and
    /// the index of that window's seed-mask bit, as `start << 6 | bit`.
    next_window: Vec<u32>,
    /// Per seed-mask bit index, the first window start with that bit (`u32::MAX` when none has it).
    first_start_of_bit: [u32; 64],
    /// The bits some run has.
    run_bits: u64,
    /// Bases per window, `w + k − 1`.
    span: usize,
    len: usize,
    most_edits: u32,
}

impl Default for SeedWindows {
    /// No windows: rejects nothing.
    fn default() -> Self {
        SeedWindows {
            #[cfg(test)]
            runs: Vec::new(),
            next_window: Vec::new(),
            first_start_of_bit: [u32::MAX; 64],
            run_bits: 0,
            span: 0,
            len: 0,
            most_edits: 0,
        }
    }
}

impl SeedWindows {
    /// The full minimizer windows of `query` (windows with a non-ACGT base do not exist, as in the index),
    /// with the index's k, w and hash seed.
    pub fn new(query: &[u8], k: usize, w: usize, hash_seed: u32) -> Self {
        Self::build(query, k, w, hash_seed, |_, _| {})
    }

    /// [`SeedWindows::new`], also appending the query's minimizers to `mins` as `(k-mer, position)`, each
    /// position once, as [`edna_seq::kmer::minimizer_positions`] does: seeding needs both, and they come
    /// from the same pass over the query's window minima.
    pub fn with_minimizers(query: &[u8], k: usize, w: usize, hash_seed: u32, mins: &mut Vec<(u32, u32)>) -> Self {
        let mut last_emitted = usize::MAX;
        Self::build(query, k, w, hash_seed, |pos, kmer| {
            if last_emitted != pos {
                last_emitted = pos;
                mins.push((kmer, pos as u32));
            }
        })
    }

    /// The windows, with `on_minimum(position, k-mer)` called for every window minimum on the way.
    fn build(query: &[u8], k: usize, w: usize, hash_seed: u32, mut on_minimum: impl FnMut(usize, u32)) -> Self {
        let len = query.len();
        let w = w.max(1);
        let mut runs: Vec<WindowRun> = Vec::new();
        // The last minimizer seen and its bit (a division, so only worked out when the minimizer changes: it
        // stays for ~w/2 windows).
        let mut last = (usize::MAX, 0u64);
        // Windows are w consecutive k-mer positions; a break in the positions (an ambiguity code) ends them.
        edna_seq::kmer::for_each_window_minimum(query, k, w, hash_seed, |start, minimizer, kmer| {
            on_minimum(minimizer, kmer);
            let Some(start) = start else {
                return;
            };
            if minimizer != last.0 {
                last = (minimizer, Self::bit(minimizer, len));
            }
            let bit = last.1;
            match runs.last_mut() {
                Some(r) if r.bit == bit && r.last as usize + 1 == start => r.last = start as u32,
                _ => runs.push(WindowRun {
                    bit,
                    first: start as u32,
                    last: start as u32,
                }),
            }
        });
        // Minimizer positions never move left as the window slides (the old minimum stays until it leaves or a
        // strictly smaller k-mer enters on the right), so run bits never decrease: the runs of one bit are
        // consecutive, and the greedy in `edits_needed` can jump between them.
        debug_assert!(runs.windows(2).all(|p| p[0].bit <= p[1].bit));
        let mut first_start_of_bit = [u32::MAX; 64];
        for r in runs.iter().rev() {
            first_start_of_bit[r.bit.trailing_zeros() as usize] = r.first;
        }
        let starts = runs.last().map_or(0, |r| r.last as usize + 1);
        let mut next_window = Vec::with_capacity(starts);
        let mut i = 0;
        for p in 0..starts {
            while runs.get(i).is_some_and(|r| (r.last as usize) < p) {
                i += 1;
            }
            if let Some(r) = runs.get(i) {
                next_window.push((r.first.max(p as u32) << 6) | r.bit.trailing_zeros());
            }
        }
        let run_bits = runs.iter().fold(0, |bits, r| bits | r.bit);
        let mut windows = SeedWindows {
            #[cfg(test)]
            runs,
            next_window,
            first_start_of_bit,
            run_bits,
            span: w + k - 1,
            len,
            most_edits: 0,
        };
        windows.most_edits = windows.edits_needed(0, 0, 0, u32::MAX);
        windows
    }

    /// The most edits [`SeedWindows::may_align`] can ever prove (a target without a single seed): with a
    /// budget at least this large it cannot reject anything, and callers skip it.
    pub fn most_edits(&self) -> u32 {
        self.most_edits
    }

    /// The seed-mask bit of query position `pos` in a query of `len` bases: positions fall into 64 buckets.
    /// A set bit only says that *some* position of its bucket is a seed, so the filter stays lossless.
    #[inline]
    pub fn bit(pos: usize, len: usize) -> u64 {
        1 << ((pos as u64 * 64) / len.max(1) as u64).min(63)
    }

    /// Whether a target with seed mask `seeds` can align with at most `max_edits` edits, when the query
    /// may hang off its left end by at most `pad_left` bases and off its right end by `pad_right`: false when
    /// the windows missing a seed, inside the part of the query that must align, need more edits than that.
    pub fn may_align(&self, seeds: u64, pad_left: usize, pad_right: usize, max_edits: u32) -> bool {
        self.edits_needed(seeds, pad_left, pad_right, max_edits) <= max_edits
    }

    /// The fewest edits the windows missing a seed need, counted up to `max_edits + 1`: the greedy stabbing
    /// of the leftmost window that lacks its seed, at its last base, repeated after the windows that edit
    /// holds. Each step jumps straight to the next such window: run bits never decrease along the query, so
    /// it is the first window at or after the current position when its bit is missing, and otherwise the
    /// first window of the next missing bit. A query costs a few steps per target rather than one per run,
    /// and each step one table read (two when the next window has its seed).
    fn edits_needed(&self, seeds: u64, pad_left: usize, pad_right: usize, max_edits: u32) -> u32 {
        let Some(last_start) = self.len.checked_sub(pad_right + self.span) else {
            return 0;
        };
        // Bits of no run (a stretch without windows, around an ambiguity code) have nothing to stab.
        let missing = !seeds & self.run_bits;
        let mut edits = 0u32;
        // Windows starting before `pos` are excused (an overhang) or hold an edit already placed.
        let mut pos = pad_left;
        while pos <= last_start {
            let Some(&next) = self.next_window.get(pos) else {
                break;
            };
            // When the next window's own bit is missing, the edit goes at its end (the common case for a
            // target that is not a hit, so it is decided on this one table read); otherwise at the first
            // window of the next missing bit, which lies after it.
            let first = if missing >> (next & 63) & 1 != 0 {
                (next >> 6) as usize
            } else {
                let open = missing & (u64::MAX << (next & 63));
                if open == 0 {
                    break;
                }
                self.first_start_of_bit[open.trailing_zeros() as usize] as usize
            };
            if first > last_start {
                break;
            }
            edits += 1;
            if edits > max_edits {
                break;
            }
            pos = first + self.span;
        }
        edits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The seed mask the engine builds: query positions whose k-mer is a minimizer of the target.
    fn seed_mask(query: &[u8], target: &[u8], k: usize, w: usize, seed: u32) -> u64 {
        let mut mins = Vec::new();
        edna_seq::kmer::minimizer_positions(target, k, w, seed, &mut mins);
        let set: std::collections::HashSet<u32> = mins.iter().map(|m| m.0).collect();
        let mut mask = 0;
        edna_seq::kmer::for_each_kmer(query, k, |p, km| {
            if set.contains(&km) {
                mask |= SeedWindows::bit(p, query.len());
            }
        });
        mask
    }

    fn base(i: u8) -> u8 {
        b"ACGT"[(i & 3) as usize]
    }

    #[test]
    fn identical_and_unrelated() {
        let q: Vec<u8> = (0..200u32)
            .map(|i| base((i.wrapping_mul(2_654_435_761) >> 7) as u8))
            .collect();
        let sw = SeedWindows::new(&q, 14, 11, 42);
        assert!(sw.may_align(seed_mask(&q, &q, 14, 11, 42), 0, 0, 0));
        // No seed at all: window starts 0..=176, 24 bases each, need 8 edits (at 23, 47, …, 191).
        assert_eq!(sw.most_edits(), 8);
        assert!(!sw.may_align(0, 0, 0, 7));
        assert!(sw.may_align(0, 0, 0, 8));
        // Unless the query may hang off the target almost entirely.
        assert!(sw.may_align(0, 100, 80, 0));
    }

    proptest! {
        // Off-by-one steps show only where a run ends exactly one window span after an edit: the default
        // 256 cases missed such a mutation; 4,096 catch it (the whole block takes ~0.1 s).
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever the edits (substitutions, insertions, deletions, anywhere) and the ambiguity codes, a
        /// target within `e` edits is never rejected at `e`.
        #[test]
        fn never_rejects_a_target_within_the_budget(
            query in proptest::collection::vec(0u8..4, 40..300),
            edits in proptest::collection::vec((0usize..10_000, 0u8..3, 0u8..4), 0..12),
            ambiguous in proptest::collection::vec(0usize..10_000, 0..2),
            k in 8usize..16,
            w in 2usize..12,
        ) {
            let mut q: Vec<u8> = query.iter().map(|&b| base(b)).collect();
            for a in &ambiguous {
                let i = a % q.len();
                q[i] = b'N';
            }
            let mut t = q.clone();
            for &(at, kind, b) in &edits {
                let i = at % (t.len() + 1);
                match kind {
                    0 if i < t.len() => t[i] = base(b.wrapping_add(1)),
                    1 => t.insert(i, base(b)),
                    _ if i < t.len() => {
                        t.remove(i);
                    }
                    _ => t.push(base(b)),
                }
            }
            let sw = SeedWindows::new(&q, k, w, 7);
            let mask = seed_mask(&q, &t, k, w, 7);
            prop_assert!(sw.may_align(mask, 0, 0, edits.len() as u32));
        }

        /// The jumping greedy counts exactly what stabbing the windows one by one does, for any seed mask,
        /// overhangs and budget (ambiguity codes leave gaps between the windows).
        #[test]
        fn jumps_count_like_window_by_window(
            query in proptest::collection::vec(0u8..5, 30..300),
            seeds in any::<u64>(),
            pad_left in 0usize..60,
            pad_right in 0usize..60,
            max_edits in 0u32..12,
            k in 8usize..16,
            w in 2usize..12,
        ) {
            let q: Vec<u8> = query.iter().map(|&b| if b == 4 { b'N' } else { base(b) }).collect();
            let sw = SeedWindows::new(&q, k, w, 3);
            // Window by window: the window starting at p lacks its seed when its run's bit is not in `seeds`.
            let mut naive = 0u32;
            if let Some(last_start) = q.len().checked_sub(pad_right + sw.span) {
                let mut covered: Option<usize> = None;
                for r in &sw.runs {
                    for p in r.first as usize..=r.last as usize {
                        let open = seeds & r.bit == 0 && p >= pad_left && p <= last_start;
                        if open && covered.is_none_or(|c| p > c) && naive <= max_edits {
                            naive += 1;
                            covered = Some(p + sw.span - 1);
                        }
                    }
                }
            }
            prop_assert_eq!(sw.edits_needed(seeds, pad_left, pad_right, max_edits), naive);
        }

        /// One pass gives the same windows as `new` and the same minimizers as `minimizer_positions`, also
        /// around ambiguity codes.
        #[test]
        fn windows_with_minimizers_equal_the_two_passes(
            query in proptest::collection::vec(0u8..5, 0..300),
            k in 8usize..16,
            w in 1usize..12,
        ) {
            let q: Vec<u8> = query.iter().map(|&b| if b == 4 { b'N' } else { base(b) }).collect();
            let mut expected = vec![(7, 7)];
            edna_seq::kmer::minimizer_positions(&q, k, w, 5, &mut expected);
            let mut mins = vec![(7, 7)];
            let one = SeedWindows::with_minimizers(&q, k, w, 5, &mut mins);
            let two = SeedWindows::new(&q, k, w, 5);
            prop_assert_eq!(mins, expected);
            prop_assert_eq!(&one.runs, &two.runs);
            prop_assert_eq!(&one.next_window, &two.next_window);
            prop_assert_eq!(one.first_start_of_bit, two.first_start_of_bit);
            prop_assert_eq!((one.run_bits, one.most_edits), (two.run_bits, two.most_edits));
        }

        /// A query prefix and suffix that hang off the target are excused.
        #[test]
        fn overhangs_are_excused(
            query in proptest::collection::vec(0u8..4, 60..300),
            cut_left in 0usize..40,
            cut_right in 0usize..40,
        ) {
            let q: Vec<u8> = query.iter().map(|&b| base(b)).collect();
            let t = &q[cut_left.min(q.len())..q.len().saturating_sub(cut_right).max(cut_left.min(q.len()))];
            let sw = SeedWindows::new(&q, 12, 8, 1);
            prop_assert!(sw.may_align(seed_mask(&q, t, 12, 8, 1), cut_left, cut_right, 0));
        }
    }
}
