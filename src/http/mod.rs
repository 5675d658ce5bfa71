//! The HTTP service (axum on tokio): native API, GBIF-compatible endpoints and a web page.

use std::net::SocketAddr;
use std::sync::Arc;

use edna_index::Index;

/// Service settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
}

/// Serves `index` until interrupted.
pub fn serve(index: Arc<Index>, config: ServeConfig) -> anyhow::Result<()> {
    let _ = (index, config);
    anyhow::bail!("the HTTP service is not built yet")
}
