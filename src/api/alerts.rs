//! Alerts and silences as API rows and dashboard content, read from the alert subsystem's
//! stored records.

use super::{ApiError, ApiState};
use crate::config::Config;
use crate::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One notification of an alert to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRow {
    pub channel: String,
    /// pending, delivered, failed or cancelled.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One row of `GET /api/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub id: String,
    pub product: String,
    pub signal: String,
    pub direction: String,
    pub aspect: String,
    pub severity: String,
    pub department: String,
    /// firing or resolved.
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub summary: String,
    /// Why nothing was sent (silenced or inhibited), if so.
    pub muted: Option<String>,
    pub notifications: Vec<NotificationRow>,
}

/// One row of `GET /api/silences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRow {
    pub id: String,
    pub matchers: std::collections::BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub active: bool,
    pub created_by: String,
    pub comment: String,
}

/// Alerts, newest first, optionally of one product.
pub fn alert_rows(_store: &Store, _product: Option<&str>) -> Result<Vec<AlertRow>, ApiError> {
    // Until the alert subsystem lands on this branch there are no stored alerts to read.
    Ok(Vec::new())
}

/// Silences, oldest first.
pub fn silence_rows(_store: &Store, _now: DateTime<Utc>) -> Result<Vec<SilenceRow>, ApiError> {
    // Until the alert subsystem lands on this branch there are no stored silences to read.
    Ok(Vec::new())
}

/// Department owning an aspect (`it`, `marketing`), from the aspect taxonomy.
pub fn aspect_department(_config: &Config, _aspect: &str) -> String {
    "unassigned".into()
}

/// `?product=&status=&limit=` of `GET /api/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    pub product: Option<String>,
    pub status: Option<String>,
    pub limit: Option<usize>,
}

/// `?active=` of `GET /api/silences`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceParams {
    pub active: Option<bool>,
}

/// Rows of `GET /api/alerts` (shared with a CLI that reads the store itself).
pub fn filtered_alerts(
    store: &Store,
    config: &Config,
    p: &AlertParams,
) -> Result<Vec<AlertRow>, ApiError> {
    let product = match &p.product {
        Some(name) => Some(super::resolve_product(store, config, name)?),
        None => None,
    };
    if let Some(s) = &p.status {
        if s != "firing" && s != "resolved" {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("unknown status `{s}`: use firing or resolved"),
            ));
        }
    }
    let mut rows = alert_rows(store, product.as_deref())?;
    rows.retain(|a| p.status.as_ref().is_none_or(|s| *s == a.status));
    let limit = p.limit.unwrap_or(100);
    if limit > 0 {
        rows.truncate(limit);
    }
    Ok(rows)
}

pub async fn list_alerts(
    State(s): State<ApiState>,
    q: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Vec<AlertRow>>, ApiError> {
    let p = super::params(q)?;
    Ok(Json(filtered_alerts(&s.store, &s.config, &p)?))
}

pub async fn list_silences(
    State(s): State<ApiState>,
    q: Result<Query<SilenceParams>, QueryRejection>,
) -> Result<Json<Vec<SilenceRow>>, ApiError> {
    let p = super::params(q)?;
    let mut rows = silence_rows(&s.store, Utc::now())?;
    if let Some(active) = p.active {
        rows.retain(|r| r.active == active);
    }
    Ok(Json(rows))
}
