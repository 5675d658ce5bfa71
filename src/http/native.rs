//! The native API: search with targets, taxa and occurrence counts; GBIF's sequence validation; lookups of
//! sequences, taxa and datasets; the index metadata.

use std::sync::Arc;

use axum::extract::Path;
use axum::Json;
use edna_index::schema::NONE;
use edna_index::Index;
use serde::Deserialize;
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
pub async fn search(state: AppState, JsonBody(req): JsonBody<SearchRequest>) -> Result<Json<Value>, ApiError> {
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
                (result_json(s.index(), &r, include), n)
            }),
        )
        .await?;
    state.count(results.len(), results.iter().map(|r| r.1).sum());
    Ok(Json(
        json!({"params": echo, "results": results.into_iter().map(|r| r.0).collect::<Vec<_>>()}),
    ))
}

/// `{key, name, rank}` of a taxon.
pub(crate) fn taxon_ref_json(index: &Index, key: u32) -> Value {
    let t = index.taxon(key);
    json!({
        "key": key,
        "name": t.map_or("", |t| index.str(t.name)),
        "rank": t.map_or("", |t| index.str(t.rank)),
    })
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

/// The reference records of a sequence, with library, names and taxon.
pub(crate) fn references_json(index: &Index, seq: u32, max: usize) -> Vec<Value> {
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
            json!({
                "id": index.str(e.id),
                "library": libs.get(e.library as usize).map(|l| l.name.as_str()),
                "marker": libs.get(e.library as usize).map(|l| l.marker.as_str()),
                "name": index.str(e.name),
                "accession": index.str(e.accession),
                "taxon": (e.taxon != NONE).then(|| taxon_ref_json(index, e.taxon)),
                "lineage": lineage.join(";"),
            })
        })
        .collect()
}

/// One `/v1/search` result.
pub(crate) fn result_json(index: &Index, r: &QueryResult, include: Include) -> Value {
    let (status, message) = match &r.status {
        QueryStatus::Ok => ("ok", None),
        QueryStatus::NoHits => ("no_hits", None),
        QueryStatus::Invalid(why) => ("invalid", Some(why.as_str())),
    };
    let hits: Vec<Value> = r
        .hits
        .iter()
        .map(|h| {
            let (qs, qe, ss, se) = coords(h);
            let occs = index.seq_occs(h.seq);
            let mut v = json!({
                "nucleotideSequenceID": hex(index, h.seq),
                "identity": (h.identity * 100_000.0).round() / 1000.0,
                "coverage": (h.query_coverage * 1000.0).round() / 10.0,
                "alignmentLength": h.alignment_length,
                "mismatches": h.mismatches,
                "gapOpens": h.gap_opens,
                "qstart": qs, "qend": qe, "sstart": ss, "send": se,
                "strand": h.strand.to_string(),
                "score": h.score,
                "targetLength": h.target_length,
                "referenceCount": index.seq_refs(h.seq).len(),
                "references": references_json(index, h.seq, REFS_PER_HIT),
                "occurrenceCount": occs.len(),
            });
            if let Some(o) = v.as_object_mut() {
                if include.occurrences {
                    let list: Vec<Value> = occs
                        .iter()
                        .take(OCCS_PER_HIT)
                        .filter_map(|&o| occurrence_record(index, o, RecordOptions { sequences: false }))
                        .collect();
                    o.insert("occurrences".into(), Value::Array(list));
                }
                if let (true, Some([q, m, t])) = (include.alignment, &h.aligned) {
                    o.insert(
                        "alignment".into(),
                        json!({"cigar": h.cigar, "query": q, "midline": m, "target": t}),
                    );
                }
            }
            v
        })
        .collect();
    let mut v = json!({
        "id": r.id,
        "status": status,
        "sequence": r.sequence,
        "sequenceLength": r.sequence.as_ref().map(String::len),
        "nucleotideSequenceID": r.nucleotide_sequence_id,
        "exactMatch": r.exact.map(|s| json!({
            "nucleotideSequenceID": hex(index, s),
            "referenceCount": index.seq_refs(s).len(),
            "occurrenceCount": index.seq_occs(s).len(),
        })),
        "totalHits": r.total_hits,
        "hits": hits,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(m) = message {
            o.insert("message".into(), Value::from(m));
        }
        if include.taxon {
            o.insert("taxon".into(), assignment_json(index, r.assignment_hits()));
        }
    }
    v
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
        "references": references_json(index, seq, usize::MAX),
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
