//! Result writers: BLAST tabular (`blast6`), a rich `tsv`, JSON lines and SAM.
//!
//! Sequence-level hits are expanded to target records here: for reference targets one row per reference
//! record carrying the hit sequence (`sseqid` = record id); for occurrence targets one row per sequence
//! (`sseqid` = nucleotideSequenceID, as GBIF's vsearch server reports).

use std::io::{self, Write};

use edna_index::Index;
use serde_json::json;

use crate::search::{Assignment, Hit, QueryResult, Target};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The 12 standard BLAST columns.
    Blast6,
    /// Header row plus one row per hit with every field.
    Tsv,
    /// One JSON object per query.
    Json,
    /// SAM alignments (query as read, target as reference).
    Sam,
    /// BAM: the SAM records, BGZF-compressed binary.
    Bam,
}

/// One expanded target row of a hit.
pub struct TargetRow {
    /// `sseqid`.
    pub sseqid: String,
    /// Reference record id, if a reference.
    pub reference: Option<u32>,
}

/// Expands a sequence hit into target rows according to `target`.
pub fn target_rows(index: &Index, hit: &Hit, target: Target) -> Vec<TargetRow> {
    let mut rows = Vec::new();
    if matches!(target, Target::References | Target::All) {
        for &r in index.seq_refs(hit.seq) {
            if let Some(e) = index.reference(r) {
                rows.push(TargetRow {
                    sseqid: index.str(e.id).to_string(),
                    reference: Some(r),
                });
            }
        }
    }
    if matches!(target, Target::Occurrences | Target::All) && !index.seq_occs(hit.seq).is_empty() {
        rows.push(TargetRow {
            sseqid: edna_seq::normalize::to_hex(&index.seq_md5(hit.seq)),
            reference: None,
        });
    }
    rows
}

fn taxon_of_reference(index: &Index, r: Option<u32>) -> String {
    let Some(e) = r.and_then(|r| index.reference(r)) else {
        return String::new();
    };
    index
        .lineage(e.taxon)
        .iter()
        .filter_map(|&t| index.taxon(t))
        .map(|t| index.str(t.name))
        .collect::<Vec<_>>()
        .join(";")
}

/// One `blast6` row. There is no BLAST statistics model here: `evalue` is 0 and `bitscore` holds the
/// alignment score (vsearch scoring), so tools that sort by bitscore still rank hits sensibly.
fn blast6_row(out: &mut dyn Write, q: &QueryResult, h: &Hit, sseqid: &str) -> io::Result<()> {
    let (ss, se) = if h.strand == '+' {
        (h.t_start, h.t_end)
    } else {
        (h.t_end, h.t_start)
    };
    let (qs, qe) = if h.strand == '+' {
        (h.q_start, h.q_end)
    } else {
        (h.q_end, h.q_start)
    };
    writeln!(
        out,
        "{}\t{}\t{:.3}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        q.id,
        sseqid,
        h.identity * 100.0,
        h.alignment_length,
        h.mismatches,
        h.gap_opens,
        qs,
        qe,
        ss,
        se,
        0,
        h.score
    )
}

/// TSV header.
pub const TSV_HEADER: &str = "qseqid\tsseqid\tnucleotideSequenceID\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tqcov\tstrand\ttaxon\tstatus\tqlen\tslen\tscore\toccurrences\tcigar";

/// Writes one query's results.
pub fn write_result(
    out: &mut dyn Write,
    index: &Index,
    format: Format,
    target: Target,
    q: &QueryResult,
    assignment: Option<&Assignment>,
) -> io::Result<()> {
    match format {
        Format::Blast6 => {
            for h in &q.hits {
                for row in target_rows(index, h, target) {
                    blast6_row(out, q, h, &row.sseqid)?;
                }
            }
        }
        Format::Tsv => {
            // Query positions are on the query as given.
            let qlen = q.given.as_ref().or(q.sequence.as_ref()).map_or(0, |s| s.len());
            if q.hits.is_empty() {
                writeln!(out, "{}\t\t\t\t\t\t\t\t\t\t\t\t\t\t{}\t{qlen}\t\t\t\t", q.id, q.status)?;
            }
            for h in &q.hits {
                for row in target_rows(index, h, target) {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{:.3}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        q.id,
                        row.sseqid,
                        edna_seq::normalize::to_hex(&index.seq_md5(h.seq)),
                        h.identity * 100.0,
                        h.alignment_length,
                        h.mismatches,
                        h.gap_opens,
                        h.q_start,
                        h.q_end,
                        h.t_start,
                        h.t_end,
                        h.query_coverage * 100.0,
                        h.strand,
                        taxon_of_reference(index, row.reference),
                        q.status,
                        qlen,
                        h.target_length,
                        h.score,
                        index.seq_occs(h.seq).len(),
                        h.cigar.as_deref().unwrap_or("")
                    )?;
                }
            }
        }
        Format::Json => {
            let hits: Vec<serde_json::Value> = q
                .hits
                .iter()
                .map(|h| {
                    let targets: Vec<serde_json::Value> = target_rows(index, h, target)
                        .iter()
                        .map(|row| json!({"id": row.sseqid, "taxon": taxon_of_reference(index, row.reference)}))
                        .collect();
                    let mut v = serde_json::to_value(h).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert(
                            "nucleotideSequenceID".into(),
                            json!(edna_seq::normalize::to_hex(&index.seq_md5(h.seq))),
                        );
                        o.insert("targets".into(), json!(targets));
                        o.insert("occurrences".into(), json!(index.seq_occs(h.seq).len()));
                    }
                    v
                })
                .collect();
            let mut v = json!({
                "id": q.id,
                "status": q.status.to_string(),
                "sequence": q.sequence,
                "nucleotideSequenceID": q.nucleotide_sequence_id,
                "exactMatch": q.exact.map(|s| edna_seq::normalize::to_hex(&index.seq_md5(s))),
                "totalHits": q.total_hits,
                "hits": hits,
                "assignment": assignment,
            });
            if let Some(given) = &q.given {
                // Only for a query GBIF trims or caps: the form hit positions (and reference alignments) are on.
                v["queryAsGiven"] = json!(given);
            }
            writeln!(out, "{v}")?;
        }
        Format::Sam | Format::Bam => {
            let normal = q.sequence.as_deref().unwrap_or("*");
            if q.hits.is_empty() {
                let seq = q.given.as_deref().unwrap_or(normal);
                writeln!(out, "{}\t4\t*\t0\t0\t*\t*\t0\t0\t{seq}\t*", sam_name(&q.id))?;
            }
            for (i, h) in q.hits.iter().enumerate() {
                // SEQ is the form the CIGAR walks (they differ only for a query GBIF trims or caps).
                let seq = if h.normalised_query {
                    normal
                } else {
                    q.given.as_deref().unwrap_or(normal)
                };
                for (j, row) in target_rows(index, h, target).iter().enumerate() {
                    let mut flag = if h.strand == '-' { 16 } else { 0 };
                    if i > 0 || j > 0 {
                        flag |= 256;
                    }
                    // Only the primary record carries SEQ; secondary ones write `*`, so nothing is copied for them.
                    let s: std::borrow::Cow<str> = if flag & 256 != 0 {
                        "*".into()
                    } else if h.strand == '-' {
                        String::from_utf8_lossy(&edna_seq::pack::reverse_complement(seq.as_bytes()))
                            .into_owned()
                            .into()
                    } else {
                        seq.into()
                    };
                    // The aligner's CIGAR already soft-clips the unaligned query ends (S), so it spans the read.
                    let cigar = h.cigar.as_deref().unwrap_or("*");
                    writeln!(
                        out,
                        "{}\t{flag}\t{}\t{}\t255\t{cigar}\t*\t0\t0\t{}\t*\tAS:i:{}\tNM:i:{}\tZI:f:{:.4}",
                        sam_name(&q.id),
                        sam_name(&row.sseqid),
                        h.t_start,
                        s,
                        h.score,
                        h.alignment_length - (h.identity * h.alignment_length as f64).round() as u32,
                        h.identity
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// A name as SAM allows it in QNAME, RNAME and `@SQ SN` (SAM v1.6 §1.2.1): characters outside the allowed
/// set (whitespace, commas, quotes, brackets, `@`...) become `_`, and an empty name or one starting with `*` or
/// `=` gets a leading `_`. Reference ids from tables may contain any of those.
fn sam_name(name: &str) -> std::borrow::Cow<'_, str> {
    // The reference-name set, less `@` (not allowed in QNAME), so one rule serves both.
    let allowed = |c: char| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '\\' | ',' | '"' | '`' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '@'
            )
    };
    let bad_start = name.is_empty() || name.starts_with(['*', '=']);
    if !bad_start && name.chars().all(allowed) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 1);
    if bad_start {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if allowed(c) { c } else { '_' }));
    std::borrow::Cow::Owned(out)
}

/// SAM header listing every reference sequence that could appear.
pub fn write_sam_header(out: &mut dyn Write, index: &Index, target: Target) -> io::Result<()> {
    writeln!(out, "@HD\tVN:1.6\tSO:unsorted")?;
    for seq in 0..index.n_seqs() {
        let len = index.seq_len(seq);
        if matches!(target, Target::References | Target::All) {
            for &r in index.seq_refs(seq) {
                if let Some(e) = index.reference(r) {
                    writeln!(out, "@SQ\tSN:{}\tLN:{len}", sam_name(index.str(e.id)))?;
                }
            }
        }
        if matches!(target, Target::Occurrences | Target::All) && !index.seq_occs(seq).is_empty() {
            writeln!(
                out,
                "@SQ\tSN:{}\tLN:{len}",
                edna_seq::normalize::to_hex(&index.seq_md5(seq))
            )?;
        }
    }
    writeln!(
        out,
        "@PG\tID:edna-search\tPN:edna-search\tVN:{}",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::sam_name;

    #[test]
    fn sam_names_follow_the_spec() {
        assert_eq!(sam_name("MN123456.1"), "MN123456.1");
        assert_eq!(sam_name("ref:12|x=y*"), "ref:12|x=y*");
        assert_eq!(sam_name("Salmo trutta (brown trout)"), "Salmo_trutta__brown_trout_");
        assert_eq!(sam_name("a,b@c"), "a_b_c");
        assert_eq!(sam_name("*start"), "_*start");
        assert_eq!(sam_name("=x"), "_=x");
        assert_eq!(sam_name(""), "_");
        assert_eq!(sam_name("é"), "_");
    }
}
