//! ntfy channel: the JSON publish form (POST to the server root with `topic`), which keeps
//! non-ASCII titles out of HTTP headers. Plain text only; the message is cut to ntfy's
//! 4096-byte limit; the click URL is only ever an https link. ntfy's 429 carries no
//! `Retry-After`, so the engine's own back-off applies.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{safe_url, truncate, truncate_bytes, Message, MessageKind};
use crate::config::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyConfig {
    /// Server base URL.
    #[serde(default = "default_server")]
    pub server: Url,
    /// Topic (treat it like a password on a public server).
    pub topic: String,
    /// Access token (`tk_…`), sent as a Bearer token.
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_server() -> Url {
    Url::parse("https://ntfy.sh/").expect("valid default")
}
fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

impl NtfyConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.topic.is_empty()
            || self.topic.len() > 64
            || !self
                .topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push((
                "topic".into(),
                "topic must be 1-64 characters of letters, digits, `-` or `_`".into(),
            ));
        }
        if !matches!(self.server.scheme(), "http" | "https") {
            out.push(("server".into(), "must be an http(s) URL".into()));
        }
        out
    }

    pub fn payload(&self, m: &Message) -> Value {
        let priority = match (m.kind, m.labels.severity.as_str()) {
            (MessageKind::Test, _) | (MessageKind::Resolved, _) => 3,
            (_, "critical") => 5,
            _ => 4,
        };
        let emoji = match (m.kind, m.labels.direction.as_str()) {
            (MessageKind::Resolved, _) => "white_check_mark",
            (_, "negative") => "chart_with_downwards_trend",
            (_, "positive") => "chart_with_upwards_trend",
            _ => "warning",
        };
        let mut text = format!("{}\n{}", m.summary(), m.framing());
        if !m.top_aspects.is_empty() {
            text.push_str(&format!("\nTop aspects: {}", m.top_aspects.join(", ")));
        }
        for e in m.examples.iter().take(3) {
            let link = safe_url(e.url.as_deref()).unwrap_or_else(|| e.source.clone());
            text.push_str(&format!("\n• “{}” {link}", truncate(&e.text, 600)));
        }
        let mut v = json!({
            "topic": self.topic,
            "title": truncate(&m.title(), 250),
            "message": truncate_bytes(&text, 4000),
            "priority": priority,
            "tags": [emoji, m.department.as_str()],
        });
        if let Some(u) = m
            .examples
            .iter()
            .find_map(|e| safe_url(e.url.as_deref()))
            .filter(|u| u.starts_with("https:"))
        {
            v["click"] = json!(u);
        }
        v
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        m: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let url = self.server.to_string();
        let body = serde_json::to_vec(&self.payload(m)).expect("json");
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        delivery::classify(delivery::send(req, &url, self.timeout).await?, &url)
    }
}
