//! Reddit post search (`sort=new`) through the Data API. With `client_id`/`client_secret`
//! it uses the application-only OAuth flow and the OAuth host (`/search`); without them it
//! tries the public `/search.json`, which Reddit throttles or refuses, and says so clearly.
//! Comments cannot be searched through the API: subreddits listed in `subreddits` have their
//! newest comments read and matched instead. Every request carries the User-Agent form Reddit requires:
//! `<platform>:<app ID>:<version> (by /u/<username>)`.

use super::http::FetchError;
use super::scaffold::{join_title, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::normalize_whitespace;
use super::{PollContext, PollOutput, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedditConfig {
    /// API root. Defaults to `https://oauth.reddit.com` with credentials and
    /// `https://www.reddit.com` without.
    #[serde(default)]
    pub base_url: Option<url::Url>,
    /// Where the OAuth token is requested (`/api/v1/access_token` is appended).
    #[serde(default = "default_auth_url")]
    pub auth_url: url::Url,
    /// OAuth client id of a Reddit app (https://www.reddit.com/prefs/apps), e.g. `env:REDDIT_CLIENT_ID`.
    #[serde(default)]
    pub client_id: Option<Secret>,
    /// OAuth client secret of that app, e.g. `env:REDDIT_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The Reddit account that operates this Pulse (named in the User-Agent, as Reddit requires).
    pub reddit_username: String,
    /// App id in the User-Agent.
    #[serde(default = "default_app_id")]
    pub app_id: String,
    /// Posts per page (Reddit allows at most 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Subreddits whose newest comments are read and matched (the Data API cannot search
    /// comments), e.g. `["rust", "selfhosted"]`.
    #[serde(default)]
    pub subreddits: Vec<String>,
}

fn default_auth_url() -> url::Url {
    url::Url::parse("https://www.reddit.com").expect("valid default URL")
}
fn default_app_id() -> String {
    "pulse".into()
}
fn default_limit() -> u32 {
    100
}

/// `rust` from `rust`, `r/rust` or `/r/rust/`.
fn subreddit_name(raw: &str) -> &str {
    let s = raw.trim().trim_matches('/');
    s.strip_prefix("r/").unwrap_or(s)
}

const OAUTH_BASE: &str = "https://oauth.reddit.com";
const PUBLIC_BASE: &str = "https://www.reddit.com";

impl RedditConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        problems.extend(super::validate::paired(
            ("client_id", self.client_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            "set both (e.g. client_id = \"env:REDDIT_CLIENT_ID\")",
            "set both (e.g. client_secret = \"env:REDDIT_CLIENT_SECRET\")",
        ));
        let user = self.username();
        if user.len() < 3
            || user.len() > 20
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push((
                "reddit_username".into(),
                format!("`{}` is not a Reddit username: Reddit requires the operator's username in the User-Agent", self.reddit_username),
            ));
        }
        if self.app_id.trim().is_empty() || self.app_id.contains([':', ' ']) {
            problems.push((
                "app_id".into(),
                "app_id must be a non-empty word without `:` or spaces".into(),
            ));
        }
        problems.extend(super::validate::limit(self.limit, 100));
        for (i, sub) in self.subreddits.iter().enumerate() {
            let name = subreddit_name(sub);
            if name.len() < 2
                || name.len() > 21
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                problems.push((
                    format!("subreddits[{i}]"),
                    format!(
                        "`{sub}` is not a subreddit name (write it like \"rust\" or \"r/rust\")"
                    ),
                ));
            }
        }
        problems
    }

    fn username(&self) -> &str {
        let u = self.reddit_username.trim();
        u.strip_prefix("/u/")
            .or_else(|| u.strip_prefix("u/"))
            .unwrap_or(u)
    }

    /// `<platform>:<app ID>:<version string> (by /u/<reddit username>)`.
    pub fn user_agent(&self) -> String {
        format!(
            "{}:{}:v{} (by /u/{})",
            std::env::consts::OS,
            self.app_id.trim(),
            env!("CARGO_PKG_VERSION"),
            self.username()
        )
    }

    fn authenticated(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

pub struct Reddit {
    config: RedditConfig,
    user_agent: String,
    token: tokio::sync::Mutex<Option<Token>>,
}

struct Token {
    value: String,
    expires: Instant,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default = "default_expires")]
    expires_in: u64,
}

fn default_expires() -> u64 {
    3600
}

#[derive(Debug, Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize)]
struct ListingData {
    #[serde(default)]
    after: Option<String>,
    children: Vec<Thing>,
}

#[derive(Debug, Deserialize)]
struct Thing {
    data: ThingData,
}

#[derive(Debug, Deserialize)]
struct ThingData {
    name: String,
    created_utc: f64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    selftext: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    score: Option<i64>,
}

/// Reddit's error body, sometimes sent with HTTP 200.
#[derive(Debug, Deserialize)]
struct ApiError {
    error: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
}

/// One listing polled per poll, with its own cursor.
pub enum Target {
    /// Post search for a product's names.
    Search { product: String, query: String },
    /// The newest comments of a subreddit, matched against every product.
    Comments { subreddit: String },
}

impl Target {
    /// Cursor key, also used in messages.
    fn key(&self) -> String {
        match self {
            Target::Search { product, .. } => product.clone(),
            Target::Comments { subreddit } => format!("r/{subreddit} comments"),
        }
    }
}

impl Reddit {
    pub fn new(config: RedditConfig) -> Reddit {
        let user_agent = config.user_agent();
        Reddit {
            config,
            user_agent,
            token: tokio::sync::Mutex::new(None),
        }
    }

    fn base(&self) -> url::Url {
        self.config.base_url.clone().unwrap_or_else(|| {
            url::Url::parse(if self.config.authenticated() {
                OAUTH_BASE
            } else {
                PUBLIC_BASE
            })
            .expect("valid default URL")
        })
    }

    /// A bearer token, requested again when it is about to expire or `renew` is set.
    async fn token(&self, ctx: &PollContext, renew: bool) -> Result<String, SourceError> {
        let (Some(id), Some(secret)) = (&self.config.client_id, &self.config.client_secret) else {
            return Err(SourceError::Config(
                "reddit OAuth credentials are missing".into(),
            ));
        };
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            if !renew && t.expires > Instant::now() {
                return Ok(t.value.clone());
            }
        }
        let mut url = self.config.auth_url.clone();
        let path = format!("{}/api/v1/access_token", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let ua = self.user_agent.clone();
        let fetched = ctx
            .http
            .send(|c| {
                c.post(url.clone())
                    .basic_auth(id.expose(), Some(secret.expose()))
                    .header(reqwest::header::USER_AGENT, ua.as_str())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body("grant_type=client_credentials")
            })
            .await
            .map_err(|e| match e.status() {
                Some(401) | Some(403) => SourceError::Auth(format!(
                    "reddit rejected the app credentials (HTTP {}): check client_id ({}) and client_secret ({}) against https://www.reddit.com/prefs/apps",
                    e.status().unwrap_or_default(),
                    id.origin(),
                    secret.origin()
                )),
                _ => SourceError::Fetch(e),
            })?;
        let token: TokenResponse =
            fetched
                .json()
                .map_err(|e| match fetched.json::<ApiError>() {
                    Ok(err) => SourceError::Auth(format!(
                    "reddit refused a token: {} (check the app type is \"script\" or \"web app\")",
                    err.error
                )),
                    Err(_) => SourceError::Parse(e),
                })?;
        // Renew a minute early so a token never expires mid-poll.
        let lifetime = Duration::from_secs(token.expires_in.saturating_sub(60).max(1));
        *guard = Some(Token {
            value: token.access_token.clone(),
            expires: Instant::now() + lifetime,
        });
        tracing::debug!(source = %ctx.source, expires_in = token.expires_in, "reddit token obtained");
        Ok(token.access_token)
    }

    fn query(names: &[&str]) -> String {
        names
            .iter()
            .map(|n| format!("\"{}\"", n.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    fn page_url(&self, scope: &Target, after: Option<&str>) -> String {
        let mut url = self.base();
        // The OAuth host serves `/search`; the public site wants the `.json` suffix.
        let json = if self.config.authenticated() {
            ""
        } else {
            ".json"
        };
        let leaf = match scope {
            Target::Search { .. } => format!("search{json}"),
            Target::Comments { subreddit } => format!("r/{subreddit}/comments{json}"),
        };
        let path = format!("{}/{leaf}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut pairs = url.query_pairs_mut();
            if let Target::Search { query, .. } = scope {
                pairs.append_pair("q", query);
                pairs.append_pair("sort", "new");
                pairs.append_pair("type", "link");
            }
            pairs.append_pair("limit", &self.config.limit.to_string());
            // Unescaped `&<>` in titles and bodies.
            pairs.append_pair("raw_json", "1");
            if let Some(a) = after {
                pairs.append_pair("after", a);
            }
        }
        url.to_string()
    }

    /// GET one page, with the bearer token when authenticated; a rejected token is renewed once.
    async fn get_page(
        &self,
        ctx: &PollContext,
        url: &str,
        quota: &mut Option<(i64, Option<Duration>)>,
    ) -> Result<Listing, SourceError> {
        let authed = self.config.authenticated();
        let mut renew = false;
        loop {
            let mut headers = vec![("User-Agent", self.user_agent.clone())];
            if authed {
                headers.push((
                    "Authorization",
                    format!("bearer {}", self.token(ctx, renew).await?),
                ));
            }
            let fetched = match ctx.http.get(url, &headers).await {
                Ok(f) => f,
                Err(e) if e.status() == Some(401) && authed && !renew => {
                    tracing::info!(source = %ctx.source, "reddit token rejected, requesting a new one");
                    renew = true;
                    continue;
                }
                Err(e) if matches!(e.status(), Some(401) | Some(403)) && !authed => {
                    return Err(SourceError::Auth(format!(
                        "reddit refused unauthenticated access (HTTP {}): create a \"script\" app at https://www.reddit.com/prefs/apps and set client_id = \"env:REDDIT_CLIENT_ID\" and client_secret = \"env:REDDIT_CLIENT_SECRET\"",
                        e.status().unwrap_or_default()
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(left) = fetched
                .header("x-ratelimit-remaining")
                .and_then(|v| v.trim().parse::<f64>().ok())
            {
                *quota = Some((left.floor() as i64, reset_after(&fetched)));
            }
            return match fetched.json::<Listing>() {
                Ok(l) => Ok(l),
                Err(parse) => match fetched.json::<ApiError>() {
                    // Some clients see the 429 body under HTTP 200.
                    Ok(err) if err.error.as_i64() == Some(429) => {
                        Err(SourceError::Fetch(FetchError::RateLimited {
                            url: fetched.url.clone(),
                            status: 429,
                            retry_after: reset_after(&fetched).unwrap_or(Duration::from_secs(60)),
                        }))
                    }
                    Ok(err) => Err(SourceError::Parse(format!(
                        "reddit answered an error: {} {}",
                        err.error,
                        err.message.unwrap_or_default()
                    ))),
                    Err(_) => Err(SourceError::Parse(parse)),
                },
            };
        }
    }
}

/// `X-Ratelimit-Reset` is the number of seconds until the window ends.
fn reset_after(fetched: &super::http::Fetched) -> Option<Duration> {
    fetched
        .header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn mention(ctx: &PollContext, scope: &Target, d: ThingData) -> Entry {
    let t = d.created_utc.floor() as i64;
    let Some(published_at) = DateTime::<Utc>::from_timestamp(t, 0) else {
        return Entry::dropped(ctx.now, d.name, Drop::Rejected("bad time"));
    };
    let title = d
        .title
        .as_deref()
        .map(normalize_whitespace)
        .unwrap_or_default();
    let body = d
        .selftext
        .as_deref()
        .or(d.body.as_deref())
        .map(normalize_whitespace)
        .unwrap_or_default();
    let text = join_title(title, body);
    if text.is_empty() {
        return Entry::dropped(published_at, d.name, Drop::Rejected("empty item"));
    }
    // Reddit search stems and matches words anywhere (also in URLs): re-check the text.
    // Comment listings are not searched at all: keep the ones naming any product.
    let products = ctx.matcher.products_in(&text);
    let keep = match scope {
        Target::Search { product, .. } => products.iter().any(|p| p == product),
        Target::Comments { .. } => !products.is_empty(),
    };
    if !keep {
        return Entry::dropped(published_at, d.name, Drop::Unmatched);
    }
    Entry::of(RawMention {
        url: d
            .permalink
            .as_deref()
            .map(|p| format!("https://www.reddit.com{p}")),
        author: d.author.filter(|a| !a.is_empty() && a != "[deleted]"),
        products,
        engagement: d.score,
        ..ctx.mention(d.name.clone(), published_at, text)
    })
}

impl Api for Reddit {
    type Scope = Target;

    const NAME: &'static str = "reddit";
    const ORDER: Order = Order::NewestFirst;

    async fn begin(&self, _ctx: &PollContext, out: &mut PollOutput) -> Result<(), SourceError> {
        if !self.config.authenticated() {
            out.warnings.push("reddit is polled without OAuth credentials; Reddit throttles or refuses such clients: set client_id and client_secret".into());
        }
        Ok(())
    }

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Target>> {
        let mut targets: Vec<Target> = ctx
            .products
            .iter()
            .map(|p| Target::Search {
                product: p.name.clone(),
                query: Self::query(&p.names().collect::<Vec<_>>()),
            })
            .collect();
        targets.extend(self.config.subreddits.iter().map(|s| Target::Comments {
            subreddit: subreddit_name(s).to_string(),
        }));
        targets
            .into_iter()
            .map(|t| Scope::new(t.key(), t))
            .collect()
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, Target>) -> Result<Page, Stop> {
        let target = req.scope;
        let mut quota = None;
        let listing = self
            .get_page(ctx, &self.page_url(target, req.token), &mut quota)
            .await?;
        let next = listing.data.after.filter(|a| !a.is_empty());
        let entries = listing
            .data
            .children
            .into_iter()
            .map(|thing| mention(ctx, target, thing.data))
            .collect();
        let mut page = Page::of(entries, next);
        if let Some((left, reset)) = quota {
            page.quota = Some(left);
            if left <= 0 {
                // Reddit's window resets after `x-ratelimit-reset` seconds: rest until then.
                let wait = reset.unwrap_or(Duration::from_secs(60));
                page.pause = Some((
                    ctx.now + chrono::Duration::from_std(wait).unwrap_or_default(),
                    "reddit request quota used up".to_string(),
                ));
            }
        }
        Ok(page)
    }
}
