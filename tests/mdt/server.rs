//! Test support shared by `tests/page.rs` and `tests/mdt.rs` (each includes it with `#[path]`): the bundled
//! default index, built once per test binary; the real `edna-search serve` binary on an ephemeral port; a
//! bare HTTP GET; and finding external programs (Chromium, Node), or skipping when they are missing.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

/// The binary under test.
pub const EXE: &str = env!("CARGO_BIN_EXE_edna-search");

/// The default index (bundled references and archives), built once into a temporary directory.
pub fn index_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let cfg =
            edna_search::defaults::default_build_config(&edna_search::defaults::repo_root(), dir.path().to_path_buf());
        edna_index_builder::build::build(&cfg, &edna_index_builder::build::NoProgress).expect("build test index");
        dir
    })
    .path()
}

/// `edna-search serve` over [`index_dir`], stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
}

impl Server {
    /// Starts the server on a port the OS picks (read back from its startup log line), with `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(EXE)
            .arg("serve")
            .arg("--index")
            .arg(index_dir())
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start edna-search serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, rx) = mpsc::channel();
        let keep = Arc::clone(&log);
        std::thread::spawn(move || {
            // Reads to the end, not just to the address line, so the server never blocks on a full pipe.
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split(['/', ' ']).next().unwrap_or_default().to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                if let Ok(mut l) = keep.lock() {
                    if l.len() < 200 {
                        l.push(line);
                    }
                }
            }
        });
        // Generous: a loaded 2-core machine may be slow to start a debug binary.
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => Server {
                child,
                base: format!("http://{addr}"),
            },
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("edna-search serve did not report its address ({e}); its log:\n{log}");
            }
        }
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// GET `path`: status and body (the server answers `Connection: close` requests with a plain body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut conn = std::net::TcpStream::connect(self.authority()).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.authority()
        )
        .expect("write");
        let mut res = String::new();
        conn.read_to_string(&mut res).expect("read");
        let status = res.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = res
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program in env `override_var` (when set), else the first of `names` found on `PATH`.
pub fn find_program(override_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(override_var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Reports a missing program: a skip message, or a failure when env `require_var` is `1`.
pub fn missing(what: &str, require_var: &str) {
    let required = std::env::var(require_var).is_ok_and(|v| v.trim() == "1");
    assert!(
        !required,
        "{what} not found and {require_var}=1: install it (or point the override variable at it)"
    );
    // Straight to the stderr stream: the test harness would swallow `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} not found (set {require_var}=1 to make this a failure)"
    );
}

/// The bundled 12S ASVs as (id, sequence), in file order.
pub fn fixture_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(edna_search::defaults::default_queries()).expect("fixture");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('>') {
            out.push((
                h.split_whitespace().next().unwrap_or_default().to_string(),
                String::new(),
            ));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line.trim());
        }
    }
    out
}

/// Runs `edna-search search --format json` over [`index_dir`] for `fasta` with `args`: one JSON object per
/// query (the CLI's answer, which the service must agree with).
pub fn cli_search(fasta: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let file = dir.path().join("q.fasta");
    std::fs::write(&file, fasta).expect("write queries");
    let out = Command::new(EXE)
        .arg("search")
        .arg("--index")
        .arg(index_dir())
        .args(["--format", "json"])
        .args(args)
        .arg(&file)
        .output()
        .expect("run edna-search search");
    assert!(
        out.status.success(),
        "edna-search search failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("CLI JSON line"))
        .collect()
}
