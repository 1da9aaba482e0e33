//! The daemon: a scheduler polls every source on its own interval (with jitter), pushes
//! mentions through the pipeline, serves the loopback API, and shuts down cleanly on
//! SIGINT/SIGTERM (stop polling, drain within a bound, flush the store).

use crate::api::{self, ApiState};
use crate::config::{Config, SourceEntry};
use crate::pipeline::{IngestReport, Pipeline};
use crate::sources::{HttpClient, PollContext, Source};
use crate::store::{SourceStatus, Store, StoreError};
use anyhow::Context;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long in-flight work may take to finish after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);
/// Most pages a source fetches per scope in one poll.
const MAX_PAGES: usize = 5;

/// Written next to the store while a daemon holds it, so the CLI knows where to ask.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DaemonInfo {
    pub pid: u32,
    pub api: String,
    pub started_at: DateTime<Utc>,
}

impl DaemonInfo {
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".daemon.json");
        store.with_file_name(name)
    }

    /// The running daemon for this store, if its pid is alive.
    pub fn read(store: &Path) -> Option<DaemonInfo> {
        let text = std::fs::read_to_string(Self::path_for(store)).ok()?;
        let info: DaemonInfo = serde_json::from_str(&text).ok()?;
        pid_alive(info.pid).then_some(info)
    }

    fn write(&self, store: &Path) -> std::io::Result<()> {
        let path = Self::path_for(store);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, path)
    }
}

fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks existence without sending anything.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// A source ready to poll.
pub struct SourceRuntime {
    pub entry: SourceEntry,
    pub source: Box<dyn Source>,
}

/// Result of polling one source once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollSummary {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub fetched: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub unmatched: usize,
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

pub fn build_sources(config: &Config) -> anyhow::Result<Vec<SourceRuntime>> {
    config
        .sources
        .iter()
        .map(|entry| {
            let source = entry
                .kind
                .build()
                .with_context(|| format!("cannot set up source `{}`", entry.name))?;
            Ok(SourceRuntime {
                entry: entry.clone(),
                source,
            })
        })
        .collect()
}

/// Poll one source once: fetch, ingest durably, then save cursors and status.
pub async fn poll_source(
    rt: &SourceRuntime,
    pipeline: &Pipeline,
    http: &HttpClient,
    poll_timeout: Duration,
) -> PollSummary {
    let poll_started = std::time::Instant::now();
    let name = rt.entry.name.clone();
    let kind = rt.entry.kind.type_name();
    let mut summary = PollSummary {
        source: name.clone(),
        kind: kind.to_string(),
        ..Default::default()
    };
    let store = pipeline.store.clone();
    let mut status = store
        .source_status(&name)
        .ok()
        .flatten()
        .unwrap_or_else(|| SourceStatus {
            source: name.clone(),
            kind: kind.to_string(),
            ..Default::default()
        });
    let now = Utc::now();
    status.last_poll = Some(now);
    status.polls += 1;
    let cursors = match store.cursors(&name) {
        Ok(c) => c,
        Err(e) => {
            summary.error = Some(format!("cannot read cursors: {e}"));
            return summary;
        }
    };
    let ctx = PollContext {
        source: name.clone(),
        http: http.clone(),
        products: pipeline.products.clone(),
        matcher: pipeline.matcher.clone(),
        cursors,
        now,
        max_pages: MAX_PAGES,
    };
    let outcome = match tokio::time::timeout(poll_timeout, rt.source.poll(&ctx)).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "poll did not finish within {}s",
            poll_timeout.as_secs()
        )),
    };
    match outcome {
        Ok(out) => {
            summary.fetched = out.mentions.len();
            summary.warnings = out.warnings.clone();
            for w in &out.warnings {
                tracing::warn!(source = %name, warning = %w, "source warning");
            }
            for e in &out.errors {
                tracing::warn!(source = %name, error = %e, "part of the poll failed");
            }
            let p = pipeline.clone();
            let mentions = out.mentions;
            let ingest = tokio::task::spawn_blocking(move || p.ingest(mentions, true)).await;
            match ingest {
                Ok(Ok(report)) => {
                    // Cursors move only after the mentions they cover are durable.
                    if let Err(e) = store.save_cursors(&name, &out.cursors) {
                        tracing::error!(source = %name, error = %e, "cannot save cursors");
                    }
                    let IngestReport {
                        stored,
                        duplicates,
                        unmatched,
                        ..
                    } = report;
                    summary.stored = stored;
                    summary.duplicates = duplicates;
                    summary.unmatched = unmatched;
                    tracing::info!(source = %name, fetched = summary.fetched, stored, duplicates, unmatched, "poll stored mentions");
                    status.last_fetched = summary.fetched as u64;
                    status.fetched_total += summary.fetched as u64;
                    status.stored_total += stored as u64;
                    status.warnings = out.warnings;
                    if out.quota_remaining.is_some() {
                        status.quota_remaining = out.quota_remaining;
                    }
                    if out.errors.is_empty() {
                        status.last_success = Some(now);
                        status.consecutive_failures = 0;
                    } else {
                        let msg = out.errors.join("; ");
                        status.errors += 1;
                        status.last_error = Some(msg.clone());
                        status.last_error_at = Some(now);
                        summary.error = Some(msg);
                    }
                }
                Ok(Err(e)) => summary.error = Some(format!("cannot store mentions: {e}")),
                Err(e) => summary.error = Some(format!("ingest task failed: {e}")),
            }
        }
        Err(msg) => {
            tracing::warn!(source = %name, error = %msg, "poll failed; will retry next interval");
            summary.error = Some(msg);
        }
    }
    if summary.error.is_some() && summary.stored == 0 && summary.fetched == 0 {
        status.errors += 1;
        status.consecutive_failures += 1;
        status.last_error = summary.error.clone();
        status.last_error_at = Some(now);
    }
    if let Err(e) = store.save_source_status(&status) {
        tracing::error!(source = %name, error = %e, "cannot save source status");
    }
    pipeline
        .metrics
        .observe_poll(&summary, poll_started.elapsed());
    summary
}

/// Open the store, or explain who holds it.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    match Store::open(&config.store.path) {
        Ok(s) => Ok(s),
        Err(StoreError::Locked { path }) => {
            let who = DaemonInfo::read(&path)
                .map(|d| format!(" by the daemon (pid {}, API {})", d.pid, d.api))
                .unwrap_or_default();
            anyhow::bail!(
                "cannot open store at {}: it is locked{who}; stop the daemon first or query it through its API",
                path.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn poll_timeout(entry: &SourceEntry, config: &Config) -> Duration {
    // A poll may make several requests with retries, but never longer than its interval.
    entry
        .interval
        .min(config.http.timeout * 10 + config.http.max_retry_wait)
}

/// One round of every source, then return (`pulse poll --once`).
pub async fn poll_once(config: &Config) -> anyhow::Result<Vec<PollSummary>> {
    let store = open_store(config)?;
    let classifier = crate::sentiment::build(&config.classifier)?;
    let pipeline = Pipeline::new(config, store.clone(), classifier);
    let http = HttpClient::new(&config.http)?;
    let sources = build_sources(config)?;
    let polls = sources
        .iter()
        .map(|rt| poll_source(rt, &pipeline, &http, poll_timeout(&rt.entry, config)));
    let summaries = futures::future::join_all(polls).await;
    store.flush_async().await?;
    Ok(summaries)
}

/// Run the daemon until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    api::check_listen(&config.api).map_err(anyhow::Error::msg)?;
    let store = open_store(&config)?;
    let classifier = crate::sentiment::build(&config.classifier)?;
    tracing::info!(classifier = classifier.name(), "classifier ready");
    let pipeline = Pipeline::new(&config, store.clone(), classifier);
    let http = HttpClient::new(&config.http)?;
    let sources = build_sources(&config)?;
    let config = Arc::new(config);

    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (api.listen): is another pulse daemon running? change `[api] listen`",
                config.api.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let api_url = format!("http://{addr}");
    let info = DaemonInfo {
        pid: std::process::id(),
        api: api_url.clone(),
        started_at: Utc::now(),
    };
    info.write(&config.store.path)
        .context("cannot write the daemon info file next to the store")?;

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let state = ApiState {
        store: store.clone(),
        config: config.clone(),
        started_at: info.started_at,
        api_url: api_url.clone(),
        metrics: pipeline.metrics.clone(),
    };
    {
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = api::serve(listener, state, shutdown).await {
                tracing::error!(error = %e, "API server stopped");
            }
        });
    }
    tracing::info!(pid = info.pid, api = %api_url, sources = sources.len(), products = config.products.len(), "pulse daemon started");

    for rt in sources {
        let pipeline = pipeline.clone();
        let http = http.clone();
        let shutdown = shutdown.clone();
        let timeout = poll_timeout(&rt.entry, &config);
        tracker.spawn(async move { source_loop(rt, pipeline, http, timeout, shutdown).await });
    }
    spawn_extensions(&config, &store, &tracker, &shutdown);

    wait_for_signal().await;
    tracing::info!("shutting down: stopping polls and draining in-flight work");
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(DRAIN_LIMIT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            limit_s = DRAIN_LIMIT.as_secs(),
            "in-flight work did not finish in time"
        );
    }
    store.flush_async().await?;
    let _ = std::fs::remove_file(DaemonInfo::path_for(&config.store.path));
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Background components beyond polling (alerting, retention) plug in here.
fn spawn_extensions(
    config: &Arc<Config>,
    store: &Store,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    if let Err(e) = crate::alert::engine::spawn(config, store, tracker, shutdown) {
        tracing::error!(error = %e, "alert engine not started: detection and alerts are off");
    }
    if let Some(keep) = config.store.keep_mentions {
        let store = store.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move { retention_loop(store, keep, shutdown).await });
    }
}

/// Prune mention texts past `[store] keep_mentions` hourly, in small chunks off the async
/// runtime, so ingest is never blocked for long.
async fn retention_loop(store: Store, keep: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let Ok(keep) = chrono::Duration::from_std(keep) else {
            return;
        };
        let cutoff = Utc::now() - keep;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.prune_before(cutoff, 2_000)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(pruned = n, cutoff = %cutoff, "retention pruned old mention texts")
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "retention pruning failed; will retry in an hour")
            }
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}

async fn source_loop(
    rt: SourceRuntime,
    pipeline: Pipeline,
    http: HttpClient,
    timeout: Duration,
    shutdown: CancellationToken,
) {
    // Spread first polls so sources that share an interval do not fire together.
    let jitter_max = (rt.entry.interval / 10).min(Duration::from_secs(30));
    let first = rand::thread_rng().gen_range(Duration::ZERO..=jitter_max);
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(first) => {}
    }
    let mut ticker = tokio::time::interval(rt.entry.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let jitter = rand::thread_rng().gen_range(Duration::ZERO..=jitter_max);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(jitter) => {}
        }
        // A poll in flight finishes (bounded by its timeout and the drain limit) even
        // when shutdown starts, so fetched mentions are not dropped half-way.
        let summary = poll_source(&rt, &pipeline, &http, timeout).await;
        if let Some(e) = summary.error {
            tracing::debug!(source = %rt.entry.name, error = %e, "poll finished with errors");
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
}
