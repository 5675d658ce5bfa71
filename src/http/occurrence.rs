//! `GET /v1/occurrence/search`: occurrences by sequence similarity, nucleotideSequenceID, taxon or dataset,
//! in GBIF's paging envelope with GBIF's occurrence field names (gbif-compat.md §0.3, §4.3, §5).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use edna_index::schema::NONE;
use edna_index::Index;
use roaring::RoaringBitmap;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::extract::Params;
use super::native::{assignment_json, fraction, known_marker, occurrences_named, taxon_ref_json};
use super::AppState;
use crate::search::{QueryStatus, SearchParams, Strand, Target};

/// GBIF caps `limit` at 300.
const MAX_LIMIT: usize = 300;
/// GBIF's default `limit`.
const DEFAULT_LIMIT: usize = 20;
/// Most similar sequences followed to their occurrences (a very common sequence at low identity could
/// otherwise reach a large part of the index).
const MAX_SEQUENCE_HITS: usize = 10_000;
/// Facet values listed per facet unless `facetLimit` says otherwise.
const FACET_LIMIT: usize = 10;

/// What an occurrence record includes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordOptions {
    /// Include each DNA row's normalised sequence.
    pub sequences: bool,
}

fn put(o: &mut Map<String, Value>, k: &str, v: &str) {
    if !v.is_empty() {
        o.insert(k.into(), Value::from(v));
    }
}

fn put_num(o: &mut Map<String, Value>, k: &str, v: f64) {
    // NaN marks an absent value in the index; JSON has no NaN.
    if v.is_finite() {
        o.insert(k.into(), json!(v));
    }
}

/// One occurrence with GBIF's field names (only what the index holds; absent values are omitted).
pub(crate) fn occurrence_record(index: &Index, occ: u32, opts: RecordOptions) -> Option<Value> {
    let e = index.occurrence(occ)?;
    let meta = index.meta();
    let mut o = Map::new();
    put(&mut o, "occurrenceID", e.occurrence_id);
    if let Some(d) = meta.datasets.get(e.dataset as usize) {
        put(&mut o, "datasetKey", &d.key);
        put(&mut o, "datasetTitle", &d.title);
        if let Some(l) = &d.licence {
            put(&mut o, "license", l);
        }
    }
    put(&mut o, "basisOfRecord", index.str(e.basis_of_record));
    put(&mut o, "scientificName", index.str(e.scientific_name));
    put(&mut o, "taxonRank", index.str(e.taxon_rank));
    if e.published_taxon != NONE {
        o.insert("taxonKey".into(), json!(e.published_taxon));
        for t in index.lineage(e.published_taxon) {
            if let Some(te) = index.taxon(t) {
                let rank = index.str(te.rank);
                if matches!(
                    rank,
                    "kingdom" | "phylum" | "class" | "order" | "family" | "genus" | "species"
                ) {
                    put(&mut o, rank, index.str(te.name));
                }
            }
        }
    }
    put(&mut o, "eventDate", index.str(e.event_date));
    put_num(&mut o, "decimalLatitude", e.decimal_latitude);
    put_num(&mut o, "decimalLongitude", e.decimal_longitude);
    put(&mut o, "countryCode", index.str(e.country_code));
    put(&mut o, "locality", index.str(e.locality));
    put_num(&mut o, "organismQuantity", e.organism_quantity);
    put(&mut o, "organismQuantityType", index.str(e.organism_quantity_type));
    put_num(&mut o, "sampleSizeValue", e.sample_size_value);
    put(&mut o, "sampleSizeUnit", index.str(e.sample_size_unit));
    put(&mut o, "materialSampleID", index.str(e.material_sample_id));
    let dna = index.occurrence_dna(occ);
    o.insert("isSequenced".into(), Value::Bool(dna.iter().any(|d| d.seq != NONE)));
    let mut legacy: Vec<String> = dna
        .iter()
        .filter_map(|d| index.legacy_md5(d))
        .map(|md5| edna_seq::normalize::to_hex(&md5))
        .collect();
    legacy.dedup();
    if !legacy.is_empty() {
        o.insert("dnaSequenceID".into(), json!(legacy));
    }
    let seqs: Vec<Value> = dna
        .iter()
        .map(|d| {
            let mut n = Map::new();
            if d.seq != NONE {
                n.insert(
                    "nucleotideSequenceID".into(),
                    Value::from(edna_seq::normalize::to_hex(&index.seq_md5(d.seq))),
                );
            }
            if let Some(a) = index.assay(d) {
                put(&mut n, "targetGene", index.str(a.target_gene));
            }
            if d.assigned_taxon != NONE {
                // Not a GBIF field: the taxon this index assigned to the sequence from its reference libraries.
                n.insert("assignedTaxon".into(), taxon_ref_json(index, d.assigned_taxon));
            }
            if d.seq != NONE {
                if opts.sequences {
                    n.insert(
                        "sequence".into(),
                        Value::from(String::from_utf8_lossy(&index.seq(d.seq)).into_owned()),
                    );
                }
                n.insert("sequenceLength".into(), json!(index.seq_len(d.seq)));
            }
            n.insert("invalid".into(), Value::Bool(d.seq == NONE));
            Value::Object(n)
        })
        .collect();
    o.insert("nucleotideSequence".into(), Value::Array(seqs));
    Some(Value::Object(o))
}

/// The occurrences of a list of sequences.
fn occurrences_of(index: &Index, seqs: impl IntoIterator<Item = u32>) -> RoaringBitmap {
    let mut b = RoaringBitmap::new();
    for s in seqs {
        b.extend(index.seq_occs(s).iter().copied());
    }
    b
}

/// What the sequence part of a search produced.
enum SequencePart {
    /// The query is not a usable sequence.
    Invalid(String),
    /// Occurrences with the identity (percent) of their best-matching sequence.
    Similar { identity: HashMap<u32, f64>, query: Value },
    /// Occurrences of the assigned taxon (`by=taxon`).
    Taxon {
        occurrences: RoaringBitmap,
        assignment: Value,
        query: Value,
    },
}

fn hex_ids(params: &Params, names: &[&str]) -> Result<Vec<[u8; 16]>, ApiError> {
    params
        .all(names)
        .into_iter()
        .map(|v| {
            edna_seq::normalize::parse_hex_md5(v).ok_or_else(|| {
                ApiError::bad_request(format!("{} must be 32 hexadecimal characters, got {v:?}", names[0]))
            })
        })
        .collect()
}

/// `GET /v1/occurrence/search`.
pub async fn search(state: AppState, params: Params) -> Result<Json<Value>, ApiError> {
    let limit = params
        .number::<usize>(&["limit"])?
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let offset = params.number::<usize>(&["offset"])?.unwrap_or(0);
    let min_identity = fraction(
        "minIdentity",
        params.number::<f64>(&["minIdentity", "identity"])?.unwrap_or(0.97),
    )?;
    let min_coverage = fraction("minCoverage", params.number::<f64>(&["minCoverage"])?.unwrap_or(0.5))?;
    let marker = match params.get(&["marker", "nucleotideSequence.targetGene", "targetGene"]) {
        Some(m) => Some(known_marker(&state, m)?),
        None => None,
    };
    let by_taxon = match params.get(&["by"]).map(str::to_ascii_lowercase) {
        None => false,
        Some(b) if b == "taxon" => true,
        Some(b) if b == "sequence" => false,
        Some(b) => {
            return Err(ApiError::bad_request(format!(
                "by must be sequence or taxon, got {b:?}"
            )))
        }
    };
    let ids = hex_ids(
        &params,
        &["nucleotideSequenceID", "nucleotideSequence.nucleotideSequenceID"],
    )?;
    let legacy = hex_ids(&params, &["dnaSequenceID"])?;
    let exact_seqs: Vec<String> = params
        .all(&["nucleotideSequence.sequence"])
        .into_iter()
        .map(str::to_string)
        .collect();
    let taxon_names: Vec<String> = params
        .all(&["taxon", "scientificName"])
        .into_iter()
        .map(str::to_string)
        .collect();
    let assigned_names: Vec<String> = params.all(&["assignedTaxon"]).into_iter().map(str::to_string).collect();
    let mut assigned_keys = Vec::new();
    for k in params.all(&["assignedTaxonKey"]) {
        assigned_keys.push(
            k.parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("assignedTaxonKey must be a number, got {k:?}")))?,
        );
    }
    let mut taxon_keys = Vec::new();
    for k in params.all(&["taxonKey"]) {
        taxon_keys.push(
            k.parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("taxonKey must be a number, got {k:?}")))?,
        );
    }
    let dataset_keys: Vec<String> = params.all(&["datasetKey"]).into_iter().map(str::to_string).collect();
    let countries: Vec<String> = params
        .all(&["country", "countryCode"])
        .into_iter()
        .map(str::to_ascii_uppercase)
        .collect();
    let facets: Vec<String> = params.all(&["facet"]).into_iter().map(str::to_string).collect();
    let facet_limit = params.number::<usize>(&["facetLimit"])?.unwrap_or(FACET_LIMIT);
    let with_sequences = !params
        .get(&["includeSequence"])
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));

    let sequence_part = match params.get(&["sequence"]) {
        None if by_taxon => return Err(ApiError::bad_request("by=taxon needs a sequence")),
        None => None,
        Some(raw) => {
            let _slot = state.admit()?;
            let search = Arc::new(SearchParams {
                min_identity,
                min_coverage,
                max_hits: MAX_SEQUENCE_HITS,
                marker: marker.clone(),
                strand: Strand::Both,
                target: if by_taxon {
                    Target::References
                } else {
                    Target::Occurrences
                },
                with_alignment: false,
                ..SearchParams::default()
            });
            let mut parts = state
                .map(
                    vec![raw.to_string()],
                    Arc::new(move |s, raw: String| {
                        let index = s.index();
                        let r = s.search("query", raw.as_bytes(), &search);
                        let query = json!({
                            "sequence": r.sequence, "nucleotideSequenceID": r.nucleotide_sequence_id,
                            "status": r.status.to_string(), "sequenceHits": r.hits.len(), "totalSequenceHits": r.total_hits,
                        });
                        let n = r.hits.len();
                        let part = if let QueryStatus::Invalid(why) = &r.status {
                            SequencePart::Invalid(why.clone())
                        } else if by_taxon {
                            let assignment = assignment_json(index, r.assignment_hits());
                            let name = assignment.pointer("/taxon/name").and_then(Value::as_str).map(str::to_string);
                            let occurrences = name.map(|n| occurrences_named(index, &n, true)).unwrap_or_default();
                            SequencePart::Taxon { occurrences, assignment, query }
                        } else {
                            let mut identity: HashMap<u32, f64> = HashMap::new();
                            for h in &r.hits {
                                let pct = (h.identity * 100_000.0).round() / 1000.0;
                                for &o in index.seq_occs(h.seq) {
                                    let e = identity.entry(o).or_insert(pct);
                                    *e = e.max(pct);
                                }
                            }
                            SequencePart::Similar { identity, query }
                        };
                        (part, n)
                    }),
                )
                .await?;
            let (part, hits) = parts.pop().ok_or_else(ApiError::internal)?;
            state.count(1, hits);
            if let SequencePart::Invalid(why) = part {
                return Err(ApiError::unprocessable(
                    "invalid_sequence",
                    format!("the sequence cannot be searched: {why}"),
                ));
            }
            Some(part)
        }
    };

    // Set algebra and record building can touch every occurrence: keep them off the async runtime.
    let st = state.clone();
    let task = tokio::task::spawn_blocking(move || {
        let index = st.index();
        let n_occ = index.n_occurrences();
        let mut set: Option<RoaringBitmap> = None;
        let mut and = |b: RoaringBitmap| {
            set = Some(match set.take() {
                Some(s) => s & b,
                None => b,
            })
        };
        let mut identity = None;
        let mut extra = Map::new();
        match sequence_part {
            Some(SequencePart::Similar { identity: id, query }) => {
                and(id.keys().copied().collect());
                identity = Some(id);
                extra.insert("query".into(), query);
            }
            Some(SequencePart::Taxon {
                occurrences,
                assignment,
                query,
            }) => {
                and(occurrences);
                extra.insert("query".into(), query);
                extra.insert("taxon".into(), assignment);
            }
            Some(SequencePart::Invalid(_)) | None => {}
        }
        if !ids.is_empty() {
            and(occurrences_of(index, ids.iter().filter_map(|d| index.find_md5(d))));
        }
        if !legacy.is_empty() {
            // The legacy digest is of the raw published text: keep only occurrences whose own row has it.
            let mut b = RoaringBitmap::new();
            for d in &legacy {
                for s in index.find_legacy(d) {
                    for &o in index.seq_occs(s) {
                        if index.occurrence_dna(o).iter().any(|r| index.legacy_md5(r) == Some(*d)) {
                            b.insert(o);
                        }
                    }
                }
            }
            and(b);
        }
        if !exact_seqs.is_empty() {
            let seqs = exact_seqs.iter().filter_map(|s| {
                let clean = edna_seq::normalize::clean(s.as_bytes()).ok()?;
                index.find_md5(&edna_seq::normalize::md5_bytes(&clean))
            });
            and(occurrences_of(index, seqs));
        }
        if !taxon_names.is_empty() {
            let mut b = RoaringBitmap::new();
            for n in &taxon_names {
                b |= occurrences_named(index, n, false);
            }
            and(b);
        }
        if !taxon_keys.is_empty() {
            let mut b = RoaringBitmap::new();
            for &k in &taxon_keys {
                b |= index.taxon_bitmap(k);
            }
            and(b);
        }
        if !assigned_names.is_empty() || !assigned_keys.is_empty() {
            let mut b = RoaringBitmap::new();
            for n in &assigned_names {
                for t in index.find_taxa_by_name(n) {
                    b |= index.assigned_taxon_bitmap(t);
                }
            }
            for &k in &assigned_keys {
                b |= index.assigned_taxon_bitmap(k);
            }
            and(b);
        }
        if !dataset_keys.is_empty() {
            let mut b = RoaringBitmap::new();
            for (i, d) in index.meta().datasets.iter().enumerate() {
                if dataset_keys.contains(&d.key) {
                    b |= index.dataset_bitmap(i as u32);
                }
            }
            and(b);
        }
        if let Some(m) = &marker {
            let mut b = RoaringBitmap::new();
            for (i, x) in index.meta().markers.iter().enumerate() {
                if edna_index::meta::canonical_marker(x) == *m {
                    b |= index.marker_bitmap(i as u32);
                }
            }
            and(b);
        }
        let mut set = set.unwrap_or_else(|| (0..n_occ).collect());
        if !countries.is_empty() {
            set = set
                .iter()
                .filter(|&o| {
                    index.occurrence(o).is_some_and(|e| {
                        countries
                            .iter()
                            .any(|c| c.eq_ignore_ascii_case(index.str(e.country_code)))
                    })
                })
                .collect();
        }
        let count = set.len() as usize;
        let page: Vec<u32> = match &identity {
            // Most similar first; ties in index order, so paging is stable.
            Some(id) => {
                let mut all: Vec<(u32, f64)> = set.iter().map(|o| (o, id.get(&o).copied().unwrap_or(0.0))).collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                all.into_iter().skip(offset).take(limit).map(|(o, _)| o).collect()
            }
            None => set.iter().skip(offset).take(limit).collect(),
        };
        let results: Vec<Value> = page
            .iter()
            .filter_map(|&o| {
                let mut r = occurrence_record(
                    index,
                    o,
                    RecordOptions {
                        sequences: with_sequences,
                    },
                )?;
                if let (Some(id), Some(obj)) = (&identity, r.as_object_mut()) {
                    obj.insert("identity".into(), json!(id.get(&o).copied().unwrap_or(0.0)));
                }
                Some(r)
            })
            .collect();
        let facet_values: Vec<Value> = facets
            .iter()
            .map(|f| facet(index, &set, f, facet_limit))
            .collect::<Result<_, _>>()?;
        let mut v = Map::new();
        v.insert("offset".into(), json!(offset));
        v.insert("limit".into(), json!(limit));
        v.insert("endOfRecords".into(), json!(count <= offset + limit));
        v.insert("count".into(), json!(count));
        v.insert("results".into(), Value::Array(results));
        v.insert("facets".into(), Value::Array(facet_values));
        v.extend(extra);
        Ok::<Value, ApiError>(Value::Object(v))
    });
    match task.await {
        Ok(r) => r.map(Json),
        Err(e) => {
            tracing::error!(error = %e, "occurrence search task failed");
            Err(ApiError::internal())
        }
    }
}

/// GBIF facet: `{"field": "DATASET_KEY", "counts": [{"name", "count"}]}`, most frequent first.
fn facet(index: &Index, set: &RoaringBitmap, name: &str, limit: usize) -> Result<Value, ApiError> {
    let squashed: String = name
        .chars()
        .filter(|c| !matches!(c, '.' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    let field = match squashed.as_str() {
        "datasetkey" => "DATASET_KEY",
        "country" | "countrycode" => "COUNTRY",
        "scientificname" => "SCIENTIFIC_NAME",
        "marker" | "targetgene" | "nucleotidesequencetargetgene" => "TARGET_GENE",
        _ => {
            return Err(ApiError::bad_request(format!(
                "unknown facet {name:?} (datasetKey, country, scientificName, marker)"
            )))
        }
    };
    let meta = index.meta();
    let key = |o: u32| -> Vec<String> {
        let Some(e) = index.occurrence(o) else {
            return Vec::new();
        };
        match field {
            "DATASET_KEY" => meta
                .datasets
                .get(e.dataset as usize)
                .map(|d| d.key.clone())
                .into_iter()
                .collect(),
            "COUNTRY" => vec![index.str(e.country_code).to_string()],
            "SCIENTIFIC_NAME" => vec![index.str(e.scientific_name).to_string()],
            _ => {
                let mut v: Vec<String> = index
                    .occurrence_dna(o)
                    .iter()
                    .filter_map(|d| meta.markers.get(d.marker as usize).cloned())
                    .collect();
                v.sort();
                v.dedup();
                v
            }
        }
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for o in set {
        for k in key(o) {
            if !k.is_empty() {
                *counts.entry(k).or_default() += 1;
            }
        }
    }
    let mut list: Vec<(String, u64)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let counts: Vec<Value> = list
        .into_iter()
        .take(limit)
        .map(|(name, count)| json!({"name": name, "count": count}))
        .collect();
    Ok(json!({"field": field, "counts": counts}))
}
