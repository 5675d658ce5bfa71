//! k-mers and minimizers over 2-bit codes.
//!
//! The index stores the *minimizers* of each target: in every window of `w` consecutive k-mers (without
//! ambiguity codes), the k-mer with the smallest hash (leftmost on ties). Any exact run of at least
//! `w + k − 1` unambiguous bases shared by a query and a target therefore contains a target minimizer,
//! and the query side looks up *all* its k-mers, so such a run always yields a seed hit. That is the
//! guarantee behind lossless search (see ARCHITECTURE.md).

use crate::pack::code2;

/// Largest supported k (k-mers are stored as `u32`).
pub const MAX_K: usize = 16;

/// Invertible 32-bit mixer (a murmur3 finaliser): orders k-mers pseudo-randomly, so low-complexity
/// k-mers like poly-A are not systematically chosen as minimizers.
#[inline]
pub fn kmer_hash(kmer: u32, seed: u32) -> u32 {
    let mut h = kmer ^ seed;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Calls `f(position, kmer)` for every k-mer of `seq` that contains only `ACGT`.
#[inline]
pub fn for_each_kmer(seq: &[u8], k: usize, mut f: impl FnMut(usize, u32)) {
    debug_assert!((1..=MAX_K).contains(&k));
    let mask: u32 = if k == 16 { u32::MAX } else { (1u32 << (2 * k)) - 1 };
    let mut kmer = 0u32;
    let mut valid = 0usize;
    for (i, &b) in seq.iter().enumerate() {
        match code2(b) {
            Some(c) => {
                kmer = ((kmer << 2) | c as u32) & mask;
                valid += 1;
                if valid >= k {
                    f(i + 1 - k, kmer);
                }
            }
            None => valid = 0,
        }
    }
}

/// Appends the minimizers of `seq` (k-mer values, in order of position, consecutive duplicates removed)
/// to `out`. A run of unambiguous bases shorter than one full window still yields its smallest k-mer.
pub fn minimizers(seq: &[u8], k: usize, w: usize, seed: u32, out: &mut Vec<u32>) {
    let mut with_pos = Vec::new();
    minimizer_positions(seq, k, w, seed, &mut with_pos);
    out.extend(with_pos.into_iter().map(|(km, _)| km));
}

/// Largest window kept in [`minimizer_positions`]'s ring on the stack (larger ones use a deque).
const RING: usize = 32;

/// As [`minimizers`], with the position of each selected k-mer: `(kmer, position)`, each once
/// ([`for_each_window_minimum`] without consecutive repeats).
pub fn minimizer_positions(seq: &[u8], k: usize, w: usize, seed: u32, out: &mut Vec<(u32, u32)>) {
    let mut last_emitted = usize::MAX;
    for_each_window_minimum(seq, k, w, seed, |_, pos, kmer| {
        if last_emitted != pos {
            last_emitted = pos;
            out.push((kmer, pos as u32));
        }
    });
}

/// Calls `f(Some(start), position, kmer)` for every window of `w` consecutive unambiguous k-mers of `seq`, in
/// order (`start` is the position of the window's first k-mer), with its minimizer: the leftmost smallest
/// hash. A run of k-mers that never fills a window gets one call, `f(None, …)`, with its smallest k-mer.
///
/// The window's minimum is kept and only looked for again when it slides out (about every `w / 2` k-mers
/// on random sequence), over a ring of the last `w` hashes on the stack: this runs for every base of every
/// indexed sequence, twice, and a deque (allocated per call, pushed and popped per k-mer) made it a third
/// of a large build. Windows wider than 32 k-mers keep a monotone deque instead.
#[inline]
pub fn for_each_window_minimum(
    seq: &[u8],
    k: usize,
    w: usize,
    seed: u32,
    mut f: impl FnMut(Option<usize>, usize, u32),
) {
    debug_assert!(w >= 1);
    if w > RING {
        return for_each_window_minimum_deque(seq, k, w, seed, f);
    }
    let mut hashes = [0u32; RING];
    let mut kmers = [0u32; RING];
    // The current run of consecutive k-mers: its length, the ring slot of its last k-mer, and the
    // leftmost smallest hash of the current window (or of the run while it is shorter than a window).
    let (mut run_len, mut head, mut last_pos) = (0usize, 0usize, usize::MAX);
    let (mut min_hash, mut min_pos, mut min_kmer) = (u32::MAX, 0usize, 0u32);
    for_each_kmer(seq, k, |pos, kmer| {
        if run_len > 0 && last_pos.wrapping_add(1) != pos {
            // A run ended: one that never filled a window still yields its smallest k-mer.
            if run_len < w {
                f(None, min_pos, min_kmer);
            }
            run_len = 0;
        }
        last_pos = pos;
        head = if run_len == 0 || head + 1 == w { 0 } else { head + 1 };
        let h = kmer_hash(kmer, seed);
        hashes[head] = h;
        kmers[head] = kmer;
        run_len += 1;
        if run_len == 1 || h < min_hash {
            (min_hash, min_pos, min_kmer) = (h, pos, kmer);
        } else if min_pos + w <= pos {
            // The minimum slid out: the window is full, its oldest k-mer one slot after the newest.
            min_hash = u32::MAX;
            let mut slot = head;
            for i in 0..w {
                slot = if slot + 1 == w { 0 } else { slot + 1 };
                if hashes[slot] < min_hash {
                    (min_hash, min_pos, min_kmer) = (hashes[slot], pos + 1 - w + i, kmers[slot]);
                }
            }
        }
        if run_len >= w {
            f(Some(pos + 1 - w), min_pos, min_kmer);
        }
    });
    if run_len > 0 && run_len < w {
        f(None, min_pos, min_kmer);
    }
}

/// [`for_each_window_minimum`] with a monotone deque, for windows larger than [`RING`].
fn for_each_window_minimum_deque(
    seq: &[u8],
    k: usize,
    w: usize,
    seed: u32,
    mut f: impl FnMut(Option<usize>, usize, u32),
) {
    // Monotone deque of (hash, position, kmer) over the current run of consecutive k-mers.
    let mut deque: std::collections::VecDeque<(u32, usize, u32)> = std::collections::VecDeque::with_capacity(w + 1);
    let mut run_start = 0usize;
    let mut last_pos: Option<usize> = None;
    let mut short_run = false;
    for_each_kmer(seq, k, |pos, kmer| {
        if last_pos.is_none_or(|l| l + 1 != pos) {
            // A new run: a previous run that never filled a window still yields its smallest k-mer.
            if short_run {
                if let Some(&(_, p, km)) = deque.front() {
                    f(None, p, km);
                }
            }
            deque.clear();
            run_start = pos;
        }
        last_pos = Some(pos);
        let h = kmer_hash(kmer, seed);
        while deque.back().is_some_and(|&(bh, _, _)| bh > h) {
            deque.pop_back();
        }
        deque.push_back((h, pos, kmer));
        if pos + 1 >= run_start + w {
            let start = pos + 1 - w;
            while deque.front().is_some_and(|&(_, p, _)| p < start) {
                deque.pop_front();
            }
            if let Some(&(_, p, km)) = deque.front() {
                f(Some(start), p, km);
            }
            short_run = false;
        } else {
            short_run = true;
        }
    });
    if short_run {
        if let Some(&(_, p, km)) = deque.front() {
            f(None, p, km);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every window's leftmost smallest k-mer, `(window start or None for a short run, position, kmer)`, by
    /// scanning each window whole.
    fn naive_window_minima(seq: &[u8], k: usize, w: usize, seed: u32) -> Vec<(Option<usize>, usize, u32)> {
        let mut kms: Vec<(usize, u32)> = Vec::new();
        for_each_kmer(seq, k, |p, km| kms.push((p, km)));
        let mut out = Vec::new();
        // windows over runs of consecutive positions
        let mut i = 0;
        while i < kms.len() {
            let mut j = i;
            while j + 1 < kms.len() && kms[j + 1].0 == kms[j].0 + 1 {
                j += 1;
            }
            let run = &kms[i..=j];
            let windows: Vec<&[(usize, u32)]> = if run.len() < w {
                vec![run]
            } else {
                run.windows(w).collect()
            };
            for win in windows {
                let best = win.iter().min_by_key(|(p, km)| (kmer_hash(*km, seed), *p)).copied();
                if let Some((p, km)) = best {
                    out.push(((run.len() >= w).then_some(win[0].0), p, km));
                }
            }
            i = j + 1;
        }
        out
    }

    fn naive_minimizer_positions(seq: &[u8], k: usize, w: usize, seed: u32) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for (_, p, km) in naive_window_minima(seq, k, w, seed) {
            if out.last().is_none_or(|&(_, last)| last != p as u32) {
                out.push((km, p as u32));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn minimizers_match_naive(seq in proptest::collection::vec(prop::sample::select(b"ACGTACGTACGTN".to_vec()), 0..200), k in 3usize..16, w in 1usize..12) {
            let want = naive_minimizer_positions(&seq, k, w, 7);
            let mut got = Vec::new();
            minimizers(&seq, k, w, 7, &mut got);
            prop_assert_eq!(got, want.iter().map(|&(km, _)| km).collect::<Vec<_>>());
        }

        // Positions too, and every window's minimum, with low-complexity runs (many equal hashes: the leftmost
        // must win), windows on both sides of the ring size, and both implementations.
        #[test]
        fn minimizer_positions_match_naive(
            seq in proptest::collection::vec(prop::sample::select(b"AAAAACGTTTTN".to_vec()), 0..300),
            k in 1usize..16,
            w in 1usize..40,
            seed in any::<u32>(),
        ) {
            let want = naive_minimizer_positions(&seq, k, w, seed);
            let mut got = Vec::new();
            minimizer_positions(&seq, k, w, seed, &mut got);
            prop_assert_eq!(&got, &want);
            let want_windows = naive_window_minima(&seq, k, w, seed);
            let mut windows = Vec::new();
            for_each_window_minimum(&seq, k, w, seed, |start, p, km| windows.push((start, p, km)));
            prop_assert_eq!(&windows, &want_windows);
            windows.clear();
            for_each_window_minimum_deque(&seq, k, w, seed, |start, p, km| windows.push((start, p, km)));
            prop_assert_eq!(&windows, &want_windows);
        }

        // The lossless guarantee: every exact ACGT run of w+k-1 bases contains a minimizer of the target.
        #[test]
        fn shared_run_yields_seed(target in proptest::collection::vec(prop::sample::select(b"ACGT".to_vec()), 40..200), start in 0usize..100) {
            let (k, w) = (12usize, 13usize);
            let span = w + k - 1;
            let start = start % (target.len() - span + 1);
            let mut mins = Vec::new();
            minimizers(&target, k, w, 1, &mut mins);
            let mut found = false;
            for_each_kmer(&target[start..start + span], k, |_, km| found |= mins.contains(&km));
            prop_assert!(found);
        }
    }

    #[test]
    fn kmers_skip_ambiguity() {
        let mut v = Vec::new();
        for_each_kmer(b"ACGNACGT", 3, |p, km| v.push((p, km)));
        assert_eq!(v, vec![(0, 0b000110), (4, 0b000110), (5, 0b011011)]);
    }
}
