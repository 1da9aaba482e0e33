//! Alerts and silences as API rows and dashboard content, read from the alert subsystem's
//! stored records.

use super::{ApiError, ApiState};
use crate::alert::engine;
use crate::alert::record::{AlertRecord, AlertStatus, OutboxEntry};
use crate::config::Config;
use crate::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One notification of an alert to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRow {
    pub channel: String,
    /// firing, repeat or resolved.
    pub kind: String,
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
    /// Headline, e.g. `Sentiment drop: ACME Phone`.
    pub title: String,
    /// What changed, in numbers.
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

impl From<crate::alert::AlertError> for ApiError {
    fn from(e: crate::alert::AlertError) -> Self {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read alerts: {e}"),
        )
    }
}

fn notification_row(e: &OutboxEntry) -> NotificationRow {
    NotificationRow {
        channel: e.channel.clone(),
        kind: e.kind.as_str().to_string(),
        state: e.state.as_str().to_string(),
        attempts: e.attempts,
        last_error: e.last_error.clone(),
        delivered_at: e.delivered_at,
    }
}

/// An alert record with its outbox entries as one row.
pub fn alert_row(a: &AlertRecord, outbox: &[&OutboxEntry]) -> AlertRow {
    AlertRow {
        id: a.id.clone(),
        product: a.labels.product.clone(),
        signal: a.labels.signal.clone(),
        direction: a.labels.direction.clone(),
        aspect: a.labels.aspect.clone(),
        severity: a.labels.severity.clone(),
        department: a.labels.department.clone(),
        status: match a.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
        .to_string(),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        title: a.message.title(),
        summary: a.message.summary(),
        muted: a.muted.clone(),
        notifications: outbox.iter().map(|e| notification_row(e)).collect(),
    }
}

/// Alerts, newest first, optionally of one product, with their notifications.
pub fn alert_rows(store: &Store, product: Option<&str>) -> Result<Vec<AlertRow>, ApiError> {
    let alerts = engine::list_alerts(store.db())?;
    let outbox = engine::list_outbox(store.db())?;
    let mut by_alert: HashMap<&str, Vec<&OutboxEntry>> = HashMap::new();
    for e in &outbox {
        by_alert.entry(e.alert_id.as_str()).or_default().push(e);
    }
    Ok(alerts
        .iter()
        .filter(|a| product.is_none_or(|p| a.labels.product.eq_ignore_ascii_case(p)))
        .map(|a| {
            alert_row(
                a,
                by_alert
                    .get(a.id.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            )
        })
        .collect())
}

/// Silences, oldest first.
pub fn silence_rows(store: &Store, now: DateTime<Utc>) -> Result<Vec<SilenceRow>, ApiError> {
    Ok(crate::alert::silence::list(store.db())?
        .into_iter()
        .map(|s| SilenceRow {
            active: s.active(now),
            id: s.id,
            matchers: s.matchers,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            created_by: s.created_by,
            comment: s.comment,
        })
        .collect())
}

/// Department owning each aspect (`it`, `marketing`) in the configured taxonomy.
pub fn aspect_departments(config: &Config) -> HashMap<String, String> {
    config
        .detect
        .taxonomy()
        .into_iter()
        .map(|(name, a)| (name, a.department.as_str().to_string()))
        .collect()
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
