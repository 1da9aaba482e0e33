//! Mastodon hashtag timelines (`/api/v1/timelines/tag/{tag}`) on several instances. Each
//! (instance, tag) pair pages forward with `min_id` from the Snowflake id of
//! `newest − overlap`, so statuses that federate late under their own creation time are
//! read again. An instance that requires sign-in for hashtag feeds is
//! a warning, not a failure: the other instances go on.

use super::scaffold::{Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::{html_to_text, normalize_whitespace};
use super::{PollContext, SourceError};
use crate::config::ProductConfig;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::cmp::Ordering;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    /// Instance base URLs, e.g. `https://mastodon.social`.
    pub instances: Vec<url::Url>,
    /// Hashtags (without `#`). Default: each product's name and aliases, spaces removed,
    /// lower-cased.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Statuses per page (Mastodon allows at most 40).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    40
}

impl MastodonConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        problems.extend(super::validate::non_empty(
            "instances",
            &self.instances,
            "[\"https://mastodon.social\"]",
        ));
        if let Some(tags) = &self.tags {
            for (i, t) in tags.iter().enumerate() {
                if tag_of(t).is_empty() {
                    problems.push((
                        format!("tags[{i}]"),
                        format!("`{t}` is not a hashtag: use letters, digits and `_`"),
                    ));
                }
            }
        }
        problems.extend(super::validate::limit(self.limit, 40));
        problems
    }
}

/// A hashtag from a name: `#` and spaces removed, lower-cased, only characters Mastodon
/// allows in tags kept.
fn tag_of(name: &str) -> String {
    name.trim()
        .trim_start_matches('#')
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .flat_map(char::to_lowercase)
        .collect()
}

pub struct Mastodon {
    config: MastodonConfig,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    url: Option<String>,
    uri: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    favourites_count: Option<i64>,
    #[serde(default)]
    account: Option<Account>,
    #[serde(default)]
    reblog: Option<Box<Status>>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct Account {
    acct: String,
}

#[derive(Debug, Deserialize)]
struct Tag {
    name: String,
}

/// Mastodon ids are strings "cast from an integer": compare by length, then lexically.
fn id_cmp(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One (instance, tag) timeline.
pub struct Timeline {
    instance: url::Url,
    tag: String,
}

/// The lowest Mastodon status id of a moment: ids are Snowflakes whose top 48 bits are
/// the creation time in milliseconds (statuses arriving by federation get the id of
/// their own creation time, which is why a late one lands below the newest id seen).
fn snowflake_at(t: DateTime<Utc>) -> Option<String> {
    let ms = u64::try_from(t.timestamp_millis()).ok()?;
    Some((ms << 16).to_string())
}

/// Whether an id looks like a Mastodon Snowflake (servers of other software use ids of
/// their own, which no time can be turned into).
fn is_snowflake(id: &str) -> bool {
    id.len() >= 15 && id.bytes().all(|b| b.is_ascii_digit())
}

impl Mastodon {
    pub fn new(config: MastodonConfig) -> Mastodon {
        Mastodon { config }
    }

    fn tags(&self, products: &[ProductConfig]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let raw: Vec<String> = match &self.config.tags {
            Some(t) => t.clone(),
            None => products
                .iter()
                .flat_map(|p| p.names().map(str::to_string).collect::<Vec<_>>())
                .collect(),
        };
        for t in raw {
            let tag = tag_of(&t);
            if !tag.is_empty() && !out.contains(&tag) {
                out.push(tag);
            }
        }
        out
    }

    fn page_url(&self, instance: &url::Url, tag: &str, min_id: Option<&str>) -> String {
        let mut url = instance.clone();
        url.set_query(None);
        {
            let mut seg = url
                .path_segments_mut()
                .expect("http(s) URLs have path segments");
            seg.pop_if_empty()
                .extend(["api", "v1", "timelines", "tag", tag]);
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &self.config.limit.to_string());
            if let Some(id) = min_id {
                q.append_pair("min_id", id);
            }
        }
        url.to_string()
    }
}

fn mention(ctx: &PollContext, tag: &str, s: Status) -> Entry {
    // A boost carries the original post; the original is the mention.
    let s = match s.reblog {
        Some(orig) => *orig,
        None => s,
    };
    // The boost's own id orders the timeline; the original is what is stored.
    let content = html_to_text(&s.content);
    let text = if s.spoiler_text.trim().is_empty() {
        content
    } else {
        normalize_whitespace(&format!("{}. {content}", s.spoiler_text.trim()))
    };
    if text.is_empty() {
        return Entry::dropped(s.created_at, s.uri, Drop::Rejected("empty status"));
    }
    // A hashtag like #widgetpro names "Widget Pro" although the text does not spell it out:
    // add the product name for matching so `exclude` words can still veto it.
    let tagged: Vec<&str> = ctx
        .products
        .iter()
        .filter(|p| {
            p.names().any(|n| {
                let nt = tag_of(n);
                nt == tag || s.tags.iter().any(|t| tag_of(&t.name) == nt)
            })
        })
        .map(|p| p.name.as_str())
        .collect();
    let probe = if tagged.is_empty() {
        text.clone()
    } else {
        format!("{text} {}", tagged.join(" "))
    };
    let products = ctx.matcher.products_in(&probe);
    if products.is_empty() {
        return Entry::dropped(s.created_at, s.uri, Drop::Unmatched);
    }
    Entry::of(RawMention {
        url: s.url.clone().or(Some(s.uri.clone())),
        author: s.account.map(|a| a.acct).filter(|a| !a.is_empty()),
        language: s.language.filter(|l| !l.is_empty()),
        engagement: s.favourites_count,
        products,
        // `uri` is the same on every instance the status federates to; the local id is not.
        ..ctx.mention(s.uri, s.created_at, text)
    })
}

impl Api for Mastodon {
    type Scope = Timeline;

    const ORDER: Order = Order::OldestFirst;

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Timeline>> {
        let tags = self.tags(&ctx.products);
        let mut out = Vec::new();
        for instance in &self.config.instances {
            let base = instance.as_str().trim_end_matches('/').to_string();
            for tag in &tags {
                out.push(Scope {
                    key: format!("{base} #{tag}"),
                    group: base.clone(),
                    inner: Timeline {
                        instance: instance.clone(),
                        tag: tag.clone(),
                    },
                });
            }
        }
        out
    }

    async fn fetch(
        &self,
        ctx: &PollContext,
        req: &PageRequest<'_, Timeline>,
    ) -> Result<Page, Stop> {
        let tl = req.scope;
        // Going on from a page, or from the floor's Snowflake; a server whose ids are not
        // Snowflakes goes on from the newest id it gave (no overlap: README).
        let min_id = match (req.token, req.floor) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(f)) => match &req.cursor.last_id {
                Some(id) if !is_snowflake(id) => Some(id.clone()),
                _ => snowflake_at(f),
            },
            (None, None) => None,
        };
        let url = self.page_url(&tl.instance, &tl.tag, min_id.as_deref());
        let fetched = match ctx.http.get(&url, &[]).await {
            Ok(f) => f,
            Err(e) => {
                return match e.status() {
                    Some(401) | Some(403) | Some(422) => Err(Stop::Closed(format!(
                        "{} does not serve the #{} timeline without sign-in (HTTP {}); remove it from `instances` or choose another instance",
                        tl.instance.as_str().trim_end_matches('/'),
                        tl.tag,
                        e.status().unwrap_or_default()
                    ))),
                    // An unknown hashtag is "Record not found": nothing posted yet.
                    Some(404) => Ok(Page::default()),
                    _ => Err(e.into()),
                };
            }
        };
        // Overlapping limits: the headers describe the one closest to running out, and
        // the poll reports the lowest across instances.
        let quota = fetched
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let statuses: Vec<Status> = fetched.json().map_err(SourceError::Parse)?;
        let full = statuses.len() >= self.config.limit as usize;
        let newest_id = statuses
            .iter()
            .map(|s| s.id.clone())
            .max_by(|a, b| id_cmp(a, b));
        let entries = statuses
            .into_iter()
            .map(|s| mention(ctx, &tl.tag, s))
            .collect();
        let mut page = Page::of(entries, newest_id.clone().filter(|_| full));
        page.quota = quota;
        if newest_id.as_deref().is_some_and(|id| !is_snowflake(id)) {
            tracing::debug!(source = %ctx.source, instance = %tl.instance, "status ids are not Snowflakes: going on from the newest id, without overlap");
        }
        page.last_id = newest_id;
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_names() {
        assert_eq!(tag_of("Widget Pro"), "widgetpro");
        assert_eq!(tag_of("#Rust_Lang"), "rust_lang");
        assert_eq!(tag_of("C++"), "c");
        assert_eq!(tag_of("  "), "");
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(id_cmp("99", "100"), Ordering::Less);
        assert_eq!(
            id_cmp("112299000000000002", "112299000000000001"),
            Ordering::Greater
        );
    }
}
