//! A fixed set of search threads, each owning one [`Searcher`] for the life of the service.
//!
//! Searching is blocking CPU work, so it never runs on the async runtime. A `Searcher` holds per-sequence
//! scratch arrays (several bytes per indexed sequence), far too costly to allocate per request on a large
//! index, and it borrows the index, so each thread keeps its own `Arc<Index>` and builds its searcher once.
//! Requests send closures to the threads through a channel and await the results.
//!
//! A request keeps at most [`WINDOW`] of its chunks queued at a time, so a 10,000-sequence batch does not
//! push the single-sequence requests that arrive after it to the back of a long queue: their chunks
//! interleave with the batch's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use edna_index::Index;
use tokio::sync::oneshot;

use super::error::ApiError;
use crate::search::Searcher;

/// Work sent to a search thread.
type Job = Box<dyn for<'a> FnOnce(&mut Searcher<'a>) + Send>;

/// Per-item work run on a search thread.
pub type ItemFn<T, R> = Arc<dyn for<'a> Fn(&mut Searcher<'a>, T) -> R + Send + Sync>;

/// Chunks of one request in the queue at once, per search thread.
const WINDOW: usize = 2;

/// The search threads.
pub struct Workers {
    tx: mpsc::Sender<Job>,
    threads: usize,
}

impl Workers {
    /// Starts `threads` search threads over `index` (at least one).
    pub fn new(index: Arc<Index>, threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let index = Arc::clone(&index);
            std::thread::Builder::new()
                .name(format!("edna-search-{i}"))
                .spawn(move || worker_loop(&index, &rx))?;
        }
        Ok(Workers { tx, threads })
    }

    /// Number of search threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` over `items` on the search threads and returns the results in input order.
    ///
    /// Dropping the returned future (client gone, request timed out) sets a flag that makes the threads
    /// skip the items not started yet, so abandoned work stops within one item.
    pub async fn map<T, R>(&self, items: Vec<T>, f: ItemFn<T, R>) -> Result<Vec<R>, ApiError>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let n = items.len();
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        // Small chunks keep every thread busy on mid-sized batches; the cap bounds the latency others see.
        let chunk = (n / (self.threads * 4)).clamp(1, 64);
        let mut pending = std::collections::VecDeque::new();
        let mut out = Vec::with_capacity(n);
        let mut items = items.into_iter();
        loop {
            while pending.len() < WINDOW * self.threads {
                let part: Vec<T> = items.by_ref().take(chunk).collect();
                if part.is_empty() {
                    break;
                }
                let (otx, orx) = oneshot::channel();
                let f = Arc::clone(&f);
                let flag = Arc::clone(&cancel.0);
                let job: Job = Box::new(move |s: &mut Searcher<'_>| {
                    let mut done = Vec::with_capacity(part.len());
                    for t in part {
                        if flag.load(Ordering::Relaxed) {
                            return;
                        }
                        done.push(f(s, t));
                    }
                    let _ = otx.send(done);
                });
                self.tx.send(job).map_err(|_| {
                    tracing::error!("search threads are gone");
                    ApiError::internal()
                })?;
                pending.push_back(orx);
            }
            let Some(next) = pending.pop_front() else { break };
            let done = next.await.map_err(|_| {
                tracing::error!("a search job failed (see the panic above)");
                ApiError::internal()
            })?;
            out.extend(done);
        }
        Ok(out)
    }
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn worker_loop(index: &Index, rx: &Mutex<mpsc::Receiver<Job>>) {
    let mut searcher = Searcher::new(index);
    loop {
        // The lock is held only while waiting for the next job; a poisoned lock still guards a valid receiver.
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        if catch_unwind(AssertUnwindSafe(|| job(&mut searcher))).is_err() {
            // The scratch arrays may be half-updated after a panic: start over with fresh ones.
            tracing::error!("a search job panicked; the thread's searcher was rebuilt");
            searcher = Searcher::new(index);
        }
    }
}
