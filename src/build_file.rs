//! `edna-search build --config build.toml`: the inputs of a build listed in a file, so a large or
//! recurring build is reviewed and versioned like code. Paths are relative to the file's folder.
//!
//! ```toml
//! out = "index"            # optional; --out wins
//! threads = 2              # optional
//! assign = true            # optional: build-time taxon assignment of occurrence sequences
//! shard = "0/3"            # optional
//! only_markers = ["12S"]   # optional: a marker shard
//!
//! [[reference]]
//! fasta = "refs/12S.fasta.gz"
//! taxonomy = "refs/12S.taxonomy.tsv"   # optional
//! header_style = "sintax"              # optional: unite, sintax, dada2, qiime, pr2, bold, rdp, lineage-accession
//! marker = "12S"                       # optional
//! name = "mitohelper"                  # optional
//!
//! [[refdb]]
//! dir = "refdb/refSeq-oomycITS"        # marker, name optional
//!
//! [[dwca]]
//! path = "datasets/survey.zip"         # a zip, a folder, a table folder or a GBIF FASTA download
//! ```

use std::path::{Path, PathBuf};

use edna_index_builder::build::RefdbSpec;
use edna_index_builder::model::HeaderStyle;
use edna_index_builder::reference::LibrarySpec;
use serde::Deserialize;

/// A build file that cannot be used; every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildFileError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or not the expected keys (the message gives line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An unknown header style.
    #[error("{path}: unknown header_style {style:?} (unite, sintax, dada2, qiime, pr2, bold, rdp, lineage-accession)")]
    HeaderStyle {
        /// The file.
        path: PathBuf,
        /// The value given.
        style: String,
    },
}

/// The contents of a build file, with paths resolved against its folder.
#[derive(Debug, Default)]
pub struct BuildFile {
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Build threads.
    pub threads: Option<usize>,
    /// Build-time assignment.
    pub assign: bool,
    /// `I/N` partition.
    pub shard: Option<String>,
    /// Markers of a marker shard (as given; empty for all).
    pub only_markers: Vec<String>,
    /// Reference libraries.
    pub references: Vec<LibrarySpec>,
    /// GBIF reference-database packages.
    pub refdbs: Vec<RefdbSpec>,
    /// Darwin Core Archives and other occurrence inputs.
    pub dwca: Vec<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    out: Option<PathBuf>,
    threads: Option<usize>,
    #[serde(default)]
    assign: bool,
    shard: Option<String>,
    #[serde(default)]
    only_markers: Vec<String>,
    #[serde(default)]
    reference: Vec<RawReference>,
    #[serde(default)]
    refdb: Vec<RawRefdb>,
    #[serde(default)]
    dwca: Vec<RawDwca>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    fasta: PathBuf,
    taxonomy: Option<PathBuf>,
    header_style: Option<String>,
    marker: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRefdb {
    dir: PathBuf,
    marker: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDwca {
    path: PathBuf,
}

/// The header style named by a `--header-style` flag or `header_style` key.
pub fn parse_header_style(name: &str) -> Option<HeaderStyle> {
    Some(match name {
        "unite" => HeaderStyle::Unite,
        "sintax" => HeaderStyle::Sintax,
        "dada2" => HeaderStyle::Dada2,
        "qiime" | "pr2" | "id" => HeaderStyle::IdWithTable,
        "bold" => HeaderStyle::Bold,
        "rdp" => HeaderStyle::RdpTab,
        "lineage-accession" => HeaderStyle::LineageAccession,
        _ => return None,
    })
}

impl BuildFile {
    /// Reads and checks a build file.
    pub fn load(path: &Path) -> Result<BuildFile, BuildFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| BuildFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a build file read from `path` (used to resolve relative paths and in messages).
    pub fn parse(text: &str, path: &Path) -> Result<BuildFile, BuildFileError> {
        let raw: Raw = toml::from_str(text).map_err(|e| BuildFileError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let at = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut references = Vec::with_capacity(raw.reference.len());
        for r in raw.reference {
            let style = match r.header_style {
                Some(s) => Some(parse_header_style(&s).ok_or_else(|| BuildFileError::HeaderStyle {
                    path: path.to_path_buf(),
                    style: s,
                })?),
                None => None,
            };
            references.push(LibrarySpec {
                fasta: at(r.fasta),
                taxonomy: r.taxonomy.map(at),
                style,
                marker: r.marker,
                name: r.name,
            });
        }
        Ok(BuildFile {
            out: raw.out.map(at),
            threads: raw.threads,
            assign: raw.assign,
            shard: raw.shard,
            only_markers: raw.only_markers,
            references,
            refdbs: raw
                .refdb
                .into_iter()
                .map(|r| RefdbSpec {
                    dir: at(r.dir),
                    marker: r.marker,
                    name: r.name,
                })
                .collect(),
            dwca: raw.dwca.into_iter().map(|d| at(d.path)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_file() {
        let text = r#"
            out = "idx"
            assign = true
            [[reference]]
            fasta = "refs/a.fasta"
            taxonomy = "/abs/a.tsv"
            header_style = "sintax"
            marker = "12S"
            [[refdb]]
            dir = "pkg"
            [[dwca]]
            path = "d.zip"
        "#;
        let f = BuildFile::parse(text, Path::new("/data/build.toml")).expect("parse");
        assert_eq!(f.out, Some(PathBuf::from("/data/idx")));
        assert!(f.assign);
        assert_eq!(f.references[0].fasta, PathBuf::from("/data/refs/a.fasta"));
        assert_eq!(f.references[0].taxonomy, Some(PathBuf::from("/abs/a.tsv")));
        assert_eq!(f.references[0].style, Some(HeaderStyle::Sintax));
        assert_eq!(f.refdbs[0].dir, PathBuf::from("/data/pkg"));
        assert_eq!(f.dwca, vec![PathBuf::from("/data/d.zip")]);
    }

    #[test]
    fn mistakes_name_the_file_and_place() {
        let e = BuildFile::parse("[[reference]]\nfasat = \"x\"\n", Path::new("b.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("b.toml:") && msg.contains("fasat") && msg.contains("line 2"),
            "{msg}"
        );
        let e = BuildFile::parse(
            "[[reference]]\nfasta = \"x\"\nheader_style = \"nope\"\n",
            Path::new("b.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown header_style \"nope\""), "{e}");
        let e = BuildFile::parse("out = [", Path::new("b.toml")).unwrap_err();
        assert!(e.to_string().starts_with("b.toml:"), "{e}");
    }
}
