//! Reference library readers: barcode FASTA files in their many header styles, side taxonomy
//! tables, GBIF reference-database packages and meta-fish-lib CSV tables.
//!
//! Every reader streams [`ReferenceRecord`]s to a sink and per-record problems to a warning callback,
//! and returns the [`LibraryMeta`]. Whole-file problems (missing or unreadable files, a truncated
//! gzip, a table that is not a table) are [`ReferenceError`]s naming file and line.
//!
//! # Header styles
//! | style | header | id | name | lineage |
//! |---|---|---|---|---|
//! | [`HeaderStyle::Unite`] | `name\|acc\|SH\|type\|k__…;s__…` | accession | SH code | header |
//! | [`HeaderStyle::Sintax`] | `id;tax=d:…,p:…;` | id | lowest taxon | header |
//! | [`HeaderStyle::Dada2`] | `Kingdom;…;Species` | generated | lowest taxon | header |
//! | [`HeaderStyle::IdWithTable`] | `id` | id | lowest taxon | side table |
//! | [`HeaderStyle::Bold`] | `processid\|BIN\|…` | process id | BIN | `;` field if any |
//! | [`HeaderStyle::RdpTab`] | `id desc<TAB>…<TAB>Bacteria; …` | id | lowest taxon | last tab field |
//! | [`HeaderStyle::LineageAccession`] | `Lineage;…;Species (ACC)` | accession | lowest taxon | header |
//!
//! Missing and repeated ids are replaced by `{library}:{ordinal}` (ordinal = 1-based record number
//! in the file), so ids are stable for a given file.

mod csvlib;
mod header;
mod lineage;
mod refdb;
mod table;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use edna_seq::fastx::{FastxError, Reader, Record};

pub use header::detect_style;
pub use lineage::{clean_name, parse_lineage, parse_lineage_with_ranks};

use crate::model::{HeaderStyle, LibraryMeta, RankedName, ReferenceRecord, SourcePos, Warning};
use header::parse_header;
use table::TaxonomyTable;

/// How many leading headers style detection looks at.
const DETECT_HEADERS: usize = 100;

/// What to read as one reference library.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibrarySpec {
    /// The FASTA/FASTQ (plain or gzip), a meta-fish-lib `.csv[.gz]`, or a GBIF refdb package folder.
    pub fasta: PathBuf,
    /// Side taxonomy table (`id<TAB>…lineage`). When `None` and the headers are bare ids, a sibling
    /// `<stem>.taxonomy.tsv[.gz]` is used if present (see [`find_taxonomy_table`]).
    pub taxonomy: Option<PathBuf>,
    /// Header style; auto-detected from the first headers when `None`.
    pub style: Option<HeaderStyle>,
    /// Marker; inferred from metadata or the file name when `None`.
    pub marker: Option<String>,
    /// Library name; the file stem when `None`.
    pub name: Option<String>,
}

/// A reference library that cannot be read. Every message names the file (and line when known).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// FASTA/FASTQ reading failed (including opening the file and damaged gzip).
    #[error(transparent)]
    Fastx(#[from] FastxError),
    /// A file the library needs does not exist.
    #[error("file {file}: not found")]
    Missing {
        /// The missing file.
        file: String,
    },
    /// A file could not be read.
    #[error("file {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A table, metadata or CSV line cannot be parsed.
    #[error("file {file} line {line}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Reads one reference library, sending each record to `sink` and each per-record problem to `warn`.
///
/// `spec.fasta` may also be a GBIF refdb package folder ([`read_refdb`]) or a meta-fish-lib CSV
/// (`.csv`/`.csv.gz` with a `nucleotides` column). Records with an empty sequence are skipped with
/// an `empty-sequence` warning.
pub fn read_library(
    spec: &LibrarySpec,
    sink: &mut dyn FnMut(ReferenceRecord),
    warn: &mut dyn FnMut(Warning),
) -> Result<LibraryMeta, ReferenceError> {
    let path = spec.fasta.as_path();
    if path.is_dir() {
        return read_refdb(path, spec.marker.as_deref(), spec.name.as_deref(), sink, warn);
    }
    if is_csv(path) {
        return csvlib::read_csv_library(spec, sink, warn);
    }

    let mut reader = Reader::from_path(path)?;
    let mut head: Vec<Record> = Vec::new();
    while head.len() < DETECT_HEADERS {
        match reader.next_record() {
            Some(r) => head.push(r?),
            None => break,
        }
    }
    let headers: Vec<String> = head.iter().map(full_header).collect();
    let style = spec.style.unwrap_or_else(|| {
        let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        detect_style(&refs, spec.taxonomy.is_some())
    });
    let taxonomy = spec.taxonomy.clone().or_else(|| {
        (style == HeaderStyle::IdWithTable)
            .then(|| find_taxonomy_table(path))
            .flatten()
    });
    let mut table = match &taxonomy {
        Some(t) => Some(TaxonomyTable::read(t, warn)?),
        None => None,
    };

    let mut meta = library_meta(spec);
    if let Some(t) = taxonomy.filter(|t| !meta.files.contains(t)) {
        meta.files.push(t);
    }
    let label = path.display().to_string();
    let mut emit = Emitter::new(meta.name.clone(), label.clone(), sink, warn);
    let mut ordinal = 0u64;
    let mut without_lineage = 0u64;
    let mut process = |rec: Record, emit: &mut Emitter<'_>| {
        ordinal += 1;
        let h = full_header(&rec);
        let mut parsed = parse_header(style, &h);
        if let Some(t) = table.as_mut() {
            let key = parsed.id.as_deref().unwrap_or(&rec.id);
            match t.take(key) {
                Some(taxon) => parsed.lineage = parse_lineage(taxon),
                None if parsed.lineage.is_empty() && !rec.seq.is_empty() => emit.warn(
                    rec.line,
                    "missing-taxonomy",
                    format!("id {key} is not in taxonomy table {}", t.file),
                ),
                None => {}
            }
        }
        if parsed.lineage.is_empty() {
            without_lineage += 1;
        }
        emit.emit(
            ordinal,
            rec.line,
            parsed.id,
            rec.seq,
            parsed.lineage,
            parsed.name,
            parsed.accession,
        );
    };
    for rec in head {
        process(rec, &mut emit);
    }
    while let Some(rec) = reader.next_record() {
        process(rec?, &mut emit);
    }
    match &table {
        Some(t) => t.warn_unused(&label, &mut |w| emit.warning(w)),
        None if style == HeaderStyle::IdWithTable && without_lineage > 0 => emit.warn(
            0,
            "missing-taxonomy",
            format!(
                "headers are bare ids and no taxonomy table was given or found: \
                 {without_lineage} records have no lineage"
            ),
        ),
        None => {}
    }
    Ok(meta)
}

/// Reads a GBIF reference-database package: `dir/data.tsv`, `dir/sequences.fasta`,
/// `dir/metadata.yaml`.
///
/// Lineage comes from `higherClassification` fitted to `taxonRanks` (see
/// [`parse_lineage_with_ranks`]), name from `scientificName`, accession from `accessionNumber`.
/// Marker: `marker`, else `targetGene`, else the folder name; library name: `name`, else the folder
/// name; version: `version`, else `issued`.
pub fn read_refdb(
    dir: &Path,
    marker: Option<&str>,
    name: Option<&str>,
    sink: &mut dyn FnMut(ReferenceRecord),
    warn: &mut dyn FnMut(Warning),
) -> Result<LibraryMeta, ReferenceError> {
    refdb::read_refdb(dir, marker, name, sink, warn)
}

/// The sibling taxonomy table of a FASTA with bare ids: `<stem>.taxonomy.tsv[.gz]`,
/// `<stem>.tax.tsv[.gz]` or `<stem>_taxonomy.tsv[.gz]`, where `<stem>` is the name without
/// `.fasta.gz` and similar.
pub fn find_taxonomy_table(fasta: &Path) -> Option<PathBuf> {
    let dir = fasta.parent()?;
    let stem = file_stem(fasta);
    [".taxonomy.tsv", ".tax.tsv", "_taxonomy.tsv"]
        .iter()
        .flat_map(|suffix| ["", ".gz"].map(|gz| dir.join(format!("{stem}{suffix}{gz}"))))
        .find(|p| p.is_file())
}

/// The header line as written (id and description joined by one space).
fn full_header(rec: &Record) -> String {
    match &rec.desc {
        Some(d) => format!("{} {}", rec.id, d),
        None => rec.id.clone(),
    }
}

fn is_csv(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// File name without compression and sequence/table extensions.
fn file_stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    const EXTS: &[&str] = &[
        ".gz", ".bz2", ".xz", ".zst", ".fasta", ".fa", ".fas", ".fna", ".fsa", ".ffn", ".fastq", ".fq", ".csv", ".tsv",
        ".txt",
    ];
    while let Some(ext) = EXTS
        .iter()
        .find(|e| name.len() > e.len() && name.to_ascii_lowercase().ends_with(*e))
    {
        name.truncate(name.len() - ext.len());
    }
    name
}

/// Marker named in a file name or `targetGene` value (case-insensitive), e.g. `12S`, `ITS1`, `COI`.
pub fn infer_marker(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    // Longer or more specific patterns first (`its1` before `its`; `5s` last since `25s`, `45s` …).
    const PATTERNS: &[(&str, &str)] = &[
        ("its1", "ITS1"),
        ("its2", "ITS2"),
        ("12s", "12S"),
        ("16s", "16S"),
        ("18s", "18S"),
        ("23s", "23S"),
        ("28s", "28S"),
        ("its", "ITS"),
        ("coi", "COI"),
        ("co1", "COI"),
        ("rbcl", "rbcL"),
        ("cytb", "cytb"),
        ("5s", "5S"),
    ];
    PATTERNS.iter().find(|(p, _)| t.contains(p)).map(|&(_, m)| m)
}

/// Marker from a `targetGene` value: the inferred short form, else the value as published.
pub(crate) fn marker_from_text(text: &str) -> String {
    infer_marker(text)
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string())
}

/// A `v1.4` / `v5.0.1` token in a file name, without the `v`.
fn version_from_name(name: &str) -> Option<String> {
    let b = name.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if !(c == b'v' || c == b'V') || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let rest = &name[i + 1..];
        let mut end = 0;
        let mut need_digit = true;
        for (j, ch) in rest.char_indices() {
            if ch.is_ascii_digit() {
                end = j + 1;
                need_digit = false;
            } else if ch == '.' && !need_digit {
                need_digit = true;
            } else {
                break;
            }
        }
        let next_alpha = rest[end..].starts_with(|ch: char| ch.is_ascii_alphabetic());
        if end > 0 && !next_alpha {
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// Name, marker, version and files of a FASTA/CSV library from its spec and file name.
fn library_meta(spec: &LibrarySpec) -> LibraryMeta {
    let stem = file_stem(&spec.fasta);
    let name = spec.name.clone().unwrap_or_else(|| stem.clone());
    let marker = spec
        .marker
        .clone()
        .or_else(|| infer_marker(&stem).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    let mut files = vec![spec.fasta.clone()];
    files.extend(spec.taxonomy.iter().cloned());
    files.dedup();
    LibraryMeta {
        name,
        marker,
        version: version_from_name(&stem),
        title: None,
        licence: None,
        files,
    }
}

/// Gives records their final ids and sends them on: skips empty sequences, replaces missing and
/// repeated ids with `{library}:{ordinal}`, fills `name` with the lowest taxon when unset.
pub(crate) struct Emitter<'a> {
    library: String,
    file: String,
    seen: HashSet<String>,
    sink: &'a mut dyn FnMut(ReferenceRecord),
    warn: &'a mut dyn FnMut(Warning),
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        library: String,
        file: String,
        sink: &'a mut dyn FnMut(ReferenceRecord),
        warn: &'a mut dyn FnMut(Warning),
    ) -> Self {
        Self {
            library,
            file,
            seen: HashSet::new(),
            sink,
            warn,
        }
    }

    pub(crate) fn warning(&mut self, w: Warning) {
        (self.warn)(w);
    }

    pub(crate) fn warn(&mut self, line: u64, reason: &'static str, message: String) {
        let pos = SourcePos {
            file: self.file.clone(),
            line,
        };
        (self.warn)(Warning { pos, reason, message });
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        &mut self,
        ordinal: u64,
        line: u64,
        id: Option<String>,
        sequence: Vec<u8>,
        lineage: Vec<RankedName>,
        name: Option<String>,
        accession: Option<String>,
    ) {
        if sequence.is_empty() {
            let what = id.unwrap_or_else(|| format!("#{ordinal}"));
            self.warn(
                line,
                "empty-sequence",
                format!("record {what} has no sequence; skipped"),
            );
            return;
        }
        let id = match id {
            Some(id) if !self.seen.contains(&id) => id,
            Some(dup) => {
                let new = format!("{}:{ordinal}", self.library);
                self.warn(line, "duplicate-id", format!("id {dup} repeated; this record is {new}"));
                new
            }
            None => format!("{}:{ordinal}", self.library),
        };
        self.seen.insert(id.clone());
        let name = name.or_else(|| lineage.last().map(|r| r.name.clone()));
        (self.sink)(ReferenceRecord {
            id,
            sequence,
            lineage,
            name,
            accession,
            pos: SourcePos {
                file: self.file.clone(),
                line,
            },
        });
    }
}

#[cfg(test)]
mod tests;
