//! A fast hasher for the build's lookup tables (sequence digests, legacy digests, deduplicated occurrence
//! records, interned strings): they are hit once or more per DNA row, hundreds of millions of times at
//! GBIF scale, where SipHash cost a tenth of the reading thread. Keys are folded eight bytes at a time and
//! finished with the murmur3 mixer; the seed comes from std's `RandomState`, so crafted inputs cannot
//! aim for collisions across runs. Nothing iterates these maps in hash order, so output is unaffected.

use std::hash::{BuildHasher, Hasher, RandomState};

/// A `HashMap` with [`FoldHasher`].
pub(super) type FastMap<K, V> = std::collections::HashMap<K, V, FoldBuildHasher>;

/// Builds [`FoldHasher`]s from a per-process seed.
#[derive(Clone)]
pub(super) struct FoldBuildHasher {
    seed: u64,
}

impl Default for FoldBuildHasher {
    fn default() -> Self {
        FoldBuildHasher {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl BuildHasher for FoldBuildHasher {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher { state: self.seed }
    }
}

/// Folds the written bytes into one word.
pub(super) struct FoldHasher {
    state: u64,
}

impl FoldHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

impl Hasher for FoldHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // murmur3's 64-bit finaliser: every input bit reaches the high bits the table uses.
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_differ_anywhere_hash_apart() {
        let b = FoldBuildHasher::default();
        let base = [7u8; 21];
        let h0 = b.hash_one(base);
        for i in 0..base.len() {
            let mut k = base;
            k[i] ^= 1;
            assert_ne!(b.hash_one(k), h0, "byte {i}");
        }
        // Trailing zeros and length both count.
        assert_ne!(b.hash_one(&[1u8, 0][..]), b.hash_one(&[1u8][..]));
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert(i.to_le_bytes().to_vec(), i);
        }
        assert!((0..10_000u32).all(|i| m[&i.to_le_bytes().to_vec()] == i));
    }
}
