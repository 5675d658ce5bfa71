//! DNA sequences for edna-search.

pub mod fastx;
