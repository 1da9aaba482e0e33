//! RSS 2.0, Atom and JSON Feed sources (parsed with `feed-rs`). A URL with `{query}` is
//! fetched once per product name and alias (e.g. a Google News search feed); one without
//! is fetched once per poll and matched against every product.

use super::text::html_to_text;
use super::{PollContext, PollOutput, Source, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RssConfig {
    /// Feed URL; `{query}` is replaced by each product name/alias, URL-encoded.
    pub url: String,
}

impl RssConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let probe = self.url.replace("{query}", "x");
        match url::Url::parse(&probe) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Vec::new(),
            Ok(u) => vec![(
                "url".into(),
                format!("unsupported scheme `{}`: use http or https", u.scheme()),
            )],
            Err(e) => vec![("url".into(), format!("invalid URL `{}`: {e}", self.url))],
        }
    }
}

pub struct Rss {
    config: RssConfig,
}

/// What is remembered per feed URL between polls.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FeedCursor {
    /// Newest entry time already seen.
    newest: Option<DateTime<Utc>>,
    /// Ids of the entries at exactly `newest`: same-second entries are neither lost nor refetched.
    #[serde(default)]
    ids_at_newest: Vec<String>,
    /// Validators for a conditional GET.
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Rss {
    pub fn new(config: RssConfig) -> Rss {
        Rss { config }
    }

    fn urls(&self, ctx: &PollContext) -> Vec<String> {
        if !self.config.url.contains("{query}") {
            return vec![self.config.url.clone()];
        }
        let mut out = Vec::new();
        for p in ctx.products.iter() {
            for name in p.names() {
                let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                let u = self.config.url.replace("{query}", &q);
                if !out.contains(&u) {
                    out.push(u);
                }
            }
        }
        out
    }
}

#[async_trait::async_trait]
impl Source for Rss {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        let urls = self.urls(ctx);
        let mut out = PollOutput::default();
        let mut last_err = None;
        for url in &urls {
            match poll_feed(ctx, url).await {
                Ok((mentions, cursor)) => {
                    out.mentions.extend(mentions);
                    if let Some(c) = cursor {
                        out.cursors.push((url.clone(), c));
                    }
                }
                Err(e) => {
                    out.errors.push(format!("{url}: {e}"));
                    last_err = Some(e);
                }
            }
        }
        if out.errors.len() == urls.len() {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
        Ok(out)
    }
}

async fn poll_feed(
    ctx: &PollContext,
    url: &str,
) -> Result<(Vec<RawMention>, Option<String>), SourceError> {
    let mut cursor: FeedCursor = ctx
        .cursors
        .get(url)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let mut headers = Vec::new();
    if let Some(etag) = &cursor.etag {
        headers.push(("If-None-Match", etag.clone()));
    }
    if let Some(lm) = &cursor.last_modified {
        headers.push(("If-Modified-Since", lm.clone()));
    }
    let fetched = ctx.http.get(url, &headers).await?;
    if fetched.status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok((Vec::new(), None));
    }
    let feed = feed_rs::parser::parse(&fetched.body[..])
        .map_err(|e| SourceError::Parse(format!("malformed feed from {url}: {e}")))?;
    let mut mentions = Vec::new();
    let mut newest = cursor.newest;
    let mut ids_at_newest = cursor.ids_at_newest.clone();
    for entry in feed.entries {
        let published = entry.published.or(entry.updated).unwrap_or(ctx.now);
        if cursor.newest.is_some_and(|n| published < n) {
            continue;
        }
        let entry_id = entry.id.clone();
        if cursor.newest == Some(published) && cursor.ids_at_newest.contains(&entry_id) {
            continue;
        }
        let title = entry
            .title
            .map(|t| html_to_text(&t.content))
            .unwrap_or_default();
        let body = entry
            .summary
            .map(|s| s.content)
            .or_else(|| entry.content.and_then(|c| c.body))
            .map(|b| html_to_text(&b))
            .unwrap_or_default();
        let text = match (title.is_empty(), body.is_empty() || body == title) {
            (false, false) => format!("{title}. {body}"),
            (false, true) => title,
            (true, _) => body,
        };
        if text.is_empty() {
            continue;
        }
        let link = entry.links.first().map(|l| l.href.clone());
        match newest {
            Some(n) if n > published => {}
            Some(n) if n == published => ids_at_newest.push(entry_id),
            _ => {
                newest = Some(published);
                ids_at_newest = vec![entry_id];
            }
        }
        mentions.push(RawMention {
            source: ctx.source.clone(),
            id: if entry.id.is_empty() {
                link.clone().unwrap_or_else(|| text.clone())
            } else {
                entry.id
            },
            url: link,
            author: entry.authors.first().map(|a| a.name.clone()),
            published_at: published,
            text,
            language: feed.language.clone().or(entry.language),
            engagement: None,
            products: Vec::new(),
        });
    }
    cursor.newest = newest;
    cursor.ids_at_newest = ids_at_newest;
    cursor.etag = fetched.header("etag").map(str::to_string);
    cursor.last_modified = fetched.header("last-modified").map(str::to_string);
    Ok((mentions, serde_json::to_string(&cursor).ok()))
}
