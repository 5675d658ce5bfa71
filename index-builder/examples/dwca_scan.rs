//! Read Darwin Core Archives and print what each dataset yields, with the time taken.
//!
//! Run with `cargo run --release -p edna-index-builder --example dwca_scan -- /work/shared/data/dwca`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use edna_index_builder::dwca::{read_dwca, ArchiveLimits, DwcaSink};
use edna_index_builder::model::{DatasetMeta, OccurrenceRecord, Warning};

/// Per-dataset tallies.
#[derive(Default)]
struct Tally {
    datasets: Vec<(DatasetMeta, u64, u64)>,
    /// Occurrences with a scientific name, with coordinates, with an event date.
    named: u64,
    located: u64,
    dated: u64,
    warnings: BTreeMap<&'static str, u64>,
    examples: BTreeMap<&'static str, String>,
    /// Print the first occurrence of each dataset (`DWCA_SHOW=1`).
    show: bool,
}

impl DwcaSink for Tally {
    fn dataset(&mut self, meta: DatasetMeta) {
        self.datasets.push((meta, 0, 0));
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        if self.show && self.datasets.last().is_some_and(|d| d.1 == 0) {
            println!("{record:#?}");
        }
        if let Some(d) = self.datasets.last_mut() {
            d.1 += 1;
            d.2 += record.dna.len() as u64;
        }
        self.named += u64::from(record.scientific_name.is_some());
        self.located += u64::from(record.decimal_latitude.is_some());
        self.dated += u64::from(record.event_date.is_some());
    }
    fn warning(&mut self, warning: Warning) {
        *self.warnings.entry(warning.reason).or_default() += 1;
        self.examples
            .entry(warning.reason)
            .or_insert_with(|| format!("{}: {}", warning.pos, warning.message));
    }
}

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let paths = if paths.is_empty() {
        vec![PathBuf::from("/work/shared/data/dwca")]
    } else {
        paths
    };
    let verbose = std::env::var_os("DWCA_VERBOSE").is_some();
    for path in paths {
        let mut tally = Tally {
            show: std::env::var_os("DWCA_SHOW").is_some(),
            ..Tally::default()
        };
        let start = Instant::now();
        let result = read_dwca(&path, &ArchiveLimits::default(), &mut tally);
        let elapsed = start.elapsed();
        let (mut occ, mut dna) = (0, 0);
        for (meta, o, d) in &tally.datasets {
            occ += o;
            dna += d;
            if verbose || tally.datasets.len() <= 12 {
                println!(
                    "{:>9} occ {:>9} dna  {}  [{}]{}",
                    o,
                    d,
                    meta.key,
                    meta.title,
                    meta.licence
                        .as_deref()
                        .map(|l| format!(" licence={l}"))
                        .unwrap_or_default()
                );
            }
        }
        // Group by the second path component for a summary of large walks.
        let mut groups: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for (meta, o, d) in &tally.datasets {
            let g = meta.key.split('/').take(3).collect::<Vec<_>>().join("/");
            let e = groups.entry(g).or_default();
            e.0 += 1;
            e.1 += o;
            e.2 += d;
        }
        println!("by group (datasets, occurrences, DNA rows):");
        for (g, (n, o, d)) in &groups {
            println!("  {g}: {n} datasets, {o} occurrences, {d} DNA rows");
        }
        println!(
            "{}: {} datasets, {} occurrences, {} DNA rows in {:.2?}",
            path.display(),
            tally.datasets.len(),
            occ,
            dna,
            elapsed
        );
        println!(
            "  with scientificName {}, coordinates {}, eventDate {}",
            tally.named, tally.located, tally.dated
        );
        for (reason, n) in &tally.warnings {
            println!(
                "  warning {reason}: {n}  (e.g. {})",
                tally.examples.get(reason).map(String::as_str).unwrap_or("")
            );
        }
        if let Err(e) = result {
            println!("error: {e}");
        }
    }
}
