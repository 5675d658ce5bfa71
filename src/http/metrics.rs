//! Prometheus metrics, kept by hand (a handful of counters does not justify a metrics crate) and a middleware
//! that gives every request an id, a tracing span, a log line and its counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::{AppState, ServiceState};

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

/// The request id header (taken from the client when sane, else generated).
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Service counters.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    in_flight: AtomicI64,
    /// Queries searched.
    pub queries: AtomicU64,
    /// Sequence-level hits found.
    pub hits: AtomicU64,
    /// Requests refused with 503 because every slot was taken.
    pub rejected: AtomicU64,
    /// Successful index reloads.
    pub reloads: AtomicU64,
    /// Reloads refused (the new index did not open or verify).
    pub reload_failures: AtomicU64,
    next_id: AtomicU64,
}

impl Metrics {
    fn record(&self, route: &str, status: u16, secs: f64) {
        let mut routes = match self.routes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let r = routes.entry(route.to_string()).or_default();
        *r.by_status.entry(status).or_default() += 1;
        r.count += 1;
        r.sum += secs;
        for (b, bound) in r.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *b += 1;
            }
        }
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self, state: &AppState) -> String {
        let mut s = String::new();
        let routes = match self.routes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let _ = writeln!(s, "# HELP edna_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(s, "# TYPE edna_http_requests_total counter");
        for (route, r) in routes.iter() {
            for (status, n) in &r.by_status {
                let _ = writeln!(
                    s,
                    "edna_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    esc(route)
                );
            }
        }
        let _ = writeln!(s, "# HELP edna_http_request_duration_seconds Request latency by route.");
        let _ = writeln!(s, "# TYPE edna_http_request_duration_seconds histogram");
        for (route, r) in routes.iter() {
            let route = esc(route);
            for (bound, n) in BUCKETS.iter().zip(r.buckets) {
                let _ = writeln!(
                    s,
                    "edna_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                s,
                "edna_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                r.count
            );
            let _ = writeln!(
                s,
                "edna_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                r.sum
            );
            let _ = writeln!(
                s,
                "edna_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                r.count
            );
        }
        drop(routes);
        let gauge = |s: &mut String, name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            let _ = writeln!(s, "{name} {v}");
        };
        gauge(
            &mut s,
            "edna_http_in_flight",
            "Requests being served.",
            "gauge",
            self.in_flight.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_search_queries_total",
            "Query sequences searched.",
            "counter",
            self.queries.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_search_hits_total",
            "Sequence-level hits found.",
            "counter",
            self.hits.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_http_rejected_total",
            "Requests refused with 503 (all search slots taken).",
            "counter",
            self.rejected.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_search_slots_free",
            "Search slots free.",
            "gauge",
            state.free_slots().to_string(),
        );
        gauge(
            &mut s,
            "edna_index_reloads_total",
            "Successful index reloads (SIGHUP or POST /admin/reload).",
            "counter",
            self.reloads.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_index_reload_failures_total",
            "Reloads refused because the new index did not open or verify; the old one kept serving.",
            "counter",
            self.reload_failures.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut s,
            "edna_index_generation",
            "Index generation served to new requests (1 at start, +1 per reload).",
            "gauge",
            state.generation().to_string(),
        );
        gauge(
            &mut s,
            "edna_index_generations_live",
            "Index generations mapped: the current one plus old ones still used by requests in flight.",
            "gauge",
            state.shared.live.load(Ordering::Relaxed).to_string(),
        );
        let m = state.index().meta();
        let _ = writeln!(s, "# HELP edna_index_info Index metadata (value 1).");
        let _ = writeln!(s, "# TYPE edna_index_info gauge");
        let _ = writeln!(
            s,
            "edna_index_info{{format_version=\"{}\",builder_version=\"{}\",build_id=\"{}\",k=\"{}\",w=\"{}\"}} 1",
            m.format_version,
            esc(&m.builder_version),
            state.build_id(),
            m.seeds.k,
            m.seeds.w
        );
        for (name, help, v) in [
            ("edna_index_sequences", "Distinct sequences in the index.", m.sequences),
            (
                "edna_index_reference_records",
                "Reference-library records.",
                m.reference_sequences,
            ),
            ("edna_index_occurrences", "Occurrences.", m.occurrences),
            ("edna_index_taxa", "Taxa.", m.taxa),
            ("edna_index_bytes", "Index file size.", state.index().file().len()),
        ] {
            gauge(&mut s, name, help, "gauge", v.to_string());
        }
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A client-supplied request id is kept only when short and printable, so it cannot forge log lines.
fn sane_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .then(|| s.to_string())
}

/// Settles the in-flight gauge and records one request when dropped.
struct InFlight {
    state: ServiceState,
    route: String,
    start: Instant,
    status: u16,
    span: tracing::Span,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let metrics = &self.state.0.metrics;
        metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64();
        let status = self.status;
        metrics.record(&self.route, status, secs);
        self.span.in_scope(|| {
            if status == 503 {
                // Load shedding is expected under overload: one log line per shed request would flood the log.
                tracing::debug!(status, ms = secs * 1000.0, "shed");
            } else if status >= 500 {
                tracing::warn!(status, ms = secs * 1000.0, "served");
            } else {
                tracing::info!(status, ms = secs * 1000.0, "served");
            }
        });
    }
}

/// Middleware: request id, tracing span and log line, metrics.
pub async fn track(State(state): State<ServiceState>, req: Request, next: Next) -> Response {
    let metrics = &state.0.metrics;
    let id = req.headers().get(&REQUEST_ID).and_then(sane_id).unwrap_or_else(|| {
        let n = metrics.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n}", std::process::id())
    });
    // Group by route template, not raw path, so /v1/taxon/{key} is one series.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", id = %id, method = %method, path = %path);
    // The guard settles the gauge and records the request even when the client disconnects and this
    // future is dropped mid-await (recorded as status 499, as nginx does).
    let mut guard = InFlight {
        state: state.clone(),
        route,
        start: Instant::now(),
        status: 499,
        span: span.clone(),
    };
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let mut res = next.run(req).instrument(span).await;
    guard.status = res.status().as_u16();
    drop(guard);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    res
}
