//! RSS 2.0, Atom and JSON Feed sources (parsed with `feed-rs`). A URL with `{query}` is
//! fetched once per product name and alias (e.g. a Google News search feed); one without
//! is fetched once per poll and matched against every product. A feed is one page in no
//! order to rely on: every entry inside the overlap window is read again and the store's
//! dedup drops what it has, so a story listed late under its original time is not lost.

use super::scaffold::{
    join_title, url_scopes, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop,
};
use super::text::html_to_text;
use super::{PollContext, SourceError};
use crate::model::RawMention;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RssConfig {
    /// Feed URL; `{query}` is replaced by each product name/alias, URL-encoded.
    pub url: String,
}

impl RssConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

pub struct Rss {
    config: RssConfig,
}

impl Rss {
    pub fn new(config: RssConfig) -> Rss {
        Rss { config }
    }
}

impl Api for Rss {
    type Scope = String;

    const ORDER: Order = Order::Unordered;

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<String>> {
        url_scopes(&self.config.url, ctx)
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, String>) -> Result<Page, Stop> {
        let url = req.scope;
        let mut headers = Vec::new();
        if let Some(etag) = &req.cursor.etag {
            headers.push(("If-None-Match", etag.clone()));
        }
        if let Some(lm) = &req.cursor.last_modified {
            headers.push(("If-Modified-Since", lm.clone()));
        }
        let fetched = ctx.http.get(url, &headers).await?;
        if fetched.status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Page {
                not_modified: true,
                ..Page::default()
            });
        }
        let feed = feed_rs::parser::parse(&fetched.body[..])
            .map_err(|e| SourceError::Parse(format!("malformed feed from {url}: {e}")))?;
        let entries = feed
            .entries
            .into_iter()
            .map(|entry| {
                let published = entry.published.or(entry.updated).unwrap_or(ctx.now);
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
                let text = join_title(title, body);
                let link = entry.links.first().map(|l| l.href.clone());
                let id = if entry.id.is_empty() {
                    link.clone().unwrap_or_else(|| text.clone())
                } else {
                    entry.id
                };
                if text.is_empty() {
                    return Entry::dropped(published, id, Drop::Rejected("empty entry"));
                }
                Entry::of(RawMention {
                    url: link,
                    author: entry.authors.first().map(|a| a.name.clone()),
                    language: feed.language.clone().or(entry.language),
                    ..ctx.mention(id, published, text)
                })
            })
            .collect();
        Ok(Page {
            etag: fetched.header("etag").map(str::to_string),
            last_modified: fetched.header("last-modified").map(str::to_string),
            ..Page::of(entries, None)
        })
    }
}
