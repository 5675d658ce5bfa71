//! Streaming batch search: queries are read in chunks, searched in parallel, written in input order.

use std::io::Write;
use std::sync::Mutex;

use edna_index::Index;
use edna_seq::fastx::{FastxError, Reader};
use rayon::prelude::*;

use crate::output::{write_result, Format};
use crate::search::{assign, Assignment, QueryResult, RankThresholds, SearchParams, Searcher};

/// Queries searched together; bounds memory whatever the input size.
pub const CHUNK: usize = 4096;

/// What a batch run did.
#[derive(Debug, Default, Clone)]
pub struct BatchStats {
    /// Queries read.
    pub queries: u64,
    /// Queries with at least one hit.
    pub with_hits: u64,
    /// Invalid queries.
    pub invalid: u64,
    /// Hits written (sequence level).
    pub hits: u64,
}

/// One searcher per worker thread, so scratch space is allocated once.
pub struct SearcherPool<'a> {
    searchers: Vec<Mutex<Searcher<'a>>>,
}

impl<'a> SearcherPool<'a> {
    /// A searcher for each rayon thread (plus one for callers outside the pool).
    pub fn new(index: &'a Index) -> Self {
        let n = rayon::current_num_threads() + 1;
        SearcherPool {
            searchers: (0..n).map(|_| Mutex::new(Searcher::new(index))).collect(),
        }
    }

    /// Runs `f` with this thread's searcher.
    pub fn with<R>(&self, f: impl FnOnce(&mut Searcher<'a>) -> R) -> R {
        let i = rayon::current_thread_index().map_or(self.searchers.len() - 1, |i| i.min(self.searchers.len() - 1));
        let mut guard = match self.searchers[i].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

/// Searches every record of `reader`, writing results to `out` in `format`, in input order. `assign_taxa` adds a
/// consensus assignment per query (JSON output). `on_progress` is called with the number of queries done.
pub fn run<R: std::io::BufRead>(
    index: &Index,
    reader: &mut Reader<R>,
    params: &SearchParams,
    format: Format,
    assign_taxa: bool,
    out: &mut dyn Write,
    on_progress: &dyn Fn(u64),
) -> Result<BatchStats, BatchError> {
    // Each result is formatted on the search thread that found it (formatting had been a tenth of a
    // 2-thread run, on one thread after the searches); the results are written in input order.
    let render = |r: &QueryResult, a: Option<&Assignment>| {
        let mut bytes = Vec::new();
        write_result(&mut bytes, index, format, params.target, r, a).map(|()| bytes)
    };
    let stats = for_each_rendered(
        index,
        reader,
        params,
        assign_taxa,
        on_progress,
        &render,
        &mut |_, _, bytes| out.write_all(&bytes?),
    );
    out.flush().map_err(BatchError::Write)?;
    stats
}

/// Searches every record of `reader` in chunks of [`CHUNK`] (in parallel, bounded memory) and hands each
/// result to `emit` in input order. On a malformed record, the results before it are emitted first.
pub fn for_each_result<R: std::io::BufRead>(
    index: &Index,
    reader: &mut Reader<R>,
    params: &SearchParams,
    assign_taxa: bool,
    on_progress: &dyn Fn(u64),
    emit: &mut dyn FnMut(&QueryResult, Option<&Assignment>) -> std::io::Result<()>,
) -> Result<BatchStats, BatchError> {
    for_each_rendered(
        index,
        reader,
        params,
        assign_taxa,
        on_progress,
        &|_, _| (),
        &mut |r, a, ()| emit(r, a),
    )
}

/// What a search thread makes of a result ([`for_each_rendered`]).
type Render<'r, T> = &'r (dyn Fn(&QueryResult, Option<&Assignment>) -> T + Sync);

/// Takes each result, in input order, with what was rendered from it.
type Emit<'e, T> = &'e mut dyn FnMut(&QueryResult, Option<&Assignment>, T) -> std::io::Result<()>;

/// [`for_each_result`], with `render` applied to each result on the thread that searched it and its output
/// handed to `emit` with the result.
fn for_each_rendered<R: std::io::BufRead, T: Send>(
    index: &Index,
    reader: &mut Reader<R>,
    params: &SearchParams,
    assign_taxa: bool,
    on_progress: &dyn Fn(u64),
    render: Render<'_, T>,
    emit: Emit<'_, T>,
) -> Result<BatchStats, BatchError> {
    let pool = SearcherPool::new(index);
    let mut stats = BatchStats::default();
    let thresholds = RankThresholds::default();
    let params = &SearchParams {
        find_reference_hits: assign_taxa,
        ..params.clone()
    };
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut failure = None;
        while chunk.len() < CHUNK {
            match reader.next_record() {
                Some(Ok(r)) => chunk.push(r),
                Some(Err(e)) => {
                    failure = Some(e);
                    break;
                }
                None => break,
            }
        }
        if chunk.is_empty() && failure.is_none() {
            break;
        }
        let results: Vec<(QueryResult, Option<Assignment>, T)> = chunk
            .par_iter()
            .map(|rec| {
                let (r, a) = pool.with(|s| {
                    let r = s.search(&rec.id, &rec.seq, params);
                    let a = assign_taxa.then(|| assign(index, r.assignment_hits(), 0.5, &thresholds, &[]));
                    (r, a)
                });
                let rendered = render(&r, a.as_ref());
                (r, a, rendered)
            })
            .collect();
        for (r, a, rendered) in results {
            stats.queries += 1;
            stats.hits += r.hits.len() as u64;
            match r.status {
                crate::search::QueryStatus::Ok => stats.with_hits += 1,
                crate::search::QueryStatus::Invalid(_) => stats.invalid += 1,
                crate::search::QueryStatus::NoHits => {}
            }
            emit(&r, a.as_ref(), rendered).map_err(BatchError::Write)?;
        }
        on_progress(stats.queries);
        if let Some(e) = failure {
            return Err(BatchError::Input(e));
        }
    }
    if std::env::var_os("EDNA_SEARCH_STATS").is_some() {
        for m in &pool.searchers {
            if let Ok(s) = m.lock() {
                eprintln!("{:?}", s.stats);
            }
        }
    }
    Ok(stats)
}

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The query file is malformed (results up to that record were written).
    #[error(transparent)]
    Input(#[from] FastxError),
    /// Writing results failed.
    #[error("writing results: {0}")]
    Write(std::io::Error),
}
