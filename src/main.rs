//! The `edna-search` command: build, inspect, verify and search indexes.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use edna_index::Index;
use edna_index_builder::build::{self, BuildConfig, Progress, RefdbSpec, DEFAULT_SEEDS};
use edna_index_builder::reference::LibrarySpec;
use edna_search::output::{self, Format};
use edna_search::search::{SearchParams, Strand, Target};
use edna_search::{batch, defaults};

#[derive(Parser)]
#[command(
    name = "edna-search",
    version,
    about = "Find where a DNA sequence has been found and what it is"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an index: edna-search build [--config build.toml] --out DIR [--reference F [--taxonomy T] [--marker M] [--name N]]... [--refdb DIR]... [--dwca PATH]... [--assign] [--threads N] [--shard I/N] [--only-marker M]...
    Build {
        /// Inputs and options, in order (see the command summary above).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Counts, markers, sizes, build parameters and format version of an index.
    Info {
        /// Index directory (default: the bundled default index).
        #[arg(long)]
        index: Option<PathBuf>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Full integrity check: every checksum and cross-reference.
    Verify {
        /// Index directory.
        #[arg(long)]
        index: Option<PathBuf>,
    },
    /// Search FASTA/FASTQ queries (plain or gzip; `-` for stdin).
    Search(SearchArgs),
    /// One taxon line per query, from the reference hits.
    Assign(SearchArgs),
    /// Exact lookup by normalised sequence or nucleotideSequenceID / dnaSequenceID.
    Lookup {
        /// Index directory.
        #[arg(long)]
        index: Option<PathBuf>,
        /// A sequence, or a 32-character MD5.
        key: String,
    },
    /// Write indexed sequences as FASTA (`>nucleotideSequenceID` for occurrences, record id for references).
    Export {
        /// Index directory.
        #[arg(long)]
        index: Option<PathBuf>,
        /// Which sequences.
        #[arg(long, value_enum, default_value = "all")]
        target: TargetArg,
    },
    /// Serve the HTTP API and web page (default: the bundled default index).
    Serve {
        /// Index directory (default: the bundled default index, built if missing).
        #[arg(long)]
        index: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Search threads (0 = one per core).
        #[arg(long, default_value_t = 0)]
        workers: usize,
        /// Search requests served at once; more get 503 + Retry-After.
        #[arg(long, default_value_t = 64)]
        max_in_flight: usize,
        /// Seconds a search request may run before it is abandoned with 503.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Largest JSON request body in bytes.
        #[arg(long, default_value_t = 16 << 20)]
        json_limit: usize,
        /// Largest FASTA body of /v1/search/stream in bytes.
        #[arg(long, default_value_t = 1 << 30)]
        stream_limit: u64,
        /// Most sequences in one JSON batch request (/blast/batch, /search, /v1/search).
        #[arg(long, default_value_t = 10_000)]
        max_batch: usize,
        /// Seconds a client may take to send a request's headers (also the keep-alive idle limit).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds the server waits for the next piece of a request body (and for a whole JSON body); then 408.
        #[arg(long, default_value_t = 60)]
        body_timeout: u64,
        /// File holding the bearer token that enables POST /admin/reload (else env EDNA_ADMIN_TOKEN; neither: disabled).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        /// Verify every checksum of a new index before a reload swaps it in (default: header and shapes only).
        #[arg(long)]
        reload_verify_full: bool,
    },
    /// Merge the `search --format json` outputs of index shards (`build --shard I/N`) for the same query
    /// file into the answer of the whole index (hits only: merged JSON has no taxon assignment).
    Merge {
        /// Output format (blast6, tsv or json).
        #[arg(long, value_enum, default_value = "tsv")]
        format: Format,
        /// Hits per query after merging (0 = all); shards must be searched with --max-hits 0 or at least this.
        #[arg(long, default_value_t = 100)]
        max_hits: usize,
        /// Output file (default stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// One JSON output per shard, in any order.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Build the default index from the bundled data (if absent) and search the bundled queries.
    Demo {
        /// Output format.
        #[arg(long, value_enum, default_value = "tsv")]
        format: Format,
    },
}

#[derive(clap::Args, Clone)]
struct SearchArgs {
    /// Index directory (default: the bundled default index).
    #[arg(long)]
    index: Option<PathBuf>,
    /// Query file (FASTA/FASTQ, optionally gzipped) or `-`.
    queries: PathBuf,
    /// Minimum identity (fraction or percent; default 0.97 for search, 0.90 for assign).
    #[arg(long)]
    min_identity: Option<f64>,
    /// Minimum query coverage (fraction or percent).
    #[arg(long, default_value_t = 0.5)]
    min_coverage: f64,
    /// Hits per query (0 = all).
    #[arg(long, default_value_t = 100)]
    max_hits: usize,
    /// Only targets of this marker (e.g. 12S, COI, ITS2).
    #[arg(long)]
    marker: Option<String>,
    /// Strands to search.
    #[arg(long, value_enum, default_value = "both")]
    strand: StrandArg,
    /// Which sequences are targets.
    #[arg(long, value_enum, default_value = "references")]
    target: TargetArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "tsv")]
    format: Format,
    /// Include CIGAR and aligned strings.
    #[arg(long)]
    alignment: bool,
    /// Output file (default stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StrandArg {
    Both,
    Plus,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TargetArg {
    References,
    Occurrences,
    All,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Build { args } => cmd_build(&args),
        Command::Info { index, json } => cmd_info(&open_index(index)?, json),
        Command::Verify { index } => {
            let idx = open_index(index)?;
            let t = Instant::now();
            idx.verify().context("verification failed")?;
            println!(
                "{}: ok ({} bytes verified in {:.2}s)",
                idx.file().path().display(),
                idx.file().len(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Search(a) => cmd_search(a, false),
        Command::Assign(a) => cmd_search(a, true),
        Command::Export { index, target } => cmd_export(&open_index(index)?, target),
        Command::Lookup { index, key } => cmd_lookup(&open_index(index)?, &key),
        Command::Serve {
            index,
            listen,
            workers,
            max_in_flight,
            timeout,
            json_limit,
            stream_limit,
            max_batch,
            header_timeout,
            body_timeout,
            admin_token_file,
            reload_verify_full,
        } => {
            use edna_search::http::{AdminToken, ServeConfig, VerifyLevel};
            let admin_token = match (admin_token_file, std::env::var("EDNA_ADMIN_TOKEN").ok()) {
                (Some(f), _) => {
                    let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                    Some(AdminToken::new(&text).with_context(|| format!("admin token in {}", f.display()))?)
                }
                (None, Some(v)) if !v.trim().is_empty() => {
                    Some(AdminToken::new(&v).context("admin token in EDNA_ADMIN_TOKEN")?)
                }
                (None, _) => None,
            };
            let idx = std::sync::Arc::new(open_index(index)?);
            let config = ServeConfig {
                workers,
                max_in_flight,
                request_timeout: std::time::Duration::from_secs(timeout.max(1)),
                json_limit,
                stream_limit,
                max_batch,
                header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                body_timeout: std::time::Duration::from_secs(body_timeout.max(1)),
                admin_token,
                reload_verify: if reload_verify_full {
                    VerifyLevel::Full
                } else {
                    VerifyLevel::Header
                },
                ..ServeConfig::new(listen)
            };
            edna_search::http::serve(idx, config)
        }
        Command::Merge {
            format,
            max_hits,
            out,
            inputs,
        } => cmd_merge(format, max_hits, out, &inputs),
        Command::Demo { format } => {
            let idx = open_index(None)?;
            let args = SearchArgs {
                index: None,
                queries: defaults::default_queries(),
                min_identity: Some(0.97),
                min_coverage: 0.5,
                max_hits: 5,
                marker: None,
                strand: StrandArg::Both,
                target: TargetArg::All,
                format,
                alignment: false,
                out: None,
                threads: None,
            };
            drop(idx);
            cmd_search(args, false)
        }
    }
}

/// Opens `dir`, or the default index (building it from the bundled data when missing).
fn open_index(dir: Option<PathBuf>) -> Result<Index> {
    let dir = match dir {
        Some(d) => d,
        None => {
            let d = defaults::default_index_dir();
            // The default index is a cache of the bundled data: (re)build it when missing or unreadable,
            // e.g. written by an older format version.
            if let Err(e) = Index::open(&d) {
                if d.join(edna_index::INDEX_FILE_NAME).exists() {
                    eprintln!("the default index cannot be used ({e}); rebuilding it");
                }
                eprintln!(
                    "building the default index from the bundled data into {} ...",
                    d.display()
                );
                let cfg = defaults::default_build_config(&defaults::repo_root(), d.clone());
                run_build(&cfg, true)?;
            }
            d
        }
    };
    Index::open(&dir).with_context(|| format!("opening index {}", dir.display()))
}

struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn stage(&self, name: &str, total: Option<u64>) {
        if let Some(b) = &self.0 {
            b.set_position(0);
            b.set_length(total.unwrap_or(0));
            b.set_message(name.to_string());
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}

fn progress_bar(unit: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{msg}} [{{elapsed_precise}}] {{pos}} {unit} {{per_sec}}"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    b.set_style(style);
    b.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(b)
}

fn run_build(cfg: &BuildConfig, assign: bool) -> Result<()> {
    let t = Instant::now();
    let bar = Bar(progress_bar("records"));
    let assigner = edna_search::build_assign::EngineAssigner::default();
    let assigner: Option<&dyn build::OccurrenceAssigner> = if assign { Some(&assigner) } else { None };
    let summary = build::build_with(cfg, &bar, assigner).with_context(|| format!("building {}", cfg.out.display()))?;
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    let m = &summary.meta;
    eprintln!(
        "built {} in {:.1}s: {} sequences ({} reference records, {} libraries), {} occurrences in {} datasets, {} taxa, {} bytes",
        summary.path.display(),
        t.elapsed().as_secs_f64(),
        m.sequences,
        m.reference_sequences,
        m.libraries.len(),
        m.occurrences,
        m.datasets.len(),
        m.taxa,
        summary.index_bytes
    );
    let skipped: u64 = m.issues.iter().map(|i| i.count).sum();
    if skipped > 0 {
        eprintln!("{skipped} input problems (counted by file and reason; `edna-search info --json` lists them):");
        for i in m.issues.iter().take(20) {
            eprintln!("  {} × {} in {} (first: {})", i.count, i.reason, i.file, i.first);
        }
        if m.issues.len() > 20 {
            eprintln!("  ... and {} more kinds", m.issues.len() - 20);
        }
    }
    Ok(())
}

fn cmd_build(args: &[String]) -> Result<()> {
    let mut out: Option<PathBuf> = None;
    let mut references: Vec<LibrarySpec> = Vec::new();
    let mut refdbs: Vec<RefdbSpec> = Vec::new();
    let mut dwca = Vec::new();
    let mut threads: Option<usize> = None;
    let mut assign = false;
    let mut shard: Option<edna_index::meta::ShardInfo> = None;
    let mut only_markers: Vec<String> = Vec::new();
    let mut last_was_refdb = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value =
            |what: &str| -> Result<String> { it.next().cloned().with_context(|| format!("{flag} needs {what}")) };
        match flag.as_str() {
            "--out" | "-o" => out = Some(PathBuf::from(value("a directory")?)),
            "--reference" => {
                references.push(LibrarySpec {
                    fasta: value("a file")?.into(),
                    taxonomy: None,
                    style: None,
                    marker: None,
                    name: None,
                });
                last_was_refdb = false;
            }
            "--refdb" => {
                refdbs.push(RefdbSpec {
                    dir: value("a directory")?.into(),
                    marker: None,
                    name: None,
                });
                last_was_refdb = true;
            }
            "--dwca" => dwca.push(PathBuf::from(value("a path")?)),
            "--taxonomy" => {
                let v = value("a file")?;
                references
                    .last_mut()
                    .context("--taxonomy must follow a --reference")?
                    .taxonomy = Some(v.into());
            }
            "--header-style" => {
                let v = value("a style")?;
                let style = edna_search::build_file::parse_header_style(&v).with_context(|| {
                    format!(
                        "unknown header style {v:?} (unite, sintax, dada2, qiime, pr2, bold, rdp, lineage-accession)"
                    )
                })?;
                references
                    .last_mut()
                    .context("--header-style must follow a --reference")?
                    .style = Some(style);
            }
            "--marker" | "--name" => {
                let v = value("a value")?;
                let is_marker = flag == "--marker";
                if last_was_refdb {
                    let r = refdbs
                        .last_mut()
                        .context("--marker/--name must follow a --reference or --refdb")?;
                    if is_marker {
                        r.marker = Some(v)
                    } else {
                        r.name = Some(v)
                    }
                } else {
                    let r = references
                        .last_mut()
                        .context("--marker/--name must follow a --reference or --refdb")?;
                    if is_marker {
                        r.marker = Some(v)
                    } else {
                        r.name = Some(v)
                    }
                }
            }
            // Inputs and options listed in a TOML file (see `edna_search::build_file`); flags may add more.
            "--config" => {
                let file = edna_search::build_file::BuildFile::load(Path::new(&value("a file")?))?;
                out = out.or(file.out);
                threads = threads.or(file.threads);
                assign |= file.assign;
                if let Some(sh) = file.shard {
                    shard = Some(sh.parse().map_err(anyhow::Error::msg)?);
                }
                for m in &file.only_markers {
                    add_marker(&mut only_markers, m)?;
                }
                references.extend(file.references);
                refdbs.extend(file.refdbs);
                dwca.extend(file.dwca);
                last_was_refdb = false;
            }
            "--assign" => assign = true,
            "--threads" => threads = Some(value("a number")?.parse().context("--threads needs a number")?),
            // Only the sequences of partition I of N (see `ShardInfo::partition_of`), for `merge`.
            "--shard" => shard = Some(value("I/N")?.parse().map_err(anyhow::Error::msg)?),
            // Only the sequences of this marker (repeatable): a marker shard, for routing by marker.
            "--only-marker" => add_marker(&mut only_markers, &value("a marker")?)?,
            "--default" => {
                let cfg = defaults::default_build_config(&defaults::repo_root(), PathBuf::new());
                references.extend(cfg.references);
                refdbs.extend(cfg.refdbs);
                dwca.extend(cfg.dwca);
            }
            other => bail!("unknown build option {other:?}"),
        }
    }
    let out = out.context("build needs --out DIR")?;
    for path in references
        .iter()
        .map(|r| &r.fasta)
        .chain(refdbs.iter().map(|r| &r.dir))
        .chain(dwca.iter())
    {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().ok();
    }
    run_build(
        &BuildConfig {
            out,
            references,
            refdbs,
            dwca,
            seeds: DEFAULT_SEEDS,
            limits: Default::default(),
            shard,
            only_markers,
        },
        assign,
    )
}

/// Adds a marker of a marker shard, by its canonical name.
fn add_marker(markers: &mut Vec<String>, raw: &str) -> Result<()> {
    let m = edna_index::meta::canonical_marker(raw);
    if m.is_empty() {
        bail!("--only-marker needs a marker name, e.g. 12S (got {raw:?})");
    }
    if !markers.contains(&m) {
        markers.push(m);
    }
    Ok(())
}

fn cmd_info(index: &Index, json: bool) -> Result<()> {
    let m = index.meta();
    let index_bytes = index.file().len();
    if json {
        let libraries: Vec<serde_json::Value> = m
            .libraries
            .iter()
            .map(|l| {
                serde_json::json!({"name": l.name, "marker": l.marker, "sequences": l.sequences, "records": l.records,
                    "version": l.version, "title": l.title, "licence": l.licence})
            })
            .collect();
        let sections: serde_json::Map<String, serde_json::Value> = edna_index::format::SectionKind::ALL
            .iter()
            .filter_map(|k| {
                index
                    .file()
                    .entry(*k)
                    .map(|e| (k.name().to_string(), serde_json::json!(e.len)))
            })
            .collect();
        let v = serde_json::json!({
            "format_version": m.format_version,
            "builder_version": m.builder_version,
            "sequences": m.sequences,
            "reference_sequences": m.reference_sequences,
            "occurrences": m.occurrences,
            "dna_rows": m.dna_rows,
            "datasets": m.datasets.len(),
            "taxa": m.taxa,
            "assigned_dna_rows": m.assigned_dna_rows,
            "input_bases": m.input_bases,
            "distinct_bases": m.distinct_bases,
            "index_bytes": index_bytes,
            "bytes_per_input_base": index_bytes as f64 / m.input_bases.max(1) as f64,
            "seeds": m.seeds,
            "markers": m.markers,
            "libraries": libraries,
            "dataset_list": m.datasets,
            "section_bytes": sections,
            "issues": m.issues,
            "shard": m.shard,
            "only_markers": m.only_markers,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("index          {}", index.file().path().display());
    println!(
        "format         v{} (built by edna-search {})",
        m.format_version, m.builder_version
    );
    println!(
        "sequences      {} distinct ({} bases; {} bases read from inputs)",
        m.sequences, m.distinct_bases, m.input_bases
    );
    println!(
        "references     {} records in {} libraries",
        m.reference_sequences,
        m.libraries.len()
    );
    for l in &m.libraries {
        println!(
            "  {:<28} {:<6} {:>8} records {:>8} sequences",
            l.name, l.marker, l.records, l.sequences
        );
    }
    println!(
        "occurrences    {} ({} DNA rows, {} with a build-time assigned taxon) in {} datasets",
        m.occurrences,
        m.dna_rows,
        m.assigned_dna_rows,
        m.datasets.len()
    );
    println!("taxa           {}", m.taxa);
    if let Some(s) = m.shard {
        println!(
            "shard          {s} (sequences whose nucleotideSequenceID's first 8 bytes, big-endian, are {} mod {})",
            s.index, s.count
        );
    }
    if let Some(only) = &m.only_markers {
        println!("marker shard   only the sequences of {}", only.join(", "));
    }
    println!("markers        {}", m.markers.join(", "));
    println!(
        "seeds          k={} w={} (lossless for shared exact runs of ≥ {} bp)",
        m.seeds.k,
        m.seeds.w,
        m.seeds.k + m.seeds.w - 1
    );
    println!(
        "size           {} bytes ({:.3} bytes per input base)",
        index_bytes,
        index_bytes as f64 / m.input_bases.max(1) as f64
    );
    let issues: u64 = m.issues.iter().map(|i| i.count).sum();
    println!("input problems {issues} ({} kinds; see --json)", m.issues.len());
    Ok(())
}

fn fraction(v: f64) -> f64 {
    if v > 1.0 {
        v / 100.0
    } else {
        v
    }
}

fn cmd_search(a: SearchArgs, assign_mode: bool) -> Result<()> {
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    let index = open_index(a.index.clone())?;
    let params = SearchParams {
        // assign must see weaker hits too: they decide CLOSE/WEAK and the consensus rank.
        min_identity: fraction(a.min_identity.unwrap_or(if assign_mode { 0.90 } else { 0.97 })),
        min_coverage: fraction(a.min_coverage),
        max_hits: a.max_hits,
        marker: a.marker.clone(),
        strand: match a.strand {
            StrandArg::Both => Strand::Both,
            StrandArg::Plus => Strand::Plus,
        },
        target: if assign_mode {
            Target::References
        } else {
            match a.target {
                TargetArg::References => Target::References,
                TargetArg::Occurrences => Target::Occurrences,
                TargetArg::All => Target::All,
            }
        },
        with_alignment: a.alignment || matches!(a.format, Format::Sam | Format::Bam),
        ..Default::default()
    };
    if !(0.0..=1.0).contains(&params.min_identity) || !(0.0..=1.0).contains(&params.min_coverage) {
        bail!("--min-identity and --min-coverage must be fractions (0-1) or percentages (0-100)");
    }
    let label = a.queries.display().to_string();
    let input = edna_seq::fastx::open(&a.queries)?;
    let mut reader = edna_seq::fastx::Reader::new(input, label);
    let sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let buffered = BufWriter::with_capacity(1 << 20, sink);
    // BAM is the SAM stream encoded on the fly.
    let (mut plain_w, mut bam_w) = (None, None);
    let out: &mut dyn Write = if a.format == Format::Bam {
        bam_w.insert(edna_search::bam::BamWriter::new(buffered))
    } else {
        plain_w.insert(buffered)
    };
    let bar = progress_bar("queries");
    let t = Instant::now();
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n)
        }
    };
    let stats = if assign_mode {
        assign_all(&index, &mut reader, &params, out, &progress)?
    } else {
        match a.format {
            Format::Tsv => writeln!(out, "{}", output::TSV_HEADER)?,
            Format::Sam | Format::Bam => output::write_sam_header(out, &index, params.target)?,
            _ => {}
        }
        batch::run(
            &index,
            &mut reader,
            &params,
            a.format,
            a.format == Format::Json,
            out,
            &progress,
        )?
    };
    if let Some(b) = bam_w {
        b.finish().context("writing BAM")?.flush()?;
    } else if let Some(mut p) = plain_w {
        p.flush()?;
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{} queries ({} with hits, {} invalid), {} hits in {:.2}s ({:.0} queries/s)",
        stats.queries,
        stats.with_hits,
        stats.invalid,
        stats.hits,
        secs,
        stats.queries as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn assign_all<R: std::io::BufRead>(
    index: &Index,
    reader: &mut edna_seq::fastx::Reader<R>,
    params: &SearchParams,
    out: &mut dyn Write,
    on_progress: &dyn Fn(u64),
) -> Result<batch::BatchStats> {
    writeln!(
        out,
        "qseqid\tmatchType\tidentity\ttaxon\trank\tlineage\thits_used\tdistinct_taxa\tagreement\tbest_reference\tstatus"
    )?;
    let stats = batch::for_each_result(index, reader, params, true, on_progress, &mut |r, a| {
        let Some(a) = a else { return Ok(()) };
        let lineage: Vec<&str> = a.lineage.iter().map(|t| t.name.as_str()).collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{}\t{}",
            r.id,
            a.match_type.as_str(),
            a.best_identity.map(|i| format!("{i:.3}")).unwrap_or_default(),
            a.taxon.as_ref().map(|t| t.name.as_str()).unwrap_or(""),
            a.taxon.as_ref().map(|t| t.rank.as_str()).unwrap_or(""),
            lineage.join(";"),
            a.hits_used,
            a.distinct_taxa,
            a.agreement,
            a.best_reference.as_deref().unwrap_or(""),
            r.status
        )
    });
    out.flush()?;
    Ok(stats?)
}

fn cmd_merge(format: Format, max_hits: usize, out: Option<PathBuf>, inputs: &[PathBuf]) -> Result<()> {
    let mut shards = Vec::with_capacity(inputs.len());
    for p in inputs {
        let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
        shards.push(edna_search::merge::ShardOutput {
            label: p.display().to_string(),
            reader: std::io::BufReader::new(f),
        });
    }
    let sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let stats = edna_search::merge::merge(&mut shards, format, max_hits, &mut w).context("merging shard outputs")?;
    eprintln!(
        "merged {} inputs: {} queries, {} hits",
        inputs.len(),
        stats.queries,
        stats.hits
    );
    Ok(())
}

fn cmd_lookup(index: &Index, key: &str) -> Result<()> {
    let key = key.trim();
    let (seqs, how): (Vec<u32>, &str) = if let Some(d) = edna_seq::normalize::parse_hex_md5(key) {
        match index.find_md5(&d) {
            Some(s) => (vec![s], "nucleotideSequenceID"),
            None => (index.find_legacy(&d), "dnaSequenceID"),
        }
    } else {
        match edna_seq::normalize::clean(key.as_bytes()) {
            Ok(c) if !c.is_empty() => (
                index
                    .find_md5(&edna_seq::normalize::md5_bytes(&c))
                    .into_iter()
                    .collect(),
                "normalised sequence",
            ),
            Ok(_) => bail!("nothing left of the sequence after GBIF normalisation (no run of 8 unambiguous bases)"),
            Err(why) => bail!("invalid sequence: {why}"),
        }
    };
    if seqs.is_empty() {
        println!("not found");
        std::process::exit(2);
    }
    for s in seqs {
        let refs: Vec<serde_json::Value> = index
            .seq_refs(s)
            .iter()
            .filter_map(|&r| index.reference(r))
            .map(|r| {
                let lineage: Vec<&str> =
                    index.lineage(r.taxon).iter().filter_map(|&t| index.taxon(t)).map(|t| index.str(t.name)).collect();
                serde_json::json!({"id": index.str(r.id), "library": index.meta().libraries.get(r.library as usize).map(|l| l.name.clone()),
                    "name": index.str(r.name), "lineage": lineage.join(";")})
            })
            .collect();
        let occs: Vec<serde_json::Value> = index
            .seq_occs(s)
            .iter()
            .take(100)
            .filter_map(|&o| index.occurrence(o).map(|e| (o, e)))
            .map(|(_, e)| {
                serde_json::json!({"occurrenceID": e.occurrence_id,
                    "dataset": index.meta().datasets.get(e.dataset as usize).map(|d| d.key.clone()),
                    "scientificName": index.str(e.scientific_name), "eventDate": index.str(e.event_date),
                    "decimalLatitude": finite(e.decimal_latitude), "decimalLongitude": finite(e.decimal_longitude)})
            })
            .collect();
        let v = serde_json::json!({
            "matchedBy": how,
            "nucleotideSequenceID": edna_seq::normalize::to_hex(&index.seq_md5(s)),
            "sequence": String::from_utf8_lossy(&index.seq(s)),
            "sequenceLength": index.seq_len(s),
            "references": refs,
            "occurrenceCount": index.seq_occs(s).len(),
            "occurrences": occs,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(())
}

fn cmd_export(index: &Index, target: TargetArg) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut buf = Vec::new();
    for s in 0..index.n_seqs() {
        index.seq_into(s, &mut buf);
        let mut ids: Vec<String> = Vec::new();
        if matches!(target, TargetArg::References | TargetArg::All) {
            ids.extend(
                index
                    .seq_refs(s)
                    .iter()
                    .filter_map(|&r| index.reference(r))
                    .map(|r| index.str(r.id).to_string()),
            );
        }
        if matches!(target, TargetArg::Occurrences | TargetArg::All) && !index.seq_occs(s).is_empty() {
            ids.push(edna_seq::normalize::to_hex(&index.seq_md5(s)));
        }
        for id in ids {
            writeln!(out, ">{id}")?;
            out.write_all(&buf)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
