//! Sources of mentions. Each platform is one file implementing [`Source`]; the set is
//! closed and chosen by `type` in a `[[sources]]` entry ([`SourceConfig`]).

pub mod bluesky;
pub mod github;
pub mod hackernews;
pub mod http;
pub mod lemmy;
pub mod mastodon;
pub mod pause;
pub mod reddit;
pub mod rss;
pub mod stackexchange;
pub mod text;
pub mod web;

use crate::config::ProductConfig;
use crate::matcher::Matcher;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

pub use http::{FetchError, HttpClient};

/// Type-specific part of a `[[sources]]` entry, chosen by its `type` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    Rss(rss::RssConfig),
    Stackexchange(stackexchange::StackExchangeConfig),
    Github(github::GithubConfig),
    Bluesky(bluesky::BlueskyConfig),
    Web(web::WebConfig),
    Hackernews(hackernews::HackerNewsConfig),
    // Boxed: the OAuth settings make it much larger than the other variants.
    Reddit(Box<reddit::RedditConfig>),
    Mastodon(mastodon::MastodonConfig),
    Lemmy(lemmy::LemmyConfig),
}

impl SourceConfig {
    /// Every accepted `type` value, for messages.
    pub const TYPES: &'static [&'static str] = &[
        "hackernews",
        "reddit",
        "mastodon",
        "lemmy",
        "rss",
        "stackexchange",
        "github",
        "bluesky",
        "web",
    ];

    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Rss(_) => "rss",
            SourceConfig::Stackexchange(_) => "stackexchange",
            SourceConfig::Github(_) => "github",
            SourceConfig::Bluesky(_) => "bluesky",
            SourceConfig::Web(_) => "web",
            SourceConfig::Hackernews(_) => "hackernews",
            SourceConfig::Reddit(_) => "reddit",
            SourceConfig::Mastodon(_) => "mastodon",
            SourceConfig::Lemmy(_) => "lemmy",
        }
    }

    /// Problems beyond what serde checks, as (key, message).
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            SourceConfig::Rss(c) => c.validate(),
            SourceConfig::Stackexchange(c) => c.validate(),
            SourceConfig::Github(c) => c.validate(),
            SourceConfig::Bluesky(c) => c.validate(),
            SourceConfig::Web(c) => c.validate(),
            SourceConfig::Hackernews(c) => c.validate(),
            SourceConfig::Reddit(c) => c.validate(),
            SourceConfig::Mastodon(c) => c.validate(),
            SourceConfig::Lemmy(c) => c.validate(),
        }
    }

    /// Build the poller for this entry.
    pub fn build(&self) -> Result<Box<dyn Source>, SourceError> {
        Ok(match self {
            SourceConfig::Rss(c) => Box::new(rss::Rss::new(c.clone())),
            SourceConfig::Stackexchange(c) => {
                Box::new(stackexchange::StackExchange::new(c.clone()))
            }
            SourceConfig::Github(c) => Box::new(github::Github::new(c.clone())),
            SourceConfig::Bluesky(c) => Box::new(bluesky::Bluesky::new(c.clone())),
            SourceConfig::Web(c) => Box::new(web::Web::new(c.clone())),
            SourceConfig::Hackernews(c) => Box::new(hackernews::HackerNews::new(c.clone())),
            SourceConfig::Reddit(c) => Box::new(reddit::Reddit::new((**c).clone())),
            SourceConfig::Mastodon(c) => Box::new(mastodon::Mastodon::new(c.clone())),
            SourceConfig::Lemmy(c) => Box::new(lemmy::Lemmy::new(c.clone())),
        })
    }
}

/// A failure of a whole poll (partial failures go in [`PollOutput::errors`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("unexpected response: {0}")]
    Parse(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("source is not configured correctly: {0}")]
    Config(String),
}

/// What a poll needs: the shared HTTP client, products, and the cursors stored last time.
pub struct PollContext {
    /// The configured source name (cursor and status key).
    pub source: String,
    pub http: HttpClient,
    pub products: Arc<Vec<ProductConfig>>,
    pub matcher: Arc<Matcher>,
    /// Cursors this source saved last time, by scope (product, instance, tag, feed URL...).
    pub cursors: HashMap<String, String>,
    pub now: DateTime<Utc>,
    /// Most pages fetched per scope in one poll.
    pub max_pages: usize,
}

/// Outcome of one poll.
#[derive(Debug, Default, Clone)]
pub struct PollOutput {
    pub mentions: Vec<RawMention>,
    /// New cursor values by scope; saved only after the mentions are stored.
    pub cursors: Vec<(String, String)>,
    /// Things the operator should know that are not failures (a selector matched nothing,
    /// an instance disabled its public timeline).
    pub warnings: Vec<String>,
    /// Failures of one scope while the others succeeded.
    pub errors: Vec<String>,
    /// Remaining request quota the platform reported, if any.
    pub quota_remaining: Option<i64>,
}

/// One platform poller.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Fetch mentions newer than the stored cursors.
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError>;
}
