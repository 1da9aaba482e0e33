//! The daemon's HTTP API (axum): the CLI's queries as JSON, with the same fields as
//! `--format json`, the dashboard ([`dashboard`]), Prometheus metrics at `/metrics`, and
//! the OpenAPI document ([`openapi`]). Loopback by default; a token is required off loopback.

pub mod alerts;
pub mod dashboard;
pub mod openapi;

use crate::config::Config;
use crate::model::Label;
use crate::query::{self, StatusReport};
use crate::store::{MentionQuery, Store};
use crate::trend::{parse_since, Granularity};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub config: Arc<Config>,
    pub started_at: DateTime<Utc>,
    pub api_url: String,
    /// Shared with the pipeline, rendered at `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

/// A JSON error answer: `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// Refuse to serve an open API off loopback: the daemon calls this before binding.
pub fn check_listen(api: &crate::config::ApiConfig) -> Result<(), String> {
    if !api.listen.ip().is_loopback() && api.token.is_none() {
        return Err(format!(
            "refusing to serve the API on {}: it is not a loopback address and `[api] token` is not set; set `token = \"env:PULSE_API_TOKEN\"` or listen on 127.0.0.1",
            api.listen
        ));
    }
    Ok(())
}

/// Resolve a product name or alias to its configured name (or a stored, since-removed one).
pub fn resolve_product(store: &Store, config: &Config, name: &str) -> Result<String, ApiError> {
    if let Some(p) = config.product(name) {
        return Ok(p.name.clone());
    }
    if store.product_names()?.iter().any(|n| n == name) {
        return Ok(name.to_string());
    }
    let known: Vec<&str> = config.products.iter().map(|p| p.name.as_str()).collect();
    Err(ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "unknown product `{name}`; configured products: {}",
            known.join(", ")
        ),
    ))
}

/// Query string of endpoints that take no parameters: anything given is a mistake.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Parse a query string, answering 400 with what was wrong.
pub fn params<T>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|Query(p)| p).map_err(|e| {
        let text = e.body_text();
        let text = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        bad_request(format!("invalid query parameters: {text}"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendParams {
    pub since: Option<String>,
    pub bucket: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionParams {
    pub since: Option<String>,
    pub sentiment: Option<String>,
    pub source: Option<String>,
    pub limit: Option<usize>,
}

/// Default bucket: hourly for spans up to three days, daily beyond.
pub fn default_bucket(since: DateTime<Utc>, now: DateTime<Utc>) -> Granularity {
    if now - since <= chrono::Duration::days(3) {
        Granularity::Hour
    } else {
        Granularity::Day
    }
}

/// Shared by the API and the local CLI so both answer identically.
pub fn trend_rows(
    store: &Store,
    config: &Config,
    product: &str,
    p: &TrendParams,
    now: DateTime<Utc>,
) -> Result<Vec<crate::trend::TrendRow>, ApiError> {
    let product = resolve_product(store, config, product)?;
    let since = parse_since(p.since.as_deref().unwrap_or("7d"), now).map_err(bad_request)?;
    let bucket = match &p.bucket {
        Some(b) => b.parse().map_err(bad_request)?,
        None => default_bucket(since, now),
    };
    Ok(query::trend(store, &product, since, bucket, now)?)
}

pub fn mention_rows(
    store: &Store,
    config: &Config,
    product: &str,
    p: &MentionParams,
    now: DateTime<Utc>,
) -> Result<Vec<query::MentionRow>, ApiError> {
    let product = resolve_product(store, config, product)?;
    let since = match &p.since {
        Some(s) => Some(parse_since(s, now).map_err(bad_request)?),
        None => None,
    };
    let sentiment = match &p.sentiment {
        Some(s) => Some(s.parse::<Label>().map_err(bad_request)?),
        None => None,
    };
    let q = MentionQuery {
        product,
        since,
        until: None,
        sentiment,
        source: p.source.clone(),
        limit: p.limit.unwrap_or(50),
    };
    Ok(query::mentions(store, &q)?)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn status(
    State(s): State<ApiState>,
    q: Result<Query<NoParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StatusReport>, ApiError> {
    params(q)?;
    let mut report = query::status(&s.store, &s.config)?;
    report.mode = "daemon".into();
    report.daemon_pid = Some(std::process::id());
    report.api = Some(s.api_url.clone());
    report.started_at = Some(s.started_at);
    Ok(Json(report))
}

async fn products(
    State(s): State<ApiState>,
    q: Result<Query<NoParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<query::ProductRow>>, ApiError> {
    params(q)?;
    Ok(Json(query::products(&s.store, &s.config, Utc::now())?))
}

async fn trend(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<TrendParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::trend::TrendRow>>, ApiError> {
    let p = params(q)?;
    Ok(Json(trend_rows(
        &s.store,
        &s.config,
        &name,
        &p,
        Utc::now(),
    )?))
}

async fn mentions(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<MentionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<query::MentionRow>>, ApiError> {
    let p = params(q)?;
    Ok(Json(mention_rows(
        &s.store,
        &s.config,
        &name,
        &p,
        Utc::now(),
    )?))
}

/// The token a request carries: `Authorization: Bearer <token>`, or the password of
/// `Authorization: Basic` (what a browser sends after its login prompt, for the dashboard).
fn presented_token(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(t) = value.strip_prefix("Bearer ") {
        return Some(t.trim().to_string());
    }
    let b64 = value.strip_prefix("Basic ")?;
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.split_once(':').map(|(_, pw)| pw.to_string())
}

async fn require_token(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.config.api.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let given = presented_token(&req).unwrap_or_default();
    // Constant-time: the comparison does not reveal how much of a guess was right.
    let ok: bool = given.as_bytes().ct_eq(token.expose().as_bytes()).into();
    if ok {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let machine = path.starts_with("/api/") || path == "/metrics";
    let mut resp = ApiError(
        StatusCode::UNAUTHORIZED,
        "missing or wrong token: send `Authorization: Bearer <api.token>` (PULSE_API_TOKEN for the CLI)".into(),
    )
    .into_response();
    if !machine {
        // Lets a browser ask for the token (any user name, the token as password).
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"pulse\", charset=\"UTF-8\""),
        );
    }
    resp
}

async fn metrics(
    State(s): State<ApiState>,
    q: Result<Query<NoParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    params(q)?;
    let st = s.clone();
    let text =
        tokio::task::spawn_blocking(move || st.metrics.render(&st.store, &st.config, Utc::now()))
            .await
            .map_err(|e| {
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("metrics task failed: {e}"),
                )
            })??;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn not_found(req: Request) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}; see /api/openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/status", get(status))
        .route("/api/products", get(products))
        .route("/api/products/{name}/trend", get(trend))
        .route("/api/products/{name}/mentions", get(mentions))
        .route("/api/alerts", get(alerts::list_alerts))
        .route("/api/silences", get(alerts::list_silences))
        .route("/api/openapi.json", get(openapi_json))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard::overview))
        .route("/products/{name}", get(dashboard::product_page))
        .route("/assets/pulse.css", get(dashboard::stylesheet))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
