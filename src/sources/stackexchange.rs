//! Stack Exchange questions and answers that name a product, from the excerpt search
//! (`/2.3/search/excerpts`). Bodies always arrive compressed (the shared client decodes
//! gzip); the API's own throttle signals live in the body: `backoff` (seconds before the
//! next call to the method) and `quota_remaining` (calls left today).

use super::pause::{end_scope, Pause, Stop, Tally};
use super::text::html_to_text;
use super::{FetchError, PollContext, PollOutput, Source, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest page the API serves.
const PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackExchangeConfig {
    /// API root; tests point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// API site parameters (`stackoverflow`, `serverfault`, `unix`, ...) or site domains.
    #[serde(default = "default_sites")]
    pub sites: Vec<String>,
    /// Registered app key: raises the daily quota from 300 to 10,000 requests per IP.
    #[serde(default)]
    pub key: Option<Secret>,
    /// Custom filter id, e.g. one that adds `owner` so authors are known.
    #[serde(default)]
    pub filter: Option<String>,
    /// How far back the first poll of a query looks.
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub lookback: Duration,
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://api.stackexchange.com").expect("valid default")
}
fn default_sites() -> Vec<String> {
    vec!["stackoverflow".to_string()]
}
fn default_lookback() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl StackExchangeConfig {
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
        if self.sites.is_empty() {
            out.push((
                "sites".into(),
                "no sites given: list at least one, e.g. sites = [\"stackoverflow\"]".into(),
            ));
        }
        for (i, s) in self.sites.iter().enumerate() {
            if s.trim().is_empty() || s.contains(['/', '?', '&', ' ']) {
                out.push((
                    format!("sites[{i}]"),
                    format!("invalid site `{s}`: use an API site parameter like `stackoverflow`"),
                ));
            }
        }
        out
    }
}

/// One `search_excerpt` item (fields the default filter returns, plus `owner`).
#[derive(Debug, Deserialize)]
struct Excerpt {
    item_type: String,
    question_id: Option<u64>,
    answer_id: Option<u64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    excerpt: Option<String>,
    creation_date: i64,
    #[serde(default)]
    score: Option<i64>,
    #[serde(default)]
    owner: Option<Owner>,
}

#[derive(Debug, Deserialize)]
struct Owner {
    display_name: Option<String>,
}

/// The common wrapper around every Stack Exchange answer.
#[derive(Debug, Deserialize)]
struct Wrapper {
    #[serde(default)]
    items: Option<Vec<Excerpt>>,
    #[serde(default)]
    has_more: bool,
    quota_remaining: Option<i64>,
    backoff: Option<u64>,
    error_id: Option<i64>,
    error_name: Option<String>,
    error_message: Option<String>,
}

/// Where one (site, query) stopped: newest creation time and the ids seen at that second
/// (`fromdate` is inclusive, so they come back next time).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    newest: i64,
    #[serde(default)]
    ids: Vec<String>,
}

pub struct StackExchange {
    config: StackExchangeConfig,
    /// The API asked us to stay away until then (`backoff`, throttle, exhausted quota).
    pause: Pause,
}

impl StackExchange {
    pub fn new(config: StackExchangeConfig) -> StackExchange {
        StackExchange {
            config,
            pause: Pause::default(),
        }
    }

    fn search_url(&self, site: &str, query: &str, fromdate: i64, page: u32) -> String {
        let mut u = self.config.base_url.clone();
        u.set_path(&format!(
            "{}/2.3/search/excerpts",
            u.path().trim_end_matches('/')
        ));
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("site", site)
                .append_pair("q", query)
                .append_pair("sort", "creation")
                // Oldest first from the cursor: a poll cut short by max_pages resumes where it
                // stopped instead of leaving a gap.
                .append_pair("order", "asc")
                .append_pair("fromdate", &fromdate.to_string())
                .append_pair("pagesize", &PAGE_SIZE.to_string())
                .append_pair("page", &page.to_string());
            if let Some(f) = &self.config.filter {
                q.append_pair("filter", f);
            }
            if let Some(k) = &self.config.key {
                q.append_pair("key", k.expose());
            }
        }
        u.to_string()
    }

    async fn poll_scope(
        &self,
        ctx: &PollContext,
        site: &str,
        query: &str,
        scope: &str,
        out: &mut PollOutput,
    ) -> Result<Option<String>, Stop> {
        let mut cursor: Cursor = ctx
            .cursors
            .get(scope)
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| Cursor {
                newest: (ctx.now - lookback(self.config.lookback)).timestamp(),
                ids: Vec::new(),
            });
        let fromdate = cursor.newest;
        let mut newest = cursor.newest;
        let mut ids_at_newest = std::mem::take(&mut cursor.ids);
        let seen_before = ids_at_newest.clone();
        let mut pause = None;
        for page in 1..=ctx.max_pages.max(1) as u32 {
            let url = self.search_url(site, query, fromdate, page);
            let wrapper = match ctx.http.get(&url, &[]).await {
                Ok(fetched) => fetched
                    .json::<Wrapper>()
                    .map_err(|e| Stop::Failed(SourceError::Parse(e)))?,
                Err(e) => return Err(self.classify_error(ctx, e)),
            };
            if let Some(q) = wrapper.quota_remaining {
                out.quota_remaining = Some(out.quota_remaining.map_or(q, |o: i64| o.min(q)));
            }
            if let Some(id) = wrapper.error_id {
                return Err(Stop::Failed(SourceError::Parse(format!(
                    "stack exchange error {id} {}: {}",
                    wrapper.error_name.unwrap_or_default(),
                    wrapper.error_message.unwrap_or_default()
                ))));
            }
            let items = wrapper.items.ok_or_else(|| {
                Stop::Failed(SourceError::Parse(format!(
                    "response from {} has no `items` (the API's format may have changed)",
                    site
                )))
            })?;
            for item in items {
                let Some(m) = self.mention(ctx, site, item) else {
                    continue;
                };
                let t = m.published_at.timestamp();
                // Older than asked for (a server ignoring `fromdate`), or the boundary
                // second's items seen last time.
                if t < fromdate || (t == fromdate && seen_before.contains(&m.id)) {
                    continue;
                }
                if t > newest {
                    newest = t;
                    ids_at_newest.clear();
                }
                if t == newest && !ids_at_newest.contains(&m.id) {
                    ids_at_newest.push(m.id.clone());
                }
                out.mentions.push(m);
            }
            if let Some(secs) = wrapper.backoff {
                // "Wait N seconds before calling that method again": everything we call is the
                // same method, so the whole source rests.
                pause = Some((
                    ctx.now + ChronoDuration::seconds(secs as i64),
                    format!("stack exchange asked for a {secs}s backoff"),
                ));
                break;
            }
            if wrapper.quota_remaining == Some(0) {
                pause = Some((
                    next_utc_midnight(ctx.now),
                    "stack exchange daily quota is used up (add a `key` for 10,000 a day)"
                        .to_string(),
                ));
                break;
            }
            if !wrapper.has_more {
                break;
            }
        }
        let cursor = Cursor {
            newest,
            ids: ids_at_newest,
        };
        let value = serde_json::to_string(&cursor).ok();
        end_scope(out, scope, value, pause)
    }

    fn classify_error(&self, ctx: &PollContext, e: FetchError) -> Stop {
        match &e {
            FetchError::RateLimited { retry_after, .. } => Stop::Pause {
                until: ctx.now + ChronoDuration::from_std(*retry_after).unwrap_or_default(),
                why: e.to_string(),
                error: Some(SourceError::Fetch(e.clone())),
            },
            // Throttle violations arrive as HTTP 400 with a JSON error wrapper naming the wait.
            FetchError::Status {
                status, snippet, ..
            } if snippet.contains("throttle_violation") => {
                let secs = seconds_in(snippet).unwrap_or(3600);
                Stop::Pause {
                    until: ctx.now + ChronoDuration::seconds(secs as i64),
                    why: format!("stack exchange throttle violation (HTTP {status}); rest {secs}s"),
                    error: Some(SourceError::Fetch(e.clone())),
                }
            }
            FetchError::Status { snippet, .. }
                if snippet.contains("key_required")
                    || snippet.contains("access_denied")
                    || snippet.contains("invalid_access_token") =>
            {
                Stop::Failed(SourceError::Auth(format!(
                    "stack exchange refused the request ({snippet}): check `key`"
                )))
            }
            _ => Stop::Failed(SourceError::Fetch(e)),
        }
    }

    fn mention(&self, ctx: &PollContext, site: &str, item: Excerpt) -> Option<RawMention> {
        let published_at = Utc.timestamp_opt(item.creation_date, 0).single()?;
        let (kind, native) = match item.item_type.as_str() {
            "answer" => ("a", item.answer_id?),
            _ => ("q", item.question_id?),
        };
        let body = item
            .body
            .or(item.excerpt)
            .map(|b| html_to_text(&b))
            .unwrap_or_default();
        let title = item.title.map(|t| html_to_text(&t)).unwrap_or_default();
        // A question is its title and body; an answer only its own body (the title is the
        // question's, and the sentiment should be the answerer's).
        let text = if kind == "q" && !title.is_empty() {
            if body.is_empty() {
                title
            } else {
                format!("{title}. {body}")
            }
        } else {
            body
        };
        if text.is_empty() {
            return None;
        }
        Some(RawMention {
            source: ctx.source.clone(),
            id: format!("{site}/{kind}/{native}"),
            url: Some(format!("https://{}/{kind}/{native}", site_domain(site))),
            author: item
                .owner
                .and_then(|o| o.display_name)
                .map(|n| html_to_text(&n)),
            published_at,
            text,
            language: None,
            engagement: item.score,
            products: Vec::new(),
        })
    }
}

#[async_trait::async_trait]
impl Source for StackExchange {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        if let Some(skipped) = self.pause.skip(ctx, "stack exchange") {
            return Ok(skipped);
        }
        let mut out = PollOutput::default();
        let queries = queries(ctx);
        let scopes: Vec<(String, String)> = self
            .config
            .sites
            .iter()
            .flat_map(|s| queries.iter().map(move |q| (s.clone(), q.clone())))
            .collect();
        let mut tally = Tally::default();
        for (i, (site, query)) in scopes.iter().enumerate() {
            let scope = format!("{site}:{query}");
            tally.attempt();
            match self.poll_scope(ctx, site, query, &scope, &mut out).await {
                Ok(cursor) => {
                    if let Some(c) = cursor {
                        out.cursors.push((scope, c));
                    }
                }
                Err(Stop::Failed(e)) => {
                    tracing::warn!(source = %ctx.source, site = %site, query = %query, error = %e, "stack exchange search failed");
                    out.errors.push(format!("{scope}: {e}"));
                    tally.fail(e);
                }
                Err(Stop::Pause { until, why, error }) => {
                    tracing::warn!(source = %ctx.source, site = %site, query = %query, until = %until, reason = %why, "stack exchange asked us to pause");
                    let left = scopes.len() - i - 1;
                    if let Some(e) = self.pause.start(&mut out, &scope, left, until, &why, error) {
                        tally.fail(e);
                    }
                    break;
                }
            }
        }
        tally.finish(out)
    }
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

fn lookback(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or_else(|_| ChronoDuration::days(1))
}

/// The quota resets once a day; waiting for the next UTC midnight is the safe reading.
fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + ChronoDuration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// "more requests available in 81234 seconds" → 81234.
fn seconds_in(message: &str) -> Option<u64> {
    let idx = message.find(" seconds")?;
    let digits: String = message[..idx]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// Web domain of an API site parameter (the excerpts carry no links).
fn site_domain(site: &str) -> String {
    if site.contains('.') {
        return site.to_string();
    }
    match site {
        "stackoverflow" | "serverfault" | "superuser" | "askubuntu" | "stackapps" => {
            format!("{site}.com")
        }
        "mathoverflow" => "mathoverflow.net".to_string(),
        other => format!("{other}.stackexchange.com"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_domains() {
        assert_eq!(site_domain("stackoverflow"), "stackoverflow.com");
        assert_eq!(site_domain("unix"), "unix.stackexchange.com");
        assert_eq!(
            site_domain("meta.stackoverflow.com"),
            "meta.stackoverflow.com"
        );
        assert_eq!(site_domain("mathoverflow"), "mathoverflow.net");
    }

    #[test]
    fn throttle_message_seconds() {
        assert_eq!(
            seconds_in("too many requests from this IP, more requests available in 81234 seconds"),
            Some(81234)
        );
        assert_eq!(seconds_in("no number"), None);
    }

    #[test]
    fn midnight() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 13, 5, 0).unwrap();
        assert_eq!(
            next_utc_midnight(now),
            Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_sites() {
        let bad: Result<StackExchangeConfig, _> = toml::from_str("sites = [\"so\"]\nsite = \"x\"");
        assert!(bad.is_err());
        let c: StackExchangeConfig = toml::from_str("sites = [\"stack overflow\"]").unwrap();
        assert_eq!(c.validate().len(), 1);
        let c: StackExchangeConfig = toml::from_str("").unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.base_url.as_str(), "https://api.stackexchange.com/");
    }
}
