//! Hacker News through the Algolia search API (`search_by_date`): the newest stories and
//! comments naming a product. One query per distinct product name or alias, each with its
//! own cursor; each poll asks from `newest − overlap` (`numericFilters=created_at_i>=…`),
//! and a walk cut short by the page limit goes on with `created_at_i<=…` next time.

use super::scaffold::{join_title, names, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::html_to_text;
use super::{PollContext, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;

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

/// One search query: a name and the products it stands for.
pub struct Query {
    name: String,
    products: Vec<String>,
}

impl HackerNews {
    pub fn new(config: HackerNewsConfig) -> HackerNews {
        HackerNews { config }
    }

    fn page_url(&self, req: &PageRequest<'_, Query>, page: u32) -> String {
        let query = req.scope;
        let mut url = self.config.base_url.clone();
        let path = format!("{}/search_by_date", url.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut q = url.query_pairs_mut();
            // Quoted so a multi-word name matches as a phrase, not as separate words.
            q.append_pair("query", &format!("\"{}\"", query.name));
            q.append_pair("tags", "(story,comment)");
            let mut filters = Vec::new();
            if let Some(f) = req.floor {
                filters.push(format!("created_at_i>={}", f.timestamp()));
            }
            if !filters.is_empty() {
                q.append_pair("numericFilters", &filters.join(","));
            }
            q.append_pair("hitsPerPage", &self.config.hits_per_page.to_string());
            q.append_pair("page", &page.to_string());
        }
        url.to_string()
    }

    fn mention(&self, ctx: &PollContext, query: &Query, hit: Hit) -> Entry {
        let text = match &hit.comment_text {
            Some(c) => html_to_text(c),
            None => join_title(
                hit.title.as_deref().map(html_to_text).unwrap_or_default(),
                hit.story_text
                    .as_deref()
                    .map(html_to_text)
                    .unwrap_or_default(),
            ),
        };
        let Some(published_at) = DateTime::<Utc>::from_timestamp(hit.created_at_i, 0) else {
            return Entry::dropped(ctx.now, hit.object_id, Drop::Rejected("bad time"));
        };
        if text.is_empty() {
            return Entry::dropped(published_at, hit.object_id, Drop::Rejected("empty hit"));
        }
        // Algolia matches loosely (prefixes, typos): keep only hits that really name the product.
        // One matcher pass serves both the check and the mention's product list.
        let products = ctx.matcher.products_in(&text);
        if !query.products.iter().any(|p| products.contains(p)) {
            tracing::debug!(source = %ctx.source, id = %hit.object_id, "hackernews hit does not name the product, dropped");
            return Entry::dropped(published_at, hit.object_id, Drop::Unmatched);
        }
        Entry::of(RawMention {
            url: Some(format!(
                "https://news.ycombinator.com/item?id={}",
                hit.object_id
            )),
            author: hit.author.filter(|a| !a.is_empty()),
            products,
            engagement: hit.points,
            ..ctx.mention(hit.object_id, published_at, text)
        })
    }
}

impl Api for HackerNews {
    type Scope = Query;

    const ORDER: Order = Order::NewestFirst;

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Query>> {
        names(ctx)
            .into_iter()
            .map(|(name, products)| Scope::new(name.to_lowercase(), Query { name, products }))
            .collect()
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, Query>) -> Result<Page, Stop> {
        let query = req.scope;
        let page: u32 = req.token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let fetched = ctx.http.get(&self.page_url(req, page), &[]).await?;
        let body: SearchPage = fetched.json().map_err(SourceError::Parse)?;
        let next = (page + 1 < body.nb_pages).then(|| (page + 1).to_string());
        let entries = body
            .hits
            .into_iter()
            .map(|hit| self.mention(ctx, query, hit))
            .collect();
        Ok(Page::of(entries, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_algolia() {
        let c: HackerNewsConfig = toml::from_str("").unwrap();
        assert_eq!(c.base_url.as_str(), "https://hn.algolia.com/api/v1");
        assert!(c.validate().is_empty());
        let bad: Result<HackerNewsConfig, _> = toml::from_str("query = \"x\"");
        assert!(bad.is_err());
    }
}
