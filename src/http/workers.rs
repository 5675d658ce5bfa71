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
    /// The items go out in chunks, at most [`WINDOW`] per thread queued or running at once; a new one goes
    /// out as soon as *any* finishes, so a thread that is done never waits for a slower chunk ahead of it
    /// (a batch of 25 ASVs mixes queries 100 times apart in cost). Dropping the returned future (client
    /// gone, request timed out) raises a flag that makes the threads skip the items not started yet and stop
    /// the searches under way (see [`Searcher::set_stop`]), so abandoned work stops within a few dozen
    /// candidates.
    pub async fn map<T, R>(&self, items: Vec<T>, f: ItemFn<T, R>) -> Result<Vec<R>, ApiError>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let n = items.len();
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        // Chunks of one item up to a few per thread (a batch's last chunk decides when it is done), larger
        // on big batches to keep the per-chunk cost small; the cap bounds the latency others see.
        let chunk = (n / (self.threads * CHUNKS_PER_THREAD)).clamp(1, 64);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        // Finished chunks, by position, until all are in.
        let mut parts: Vec<Option<Vec<R>>> = Vec::with_capacity(n.div_ceil(chunk));
        let mut in_flight = 0;
        let mut items = items.into_iter();
        loop {
            while in_flight < WINDOW * self.threads {
                let part: Vec<T> = items.by_ref().take(chunk).collect();
                if part.is_empty() {
                    break;
                }
                let reply = Reply {
                    slot: parts.len(),
                    tx: Some(done_tx.clone()),
                };
                parts.push(None);
                let f = Arc::clone(&f);
                let flag = Arc::clone(&cancel.0);
                let job: Job = Box::new(move |s: &mut Searcher<'_>| {
                    // The searcher looks at the flag inside a query too: one query can be seconds of work.
                    s.set_stop(Some(Arc::clone(&flag)));
                    let mut done = Vec::with_capacity(part.len());
                    for t in part {
                        if flag.load(Ordering::Relaxed) {
                            break;
                        }
                        done.push(f(s, t));
                    }
                    s.set_stop(None);
                    // A raised flag may have cut the last answer short: send nothing (nobody waits for it).
                    if !flag.load(Ordering::Relaxed) {
                        reply.send(done);
                    }
                });
                self.tx.send(job).map_err(|_| {
                    tracing::error!("search threads are gone");
                    ApiError::internal()
                })?;
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            // Never `None`: this function holds a sender.
            let Some((slot, done)) = done_rx.recv().await else {
                return Err(ApiError::internal());
            };
            in_flight -= 1;
            match (done, parts.get_mut(slot)) {
                (Some(done), Some(part)) => *part = Some(done),
                _ => {
                    tracing::error!("a search job failed (see the panic above)");
                    return Err(ApiError::internal());
                }
            }
        }
        Ok(parts.into_iter().flatten().flatten().collect())
    }
}

/// Chunks per search thread a batch is cut into, at least (until chunks reach 64 items).
const CHUNKS_PER_THREAD: usize = 8;

/// Where a chunk's results go: sent once when it finishes; dropped unsent (the job panicked or was
/// cancelled), it reports the chunk as failed, so the request never waits for an answer that cannot come.
struct Reply<R> {
    slot: usize,
    tx: Option<tokio::sync::mpsc::UnboundedSender<(usize, Option<Vec<R>>)>>,
}

impl<R> Reply<R> {
    fn send(mut self, done: Vec<R>) {
        if let Some(tx) = self.tx.take() {
            // The request may be gone (cancelled); then nobody wants the results.
            let _ = tx.send((self.slot, Some(done)));
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.slot, None));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use edna_index_builder::build::{build, NoProgress};
    use std::time::Duration;

    /// The bundled index: the threads need one to build their searchers.
    fn bundled_index(dir: &std::path::Path) -> Arc<Index> {
        let cfg = crate::defaults::default_build_config(&crate::defaults::repo_root(), dir.to_path_buf());
        build(&cfg, &NoProgress).expect("build");
        Arc::new(Index::open(dir).expect("open"))
    }

    #[tokio::test]
    async fn results_keep_input_order_when_later_chunks_finish_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let workers = Workers::new(bundled_index(tmp.path()), 2).expect("threads");
        for n in [1usize, 3, 25, 200] {
            // Early items are the slow ones, so later chunks finish first.
            let f: ItemFn<usize, usize> = Arc::new(move |_, i| {
                std::thread::sleep(Duration::from_micros(((n - i) % 7) as u64 * 300));
                i * 2
            });
            let out = workers.map((0..n).collect(), f).await.expect("map");
            assert_eq!(out, (0..n).map(|i| i * 2).collect::<Vec<_>>(), "{n} items");
        }
    }

    #[tokio::test]
    async fn an_abandoned_request_stops_the_search_under_way() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let workers = Workers::new(bundled_index(tmp.path()), 1).expect("threads");
        // An item that works until its searcher is told to stop (30 s at most), like a 10 kb query at 80 %.
        let slow: ItemFn<usize, usize> = Arc::new(|s, i| {
            let started = std::time::Instant::now();
            while !s.stop_requested() && started.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(1));
            }
            i
        });
        let abandoned = tokio::time::timeout(Duration::from_millis(100), workers.map(vec![0], slow)).await;
        assert!(abandoned.is_err(), "the slow item cannot finish in 100 ms");
        // The one thread is free again at once, not after the item's 30 s.
        let quick: ItemFn<usize, usize> = Arc::new(|_, i| i + 1);
        let answer = tokio::time::timeout(Duration::from_secs(5), workers.map(vec![1], quick))
            .await
            .expect("the thread must have stopped the abandoned search")
            .expect("map");
        assert_eq!(answer, vec![2]);
    }

    #[tokio::test]
    async fn a_panicking_item_fails_its_request_and_the_threads_go_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let workers = Workers::new(bundled_index(tmp.path()), 2).expect("threads");
        let f: ItemFn<usize, usize> = Arc::new(|_, i| {
            assert!(i != 13, "item 13 fails on purpose");
            i
        });
        let failed = tokio::time::timeout(Duration::from_secs(20), workers.map((0..40).collect(), Arc::clone(&f)))
            .await
            .expect("the request must not wait for a chunk that cannot come");
        assert!(failed.is_err());
        let ok = workers
            .map((14..40).collect(), f)
            .await
            .expect("the threads still serve");
        assert_eq!(ok, (14..40).collect::<Vec<_>>());
    }
}
