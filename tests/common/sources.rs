//! Shared set-up for the source tests (`tests/source_*.rs`): a polite HTTP client tuned to
//! fail fast, products, a `PollContext` built the way the pipeline builds it, fixtures and
//! gzip bodies.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use pulse::config::{HttpConfig, ProductConfig};
use pulse::matcher::Matcher;
use pulse::sources::{FetchError, HttpClient, PollContext, PollOutput, Source, SourceError};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest body the test client accepts; the oversized tests send more.
pub const MAX_BODY: usize = 64 * 1024;
/// Request timeout; the timeout tests delay their answers by 2 s or more.
pub const TIMEOUT: Duration = Duration::from_millis(700);

/// Short timeout, small body cap, one quick retry, no real per-host throttling.
pub fn http_config() -> HttpConfig {
    HttpConfig {
        user_agent: "pulse-test/0.0 (+https://example.invalid/tests)".into(),
        timeout: TIMEOUT,
        max_body_bytes: MAX_BODY,
        per_host_rps: 1000,
        max_retries: 1,
        max_retry_wait: Duration::from_secs(2),
    }
}

pub fn http() -> HttpClient {
    HttpClient::new(&http_config()).expect("client builds")
}

pub fn product(name: &str, aliases: &[&str]) -> ProductConfig {
    product_excluding(name, aliases, &[])
}

/// A product whose mentions are dropped when they contain one of `exclude`.
pub fn product_excluding(name: &str, aliases: &[&str], exclude: &[&str]) -> ProductConfig {
    ProductConfig {
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        launch: None,
        window: None,
        baseline: None,
    }
}

/// The moment the fixtures were "fetched": just after their newest item.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 13, 5, 0).unwrap()
}

/// A poll context for `source` over `products` at [`now`], with the cursors a previous
/// poll saved.
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
        // The fixtures' "late" items are minutes late: a window like the platforms' defaults.
        overlap: overlap(),
        // First polls read the newest page, as the newest-first platforms default to.
        lookback: None,
    }
}

/// [`ctx`] with the one-day first-poll lookback that GitHub, Stack Exchange and Bluesky
/// default to.
pub fn ctx_with_lookback(
    source: &str,
    products: Vec<ProductConfig>,
    cursors: HashMap<String, String>,
) -> PollContext {
    let mut c = ctx(source, products, cursors);
    c.lookback = Some(Duration::from_secs(24 * 3600));
    c
}

/// A poll that read nothing and saved no newest time nor undone work.
pub fn assert_nothing_seen(out: &PollOutput) {
    assert!(out.mentions.is_empty() && out.errors.is_empty());
    assert_eq!(out.counts.fetched, 0);
    for (_, c) in &out.cursors {
        let c: serde_json::Value = serde_json::from_str(c).unwrap();
        assert!(
            c.get("newest").is_none() && c.get("resume").is_none(),
            "{c}"
        );
    }
}

/// The cursors a poll returned, as the store would hand them to the next poll (later
/// values win).
pub fn saved(out: &PollOutput) -> HashMap<String, String> {
    out.cursors.iter().cloned().collect()
}

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A fixture file under `tests/fixtures/` (`<area>/<name>`).
pub fn fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A JSON object padded past the test client's body cap ([`MAX_BODY`]).
pub fn oversized_json() -> String {
    let filler = "x".repeat(MAX_BODY + 36 * 1024);
    format!("{{\"items\":[],\"padding\":\"{filler}\"}}")
}

/// Poll once: the answer must be refused as larger than [`MAX_BODY`].
pub async fn assert_poll_refuses_oversized(source: &dyn Source, ctx: &PollContext) {
    let err = source.poll(ctx).await.unwrap_err();
    assert!(
        matches!(err, SourceError::Fetch(FetchError::TooLarge { .. })),
        "{err:?}"
    );
}

/// `secs` since the epoch as a time.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("valid timestamp")
}

/// A cursor in the format every source saves (`{"newest": "<RFC3339>"}`), as a previous
/// poll that saw nothing newer than `newest` left it.
pub fn cursor_at(newest: DateTime<Utc>) -> String {
    serde_json::json!({ "newest": newest.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true) })
        .to_string()
}

/// One scope's saved cursor, `newest` as [`cursor_at`] builds it.
pub fn cursors_at(scope: &str, newest: DateTime<Utc>) -> HashMap<String, String> {
    HashMap::from([(scope.to_string(), cursor_at(newest))])
}

/// The cursor a poll saved for `scope`, parsed.
pub fn cursor_of(out: &PollOutput, scope: &str) -> serde_json::Value {
    let raw = saved(out)
        .remove(scope)
        .unwrap_or_else(|| panic!("no cursor saved for {scope}: {:?}", out.cursors));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("cursor of {scope} `{raw}`: {e}"))
}

/// A time field of a saved cursor (`newest`, `resume.floor`...).
pub fn time_of(v: &serde_json::Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("`{s}`: {e}"))
        .with_timezone(&Utc)
}

/// The newest publication time a poll saved for `scope`.
pub fn newest_of(out: &PollOutput, scope: &str) -> DateTime<Utc> {
    time_of(&cursor_of(out, scope)["newest"])
}

/// Every item read is accounted for: handed on, or counted as dropped.
pub fn assert_accounted(out: &PollOutput) {
    let c = out.counts;
    assert_eq!(
        out.mentions.len() + c.duplicates + c.unmatched + c.rejected,
        c.fetched,
        "{c:?}"
    );
}

/// The overlap [`ctx`] sets.
pub fn overlap() -> chrono::Duration {
    chrono::Duration::hours(1)
}
