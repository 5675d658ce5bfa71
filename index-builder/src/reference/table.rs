//! Side taxonomy tables: `id<TAB>…<TAB>lineage` (QIIME 2 `Feature ID<TAB>Taxon`, PR2 exports).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use edna_seq::fastx::{self, FastxError};

use super::ReferenceError;
use crate::model::{SourcePos, Warning};

/// One table row.
#[derive(Debug)]
pub(crate) struct TableEntry {
    /// The lineage string as published.
    pub taxon: String,
    /// Line of the row.
    pub line: u64,
    /// Whether a FASTA record used it.
    pub used: bool,
}

/// A taxonomy table keyed by id.
#[derive(Debug)]
pub(crate) struct TaxonomyTable {
    /// File label.
    pub file: String,
    /// Rows by id (first row wins for duplicate ids).
    pub rows: HashMap<String, TableEntry>,
}

/// Whether the first row is a header: it names a taxonomy column or a usual id column.
fn is_header(cols: &[&str]) -> bool {
    let first = cols.first().map(|c| c.trim().to_ascii_lowercase()).unwrap_or_default();
    cols.iter().any(|c| is_taxon_column(c))
        || first.starts_with('#')
        || matches!(
            first.as_str(),
            "id" | "feature id"
                | "featureid"
                | "feature_id"
                | "seqid"
                | "seq_id"
                | "sequence id"
                | "pr2_accession"
                | "accession"
        )
}

fn is_taxon_column(c: &str) -> bool {
    let c = c.trim();
    c.eq_ignore_ascii_case("taxon") || c.eq_ignore_ascii_case("taxonomy")
}

/// Undoes CSV-style quoting that some TSV writers (QIIME 2, pandas) apply to fields containing
/// quotes: `"a;s__""X"""` → `a;s__"X"`. Fields with embedded tabs or newlines are not supported.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    }
}

impl TaxonomyTable {
    /// Reads a TSV (plain or gzip) keyed by its first column. The taxonomy column is the one named
    /// `Taxon`/`taxonomy` (any case), else the last column.
    pub fn read(path: &Path, warn: &mut dyn FnMut(Warning)) -> Result<Self, ReferenceError> {
        let file = path.display().to_string();
        let mut input = fastx::open(path)?;
        let mut rows: HashMap<String, TableEntry> = HashMap::new();
        let mut buf = Vec::new();
        let mut line = 0u64;
        let mut taxon_col: Option<usize> = None;
        loop {
            buf.clear();
            match input.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => line += 1,
                Err(e) => return Err(FastxError::from_io(&file, line + 1, e).into()),
            }
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            let text = if line == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            if text.trim().is_empty() {
                continue;
            }
            if text.bytes().any(|b| b < 0x20 && b != b'\t') {
                return Err(ReferenceError::Parse {
                    file,
                    line,
                    message: "binary data in taxonomy table".to_string(),
                });
            }
            let cols: Vec<&str> = text.split('\t').collect();
            if line == 1 && is_header(&cols) {
                taxon_col = cols.iter().position(|c| is_taxon_column(c));
                if taxon_col.is_none() && cols.len() < 2 {
                    return Err(ReferenceError::Parse {
                        file,
                        line,
                        message: "taxonomy table header has no taxonomy column".to_string(),
                    });
                }
                continue;
            }
            if cols.len() < 2 {
                return Err(ReferenceError::Parse {
                    file,
                    line,
                    message: format!(
                        "expected `id<TAB>taxonomy`, found {} column (is this a TSV taxonomy table?)",
                        cols.len()
                    ),
                });
            }
            let id = cols[0].trim();
            if id.is_empty() {
                continue;
            }
            let col = taxon_col.unwrap_or(cols.len() - 1);
            let taxon = cols.get(col).map(|t| unquote(t.trim())).unwrap_or_default();
            if rows.contains_key(id) {
                warn(Warning {
                    pos: SourcePos {
                        file: file.clone(),
                        line,
                    },
                    reason: "duplicate-id",
                    message: format!("taxonomy table id {id} repeated; the first row is used"),
                });
                continue;
            }
            rows.insert(
                id.to_string(),
                TableEntry {
                    taxon,
                    line,
                    used: false,
                },
            );
        }
        Ok(Self { file, rows })
    }

    /// The lineage string for `id`, marking the row used.
    pub fn take(&mut self, id: &str) -> Option<&str> {
        self.rows.get_mut(id).map(|e| {
            e.used = true;
            e.taxon.as_str()
        })
    }

    /// One summary warning for table rows no FASTA record used.
    pub fn warn_unused(&self, fasta: &str, warn: &mut dyn FnMut(Warning)) {
        let unused: Vec<(&String, &TableEntry)> = self.rows.iter().filter(|(_, e)| !e.used).collect();
        if unused.is_empty() {
            return;
        }
        let first = unused
            .iter()
            .min_by_key(|(_, e)| e.line)
            .map(|(id, e)| (id.as_str(), e.line));
        let (example, line) = first.unwrap_or(("", 0));
        warn(Warning {
            pos: SourcePos {
                file: self.file.clone(),
                line,
            },
            reason: "unused-taxonomy",
            message: format!(
                "{} taxonomy table ids have no sequence in {fasta} (first: {example})",
                unused.len()
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_field() {
        assert_eq!(
            unquote(r#""d__Eukaryota;s__""Salvelinus sp. 7 sensu Bogutskaya"""#),
            r#"d__Eukaryota;s__"Salvelinus sp. 7 sensu Bogutskaya""#
        );
        assert_eq!(unquote("k__Fungi"), "k__Fungi");
    }

    #[test]
    fn headerless_table_uses_last_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "a\tx\tk__Fungi\nb\ty\tk__Plantae\na\tz\tk__Dup\n").unwrap();
        let mut warnings = Vec::new();
        let mut t = TaxonomyTable::read(&p, &mut |w| warnings.push(w)).unwrap();
        assert_eq!(t.take("a"), Some("k__Fungi"));
        assert_eq!(t.take("b"), Some("k__Plantae"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].pos.line, 3);
    }
}
