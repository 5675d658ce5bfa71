//! Request extractors whose rejections are JSON [`ApiError`]s (axum's own answer in plain text).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::conn::BodyTimeout;
use super::error::ApiError;
use super::ServiceState;

/// A JSON body read up to the configured size limit (`json_limit`), within the body timeout (408 after).
///
/// Accepts `application/json`, any `…+json` type, and a missing content type (blast-ws clients often send
/// none); anything else is 415 so a form-encoded `curl -d` gets a clear answer instead of a parse error.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ServiceState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ServiceState) -> Result<Self, ApiError> {
        check_json_content_type(req.headers())?;
        let limits = &state.0.limits;
        // The whole body within the timeout, not only each piece: a client dripping one byte at a time
        // must not hold the connection for as long as it likes.
        let deadline = limits.body_timeout;
        let bytes = match tokio::time::timeout(deadline, read_body(req, limits.json_limit)).await {
            Ok(b) => b?,
            Err(_) => return Err(ApiError::request_timeout(deadline.as_secs())),
        };
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON, telling syntax errors from shape errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::bad_request(format!("invalid request body: {e}")),
            _ => ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("malformed JSON: {e}"),
            ),
        }
    })
}

/// The media type of a request (`Content-Type` without parameters, lower case); `None` without the header.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?;
    Some(
        ct.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = media_type(headers) else {
        return Ok(());
    };
    if ct.is_empty() || ct == "application/json" || ct.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media(format!(
            "expected Content-Type: application/json, got {ct:?} (with curl: -H 'Content-Type: application/json')"
        )))
    }
}

/// The message of a body over its size limit, for the 413 and for the error line of a stream.
pub fn over_limit(limit: u64) -> String {
    format!("request body exceeds the limit of {limit} bytes")
}

/// Reads a whole body, refusing more than `limit` bytes (413) without buffering past it.
pub async fn read_body(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::too_large(over_limit(limit as u64));
    if let Some(len) = content_length(req.headers()) {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match BodyTimeout::find(&e) {
            Some(t) => ApiError::request_timeout(t.secs),
            None => ApiError::bad_request("could not read the request body"),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The declared body length, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Query-string parameters, looked up GBIF-style: names match case-insensitively once `.`, `_` and `-`
/// are removed (`dataset_key`, `datasetKey` and `DATASET-KEY` are one parameter), and may repeat.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Params::from_uri(&parts.uri)
    }
}

/// A parameter name as compared.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '.' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl Params {
    /// Parses the query string of `uri`.
    pub fn from_uri(uri: &axum::http::Uri) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {}", e.body_text())))?
            .0;
        Ok(Params(pairs.into_iter().map(|(k, v)| (squash(&k), v)).collect()))
    }

    /// The first value of any of `names`, trimmed; empty values count as absent.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        let names: Vec<String> = names.iter().map(|n| squash(n)).collect();
        self.0
            .iter()
            .find(|(k, v)| names.contains(k) && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every non-empty value of any of `names` (repeated parameters; comma lists are not split).
    pub fn all(&self, names: &[&str]) -> Vec<&str> {
        let names: Vec<String> = names.iter().map(|n| squash(n)).collect();
        self.0
            .iter()
            .filter(|(k, v)| names.contains(k) && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// A boolean flag (`true`/`1`/`yes`/empty-with-key count as true).
    pub fn flag(&self, name: &str) -> bool {
        let key = squash(name);
        self.0
            .iter()
            .any(|(k, v)| *k == key && matches!(v.trim().to_ascii_lowercase().as_str(), "" | "true" | "1" | "yes"))
    }

    /// A number, 400 when present but unparsable.
    pub fn number<T: std::str::FromStr>(&self, names: &[&str]) -> Result<Option<T>, ApiError> {
        match self.get(names) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("parameter {} must be a number, got {v:?}", names[0]))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_gbif_style() {
        let uri: axum::http::Uri =
            "/x?dataset_key=a&DATASETKEY=b&nucleotideSequence.nucleotideSequenceID=c&limit=&verbose"
                .parse()
                .unwrap();
        let p = Params::from_uri(&uri).unwrap();
        assert_eq!(p.all(&["datasetKey"]), vec!["a", "b"]);
        assert_eq!(p.get(&["nucleotide-sequence_nucleotideSequenceID"]), Some("c"));
        assert_eq!(p.get(&["limit"]), None);
        assert!(p.flag("verbose"));
        assert_eq!(p.number::<usize>(&["limit"]).ok().flatten(), None);
        let bad = Params::from_uri(&"/x?limit=ten".parse().unwrap()).unwrap();
        assert!(bad.number::<usize>(&["limit"]).is_err());
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(check_json_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(check_json_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "application/problem+json".parse().unwrap());
        assert!(check_json_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(check_json_content_type(&h).map_err(|e| e.status.as_u16()), Err(415));
    }
}
