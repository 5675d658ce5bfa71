//! Reference libraries: arbitrary bytes as a FASTA library, read with auto-detected header style (and,
//! when the first byte says so, with a forced style and a taxonomy side table cut from the input).
//!
//! Invariants: emitted records have non-empty sequences and unique ids; lineage entries have a rank and
//! a name; lineage names are trimmed and hold no tab or newline (they are written to tab-separated
//! output).
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use edna_index_builder::model::{HeaderStyle, ReferenceRecord};
use edna_index_builder::reference::{read_library, LibrarySpec};
use libfuzzer_sys::fuzz_target;

const STYLES: [HeaderStyle; 7] = [
    HeaderStyle::Unite,
    HeaderStyle::Sintax,
    HeaderStyle::Dada2,
    HeaderStyle::IdWithTable,
    HeaderStyle::Bold,
    HeaderStyle::RdpTab,
    HeaderStyle::LineageAccession,
];

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let d = dir().path();
    let fasta = d.join("lib.fasta");
    let table = d.join("lib.taxonomy.tsv");
    let _ = std::fs::remove_file(&table);
    // Plain mode unless the input starts with 0xFF: then byte 1 picks a style, and everything after a
    // "\n%%\n" separator is the side taxonomy table.
    let (body, style, taxonomy) = match data {
        [0xFF, s, rest @ ..] => {
            let style = STYLES.get(*s as usize % 8).copied();
            match rest.windows(4).position(|w| w == b"\n%%\n") {
                Some(i) => {
                    std::fs::write(&table, &rest[i + 4..]).unwrap();
                    (&rest[..i + 1], style, Some(table.clone()))
                }
                None => (rest, style, None),
            }
        }
        _ => (data, None, None),
    };
    std::fs::write(&fasta, body).unwrap();
    let spec = LibrarySpec {
        fasta,
        taxonomy,
        style,
        marker: None,
        name: Some("lib".into()),
    };
    let mut records: Vec<ReferenceRecord> = Vec::new();
    let result = read_library(&spec, &mut |r| records.push(r), &mut |w| assert!(!w.reason.is_empty()));
    if let Err(e) = result {
        assert!(!e.to_string().is_empty());
    }
    let mut ids = HashSet::new();
    for r in &records {
        assert!(!r.sequence.is_empty(), "record {} without sequence", r.id);
        assert!(!r.id.is_empty());
        assert!(ids.insert(r.id.as_str()), "duplicate id {}", r.id);
        for n in &r.lineage {
            assert!(!n.rank.is_empty() && !n.name.is_empty(), "{n:?}");
            assert_eq!(n.name.trim(), n.name, "untrimmed name");
        }
        if let Some(name) = &r.name {
            assert!(!name.is_empty());
        }
        // Taxon names end up in tab-separated output (TSV `taxon`): no field breaks. (Record ids, names
        // and accessions can still hold a tab: see fuzz/README.md, "Known issues".)
        for n in &r.lineage {
            assert!(!n.name.contains(['\t', '\n']), "tab or line break in {:?}", n.name);
        }
    }
});
