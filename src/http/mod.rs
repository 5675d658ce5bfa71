//! The HTTP service (axum on tokio): native API, GBIF-compatible endpoints and a web page.
//!
//! # Layout
//! - [`router`] builds the whole service over an [`AppState`]; [`run`] serves it on a listener until a
//!   shutdown future resolves; [`serve`] is the `edna-search serve` entry point (runtime, logging, signals).
//! - `compat`: GBIF's blast-ws (`/blast`, `/blast/batch`) and sequence-search-ws (`/search`, `/databases`).
//! - `native`: `/v1/search`, `/v1/validation/sequence`, `/v1/sequence`, `/v1/taxon`, `/v1/dataset`, `/v1/index`.
//! - `occurrence`: `/v1/occurrence/search` with GBIF's paging envelope and field names.
//! - `stream`: `/v1/search/stream`, FASTA in, results out as they are found, in bounded memory.
//! - `reload`: `POST /admin/reload` and SIGHUP, swapping the index without dropping a request.
//! - `conn`: the accept loop (header and body read timeouts, graceful shutdown).
//! - `workers`: the search threads; `metrics`: request ids, logs, Prometheus counters; `error`/`extract`: JSON
//!   errors and the extractors that produce them.
//!
//! # Load behaviour
//! Search work runs on a fixed set of threads, never on the async runtime. Each search request takes one of
//! `max_in_flight` slots or is refused at once with `503` + `Retry-After` (blast-ws's behaviour, without its
//! unbounded queue), and is cut off after `request_timeout`. Shutdown (SIGINT/SIGTERM) stops accepting,
//! marks `/ready` as 503 and lets in-flight requests finish.
//!
//! # Index generations
//! Everything tied to one index file (the map, the search threads and their scratch space, the library table)
//! is a `Generation`. The service holds the current one behind a `RwLock<Arc<Generation>>`; every request
//! takes its own `Arc` when it starts (the [`AppState`] extractor), so a reload swaps the pointer and new
//! requests see the new index while requests in flight finish on the old one, which is unmapped (and its
//! threads end) when the last of them drops it.

mod compat;
mod conn;
pub mod error;
pub mod extract;
mod metrics;
mod native;
mod occurrence;
mod openapi;
mod reload;
mod stream;
mod workers;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edna_index::Index;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use error::ApiError;
use metrics::Metrics;
pub use reload::{AdminToken, BadToken, ReloadError, Reloaded, VerifyLevel};
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
    /// Longest a client may take to send a request's headers (also the idle keep-alive limit); then the
    /// connection is closed.
    pub header_timeout: Duration,
    /// Longest the server waits for the next piece of a request body, and for a whole JSON body; then 408.
    pub body_timeout: Duration,
    /// Bearer token of `POST /admin/reload`; `None` disables the admin endpoints.
    pub admin_token: Option<AdminToken>,
    /// What a reload checks before swapping the index in: header and shapes (cheap) or every checksum.
    pub reload_verify: VerifyLevel,
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
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            admin_token: None,
            reload_verify: VerifyLevel::Header,
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
    /// Longest wait for request headers.
    pub header_timeout: Duration,
    /// Longest wait for the next body chunk, and for a whole JSON body.
    pub body_timeout: Duration,
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

/// Everything tied to one opened index: the map, its search threads (each with its own scratch space) and
/// the library table. Replaced as a whole by a reload; dropped when the last request using it ends.
pub(crate) struct Generation {
    index: Arc<Index>,
    workers: Workers,
    libraries: Vec<Library>,
    /// 1 for the index the service started with, +1 per successful reload.
    number: u64,
    /// Hex of the header's table checksum, which covers every section checksum: differs between indexes with
    /// different content, equal for byte-identical rebuilds.
    build_id: String,
    /// Seconds since the epoch when this generation was loaded.
    loaded_at: u64,
    /// The service's count of live generations, decremented on drop.
    live: Arc<AtomicU64>,
}

impl Generation {
    fn new(index: Arc<Index>, threads: usize, number: u64, live: Arc<AtomicU64>) -> std::io::Result<Self> {
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
        let build_id = format!("{:016x}", index.file().header().table_checksum);
        let loaded_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        live.fetch_add(1, Ordering::Relaxed);
        Ok(Generation {
            index,
            workers,
            libraries,
            number,
            build_id,
            loaded_at,
            live,
        })
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What lives as long as the service: limits, admission slots, counters, the current generation.
pub(crate) struct Shared {
    limits: Limits,
    slots: Arc<Semaphore>,
    metrics: Metrics,
    draining: AtomicBool,
    current: RwLock<Arc<Generation>>,
    /// Search threads per generation.
    threads: usize,
    admin_token: Option<AdminToken>,
    reload_verify: VerifyLevel,
    /// Serialises reloads (two at once would race on the generation number).
    reload_lock: Mutex<()>,
    /// Generations alive (current plus old ones still used by requests in flight).
    live: Arc<AtomicU64>,
}

impl Shared {
    /// The generation new requests should use.
    fn current(&self) -> Arc<Generation> {
        // A poisoned lock still holds a valid Arc: the writer only ever replaces it whole.
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }
}

/// The router's state: the service-wide part only, so that the router itself pins no index generation.
#[derive(Clone)]
pub(crate) struct ServiceState(Arc<Shared>);

/// The service as one request sees it: the shared limits and counters plus the index generation current
/// when the request started, kept for the whole request. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
    gen: Arc<Generation>,
}

/// Handlers take `state: AppState`: it pins the current index generation for the rest of the request.
impl FromRequestParts<ServiceState> for AppState {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, state: &ServiceState) -> Result<Self, Infallible> {
        Ok(AppState {
            shared: Arc::clone(&state.0),
            gen: state.0.current(),
        })
    }
}

impl AppState {
    /// Starts the search threads over `index` with the limits of `config`.
    pub fn new(index: Arc<Index>, config: &ServeConfig) -> anyhow::Result<Self> {
        let threads = if config.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            config.workers
        };
        let live = Arc::new(AtomicU64::new(0));
        let gen = Arc::new(Generation::new(index, threads, 1, Arc::clone(&live))?);
        let shared = Arc::new(Shared {
            limits: Limits {
                json_limit: config.json_limit,
                stream_limit: config.stream_limit,
                max_batch: config.max_batch,
                request_timeout: config.request_timeout,
                header_timeout: config.header_timeout,
                body_timeout: config.body_timeout,
            },
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            metrics: Metrics::default(),
            draining: AtomicBool::new(false),
            current: RwLock::new(Arc::clone(&gen)),
            threads,
            admin_token: config.admin_token.clone(),
            reload_verify: config.reload_verify,
            reload_lock: Mutex::new(()),
            live,
        });
        Ok(AppState { shared, gen })
    }

    /// The same service pinned to the generation current now (after a reload, the new index).
    pub fn refreshed(&self) -> AppState {
        AppState {
            shared: Arc::clone(&self.shared),
            gen: self.shared.current(),
        }
    }

    /// The index served (of the generation this state is pinned to).
    pub fn index(&self) -> &Index {
        &self.gen.index
    }

    /// The index generation this state is pinned to: 1 at start, +1 per successful reload.
    pub fn generation(&self) -> u64 {
        self.gen.number
    }

    /// The pinned index's build id (hex of its table checksum).
    pub fn build_id(&self) -> &str {
        &self.gen.build_id
    }

    /// When the pinned generation was loaded, in seconds since the Unix epoch.
    pub fn loaded_at(&self) -> u64 {
        self.gen.loaded_at
    }

    /// Request limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The reference libraries with canonical markers.
    pub(crate) fn libraries(&self) -> &[Library] {
        &self.gen.libraries
    }

    /// The search threads.
    pub(crate) fn workers(&self) -> &Workers {
        &self.gen.workers
    }

    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    fn free_slots(&self) -> usize {
        self.shared.slots.available_permits()
    }

    /// Marks the service as shutting down: `/ready` answers 503 from now on.
    pub fn set_draining(&self) {
        self.shared.draining.store(true, Ordering::Relaxed);
    }

    /// Takes a search slot, or refuses with 503 when all are taken (no unbounded queue).
    pub(crate) fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.shared.slots).try_acquire_owned().map_err(|_| {
            self.shared.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            ApiError::busy("every search slot is taken; retry after the number of seconds in Retry-After")
        })
    }

    /// Runs `f` over `items` on the search threads within the request timeout.
    pub(crate) async fn map<T, R>(&self, items: Vec<T>, f: workers::ItemFn<T, R>) -> Result<Vec<R>, ApiError>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let limit = self.shared.limits.request_timeout;
        match tokio::time::timeout(limit, self.gen.workers.map(items, f)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::timeout(limit.as_secs())),
        }
    }

    /// Counts searched queries and hits for `/metrics`.
    pub(crate) fn count(&self, queries: usize, hits: usize) {
        self.shared.metrics.queries.fetch_add(queries as u64, Ordering::Relaxed);
        self.shared.metrics.hits.fetch_add(hits as u64, Ordering::Relaxed);
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
    // The router keeps only the service-wide state: holding `state.gen` here would keep the first index
    // mapped (and its threads alive) for the life of the service.
    let service = ServiceState(Arc::clone(&state.shared));
    drop(state);
    Router::new()
        .route("/", get(page))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi::document))
        .route("/admin/reload", post(reload::admin_reload))
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
        .route("/v1/search/batch", post(stream::search_batch))
        .route("/v1/search/stream", post(stream::search_batch))
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
        .layer(axum::middleware::from_fn_with_state(
            service.clone(),
            conn::body_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(service.clone(), metrics::track))
        .layer(cors)
        .with_state(service)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
///
/// Connections get the header and body read timeouts of the state's [`ServeConfig`].
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::clone(&state.shared);
    let header_timeout = shared.limits.header_timeout;
    let app = router(state);
    conn::serve(listener, app, header_timeout, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        shared.draining.store(true, Ordering::Relaxed);
    })
    .await
}

/// Serves `index` until interrupted (SIGINT or SIGTERM); SIGHUP reloads the index from its path.
pub fn serve(index: Arc<Index>, config: ServeConfig) -> anyhow::Result<()> {
    init_logging();
    let state = AppState::new(index, &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("edna-http")
        .build()?;
    runtime.block_on(async move {
        // Before announcing the address: SIGHUP's default action would end the process.
        #[cfg(unix)]
        reload::watch_sighup(&state)?;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let m = state.index().meta();
        tracing::info!(
            %addr,
            sequences = m.sequences,
            references = m.reference_sequences,
            occurrences = m.occurrences,
            search_threads = state.workers().threads(),
            build_id = state.build_id(),
            admin = state.shared.admin_token.is_some(),
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

async fn ready(state: AppState) -> Response {
    let m = state.index().meta();
    let draining = state.shared.draining.load(Ordering::Relaxed);
    let body = json!({
        "status": if draining { "draining" } else { "ready" },
        "sequences": m.sequences,
        "referenceRecords": m.reference_sequences,
        "libraries": m.libraries.len(),
        "occurrences": m.occurrences,
        "datasets": m.datasets.len(),
        "taxa": m.taxa,
        "searchThreads": state.workers().threads(),
        "freeSlots": state.free_slots(),
        "generation": state.generation(),
        "buildId": state.build_id(),
    });
    if draining {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    } else {
        Json(body).into_response()
    }
}

async fn metrics_text(state: AppState) -> Response {
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
