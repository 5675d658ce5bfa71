//! Zero-downtime index reloads, with the real `edna-search serve` binary on an ephemeral port.
//!
//! Two valid indexes are built from the bundled data: A (everything) and B (the reference libraries only,
//! so no occurrences). The server serves a directory symlink that is switched between them atomically, as a
//! deployment would; `POST /admin/reload` and SIGHUP alternate. Concurrent clients send real requests all
//! along and every answer must be a 200 that is consistent with one index. Bad indexes must be refused with
//! the old one still serving, and the admin endpoint must refuse missing or wrong tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use edna_index::format::SectionKind;
use edna_index::Index;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_edna-search");
const TOKEN: &str = "reload-test-token-0123456789";
/// Generous: the CI machine has two shared cores.
const PATIENCE: Duration = Duration::from_secs(120);

/// The two indexes, built once: (directory holder, A, B).
fn indexes() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static DIRS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let repo = edna_search::defaults::repo_root();
        let a = root.path().join("a");
        let cfg = edna_search::defaults::default_build_config(&repo, a.clone());
        edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build A");
        let b = root.path().join("b");
        let mut cfg = edna_search::defaults::default_build_config(&repo, b.clone());
        cfg.dwca.clear();
        edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build B");
        (root, a, b)
    })
}

fn sequences(dir: &Path) -> u64 {
    Index::open(dir).expect("open").meta().sequences
}

/// Points the symlink `link` at `target`, atomically (a new link renamed over the old one).
fn point(link: &Path, target: &Path) {
    let staged = link.with_extension("new");
    let _ = std::fs::remove_file(&staged);
    std::os::unix::fs::symlink(target, &staged).expect("symlink");
    std::fs::rename(&staged, link).expect("rename symlink");
}

/// A running `edna-search serve`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(index: &Path, extra: &[&str], env_token: Option<&str>) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--index"])
            .arg(index)
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(extra)
            .env_remove("EDNA_ADMIN_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(t) = env_token {
            cmd.env("EDNA_ADMIN_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("start server");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let addr = match rx.recv_timeout(PATIENCE) {
            Ok(a) => a.parse().expect("address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends SIGHUP with the system's `kill` (no libc dependency for one signal).
    fn hangup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -HUP failed");
    }

    fn get(&self, path: &str) -> (u16, String) {
        request(self.addr, "GET", path, &[], None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    fn reload(&self, query: &str, auth: Option<&str>) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        let (status, body) = request(self.addr, "POST", &format!("/admin/reload{query}"), &headers, Some(""))
            .expect("POST /admin/reload");
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")),
        )
    }

    /// Waits until `/v1/index` reports `generation`.
    fn wait_generation(&self, generation: u64) -> Value {
        let t = Instant::now();
        loop {
            let v = self.json("/v1/index");
            if v["generation"] == generation {
                return v;
            }
            assert!(
                t.elapsed() < PATIENCE,
                "generation {generation} never came: {v}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log holds `needle` `count` times.
    fn wait_log(&self, needle: &str, count: usize) {
        let t = Instant::now();
        while self.log().matches(needle).count() < count {
            assert!(t.elapsed() < PATIENCE, "log never said {needle:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection; returns status and body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(PATIENCE))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    conn.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {text:?}")))?;
    let body = text.split_once("\r\n\r\n").map_or("", |p| p.1).to_string();
    Ok((status, body))
}

fn fixture_queries() -> Vec<String> {
    let text = std::fs::read_to_string(edna_search::defaults::default_queries()).expect("fixture");
    text.lines()
        .filter(|l| !l.starts_with('>') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// A `/v1/search/stream` request whose body is sent in two parts.
struct InFlightStream {
    conn: TcpStream,
    /// Response bytes read while waiting for the handler to start.
    head: Vec<u8>,
}

impl InFlightStream {
    /// Sends the head and the first record of a two-record FASTA body, then waits for the TSV header line:
    /// the handler sends it once it runs, so from then on the request is pinned to the current index.
    fn start(addr: SocketAddr, seq: &str) -> Self {
        let body_len = format!(">first\n{seq}\n>second\n{seq}\n").len();
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let head = format!(
            "POST /v1/search/stream?target=occurrences&format=tsv HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: text/x-fasta\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n>first\n{seq}\n"
        );
        conn.write_all(head.as_bytes()).expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("qseqid\t") {
            let n = conn.read(&mut buf).expect("read the response head");
            assert!(n > 0, "connection closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        InFlightStream { conn, head: got }
    }

    /// Sends the second record and returns, per query, the number of hit rows of the TSV answer.
    fn finish(mut self, seq: &str) -> Vec<u64> {
        self.conn
            .write_all(format!(">second\n{seq}\n").as_bytes())
            .expect("write");
        let mut rest = Vec::new();
        self.conn.read_to_end(&mut rest).expect("read");
        self.head.extend_from_slice(&rest);
        let raw = String::from_utf8_lossy(&self.head).into_owned();
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
        ["first", "second"]
            .iter()
            .map(|q| {
                raw.lines()
                    .filter(|l| l.split('\t').next() == Some(q) && l.split('\t').nth(1).is_some_and(|t| !t.is_empty()))
                    .count() as u64
            })
            .collect()
    }
}

/// Occurrence hits of `seq` on the server's current index.
fn occurrence_hits(server: &Server, seq: &str) -> u64 {
    let body = json!({"sequence": seq, "target": "occurrences"}).to_string();
    let (status, text) = request(server.addr, "POST", "/v1/search", &[], Some(&body)).expect("search");
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["results"][0]["totalHits"].as_u64().expect("totalHits")
}

fn metric(server: &Server, name: &str) -> u64 {
    let (_, text) = server.get("/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Per-test copy of the served layout: `dir/current` → A.
fn layout(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let current = dir.path().join(format!("current-{name}"));
    point(&current, &indexes().1);
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    (dir, current, token)
}

#[test]
fn reloads_under_load_drop_no_request() {
    let (_a_holder, a, b) = indexes();
    let (seq_a, seq_b) = (sequences(a), sequences(b));
    assert_ne!(seq_a, seq_b, "the two indexes must differ visibly");
    let (_dir, current, token) = layout("load");
    let token_arg = token.to_str().expect("utf-8 path");
    let server = Server::start(&current, &["--admin-token-file", token_arg], None);
    assert_eq!(server.json("/v1/index")["generation"], 1);

    let queries = fixture_queries();
    // A query with occurrence hits in A (B has no occurrences): shows which index answered.
    let probe = queries
        .iter()
        .find(|q| occurrence_hits(&server, q) > 0)
        .expect("a fixture query with occurrence hits")
        .clone();

    // Client load: each client alternates a search and an index lookup until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, done, failures) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&failures));
            let queries = queries.clone();
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let seq = &queries[i % queries.len()];
                    i += 4;
                    let body = json!({"sequence": seq, "target": "all", "include": ["taxon"]}).to_string();
                    let outcome = request(addr, "POST", "/v1/search", &[], Some(&body)).and_then(|(s, text)| {
                        let v: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
                        let st = v["results"][0]["status"].as_str().unwrap_or("");
                        if s == 200 && (st == "ok" || st == "no_hits") {
                            Ok(())
                        } else {
                            Err(std::io::Error::other(format!("search: {s} {text}")))
                        }
                    });
                    let outcome = outcome.and_then(|()| {
                        let (s, text) = request(addr, "GET", "/v1/index", &[], None)?;
                        let v: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
                        // Generations alternate A (odd) and B (even): each answer must be one index's.
                        let generation = v["generation"].as_u64().unwrap_or(0);
                        let expect = if generation % 2 == 1 { seq_a } else { seq_b };
                        if s == 200 && v["sequences"] == expect {
                            Ok(())
                        } else {
                            Err(std::io::Error::other(format!("index: {s} {text}")))
                        }
                    });
                    match outcome {
                        Ok(()) => {
                            done.fetch_add(2, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if let Ok(mut f) = failures.lock() {
                                f.push(e.to_string());
                            }
                        }
                    }
                }
            })
        })
        .collect();

    // Ten reloads under that load, alternating B and A, and POST /admin/reload and SIGHUP.
    for i in 0..10u64 {
        let (target, expect) = if i % 2 == 0 { (b, seq_b) } else { (a, seq_a) };
        let before = done.load(Ordering::Relaxed);
        let t = Instant::now();
        // Let the clients run on the current generation first.
        while done.load(Ordering::Relaxed) < before + 40 && t.elapsed() < PATIENCE {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Reload 1 (A → B) happens in the middle of a streamed search: the part of its body sent after the
        // swap is still searched on A, the index the request started with.
        let in_flight = (i == 0).then(|| InFlightStream::start(server.addr, &probe));
        point(&current, target);
        let generation = i + 2;
        if i % 4 == 0 || i % 4 == 3 {
            let (status, v) = server.reload("", Some(&format!("Bearer {TOKEN}")));
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["generation"], generation, "{v}");
            assert_eq!(v["sequences"], expect, "{v}");
            assert_eq!(v["verified"], "header");
        } else {
            server.hangup();
        }
        let v = server.wait_generation(generation);
        assert_eq!(v["sequences"], expect, "{v}");
        if let Some(stream) = in_flight {
            let hits = stream.finish(&probe);
            assert_eq!(hits.len(), 2, "two results expected");
            assert!(
                hits.iter().all(|&h| h > 0),
                "the in-flight request must finish on A: {hits:?}"
            );
        }
        let hits = occurrence_hits(&server, &probe);
        if target == a {
            assert!(hits > 0, "after reload {generation}: A should answer with occurrences");
        } else {
            assert_eq!(hits, 0, "after reload {generation}: B has no occurrences");
        }
    }
    let before = done.load(Ordering::Relaxed);
    let t = Instant::now();
    while done.load(Ordering::Relaxed) < before + 6 && t.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        failures.first()
    );
    let total = done.load(Ordering::Relaxed);
    assert!(total > 0);
    assert_eq!(metric(&server, "edna_index_reloads_total"), 10);
    assert_eq!(metric(&server, "edna_index_reload_failures_total"), 0);
    // Old generations are released once no request uses them.
    let t = Instant::now();
    while metric(&server, "edna_index_generations_live") != 1 {
        assert!(t.elapsed() < PATIENCE, "old index generations never released");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "reload: 10 reloads (5 POST /admin/reload, 5 SIGHUP) under 4 clients: {total} requests, 0 failed; \
         a streamed request spanning reload 1 finished on the old index"
    );
}

#[test]
fn bad_indexes_are_refused_and_the_old_one_keeps_serving() {
    let (_a_holder, a, _b) = indexes();
    let seq_a = sequences(a);
    let (dir, current, token) = layout("bad");
    let token_arg = token.to_str().expect("utf-8 path");
    let server = Server::start(&current, &["--admin-token-file", token_arg], None);
    let auth = format!("Bearer {TOKEN}");
    let bytes = std::fs::read(a.join(edna_index::INDEX_FILE_NAME)).expect("read A");

    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("foreign", b"#!/bin/sh\necho this is not an index\n".repeat(100)),
        ("empty", Vec::new()),
    ];
    let mut header = bytes.clone();
    header[33] ^= 0x40; // inside the table checksum
    bad.push(("header checksum", header));
    let mut version = bytes.clone();
    version[12] = 0xEE; // a future format version
    bad.push(("future version", version));
    let mut failures = 0;
    for (what, content) in &bad {
        let d = dir.path().join(what.replace(' ', "-"));
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join(edna_index::INDEX_FILE_NAME), content).expect("write");
        point(&current, &d);
        let (status, v) = server.reload("", Some(&auth));
        assert_eq!(status, 422, "{what}: {v}");
        assert_eq!(v["error"], "index_refused", "{what}: {v}");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("previous index keeps serving")),
            "{v}"
        );
        failures += 1;
        let idx = server.json("/v1/index");
        assert_eq!(idx["generation"], 1, "{what}");
        assert_eq!(idx["sequences"], seq_a, "{what}");
    }

    // A missing index file.
    let empty = dir.path().join("no-index");
    std::fs::create_dir_all(&empty).expect("mkdir");
    point(&current, &empty);
    let (status, v) = server.reload("", Some(&auth));
    assert_eq!(status, 422, "{v}");
    failures += 1;

    // Damage inside a section passes the cheap check but not ?verify=full.
    let mut body = bytes.clone();
    let packed = Index::open(a)
        .expect("open A")
        .file()
        .entry(SectionKind::SeqPacked)
        .map(|e| (e.offset, e.len))
        .expect("SeqPacked section");
    body[(packed.0 + packed.1 / 2) as usize] ^= 0xFF;
    let d = dir.path().join("section-damage");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join(edna_index::INDEX_FILE_NAME), &body).expect("write");
    point(&current, &d);
    let (status, v) = server.reload("?verify=full", Some(&auth));
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("verification")), "{v}");
    failures += 1;
    let (status, v) = server.reload("?verify=sometimes", Some(&auth));
    assert_eq!(status, 400, "{v}");

    // SIGHUP with a bad index: a log line, and the old index keeps serving.
    point(&current, &dir.path().join("truncated"));
    server.hangup();
    server.wait_log("index reload refused (SIGHUP)", 1);
    failures += 1;
    assert_eq!(server.json("/v1/index")["generation"], 1);
    assert!(fixture_queries()
        .iter()
        .take(50)
        .any(|q| occurrence_hits(&server, q) > 0));
    assert_eq!(metric(&server, "edna_index_reload_failures_total"), failures);

    // Once the index is good again, a reload succeeds.
    point(&current, a);
    let (status, v) = server.reload("?verify=full", Some(&auth));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["generation"], 2);
    assert_eq!(v["verified"], "full");
    assert_eq!(v["previousBuildId"], v["buildId"], "same content, same build id");
}

#[test]
fn the_admin_endpoint_needs_the_token() {
    let (dir, current, token) = layout("auth");
    let token_arg = token.to_str().expect("utf-8 path");
    let server = Server::start(&current, &["--admin-token-file", token_arg], None);
    let (status, v) = server.reload("", None);
    assert_eq!((status, v["error"].as_str()), (401, Some("unauthorized")), "{v}");
    let (status, v) = server.reload("", Some(&format!("Basic {TOKEN}")));
    assert_eq!(status, 401, "{v}");
    let (status, v) = server.reload("", Some("Bearer reload-test-token-0123456788"));
    assert_eq!((status, v["error"].as_str()), (403, Some("forbidden")), "{v}");
    let (status, v) = server.reload("", Some(&format!("Bearer {TOKEN}x")));
    assert_eq!(status, 403, "{v}");
    let (status, v) = server.reload("", Some(&format!("bearer {TOKEN}")));
    assert_eq!(status, 200, "{v}");
    assert_eq!(server.json("/v1/index")["generation"], 2);
    drop(server);

    // From the environment instead of a file.
    let server = Server::start(&current, &[], Some(TOKEN));
    let (status, v) = server.reload("", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(status, 200, "{v}");
    drop(server);

    // No token configured: the endpoint is disabled, whatever is sent.
    let server = Server::start(&current, &[], None);
    for auth in [None, Some(format!("Bearer {TOKEN}"))] {
        let (status, v) = server.reload("", auth.as_deref());
        assert_eq!((status, v["error"].as_str()), (403, Some("admin_disabled")), "{v}");
    }
    assert_eq!(server.json("/v1/index")["generation"], 1);
    drop(server);

    // A token too short to be safe is refused at startup.
    std::fs::write(dir.path().join("short"), "abc").expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--index"])
        .arg(&current)
        .args(["--listen", "127.0.0.1:0", "--admin-token-file"])
        .arg(dir.path().join("short"))
        .env_remove("EDNA_ADMIN_TOKEN")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token"));
}
