//! Bluesky posts that name a product, from `app.bsky.feed.searchPosts` on an authenticated
//! API host. Anonymous search has been refused since 2025, so the source logs in with an
//! app password (`com.atproto.server.createSession`), keeps the session for as long as the
//! source lives and renews it with `refreshSession`: logins are limited to 30 per 5 minutes
//! and 300 a day per account, so it never logs in on every poll.

use super::text::normalize_whitespace;
use super::{FetchError, PollContext, PollOutput, Source, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use base64::Engine;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

const PAGE_LIMIT: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    /// Authenticated API host (your PDS or the `bsky.social` entryway); tests point it at
    /// a local server.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Account handle, DID or email.
    #[serde(default)]
    pub identifier: Option<String>,
    /// An app password (Settings → Privacy and security → App passwords), e.g.
    /// `"env:BLUESKY_APP_PASSWORD"`; never the account password.
    #[serde(default)]
    pub app_password: Option<Secret>,
    /// Only posts in this language (BCP-47, e.g. `en`).
    #[serde(default)]
    pub lang: Option<String>,
    /// How far back the first poll of a query looks.
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub lookback: Duration,
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://bsky.social").expect("valid default")
}
fn default_lookback() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl BlueskyConfig {
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
        match (&self.identifier, &self.app_password) {
            (Some(_), None) => out.push((
                "app_password".into(),
                "`identifier` is set but `app_password` is not: add app_password = \"env:BLUESKY_APP_PASSWORD\"".into(),
            )),
            (None, Some(_)) => out.push((
                "identifier".into(),
                "`app_password` is set but `identifier` is not: add your handle, e.g. identifier = \"you.bsky.social\"".into(),
            )),
            _ => {}
        }
        out
    }
}

/// `createSession` / `refreshSession` answer (fields we use).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    access_jwt: String,
    refresh_jwt: String,
    #[serde(default)]
    handle: Option<String>,
}

#[derive(Debug, Clone)]
struct Session {
    access: String,
    refresh: String,
    access_expires: DateTime<Utc>,
    refresh_expires: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    #[serde(default)]
    cursor: Option<String>,
    posts: Vec<PostView>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: Author,
    /// Typed `unknown` in the lexicon: parsed defensively.
    record: serde_json::Value,
    indexed_at: DateTime<Utc>,
    #[serde(default)]
    like_count: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Author {
    did: String,
    #[serde(default)]
    handle: Option<String>,
}

/// Where one query stopped: the newest sort time seen and the posts seen at that instant
/// (`since` is inclusive).
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    since: DateTime<Utc>,
    #[serde(default)]
    uris: Vec<String>,
}

pub struct Bluesky {
    config: BlueskyConfig,
    session: Mutex<Option<Session>>,
}

/// Why a query's search failed.
enum SearchError {
    /// The access token expired or was refused: renew the session and try once more.
    Expired,
    Other(SourceError),
}

impl Bluesky {
    pub fn new(config: BlueskyConfig) -> Bluesky {
        Bluesky {
            config,
            session: Mutex::new(None),
        }
    }

    fn xrpc(&self, method: &str) -> url::Url {
        let mut u = self.config.base_url.clone();
        u.set_path(&format!("{}/xrpc/{method}", u.path().trim_end_matches('/')));
        u
    }

    fn credentials(&self) -> Result<(&str, &Secret), SourceError> {
        match (&self.config.identifier, &self.config.app_password) {
            (Some(id), Some(pw)) => Ok((id.as_str(), pw)),
            _ => Err(SourceError::Config(
                "bluesky search needs an account: set `identifier` (your handle) and `app_password = \"env:BLUESKY_APP_PASSWORD\"` (create one under Settings → App passwords)".into(),
            )),
        }
    }

    /// A usable access token: the cached one, a refreshed one, or a new login.
    async fn access_token(
        &self,
        ctx: &PollContext,
        force_renew: bool,
    ) -> Result<String, SourceError> {
        let cached = self.session.lock().expect("session lock poisoned").clone();
        if let Some(s) = &cached {
            if !force_renew && s.access_expires > ctx.now + ChronoDuration::seconds(60) {
                return Ok(s.access.clone());
            }
            if s.refresh_expires > ctx.now {
                match self.refresh(ctx, &s.refresh).await {
                    Ok(fresh) => return Ok(self.store(fresh)),
                    Err(e) => {
                        tracing::info!(source = %ctx.source, error = %e, "bluesky session refresh failed; logging in again");
                    }
                }
            }
        }
        let fresh = self.login(ctx).await?;
        Ok(self.store(fresh))
    }

    fn store(&self, s: Session) -> String {
        let access = s.access.clone();
        *self.session.lock().expect("session lock poisoned") = Some(s);
        access
    }

    async fn login(&self, ctx: &PollContext) -> Result<Session, SourceError> {
        let (identifier, password) = self.credentials()?;
        let url = self.xrpc("com.atproto.server.createSession");
        let body = serde_json::json!({"identifier": identifier, "password": password.expose()});
        let fetched = ctx
            .http
            .send(|c| c.post(url.clone()).json(&body))
            .await
            .map_err(|e| match e {
                FetchError::Status {
                    status: 400 | 401,
                    snippet,
                    ..
                } => SourceError::Auth(format!(
                    "bluesky refused the login for `{identifier}` ({snippet}): check `identifier` and `app_password`"
                )),
                other => SourceError::Fetch(other),
            })?;
        let resp: SessionResponse = fetched.json().map_err(SourceError::Parse)?;
        tracing::info!(source = %ctx.source, handle = resp.handle.as_deref().unwrap_or(identifier), "logged in to bluesky");
        Ok(session_from(resp, ctx.now))
    }

    async fn refresh(&self, ctx: &PollContext, refresh: &str) -> Result<Session, SourceError> {
        let url = self.xrpc("com.atproto.server.refreshSession");
        let bearer = format!("Bearer {refresh}");
        let fetched = ctx
            .http
            .send(|c| c.post(url.clone()).header("Authorization", bearer.as_str()))
            .await?;
        let resp: SessionResponse = fetched.json().map_err(SourceError::Parse)?;
        Ok(session_from(resp, ctx.now))
    }

    fn search_url(&self, query: &str, since: DateTime<Utc>, cursor: Option<&str>) -> String {
        let mut u = self.xrpc("app.bsky.feed.searchPosts");
        {
            let mut q = u.query_pairs_mut();
            // A name with spaces is searched as a phrase.
            let term = if query.contains(char::is_whitespace) {
                format!("\"{}\"", query.replace('"', ""))
            } else {
                query.to_string()
            };
            q.append_pair("q", &term)
                .append_pair("sort", "latest")
                .append_pair("limit", &PAGE_LIMIT.to_string())
                .append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
            if let Some(lang) = &self.config.lang {
                q.append_pair("lang", lang);
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        u.to_string()
    }

    /// One query, newest first, following `cursor` until it runs out or reaches the old
    /// cursor time.
    async fn poll_scope(
        &self,
        ctx: &PollContext,
        query: &str,
        token: &str,
        out: &mut PollOutput,
    ) -> Result<String, SearchError> {
        let cursor: Cursor = ctx
            .cursors
            .get(query)
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| Cursor {
                since: ctx.now
                    - ChronoDuration::from_std(self.config.lookback)
                        .unwrap_or_else(|_| ChronoDuration::days(1)),
                uris: Vec::new(),
            });
        let bearer = format!("Bearer {token}");
        let mut newest = cursor.since;
        let mut uris_at_newest = cursor.uris.clone();
        let mut mentions = Vec::new();
        let mut page_cursor: Option<String> = None;
        for page in 1..=ctx.max_pages.max(1) {
            let url = self.search_url(query, cursor.since, page_cursor.as_deref());
            let fetched = match ctx
                .http
                .get(&url, &[("Authorization", bearer.clone())])
                .await
            {
                Ok(f) => f,
                Err(FetchError::Status {
                    status, snippet, ..
                }) if status == 401 || (status == 400 && snippet.contains("ExpiredToken")) => {
                    return Err(SearchError::Expired)
                }
                Err(e) => return Err(SearchError::Other(SourceError::Fetch(e))),
            };
            if let Some(r) = fetched
                .header("ratelimit-remaining")
                .and_then(|v| v.trim().parse::<i64>().ok())
            {
                out.quota_remaining = Some(out.quota_remaining.map_or(r, |o: i64| o.min(r)));
            }
            let resp: SearchResponse = fetched
                .json()
                .map_err(|e| SearchError::Other(SourceError::Parse(e)))?;
            let mut reached_old = false;
            let count = resp.posts.len();
            for post in resp.posts {
                let Some((m, sort_at)) = mention(ctx, post) else {
                    continue;
                };
                if sort_at < cursor.since
                    || (sort_at == cursor.since && cursor.uris.contains(&m.id))
                {
                    reached_old = true;
                    continue;
                }
                if sort_at > newest {
                    newest = sort_at;
                    uris_at_newest.clear();
                }
                if sort_at == newest && !uris_at_newest.contains(&m.id) {
                    uris_at_newest.push(m.id.clone());
                }
                if !mentions.iter().any(|x: &RawMention| x.id == m.id) {
                    mentions.push(m);
                }
            }
            page_cursor = resp.cursor.filter(|c| !c.is_empty());
            if count == 0 || reached_old || page_cursor.is_none() {
                break;
            }
            if page == ctx.max_pages.max(1) {
                // Newest first cannot resume in the middle: say so rather than skip silently.
                out.warnings.push(format!(
                    "bluesky search for `{query}` has more than {page} pages of new posts; older ones were skipped (raise max pages or poll more often)"
                ));
            }
        }
        out.mentions.extend(mentions);
        Ok(serde_json::to_string(&Cursor {
            since: newest,
            uris: uris_at_newest,
        })
        .unwrap_or_default())
    }
}

#[async_trait::async_trait]
impl Source for Bluesky {
    async fn poll(&self, ctx: &PollContext) -> Result<PollOutput, SourceError> {
        self.credentials()?;
        let mut token = self.access_token(ctx, false).await?;
        let mut out = PollOutput::default();
        let queries = queries(ctx);
        let (mut failed, mut last_err) = (0, None);
        for query in &queries {
            let mut result = self.poll_scope(ctx, query, &token, &mut out).await;
            if matches!(result, Err(SearchError::Expired)) {
                // The access token died early (revoked, clock skew): renew once and retry.
                token = self.access_token(ctx, true).await?;
                result = self.poll_scope(ctx, query, &token, &mut out).await;
            }
            match result {
                Ok(c) => out.cursors.push((query.clone(), c)),
                Err(e) => {
                    let e = match e {
                        SearchError::Expired => SourceError::Auth(
                            "bluesky refused a freshly renewed session: check the account's status"
                                .into(),
                        ),
                        SearchError::Other(e) => e,
                    };
                    tracing::warn!(source = %ctx.source, query = %query, error = %e, "bluesky search failed");
                    out.errors.push(format!("{query}: {e}"));
                    failed += 1;
                    let rate_limited =
                        matches!(e, SourceError::Fetch(FetchError::RateLimited { .. }));
                    last_err = Some(e);
                    if rate_limited {
                        // Every query goes to the same host: do not keep knocking.
                        break;
                    }
                }
            }
        }
        // Every attempted query failed (a rate limit stops the rest): the poll failed.
        if failed > 0 && out.cursors.is_empty() {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
        // A post found under two names (or on two pages) is reported once.
        let mut ids = std::collections::HashSet::new();
        out.mentions.retain(|m| ids.insert(m.id.clone()));
        Ok(out)
    }
}

fn session_from(resp: SessionResponse, now: DateTime<Utc>) -> Session {
    // PDS defaults: access tokens live 2 hours, refresh tokens 90 days; the JWT's own `exp`
    // wins when it can be read.
    Session {
        access_expires: jwt_expiry(&resp.access_jwt).unwrap_or(now + ChronoDuration::minutes(110)),
        refresh_expires: jwt_expiry(&resp.refresh_jwt).unwrap_or(now + ChronoDuration::days(80)),
        access: resp.access_jwt,
        refresh: resp.refresh_jwt,
    }
}

/// The `exp` claim of a JWT (not verified: only used to decide when to renew).
fn jwt_expiry(jwt: &str) -> Option<DateTime<Utc>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Utc.timestamp_opt(claims.get("exp")?.as_i64()?, 0).single()
}

/// A post view as a mention, with its sort time (what `since` compares against).
fn mention(ctx: &PollContext, post: PostView) -> Option<(RawMention, DateTime<Utc>)> {
    let text = normalize_whitespace(post.record.get("text")?.as_str()?);
    if text.is_empty() {
        return None;
    }
    let created = post
        .record
        .get("createdAt")
        .and_then(|v| v.as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    // `createdAt` is set by the client and can lie (far future); the AppView sorts by the
    // earlier of it and the server's `indexedAt`.
    let sort_at = created.map_or(post.indexed_at, |c| c.min(post.indexed_at));
    let language = post
        .record
        .get("langs")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let rkey = post.uri.rsplit('/').next().unwrap_or_default().to_string();
    let profile = post
        .author
        .handle
        .clone()
        .unwrap_or(post.author.did.clone());
    Some((
        RawMention {
            source: ctx.source.clone(),
            url: Some(format!("https://bsky.app/profile/{profile}/post/{rkey}")),
            id: post.uri,
            author: Some(profile),
            published_at: sort_at,
            text,
            language,
            engagement: post.like_count,
            products: Vec::new(),
        },
        sort_at,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jwt_expiry() {
        // {"alg":"HS256"} . {"scope":"com.atproto.appPass","sub":"did:plc:x","exp":1714575900}
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFwcFBhc3MiLCJzdWIiOiJkaWQ6cGxjOngiLCJleHAiOjE3MTQ1NzU5MDB9.c2ln";
        assert_eq!(jwt_expiry(jwt).unwrap().timestamp(), 1714575900);
        assert_eq!(jwt_expiry("not-a-jwt"), None);
    }

    #[test]
    fn config_pairs_credentials() {
        let c: BlueskyConfig = toml::from_str("identifier = \"a.bsky.social\"").unwrap();
        assert_eq!(c.validate()[0].0, "app_password");
        let c: BlueskyConfig = toml::from_str("").unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.base_url.as_str(), "https://bsky.social/");
        assert!(toml::from_str::<BlueskyConfig>("password = \"x\"").is_err());
    }
}
