//! The exact-run bound: an alignment at identity ≥ p over a query span of `L` bases has at most `d` error
//! columns, which cut its matched bases (at least `L − d`) into at most `d + 1` exact runs, so one of them is
//! at least `⌈(L − d)/(d + 1)⌉` bases long, all on one diagonal. When that is at least a minimizer window
//! (`w + k − 1` bases), the run holds a seed, so it lies on a seed diagonal: a target none of whose seed
//! diagonals carries such a run cannot be a hit. Checking a diagonal costs a few word operations per 32
//! bases, and the candidate's bases need not be unpacked for the band screen.

/// The 2-bit packed bases of one query strand (the index's layout: base `i` in bits `2·(i % 4)` of byte
/// `i / 4`), padded so 16 bytes can be read from any base.
pub(crate) struct PackedQuery {
    bytes: Vec<u8>,
    len: usize,
}

impl PackedQuery {
    /// Packs `query`; `None` when it holds a non-ACGT symbol (the bound would have to count each as an
    /// error, and such queries are too rare to be worth it).
    pub(crate) fn new(query: &[u8]) -> Option<Self> {
        let mut bytes = Vec::with_capacity(query.len() / 4 + 17);
        let mut exceptions = Vec::new();
        edna_seq::pack::pack_into(query, &mut bytes, &mut exceptions);
        if !exceptions.is_empty() {
            return None;
        }
        bytes.resize(bytes.len() + 16, 0);
        Some(PackedQuery {
            bytes,
            len: query.len(),
        })
    }
}

/// Bit 2·i set for every base i of a 32-base word.
const EVEN: u64 = 0x5555_5555_5555_5555;

/// 32 bases of `packed` from base `at`, base `at + j` in bits `2j..2j+2`; bases past the end read as zero.
#[inline]
fn load32(packed: &[u8], at: usize) -> u64 {
    let byte = at / 4;
    let shift = 2 * (at % 4);
    let wide = match packed.get(byte..byte + 16) {
        Some(b) => u128::from_le_bytes(b.try_into().unwrap_or([0; 16])),
        None => {
            let mut b = [0u8; 16];
            let tail = packed.get(byte..).unwrap_or_default();
            b[..tail.len()].copy_from_slice(tail);
            u128::from_le_bytes(b)
        }
    };
    (wide >> shift) as u64
}

/// Whether `query` and the target (`tlen` bases, 2-bit `packed`, only ACGT) may share an exact run of at
/// least `need` bases that holds a seed: a k-mer (`k` ≤ `need`) starting at a query position whose
/// [`super::SeedWindows::bit`] is in `seeds`, on a diagonal `d` (target position − query position) in
/// `dmin..=dmax`. False only when no such run exists.
///
/// A run holding the seed at `p` has `need` of its bases in `p + k − need .. p + need`, so only the stretch
/// from the first seed bucket's start to the last one's end, widened so, is read.
pub(crate) fn shares_exact_run(
    query: &PackedQuery,
    packed: &[u8],
    tlen: usize,
    (dmin, dmax): (i64, i64),
    (seeds, k): (u64, usize),
    need: usize,
) -> bool {
    if seeds == 0 {
        return false;
    }
    let need = need.max(k).max(1);
    let n = query.len;
    // Positions of bucket b are ⌈b·n/64⌉..⌈(b+1)·n/64⌉.
    let first = seeds.trailing_zeros() as usize;
    let last = 63 - seeds.leading_zeros() as usize;
    let from = ((first * n).div_ceil(64) + k).saturating_sub(need);
    let to = ((last + 1) * n).div_ceil(64) + need;
    (dmin..=dmax).any(|d| {
        let (qs, qe) = ((-d).max(0) as usize, (n as i64).min(tlen as i64 - d).max(0) as usize);
        let (a, b) = (from.max(qs), to.min(qe));
        b >= a + need && diagonal_has_run(query, packed, a, b, d, need)
    })
}

/// [`shares_exact_run`] on one diagonal, query bases `qs..qe`.
fn diagonal_has_run(query: &PackedQuery, packed: &[u8], qs: usize, qe: usize, d: i64, need: usize) -> bool {
    // Matches ending the previous word.
    let mut carry = 0usize;
    let mut qp = qs;
    while qp < qe {
        let bases = (qe - qp).min(32);
        let x = load32(&query.bytes, qp) ^ load32(packed, (qp as i64 + d) as usize);
        let mut mismatches = (x | (x >> 1)) & EVEN;
        if bases < 32 {
            // Bases past the stretch count as mismatches.
            mismatches |= EVEN & !((1u64 << (2 * bases)) - 1);
        }
        if mismatches == 0 {
            carry += 32;
            if carry >= need {
                return true;
            }
        } else {
            let leading = (mismatches.trailing_zeros() / 2) as usize;
            if carry + leading >= need || (need <= 32 && has_run_within(!mismatches & EVEN, need)) {
                return true;
            }
            carry = ((mismatches.leading_zeros() - 1) / 2) as usize;
        }
        qp += 32;
    }
    false
}

/// Whether `matches` (bit 2·i per matching base of a word) holds `need` (≤ 32) consecutive matches: after
/// each doubling step, bit 2·i stands for bases `i..i + len` all matching.
#[inline]
fn has_run_within(matches: u64, need: usize) -> bool {
    let mut a = matches;
    let mut len = 1;
    while len * 2 <= need {
        a &= a >> (2 * len);
        len *= 2;
    }
    if len < need {
        a &= a >> (2 * (need - len));
    }
    a != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, base by base: a maximal exact run of at least `need` bases holding a k-mer that
    /// starts at a query position of a bucket in `seeds`.
    fn reference(q: &[u8], t: &[u8], (dmin, dmax): (i64, i64), (seeds, k): (u64, usize), need: usize) -> bool {
        let need = need.max(k);
        let seeded = |p: usize| seeds & crate::search::SeedWindows::bit(p, q.len()) != 0;
        for d in dmin..=dmax {
            let matches = |qp: usize| {
                let tp = qp as i64 + d;
                tp >= 0 && (tp as usize) < t.len() && t[tp as usize] == q[qp]
            };
            let mut a = 0;
            while a < q.len() {
                let mut b = a;
                while b < q.len() && matches(b) {
                    b += 1;
                }
                if b - a >= need && (a..=b - k).any(seeded) {
                    return true;
                }
                a = b + 1;
            }
        }
        false
    }

    const ALL: (u64, usize) = (u64::MAX, 1);

    fn packed(t: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        edna_seq::pack::pack_into(t, &mut out, &mut Vec::new());
        out
    }

    #[test]
    fn runs_across_words_and_ends() {
        let q = b"ACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTA";
        let pq = PackedQuery::new(q).unwrap_or_else(|| panic!("ACGT query"));
        // The whole query inside a longer target, two bases in.
        let mut t = b"GG".to_vec();
        t.extend_from_slice(q);
        t.extend_from_slice(b"TT");
        let p = packed(&t);
        assert!(shares_exact_run(&pq, &p, t.len(), (2, 2), ALL, q.len()));
        assert!(!shares_exact_run(&pq, &p, t.len(), (2, 2), ALL, q.len() + 1));
        assert!(!shares_exact_run(&pq, &p, t.len(), (0, 1), ALL, 20));
        // One mismatch in the middle (base 35): the longest run is the 35 bases before it.
        t[2 + 35] = if q[35] == b'A' { b'C' } else { b'A' };
        let p = packed(&t);
        assert!(shares_exact_run(&pq, &p, t.len(), (2, 2), ALL, 35));
        assert!(!shares_exact_run(&pq, &p, t.len(), (2, 2), ALL, 36));
        // The query hanging off the target's start: only its overlap counts.
        assert!(shares_exact_run(&pq, &p, t.len(), (-1, 3), ALL, 35));
        // A seed at query position 50 only: the 35-base run before the mismatch does not hold it, the 33
        // bases after it (of 69) do.
        let at_50 = crate::search::SeedWindows::bit(50, q.len());
        assert!(!shares_exact_run(&pq, &p, t.len(), (2, 2), (at_50, 14), 35));
        assert!(shares_exact_run(&pq, &p, t.len(), (2, 2), (at_50, 14), 33));
        assert!(!shares_exact_run(&pq, &p, t.len(), (2, 2), (at_50, 14), 34));
        let at_10 = crate::search::SeedWindows::bit(10, q.len());
        assert!(shares_exact_run(&pq, &p, t.len(), (2, 2), (at_10, 14), 35));
        assert!(PackedQuery::new(b"ACGNT").is_none());
    }

    proptest! {
        #[test]
        fn agrees_with_the_definition(
            q in proptest::collection::vec(prop::sample::select(b"ACGT".to_vec()), 1..150),
            mutate in proptest::collection::vec((0usize..200, prop::sample::select(b"ACGT".to_vec())), 0..12),
            prefix in proptest::collection::vec(prop::sample::select(b"ACGT".to_vec()), 0..40),
            suffix_len in 0usize..40,
            dmin in -20i64..60,
            span in 0i64..6,
            need in 1usize..80,
            seeds in prop_oneof![Just(u64::MAX), any::<u64>(), (0u32..64).prop_map(|b| 1u64 << b)],
            k in prop_oneof![Just(1usize), 1usize..20],
        ) {
            // A target holding a mutated copy of the query, so long runs happen.
            let mut t = prefix.clone();
            t.extend_from_slice(&q);
            t.extend(std::iter::repeat_n(b'G', suffix_len));
            for (at, b) in mutate {
                if let Some(x) = t.get_mut(at) {
                    *x = b;
                }
            }
            let pq = PackedQuery::new(&q).unwrap_or_else(|| panic!("ACGT query"));
            let range = (dmin, dmin + span);
            let expected = reference(&q, &t, range, (seeds, k), need);
            let found = shares_exact_run(&pq, &packed(&t), t.len(), range, (seeds, k), need);
            // Lossless: never false where the definition holds; reading whole stretches may find a run
            // whose seed is a little off its bucket, but never one shorter than `need`.
            prop_assert!(found || !expected);
            if seeds == u64::MAX && k == 1 {
                prop_assert_eq!(found, expected);
            }
        }
    }
}
