//! From parsed rows to model records: which column holds which term, defaults, value cleaning.

use std::collections::HashMap;

use super::meta::FieldSpec;
use super::terms::Term;
use super::text::{Encoding, Record};
use super::DwcaSink;
use crate::model::{DnaRow, OccurrenceRecord, RankedName, SourcePos, Warning};

/// Where a term's value comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Column {
    /// Column index, when the term has one.
    pub(crate) index: Option<usize>,
    /// Value used when the column is missing or empty.
    pub(crate) default: Option<String>,
}

/// Term → column mapping of one data file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mapping {
    cols: Vec<Option<Column>>,
    /// Column of the row id (`<id>`/`<coreid>`), meta.xml only.
    pub(crate) id_index: Option<usize>,
    encoding: Encoding,
}

impl Mapping {
    fn empty(encoding: Encoding) -> Mapping {
        Mapping {
            cols: vec![None; Term::COUNT],
            id_index: None,
            encoding,
        }
    }

    /// From meta.xml `<field>`s. When a term appears twice the first mapping wins.
    pub(crate) fn from_fields(fields: &[FieldSpec], id_index: Option<usize>, encoding: Encoding) -> Mapping {
        let mut m = Mapping::empty(encoding);
        m.id_index = id_index;
        for f in fields {
            if let Some(t) = Term::from_uri(&f.term) {
                let slot = &mut m.cols[t.slot()];
                match slot {
                    None => {
                        *slot = Some(Column {
                            index: f.index,
                            default: f.default.clone(),
                        })
                    }
                    // A later default-only entry still supplies the default.
                    Some(c) if c.default.is_none() => c.default.clone_from(&f.default),
                    Some(_) => {}
                }
            }
        }
        m
    }

    /// From a header row: column `i + offset` holds the term named `names[i]`.
    pub(crate) fn from_header(names: &[String], offset: usize, encoding: Encoding) -> Mapping {
        let mut m = Mapping::empty(encoding);
        for (i, n) in names.iter().enumerate() {
            if let Some(t) = Term::from_uri(n) {
                let slot = &mut m.cols[t.slot()];
                if slot.is_none() {
                    *slot = Some(Column {
                        index: Some(i + offset),
                        default: None,
                    });
                }
            }
        }
        m
    }

    /// Whether the term is mapped (column or default).
    pub(crate) fn has(&self, t: Term) -> bool {
        self.cols[t.slot()].is_some()
    }

    /// Whether the term has a column.
    pub(crate) fn has_column(&self, t: Term) -> bool {
        self.column(t).is_some()
    }

    /// The term's column index.
    pub(crate) fn column(&self, t: Term) -> Option<usize> {
        self.cols[t.slot()].as_ref().and_then(|c| c.index)
    }

    /// The term's default value.
    pub(crate) fn default_of(&self, t: Term) -> Option<&str> {
        self.cols[t.slot()].as_ref().and_then(|c| c.default.as_deref())
    }

    /// Whether any DNA term has a column (a DNA row can be read from this file).
    pub(crate) fn has_dna(&self) -> bool {
        self.has_column(Term::DnaSequence)
    }

    /// Number of columns a row needs for every mapped index.
    pub(crate) fn needed_columns(&self) -> usize {
        self.cols
            .iter()
            .flatten()
            .filter_map(|c| c.index)
            .chain(self.id_index)
            .map(|i| i.saturating_add(1))
            .max()
            .unwrap_or(0)
    }

    /// Every (index, label) pair, for bounds checks and error messages.
    pub(crate) fn indexes(&self) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = self.id_index.map(|i| (i, "id".to_string())).into_iter().collect();
        for (slot, c) in self.cols.iter().enumerate() {
            if let Some(i) = c.as_ref().and_then(|c| c.index) {
                out.push((i, format!("{:?}", TERMS[slot])));
            }
        }
        out
    }
}

/// All terms by slot, for messages.
const TERMS: [Term; Term::COUNT] = [
    Term::OccurrenceId,
    Term::EventId,
    Term::ParentEventId,
    Term::EventDate,
    Term::DecimalLatitude,
    Term::DecimalLongitude,
    Term::CountryCode,
    Term::Locality,
    Term::OrganismQuantity,
    Term::OrganismQuantityType,
    Term::SampleSizeValue,
    Term::SampleSizeUnit,
    Term::MaterialSampleId,
    Term::BasisOfRecord,
    Term::ScientificName,
    Term::TaxonRank,
    Term::Domain,
    Term::Kingdom,
    Term::Phylum,
    Term::Class,
    Term::Order,
    Term::Family,
    Term::Genus,
    Term::Species,
    Term::License,
    Term::DnaSequence,
    Term::TargetGene,
    Term::TargetSubfragment,
    Term::PcrPrimers,
    Term::PcrPrimerForward,
    Term::PcrPrimerReverse,
    Term::PcrPrimerNameForward,
    Term::PcrPrimerNameReverse,
];

/// Values of one row through a mapping; remembers whether decoding had to replace bytes.
pub(crate) struct Row<'a> {
    rec: &'a Record,
    map: &'a Mapping,
    file: &'a str,
    lossy: bool,
}

impl<'a> Row<'a> {
    /// View `rec` through `map`.
    pub(crate) fn new(rec: &'a Record, map: &'a Mapping, file: &'a str) -> Row<'a> {
        Row {
            rec,
            map,
            file,
            lossy: false,
        }
    }

    /// Where this row is.
    pub(crate) fn pos(&self) -> SourcePos {
        SourcePos {
            file: self.file.to_string(),
            line: self.rec.line,
        }
    }

    /// Trimmed, non-empty text of column `i`.
    pub(crate) fn column(&mut self, i: usize) -> Option<String> {
        let raw = self.rec.get(i)?.trim_ascii();
        if raw.is_empty() {
            return None;
        }
        let (s, lossy) = self.map.encoding.decode(raw);
        self.lossy |= lossy;
        Some(s.into_owned())
    }

    /// The row id (`<id>`/`<coreid>` column).
    pub(crate) fn id(&mut self) -> Option<String> {
        self.map.id_index.and_then(|i| self.column(i))
    }

    /// The term's value: its column when non-empty, else its default.
    pub(crate) fn get(&mut self, t: Term) -> Option<String> {
        let col = self.map.cols[t.slot()].as_ref()?;
        let from_col = match col.index {
            Some(i) => self.column(i),
            None => None,
        };
        from_col.or_else(|| {
            col.default
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    }

    /// Report undecodable bytes (once per row).
    pub(crate) fn finish(self, sink: &mut dyn DwcaSink) {
        if self.lossy {
            sink.warning(Warning {
                pos: self.pos(),
                reason: "encoding",
                message: "invalid UTF-8 replaced with U+FFFD".into(),
            });
        }
    }
}

/// Text that spreadsheets and R write for "no value".
fn is_null_token(s: &str) -> bool {
    matches!(s, "NA" | "N/A" | "NaN" | "nan" | "null" | "NULL" | "\\N" | "-")
}

fn parse_number(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok().or_else(|| {
        // Decimal comma, as some European exports write it.
        (!s.contains('.') && s.matches(',').count() == 1)
            .then(|| s.replace(',', "."))
            .and_then(|t| t.parse().ok())
    })?;
    v.is_finite().then_some(v)
}

/// A lineage name cleaned of `k__`-style prefixes, with `_` between words turned into spaces.
pub(crate) fn clean_name(raw: &str) -> Option<String> {
    let s = raw.trim();
    let b = s.as_bytes();
    let s = if b.len() > 3 && b[0].is_ascii_alphabetic() && &b[1..3] == b"__" {
        &s[3..]
    } else {
        s
    };
    let s = s.replace('_', " ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!s.is_empty() && !is_null_token(&s)).then_some(s)
}

/// Build the occurrence fields of a row (the caller sets `occurrence_id` and `dna`).
pub(crate) fn occurrence_from_row(row: &mut Row<'_>, sink: &mut dyn DwcaSink) -> OccurrenceRecord {
    let pos = row.pos();
    let number = |row: &mut Row<'_>, t: Term, sink: &mut dyn DwcaSink| -> Option<f64> {
        let v = row.get(t)?;
        if is_null_token(&v) {
            return None;
        }
        let n = parse_number(&v);
        if n.is_none() {
            sink.warning(Warning {
                pos: pos.clone(),
                reason: "bad-number",
                message: format!("{t:?} `{v}` is not a number"),
            });
        }
        n
    };
    let organism_quantity = number(row, Term::OrganismQuantity, sink);
    let sample_size_value = number(row, Term::SampleSizeValue, sink);
    let lat_raw = row.get(Term::DecimalLatitude).filter(|v| !is_null_token(v));
    let lon_raw = row.get(Term::DecimalLongitude).filter(|v| !is_null_token(v));
    let (decimal_latitude, decimal_longitude) = match (&lat_raw, &lon_raw) {
        (None, None) => (None, None),
        (lat, lon) => {
            let la = lat.as_deref().and_then(parse_number);
            let lo = lon.as_deref().and_then(parse_number);
            match (la, lo) {
                (Some(la), Some(lo)) if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) => {
                    (Some(la), Some(lo))
                }
                _ => {
                    // Half a coordinate or one out of range is no position at all.
                    sink.warning(Warning {
                        pos: pos.clone(),
                        reason: "bad-coordinate",
                        message: format!(
                            "decimalLatitude `{}` / decimalLongitude `{}` unusable",
                            lat.as_deref().unwrap_or(""),
                            lon.as_deref().unwrap_or("")
                        ),
                    });
                    (None, None)
                }
            }
        }
    };
    let mut lineage = Vec::new();
    for (t, rank) in Term::RANKS {
        if let Some(name) = row.get(t).as_deref().and_then(clean_name) {
            lineage.push(RankedName {
                rank: rank.to_string(),
                name,
            });
        }
    }
    OccurrenceRecord {
        occurrence_id: String::new(),
        event_date: row.get(Term::EventDate),
        decimal_latitude,
        decimal_longitude,
        country_code: row.get(Term::CountryCode),
        locality: row.get(Term::Locality),
        organism_quantity,
        organism_quantity_type: row.get(Term::OrganismQuantityType),
        sample_size_value,
        sample_size_unit: row.get(Term::SampleSizeUnit),
        material_sample_id: row.get(Term::MaterialSampleId),
        basis_of_record: row.get(Term::BasisOfRecord),
        scientific_name: row.get(Term::ScientificName),
        taxon_rank: row.get(Term::TaxonRank),
        lineage,
        dna: Vec::new(),
        pos,
    }
}

/// Build the DNA row of a row; `None` (with an `empty-sequence` warning) when it has no sequence.
pub(crate) fn dna_from_row(row: &mut Row<'_>, sink: &mut dyn DwcaSink) -> Option<DnaRow> {
    let pos = row.pos();
    let Some(sequence) = row.get(Term::DnaSequence) else {
        sink.warning(Warning {
            pos,
            reason: "empty-sequence",
            message: "DNA row without DNA_sequence skipped".into(),
        });
        return None;
    };
    let mut dna = DnaRow {
        sequence,
        target_gene: row.get(Term::TargetGene),
        target_subfragment: row.get(Term::TargetSubfragment),
        pcr_primer_forward: row.get(Term::PcrPrimerForward),
        pcr_primer_reverse: row.get(Term::PcrPrimerReverse),
        pcr_primer_name_forward: row.get(Term::PcrPrimerNameForward),
        pcr_primer_name_reverse: row.get(Term::PcrPrimerNameReverse),
        pos,
    };
    if dna.pcr_primer_forward.is_none() || dna.pcr_primer_reverse.is_none() {
        if let Some(p) = row.get(Term::PcrPrimers) {
            fill_from_pcr_primers(&mut dna, &p);
        }
    }
    Some(dna)
}

/// MIxS `pcr_primers` is written `FWD:ACGT;REV:TTGA`: use it for primers the row lacks.
fn fill_from_pcr_primers(dna: &mut DnaRow, value: &str) {
    for part in value.split([';', ',']) {
        let Some((k, v)) = part.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let k = k.trim().to_ascii_uppercase();
        if k.starts_with("FWD") || k.starts_with("FORWARD") || k == "F" {
            dna.pcr_primer_forward.get_or_insert_with(|| v.to_string());
        } else if k.starts_with("REV") || k == "R" {
            dna.pcr_primer_reverse.get_or_insert_with(|| v.to_string());
        }
    }
}

/// Published taxonomy of ASVs, keyed by sequence (PacMAN `Full_tax_table_with_lsids.tsv`).
#[derive(Debug, Default)]
pub(crate) struct AsvTaxonomy {
    by_sequence: HashMap<String, AsvTaxon>,
}

/// One ASV's published identification.
#[derive(Debug, Clone, Default)]
pub(crate) struct AsvTaxon {
    scientific_name: Option<String>,
    taxon_rank: Option<String>,
    lineage: Vec<RankedName>,
}

impl AsvTaxonomy {
    /// Add the row's identification under its sequence (the first row for a sequence wins).
    pub(crate) fn add(&mut self, row: &mut Row<'_>) {
        let Some(seq) = row.get(Term::DnaSequence) else {
            return;
        };
        let mut lineage = Vec::new();
        for (t, rank) in Term::RANKS {
            if let Some(name) = row.get(t).as_deref().and_then(clean_name) {
                lineage.push(RankedName {
                    rank: rank.to_string(),
                    name,
                });
            }
        }
        let taxon = AsvTaxon {
            scientific_name: row.get(Term::ScientificName),
            taxon_rank: row.get(Term::TaxonRank),
            lineage,
        };
        if taxon.scientific_name.is_none() && taxon.lineage.is_empty() {
            return;
        }
        self.by_sequence.entry(seq.to_ascii_uppercase()).or_insert(taxon);
    }

    /// Give an occurrence without a published name the identification of its sequence.
    pub(crate) fn fill(&self, occ: &mut OccurrenceRecord) {
        if self.by_sequence.is_empty() || occ.scientific_name.is_some() {
            return;
        }
        let hit = occ
            .dna
            .iter()
            .find_map(|d| self.by_sequence.get(&d.sequence.to_ascii_uppercase()));
        if let Some(t) = hit {
            occ.scientific_name.clone_from(&t.scientific_name);
            if occ.taxon_rank.is_none() {
                occ.taxon_rank.clone_from(&t.taxon_rank);
            }
            if occ.lineage.is_empty() {
                occ.lineage.clone_from(&t.lineage);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwca_clean_names() {
        assert_eq!(clean_name("k__Fungi").as_deref(), Some("Fungi"));
        assert_eq!(clean_name(" Homo_sapiens ").as_deref(), Some("Homo sapiens"));
        assert_eq!(clean_name("NA"), None);
        assert_eq!(clean_name(""), None);
    }

    #[test]
    fn dwca_numbers() {
        assert_eq!(parse_number("12.5"), Some(12.5));
        assert_eq!(parse_number("12,5"), Some(12.5));
        assert_eq!(parse_number("1,000.5"), None);
        assert_eq!(parse_number("nan"), None);
    }

    #[test]
    fn dwca_pcr_primers_split() {
        let mut d = DnaRow::default();
        fill_from_pcr_primers(&mut d, "FWD:GGWACWGG;REV:TANACYTC");
        assert_eq!(d.pcr_primer_forward.as_deref(), Some("GGWACWGG"));
        assert_eq!(d.pcr_primer_reverse.as_deref(), Some("TANACYTC"));
    }
}
