//! GBIF normalisation on arbitrary text.
//!
//! Invariants: cleaned output holds only IUPAC codes; `clean` is idempotent and agrees with `normalize`
//! whenever it accepts; `nucleotideSequenceID` is the 32-hex MD5 of the cleaned sequence; fractions lie
//! in [0, 1]; the legacy id is `None` exactly for empty input and 32 lower-case hex otherwise;
//! `clean_reference`, when it accepts, keeps a superset of what `clean` keeps, and `clean`'s result is its
//! normal form with positions pointing back into it.
#![no_main]

use edna_seq::normalize::{
    clean, clean_reference, is_iupac_dna, legacy_dna_sequence_id, md5_hex, normal_form_with_positions, normalize,
    parse_hex_md5,
};
use libfuzzer_sys::fuzz_target;

fn is_lower_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let n = normalize(&raw);
    assert_eq!(n.raw_sequence, raw);
    match &n.sequence {
        Some(s) => {
            assert!(!n.invalid);
            assert!(s.bytes().all(is_iupac_dna), "non-IUPAC output {s:?}");
            assert_eq!(s.len(), n.sequence_length);
        }
        None => assert!(n.invalid),
    }
    if let Some(id) = &n.nucleotide_sequence_id {
        assert!(is_lower_hex32(id), "{id}");
        let seq = n.sequence.as_deref().expect("id without sequence");
        assert!(!seq.is_empty());
        assert_eq!(*id, md5_hex(seq.as_bytes()));
        assert!(parse_hex_md5(id).is_some());
    } else {
        assert!(n.sequence.as_deref().is_none_or(str::is_empty));
    }
    for f in [n.non_iupac_fraction, n.non_acgtn_fraction, n.n_fraction, n.gc_content] {
        assert!((0.0..=1.0).contains(&f), "fraction {f}");
    }
    match clean(data) {
        Ok(c) => {
            assert!(c.iter().copied().all(is_iupac_dna));
            assert_eq!(clean(&c).as_ref(), Ok(&c), "clean is not idempotent");
            // On the same text (lossless when the bytes are UTF-8) clean and normalize agree.
            if std::str::from_utf8(data).is_ok() {
                assert_eq!(n.sequence.as_deref().map(str::as_bytes), Some(&c[..]));
            }
            // clean_reference refuses junk that clean trims off the ends; whatever it keeps, clean's
            // result is its normal form, and each normal-form base points back at its own base.
            if let Ok(r) = clean_reference(data) {
                assert!(r.len() >= c.len());
                assert_eq!(
                    clean_reference(&r).as_ref(),
                    Ok(&r),
                    "clean_reference is not idempotent"
                );
                let (normal, positions) = normal_form_with_positions(&r);
                assert_eq!(normal, c, "the normal form of the form as given is not clean's");
                assert_eq!(positions.len(), normal.len());
                assert!(positions.windows(2).all(|w| w[0] < w[1]));
                assert!(positions.iter().zip(&normal).all(|(&p, &b)| r[p as usize] == b));
            }
        }
        Err(why) => assert!(!why.to_string().is_empty()),
    }
    match legacy_dna_sequence_id(&raw) {
        None => assert!(raw.is_empty()),
        Some(id) => assert!(is_lower_hex32(&id), "{id}"),
    }
});
