//! Bluesky posts that name a product, from `app.bsky.feed.searchPosts` on an authenticated
//! API host. Anonymous search has been refused since 2025, so the source logs in with an
//! app password (`com.atproto.server.createSession`), keeps the session for as long as the
//! source lives and renews it with `refreshSession`: logins are limited to 30 per 5 minutes
//! and 300 a day per account, so it never logs in on every poll.

use super::scaffold::{name_scopes, Api, Drop, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::normalize_whitespace;
use super::{FetchError, PollContext, PollOutput, SourceError};
use crate::config::Secret;
use crate::model::RawMention;
use base64::Engine;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;
use std::sync::Mutex;

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
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://bsky.social").expect("valid default")
}

impl BlueskyConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        super::validate::paired(
            ("identifier", self.identifier.is_some()),
            ("app_password", self.app_password.is_some()),
            "add your handle, e.g. identifier = \"you.bsky.social\"",
            "add app_password = \"env:BLUESKY_APP_PASSWORD\"",
        )
        .into_iter()
        .collect()
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

pub struct Bluesky {
    config: BlueskyConfig,
    session: Mutex<Option<Session>>,
    /// The access token this poll uses: taken once at its start (a session whose expiry
    /// cannot be read would otherwise log in again for every page).
    token: Mutex<Option<String>>,
}

impl Bluesky {
    pub fn new(config: BlueskyConfig) -> Bluesky {
        Bluesky {
            config,
            session: Mutex::new(None),
            token: Mutex::new(None),
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

    fn search_url(&self, req: &PageRequest<'_, String>) -> String {
        let query = req.scope;
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
                .append_pair("limit", &PAGE_LIMIT.to_string());
            if let Some(since) = req.floor {
                q.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
            }
            if let Some(lang) = &self.config.lang {
                q.append_pair("lang", lang);
            }
            if let Some(c) = req.token {
                q.append_pair("cursor", c);
            }
        }
        u.to_string()
    }

    /// One page of a search; an access token that died early (revoked, clock skew) is
    /// renewed once.
    async fn search(&self, ctx: &PollContext, req: &PageRequest<'_, String>) -> Result<Page, Stop> {
        let url = self.search_url(req);
        let mut renewed = false;
        let fetched = loop {
            let cached = self.token.lock().expect("token lock poisoned").clone();
            let token = match cached.filter(|_| !renewed) {
                Some(t) => t,
                None => {
                    let t = self.access_token(ctx, renewed).await?;
                    *self.token.lock().expect("token lock poisoned") = Some(t.clone());
                    t
                }
            };
            match ctx
                .http
                .get(&url, &[("Authorization", format!("Bearer {token}"))])
                .await
            {
                Ok(f) => break f,
                Err(FetchError::Status {
                    status, snippet, ..
                }) if status == 401 || (status == 400 && snippet.contains("ExpiredToken")) => {
                    if renewed {
                        return Err(Stop::Failed(SourceError::Auth(
                            "bluesky refused a freshly renewed session: check the account's status"
                                .into(),
                        )));
                    }
                    renewed = true;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let quota = fetched
            .header("ratelimit-remaining")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let resp: SearchResponse = fetched.json().map_err(SourceError::Parse)?;
        let entries = resp.posts.into_iter().map(|p| mention(ctx, p)).collect();
        let mut page = Page::of(entries, resp.cursor.filter(|c| !c.is_empty()));
        page.quota = quota;
        Ok(page)
    }
}

impl Api for Bluesky {
    type Scope = String;

    const ORDER: Order = Order::NewestFirst;

    async fn begin(&self, ctx: &PollContext, _out: &mut PollOutput) -> Result<(), SourceError> {
        self.credentials()?;
        let token = self.access_token(ctx, false).await?;
        *self.token.lock().expect("token lock poisoned") = Some(token);
        Ok(())
    }

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<String>> {
        name_scopes(ctx)
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, String>) -> Result<Page, Stop> {
        self.search(ctx, req).await
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

/// A post view as a mention, at its sort time (what `since` compares against).
fn mention(ctx: &PollContext, post: PostView) -> Entry {
    let text = post
        .record
        .get("text")
        .and_then(|t| t.as_str())
        .map(normalize_whitespace)
        .unwrap_or_default();
    let created = post
        .record
        .get("createdAt")
        .and_then(|v| v.as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    // `createdAt` is set by the client and can lie (far future); the AppView sorts by the
    // earlier of it and the server's `indexedAt`.
    let sort_at = created.map_or(post.indexed_at, |c| c.min(post.indexed_at));
    if text.is_empty() {
        return Entry::dropped(sort_at, post.uri, Drop::Rejected("no text"));
    }
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
    Entry::of(RawMention {
        url: Some(format!("https://bsky.app/profile/{profile}/post/{rkey}")),
        author: Some(profile),
        language,
        engagement: post.like_count,
        ..ctx.mention(post.uri, sort_at, text)
    })
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
