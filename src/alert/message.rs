//! The channel-independent content of one notification, and the plain-text phrasing every
//! channel shares (title, numbers, department framing). Channels escape and cut it to
//! their own rules.

use super::{Department, Labels};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Firing,
    /// A still-firing alert re-sent after `repeat_interval`.
    Repeat,
    Resolved,
    /// `pulse alerts test CHANNEL`.
    Test,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Firing => "firing",
            MessageKind::Repeat => "repeat",
            MessageKind::Resolved => "resolved",
            MessageKind::Test => "test",
        }
    }
}

/// One example mention quoted in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub source: String,
    pub author: Option<String>,
    pub url: Option<String>,
    pub published_at: DateTime<Utc>,
    pub label: String,
    pub text: String,
}

/// Everything a channel needs to render one notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub alert_id: String,
    pub kind: MessageKind,
    pub labels: Labels,
    pub department: Department,
    /// When the alert started (firing) or ended (resolved).
    pub at: DateTime<Utc>,
    /// Human length of the judged window (`6h`).
    pub window: String,
    /// Whether the window is judged against the pre-launch baseline.
    pub launch: bool,
    pub mentions: u64,
    pub expected_mentions: f64,
    /// Observed / expected mentions.
    pub volume_ratio: f64,
    pub net_before: Option<f64>,
    pub net_after: Option<f64>,
    /// Signal-specific numbers: expected and observed count or share.
    pub baseline: f64,
    pub observed: f64,
    pub top_aspects: Vec<String>,
    pub examples: Vec<Example>,
    /// Set on `pulse_health` alerts (Pulse itself is unwell): what is wrong and what to do.
    /// Absent in records written before health alerts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthNote>,
}

/// The content of a `pulse_health` alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthNote {
    /// `source_failing`, `source_auth`, `channel_failing`, … (see [`crate::health`]).
    pub check: String,
    /// The source or channel name, `classifier` or `store`.
    pub subject: String,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub action: String,
    /// When the problem started, when known.
    pub since: Option<DateTime<Utc>>,
}

/// Short human name of a health check, for titles.
pub fn health_check_name(check: &str) -> &str {
    match check {
        "source_failing" => "source failing",
        "source_auth" => "source cannot authenticate",
        "source_quota" => "source quota nearly used up",
        "source_selectors" => "web selectors match nothing",
        "classifier" => "classifier failed to load",
        "channel_failing" => "alert channel failing",
        "disk_space" => "store disk nearly full",
        "store_size" => "store near its size limit",
        other => other,
    }
}

fn signed(x: Option<f64>) -> String {
    match x {
        Some(v) => format!("{v:+.2}"),
        None => "n/a".into(),
    }
}

impl Message {
    pub fn product(&self) -> &str {
        &self.labels.product
    }

    /// Short headline: `Sentiment drop: ACME Phone`.
    pub fn title(&self) -> String {
        if let Some(h) = &self.health {
            let what = format!(
                "Pulse health: {}: {}",
                health_check_name(&h.check),
                h.subject
            );
            return match self.kind {
                MessageKind::Resolved => format!("Resolved: {what}"),
                _ => what,
            };
        }
        let p = &self.labels.product;
        let what = match (self.labels.signal.as_str(), self.labels.direction.as_str()) {
            ("volume_spike", _) => "Mention spike".to_string(),
            ("sentiment_shift", "negative") => "Sentiment drop".to_string(),
            ("sentiment_shift", _) => "Sentiment rise".to_string(),
            ("aspect_spike", _) => format!("Complaints about {}", self.labels.aspect),
            ("test", _) => "Test message".to_string(),
            (s, _) => s.to_string(),
        };
        match self.kind {
            MessageKind::Resolved => format!("Resolved: {what}: {p}"),
            MessageKind::Test => format!("Pulse test message for {}", self.department),
            _ => format!("{what}: {p}"),
        }
    }

    /// What changed, in numbers, one sentence.
    pub fn summary(&self) -> String {
        if self.kind == MessageKind::Test {
            return "This is a test of the Pulse alert channel; no action is needed.".into();
        }
        if let Some(h) = &self.health {
            return match self.kind {
                MessageKind::Resolved => format!(
                    "Pulse has recovered: `{}` is healthy again (the problem was: {}).",
                    h.subject, h.problem
                ),
                _ => format!("{}.", h.problem.trim_end_matches('.')),
            };
        }
        let base = if self.launch {
            "the pre-launch baseline"
        } else {
            "usual"
        };
        let window = &self.window;
        let numbers = match self.labels.signal.as_str() {
            "sentiment_shift" => {
                let which = if self.labels.direction == "negative" {
                    "Negative"
                } else {
                    "Positive"
                };
                format!(
                    "{which} share {:.0}% vs {:.0}% {base}; net sentiment {} → {} in the last {window} ({} mentions)",
                    self.observed * 100.0,
                    self.baseline * 100.0,
                    signed(self.net_before),
                    signed(self.net_after),
                    self.mentions
                )
            }
            "aspect_spike" => format!(
                "{:.0} negative mentions about {} in the last {window} vs {:.1} expected ({:.1}x); net sentiment {} → {}",
                self.observed,
                self.labels.aspect,
                self.baseline,
                self.observed / self.baseline.max(1e-9),
                signed(self.net_before),
                signed(self.net_after)
            ),
            _ => format!(
                "{} mentions in the last {window}, {:.1}x {base} volume ({:.1} expected); net sentiment {} → {}",
                self.mentions,
                self.volume_ratio,
                self.expected_mentions,
                signed(self.net_before),
                signed(self.net_after)
            ),
        };
        match self.kind {
            MessageKind::Resolved => format!("The signal has ended. Now: {numbers}."),
            _ => format!("{numbers}."),
        }
    }

    /// Whether the message carries mention numbers (volume, aspects, window) worth a
    /// table; test messages and health alerts do not.
    pub fn has_numbers(&self) -> bool {
        self.kind != MessageKind::Test && self.health.is_none()
    }

    /// What this department should take from it (for health alerts: what to do).
    pub fn framing(&self) -> String {
        if let Some(h) = &self.health {
            return match self.kind {
                MessageKind::Resolved => "IT: no action is needed.".into(),
                _ => format!("What to do: {}.", h.action.trim_end_matches('.')),
            };
        }
        match (self.department, self.kind) {
            (_, MessageKind::Test) => "Channel check from Pulse.",
            (Department::It, MessageKind::Resolved) => {
                "IT: user reports of the problem are back to normal."
            }
            (Department::It, _) => {
                "IT: users are reporting a possible incident (outages, bugs, slowness); check status and error rates."
            }
            (Department::Marketing, MessageKind::Resolved) => {
                "Marketing: public opinion is back to its usual level."
            }
            (Department::Marketing, _) => {
                "Marketing: public opinion has moved; review launches, campaigns and pricing messages."
            }
        }
        .into()
    }

    /// RFC 3339 time of the event.
    pub fn at_rfc3339(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// A fixed message for `pulse alerts test`.
    pub fn test(department: Department, now: DateTime<Utc>) -> Message {
        let labels = Labels {
            product: "Pulse".into(),
            signal: "test".into(),
            direction: "none".into(),
            aspect: String::new(),
            severity: "info".into(),
            department: department.as_str().into(),
        };
        Message {
            window: "0s".into(),
            ..Message::without_figures(
                format!("test_{}", now.timestamp()),
                MessageKind::Test,
                labels,
                department,
                now,
            )
        }
    }

    /// A message about something other than mentions (a test, Pulse's own health): every
    /// mention figure empty or zero.
    pub fn without_figures(
        alert_id: String,
        kind: MessageKind,
        labels: Labels,
        department: Department,
        at: DateTime<Utc>,
    ) -> Message {
        Message {
            alert_id,
            kind,
            labels,
            department,
            at,
            window: String::new(),
            launch: false,
            mentions: 0,
            expected_mentions: 0.0,
            volume_ratio: 0.0,
            net_before: None,
            net_after: None,
            baseline: 0.0,
            observed: 0.0,
            top_aspects: Vec::new(),
            examples: Vec::new(),
            health: None,
        }
    }
}

/// Cut `s` to at most `max` characters on a char boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cut to at most `max` bytes on a char boundary, marking the cut with `…`.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Only http(s) links from mentions are shown; anything else (javascript:, data:) is dropped.
pub fn safe_url(url: Option<&str>) -> Option<String> {
    let u = url::Url::parse(url?).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use chrono::TimeZone;

    /// The running example of the channels reference, with hostile example texts.
    pub fn message(kind: MessageKind, department: Department) -> Message {
        Message {
            alert_id: "alt_7f3k2".into(),
            kind,
            labels: Labels {
                product: "ACME Phone".into(),
                signal: "sentiment_shift".into(),
                direction: "negative".into(),
                aspect: String::new(),
                severity: "warning".into(),
                department: department.as_str().into(),
            },
            department,
            at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap(),
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
                    published_at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
                    label: "negative".into(),
                    text: "Battery drains by noon since the update".into(),
                },
                Example {
                    source: "reddit".into(),
                    author: Some("bob".into()),
                    url: Some("https://www.reddit.com/r/acme/comments/abc/x/".into()),
                    published_at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 5, 0).unwrap(),
                    label: "negative".into(),
                    text: "Camera app crashes on launch <!channel> @everyone <@U0123> **fix** this & refund me [click](https://evil.example)".into(),
                },
                Example {
                    source: "hackernews".into(),
                    author: None,
                    url: Some("javascript:alert(1)".into()),
                    published_at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 10, 0).unwrap(),
                    label: "negative".into(),
                    text: "Screen\r\nBcc: victim@example.com <script>alert(1)</script>".into(),
                },
            ],
            health: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrasing() {
        let m = fixtures::message(MessageKind::Firing, Department::Marketing);
        assert_eq!(m.title(), "Sentiment drop: ACME Phone");
        assert_eq!(
            m.summary(),
            "Negative share 46% vs 20% usual; net sentiment +0.31 → -0.12 in the last 6h (142 mentions)."
        );
        assert!(m.framing().starts_with("Marketing"));
    }

    #[test]
    fn truncation_respects_chars() {
        assert_eq!(truncate("héllo", 3), "hé…");
        assert_eq!(truncate("hi", 3), "hi");
        assert_eq!(truncate_bytes("ééé", 4), "…");
        assert!(safe_url(Some("javascript:alert(1)")).is_none());
        assert_eq!(
            safe_url(Some("https://a.example/x")).as_deref(),
            Some("https://a.example/x")
        );
    }
}
