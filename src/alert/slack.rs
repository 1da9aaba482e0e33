//! Slack incoming webhook channel: Block Kit message with a fallback `text`. Untrusted text
//! has `&`, `<`, `>` escaped (no `<!channel>` pings, no disguised links) and example quotes
//! go in `plain_text` objects, which Slack does not format. Slack answers `200 ok`.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{safe_url, truncate, Message};
use crate::config::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Incoming-webhook URL (`https://hooks.slack.com/services/…`); a secret, so write `env:VAR`.
    pub url: Secret,
    /// Request timeout.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

impl SlackConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        check_url(&self.url)
    }

    /// The JSON body for a message.
    pub fn payload(&self, m: &Message) -> Value {
        payload(m)
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        m: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let url = self.url.expose();
        let body = serde_json::to_vec(&payload(m)).expect("json");
        let req = http
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body);
        let answer = delivery::send(req, url, self.timeout).await?;
        let status = answer.status;
        let text = answer.body.trim().to_string();
        let d = delivery::classify(answer, url)?;
        // Slack's success body is the plain `ok`; anything else is an error it reported.
        if status == 200 && text != "ok" {
            return Err(DeliveryError::Permanent {
                reason: format!(
                    "{} answered 200 with `{}` instead of `ok`",
                    delivery::redact(url),
                    truncate(&text, 100)
                ),
                status: Some(status),
            });
        }
        Ok(d)
    }
}

/// A URL secret must parse as http(s).
pub fn check_url(secret: &Secret) -> Vec<(String, String)> {
    match url::Url::parse(secret.expose()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Vec::new(),
        _ => vec![("url".into(), format!("{} is not an http(s) URL", secret))],
    }
}

/// Escape the three characters Slack treats as control characters.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plain(text: &str, max: usize) -> Value {
    // plain_text is not parsed for mentions or formatting; escaping keeps `<!here>` inert
    // even in clients that render it loosely.
    json!({"type": "plain_text", "text": truncate(&escape(text), max), "emoji": false})
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": truncate(&text, 3000)})
}

pub fn payload(m: &Message) -> Value {
    let title = m.title();
    let summary = m.summary();
    let mut blocks = vec![
        json!({"type": "header", "text": plain(&title, 150)}),
        json!({"type": "section", "text": plain(&format!("{summary}\n{}", m.framing()), 3000)}),
    ];
    if m.has_numbers() {
        let aspects = if m.top_aspects.is_empty() {
            "none".to_string()
        } else {
            m.top_aspects.join(", ")
        };
        blocks.push(json!({"type": "section", "fields": [
            mrkdwn(format!("*Mentions*\n{} ({:.1}x usual)", m.mentions, m.volume_ratio)),
            mrkdwn(format!("*Top aspects*\n{}", escape(&aspects))),
            mrkdwn(format!("*Window*\n{}", escape(&m.window))),
            mrkdwn(format!("*Department*\n{}", m.department)),
        ]}));
    }
    for (i, e) in m.examples.iter().take(3).enumerate() {
        let who = format!(
            "{}{}",
            e.source,
            e.author
                .as_deref()
                .map(|a| format!(" · {a}"))
                .unwrap_or_default()
        );
        let link = match safe_url(e.url.as_deref()) {
            // `|` would end the link target early: percent-encode it.
            Some(u) => format!(
                "<{}|{}>",
                escape(&u).replace('|', "%7C"),
                escape(&who).replace('|', "/")
            ),
            None => escape(&who),
        };
        blocks.push(
            json!({"type": "section", "text": plain(&format!("{}. “{}”", i + 1, e.text), 2900)}),
        );
        blocks.push(json!({"type": "context", "elements": [mrkdwn(link)]}));
    }
    blocks.push(json!({"type": "context", "elements": [
        mrkdwn(format!("Pulse · {} · {} · {}", escape(&m.alert_id), m.kind.as_str(), m.at_rfc3339()))
    ]}));
    json!({
        "text": truncate(&escape(&format!("{title}: {summary}")), 3000),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::message::fixtures;
    use crate::alert::message::MessageKind;
    use crate::alert::Department;

    #[test]
    fn untrusted_text_cannot_ping() {
        let p = payload(&fixtures::message(
            MessageKind::Firing,
            Department::Marketing,
        ));
        let s = p.to_string();
        assert!(!s.contains("<!channel>"));
        assert!(s.contains("&lt;!channel&gt;"));
        assert!(!s.contains("javascript:"));
        assert!(p["blocks"].as_array().unwrap().len() <= 50);
    }
}
