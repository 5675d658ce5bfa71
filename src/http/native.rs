//! The native API: search with targets, taxa and occurrence counts; GBIF's sequence validation; lookups of
//! sequences, taxa and datasets; the index metadata.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use edna_index::schema::NONE;
use edna_index::Index;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::{JsonBody, Params};
use super::occurrence::{occurrence_record, RecordOptions};
use super::AppState;
use crate::search::{assign, Hit, QueryResult, QueryStatus, RankThresholds, SearchParams, Strand, Target};

/// Reference records listed per hit (a sequence shared by thousands of records would swamp the answer).
const REFS_PER_HIT: usize = 100;
/// Occurrences listed per hit with `include: ["occurrences"]`.
const OCCS_PER_HIT: usize = 20;
/// Largest `maxHits`.
const MAX_HITS: usize = 1000;
/// Identity margin (points below the best) whose hits vote in the consensus, as in `edna-search assign`.
const ASSIGN_MARGIN: f64 = 0.5;

/// `GET /v1/index`: counts, libraries, datasets, markers, seeds and format version (no file paths).
pub async fn index_meta(state: AppState) -> Json<Value> {
    let index = state.index();
    let m = index.meta();
    let libraries: Vec<Value> = m
        .libraries
        .iter()
        .map(|l| {
            json!({"name": l.name, "marker": l.marker, "canonicalMarker": edna_index::meta::canonical_marker(&l.marker),
                "version": l.version, "title": l.title, "licence": l.licence, "records": l.records, "sequences": l.sequences})
        })
        .collect();
    Json(json!({
        "generation": state.generation(),
        "buildId": state.build_id(),
        "loadedAt": state.loaded_at(),
        "formatVersion": m.format_version,
        "builderVersion": m.builder_version,
        "sequences": m.sequences,
        "referenceRecords": m.reference_sequences,
        "occurrences": m.occurrences,
        "dnaRows": m.dna_rows,
        "taxa": m.taxa,
        "inputBases": m.input_bases,
        "distinctBases": m.distinct_bases,
        "indexBytes": index.file().len(),
        "seeds": {"k": m.seeds.k, "w": m.seeds.w},
        "markers": m.markers,
        "libraries": libraries,
        "datasets": m.datasets.iter().map(dataset_json).collect::<Vec<_>>(),
        "inputIssues": m.issues.iter().map(|i| i.count).sum::<u64>(),
    }))
}

fn dataset_json(d: &edna_index::meta::DatasetInfo) -> Value {
    json!({"key": d.key, "title": d.title, "license": d.licence, "occurrences": d.occurrences, "dnaRows": d.dna_rows})
}

/// One query of a `/v1/search` request: a bare sequence or `{id, sequence}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum QueryIn {
    /// Just the sequence (id `queryN`).
    Plain(String),
    /// With an id.
    Named {
        /// Query id.
        id: Option<String>,
        /// Raw sequence.
        sequence: String,
    },
}

/// `/v1/search` request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Id of `sequence`.
    id: Option<String>,
    /// One query.
    sequence: Option<String>,
    /// Several queries.
    sequences: Option<Vec<QueryIn>>,
    /// Fraction or percent (default 0.97).
    min_identity: Option<f64>,
    /// Fraction or percent of the query (default 0.5).
    min_coverage: Option<f64>,
    /// Sequence hits per query (default 100).
    max_hits: Option<usize>,
    /// Only targets of this marker.
    marker: Option<String>,
    /// `references`, `occurrences` or `all` (default).
    target: Option<String>,
    /// `both` (default) or `plus`.
    strand: Option<String>,
    /// `alignment`, `occurrences`, `taxon`.
    #[serde(default)]
    include: Vec<String>,
}

/// What to add to each result.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Include {
    /// CIGAR and aligned strings per hit.
    pub alignment: bool,
    /// A sample of each hit's occurrences.
    pub occurrences: bool,
    /// A consensus taxon assignment per query.
    pub taxon: bool,
}

/// A fraction given as a fraction (≤ 1) or a percentage.
pub(crate) fn fraction(name: &str, v: f64) -> Result<f64, ApiError> {
    if !v.is_finite() || !(0.0..=100.0).contains(&v) {
        return Err(ApiError::bad_request(format!(
            "{name} must be a fraction (0-1) or a percentage (0-100), got {v}"
        )));
    }
    Ok(if v > 1.0 { v / 100.0 } else { v })
}

/// Checks a marker against the index (library markers and occurrence target genes) and canonicalises it.
pub(crate) fn known_marker(state: &AppState, marker: &str) -> Result<String, ApiError> {
    let canon = edna_index::meta::canonical_marker(marker);
    let meta = state.index().meta();
    let known = state.libraries().iter().any(|l| l.marker == canon)
        || meta
            .markers
            .iter()
            .any(|m| edna_index::meta::canonical_marker(m) == canon);
    if known {
        Ok(canon)
    } else {
        let mut all: Vec<String> = state.libraries().iter().map(|l| l.marker.clone()).collect();
        all.extend(meta.markers.iter().map(|m| edna_index::meta::canonical_marker(m)));
        all.sort();
        all.dedup();
        Err(ApiError::unprocessable(
            "unsupported_marker",
            format!(
                "no sequences of marker {marker:?} in this index; markers: {}",
                all.join(", ")
            ),
        ))
    }
}

/// `POST /v1/search`: `{sequence | sequences: [{id, sequence}], minIdentity, minCoverage, maxHits, marker,
/// target, strand, include}` → `{params, results: [...]}` in input order.
pub async fn search(state: AppState, JsonBody(req): JsonBody<SearchRequest>) -> Result<Response, ApiError> {
    let queries: Vec<(String, String)> = match (req.sequence, req.sequences) {
        (Some(s), None) => vec![(req.id.unwrap_or_else(|| "query".into()), s)],
        (None, Some(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, q)| match q {
                QueryIn::Plain(s) => (format!("query{}", i + 1), s),
                QueryIn::Named { id, sequence } => (id.unwrap_or_else(|| format!("query{}", i + 1)), sequence),
            })
            .collect(),
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give either sequence or sequences, not both")),
        (None, None) => {
            return Err(ApiError::unprocessable(
                "no_sequence",
                "the request needs sequence or sequences",
            ))
        }
    };
    if queries.is_empty() {
        return Err(ApiError::unprocessable("no_sequence", "sequences is empty"));
    }
    if queries.len() > state.limits().max_batch {
        return Err(ApiError::too_large(format!(
            "{} sequences in one request; the limit is {} (POST FASTA to /v1/search/stream for more)",
            queries.len(),
            state.limits().max_batch
        )));
    }
    let mut include = Include::default();
    for i in &req.include {
        match i.trim().to_ascii_lowercase().as_str() {
            "alignment" => include.alignment = true,
            "occurrences" => include.occurrences = true,
            "taxon" => include.taxon = true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown include {other:?} (alignment, occurrences, taxon)"
                )))
            }
        }
    }
    let target = match req.target.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
        None => Target::All,
        Some(t) if t == "all" => Target::All,
        Some(t) if t == "references" => Target::References,
        Some(t) if t == "occurrences" => Target::Occurrences,
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "target must be references, occurrences or all, got {t:?}"
            )))
        }
    };
    let strand = match req.strand.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
        None => Strand::Both,
        Some(t) if t == "both" => Strand::Both,
        Some(t) if t == "plus" || t == "+" => Strand::Plus,
        Some(t) => return Err(ApiError::bad_request(format!("strand must be both or plus, got {t:?}"))),
    };
    let marker = match req.marker.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => Some(known_marker(&state, m)?),
    };
    let max_hits = req.max_hits.unwrap_or(100);
    if max_hits > MAX_HITS {
        return Err(ApiError::bad_request(format!("maxHits must be at most {MAX_HITS}")));
    }
    let params = SearchParams {
        min_identity: fraction("minIdentity", req.min_identity.unwrap_or(0.97))?,
        min_coverage: fraction("minCoverage", req.min_coverage.unwrap_or(0.5))?,
        max_hits: if max_hits == 0 { MAX_HITS } else { max_hits },
        marker,
        strand,
        target,
        with_alignment: include.alignment,
        find_reference_hits: include.taxon,
        ..SearchParams::default()
    };
    let echo = json!({
        "minIdentity": params.min_identity, "minCoverage": params.min_coverage, "maxHits": params.max_hits,
        "marker": params.marker, "target": params.target, "strand": params.strand,
        "include": req.include,
    });
    let _slot = state.admit()?;
    let params = Arc::new(params);
    let results = state
        .map(
            queries,
            Arc::new(move |s, (id, raw): (String, String)| {
                let r = s.search(&id, raw.as_bytes(), &params);
                let n = r.hits.len();
                (serde_json::to_vec(&result_out(s.index(), &r, include)), n)
            }),
        )
        .await?;
    state.count(results.len(), results.iter().map(|r| r.1).sum());
    // `{"params": …, "results": [...]}`, from the results each search thread wrote.
    let mut body = Vec::with_capacity(256 + results.iter().map(|r| r.0.as_ref().map_or(0, Vec::len)).sum::<usize>());
    body.extend_from_slice(b"{\"params\":");
    serde_json::to_writer(&mut body, &echo).map_err(|_| ApiError::internal())?;
    body.extend_from_slice(b",\"results\":[");
    for (i, (r, _)) in results.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&r.map_err(|_| ApiError::internal())?);
    }
    body.extend_from_slice(b"]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `{key, name, rank}` of a taxon.
#[derive(Serialize)]
pub(crate) struct TaxonRefOut<'a> {
    key: u32,
    name: &'a str,
    rank: &'a str,
}

impl<'a> TaxonRefOut<'a> {
    fn new(index: &'a Index, key: u32) -> Self {
        let t = index.taxon(key);
        TaxonRefOut {
            key,
            name: t.map_or("", |t| index.str(t.name)),
            rank: t.map_or("", |t| index.str(t.rank)),
        }
    }
}

/// `{key, name, rank}` of a taxon, as a JSON value.
pub(crate) fn taxon_ref_json(index: &Index, key: u32) -> Value {
    serde_json::to_value(TaxonRefOut::new(index, key)).unwrap_or(Value::Null)
}

/// A digest written as a nucleotideSequenceID (lower-case hex) without building a `String`.
struct Md5Hex([u8; 16]);

impl Serialize for Md5Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hex = edna_seq::normalize::to_hex_bytes(&self.0);
        serializer.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

fn hex(index: &Index, seq: u32) -> String {
    edna_seq::normalize::to_hex(&index.seq_md5(seq))
}

/// Hit coordinates in BLAST's convention: query ascending, subject descending on the minus strand.
fn coords(h: &Hit) -> (u32, u32, u32, u32) {
    if h.strand == '+' {
        (h.q_start, h.q_end, h.t_start, h.t_end)
    } else {
        (h.q_end, h.q_start, h.t_end, h.t_start)
    }
}

/// One reference record of a sequence, with library, names and taxon.
#[derive(Serialize)]
pub(crate) struct ReferenceOut<'a> {
    accession: &'a str,
    id: &'a str,
    library: Option<&'a str>,
    lineage: String,
    marker: Option<&'a str>,
    name: &'a str,
    taxon: Option<TaxonRefOut<'a>>,
}

/// The first `max` reference records of a sequence.
pub(crate) fn references_out(index: &Index, seq: u32, max: usize) -> Vec<ReferenceOut<'_>> {
    let libs = &index.meta().libraries;
    index
        .seq_refs(seq)
        .iter()
        .take(max)
        .filter_map(|&r| index.reference(r))
        .map(|e| {
            let lineage: Vec<&str> = index
                .lineage(e.taxon)
                .iter()
                .filter_map(|&t| index.taxon(t))
                .map(|t| index.str(t.name))
                .collect();
            let library = libs.get(e.library as usize);
            ReferenceOut {
                accession: index.str(e.accession),
                id: index.str(e.id),
                library: library.map(|l| l.name.as_str()),
                lineage: lineage.join(";"),
                marker: library.map(|l| l.marker.as_str()),
                name: index.str(e.name),
                taxon: (e.taxon != NONE).then(|| TaxonRefOut::new(index, e.taxon)),
            }
        })
        .collect()
}

// The `/v1/search` answer is serialised straight from the engine's result: building a JSON tree per query
// and dropping it on another thread had cost a tenth of the service's CPU (allocation and map inserts).
// Fields are in the byte order of their names, the order the tree wrote them in.

/// One `/v1/search` result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultOut<'a> {
    exact_match: Option<ExactOut>,
    hits: Vec<HitOut<'a>>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(rename = "nucleotideSequenceID")]
    nucleotide_sequence_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_as_given: Option<&'a str>,
    sequence: Option<&'a str>,
    sequence_length: Option<usize>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    taxon: Option<Value>,
    total_hits: usize,
}

/// The indexed sequence equal to the query.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExactOut {
    #[serde(rename = "nucleotideSequenceID")]
    nucleotide_sequence_id: Md5Hex,
    occurrence_count: usize,
    reference_count: usize,
}

/// One hit of a `/v1/search` result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HitOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    alignment: Option<AlignmentOut<'a>>,
    alignment_length: u32,
    coverage: f64,
    gap_opens: u32,
    identity: f64,
    mismatches: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    normalised_query: bool,
    #[serde(rename = "nucleotideSequenceID")]
    nucleotide_sequence_id: Md5Hex,
    occurrence_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrences: Option<Vec<Value>>,
    qend: u32,
    qstart: u32,
    reference_count: usize,
    references: Vec<ReferenceOut<'a>>,
    score: i32,
    send: u32,
    sstart: u32,
    strand: char,
    target_length: u32,
}

/// A hit's alignment.
#[derive(Serialize)]
struct AlignmentOut<'a> {
    cigar: &'a Option<String>,
    midline: &'a str,
    query: &'a str,
    target: &'a str,
}

/// One `/v1/search` result, ready to be written out.
pub(crate) fn result_out<'a>(index: &'a Index, r: &'a QueryResult, include: Include) -> ResultOut<'a> {
    let (status, message) = match &r.status {
        QueryStatus::Ok => ("ok", None),
        QueryStatus::NoHits => ("no_hits", None),
        QueryStatus::Invalid(why) => ("invalid", Some(why.as_str())),
    };
    let hits = r
        .hits
        .iter()
        .map(|h| {
            let (qstart, qend, sstart, send) = coords(h);
            let occs = index.seq_occs(h.seq);
            HitOut {
                alignment: match (include.alignment, &h.aligned) {
                    (true, Some([query, midline, target])) => Some(AlignmentOut {
                        cigar: &h.cigar,
                        midline,
                        query,
                        target,
                    }),
                    _ => None,
                },
                alignment_length: h.alignment_length,
                coverage: (h.query_coverage * 1000.0).round() / 10.0,
                gap_opens: h.gap_opens,
                identity: (h.identity * 100_000.0).round() / 1000.0,
                mismatches: h.mismatches,
                normalised_query: h.normalised_query,
                nucleotide_sequence_id: Md5Hex(h.digest),
                occurrence_count: occs.len(),
                occurrences: include.occurrences.then(|| {
                    occs.iter()
                        .take(OCCS_PER_HIT)
                        .filter_map(|&o| occurrence_record(index, o, RecordOptions { sequences: false }))
                        .collect()
                }),
                qend,
                qstart,
                reference_count: index.seq_refs(h.seq).len(),
                references: references_out(index, h.seq, REFS_PER_HIT),
                score: h.score,
                send,
                sstart,
                strand: h.strand,
                target_length: h.target_length,
            }
        })
        .collect();
    ResultOut {
        exact_match: r.exact.map(|s| ExactOut {
            nucleotide_sequence_id: Md5Hex(index.seq_md5(s)),
            occurrence_count: index.seq_occs(s).len(),
            reference_count: index.seq_refs(s).len(),
        }),
        hits,
        id: &r.id,
        message,
        nucleotide_sequence_id: r.nucleotide_sequence_id.as_deref(),
        query_as_given: r.given.as_deref(),
        sequence: r.sequence.as_deref(),
        sequence_length: r.sequence.as_ref().map(String::len),
        status,
        taxon: include.taxon.then(|| assignment_json(index, r.assignment_hits())),
        total_hits: r.total_hits,
    }
}

/// The consensus assignment with GBIF's match type, plus how many occurrences carry that taxon's name
/// (published, or assigned to their sequence at build time).
pub(crate) fn assignment_json(index: &Index, hits: &[Hit]) -> Value {
    let a = assign(index, hits, ASSIGN_MARGIN, &RankThresholds::default(), &[]);
    let occurrences = a.taxon.as_ref().map(|t| occurrences_named(index, &t.name, true).len());
    let mut v = serde_json::to_value(&a).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("occurrenceCount".into(), json!(occurrences));
    }
    v
}

/// Occurrences whose published lineage includes a taxon of this name (union over homonymous taxa, which
/// the index keeps apart when their lineages differ), plus with `assigned` those whose sequence was assigned
/// to it at build time against the reference libraries.
pub(crate) fn occurrences_named(index: &Index, name: &str, assigned: bool) -> roaring::RoaringBitmap {
    let mut all = roaring::RoaringBitmap::new();
    for t in index.find_taxa_by_name(name) {
        all |= index.taxon_bitmap(t);
        if assigned {
            all |= index.assigned_taxon_bitmap(t);
        }
    }
    all
}

/// `GET /v1/validation/sequence?sequence=`: GBIF's normaliser result, field for field.
pub async fn validate(params: Params) -> Result<Json<edna_seq::normalize::Normalized>, ApiError> {
    let raw = params
        .get(&["sequence"])
        .ok_or_else(|| ApiError::bad_request("the sequence parameter is required"))?;
    Ok(Json(edna_seq::normalize::normalize(raw)))
}

/// `GET /v1/sequence/{id}` by nucleotideSequenceID (or legacy dnaSequenceID): the sequence, its reference
/// records and occurrences.
pub async fn sequence(state: AppState, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let index = state.index();
    let digest = edna_seq::normalize::parse_hex_md5(id.trim())
        .ok_or_else(|| ApiError::bad_request("expected a nucleotideSequenceID (32 hexadecimal characters)"))?;
    let (seqs, how) = match index.find_md5(&digest) {
        Some(s) => (vec![s], "nucleotideSequenceID"),
        None => (index.find_legacy(&digest), "dnaSequenceID"),
    };
    let Some(&seq) = seqs.first() else {
        return Err(ApiError::not_found(format!(
            "no sequence with nucleotideSequenceID or dnaSequenceID {id}"
        )));
    };
    let occs = index.seq_occs(seq);
    let sample: Vec<Value> = occs
        .iter()
        .take(OCCS_PER_HIT)
        .filter_map(|&o| occurrence_record(index, o, RecordOptions { sequences: false }))
        .collect();
    Ok(Json(json!({
        "nucleotideSequenceID": hex(index, seq),
        "matchedBy": how,
        "sequence": String::from_utf8_lossy(&index.seq(seq)),
        "sequenceLength": index.seq_len(seq),
        "referenceCount": index.seq_refs(seq).len(),
        "references": references_out(index, seq, usize::MAX),
        "occurrenceCount": occs.len(),
        "occurrences": sample,
        "alsoMatched": seqs[1..].iter().map(|&s| hex(index, s)).collect::<Vec<_>>(),
    })))
}

fn taxon_json(index: &Index, key: u32) -> Option<Value> {
    let t = index.taxon(key)?;
    let lineage: Vec<Value> = index.lineage(key).iter().map(|&k| taxon_ref_json(index, k)).collect();
    Some(json!({
        "key": key,
        "name": index.str(t.name),
        "rank": index.str(t.rank),
        "parentKey": (t.parent != NONE).then_some(t.parent),
        "lineage": lineage,
        "occurrenceCount": index.taxon_bitmap(key).len(),
        "assignedOccurrenceCount": index.assigned_taxon_bitmap(key).len(),
    }))
}

/// `GET /v1/taxon/{key}`: name, rank, lineage and occurrence count.
pub async fn taxon(state: AppState, Path(key): Path<String>) -> Result<Json<Value>, ApiError> {
    let key: u32 = key
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request("a taxon key is a number"))?;
    taxon_json(state.index(), key)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no taxon {key}")))
}

/// `GET /v1/taxon?name=`: taxa of that name (case-insensitive).
pub async fn taxon_search(state: AppState, params: Params) -> Result<Json<Value>, ApiError> {
    let name = params
        .get(&["name", "q"])
        .ok_or_else(|| ApiError::bad_request("the name parameter is required"))?;
    let index = state.index();
    let results: Vec<Value> = index
        .find_taxa_by_name(name)
        .into_iter()
        .filter_map(|k| taxon_json(index, k))
        .collect();
    Ok(Json(json!({"count": results.len(), "results": results})))
}

/// `GET /v1/dataset`: every dataset, in GBIF's paging envelope.
pub async fn datasets(state: AppState) -> Json<Value> {
    let list: Vec<Value> = state.index().meta().datasets.iter().map(dataset_json).collect();
    Json(json!({"offset": 0, "limit": list.len(), "endOfRecords": true, "count": list.len(), "results": list}))
}

/// `GET /v1/dataset/{key}`.
pub async fn dataset(state: AppState, Path(key): Path<String>) -> Result<Json<Value>, ApiError> {
    state
        .index()
        .meta()
        .datasets
        .iter()
        .find(|d| d.key == key)
        .map(|d| Json(dataset_json(d)))
        .ok_or_else(|| ApiError::not_found(format!("no dataset {key}")))
}
