//! Helpers for the alert tests: a config with channels on local servers, synthetic
//! mention history with a burst, Standard Webhooks verification written independently of
//! the sender's code.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use pulse::alert::{MemoryData, MentionLite};
use pulse::config::Config;
use pulse::model::Label;
use sha2::Sha256;
use std::path::Path;

pub const SECRET: &str = "whsec_ESq5OtN04dLgNrCoRBLyyjKlUf8UvoQ4hdNjCtc+9LQ=";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

pub fn hours(h: i64) -> DateTime<Utc> {
    t0() + Duration::hours(h)
}

pub fn config(text: &str) -> Config {
    Config::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Marketing and IT webhook channels on `base` (`/mkt`, `/it`), routed by department.
pub fn two_department_config(base: &str, group_wait: &str) -> Config {
    config(&format!(
        r#"
[[products]]
name = "Widget"

[[channels]]
name = "mkt"
type = "webhook"
url = "{base}/mkt"
secret = "{SECRET}"
timeout = "1s"

[[channels]]
name = "it"
type = "webhook"
url = "{base}/it"
secret = "{SECRET}"
timeout = "1s"

[[routes]]
department = "marketing"
channels = ["mkt"]
group_wait = "{group_wait}"
group_interval = "5m"
repeat_interval = "12h"

[[routes]]
department = "it"
channels = ["it"]
group_wait = "{group_wait}"
group_interval = "5m"
repeat_interval = "12h"
"#
    ))
}

fn mention(i: usize, t: DateTime<Utc>, label: Label, text: &str, aspects: &[&str]) -> MentionLite {
    MentionLite {
        source: "fake".into(),
        id: format!("m{i}"),
        url: Some(format!("https://forum.example/t/{i}")),
        author: Some(format!("user{}", i % 17)),
        published_at: t,
        text: text.into(),
        label,
        score: match label {
            Label::Positive => 0.6,
            Label::Negative => -0.6,
            Label::Neutral => 0.0,
        },
        aspects: aspects.iter().map(|a| a.to_string()).collect(),
        engagement: Some((i % 13) as i64),
    }
}

/// `total` hours of steady traffic (10 mentions/h: 20% negative, 40% positive) with a
/// burst in hour `burst` of 60 extra negative "outage" mentions.
pub fn history(total: i64, burst: Option<i64>) -> MemoryData {
    let data = MemoryData::new();
    let mut i = 0;
    for h in 0..total {
        for k in 0..10 {
            let t = hours(h) + Duration::minutes(k * 6);
            let (label, text) = match (h as usize * 7 + k as usize) % 5 {
                0 => (Label::Negative, "Widget is meh, not happy with it"),
                1 | 2 => (Label::Positive, "Widget works great, love it"),
                _ => (Label::Neutral, "Using Widget today"),
            };
            data.add("Widget", mention(i, t, label, text, &[]));
            i += 1;
        }
        if Some(h) == burst {
            for k in 0..60 {
                let t = hours(h) + Duration::seconds(k * 59);
                data.add(
                    "Widget",
                    mention(
                        i,
                        t,
                        Label::Negative,
                        "Widget outage again, the site is down <!channel> @everyone",
                        &["outage"],
                    ),
                );
                i += 1;
            }
        }
    }
    data
}

/// Verify a Standard Webhooks request the way a receiver would (own HMAC code).
pub fn verify(id: &str, timestamp: &str, signature_header: &str, body: &[u8]) -> bool {
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signature_header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

pub fn header<'a>(r: &'a wiremock::Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The running example of the channels reference, with hostile example texts.
pub fn hostile_message(department: pulse::alert::Department) -> pulse::alert::Message {
    use pulse::alert::message::Example;
    use pulse::alert::{Labels, Message, MessageKind};
    let at = Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap();
    Message {
        alert_id: "alt_7f3k2".into(),
        kind: MessageKind::Firing,
        labels: Labels {
            product: "ACME Phone".into(),
            signal: "sentiment_shift".into(),
            direction: "negative".into(),
            aspect: String::new(),
            severity: "warning".into(),
            department: department.as_str().into(),
        },
        department,
        at,
        window: "6h".into(),
        launch: false,
        mentions: 142,
        expected_mentions: 45.8,
        volume_ratio: 3.1,
        net_before: Some(0.31),
        net_after: Some(-0.12),
        baseline: 0.2,
        observed: 0.46,
        top_aspects: vec!["battery".into(), "crash".into()],
        examples: vec![
            Example {
                source: "mastodon".into(),
                author: Some("@ann@example.social".into()),
                url: Some("https://example.social/@ann/1".into()),
                published_at: at - Duration::minutes(30),
                label: "negative".into(),
                text: "Battery drains by noon since the update".into(),
            },
            Example {
                source: "reddit".into(),
                author: Some("bob".into()),
                url: Some("https://www.reddit.com/r/acme/comments/abc/x/".into()),
                published_at: at - Duration::minutes(25),
                label: "negative".into(),
                text: "Camera app crashes on launch <!channel> <!here> @everyone <@U0123> **fix** this & refund me [click](https://evil.example)".into(),
            },
            Example {
                source: "hackernews".into(),
                author: None,
                url: Some("javascript:alert(1)".into()),
                published_at: at - Duration::minutes(20),
                label: "negative".into(),
                text: format!("Screen\r\nBcc: victim@example.com <script>alert(1)</script> {}", "long ".repeat(2000)),
            },
        ],
        health: None,
    }
}

/// The same history as [`history`], as store records (texts made unique so the store's
/// cross-post dedup keeps them all).
pub fn history_records(total: i64, burst: Option<i64>) -> Vec<pulse::store::MentionRecord> {
    use pulse::alert::AlertData;
    let data = history(total, burst);
    data.mentions("Widget", hours(-1), hours(total + 1), false, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|m| pulse::store::MentionRecord {
            uid: 0,
            source: m.source,
            text: format!("{} (post {})", m.text, m.id),
            id: m.id,
            url: m.url,
            author: m.author,
            published_at: m.published_at,
            language: None,
            engagement: m.engagement,
            products: vec!["Widget".into()],
            label: m.label,
            score: m.score,
            confidence: 0.9,
            classifier: "test".into(),
            aspects: m.aspects,
            fetched_at: m.published_at,
        })
        .collect()
}
