//! The web page (`/`, src/http/page.html) in headless Chromium: the real `edna-search serve` binary over the
//! bundled default index, the page driven by its URL parameters (`?sequence=…&run=1`), assertions on the DOM
//! Chromium dumps once the search has finished. Expected values come from `edna-search search` on the same
//! index, not from hard-coded guesses.
//!
//! Without Chromium the browser tests print a skip message and pass, unless `EDNA_REQUIRE_BROWSER=1`
//! (CI installs it). `CHROMIUM=/path/to/chrome` picks another binary.

#[path = "mdt/server.rs"]
mod server;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{cli_search, fixture_queries, Server};

/// Fixture ASV found as occurrences (several hits) and close to a Sarda reference.
const SHARED_ASV: &str = "93bb2bf6c3918baa522bcd668b3d5573";
/// Fixture ASVs for the several-sequences case: the one above, another with hits, one without.
const FASTA_ASVS: [&str; 3] = [
    SHARED_ASV,
    "27ce4ef8aab0e2029cd272404006e061",
    "010e7a145bf6d7824c0afab445d912db",
];
/// The page's search settings in these tests, and the same for the CLI.
const PAGE_PARAMS: &str = "marker=12S&identity=0.97&target=all&maxhits=20";
const CLI_PARAMS: [&str; 8] = [
    "--marker",
    "12S",
    "--min-identity",
    "0.97",
    "--target",
    "all",
    "--max-hits",
    "20",
];

fn chromium() -> Option<PathBuf> {
    let found = server::find_program(
        "CHROMIUM",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
            "chrome",
        ],
    );
    if found.is_none() {
        server::missing(
            "Chromium (chromium, chromium-browser or google-chrome)",
            "EDNA_REQUIRE_BROWSER",
        );
    }
    found
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Loads `url` in headless Chromium and returns the DOM once the page's search has settled (`#status`
/// carries `data-state="done"` or `"error"`). Virtual time only advances while no request is pending, so
/// the budget does not depend on how fast the machine is; a run that still comes back unsettled (or a
/// browser that hangs) is retried with a larger budget.
fn dump_dom(chromium: &Path, url: &str) -> String {
    // One browser at a time: several at once on 2 shared cores only make each slower.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = String::new();
    for budget in [10_000, 30_000, 60_000] {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--virtual-time-budget={budget}"))
            .arg("--dump-dom")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Chromium");
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.wait();
        last = reader.join().unwrap_or_default();
        if last.contains("data-state=\"done\"") || last.contains("data-state=\"error\"") {
            return without_scripts(&last);
        }
        eprintln!("page did not settle with a {budget} ms virtual-time budget; retrying");
    }
    panic!("the page never finished its search; last DOM:\n{last}");
}

/// `html` without the contents of its `<script>` elements (the page's own code holds markup templates that
/// would otherwise be found by the searches below).
fn without_scripts(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<script") {
        out.push_str(&rest[..i]);
        rest = rest[i..]
            .find("</script>")
            .map_or("", |j| &rest[i + j + "</script>".len()..]);
    }
    out.push_str(rest);
    out
}

/// Text of `html` without tags, entities of the serializer decoded, whitespace collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The body rows of the first `<table class="{class}">` in `html`, as cell texts.
fn table_rows(html: &str, class: &str) -> Vec<Vec<String>> {
    let Some(start) = html.find(&format!("<table class=\"{class}\"")) else {
        return Vec::new();
    };
    let table = &html[start..];
    let table = &table[..table.find("</table>").expect("table end")];
    let body = &table[table.find("<tbody>").expect("tbody")..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| text(&format!("<td{}", cell.split("</td>").next().unwrap_or_default())))
                .collect()
        })
        .collect()
}

/// The opening tag of the element with `id`.
fn tag_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// The value of `attr` in an opening tag.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!(" {attr}=\"");
    let at = tag.find(&key)? + key.len();
    tag[at..].split('"').next()
}

/// The text of the (innermost) `<div>` whose opening tag contains `marker`.
fn div_text(html: &str, marker: &str) -> String {
    let at = &html[html.find(marker).unwrap_or_else(|| panic!("no {marker}"))..];
    text(&at[at.find('>').expect("tag end") + 1..at.find("</div>").expect("div end")])
}

/// The text of the status line.
fn status_line(dom: &str) -> String {
    div_text(dom, "id=\"status\"")
}

/// The rendered result blocks, in order.
fn query_blocks(dom: &str) -> Vec<&str> {
    let results = &dom[dom.find("id=\"results\"").expect("#results")..];
    results.split("<div class=\"query\"").skip(1).collect()
}

/// `x` (a percentage printed by the page) equals `fraction` × 100 at the page's precision.
fn same_pct(x: &str, fraction: f64, decimals: i32) -> bool {
    x.parse::<f64>()
        .is_ok_and(|v| (v - fraction * 100.0).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-3)
}

/// Every absolute URL in `html` points at the server itself (blob URLs of downloads included).
fn assert_no_external_urls(html: &str, authority: &str) {
    for scheme in ["http://", "https://"] {
        for (i, _) in html.match_indices(scheme) {
            let rest = &html[i + scheme.len()..];
            assert!(
                scheme == "http://" && rest.starts_with(authority),
                "external URL in the page: {}",
                &html[i..(i + 80).min(html.len())]
            );
        }
    }
}

fn fixture(id: &str) -> String {
    fixture_queries()
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("fixture ASV {id}"))
}

#[test]
fn page_is_self_contained() {
    let server = Server::start(&[]);
    let (status, html) = server.get("/");
    assert_eq!(status, 200);
    assert!(html.contains("<textarea id=\"input\""), "not the page: {html}");
    // Nothing is fetched from elsewhere: no absolute URL at all, no external script, style sheet or image.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "absolute URL in page.html"
    );
    for needle in ["<script src", "<link", "<img", "@import", "url(", "<iframe"] {
        assert!(!html.contains(needle), "page.html loads a resource: {needle}");
    }
}

#[test]
fn search_from_url_shows_taxon_hits_occurrences_map_and_downloads() {
    let Some(chromium) = chromium() else { return };
    let seq = fixture(SHARED_ASV);
    let cli = cli_search(&format!(">{SHARED_ASV}\n{seq}\n"), &CLI_PARAMS);
    let want = &cli[0];
    let hits = want["hits"].as_array().expect("CLI hits");
    assert!(hits.len() >= 2, "the fixture ASV should have several hits: {want}");
    let assignment = &want["assignment"];
    let match_type = assignment["matchType"].as_str().expect("matchType");
    assert_ne!(
        match_type, "BLAST_NO_MATCH",
        "the fixture ASV should match a reference: {want}"
    );

    let server = Server::start(&[]);
    let dom = dump_dom(
        &chromium,
        &format!("{}/?sequence={}&{PAGE_PARAMS}&run=1", server.base, enc(&seq)),
    );
    assert!(tag_with_id(&dom, "status").contains("data-state=\"done\""), "{dom}");
    assert_no_external_urls(&dom, server.authority());
    // The form shows what the URL asked for.
    assert!(dom.contains(&seq), "sequence not in the box");
    assert!(
        dom.contains("<option value=\"12S\">12S</option>"),
        "marker list not loaded"
    );
    let blocks = query_blocks(&dom);
    assert_eq!(blocks.len(), 1, "{dom}");
    let block = blocks[0];

    // Match type and taxon, as the CLI assigns them.
    let kind = match_type.trim_start_matches("BLAST_").trim_end_matches("_MATCH");
    assert!(
        block.contains(&format!("class=\"tag {kind}\"")) && text(block).contains(&format!("{kind} match")),
        "match type {match_type} not shown: {block}"
    );
    let taxon = assignment["taxon"]["name"].as_str().expect("taxon name");
    let rank = assignment["taxon"]["rank"].as_str().expect("taxon rank");
    assert!(
        block.contains(&format!("<b>{taxon}</b>")),
        "taxon {taxon} not shown: {block}"
    );
    assert!(text(block).contains(&format!("({rank}, best")), "rank {rank} not shown");

    // One hit row per CLI hit, same order, identity, coverage, sequence and occurrence count.
    let rows = table_rows(block, "hits");
    assert_eq!(rows.len(), hits.len(), "hit rows: {rows:?}");
    for (row, h) in rows.iter().zip(hits) {
        assert!(
            same_pct(&row[0], h["identity"].as_f64().expect("identity"), 2),
            "{row:?} vs {h}"
        );
        assert!(
            same_pct(&row[1], h["query_coverage"].as_f64().expect("coverage"), 1),
            "{row:?} vs {h}"
        );
        assert_eq!(row[3], h["occurrences"].to_string(), "{row:?} vs {h}");
        assert_eq!(row[5], h["nucleotideSequenceID"].as_str().expect("id"), "{row:?}");
    }
    assert_eq!(
        rows[0][0], "100.00",
        "the ASV itself is indexed (it was published as occurrences)"
    );

    // Occurrences: a sample of the CLI's total, the best-matching sequence's first.
    let total: u64 = hits.iter().map(|h| h["occurrences"].as_u64().unwrap_or(0)).sum();
    let occ = table_rows(block, "occurrences");
    assert!(
        !occ.is_empty() && occ.len() as u64 <= total,
        "{} occurrence rows of {total}",
        occ.len()
    );
    assert!(
        text(block).contains(&format!("({} of {total} occurrences)", occ.len())),
        "occurrence heading: {block}"
    );
    let first_with_occ = hits
        .iter()
        .find(|h| h["occurrences"].as_u64() > Some(0))
        .expect("a hit with occurrences");
    assert!(same_pct(
        &occ[0][0],
        first_with_occ["identity"].as_f64().unwrap_or(0.0),
        2
    ));
    for row in &occ {
        assert_eq!(row.len(), 7, "{row:?}");
        assert!(
            row[2].len() == 10 && row[2].as_bytes()[4] == b'-',
            "event date: {row:?}"
        );
        assert!(row[3].contains("Gulf of Mexico"), "locality: {row:?}");
        assert!(
            row[4].parse::<f64>().is_ok() && row[5].parse::<f64>().is_ok(),
            "coordinates: {row:?}"
        );
    }

    // The map has one point per occurrence with coordinates; the chart counts them by place.
    let map = &block[block.find("<svg class=\"map\"").expect("map")..];
    let map = &map[..map.find("</svg>").expect("svg end")];
    assert_eq!(map.matches("<circle").count(), occ.len());
    let places = &block[block.find("class=\"places\"").expect("places chart")..];
    let bars: Vec<&str> = places.split("<div class=\"bar\">").skip(1).collect();
    assert!(!bars.is_empty());
    let counted: usize = bars
        .iter()
        .filter_map(|b| {
            text(b.split("</div>").next().unwrap_or_default())
                .split(' ')
                .next_back()
                .and_then(|n| n.parse::<usize>().ok())
        })
        .sum();
    assert_eq!(counted, occ.len(), "chart counts: {bars:?}");

    // Downloads: blob links on the server's origin, one row per hit, and a link repeating the search.
    for (id, file) in [("tsv", "edna-search.tsv"), ("csv", "edna-search.csv")] {
        let a = tag_with_id(&dom, id);
        assert!(!a.contains(" hidden"), "{a}");
        assert_eq!(attr(a, "download"), Some(file), "{a}");
        assert!(
            attr(a, "href").is_some_and(|h| h.starts_with(&format!("blob:{}/", server.base))),
            "{a}"
        );
        assert_eq!(attr(a, "data-rows"), Some(hits.len().to_string().as_str()), "{a}");
    }
    let share = tag_with_id(&dom, "share");
    assert!(
        attr(share, "href").is_some_and(|h| h.starts_with("?sequence=") && h.contains("run=1")),
        "{share}"
    );
}

#[test]
fn invalid_input_gets_clear_errors() {
    let Some(chromium) = chromium() else { return };
    let server = Server::start(&[]);

    // A sequence with a non-IUPAC character: its block says why, the search itself succeeds.
    let dom = dump_dom(
        &chromium,
        &format!("{}/?sequence=ACGTACGTACGTXXXXACGTACGTACGT&run=1", server.base),
    );
    let blocks = query_blocks(&dom);
    assert_eq!(blocks.len(), 1, "{dom}");
    assert!(blocks[0].starts_with(" data-status=\"invalid\""), "{}", blocks[0]);
    let message = div_text(blocks[0], "class=\"invalid error\"");
    assert!(
        message.starts_with("Invalid sequence: non-IUPAC character 'X' at 13"),
        "{message}"
    );
    assert!(status_line(&dom).ends_with("· 1 invalid"), "{}", status_line(&dom));
    assert_eq!(attr(tag_with_id(&dom, "tsv"), "data-rows"), Some("1"));

    // A marker the index does not know: the request fails and the status line says why.
    let seq = fixture(SHARED_ASV);
    let dom = dump_dom(&chromium, &format!("{}/?sequence={seq}&marker=NOPE&run=1", server.base));
    let status = tag_with_id(&dom, "status");
    assert!(
        status.contains("data-state=\"error\"") && status.contains("class=\"error\""),
        "{status}"
    );
    let line = status_line(&dom);
    assert!(line.contains("Error:") && line.contains("NOPE"), "{line}");
    assert!(query_blocks(&dom).is_empty());

    // Nothing to search (a FASTA header alone): said so, nothing sent.
    let dom = dump_dom(
        &chromium,
        &format!("{}/?sequence={}&run=1", server.base, enc(">only-a-header\n")),
    );
    assert!(tag_with_id(&dom, "status").contains("data-state=\"error\""));
    assert!(dom.contains("Paste at least one sequence."), "{dom}");
}

#[test]
fn pasted_fasta_with_several_sequences() {
    let Some(chromium) = chromium() else { return };
    let records: Vec<(String, String)> = FASTA_ASVS.iter().map(|id| (id.to_string(), fixture(id))).collect();
    // Headers as in the fixture file (id, then a description) and sequences wrapped over lines.
    let fasta: String = records
        .iter()
        .map(|(id, s)| {
            let (a, b) = s.split_at(s.len() / 2);
            format!(">{id} marker=12S_MiFish;from=page-test\n{a}\n{b}\n")
        })
        .collect();
    let cli = cli_search(&fasta, &CLI_PARAMS);
    assert_eq!(cli.len(), records.len());

    let server = Server::start(&[]);
    let dom = dump_dom(
        &chromium,
        &format!("{}/?sequence={}&{PAGE_PARAMS}&run=1", server.base, enc(&fasta)),
    );
    assert!(tag_with_id(&dom, "status").contains("data-state=\"done\""), "{dom}");
    assert!(status_line(&dom).starts_with("3 queries in"), "{}", status_line(&dom));
    let blocks = query_blocks(&dom);
    assert_eq!(blocks.len(), records.len(), "{dom}");
    let mut rows = 0;
    for ((block, (id, _)), want) in blocks.iter().zip(&records).zip(&cli) {
        assert!(block.contains(&format!("<h2>{id} ")), "block order / id {id}: {block}");
        let mt = want["assignment"]["matchType"].as_str().unwrap_or("BLAST_NO_MATCH");
        let kind = mt.trim_start_matches("BLAST_").trim_end_matches("_MATCH");
        assert!(block.contains(&format!("class=\"tag {kind}\"")), "{id}: {mt}: {block}");
        let hits = want["hits"].as_array().map_or(0, Vec::len);
        assert_eq!(table_rows(block, "hits").len(), hits, "{id}");
        let occurrences: u64 = want["hits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["occurrences"].as_u64())
            .sum();
        assert_eq!(
            block.contains("<svg class=\"map\""),
            occurrences > 0,
            "{id}: a map only with occurrences"
        );
        rows += hits.max(1);
    }
    assert!(
        cli.iter().any(|q| q["hits"].as_array().is_none_or(Vec::is_empty)),
        "one query without hits"
    );
    assert_eq!(
        attr(tag_with_id(&dom, "tsv"), "data-rows"),
        Some(rows.to_string().as_str())
    );
}

/// The CLI and the page agree on `Value` fields used above (guards the test itself against format drift).
#[test]
fn cli_json_has_the_fields_the_page_test_reads() {
    let seq = fixture(SHARED_ASV);
    let v: Value = cli_search(&format!(">x\n{seq}\n"), &CLI_PARAMS).remove(0);
    for f in ["identity", "query_coverage", "occurrences", "nucleotideSequenceID"] {
        assert!(!v["hits"][0][f].is_null(), "CLI hit field {f}: {v}");
    }
    assert!(v["assignment"]["matchType"].is_string(), "{v}");
}
