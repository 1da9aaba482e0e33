//! Alerts: records, routing to departments, and delivery through channels (one file each).

pub mod jsonl;

use serde::Deserialize;
use std::collections::HashSet;

/// Type-specific part of a `[[channels]]` entry, chosen by its `type` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    Jsonl(jsonl::JsonlConfig),
}

impl ChannelConfig {
    pub const TYPES: &'static [&'static str] = &[
        "slack", "discord", "teams", "ntfy", "webhook", "email", "jsonl",
    ];

    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ChannelConfig::Jsonl(c) => c.validate(),
        }
    }
}

/// Department an alert is framed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Department {
    Marketing,
    It,
}

/// `[[routes]]`: which alerts go to which department's channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub department: Department,
    /// Channel names (from `[[channels]]`).
    pub channels: Vec<String>,
}

impl RouteConfig {
    pub fn validate(&self, channel_names: &HashSet<String>) -> Vec<(String, String)> {
        self.channels
            .iter()
            .enumerate()
            .filter(|(_, c)| !channel_names.contains(*c))
            .map(|(i, c)| {
                (
                    format!("channels[{i}]"),
                    format!("no channel named `{c}` in [[channels]]"),
                )
            })
            .collect()
    }
}
