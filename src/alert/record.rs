//! Stored alert and outbox records, and their versioned encoding (one version byte, then
//! JSON, so a newer pulse's records are a clear error rather than garbage).

use super::message::{Message, MessageKind};
use super::{AlertError, Department, Labels};
use crate::trend::detect::Finding;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Encoding version of every record in the alert trees.
pub const RECORD_VERSION: u8 = 1;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    out.extend(serde_json::to_vec(v).expect("records serialise"));
    out
}

pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, AlertError> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => {
            serde_json::from_slice(rest).map_err(|e| AlertError::Decode {
                what: what.into(),
                reason: e.to_string(),
            })
        }
        Some((v, _)) => Err(AlertError::Decode {
            what: what.into(),
            reason: format!("unknown record version {v}"),
        }),
        None => Err(AlertError::Decode {
            what: what.into(),
            reason: "empty record".into(),
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// Notification timing of one alert on one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteState {
    pub route: usize,
    pub department: Department,
    pub channels: Vec<String>,
    /// When the last notification was scheduled to go out.
    pub last_sent: Option<DateTime<Utc>>,
    pub group_interval_s: u64,
    pub repeat_interval_s: u64,
    pub send_resolved: bool,
}

/// One alert: a signal of a product from when it fired until it resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub id: String,
    /// Hash of the identifying labels (product, signal, direction, aspect).
    pub fingerprint: String,
    pub labels: Labels,
    pub status: AlertStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The finding that fired it (`None` for `pulse_health` alerts).
    #[serde(default)]
    pub finding: Option<Finding>,
    /// Latest content (numbers, examples).
    pub message: Message,
    /// Why nothing was sent: `silenced by sil_…` or `inhibited by alt_…`.
    pub muted: Option<String>,
    pub routes: Vec<RouteState>,
    /// Outbox entries created so far (numbering their ids).
    pub notifications: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Delivered,
    /// Permanent error or expired.
    Failed,
    /// Withdrawn before sending (resolved within group_wait).
    Cancelled,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
            OutboxState::Cancelled => "cancelled",
        }
    }
}

/// One notification to one channel. Its `id` is the idempotency key (`webhook-id`): fixed
/// when the entry is written, reused on every retry and after restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub alert_id: String,
    pub channel: String,
    pub kind: MessageKind,
    pub message: Message,
    pub created_at: DateTime<Utc>,
    /// Not sent before this (group_wait / group_interval).
    pub not_before: DateTime<Utc>,
    pub next_attempt: DateTime<Utc>,
    pub attempts: u32,
    pub expires_at: DateTime<Utc>,
    pub state: OutboxState,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// HTTP status or SMTP code of the last answer.
    pub last_status: Option<u16>,
}
