//! GBIF's sequence normaliser (`gbif-dna-core` `SequenceProcessor` 1.2) and the legacy `dnaSequenceID`.
//!
//! The cleaned sequence's MD5 is GBIF's `nucleotideSequenceID`, the key that joins our hits to GBIF
//! occurrence search, so every step below follows the Java implementation in order:
//! A whitespace removed and upper-cased, B natural language detected (`UNMERGED`), C gaps `-`/`.` removed,
//! D `U`→`T`, E `?`→`N`, F ends trimmed to the first and last run of ≥ 8 `ACGT`, G runs of ≥ 6 `N` capped to 5.

use md5::{Digest, Md5};
use serde::Serialize;

/// Minimum run of unambiguous bases that anchors each end (`anchorMinrun`).
const ANCHOR_MIN_RUN: usize = 8;
/// Runs of at least this many `N` are capped (`nrunCapFrom`).
const N_RUN_CAP_FROM: usize = 6;
/// ... to this many (`nrunCapTo`).
const N_RUN_CAP_TO: usize = 5;
/// Natural-language marker GBIF looks for (`naturalLanguageRegex`).
const NATURAL_LANGUAGE: &[u8] = b"UNMERGED";

/// The normaliser's result, field names as GBIF's `/v1/validation/sequence` (`SequenceProcessor.Result`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Normalized {
    /// The raw input.
    pub raw_sequence: String,
    /// Cleaned sequence; `None` when invalid (and empty when nothing anchored).
    pub sequence: Option<String>,
    /// Length of the cleaned sequence.
    pub sequence_length: usize,
    /// Fraction of characters outside `ACGTRYSWKMBDHVN`.
    pub non_iupac_fraction: f64,
    /// Fraction of characters other than `ACGTN`.
    #[serde(rename = "nonACGTNFraction")]
    pub non_acgtn_fraction: f64,
    /// Fraction of `N`.
    pub n_fraction: f64,
    /// Number of `N` runs capped to five.
    pub n_runs_capped: usize,
    /// (G+C)/(A+C+G+T); 0 when there is no unambiguous base.
    pub gc_content: f64,
    /// `UNMERGED` was found.
    pub natural_language_detected: bool,
    /// Something was cut before the first or after the last anchor run.
    pub ends_trimmed: bool,
    /// Whitespace or gap characters were removed.
    pub gaps_or_whitespace_removed: bool,
    /// MD5 (lower-case hex) of the cleaned sequence; `None` when invalid or empty.
    #[serde(rename = "nucleotideSequenceID")]
    pub nucleotide_sequence_id: Option<String>,
    /// Non-IUPAC characters or natural language.
    pub invalid: bool,
}

/// True for the IUPAC DNA codes GBIF accepts after cleaning (`ACGTRYSWKMBDHVN`).
#[inline]
pub fn is_iupac_dna(b: u8) -> bool {
    matches!(
        b,
        b'A' | b'C' | b'G' | b'T' | b'R' | b'Y' | b'S' | b'W' | b'K' | b'M' | b'B' | b'D' | b'H' | b'V' | b'N'
    )
}

#[inline]
fn is_anchor(b: u8) -> bool {
    matches!(b, b'A' | b'C' | b'G' | b'T')
}

/// Lower-case hex MD5 of bytes.
pub fn md5_hex(bytes: &[u8]) -> String {
    to_hex(&md5_bytes(bytes))
}

/// Raw MD5 digest of bytes.
pub fn md5_bytes(bytes: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(bytes);
    h.finalize().into()
}

/// Lower-case hex of a digest.
pub fn to_hex(d: &[u8; 16]) -> String {
    String::from_utf8_lossy(&to_hex_bytes(d)).into_owned()
}

/// Lower-case hex of a digest as ASCII bytes, for writers that need no `String`.
pub fn to_hex_bytes(d: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(d) {
        pair[0] = HEX[(b >> 4) as usize];
        pair[1] = HEX[(b & 15) as usize];
    }
    out
}

/// Parses 32 hex characters (either case) into a digest.
pub fn parse_hex_md5(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let hi = (b[2 * i] as char).to_digit(16)?;
        let lo = (b[2 * i + 1] as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// GBIF's legacy `dnaSequenceID` (gbif-api `DnaUtils.convertDnaSequenceToID`): MD5 of the upper-cased
/// input with everything outside `ACGTURYSWKMBDHVN` deleted. `None` for empty input.
pub fn legacy_dna_sequence_id(raw: &str) -> Option<String> {
    legacy_dna_sequence_digest(raw).map(|d| to_hex(&d))
}

/// The digest behind [`legacy_dna_sequence_id`].
pub fn legacy_dna_sequence_digest(raw: &str) -> Option<[u8; 16]> {
    if raw.is_empty() {
        return None;
    }
    let kept: Vec<u8> = raw
        .bytes()
        .map(|b| b.to_ascii_uppercase())
        .filter(|&b| b == b'U' || is_iupac_dna(b))
        .collect();
    Some(md5_bytes(&kept))
}

/// Cleans a sequence as GBIF does, without computing the hash or metrics: `Ok(cleaned)` (possibly empty
/// when no anchor run exists) or `Err(reason)` for sequences GBIF marks invalid. The hot path for queries.
pub fn clean(raw: &[u8]) -> Result<Vec<u8>, Invalid> {
    // Most queries are already upper-case ACGT: nothing to remove, replace, trim or cap (the anchor runs
    // are the whole sequence once it has ANCHOR_MIN_RUN bases), so they are their own normal form.
    if raw.len() >= ANCHOR_MIN_RUN && raw.iter().all(|&b| is_anchor(b)) {
        return Ok(raw.to_vec());
    }
    clean_general(raw)
}

/// [`clean`] without the fast path: every stage of GBIF's normaliser.
fn clean_general(raw: &[u8]) -> Result<Vec<u8>, Invalid> {
    let (s, _, _, natural) = clean_stages(raw);
    if natural {
        return Err(Invalid::NaturalLanguage);
    }
    let (t, _) = trim_and_cap(&s);
    // GBIF measures non-IUPAC characters after trimming: junk beyond the last anchor run is cut, not fatal.
    if let Some(&c) = t.0.iter().find(|&&c| !is_iupac_dna(c)) {
        let i = s.iter().position(|&x| x == c).unwrap_or(0);
        return Err(Invalid::NonIupac {
            ch: c as char,
            pos: original_position(raw, i),
        });
    }
    Ok(t.0)
}

/// Cleans a reference-library sequence: the same character rules as [`clean`] (whitespace and gaps
/// removed, upper case, `U`→`T`, `?`→`N`, IUPAC only) but without GBIF's end trimming and N-run capping,
/// so a barcode keeps every base a peer tool such as vsearch would align against.
pub fn clean_reference(raw: &[u8]) -> Result<Vec<u8>, Invalid> {
    let (s, _, _, natural) = clean_stages(raw);
    if natural {
        return Err(Invalid::NaturalLanguage);
    }
    if let Some((i, &c)) = s.iter().enumerate().find(|(_, &c)| !is_iupac_dna(c)) {
        return Err(Invalid::NonIupac {
            ch: c as char,
            pos: original_position(raw, i),
        });
    }
    Ok(s)
}

/// Why a sequence is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// `UNMERGED` (natural language) found.
    NaturalLanguage,
    /// A character outside the IUPAC DNA alphabet; `pos` is 1-based in the raw input when it can be located.
    NonIupac {
        /// The character.
        ch: char,
        /// 1-based position in the raw input.
        pos: usize,
    },
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::NaturalLanguage => write!(f, "natural language detected (UNMERGED)"),
            Invalid::NonIupac { ch, pos } => {
                if ch.is_ascii_graphic() {
                    write!(f, "non-IUPAC character '{ch}' at {pos}")
                } else {
                    write!(f, "non-IUPAC character {:?} at {pos}", ch)
                }
            }
        }
    }
}

// Maps an index in the whitespace/gap-stripped string back to the raw input (1-based), for messages.
fn original_position(raw: &[u8], stripped_index: usize) -> usize {
    let mut seen = 0usize;
    for (i, &b) in raw.iter().enumerate() {
        if b.is_ascii_whitespace() || b == b'-' || b == b'.' {
            continue;
        }
        if seen == stripped_index {
            return i + 1;
        }
        seen += 1;
    }
    stripped_index + 1
}

// Stages A-E: returns (s4, raw had whitespace, had gaps, natural language).
fn clean_stages(raw: &[u8]) -> (Vec<u8>, bool, bool, bool) {
    let mut has_ws = false;
    let mut s1 = Vec::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii_whitespace() || b == 0x0b || b == 0x0c {
            has_ws = true;
        } else {
            s1.push(b.to_ascii_uppercase());
        }
    }
    let natural = s1.windows(NATURAL_LANGUAGE.len()).any(|w| w == NATURAL_LANGUAGE);
    let mut has_gaps = false;
    let mut s = Vec::with_capacity(s1.len());
    for b in s1 {
        match b {
            b'-' | b'.' => has_gaps = true,
            b'U' => s.push(b'T'),
            b'?' => s.push(b'N'),
            _ => s.push(b),
        }
    }
    (s, has_ws, has_gaps, natural)
}

/// GBIF's normal form of a sequence already cleaned by [`clean_reference`] (ends trimmed to the anchor
/// runs, runs of N capped), with each of its bases' 0-based position in `cleaned`: maps coordinates on the
/// normal form back to the sequence as given. Empty when no anchor run exists.
pub fn normal_form_with_positions(cleaned: &[u8]) -> (Vec<u8>, Vec<u32>) {
    let mut positions = Vec::with_capacity(cleaned.len());
    let ((normal, _), _) = trim_and_cap_tracked(cleaned, Some(&mut positions));
    (normal, positions)
}

// Stages F-G: returns ((cleaned, n runs capped), ends trimmed).
fn trim_and_cap(s: &[u8]) -> ((Vec<u8>, usize), bool) {
    trim_and_cap_tracked(s, None)
}

// [`trim_and_cap`], recording each output base's position in `s` when asked.
fn trim_and_cap_tracked(s: &[u8], mut positions: Option<&mut Vec<u32>>) -> ((Vec<u8>, usize), bool) {
    // F: first and last run of >= 8 anchor bases.
    let mut first: Option<usize> = None;
    let mut last_end = 0usize;
    let mut run_start = 0usize;
    let mut run_len = 0usize;
    for (i, &c) in s.iter().enumerate() {
        if is_anchor(c) {
            if run_len == 0 {
                run_start = i;
            }
            run_len += 1;
            if run_len >= ANCHOR_MIN_RUN {
                if first.is_none() {
                    first = Some(run_start);
                }
                last_end = i + 1;
            }
        } else {
            run_len = 0;
        }
    }
    let Some(start) = first else {
        return ((Vec::new(), 0), !s.is_empty());
    };
    let trimmed = start > 0 || last_end < s.len();
    let core = &s[start..last_end];
    // G: cap runs of N.
    let mut out = Vec::with_capacity(core.len());
    let mut capped = 0usize;
    let mut i = 0;
    while i < core.len() {
        if core[i] == b'N' {
            let mut j = i;
            while j < core.len() && core[j] == b'N' {
                j += 1;
            }
            let run = j - i;
            let kept = if run >= N_RUN_CAP_FROM {
                capped += 1;
                N_RUN_CAP_TO
            } else {
                run
            };
            out.extend(std::iter::repeat_n(b'N', kept));
            if let Some(p) = positions.as_deref_mut() {
                p.extend((start + i..start + i + kept).map(|x| x as u32));
            }
            i = j;
        } else {
            out.push(core[i]);
            if let Some(p) = positions.as_deref_mut() {
                p.push((start + i) as u32);
            }
            i += 1;
        }
    }
    ((out, capped), trimmed)
}

/// Runs GBIF's full normaliser with metrics and hash.
pub fn normalize(raw: &str) -> Normalized {
    let (s4, has_ws, has_gaps, natural) = clean_stages(raw.as_bytes());
    let ((s7, n_runs_capped), ends_trimmed) = trim_and_cap(&s4);
    let len = s7.len();
    let (mut n, mut non_acgtn, mut non_iupac, mut gc, mut acgt) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for &c in &s7 {
        match c {
            b'N' => n += 1,
            b'G' | b'C' => {
                gc += 1;
                acgt += 1
            }
            b'A' | b'T' => acgt += 1,
            _ => {}
        }
        if !matches!(c, b'A' | b'C' | b'G' | b'T' | b'N') {
            non_acgtn += 1;
        }
        if !is_iupac_dna(c) {
            non_iupac += 1;
        }
    }
    let frac = |x: usize| if len == 0 { 0.0 } else { x as f64 / len as f64 };
    let invalid = non_iupac > 0 || natural;
    let sequence = if invalid {
        None
    } else {
        Some(String::from_utf8_lossy(&s7).into_owned())
    };
    let nucleotide_sequence_id = if invalid || s7.is_empty() {
        None
    } else {
        Some(md5_hex(&s7))
    };
    Normalized {
        raw_sequence: raw.to_string(),
        sequence,
        sequence_length: len,
        non_iupac_fraction: frac(non_iupac),
        non_acgtn_fraction: frac(non_acgtn),
        n_fraction: frac(n),
        n_runs_capped,
        gc_content: if acgt == 0 { 0.0 } else { gc as f64 / acgt as f64 },
        natural_language_detected: natural,
        ends_trimmed,
        gaps_or_whitespace_removed: has_ws || has_gaps,
        nucleotide_sequence_id,
        invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The all-ACGT fast path gives what every stage gives, on mostly-ACGT inputs with the odd
        /// lower-case base, N run, gap, space or U.
        #[test]
        fn fast_path_equals_every_stage(raw in proptest::collection::vec(
            prop::sample::select(b"ACGTACGTACGTACGTACGTACGTNacgu- .?X".to_vec()), 0..60)) {
            prop_assert_eq!(clean(&raw), clean_general(&raw));
        }

        #[test]
        fn fast_path_equals_every_stage_on_acgt(raw in proptest::collection::vec(
            prop::sample::select(b"ACGT".to_vec()), 0..40)) {
            prop_assert_eq!(clean(&raw), clean_general(&raw));
        }
    }

    /// (raw, cleaned sequence, nucleotideSequenceID, legacy dnaSequenceID)
    type Vector = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    // GBIF's vectors (gbif-compat.md §4.2, §4.1).
    #[test]
    fn gbif_vectors() {
        let cases: &[Vector] = &[
            (
                "ACGTACGTACGTACGT",
                Some("ACGTACGTACGTACGT"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
            ),
            (
                "acgtacgtacgtacgt",
                Some("ACGTACGTACGTACGT"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
            ),
            (
                "ACGT-ACGT..ACGTACGT",
                Some("ACGTACGTACGTACGT"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
            ),
            (
                "ACGUACGUACGUACGU",
                Some("ACGTACGTACGTACGT"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
                Some("691b8968208c59e11cdc96103b8dc1d6"),
            ),
            (
                "NNNACGTACGTACGTNNN",
                Some("ACGTACGTACGT"),
                Some("31e91beccf6059ff57c696827c0c6a4b"),
                Some("1fed5b683598642953d9ab0d5c5c3bf3"),
            ),
            (
                "ACGTACGTNNNNNNNNNNACGTACGT",
                Some("ACGTACGTNNNNNACGTACGT"),
                Some("26e166a903938e760a3ba5f2af2065a2"),
                Some("7b433583287ac7589c68f0f267784c22"),
            ),
            (
                "ACGTACGT?ACGTACGT",
                Some("ACGTACGTNACGTACGT"),
                Some("2a1d5c0ebb032ebbbc6a1f37b34577c9"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
            ),
            (
                "RYACGTACGTACGTACGTKM",
                Some("ACGTACGTACGTACGT"),
                Some("56b74a652b3ed2f610263b8bb423167c"),
                Some("e69bf13b1b5d136e673759a73864cd54"),
            ),
            (
                "ccacacct",
                Some("CCACACCT"),
                Some("a6bf0d942fd67916f50079e5c44a41b0"),
                Some("a6bf0d942fd67916f50079e5c44a41b0"),
            ),
            (
                "ccacacctaaa __  aaactttccacgtgaacc",
                None,
                None,
                Some("24ade1fd08fa4338480211bb33fe6202"),
            ),
            ("aaaa", Some(""), None, Some("098890dde069e9abad63f19a0d9e1f32")),
        ];
        for (raw, seq, id, legacy) in cases {
            let n = normalize(raw);
            assert_eq!(n.sequence.as_deref(), *seq, "sequence of {raw}");
            assert_eq!(n.nucleotide_sequence_id.as_deref(), *id, "id of {raw}");
            assert_eq!(legacy_dna_sequence_id(raw).as_deref(), *legacy, "legacy id of {raw}");
        }
    }

    #[test]
    fn flags_and_metrics() {
        let n = normalize("ACGT-ACGT ACGTACGT");
        assert!(n.gaps_or_whitespace_removed);
        assert!(!n.ends_trimmed);
        let n = normalize("NNNACGTACGTACGTNNN");
        assert!(n.ends_trimmed);
        let n = normalize("ACGTACGTNNNNNNNNNNACGTACGT");
        assert_eq!(n.n_runs_capped, 1);
        assert!((n.n_fraction - 5.0 / 21.0).abs() < 1e-12);
        let n = normalize("GGGGCCCCAAAATTTT");
        assert!((n.gc_content - 0.5).abs() < 1e-12);
        let n = normalize("ACGTACGTACGTUNMERGEDACGT");
        assert!(n.natural_language_detected && n.invalid && n.sequence.is_none());
        let n = normalize("aaaa");
        assert!(!n.invalid);
    }

    #[test]
    fn clean_reports_reason_and_position() {
        assert_eq!(clean(b"acgtacgtacgt").unwrap(), b"ACGTACGTACGT");
        // Internal junk is fatal; junk GBIF trims off the ends is not (see clean_agrees_with_normalize).
        match clean(b"ACGTACGT ACGJACGTACGT") {
            Err(Invalid::NonIupac { ch, pos }) => assert_eq!((ch, pos), ('J', 13)),
            other => panic!("{other:?}"),
        }
        assert_eq!(clean(b"UNMERGED"), Err(Invalid::NaturalLanguage));
        assert_eq!(clean(b"").unwrap(), b"");
        assert_eq!(
            Invalid::NonIupac { ch: 'J', pos: 57 }.to_string(),
            "non-IUPAC character 'J' at 57"
        );
    }

    #[test]
    fn clean_agrees_with_normalize() {
        for raw in [
            "ACGTACGTJ",
            "JACGTACGTACGT",
            "ACGTACGTJACGTACGT",
            "UNMERGEDACGTACGT",
            "aaaa",
            "ACGT-ACGT..ACGTACGT",
        ] {
            let n = normalize(raw);
            match clean(raw.as_bytes()) {
                Ok(c) => assert_eq!(Some(String::from_utf8(c).unwrap()), n.sequence, "{raw}"),
                Err(_) => assert!(n.invalid, "{raw}"),
            }
        }
    }

    #[test]
    fn references_keep_their_ends() {
        assert_eq!(
            clean_reference(b"cacygcggttatacgg-gagg").unwrap(),
            b"CACYGCGGTTATACGGGAGG"
        );
        assert_eq!(clean(b"cacygcggttatacgg-gagg").unwrap(), b"GCGGTTATACGGGAGG");
        assert!(clean_reference(b"ACGT_ACGT").is_err());
    }

    #[test]
    fn normal_form_positions_point_back_into_the_sequence_as_given() {
        let given = b"RNACGTACGTNNNNNNNNNNNNACGTACGTAAYN";
        let (normal, positions) = normal_form_with_positions(given);
        assert_eq!(normal, clean(given).unwrap());
        assert_eq!(normal, b"ACGTACGTNNNNNACGTACGTAA");
        assert_eq!(&positions[..9], &[2, 3, 4, 5, 6, 7, 8, 9, 10]);
        // The capped run keeps its first five N; the bases after it keep their place in the input.
        assert_eq!(positions[13], 22);
        assert_eq!(normal_form_with_positions(b"NNNN"), (Vec::new(), Vec::new()));
    }

    proptest::proptest! {
        #[test]
        fn normal_form_with_positions_agrees_with_clean(
            given in proptest::collection::vec(proptest::sample::select(b"ACGTNNNNR".to_vec()), 0..80)
        ) {
            let (normal, positions) = normal_form_with_positions(&given);
            proptest::prop_assert_eq!(&normal, &clean(&given).unwrap());
            proptest::prop_assert_eq!(positions.len(), normal.len());
            proptest::prop_assert!(positions.windows(2).all(|w| w[0] < w[1]));
            for (&p, &b) in positions.iter().zip(&normal) {
                proptest::prop_assert_eq!(given[p as usize], b);
            }
        }
    }

    #[test]
    fn hex_round_trip() {
        let d = md5_bytes(b"ACGT");
        assert_eq!(parse_hex_md5(&to_hex(&d)), Some(d));
        assert_eq!(parse_hex_md5(&to_hex(&d).to_uppercase()), Some(d));
        assert_eq!(parse_hex_md5("xyz"), None);
    }
}
