//! Stack Exchange questions and answers that name a product, from the excerpt search
//! (`/2.3/search/excerpts`). Bodies always arrive compressed (the shared client decodes
//! gzip); the API's own throttle signals live in the body: `backoff` (seconds before the
//! next call to the method) and `quota_remaining` (calls left today).

use super::pause::Pause;
use super::scaffold::{
    names, rate_limit_pause, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop,
};
use super::text::html_to_text;
use super::{FetchError, PollContext, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde::Deserialize;

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
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://api.stackexchange.com").expect("valid default")
}
fn default_sites() -> Vec<String> {
    vec!["stackoverflow".to_string()]
}

impl StackExchangeConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        out.extend(super::validate::non_empty(
            "sites",
            &self.sites,
            "[\"stackoverflow\"]",
        ));
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

pub struct StackExchange {
    config: StackExchangeConfig,
    /// The API asked us to stay away until then (rate limit, `backoff`, used-up quota).
    pause: Pause,
}

/// One (site, query) search.
pub struct Search {
    site: String,
    query: String,
}

impl StackExchange {
    pub fn new(config: StackExchangeConfig) -> StackExchange {
        StackExchange {
            config,
            pause: Pause::default(),
        }
    }

    fn search_url(&self, site: &str, query: &str, fromdate: Option<i64>, page: u32) -> String {
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
                .append_pair("pagesize", &PAGE_SIZE.to_string())
                .append_pair("page", &page.to_string());
            if let Some(t) = fromdate {
                q.append_pair("fromdate", &t.to_string());
            }
            if let Some(f) = &self.config.filter {
                q.append_pair("filter", f);
            }
            if let Some(k) = &self.config.key {
                q.append_pair("key", k.expose());
            }
        }
        u.to_string()
    }

    fn classify_error(&self, ctx: &PollContext, e: FetchError) -> Stop {
        if let Some(pause) = rate_limit_pause(ctx, &e, e.to_string()) {
            return pause;
        }
        match &e {
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

    fn mention(&self, ctx: &PollContext, site: &str, item: Excerpt) -> Entry {
        let Some(published_at) = Utc.timestamp_opt(item.creation_date, 0).single() else {
            return Entry::dropped(ctx.now, format!("{site}/?"), Drop::Rejected("bad time"));
        };
        let (kind, native) = match item.item_type.as_str() {
            "answer" => ("a", item.answer_id),
            _ => ("q", item.question_id),
        };
        let Some(native) = native else {
            return Entry::dropped(
                published_at,
                format!("{site}/{kind}/?"),
                Drop::Rejected("no id"),
            );
        };
        let id = format!("{site}/{kind}/{native}");
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
            return Entry::dropped(published_at, id, Drop::Rejected("empty post"));
        }
        Entry::of(RawMention {
            url: Some(format!("https://{}/{kind}/{native}", site_domain(site))),
            author: item
                .owner
                .and_then(|o| o.display_name)
                .map(|n| html_to_text(&n)),
            engagement: item.score,
            ..ctx.mention(id, published_at, text)
        })
    }
}

impl Api for StackExchange {
    type Scope = Search;

    const NAME: &'static str = "stack exchange";
    const ORDER: Order = Order::OldestFirst;

    fn pause(&self) -> Option<&Pause> {
        Some(&self.pause)
    }

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Search>> {
        let queries = names(ctx);
        self.config
            .sites
            .iter()
            .flat_map(|site| {
                queries.iter().map(move |(query, _)| {
                    Scope::new(
                        format!("{site}:{query}"),
                        Search {
                            site: site.clone(),
                            query: query.clone(),
                        },
                    )
                })
            })
            .collect()
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, Search>) -> Result<Page, Stop> {
        let search = req.scope;
        let site = search.site.as_str();
        // Oldest first: without a floor (`lookback = "0s"`) a first poll starts now,
        // not at the oldest post ever.
        let fromdate = Some(req.floor.unwrap_or(ctx.now).timestamp());
        let url = self.search_url(site, &search.query, fromdate, req.page as u32);
        let wrapper = match ctx.http.get(&url, &[]).await {
            Ok(fetched) => fetched.json::<Wrapper>().map_err(SourceError::Parse)?,
            Err(e) => return Err(self.classify_error(ctx, e)),
        };
        if let Some(id) = wrapper.error_id {
            return Err(Stop::Failed(SourceError::Parse(format!(
                "stack exchange error {id} {}: {}",
                wrapper.error_name.unwrap_or_default(),
                wrapper.error_message.unwrap_or_default()
            ))));
        }
        let items = wrapper.items.ok_or_else(|| {
            SourceError::Parse(format!(
                "response from {site} has no `items` (the API's format may have changed)"
            ))
        })?;
        let entries = items
            .into_iter()
            .map(|item| self.mention(ctx, site, item))
            .collect();
        let next = wrapper.has_more.then(|| (req.page + 1).to_string());
        let mut page = Page::of(entries, next);
        page.quota = wrapper.quota_remaining;
        if let Some(secs) = wrapper.backoff {
            // "Wait N seconds before calling that method again": everything we call is the
            // same method, so the whole source rests.
            page.pause = Some((
                ctx.now + ChronoDuration::seconds(secs as i64),
                format!("stack exchange asked for a {secs}s backoff"),
            ));
        } else if wrapper.quota_remaining == Some(0) {
            page.pause = Some((
                next_utc_midnight(ctx.now),
                "stack exchange daily quota is used up (add a `key` for 10,000 a day)".to_string(),
            ));
        }
        Ok(page)
    }
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
