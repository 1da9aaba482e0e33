//! GitHub issues and pull requests that name a product, from the issue search API
//! (`/search/issues?q="NAME" created:>=D`). The search limits are strict (10 requests a
//! minute without a token, 30 with one) and GitHub bans clients that retry while limited,
//! so every rate-limit answer pauses the whole source until GitHub says it may resume.

use super::pause::{end_scope, Pause, Stop, Tally};
use super::text::html_to_text;
use super::{FetchError, PollContext, PollOutput, Source, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const PER_PAGE: usize = 100;
/// The search API serves at most 1,000 results per query.
const RESULT_CAP: usize = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// API root; tests point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Optional token (a fine-grained PAT with no permissions is enough): search limit
    /// 30/min instead of 10/min.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Extra search qualifiers added to every query, e.g. `is:issue in:title,body`.
    #[serde(default)]
    pub qualifiers: String,
    /// How far back the first poll of a query looks.
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub lookback: Duration,
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://api.github.com").expect("valid default")
}
fn default_lookback() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl GithubConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !matches!(self.base_url.scheme(), "http" | "https") {
            out.push((
                "base_url".into(),
                format!(
                    "unsupported scheme `{}`: use http or https",
                    self.base_url.scheme()
                ),
            ));
        }
        if self.qualifiers.contains("created:") {
            out.push((
                "qualifiers".into(),
                "do not set `created:`: pulse adds it from its cursor".into(),
            ));
        }
        out
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    total_count: u64,
    #[serde(default)]
    incomplete_results: bool,
    items: Vec<Issue>,
}

#[derive(Debug, Deserialize)]
struct Issue {
    id: u64,
    html_url: Option<String>,
    title: Option<String>,
    body: Option<String>,
    user: Option<User>,
    created_at: DateTime<Utc>,
    reactions: Option<Reactions>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

#[derive(Debug, Deserialize)]
struct Reactions {
    total_count: i64,
}

/// Where one query stopped: newest creation time and the ids seen at that second
/// (`created:>=` is inclusive, so they come back next time).
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    newest: DateTime<Utc>,
    #[serde(default)]
    ids: Vec<String>,
}

pub struct Github {
    config: GithubConfig,
    pause: Pause,
}

impl Github {
    pub fn new(config: GithubConfig) -> Github {
        Github {
            config,
            pause: Pause::default(),
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("Accept", "application/vnd.github+json".to_string()),
            ("X-GitHub-Api-Version", "2022-11-28".to_string()),
        ];
        if let Some(t) = &self.config.token {
            h.push(("Authorization", format!("Bearer {}", t.expose())));
        }
        h
    }

    fn search_url(&self, query: &str, since: DateTime<Utc>) -> String {
        let mut q = format!("\"{}\"", query.replace('"', ""));
        if !self.config.qualifiers.trim().is_empty() {
            q.push(' ');
            q.push_str(self.config.qualifiers.trim());
        }
        q.push_str(" created:>=");
        q.push_str(&since.to_rfc3339_opts(SecondsFormat::Secs, true));
        let mut u = self.config.base_url.clone();
        u.set_path(&format!("{}/search/issues", u.path().trim_end_matches('/')));
        u.query_pairs_mut()
            .append_pair("q", &q)
            .append_pair("sort", "created")
            // Oldest first from the cursor: a poll cut short by max_pages or the 1,000-result
            // cap resumes where it stopped instead of leaving a gap.
            .append_pair("order", "asc")
            .append_pair("per_page", &PER_PAGE.to_string())
            .append_pair("page", "1");
        u.to_string()
    }

    /// Follow `Link: <…>; rel="next"` only to the configured API host.
    fn next_link(&self, link: Option<&str>) -> Option<String> {
        let next = next_from_link(link?)?;
        let u = url::Url::parse(&next).ok()?;
        (u.origin() == self.config.base_url.origin()).then_some(next)
    }

    async fn poll_scope(
        &self,
        ctx: &PollContext,
        query: &str,
        out: &mut PollOutput,
    ) -> Result<Option<String>, Stop> {
        let cursor: Cursor = ctx
            .cursors
            .get(query)
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| Cursor {
                newest: ctx.now
                    - ChronoDuration::from_std(self.config.lookback)
                        .unwrap_or_else(|_| ChronoDuration::days(1)),
                ids: Vec::new(),
            });
        let since = cursor.newest;
        let mut newest = cursor.newest;
        let mut ids_at_newest = cursor.ids.clone();
        let headers = self.headers();
        let mut url = Some(self.search_url(query, since));
        let max_pages = ctx.max_pages.clamp(1, RESULT_CAP / PER_PAGE);
        let mut pages = 0;
        let mut pause = None;
        while let Some(u) = url.take() {
            pages += 1;
            let fetched = ctx
                .http
                .get(&u, &headers)
                .await
                .map_err(|e| self.classify_error(ctx, e))?;
            let remaining = fetched
                .header("x-ratelimit-remaining")
                .and_then(|v| v.trim().parse::<i64>().ok());
            if let Some(r) = remaining {
                out.quota_remaining = Some(out.quota_remaining.map_or(r, |o: i64| o.min(r)));
            }
            let page: SearchPage = fetched
                .json()
                .map_err(|e| Stop::Failed(SourceError::Parse(e)))?;
            if page.incomplete_results {
                out.warnings.push(format!(
                    "github search for `{query}` timed out on GitHub's side; results may be partial"
                ));
            }
            for issue in page.items {
                let id = issue.id.to_string();
                // Older than asked for, or the boundary second's issues seen last time.
                if issue.created_at < since
                    || (issue.created_at == since && cursor.ids.contains(&id))
                {
                    continue;
                }
                if issue.created_at > newest {
                    newest = issue.created_at;
                    ids_at_newest.clear();
                }
                if issue.created_at == newest && !ids_at_newest.contains(&id) {
                    ids_at_newest.push(id.clone());
                }
                if let Some(m) = mention(ctx, id, issue) {
                    out.mentions.push(m);
                }
            }
            if remaining == Some(0) {
                let until = reset_time(fetched.header("x-ratelimit-reset"), ctx.now);
                pause = Some((until, "github search quota is used up".to_string()));
                break;
            }
            if pages < max_pages {
                url = self.next_link(fetched.header("link"));
            } else if page.total_count as usize > pages * PER_PAGE {
                tracing::debug!(source = %ctx.source, query = %query, total = page.total_count, "page limit reached; the rest comes next poll");
            }
        }
        let value = serde_json::to_string(&Cursor {
            newest,
            ids: ids_at_newest,
        })
        .ok();
        end_scope(out, query, value, pause)
    }

    fn classify_error(&self, ctx: &PollContext, e: FetchError) -> Stop {
        let err = SourceError::Fetch(e.clone());
        match &e {
            FetchError::RateLimited { retry_after, .. } => Stop::Pause {
                until: ctx.now + ChronoDuration::from_std(*retry_after).unwrap_or_default(),
                why: "github rate limit (HTTP 429)".into(),
                error: Some(err),
            },
            FetchError::Status {
                status: 401,
                snippet,
                ..
            } => Stop::Failed(SourceError::Auth(format!(
                "github rejected the token ({snippet}): check `token`"
            ))),
            FetchError::Status {
                status: status @ (403 | 429),
                snippet,
                retry_after,
                headers,
                ..
            } => {
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str())
                };
                // GitHub's order: `retry-after` if present; else the primary window's reset
                // when nothing is left; else at least a minute.
                if let Some(wait) = retry_after {
                    Stop::Pause {
                        until: ctx.now + ChronoDuration::from_std(*wait).unwrap_or_default(),
                        why: format!("github secondary rate limit (HTTP {status})"),
                        error: Some(err),
                    }
                } else if header("x-ratelimit-remaining") == Some("0") {
                    Stop::Pause {
                        until: reset_time(header("x-ratelimit-reset"), ctx.now),
                        why: format!("github rate limit exceeded (HTTP {status})"),
                        error: Some(err),
                    }
                } else if snippet.to_ascii_lowercase().contains("rate limit") {
                    Stop::Pause {
                        until: ctx.now + ChronoDuration::seconds(60),
                        why: format!("github secondary rate limit (HTTP {status})"),
                        error: Some(err),
                    }
                } else {
                    Stop::Failed(err)
                }
            }
            _ => Stop::Failed(err),
        }
    }
}

#[async_trait::async_trait]
impl Source for Github {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        if let Some(skipped) = self.pause.skip(ctx, "github") {
            return Ok(skipped);
        }
        let mut out = PollOutput::default();
        let queries = queries(ctx);
        let mut tally = Tally::default();
        for (i, query) in queries.iter().enumerate() {
            tally.attempt();
            match self.poll_scope(ctx, query, &mut out).await {
                Ok(cursor) => {
                    if let Some(c) = cursor {
                        out.cursors.push((query.clone(), c));
                    }
                }
                Err(Stop::Failed(SourceError::Auth(msg))) => {
                    // A bad token fails every query the same way.
                    return Err(SourceError::Auth(msg));
                }
                Err(Stop::Failed(e)) => {
                    tracing::warn!(source = %ctx.source, query = %query, error = %e, "github search failed");
                    out.errors.push(format!("{query}: {e}"));
                    tally.fail(e);
                }
                Err(Stop::Pause { until, why, error }) => {
                    tracing::warn!(source = %ctx.source, query = %query, until = %until, reason = %why, "github asked us to pause");
                    let left = queries.len() - i - 1;
                    if let Some(e) = self.pause.start(&mut out, query, left, until, &why, error) {
                        tally.fail(e);
                    }
                    break;
                }
            }
        }
        tally.finish(out)
    }
}

fn mention(ctx: &PollContext, id: String, issue: Issue) -> Option<RawMention> {
    let title = issue.title.map(|t| html_to_text(&t)).unwrap_or_default();
    // Bodies are Markdown, often with HTML comments from issue templates: strip the markup.
    let body = issue.body.map(|b| html_to_text(&b)).unwrap_or_default();
    let text = match (title.is_empty(), body.is_empty()) {
        (false, false) => format!("{title}. {body}"),
        (false, true) => title,
        (true, _) => body,
    };
    if text.is_empty() {
        return None;
    }
    Some(RawMention {
        source: ctx.source.clone(),
        id,
        url: issue.html_url,
        author: issue.user.map(|u| u.login),
        published_at: issue.created_at,
        text,
        language: None,
        engagement: issue.reactions.map(|r| r.total_count),
        products: Vec::new(),
    })
}

/// Product names and aliases, each once (case-insensitively), in config order.
fn queries(ctx: &PollContext) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in ctx.products.iter() {
        for name in p.names() {
            let name = name.trim();
            if !name.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// `x-ratelimit-reset` is UTC epoch seconds; without it, wait a minute.
fn reset_time(header: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    header
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .filter(|t| *t > now)
        .unwrap_or(now + ChronoDuration::seconds(60))
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
fn next_from_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/search/issues?q=x&page=2>; rel="next", <https://api.github.com/search/issues?q=x&page=10>; rel="last""#;
        assert_eq!(
            next_from_link(link).as_deref(),
            Some("https://api.github.com/search/issues?q=x&page=2")
        );
        assert_eq!(
            next_from_link(r#"<https://api.github.com/x?page=1>; rel="prev""#),
            None
        );
    }

    #[test]
    fn reset_falls_back_to_a_minute() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 13, 5, 0).unwrap();
        assert_eq!(reset_time(Some("1714568760"), now).timestamp(), 1714568760);
        assert_eq!(reset_time(None, now), now + ChronoDuration::seconds(60));
        assert_eq!(
            reset_time(Some("12"), now),
            now + ChronoDuration::seconds(60)
        );
    }

    #[test]
    fn config() {
        let c: GithubConfig = toml::from_str("").unwrap();
        assert_eq!(c.base_url.as_str(), "https://api.github.com/");
        assert!(c.validate().is_empty());
        let c: GithubConfig = toml::from_str("qualifiers = \"is:issue created:>2024\"").unwrap();
        assert_eq!(c.validate()[0].0, "qualifiers");
        assert!(toml::from_str::<GithubConfig>("tokn = \"x\"").is_err());
    }
}
