//! GBIF occurrence-download FASTA: `>{nucleotideSequenceID}|{gbifID}|{targetGene}`, one record per DNA row.

use std::io::BufRead;
use std::path::Path;

use super::error::DwcaError;
use super::source::{open_file, Budget};
use super::{ArchiveLimits, DatasetInfo, DwcaSink};
use crate::model::{DatasetMeta, DnaRow, OccurrenceRecord, SourcePos, Warning};

/// Whether a file name looks like FASTA (`.fasta`, `.fa`, `.fas`, `.fna`, optionally `.gz`).
pub(crate) fn is_fasta_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    [".fasta", ".fa", ".fas", ".fna"].iter().any(|e| n.ends_with(e))
}

/// Split a GBIF header into (gbifID, targetGene); `None` when it is not in the download format.
fn parse_header(header: &str) -> Option<(String, Option<String>)> {
    let mut parts = header.splitn(3, '|');
    let _sequence_id = parts.next()?;
    let gbif_id = parts.next()?.trim();
    if gbif_id.is_empty() {
        return None;
    }
    let gene = parts
        .next()
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    Some((gbif_id.to_string(), gene))
}

/// Whether the first record header is in the GBIF download format (numeric gbifID in the second field).
pub(crate) fn looks_like_gbif_fasta(path: &Path, limits: &ArchiveLimits) -> bool {
    let Ok(mut opened) = open_file(path, &Budget::new(limits)) else {
        return false;
    };
    let mut line = Vec::new();
    for _ in 0..8 {
        line.clear();
        match opened.reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        return t
            .strip_prefix('>')
            .and_then(parse_header)
            .is_some_and(|(id, _)| id.bytes().all(|b| b.is_ascii_digit()));
    }
    false
}

/// One occurrence being assembled: consecutive records with the same gbifID are one occurrence.
struct Pending {
    occ: OccurrenceRecord,
}

/// Read a GBIF download FASTA as one dataset.
pub(crate) fn read_fasta(
    path: &Path,
    info: &DatasetInfo,
    limits: &ArchiveLimits,
    sink: &mut dyn DwcaSink,
) -> Result<(), DwcaError> {
    let mut opened = open_file(path, &Budget::new(limits))?;
    let name = opened.name.clone();
    sink.dataset(DatasetMeta {
        key: info.key.clone(),
        title: info.title.clone(),
        licence: None,
        path: info.path.clone(),
    });
    let mut line = Vec::new();
    let mut line_no = 0u64;
    // Current record: (gbifID, gene, header line) and its sequence.
    let mut current: Option<(String, Option<String>, u64)> = None;
    let mut seq = String::new();
    let mut pending: Option<Pending> = None;
    loop {
        line.clear();
        let n = opened
            .reader
            .read_until(b'\n', &mut line)
            .map_err(|e| DwcaError::from_io(e, &name, line_no + 1, opened.gz))?;
        let eof = n == 0;
        if !eof {
            line_no += 1;
        }
        let text = String::from_utf8_lossy(&line);
        let t = text.trim();
        if eof || t.starts_with('>') {
            if let Some((id, gene, at)) = current.take() {
                finish_record(&name, id, gene, at, &mut seq, &mut pending, sink);
            }
            seq.clear();
            if eof {
                break;
            }
            let header = &t[1..];
            match parse_header(header) {
                Some((id, gene)) => current = Some((id, gene, line_no)),
                None => sink.warning(Warning {
                    pos: SourcePos {
                        file: name.clone(),
                        line: line_no,
                    },
                    reason: "fasta-header",
                    message: format!("header `{header}` is not `seqID|gbifID|targetGene`"),
                }),
            }
        } else if current.is_some() {
            // Sequence lines rarely hold whitespace inside: copy them whole when they do not.
            if t.bytes().all(|b| b.is_ascii_graphic()) {
                seq.push_str(t);
            } else {
                seq.extend(t.chars().filter(|c| !c.is_whitespace()));
            }
        }
    }
    if let Some(p) = pending.take() {
        sink.occurrence(p.occ);
    }
    Ok(())
}

fn finish_record(
    file: &str,
    gbif_id: String,
    gene: Option<String>,
    line: u64,
    seq: &mut String,
    pending: &mut Option<Pending>,
    sink: &mut dyn DwcaSink,
) {
    let pos = SourcePos {
        file: file.to_string(),
        line,
    };
    if seq.is_empty() {
        sink.warning(Warning {
            pos,
            reason: "empty-sequence",
            message: format!("record for gbifID {gbif_id} has no sequence"),
        });
        return;
    }
    let dna = DnaRow {
        sequence: std::mem::take(seq),
        target_gene: gene,
        pos: pos.clone(),
        ..DnaRow::default()
    };
    if let Some(p) = pending.as_mut() {
        if p.occ.occurrence_id == gbif_id {
            p.occ.dna.push(dna);
            return;
        }
    }
    if let Some(p) = pending.take() {
        sink.occurrence(p.occ);
    }
    *pending = Some(Pending {
        occ: OccurrenceRecord {
            occurrence_id: gbif_id,
            dna: vec![dna],
            pos,
            ..OccurrenceRecord::default()
        },
    });
}
