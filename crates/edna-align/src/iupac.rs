//! IUPAC nucleotide codes as 4-bit sets (`A=1, C=2, G=4, T=8`).
//!
//! Two symbols are *compatible* when their sets intersect; vsearch counts
//! such columns as matches, and so do we.

/// 4-bit nucleotide set of every byte: `A=1, C=2, G=4, T=8`, ambiguity codes
/// are unions (`R = A|G`, ..., `N = 15`). Anything else (lower case, `U`,
/// gaps, junk) is 0 and therefore never matches.
pub const NT_MASK: [u8; 256] = build_mask_table();

const fn build_mask_table() -> [u8; 256] {
    const A: u8 = 1;
    const C: u8 = 2;
    const G: u8 = 4;
    const T: u8 = 8;
    let mut t = [0u8; 256];
    t[b'A' as usize] = A;
    t[b'C' as usize] = C;
    t[b'G' as usize] = G;
    t[b'T' as usize] = T;
    t[b'R' as usize] = A | G;
    t[b'Y' as usize] = C | T;
    t[b'S' as usize] = C | G;
    t[b'W' as usize] = A | T;
    t[b'K' as usize] = G | T;
    t[b'M' as usize] = A | C;
    t[b'B' as usize] = C | G | T;
    t[b'D' as usize] = A | G | T;
    t[b'H' as usize] = A | C | T;
    t[b'V' as usize] = A | C | G;
    t[b'N' as usize] = A | C | G | T;
    t
}

/// 4-bit nucleotide set of `b` (0 for bytes outside the IUPAC DNA alphabet).
#[inline(always)]
pub fn nt_mask(b: u8) -> u8 {
    NT_MASK[b as usize]
}

/// True when the nucleotide sets of `a` and `b` intersect (`A`~`R`, `N`~any base).
#[inline(always)]
pub fn compatible(a: u8, b: u8) -> bool {
    nt_mask(a) & nt_mask(b) != 0
}

/// True for the four unambiguous bases (a single bit set).
#[inline(always)]
pub(crate) fn is_unambiguous_mask(m: u8) -> bool {
    m != 0 && m & (m - 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_compatibility() {
        assert_eq!(nt_mask(b'N'), 15);
        assert_eq!(nt_mask(b'R'), nt_mask(b'A') | nt_mask(b'G'));
        assert_eq!(nt_mask(b'a'), 0);
        assert_eq!(nt_mask(b'U'), 0);
        assert!(compatible(b'A', b'R'));
        assert!(!compatible(b'C', b'R'));
        assert!(compatible(b'N', b'T'));
        assert!(compatible(b'B', b'S'));
        assert!(!compatible(b'-', b'N'));
        assert!(!compatible(b'X', b'X'));
        let alphabet = b"ACGTRYSWKMBDHVN";
        for &c in alphabet {
            assert!(compatible(c, c), "{}", c as char);
        }
        let unamb: Vec<u8> = (0..=255u8).filter(|&b| is_unambiguous_mask(nt_mask(b))).collect();
        assert_eq!(unamb, b"ACGT");
    }
}
