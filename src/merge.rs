//! Merging the search outputs of index shards (`build --shard i/n`) into the answer of the whole index.
//!
//! Design: every shard is searched on its own (`search --format json`, possibly on another machine,
//! e.g. one cluster job per shard), and `merge` combines the outputs. This was chosen over a
//! multi-index `search --index A --index B` fan-out because sharding exists to spread an index that does
//! not fit one machine: a fan-out would need every shard mapped in one process, while merging outputs
//! lets each shard be searched where it lives and keeps the search path untouched. JSON is the input
//! because it is the only output carrying the full sort key of a hit losslessly (identity and coverage
//! as shortest round-trip floats, the nucleotideSequenceID); blast6 prints identity to 3 decimals and
//! no digest, so it cannot be re-sorted exactly.
//!
//! Why the merge is exact: shards partition the distinct sequences; a hit is a (query, sequence) pair
//! whose alignment does not depend on other sequences; the documented order (identity desc, coverage
//! desc, nucleotideSequenceID asc) breaks ties by digest, not by an index's sequence ids, so it is the same
//! in every shard and in the whole index. With `max_hits` each shard
//! returns exactly its own top `max_hits`, and the global top `max_hits` lies in the union of those: shards
//! must be searched with `--max-hits 0` or at least the final value.
//!
//! What is not reproduced: the per-query taxon `assignment` of the JSON output needs every reference
//! hit with its lineage and ranks, which the outputs do not carry, so merged JSON has `"assignment":
//! null` (run `assign` on a whole index). `totalHits` is the sum over shards: exact when the shards were
//! searched with `--max-hits 0` (with a limit, a search stops counting below its top-k bar).

use std::io::{self, BufRead, Write};

use serde_json::{json, Value};

use crate::output::{Format, TSV_HEADER};

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no input to merge")]
    NoInput,
    /// Only blast6, tsv and json can be written.
    #[error("merge writes blast6, tsv or json, not {0:?}")]
    Format(Format),
    /// An input could not be read.
    #[error("{input}: {source}")]
    Read {
        /// Input label.
        input: String,
        /// The I/O error.
        source: io::Error,
    },
    /// An input line is not a `search --format json` result.
    #[error("{input}:{line}: {detail}")]
    Input {
        /// Input label.
        input: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        detail: String,
    },
    /// The inputs do not describe the same queries of disjoint shards.
    #[error("query {line}: {detail}")]
    Mismatch {
        /// 1-based query number.
        line: u64,
        /// What differs.
        detail: String,
    },
    /// Writing the output failed.
    #[error("writing merged output: {0}")]
    Write(io::Error),
}

/// One shard's output: a label for messages and its lines.
pub struct ShardOutput<R> {
    /// Name used in errors (usually the path).
    pub label: String,
    /// The `search --format json` output.
    pub reader: R,
}

/// What a merge wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct MergeStats {
    /// Queries merged.
    pub queries: u64,
    /// Sequence-level hits written (after `max_hits`).
    pub hits: u64,
}

/// One query as one shard reported it.
struct Part<'a> {
    value: Value,
    raw_hits: Vec<&'a str>,
}

/// One hit with its sort key and its text as the shard wrote it.
struct MergedHit<'a> {
    identity: f64,
    coverage: f64,
    md5: &'a str,
    raw: &'a str,
    value: &'a Value,
}

/// Merges the JSON-lines outputs of `inputs` (one per shard, same query file, any shard order) into
/// `out` in `format`, keeping `max_hits` hits per query (0 = all).
pub fn merge<R: BufRead>(
    inputs: &mut [ShardOutput<R>],
    format: Format,
    max_hits: usize,
    out: &mut dyn Write,
) -> Result<MergeStats, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInput);
    }
    if !matches!(format, Format::Blast6 | Format::Tsv | Format::Json) {
        return Err(MergeError::Format(format));
    }
    if format == Format::Tsv {
        writeln!(out, "{TSV_HEADER}").map_err(MergeError::Write)?;
    }
    let mut stats = MergeStats::default();
    let mut lines = vec![String::new(); inputs.len()];
    loop {
        let line_no = stats.queries + 1;
        let mut at_end = 0;
        for (input, line) in inputs.iter_mut().zip(lines.iter_mut()) {
            line.clear();
            let n = input.reader.read_line(line).map_err(|source| MergeError::Read {
                input: input.label.clone(),
                source,
            })?;
            if n == 0 {
                at_end += 1;
            }
        }
        if at_end == inputs.len() {
            break;
        }
        if at_end > 0 {
            return Err(MergeError::Mismatch {
                line: line_no,
                detail: "the inputs have different numbers of queries (outputs of different query files?)".into(),
            });
        }
        let mut parts = Vec::with_capacity(inputs.len());
        for (input, line) in inputs.iter().zip(&lines) {
            parts.push(parse_part(line.trim_end(), &input.label, line_no)?);
        }
        stats.hits += merge_query(&parts, line_no, format, max_hits, out)? as u64;
        stats.queries += 1;
    }
    out.flush().map_err(MergeError::Write)?;
    Ok(stats)
}

fn parse_part<'a>(line: &'a str, label: &str, line_no: u64) -> Result<Part<'a>, MergeError> {
    let bad = |detail: String| MergeError::Input {
        input: label.to_string(),
        line: line_no,
        detail,
    };
    if line.starts_with("qseqid") || !line.starts_with('{') {
        return Err(bad(
            "not a JSON result line: merge reads the output of `search --format json`".into(),
        ));
    }
    let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let raw_hits = raw_hits(line).ok_or_else(|| bad("no \"hits\" array".into()))?;
    let parsed = value.get("hits").and_then(Value::as_array).map_or(0, Vec::len);
    if parsed != raw_hits.len() || value.get("id").and_then(Value::as_str).is_none() {
        return Err(bad("not a search result (id and hits expected)".into()));
    }
    Ok(Part { value, raw_hits })
}

/// The elements of the top-level `"hits"` array of one JSON object, as written. Hits are copied
/// verbatim into merged JSON so their floats are never re-printed (serde_json's default parser may be
/// one ulp off on 17-digit numbers). Strings are skipped whole, so brackets or quotes inside them
/// cannot confuse it.
fn raw_hits(line: &str) -> Option<Vec<&str>> {
    let b = line.as_bytes();
    let (mut depth, mut i, mut start) = (0usize, 0usize, 0usize);
    let mut last_key = "";
    let mut in_hits = false;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'"' => {
                let s = i + 1;
                i += 1;
                while *b.get(i)? != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 {
                    last_key = line.get(s..i)?;
                }
            }
            open @ (b'{' | b'[') => {
                if depth == 1 && open == b'[' && last_key == "hits" {
                    in_hits = true;
                } else if in_hits && depth == 2 {
                    start = i;
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if in_hits && depth == 2 {
                    out.push(line.get(start..=i)?);
                } else if in_hits && depth == 1 {
                    return Some(out);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The length TSV reports for a query: of the form hit positions are on (see `output::write_result`).
fn query_len(query: &Value) -> usize {
    str_field(query, "queryAsGiven")
        .or_else(|| str_field(query, "sequence"))
        .map_or(0, str::len)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Merges one query's parts and writes it; returns the number of hits written.
fn merge_query(
    parts: &[Part<'_>],
    line_no: u64,
    format: Format,
    max_hits: usize,
    out: &mut dyn Write,
) -> Result<usize, MergeError> {
    let mismatch = |detail: String| MergeError::Mismatch { line: line_no, detail };
    let first = &parts[0].value;
    let id = str_field(first, "id").unwrap_or_default();
    for p in &parts[1..] {
        for key in ["id", "sequence", "queryAsGiven", "nucleotideSequenceID"] {
            if p.value.get(key) != first.get(key) {
                return Err(mismatch(format!(
                    "{key} differs between inputs ({} vs {}): outputs of different query files or orders?",
                    first.get(key).unwrap_or(&Value::Null),
                    p.value.get(key).unwrap_or(&Value::Null)
                )));
            }
        }
    }
    let mut hits: Vec<MergedHit<'_>> = Vec::new();
    for p in parts {
        let values = p
            .value
            .get("hits")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (v, raw) in values.iter().zip(&p.raw_hits) {
            let key = (
                v.get("identity").and_then(Value::as_f64),
                v.get("query_coverage").and_then(Value::as_f64),
                str_field(v, "nucleotideSequenceID"),
            );
            let (Some(identity), Some(coverage), Some(md5)) = key else {
                return Err(mismatch(format!(
                    "query {id}: a hit lacks identity, query_coverage or nucleotideSequenceID"
                )));
            };
            hits.push(MergedHit {
                identity,
                coverage,
                md5,
                raw,
                value: v,
            });
        }
    }
    // The documented order; digests order sequences as sequence ids do in every shard.
    hits.sort_by(|a, b| {
        b.identity
            .total_cmp(&a.identity)
            .then(b.coverage.total_cmp(&a.coverage))
            .then(a.md5.cmp(b.md5))
    });
    let mut md5s: Vec<&str> = hits.iter().map(|h| h.md5).collect();
    md5s.sort_unstable();
    if let Some(w) = md5s.windows(2).find(|w| w[0] == w[1]) {
        return Err(mismatch(format!(
            "query {id}: sequence {} is in two inputs (the same shard twice, or overlapping shards?)",
            w[0]
        )));
    }
    if max_hits > 0 {
        hits.truncate(max_hits);
    }
    // A query invalid in one shard is invalid in all (validity depends on the query alone).
    let status = if !hits.is_empty() {
        "ok".to_string()
    } else {
        parts
            .iter()
            .filter_map(|p| str_field(&p.value, "status"))
            .find(|s| *s != "ok" && *s != "no_hits")
            .unwrap_or("no_hits")
            .to_string()
    };
    let write = |r: io::Result<()>| r.map_err(MergeError::Write);
    match format {
        Format::Json => {
            let total: u64 = parts
                .iter()
                .filter_map(|p| p.value.get("totalHits").and_then(Value::as_u64))
                .sum();
            let exact = parts
                .iter()
                .filter_map(|p| p.value.get("exactMatch"))
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null);
            // Same construction as the search output, so keys come out in the same order.
            let mut v = json!({
                "id": first.get("id"),
                "status": status,
                "sequence": first.get("sequence"),
                "nucleotideSequenceID": first.get("nucleotideSequenceID"),
                "exactMatch": exact,
                "totalHits": total,
                "hits": [],
                "assignment": null,
            });
            if let Some(given) = first.get("queryAsGiven") {
                v["queryAsGiven"] = given.clone();
            }
            let raw: Vec<&str> = hits.iter().map(|h| h.raw).collect();
            let text = v
                .to_string()
                .replacen("\"hits\":[]", &format!("\"hits\":[{}]", raw.join(",")), 1);
            write(writeln!(out, "{text}"))?;
        }
        Format::Tsv if hits.is_empty() => {
            let qlen = query_len(first);
            write(writeln!(
                out,
                "{id}\t\t\t\t\t\t\t\t\t\t\t\t\t\t{status}\t{qlen}\t\t\t\t"
            ))?;
        }
        _ => {
            for h in &hits {
                write_hit_rows(out, format, first, id, &status, h).map_err(|e| match e {
                    RowError::Io(e) => MergeError::Write(e),
                    RowError::Field(f) => mismatch(format!("query {id}: a hit lacks {f}")),
                })?;
            }
        }
    }
    Ok(hits.len())
}

enum RowError {
    Io(io::Error),
    Field(&'static str),
}

impl From<io::Error> for RowError {
    fn from(e: io::Error) -> Self {
        RowError::Io(e)
    }
}

/// The blast6 or tsv rows of one hit, one per target, exactly as `output::write_result` writes them
/// (`tests/shards.rs` pins the equality).
fn write_hit_rows(
    out: &mut dyn Write,
    format: Format,
    query: &Value,
    id: &str,
    status: &str,
    h: &MergedHit<'_>,
) -> Result<(), RowError> {
    let v = h.value;
    let int = |key: &'static str| v.get(key).and_then(Value::as_i64).ok_or(RowError::Field(key));
    let (alen, mism, gaps, score) = (
        int("alignment_length")?,
        int("mismatches")?,
        int("gap_opens")?,
        int("score")?,
    );
    let (q_start, q_end, t_start, t_end) = (int("q_start")?, int("q_end")?, int("t_start")?, int("t_end")?);
    let strand = str_field(v, "strand").ok_or(RowError::Field("strand"))?;
    let targets = v
        .get("targets")
        .and_then(Value::as_array)
        .ok_or(RowError::Field("targets"))?;
    for t in targets {
        let sseqid = str_field(t, "id").ok_or(RowError::Field("targets[].id"))?;
        if format == Format::Blast6 {
            let (qs, qe, ss, se) = if strand == "+" {
                (q_start, q_end, t_start, t_end)
            } else {
                (q_end, q_start, t_end, t_start)
            };
            writeln!(
                out,
                "{id}\t{sseqid}\t{:.3}\t{alen}\t{mism}\t{gaps}\t{qs}\t{qe}\t{ss}\t{se}\t0\t{score}",
                h.identity * 100.0
            )?;
        } else {
            writeln!(
                out,
                "{id}\t{sseqid}\t{}\t{:.3}\t{alen}\t{mism}\t{gaps}\t{q_start}\t{q_end}\t{t_start}\t{t_end}\t{:.1}\t{strand}\t{}\t{status}\t{}\t{}\t{score}\t{}\t{}",
                h.md5,
                h.identity * 100.0,
                h.coverage * 100.0,
                str_field(t, "taxon").unwrap_or(""),
                query_len(query),
                int("target_length")?,
                int("occurrences")?,
                str_field(v, "cigar").unwrap_or("")
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_hits_split_top_level_array_only() {
        let line = r#"{"assignment":{"hits_used":1},"exactMatch":null,"hits":[{"a":"x]}\"[","t":[{"id":"q"}]},{"b":[1,2]}],"id":"hits","status":"ok"}"#;
        let got = raw_hits(line).unwrap();
        assert_eq!(got, vec![r#"{"a":"x]}\"[","t":[{"id":"q"}]}"#, r#"{"b":[1,2]}"#]);
        assert_eq!(raw_hits(r#"{"hits":[],"id":"a"}"#).unwrap(), Vec::<&str>::new());
        assert!(raw_hits(r#"{"id":"a"}"#).is_none());
        assert!(raw_hits(r#"{"hits":[{"a":"unterminated}]}"#).is_none());
    }

    #[test]
    fn rejects_mismatched_and_overlapping_inputs() {
        let q = |id: &str, md5: &str| {
            format!(
                r#"{{"assignment":null,"exactMatch":null,"hits":[{{"identity":1.0,"query_coverage":1.0,"nucleotideSequenceID":"{md5}","targets":[]}}],"id":"{id}","nucleotideSequenceID":"x","sequence":"ACGT","status":"ok","totalHits":1}}"#
            )
        };
        let run = |a: String, b: String| {
            let mut inputs = vec![
                ShardOutput {
                    label: "a".into(),
                    reader: io::Cursor::new(a),
                },
                ShardOutput {
                    label: "b".into(),
                    reader: io::Cursor::new(b),
                },
            ];
            merge(&mut inputs, Format::Json, 0, &mut Vec::new())
        };
        assert!(matches!(
            run(q("q1", "aa"), q("q2", "bb")),
            Err(MergeError::Mismatch { .. })
        ));
        assert!(matches!(
            run(q("q1", "aa"), q("q1", "aa")),
            Err(MergeError::Mismatch { .. })
        ));
        assert!(matches!(
            run(q("q1", "aa"), "qseqid\tsseqid\n".into()),
            Err(MergeError::Input { .. })
        ));
        assert!(matches!(
            run(q("q1", "aa") + "\n" + &q("q2", "aa"), q("q1", "bb")),
            Err(MergeError::Mismatch { .. })
        ));
        let stats = run(q("q1", "aa"), q("q1", "bb")).unwrap();
        assert_eq!((stats.queries, stats.hits), (1, 2));
    }
}
