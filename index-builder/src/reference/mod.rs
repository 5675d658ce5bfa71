//! Reference library readers.
