//! Hacker News through the Algolia search API (`search_by_date`): the newest stories and
//! comments naming a product. One query per distinct product name or alias, each with its
//! own cursor (the newest `created_at_i` seen and the ids seen at that second).

use super::http::FetchError;
use super::text::html_to_text;
use super::{PollContext, PollOutput, Source, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HackerNewsConfig {
    /// API root; `/search_by_date` is appended.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Hits per page (Algolia allows up to 1000; the API default is 20).
    #[serde(default = "default_hits_per_page")]
    pub hits_per_page: u32,
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://hn.algolia.com/api/v1").expect("valid default URL")
}

fn default_hits_per_page() -> u32 {
    100
}

impl HackerNewsConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !matches!(self.base_url.scheme(), "http" | "https") {
            problems.push((
                "base_url".into(),
                format!(
                    "unsupported scheme `{}`: use http or https",
                    self.base_url.scheme()
                ),
            ));
        }
        if !(1..=1000).contains(&self.hits_per_page) {
            problems.push((
                "hits_per_page".into(),
                "hits_per_page must be between 1 and 1000".into(),
            ));
        }
        problems
    }
}

pub struct HackerNews {
    config: HackerNewsConfig,
}

/// Where one query stopped: the newest creation second seen and the ids seen in it
/// (the `>=` filter returns that second again, and several items share a second).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    t: i64,
    ids: Vec<String>,
}

impl Cursor {
    fn seen(&self, t: i64, id: &str) -> bool {
        t < self.t || (t == self.t && self.ids.iter().any(|i| i == id))
    }

    /// Advance over an item that was fetched (matched or not).
    fn advance(&mut self, t: i64, id: &str) {
        if t > self.t {
            self.t = t;
            self.ids.clear();
        }
        if t == self.t && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    hits: Vec<Hit>,
    #[serde(rename = "nbPages", default)]
    nb_pages: u32,
}

#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    created_at_i: i64,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    story_text: Option<String>,
    #[serde(default)]
    comment_text: Option<String>,
    #[serde(default)]
    points: Option<i64>,
}

/// One search query and the products it stands for.
struct Query {
    /// Cursor scope: the name, lower-cased.
    scope: String,
    name: String,
    products: Vec<String>,
}

/// What one query produced.
struct QueryResult {
    mentions: Vec<RawMention>,
    cursor: Option<Cursor>,
    truncated: bool,
}

impl HackerNews {
    pub fn new(config: HackerNewsConfig) -> HackerNews {
        HackerNews { config }
    }

    fn queries(ctx: &PollContext) -> Vec<Query> {
        let mut out: Vec<Query> = Vec::new();
        for p in ctx.products.iter() {
            for name in p.names() {
                let scope = name.trim().to_lowercase();
                if scope.is_empty() {
                    continue;
                }
                match out.iter_mut().find(|q| q.scope == scope) {
                    Some(q) => q.products.push(p.name.clone()),
                    None => out.push(Query {
                        scope,
                        name: name.trim().to_string(),
                        products: vec![p.name.clone()],
                    }),
                }
            }
        }
        out
    }

    fn page_url(&self, query: &Query, cursor: Option<&Cursor>, page: u32) -> String {
        let mut url = self.config.base_url.clone();
        let path = format!("{}/search_by_date", url.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut q = url.query_pairs_mut();
            // Quoted so a multi-word name matches as a phrase, not as separate words.
            q.append_pair("query", &format!("\"{}\"", query.name));
            q.append_pair("tags", "(story,comment)");
            if let Some(c) = cursor {
                q.append_pair("numericFilters", &format!("created_at_i>={}", c.t));
            }
            q.append_pair("hitsPerPage", &self.config.hits_per_page.to_string());
            q.append_pair("page", &page.to_string());
        }
        url.to_string()
    }

    async fn poll_query(
        &self,
        ctx: &PollContext,
        query: &Query,
        seen_ids: &mut HashSet<String>,
    ) -> Result<QueryResult, SourceError> {
        let old: Option<Cursor> = ctx
            .cursors
            .get(&query.scope)
            .and_then(|c| serde_json::from_str(c).ok());
        let mut cursor = old.clone().unwrap_or_default();
        let mut mentions = Vec::new();
        let mut fetched_any = false;
        let mut page = 0u32;
        let mut truncated = false;
        let mut query_ids = HashSet::new();
        loop {
            let url = self.page_url(query, old.as_ref(), page);
            let fetched = ctx.http.get(&url, &[]).await?;
            let body: SearchPage = fetched.json().map_err(SourceError::Parse)?;
            let mut new_on_page = false;
            for hit in &body.hits {
                if old
                    .as_ref()
                    .is_some_and(|c| c.seen(hit.created_at_i, &hit.object_id))
                {
                    continue;
                }
                // New items shift older ones onto the next page: skip what this query saw.
                if !query_ids.insert(hit.object_id.clone()) {
                    continue;
                }
                new_on_page = true;
                fetched_any = true;
                cursor.advance(hit.created_at_i, &hit.object_id);
                if let Some(m) = self.mention(ctx, query, hit) {
                    if seen_ids.insert(m.id.clone()) {
                        mentions.push(m);
                    }
                }
            }
            // A page with nothing new means the server is not paging: stop rather than loop.
            let more = page + 1 < body.nb_pages && new_on_page;
            // Without a cursor this is the first poll: take the newest page, not the history.
            if !more || old.is_none() {
                break;
            }
            page += 1;
            if page as usize >= ctx.max_pages.max(1) {
                truncated = true;
                break;
            }
        }
        tracing::debug!(source = %ctx.source, query = %query.name, pages = page + 1, kept = mentions.len(), "hackernews query done");
        Ok(QueryResult {
            mentions,
            cursor: fetched_any.then_some(cursor),
            truncated,
        })
    }

    fn mention(&self, ctx: &PollContext, query: &Query, hit: &Hit) -> Option<RawMention> {
        let text = match &hit.comment_text {
            Some(c) => html_to_text(c),
            None => {
                let title = hit.title.as_deref().map(html_to_text).unwrap_or_default();
                let body = hit
                    .story_text
                    .as_deref()
                    .map(html_to_text)
                    .unwrap_or_default();
                match (title.is_empty(), body.is_empty()) {
                    (false, false) => format!("{title}. {body}"),
                    (false, true) => title,
                    (true, _) => body,
                }
            }
        };
        if text.is_empty() {
            return None;
        }
        // Algolia matches loosely (prefixes, typos): keep only hits that really name the product.
        // One matcher pass serves both the check and the mention's product list.
        let products = ctx.matcher.products_in(&text);
        if !query.products.iter().any(|p| products.contains(p)) {
            tracing::debug!(source = %ctx.source, id = %hit.object_id, "hackernews hit does not name the product, dropped");
            return None;
        }
        let published_at = DateTime::<Utc>::from_timestamp(hit.created_at_i, 0)?;
        Some(RawMention {
            source: ctx.source.clone(),
            id: hit.object_id.clone(),
            url: Some(format!(
                "https://news.ycombinator.com/item?id={}",
                hit.object_id
            )),
            author: hit.author.clone().filter(|a| !a.is_empty()),
            published_at,
            products,
            text,
            language: None,
            engagement: hit.points,
        })
    }
}

#[async_trait::async_trait]
impl Source for HackerNews {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        let queries = Self::queries(ctx);
        let mut out = PollOutput::default();
        let mut seen_ids = HashSet::new();
        let mut last_err = None;
        let mut attempted = 0usize;
        for query in &queries {
            attempted += 1;
            match self.poll_query(ctx, query, &mut seen_ids).await {
                Ok(r) => {
                    out.mentions.extend(r.mentions);
                    if let Some(c) = r.cursor {
                        out.cursors.push((
                            query.scope.clone(),
                            serde_json::to_string(&c).expect("cursor serialises"),
                        ));
                    }
                    if r.truncated {
                        out.warnings.push(format!(
                            "query {:?}: more than {} pages of new hits; older ones were skipped (poll more often)",
                            query.name, ctx.max_pages
                        ));
                    }
                }
                Err(e) => {
                    tracing::warn!(source = %ctx.source, query = %query.name, error = %e, "hackernews query failed");
                    out.errors.push(format!("query {:?}: {e}", query.name));
                    let limited = matches!(e, SourceError::Fetch(FetchError::RateLimited { .. }));
                    last_err = Some(e);
                    if limited {
                        // Every query goes to the same host: the rest waits for the next poll.
                        out.warnings.push(format!(
                            "rate limited: {} queries wait for the next poll",
                            queries.len() - attempted
                        ));
                        break;
                    }
                }
            }
        }
        if attempted > 0 && out.errors.len() == attempted {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_skips_seen_ids_in_the_boundary_second() {
        let mut c = Cursor::default();
        c.advance(10, "a");
        c.advance(10, "b");
        c.advance(9, "z");
        assert_eq!(c.t, 10);
        assert!(c.seen(10, "a") && c.seen(9, "q"));
        assert!(!c.seen(10, "c") && !c.seen(11, "a"));
        c.advance(11, "c");
        assert_eq!(c.ids, vec!["c".to_string()]);
    }

    #[test]
    fn defaults_point_at_algolia() {
        let c: HackerNewsConfig = toml::from_str("").unwrap();
        assert_eq!(c.base_url.as_str(), "https://hn.algolia.com/api/v1");
        assert!(c.validate().is_empty());
        let bad: Result<HackerNewsConfig, _> = toml::from_str("query = \"x\"");
        assert!(bad.is_err());
    }
}
