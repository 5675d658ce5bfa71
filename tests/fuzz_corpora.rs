//! The committed fuzzing corpora (`fuzz/corpus/<target>/`, minimised by cargo-fuzz) replayed through the
//! real parsers on every CI run: the short, deterministic pass of each fuzz target that CI can run without a
//! nightly toolchain. Each input must give records or a clear error, never a panic. (`index_open` inputs
//! are mutation recipes for its harness; index corruption is covered by `tests/robustness.rs`.)

use std::path::{Path, PathBuf};

use edna_index_builder::model::HeaderStyle;
use edna_index_builder::reference::{read_library, LibrarySpec};
use edna_seq::fastx::Reader;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(files.len() > 100, "{}: only {} inputs", dir.display(), files.len());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read corpus file");
            (p, bytes)
        })
        .collect()
}

#[test]
fn fastx_corpus() {
    for (path, data) in corpus("fastx") {
        let mut reader = Reader::new(&data[..], path.display().to_string());
        for _ in 0..100_000 {
            match reader.next_record() {
                None => break,
                Some(Err(e)) => {
                    assert!(!e.to_string().is_empty(), "{}", path.display());
                    break;
                }
                Some(Ok(r)) => assert!(!r.id.contains('\t'), "{}", path.display()),
            }
        }
    }
}

#[test]
fn normalize_corpus() {
    for (path, data) in corpus("normalize") {
        let raw = String::from_utf8_lossy(&data);
        let n = edna_seq::normalize::normalize(&raw);
        assert_eq!(n.sequence.is_none(), n.invalid, "{}", path.display());
        let clean = edna_seq::normalize::clean(&data);
        if let (Ok(c), Ok(r)) = (clean, edna_seq::normalize::clean_reference(&data)) {
            // The engine maps hit positions on the normal form back to the form as given through this.
            let (normal, positions) = edna_seq::normalize::normal_form_with_positions(&r);
            assert_eq!(normal, c, "{}", path.display());
            assert!(positions.iter().zip(&normal).all(|(&p, &b)| r[p as usize] == b));
        }
    }
}

/// The DwC-A fuzz targets' own checking sink and limits, shared rather than copied.
#[path = "../fuzz/fuzz_targets/common.rs"]
mod common;

/// Runs the fuzz targets' DwC-A check; the path goes to the captured output, shown if the check panics.
fn check_dwca(path: &Path, origin: &Path) {
    eprintln!("{}", origin.display());
    common::check_dwca(path);
}

#[test]
fn dwca_zip_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zip = dir.path().join("archive.zip");
    for (path, data) in corpus("dwca_zip") {
        std::fs::write(&zip, &data).expect("write");
        check_dwca(&zip, &path);
    }
}

#[test]
fn dwca_meta_corpus() {
    // The fuzz target's fixed tables, with each corpus input as meta.xml.
    let dir = tempfile::tempdir().expect("tempdir");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/dwca_tiny");
    let core = std::fs::read(seeds.join("occurrence_core_worms_GU19_leg1.csv")).expect("core seed");
    let dna = std::fs::read(seeds.join("dna_derived_extension_GU19_leg1.csv")).expect("dna seed");
    for (name, bytes) in [
        ("occurrence_core_worms_GU19_leg1.csv", &core),
        ("dna_derived_extension_GU19_leg1.csv", &dna),
        ("occurrence.txt", &core),
        ("dna.txt", &dna),
        ("event.txt", &core),
    ] {
        std::fs::write(dir.path().join(name), bytes).expect("write table");
    }
    std::fs::write(
        dir.path().join("eml.xml"),
        b"<eml:eml packageId=\"k\"><dataset><title>t</title></dataset></eml:eml>",
    )
    .expect("write eml");
    for (path, data) in corpus("dwca_meta") {
        std::fs::write(dir.path().join("meta.xml"), &data).expect("write meta.xml");
        check_dwca(dir.path(), &path);
    }
}

#[test]
fn reference_fasta_corpus() {
    const STYLES: [HeaderStyle; 7] = [
        HeaderStyle::Unite,
        HeaderStyle::Sintax,
        HeaderStyle::Dada2,
        HeaderStyle::IdWithTable,
        HeaderStyle::Bold,
        HeaderStyle::RdpTab,
        HeaderStyle::LineageAccession,
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let fasta = dir.path().join("lib.fasta");
    let table = dir.path().join("lib.taxonomy.tsv");
    for (path, data) in corpus("reference_fasta") {
        let _ = std::fs::remove_file(&table);
        // As in the fuzz target: a leading 0xFF picks a style from byte 1, and "\n%%\n" starts a side table.
        let (body, style, taxonomy) = match &data[..] {
            [0xFF, s, rest @ ..] => {
                let style = STYLES.get(*s as usize % 8).copied();
                match rest.windows(4).position(|w| w == b"\n%%\n") {
                    Some(i) => {
                        std::fs::write(&table, &rest[i + 4..]).expect("write table");
                        (&rest[..i + 1], style, Some(table.clone()))
                    }
                    None => (rest, style, None),
                }
            }
            _ => (&data[..], None, None),
        };
        std::fs::write(&fasta, body).expect("write fasta");
        let spec = LibrarySpec {
            fasta: fasta.clone(),
            taxonomy,
            style,
            marker: None,
            name: Some("lib".into()),
        };
        let mut n = 0usize;
        let result = read_library(
            &spec,
            &mut |r| {
                assert!(!r.sequence.is_empty() && !r.id.is_empty());
                n += 1;
            },
            &mut |w| assert!(!w.reason.is_empty()),
        );
        if let Err(e) = result {
            assert!(!e.to_string().is_empty(), "{}", path.display());
        }
    }
}
