//! Folders of Darwin Core tables without meta.xml: occurrence and DNA tables recognised by their header,
//! joined on `occurrenceID`; ASV taxonomy tables fill missing identifications.

use std::io::BufRead;

use super::error::DwcaError;
use super::fields::{AsvTaxonomy, Mapping};
use super::join::{
    emit_dna_only, load_dna, report_orphans, scan, shared_licence, stream_occurrences, DnaIndex, DnaKey, JoinCtx,
    OccKey, TableFile,
};
use super::source::Container;
use super::terms::Term;
use super::text::{sniff_delimiter, Dialect, Encoding, Next, Record, RowReader};
use super::{DatasetInfo, DwcaSink};
use crate::model::DatasetMeta;

/// What a table is, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    /// Occurrences (`occurrenceID` + occurrence terms, no sequence).
    Occurrence,
    /// DNA rows (`DNA_sequence` + `occurrenceID`).
    Dna,
    /// ASV taxonomy (`DNA_sequence` + taxonomy, no `occurrenceID`).
    Asv,
}

/// The tables found in a folder.
#[derive(Debug, Default)]
pub(crate) struct TableSet {
    /// Occurrence tables.
    pub(crate) occurrence: Vec<TableFile>,
    /// DNA tables.
    pub(crate) dna: Vec<TableFile>,
    /// ASV taxonomy tables.
    pub(crate) asv: Vec<TableFile>,
}

impl TableSet {
    /// Whether the folder yields occurrences (has an occurrence or DNA table).
    pub(crate) fn has_data(&self) -> bool {
        !self.occurrence.is_empty() || !self.dna.is_empty()
    }

    /// Whether nothing was recognised.
    pub(crate) fn is_empty(&self) -> bool {
        !self.has_data() && self.asv.is_empty()
    }
}

/// Whether a file name looks like a delimited table (`.tsv`, `.txt`, `.csv`, `.tab`, optionally `.gz`).
pub(crate) fn is_table_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    [".tsv", ".txt", ".csv", ".tab"].iter().any(|e| n.ends_with(e))
}

/// Read a table's header (and first row, for the R row-names quirk) and decide what it is.
fn inspect(c: &mut Container, member: &str) -> Result<Option<(TableKind, TableFile)>, DwcaError> {
    let mut opened = c.open(member)?;
    let name = opened.name.clone();
    let head = opened
        .reader
        .fill_buf()
        .map_err(|e| DwcaError::from_io(e, &name, 1, opened.gz))?;
    if !head.contains(&b'\n') && head.len() >= 64 << 10 {
        // No line break in the first buffer: not a table with a header (maybe binary).
        return Ok(None);
    }
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let lower = member.to_ascii_lowercase();
    let fallback = if lower.contains(".tsv") || lower.contains(".tab") {
        b'\t'
    } else {
        b','
    };
    let dialect = Dialect {
        delimiter: sniff_delimiter(first_line, fallback),
        quote: Some(b'"'),
        line_end: b'\n',
        encoding: Encoding::Utf8,
    };
    let mut rr = RowReader::new(opened.reader, dialect, name.clone(), opened.gz)?;
    let mut rec = Record::default();
    if rr.next(&mut rec)? != Next::Row {
        return Ok(None);
    }
    let header: Vec<String> = (0..rec.len())
        .map(|i| String::from_utf8_lossy(rec.get(i).unwrap_or_default().trim_ascii()).into_owned())
        .collect();
    let width = header.len();
    // R's write.table with row names: the header has one name fewer than the rows.
    let offset = match rr.next(&mut rec)? {
        Next::Row if rec.len() == width + 1 => 1,
        _ => 0,
    };
    let mapping = Mapping::from_header(&header, offset, Encoding::Utf8);
    let has_taxonomy = mapping.has(Term::ScientificName) || Term::RANKS.iter().any(|(t, _)| mapping.has(*t));
    let occ_terms = [
        Term::ScientificName,
        Term::EventDate,
        Term::OrganismQuantity,
        Term::DecimalLatitude,
        Term::BasisOfRecord,
        Term::MaterialSampleId,
        Term::EventId,
    ];
    let kind = if mapping.has(Term::DnaSequence) {
        if mapping.has(Term::OccurrenceId) {
            TableKind::Dna
        } else if has_taxonomy {
            TableKind::Asv
        } else {
            return Ok(None);
        }
    } else if mapping.has(Term::OccurrenceId) && (has_taxonomy || occ_terms.iter().any(|t| mapping.has(*t))) {
        TableKind::Occurrence
    } else {
        return Ok(None);
    };
    Ok(Some((
        kind,
        TableFile {
            member: member.to_string(),
            name,
            dialect: rr.dialect(),
            header_lines: 1,
            mapping,
            width: Some(width + offset),
        },
    )))
}

/// Recognise the tables among `members` (sorted).
pub(crate) fn classify(c: &mut Container, members: &[String]) -> Result<TableSet, DwcaError> {
    let mut set = TableSet::default();
    for m in members.iter().filter(|m| is_table_name(m)) {
        match inspect(c, m)? {
            Some((TableKind::Occurrence, tf)) => set.occurrence.push(tf),
            Some((TableKind::Dna, tf)) => set.dna.push(tf),
            Some((TableKind::Asv, tf)) => set.asv.push(tf),
            None => {}
        }
    }
    Ok(set)
}

/// Read a folder's tables as one dataset.
pub(crate) fn read_tables(
    c: &mut Container,
    set: &TableSet,
    info: &DatasetInfo,
    sink: &mut dyn DwcaSink,
) -> Result<(), DwcaError> {
    if set.dna.is_empty() {
        return Err(DwcaError::NoTable {
            path: info.path.display().to_string(),
            detail: ": an occurrence table but no DNA table".into(),
        });
    }
    let licence_from = if set.occurrence.is_empty() {
        &set.dna
    } else {
        &set.occurrence
    };
    let licence = shared_licence(c, licence_from)?;
    sink.dataset(DatasetMeta {
        key: info.key.clone(),
        title: info.title.clone(),
        licence,
        path: info.path.clone(),
    });
    let mut asv = AsvTaxonomy::default();
    for tf in &set.asv {
        scan(c, tf, sink, |row, _| asv.add(row))?;
    }
    let dna_only = set.occurrence.is_empty();
    let mut index = DnaIndex::default();
    load_dna(c, &set.dna, DnaKey::OccurrenceId, dna_only, &mut index, None, sink)?;
    if dna_only {
        emit_dna_only(index, None, &asv, sink);
    } else {
        stream_occurrences(
            c,
            &set.occurrence,
            OccKey::OccurrenceId,
            &mut JoinCtx {
                index: &mut index,
                by_event: None,
                events: None,
                asv: &asv,
            },
            sink,
        )?;
        report_orphans(index, sink);
    }
    Ok(())
}
