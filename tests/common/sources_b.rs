//! Shared helpers for the source tests: a fast, polite-but-impatient HTTP client, products,
//! a `PollContext` built the way the pipeline builds it, fixtures and gzip bodies.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use pulse::config::{HttpConfig, ProductConfig};
use pulse::matcher::Matcher;
use pulse::sources::{HttpClient, PollContext};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Small timeout and body cap, one quick retry, no real per-host throttling.
pub fn http_config() -> HttpConfig {
    HttpConfig {
        user_agent: "pulse-test/0.0 (+tests)".into(),
        timeout: Duration::from_millis(700),
        max_body_bytes: 64 * 1024,
        per_host_rps: 200,
        max_retries: 1,
        max_retry_wait: Duration::from_secs(2),
    }
}

pub fn http() -> HttpClient {
    HttpClient::new(&http_config()).expect("client builds")
}

pub fn product(name: &str, aliases: &[&str]) -> ProductConfig {
    ProductConfig {
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        exclude: Vec::new(),
        launch: None,
        window: None,
        baseline: None,
    }
}

/// The moment the fixtures were "fetched": just after their newest item.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 13, 5, 0).unwrap()
}

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
        now: now(),
        max_pages: 5,
    }
}

/// The cursors of one poll as the pipeline would store them (later values win).
pub fn saved(cursors: &[(String, String)]) -> HashMap<String, String> {
    cursors.iter().cloned().collect()
}

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A JSON array/object padded past the test client's 64 KiB body cap.
pub fn oversized_json() -> String {
    let filler = "x".repeat(100 * 1024);
    format!("{{\"items\":[],\"padding\":\"{filler}\"}}")
}
