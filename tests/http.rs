//! HTTP service tests: the router is driven in-process with `tower::ServiceExt::oneshot`; one test serves
//! over a real socket. The index is built once from the bundled data.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use edna_index::Index;
use edna_search::http::{router, run, AppState, ServeConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

fn index() -> Arc<Index> {
    static INDEX: OnceLock<(tempfile::TempDir, Arc<Index>)> = OnceLock::new();
    let (_, idx) = INDEX.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let cfg =
            edna_search::defaults::default_build_config(&edna_search::defaults::repo_root(), dir.path().to_path_buf());
        edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build test index");
        let idx = Index::open(dir.path()).expect("open test index");
        (dir, Arc::new(idx))
    });
    Arc::clone(idx)
}

fn config() -> ServeConfig {
    ServeConfig {
        workers: 2,
        ..ServeConfig::default()
    }
}

fn app_with(config: ServeConfig) -> Router {
    router(AppState::new(index(), &config).expect("state"))
}

fn app() -> Router {
    app_with(config())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply { status, headers, body }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).expect("request")).await
}

async fn post_json(app: &Router, uri: &str, body: &Value) -> Reply {
    post_raw(app, uri, "application/json", body.to_string()).await
}

async fn post_raw(app: &Router, uri: &str, content_type: &str, body: String) -> Reply {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    send(app, req).await
}

/// A sequence of the `meta-fish-lib` library, and one carried by several of its records (if any), which
/// blast-ws rules make AMBIGUOUS.
fn reference_sequences() -> (String, Option<String>) {
    let idx = index();
    let lib = idx
        .meta()
        .libraries
        .iter()
        .position(|l| l.name == "meta-fish-lib")
        .expect("meta-fish-lib") as u32;
    let mut shared = None;
    let mut any = None;
    for s in 0..idx.n_seqs() {
        let refs: Vec<_> = idx
            .seq_refs(s)
            .iter()
            .filter_map(|&r| idx.reference(r))
            .filter(|r| r.library == lib)
            .collect();
        if refs.is_empty() || idx.seq_len(s) < 100 {
            continue;
        }
        let seq = String::from_utf8(idx.seq(s)).expect("ascii");
        if any.is_none() {
            any = Some(seq.clone());
        }
        if refs.len() >= 2 && shared.is_none() {
            shared = Some(seq);
        }
        if any.is_some() && shared.is_some() {
            break;
        }
    }
    (any.expect("a reference sequence"), shared)
}

/// A deterministic random 150-bp sequence (matches nothing).
fn random_seq(seed: u64) -> String {
    let mut x = seed;
    (0..150)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(x >> 33) as usize % 4] as char
        })
        .collect()
}

fn fixture_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(edna_search::defaults::default_queries()).expect("fixture");
    let mut out = Vec::new();
    let mut id = String::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('>') {
            id = h.split_whitespace().next().unwrap_or("").to_string();
        } else if !line.trim().is_empty() {
            out.push((id.clone(), line.trim().to_string()));
        }
    }
    out
}

fn assert_error(r: &Reply, status: StatusCode, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let v = r.json();
    assert_eq!(v["error"], error, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn health_ready_and_index() {
    let app = app();
    let r = get(&app, "/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert!(r.headers.contains_key("x-request-id"));

    let r = get(&app, "/ready").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["occurrences"], 527);
    assert_eq!(v["libraries"], 3);

    let v = get(&app, "/v1/index").await.json();
    assert_eq!(v["formatVersion"], index().meta().format_version);
    assert_eq!(v["libraries"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["seeds"]["k"], index().meta().seeds.k);
    assert!(!v.to_string().contains("/work/"), "no file paths: {v}");
}

#[tokio::test]
async fn blast_single_exact_match_with_string_coordinates() {
    let app = app();
    let (seq, shared) = reference_sequences();
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": seq})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let mt = v["matchType"].as_str().unwrap_or("");
    assert!(mt == "BLAST_EXACT_MATCH" || mt == "BLAST_AMBIGUOUS_MATCH", "{v}");
    assert_eq!(v["identity"], 100.0);
    assert_eq!(v["qstart"], "1");
    assert!(v["qend"].is_string() && v["sstart"].is_string() && v["send"].is_string());
    assert_eq!(v["sequenceLength"], seq.len());
    assert_eq!(v["qcovs"], 100);
    assert_eq!(v["distanceToBestMatch"], 0.0);
    assert_eq!(v["expectValue"], 0.0);
    assert_eq!(
        v["querySequence"].as_str().map(|s| s.replace('-', "")),
        Some(seq.clone())
    );
    for k in ["name", "appliedScientificName", "accession", "subjectSequence"] {
        assert!(v[k].is_string(), "{k} in {v}");
    }
    assert!(!v["name"].as_str().unwrap_or("").is_empty());

    // GET with query parameters gives the same answer.
    let g = get(&app, &format!("/blast?marker=12S&sequence={seq}")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.json(), v);

    // A sequence carried by several records: another EXACT hit within 1 point makes it AMBIGUOUS.
    {
        // 1334 records over 732 sequences: some sequences are shared.
        let shared = shared.expect("a sequence carried by several records");
        let v = post_json(&app, "/blast", &json!({"marker": "12s", "sequence": shared}))
            .await
            .json();
        assert_eq!(v["matchType"], "BLAST_AMBIGUOUS_MATCH", "{v}");
        let alts = v["alternatives"].as_array().expect("alternatives");
        assert!(!alts.is_empty());
        assert!(alts
            .iter()
            .all(|a| a["matchType"] == "BLAST_EXACT_MATCH" && a["sequenceLength"].is_null()));
        // verbose: every other target (≤ 4 with 5 targets), same match type.
        let verbose = post_json(
            &app,
            "/blast?verbose=true",
            &json!({"marker": "12S", "sequence": shared}),
        )
        .await
        .json();
        assert_eq!(verbose["matchType"], "BLAST_AMBIGUOUS_MATCH");
        assert!(verbose["alternatives"]
            .as_array()
            .is_some_and(|a| a.len() <= 4 && a.len() >= alts.len()));
    }
}

#[tokio::test]
async fn blast_no_match_for_random_sequence() {
    let app = app();
    let seq = random_seq(7);
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": seq})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"matchType": "BLAST_NO_MATCH", "sequenceLength": 150}));
    // blast-ws drops non-IUPAC characters before counting.
    let r = post_json(
        &app,
        "/blast",
        &json!({"marker": "12S", "sequence": format!("{seq} 12-_")}),
    )
    .await;
    assert_eq!(r.json()["sequenceLength"], 150);
}

#[tokio::test]
async fn blast_batch_answers_in_input_order() {
    let app = app();
    let (seq, _) = reference_sequences();
    let fixtures = fixture_queries();
    let batch = vec![
        seq.clone(),
        random_seq(1),
        fixtures[0].1.clone(),
        fixtures[1].1.clone(),
        random_seq(2),
        seq.clone(),
    ];
    let r = post_json(&app, "/blast/batch", &json!({"marker": "12S", "sequence": batch})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), batch.len());
    assert_eq!(arr[1], json!({"matchType": "BLAST_NO_MATCH"}));
    assert_eq!(arr[4], json!({"matchType": "BLAST_NO_MATCH"}));
    assert_eq!(arr[0], arr[5]);
    assert!(
        arr[0]["sequenceLength"].is_null(),
        "batch answers carry no sequenceLength"
    );
    // Each element equals the single answer for that sequence (minus sequenceLength).
    for (i, s) in batch.iter().enumerate() {
        let mut one = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": s}))
            .await
            .json();
        if let Some(o) = one.as_object_mut() {
            o.remove("sequenceLength");
        }
        assert_eq!(arr[i], one, "element {i}");
    }
}

#[tokio::test]
async fn blast_validation_errors_keep_blast_ws_text() {
    let app = app();
    let seq = random_seq(3);
    for uri in ["/blast", "/blast/batch"] {
        let r = post_json(&app, uri, &json!({"sequence": seq})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "No marker given");
        let r = post_json(&app, uri, &json!({"marker": "XYZ", "sequence": seq})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "Unsupported marker");
        // A blast-ws marker with no library in this index: no match, not an error (batch clients go on).
        let r = post_json(&app, uri, &json!({"marker": "COI", "sequence": seq})).await;
        assert_eq!(r.status, StatusCode::OK);
        let body = r.json();
        let first = if uri == "/blast" { &body } else { &body[0] };
        assert_eq!(first["matchType"], "BLAST_NO_MATCH", "{uri}: {body}");
        let r = post_json(&app, uri, &json!({"marker": "ITS"})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "No sequence given");
    }
    let r = get(&app, "/blast?sequence=ACGT").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "No marker given");
    // A library name is a marker too.
    let r = post_json(&app, "/blast", &json!({"marker": "refSeq-oomycITS", "sequence": seq})).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = app();
    let r = post_raw(&app, "/blast", "application/json", "{\"marker\": \"12S\",".into()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = post_raw(&app, "/v1/search", "application/json", "[1,2]".into()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = post_raw(&app, "/blast", "application/x-www-form-urlencoded", "marker=12S".into()).await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = get(&app, "/v1/occurrence/search?limit=abc").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = get(&app, "/nope").await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = send(&app, Request::delete("/blast").body(Body::empty()).expect("request")).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn oversized_requests_get_413() {
    let app = app_with(ServeConfig {
        max_batch: 3,
        json_limit: 4096,
        ..config()
    });
    let seqs: Vec<String> = (0..4).map(random_seq).collect();
    let r = post_json(&app, "/blast/batch", &json!({"marker": "12S", "sequence": seqs})).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let r = post_json(&app, "/v1/search", &json!({"sequences": seqs})).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let big = "A".repeat(5000);
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": big})).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // Within the cap the batch works.
    let r = post_json(&app, "/blast/batch", &json!({"marker": "12S", "sequence": &seqs[..3]})).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn busy_service_answers_503_with_retry_after() {
    let app = app_with(ServeConfig {
        max_in_flight: 0,
        ..config()
    });
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": random_seq(4)})).await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "Server busy, please try again later",
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    let r = post_json(&app, "/v1/search", &json!({"sequence": random_seq(4)})).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // Cheap endpoints are not limited.
    assert_eq!(get(&app, "/health").await.status, StatusCode::OK);
    let m = get(&app, "/metrics").await.text();
    assert!(m.contains("edna_http_rejected_total 2"), "{m}");
}

#[tokio::test]
async fn full_service_refuses_instead_of_queuing() {
    let app = app_with(ServeConfig {
        max_in_flight: 1,
        ..config()
    });
    // A streamed search holds its slot while its body is open: a deterministic way to fill the service.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    }));
    let req = Request::post("/v1/search/stream")
        .header(header::CONTENT_TYPE, "text/x-fasta")
        .body(body)
        .expect("request");
    let streaming = app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(streaming.status(), StatusCode::OK);
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": random_seq(6)})).await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "Server busy, please try again later",
    );
    assert_eq!(
        r.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
        Some("1")
    );
    // Finish the stream: its slot comes back.
    tx.send(Ok(axum::body::Bytes::from(format!(">q\n{}\n", random_seq(8)))))
        .await
        .expect("send");
    drop(tx);
    let out = axum::body::to_bytes(streaming.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(String::from_utf8_lossy(&out).lines().count(), 1);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": random_seq(6)}))
            .await
            .status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn slow_searches_time_out_with_503() {
    let app = app_with(ServeConfig {
        request_timeout: Duration::ZERO,
        ..config()
    });
    let seqs: Vec<String> = fixture_queries().into_iter().map(|q| q.1).take(200).collect();
    let r = post_json(&app, "/blast/batch", &json!({"marker": "12S", "sequence": seqs})).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "timeout");
}

#[tokio::test]
async fn native_search_with_taxon() {
    let app = app();
    let (seq, _) = reference_sequences();
    let body = json!({"sequences": [{"id": "ref", "sequence": seq}, {"id": "rnd", "sequence": random_seq(5)}, "ACGT"],
        "include": ["taxon", "alignment", "occurrences"], "minIdentity": 97});
    let r = post_json(&app, "/v1/search", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let res = v["results"].as_array().expect("results");
    assert_eq!(res.len(), 3);
    assert_eq!(res[0]["id"], "ref");
    assert_eq!(res[0]["status"], "ok");
    assert!(res[0]["exactMatch"]["nucleotideSequenceID"].is_string());
    let hit = &res[0]["hits"][0];
    assert_eq!(hit["identity"], 100.0);
    assert_eq!(hit["nucleotideSequenceID"], res[0]["nucleotideSequenceID"]);
    assert!(hit["references"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(hit["alignment"]["cigar"].is_string());
    assert!(hit["occurrences"].is_array());
    let taxon = &res[0]["taxon"];
    let mt = taxon["matchType"].as_str().unwrap_or("");
    assert!(mt == "BLAST_EXACT_MATCH" || mt == "BLAST_AMBIGUOUS_MATCH", "{taxon}");
    assert!(taxon["taxon"]["name"].is_string(), "{taxon}");
    assert_eq!(res[1]["status"], "no_hits");
    assert_eq!(res[1]["taxon"]["matchType"], "BLAST_NO_MATCH");
    assert_eq!(res[2]["status"], "invalid");
    assert!(res[2]["message"].is_string());
    assert_eq!(v["params"]["minIdentity"], 0.97);

    let r = post_json(&app, "/v1/search", &json!({"sequence": seq, "target": "everything"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = post_json(&app, "/v1/search", &json!({"minIdentity": 0.9})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "no_sequence");
    let r = post_json(&app, "/v1/search", &json!({"sequence": seq, "marker": "COI"})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "unsupported_marker");
}

#[tokio::test]
async fn validation_matches_gbif_vector() {
    let app = app();
    let r = get(&app, "/v1/validation/sequence?sequence=ACGT-ACGT..ACGTACGT").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["sequence"], "ACGTACGTACGTACGT");
    assert_eq!(v["nucleotideSequenceID"], "56b74a652b3ed2f610263b8bb423167c");
    assert_eq!(v["gapsOrWhitespaceRemoved"], true);
    assert_eq!(v["invalid"], false);
    assert_error(
        &get(&app, "/v1/validation/sequence").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
}

#[tokio::test]
async fn sequence_taxon_and_dataset_lookups() {
    let app = app();
    let (seq, _) = reference_sequences();
    let id = edna_seq::normalize::md5_hex(seq.as_bytes());
    let r = get(&app, &format!("/v1/sequence/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["sequence"], seq);
    assert!(v["references"].as_array().is_some_and(|r| !r.is_empty()));
    let key = v["references"][0]["taxon"]["key"].as_u64().expect("taxon key");
    assert_error(
        &get(&app, &format!("/v1/sequence/{}", "0".repeat(32))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&app, "/v1/sequence/xyz").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    let t = get(&app, &format!("/v1/taxon/{key}")).await.json();
    assert_eq!(t["key"], key);
    assert!(t["lineage"]
        .as_array()
        .is_some_and(|l| l.last().is_some_and(|x| x["key"] == key)));
    assert!(t["occurrenceCount"].is_u64());
    assert_error(
        &get(&app, "/v1/taxon/999999999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let name = t["name"].as_str().unwrap_or("").to_string();
    let found = get(&app, &format!("/v1/taxon?name={}", name.replace(' ', "%20")))
        .await
        .json();
    assert!(found["count"].as_u64().is_some_and(|n| n >= 1));

    let d = get(&app, "/v1/dataset").await.json();
    assert_eq!(d["count"], 2);
    let dkey = d["results"][0]["key"].as_str().expect("key").to_string();
    let one = get(&app, &format!("/v1/dataset/{dkey}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    assert_eq!(one.json()["key"], dkey.as_str());
    assert_error(&get(&app, "/v1/dataset/nope").await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn occurrence_search_uses_gbif_paging() {
    let app = app();
    let v = get(&app, "/v1/occurrence/search?limit=5").await.json();
    assert_eq!(v["count"], 527);
    assert_eq!(v["offset"], 0);
    assert_eq!(v["limit"], 5);
    assert_eq!(v["endOfRecords"], false);
    assert_eq!(v["results"].as_array().map(Vec::len), Some(5));
    assert_eq!(v["facets"], json!([]));
    let first = &v["results"][0];
    for k in [
        "occurrenceID",
        "datasetKey",
        "scientificName",
        "eventDate",
        "nucleotideSequence",
    ] {
        assert!(!first[k].is_null(), "{k} in {first}");
    }
    let v = get(&app, "/v1/occurrence/search?limit=5&offset=525").await.json();
    assert_eq!(v["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["endOfRecords"], true);
    assert_eq!(get(&app, "/v1/occurrence/search?limit=1000").await.json()["limit"], 300);

    // By sequence: an occurrence's own sequence comes back first at 100 % identity.
    let seq = first["nucleotideSequence"][0]["sequence"]
        .as_str()
        .expect("sequence")
        .to_string();
    let nsid = first["nucleotideSequence"][0]["nucleotideSequenceID"]
        .as_str()
        .expect("id")
        .to_string();
    let v = get(
        &app,
        &format!("/v1/occurrence/search?sequence={seq}&minIdentity=0.9&facet=datasetKey"),
    )
    .await
    .json();
    assert!(v["count"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert_eq!(v["results"][0]["identity"], 100.0);
    assert_eq!(v["query"]["nucleotideSequenceID"], nsid);
    assert_eq!(v["facets"][0]["field"], "DATASET_KEY");
    // By nucleotideSequenceID (GBIF's parameter name), and by dataset.
    let by_id = get(
        &app,
        &format!("/v1/occurrence/search?nucleotideSequence.nucleotideSequenceID={nsid}"),
    )
    .await
    .json();
    assert!(by_id["results"].as_array().is_some_and(|r| r
        .iter()
        .all(|x| x["nucleotideSequence"][0]["nucleotideSequenceID"] == nsid.as_str())));
    let dkey = first["datasetKey"].as_str().expect("dataset");
    let by_ds = get(&app, &format!("/v1/occurrence/search?datasetKey={dkey}&limit=0"))
        .await
        .json();
    assert!(by_ds["count"].as_u64().is_some_and(|n| n > 0 && n < 527));
    // by=taxon with a reference sequence: the envelope carries the assignment.
    let (rseq, _) = reference_sequences();
    let v = get(&app, &format!("/v1/occurrence/search?sequence={rseq}&by=taxon"))
        .await
        .json();
    assert!(v["taxon"]["taxon"]["name"].is_string(), "{v}");
    assert!(v["count"].is_u64());
    let r = get(&app, "/v1/occurrence/search?sequence=aaaa").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_sequence");
    let r = get(&app, "/v1/occurrence/search?by=taxon").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");

    // Occurrences by the taxon assigned to their sequence at build time (when the build assigned any).
    let page = get(&app, "/v1/occurrence/search?limit=300&includeSequence=false")
        .await
        .json();
    let assigned = page["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["nucleotideSequence"].as_array().cloned().unwrap_or_default())
        .find_map(|d| d["assignedTaxon"]["name"].as_str().map(str::to_string));
    if let Some(name) = assigned {
        let v = get(
            &app,
            &format!("/v1/occurrence/search?assignedTaxon={}", name.replace(' ', "%20")),
        )
        .await
        .json();
        assert!(v["count"].as_u64().is_some_and(|n| n >= 1), "{name}: {v}");
    }
}

#[tokio::test]
async fn sequence_search_ws_compatibility() {
    let app = app();
    let dbs = get(&app, "/databases").await.json();
    assert!(dbs
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x["db"] == "meta-fish-lib.udb")));
    let (seq, _) = reference_sequences();
    let v = post_json(
        &app,
        "/search",
        &json!({"database": "meta-fish-lib.udb", "sequence": seq}),
    )
    .await
    .json();
    assert!(v["matchType"].as_str().is_some_and(|m| m.starts_with("BLAST_")), "{v}");
    assert_eq!(v["qstart"], 1);
    assert!(v["alignment"].as_str().is_some_and(|a| a.starts_with(" Query")));
    let v = post_json(
        &app,
        "/search/batch",
        &json!({"database": "meta-fish-lib", "sequence": [seq, random_seq(9)], "outformat": "blast6out"}),
    )
    .await
    .json();
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 2);
    assert!(arr[0]["alignment"].is_null());
    assert_eq!(arr[1], json!({"matchType": "BLAST_NO_MATCH"}));
    let r = post_json(
        &app,
        "/search",
        &json!({"database": "meta-fish-lib", "sequence": [seq], "outformat": "blast6"}),
    )
    .await;
    assert!(r.text().split('\t').count() >= 12, "{}", r.text());
    let r = post_json(&app, "/search", &json!({"database": "nope.udb", "sequence": seq})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "Unknown database");
}

#[tokio::test]
async fn streamed_fasta_search() {
    let app = app();
    let q = fixture_queries();
    let fasta: String = q.iter().take(5).map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    let r = post_raw(&app, "/v1/search/stream?minIdentity=0.9", "text/x-fasta", fasta).await;
    assert_eq!(r.status, StatusCode::OK);
    let lines: Vec<Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    for (l, (id, _)) in lines.iter().zip(&q) {
        assert_eq!(l["id"], id.as_str());
    }
    let r = post_raw(
        &app,
        "/v1/search/stream?format=tsv",
        "text/plain",
        ">a\nACGTACGTAC\n>b\nnot fasta at all >\n".into(),
    )
    .await;
    assert!(r.text().starts_with("qseqid\t"));
    let r = post_raw(&app, "/v1/search/stream", "application/json", "{}".into()).await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

/// `POST /v1/search/batch` takes the FASTA as the body or as the file of a form upload (what a browser's
/// file input sends), and picks the output format by `format` or, without it, by `Accept`.
#[tokio::test]
async fn batch_search_takes_form_uploads_and_honours_accept() {
    let app = app();
    let q = fixture_queries();
    let fasta: String = q.iter().take(3).map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    let plain = post_raw(&app, "/v1/search/batch?minIdentity=0.9", "text/x-fasta", fasta.clone()).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.text().lines().count(), 3, "{}", plain.text());

    // A form with a text field first, then the file: the same answer as the plain body.
    let boundary = "----edna-test-boundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nnot sequences\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"asvs.fasta\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{fasta}\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let uploaded = post_raw(&app, "/v1/search/batch?minIdentity=0.9", &ct, form.clone()).await;
    assert_eq!(uploaded.status, StatusCode::OK);
    assert_eq!(uploaded.text(), plain.text());

    // A form without a file part, a truncated form and a form without a boundary: clear errors.
    let no_file =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--{boundary}--\r\n");
    let r = post_raw(&app, "/v1/search/batch", &ct, no_file).await;
    assert!(r.text().contains("no file part"), "{}", r.text());
    let r = post_raw(&app, "/v1/search/batch", &ct, form[..form.len() / 2].to_string()).await;
    assert!(r.text().contains("\"error\""), "{}", r.text());
    let r = post_raw(&app, "/v1/search/batch", "multipart/form-data", fasta.clone()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");

    // Accept chooses the format when `format` is absent; `format` wins over it.
    for (accept, first) in [("text/tab-separated-values", "qseqid\t"), ("application/x-ndjson", "{")] {
        let req = Request::post("/v1/search/batch?minIdentity=0.9")
            .header(header::CONTENT_TYPE, "text/x-fasta")
            .header(header::ACCEPT, accept)
            .body(Body::from(fasta.clone()))
            .expect("request");
        let r = send(&app, req).await;
        assert!(r.text().starts_with(first), "{accept}: {}", r.text());
    }
    let req = Request::post("/v1/search/batch?format=blast6&minIdentity=0.9")
        .header(header::CONTENT_TYPE, "text/x-fasta")
        .header(header::ACCEPT, "text/tab-separated-values")
        .body(Body::from(fasta))
        .expect("request");
    let r = send(&app, req).await;
    assert!(!r.text().starts_with("qseqid"), "{}", r.text());
    assert_eq!(
        r.text().lines().next().map(|l| l.split('\t').count()),
        Some(12),
        "{}",
        r.text()
    );
}

/// Where `value` breaks the OpenAPI 3.0 `schema` (the subset the document uses: `$ref`, `allOf`, `type`,
/// `nullable`, `properties`, `items`), if anywhere.
fn schema_violation(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return schema_violation(doc, &doc["components"]["schemas"][name], value, at);
    }
    if value.is_null() {
        let constrained = schema.get("type").is_some() || schema.get("allOf").is_some();
        return (constrained && schema["nullable"] != true).then(|| format!("{at}: null where {schema}"));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        if let Some(v) = schema_violation(doc, part, value, at) {
            return Some(v);
        }
    }
    let typed = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(_) => true,
    };
    if !typed {
        return Some(format!("{at}: {value} is not of type {}", schema["type"]));
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for (k, v) in obj {
            if let Some(s) = props.get(k) {
                if let Some(found) = schema_violation(doc, s, v, &format!("{at}.{k}")) {
                    return Some(found);
                }
            }
        }
    }
    if let Some(items) = value.as_array() {
        for (i, v) in items.iter().enumerate() {
            if let Some(found) = schema_violation(doc, &schema["items"], v, &format!("{at}[{i}]")) {
                return Some(found);
            }
        }
    }
    None
}

/// `/v1/search` answers what `/openapi.json` documents, for valid and invalid queries with everything
/// included (an invalid query's assignment has no taxon: schemathesis found it documented as never null).
#[tokio::test]
async fn search_answers_match_the_openapi_document() {
    let app = app();
    let doc = get(&app, "/openapi.json").await.json();
    let schema = &doc["paths"]["/v1/search"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{schema}");
    let q = fixture_queries();
    let sequences: Vec<Value> = q
        .iter()
        .take(3)
        .map(|(id, s)| json!({"id": id, "sequence": s}))
        .chain([
            json!({"id": "short", "sequence": "a"}),
            json!({"id": "text", "sequence": "UNMERGED"}),
        ])
        .collect();
    let body = json!({"sequences": sequences, "minIdentity": 0.9, "include": ["alignment", "occurrences", "taxon"]});
    let r = post_json(&app, "/v1/search", &body).await;
    assert_eq!(r.status, StatusCode::OK);
    let answer = r.json();
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(5));
    assert_eq!(schema_violation(&doc, schema, &answer, "$"), None);
    // And the occurrence search by the sequence of the first occurrence, with facets.
    let schema =
        &doc["paths"]["/v1/occurrence/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{schema}");
    let first = get(&app, "/v1/occurrence/search?limit=1").await.json();
    let seq = first["results"][0]["nucleotideSequence"][0]["sequence"]
        .as_str()
        .expect("sequence")
        .to_string();
    let r = get(
        &app,
        &format!("/v1/occurrence/search?sequence={seq}&minIdentity=0.9&facet=datasetKey"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json()["results"].as_array().is_some_and(|a| !a.is_empty()),
        "{}",
        r.text()
    );
    assert_eq!(schema_violation(&doc, schema, &r.json(), "$"), None);
}

#[tokio::test]
async fn openapi_metrics_cors_and_page() {
    let app = app();
    let doc = get(&app, "/openapi.json").await.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.0")));
    for p in [
        "/blast",
        "/blast/batch",
        "/search",
        "/v1/search",
        "/v1/occurrence/search",
        "/v1/validation/sequence",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    let _ = get(&app, "/health").await;
    let m = get(&app, "/metrics").await;
    assert!(
        m.text()
            .contains("edna_http_requests_total{route=\"/health\",status=\"200\"}"),
        "{}",
        m.text()
    );
    assert!(m.text().contains("edna_http_request_duration_seconds_bucket"));
    let pre = Request::builder()
        .method(Method::OPTIONS)
        .uri("/blast")
        .header(header::ORIGIN, "https://example.org")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .expect("request");
    let r = send(&app, pre).await;
    assert_eq!(
        r.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("/v1/search"));
}

/// Sends `parts` on one connection, pausing `pause` between them, and reads the whole response.
fn exchange(addr: std::net::SocketAddr, parts: &[&[u8]], pause: Duration) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        conn.write_all(p).expect("write");
    }
    let mut res = String::new();
    conn.read_to_string(&mut res).expect("read");
    res
}

#[tokio::test]
async fn serves_over_a_socket_and_shuts_down_gracefully() {
    let state = AppState::new(index(), &config()).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, state, async move {
        let _ = stopped.await;
    }));
    let (seq, _) = reference_sequences();
    let body = json!({"marker": "12S", "sequence": seq}).to_string();
    let req = format!(
        "POST /blast HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // Plain blocking clients on their own threads: the server runs on this test's runtime.
    let res = tokio::task::spawn_blocking(move || exchange(addr, &[req.as_bytes()], Duration::ZERO))
        .await
        .expect("client");
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    let json_body = res.split("\r\n\r\n").nth(1).expect("body");
    let v: Value = serde_json::from_str(json_body).expect("json");
    assert_eq!(v["identity"], 100.0);

    // A request in flight when shutdown starts still gets its whole answer: the body is sent in two
    // parts, with the shutdown signal in between.
    let fasta = format!(">late\n{seq}\n");
    let head = format!(
        "POST /v1/search/stream HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/x-fasta\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        fasta.len()
    );
    let (first, rest) = fasta.split_at(10);
    let (first, rest) = (format!("{head}{first}"), rest.to_string());
    let client = tokio::task::spawn_blocking(move || {
        exchange(addr, &[first.as_bytes(), rest.as_bytes()], Duration::from_millis(300))
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop.send(());
    let res = client.await.expect("client");
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains("\"id\":\"late\""), "{res}");
    let done = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("shut down in time");
    assert!(matches!(done, Ok(Ok(()))));
}

#[tokio::test]
async fn admin_reload_in_process() {
    // Disabled unless a token is configured.
    let r = post_raw(&app(), "/admin/reload", "application/json", String::new()).await;
    assert_error(&r, StatusCode::FORBIDDEN, "admin_disabled");

    let token = "in-process-token-0123456789";
    let config = ServeConfig {
        admin_token: Some(edna_search::http::AdminToken::new(token).expect("token")),
        ..config()
    };
    let app = app_with(config);
    let r = post_raw(&app, "/admin/reload", "application/json", String::new()).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    let req = |auth: String| {
        Request::post("/admin/reload?verify=full")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request")
    };
    let r = send(&app, req("Bearer wrong-token-0123456789".into())).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let before = get(&app, "/v1/index").await.json();
    assert_eq!(before["generation"], 1);
    let r = send(&app, req(format!("Bearer {token}"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["generation"], 2);
    assert_eq!(v["verified"], "full");
    assert_eq!(v["buildId"], before["buildId"]);
    let after = get(&app, "/v1/index").await.json();
    assert_eq!(after["generation"], 2);
    assert_eq!(after["sequences"], before["sequences"]);
    let m = get(&app, "/metrics").await.text();
    assert!(m.contains("edna_index_reloads_total 1"), "{m}");
    // The new generation searches.
    let (seq, _) = reference_sequences();
    let r = post_json(&app, "/v1/search", &json!({"sequence": seq})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Reads until the server closes the connection (FIN or reset), failing if it is still open after 30 s.
fn read_until_closed(conn: &mut std::net::TcpStream) -> String {
    use std::io::{ErrorKind, Read};
    conn.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => break,
            Err(e) => panic!(
                "the server kept the connection open ({e}); got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends `data`, then nothing more, and returns what the server answered before closing.
fn send_then_stall(addr: std::net::SocketAddr, data: &[u8]) -> String {
    use std::io::Write;
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.write_all(data).expect("write");
    read_until_closed(&mut conn)
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    // Short limits; the client side allows 30 s, far more than any of them needs on a loaded machine.
    let config = ServeConfig {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..config()
    };
    let state = AppState::new(index(), &config).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, state, async move {
        let _ = stopped.await;
    }));
    let (seq, _) = reference_sequences();
    tokio::task::spawn_blocking(move || {
        // Half a request head: closed without an answer.
        let r = send_then_stall(addr, b"GET /health HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n");
        assert!(r.is_empty(), "{r}");
        // A connection that sends nothing at all.
        assert!(send_then_stall(addr, b"").is_empty());
        // Half a JSON body: 408 with a JSON error, then closed.
        let body = json!({"sequence": seq}).to_string();
        let head = format!(
            "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let r = send_then_stall(addr, format!("{head}{}", &body[..10]).as_bytes());
        assert!(r.starts_with("HTTP/1.1 408"), "{r}");
        assert!(r.contains("\"error\":\"request_timeout\""), "{r}");
        assert!(r.to_ascii_lowercase().contains("connection: close"), "{r}");
        // Half a streamed FASTA body: the stream ends with an error line, then the connection closes.
        let fasta = format!(">q\n{seq}\n");
        let head = format!(
            "POST /v1/search/stream HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-fasta\r\nContent-Length: {}\r\n\r\n",
            fasta.len()
        );
        let r = send_then_stall(addr, format!("{head}{}", &fasta[..8]).as_bytes());
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("\"error\""), "{r}");

        // A client dripping one byte of JSON every 300 ms never waits out the 1 s idle limit, but the
        // whole body is due within 1 s: it is cut off long before it could finish (1,000 bytes ≈ 5 min).
        let head =
            "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
        let mut conn = std::net::TcpStream::connect(addr).expect("connect");
        let mut reader = conn.try_clone().expect("clone");
        let answer = std::thread::spawn(move || read_until_closed(&mut reader));
        use std::io::Write;
        conn.write_all(head.as_bytes()).expect("write");
        for _ in 0..100 {
            if answer.is_finished() || conn.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let r = answer.join().expect("reader");
        assert!(r.is_empty() || r.starts_with("HTTP/1.1 408"), "{r}");

        // The server still answers normal requests.
        let r = exchange(
            addr,
            &[b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
            Duration::ZERO,
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    })
    .await
    .expect("clients");
    let _ = stop.send(());
    let done = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("shut down in time");
    assert!(matches!(done, Ok(Ok(()))));
}

/// Hostile bodies get a clear 4xx or a per-query status, never a 5xx, a crash or a hang: invalid UTF-8,
/// JSON nested far deeper than any request, a 10 MB single sequence, and a streamed batch of a million
/// sequences (answered in full, in input order).
#[tokio::test]
async fn hostile_bodies_get_clear_answers() {
    let app = app();
    let mut bad_utf8 = b"{\"sequence\": \"ACGT".to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad_utf8.extend_from_slice(b"\"}");
    let req = Request::post("/v1/search")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bad_utf8))
        .expect("request");
    let r = send(&app, req).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");

    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let r = post_raw(&app, "/blast", "application/json", deep).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");

    // 10 MB of bases fits the 16 MB JSON limit and is refused per query, by the query-length limit.
    let huge = "ACGT".repeat(2_500_000);
    let r = post_json(&app, "/v1/search", &json!({"sequence": huge})).await;
    assert_eq!(r.status, StatusCode::OK);
    let result = &r.json()["results"][0];
    assert_eq!(result["status"], "invalid", "{result}");
    assert!(
        result["message"].as_str().is_some_and(|m| m.contains("exceeds")),
        "{result}"
    );
    let r = post_json(&app, "/blast", &json!({"marker": "12S", "sequence": huge})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["matchType"], "BLAST_NO_MATCH");

    // A million sequences in one streamed call: one row each, in input order.
    const N: usize = 1_000_000;
    let mut fasta = String::with_capacity(N * 24);
    for i in 0..N {
        fasta.push_str(&format!(">q{i}\nACGTTGCAAC\n"));
    }
    let r = post_raw(&app, "/v1/search/stream?format=tsv", "text/x-fasta", fasta).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    let mut rows = text.lines();
    assert!(rows.next().is_some_and(|h| h.starts_with("qseqid\t")));
    let mut n = 0;
    for (i, row) in rows.enumerate() {
        assert!(row.starts_with(&format!("q{i}\t")), "row {i}: {row}");
        n += 1;
    }
    assert_eq!(n, N);
}

/// A query GBIF's normaliser trims (leading `NNN`) reports its whole form, and hits on occurrence sequences,
/// which are stored normalised, say so; positions are on the query as given.
#[tokio::test]
async fn a_trimmed_query_reports_the_form_its_hits_are_on() {
    let app = app();
    let mut asv = String::new();
    for (_, q) in fixture_queries() {
        let r = post_json(&app, "/v1/search", &json!({"sequence": q, "target": "occurrences"})).await;
        if r.json()["results"][0]["hits"][0]["identity"] == 100.0 {
            asv = q;
            break;
        }
    }
    assert!(!asv.is_empty(), "no fixture query is an occurrence sequence");
    let given = format!("NNN{asv}");
    let body = json!({"sequence": given, "target": "occurrences", "minIdentity": 0.97, "include": ["alignment"]});
    let r = post_json(&app, "/v1/search", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let res = &r.json()["results"][0];
    assert_eq!(res["sequence"], asv.to_ascii_uppercase());
    assert_eq!(res["queryAsGiven"], given.to_ascii_uppercase());
    let hit = &res["hits"][0];
    assert_eq!(hit["normalisedQuery"], true, "{res}");
    assert_eq!((&hit["identity"], &hit["qstart"]), (&json!(100.0), &json!(4)), "{hit}");
    assert_eq!(hit["qend"], asv.len() + 3);
    // An untouched query carries neither field.
    let r = post_json(&app, "/v1/search", &json!({"sequence": asv})).await;
    let res = &r.json()["results"][0];
    assert!(
        res.get("queryAsGiven").is_none() && res["hits"][0].get("normalisedQuery").is_none(),
        "{res}"
    );
}
