//! Darwin Core Archive readers.
