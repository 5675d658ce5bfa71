//! GBIF-compatible endpoints: blast-ws (`/blast`, `/blast/batch`) and sequence-search-ws (`/search`,
//! `/search/batch`, `/databases`), answering with their Match objects (gbif-compat.md §0.2, §1.2–1.4, §8).
//!
//! Differences from the originals, all deliberate:
//! - the targets are the reference records of the libraries the marker (or database) names;
//! - `bitScore` and `expectValue` rescore our alignment with megablast's scoring and statistics
//!   (`Hit::blast_statistics`): BLAST-scaled, never negative, but not BLAST's own alignment;
//! - a blast-ws marker (`coi`, `16s`, …) with no library in this index answers `BLAST_NO_MATCH` for every
//!   sequence, as blast-ws does for a query without hits, so batch clients (MDT) go on; unknown markers get
//!   `Unsupported marker`;
//! - `BLAST_AMBIGUOUS_MATCH` is decided the same way with and without `verbose` (blast-ws skips it when
//!   verbose), so the match type does not depend on how much detail was asked for;
//! - batches above `max_batch` get a JSON 413 (blast-ws never answers them), a full service a JSON 503.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use edna_index::Index;
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{JsonBody, Params};
use super::AppState;
use crate::search::{Hit, MatchType, QueryResult, SearchParams, Strand, Target};

/// blast-ws: `-max_target_seqs 5`.
const BLAST_TARGETS: usize = 5;
/// blast-ws: `LIMIT_MAX_TARGET_SEQS`.
const BLAST_TARGETS_LIMIT: usize = 100;
/// sequence-search-ws: `--maxhits 100`.
const VSEARCH_TARGETS: usize = 100;
/// blast-ws has no identity floor (megablast reports weak hits); this one keeps the search bounded.
const BLAST_MIN_IDENTITY: f64 = 0.8;
/// Neither service goes lower in practice; below it seeds stop discriminating.
const IDENTITY_FLOOR: f64 = 0.5;
/// blast-ws `-qcov_hsp_perc 50`, sequence-search-ws `--query_cov 0.5`.
const MIN_COVERAGE: f64 = 0.5;

/// blast-ws's input sanitising: drop every character outside the IUPAC alphabet (either case).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| "ACGTURYSWKMBDHVNacgturyswkmbdhvn".contains(*c))
        .collect()
}

/// The libraries a blast-ws `marker` selects: an exact library name first, then blast-ws's prefix families
/// (`coi`/`co1` → COI, `its` → every ITS library, `16s`, `12s`, `18s`, `rbcl`), then any library whose
/// canonical marker equals the marker's (so `5S` or `cytb` work too).
pub(crate) fn resolve_marker(state: &AppState, marker: &str) -> Result<Vec<u32>, ApiError> {
    let marker = marker.trim();
    if marker.is_empty() {
        return Err(no_marker());
    }
    let libs = state.libraries();
    let by_name: Vec<u32> = libs
        .iter()
        .filter(|l| l.name.eq_ignore_ascii_case(marker))
        .map(|l| l.id)
        .collect();
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let lower = marker.to_ascii_lowercase();
    let p3: String = lower.chars().take(3).collect();
    // (canonical marker or prefix, is a prefix): `ITS` covers ITS, ITS1 and ITS2 libraries.
    let family: Option<(&str, bool)> = match p3.as_str() {
        "coi" | "co1" => Some(("COI", false)),
        "its" => Some(("ITS", true)),
        "16s" => Some(("16S", false)),
        "12s" => Some(("12S", false)),
        "18s" => Some(("18S", false)),
        _ if lower.starts_with("rbcl") => Some(("rbcL", false)),
        _ => None,
    };
    let canon = edna_index::meta::canonical_marker(marker);
    let chosen: Vec<u32> = libs
        .iter()
        .filter(|l| match family {
            Some((m, true)) => l.marker.starts_with(m),
            Some((m, false)) => l.marker == m,
            None => l.marker == canon,
        })
        .map(|l| l.id)
        .collect();
    // A marker blast-ws knows but this index has no library for: nothing can match (an empty selection,
    // answered BLAST_NO_MATCH per sequence), which batch clients handle, unlike an error they retry.
    if chosen.is_empty() && family.is_some() {
        return Ok(chosen);
    }
    if chosen.is_empty() {
        let known: Vec<String> = libs.iter().map(|l| format!("{} ({})", l.name, l.marker)).collect();
        let why = format!("unknown marker {marker:?}");
        return Err(ApiError::unprocessable(
            "Unsupported marker",
            format!(
                "{why}; use a marker (ITS, COI, 16S, 12S, 18S, rbcL) or a library name: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(chosen)
}

fn no_marker() -> ApiError {
    ApiError::unprocessable(
        "No marker given",
        "the request needs a marker (e.g. COI, ITS, 16S, 12S, 18S, rbcL) or a library name",
    )
}

fn no_sequence() -> ApiError {
    ApiError::unprocessable("No sequence given", "the request needs a sequence")
}

/// Search parameters for a set of libraries: the engine filters by canonical marker, so when the libraries
/// are exactly those of one marker the first `targets` sequence hits suffice; otherwise every hit is kept
/// and filtered by library afterwards.
fn params_for(state: &AppState, libs: &[u32], min_identity: f64, targets: usize) -> SearchParams {
    let all = state.libraries();
    let markers: Vec<&str> = all
        .iter()
        .filter(|l| libs.contains(&l.id))
        .map(|l| l.marker.as_str())
        .collect();
    let meta = state.index().meta();
    let same_marker = markers.windows(2).all(|w| w[0] == w[1]);
    let exact_set = same_marker
        && markers.first().is_some_and(|m| {
            all.iter().filter(|l| l.marker == *m).all(|l| libs.contains(&l.id))
                // The engine compares the stored marker with the canonical one.
                && meta.libraries.iter().enumerate().filter(|(i, _)| libs.contains(&(*i as u32))).all(|(_, l)| l.marker == *m)
        });
    SearchParams {
        min_identity: min_identity.clamp(IDENTITY_FLOOR, 1.0),
        min_coverage: MIN_COVERAGE,
        max_hits: if exact_set { targets } else { 0 },
        marker: if exact_set {
            markers.first().map(|m| m.to_string())
        } else {
            None
        },
        strand: Strand::Both,
        target: Target::References,
        with_alignment: true,
        ..SearchParams::default()
    }
}

/// Identity given as a percentage (or a fraction ≤ 1), as a fraction.
fn identity_fraction(v: &Value) -> Result<Option<f64>, ApiError> {
    let x = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match x {
        Some(x) if x.is_finite() && x > 0.0 && x <= 100.0 => Ok(Some(if x > 1.0 { x / 100.0 } else { x })),
        _ => Err(ApiError::bad_request(format!(
            "identity must be a percentage between 0 and 100, got {v}"
        ))),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        _ => false,
    }
}

/// Which service's Match objects to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// blast-ws: strict `>` thresholds, aligned strings, string coordinates, `qcovs`.
    BlastWs,
    /// sequence-search-ws (vsearch-parser): `>=` thresholds, numeric coordinates, alignment text (alnout).
    Vsearch {
        /// alnout (default) adds the `alignment` text; blast6out does not.
        alignment: bool,
    },
}

impl Flavor {
    fn match_type(self, pct: f64) -> MatchType {
        match self {
            Flavor::BlastWs => MatchType::of_identity(pct),
            Flavor::Vsearch { .. } if pct >= 99.0 => MatchType::Exact,
            Flavor::Vsearch { .. } if pct >= 90.0 => MatchType::Close,
            Flavor::Vsearch { .. } => MatchType::Weak,
        }
    }

    /// blast's `pident` has 3 decimals, vsearch's identity 1.
    fn round(self, x: f64) -> f64 {
        match self {
            Flavor::BlastWs => (x * 1000.0).round() / 1000.0,
            Flavor::Vsearch { .. } => (x * 10.0).round() / 10.0,
        }
    }
}

/// blast-ws Match (`util.js` `simplyfyMatch`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlastMatch {
    name: String,
    identity: f64,
    applied_scientific_name: String,
    match_type: &'static str,
    bit_score: f64,
    expect_value: f64,
    query_sequence: String,
    subject_sequence: String,
    qstart: String,
    qend: String,
    sstart: String,
    send: String,
    qcovs: u32,
    distance_to_best_match: f64,
    accession: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alternatives: Option<Vec<BlastMatch>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_length: Option<usize>,
}

/// sequence-search-ws Match (`util.mjs` `simplyfyMatch`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VsearchMatch {
    name: String,
    identity: f64,
    applied_scientific_name: String,
    alignment_length: u32,
    mis_matches: u32,
    gap_openings: u32,
    match_type: &'static str,
    bit_score: f64,
    expect_value: f64,
    qstart: u32,
    qend: u32,
    sstart: u32,
    send: u32,
    distance_to_best_match: f64,
    accession: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alignment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alternatives: Option<Vec<VsearchMatch>>,
}

/// One target record of a hit.
struct Cand<'h> {
    hit: &'h Hit,
    reference: u32,
    identity: f64,
    match_type: MatchType,
    name: String,
}

/// Hit coordinates in BLAST's convention: query ascending, subject descending on the minus strand.
fn coords(h: &Hit) -> (u32, u32, u32, u32) {
    if h.strand == '+' {
        (h.q_start, h.q_end, h.t_start, h.t_end)
    } else {
        (h.q_end, h.q_start, h.t_end, h.t_start)
    }
}

fn leaf_name(index: &Index, taxon: u32) -> Option<&str> {
    index.taxon(taxon).map(|t| index.str(t.name)).filter(|s| !s.is_empty())
}

/// Expands sequence hits into up to `max` records of `libs`, best first.
fn candidates<'h>(index: &Index, hits: &'h [Hit], libs: &[u32], max: usize, flavor: Flavor) -> Vec<Cand<'h>> {
    let mut out = Vec::new();
    'hits: for h in hits {
        for &r in index.seq_refs(h.seq) {
            let Some(e) = index.reference(r) else { continue };
            if !libs.contains(&e.library) {
                continue;
            }
            if out.len() >= max {
                break 'hits;
            }
            let identity = flavor.round(h.identity * 100.0);
            let name = match index.str(e.name) {
                "" => leaf_name(index, e.taxon).unwrap_or("").to_string(),
                n => n.replace('_', " "),
            };
            out.push(Cand {
                hit: h,
                reference: r,
                identity,
                match_type: flavor.match_type(identity),
                name,
            });
        }
    }
    out
}

/// Best record, its alternatives and the AMBIGUOUS rule (blast-ws `getMatch`; sequence-search-ws also
/// requires a different name). Returns the best index, the alternatives' indices and the best's type.
fn decide(cands: &[Cand<'_>], verbose: bool, flavor: Flavor) -> (Vec<usize>, MatchType) {
    let best = &cands[0];
    let near: Vec<usize> = (1..cands.len())
        .filter(|&i| {
            let c = &cands[i];
            c.match_type == MatchType::Exact
                && best.identity - c.identity < 1.0
                && (flavor == Flavor::BlastWs || c.name != best.name)
        })
        .collect();
    let mt = if !near.is_empty() && best.match_type == MatchType::Exact {
        MatchType::Ambiguous
    } else {
        best.match_type
    };
    let alternatives = if verbose { (1..cands.len()).collect() } else { near };
    (alternatives, mt)
}

fn blast_match(index: &Index, c: &Cand<'_>, best: f64, mt: MatchType, qlen: usize) -> BlastMatch {
    let e = index.reference(c.reference).copied().unwrap_or_default();
    let h = c.hit;
    let (bits, evalue) = h.blast_statistics(qlen, index.meta().distinct_bases);
    let (qs, qe, ss, se) = coords(h);
    let (qseq, sseq) = match &h.aligned {
        Some([q, _, t]) => (q.clone(), t.clone()),
        None => (String::new(), String::new()),
    };
    BlastMatch {
        name: c.name.clone(),
        identity: c.identity,
        applied_scientific_name: leaf_name(index, e.taxon).map_or_else(|| c.name.clone(), str::to_string),
        match_type: mt.as_str(),
        bit_score: (bits * 10.0).round() / 10.0,
        expect_value: evalue,
        query_sequence: qseq,
        subject_sequence: sseq,
        qstart: qs.to_string(),
        qend: qe.to_string(),
        sstart: ss.to_string(),
        send: se.to_string(),
        qcovs: (h.query_coverage * 100.0).round() as u32,
        distance_to_best_match: Flavor::BlastWs.round(best - c.identity),
        accession: index.str(e.accession).to_string(),
        alternatives: None,
        sequence_length: None,
    }
}

fn vsearch_match(
    index: &Index,
    c: &Cand<'_>,
    best: f64,
    mt: MatchType,
    flavor: Flavor,
    q: &QueryResult,
    qid: &str,
) -> VsearchMatch {
    let e = index.reference(c.reference).copied().unwrap_or_default();
    let h = c.hit;
    let qlen = q.sequence.as_ref().map_or(0, String::len);
    let (bits, evalue) = h.blast_statistics(qlen, index.meta().distinct_bases);
    let (qs, qe, ss, se) = coords(h);
    let alignment = match flavor {
        Flavor::Vsearch { alignment: true } => {
            let qlen = q.sequence.as_ref().map_or(0, String::len);
            Some(alnout(qid, qlen, index.str(e.id), h))
        }
        _ => None,
    };
    VsearchMatch {
        name: c.name.clone(),
        identity: c.identity,
        applied_scientific_name: leaf_name(index, e.taxon).map_or_else(|| c.name.clone(), str::to_string),
        alignment_length: h.alignment_length,
        mis_matches: h.mismatches,
        gap_openings: h.gap_opens,
        match_type: mt.as_str(),
        bit_score: (bits * 10.0).round() / 10.0,
        expect_value: evalue,
        qstart: qs,
        qend: qe,
        sstart: ss,
        send: se,
        distance_to_best_match: flavor.round(best - c.identity),
        accession: index.str(e.accession).to_string(),
        alignment,
        alternatives: None,
    }
}

/// A vsearch `--alnout` block for one hit, from the `Query` header on (what vsearch-parser keeps).
fn alnout(qid: &str, qlen: usize, target: &str, h: &Hit) -> String {
    let mut s = String::new();
    let _ = writeln!(s, " Query {qlen}nt >{qid}");
    let _ = writeln!(s, "Target {}nt >{target}", h.target_length);
    let Some([q, mid, t]) = &h.aligned else { return s };
    let (q, mid, t) = (q.as_bytes(), mid.as_bytes(), t.as_bytes());
    let (mut qpos, mut tpos) = (
        if h.strand == '+' {
            h.q_start
        } else {
            (qlen as u32 + 1).saturating_sub(h.q_start)
        },
        h.t_start,
    );
    let width = 60;
    let mut i = 0;
    while i < q.len() {
        let end = (i + width).min(q.len());
        let (qc, mc, tc) = (&q[i..end], mid.get(i..end).unwrap_or(&[]), t.get(i..end).unwrap_or(&[]));
        let qn = qc.iter().filter(|&&b| b != b'-').count() as u32;
        let tn = tc.iter().filter(|&&b| b != b'-').count() as u32;
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Qry {:>5} {} {} {}",
            qpos,
            h.strand,
            String::from_utf8_lossy(qc),
            qpos + qn.saturating_sub(1)
        );
        let _ = writeln!(s, "{:>12}{}", "", String::from_utf8_lossy(mc));
        let _ = writeln!(
            s,
            "Tgt {:>5} + {} {}",
            tpos,
            String::from_utf8_lossy(tc),
            tpos + tn.saturating_sub(1)
        );
        qpos += qn;
        tpos += tn;
        i = end;
    }
    let ids = mid.iter().filter(|&&b| b == b'|').count();
    let gaps = q.iter().chain(t.iter()).filter(|&&b| b == b'-').count();
    let cols = q.len().max(1);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} cols, {ids} ids ({:.1}%), {gaps} gaps ({:.1}%)",
        q.len(),
        100.0 * ids as f64 / cols as f64,
        100.0 * gaps as f64 / cols as f64
    );
    s
}

/// A service's answer for one query.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Blast(BlastMatch),
    Vsearch(VsearchMatch),
    NoMatch {
        #[serde(rename = "matchType")]
        match_type: &'static str,
        #[serde(rename = "sequenceLength", skip_serializing_if = "Option::is_none")]
        sequence_length: Option<usize>,
    },
    /// `outformat: "blast6"`: tabular rows.
    Text(String),
}

impl Answer {
    /// blast-ws adds the sanitised query length on single `/blast` answers only.
    fn with_sequence_length(mut self, n: usize) -> Self {
        match &mut self {
            Answer::Blast(m) => m.sequence_length = Some(n),
            Answer::NoMatch { sequence_length, .. } => *sequence_length = Some(n),
            Answer::Vsearch(_) | Answer::Text(_) => {}
        }
        self
    }
}

/// The Match for one query, or `{"matchType":"BLAST_NO_MATCH"}`.
fn answer(index: &Index, q: &QueryResult, libs: &[u32], max: usize, verbose: bool, flavor: Flavor) -> Answer {
    let cands = candidates(index, &q.hits, libs, max, flavor);
    if cands.is_empty() {
        return Answer::NoMatch {
            match_type: MatchType::NoMatch.as_str(),
            sequence_length: None,
        };
    }
    let (alts, mt) = decide(&cands, verbose, flavor);
    let best = cands[0].identity;
    match flavor {
        Flavor::BlastWs => {
            let qlen = q.sequence.as_ref().map_or(0, String::len);
            let mut m = blast_match(index, &cands[0], best, mt, qlen);
            if verbose || !alts.is_empty() {
                m.alternatives = Some(
                    alts.iter()
                        .map(|&i| blast_match(index, &cands[i], best, cands[i].match_type, qlen))
                        .collect(),
                );
            }
            Answer::Blast(m)
        }
        Flavor::Vsearch { .. } => {
            let mut m = vsearch_match(index, &cands[0], best, mt, flavor, q, &q.id);
            if verbose || !alts.is_empty() {
                m.alternatives = Some(
                    alts.iter()
                        .map(|&i| vsearch_match(index, &cands[i], best, cands[i].match_type, flavor, q, &q.id))
                        .collect(),
                );
            }
            Answer::Vsearch(m)
        }
    }
}

/// A parsed blast-ws request.
struct BlastRequest {
    libs: Vec<u32>,
    sequences: Vec<String>,
    single: bool,
    min_identity: f64,
    verbose: bool,
    targets: usize,
}

/// The `sequence` field of blast-ws and sequence-search-ws bodies: one string, or (unless `array_hint` says
/// why not) an array of strings, checked against the batch limit. Returns the sequences and whether a single
/// string was given. `null_items` lets array entries be null (empty queries).
fn sequences_field(
    state: &AppState,
    field: Option<&Value>,
    array_hint: Option<&'static str>,
    null_items: bool,
) -> Result<(Vec<String>, bool), ApiError> {
    let (sequences, single) = match field {
        None | Some(Value::Null) => return Err(no_sequence()),
        Some(Value::String(s)) if s.is_empty() => return Err(no_sequence()),
        Some(Value::String(s)) => (vec![s.clone()], true),
        Some(Value::Array(_)) if array_hint.is_some() => {
            return Err(ApiError::bad_request(array_hint.unwrap_or_default()));
        }
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                match x {
                    Value::String(s) => out.push(s.clone()),
                    Value::Null if null_items => out.push(String::new()),
                    _ => return Err(ApiError::bad_request(format!("sequence[{i}] must be a string"))),
                }
            }
            (out, false)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "sequence must be a string or an array of strings",
            ))
        }
    };
    if sequences.len() > state.limits().max_batch {
        return Err(ApiError::too_large(format!(
            "{} sequences in one request; the limit is {}",
            sequences.len(),
            state.limits().max_batch
        )));
    }
    Ok((sequences, single))
}

/// Reads a blast-ws request from a JSON object (body, or the query string for GET), checking in
/// blast-ws's order: marker present, marker supported, sequence present.
fn blast_request(state: &AppState, v: &Value, query: &Params, batch: bool) -> Result<BlastRequest, ApiError> {
    let marker = match v.get("marker") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
        None | Some(Value::Null) => return Err(no_marker()),
        Some(Value::String(_)) => return Err(no_marker()),
        Some(_) => return Err(ApiError::bad_request("marker must be a string")),
    };
    let libs = resolve_marker(state, marker)?;
    let array_hint = (!batch).then_some("sequence must be a string here; POST several to /blast/batch");
    // blast-ws turns a null in the array into an empty query (answered NO_MATCH), not a 400.
    let (sequences, single) = sequences_field(state, v.get("sequence"), array_hint, true)?;
    let min_identity = match v.get("perc_identity") {
        Some(x) => identity_fraction(x)?,
        None => None,
    }
    .unwrap_or(BLAST_MIN_IDENTITY);
    let targets = match v.get("max_target_seqs") {
        Some(Value::Number(n)) => n
            .as_u64()
            .map_or(BLAST_TARGETS, |n| (n as usize).clamp(1, BLAST_TARGETS_LIMIT)),
        Some(Value::String(s)) => s
            .trim()
            .parse::<usize>()
            .map_or(BLAST_TARGETS, |n| n.clamp(1, BLAST_TARGETS_LIMIT)),
        _ => BLAST_TARGETS,
    };
    // blast-ws reads `verbose` from the query string; the body is accepted too.
    let verbose = query.flag("verbose") || truthy(v.get("verbose"));
    Ok(BlastRequest {
        libs,
        sequences,
        single: single && !batch,
        min_identity,
        verbose,
        targets,
    })
}

async fn run_blast(state: AppState, req: BlastRequest) -> Result<Response, ApiError> {
    if req.libs.is_empty() {
        // No library for this marker: every query is a no-match, without a search.
        let answers = req
            .sequences
            .iter()
            .map(|raw| {
                let a = Answer::NoMatch {
                    match_type: MatchType::NoMatch.as_str(),
                    sequence_length: None,
                };
                if req.single {
                    a.with_sequence_length(sanitize(raw).len())
                } else {
                    a
                }
            })
            .collect();
        return answers_response(req.single, answers);
    }
    let _slot = state.admit()?;
    let params = Arc::new(params_for(&state, &req.libs, req.min_identity, req.targets));
    let libs = Arc::new(req.libs);
    let (verbose, targets, single) = (req.verbose, req.targets, req.single);
    let items: Vec<(usize, String)> = req.sequences.into_iter().enumerate().collect();
    let results = state
        .map(
            items,
            Arc::new(move |s, (i, raw): (usize, String)| {
                let clean = sanitize(&raw);
                let r = s.search(&i.to_string(), clean.as_bytes(), &params);
                let a = answer(s.index(), &r, &libs, targets, verbose, Flavor::BlastWs);
                (
                    if single { a.with_sequence_length(clean.len()) } else { a },
                    r.hits.len(),
                )
            }),
        )
        .await?;
    state.count(results.len(), results.iter().map(|r| r.1).sum());
    answers_response(single, results.into_iter().map(|r| r.0).collect())
}

/// One Match object for a single-sequence call, else the array of them in input order.
fn answers_response(single: bool, mut answers: Vec<Answer>) -> Result<Response, ApiError> {
    Ok(match (single, answers.pop()) {
        (true, Some(one)) => Json(one).into_response(),
        (true, None) => return Err(ApiError::internal()),
        (false, last) => {
            answers.extend(last);
            Json(answers).into_response()
        }
    })
}

/// `POST /blast` `{marker, sequence, perc_identity?}` (`?verbose=true`): one Match.
pub async fn blast_post(state: AppState, query: Params, JsonBody(body): JsonBody<Value>) -> Result<Response, ApiError> {
    let req = blast_request(&state, &body, &query, false)?;
    run_blast(state, req).await
}

/// `GET /blast?marker=&sequence=[&perc_identity=][&verbose=true]`: one Match.
pub async fn blast_get(state: AppState, query: Params) -> Result<Response, ApiError> {
    let mut v = serde_json::Map::new();
    for (k, names) in [
        ("marker", &["marker"][..]),
        ("sequence", &["sequence"]),
        ("perc_identity", &["perc_identity"]),
    ] {
        if let Some(x) = query.get(names) {
            v.insert(k.into(), Value::from(x));
        }
    }
    let req = blast_request(&state, &Value::Object(v), &query, false)?;
    run_blast(state, req).await
}

/// `POST /blast/batch` `{marker, sequence: [..]}`: Matches in input order.
pub async fn blast_batch(
    state: AppState,
    query: Params,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req = blast_request(&state, &body, &query, true)?;
    run_blast(state, req).await
}

/// The libraries a sequence-search-ws `database` names: a library name with or without `.udb`, or else a
/// marker as for `/blast`.
fn resolve_database(state: &AppState, db: &str) -> Result<Vec<u32>, ApiError> {
    let name = db.trim();
    let bare = name.strip_suffix(".udb").unwrap_or(name);
    let libs: Vec<u32> = state
        .libraries()
        .iter()
        .filter(|l| l.name.eq_ignore_ascii_case(bare))
        .map(|l| l.id)
        .collect();
    if !libs.is_empty() {
        return Ok(libs);
    }
    resolve_marker(state, bare).map_err(|_| {
        let known: Vec<String> = state.libraries().iter().map(|l| format!("{}.udb", l.name)).collect();
        ApiError::unprocessable(
            "Unknown database",
            format!("no database {name:?}; GET /databases lists them: {}", known.join(", ")),
        )
    })
}

/// `POST /search` and `/search/batch` (sequence-search-ws): `{database, sequence (string or array), identity?,
/// outformat?, verbose?}` → one Match for a string, an array in input order for an array.
/// `outformat: "blast6"` (not a vsearch name) answers BLAST tabular text instead.
pub async fn search(state: AppState, query: Params, JsonBody(body): JsonBody<Value>) -> Result<Response, ApiError> {
    let field = |k: &str| -> Option<Value> { body.get(k).cloned().or_else(|| query.get(&[k]).map(Value::from)) };
    let db = match field("database") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(ApiError::unprocessable(
                "No database given",
                "the request needs a database; GET /databases lists them",
            ));
        }
        Some(_) => return Err(ApiError::bad_request("database must be a string")),
    };
    let libs = resolve_database(&state, &db)?;
    let (sequences, single) = sequences_field(&state, body.get("sequence"), None, false)?;
    let min_identity = identity_fraction(&field("identity").unwrap_or(Value::Null))?.unwrap_or(0.9);
    let verbose = truthy(field("verbose").as_ref());
    let outformat = match field("outformat") {
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    let text = outformat == "blast6";
    let flavor = Flavor::Vsearch {
        alignment: outformat != "blast6out" && !text,
    };
    let _slot = state.admit()?;
    let params = Arc::new(params_for(&state, &libs, min_identity, VSEARCH_TARGETS));
    let libs = Arc::new(libs);
    let items: Vec<(usize, String)> = sequences.into_iter().enumerate().collect();
    let results = state
        .map(
            items,
            Arc::new(move |s, (i, raw): (usize, String)| {
                let r = s.search(&i.to_string(), sanitize(&raw).as_bytes(), &params);
                let out = if text {
                    Answer::Text(blast6_rows(s.index(), &r, &libs))
                } else {
                    answer(s.index(), &r, &libs, VSEARCH_TARGETS, verbose, flavor)
                };
                (out, r.hits.len())
            }),
        )
        .await?;
    state.count(results.len(), results.iter().map(|r| r.1).sum());
    if text {
        let mut body = String::new();
        for (a, _) in results {
            if let Answer::Text(t) = a {
                body.push_str(&t);
            }
        }
        return Ok((
            [(header::CONTENT_TYPE, "text/tab-separated-values; charset=utf-8")],
            body,
        )
            .into_response());
    }
    answers_response(single, results.into_iter().map(|r| r.0).collect())
}

/// The 12 BLAST tabular columns for the records of `libs` (query id = input position, like the services).
fn blast6_rows(index: &Index, q: &QueryResult, libs: &[u32]) -> String {
    let mut s = String::new();
    for c in candidates(index, &q.hits, libs, VSEARCH_TARGETS, Flavor::BlastWs) {
        let h = c.hit;
        let (qs, qe, ss, se) = coords(h);
        let id = index.reference(c.reference).map_or("", |e| index.str(e.id));
        let _ = writeln!(
            s,
            "{}\t{id}\t{:.1}\t{}\t{}\t{}\t{qs}\t{qe}\t{ss}\t{se}\t0\t{}",
            q.id,
            h.identity * 100.0,
            h.alignment_length,
            h.mismatches,
            h.gap_opens,
            h.score
        );
    }
    s
}

/// `GET /databases` (and `/databases-available`): the reference libraries, shaped like sequence-search-ws's
/// list of `.udb` files merged with their metadata.
pub async fn databases(state: AppState) -> Json<Value> {
    let m = state.index().meta();
    let list: Vec<Value> = m
        .libraries
        .iter()
        .map(|l| {
            serde_json::json!({
                "db": format!("{}.udb", l.name),
                "name": l.name,
                "marker": l.marker,
                "version": l.version,
                "title": l.title,
                "licence": l.licence,
                "sequences": l.sequences,
                "records": l.records,
            })
        })
        .collect();
    Json(Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_iupac_only() {
        assert_eq!(sanitize("ac gt-NN\n12xU"), "acgtNNU");
    }

    #[test]
    fn identity_forms() {
        assert_eq!(identity_fraction(&Value::from(97)).ok().flatten(), Some(0.97));
        assert_eq!(identity_fraction(&Value::from("0.9")).ok().flatten(), Some(0.9));
        assert!(identity_fraction(&Value::from(150)).is_err());
        assert!(identity_fraction(&Value::from("x")).is_err());
        assert_eq!(identity_fraction(&Value::Null).ok().flatten(), None);
    }

    fn hit(identity: f64) -> Hit {
        Hit {
            seq: 0,
            digest: [0; 16],
            identity,
            alignment_length: 10,
            mismatches: 0,
            gap_opens: 0,
            q_start: 1,
            q_end: 10,
            t_start: 1,
            t_end: 10,
            strand: '+',
            query_coverage: 1.0,
            score: 20,
            target_length: 10,
            cigar: None,
            aligned: Some(["ACGTACGTAC".into(), "||||| ||||".into(), "ACGTAGGTAC".into()]),
            normalised_query: false,
        }
    }

    fn cand<'h>(h: &'h Hit, name: &str, flavor: Flavor) -> Cand<'h> {
        let identity = flavor.round(h.identity * 100.0);
        Cand {
            hit: h,
            reference: 0,
            identity,
            match_type: flavor.match_type(identity),
            name: name.into(),
        }
    }

    #[test]
    fn ambiguous_needs_another_exact_within_one_point() {
        let f = Flavor::BlastWs;
        let (a, b, c) = (hit(1.0), hit(0.995), hit(0.989));
        let near = [cand(&a, "x", f), cand(&b, "y", f)];
        assert_eq!(decide(&near, false, f), (vec![1], MatchType::Ambiguous));
        // Verbose lists everything but does not change the type.
        assert_eq!(decide(&near, true, f), (vec![1], MatchType::Ambiguous));
        let far = [cand(&a, "x", f), cand(&c, "y", f)];
        assert_eq!(decide(&far, false, f), (vec![], MatchType::Exact));
        assert_eq!(decide(&far, true, f), (vec![1], MatchType::Exact));
        // sequence-search-ws also needs a different name.
        let v = Flavor::Vsearch { alignment: false };
        let same = [cand(&a, "x", v), cand(&b, "x", v)];
        assert_eq!(decide(&same, false, v), (vec![], MatchType::Exact));
    }

    #[test]
    fn alnout_block_counts_columns() {
        let text = alnout("0", 10, "ref1", &hit(0.9));
        assert!(text.starts_with(" Query 10nt >0\nTarget 10nt >ref1\n"), "{text}");
        assert!(text.contains("Qry     1 + ACGTACGTAC 10"), "{text}");
        assert!(text.contains("10 cols, 9 ids (90.0%), 0 gaps (0.0%)"), "{text}");
    }

    #[test]
    fn vsearch_thresholds_are_inclusive() {
        let f = Flavor::Vsearch { alignment: false };
        assert_eq!(f.match_type(99.0), MatchType::Exact);
        assert_eq!(f.match_type(90.0), MatchType::Close);
        assert_eq!(Flavor::BlastWs.match_type(99.0), MatchType::Close);
    }
}
