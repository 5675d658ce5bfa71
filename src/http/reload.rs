//! Zero-downtime index swap: `POST /admin/reload` (bearer token) and SIGHUP re-open the index file the
//! service was started with (so a rebuilt index renamed into place, or a directory symlink switched to
//! another index, is picked up), check it, and make it the current [`Generation`]. A new index that does not
//! open (corrupt, truncated, foreign, future version) or, with `verify=full`, does not verify, is refused
//! and the old one keeps serving.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use edna_index::{Index, IndexError};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Params;
use super::{AppState, Generation, ServiceState, Shared};

/// How much a reload checks before swapping the new index in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyLevel {
    /// What opening checks, in O(1): magic, version, length, table checksum, section bounds and shapes.
    Header,
    /// Also every section checksum and cross-reference (`edna-search verify`; reads the whole file).
    Full,
}

impl VerifyLevel {
    fn as_str(self) -> &'static str {
        match self {
            VerifyLevel::Header => "header",
            VerifyLevel::Full => "full",
        }
    }
}

/// The admin bearer token. Its `Debug` output does not show it, so configs can be logged.
#[derive(Clone)]
pub struct AdminToken(String);

/// Why a token was refused at startup.
#[derive(Debug, thiserror::Error)]
#[error("the admin token must be 16 to 4096 visible ASCII characters without spaces")]
pub struct BadToken;

impl AdminToken {
    /// A token from text (surrounding whitespace, such as a file's final newline, is ignored).
    pub fn new(text: &str) -> Result<Self, BadToken> {
        let t = text.trim();
        // Visible ASCII is what an HTTP header can carry; a short token is guessable.
        if (16..=4096).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(AdminToken(t.to_string()))
        } else {
            Err(BadToken)
        }
    }

    /// Compares in time that depends on the expected token's length only, not on where `given` differs.
    fn matches(&self, given: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = u8::from(expected.len() != given.len());
        for (i, &e) in expected.iter().enumerate() {
            diff |= e ^ given.get(i).copied().unwrap_or(0);
        }
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Why a reload was refused; the old index keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new index does not open (missing, corrupt header or table, truncated, foreign, wrong version).
    #[error("the new index does not open: {0}")]
    Open(#[source] IndexError),
    /// The new index opened but failed the full verification.
    #[error("the new index failed verification: {0}")]
    Verify(#[source] IndexError),
    /// The search threads for the new index could not be started.
    #[error("could not start search threads for the new index: {0}")]
    Threads(#[source] std::io::Error),
}

/// What a successful reload did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reloaded {
    /// The new generation number.
    pub generation: u64,
    /// The new index's build id.
    pub build_id: String,
    /// The generation it replaced.
    pub previous_generation: u64,
    /// The replaced index's build id.
    pub previous_build_id: String,
    /// Distinct sequences in the new index.
    pub sequences: u64,
    /// Reference records in the new index.
    pub reference_records: u64,
    /// Occurrences in the new index.
    pub occurrences: u64,
    /// `header` or `full`.
    pub verified: &'static str,
    /// Time to open, check and start the new generation, in milliseconds.
    pub millis: u64,
}

impl Shared {
    /// Opens the index at the current one's path, checks it, and makes it current (blocking).
    fn reload(&self, verify: VerifyLevel) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.reload_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let start = Instant::now();
        let old = self.current();
        let path = old.index.file().path().to_path_buf();
        let opened = Index::open(&path).map_err(ReloadError::Open).and_then(|index| {
            if verify == VerifyLevel::Full {
                index.verify().map_err(ReloadError::Verify)?;
            }
            Generation::new(Arc::new(index), self.threads, old.number + 1, Arc::clone(&self.live))
                .map_err(ReloadError::Threads)
        });
        let gen = match opened {
            Ok(g) => Arc::new(g),
            Err(e) => {
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let m = gen.index.meta();
        let done = Reloaded {
            generation: gen.number,
            build_id: gen.build_id.clone(),
            previous_generation: old.number,
            previous_build_id: old.build_id.clone(),
            sequences: m.sequences,
            reference_records: m.reference_sequences,
            occurrences: m.occurrences,
            verified: verify.as_str(),
            millis: start.elapsed().as_millis() as u64,
        };
        let replaced = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, gen)
        };
        // Requests in flight still hold the old generation; it is unmapped when the last one ends.
        drop(replaced);
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(done)
    }
}

impl AppState {
    /// Re-opens the index file this service was started with, checks it at `verify` level and makes it
    /// the index of new requests; requests in flight finish on the old one. Blocking: call it from a
    /// blocking thread. On error nothing changes.
    pub fn reload(&self, verify: VerifyLevel) -> Result<Reloaded, ReloadError> {
        self.shared.reload(verify)
    }
}

/// Reloads on every SIGHUP for the life of the runtime, logging the outcome.
#[cfg(unix)]
pub(crate) fn watch_sighup(state: &AppState) -> std::io::Result<()> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // Only the shared part: holding `state` would pin the first generation forever.
    let shared = Arc::clone(&state.shared);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let s = Arc::clone(&shared);
            let level = s.reload_verify;
            match tokio::task::spawn_blocking(move || s.reload(level)).await {
                Ok(Ok(r)) => tracing::info!(
                    generation = r.generation,
                    build_id = %r.build_id,
                    previous_build_id = %r.previous_build_id,
                    sequences = r.sequences,
                    verified = r.verified,
                    ms = r.millis,
                    "index reloaded (SIGHUP)"
                ),
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "index reload refused (SIGHUP); the previous index keeps serving"
                ),
                Err(e) => tracing::error!(error = %e, "index reload task failed (SIGHUP)"),
            }
        }
    });
    Ok(())
}

/// `POST /admin/reload[?verify=header|full]` with `Authorization: Bearer TOKEN`: reloads the index.
///
/// 200 with [`Reloaded`]; 401 without a bearer token; 403 with a wrong one, or when no token is configured
/// (the endpoint is disabled); 422 `index_refused` when the new index does not open or verify.
pub(crate) async fn admin_reload(
    State(service): State<ServiceState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Reloaded>, Response> {
    let shared = Arc::clone(&service.0);
    let Some(token) = &shared.admin_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "admin endpoints are disabled; start the server with --admin-token-file FILE or EDNA_ADMIN_TOKEN",
        )
        .into_response());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .and_then(|v| {
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ")).then(|| v[7..].trim_ascii())
        });
    let Some(given) = given else {
        let mut res = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the admin token as Authorization: Bearer TOKEN",
        )
        .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"edna-search admin\""),
        );
        return Err(res);
    };
    if !token.matches(given) {
        tracing::warn!("admin reload refused: wrong token");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "wrong admin token").into_response());
    }
    let level = match params.get(&["verify"]).map(str::to_ascii_lowercase).as_deref() {
        None => shared.reload_verify,
        Some("header") => VerifyLevel::Header,
        Some("full") => VerifyLevel::Full,
        Some(v) => {
            return Err(ApiError::bad_request(format!("verify must be header or full, got {v:?}")).into_response())
        }
    };
    let s = Arc::clone(&shared);
    match tokio::task::spawn_blocking(move || s.reload(level)).await {
        Ok(Ok(r)) => {
            tracing::info!(
                generation = r.generation,
                build_id = %r.build_id,
                previous_build_id = %r.previous_build_id,
                sequences = r.sequences,
                verified = r.verified,
                ms = r.millis,
                "index reloaded (POST /admin/reload)"
            );
            Ok(Json(r))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "index reload refused; the previous index keeps serving");
            Err(
                ApiError::unprocessable("index_refused", format!("{e}; the previous index keeps serving"))
                    .into_response(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "index reload task failed");
            Err(ApiError::internal().into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AdminToken;

    #[test]
    fn tokens_compare_exactly() {
        let t = AdminToken::new("  0123456789abcdef-token\n").expect("valid");
        assert!(t.matches(b"0123456789abcdef-token"));
        assert!(!t.matches(b"0123456789abcdef-tokem"));
        assert!(!t.matches(b"0123456789abcdef-toke"));
        assert!(!t.matches(b"0123456789abcdef-token!"));
        assert!(!t.matches(b""));
        assert!(AdminToken::new("short").is_err());
        assert!(AdminToken::new("has a space in the middle").is_err());
        assert!(!format!("{t:?}").contains("0123"));
    }
}
