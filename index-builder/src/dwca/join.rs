//! Joining occurrences with their DNA rows, shared by meta.xml archives and table folders.
//!
//! DNA rows are loaded first into a [`DnaIndex`] keyed by occurrence (or event) id; occurrences then stream
//! past it. Output order follows the occurrence file, then DNA-file order for DNA-only occurrences.

use std::collections::HashMap;

use super::error::DwcaError;
use super::fields::{dna_from_row, occurrence_from_row, AsvTaxonomy, Mapping, Row};
use super::source::Container;
use super::terms::Term;
use super::text::{Dialect, Next, Record, RowReader};
use super::DwcaSink;
use crate::model::{DnaRow, OccurrenceRecord, SourcePos, Warning};

/// One data file ready to be read: where, how, and which column holds what.
#[derive(Debug, Clone)]
pub(crate) struct TableFile {
    /// Member name in the container.
    pub(crate) member: String,
    /// Name for messages.
    pub(crate) name: String,
    /// How to split it.
    pub(crate) dialect: Dialect,
    /// Rows to skip at the top.
    pub(crate) header_lines: usize,
    /// Term → column.
    pub(crate) mapping: Mapping,
    /// Columns a row should not exceed (header width), when there is a header.
    pub(crate) width: Option<usize>,
}

fn warn(sink: &mut dyn DwcaSink, pos: SourcePos, reason: &'static str, message: String) {
    sink.warning(Warning { pos, reason, message });
}

/// Call `f` for every well-formed data row of `tf`; malformed rows become warnings.
pub(crate) fn scan<F>(c: &mut Container, tf: &TableFile, sink: &mut dyn DwcaSink, mut f: F) -> Result<(), DwcaError>
where
    F: FnMut(&mut Row<'_>, &mut dyn DwcaSink),
{
    let opened = c.open(&tf.member)?;
    let name = opened.name.clone();
    let mut rr = RowReader::new(opened.reader, tf.dialect, name.clone(), opened.gz)?;
    let mut rec = Record::default();
    let mut skip = tf.header_lines;
    let needed = tf.mapping.needed_columns();
    loop {
        match rr.next(&mut rec)? {
            Next::Eof => return Ok(()),
            Next::Bad { line, reason, message } => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                warn(
                    sink,
                    SourcePos {
                        file: name.clone(),
                        line,
                    },
                    reason,
                    message,
                );
            }
            Next::Row => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let pos = || SourcePos {
                    file: name.clone(),
                    line: rec.line,
                };
                if rec.len() < needed {
                    warn(
                        sink,
                        pos(),
                        "short-row",
                        format!("row has {} columns, {needed} needed", rec.len()),
                    );
                    continue;
                }
                if let Some(w) = tf.width {
                    let n = rec.len_trimmed();
                    if n > w {
                        warn(sink, pos(), "long-row", format!("row has {n} columns, the header {w}"));
                        continue;
                    }
                }
                let mut row = Row::new(&rec, &tf.mapping, &name);
                f(&mut row, sink);
                row.finish(sink);
            }
        }
    }
}

/// The value every row shares in the `license` column of `files`; `None` when rows differ or none has one.
pub(crate) fn shared_licence(c: &mut Container, files: &[TableFile]) -> Result<Option<String>, DwcaError> {
    let mut value: Option<String> = None;
    let mut differs = false;
    for tf in files {
        if !tf.mapping.has(Term::License) {
            return Ok(None);
        }
        if !tf.mapping.has_column(Term::License) {
            // Constant from meta.xml `default=`.
            let d = tf.mapping.default_of(Term::License).map(str::to_string);
            if value.is_some() && value != d {
                return Ok(None);
            }
            value = d;
            continue;
        }
        // Warnings go to a throw-away sink: the real pass reports them.
        let mut quiet = Quiet;
        scan(c, tf, &mut quiet, |row, _| {
            if differs {
                return;
            }
            let v = row.get(Term::License);
            match (&value, v) {
                (_, None) => {}
                (None, Some(v)) => value = Some(v),
                (Some(a), Some(v)) if *a == v => {}
                (Some(_), Some(_)) => differs = true,
            }
        })?;
        if differs {
            return Ok(None);
        }
    }
    Ok(value)
}

/// A sink that drops everything (pre-scans).
struct Quiet;

impl DwcaSink for Quiet {
    fn dataset(&mut self, _: crate::model::DatasetMeta) {}
    fn occurrence(&mut self, _: OccurrenceRecord) {}
    fn warning(&mut self, _: Warning) {}
}

/// Occurrence fields of a DNA-only row, with the event id it links to.
pub(crate) type Skeleton = (OccurrenceRecord, Option<String>);

/// DNA rows grouped by the id they link to.
#[derive(Debug, Default)]
pub(crate) struct DnaIndex {
    groups: Vec<Group>,
    by_key: HashMap<String, usize>,
}

#[derive(Debug)]
struct Group {
    key: String,
    rows: Vec<DnaRow>,
    /// Occurrence fields of the first row (DNA-only tables), with the event id it links to.
    skeleton: Option<Skeleton>,
    used: bool,
}

/// Result of [`DnaIndex::take`].
pub(crate) enum Lookup {
    /// The rows (now taken).
    Rows(Vec<DnaRow>),
    /// Another occurrence already took them: a duplicate id.
    Taken,
    /// No DNA row has this id.
    Missing,
}

impl DnaIndex {
    /// Add a row under `key`; the skeleton of the first row of a key is kept.
    pub(crate) fn insert(&mut self, key: String, row: DnaRow, skeleton: Option<Skeleton>) {
        if let Some(&g) = self.by_key.get(&key) {
            self.groups[g].rows.push(row);
            return;
        }
        self.by_key.insert(key.clone(), self.groups.len());
        self.groups.push(Group {
            key,
            rows: vec![row],
            skeleton,
            used: false,
        });
    }

    /// Move the rows of `key` out (for exactly one occurrence).
    pub(crate) fn take(&mut self, key: &str) -> Lookup {
        match self.by_key.get(key) {
            None => Lookup::Missing,
            Some(&g) => {
                let g = &mut self.groups[g];
                if g.used {
                    Lookup::Taken
                } else {
                    g.used = true;
                    Lookup::Rows(std::mem::take(&mut g.rows))
                }
            }
        }
    }

    /// Copy the rows of `key` (event-level rows shared by the event's occurrences).
    pub(crate) fn share(&mut self, key: &str) -> Option<Vec<DnaRow>> {
        let &g = self.by_key.get(key)?;
        let g = &mut self.groups[g];
        g.used = true;
        Some(g.rows.clone())
    }

    /// Groups nobody took, in insertion order: (key, rows, skeleton).
    pub(crate) fn into_unused(self) -> impl Iterator<Item = (String, Vec<DnaRow>, Option<Skeleton>)> {
        self.groups
            .into_iter()
            .filter(|g| !g.used)
            .map(|g| (g.key, g.rows, g.skeleton))
    }
}

/// Report DNA rows no occurrence claimed.
pub(crate) fn report_orphans(index: DnaIndex, sink: &mut dyn DwcaSink) {
    for (key, rows, _) in index.into_unused() {
        for r in rows {
            warn(
                sink,
                r.pos.clone(),
                "orphan-dna-row",
                format!("DNA row links to `{key}`, which no occurrence has"),
            );
        }
    }
}

/// Where a DNA file's link key comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DnaKey {
    /// The meta.xml `<coreid>` column.
    CoreId,
    /// The `occurrenceID` column (table folders, 2024 DNA extension under an Event core).
    OccurrenceId,
}

/// Load DNA rows. With `by_event`, rows without an `occurrenceID` go there keyed by their coreid (Event core);
/// with `skeletons`, each row's occurrence fields are kept for DNA-only output.
pub(crate) fn load_dna(
    c: &mut Container,
    files: &[TableFile],
    key: DnaKey,
    skeletons: bool,
    index: &mut DnaIndex,
    mut by_event: Option<&mut DnaIndex>,
    sink: &mut dyn DwcaSink,
) -> Result<(), DwcaError> {
    for tf in files {
        let has_occ_id = tf.mapping.has(Term::OccurrenceId);
        scan(c, tf, sink, |row, sink| {
            let primary = match key {
                DnaKey::CoreId => row.id(),
                DnaKey::OccurrenceId => row.get(Term::OccurrenceId),
            };
            let Some(k) = primary else {
                warn(
                    sink,
                    row.pos(),
                    "missing-occurrence",
                    "DNA row without the id linking it to an occurrence".into(),
                );
                return;
            };
            // Under an Event core the coreid is the event; occurrenceID, when given, names the occurrence.
            if let Some(ev) = by_event.as_deref_mut() {
                let occ = if has_occ_id { row.get(Term::OccurrenceId) } else { None };
                let Some(dna) = dna_from_row(row, sink) else {
                    return;
                };
                match occ {
                    Some(o) => {
                        let skel = skeletons.then(|| {
                            let mut s = occurrence_from_row(row, sink);
                            s.occurrence_id.clone_from(&o);
                            (s, Some(k))
                        });
                        index.insert(o, dna, skel);
                    }
                    None => ev.insert(k, dna, None),
                }
                return;
            }
            let Some(dna) = dna_from_row(row, sink) else {
                return;
            };
            let skel = skeletons.then(|| {
                let mut s = occurrence_from_row(row, sink);
                s.occurrence_id.clone_from(&k);
                (s, row.get(Term::EventId))
            });
            index.insert(k, dna, skel);
        })?;
    }
    Ok(())
}

/// Event-level fields that fill empty occurrence fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventInfo {
    event_date: Option<String>,
    decimal_latitude: Option<f64>,
    decimal_longitude: Option<f64>,
    country_code: Option<String>,
    locality: Option<String>,
    parent: Option<String>,
}

/// Events of an Event core by eventID.
#[derive(Debug, Default)]
pub(crate) struct Events {
    by_id: HashMap<String, EventInfo>,
}

impl Events {
    /// Load the Event core.
    pub(crate) fn load(c: &mut Container, files: &[TableFile], sink: &mut dyn DwcaSink) -> Result<Events, DwcaError> {
        let mut by_id = HashMap::new();
        for tf in files {
            scan(c, tf, sink, |row, sink| {
                let Some(id) = row.id().or_else(|| row.get(Term::EventId)) else {
                    warn(sink, row.pos(), "missing-id", "event row without eventID".into());
                    return;
                };
                let o = occurrence_from_row(row, sink);
                let info = EventInfo {
                    event_date: o.event_date,
                    decimal_latitude: o.decimal_latitude,
                    decimal_longitude: o.decimal_longitude,
                    country_code: o.country_code,
                    locality: o.locality,
                    parent: row.get(Term::ParentEventId),
                };
                by_id.entry(id).or_insert(info);
            })?;
        }
        Ok(Events { by_id })
    }

    /// Fill empty fields of `occ` from its event and that event's parents.
    pub(crate) fn fill(&self, occ: &mut OccurrenceRecord, event_id: &str) {
        let mut id = Some(event_id.to_string());
        // Bounded walk: parentEventID chains can loop in bad data.
        for _ in 0..16 {
            let Some(e) = id.as_deref().and_then(|i| self.by_id.get(i)) else {
                return;
            };
            if occ.event_date.is_none() {
                occ.event_date.clone_from(&e.event_date);
            }
            if occ.decimal_latitude.is_none() && occ.decimal_longitude.is_none() {
                occ.decimal_latitude = e.decimal_latitude;
                occ.decimal_longitude = e.decimal_longitude;
            }
            if occ.country_code.is_none() {
                occ.country_code.clone_from(&e.country_code);
            }
            if occ.locality.is_none() {
                occ.locality.clone_from(&e.locality);
            }
            id.clone_from(&e.parent);
        }
    }
}

/// How occurrence rows find their DNA rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum OccKey {
    /// Occurrence core: DNA keyed by the core id; `occurrenceID` (else the id) names the occurrence.
    CoreId,
    /// Table folder: DNA keyed by `occurrenceID`.
    OccurrenceId,
    /// Occurrence extension of an Event core: DNA keyed by `occurrenceID`, else the event's rows.
    EventExtension,
}

/// Counters of one occurrence pass.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Emitted {
    /// Occurrences handed to the sink.
    pub(crate) occurrences: u64,
    /// Occurrences skipped for lack of DNA.
    pub(crate) no_dna: u64,
}

/// Everything an occurrence pass consults.
pub(crate) struct JoinCtx<'a> {
    /// DNA rows by occurrence id.
    pub(crate) index: &'a mut DnaIndex,
    /// DNA rows by event id (Event core).
    pub(crate) by_event: Option<&'a mut DnaIndex>,
    /// Event fields (Event core).
    pub(crate) events: Option<&'a Events>,
    /// ASV identifications.
    pub(crate) asv: &'a AsvTaxonomy,
}

/// Stream occurrence rows, attach their DNA and hand them to the sink.
pub(crate) fn stream_occurrences(
    c: &mut Container,
    files: &[TableFile],
    key: OccKey,
    cx: &mut JoinCtx<'_>,
    sink: &mut dyn DwcaSink,
) -> Result<Emitted, DwcaError> {
    let mut total = Emitted::default();
    for tf in files {
        let mut counts = Emitted::default();
        let inline_dna = tf.mapping.has_dna();
        scan(c, tf, sink, |row, sink| {
            let (link, occ_id, event_id) = match key {
                OccKey::CoreId => {
                    let id = row.id();
                    let occ = row.get(Term::OccurrenceId).or_else(|| id.clone());
                    (id.or_else(|| occ.clone()), occ, row.get(Term::EventId))
                }
                OccKey::OccurrenceId => {
                    let occ = row.get(Term::OccurrenceId);
                    (occ.clone(), occ, row.get(Term::EventId))
                }
                OccKey::EventExtension => {
                    let occ = row.get(Term::OccurrenceId);
                    (occ.clone(), occ, row.id().or_else(|| row.get(Term::EventId)))
                }
            };
            let (Some(link), Some(occ_id)) = (link, occ_id) else {
                warn(sink, row.pos(), "missing-id", "occurrence row without an id".into());
                return;
            };
            let mut dna = match cx.index.take(&link) {
                Lookup::Rows(r) => r,
                Lookup::Taken => {
                    warn(
                        sink,
                        row.pos(),
                        "duplicate-occurrence-id",
                        format!("occurrence `{occ_id}` appears again; skipped"),
                    );
                    return;
                }
                Lookup::Missing => Vec::new(),
            };
            if dna.is_empty() && key == OccKey::EventExtension {
                if let (Some(ev), Some(e)) = (cx.by_event.as_deref_mut(), event_id.as_deref()) {
                    dna = ev.share(e).unwrap_or_default();
                }
            }
            if inline_dna && row.get(Term::DnaSequence).is_some() {
                if let Some(d) = dna_from_row(row, sink) {
                    dna.insert(0, d);
                }
            }
            if dna.is_empty() {
                counts.no_dna += 1;
                return;
            }
            let mut occ = occurrence_from_row(row, sink);
            occ.occurrence_id = occ_id;
            occ.dna = dna;
            if let (Some(events), Some(e)) = (cx.events, event_id.as_deref()) {
                events.fill(&mut occ, e);
            }
            cx.asv.fill(&mut occ);
            counts.occurrences += 1;
            sink.occurrence(occ);
        })?;
        if counts.no_dna > 0 {
            warn(
                sink,
                SourcePos {
                    file: tf.name.clone(),
                    line: 0,
                },
                "no-dna",
                format!("{} occurrences have no DNA row and were skipped", counts.no_dna),
            );
        }
        total.occurrences += counts.occurrences;
        total.no_dna += counts.no_dna;
    }
    Ok(total)
}

/// DNA-only output: every DNA group becomes an occurrence known by its id.
pub(crate) fn emit_dna_only(
    index: DnaIndex,
    events: Option<&Events>,
    asv: &AsvTaxonomy,
    sink: &mut dyn DwcaSink,
) -> u64 {
    let mut n = 0;
    for (key, rows, skeleton) in index.into_unused() {
        let (mut occ, event_id) = skeleton.unwrap_or_default();
        if occ.occurrence_id.is_empty() {
            occ.occurrence_id = key;
        }
        if let Some(first) = rows.first() {
            occ.pos = first.pos.clone();
        }
        occ.dna = rows;
        if let (Some(events), Some(e)) = (events, event_id.as_deref()) {
            events.fill(&mut occ, e);
        }
        asv.fill(&mut occ);
        n += 1;
        sink.occurrence(occ);
    }
    n
}
