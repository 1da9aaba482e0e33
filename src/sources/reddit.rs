//! Reddit post search (`sort=new`) through the Data API. With `client_id`/`client_secret`
//! it uses the application-only OAuth flow and the OAuth host (`/search`); without them it
//! tries the public `/search.json`, which Reddit throttles or refuses, and says so clearly.
//! Comments cannot be searched through the API: subreddits listed in `subreddits` have their
//! newest comments read and matched instead. Every request carries the User-Agent form Reddit requires:
//! `<platform>:<app ID>:<version> (by /u/<username>)`.

use super::http::FetchError;
use super::text::normalize_whitespace;
use super::{PollContext, PollOutput, Source, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
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
        for (key, url) in [
            ("base_url", self.base_url.as_ref()),
            ("auth_url", Some(&self.auth_url)),
        ] {
            if let Some(u) = url {
                if !matches!(u.scheme(), "http" | "https") {
                    problems.push((
                        key.to_string(),
                        format!("unsupported scheme `{}`: use http or https", u.scheme()),
                    ));
                }
            }
        }
        match (&self.client_id, &self.client_secret) {
            (Some(_), None) => problems.push((
                "client_secret".into(),
                "client_id is set but client_secret is not: set both (e.g. client_secret = \"env:REDDIT_CLIENT_SECRET\")".into(),
            )),
            (None, Some(_)) => problems.push((
                "client_id".into(),
                "client_secret is set but client_id is not: set both (e.g. client_id = \"env:REDDIT_CLIENT_ID\")".into(),
            )),
            _ => {}
        }
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
        if !(1..=100).contains(&self.limit) {
            problems.push(("limit".into(), "limit must be between 1 and 100".into()));
        }
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

/// Where one product's search stopped: newest `created_utc` second and the fullnames seen in it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Cursor {
    t: i64,
    ids: Vec<String>,
}

impl Cursor {
    fn seen(&self, t: i64, id: &str) -> bool {
        t < self.t || (t == self.t && self.ids.iter().any(|i| i == id))
    }
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

/// One thing polled per poll, with its own cursor.
enum Scope<'a> {
    /// Post search for a product's names.
    Search { product: &'a str, query: String },
    /// The newest comments of a subreddit, matched against every product.
    Comments { subreddit: &'a str },
}

impl Scope<'_> {
    /// Cursor key, also used in messages.
    fn key(&self) -> String {
        match self {
            Scope::Search { product, .. } => product.to_string(),
            Scope::Comments { subreddit } => format!("r/{subreddit} comments"),
        }
    }
}

struct ScopeResult {
    mentions: Vec<RawMention>,
    cursor: Option<Cursor>,
    truncated: bool,
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

    fn page_url(&self, scope: &Scope<'_>, after: Option<&str>) -> String {
        let mut url = self.base();
        // The OAuth host serves `/search`; the public site wants the `.json` suffix.
        let json = if self.config.authenticated() {
            ""
        } else {
            ".json"
        };
        let leaf = match scope {
            Scope::Search { .. } => format!("search{json}"),
            Scope::Comments { subreddit } => format!("r/{subreddit}/comments{json}"),
        };
        let path = format!("{}/{leaf}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut pairs = url.query_pairs_mut();
            if let Scope::Search { query, .. } = scope {
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
        quota: &mut Option<i64>,
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
                *quota = Some(left.floor() as i64);
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

    async fn poll_scope(
        &self,
        ctx: &PollContext,
        scope: &Scope<'_>,
        seen_ids: &mut HashSet<String>,
        quota: &mut Option<i64>,
    ) -> Result<ScopeResult, SourceError> {
        let key = scope.key();
        let old: Option<Cursor> = ctx
            .cursors
            .get(&key)
            .and_then(|c| serde_json::from_str(c).ok());
        let mut cursor = old.clone().unwrap_or_default();
        let mut fetched_any = false;
        let mut mentions = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0usize;
        let mut truncated = false;
        loop {
            let listing = self
                .get_page(ctx, &self.page_url(scope, after.as_deref()), quota)
                .await?;
            pages += 1;
            let mut reached_cursor = false;
            for thing in &listing.data.children {
                let d = &thing.data;
                let t = d.created_utc.floor() as i64;
                if old.as_ref().is_some_and(|c| c.seen(t, &d.name)) {
                    // Newest first: everything after this was fetched by an earlier poll.
                    reached_cursor = true;
                    break;
                }
                fetched_any = true;
                cursor.advance(t, &d.name);
                if let Some(m) = mention(ctx, scope, d) {
                    if seen_ids.insert(m.id.clone()) {
                        mentions.push(m);
                    }
                }
            }
            after = listing.data.after.filter(|a| !a.is_empty());
            if reached_cursor || after.is_none() || old.is_none() {
                break;
            }
            if pages >= ctx.max_pages.max(1) {
                truncated = true;
                break;
            }
        }
        tracing::debug!(source = %ctx.source, scope = %key, pages, kept = mentions.len(), "reddit listing done");
        Ok(ScopeResult {
            mentions,
            cursor: fetched_any.then_some(cursor),
            truncated,
        })
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

fn mention(ctx: &PollContext, scope: &Scope<'_>, d: &ThingData) -> Option<RawMention> {
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
    let text = match (title.is_empty(), body.is_empty()) {
        (false, false) => format!("{title}. {body}"),
        (false, true) => title,
        (true, _) => body,
    };
    // Reddit search stems and matches words anywhere (also in URLs): re-check the text.
    // Comment listings are not searched at all: keep the ones naming any product.
    let products = ctx.matcher.products_in(&text);
    let keep = match scope {
        Scope::Search { product, .. } => products.iter().any(|p| p == product),
        Scope::Comments { .. } => !products.is_empty(),
    };
    if text.is_empty() || !keep {
        return None;
    }
    let published_at = DateTime::<Utc>::from_timestamp(d.created_utc.floor() as i64, 0)?;
    Some(RawMention {
        source: ctx.source.clone(),
        id: d.name.clone(),
        url: d
            .permalink
            .as_deref()
            .map(|p| format!("https://www.reddit.com{p}")),
        author: d
            .author
            .clone()
            .filter(|a| !a.is_empty() && a != "[deleted]"),
        published_at,
        products,
        text,
        language: None,
        engagement: d.score,
    })
}

#[async_trait::async_trait]
impl Source for Reddit {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        let mut out = PollOutput::default();
        if !self.config.authenticated() {
            out.warnings.push("reddit is polled without OAuth credentials; Reddit throttles or refuses such clients: set client_id and client_secret".into());
        }
        let mut seen_ids = HashSet::new();
        let mut last_err = None;
        let mut quota = None;
        let mut attempted = 0;
        let mut scopes: Vec<Scope<'_>> = ctx
            .products
            .iter()
            .map(|p| Scope::Search {
                product: &p.name,
                query: Self::query(&p.names().collect::<Vec<_>>()),
            })
            .collect();
        scopes.extend(self.config.subreddits.iter().map(|s| Scope::Comments {
            subreddit: subreddit_name(s),
        }));
        for scope in &scopes {
            let key = scope.key();
            if quota.is_some_and(|q: i64| q <= 0) {
                out.warnings.push(format!(
                    "reddit request quota used up; {key:?} waits for the next poll"
                ));
                continue;
            }
            attempted += 1;
            match self.poll_scope(ctx, scope, &mut seen_ids, &mut quota).await {
                Ok(r) => {
                    out.mentions.extend(r.mentions);
                    if let Some(c) = r.cursor {
                        out.cursors.push((
                            key.clone(),
                            serde_json::to_string(&c).expect("cursor serialises"),
                        ));
                    }
                    if r.truncated {
                        out.warnings.push(format!(
                            "{key:?}: more than {} pages of new items; older ones were skipped (poll more often)",
                            ctx.max_pages
                        ));
                    }
                }
                Err(e) => {
                    tracing::warn!(source = %ctx.source, scope = %key, error = %e, "reddit poll failed");
                    out.errors.push(format!("{key:?}: {e}"));
                    // Bad credentials or a spent quota fail every scope the same way: stop here.
                    let fatal = matches!(
                        e,
                        SourceError::Auth(_)
                            | SourceError::Config(_)
                            | SourceError::Fetch(FetchError::RateLimited { .. })
                    );
                    last_err = Some(e);
                    if fatal {
                        break;
                    }
                }
            }
        }
        out.quota_remaining = quota;
        if attempted > 0 && out.errors.len() == attempted {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
        Ok(out)
    }
}
