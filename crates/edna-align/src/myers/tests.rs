use super::*;
use crate::align::{align, Op, Scoring};
use crate::iupac::compatible;
use proptest::prelude::*;

/// Plain O(mn) semi-global edit distance: `D[m][j]` for every `j`.
fn naive_last_row(q: &[u8], t: &[u8]) -> Vec<u32> {
    let m = q.len();
    let mut col: Vec<u32> = (0..=m as u32).collect();
    let mut last = vec![m as u32];
    for &tc in t {
        let mut diag = col[0];
        col[0] = 0; // free target prefix
        for i in 1..=m {
            let up = col[i];
            let sub = diag + u32::from(!compatible(q[i - 1], tc));
            col[i] = sub.min(up + 1).min(col[i - 1] + 1);
            diag = up;
        }
        last.push(col[m]);
    }
    last
}

/// Plain O(mn) longest common subsequence, compatible symbols counting as equal.
fn naive_lcs(q: &[u8], t: &[u8]) -> usize {
    let mut row = vec![0usize; t.len() + 1];
    for &qc in q {
        let mut diag = 0;
        for (j, &tc) in t.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if compatible(qc, tc) { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[t.len()]
}

fn naive_best(q: &[u8], t: &[u8], max_dist: u32) -> Option<Hit> {
    let row = naive_last_row(q, t);
    let (end, &d) = row.iter().enumerate().min_by_key(|&(j, &d)| (d, j))?;
    (d <= max_dist).then_some(Hit {
        distance: d,
        target_end: end,
    })
}

fn padded(t: &[u8], o: usize) -> Vec<u8> {
    [vec![b'N'; o], t.to_vec(), vec![b'N'; o]].concat()
}

fn random_dna(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x >> 32) as usize & 3]
        })
        .collect()
}

fn mutate(s: &[u8], every: usize, seed: u64) -> Vec<u8> {
    let noise = random_dna(s.len() / every + 2, seed);
    let mut out = Vec::with_capacity(s.len());
    for (i, &c) in s.iter().enumerate() {
        match (i % every, i / every % 3) {
            (0, 0) => out.push(noise[i / every]), // substitution (maybe silent)
            (0, 1) => {}                          // deletion
            (0, _) => {
                out.push(c);
                out.push(noise[i / every]); // insertion
            }
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn exact_and_one_mismatch() {
    let q = MyersQuery::new(b"ACGTTGCA");
    let t = b"GGGGACGTTGCAGGG";
    assert_eq!(
        q.best(t, 3),
        Some(Hit {
            distance: 0,
            target_end: 12
        })
    );
    let t2 = b"GGGGACGTAGCAGGG";
    assert_eq!(
        q.best(t2, 3),
        Some(Hit {
            distance: 1,
            target_end: 12
        })
    );
    assert_eq!(q.best(t2, 0), None);
    // Ties go to the smallest end.
    let t3 = b"ACGTTGCAACGTTGCA";
    assert_eq!(q.best(t3, 0).map(|h| h.target_end), Some(8));
}

#[test]
fn iupac_and_junk() {
    let q = MyersQuery::new(b"ACGNTR");
    assert_eq!(q.best(b"TTACGCTATT", 0).map(|h| h.distance), Some(0));
    assert_eq!(q.best(b"ACGATC", 5).map(|h| h.distance), Some(1));
    // Junk in the target or query never matches.
    let j = MyersQuery::new(b"AC-T");
    assert_eq!(j.best(b"ACGT", 5).map(|h| h.distance), Some(1));
    assert_eq!(MyersQuery::new(b"ACGT").best(b"AC-T", 5).map(|h| h.distance), Some(1));
}

#[test]
fn empty_inputs() {
    let e = MyersQuery::new(b"");
    assert!(e.is_empty());
    assert_eq!(
        e.best(b"ACGT", 0),
        Some(Hit {
            distance: 0,
            target_end: 0
        })
    );
    assert_eq!(e.best_with_overhang(b"", 0, 3).map(|h| h.distance), Some(0));
    let q = MyersQuery::new(b"ACG");
    assert_eq!(q.len(), 3);
    assert_eq!(
        q.best(b"", 3),
        Some(Hit {
            distance: 3,
            target_end: 0
        })
    );
    assert_eq!(q.best(b"", 2), None);
    assert_eq!(q.best_with_overhang(b"", 0, 3).map(|h| h.distance), Some(0));
}

#[test]
fn overhang_is_free() {
    let query = random_dna(100, 9);
    let q = MyersQuery::new(&query);
    // The target holds only the last 90 query bases (10 hang off the left end).
    let t = [&query[10..], &random_dna(20, 10)[..]].concat();
    assert_eq!(q.best(&t, 50).map(|h| h.distance), Some(10));
    let h = q.best_with_overhang(&t, 50, 10).unwrap();
    assert_eq!(h.distance, 0);
    assert_eq!(h.target_end, 10 + 90);
    assert_eq!(q.best_with_overhang(&t, 50, 4).unwrap().distance, 6);
}

#[test]
fn long_queries_match_naive() {
    // 4096 bp = 64 blocks (stack state) and 4100 bp = 65 blocks (heap state).
    for (len, seed) in [(4096usize, 21u64), (4100, 22), (130, 23)] {
        let query = random_dna(len, seed);
        let core = mutate(&query, 37, seed + 100);
        let t = [random_dna(57, seed + 1), core, random_dna(33, seed + 2)].concat();
        let q = MyersQuery::new(&query);
        let want = naive_best(&query, &t, u32::MAX).unwrap();
        for k in [want.distance, want.distance + 7, want.distance.saturating_sub(1), 1000] {
            let exp = (want.distance <= k).then_some(want);
            assert_eq!(q.best(&t, k), exp, "len {len} k {k}");
        }
        let o = 25;
        let padded_t = padded(&t, o);
        assert_eq!(
            q.best_with_overhang(&t, 200, o),
            naive_best(&query, &padded_t, 200),
            "len {len}"
        );
    }
}

#[test]
fn lcs_of_queries_longer_than_the_stack_blocks() {
    // 4,200 bases: more than the 64 blocks kept on the stack, and a carry through every block.
    let q = random_dna(4200, 7);
    let t = mutate(&q, 9, 8);
    assert_eq!(MyersQuery::new(&q).lcs_len(&t), naive_lcs(&q, &t));
    assert_eq!(MyersQuery::new(&q).lcs_len(&q), q.len());
    assert_eq!(MyersQuery::new(&q).lcs_len(b""), 0);
    assert_eq!(MyersQuery::new(b"").lcs_len(&q), 0);
    // Junk bytes match nothing; N matches anything.
    assert_eq!(MyersQuery::new(b"ACGT").lcs_len(b"A*G#"), 2);
    assert_eq!(MyersQuery::new(b"ACGT").lcs_len(b"NNNN"), 4);
}

#[test]
fn identity_bound_values() {
    assert_eq!(identity_upper_bound(100, 0), 1.0);
    assert!((identity_upper_bound(100, 3) - 100.0 / 103.0).abs() < 1e-15);
    assert_eq!(identity_upper_bound(0, 0), 1.0);
    assert_eq!(identity_upper_bound(0, 2), 0.0);
    assert_eq!(max_edits_for_identity(100, 0.97), 3);
    assert_eq!(max_edits_for_identity(200, 0.97), 6);
    assert_eq!(max_edits_for_identity(300, 1.0), 0);
    assert_eq!(max_edits_for_identity(300, 0.0), u32::MAX);
    assert_eq!(max_edits_for_identity(300, 1.5), 0);
    assert_eq!(max_edits_for_identity(0, 0.9), 0);
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing_filter() {
    let query = random_dna(200, 1);
    let q = MyersQuery::new(&query);
    let targets: Vec<Vec<u8>> = (0..2000).map(|s| random_dna(500, 1000 + s)).collect();
    let k = max_edits_for_identity(200, 0.97);
    let mut hits = 0usize;
    let t0 = std::time::Instant::now();
    let reps = 20;
    for _ in 0..reps {
        for t in &targets {
            hits += q.best_with_overhang(t, k, 20).is_some() as usize;
        }
    }
    let per = t0.elapsed().as_secs_f64() * 1e9 / (reps * targets.len()) as f64;
    println!("myers 200 bp query vs random 500 bp target, k={k}: {per:.0} ns/target ({hits} hits)");

    let long = random_dna(2000, 2);
    let ql = MyersQuery::new(&long);
    let tl: Vec<Vec<u8>> = (0..200).map(|s| random_dna(2500, 5000 + s)).collect();
    let kl = max_edits_for_identity(2000, 0.97);
    let t0 = std::time::Instant::now();
    for t in &tl {
        hits += ql.best(t, kl).is_some() as usize;
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / tl.len() as f64;
    println!("myers 2000 bp query vs random 2500 bp target, k={kl}: {per:.1} us/target ({hits})");
}

fn dna(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"AAACCCGGGTTTN".to_vec()), range)
}

/// Target = flank + mutated query + flank, or unrelated.
fn pair() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let related = (
        dna(0..300),
        dna(0..40),
        dna(0..40),
        prop::collection::vec((any::<u16>(), 0u8..3, prop::sample::select(b"ACGT".to_vec())), 0..12),
    )
        .prop_map(|(q, pre, suf, edits)| {
            let mut t = q.clone();
            for (pos, kind, base) in edits {
                let p = pos as usize % (t.len() + 1);
                match kind {
                    0 if p < t.len() => t[p] = base,
                    1 => t.insert(p, base),
                    _ if p < t.len() => {
                        t.remove(p);
                    }
                    _ => {}
                }
            }
            (q, [pre, t, suf].concat())
        });
    prop_oneof![3 => related, 1 => (dna(0..300), dna(0..300))]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn prop_best_equals_naive((q, t) in pair(), slack in 0u32..20, tight in any::<bool>()) {
        let mq = MyersQuery::new(&q);
        let exact = naive_best(&q, &t, u32::MAX).unwrap();
        // Thresholds around the true distance exercise the block cut-off.
        let k = if tight { exact.distance.saturating_sub(slack % 3) } else { exact.distance + slack };
        prop_assert_eq!(mq.best(&t, k), naive_best(&q, &t, k));
        prop_assert_eq!(mq.best(&t, u32::MAX), Some(exact));
    }

    #[test]
    fn prop_overhang_equals_padded_naive((q, t) in pair(), o in 0usize..40, k in 0u32..60) {
        let mq = MyersQuery::new(&q);
        prop_assert_eq!(mq.best_with_overhang(&t, k, o), naive_best(&q, &padded(&t, o), k));
    }

    /// The pruning bound really is lossless: with overhang = qlen, the vsearch
    /// identity of the optimal global alignment never exceeds it; with the
    /// overhang actually used by the alignment it holds too.
    #[test]
    fn prop_identity_bound_is_lossless((q, t) in pair()) {
        let sc = Scoring::vsearch();
        let a = align(&q, &t, &sc, None);
        let mq = MyersQuery::new(&q);
        let d = mq.best_with_overhang(&t, u32::MAX, q.len()).unwrap().distance;
        prop_assert!(a.identity() <= identity_upper_bound(q.len(), d));
        let lead = match a.ops.first() { Some(&(Op::Ins, l)) => l as usize, _ => 0 };
        let trail = match a.ops.last() { Some(&(Op::Ins, l)) => l as usize, _ => 0 };
        let d2 = mq.best_with_overhang(&t, u32::MAX, lead.max(trail)).unwrap().distance;
        prop_assert!(a.identity() <= identity_upper_bound(q.len(), d2),
            "id {} d2 {} ops {:?}", a.identity(), d2, a.ops);
        // And with the target's length too.
        prop_assert!(a.identity() <= identity_upper_bound_in(q.len(), t.len(), d),
            "id {} d {} ops {:?}", a.identity(), d, a.ops);
        prop_assert!(a.identity() <= identity_upper_bound_in(q.len(), t.len(), d2),
            "id {} d2 {} ops {:?}", a.identity(), d2, a.ops);
    }

    #[test]
    fn prop_lcs_equals_naive((q, t) in pair()) {
        prop_assert_eq!(MyersQuery::new(&q).lcs_len(&t), naive_lcs(&q, &t));
    }

    /// Matches never outnumber the LCS, so `lcs / (lcs + d)` bounds the identity of the alignment too, with
    /// `d` from any overhang the alignment's own fits in.
    #[test]
    fn prop_lcs_identity_bound_is_lossless((q, t) in pair()) {
        let a = align(&q, &t, &Scoring::vsearch(), None);
        let mq = MyersQuery::new(&q);
        let lcs = mq.lcs_len(&t);
        let matches = a.ops.iter().filter(|&&(op, _)| op == Op::Match).map(|&(_, l)| l as usize).sum::<usize>();
        prop_assert!(matches <= lcs);
        let d = mq.best_with_overhang(&t, u32::MAX, q.len()).unwrap().distance;
        prop_assert!(a.identity() <= identity_upper_bound(lcs, d), "id {} lcs {} d {}", a.identity(), lcs, d);
    }

    /// The target-length bound, on alignments that use every kind of edit: a query against a copy with
    /// substitutions, insertions and deletions, at any identity.
    #[test]
    fn prop_identity_bound_in_target_is_lossless(
        q in proptest::collection::vec(0u8..4, 1..200),
        edits in proptest::collection::vec((0usize..1000, 0u8..3, 0u8..4), 0..40),
    ) {
        let q: Vec<u8> = q.iter().map(|&b| b"ACGT"[b as usize]).collect();
        let mut t = q.clone();
        for &(at, kind, b) in &edits {
            let i = at % (t.len() + 1);
            let base = b"ACGT"[b as usize];
            match kind {
                0 if i < t.len() => t[i] = base,
                1 => t.insert(i, base),
                _ if i < t.len() => { t.remove(i); }
                _ => t.push(base),
            }
        }
        let a = align(&q, &t, &Scoring::vsearch(), None);
        let d = MyersQuery::new(&q).best_with_overhang(&t, u32::MAX, q.len()).unwrap().distance;
        prop_assert!(a.identity() <= identity_upper_bound_in(q.len(), t.len(), d),
            "id {} d {} q {} t {}", a.identity(), d, q.len(), t.len());
    }

    /// The target-length bound is attained: by a target that only adds bases (`q / (q + d)`, the old bound) and
    /// by one that drops as many bases as it adds, where the old bound `q / (q + d)` is far too generous.
    #[test]
    fn prop_identity_bound_in_target_is_tight(seed in any::<u64>(), len in 200usize..300, k in 1usize..4) {
        // Random bases from the seed (shrinking a vector would reach homopolymers, where the edits blur).
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let q: Vec<u8> = (0..len + 16)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b"ACGT"[(state >> 33) as usize % 4]
            })
            .skip(16)
            .collect();
        let sc = Scoring::vsearch();
        // k bases added at 50, 75, 100.
        let mut added = q.clone();
        for i in 0..k {
            added.insert(50 + 25 * i, b'A');
        }
        // And k bases dropped further on, 25 apart.
        let mut both = added.clone();
        for i in 0..k {
            both.remove(130 + 24 * i);
        }
        for t in [added, both] {
            let a = align(&q, &t, &sc, None);
            // No overhang: the whole query aligns (with overhang the first edit could hang off for free).
            let d = MyersQuery::new(&q).best_with_overhang(&t, u32::MAX, 0).unwrap().distance;
            let bound = identity_upper_bound_in(q.len(), t.len(), d);
            prop_assert!(a.identity() <= bound + 1e-12);
            // The alignment found has exactly the edits made (random sequence: no cheaper path), so the bound is met.
            prop_assert_eq!(a.columns, a.matches + d);
            prop_assert!((a.identity() - bound).abs() < 1e-12, "id {} bound {} d {}", a.identity(), bound, d);
        }
    }

    #[test]
    fn prop_max_edits_in_target_is_the_exact_threshold(qlen in 1usize..3000, tlen in 0usize..3000, p in 0.5f64..=1.0) {
        let cap = max_edits_for_identity(qlen, p);
        let d = max_edits_for_identity_in(qlen, tlen, p, cap);
        prop_assert!(d <= cap);
        prop_assert!(d == 0 || identity_upper_bound_in(qlen, tlen, d) >= p);
        if d < cap {
            prop_assert!(identity_upper_bound_in(qlen, tlen, d + 1) < p, "q {} t {} p {} d {}", qlen, tlen, p, d);
        }
    }

    #[test]
    fn prop_max_edits_is_the_exact_threshold(qlen in 0usize..5000, t in 0.5f64..=1.0) {
        let d = max_edits_for_identity(qlen, t);
        prop_assert!(identity_upper_bound(qlen, d) >= t || (qlen == 0 && d == 0));
        prop_assert!(identity_upper_bound(qlen, d + 1) < t);
    }
}

proptest! {
    /// Asymmetric padding (what the search uses on windows of longer targets) equals the naive DP on an
    /// explicitly N-padded target.
    #[test]
    fn padded_sides_match_naive(
        query in proptest::collection::vec(prop::sample::select(b"ACGTN".to_vec()), 1..150),
        target in proptest::collection::vec(prop::sample::select(b"ACGT".to_vec()), 0..200),
        left in 0usize..40,
        right in 0usize..40,
        k in 0u32..60,
    ) {
        let q = MyersQuery::new(&query);
        let explicit = [vec![b'N'; left], target.clone(), vec![b'N'; right]].concat();
        prop_assert_eq!(q.best_padded(&target, k, left, right), naive_best(&query, &explicit, k));
    }
}

/// Naive semi-global DP restricted to cells with `j − i ≤ max_diag` (others are unreachable).
fn naive_band_best(q: &[u8], t: &[u8], max_diag: usize) -> u32 {
    naive_band_best_between(q, t, i64::MIN / 4, max_diag)
}

/// Naive semi-global DP restricted to cells with `min_diag ≤ j − i ≤ max_diag`.
fn naive_band_best_between(q: &[u8], t: &[u8], min_diag: i64, max_diag: usize) -> u32 {
    const INF: u32 = u32::MAX / 2;
    let m = q.len();
    let in_band = |i: usize, j: usize| j <= i + max_diag && j as i64 - i as i64 >= min_diag;
    let mut col: Vec<u32> = (0..=m as u32)
        .map(|i| if in_band(i as usize, 0) { i } else { INF })
        .collect();
    let mut best = col[m];
    for (j0, &tc) in t.iter().enumerate() {
        let j = j0 + 1;
        let mut diag = col[0];
        col[0] = if in_band(0, j) { 0 } else { INF };
        for i in 1..=m {
            let up = col[i];
            col[i] = if in_band(i, j) {
                let sub = diag + u32::from(!compatible(q[i - 1], tc));
                sub.min(up + 1).min(col[i - 1] + 1).min(INF)
            } else {
                INF
            };
            diag = up;
        }
        best = best.min(col[m]);
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The banded scan is bracketed: never below the true distance, never above the best in-band
    /// alignment, and it finds every target whose best in-band alignment is within the budget.
    #[test]
    fn band_is_bracketed_by_true_and_banded_distance(
        (q, t) in pair(),
        left in 0usize..30,
        right in 0usize..30,
        max_diag in 0usize..120,
        k in 0u32..40,
    ) {
        let mq = MyersQuery::new(&q);
        let explicit = [vec![b'N'; left], t.clone(), vec![b'N'; right]].concat();
        let truth = naive_best(&q, &explicit, u32::MAX).map_or(u32::MAX, |h| h.distance);
        let banded = naive_band_best(&q, &explicit, max_diag);
        let got = mq.best_padded_in_band(&t, k, left, right, max_diag);
        if banded <= k {
            prop_assert!(got.is_some(), "missed: banded {} k {} q {} t {} l {} r {} md {}", banded, k, String::from_utf8_lossy(&q), String::from_utf8_lossy(&t), left, right, max_diag);
        }
        if let Some(h) = got {
            prop_assert!(h.distance >= truth && h.distance <= k, "d {} truth {} k {}", h.distance, truth, k);
            prop_assert!(h.distance <= banded || banded > k, "d {} banded {}", h.distance, banded);
        }
    }
}

/// Band-scan inputs for one target: slots of the padded target and the explicit padded bytes.
fn band_target(t: &[u8], left: usize, right: usize) -> (Vec<u8>, Vec<u8>) {
    let mut slots = Vec::new();
    lanes::padded_slots(t, left, right, &mut slots);
    (slots, [vec![b'N'; left], t.to_vec(), vec![b'N'; right]].concat())
}

/// A band scan of `rows` diagonals (`scan`) on query `q` and target `t` padded by `left` and `right` wildcard
/// columns: it must accept whenever the best alignment inside the band is within `k`, and reject whenever
/// the true distance is over it.
#[allow(clippy::too_many_arguments)]
fn check_band_scan(
    q: &[u8],
    t: &[u8],
    (left, right): (usize, usize),
    max_diag: usize,
    k: u32,
    rows: usize,
    scan: fn(&lanes::BandQuery, &lanes::BandTarget) -> bool,
) -> Result<(), TestCaseError> {
    let mq = MyersQuery::new(q);
    let bq = lanes::BandQuery::new(&mq);
    let (slots, explicit) = band_target(t, left, right);
    let truth = naive_best(q, &explicit, u32::MAX).map_or(u32::MAX, |h| h.distance);
    let banded = naive_band_best_between(q, &explicit, max_diag as i64 - (rows as i64 - 1), max_diag);
    let got = scan(
        &bq,
        &lanes::BandTarget {
            slots: &slots,
            max_diag,
            max_dist: k,
        },
    );
    if banded <= k {
        prop_assert!(
            got,
            "missed: banded {} k {} q {} t {} l {} r {} md {}",
            banded,
            k,
            String::from_utf8_lossy(q),
            String::from_utf8_lossy(t),
            left,
            right,
            max_diag
        );
    }
    if truth > k {
        prop_assert!(!got, "accepted: truth {} k {}", truth, k);
    }
    Ok(())
}

/// Band-scan lane inputs from generated targets `(target, left pad, right pad, max_diag, budget)`: where
/// `related` says so, a copy of `q` mutated every `every` bases is set between two copies of the target, so
/// that acceptances happen too. Returns the padded slots, max_diag and budget of each.
fn lane_inputs(
    q: &[u8],
    targets: &[(Vec<u8>, usize, usize, usize, u32)],
    related: &[bool],
    every: usize,
) -> Vec<(Vec<u8>, usize, u32)> {
    targets
        .iter()
        .zip(related)
        .map(|((t, l, r, md, k), &rel)| {
            let t = if rel {
                [t.clone(), mutate(q, every, *md as u64), t.clone()].concat()
            } else {
                t.clone()
            };
            (band_target(&t, *l, *r).0, *md, *k)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// The 63-diagonal band scan never rejects a target whose best alignment inside the band is within
    /// the budget, and never accepts one whose true distance is over it.
    #[test]
    fn band_lane_is_lossless_and_sound(
        (q, t) in pair(),
        left in 0usize..30,
        right in 0usize..30,
        max_diag in 0usize..120,
        k in 0u32..40,
    ) {
        check_band_scan(&q, &t, (left, right), max_diag, k, lanes::BAND_ROWS, lanes::BandQuery::may_align)?;
    }

    /// The vector lanes answer exactly as the one-lane scan, whatever mix of targets they hold.
    #[test]
    fn band_lanes_equal_single_lane(
        q in dna(0..250),
        targets in prop::collection::vec((dna(0..300), 0usize..30, 0usize..30, 0usize..120, 0u32..40), lanes::MAX_LANES),
        related in prop::collection::vec(any::<bool>(), lanes::MAX_LANES),
    ) {
        let mq = MyersQuery::new(&q);
        let bq = lanes::BandQuery::new(&mq);
        let built = lane_inputs(&q, &targets, &related, 9);
        let lanes_in: [lanes::BandTarget; lanes::MAX_LANES] = std::array::from_fn(|l| lanes::BandTarget {
            slots: &built[l].0,
            max_diag: built[l].1,
            max_dist: built[l].2,
        });
        let one: Vec<bool> = lanes_in.iter().map(|t| bq.may_align(t)).collect();
        // The dispatched kernel takes as many targets as this CPU's vectors hold.
        let n = lanes::narrow_lanes();
        prop_assert_eq!(&bq.may_align_lanes(&lanes_in[..n])[..n], &one[..n]);
        prop_assert_eq!(bq.may_align_lanes_portable(&lanes_in).to_vec(), one.clone());
        if let Some(avx2) = bq.may_align_lanes_avx2(&lanes_in[..lanes::LANES]) {
            prop_assert_eq!(&avx2[..lanes::LANES], &one[..lanes::LANES]);
        }
        // Fewer targets than lanes: the rest answer false.
        let mut fewer = one[..2].to_vec();
        fewer.extend([false; lanes::MAX_LANES - 2]);
        prop_assert_eq!(bq.may_align_lanes(&lanes_in[..2]).to_vec(), fewer.clone());
        prop_assert_eq!(bq.may_align_lanes_portable(&lanes_in[..2]).to_vec(), fewer);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// The 31-diagonal band scan is lossless and sound like the 63-diagonal one.
    #[test]
    fn tight_band_is_lossless_and_sound(
        (q, t) in pair(),
        left in 0usize..30,
        right in 0usize..30,
        max_diag in 0usize..120,
        k in 0u32..24,
    ) {
        check_band_scan(&q, &t, (left, right), max_diag, k, lanes::TIGHT_BAND_ROWS, lanes::BandQuery::may_align_tight)?;
    }

    /// The tight scan's vector lanes answer exactly as its one-lane scan, whatever mix of targets they hold.
    #[test]
    fn tight_lanes_equal_single_lane(
        q in dna(0..250),
        targets in prop::collection::vec(
            (dna(0..300), 0usize..30, 0usize..30, 0usize..120, 0u32..24),
            lanes::MAX_TIGHT_LANES,
        ),
        related in prop::collection::vec(any::<bool>(), lanes::MAX_TIGHT_LANES),
        given in 1usize..=lanes::MAX_TIGHT_LANES,
    ) {
        let mq = MyersQuery::new(&q);
        let bq = lanes::BandQuery::new(&mq);
        let built = lane_inputs(&q, &targets, &related, 15);
        let lanes_in: Vec<lanes::BandTarget> = built
            .iter()
            .map(|(slots, max_diag, max_dist)| lanes::BandTarget { slots, max_diag: *max_diag, max_dist: *max_dist })
            .collect();
        // Fewer targets than lanes: the rest answer false.
        let one: Vec<bool> = (0..lanes::MAX_TIGHT_LANES)
            .map(|l| l < given && bq.may_align_tight(&lanes_in[l]))
            .collect();
        prop_assert_eq!(bq.may_align_tight_lanes(&lanes_in[..given]).to_vec(), one.clone());
        prop_assert_eq!(bq.may_align_tight_lanes_portable(&lanes_in[..given]).to_vec(), one);
    }
}

/// A 255 bp barcode against itself, padded as the search pads it, passes beside any other target.
#[test]
fn self_hit_passes_in_any_lane_group() {
    let q = b"AGCCGCGGTAATACGAGGGGTGCAAGCGTTAATCGGAATTACTGGGCGTAAAGCGTACGCAGGCGGTTTGTTAAGCGAGATGTGAAAGCCCCGGGCTCAACCTGGGAACTGCATTTCGAACTGGCAGACTAGAGTATGATAGAGGGTGGTAGAATTTCAGGTGTAGCGGTGAAATGCGTAGAGATCTGAAGGAATACCGATGGCGAAGGCAGCCACCTGGGTCAATACTGACGCTCATGTACGAAAGCGTGGGGA";
    let mq = MyersQuery::new(q);
    let bq = lanes::BandQuery::new(&mq);
    let (slots, _) = band_target(q, 30, 0);
    for u in 0..200usize {
        let other = random_dna(300, u as u64);
        let (os, _) = band_target(&other, 0, 0);
        let t0 = lanes::BandTarget {
            slots: &slots,
            max_diag: 60,
            max_dist: 28,
        };
        let t1 = lanes::BandTarget {
            slots: &os,
            max_diag: u,
            max_dist: 28,
        };
        let a = bq.may_align_lanes(&[t0, t1]);
        let b = bq.may_align_lanes_portable(&[t0, t1]);
        assert!(bq.may_align(&t0), "alone");
        assert!(b[0], "portable u={u}");
        assert!(a[0], "avx2 u={u}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The 127-diagonal band scan is lossless and sound like the narrow one.
    #[test]
    fn wide_band_is_lossless_and_sound(
        (q, t) in pair(),
        left in 0usize..40,
        right in 0usize..40,
        max_diag in 0usize..220,
        k in 0u32..80,
    ) {
        check_band_scan(&q, &t, (left, right), max_diag, k, lanes::WIDE_BAND_ROWS, lanes::BandQuery::may_align_wide)?;
    }

    /// The wide vector lanes answer exactly as the one-lane wide scan.
    #[test]
    fn wide_band_lanes_equal_single_lane(
        q in dna(0..300),
        targets in prop::collection::vec((dna(0..300), 0usize..40, 0usize..40, 0usize..220, 0u32..80), lanes::MAX_WIDE_LANES),
        related in prop::collection::vec(any::<bool>(), lanes::MAX_WIDE_LANES),
    ) {
        let mq = MyersQuery::new(&q);
        let bq = lanes::BandQuery::new(&mq);
        let built: Vec<(Vec<u8>, usize, u32)> = targets
            .iter()
            .zip(&related)
            .map(|((t, l, r, md, k), &rel)| {
                let t = if rel { [t.clone(), mutate(&q, 7, *md as u64), t.clone()].concat() } else { t.clone() };
                (band_target(&t, *l, *r).0, *md, *k)
            })
            .collect();
        let lanes_in: [lanes::BandTarget; lanes::MAX_WIDE_LANES] = std::array::from_fn(|l| lanes::BandTarget {
            slots: &built[l].0,
            max_diag: built[l].1,
            max_dist: built[l].2,
        });
        let one: Vec<bool> = lanes_in.iter().map(|t| bq.may_align_wide(t)).collect();
        let n = lanes::wide_lanes();
        prop_assert_eq!(&bq.may_align_wide_lanes(&lanes_in[..n])[..n], &one[..n]);
        prop_assert_eq!(bq.may_align_wide_lanes_portable(&lanes_in).to_vec(), one.clone());
        if let Some(avx2) = bq.may_align_wide_lanes_avx2(&lanes_in[..lanes::WIDE_LANES]) {
            prop_assert_eq!(&avx2[..], &one[..lanes::WIDE_LANES]);
        }
        let mut first_only = vec![false; lanes::MAX_WIDE_LANES];
        first_only[0] = one[0];
        prop_assert_eq!(bq.may_align_wide_lanes(&lanes_in[..1]).to_vec(), first_only);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    /// With the budget at exactly the best in-band distance, every kernel (portable, vector, narrow, wide)
    /// must accept, and with one less it must reject whenever the true distance is over it: early exits
    /// that come a column too soon show up here.
    #[test]
    fn band_kernels_accept_at_the_exact_budget(
        q in dna(20..300),
        every in 4usize..15,
        seed in any::<u64>(),
        flank in dna(0..40),
        left in 0usize..20,
        shift in 0usize..40,
    ) {
        let t = [flank.clone(), mutate(&q, every, seed), flank].concat();
        let mq = MyersQuery::new(&q);
        let bq = lanes::BandQuery::new(&mq);
        let (slots, explicit) = band_target(&t, left, 0);
        let truth = naive_last_row(&q, &explicit).into_iter().min().unwrap_or(u32::MAX);
        for (rows, wide) in [(63usize, false), (127, true)] {
            // A band placed around the copy (starting `flank.len() + left` columns in), shifted a little.
            let max_diag = 40 + left + shift.min(rows / 2);
            let banded = naive_band_best_between(&q, &explicit, max_diag as i64 - (rows as i64 - 1), max_diag);
            if banded > 400 {
                continue;
            }
            for k in [banded, banded.saturating_sub(1)] {
                let target = lanes::BandTarget { slots: &slots, max_diag, max_dist: k };
                let answers = if wide {
                    let mut a = vec![bq.may_align_wide(&target)];
                    a.extend(bq.may_align_wide_lanes(&[target, target, target]).iter().take(3));
                    a.extend(bq.may_align_wide_lanes_portable(&[target]).iter().take(1));
                    a.extend(bq.may_align_wide_lanes_avx2(&[target, target]).into_iter().flatten());
                    a
                } else {
                    let mut a = vec![bq.may_align(&target)];
                    a.extend(bq.may_align_lanes(&[target, target, target]).iter().take(3));
                    a.extend(bq.may_align_lanes_portable(&[target]).iter().take(1));
                    a.extend(bq.may_align_lanes_avx2(&[target, target]).into_iter().flat_map(|v| v.into_iter().take(2)));
                    a
                };
                if k == banded {
                    prop_assert!(answers.iter().all(|&a| a), "rows {} k {} answers {:?}", rows, k, answers);
                }
                if truth > k {
                    prop_assert!(answers.iter().all(|&a| !a), "rows {} truth {} k {} answers {:?}", rows, truth, k, answers);
                }
            }
        }
    }
}

proptest! {
    /// The wide kernel's vector lower-bound test agrees with the scalar bound on any words (disjoint +1 and
    /// −1 steps, as vertical deltas are).
    #[test]
    fn wide_vector_bound_equals_scalar(
        words in prop::collection::vec((any::<u128>(), any::<u128>(), 0i64..300, 0i64..300), 2),
        below in 1i64..200,
    ) {
        let w: [(u128, u128, i64, i64); 2] = std::array::from_fn(|i| {
            let (p, n, score, budget) = words[i];
            (p, n & !p, score, budget)
        });
        let order = [0usize, 1, 1, 0, 1, 0, 0, 1];
        if let Some(got) = lanes::wide512_beyond_budget_for_tests(order.map(|k| w[k]), below) {
            for (i, &k) in order.iter().enumerate() {
                let (p, n, score, budget) = w[k];
                prop_assert_eq!(got[i], lanes::wide_lower_bound_for_tests(p, n, score, below) > budget, "avx-512 lane {}", i);
            }
        }
        if let Some(got) = lanes::wide_beyond_budget_for_tests(w, below) {
            for i in 0..2 {
                let (p, n, score, budget) = w[i];
                prop_assert_eq!(got[i], lanes::wide_lower_bound_for_tests(p, n, score, below) > budget, "half {}", i);
            }
        }
    }
}
