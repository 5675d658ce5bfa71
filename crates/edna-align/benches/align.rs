//! Alignments per second on one core, for the shapes the search engine aligns.
//!
//! Corpus model: 300 bp random query, target a copy with ~3 % substitutions and indels (the reference
//! pair), plus 188 bp (a 12S MiFish ASV's median length) in a window of query + 2·(2d + 8) bases, as the
//! engine aligns around an edit-distance placement. Bands: the engine's (`2·(2d + 8) + 1` diagonals for `d`
//! edits) and, for scale, the whole matrix. Sequences come from a fixed-seed generator: the figures depend on
//! the shapes and the number of edits, not on the bases.
//! Run with: `cargo bench -p edna-align --bench align [-- FILTER]` (only the cases whose label holds FILTER).

use std::hint::black_box;
use std::time::Instant;

use edna_align::{Aligner, Band, Scoring};

/// SplitMix64: a fixed stream, so every run times the same pairs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn base(&mut self) -> u8 {
        b"ACGT"[(self.next() & 3) as usize]
    }
}

/// A query of `len` bases and a copy with `edits` random substitutions, insertions and deletions, with
/// `flank` random bases either side.
fn pair(rng: &mut Rng, len: usize, edits: usize, flank: usize) -> (Vec<u8>, Vec<u8>) {
    let query: Vec<u8> = (0..len).map(|_| rng.base()).collect();
    let mut core = query.clone();
    for _ in 0..edits {
        let at = (rng.next() as usize) % core.len();
        match rng.next() % 3 {
            0 => core[at] = b"ACGT"[(b"ACGT".iter().position(|&b| b == core[at]).unwrap_or(0) + 1) % 4],
            1 => core.insert(at, rng.base()),
            _ => {
                core.remove(at);
            }
        }
    }
    let mut target: Vec<u8> = (0..flank).map(|_| rng.base()).collect();
    target.extend_from_slice(&core);
    target.extend((0..flank).map(|_| rng.base()));
    (query, target)
}

fn time(label: &str, pairs: &[(Vec<u8>, Vec<u8>, Option<Band>)]) {
    // `cargo bench` passes `--bench`; anything else is a filter.
    if let Some(filter) = std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        if !label.contains(&filter) {
            return;
        }
    }
    let scoring = Scoring::vsearch();
    let mut aligner = Aligner::new();
    let mut rounds = 1;
    loop {
        let t = Instant::now();
        let mut columns = 0u64;
        for _ in 0..rounds {
            for (q, t, band) in pairs {
                columns += u64::from(black_box(aligner.align(q, t, &scoring, *band)).columns);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        if secs > 0.5 {
            let n = (rounds * pairs.len()) as f64;
            println!(
                "{label:<48} {:>9.0} pairs/s  {:>6.2} µs/pair  ({} columns)",
                n / secs,
                secs / n * 1e6,
                columns / rounds as u64 / pairs.len() as u64
            );
            return;
        }
        rounds *= 2;
    }
}

fn main() {
    let mut rng = Rng(42);
    for (len, edits) in [
        (300usize, 9usize),
        (188, 0),
        (188, 5),
        (188, 18),
        (313, 31),
        (1650, 50),
        (1650, 80),
    ] {
        let radius = 2 * edits as i64 + 8;
        let flank = radius as usize;
        let pairs: Vec<_> = (0..200).map(|_| pair(&mut rng, len, edits, flank)).collect();
        let banded: Vec<_> = pairs
            .iter()
            .map(|(q, t)| (q.clone(), t.clone(), Some(Band::around(flank as i64, radius as u32))))
            .collect();
        let full: Vec<_> = pairs.iter().map(|(q, t)| (q.clone(), t.clone(), None)).collect();
        time(
            &format!("{len} bp, {edits} edits, band of {} diagonals", 2 * radius + 1),
            &banded,
        );
        time(&format!("{len} bp, {edits} edits, whole matrix"), &full);
    }
}
