//! 2-bit packing of normalised sequences, with ambiguity codes kept aside as exceptions.
//!
//! Base `i` of a packed sequence lives in byte `i / 4`, bits `2·(i % 4)..2·(i % 4)+2`, with
//! `A=0 C=1 G=2 T=3`. A non-`ACGT` symbol is packed as `A` and recorded as an exception `(position, symbol)`,
//! so unpacking is exact for any IUPAC sequence.

/// 2-bit code of an unambiguous base.
///
/// A table, not a `match`: a match on the base compiles to a jump per base, which random sequence
/// mispredicts every other time (it was most of the cost of computing minimizers); here the only branch
/// is on "is it ACGT at all", which is almost always yes.
#[inline]
pub fn code2(b: u8) -> Option<u8> {
    let c = CODE2[b as usize];
    (c < 4).then_some(c)
}

/// [`code2`] as a table: 0..=3 for `ACGT`, 4 for anything else.
static CODE2: [u8; 256] = {
    let mut t = [4u8; 256];
    t[b'A' as usize] = 0;
    t[b'C' as usize] = 1;
    t[b'G' as usize] = 2;
    t[b'T' as usize] = 3;
    t
};

const BASES: [u8; 4] = *b"ACGT";

/// Bytes needed for `len` packed bases.
#[inline]
pub fn packed_len(len: usize) -> usize {
    len.div_ceil(4)
}

/// Appends `seq` packed to `out` (starting on a fresh byte) and its exceptions to `exceptions`.
pub fn pack_into(seq: &[u8], out: &mut Vec<u8>, exceptions: &mut Vec<(u32, u8)>) {
    let start = out.len();
    out.resize(start + packed_len(seq.len()), 0);
    let dst = &mut out[start..];
    for (i, &b) in seq.iter().enumerate() {
        let c = match code2(b) {
            Some(c) => c,
            None => {
                exceptions.push((i as u32, b));
                0
            }
        };
        dst[i / 4] |= c << (2 * (i % 4));
    }
}

/// Unpacks `len` bases from `packed`, applying `exceptions` (positions within the sequence), into `out`
/// (cleared first).
pub fn unpack_into(packed: &[u8], len: usize, exceptions: impl IntoIterator<Item = (u32, u8)>, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(len);
    let full = len / 4;
    for &byte in &packed[..full.min(packed.len())] {
        out.push(BASES[(byte & 3) as usize]);
        out.push(BASES[((byte >> 2) & 3) as usize]);
        out.push(BASES[((byte >> 4) & 3) as usize]);
        out.push(BASES[((byte >> 6) & 3) as usize]);
    }
    for i in out.len()..len {
        let byte = packed.get(i / 4).copied().unwrap_or(0);
        out.push(BASES[((byte >> (2 * (i % 4))) & 3) as usize]);
    }
    for (pos, sym) in exceptions {
        if let Some(slot) = out.get_mut(pos as usize) {
            *slot = sym;
        }
    }
}

/// IUPAC complement of one symbol (upper case; unknown symbols map to `N`).
#[inline]
pub fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        b'T' | b'U' => b'A',
        b'R' => b'Y',
        b'Y' => b'R',
        b'S' => b'S',
        b'W' => b'W',
        b'K' => b'M',
        b'M' => b'K',
        b'B' => b'V',
        b'V' => b'B',
        b'D' => b'H',
        b'H' => b'D',
        _ => b'N',
    }
}

/// Reverse complement of an upper-case IUPAC sequence.
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter().rev().map(|&b| complement(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn code2_knows_exactly_the_four_bases() {
        for b in 0..=255u8 {
            let want = match b {
                b'A' => Some(0),
                b'C' => Some(1),
                b'G' => Some(2),
                b'T' => Some(3),
                _ => None,
            };
            assert_eq!(code2(b), want, "byte {b}");
        }
    }

    proptest! {
        #[test]
        fn pack_round_trip(seq in proptest::collection::vec(prop::sample::select(b"ACGTNRYKMSWBDHV".to_vec()), 0..300)) {
            let mut packed = vec![0xAAu8];
            let mut exc = Vec::new();
            pack_into(&seq, &mut packed, &mut exc);
            prop_assert_eq!(packed.len(), 1 + packed_len(seq.len()));
            let mut out = Vec::new();
            unpack_into(&packed[1..], seq.len(), exc.iter().copied(), &mut out);
            prop_assert_eq!(out, seq);
        }

        #[test]
        fn revcomp_involution(seq in proptest::collection::vec(prop::sample::select(b"ACGTNRYKMSWBDHV".to_vec()), 0..200)) {
            prop_assert_eq!(reverse_complement(&reverse_complement(&seq)), seq);
        }
    }

    #[test]
    fn exceptions_recorded() {
        let mut p = Vec::new();
        let mut e = Vec::new();
        pack_into(b"ACNGTR", &mut p, &mut e);
        assert_eq!(e, vec![(2, b'N'), (5, b'R')]);
        assert_eq!(reverse_complement(b"ACGTRN"), b"NYACGT");
    }
}
