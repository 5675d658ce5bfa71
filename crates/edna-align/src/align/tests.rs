use super::*;
use crate::iupac::compatible;
use proptest::prelude::*;

const SC: Scoring = Scoring::vsearch();

/// Textbook three-matrix Gotoh over the full `(m+1) × (n+1)` grid, optionally
/// restricted to a band with the documented edge/exit semantics. Written
/// independently of the optimised code (i64, no buffer reuse, no traceback).
fn naive_score(q: &[u8], t: &[u8], sc: &Scoring, band: Option<(i64, i64)>) -> i64 {
    const NEG: i64 = i64::MIN / 4;
    let (m, n) = (q.len(), t.len());
    let (to, te) = (sc.terminal_gap_open as i64, sc.terminal_gap_extend as i64);
    let (io, ie) = (sc.gap_open as i64, sc.gap_extend as i64);
    let term = |l: usize| if l == 0 { 0 } else { -(to + l as i64 * te) };
    let in_band = |i: usize, j: usize| match band {
        None => true,
        Some((lo, hi)) => {
            let d = j as i64 - i as i64;
            lo <= d && d <= hi
        }
    };
    let mut h = vec![vec![NEG; n + 1]; m + 1];
    let mut e = vec![vec![NEG; n + 1]; m + 1];
    let mut f = vec![vec![NEG; n + 1]; m + 1];
    for (j, hj) in h[0].iter_mut().enumerate() {
        *hj = term(j);
    }
    for (i, row) in h.iter_mut().enumerate() {
        row[0] = term(i);
    }
    for i in 1..=m {
        for j in 1..=n {
            if !in_band(i, j) {
                continue;
            }
            let (eo, ee) = if i == m { (to, te) } else { (io, ie) };
            let (fo, fe) = if j == n { (to, te) } else { (io, ie) };
            e[i][j] = (h[i][j - 1] - eo - ee).max(e[i][j - 1] - ee);
            f[i][j] = (h[i - 1][j] - fo - fe).max(f[i - 1][j] - fe);
            let d = h[i - 1][j - 1] + sc.pair_score(q[i - 1], t[j - 1]) as i64;
            h[i][j] = d.max(e[i][j]).max(f[i][j]);
        }
    }
    if band.is_none() {
        return h[m][n];
    }
    // Exits: corner, or a trailing terminal gap from any available cell of
    // row m / column n (row 0 and column 0 always available).
    let avail = |i: usize, j: usize| i == 0 || j == 0 || in_band(i, j);
    let mut best = NEG;
    if avail(m, n) {
        best = best.max(h[m][n]);
    }
    for j in 0..n {
        if avail(m, j) {
            let run = (n - j) as i64;
            best = best.max(h[m][j] - to - run * te).max(e[m][j] - run * te);
        }
    }
    for i in 0..m {
        if avail(i, n) {
            let run = (m - i) as i64;
            best = best.max(h[i][n] - to - run * te).max(f[i][n] - run * te);
        }
    }
    best
}

/// Score of a path recomputed column by column from its ops.
fn rescore(a: &Alignment, q: &[u8], t: &[u8], sc: &Scoring) -> i32 {
    let (m, n) = (q.len(), t.len());
    let (mut i, mut j) = (0, 0);
    let mut s = 0;
    for &(op, len) in &a.ops {
        match op {
            Op::Match | Op::Mismatch => {
                for _ in 0..len {
                    assert_eq!(op == Op::Match, compatible(q[i], t[j]), "op kind");
                    s += sc.pair_score(q[i], t[j]);
                    i += 1;
                    j += 1;
                }
            }
            Op::Ins => {
                s -= sc.gap_cost(len, j == 0 || j == n);
                i += len as usize;
            }
            Op::Del => {
                s -= sc.gap_cost(len, i == 0 || i == m);
                j += len as usize;
            }
        }
    }
    assert_eq!((i, j), (m, n), "path must end in the corner");
    s
}

/// Every interior cell visited before the trailing terminal run lies in the band.
fn assert_path_in_band(a: &Alignment, m: usize, n: usize, lo: i64, hi: i64) {
    let mut cells = Vec::new();
    let (mut i, mut j) = (0usize, 0usize);
    for &(op, len) in &a.ops {
        for _ in 0..len {
            if op.consumes_query() {
                i += 1;
            }
            if op.consumes_target() {
                j += 1;
            }
            cells.push((i, j));
        }
    }
    let trailing = match a.ops.last() {
        Some(&(Op::Del, len)) => len as usize,
        Some(&(Op::Ins, len)) => len as usize,
        _ => 0,
    };
    let keep = cells.len() - trailing;
    for &(ci, cj) in &cells[..keep] {
        if ci >= 1 && cj >= 1 {
            let d = cj as i64 - ci as i64;
            assert!(
                lo <= d && d <= hi,
                "cell ({ci},{cj}) outside band [{lo},{hi}] in {:?}",
                a.ops
            );
        }
    }
    // The trailing run must really be a terminal gap along an edge.
    if trailing > 0 && keep > 0 {
        let (si, sj) = cells[keep - 1];
        assert!(si == m || sj == n || si == 0 || sj == 0 || (lo..=hi).contains(&(sj as i64 - si as i64)));
    }
}

/// Structural invariants every alignment must satisfy.
fn check_consistency(a: &Alignment, q: &[u8], t: &[u8]) {
    let (m, n) = (q.len(), t.len());
    let qsum: u32 = a.ops.iter().filter(|o| o.0.consumes_query()).map(|o| o.1).sum();
    let tsum: u32 = a.ops.iter().filter(|o| o.0.consumes_target()).map(|o| o.1).sum();
    assert_eq!((qsum as usize, tsum as usize), (m, n));
    assert!(a.ops.iter().all(|o| o.1 > 0));
    assert!(a.ops.windows(2).all(|w| w[0].0 != w[1].0), "runs must be merged");
    assert_eq!(a.columns, a.matches + a.mismatches + a.gap_columns);
    assert!(a.query_start <= a.query_end && a.query_end <= m);
    assert!(a.target_start <= a.target_end && a.target_end <= n);
    assert!(a.gap_opens <= a.gap_columns);
    let id = a.identity();
    assert!((0.0..=1.0).contains(&id));
    // Aligned part: query/target spans equal the consumed bases.
    let (q_rows, mid, t_rows) = a.aligned_strings(q, t);
    assert_eq!(q_rows.len(), a.columns as usize);
    assert_eq!(t_rows.len(), a.columns as usize);
    assert_eq!(mid.matches('|').count(), a.matches as usize);
    let q_bases = q_rows.bytes().filter(|&c| c != b'-').count();
    let t_bases = t_rows.bytes().filter(|&c| c != b'-').count();
    assert_eq!(q_bases, a.query_end - a.query_start);
    assert_eq!(t_bases, a.target_end - a.target_start);
    assert_eq!(
        q_rows.replace('-', ""),
        String::from_utf8_lossy(&q[a.query_start..a.query_end])
    );
    assert_eq!(
        t_rows.replace('-', ""),
        String::from_utf8_lossy(&t[a.target_start..a.target_end])
    );
    // CIGAR accounts for the whole query (soft clips included).
    let cig = a.cigar_string();
    if a.columns == 0 {
        assert_eq!(cig, "*");
    } else {
        let mut num = 0u32;
        let (mut qlen, mut tlen) = (0u32, 0u32);
        for c in cig.chars() {
            if let Some(d) = c.to_digit(10) {
                num = num * 10 + d;
            } else {
                match c {
                    '=' | 'X' => {
                        qlen += num;
                        tlen += num;
                    }
                    'I' | 'S' => qlen += num,
                    'D' => tlen += num,
                    _ => panic!("bad cigar {cig}"),
                }
                num = 0;
            }
        }
        assert_eq!(qlen as usize, m, "{cig}");
        assert_eq!(tlen as usize, a.target_end - a.target_start, "{cig}");
    }
}

fn seq(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Deterministic pseudo-random DNA (xorshift), for fixed examples.
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

#[test]
fn exact_match() {
    let q = seq("ACGTTGCAAGGCTTAC");
    let a = align(&q, &q, &SC, None);
    assert_eq!(a.score, 2 * q.len() as i32);
    assert_eq!(a.ops, vec![(Op::Match, q.len() as u32)]);
    assert_eq!((a.query_start, a.query_end), (0, q.len()));
    assert_eq!((a.target_start, a.target_end), (0, q.len()));
    assert_eq!(a.identity(), 1.0);
    assert_eq!(a.query_coverage(q.len()), 1.0);
    assert_eq!(a.cigar_string(), "16=");
    check_consistency(&a, &q, &q);
}

#[test]
fn one_mismatch() {
    let q = seq("ACGTTGCAAG");
    let t = seq("ACGTTCCAAG");
    let a = align(&q, &t, &SC, None);
    assert_eq!(a.score, 9 * 2 - 4);
    assert_eq!((a.matches, a.mismatches, a.columns), (9, 1, 10));
    assert!((a.identity() - 0.9).abs() < 1e-12);
    assert_eq!(a.cigar_string(), "5=1X4=");
    assert_eq!(a.cigar(CigarStyle::Classic), "10M");
    let (qr, mid, tr) = a.aligned_strings(&q, &t);
    assert_eq!(qr, "ACGTTGCAAG");
    assert_eq!(mid, "||||| ||||");
    assert_eq!(tr, "ACGTTCCAAG");
}

#[test]
fn one_interior_deletion_and_insertion() {
    let q = random_dna(40, 7);
    let mut t = q.clone();
    t.insert(20, b'A');
    let a = align(&q, &t, &SC, None);
    // vsearch's interior open penalty, 20, covers the gap's first column.
    assert_eq!(a.score, 40 * 2 - 20, "{:?}", a.ops);
    assert_eq!((a.gap_opens, a.gap_columns, a.columns), (1, 1, 41));
    assert_eq!(a.matches, 40);
    assert!(a.ops.contains(&(Op::Del, 1)));
    check_consistency(&a, &q, &t);

    // The mirror case: an extra query base is an interior `I`.
    let b = align(&t, &q, &SC, None);
    assert_eq!(b.score, 40 * 2 - 20);
    assert!(b.ops.contains(&(Op::Ins, 1)));
    assert!(b.cigar_string().contains("1I"));
}

/// The diagonals a path passes through, terminal gaps excluded: a query inside a longer target sits on
/// the diagonal of its offset; a 3-base deletion moves the rest of the path 3 diagonals on, an insertion
/// back; a query hanging off the target's start starts below diagonal 0.
#[test]
fn path_diagonals() {
    let q = random_dna(60, 11);
    let flank = random_dna(12, 12);
    let inside = [flank.clone(), q.clone(), flank.clone()].concat();
    assert_eq!(align(&q, &inside, &SC, None).diagonals(), Some((12, 12)));

    let mut deleted = inside.clone();
    deleted.splice(12 + 30..12 + 30, b"CCC".iter().copied());
    let a = align(&q, &deleted, &SC, None);
    assert!(a.ops.contains(&(Op::Del, 3)), "{:?}", a.ops);
    assert_eq!(a.diagonals(), Some((12, 15)));

    let mut inserted = inside.clone();
    inserted.drain(12 + 30..12 + 33);
    let b = align(&q, &inserted, &SC, None);
    assert!(b.ops.contains(&(Op::Ins, 3)), "{:?}", b.ops);
    assert_eq!(b.diagonals(), Some((9, 12)));

    let overhang = align(&q, &q[20..], &SC, None);
    assert_eq!(overhang.diagonals(), Some((-20, -20)));
    assert_eq!(align(b"", &q, &SC, None).diagonals(), None);
}

#[test]
fn gap_is_left_aligned_in_homopolymer() {
    // Flanks end/start with non-T so the T run is unambiguous.
    let left = seq("GACGGCATCAGGCACAGCAG");
    let right = seq("CGAGCCGAGGCACGGACGAC");
    let q = [&left[..], b"TTTT", &right[..]].concat();
    let t = [&left[..], b"TTT", &right[..]].concat();
    let a = align(&q, &t, &SC, None);
    // Traceback from the end prefers the diagonal, so the gap lands on the first T.
    assert_eq!(a.ops, vec![(Op::Match, 20), (Op::Ins, 1), (Op::Match, 23)]);
}

#[test]
fn terminal_overhangs_both_sides() {
    let core = random_dna(30, 11);
    // Target overhangs: leading and trailing terminal D.
    let t = [&b"GGG"[..], &core, b"TT"].concat();
    let a = align(&core, &t, &SC, None);
    // Terminal gaps of L columns cost 2 + (L − 1), as vsearch scores them.
    assert_eq!(a.score, 60 - (2 + 2) - (2 + 1));
    assert_eq!(a.ops, vec![(Op::Del, 3), (Op::Match, 30), (Op::Del, 2)]);
    assert_eq!((a.target_start, a.target_end), (3, 33));
    assert_eq!((a.query_start, a.query_end), (0, 30));
    assert_eq!((a.columns, a.gap_opens, a.gap_columns), (30, 0, 0));
    assert_eq!(a.identity(), 1.0);
    assert_eq!(a.cigar_string(), "30=");
    check_consistency(&a, &core, &t);

    // Query overhangs: leading and trailing terminal I, soft-clipped in the CIGAR.
    let q = [&b"AAA"[..], &core, b"CC"].concat();
    let b = align(&q, &core, &SC, None);
    assert_eq!(b.score, 60 - (2 + 2) - (2 + 1));
    assert_eq!((b.query_start, b.query_end), (3, 33));
    assert_eq!(b.cigar_string(), "3S30=2S");
    assert!((b.query_coverage(q.len()) - 30.0 / 35.0).abs() < 1e-12);
    assert_eq!(b.identity(), 1.0);
    check_consistency(&b, &q, &core);
}

#[test]
fn iupac_compatibility() {
    let q = seq("ACGTACGTAC");
    let t = seq("RCGTACGTAN");
    let a = align(&q, &t, &SC, None);
    // Ambiguous columns score 0 (vsearch) but count as matches.
    assert_eq!(a.score, 8 * 2);
    assert_eq!((a.matches, a.mismatches), (10, 0));
    assert_eq!(a.identity(), 1.0);
    assert_eq!(a.cigar_string(), "10=");
    // Incompatible ambiguity is a mismatch, still scored 0.
    let b = align(&seq("ACGT"), &seq("YCGT"), &SC, None);
    assert_eq!((b.score, b.matches, b.mismatches), (6, 3, 1));
    // A custom scoring may reward ambiguous columns.
    let sc = Scoring {
        ambiguous_score: 1,
        ..SC
    };
    assert_eq!(align(&q, &t, &sc, None).score, 8 * 2 + 2);
}

#[test]
fn empty_inputs_do_not_panic() {
    let a = align(b"", b"", &SC, None);
    assert_eq!((a.score, a.columns, a.ops.len()), (0, 0, 0));
    assert_eq!(a.identity(), 0.0);
    assert_eq!(a.query_coverage(0), 0.0);
    assert_eq!(a.cigar_string(), "*");
    let b = align(b"ACG", b"", &SC, None);
    assert_eq!(b.ops, vec![(Op::Ins, 3)]);
    assert_eq!((b.score, b.columns), (-4, 0));
    let c = align(b"", b"ACGT", &SC, Some(Band::new(3, 1)));
    assert_eq!(c.ops, vec![(Op::Del, 4)]);
    assert_eq!(c.score, -5);
    assert_eq!(
        c.aligned_strings(b"", b"ACGT"),
        (String::new(), String::new(), String::new())
    );
    // Junk bytes never match but must not panic either.
    let d = align(b"xx-", b"ACG", &SC, None);
    assert_eq!(d.matches, 0);
}

#[test]
fn empty_band_gives_all_gap_path() {
    let q = seq("ACGT");
    let t = seq("ACGTT");
    let a = align(&q, &t, &SC, Some(Band::new(2, 1)));
    assert_eq!(a.ops, vec![(Op::Del, 5), (Op::Ins, 4)]);
    assert_eq!(a.score, -(2 + 4) - (2 + 3));
    assert_eq!(a.columns, 0);
}

#[test]
fn window_band_with_overhangs() {
    // Query lies at offset 30 in a 260-bp window; band of width 41 around it.
    let q = random_dna(200, 3);
    let mut mid = q.clone();
    mid[50] = if mid[50] == b'A' { b'C' } else { b'A' };
    mid.remove(120);
    let t = [random_dna(30, 4), mid, random_dna(31, 5)].concat();
    let band = Band::around(30, 20);
    let a = align(&q, &t, &SC, Some(band));
    let full = align(&q, &t, &SC, None);
    assert_eq!(a, full);
    assert_eq!((a.target_start, a.target_end), (30, 229));
    assert_eq!((a.mismatches, a.gap_opens), (1, 1));
    check_consistency(&a, &q, &t);

    // Band away from both corners: the query sticks out of the window on the
    // right, reached through the column-n exit.
    let t2 = [random_dna(40, 6), q[..150].to_vec()].concat();
    let b = align(&q, &t2, &SC, Some(Band::around(40, 5)));
    assert_eq!(b.score, naive_score(&q, &t2, &SC, Some((35, 45))) as i32);
    assert_eq!((b.query_start, b.query_end), (0, 150));
    assert_eq!((b.target_start, b.target_end), (40, 190));
    assert_eq!(b.identity(), 1.0);
    assert_path_in_band(&b, q.len(), t2.len(), 35, 45);
}

#[test]
fn aligner_reuse_is_stateless() {
    let mut al = Aligner::new();
    let pairs = [
        (random_dna(50, 1), random_dna(80, 2)),
        (random_dna(10, 3), random_dna(5, 4)),
        (random_dna(120, 5), random_dna(119, 6)),
        (Vec::new(), random_dna(3, 7)),
    ];
    for (q, t) in &pairs {
        for band in [None, Some(Band::around(0, 3))] {
            let fresh = align(q, t, &SC, band);
            assert_eq!(al.align(q, t, &SC, band), fresh);
        }
    }
    let other = Scoring {
        mismatch_score: -1,
        ..SC
    };
    let (q, t) = &pairs[0];
    assert_eq!(al.align(q, t, &other, None), align(q, t, &other, None));
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing_banded_window() {
    let q = random_dna(200, 42);
    let mut mid = q.clone();
    mid[60] = if mid[60] == b'G' { b'T' } else { b'G' };
    mid.insert(140, b'C');
    let t = [random_dna(30, 43), mid, random_dna(29, 44)].concat();
    assert_eq!(t.len(), 260);
    let band = Some(Band::around(30, 20));
    let mut al = Aligner::new();
    let iters = 20_000;
    let mut sink = 0i64;
    for _ in 0..1000 {
        sink += al.align(&q, &t, &SC, band).score as i64;
    }
    let t0 = std::time::Instant::now();
    for _ in 0..iters {
        sink += al.align(&q, &t, &SC, band).score as i64;
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / iters as f64;
    println!("banded 200 x 260, width 41: {per:.2} us/alignment (sink {sink})");
    let t0 = std::time::Instant::now();
    for _ in 0..iters / 10 {
        sink += al.align(&q, &t, &SC, None).score as i64;
    }
    let per_full = t0.elapsed().as_secs_f64() * 1e6 / (iters / 10) as f64;
    println!("unbanded 200 x 260: {per_full:.2} us/alignment (sink {sink})");
}

/// DNA over ACGT with occasional ambiguity codes.
fn dna(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"AAACCCGGGTTTNRY".to_vec()), 0..max)
}

/// A target derived from the query by substitutions/indels plus random flanks,
/// so that alignments have interesting structure.
fn related_pair(max: usize) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        dna(max),
        dna(12),
        dna(12),
        prop::collection::vec((any::<u16>(), 0u8..3, prop::sample::select(b"ACGT".to_vec())), 0..8),
        any::<bool>(),
    )
        .prop_map(|(q, pre, suf, edits, swap)| {
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
            let t = [pre, t, suf].concat();
            if swap {
                (t, q)
            } else {
                (q, t)
            }
        })
}

fn any_pair(max: usize) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    prop_oneof![related_pair(max), (dna(max), dna(max))]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_unbanded_equals_naive_gotoh((q, t) in any_pair(60)) {
        let a = align(&q, &t, &SC, None);
        prop_assert_eq!(a.score as i64, naive_score(&q, &t, &SC, None));
        prop_assert_eq!(rescore(&a, &q, &t, &SC), a.score);
        check_consistency(&a, &q, &t);
    }

    #[test]
    fn prop_other_scorings_equal_naive((q, t) in any_pair(40), mm in -6i32..0, go in 0i32..25,
                                        ge in 1i32..4, tgo in 0i32..5, tge in 0i32..3, amb in -2i32..3) {
        let sc = Scoring { match_score: 2, mismatch_score: mm, ambiguous_score: amb, gap_open: go,
                           gap_extend: ge, terminal_gap_open: tgo, terminal_gap_extend: tge };
        let a = align(&q, &t, &sc, None);
        prop_assert_eq!(a.score as i64, naive_score(&q, &t, &sc, None));
        prop_assert_eq!(rescore(&a, &q, &t, &sc), a.score);
        check_consistency(&a, &q, &t);
    }

    #[test]
    fn prop_covering_band_equals_unbanded((q, t) in any_pair(60), extra_lo in 0i64..5, extra_hi in 0i64..5) {
        let full = align(&q, &t, &SC, None);
        let cov = Band::covering(q.len(), t.len());
        prop_assert_eq!(&align(&q, &t, &SC, Some(cov)), &full);
        let wide = Band::new(cov.lo - extra_lo, cov.hi + extra_hi);
        prop_assert_eq!(&align(&q, &t, &SC, Some(wide)), &full);
    }

    #[test]
    fn prop_banded_equals_naive_banded((q, t) in any_pair(50), lo_off in -8i64..8, width in 0i64..16) {
        let (m, n) = (q.len() as i64, t.len() as i64);
        // Centre bands on plausible diagonals, sometimes far off.
        let lo = (n - m) / 2 + lo_off - width / 2;
        let hi = lo + width;
        let a = align(&q, &t, &SC, Some(Band::new(lo, hi)));
        prop_assert_eq!(a.score as i64, naive_score(&q, &t, &SC, Some((lo, hi))));
        prop_assert_eq!(rescore(&a, &q, &t, &SC), a.score);
        assert_path_in_band(&a, q.len(), t.len(), lo, hi);
        check_consistency(&a, &q, &t);
        // Banding can only lose score.
        prop_assert!(a.score <= align(&q, &t, &SC, None).score);
    }

    #[test]
    fn prop_arbitrary_bands_do_not_panic((q, t) in any_pair(30), lo in -40i64..40, width in -3i64..50) {
        let band = Band::new(lo, lo + width);
        let a = align(&q, &t, &SC, Some(band));
        // Negative widths are empty bands; the naive reference agrees.
        prop_assert_eq!(a.score as i64, naive_score(&q, &t, &SC, Some((lo, lo + width))));
        prop_assert_eq!(rescore(&a, &q, &t, &SC), a.score);
        check_consistency(&a, &q, &t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Realistic sizes: long rows exercise the unrolled scan and vector loops.
    #[test]
    fn prop_large_banded_and_unbanded((q, t) in related_pair(400), radius in 0u32..30, shift in -10i64..10) {
        let centre = (t.len() as i64 - q.len() as i64) / 2 + shift;
        let band = Band::around(centre, radius);
        let a = align(&q, &t, &SC, Some(band));
        prop_assert_eq!(a.score as i64, naive_score(&q, &t, &SC, Some((band.lo, band.hi))));
        prop_assert_eq!(rescore(&a, &q, &t, &SC), a.score);
        assert_path_in_band(&a, q.len(), t.len(), band.lo, band.hi);
        let full = align(&q, &t, &SC, None);
        prop_assert_eq!(full.score as i64, naive_score(&q, &t, &SC, None));
        check_consistency(&full, &q, &t);
    }

    /// The dispatched build (AVX2 where the CPU has it) and the baseline build give the same alignment.
    #[test]
    fn prop_dispatch_equals_portable((q, t) in related_pair(400), radius in 0u32..60, banded in any::<bool>()) {
        let band = banded.then(|| Band::around((t.len() as i64 - q.len() as i64) / 2, radius));
        let a = Aligner::new().align(&q, &t, &SC, band);
        let b = Aligner::new().align_portable(&q, &t, &SC, band);
        prop_assert_eq!(format!("{:?}", a), format!("{:?}", b));
    }

    /// Bands of up to 123 diagonals go by anti-diagonals in the AVX2 build (AVX-512 where the CPU has it): the same alignment as the
    /// baseline build's rows, for bands anywhere (off the corners, clipped by the edges), with vsearch's
    /// scoring and others, on related and unrelated pairs.
    #[test]
    fn prop_anti_diagonals_equal_rows((q, t) in any_pair(300), centre in -40i64..40, radius in 0u32..62,
                                      mm in -6i32..0, go in 0i32..25, tgo in 0i32..5, tge in 0i32..3) {
        let band = Band::around((t.len() as i64 - q.len() as i64) / 2 + centre, radius);
        let other = Scoring { mismatch_score: mm, gap_open: go, terminal_gap_open: tgo, terminal_gap_extend: tge, ..SC };
        let avx2_only = Aligner { avx2_only: true, ..Aligner::new() };
        for sc in [&SC, &other] {
            let b = Aligner::new().align_portable(&q, &t, sc, Some(band));
            let a = Aligner::new().align(&q, &t, sc, Some(band));
            prop_assert_eq!(format!("{:?}", a), format!("{:?}", &b));
            let a = avx2_only.clone().align(&q, &t, sc, Some(band));
            prop_assert_eq!(format!("{:?}", a), format!("{:?}", &b));
        }
    }

    /// 16-bit cells give exactly the 32-bit answer (scores, path, tie-breaks), with vsearch's scoring and
    /// others, banded or not, on unrelated and related pairs.
    #[test]
    fn prop_cells16_equal_cells32((q, t) in related_pair(400), (uq, ut) in any_pair(60), radius in 0u32..60,
                                  banded in any::<bool>(), mm in -6i32..0, go in 0i32..25) {
        let band = banded.then(|| Band::around((t.len() as i64 - q.len() as i64) / 2, radius));
        let other = Scoring { mismatch_score: mm, gap_open: go, ..SC };
        for (q, t, sc) in [(&q, &t, &SC), (&q, &t, &other), (&uq, &ut, &SC), (&uq, &ut, &other)] {
            prop_assert!(fits_i16(q.len(), t.len(), sc));
            let a = Aligner::new().align_portable(q, t, sc, band);
            let b = Aligner::new().align_cells32(q, t, sc, band);
            prop_assert_eq!(format!("{:?}", a), format!("{:?}", b));
        }
    }

    /// A path aligned in a window, scored on the whole target: equal to rescoring the path with the target
    /// bases outside the window added as terminal gaps.
    #[test]
    fn prop_score_in_longer_target((q, t) in related_pair(200), cut in 0usize..60, keep in 0usize..60,
                                   scoring_pick in 0usize..2) {
        let sc = if scoring_pick == 0 { SC } else { Scoring { gap_open: 3, terminal_gap_open: 7, ..SC } };
        prop_assume!(!q.is_empty() && t.len() > 1);
        let a = cut.min(t.len() - 1);
        // keep == 0: an empty window (the query is all overhang).
        let b = (a + keep).min(t.len());
        let aln = Aligner::new().align(&q, &t[a..b], &sc, None);
        let mut ops = Vec::new();
        push_run(&mut ops, Op::Del, a as u32);
        for &(op, len) in &aln.ops {
            push_run(&mut ops, op, len);
        }
        push_run(&mut ops, Op::Del, (t.len() - b) as u32);
        let whole = finish(ops, 0, q.len(), t.len());
        prop_assert_eq!(
            aln.score_in_longer_target(&sc, a as u32, (t.len() - b) as u32),
            rescore(&whole, &q, &t, &sc)
        );
    }

    /// One aligner reused over problems of varying shape gives fresh results.
    #[test]
    fn prop_reuse_matches_fresh(problems in prop::collection::vec((any_pair(80), -20i64..20, 0i64..30), 1..6)) {
        let mut al = Aligner::new();
        for ((q, t), lo, w) in problems {
            for band in [None, Some(Band::new(lo, lo + w))] {
                prop_assert_eq!(al.align(&q, &t, &SC, band), align(&q, &t, &SC, band));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Bands of up to 2,043 diagonals go by the wide anti-diagonal kernels (AVX-512, or AVX2 where a test
    /// or the CPU rules AVX-512 out; anti-diagonals in memory) when they pay, and always when told to: the
    /// same alignment as the baseline build's rows, for
    /// bands anywhere (clipped by the edges, wider than the matrix), with vsearch's scoring and others, on
    /// related and unrelated pairs with ambiguity codes.
    #[test]
    fn prop_wide_anti_diagonals_equal_rows((q, t) in any_pair(400), centre in -200i64..200, radius in 30u32..700,
                                           mm in -6i32..0, go in 0i32..25, tgo in 0i32..5, tge in 0i32..3) {
        let band = Band::around((t.len() as i64 - q.len() as i64) / 2 + centre, radius);
        let other = Scoring { mismatch_score: mm, gap_open: go, terminal_gap_open: tgo, terminal_gap_extend: tge, ..SC };
        let always_wide = Aligner { always_wide: true, ..Aligner::new() };
        let avx2_wide = Aligner { always_wide: true, avx2_only: true, ..Aligner::new() };
        let avx2 = Aligner { avx2_only: true, ..Aligner::new() };
        for sc in [&SC, &other] {
            let b = Aligner::new().align_portable(&q, &t, sc, Some(band));
            for aligner in [&Aligner::new(), &always_wide, &avx2_wide, &avx2] {
                let a = aligner.clone().align(&q, &t, sc, Some(band));
                prop_assert_eq!(format!("{:?}", a), format!("{:?}", &b));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Long pairs up to the 16-bit limit (18S and full-length barcodes): 16-bit cells give the 32-bit answer
    /// with vsearch's scoring and others, related (a few hundred edits, N runs) or unrelated, banded or not,
    /// through both the row kernel and the anti-diagonal one.
    #[test]
    fn prop_long_cells16_equal_cells32(len in 900usize..2_000, seed in any::<u64>(), related in any::<bool>(),
                                       edits in 0usize..200, radius in prop_oneof![Just(None), (0u32..400).prop_map(Some)],
                                       mm in -6i32..0, go in 0i32..25, tgo in 0i32..5, tge in 0i32..3) {
        let q = random_dna(len, seed);
        let t = if related {
            let mut t = q.clone();
            let mut x = seed | 1;
            for _ in 0..edits {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let at = (x >> 33) as usize % t.len();
                match (x >> 20) % 4 {
                    0 => t[at] = b"ACGT"[(x >> 8) as usize & 3],
                    1 => t.insert(at, b"ACGT"[(x >> 8) as usize & 3]),
                    2 => { t.remove(at); }
                    _ => t[at] = b'N',
                }
            }
            [random_dna(60, seed ^ 1), t, random_dna(40, seed ^ 2)].concat()
        } else {
            random_dna(len + 100, seed ^ 3)
        };
        let band = radius.map(|r| Band::around(60, r));
        let other = Scoring { mismatch_score: mm, gap_open: go, terminal_gap_open: tgo, terminal_gap_extend: tge, ..SC };
        prop_assert!(fits_i16(q.len(), t.len(), &SC));
        for sc in [&SC, &other] {
            if !fits_i16(q.len(), t.len(), sc) {
                continue;
            }
            let wide = Aligner::new().align_cells32(&q, &t, sc, band);
            let portable = Aligner::new().align_portable(&q, &t, sc, band);
            prop_assert_eq!(format!("{:?}", &portable), format!("{:?}", &wide));
            let dispatched = Aligner::new().align(&q, &t, sc, band);
            prop_assert_eq!(format!("{:?}", &dispatched), format!("{:?}", &wide));
        }
    }
}

/// Near the 16-bit limit: the longest pair that still fits uses 16-bit cells and agrees with 32-bit ones,
/// related or not, banded or not (an unrelated pair gives the most negative real scores of the problem); one
/// base more takes 32-bit cells. The limit covers full-length 18S barcodes (1,800 bases against 2,000).
#[test]
fn cells16_limit() {
    let longest = (1..10_000)
        .take_while(|&len| fits_i16(len, len + 100, &SC))
        .last()
        .unwrap_or(0);
    assert!(!fits_i16(longest + 1, longest + 101, &SC));
    assert!(fits_i16(1_800, 2_000, &SC));
    // Whatever the scores, row and anti-diagonal numbers must fit 16 bits too.
    let flat = Scoring {
        match_score: 0,
        mismatch_score: 0,
        ambiguous_score: 0,
        gap_open: 0,
        gap_extend: 0,
        terminal_gap_open: 0,
        terminal_gap_extend: 0,
    };
    assert!(fits_i16(10_000, 10_000, &flat));
    assert!(!fits_i16(20_000, 20_000, &flat));
    let q = random_dna(longest, 7);
    let mut t = q.clone();
    for i in (0..t.len()).step_by(37) {
        t[i] = if t[i] == b'A' { b'C' } else { b'A' };
    }
    t.extend(random_dna(100, 8));
    let u = random_dna(longest + 100, 9);
    for target in [&t, &u] {
        assert!(fits_i16(q.len(), target.len(), &SC));
        for band in [None, Some(Band::around(50, 200))] {
            let a = Aligner::new().align_portable(&q, target, &SC, band);
            let b = Aligner::new().align_cells32(&q, target, &SC, band);
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            let c = Aligner::new().align(&q, target, &SC, band);
            assert_eq!(format!("{c:?}"), format!("{b:?}"));
        }
    }
}

/// A near tie between a gap and mismatches goes the way vsearch takes it. The target has two substitutions
/// and one extra base 8 bases from its end, inside `AAATT(T)AAACA`: aligning straight through costs three
/// more mismatches and a one-base terminal gap instead. vsearch 2.22.1 (`--usearch_global`, defaults)
/// reports identity 98.1 over 161 columns, 2 mismatches, 1 gap, raw score 288, CIGAR `153MI7M`; with one gap
/// extension too many per gap, the straight path won (score 287 against 286, 96.9 %).
#[test]
fn gap_or_mismatches_near_tie_as_vsearch() {
    let q = seq("TTTCCTCATGCAATTCAAAACCATGTCCGTAATGTAGGCGAAATAGTAAACCATTTTACGGAGGATACCAAATTCCTCCTTATTCAGGACCTAACCTGAGGTAAACCAGGTCTCTCCGCCCCCTTATAAAAGCTGTTGCACCTAGCCAGTAAATTAAACA");
    let t = seq("TTTCCTCATGCAATTCAAAACCATGTCCGTAATGTAGGCGAAATGGTAAACCATTTTACGGAGGATACCAAATTCCTCCTTATTCAGGACCTAACCTGAGGTAAACCAGGTCTTTCCGCCCCCTTATAAAAGCTGTTGCACCTAGCCAGTAAATTTAAACA");
    let a = align(&q, &t, &SC, None);
    assert_eq!(a.score, 288);
    assert_eq!((a.columns, a.mismatches, a.gap_opens), (161, 2, 1));
    assert_eq!(a.cigar_string(), "44=1X68=1X39=1D7=");
    check_consistency(&a, &q, &t);
}

/// Bases drawn from a small alphabet `alphabet` (a two-letter one makes repeats, and so second occurrences,
/// common).
fn bases(alphabet: &'static [u8], len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(alphabet.to_vec()), len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whenever `exact_alignment` answers, the matrix gives that very alignment: unbanded, and in bands
    /// around the occurrence as the search draws them; with vsearch's scoring and random others.
    #[test]
    fn prop_exact_alignment_equals_the_matrix(
        q in prop_oneof![bases(b"ACGT", 1..80), bases(b"AC", 1..12), bases(b"ACGTN", 1..40)],
        left in prop_oneof![bases(b"ACGT", 0..40), bases(b"AC", 0..12)],
        right in prop_oneof![bases(b"ACGT", 0..40), bases(b"AC", 0..12)],
        reach in 0i64..30, skew in -3i64..3,
        mm in -6i32..3, go in -2i32..25, ge in 0i32..4, tgo in -1i32..5, tge in -1i32..3,
    ) {
        let t = [&left[..], &q[..], &right[..]].concat();
        let offset = left.len();
        let other = Scoring { mismatch_score: mm, gap_open: go, gap_extend: ge, terminal_gap_open: tgo,
                              terminal_gap_extend: tge, ..SC };
        for sc in [&SC, &other] {
            let centre = offset as i64 + skew;
            for band in [None, Some(Band::new(centre - reach, centre + reach))] {
                if let Some(exact) = exact_alignment(&q, &t, offset, sc, band) {
                    let dp = align(&q, &t, sc, band);
                    prop_assert_eq!(&exact, &dp, "{:?} {:?} {:?}", String::from_utf8_lossy(&q),
                                    String::from_utf8_lossy(&t), band);
                    check_consistency(&exact, &q, &t);
                }
            }
        }
    }
}

#[test]
fn exact_alignment_declines_what_it_cannot_vouch_for() {
    let q = b"ACGTTGCAAC";
    let t = [&b"GGA"[..], q, b"TTC"].concat();
    let a = exact_alignment(q, &t, 3, &SC, None).expect("a sole exact occurrence");
    assert_eq!(a.ops, vec![(Op::Del, 3), (Op::Match, 10), (Op::Del, 3)]);
    assert_eq!(a, align(q, &t, &SC, None));
    // Not at that offset, out of the band, or past the end.
    assert!(exact_alignment(q, &t, 2, &SC, None).is_none());
    assert!(exact_alignment(q, &t, 3, &SC, Some(Band::new(4, 9))).is_none());
    assert!(exact_alignment(q, &t, 10, &SC, None).is_none());
    // A second occurrence, an ambiguity code, a scoring under which a mismatch buys a cheaper end.
    let twice = [&t[..], q].concat();
    assert!(exact_alignment(q, &twice, 3, &SC, None).is_none());
    let ambiguous = [&b"GNA"[..], q, b"TTC"].concat();
    assert!(exact_alignment(q, &ambiguous, 3, &SC, None).is_none());
    let cheap_mismatch = Scoring {
        mismatch_score: 0,
        terminal_gap_open: 2,
        ..SC
    };
    assert!(exact_alignment(q, &t, 3, &cheap_mismatch, None).is_none());
}
