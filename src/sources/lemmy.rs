//! Lemmy search (`/api/v3/search`, `sort=New`, posts and comments) on several instances.
//! One query per (instance, product name or alias), each with its own cursor. Lemmy's
//! search has no time filter: each poll pages down the newest-first lists to
//! `newest − overlap`, and a walk cut short by the page limit goes on at its page next time.
//! Languages come from each instance's `/api/v3/site` table, read once when first needed.

use super::http::FetchError;
use super::scaffold::{names, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::normalize_whitespace;
use super::{PollContext, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LemmyConfig {
    /// Instance base URLs, e.g. `https://lemmy.world`.
    pub instances: Vec<url::Url>,
    /// Results per page for posts and for comments (Lemmy allows at most 50).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    50
}

impl LemmyConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        problems.extend(super::validate::non_empty(
            "instances",
            &self.instances,
            "[\"https://lemmy.world\"]",
        ));
        problems.extend(super::validate::limit(self.limit, 50));
        problems
    }
}

pub struct Lemmy {
    config: LemmyConfig,
    /// Each instance's `language_id` → ISO code table, fetched once from `/api/v3/site`.
    languages: tokio::sync::Mutex<HashMap<String, Arc<HashMap<i64, String>>>>,
}

/// Lemmy 0.19 writes `…Z`; 0.18 and older write naive UTC without the `Z`.
fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|n| n.and_utc())
        .map_err(|e| serde::de::Error::custom(format!("invalid time `{raw}`: {e}")))
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    #[serde(default)]
    posts: Vec<PostView>,
    #[serde(default)]
    comments: Vec<CommentView>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    post: Post,
    #[serde(default)]
    creator: Option<Person>,
    #[serde(default)]
    counts: Option<Counts>,
}

#[derive(Debug, Deserialize)]
struct Post {
    name: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(deserialize_with = "de_time")]
    published: DateTime<Utc>,
    ap_id: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    removed: bool,
    #[serde(default)]
    language_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CommentView {
    comment: Comment,
    #[serde(default)]
    creator: Option<Person>,
    #[serde(default)]
    counts: Option<Counts>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    content: String,
    #[serde(deserialize_with = "de_time")]
    published: DateTime<Utc>,
    ap_id: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    removed: bool,
    #[serde(default)]
    language_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Person {
    name: String,
    #[serde(default)]
    actor_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Counts {
    #[serde(default)]
    score: Option<i64>,
}

/// Lemmy's error body: `{"error":"rate_limit_error"}`, sent with HTTP 400 for most errors.
#[derive(Debug, Deserialize)]
struct ApiError {
    error: String,
    #[serde(default)]
    message: Option<String>,
}

/// One item from either result list, reduced to what the poller needs.
struct Item {
    id: String,
    published: DateTime<Utc>,
    text: String,
    author: Option<String>,
    score: Option<i64>,
    gone: bool,
    /// Instance-specific language id; 0 means undetermined.
    language_id: Option<i64>,
}

impl From<PostView> for Item {
    fn from(v: PostView) -> Item {
        let title = normalize_whitespace(&v.post.name);
        let body = v
            .post
            .body
            .as_deref()
            .map(normalize_whitespace)
            .unwrap_or_default();
        Item {
            id: v.post.ap_id,
            published: v.post.published,
            text: if body.is_empty() {
                title
            } else {
                format!("{title}. {body}")
            },
            author: v.creator.map(author_of),
            score: v.counts.and_then(|c| c.score),
            gone: v.post.deleted || v.post.removed,
            language_id: v.post.language_id,
        }
    }
}

impl From<CommentView> for Item {
    fn from(v: CommentView) -> Item {
        Item {
            id: v.comment.ap_id,
            published: v.comment.published,
            text: normalize_whitespace(&v.comment.content),
            author: v.creator.map(author_of),
            score: v.counts.and_then(|c| c.score),
            gone: v.comment.deleted || v.comment.removed,
            language_id: v.comment.language_id,
        }
    }
}

/// `name@host`, since the same name exists on many instances.
fn author_of(p: Person) -> String {
    match p
        .actor_id
        .as_deref()
        .and_then(|a| url::Url::parse(a).ok())
        .and_then(|u| u.host_str().map(str::to_string))
    {
        Some(host) => format!("{}@{host}", p.name),
        None => p.name,
    }
}

/// One (instance, name) search and the products it stands for.
pub struct Query {
    instance: url::Url,
    name: String,
    products: Vec<String>,
}

impl Lemmy {
    pub fn new(config: LemmyConfig) -> Lemmy {
        Lemmy {
            config,
            languages: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    fn page_url(&self, instance: &url::Url, q: &str, page: usize) -> String {
        let mut url = instance.clone();
        url.set_query(None);
        {
            let mut seg = url
                .path_segments_mut()
                .expect("http(s) URLs have path segments");
            seg.pop_if_empty().extend(["api", "v3", "search"]);
        }
        url.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("type_", "All")
            .append_pair("sort", "New")
            .append_pair("listing_type", "All")
            .append_pair("limit", &self.config.limit.to_string())
            .append_pair("page", &page.to_string());
        url.to_string()
    }
}

#[derive(Debug, Deserialize)]
struct SiteResponse {
    #[serde(default)]
    all_languages: Vec<Language>,
}

#[derive(Debug, Deserialize)]
struct Language {
    id: i64,
    code: String,
}

impl Lemmy {
    /// The instance's language table; empty (languages unknown) when it cannot be read.
    async fn languages(&self, ctx: &PollContext, instance: &url::Url) -> Arc<HashMap<i64, String>> {
        let key = instance.as_str().trim_end_matches('/').to_string();
        let mut cache = self.languages.lock().await;
        if let Some(table) = cache.get(&key) {
            return table.clone();
        }
        let mut url = instance.clone();
        url.set_query(None);
        url.path_segments_mut()
            .expect("http(s) URLs have path segments")
            .pop_if_empty()
            .extend(["api", "v3", "site"]);
        let table: HashMap<i64, String> = match ctx
            .http
            .get(url.as_str(), &[])
            .await
            .map(|f| f.json::<SiteResponse>())
        {
            Ok(Ok(site)) => site
                .all_languages
                .into_iter()
                // "und" is Lemmy's "undetermined", not a language.
                .filter(|l| l.id > 0 && l.code != "und" && !l.code.is_empty())
                .map(|l| (l.id, l.code))
                .collect(),
            Ok(Err(e)) => {
                tracing::debug!(source = %ctx.source, instance = %key, error = %e, "lemmy language table unreadable; languages unknown");
                return Arc::default();
            }
            Err(e) => {
                tracing::debug!(source = %ctx.source, instance = %key, error = %e, "lemmy language table not fetched; languages unknown");
                return Arc::default();
            }
        };
        let table = Arc::new(table);
        cache.insert(key, table.clone());
        table
    }
}

/// Lemmy sends HTTP 400 for most errors; the body says which.
fn lemmy_error(instance: &url::Url, e: FetchError) -> Stop {
    if let FetchError::Status {
        status, snippet, ..
    } = &e
    {
        let code = serde_json::from_str::<ApiError>(snippet)
            .map(|a| a.error)
            .unwrap_or_default();
        let host = instance.as_str().trim_end_matches('/');
        match code.as_str() {
            "instance_is_private" => {
                return Stop::Closed(format!(
                    "{host} is a private instance: its search needs an account; remove it from `instances`"
                ))
            }
            "rate_limit_error" => {
                return Stop::Failed(SourceError::Fetch(FetchError::RateLimited {
                    url: host.to_string(),
                    status: *status,
                    retry_after: std::time::Duration::from_secs(600),
                }))
            }
            _ => {}
        }
    }
    Stop::Failed(e.into())
}

fn mention(
    ctx: &PollContext,
    query: &Query,
    languages: &HashMap<i64, String>,
    item: Item,
) -> Entry {
    if item.gone || item.text.is_empty() {
        return Entry::dropped(item.published, item.id, Drop::Rejected("deleted or empty"));
    }
    // Lemmy search is a substring match ("widgetronics" for "widgetron"): re-check.
    // One matcher pass serves both the check and the mention's product list.
    let products = ctx.matcher.products_in(&item.text);
    if !query.products.iter().any(|p| products.contains(p)) {
        return Entry::dropped(item.published, item.id, Drop::Unmatched);
    }
    Entry::of(RawMention {
        url: Some(item.id.clone()),
        author: item.author,
        products,
        language: item.language_id.and_then(|id| languages.get(&id).cloned()),
        engagement: item.score,
        ..ctx.mention(item.id, item.published, item.text)
    })
}

impl Api for Lemmy {
    type Scope = Query;

    const ORDER: Order = Order::NewestFirst;

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Query>> {
        let mut out = Vec::new();
        for instance in &self.config.instances {
            let base = instance.as_str().trim_end_matches('/').to_string();
            for (name, products) in names(ctx) {
                out.push(Scope {
                    key: format!("{base} {}", name.to_lowercase()),
                    group: base.clone(),
                    inner: Query {
                        instance: instance.clone(),
                        name,
                        products,
                    },
                });
            }
        }
        out
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, Query>) -> Result<Page, Stop> {
        let query = req.scope;
        let instance = &query.instance;
        let page: usize = req.token.and_then(|t| t.parse().ok()).unwrap_or(1);
        let url = self.page_url(instance, &query.name, page);
        let fetched = ctx
            .http
            .get(&url, &[])
            .await
            .map_err(|e| lemmy_error(instance, e))?;
        let body: SearchResponse = match fetched.json() {
            Ok(b) => b,
            Err(parse) => {
                return Err(Stop::Failed(match fetched.json::<ApiError>() {
                    Ok(err) => SourceError::Parse(format!(
                        "lemmy answered an error: {} {}",
                        err.error,
                        err.message.unwrap_or_default()
                    )),
                    Err(_) => SourceError::Parse(parse),
                }))
            }
        };
        let needs_languages = body
            .posts
            .iter()
            .filter_map(|p| p.post.language_id)
            .chain(body.comments.iter().filter_map(|c| c.comment.language_id))
            .any(|id| id > 0);
        let languages = if needs_languages {
            self.languages(ctx, instance).await
        } else {
            Arc::default()
        };
        // Posts and comments are two newest-first lists paged together: the walk is done
        // once each is short or reaches the floor.
        let limit = self.config.limit as usize;
        let lists: [Vec<Item>; 2] = [
            body.posts.into_iter().map(Item::from).collect(),
            body.comments.into_iter().map(Item::from).collect(),
        ];
        let reached = lists.iter().all(|items| {
            items.len() < limit
                || req
                    .floor
                    .is_some_and(|f| items.iter().any(|i| i.published < f))
        });
        let entries = lists
            .into_iter()
            .flatten()
            .map(|item| mention(ctx, query, &languages, item))
            .collect();
        Ok(Page {
            reached: Some(reached),
            ..Page::of(entries, Some((page + 1).to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_time_forms() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "de_time")]
            t: DateTime<Utc>,
        }
        let a: T = serde_json::from_str(r#"{"t":"2024-05-01T12:34:56.789012Z"}"#).unwrap();
        let b: T = serde_json::from_str(r#"{"t":"2024-05-01T12:34:56.789012"}"#).unwrap();
        assert_eq!(a.t, b.t);
        assert!(serde_json::from_str::<T>(r#"{"t":"yesterday"}"#).is_err());
    }
}
