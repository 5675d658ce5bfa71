//! Pure, I/O-free pairwise alignment for edna-search.
//!
//! * [`iupac`]: 4-bit nucleotide masks and IUPAC compatibility.
//! * [`align`](mod@align): vsearch-compatible global alignment (affine gaps, cheap
//!   terminal gaps, optional diagonal band) with traceback, identity
//!   (`--iddef 2`) and coverage.
//! * [`myers`]: bit-parallel semi-global edit distance, used to reject most
//!   candidate targets before the (much slower) full alignment.
//!
//! Sequences are upper-case ASCII over `ACGTRYSWKMBDHVN`; callers normalise
//! case and `U`. Any other byte never matches anything.
#![warn(missing_docs)]

pub mod align;
pub mod iupac;
pub mod myers;

pub use align::{align, exact_alignment, widest_fast_band, Aligner, Alignment, Band, CigarStyle, Op, Scoring};
pub use iupac::{compatible, nt_mask, NT_MASK};
pub use myers::{
    identity_upper_bound, identity_upper_bound_in, max_edits_for_identity, max_edits_for_identity_in, Hit, MyersQuery,
};
