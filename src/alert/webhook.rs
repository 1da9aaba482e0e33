//! Generic webhook channel signed as the Standard Webhooks spec says: headers
//! `webhook-id` (the outbox entry's id, the same on every retry and after restarts),
//! `webhook-timestamp` (this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed with the `whsec_` secret (plus a second signature
//! with `previous_secret` during a rotation). The body is serialised once and signed as sent.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{safe_url, Message};
use crate::config::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL.
    pub url: Url,
    /// Signing secret `whsec_<base64 of 24-64 random bytes>`; write `env:VAR`.
    pub secret: Secret,
    /// The previous secret while receivers rotate; both signatures are sent.
    #[serde(default)]
    pub previous_secret: Option<Secret>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

/// Decode a `whsec_` secret to key bytes.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(b64)
        .map_err(|_| "secret must be `whsec_` followed by padded standard base64".to_string())
}

/// `v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl WebhookConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !matches!(self.url.scheme(), "http" | "https") {
            out.push(("url".into(), "must be an http(s) URL".into()));
        }
        for (key, s) in [
            ("secret", Some(&self.secret)),
            ("previous_secret", self.previous_secret.as_ref()),
        ] {
            if let Some(s) = s {
                match secret_key(s.expose()) {
                    Ok(k) if (24..=64).contains(&k.len()) => {}
                    Ok(_) => out.push((key.into(), "secret must decode to 24-64 bytes".into())),
                    Err(e) => out.push((key.into(), e)),
                }
            }
        }
        out
    }

    /// The JSON body (Standard Webhooks' recommended `type`, `timestamp`, `data`).
    pub fn payload(&self, m: &Message) -> Value {
        payload(m)
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        m: &Message,
        id: &str,
        timestamp: i64,
    ) -> Result<Delivered, DeliveryError> {
        let url = self.url.to_string();
        let body = serde_json::to_vec(&payload(m)).expect("json");
        let key = secret_key(self.secret.expose()).map_err(|reason| DeliveryError::Permanent {
            reason,
            status: None,
        })?;
        let mut signature = sign(&key, id, timestamp, &body);
        if let Some(prev) = &self.previous_secret {
            if let Ok(k) = secret_key(prev.expose()) {
                signature = format!("{signature} {}", sign(&k, id, timestamp, &body));
            }
        }
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let answer = delivery::send(req, &url, self.timeout).await?;
        if answer.status == 410 {
            return Err(DeliveryError::Permanent {
                reason: format!(
                    "{} answered 410 Gone: the receiver asked to stop; remove or fix this channel",
                    delivery::redact(&url)
                ),
                status: Some(410),
            });
        }
        delivery::classify(answer, &url)
    }
}

pub fn payload(m: &Message) -> Value {
    let mut v = json!({
        "type": format!("{}.{}", m.labels.signal, m.kind.as_str()),
        "timestamp": m.at_rfc3339(),
        "data": {
            "alert_id": m.alert_id,
            "status": m.kind.as_str(),
            "title": m.title(),
            "summary": m.summary(),
            "labels": m.labels,
            "department": m.department,
            "window": m.window,
            "launch": m.launch,
            "mentions": m.mentions,
            "expected_mentions": (m.expected_mentions * 100.0).round() / 100.0,
            "volume_ratio": (m.volume_ratio * 100.0).round() / 100.0,
            "net_sentiment": {"before": m.net_before, "after": m.net_after},
            "baseline": m.baseline,
            "observed": m.observed,
            "top_aspects": m.top_aspects,
            "examples": m.examples.iter().take(3).map(|e| json!({
                "source": e.source,
                "author": e.author,
                "url": safe_url(e.url.as_deref()),
                "published_at": e.published_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "text": e.text,
            })).collect::<Vec<_>>(),
        }
    });
    // Only health alerts carry it, so product alert bodies stay as they were.
    if let Some(h) = &m.health {
        v["data"]["health"] = json!(h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_worked_example() {
        let body = r#"{"type":"sentiment.shift","timestamp":"2026-03-14T09:30:00Z","data":{"alert_id":"alt_7f3k2","product":"ACME Phone","window":"6h","net_sentiment":{"before":0.31,"after":-0.12},"mentions":142,"volume_ratio":3.1,"top_aspects":["battery","crash"],"examples":["Battery drains by noon since the update","Camera app crashes on launch"],"url":"https://pulse.example.com/alerts/alt_7f3k2"}}"#;
        assert_eq!(body.len(), 381);
        let key = secret_key("whsec_ESq5OtN04dLgNrCoRBLyyjKlUf8UvoQ4hdNjCtc+9LQ=").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_01JPX3M8Q4ACMEPHONE6H",
                1773480605,
                body.as_bytes()
            ),
            "v1,XEJwugNpn9f35DdyF37tek6DYgC5WE/YI6aBuxX/W3o="
        );
        let prev = secret_key("whsec_jbn1GOGHSkxU+ZTXiXRgGciAJz0Rs+6A9HUlxVLdSIU=").unwrap();
        assert_eq!(
            sign(
                &prev,
                "msg_01JPX3M8Q4ACMEPHONE6H",
                1773480605,
                body.as_bytes()
            ),
            "v1,2u74lqY3BpfXtGnLWzHJbgqvOr1IvS5v+J7erFxSydY="
        );
    }
}
