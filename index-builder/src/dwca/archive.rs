//! Archives described by meta.xml (zipped or unpacked): Occurrence or Event core, DNA-derived-data
//! extension.

use super::error::DwcaError;
use super::fields::{AsvTaxonomy, Mapping};
use super::join::{
    emit_dna_only, load_dna, report_orphans, shared_licence, stream_occurrences, DnaIndex, DnaKey, Events, JoinCtx,
    OccKey, TableFile,
};
use super::meta::{parse_eml, parse_meta, Eml, FieldSpec, TableSpec};
use super::source::Container;
use super::terms::{local_name, row_type_is, Term};
use super::text::{Next, Record, RowReader};
use super::{DatasetInfo, DwcaSink};
use crate::model::{DatasetMeta, SourcePos, Warning};

fn warn(sink: &mut dyn DwcaSink, file: String, reason: &'static str, message: String) {
    sink.warning(Warning {
        pos: SourcePos { file, line: 0 },
        reason,
        message,
    });
}

/// Read eml.xml when there is one; problems with it are warnings (it only supplies labels).
pub(crate) fn read_eml(c: &mut Container, location: Option<&str>, sink: &mut dyn DwcaSink) -> Option<Eml> {
    let member = location.and_then(|l| c.resolve(l)).or_else(|| c.resolve("eml.xml"))?;
    let name = c.display(&member);
    match c
        .read_small(&member)
        .map_err(|e| e.to_string())
        .and_then(|b| parse_eml(&b))
    {
        Ok(e) => Some(e),
        Err(msg) => {
            warn(sink, name, "eml", format!("eml.xml unreadable: {msg}"));
            None
        }
    }
}

/// Columns at `index + delta` of the header match the mapped terms better than at `index`: the archive
/// counts from 1 (seen in the wild, e.g. OBON's Aldabra archive). Returns the shift to apply.
fn detect_shift(fields: &[FieldSpec], header: &[String]) -> Option<isize> {
    let same = |term: &str, name: &str| {
        let (a, b) = (Term::from_uri(term), Term::from_uri(name));
        (a.is_some() && a == b) || local_name(term).eq_ignore_ascii_case(local_name(name))
    };
    let score = |delta: isize| {
        fields
            .iter()
            .filter(|f| {
                f.index
                    .and_then(|i| i.checked_add_signed(delta))
                    .and_then(|j| header.get(j))
                    .is_some_and(|h| same(&f.term, h))
            })
            .count()
    };
    let indexed = fields.iter().filter(|f| f.index.is_some()).count();
    let base = score(0);
    [-1isize, 1]
        .into_iter()
        .map(|d| (d, score(d)))
        .filter(|&(_, s)| s > base && s >= 2 && s * 2 >= indexed)
        .max_by_key(|&(_, s)| s)
        .map(|(d, _)| d)
}

fn shift_fields(spec: &TableSpec, delta: isize) -> Option<(Vec<FieldSpec>, Option<usize>)> {
    let mut fields = spec.fields.clone();
    for f in &mut fields {
        if let Some(i) = f.index {
            f.index = Some(i.checked_add_signed(delta)?);
        }
    }
    let id = match spec.id_index {
        Some(i) => Some(i.checked_add_signed(delta)?),
        None => None,
    };
    Some((fields, id))
}

/// Open one data file of a table: read its header (or first row), fix 1-based indexes, check that every
/// mapped column exists.
fn prepare(c: &mut Container, spec: &TableSpec, member: &str, sink: &mut dyn DwcaSink) -> Result<TableFile, DwcaError> {
    let mut mapping = Mapping::from_fields(&spec.fields, spec.id_index, spec.dialect.encoding);
    let opened = c.open(member)?;
    let name = opened.name.clone();
    let mut rr = RowReader::new(opened.reader, spec.dialect, name.clone(), opened.gz)?;
    let dialect = rr.dialect();
    let mut rec = Record::default();
    let first = loop {
        match rr.next(&mut rec)? {
            Next::Row => break true,
            Next::Bad { .. } => continue,
            Next::Eof => break false,
        }
    };
    drop(rr);
    let mut width = None;
    if first {
        if spec.header_lines > 0 {
            let header: Vec<String> = (0..rec.len())
                .map(|i| {
                    let raw = rec.get(i).unwrap_or_default().trim_ascii();
                    dialect.encoding.decode(raw).0.into_owned()
                })
                .collect();
            if let Some(delta) = detect_shift(&spec.fields, &header) {
                if let Some((fields, id)) = shift_fields(spec, delta) {
                    mapping = Mapping::from_fields(&fields, id, dialect.encoding);
                    warn(
                        sink,
                        name.clone(),
                        "meta-index-shift",
                        format!(
                            "meta.xml column indexes are off by {} against the header; corrected",
                            -delta
                        ),
                    );
                }
            }
            width = Some(header.len());
        }
        let columns = rec.len();
        for (index, term) in mapping.indexes() {
            if index >= columns {
                return Err(DwcaError::ColumnOutOfRange {
                    pos: SourcePos {
                        file: name,
                        line: rec.line,
                    },
                    index,
                    term,
                    columns,
                });
            }
        }
    }
    Ok(TableFile {
        member: member.to_string(),
        name,
        dialect,
        header_lines: spec.header_lines,
        mapping,
        width,
    })
}

/// Resolve and prepare every file of a table.
fn prepare_all(
    c: &mut Container,
    meta_name: &str,
    spec: &TableSpec,
    role: &'static str,
    sink: &mut dyn DwcaSink,
) -> Result<Vec<TableFile>, DwcaError> {
    if let Some(enc) = &spec.unknown_encoding {
        warn(
            sink,
            meta_name.to_string(),
            "encoding",
            format!("unknown encoding `{enc}` for the {role}; read as UTF-8"),
        );
    }
    let mut out = Vec::new();
    for loc in &spec.locations {
        let Some(member) = c.resolve(loc) else {
            return Err(DwcaError::MissingFile {
                meta: meta_name.to_string(),
                role,
                location: loc.clone(),
            });
        };
        out.push(prepare(c, spec, &member, sink)?);
    }
    Ok(out)
}

/// Read an archive whose root holds meta.xml.
pub(crate) fn read_meta_archive(
    c: &mut Container,
    info: &DatasetInfo,
    sink: &mut dyn DwcaSink,
) -> Result<(), DwcaError> {
    let meta_member = c.resolve("meta.xml").ok_or_else(|| DwcaError::NoTable {
        path: c.display(""),
        detail: ": no meta.xml".into(),
    })?;
    let meta_name = c.display(&meta_member);
    let spec = parse_meta(&c.read_small(&meta_member)?, &meta_name)?;
    let event_core = if row_type_is(&spec.core.row_type, "Occurrence") {
        false
    } else if row_type_is(&spec.core.row_type, "Event") {
        true
    } else {
        return Err(DwcaError::NoTable {
            path: meta_name,
            detail: format!(
                ": core rowType `{}` is neither Occurrence nor Event",
                spec.core.row_type
            ),
        });
    };
    let mut dna_specs = Vec::new();
    let mut occ_specs = Vec::new();
    for ext in &spec.extensions {
        if row_type_is(&ext.row_type, "DNADerivedData") {
            dna_specs.push(ext);
        } else if event_core && row_type_is(&ext.row_type, "Occurrence") {
            occ_specs.push(ext);
        } else {
            // Unused extension (eMoF, multimedia...): a missing file does not matter.
            for loc in &ext.locations {
                if c.resolve(loc).is_none() {
                    warn(
                        sink,
                        meta_name.clone(),
                        "missing-file",
                        format!(
                            "extension file `{loc}` ({}) is missing; not needed",
                            local_name(&ext.row_type)
                        ),
                    );
                }
            }
        }
    }
    let core_files = prepare_all(c, &meta_name, &spec.core, "core", sink)?;
    let mut dna_files = Vec::new();
    for s in dna_specs {
        dna_files.extend(prepare_all(c, &meta_name, s, "DNA extension", sink)?);
    }
    let mut occ_files = Vec::new();
    for s in occ_specs {
        occ_files.extend(prepare_all(c, &meta_name, s, "Occurrence extension", sink)?);
    }
    let inline = |files: &[TableFile]| files.iter().any(|f| f.mapping.has_dna());
    let occ_source: &[TableFile] = if event_core { &occ_files } else { &core_files };
    if dna_files.is_empty() && !inline(occ_source) {
        return Err(DwcaError::NoTable {
            path: meta_name,
            detail: ": no DNA-derived-data extension and no DNA_sequence column".into(),
        });
    }
    if event_core && occ_files.is_empty() && !dna_files.iter().any(|f| f.mapping.has(Term::OccurrenceId)) {
        return Err(DwcaError::NoTable {
            path: meta_name,
            detail: ": Event core without Occurrence extension, and DNA rows carry no occurrenceID".into(),
        });
    }

    let eml = read_eml(c, spec.metadata.as_deref(), sink).unwrap_or_default();
    let licence = match eml.licence {
        Some(l) => Some(l),
        None => shared_licence(c, occ_source)?,
    };
    sink.dataset(DatasetMeta {
        key: eml.key.unwrap_or_else(|| info.key.clone()),
        title: eml.title.unwrap_or_else(|| info.title.clone()),
        licence,
        path: info.path.clone(),
    });

    let asv = AsvTaxonomy::default();
    let mut index = DnaIndex::default();
    if event_core {
        let events = Events::load(c, &core_files, sink)?;
        let mut by_event = DnaIndex::default();
        let dna_only = occ_files.is_empty();
        load_dna(
            c,
            &dna_files,
            DnaKey::CoreId,
            dna_only,
            &mut index,
            Some(&mut by_event),
            sink,
        )?;
        stream_occurrences(
            c,
            &occ_files,
            OccKey::EventExtension,
            &mut JoinCtx {
                index: &mut index,
                by_event: Some(&mut by_event),
                events: Some(&events),
                asv: &asv,
            },
            sink,
        )?;
        if dna_only {
            emit_dna_only(index, Some(&events), &asv, sink);
        } else {
            report_orphans(index, sink);
        }
        report_orphans(by_event, sink);
    } else {
        load_dna(c, &dna_files, DnaKey::CoreId, false, &mut index, None, sink)?;
        stream_occurrences(
            c,
            &core_files,
            OccKey::CoreId,
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
