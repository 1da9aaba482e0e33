//! Alerts and silences read from the alert subsystem's stored records: as the rows of
//! `pulse alerts` / `pulse silence list` (same fields as their `--format json`, served at
//! `/api/alerts` and `/api/silences`), and as per-alert views for the dashboard.

use super::{ApiError, ApiState};
use crate::alert::engine;
use crate::alert::record::{AlertRecord, AlertStatus, OutboxEntry};
use crate::config::Config;
use crate::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One notification of an alert to one channel (dashboard view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    pub channel: String,
    /// firing, repeat or resolved.
    pub kind: String,
    /// pending, delivered, failed or cancelled.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One alert with all its notifications (dashboard view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
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
    pub notifications: Vec<NotificationView>,
}

/// One row of `pulse alerts --format json` and `GET /api/alerts`: one per notification, or
/// one for an alert that sent none (with the reason in `delivery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertListRow {
    pub alert_id: String,
    pub at: String,
    pub product: String,
    pub signal: String,
    pub direction: String,
    pub aspect: String,
    pub severity: String,
    pub department: String,
    /// firing or resolved.
    pub status: String,
    /// firing, repeat or resolved; null when nothing was sent.
    pub kind: Option<String>,
    pub channel: Option<String>,
    /// pending, delivered, failed, cancelled, or `not sent (why)`.
    pub delivery: String,
    pub attempts: u32,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub summary: String,
}

/// One row of `pulse silence list --format json` and `GET /api/silences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRow {
    pub id: String,
    /// `label=value` pairs separated by spaces.
    pub matchers: String,
    pub starts_at: String,
    pub ends_at: String,
    pub active: bool,
    pub created_by: String,
    pub comment: String,
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status_str(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}

/// The rows of one alert as `pulse alerts` lists them.
pub fn alert_list_rows(a: &AlertRecord, outbox: &[&OutboxEntry]) -> Vec<AlertListRow> {
    let base = |kind: Option<String>, channel: Option<String>, delivery: String| AlertListRow {
        alert_id: a.id.clone(),
        at: rfc(a.starts_at),
        product: a.labels.product.clone(),
        signal: a.labels.signal.clone(),
        direction: a.labels.direction.clone(),
        aspect: a.labels.aspect.clone(),
        severity: a.labels.severity.clone(),
        department: a.labels.department.clone(),
        status: status_str(a.status).to_string(),
        kind,
        channel,
        delivery,
        attempts: 0,
        delivered_at: None,
        last_error: None,
        summary: a.message.summary(),
    };
    if outbox.is_empty() {
        let why = a
            .muted
            .clone()
            .unwrap_or_else(|| "no matching route".into());
        return vec![base(None, None, format!("not sent ({why})"))];
    }
    outbox
        .iter()
        .map(|e| {
            let mut r = base(
                Some(e.kind.as_str().into()),
                Some(e.channel.clone()),
                e.state.as_str().into(),
            );
            r.department = e.message.department.as_str().into();
            r.attempts = e.attempts;
            r.delivered_at = e.delivered_at.map(rfc);
            r.last_error = e.last_error.clone();
            r
        })
        .collect()
}

impl From<crate::alert::AlertError> for ApiError {
    fn from(e: crate::alert::AlertError) -> Self {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read alerts: {e}"),
        )
    }
}

fn notification_row(e: &OutboxEntry) -> NotificationView {
    NotificationView {
        channel: e.channel.clone(),
        kind: e.kind.as_str().to_string(),
        state: e.state.as_str().to_string(),
        attempts: e.attempts,
        last_error: e.last_error.clone(),
        delivered_at: e.delivered_at,
    }
}

/// An alert record with its outbox entries as one row.
pub fn alert_view(a: &AlertRecord, outbox: &[&OutboxEntry]) -> AlertView {
    AlertView {
        id: a.id.clone(),
        product: a.labels.product.clone(),
        signal: a.labels.signal.clone(),
        direction: a.labels.direction.clone(),
        aspect: a.labels.aspect.clone(),
        severity: a.labels.severity.clone(),
        department: a.labels.department.clone(),
        status: status_str(a.status).to_string(),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        title: a.message.title(),
        summary: a.message.summary(),
        muted: a.muted.clone(),
        notifications: outbox.iter().map(|e| notification_row(e)).collect(),
    }
}

/// Alert records (newest first), optionally of one product, each with its outbox entries.
fn load(
    store: &Store,
    product: Option<&str>,
) -> Result<Vec<(AlertRecord, Vec<OutboxEntry>)>, ApiError> {
    let alerts = engine::list_alerts(store.db())?;
    let mut by_alert: HashMap<String, Vec<OutboxEntry>> = HashMap::new();
    for e in engine::list_outbox(store.db())? {
        by_alert.entry(e.alert_id.clone()).or_default().push(e);
    }
    Ok(alerts
        .into_iter()
        .filter(|a| product.is_none_or(|p| a.labels.product.eq_ignore_ascii_case(p)))
        .map(|a| {
            let entries = by_alert.remove(&a.id).unwrap_or_default();
            (a, entries)
        })
        .collect())
}

/// Alerts, newest first, optionally of one product, with their notifications.
pub fn alert_rows(store: &Store, product: Option<&str>) -> Result<Vec<AlertView>, ApiError> {
    Ok(load(store, product)?
        .iter()
        .map(|(a, entries)| alert_view(a, &entries.iter().collect::<Vec<_>>()))
        .collect())
}

/// Silences, oldest first, as `pulse silence list` shows them: expired ones only with `all`.
pub fn silence_rows(
    store: &Store,
    now: DateTime<Utc>,
    all: bool,
) -> Result<Vec<SilenceRow>, ApiError> {
    Ok(crate::alert::silence::list(store.db())?
        .into_iter()
        .filter(|s| all || s.ends_at > now)
        .map(|s| SilenceRow {
            active: s.active(now),
            matchers: s
                .matchers
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            id: s.id,
            starts_at: rfc(s.starts_at),
            ends_at: rfc(s.ends_at),
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

/// `?since=&product=&status=&limit=` of `GET /api/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// Only alerts raised since then: a duration back (`7d`) or a date, as `pulse alerts --since`.
    pub since: Option<String>,
    pub product: Option<String>,
    pub status: Option<String>,
    /// Most alerts listed (0 = all); each may give several rows, one per notification.
    pub limit: Option<usize>,
}

/// `?all=` of `GET /api/silences`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceParams {
    /// Include expired silences.
    pub all: Option<bool>,
}

/// Rows of `GET /api/alerts`, the same as `pulse alerts --format json`.
pub fn alert_listing(
    store: &Store,
    config: &Config,
    p: &AlertParams,
    now: DateTime<Utc>,
) -> Result<Vec<AlertListRow>, ApiError> {
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
    let since = match &p.since {
        Some(s) => Some(
            crate::trend::parse_since(s, now).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?,
        ),
        None => None,
    };
    let limit = match p.limit.unwrap_or(100) {
        0 => usize::MAX,
        n => n,
    };
    Ok(load(store, product.as_deref())?
        .iter()
        .filter(|(a, _)| p.status.as_ref().is_none_or(|s| s == status_str(a.status)))
        .filter(|(a, _)| since.is_none_or(|s| a.starts_at >= s))
        .take(limit)
        .flat_map(|(a, entries)| alert_list_rows(a, &entries.iter().collect::<Vec<_>>()))
        .collect())
}

pub async fn list_alerts(
    State(s): State<ApiState>,
    q: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Vec<AlertListRow>>, ApiError> {
    let p = super::params(q)?;
    Ok(Json(alert_listing(&s.store, &s.config, &p, Utc::now())?))
}

pub async fn list_silences(
    State(s): State<ApiState>,
    q: Result<Query<SilenceParams>, QueryRejection>,
) -> Result<Json<Vec<SilenceRow>>, ApiError> {
    let p = super::params(q)?;
    Ok(Json(silence_rows(
        &s.store,
        Utc::now(),
        p.all.unwrap_or(false),
    )?))
}
