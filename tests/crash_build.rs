//! Crash safety of `edna-search build`, with the real binary.
//!
//! An output directory already holds a valid index; a rebuild with different inputs is SIGKILLed at moments
//! spread over the build's measured duration. After every kill the directory must hold either the previous
//! index (byte for byte) or the complete new one (byte-identical to an uninterrupted build: builds are
//! deterministic), and it must verify; stray temporary files may remain but are never opened, and the next
//! build succeeds and removes them. A build that cannot write (file-size limit, standing in for a full disk)
//! fails with an error and leaves the previous index untouched.
//!
//! The inputs are the bundled fixtures plus a generated reference library of random sequences, so the build
//! runs long enough (about a second, writing ~24 MB) for kills to land in parsing, indexing and writing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edna_index::Index;

const BIN: &str = env!("CARGO_BIN_EXE_edna-search");
const KILLS: usize = 8;

/// A small deterministic generator (no rand dependency): SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes a SINTAX-style reference FASTA of `n` random 600-bp sequences.
fn synthetic_reference(path: &Path, n: usize) {
    let mut rng = Rng(42);
    let mut text = String::with_capacity(n * 700);
    for i in 0..n {
        text.push_str(&format!(
            ">SYN{i:06};tax=k:Animalia,p:Chordata,c:Actinopteri,o:Ord{},f:Fam{},g:Gen{},s:Gen{}_sp{i}\n",
            i % 50,
            i % 200,
            i % 1000,
            i % 1000
        ));
        for _ in 0..600 {
            text.push(b"ACGT"[(rng.next() % 4) as usize] as char);
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("write synthetic reference");
}

/// `edna-search build --out OUT --default [--reference SYNTH]`.
fn build_command(out: &Path, synthetic: Option<&Path>) -> Command {
    let mut c = Command::new(BIN);
    c.args(["build", "--out"]).arg(out).arg("--default");
    if let Some(s) = synthetic {
        c.arg("--reference")
            .arg(s)
            .args(["--marker", "COI", "--name", "synthetic"]);
    }
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

fn build(out: &Path, synthetic: Option<&Path>) {
    let res = build_command(out, synthetic)
        .stderr(Stdio::piped())
        .output()
        .expect("run build");
    assert!(
        res.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
}

fn index_file(dir: &Path) -> PathBuf {
    dir.join(edna_index::INDEX_FILE_NAME)
}

fn digest(path: &Path) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&std::fs::read(path).expect("read index"))
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".index.edna.tmp-"))
        .collect()
}

/// Installs `from`'s index into `dir` as a finished build would (whole file, then rename).
fn install(from: &Path, dir: &Path) {
    let staged = dir.join("staged.copy");
    std::fs::copy(index_file(from), &staged).expect("copy index");
    std::fs::rename(&staged, index_file(dir)).expect("rename index");
}

/// Opens and fully verifies `dir`'s index and returns its digest.
fn check_whole(dir: &Path, what: &str) -> u64 {
    let idx = Index::open(dir).unwrap_or_else(|e| panic!("{what}: the index does not open: {e}"));
    idx.verify()
        .unwrap_or_else(|e| panic!("{what}: the index does not verify: {e}"));
    assert_eq!(
        idx.file().path().file_name().and_then(|n| n.to_str()),
        Some(edna_index::INDEX_FILE_NAME),
        "{what}: opened something else than index.edna"
    );
    digest(&index_file(dir))
}

/// Builds the new index into `out`, returning when its temporary file first appeared and when it ended,
/// both from the spawn.
fn timed_build(out: &Path, synthetic: &Path) -> (Duration, Duration) {
    let t = Instant::now();
    let mut child = build_command(out, Some(synthetic))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn build");
    let mut write_start = None;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "reference build failed");
            let end = t.elapsed();
            return (write_start.unwrap_or(end), end);
        }
        if write_start.is_none() && out.exists() && !temporaries(out).is_empty() {
            write_start = Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The tests run one at a time: a concurrent build would distort the timing the kills are placed by.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn killed_builds_leave_the_old_or_the_new_index() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let synth = work.path().join("synthetic.fasta");
    synthetic_reference(&synth, 12_000);

    // The two possible outcomes, built without interruption: the previous index (fixtures only) and the
    // new one (fixtures + synthetic library). The new build is timed, including when its temporary file
    // appears (the write phase, where a kill matters most), to place the kills.
    let old_dir = work.path().join("old");
    build(&old_dir, None);
    let old = check_whole(&old_dir, "old reference build");
    let new_dir = work.path().join("new");
    let (write_start, duration) = timed_build(&new_dir, &synth);
    let new = check_whole(&new_dir, "new reference build");
    assert_ne!(old, new, "the two builds must differ");

    let seed = std::env::var("EDNA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!(
        "crash_build: build takes {:.0} ms, writing from {:.0} ms; kill times from seed {seed} (EDNA_CRASH_SEED to repeat)",
        duration.as_secs_f64() * 1000.0,
        write_start.as_secs_f64() * 1000.0
    );
    let mut rng = Rng(seed);
    let target = work.path().join("target");
    std::fs::create_dir_all(&target).expect("mkdir");
    let (mut kept_old, mut got_new, mut left_tmp, mut landed) = (0, 0, 0, 0);
    for run in 0..KILLS {
        // The previous valid index in place; temporary files of earlier kills stay where they are.
        install(&old_dir, &target);
        // Half the kills at one random moment in each quarter of the whole build (10 % slack at the end);
        // half spread over the first half of the write phase, timed from the moment the temporary file appears (the
        // build's own speed varies too much on a shared machine to hit a ~100 ms window by the clock).
        let half = KILLS / 2;
        let mut child = build_command(&target, Some(&synth))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build");
        let at = if run < half {
            let at = duration.mul_f64(1.1 * (run as f64 + rng.unit()) / half as f64);
            std::thread::sleep(at);
            at
        } else {
            let t = Instant::now();
            let own = format!(".index.edna.tmp-{}", child.id());
            while !temporaries(&target).contains(&own)
                && child.try_wait().expect("wait").is_none()
                && t.elapsed() < duration * 20
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let write = duration.saturating_sub(write_start);
            // Within the first half of the measured write phase: its length varies with the machine's load.
            let after = write.mul_f64(0.5 * ((run - half) as f64 + rng.unit()) / half as f64);
            std::thread::sleep(after);
            t.elapsed()
        };
        // SIGKILL: no destructor, no cleanup runs.
        let _ = child.kill();
        let status = child.wait().expect("wait");
        let killed = status.code().is_none();
        let what = format!(
            "run {} killed at {:.0} ms ({})",
            run + 1,
            at.as_secs_f64() * 1000.0,
            if killed {
                "killed mid-build"
            } else {
                "had already finished"
            }
        );
        let d = check_whole(&target, &what);
        assert!(
            d == old || d == new,
            "{what}: index.edna is neither the previous index nor the new one"
        );
        let tmps = temporaries(&target);
        eprintln!(
            "crash_build: {what}: {} index, {} temporary file(s)",
            if d == old { "previous" } else { "new" },
            tmps.len()
        );
        if d == old {
            kept_old += 1
        } else {
            got_new += 1
        }
        landed += usize::from(killed);
        left_tmp += tmps.len();
    }

    // The next build succeeds, produces the new index and removes every leftover.
    build(&target, Some(&synth));
    assert_eq!(check_whole(&target, "final build"), new);
    assert_eq!(
        temporaries(&target),
        Vec::<String>::new(),
        "the final build must remove stray temporary files"
    );
    eprintln!(
        "crash_build: {KILLS} runs, {landed} killed mid-build: {kept_old} left the previous index, {got_new} the new one; \
         {left_tmp} temporary file(s) found after kills, all removed by the next build"
    );
}

/// A full disk cannot be simulated without root (no tmpfs to mount); a file-size limit (`ulimit -f`, with
/// SIGXFSZ ignored so writes fail with EFBIG instead of killing the process) fails the build's writes the
/// same way: mid-file, with an I/O error.
#[cfg(unix)]
#[test]
fn a_build_that_cannot_write_keeps_the_old_index() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let synth = work.path().join("synthetic.fasta");
    synthetic_reference(&synth, 12_000);
    let target = work.path().join("target");
    build(&target, None);
    let old = check_whole(&target, "previous index");

    // `ulimit -f` counts 512- or 1024-byte blocks depending on the shell: 4 MB at most, far below the
    // ~24 MB the new index needs (the 12 MB input is only read).
    let res = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 4096 && trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["build", "--out"])
        .arg(&target)
        .args(["--default", "--reference"])
        .arg(&synth)
        .args(["--marker", "COI", "--name", "synthetic"])
        .stdin(Stdio::null())
        .output()
        .expect("run build");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "the build should fail: {stderr}");
    assert!(stderr.contains("error"), "{stderr}");
    eprintln!(
        "crash_build: write failure reported as: {}",
        stderr.lines().last().unwrap_or("")
    );
    assert_eq!(check_whole(&target, "after the failed build"), old);
    assert_eq!(
        temporaries(&target),
        Vec::<String>::new(),
        "a failed build removes its temporary file"
    );
    // And the directory is still usable by a later build.
    build(&target, Some(&synth));
    check_whole(&target, "build after the failure");
}
