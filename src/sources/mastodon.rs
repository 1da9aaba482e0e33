//! Mastodon hashtag timelines (`/api/v1/timelines/tag/{tag}`) on several instances. Each
//! (instance, tag) pair keeps the newest status id seen and polls forward with `min_id`, so
//! nothing is skipped between polls. An instance that requires sign-in for hashtag feeds is
//! a warning, not a failure: the other instances go on.

use super::http::FetchError;
use super::text::{html_to_text, normalize_whitespace};
use super::{PollContext, PollOutput, Source, SourceError};
use crate::config::ProductConfig;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::HashSet;

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
        if self.instances.is_empty() {
            problems.push((
                "instances".into(),
                "list at least one instance, e.g. instances = [\"https://mastodon.social\"]".into(),
            ));
        }
        for (i, u) in self.instances.iter().enumerate() {
            if !matches!(u.scheme(), "http" | "https") {
                problems.push((
                    format!("instances[{i}]"),
                    format!("unsupported scheme `{}`: use http or https", u.scheme()),
                ));
            }
        }
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
        if !(1..=40).contains(&self.limit) {
            problems.push(("limit".into(), "limit must be between 1 and 40".into()));
        }
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

/// What one (instance, tag) poll produced.
enum TagResult {
    Fetched {
        mentions: Vec<RawMention>,
        newest: Option<String>,
        truncated: bool,
    },
    /// The instance does not serve this timeline without sign-in.
    Closed(String),
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

    async fn poll_tag(
        &self,
        ctx: &PollContext,
        instance: &url::Url,
        tag: &str,
        scope: &str,
        seen: &mut HashSet<String>,
        quota: &mut Option<i64>,
    ) -> Result<TagResult, SourceError> {
        let old = ctx.cursors.get(scope).cloned();
        let mut newest = old.clone();
        let mut mentions = Vec::new();
        let mut pages = 0usize;
        let mut truncated = false;
        loop {
            let url = self.page_url(instance, tag, newest.as_deref());
            let fetched = match ctx.http.get(&url, &[]).await {
                Ok(f) => f,
                Err(e) => {
                    return match e.status() {
                        Some(401) | Some(403) | Some(422) => Ok(TagResult::Closed(format!(
                            "{} does not serve the #{tag} timeline without sign-in (HTTP {}); remove it from `instances` or choose another instance",
                            instance.as_str().trim_end_matches('/'),
                            e.status().unwrap_or_default()
                        ))),
                        // An unknown hashtag is "Record not found": nothing posted yet.
                        Some(404) => Ok(TagResult::Fetched {
                            mentions,
                            newest: newest.filter(|n| Some(n) != old.as_ref()),
                            truncated,
                        }),
                        _ => Err(e.into()),
                    };
                }
            };
            pages += 1;
            // Overlapping limits: the headers describe the one closest to running out, and
            // the poll reports the lowest across instances.
            if let Some(left) = fetched
                .header("x-ratelimit-remaining")
                .and_then(|v| v.trim().parse::<i64>().ok())
            {
                *quota = Some(quota.map_or(left, |q| q.min(left)));
            }
            let statuses: Vec<Status> = fetched.json().map_err(SourceError::Parse)?;
            let count = statuses.len();
            let mut page_newest = newest.clone();
            for s in statuses {
                if old
                    .as_deref()
                    .is_some_and(|o| id_cmp(&s.id, o) != Ordering::Greater)
                {
                    continue;
                }
                if page_newest
                    .as_deref()
                    .is_none_or(|n| id_cmp(&s.id, n) == Ordering::Greater)
                {
                    page_newest = Some(s.id.clone());
                }
                if let Some(m) = mention(ctx, tag, s) {
                    if seen.insert(m.id.clone()) {
                        mentions.push(m);
                    }
                }
            }
            let advanced = page_newest != newest;
            newest = page_newest;
            // A short page is the last one; without a cursor take only the newest page.
            if count < self.config.limit as usize || !advanced || old.is_none() {
                break;
            }
            if pages >= ctx.max_pages.max(1) {
                // Not a gap: the next poll goes on from `newest` with `min_id`.
                truncated = true;
                break;
            }
        }
        tracing::debug!(source = %ctx.source, instance = %instance, tag, pages, kept = mentions.len(), "mastodon tag done");
        Ok(TagResult::Fetched {
            mentions,
            newest: newest.filter(|n| Some(n) != old.as_ref()),
            truncated,
        })
    }
}

fn mention(ctx: &PollContext, tag: &str, s: Status) -> Option<RawMention> {
    // A boost carries the original post; the original is the mention.
    let s = match s.reblog {
        Some(orig) => *orig,
        None => s,
    };
    let content = html_to_text(&s.content);
    let text = if s.spoiler_text.trim().is_empty() {
        content
    } else {
        normalize_whitespace(&format!("{}. {content}", s.spoiler_text.trim()))
    };
    if text.is_empty() {
        return None;
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
        return None;
    }
    Some(RawMention {
        source: ctx.source.clone(),
        // `uri` is the same on every instance the status federates to; the local id is not.
        id: s.uri.clone(),
        url: s.url.clone().or(Some(s.uri)),
        author: s.account.map(|a| a.acct).filter(|a| !a.is_empty()),
        published_at: s.created_at,
        text,
        language: s.language.filter(|l| !l.is_empty()),
        engagement: s.favourites_count,
        products,
    })
}

#[async_trait::async_trait]
impl Source for Mastodon {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        let tags = self.tags(&ctx.products);
        let mut out = PollOutput::default();
        let mut seen = HashSet::new();
        let mut last_err = None;
        let mut scopes = 0usize;
        for instance in &self.config.instances {
            let base = instance.as_str().trim_end_matches('/').to_string();
            for tag in &tags {
                scopes += 1;
                let scope = format!("{base} #{tag}");
                match self
                    .poll_tag(
                        ctx,
                        instance,
                        tag,
                        &scope,
                        &mut seen,
                        &mut out.quota_remaining,
                    )
                    .await
                {
                    Ok(TagResult::Fetched {
                        mentions,
                        newest,
                        truncated,
                    }) => {
                        out.mentions.extend(mentions);
                        if let Some(n) = newest {
                            out.cursors.push((scope.clone(), n));
                        }
                        if truncated {
                            out.warnings.push(format!(
                                "{scope}: more than {} pages of new statuses; the rest comes next poll",
                                ctx.max_pages
                            ));
                        }
                    }
                    Ok(TagResult::Closed(warning)) => {
                        tracing::warn!(source = %ctx.source, instance = %base, tag = %tag, "{warning}");
                        out.warnings.push(warning);
                        // The same setting closes every tag on this instance.
                        scopes -= 1;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(source = %ctx.source, instance = %base, tag = %tag, error = %e, "mastodon poll failed");
                        out.errors.push(format!("{scope}: {e}"));
                        let limited =
                            matches!(e, SourceError::Fetch(FetchError::RateLimited { .. }));
                        last_err = Some(e);
                        if limited {
                            // The instance's limit covers every tag: try the rest next poll.
                            break;
                        }
                    }
                }
            }
        }
        if scopes > 0 && out.errors.len() == scopes {
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
