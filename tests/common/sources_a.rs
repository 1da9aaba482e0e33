//! Shared set-up for the hackernews, reddit, mastodon and lemmy source tests: a polite
//! HTTP client tuned to fail fast, products, a `PollContext` and the fixtures.
#![allow(dead_code)]

use chrono::Utc;
use pulse::config::{HttpConfig, ProductConfig};
use pulse::matcher::Matcher;
use pulse::sources::{HttpClient, PollContext, PollOutput};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Largest body the test client accepts; the oversized tests send more.
pub const MAX_BODY: usize = 64 * 1024;
/// Request timeout; the timeout tests delay longer.
pub const TIMEOUT: Duration = Duration::from_millis(400);

/// The shared client with a short timeout, a small body cap and one retry.
pub fn http() -> HttpClient {
    HttpClient::new(&HttpConfig {
        user_agent: "pulse-test/0.0 (+https://example.invalid/tests)".into(),
        timeout: TIMEOUT,
        max_body_bytes: MAX_BODY,
        per_host_rps: 1000,
        max_retries: 1,
        max_retry_wait: Duration::from_secs(3),
    })
    .expect("http client")
}

pub fn product(name: &str, aliases: &[&str], exclude: &[&str]) -> ProductConfig {
    ProductConfig {
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        launch: None,
        window: None,
        baseline: None,
    }
}

/// A poll context for `source` over `products`, with the cursors a previous poll saved.
pub fn ctx(
    source: &str,
    products: Vec<ProductConfig>,
    cursors: HashMap<String, String>,
) -> PollContext {
    let matcher = Arc::new(Matcher::new(&products));
    PollContext {
        source: source.into(),
        http: http(),
        products: Arc::new(products),
        matcher,
        cursors,
        now: Utc::now(),
        max_pages: 5,
    }
}

/// The cursors a poll returned, as the store would hand them to the next poll.
pub fn saved(out: &PollOutput) -> HashMap<String, String> {
    out.cursors.iter().cloned().collect()
}

/// A fixture file under `tests/fixtures/<area>/<name>`.
pub fn fixture(area: &str, name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{area}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

/// A JSON body larger than [`MAX_BODY`].
pub fn oversized_json() -> String {
    format!("{{\"padding\":\"{}\"}}", "x".repeat(MAX_BODY + 1024))
}
