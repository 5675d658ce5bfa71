//! GBIF Metabarcoding Data Toolkit (MDT) compatibility: `tests/mdt/classify.mjs` re-implements MDT's
//! classifier client (batches of 25 to `/blast/batch`, 4 in flight, 5 retry rounds, its field mapping) and
//! is run with Node against the real `edna-search serve` binary over the bundled default index. Expected
//! taxa come from `edna-search search` on the same index.
//!
//! Without Node the tests print a skip message and pass, unless `EDNA_REQUIRE_NODE=1`. `NODE=/path/to/node`
//! picks another binary.

#[path = "mdt/server.rs"]
mod server;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{cli_search, fixture_queries, Server};

/// The markers MDT offers (its `enum/supportedMarkers.js`).
const MDT_MARKERS: [&str; 7] = ["coi", "its", "its1", "its2", "16s", "12s", "18s"];
/// MDT's batch size and batches in flight.
const BATCH: usize = 25;
const IN_FLIGHT: u64 = 4;
/// One round plus MDT's 5 retry rounds.
const ROUNDS: u64 = 6;

fn node() -> Option<PathBuf> {
    let found = server::find_program("NODE", &["node", "nodejs"]);
    if found.is_none() {
        server::missing("Node.js (node)", "EDNA_REQUIRE_NODE");
    }
    found
}

/// What a classifier run produced: its JSON summary and taxonomy.tsv rows (header excluded) by ASV id.
struct Run {
    summary: Value,
    rows: Vec<HashMap<String, String>>,
}

impl Run {
    fn stat(&self, name: &str) -> u64 {
        self.summary["stats"][name].as_u64().unwrap_or(0)
    }
    fn errors(&self) -> Vec<String> {
        self.summary["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
    /// The MDT entry (ranks, scientificName) of `id` after classification.
    fn entry(&self, id: &str) -> &Value {
        self.summary["entries"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["id"] == id))
            .unwrap_or_else(|| panic!("no entry {id}"))
    }
    /// Rows per ASV id: each must have exactly one.
    fn row_of(&self, id: &str) -> &HashMap<String, String> {
        let found: Vec<_> = self.rows.iter().filter(|r| r["id"] == id).collect();
        assert_eq!(found.len(), 1, "rows of {id}");
        found[0]
    }
}

/// Runs the classifier for `marker` over `records` against `server`, with extra script flags.
fn classify(node: &Path, server: &Server, marker: &str, records: &[(String, String)], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let fasta = dir.path().join("asvs.fasta");
    let out = dir.path().join("taxonomy.tsv");
    let text: String = records.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    std::fs::write(&fasta, text).expect("write fasta");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mdt/classify.mjs");
    let mut child = Command::new(node)
        .arg(script)
        .args(["--service", &server.base, "--marker", marker])
        .arg("--fasta")
        .arg(&fasta)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let (mut stdout, mut stderr) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // MDT has no timeout; this one only stops a hung run (a loaded machine needs seconds, not minutes).
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the classifier did not finish in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default(),
    );
    assert!(status.success(), "classifier failed ({status}): {stderr}\n{stdout}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("summary not JSON ({e}): {stdout}"));
    let tsv = std::fs::read_to_string(&out).unwrap_or_default();
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().map(|h| h.split('\t').collect()).unwrap_or_default();
    let rows = lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "taxonomy.tsv row: {l}");
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect();
    Run { summary, rows }
}

/// The leaf names of the best hit's reference records, and its identity (percent), per query; `None` for
/// a query without reference hits at blast-ws's 80 % floor (CLI run, no HTTP involved).
fn best_reference_hits(records: &[(String, String)]) -> HashMap<String, Option<(f64, Vec<String>)>> {
    let fasta: String = records.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    let args = [
        "--target",
        "references",
        "--marker",
        "12S",
        "--min-identity",
        "0.8",
        "--min-coverage",
        "0.5",
        "--max-hits",
        "5",
    ];
    cli_search(&fasta, &args)
        .into_iter()
        .map(|q| {
            let id = q["id"].as_str().expect("id").to_string();
            let best = q["hits"].as_array().and_then(|h| h.first()).map(|h| {
                let names = h["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["taxon"].as_str()?.rsplit(';').next().map(str::to_string))
                    .collect();
                (h["identity"].as_f64().expect("identity") * 100.0, names)
            });
            (id, best)
        })
        .collect()
}

#[test]
fn classifies_the_12s_fixture_asvs() {
    let Some(node) = node() else { return };
    let records = fixture_queries();
    let expected = best_reference_hits(&records);
    let server = Server::start(&[]);
    let run = classify(&node, &server, "12s", &records, &[]);

    // MDT's request pattern, and every ASV answered in one round.
    let n = records.len() as u64;
    assert!(run.errors().is_empty(), "{}", run.summary);
    assert_eq!(run.stat("requests"), n.div_ceil(BATCH as u64));
    assert_eq!(run.stat("maxBatch"), BATCH as u64);
    assert!(
        (1..=IN_FLIGHT).contains(&run.stat("maxInFlight")),
        "{}",
        run.summary["stats"]
    );
    assert_eq!(run.stat("rounds"), 1);
    assert_eq!(run.stat("answers"), n);
    assert_eq!(run.stat("answerCountMismatches"), 0);
    assert_eq!(
        run.stat("skippedNoMatchType"),
        0,
        "every answer needs a matchType or MDT drops it"
    );
    assert_eq!(run.rows.len(), records.len());

    let mut close = 0;
    for (id, _) in &records {
        let row = run.row_of(id);
        let entry = run.entry(id);
        let mt = row["matchType"].as_str();
        match &expected[id] {
            None => {
                assert_eq!(mt, "BLAST_NO_MATCH", "{id}: {row:?}");
                assert_eq!(entry["scientificName"], "", "{id}");
            }
            Some((identity, names)) => {
                assert!(
                    names.contains(&row["scientificName"]),
                    "{id}: name {row:?} vs {names:?}"
                );
                let bits: f64 = row["bitScore"].parse().expect("bitScore");
                let evalue: f64 = row["expectValue"].parse().expect("expectValue");
                // BLAST-scaled statistics: a hit of ≥ 50 % coverage of a ~170 bp ASV is far from chance.
                assert!(
                    bits > 40.0 && evalue < 1e-3,
                    "{id}: bitScore {bits} expectValue {evalue}"
                );
                let qcov: u32 = row["queryCoverage"].parse().expect("qcovs");
                assert!((50..=100).contains(&qcov), "{id}: qcovs {qcov}");
                // Away from the thresholds (blast-ws: > 99 exact, > 90 close), the type follows the identity.
                if *identity > 99.5 {
                    assert!(mt == "BLAST_EXACT_MATCH" || mt == "BLAST_AMBIGUOUS_MATCH", "{id}: {mt}");
                } else if *identity > 90.5 && *identity < 98.5 {
                    assert_eq!(mt, "BLAST_CLOSE_MATCH", "{id} at {identity}");
                    // MDT without a GBIF name match: the genus, the first word of the name.
                    let genus = row["scientificName"].split(' ').next().unwrap_or_default();
                    assert_eq!(entry["scientificName"], genus, "{id}");
                    close += 1;
                } else if *identity < 89.5 {
                    assert_eq!(mt, "BLAST_WEAK_MATCH", "{id} at {identity}");
                    assert_eq!(entry["scientificName"], "", "{id}: MDT leaves weak matches unnamed");
                }
                for rank in ["kingdom", "family", "genus", "species"] {
                    assert_eq!(entry[rank], "", "{id}: ranks come only from a GBIF name match");
                }
            }
        }
    }
    // The bundled library holds Sarda sarda; the survey's Sarda ASVs must come out as that genus.
    assert!(close >= 5, "only {close} close matches");
    assert_eq!(run.entry("93bb2bf6c3918baa522bcd668b3d5573")["scientificName"], "Sarda");
    assert_eq!(
        run.row_of("93bb2bf6c3918baa522bcd668b3d5573")["scientificName"],
        "Sarda sarda"
    );
}

/// A sample of the fixture ASVs: two batches (25 + 5).
fn sample() -> Vec<(String, String)> {
    let mut records = fixture_queries();
    records.truncate(BATCH + 5);
    records
}

/// The answer MDT can use for a marker this index has no library for: one NO_MATCH per ASV. Otherwise,
/// what the classifier must at least survive: a JSON error it retries and then reports, with every ASV
/// accounted for.
fn check_marker_without_library(marker: &str, run: &Run, n: usize) -> Result<(), String> {
    if run.errors().is_empty() {
        assert_eq!(run.rows.len(), n, "{marker}");
        assert!(run.rows.iter().all(|r| r["matchType"] == "BLAST_NO_MATCH"), "{marker}");
        return Ok(());
    }
    assert_eq!(
        run.errors(),
        vec![format!("Failed to match {n} of {n} sequences")],
        "{marker}"
    );
    assert_eq!(run.stat("rounds"), ROUNDS, "{marker}: MDT retries 5 times");
    assert!(run.rows.is_empty(), "{marker}");
    let last = run.summary["stats"]["lastError"].as_str().unwrap_or_default();
    assert!(
        last.starts_with("HTTP 4") && last.contains("\"message\""),
        "{marker}: {last}"
    );
    Err(format!("{marker}: {last}"))
}

#[test]
fn every_marker_mdt_offers_gets_an_answer_it_handles() {
    let Some(node) = node() else { return };
    let records = sample();
    let server = Server::start(&[]);
    let (_, libraries) = server.get("/databases");
    let libraries: Value = serde_json::from_str(&libraries).expect("databases");
    let markers: Vec<String> = libraries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["marker"].as_str().map(str::to_ascii_lowercase))
        .collect();
    for marker in MDT_MARKERS {
        let run = classify(&node, &server, marker, &records, &[]);
        let has_library = markers
            .iter()
            .any(|m| m.starts_with(marker) || marker.starts_with(m.as_str()));
        if has_library {
            assert!(run.errors().is_empty(), "{marker}: {}", run.summary);
            assert_eq!(run.rows.len(), records.len(), "{marker}");
            assert_eq!(run.stat("requests"), 2, "{marker}");
            for (id, _) in &records {
                let mt = &run.row_of(id)["matchType"];
                assert!(
                    mt.starts_with("BLAST_") && mt.ends_with("_MATCH"),
                    "{marker} {id}: {mt}"
                );
            }
        } else {
            assert_eq!(
                check_marker_without_library(marker, &run, records.len()),
                Ok(()),
                "{marker}"
            );
        }
    }
}

/// What the issue asks of markers the index has no library for (coi, 16s, 18s in the default index):
/// a NO_MATCH per ASV in one round (an error would make MDT retry 5 times and report the batch failed).
#[test]
fn markers_without_a_library_answer_no_match() {
    let Some(node) = node() else { return };
    let records = sample();
    let server = Server::start(&[]);
    for marker in ["coi", "16s", "18s"] {
        let run = classify(&node, &server, marker, &records, &[]);
        assert_eq!(check_marker_without_library(marker, &run, records.len()), Ok(()));
        assert_eq!(run.stat("rounds"), 1, "{marker}");
    }
}

#[test]
fn failed_batches_are_retried_in_later_rounds() {
    let Some(node) = node() else { return };
    let mut records = fixture_queries();
    records.truncate(4 * BATCH);
    let server = Server::start(&[]);
    // The first 3 batch calls fail (before reaching the server): round 2 classifies their 75 ASVs.
    let run = classify(&node, &server, "12s", &records, &["--inject-failures", "3"]);
    assert!(run.errors().is_empty(), "{}", run.summary);
    assert_eq!(run.stat("rounds"), 2);
    assert_eq!(run.stat("requests"), 4 + 3);
    assert_eq!(run.stat("injected"), 3);
    assert_eq!(run.rows.len(), records.len());
    for (id, _) in &records {
        run.row_of(id);
    }
}

#[test]
fn a_service_refusing_every_search_fails_after_mdts_retry_rounds() {
    let Some(node) = node() else { return };
    let records = sample();
    // No search slot: every batch gets 503 + Retry-After, which MDT does not wait for.
    let server = Server::start(&["--max-in-flight", "0"]);
    let run = classify(&node, &server, "12s", &records, &[]);
    let n = records.len();
    assert_eq!(run.errors(), vec![format!("Failed to match {n} of {n} sequences")]);
    assert_eq!(run.stat("rounds"), ROUNDS);
    assert_eq!(run.stat("requests"), 2 * ROUNDS);
    assert_eq!(run.summary["stats"]["statuses"]["503"].as_u64(), Some(2 * ROUNDS));
    assert!(run.rows.is_empty());
}
