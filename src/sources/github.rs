//! GitHub issues and pull requests that name a product, from the issue search API
//! (`/search/issues?q="NAME" created:>=D`). The search limits are strict (10 requests a
//! minute without a token, 30 with one) and GitHub bans clients that retry while limited,
//! so every rate-limit answer pauses the whole source until GitHub says it may resume.

use super::pause::Pause;
use super::scaffold::{
    join_title, name_scopes, rate_limit_pause, Api, Drop, Entry, Order, Page, PageRequest, Scope,
    Stop,
};
use super::text::html_to_text;
use super::{FetchError, PollContext, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;

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
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://api.github.com").expect("valid default")
}

impl GithubConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
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

pub struct Github {
    config: GithubConfig,
    /// The API asked us to stay away until then (rate limit, `backoff`, used-up quota).
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

    fn classify_error(&self, ctx: &PollContext, e: FetchError) -> Stop {
        if let Some(pause) = rate_limit_pause(ctx, &e, "github rate limit (HTTP 429)".into()) {
            return pause;
        }
        let err = SourceError::Fetch(e.clone());
        match &e {
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

impl Api for Github {
    type Scope = String;

    const NAME: &'static str = "github";
    const ORDER: Order = Order::OldestFirst;

    fn pause(&self) -> Option<&Pause> {
        Some(&self.pause)
    }

    const PAGE_CAP: usize = RESULT_CAP / PER_PAGE;

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<String>> {
        name_scopes(ctx)
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, String>) -> Result<Page, Stop> {
        let query = req.scope;
        // A walk starts from its floor (also when it resumes: page numbers of an older
        // query would run into the 1,000-result cap); later pages follow `Link`.
        // Oldest first: without a floor a first poll starts now, not at the oldest issue.
        let since = req.floor.unwrap_or(ctx.now);
        let url = match req.token.filter(|_| req.page > 1) {
            Some(next) => next.to_string(),
            None => self.search_url(query, since),
        };
        let fetched = ctx
            .http
            .get(&url, &self.headers())
            .await
            .map_err(|e| self.classify_error(ctx, e))?;
        let remaining = fetched
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let body: SearchPage = fetched.json().map_err(SourceError::Parse)?;
        let mut warnings = Vec::new();
        if body.incomplete_results {
            warnings.push(format!(
                "github search for `{query}` timed out on GitHub's side; results may be partial"
            ));
        }
        let entries = body
            .items
            .into_iter()
            .map(|issue| mention(ctx, issue))
            .collect();
        let mut page = Page::of(entries, self.next_link(fetched.header("link")));
        page.quota = remaining;
        page.warnings = warnings;
        if remaining == Some(0) {
            let until = reset_time(fetched.header("x-ratelimit-reset"), ctx.now);
            page.pause = Some((until, "github search quota is used up".to_string()));
        }
        Ok(page)
    }
}

fn mention(ctx: &PollContext, issue: Issue) -> Entry {
    let id = issue.id.to_string();
    let title = issue.title.map(|t| html_to_text(&t)).unwrap_or_default();
    // Bodies are Markdown, often with HTML comments from issue templates: strip the markup.
    let body = issue.body.map(|b| html_to_text(&b)).unwrap_or_default();
    let text = join_title(title, body);
    if text.is_empty() {
        return Entry::dropped(issue.created_at, id, Drop::Rejected("empty issue"));
    }
    Entry::of(RawMention {
        url: issue.html_url,
        author: issue.user.map(|u| u.login),
        engagement: issue.reactions.map(|r| r.total_count),
        ..ctx.mention(id, issue.created_at, text)
    })
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
