//! Sending one request to a channel and classifying the answer: any 2xx is success; 429,
//! 5xx, 408, timeouts and connection errors are worth retrying (honouring `Retry-After`);
//! other 4xx and 3xx (redirects are not followed) are permanent. Channel URLs carry
//! credentials, so errors name only the host.

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// A successful delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// HTTP status, or the SMTP reply code.
    pub status: u16,
    /// Short answer text (body snippet or SMTP reply), for `pulse alerts test`.
    pub detail: String,
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    #[error("{reason}")]
    Retryable {
        reason: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
    },
    #[error("{reason}")]
    Permanent { reason: String, status: Option<u16> },
}

impl DeliveryError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliveryError::Retryable { .. })
    }
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Retryable { status, .. } | DeliveryError::Permanent { status, .. } => {
                *status
            }
        }
    }
}

/// The HTTP client for deliveries: no redirects (a 3xx is a failure), rustls.
pub fn http_client(user_agent: &str) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

/// `host[:port]` of a URL, for messages that must not show the secret path or query.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(invalid url)".into(),
    }
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The answer of a POST, before classification (Discord reads its own 429 body).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// Send a prepared request; map transport failures to retryable errors.
pub async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<Answer, DeliveryError> {
    let target = redact(url);
    let resp = req.timeout(timeout).send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "connection failed".to_string()
        } else {
            // reqwest errors include the URL: keep only the kind.
            "request failed".to_string()
        };
        DeliveryError::Retryable {
            reason: format!("POST to {target} {what}"),
            status: None,
            retry_after: None,
        }
    })?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    // Answers are small; cap what we keep anyway.
    let bytes = tokio::time::timeout(timeout, resp.bytes())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Classify an answer by status.
pub fn classify(a: Answer, url: &str) -> Result<Delivered, DeliveryError> {
    let target = redact(url);
    let snippet = super::message::truncate(a.body.trim(), 200);
    match a.status {
        200..=299 => Ok(Delivered {
            status: a.status,
            detail: snippet,
        }),
        429 | 408 | 500..=599 => Err(DeliveryError::Retryable {
            reason: format!("{target} answered HTTP {}: {snippet}", a.status),
            status: Some(a.status),
            retry_after: parse_retry_after(&a.headers),
        }),
        300..=399 => Err(DeliveryError::Permanent {
            reason: format!(
                "{target} answered HTTP {} (a redirect; deliveries do not follow redirects: configure the final URL)",
                a.status
            ),
            status: Some(a.status),
        }),
        _ => Err(DeliveryError::Permanent {
            reason: format!(
                "{target} answered HTTP {}: {snippet}; check the channel's URL and credentials",
                a.status
            ),
            status: Some(a.status),
        }),
    }
}

/// Back-off before attempt `attempt + 1` (attempt ≥ 1): doubling from `base`, capped at
/// `max`, with ±20 % jitter; a server's `Retry-After` is honoured when longer.
pub fn backoff(
    attempt: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = base.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let capped = exp.min(max.as_secs_f64());
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    let d = Duration::from_secs_f64(capped * jitter);
    match retry_after {
        Some(ra) => d.max(ra),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_path_and_query() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T1/B2/secret?x=1"),
            "https://hooks.slack.com"
        );
        assert_eq!(redact("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
    }

    #[test]
    fn backoff_is_capped_and_honours_retry_after() {
        let b = Duration::from_secs(5);
        let m = Duration::from_secs(600);
        assert!(backoff(1, b, m, None) <= Duration::from_secs(6));
        assert!(backoff(30, b, m, None) <= Duration::from_secs(720));
        assert!(backoff(1, b, m, Some(Duration::from_secs(64))) >= Duration::from_secs(64));
    }

    #[test]
    fn classification() {
        let a = |status| Answer {
            status,
            headers: HeaderMap::new(),
            body: "x".into(),
        };
        assert!(classify(a(202), "http://h/").is_ok());
        assert!(classify(a(503), "http://h/").unwrap_err().is_retryable());
        assert!(classify(a(429), "http://h/").unwrap_err().is_retryable());
        assert!(!classify(a(404), "http://h/").unwrap_err().is_retryable());
        assert!(!classify(a(302), "http://h/").unwrap_err().is_retryable());
    }
}
