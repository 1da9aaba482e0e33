//! The daemon's HTTP API (axum): the CLI's queries as JSON, with the same fields as
//! `--format json`. Loopback by default; a bearer token is required off loopback.

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

async fn status(State(s): State<ApiState>) -> Result<Json<StatusReport>, ApiError> {
    let mut report = query::status(&s.store, &s.config)?;
    report.mode = "daemon".into();
    report.daemon_pid = Some(std::process::id());
    report.api = Some(s.api_url.clone());
    report.started_at = Some(s.started_at);
    Ok(Json(report))
}

async fn products(State(s): State<ApiState>) -> Result<Json<Vec<query::ProductRow>>, ApiError> {
    Ok(Json(query::products(&s.store, &s.config, Utc::now())?))
}

async fn trend(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<TrendParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::trend::TrendRow>>, ApiError> {
    let Query(p) = q.map_err(|e| bad_request(e.body_text()))?;
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
    let Query(p) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(mention_rows(
        &s.store,
        &s.config,
        &name,
        &p,
        Utc::now(),
    )?))
}

async fn require_token(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.config.api.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok: bool = given.as_bytes().ct_eq(token.expose().as_bytes()).into();
    if ok {
        next.run(req).await
    } else {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send `Authorization: Bearer <api.token>` (PULSE_API_TOKEN for the CLI)".into(),
        )
        .into_response()
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/status", get(status))
        .route("/api/products", get(products))
        .route("/api/products/{name}/trend", get(trend))
        .route("/api/products/{name}/mentions", get(mentions))
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

/// Serve whichever router `routers` holds now: on a config reload the daemon sends a
/// router built with the new config, and the next request uses it without the listener
/// closing or open connections dropping.
pub async fn serve_live(
    listener: tokio::net::TcpListener,
    routers: tokio::sync::watch::Receiver<Router>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use tower::ServiceExt;
    let app = Router::new().fallback(move |req: Request| {
        let current = routers.borrow().clone();
        async move {
            match current.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            }
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
