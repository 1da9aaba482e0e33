//! Microsoft Teams channel through a Workflows (Power Automate) webhook: one Adaptive Card
//! (v1.2). Untrusted example text goes in `TextRun`s, which Teams never parses as Markdown;
//! the card stays well under the 28 KB message limit. Workflows answer `202 Accepted`.

use super::delivery::{self, Delivered, DeliveryError};
use super::message::{safe_url, truncate, Message, MessageKind};
use super::slack::check_url;
use crate::config::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// Workflow URL (carries its `sig=` credential); a secret.
    pub url: Secret,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

impl TeamsConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        check_url(&self.url)
    }

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
        delivery::classify(delivery::send(req, url, self.timeout).await?, url)
    }
}

/// Remove the Markdown Teams renders in TextBlocks/facts, for text that must go there.
fn strip_markdown(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '`'))
        .collect()
}

pub fn payload(m: &Message) -> Value {
    let color = match m.kind {
        MessageKind::Firing | MessageKind::Repeat => "Attention",
        MessageKind::Resolved => "Good",
        MessageKind::Test => "Warning",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": strip_markdown(&m.title()), "style": "heading",
               "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
        json!({"type": "TextBlock", "text": strip_markdown(&m.summary()), "wrap": true}),
        json!({"type": "TextBlock", "text": m.framing(), "wrap": true, "isSubtle": true}),
    ];
    if m.has_numbers() {
        let aspects = if m.top_aspects.is_empty() {
            "none".to_string()
        } else {
            m.top_aspects.join(", ")
        };
        body.push(json!({"type": "FactSet", "facts": [
            {"title": "Mentions", "value": format!("{} ({:.1}x usual)", m.mentions, m.volume_ratio)},
            {"title": "Top aspects", "value": strip_markdown(&aspects)},
            {"title": "Window", "value": m.window},
            {"title": "Department", "value": m.department.as_str()},
        ]}));
    }
    let mut actions = Vec::new();
    for e in m.examples.iter().take(3) {
        body.push(json!({"type": "RichTextBlock", "inlines": [
            {"type": "TextRun", "text": format!("“{}” — {}", truncate(&e.text, 1000), e.source), "italic": true}
        ]}));
        if let Some(u) = safe_url(e.url.as_deref()) {
            actions.push(json!({"type": "Action.OpenUrl", "title": truncate(&format!("Open {} post", e.source), 40), "url": u}));
        }
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.2",
                "msteams": {"width": "Full"},
                "body": body,
                "actions": actions,
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::message::fixtures;
    use crate::alert::Department;

    #[test]
    fn card_is_small_and_examples_are_text_runs() {
        let p = payload(&fixtures::message(MessageKind::Firing, Department::It));
        assert!(serde_json::to_vec(&p).unwrap().len() < 28 * 1024);
        let body = p["attachments"][0]["content"]["body"].as_array().unwrap();
        assert_eq!(
            body.iter().filter(|b| b["type"] == "RichTextBlock").count(),
            3
        );
        // The javascript: link is not offered as an action.
        assert_eq!(
            p["attachments"][0]["content"]["actions"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
