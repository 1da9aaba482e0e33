//! Alerts: records, routing to departments, and delivery through channels (one file each).
//!
//! The [`engine::AlertEngine`] runs the detectors on a schedule, turns fire/resolve
//! transitions into alert records, routes them like Alertmanager (label matchers,
//! group_wait / group_interval / repeat_interval, inhibition, silences) and writes the
//! notifications to a durable outbox in the same sled transaction; a delivery loop then
//! sends the outbox with capped, jittered back-off and a stable idempotency key.

pub mod alertmanager;
pub mod data;
pub mod delivery;
pub mod discord;
pub mod email;
pub mod engine;
pub mod jsonl;
pub mod message;
pub mod ntfy;
pub mod record;
pub mod silence;
pub mod slack;
pub mod teams;
pub mod webhook;

pub use data::{AlertData, MemoryData, MentionLite};
pub use delivery::{Delivered, DeliveryError};
pub use engine::AlertEngine;
pub use message::{Message, MessageKind};
pub use record::{AlertRecord, AlertStatus, OutboxEntry, OutboxState};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Errors of the alert engine and its trees.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("cannot open alert tree `{tree}`: {source}")]
    OpenTree { tree: String, source: sled::Error },
    #[error("cannot write alerts to the store: {0}")]
    Write(String),
    #[error("cannot read alert data: {0}")]
    Read(String),
    #[error("cannot decode stored {what}: {reason}; the store may be from a newer pulse")]
    Decode { what: String, reason: String },
    #[error("cannot build channel `{channel}`: {reason}")]
    Channel { channel: String, reason: String },
    #[error("no channel named `{0}` in [[channels]]; `pulse check-config` lists them")]
    UnknownChannel(String),
    #[error("invalid silence: {0}")]
    Silence(String),
}

/// Type-specific part of a `[[channels]]` entry, chosen by its `type` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    Slack(slack::SlackConfig),
    Discord(discord::DiscordConfig),
    Teams(teams::TeamsConfig),
    Ntfy(ntfy::NtfyConfig),
    Webhook(webhook::WebhookConfig),
    Email(email::EmailConfig),
    Jsonl(jsonl::JsonlConfig),
    Alertmanager(alertmanager::AlertmanagerConfig),
}

impl ChannelConfig {
    pub const TYPES: &'static [&'static str] = &[
        "slack",
        "discord",
        "teams",
        "ntfy",
        "webhook",
        "email",
        "jsonl",
        "alertmanager",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Discord(_) => "discord",
            ChannelConfig::Teams(_) => "teams",
            ChannelConfig::Ntfy(_) => "ntfy",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Jsonl(_) => "jsonl",
            ChannelConfig::Alertmanager(_) => "alertmanager",
        }
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ChannelConfig::Slack(c) => c.validate(),
            ChannelConfig::Discord(c) => c.validate(),
            ChannelConfig::Teams(c) => c.validate(),
            ChannelConfig::Ntfy(c) => c.validate(),
            ChannelConfig::Webhook(c) => c.validate(),
            ChannelConfig::Email(c) => c.validate(),
            ChannelConfig::Jsonl(c) => c.validate(),
            ChannelConfig::Alertmanager(c) => c.validate(),
        }
    }
}

/// Department an alert is framed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Department {
    Marketing,
    It,
}

impl Department {
    pub fn as_str(self) -> &'static str {
        match self {
            Department::Marketing => "marketing",
            Department::It => "it",
        }
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[[routes]]`: which alerts go to which department's channels. Routes are tried in
/// order; the first match wins unless it sets `continue = true`. With no routes at all,
/// every alert goes to every channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Match alerts of this department (shortcut for `match.department`); also the
    /// framing of the messages.
    #[serde(default)]
    pub department: Option<Department>,
    /// Label matchers (`product`, `signal`, `direction`, `aspect`, `severity`,
    /// `department`): all must equal. A value starting with `~` is a regular expression.
    #[serde(default, rename = "match")]
    pub matchers: BTreeMap<String, String>,
    /// Channel names (from `[[channels]]`).
    pub channels: Vec<String>,
    /// Wait before the first notification of a new alert (an alert resolved within it is never sent).
    #[serde(default = "default_group_wait", with = "humantime_serde")]
    pub group_wait: Duration,
    /// Least time between two notifications of the same alert (e.g. firing then resolved).
    #[serde(default = "default_group_interval", with = "humantime_serde")]
    pub group_interval: Duration,
    /// Re-send a still-firing alert after this long.
    #[serde(default = "default_repeat_interval", with = "humantime_serde")]
    pub repeat_interval: Duration,
    /// Send a "resolved" message when the signal ends.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Keep trying later routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

pub fn default_group_wait() -> Duration {
    Duration::from_secs(30)
}
pub fn default_group_interval() -> Duration {
    Duration::from_secs(300)
}
pub fn default_repeat_interval() -> Duration {
    Duration::from_secs(4 * 3600)
}
fn default_true() -> bool {
    true
}

/// Labels every alert carries; routes, silences and inhibition match on them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Labels {
    pub product: String,
    pub signal: String,
    pub direction: String,
    pub aspect: String,
    pub severity: String,
    pub department: String,
}

impl Labels {
    pub fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "product" => &self.product,
            "signal" => &self.signal,
            "direction" => &self.direction,
            "aspect" => &self.aspect,
            "severity" => &self.severity,
            "department" => &self.department,
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] = &[
        "product",
        "signal",
        "direction",
        "aspect",
        "severity",
        "department",
    ];
}

/// Does a label value satisfy a matcher value (`~regex` or exact, case-insensitive)?
pub fn matches_value(pattern: &str, value: &str) -> bool {
    match pattern.strip_prefix('~') {
        Some(re) => regex::RegexBuilder::new(&format!("^(?:{re})$"))
            .case_insensitive(true)
            .build()
            .map(|r| r.is_match(value))
            .unwrap_or(false),
        None => pattern.eq_ignore_ascii_case(value),
    }
}

impl RouteConfig {
    pub fn validate(&self, channel_names: &HashSet<String>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .channels
            .iter()
            .enumerate()
            .filter(|(_, c)| !channel_names.contains(*c))
            .map(|(i, c)| {
                (
                    format!("channels[{i}]"),
                    format!("no channel named `{c}` in [[channels]]"),
                )
            })
            .collect();
        for (k, v) in &self.matchers {
            if !Labels::NAMES.contains(&k.as_str()) {
                out.push((
                    format!("match.{k}"),
                    format!(
                        "unknown label; expected one of: {}",
                        Labels::NAMES.join(", ")
                    ),
                ));
            }
            if let Some(re) = v.strip_prefix('~') {
                if let Err(e) = regex::Regex::new(re) {
                    out.push((
                        format!("match.{k}"),
                        format!("invalid regular expression: {e}"),
                    ));
                }
            }
        }
        if self.repeat_interval < self.group_interval {
            out.push((
                "repeat_interval".into(),
                "must be at least group_interval".into(),
            ));
        }
        out
    }

    /// Whether this route takes an alert with these labels.
    pub fn matches(&self, labels: &Labels) -> bool {
        if let Some(d) = self.department {
            if labels.department != d.as_str() {
                return false;
            }
        }
        self.matchers
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|value| matches_value(v, value)))
    }

    /// The route used when `[[routes]]` is empty: everything to every channel.
    pub fn catch_all(channels: Vec<String>) -> RouteConfig {
        RouteConfig {
            department: None,
            matchers: BTreeMap::new(),
            channels,
            group_wait: default_group_wait(),
            group_interval: default_group_interval(),
            repeat_interval: default_repeat_interval(),
            send_resolved: true,
            continue_matching: false,
        }
    }
}

/// Indexes of the routes an alert goes through, Alertmanager-style.
pub fn route_alert(routes: &[RouteConfig], labels: &Labels) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        if r.matches(labels) {
            out.push(i);
            if !r.continue_matching {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(dept: &str, product: &str) -> Labels {
        Labels {
            product: product.into(),
            signal: "volume_spike".into(),
            direction: "up".into(),
            aspect: String::new(),
            severity: "warning".into(),
            department: dept.into(),
        }
    }

    fn route(toml_text: &str) -> RouteConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn first_match_wins_unless_continue() {
        let routes = vec![
            route("department = \"it\"\nchannels = [\"it\"]\n"),
            route("match = { product = \"~acme.*\" }\nchannels = [\"acme\"]\ncontinue = true\n"),
            route("channels = [\"all\"]\n"),
        ];
        assert_eq!(route_alert(&routes, &labels("it", "ACME Phone")), vec![0]);
        assert_eq!(
            route_alert(&routes, &labels("marketing", "ACME Phone")),
            vec![1, 2]
        );
        assert_eq!(route_alert(&routes, &labels("marketing", "Other")), vec![2]);
    }

    #[test]
    fn unknown_label_and_channel_are_reported() {
        let r = route("match = { colour = \"red\" }\nchannels = [\"nope\"]\n");
        let problems = r.validate(&HashSet::new());
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
