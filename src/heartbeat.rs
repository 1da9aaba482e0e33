//! Dead-man's switch: while the daemon runs it pings `[health] heartbeat_url` every
//! `heartbeat_interval` (the healthchecks.io / Alertmanager Watchdog pattern), so the
//! receiving side notices when the pings stop — a crashed daemon, a dead host, a broken
//! network — which no alert from Pulse itself could report. A failed ping is logged and
//! retried on the next interval; it never stops the daemon.

use crate::alert::delivery::redact;
use crate::health::{HealthConfig, HeartbeatMethod};
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Errors of one ping.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("cannot build the heartbeat HTTP client: {0}")]
    Client(String),
    #[error("heartbeat ping to {target} failed: {reason}; check `[health] heartbeat_url` and the network")]
    Request { target: String, reason: String },
    #[error("heartbeat ping to {target} answered HTTP {status}; check `[health] heartbeat_url`")]
    Status { target: String, status: u16 },
}

/// What the pinger needs, taken from `[health]`.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    url: String,
    method: HeartbeatMethod,
    interval: Duration,
    client: reqwest::Client,
}

impl Heartbeat {
    /// `None` when no `heartbeat_url` is configured.
    pub fn new(cfg: &HealthConfig, user_agent: &str) -> Result<Option<Heartbeat>, HeartbeatError> {
        let Some(url) = &cfg.heartbeat_url else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .user_agent(user_agent.to_string())
            .timeout(cfg.heartbeat_timeout)
            .connect_timeout(cfg.heartbeat_timeout)
            .build()
            .map_err(|e| HeartbeatError::Client(e.to_string()))?;
        Ok(Some(Heartbeat {
            url: url.expose().to_string(),
            method: cfg.heartbeat_method,
            interval: cfg.heartbeat_interval,
            client,
        }))
    }

    /// One ping; the HTTP status on a 2xx answer.
    pub async fn ping(&self) -> Result<u16, HeartbeatError> {
        // The URL is the check's credential (healthchecks.io UUIDs): only its host is shown.
        let target = redact(&self.url);
        let req = match self.method {
            HeartbeatMethod::Get => self.client.get(&self.url),
            HeartbeatMethod::Post => self
                .client
                .post(&self.url)
                .header("content-type", "text/plain; charset=utf-8")
                .body(format!(
                    "pulse {} is running (pid {})",
                    env!("CARGO_PKG_VERSION"),
                    std::process::id()
                )),
        };
        let resp = req.send().await.map_err(|e| HeartbeatError::Request {
            target: target.clone(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "cannot connect".into()
            } else {
                "request failed".into()
            },
        })?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            Ok(status)
        } else {
            Err(HeartbeatError::Status { target, status })
        }
    }

    /// Ping at once, then every interval, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let target = redact(&self.url);
        tracing::info!(target = %target, every = %humantime::format_duration(self.interval), "heartbeat started");
        let mut failing = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.ping() => r,
            };
            match result {
                Ok(status) => {
                    if failing {
                        tracing::info!(target = %target, status, "heartbeat ping works again");
                    } else {
                        tracing::debug!(target = %target, status, "heartbeat ping sent");
                    }
                    failing = false;
                }
                Err(e) => {
                    failing = true;
                    tracing::warn!(error = %e, "heartbeat ping failed; will try again next interval");
                }
            }
        }
        tracing::info!("heartbeat stopped");
    }
}

/// Start the heartbeat as a daemon task when `[health] heartbeat_url` is set.
pub fn spawn(
    config: &crate::config::Config,
    tracker: &tokio_util::task::TaskTracker,
    shutdown: &CancellationToken,
) {
    match Heartbeat::new(&config.health, &config.http.user_agent) {
        Ok(Some(h)) => {
            tracker.spawn(h.run(shutdown.clone()));
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "heartbeat not started"),
    }
}
