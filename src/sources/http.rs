//! The one HTTP client every source shares: an honest User-Agent, a per-host rate limit,
//! a timeout and a body-size cap on every request, and retries with capped, jittered
//! exponential back-off that honour `Retry-After`.

use crate::config::HttpConfig;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a request failed after its retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("request to {url} timed out")]
    Timeout { url: String },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {snippet}")]
    Status {
        url: String,
        status: u16,
        snippet: String,
        retry_after: Option<Duration>,
        headers: Vec<(String, String)>,
    },
    #[error("{url} is rate limiting us (HTTP {status}); next try in {}s", retry_after.as_secs())]
    RateLimited {
        url: String,
        status: u16,
        retry_after: Duration,
    },
    #[error("response from {url} is larger than the {limit}-byte cap (http.max_body_bytes)")]
    TooLarge { url: String, limit: usize },
    #[error("request to {url} failed: {reason}")]
    Other { url: String, reason: String },
}

impl FetchError {
    /// Worth trying again within the same poll.
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. } | FetchError::Connect { .. } => true,
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } | FetchError::RateLimited { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// A successful (2xx) response, body fully read.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub url: String,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Parse the body as JSON, with a message that names the URL on failure.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "malformed JSON from {}: {e} (the API's format may have changed)",
                self.url
            )
        })
    }
}

/// Shared, cloneable HTTP client with per-host politeness.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    limiters: Arc<Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>>,
    config: Arc<HttpConfig>,
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Result<HttpClient, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .gzip(true)
            .build()
            .map_err(|e| FetchError::Other {
                url: String::new(),
                reason: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(HttpClient {
            client,
            limiters: Arc::default(),
            config: Arc::new(config.clone()),
        })
    }

    /// The underlying reqwest client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn limiter(&self, host: &str) -> Arc<DefaultDirectRateLimiter> {
        let mut map = self.limiters.lock().expect("limiter map poisoned");
        map.entry(host.to_string())
            .or_insert_with(|| {
                let rps = NonZeroU32::new(self.config.per_host_rps.max(1)).expect("non-zero");
                Arc::new(RateLimiter::direct(Quota::per_second(rps)))
            })
            .clone()
    }

    /// GET a URL with optional extra headers.
    pub async fn get(&self, url: &str, headers: &[(&str, String)]) -> Result<Fetched, FetchError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.send(|c| {
            let mut rb = c.get(url);
            for (k, v) in &headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            rb
        })
        .await
    }

    /// Send a request built by `build` (called again for every retry), politely.
    pub async fn send<F>(&self, build: F) -> Result<Fetched, FetchError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let max_wait = self.config.max_retry_wait;
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.config.max_retries);
        let attempt = || async { self.once(&build).await };
        let result = attempt
            .retry(backoff)
            .when(|e: &FetchError| e.is_transient() && e.retry_after().is_none_or(|d| d <= max_wait))
            .adjust(|e: &FetchError, dur| match e.retry_after() {
                Some(wait) => Some(wait),
                None => dur,
            })
            .notify(|e: &FetchError, dur| {
                tracing::warn!(error = %e, retry_in_ms = dur.as_millis() as u64, "request failed, retrying");
            })
            .await;
        match result {
            Err(FetchError::Status {
                url,
                status,
                retry_after: Some(wait),
                ..
            }) if status == 429 || status == 503 => Err(FetchError::RateLimited {
                url,
                status,
                retry_after: wait,
            }),
            other => other,
        }
    }

    async fn once<F>(&self, build: &F) -> Result<Fetched, FetchError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let request = build(&self.client).build().map_err(|e| FetchError::Other {
            url: String::new(),
            reason: e.to_string(),
        })?;
        let url = redact(request.url());
        if let Some(host) = request.url().host_str() {
            let key = match request.url().port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            };
            self.limiter(&key).until_ready().await;
        }
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| classify(&url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, self.config.max_body_bytes, &url).await?;
        // 304 answers a conditional GET: a success with nothing new.
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                status,
                headers,
                body,
                url,
            });
        }
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .or_else(|| (status.as_u16() == 429).then(|| Duration::from_secs(5)));
        let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        Err(FetchError::Status {
            url,
            status: status.as_u16(),
            snippet: snippet.trim().to_string(),
            retry_after,
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                .collect(),
        })
    }
}

async fn read_capped(
    response: reqwest::Response,
    limit: usize,
    url: &str,
) -> Result<Bytes, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > limit)
    {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    let mut stream = response.bytes_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(url, e))?;
        if buf.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn classify(url: &str, e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout {
            url: url.to_string(),
        }
    } else if e.is_connect() {
        FetchError::Connect {
            url: url.to_string(),
            reason: e.without_url().to_string(),
        }
    } else if e.is_body() || e.is_decode() {
        // A connection cut mid-body is as transient as a timeout.
        FetchError::Timeout {
            url: url.to_string(),
        }
    } else {
        FetchError::Other {
            url: url.to_string(),
            reason: e.without_url().to_string(),
        }
    }
}

/// URL without its query string's secrets: tokens and keys never reach the logs.
pub fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            if [
                "key",
                "token",
                "access_token",
                "client_secret",
                "sig",
                "api_key",
            ]
            .contains(&lower.as_str())
            {
                (k.into_owned(), "***".to_string())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    if !pairs.is_empty() {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// `Retry-After` as delta-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn redacts_tokens() {
        let u = url::Url::parse("https://x.test/a?q=rust&key=abc&access_token=t").unwrap();
        let r = redact(&u);
        assert!(r.contains("q=rust"));
        assert!(!r.contains("abc") && !r.contains("=t"));
    }
}
