//! Shared by the DwC-A targets: a sink that checks what `read_dwca` produces, and small limits.
#![allow(dead_code)]

use std::path::Path;

use edna_index_builder::dwca::{read_dwca, ArchiveLimits, DwcaSink};
use edna_index_builder::model::{DatasetMeta, OccurrenceRecord, Warning};

/// Checks each record as it arrives.
#[derive(Default)]
pub struct CheckingSink {
    pub datasets: usize,
    pub occurrences: usize,
}

impl DwcaSink for CheckingSink {
    fn dataset(&mut self, _meta: DatasetMeta) {
        self.datasets += 1;
    }

    fn occurrence(&mut self, r: OccurrenceRecord) {
        assert!(self.datasets > 0, "occurrence before any dataset");
        // Coordinates come in pairs, in range; numbers are finite.
        assert_eq!(r.decimal_latitude.is_some(), r.decimal_longitude.is_some());
        if let (Some(la), Some(lo)) = (r.decimal_latitude, r.decimal_longitude) {
            assert!(
                (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo),
                "{la} {lo}"
            );
        }
        for v in [r.organism_quantity, r.sample_size_value].into_iter().flatten() {
            assert!(v.is_finite());
        }
        for n in &r.lineage {
            assert!(!n.name.is_empty() && !n.rank.is_empty(), "{n:?}");
            assert_eq!(n.name.trim(), n.name);
        }
        self.occurrences += 1;
    }

    fn warning(&mut self, w: Warning) {
        assert!(!w.reason.is_empty());
    }
}

/// Limits small enough that a generated zip or gzip bomb is refused within milliseconds.
pub fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_uncompressed_bytes: 8 << 20,
        max_ratio: 100,
        max_entries: 256,
    }
}

/// Runs `read_dwca` on `path`: success means at least one dataset was reported.
pub fn check_dwca(path: &Path) {
    let mut sink = CheckingSink::default();
    match read_dwca(path, &limits(), &mut sink) {
        Ok(()) => assert!(sink.datasets > 0, "Ok without a dataset"),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
