//! GBIF reference-database packages (`gbif/gbif-dna` `ReferenceDatabases/README.md`): a folder with
//! `data.tsv` (one row per sequence), `sequences.fasta` (bare `>ID` headers) and `metadata.yaml`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use edna_seq::fastx::{self, FastxError, Reader};

use super::lineage::parse_lineage_with_ranks;
use super::{infer_marker, marker_from_text, Emitter, ReferenceError};
use crate::model::{LibraryMeta, ReferenceRecord, SourcePos, Warning};

/// The `metadata.yaml` keys the index uses.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RefdbMetadata {
    pub title: Option<String>,
    pub target_gene: Option<String>,
    pub taxon_ranks: Vec<String>,
    pub version: Option<String>,
    pub issued: Option<String>,
    pub licence: Option<String>,
}

/// Reads top-level `key: value` lines; nested blocks, lists and block scalars are skipped.
///
/// A full YAML parser is not worth a dependency for five scalar keys that the format spec shows as
/// plain one-line values.
pub(crate) fn parse_metadata(text: &str) -> RefdbMetadata {
    let mut m = RefdbMetadata::default();
    for line in text.lines() {
        // Indented lines belong to a nested block or a multi-line scalar.
        if line.starts_with([' ', '\t', '-', '#']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = strip_comment(value.trim());
        if value.is_empty() || value.starts_with(['|', '>']) {
            continue;
        }
        let value = unquote(value).to_string();
        match key.trim() {
            "title" => m.title = Some(value),
            "targetGene" => m.target_gene = Some(value),
            "taxonRanks" => {
                m.taxon_ranks = value
                    .split(';')
                    .map(|r| r.trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty())
                    .collect()
            }
            "version" => m.version = Some(value),
            "issued" => m.issued = Some(value),
            "licence" | "license" => m.licence = Some(value),
            _ => {}
        }
    }
    m
}

fn strip_comment(v: &str) -> &str {
    // ` #` starts a comment in YAML only outside quotes; quoted values keep theirs.
    if v.starts_with(['\'', '"']) {
        return v;
    }
    match v.find(" #") {
        Some(p) => v[..p].trim_end(),
        None => v,
    }
}

fn unquote(v: &str) -> &str {
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// One `data.tsv` row.
struct Row {
    accession: Option<String>,
    scientific_name: Option<String>,
    taxon_rank: Option<String>,
    classification: String,
    used: bool,
}

fn read_data_tsv(path: &Path, warn: &mut dyn FnMut(Warning)) -> Result<HashMap<String, Row>, ReferenceError> {
    let file = path.display().to_string();
    let mut input = fastx::open(path)?;
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut cols: HashMap<String, usize> = HashMap::new();
    let mut rows = HashMap::new();
    let parse_err = |line, message: String| ReferenceError::Parse {
        file: file.clone(),
        line,
        message,
    };
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => line += 1,
            Err(e) => return Err(FastxError::from_io(&file, line + 1, e).into()),
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.bytes().any(|b| b < 0x20 && b != b'\t') {
            return Err(parse_err(line, "binary data in data.tsv".to_string()));
        }
        let fields: Vec<&str> = text.split('\t').collect();
        if line == 1 {
            for (i, name) in fields.iter().enumerate() {
                let name = name.trim().trim_start_matches('\u{feff}');
                cols.insert(name.to_ascii_lowercase(), i);
            }
            if !cols.contains_key("id") {
                return Err(parse_err(line, "data.tsv header has no `ID` column".to_string()));
            }
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        let get = |name: &str| {
            cols.get(name)
                .and_then(|&i| fields.get(i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let Some(id) = get("id") else {
            return Err(parse_err(line, "data.tsv row has an empty ID".to_string()));
        };
        if rows.contains_key(id) {
            warn(Warning {
                pos: SourcePos {
                    file: file.clone(),
                    line,
                },
                reason: "duplicate-id",
                message: format!("data.tsv ID {id} repeated; the first row is used"),
            });
            continue;
        }
        let row = Row {
            accession: get("accessionnumber").map(str::to_string),
            scientific_name: get("scientificname").map(str::to_string),
            taxon_rank: get("taxonrank").map(str::to_ascii_lowercase),
            classification: get("higherclassification").unwrap_or("").to_string(),
            used: false,
        };
        rows.insert(id.to_string(), row);
    }
    Ok(rows)
}

fn require(path: &Path) -> Result<(), ReferenceError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(ReferenceError::Missing {
            file: path.display().to_string(),
        })
    }
}

/// See [`super::read_refdb`].
pub(crate) fn read_refdb(
    dir: &Path,
    marker: Option<&str>,
    name: Option<&str>,
    sink: &mut dyn FnMut(ReferenceRecord),
    warn: &mut dyn FnMut(Warning),
) -> Result<LibraryMeta, ReferenceError> {
    let data = dir.join("data.tsv");
    let fasta = dir.join("sequences.fasta");
    let meta_path = dir.join("metadata.yaml");
    require(&data)?;
    require(&fasta)?;

    let meta = if meta_path.is_file() {
        let text = std::fs::read_to_string(&meta_path).map_err(|e| ReferenceError::Io {
            file: meta_path.display().to_string(),
            source: e,
        })?;
        parse_metadata(&text)
    } else {
        warn(Warning {
            pos: SourcePos {
                file: meta_path.display().to_string(),
                line: 0,
            },
            reason: "missing-metadata",
            message: "refdb package has no metadata.yaml; marker and ranks are guessed".to_string(),
        });
        RefdbMetadata::default()
    };
    let library = match name {
        Some(n) => n.to_string(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "refdb".to_string()),
    };
    let marker = marker
        .map(str::to_string)
        .or_else(|| meta.target_gene.as_deref().map(marker_from_text))
        .unwrap_or_else(|| infer_marker(&library).unwrap_or("unknown").to_string());
    let ranks: Vec<&str> = if meta.taxon_ranks.is_empty() {
        super::lineage::RANKS_8.to_vec()
    } else {
        meta.taxon_ranks.iter().map(String::as_str).collect()
    };

    let mut rows = read_data_tsv(&data, warn)?;
    let label = fasta.display().to_string();
    let mut emit = Emitter::new(library.clone(), label.clone(), sink, warn);
    let mut reader = Reader::from_path(&fasta)?;
    let mut ordinal = 0u64;
    while let Some(rec) = reader.next_record() {
        let rec = rec?;
        ordinal += 1;
        let row = rows.get_mut(&rec.id);
        let (lineage, sci, acc) = match row {
            Some(row) => {
                row.used = true;
                let lineage = parse_lineage_with_ranks(&row.classification, &ranks, row.taxon_rank.as_deref());
                (lineage, row.scientific_name.clone(), row.accession.clone())
            }
            None => {
                emit.warn(
                    rec.line,
                    "missing-taxonomy",
                    format!("ID {} is not in data.tsv", rec.id),
                );
                (Vec::new(), None, None)
            }
        };
        let id = (!rec.id.is_empty()).then_some(rec.id);
        emit.emit(ordinal, rec.line, id, rec.seq, lineage, sci, acc);
    }
    let unused: Vec<&String> = rows.iter().filter(|(_, r)| !r.used).map(|(k, _)| k).collect();
    if !unused.is_empty() {
        emit.warn(
            0,
            "unused-taxonomy",
            format!(
                "{} data.tsv IDs have no sequence in sequences.fasta (e.g. {})",
                unused.len(),
                unused[0]
            ),
        );
    }

    let mut files = vec![data, fasta];
    if meta_path.is_file() {
        files.push(meta_path);
    }
    Ok(LibraryMeta {
        name: library,
        marker,
        version: meta.version.or(meta.issued),
        title: meta.title,
        licence: meta.licence,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys() {
        let m = parse_metadata(
            "title: Archaeal 16S RefSeq\ntargetGene: 16S rRNA\ntaxonRanks: domain;kingdom;phylum\ndescription: |-\n  title: not this\nissued: '2026-02-01'\nversion: PRJNA33317\ncontact:\n  given: R\nlicence: \"CC-BY 4.0\" \n",
        );
        assert_eq!(m.title.as_deref(), Some("Archaeal 16S RefSeq"));
        assert_eq!(m.target_gene.as_deref(), Some("16S rRNA"));
        assert_eq!(m.taxon_ranks, vec!["domain", "kingdom", "phylum"]);
        assert_eq!(m.issued.as_deref(), Some("2026-02-01"));
        assert_eq!(m.version.as_deref(), Some("PRJNA33317"));
        assert_eq!(m.licence.as_deref(), Some("CC-BY 4.0"));
    }
}
