//! The HTTP service (axum on tokio): native API, GBIF-compatible endpoints and a web page.
//!
//! # Layout
//! - [`router`] builds the whole service over an [`AppState`]; [`run`] serves it on a listener until a
//!   shutdown future resolves; [`serve`] is the `edna-search serve` entry point (runtime, logging, signals).
//! - `compat`: GBIF's blast-ws (`/blast`, `/blast/batch`) and sequence-search-ws (`/search`, `/databases`).
//! - `native`: `/v1/search`, `/v1/validation/sequence`, `/v1/sequence`, `/v1/taxon`, `/v1/dataset`, `/v1/index`.
//! - `occurrence`: `/v1/occurrence/search` with GBIF's paging envelope and field names.
//! - `stream`: `/v1/search/stream`, FASTA in, results out as they are found, in bounded memory.
//! - `workers`: the search threads; `metrics`: request ids, logs, Prometheus counters; `error`/`extract`: JSON
//!   errors and the extractors that produce them.
//!
//! # Load behaviour
//! Search work runs on a fixed set of threads, never on the async runtime. Each search request takes one of
//! `max_in_flight` slots or is refused at once with `503` + `Retry-After` (blast-ws's behaviour, without its
//! unbounded queue), and is cut off after `request_timeout`. Shutdown (SIGINT/SIGTERM) stops accepting,
//! marks `/ready` as 503 and lets in-flight requests finish.

mod compat;
pub mod error;
pub mod extract;
mod metrics;
mod native;
mod occurrence;
mod openapi;
mod stream;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edna_index::Index;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use error::ApiError;
use metrics::Metrics;
use workers::Workers;

/// Service settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Search threads (0 = one per core).
    pub workers: usize,
    /// Search requests served at once; more are refused with 503 (0 refuses every search).
    pub max_in_flight: usize,
    /// Longest a search request may run before it is abandoned with 503.
    pub request_timeout: Duration,
    /// Largest JSON body in bytes (blast-ws allows 1 MB; 10,000-sequence batches need more).
    pub json_limit: usize,
    /// Largest streamed FASTA body in bytes (`/v1/search/stream`).
    pub stream_limit: u64,
    /// Most sequences in one JSON batch request (blast-ws: 25).
    pub max_batch: usize,
}

impl ServeConfig {
    /// Defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        ServeConfig {
            listen,
            workers: 0,
            max_in_flight: 64,
            request_timeout: Duration::from_secs(300),
            json_limit: 16 << 20,
            stream_limit: 1 << 30,
            max_batch: 10_000,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig::new(SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

/// Limits the handlers consult.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest JSON body in bytes.
    pub json_limit: usize,
    /// Largest streamed FASTA body in bytes.
    pub stream_limit: u64,
    /// Most sequences in one JSON request.
    pub max_batch: usize,
    /// Longest a search may run.
    pub request_timeout: Duration,
}

/// A reference library as the handlers see it.
pub(crate) struct Library {
    /// Index into `IndexMeta::libraries` (`RefEntry::library`).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// `canonical_marker` of the library's marker.
    pub marker: String,
}

struct Inner {
    index: Arc<Index>,
    limits: Limits,
    workers: Workers,
    slots: Arc<Semaphore>,
    metrics: Metrics,
    draining: AtomicBool,
    libraries: Vec<Library>,
}

/// Shared state of the service: the index, the search threads, limits and counters. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl AppState {
    /// Starts the search threads over `index` with the limits of `config`.
    pub fn new(index: Arc<Index>, config: &ServeConfig) -> anyhow::Result<Self> {
        let threads = if config.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            config.workers
        };
        let workers = Workers::new(Arc::clone(&index), threads)?;
        let libraries = index
            .meta()
            .libraries
            .iter()
            .enumerate()
            .map(|(i, l)| Library {
                id: i as u32,
                name: l.name.clone(),
                marker: edna_index::meta::canonical_marker(&l.marker),
            })
            .collect();
        Ok(AppState {
            inner: Arc::new(Inner {
                index,
                limits: Limits {
                    json_limit: config.json_limit,
                    stream_limit: config.stream_limit,
                    max_batch: config.max_batch,
                    request_timeout: config.request_timeout,
                },
                workers,
                slots: Arc::new(Semaphore::new(config.max_in_flight)),
                metrics: Metrics::default(),
                draining: AtomicBool::new(false),
                libraries,
            }),
        })
    }

    /// The index served.
    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    /// Request limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The reference libraries with canonical markers.
    pub(crate) fn libraries(&self) -> &[Library] {
        &self.inner.libraries
    }

    /// The search threads.
    pub(crate) fn workers(&self) -> &Workers {
        &self.inner.workers
    }

    fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn free_slots(&self) -> usize {
        self.inner.slots.available_permits()
    }

    /// Marks the service as shutting down: `/ready` answers 503 from now on.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Takes a search slot, or refuses with 503 when all are taken (no unbounded queue).
    pub(crate) fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.inner.slots).try_acquire_owned().map_err(|_| {
            self.inner.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            ApiError::busy("every search slot is taken; retry after the number of seconds in Retry-After")
        })
    }

    /// Runs `f` over `items` on the search threads within the request timeout.
    pub(crate) async fn map<T, R>(&self, items: Vec<T>, f: workers::ItemFn<T, R>) -> Result<Vec<R>, ApiError>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let limit = self.inner.limits.request_timeout;
        match tokio::time::timeout(limit, self.inner.workers.map(items, f)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::timeout(limit.as_secs())),
        }
    }

    /// Counts searched queries and hits for `/metrics`.
    pub(crate) fn count(&self, queries: usize, hits: usize) {
        self.inner.metrics.queries.fetch_add(queries as u64, Ordering::Relaxed);
        self.inner.metrics.hits.fetch_add(hits as u64, Ordering::Relaxed);
    }
}

/// The whole service.
pub fn router(state: AppState) -> Router {
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT, metrics::REQUEST_ID.clone()])
        .expose_headers([metrics::REQUEST_ID.clone(), header::RETRY_AFTER]);
    Router::new()
        .route("/", get(page))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi::document))
        // blast-ws
        .route("/blast", get(compat::blast_get).post(compat::blast_post))
        .route("/blast/batch", post(compat::blast_batch))
        // sequence-search-ws
        .route("/search", post(compat::search))
        .route("/search/batch", post(compat::search))
        .route("/databases", get(compat::databases))
        .route("/databases-available", get(compat::databases))
        // native
        .route("/v1/index", get(native::index_meta))
        .route("/v1/search", post(native::search))
        .route("/v1/search/stream", post(stream::search_stream))
        .route("/v1/validation/sequence", get(native::validate))
        .route("/v1/sequence/{id}", get(native::sequence))
        .route("/v1/taxon", get(native::taxon_search))
        .route("/v1/taxon/{key}", get(native::taxon))
        .route("/v1/dataset", get(native::datasets))
        .route("/v1/dataset/{*key}", get(native::dataset))
        .route("/v1/occurrence/search", get(occurrence::search))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost: a panicking handler becomes a JSON 500 that the metrics and logs still see.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                ApiError::internal().into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(cors)
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            state.set_draining();
        })
        .await
}

/// Serves `index` until interrupted (SIGINT or SIGTERM).
pub fn serve(index: Arc<Index>, config: ServeConfig) -> anyhow::Result<()> {
    init_logging();
    let state = AppState::new(index, &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("edna-http")
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let m = state.index().meta();
        tracing::info!(
            %addr,
            sequences = m.sequences,
            references = m.reference_sequences,
            occurrences = m.occurrences,
            search_threads = state.workers().threads(),
            "edna-search listening on http://{addr}/"
        );
        run(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// Logs to stderr; `RUST_LOG=debug|info|warn|error` sets the level (default info).
fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    // A second call (tests, embedding) keeps the first subscriber.
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    let m = state.index().meta();
    let body = json!({
        "status": if state.inner.draining.load(Ordering::Relaxed) { "draining" } else { "ready" },
        "sequences": m.sequences,
        "referenceRecords": m.reference_sequences,
        "libraries": m.libraries.len(),
        "occurrences": m.occurrences,
        "datasets": m.datasets.len(),
        "taxa": m.taxa,
        "searchThreads": state.workers().threads(),
        "freeSlots": state.free_slots(),
    });
    if state.inner.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    } else {
        Json(body).into_response()
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(&state);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; GET /openapi.json lists them")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint; GET /openapi.json lists them",
    )
}
