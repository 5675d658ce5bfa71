//! `POST /v1/search/batch` (also served as `/v1/search/stream`): a FASTA/FASTQ body of any size (up to
//! `stream_limit`), sent as is or as the file of a `multipart/form-data` upload, searched as it arrives, results
//! streamed back in input order as JSON lines, TSV or BLAST tabular (by `format`, else by `Accept`) — the
//! CLI's batch output.
//!
//! Memory stays bounded whatever the size: the body is read through a small channel by a parser thread,
//! records go to the search threads in batches of [`BATCH`], and output chunks leave through another small
//! channel, so a slow client slows the search instead of filling memory. A client that disconnects stops
//! the work at the next batch. Errors after the first byte (malformed record, body over the limit) can no
//! longer change the status: they end the stream with an error line in the output format.

use std::io::{self, Read};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::error::ApiError;
use super::extract::{content_length, over_limit, Params};
use super::native::{fraction, known_marker};
use super::AppState;
use crate::output::{self, Format};
use crate::search::{assign, RankThresholds, SearchParams, Strand, Target};

/// Records searched per round trip to the search threads.
const BATCH: usize = 256;

/// A blocking reader over body chunks arriving on a channel.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// The error line that ends a stream, in the output's format.
fn error_line(format: Format, code: &str, message: &str) -> Bytes {
    match format {
        Format::Json => Bytes::from(format!("{}\n", serde_json::json!({"error": code, "message": message}))),
        _ => Bytes::from(format!("# error: {code}: {}\n", message.replace('\n', " "))),
    }
}

/// Where the FASTA/FASTQ bytes of a request come from.
enum Upload {
    /// The body itself.
    Raw(axum::body::BodyDataStream),
    /// A form upload (boxed: a parser and a field are large).
    Form(Box<FormUpload>),
}

/// A `multipart/form-data` body and, once found, its file part.
struct FormUpload {
    parts: multer::Multipart<'static>,
    file: Option<multer::Field<'static>>,
}

/// Form fields taken as the sequences when no part carries a file name.
const SEQUENCE_FIELDS: [&str; 3] = ["file", "fasta", "sequences"];

impl Upload {
    /// The next chunk of sequence bytes; `None` at the end. Of a form, only the first part with a file name
    /// (or named as in [`SEQUENCE_FIELDS`]) is read.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            Upload::Raw(body) => match body.next().await {
                None => Ok(None),
                Some(Ok(b)) => Ok(Some(b)),
                Some(Err(_)) => Err("could not read the request body".into()),
            },
            Upload::Form(form) => loop {
                if let Some(f) = &mut form.file {
                    return f.chunk().await.map_err(form_error);
                }
                match form.parts.next_field().await {
                    Ok(Some(f)) => {
                        let wanted = f.file_name().is_some()
                            || f.name()
                                .is_some_and(|n| SEQUENCE_FIELDS.iter().any(|w| n.eq_ignore_ascii_case(w)));
                        if wanted {
                            form.file = Some(f);
                        }
                    }
                    Ok(None) => {
                        return Err(format!(
                            "the multipart body has no file part (a part with a filename, or named {})",
                            SEQUENCE_FIELDS.join(", ")
                        ))
                    }
                    Err(e) => return Err(form_error(e)),
                }
            },
        }
    }
}

/// The message of a form upload that cannot be read.
fn form_error(e: multer::Error) -> String {
    match e {
        multer::Error::StreamSizeExceeded { limit } => over_limit(limit),
        e => format!("malformed multipart body: {e}"),
    }
}

/// The output format an `Accept` header asks for, if it names one.
fn format_accepted(accept: &str) -> Option<Format> {
    accept.split(',').find_map(|range| {
        match range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "application/x-ndjson" | "application/jsonl" | "application/json" => Some(Format::Json),
            "text/tab-separated-values" | "text/tsv" => Some(Format::Tsv),
            "text/x-blast6" => Some(Format::Blast6),
            _ => None,
        }
    })
}

/// `POST /v1/search/batch?format=json|tsv|blast6&minIdentity=&minCoverage=&maxHits=&marker=&target=&strand=&include=taxon`
/// with a FASTA or FASTQ body, or a `multipart/form-data` body whose file part holds one.
pub async fn search_batch(state: AppState, params: Params, req: Request) -> Result<Response, ApiError> {
    let limit = state.limits().stream_limit;
    let mut form_boundary = None;
    if let Some(ct) = super::extract::media_type(req.headers()) {
        if ct == "multipart/form-data" {
            let full = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            form_boundary = Some(
                multer::parse_boundary(full)
                    .map_err(|_| ApiError::bad_request("multipart/form-data without a boundary parameter"))?,
            );
        } else {
            let ok = ct.starts_with("text/")
                || matches!(
                    ct.as_str(),
                    "" | "application/octet-stream" | "application/x-fasta" | "application/x-fastq"
                );
            if !ok {
                return Err(ApiError::unsupported_media(format!(
                    "expected a FASTA/FASTQ body (text/plain, application/x-fasta or a multipart/form-data \
                     upload), got {ct:?}; JSON goes to POST /v1/search"
                )));
            }
        }
    }
    if req
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity")
    {
        return Err(ApiError::unsupported_media(
            "compressed request bodies are not supported; send plain FASTA",
        ));
    }
    if content_length(req.headers()).is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(over_limit(limit)));
    }
    let accepted = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(format_accepted);
    let format = match params.get(&["format"]).map(str::to_ascii_lowercase).as_deref() {
        None => accepted.unwrap_or(Format::Json),
        Some("json") | Some("jsonl") | Some("ndjson") => Format::Json,
        Some("tsv") => Format::Tsv,
        Some("blast6") | Some("blast6out") => Format::Blast6,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "format must be json, tsv or blast6, got {f:?}"
            )))
        }
    };
    let target = match params.get(&["target"]).map(str::to_ascii_lowercase).as_deref() {
        None | Some("all") => Target::All,
        Some("references") => Target::References,
        Some("occurrences") => Target::Occurrences,
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "target must be references, occurrences or all, got {t:?}"
            )))
        }
    };
    let strand = match params.get(&["strand"]).map(str::to_ascii_lowercase).as_deref() {
        None | Some("both") => Strand::Both,
        Some("plus") => Strand::Plus,
        Some(s) => return Err(ApiError::bad_request(format!("strand must be both or plus, got {s:?}"))),
    };
    let marker = match params.get(&["marker"]) {
        Some(m) => Some(known_marker(&state, m)?),
        None => None,
    };
    let with_taxon = params
        .all(&["include"])
        .iter()
        .any(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case("taxon")));
    let search = Arc::new(SearchParams {
        min_identity: fraction("minIdentity", params.number(&["minIdentity"])?.unwrap_or(0.97))?,
        min_coverage: fraction("minCoverage", params.number(&["minCoverage"])?.unwrap_or(0.5))?,
        max_hits: params.number(&["maxHits"])?.unwrap_or(100),
        marker,
        strand,
        target,
        with_alignment: false,
        find_reference_hits: with_taxon,
        ..SearchParams::default()
    });
    let slot = state.admit()?;

    // Body → parser thread.
    let (body_tx, body_rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let body = req.into_body().into_data_stream();
    let mut upload = match form_boundary {
        Some(boundary) => {
            // The whole form counts against the limit, not only the file part.
            let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit));
            Upload::Form(Box::new(FormUpload {
                parts: multer::Multipart::with_constraints(body, boundary, constraints),
                file: None,
            }))
        }
        None => Upload::Raw(body),
    };
    let idle = state.limits().body_timeout;
    tokio::spawn(async move {
        let mut total: u64 = 0;
        loop {
            // A client that stops sending must not hold a search slot forever.
            let chunk = match tokio::time::timeout(idle, upload.next_chunk()).await {
                Ok(Ok(Some(c))) => Ok(c),
                Ok(Ok(None)) => return,
                Ok(Err(msg)) => Err(io::Error::other(msg)),
                Err(_) => {
                    let msg = format!("no request data for {} s", idle.as_secs());
                    let _ = body_tx.send(Err(io::Error::new(io::ErrorKind::TimedOut, msg))).await;
                    return;
                }
            };
            let item = match chunk {
                Ok(b) => {
                    total += b.len() as u64;
                    if total > limit {
                        let _ = body_tx.send(Err(io::Error::other(over_limit(limit)))).await;
                        return;
                    }
                    Ok(b)
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if body_tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });

    // Parser thread → batches of records.
    let (rec_tx, mut rec_rx) = mpsc::channel::<Result<Vec<(String, Vec<u8>)>, String>>(2);
    tokio::task::spawn_blocking(move || {
        let input = io::BufReader::with_capacity(
            1 << 16,
            ChannelReader {
                rx: body_rx,
                cur: Bytes::new(),
            },
        );
        let mut reader = edna_seq::fastx::Reader::new(input, "request body".into());
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match reader.next_record() {
                Some(Ok(r)) => {
                    batch.push((r.id, r.seq));
                    if batch.len() == BATCH && rec_tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    if !batch.is_empty() && rec_tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                        return;
                    }
                    let _ = rec_tx.blocking_send(Err(e.to_string()));
                    return;
                }
                None => {
                    if !batch.is_empty() {
                        let _ = rec_tx.blocking_send(Ok(batch));
                    }
                    return;
                }
            }
        }
    });

    // Batches → search threads → output chunks, in order.
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(4);
    let st = state.clone();
    tokio::spawn(async move {
        let _slot = slot;
        if format == Format::Tsv
            && out_tx
                .send(Bytes::from(format!("{}\n", output::TSV_HEADER)))
                .await
                .is_err()
        {
            return;
        }
        while let Some(batch) = rec_rx.recv().await {
            let batch = match batch {
                Ok(b) => b,
                Err(msg) => {
                    let _ = out_tx.send(error_line(format, "invalid_input", &msg)).await;
                    return;
                }
            };
            let search = Arc::clone(&search);
            let done = st
                .workers()
                .map(
                    batch,
                    Arc::new(move |s, (id, seq): (String, Vec<u8>)| {
                        let index = s.index();
                        let r = s.search(&id, &seq, &search);
                        let a = with_taxon
                            .then(|| assign(index, r.assignment_hits(), 0.5, &RankThresholds::default(), &[]));
                        let mut buf = Vec::new();
                        // Writing to a Vec cannot fail.
                        let _ = output::write_result(&mut buf, index, format, search.target, &r, a.as_ref());
                        (buf, r.hits.len())
                    }),
                )
                .await;
            let done = match done {
                Ok(d) => d,
                Err(e) => {
                    let _ = out_tx.send(error_line(format, &e.error, &e.message)).await;
                    return;
                }
            };
            st.count(done.len(), done.iter().map(|d| d.1).sum());
            let mut chunk = Vec::new();
            for (b, _) in done {
                chunk.extend_from_slice(&b);
            }
            if out_tx.send(Bytes::from(chunk)).await.is_err() {
                // The client went away: dropping the receivers stops the parser and the body reader.
                return;
            }
        }
    });

    let stream = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx))
    });
    let ctype = match format {
        Format::Json => "application/x-ndjson",
        _ => "text/tab-separated-values; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, ctype)], Body::from_stream(stream)).into_response())
}
