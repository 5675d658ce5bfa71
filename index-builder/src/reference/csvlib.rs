//! meta-fish-lib style CSV reference libraries: one record per row, sequence in `nucleotides`.

use edna_seq::fastx::{self, FastxError};

use super::lineage::clean_name;
use super::{library_meta, Emitter, LibrarySpec, ReferenceError};
use crate::model::{LibraryMeta, RankedName, ReferenceRecord, Warning};

fn csv_error(file: &str, e: csv::Error) -> ReferenceError {
    let line = e.position().map_or(0, |p| p.line());
    if !e.is_io_error() {
        return ReferenceError::Parse {
            file: file.to_string(),
            line,
            message: format!("CSV: {e}"),
        };
    }
    match e.into_kind() {
        // Reading through `fastx::open`: keep the truncated-gzip diagnosis.
        csv::ErrorKind::Io(io) => FastxError::from_io(file, line, io).into(),
        other => ReferenceError::Parse {
            file: file.to_string(),
            line,
            message: format!("CSV: {other:?}"),
        },
    }
}

/// Reads a CSV library (plain or gzip) whose header has a `nucleotides` column.
///
/// id = `dbid` (else `gbAccession`), lineage = `class`, `order`, `family`, `genus` and `sciNameValid`
/// as species, name = `sciNameValid`, accession = `gbAccession`.
pub(crate) fn read_csv_library(
    spec: &LibrarySpec,
    sink: &mut dyn FnMut(ReferenceRecord),
    warn: &mut dyn FnMut(Warning),
) -> Result<LibraryMeta, ReferenceError> {
    let path = &spec.fasta;
    let file = path.display().to_string();
    let input = fastx::open(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let headers = rdr.headers().map_err(|e| csv_error(&file, e))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(seq_col) = col("nucleotides") else {
        return Err(ReferenceError::Parse {
            file,
            line: 1,
            message: "a CSV reference library needs a `nucleotides` column".to_string(),
        });
    };
    let id_col = col("dbid");
    let acc_col = col("gbAccession");
    let name_col = col("sciNameValid");
    let rank_cols: Vec<(&str, usize)> = ["class", "order", "family", "genus"]
        .into_iter()
        .filter_map(|r| col(r).map(|c| (r, c)))
        .collect();

    let meta = library_meta(spec);
    let mut emit = Emitter::new(meta.name.clone(), file.clone(), sink, warn);
    let mut record = csv::StringRecord::new();
    let mut ordinal = 0u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&file, e)),
        }
        ordinal += 1;
        let line = record.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
        let accession = get(acc_col).map(str::to_string);
        let id = get(id_col).map(str::to_string).or_else(|| accession.clone());
        let seq: Vec<u8> = get(Some(seq_col))
            .unwrap_or("")
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let mut lineage: Vec<RankedName> = rank_cols
            .iter()
            .filter_map(|&(rank, c)| {
                clean_name(get(Some(c))?).map(|name| RankedName {
                    rank: rank.to_string(),
                    name,
                })
            })
            .collect();
        let name = get(name_col).and_then(clean_name);
        if let Some(species) = &name {
            lineage.push(RankedName {
                rank: "species".to_string(),
                name: species.clone(),
            });
        }
        emit.emit(ordinal, line, id, seq, lineage, name, accession);
    }
    Ok(meta)
}
