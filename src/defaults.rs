//! The default index: built from the real data bundled in the repository (`references/`,
//! `fixtures/dwca/`), so the README's first command runs without any download.

use std::path::{Path, PathBuf};

use edna_index_builder::build::{BuildConfig, RefdbSpec, DEFAULT_SEEDS};
use edna_index_builder::reference::LibrarySpec;

/// Repository root (where the bundled data lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the default index is kept: `$EDNA_SEARCH_INDEX`, else `target/default-index` in the repository.
pub fn default_index_dir() -> PathBuf {
    std::env::var_os("EDNA_SEARCH_INDEX")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/default-index"))
}

/// The bundled query set used by `edna-search demo`.
pub fn default_queries() -> PathBuf {
    repo_root().join("fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta")
}

/// Build configuration of the default index (paths under `root`).
pub fn default_build_config(root: &Path, out: PathBuf) -> BuildConfig {
    let refs = root.join("references");
    BuildConfig {
        out,
        references: vec![LibrarySpec {
            fasta: refs.join("meta-fish-lib/reference-library-master.csv.gz"),
            taxonomy: None,
            style: None,
            marker: Some("12S".into()),
            name: Some("meta-fish-lib".into()),
        }],
        refdbs: ["refSeq-oomycITS", "refSeq-arc5s"]
            .iter()
            .map(|d| RefdbSpec {
                dir: refs.join("gbif-refdb").join(d),
                marker: None,
                name: None,
            })
            .collect(),
        dwca: vec![root.join("fixtures/dwca/noaa_gu1901_12S")],
        seeds: DEFAULT_SEEDS,
        limits: Default::default(),
        shard: None,
        only_markers: Vec::new(),
    }
}
