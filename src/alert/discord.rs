//! Discord webhook channel: one embed per message, `allowed_mentions: {parse: []}` so no
//! text can ping anyone, Markdown characters in untrusted text backslash-escaped, fields
//! cut to Discord's limits, `?wait=true` so failures surface, and the 429 body's
//! `retry_after` honoured.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{safe_url, truncate, Message, MessageKind};
use super::slack::check_url;
use crate::config::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// Webhook URL (`https://discord.com/api/webhooks/{id}/{token}`); a secret.
    pub url: Secret,
    /// Name the message is posted under.
    #[serde(default = "default_username")]
    pub username: String,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_username() -> String {
    "Pulse".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

/// Firing red, resolved green, other grey (Alertmanager's colours).
const RED: u32 = 0x992D22;
const GREEN: u32 = 0x2ECC71;
const GREY: u32 = 0x95A5A6;

impl DiscordConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        check_url(&self.url)
    }

    pub fn payload(&self, m: &Message) -> Value {
        payload(m, &self.username)
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        m: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let mut url = url::Url::parse(self.url.expose()).map_err(|_| DeliveryError::Permanent {
            reason: "discord url is not a valid URL".into(),
            status: None,
        })?;
        url.query_pairs_mut().append_pair("wait", "true");
        let url = url.to_string();
        let body = serde_json::to_vec(&self.payload(m)).expect("json");
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        let answer = delivery::send(req, &url, self.timeout).await?;
        if answer.status == 429 {
            // Discord puts the wait (fractional seconds) in the JSON body.
            let body_wait = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            return match delivery::classify(answer, &url) {
                Err(DeliveryError::Retryable {
                    reason,
                    status,
                    retry_after,
                }) => Err(DeliveryError::Retryable {
                    reason,
                    status,
                    retry_after: body_wait.or(retry_after),
                }),
                other => other,
            };
        }
        delivery::classify(answer, &url)
    }
}

/// Backslash-escape Discord Markdown and break `@everyone`/`@here`/`<@…>` mentions.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            // A zero-width space after `@` keeps `@everyone` from reading as a mention
            // even if allowed_mentions were ever dropped.
            '@' => out.push_str("@\u{200b}"),
            _ => out.push(c),
        }
    }
    out
}

pub fn payload(m: &Message, username: &str) -> Value {
    let color = match m.kind {
        MessageKind::Firing | MessageKind::Repeat => RED,
        MessageKind::Resolved => GREEN,
        MessageKind::Test => GREY,
    };
    let mut desc = format!("{}\n{}", m.summary(), m.framing());
    if !m.examples.is_empty() {
        desc.push_str("\n\n**Examples**");
        for e in m.examples.iter().take(3) {
            let quote = escape(&truncate(&e.text, 600));
            match safe_url(e.url.as_deref()) {
                Some(u) => desc.push_str(&format!("\n• “{quote}” — <{u}>")),
                None => desc.push_str(&format!("\n• “{quote}” — {}", escape(&e.source))),
            }
        }
    }
    let mut fields = Vec::new();
    if m.has_numbers() {
        fields.push(json!({"name": "Mentions", "value": format!("{} ({:.1}x)", m.mentions, m.volume_ratio), "inline": true}));
        let aspects = if m.top_aspects.is_empty() {
            "none".to_string()
        } else {
            escape(&m.top_aspects.join(", "))
        };
        fields.push(
            json!({"name": "Top aspects", "value": truncate(&aspects, 1024), "inline": true}),
        );
        fields.push(json!({"name": "Department", "value": m.department.as_str(), "inline": true}));
    }
    // Title + description + fields + footer must stay under 6000 in total: the description
    // gets what the rest leaves.
    let title = truncate(&m.title(), 256);
    let footer = format!("Pulse · {} · {}", m.alert_id, m.kind.as_str());
    let used = title.chars().count() + footer.chars().count() + 200;
    let desc = truncate(&desc, 4096.min(6000 - used));
    json!({
        "username": truncate(username, 80),
        "content": truncate(&format!("{}: **{}**", m.title(), escape(m.product())), 2000),
        "embeds": [{
            "title": title,
            "description": desc,
            "color": color,
            "timestamp": m.at_rfc3339(),
            "fields": fields,
            "footer": {"text": truncate(&footer, 2048)},
        }],
        "allowed_mentions": {"parse": []},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::message::fixtures;
    use crate::alert::Department;

    #[test]
    fn no_mentions_no_markdown_injection() {
        let p = payload(
            &fixtures::message(MessageKind::Firing, Department::It),
            "Pulse",
        );
        assert_eq!(p["allowed_mentions"]["parse"], json!([]));
        let d = p["embeds"][0]["description"].as_str().unwrap();
        assert!(!d.contains("@everyone"));
        assert!(d.contains("\\*\\*fix\\*\\*"));
        assert!(d.contains("\\[click\\]"));
    }
}
