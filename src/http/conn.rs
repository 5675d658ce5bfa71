//! The accept loop and the read timeouts that keep slow clients from holding connections.
//!
//! `axum::serve` gives hyper no timer, so hyper's header read timeout never fires there, and it has no
//! setting for one. This loop is axum's, with a hyper HTTP/1 connection builder that has a timer and a
//! `header_read_timeout`: a client that has not sent a complete request head within the limit (also an idle
//! keep-alive connection) is disconnected. hyper and hyper-util are already in the tree through axum, so
//! this costs no new crate. Request bodies get [`body_timeout`]: the server waits at most that long for
//! each next piece of a body (JSON bodies must also arrive whole within it, see `extract`), then answers 408.

use std::future::Future;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use futures_util::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::ServiceState;

/// The error a request body yields when the client stopped sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyTimeout {
    /// The limit, in seconds.
    pub secs: u64,
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no request body data for {} s", self.secs)
    }
}

impl std::error::Error for BodyTimeout {}

impl BodyTimeout {
    /// The timeout behind a body read error, if that is what it was.
    pub fn find(e: &axum::Error) -> Option<BodyTimeout> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(t) = err.downcast_ref::<BodyTimeout>() {
                return Some(*t);
            }
            cur = err.source();
        }
        None
    }
}

/// Middleware: the request body fails with [`BodyTimeout`] when the server has waited `body_timeout` for
/// its next piece. Only time spent waiting on the client counts (a handler that reads slowly is not
/// penalised). A 408 answer closes the connection: the rest of the body will not be read.
pub(crate) async fn body_timeout(State(state): State<ServiceState>, req: Request, next: Next) -> Response {
    let limit = state.0.limits.body_timeout;
    let req = req.map(|body| Body::from_stream(idle_limited(body.into_data_stream(), limit)));
    let mut res = next.run(req).await;
    if res.status() == StatusCode::REQUEST_TIMEOUT {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// `inner`, ending with a [`BodyTimeout`] error when a piece takes longer than `limit` to arrive.
fn idle_limited(
    inner: BodyDataStream,
    limit: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, axum::BoxError>> + Send + 'static {
    futures_util::stream::unfold(Some(inner), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(limit, body.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(body))),
            Ok(Some(Err(e))) => Some((Err(e.into()), None)),
            Ok(None) => None,
            Err(_) => {
                let e: axum::BoxError = Box::new(BodyTimeout { secs: limit.as_secs() });
                Some((Err(e), None))
            }
        }
    })
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open connections to finish their
/// requests (idle ones close at once).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `stop` tells connections to finish; every connection task holds a clone of `open_rx`, so
    // `open_tx.closed()` resolves when the last one ends.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // A connection reset before accept, or descriptors exhausted: not fatal; back off a
                    // little so a full descriptor table does not spin the loop.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: no reason to wait for Nagle.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                // The only value ever sent is `true`, so any change (or a dropped sender) means stop.
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                // Header timeouts, resets, malformed requests: the client's business, not an incident.
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}
