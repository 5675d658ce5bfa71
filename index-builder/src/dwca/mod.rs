//! Darwin Core Archive readers.
//!
//! [`read_dwca`] takes a path and finds out what it is, by content:
//!
//! 1. a zip DwC-A (meta.xml at the root or in a single top folder), read member by member without
//!    extracting;
//! 2. a directory with `meta.xml` (an unpacked DwC-A; nothing else in it is read);
//! 3. a directory of DwC tables without meta.xml: occurrence and DNA tables recognised by their header,
//!    joined on `occurrenceID`; a DNA table alone gives one occurrence per `occurrenceID`; ASV taxonomy
//!    tables (sequence → published identification) fill in occurrences without a name;
//! 4. a GBIF download FASTA (`>{nucleotideSequenceID}|{gbifID}|{targetGene}`);
//! 5. any other directory: its children, in name order, each archive or table folder a dataset of its own.
//!
//! Results stream into a [`DwcaSink`]: a [`DatasetMeta`], then that dataset's occurrences, with
//! [`Warning`]s for bad rows along the way. Structural problems are [`DwcaError`]s.
//!
//! # Layout
//! - `source`: directories and zip archives as containers of data files (gzip, zip-bomb guards).
//! - `text`: delimited rows (quotes, BOM, encodings, line numbers).
//! - `meta`: meta.xml and eml.xml.
//! - `terms`, `fields`: term URIs and building records from rows.
//! - `join`: attaching DNA rows to occurrences.
//! - `archive`, `tables`, `fasta`: the three input kinds.

mod archive;
mod error;
mod fasta;
mod fields;
mod join;
mod meta;
mod source;
mod tables;
mod terms;
mod text;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::DwcaError;

use crate::model::{DatasetMeta, OccurrenceRecord, SourcePos, Warning};
use source::Container;

/// Receives what a reader finds, streaming.
pub trait DwcaSink {
    /// A new dataset starts; following occurrences belong to it.
    fn dataset(&mut self, meta: DatasetMeta);
    /// One occurrence with its DNA rows.
    fn occurrence(&mut self, record: OccurrenceRecord);
    /// A per-record problem (counted and reported; reading goes on).
    fn warning(&mut self, warning: Warning);
}

/// Caps against zip bombs and runaway gzip streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most bytes decompressed per archive or table folder (zip members and gzip streams).
    pub max_uncompressed_bytes: u64,
    /// Highest uncompressed/compressed ratio of a zip member or gzip stream (checked past 1 MiB).
    pub max_ratio: u64,
    /// Most entries a zip may have.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_uncompressed_bytes: 8 << 30,
            max_ratio: 200,
            max_entries: 10_000,
        }
    }
}

/// Labels of a dataset found by the walk, used when eml.xml does not give better ones.
#[derive(Debug, Clone)]
pub(crate) struct DatasetInfo {
    /// Path relative to the input, starting with the input's own name.
    pub(crate) key: String,
    /// Folder or file name.
    pub(crate) title: String,
    /// Where it is.
    pub(crate) path: PathBuf,
}

/// Read every dataset under `path` into `sink`. See the [module docs](self) for what is accepted.
///
/// Errors are structural (not a zip, unsafe zip paths, zip bombs, malformed meta.xml, missing files,
/// truncated gzip, I/O). Inside a directory walk, archives and folders with no occurrence or DNA data are
/// skipped with a `no-dna-table`/`not-dwca` warning; reading one of those directly is an error.
pub fn read_dwca(path: &Path, limits: &ArchiveLimits, sink: &mut dyn DwcaSink) -> Result<(), DwcaError> {
    let root_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            fs::canonicalize(path)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| path.display().to_string());
    let md = fs::metadata(path).map_err(|e| DwcaError::io(e, path.display().to_string()))?;
    let mut walk = Walk {
        limits,
        sink,
        found: 0,
        depth: 0,
    };
    if md.is_dir() {
        walk.dir(path, &root_name, true)?;
    } else {
        walk.file(path, &root_name)?;
    }
    if walk.found == 0 {
        return Err(DwcaError::NoTable {
            path: path.display().to_string(),
            detail: String::new(),
        });
    }
    Ok(())
}

/// State of one [`read_dwca`] call.
struct Walk<'a> {
    limits: &'a ArchiveLimits,
    sink: &'a mut dyn DwcaSink,
    /// Datasets read (and ASV-only folders seen).
    found: usize,
    /// Directory nesting, bounded against symlink loops.
    depth: usize,
}

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 32;

fn info(path: &Path, key: &str) -> DatasetInfo {
    DatasetInfo {
        key: key.to_string(),
        title: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| key.rsplit('/').next().unwrap_or(key).to_string()),
        path: path.to_path_buf(),
    }
}

impl Walk<'_> {
    fn warn(&mut self, file: String, reason: &'static str, message: String) {
        self.sink.warning(Warning {
            pos: SourcePos { file, line: 0 },
            reason,
            message,
        });
    }

    /// Count a dataset read; a dataset without data found during a walk is a warning, not an error.
    fn settle(&mut self, r: Result<(), DwcaError>, explicit: bool) -> Result<(), DwcaError> {
        match r {
            Ok(()) => {
                self.found += 1;
                Ok(())
            }
            Err(e @ DwcaError::NoTable { .. }) if !explicit => {
                let path = match &e {
                    DwcaError::NoTable { path, .. } => path.clone(),
                    _ => String::new(),
                };
                self.warn(path, "no-dna-table", format!("skipped: {e}"));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn dir(&mut self, path: &Path, key: &str, explicit: bool) -> Result<(), DwcaError> {
        let shown = path.display().to_string();
        let mut entries: Vec<(String, PathBuf, bool)> = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| DwcaError::io(e, shown.clone()))? {
            let entry = entry.map_err(|e| DwcaError::io(e, shown.clone()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || name == "__MACOSX" {
                continue;
            }
            let p = entry.path();
            let is_dir = p.is_dir();
            entries.push((name, p, is_dir));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));

        let mut c = Container::dir(path, self.limits);
        if entries.iter().any(|(n, _, d)| !d && n.eq_ignore_ascii_case("meta.xml")) {
            // An unpacked archive: meta.xml says what to read; other files (e.g. zipped copies) are not
            // looked at.
            let r = archive::read_meta_archive(&mut c, &info(path, key), self.sink);
            return self.settle(r, explicit);
        }

        let files: Vec<String> = entries
            .iter()
            .filter(|(_, _, d)| !d)
            .map(|(n, _, _)| n.clone())
            .collect();
        let set = tables::classify(&mut c, &files)?;
        if set.has_data() {
            let r = tables::read_tables(&mut c, &set, &info(path, key), self.sink);
            self.settle(r, explicit)?;
        } else if !set.asv.is_empty() {
            self.found += 1;
            self.warn(
                shown.clone(),
                "asv-catalog-only",
                "only ASV taxonomy tables here, no occurrences".into(),
            );
        }

        for (name, p, is_dir) in &entries {
            let child_key = format!("{key}/{name}");
            if *is_dir {
                if self.depth >= MAX_DEPTH {
                    self.warn(
                        p.display().to_string(),
                        "too-deep",
                        "directory nesting too deep; skipped".into(),
                    );
                    continue;
                }
                self.depth += 1;
                let r = self.dir(p, &child_key, false);
                self.depth -= 1;
                r?;
            } else if source::has_zip_magic(p) {
                self.zip(p, &child_key, false)?;
            } else if fasta::is_fasta_name(name) {
                if fasta::looks_like_gbif_fasta(p, self.limits) {
                    let r = fasta::read_fasta(p, &info(p, &child_key), self.limits, self.sink);
                    self.settle(r, false)?;
                } else {
                    self.warn(
                        p.display().to_string(),
                        "not-gbif-fasta",
                        "FASTA headers are not `seqID|gbifID|targetGene`; skipped".into(),
                    );
                }
            }
        }
        Ok(())
    }

    fn zip(&mut self, path: &Path, key: &str, explicit: bool) -> Result<(), DwcaError> {
        let mut z = source::open_zip(path, self.limits)?;
        let ds = info(path, key);
        if z.locate_meta() {
            let mut c = Container::Zip(Box::new(z));
            let r = archive::read_meta_archive(&mut c, &ds, self.sink);
            return self.settle(r, explicit);
        }
        // A zipped table folder works too.
        z.enter_single_top_folder();
        let mut c = Container::Zip(Box::new(z));
        let files = c.root_files()?;
        let set = tables::classify(&mut c, &files)?;
        if set.has_data() {
            let r = tables::read_tables(&mut c, &set, &ds, self.sink);
            return self.settle(r, explicit);
        }
        if explicit {
            return Err(DwcaError::NoTable {
                path: path.display().to_string(),
                detail: ": zip without meta.xml or DwC tables".into(),
            });
        }
        if set.is_empty() {
            self.warn(
                path.display().to_string(),
                "not-dwca",
                "zip without meta.xml or DwC tables; skipped".into(),
            );
        } else {
            self.found += 1;
            self.warn(
                path.display().to_string(),
                "asv-catalog-only",
                "only ASV taxonomy tables here, no occurrences".into(),
            );
        }
        Ok(())
    }

    /// A file given directly: zip, GBIF FASTA, or a single table.
    fn file(&mut self, path: &Path, key: &str) -> Result<(), DwcaError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A pipe (FIFO, `/dev/stdin`) can be read only once, so it is not sniffed: a download FASTA of any
        // size can stream in from a generator or decompressor without touching the disk.
        if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            if fasta::is_fasta_name(&name) {
                let r = fasta::read_fasta(path, &info(path, key), self.limits, self.sink);
                return self.settle(r, true);
            }
            return Err(DwcaError::NoTable {
                path: path.display().to_string(),
                detail: ": a pipe is read once, as a GBIF download FASTA, so its name must say so (*.fasta, .fa, \
                         .fas or .fna, optionally .gz)"
                    .into(),
            });
        }
        if source::has_zip_magic(path) {
            return self.zip(path, key, true);
        }
        if fasta::is_fasta_name(&name) || fasta::looks_like_gbif_fasta(path, self.limits) {
            let r = fasta::read_fasta(path, &info(path, key), self.limits, self.sink);
            return self.settle(r, true);
        }
        if tables::is_table_name(&name) {
            let parent = path.parent().unwrap_or(Path::new("."));
            let mut c = Container::dir(parent, self.limits);
            let set = tables::classify(&mut c, std::slice::from_ref(&name))?;
            if set.has_data() {
                let r = tables::read_tables(&mut c, &set, &info(path, key), self.sink);
                return self.settle(r, true);
            }
            return Err(DwcaError::NoTable {
                path: path.display().to_string(),
                detail: ": not an occurrence or DNA table".into(),
            });
        }
        Err(DwcaError::NotZip {
            path: path.display().to_string(),
            reason: "neither a zip archive, a directory, a GBIF FASTA nor a DwC table".into(),
        })
    }
}
