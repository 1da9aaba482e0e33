//! Prometheus Alertmanager channel: forwards Pulse's alerts to an existing Alertmanager
//! (`POST <url>/api/v2/alerts`, a JSON array of alerts with `labels`, `annotations`,
//! `startsAt`, `endsAt`, `generatorURL`), so a team keeps its own routing, silences and
//! receivers. Alertmanager forgets an alert whose `endsAt` has passed, so a firing alert
//! carries an `endsAt` a few resend intervals ahead and the engine re-sends it every
//! `resend_interval` while it is active (the resend pattern Prometheus uses); a resolved
//! alert is sent with `endsAt` = the time it resolved, and re-sent for a few minutes so a
//! restarted Alertmanager still notifies. Labels identify the alert (stable values only);
//! the numbers go in annotations, as strings.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{truncate, Message, MessageKind};
use crate::config::Secret;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Alertmanager's base URL (`http://alertmanager:9093`); `/api/v2/alerts` is appended.
    pub url: Url,
    /// Basic auth user (with `password`), for an Alertmanager behind a proxy or with
    /// `--web.config.file`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Bearer token instead of basic auth (`env:VAR`).
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// Re-send active alerts this often; `endsAt` is set four intervals ahead, so
    /// Alertmanager resolves them by itself if Pulse stops.
    #[serde(default = "default_resend_interval", with = "humantime_serde")]
    pub resend_interval: Duration,
    /// Base URL of Pulse's dashboard for `generatorURL` (default: `http://` + `[api] listen`).
    #[serde(default)]
    pub external_url: Option<Url>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_resend_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

/// How long a resolved alert keeps being re-sent (Alertmanager's default `resolve_timeout`).
pub const RESEND_RESOLVED_FOR: Duration = Duration::from_secs(300);

/// Times and links of one send, decided by the engine from the alert record.
#[derive(Debug, Clone)]
pub struct AlertTimes {
    pub starts_at: DateTime<Utc>,
    /// When the alert resolved; `None` while it is active.
    pub resolved_at: Option<DateTime<Utc>>,
    /// This attempt's time: an active alert's `endsAt` is counted from it.
    pub now: DateTime<Utc>,
    /// Dashboard base URL (`http://127.0.0.1:7878`), unless `external_url` is set.
    pub base_url: String,
}

impl AlertTimes {
    /// For a message without an alert record (`pulse alerts test`).
    pub fn of_message(m: &Message, now: DateTime<Utc>, base_url: &str) -> AlertTimes {
        AlertTimes {
            starts_at: m.at.min(now),
            resolved_at: (m.kind == MessageKind::Resolved).then_some(m.at),
            now,
            base_url: base_url.to_string(),
        }
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl AlertmanagerConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !matches!(self.url.scheme(), "http" | "https") {
            out.push(("url".into(), "must be an http(s) URL".into()));
        }
        if self.url.query().is_some() {
            out.push((
                "url".into(),
                "give Alertmanager's base URL without a query; /api/v2/alerts is appended".into(),
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            out.push(("username".into(), "`password` needs a `username`".into()));
        }
        if self.username.is_some() && self.bearer_token.is_some() {
            out.push((
                "bearer_token".into(),
                "use either `username`/`password` or `bearer_token`, not both".into(),
            ));
        }
        if self.resend_interval < Duration::from_secs(1) {
            out.push(("resend_interval".into(), "must be at least 1s".into()));
        }
        out
    }

    /// `<url>/api/v2/alerts`, keeping a path prefix (`http://host/alertmanager/`).
    pub fn endpoint(&self) -> String {
        let mut u = self.url.clone();
        let path = format!("{}/api/v2/alerts", u.path().trim_end_matches('/'));
        u.set_path(&path);
        u.to_string()
    }

    /// `endsAt` of an alert sent now: its resolve time, or four resend intervals ahead.
    pub fn ends_at(&self, t: &AlertTimes) -> DateTime<Utc> {
        t.resolved_at.unwrap_or_else(|| {
            t.now + chrono::Duration::from_std(self.resend_interval * 4).unwrap_or_default()
        })
    }

    /// The request body: a JSON array with one alert.
    pub fn payload(&self, m: &Message, t: &AlertTimes) -> Value {
        let base = self
            .external_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|| t.base_url.trim_end_matches('/').to_string());
        let generator = match &m.health {
            Some(_) => format!("{base}/api/status"),
            None => {
                let mut u = Url::parse(&format!("{base}/products/")).ok();
                if let Some(u) = u.as_mut() {
                    if let Ok(mut seg) = u.path_segments_mut() {
                        seg.pop_if_empty().push(m.product());
                    }
                }
                u.map(|u| u.to_string())
                    .unwrap_or_else(|| format!("{base}/"))
            }
        };
        json!([{
            "labels": labels(m),
            "annotations": annotations(m),
            "startsAt": rfc(t.starts_at),
            "endsAt": rfc(self.ends_at(t)),
            "generatorURL": generator,
        }])
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        m: &Message,
        t: &AlertTimes,
    ) -> Result<Delivered, DeliveryError> {
        let url = self.endpoint();
        let body = serde_json::to_vec(&self.payload(m, t)).expect("json");
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(user) = &self.username {
            req = req.basic_auth(user, self.password.as_ref().map(|p| p.expose()));
        } else if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token.expose());
        }
        let answer = delivery::send(req, &url, self.timeout).await?;
        if answer.status == 400 {
            // Alertmanager explains validation errors in a plain-string body.
            return Err(DeliveryError::Permanent {
                reason: format!(
                    "{} refused the alert (HTTP 400): {}",
                    delivery::redact(&url),
                    truncate(answer.body.trim(), 300)
                ),
                status: Some(400),
            });
        }
        delivery::classify(answer, &url)
    }
}

/// Identifying labels: stable values only (Alertmanager fingerprints them); empty ones left out.
fn labels(m: &Message) -> Map<String, Value> {
    let l = &m.labels;
    let mut out = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() && v != "none" {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    };
    put("alertname", &l.signal);
    put("source", "pulse");
    put("product", &l.product);
    put("signal", &l.signal);
    put("severity", &l.severity);
    put("department", &l.department);
    match &m.health {
        Some(h) => {
            put("check", &h.check);
            put("subject", &h.subject);
        }
        None => {
            put("direction", &l.direction);
            put("aspect", &l.aspect);
        }
    }
    out
}

/// What Alertmanager's templates show: the headline, the numbers, what to do.
fn annotations(m: &Message) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |k: &str, v: String| {
        out.insert(k.to_string(), Value::String(truncate(&v, 2000)));
    };
    put("summary", m.title());
    put("description", format!("{} {}", m.summary(), m.framing()));
    put("alert_id", m.alert_id.clone());
    match &m.health {
        Some(h) => {
            put("problem", h.problem.clone());
            put("action", h.action.clone());
            if let Some(since) = h.since {
                put("since", rfc(since));
            }
        }
        None if m.kind != MessageKind::Test => {
            put("mentions", m.mentions.to_string());
            put("volume_ratio", format!("{:.1}", m.volume_ratio));
            put("window", m.window.clone());
            if !m.top_aspects.is_empty() {
                put("top_aspects", m.top_aspects.join(", "));
            }
            if !m.examples.is_empty() {
                let texts: Vec<String> = m
                    .examples
                    .iter()
                    .take(3)
                    .map(|e| truncate(&e.text, 300))
                    .collect();
                put("examples", texts.join(" | "));
            }
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::message::fixtures;
    use crate::alert::Department;
    use chrono::TimeZone;

    fn cfg(url: &str) -> AlertmanagerConfig {
        toml::from_str(&format!("url = \"{url}\"\n")).unwrap()
    }

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        assert_eq!(
            cfg("http://am:9093").endpoint(),
            "http://am:9093/api/v2/alerts"
        );
        assert_eq!(
            cfg("https://ops.example/alertmanager/").endpoint(),
            "https://ops.example/alertmanager/api/v2/alerts"
        );
    }

    #[test]
    fn firing_ends_ahead_resolved_ends_when_resolved() {
        let c = cfg("http://am:9093");
        let m = fixtures::message(MessageKind::Firing, Department::Marketing);
        let now = Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap();
        let t = AlertTimes {
            starts_at: m.at,
            resolved_at: None,
            now,
            base_url: "http://127.0.0.1:7878".into(),
        };
        let p = c.payload(&m, &t);
        let a = &p[0];
        assert_eq!(a["startsAt"], "2026-03-14T09:30:00.000Z");
        assert_eq!(a["endsAt"], "2026-03-14T10:04:00.000Z");
        assert_eq!(
            a["generatorURL"],
            "http://127.0.0.1:7878/products/ACME%20Phone"
        );
        assert_eq!(a["labels"]["alertname"], "sentiment_shift");
        assert!(
            a["labels"].get("aspect").is_none(),
            "empty labels are left out"
        );
        assert_eq!(a["annotations"]["mentions"], "142");
        let resolved = AlertTimes {
            resolved_at: Some(now),
            ..t
        };
        assert_eq!(
            c.payload(&m, &resolved)[0]["endsAt"],
            "2026-03-14T10:00:00.000Z"
        );
    }

    #[test]
    fn auth_settings_are_validated() {
        let c: AlertmanagerConfig = toml::from_str(
            "url = \"http://am:9093\"\npassword = \"x\"\nbearer_token = \"y\"\nresend_interval = \"0s\"\n",
        )
        .unwrap();
        let keys: Vec<String> = c.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["username", "resend_interval"]);
    }
}
