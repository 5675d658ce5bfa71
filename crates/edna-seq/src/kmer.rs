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

/// As [`minimizers`], with the position of each selected k-mer: `(kmer, position)`.
///
/// The window's minimum is kept and only looked for again when it slides out (about every `w / 2`
/// k-mers on random sequence), over a ring of the last `w` hashes on the stack: this runs for every base
/// of every indexed sequence, twice, and a deque (allocated per call, pushed and popped per k-mer) made it
/// a third of a large build.
pub fn minimizer_positions(seq: &[u8], k: usize, w: usize, seed: u32, out: &mut Vec<(u32, u32)>) {
    debug_assert!(w >= 1);
    if w > RING {
        return minimizer_positions_deque(seq, k, w, seed, out);
    }
    let mut hashes = [0u32; RING];
    let mut kmers = [0u32; RING];
    // The current run of consecutive k-mers: its length, the ring slot of its last k-mer, and the
    // leftmost smallest hash of the current window (or of the run while it is shorter than a window).
    let (mut run_len, mut head, mut last_pos) = (0usize, 0usize, usize::MAX);
    let (mut min_hash, mut min_pos, mut min_kmer) = (u32::MAX, 0usize, 0u32);
    let mut last_emitted = usize::MAX;
    let mut emit = |pos: usize, kmer: u32, out: &mut Vec<(u32, u32)>| {
        if last_emitted != pos {
            last_emitted = pos;
            out.push((kmer, pos as u32));
        }
    };
    for_each_kmer(seq, k, |pos, kmer| {
        if run_len > 0 && last_pos.wrapping_add(1) != pos {
            // A run ended: one that never filled a window still yields its smallest k-mer.
            if run_len < w {
                emit(min_pos, min_kmer, out);
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
            emit(min_pos, min_kmer, out);
        }
    });
    if run_len > 0 && run_len < w {
        emit(min_pos, min_kmer, out);
    }
}

/// [`minimizer_positions`] with a monotone deque, for windows larger than [`RING`].
fn minimizer_positions_deque(seq: &[u8], k: usize, w: usize, seed: u32, out: &mut Vec<(u32, u32)>) {
    // Monotone deque of (hash, position, kmer) over the current run of consecutive k-mers.
    let mut deque: std::collections::VecDeque<(u32, usize, u32)> = std::collections::VecDeque::with_capacity(w + 1);
    let mut run_start: Option<usize> = None; // position of the first k-mer of the current run
    let mut last_pos: Option<usize> = None;
    let mut last_emitted: Option<usize> = None;
    let emit = |pos: usize, kmer: u32, last_emitted: &mut Option<usize>, out: &mut Vec<(u32, u32)>| {
        if *last_emitted != Some(pos) {
            *last_emitted = Some(pos);
            out.push((kmer, pos as u32));
        }
    };
    let mut pending_short_run = false;
    for_each_kmer(seq, k, |pos, kmer| {
        if last_pos.is_none_or(|p| p + 1 != pos) {
            // A new run: flush a short previous run that never filled a window.
            if pending_short_run {
                if let Some(&(_, p, km)) = deque.front() {
                    emit(p, km, &mut last_emitted, out);
                }
            }
            deque.clear();
            run_start = Some(pos);
        }
        last_pos = Some(pos);
        let h = kmer_hash(kmer, seed);
        while let Some(&(bh, _, _)) = deque.back() {
            if bh > h {
                deque.pop_back();
            } else {
                break;
            }
        }
        deque.push_back((h, pos, kmer));
        let start = run_start.unwrap_or(pos);
        if pos + 1 >= start + w {
            // Window [pos + 1 - w, pos] is complete.
            let lo = pos + 1 - w;
            while let Some(&(_, p, _)) = deque.front() {
                if p < lo {
                    deque.pop_front();
                } else {
                    break;
                }
            }
            if let Some(&(_, p, km)) = deque.front() {
                emit(p, km, &mut last_emitted, out);
            }
            pending_short_run = false;
        } else {
            pending_short_run = true;
        }
    });
    if pending_short_run {
        if let Some(&(_, p, km)) = deque.front() {
            emit(p, km, &mut last_emitted, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_minimizer_positions(seq: &[u8], k: usize, w: usize, seed: u32) -> Vec<(u32, u32)> {
        let mut kms: Vec<(usize, u32)> = Vec::new();
        for_each_kmer(seq, k, |p, km| kms.push((p, km)));
        let mut out = Vec::new();
        let mut last = None;
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
                    if last != Some(p) {
                        last = Some(p);
                        out.push((km, p as u32));
                    }
                }
            }
            i = j + 1;
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

        // Positions too, with low-complexity runs (many equal hashes: the leftmost must win), windows on
        // both sides of the ring size, and both implementations.
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
            got.clear();
            minimizer_positions_deque(&seq, k, w, seed, &mut got);
            prop_assert_eq!(&got, &want);
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
