//! Sources of mentions. Each platform is one file implementing [`Source`]; the set is
//! closed and chosen by `type` in a `[[sources]]` entry ([`SourceConfig`]).

pub mod bluesky;
pub mod cursor;
pub mod github;
pub mod hackernews;
pub mod http;
pub mod lemmy;
pub mod mastodon;
pub mod pause;
pub mod reddit;
pub mod rss;
pub mod scaffold;
pub mod stackexchange;
pub mod text;
pub mod validate;
pub mod web;

use crate::config::ProductConfig;
use crate::matcher::Matcher;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use http::{FetchError, HttpClient};
pub use scaffold::ItemCounts;

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
        let mut problems: Vec<(String, String)> = self
            .urls()
            .iter()
            .filter_map(|(k, u)| check_scheme(k, u))
            .collect();
        problems.extend(match self {
            SourceConfig::Rss(c) => c.validate(),
            SourceConfig::Stackexchange(c) => c.validate(),
            SourceConfig::Github(c) => c.validate(),
            SourceConfig::Bluesky(c) => c.validate(),
            SourceConfig::Web(c) => c.validate(),
            SourceConfig::Hackernews(c) => c.validate(),
            SourceConfig::Reddit(c) => c.validate(),
            SourceConfig::Mastodon(c) => c.validate(),
            SourceConfig::Lemmy(c) => c.validate(),
        });
        problems
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

    /// How far before the newest item seen each poll re-reads, by how late the platform
    /// indexes and delivers (README, "What Pulse can miss").
    pub fn default_overlap(&self) -> Duration {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        Duration::from_secs(match self {
            // Feeds re-list stories by their original time (news aggregators: hours late);
            // the feed is one bounded page, so a long window costs only dedup look-ups.
            SourceConfig::Rss(_) => 24 * HOUR,
            // Search indexes that lag by minutes, sometimes an hour.
            SourceConfig::Hackernews(_) | SourceConfig::Reddit(_) => HOUR,
            SourceConfig::Bluesky(_) => HOUR,
            // Federation and search indexes that lag by hours.
            SourceConfig::Mastodon(_) | SourceConfig::Lemmy(_) => 6 * HOUR,
            SourceConfig::Github(_) | SourceConfig::Stackexchange(_) => 6 * HOUR,
            // Pages without reliable times: every item on the page is re-read.
            SourceConfig::Web(_) => 30 * MIN,
        })
    }

    /// How far back a first poll reads: a day for the searches with a time filter that
    /// list oldest first or page cheaply by time; the newest page elsewhere.
    pub fn default_lookback(&self) -> Option<Duration> {
        match self {
            SourceConfig::Github(_) | SourceConfig::Stackexchange(_) | SourceConfig::Bluesky(_) => {
                Some(Duration::from_secs(24 * 3600))
            }
            _ => None,
        }
    }

    /// The URLs of this entry by config key, for the one scheme check.
    pub fn urls(&self) -> Vec<(String, String)> {
        let one = |k: &str, u: &url::Url| vec![(k.to_string(), u.to_string())];
        let many = |k: &str, us: &[url::Url]| {
            us.iter()
                .enumerate()
                .map(|(i, u)| (format!("{k}[{i}]"), u.to_string()))
                .collect()
        };
        match self {
            SourceConfig::Rss(c) => vec![("url".into(), c.url.replace("{query}", "x"))],
            SourceConfig::Web(c) => vec![("url".into(), c.url.replace("{query}", "x"))],
            SourceConfig::Stackexchange(c) => one("base_url", &c.base_url),
            SourceConfig::Github(c) => one("base_url", &c.base_url),
            SourceConfig::Bluesky(c) => one("base_url", &c.base_url),
            SourceConfig::Hackernews(c) => one("base_url", &c.base_url),
            SourceConfig::Reddit(c) => {
                let mut v = one("auth_url", &c.auth_url);
                if let Some(b) = &c.base_url {
                    v.extend(one("base_url", b));
                }
                v
            }
            SourceConfig::Mastodon(c) => many("instances", &c.instances),
            SourceConfig::Lemmy(c) => many("instances", &c.instances),
        }
    }
}

/// Every source URL must be http or https: checked once here for all sources.
fn check_scheme(key: &str, raw: &str) -> Option<(String, String)> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => None,
        Ok(u) => Some((
            key.to_string(),
            format!("unsupported scheme `{}`: use http or https", u.scheme()),
        )),
        Err(e) => Some((key.to_string(), format!("invalid URL `{raw}`: {e}"))),
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
    #[error("poll did not finish within {}s", .0.as_secs())]
    Timeout(Duration),
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
    /// How far before the newest item seen each poll re-reads.
    pub overlap: chrono::Duration,
    /// How far back a first poll reads (`None`: only the newest page).
    pub lookback: Option<Duration>,
}

impl PollContext {
    /// A context for unit tests: no products, default HTTP settings, no lookback.
    #[cfg(test)]
    pub fn for_tests(
        now: DateTime<Utc>,
        cursors: HashMap<String, String>,
        max_pages: usize,
        overlap: chrono::Duration,
    ) -> PollContext {
        PollContext {
            source: "test".into(),
            http: HttpClient::new(&crate::config::HttpConfig::default()).expect("client"),
            products: Arc::new(Vec::new()),
            matcher: Arc::new(Matcher::new(&[])),
            cursors,
            now,
            max_pages,
            overlap,
            lookback: None,
        }
    }

    /// A mention from this source with what every platform gives; the rest is unset.
    pub fn mention(&self, id: String, published_at: DateTime<Utc>, text: String) -> RawMention {
        RawMention {
            source: self.source.clone(),
            id,
            url: None,
            author: None,
            published_at,
            text,
            language: None,
            engagement: None,
            products: Vec::new(),
        }
    }
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
    /// What became of every item read: `fetched` = the mentions handed on + the rest.
    pub counts: ItemCounts,
    /// Scopes that stopped at the page limit with more to read (the next poll goes on).
    pub truncated: Vec<String>,
    /// Set when the whole poll failed (every scope tried, or credentials).
    pub failure: Option<SourceError>,
    /// Ids handed on in this poll.
    ids: HashSet<String>,
}

impl PollOutput {
    /// Account for one item read: handed on as a mention, or counted as dropped.
    pub fn take(&mut self, id: String, item: Result<RawMention, scaffold::Drop>) {
        self.counts.fetched += 1;
        match item {
            Err(scaffold::Drop::Unmatched) => self.counts.unmatched += 1,
            Err(scaffold::Drop::Rejected(why)) => {
                tracing::debug!(id = %id, why, "item rejected");
                self.counts.rejected += 1
            }
            Ok(_) if !self.ids.insert(id) => self.counts.duplicates += 1,
            Ok(m) => self.mentions.push(m),
        }
    }
}

/// One platform poller (built on [`scaffold::Polled`]).
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Fetch mentions since the stored cursors (minus the overlap), accounting for every
    /// item read even when the poll fails.
    async fn poll_accounted(&self, ctx: &PollContext) -> PollOutput;

    /// [`Source::poll_accounted`] with a failed poll as an error.
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        let mut out = self.poll_accounted(ctx).await;
        match out.failure.take() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
