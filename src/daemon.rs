//! The daemon: a scheduler polls every source on its own interval (with jitter), pushes
//! mentions through the pipeline, serves the loopback API, reloads its config on SIGHUP
//! (refusing an invalid one), and shuts down cleanly on SIGINT/SIGTERM (stop polling,
//! drain within a bound, flush the store).

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

/// Result of polling one source once: every item read is accounted for,
/// `fetched = stored + duplicates + unmatched + rejected`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollSummary {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub fetched: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub unmatched: usize,
    pub rejected: usize,
    /// Scopes that stopped at the page limit with more to read (the next poll goes on).
    pub truncated: Vec<String>,
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

/// Fold one poll into the source's status for `pulse status`.
fn record_status(status: &mut SourceStatus, summary: &PollSummary, now: DateTime<Utc>) {
    status.last_fetched = summary.fetched as u64;
    status.fetched_total += summary.fetched as u64;
    status.stored_total += summary.stored as u64;
    status.duplicates_total += summary.duplicates as u64;
    status.unmatched_total += summary.unmatched as u64;
    status.rejected_total += summary.rejected as u64;
    status.last = crate::store::PollCounts {
        fetched: summary.fetched as u64,
        stored: summary.stored as u64,
        duplicates: summary.duplicates as u64,
        unmatched: summary.unmatched as u64,
        rejected: summary.rejected as u64,
    };
    status.warnings = summary.warnings.clone();
    status.truncated = summary.truncated.clone();
    if !summary.truncated.is_empty() {
        status.truncated_polls += 1;
    }
    match &summary.error {
        None => {
            status.last_success = Some(now);
            status.consecutive_failures = 0;
        }
        Some(msg) => {
            status.errors += 1;
            status.last_error = Some(msg.clone());
            status.last_error_at = Some(now);
            // A poll that read nothing usable failed; one that stored some half-succeeded.
            if summary.stored == 0 {
                status.consecutive_failures += 1;
            } else {
                status.last_success = Some(now);
                status.consecutive_failures = 0;
            }
        }
    }
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
        max_pages: rt.entry.max_pages,
        overlap: chrono::Duration::from_std(rt.entry.overlap).unwrap_or_default(),
        lookback: rt.entry.lookback,
    };
    let out = match tokio::time::timeout(poll_timeout, rt.source.poll_accounted(&ctx)).await {
        Ok(out) => out,
        Err(_) => {
            let mut out = crate::sources::PollOutput::default();
            out.failure = Some(crate::sources::SourceError::Timeout(poll_timeout));
            out
        }
    };
    summary.fetched = out.counts.fetched;
    summary.duplicates = out.counts.duplicates;
    summary.unmatched = out.counts.unmatched;
    summary.rejected = out.counts.rejected;
    summary.warnings = out.warnings.clone();
    summary.truncated = out.truncated.clone();
    for w in &out.warnings {
        tracing::warn!(source = %name, warning = %w, "source warning");
    }
    for e in &out.errors {
        tracing::warn!(source = %name, error = %e, "part of the poll failed");
    }
    // What a failed poll read is stored all the same, and its cursors (which record the
    // undone part) saved: nothing it saw is lost, nothing it missed is skipped.
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
                rejected,
                ..
            } = report;
            summary.stored = stored;
            summary.duplicates += duplicates;
            summary.unmatched += unmatched;
            summary.rejected += rejected;
            if out.failure.is_none() {
                tracing::info!(source = %name, fetched = summary.fetched, stored, duplicates = summary.duplicates, unmatched = summary.unmatched, rejected = summary.rejected, truncated = summary.truncated.len(), "poll done");
            }
            if out.quota_remaining.is_some() {
                status.quota_remaining = out.quota_remaining;
            }
            let msg = match &out.failure {
                Some(e) => Some(e.to_string()),
                None if !out.errors.is_empty() => Some(out.errors.join("; ")),
                None => None,
            };
            summary.error = msg;
        }
        Ok(Err(e)) => summary.error = Some(format!("cannot store mentions: {e}")),
        Err(e) => summary.error = Some(format!("ingest task failed: {e}")),
    }
    if let Some(e) = &out.failure {
        tracing::warn!(source = %name, error = %e, "poll failed; will retry next interval");
    }
    record_status(&mut status, &summary, now);
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
    match Store::open_with(&config.store.path, config.store.cache_mb) {
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

/// Run the daemon until SIGINT/SIGTERM; SIGHUP reloads the config file (see [`reload`]).
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Installed first: without a handler, a SIGHUP during start-up would kill the process.
    let mut signals = Signals::install()?;
    api::check_listen(&config.api).map_err(anyhow::Error::msg)?;
    let store = open_store_for_daemon(&config).await?;
    let (classifier, fallback) = crate::sentiment::build_reporting(&config.classifier)?;
    crate::health::record_classifier_outcome(
        store.db(),
        &config.classifier,
        classifier.name(),
        fallback,
    );
    tracing::info!(classifier = classifier.name(), "classifier ready");
    let pipeline = Pipeline::new(&config, store.clone(), classifier);
    let http = HttpClient::new(&config.http)?;
    let sources = build_sources(&config)?;
    let config = Arc::new(config);
    // The store and the listener live as long as the process; a reload cannot move them.
    let store_path = config.store.path.clone();

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
    info.write(&store_path)
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
    let (router_tx, router_rx) = tokio::sync::watch::channel(api::router(state.clone()));
    {
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = api::serve_live(listener, router_rx, shutdown).await {
                tracing::error!(error = %e, "API server stopped");
            }
        });
    }
    tracing::info!(pid = info.pid, api = %api_url, sources = sources.len(), products = config.products.len(), "pulse daemon started");

    let mut running = Running {
        generation: Generation::start(&config, sources, &pipeline, &http, &shutdown, &[]),
        config,
        pipeline,
        http,
        state,
    };
    loop {
        match signals.next().await {
            DaemonSignal::Reload => {
                tracing::info!(config = %running.config.path.display(), "received SIGHUP: reloading the config");
                match reload(&running).await {
                    Ok(mut next) => {
                        if let Some(fallback) = next.rebuilt_classifier.take() {
                            crate::health::record_classifier_outcome(
                                next.pipeline.store.db(),
                                &next.config.classifier,
                                next.pipeline.classifier.name(),
                                fallback,
                            );
                        }
                        running = running.replace(next, &shutdown).await;
                        router_tx.send_modify(|r| *r = api::router(running.state.clone()));
                        tracing::info!(
                            sources = running.config.sources.len(),
                            products = running.config.products.len(),
                            channels = running.config.channels.len(),
                            "config reloaded"
                        );
                    }
                    Err(e) => tracing::error!(
                        error = format!("{e:#}"),
                        "config reload refused; the running config stays in effect: fix the file and send SIGHUP again"
                    ),
                }
            }
            DaemonSignal::Stop(name) => {
                tracing::info!("received {name}");
                break;
            }
        }
    }
    tracing::info!("shutting down: stopping polls and draining in-flight work");
    shutdown.cancel();
    tracker.close();
    let drained = async {
        running.generation.tracker.close();
        running.generation.tracker.wait().await;
        tracker.wait().await;
    };
    if tokio::time::timeout(DRAIN_LIMIT, drained).await.is_err() {
        tracing::warn!(
            limit_s = DRAIN_LIMIT.as_secs(),
            "in-flight work did not finish in time"
        );
    }
    store.flush_async().await?;
    let _ = std::fs::remove_file(DaemonInfo::path_for(&store_path));
    tracing::info!("store flushed; bye");
    Ok(())
}

/// How long the daemon waits at start for a short-lived CLI command to release the store.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(15);

/// Open the store for the daemon. A `pulse status` or `pulse mentions` run at the same
/// moment (a cron job, a test, an operator) holds sled's lock for a moment: wait for it
/// rather than fail the start, unless another daemon holds the store.
async fn open_store_for_daemon(config: &Config) -> anyhow::Result<Store> {
    let started = std::time::Instant::now();
    loop {
        match Store::open_with(&config.store.path, config.store.cache_mb) {
            Err(StoreError::Locked { .. })
                if DaemonInfo::read(&config.store.path).is_none()
                    && started.elapsed() < STORE_LOCK_WAIT =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(StoreError::Locked { .. }) => return open_store(config),
            other => return Ok(other?),
        }
    }
}

/// What the daemon is running with now; replaced as a whole on reload.
struct Running {
    config: Arc<Config>,
    pipeline: Pipeline,
    http: HttpClient,
    state: ApiState,
    generation: Generation,
}

/// A validated new configuration with everything built from it, ready to swap in.
struct Reloaded {
    config: Arc<Config>,
    pipeline: Pipeline,
    http: HttpClient,
    state: ApiState,
    sources: Vec<SourceRuntime>,
    /// Set when the classifier was rebuilt: why the configured one fell back, if it did.
    rebuilt_classifier: Option<Option<String>>,
}

impl Running {
    /// Stop the current source tasks (in-flight polls finish first), then start the new ones.
    async fn replace(self, next: Reloaded, shutdown: &CancellationToken) -> Running {
        self.generation.stop().await;
        // Sources whose settings did not change keep their schedule instead of polling
        // again at once: a reload must not burn a daily quota.
        let unchanged: Vec<String> = next
            .sources
            .iter()
            .filter(|rt| {
                self.config.sources.iter().any(|old| {
                    old.name == rt.entry.name && format!("{old:?}") == format!("{:?}", rt.entry)
                })
            })
            .map(|rt| rt.entry.name.clone())
            .collect();
        let generation = Generation::start(
            &next.config,
            next.sources,
            &next.pipeline,
            &next.http,
            shutdown,
            &unchanged,
        );
        Running {
            config: next.config,
            pipeline: next.pipeline,
            http: next.http,
            state: next.state,
            generation,
        }
    }
}

/// Re-read and validate the config file and build what depends on it. Any error leaves
/// the running daemon untouched. The store and the API address cannot change while
/// running: such edits are reported and ignored until a restart.
async fn reload(current: &Running) -> anyhow::Result<Reloaded> {
    let mut config = Config::load(&current.config.path)?;
    let old = &current.config;
    if config.store.path != old.store.path {
        tracing::warn!(
            running = %old.store.path.display(),
            new = %config.store.path.display(),
            "store.path changed: it takes effect after a restart; keeping the open store"
        );
        config.store.path = old.store.path.clone();
    }
    if config.api.listen != old.api.listen {
        tracing::warn!(
            running = %old.api.listen,
            new = %config.api.listen,
            "api.listen changed: it takes effect after a restart; keeping the current address"
        );
        config.api.listen = old.api.listen;
    }
    let mut rebuilt_classifier = None;
    let classifier = if format!("{:?}", config.classifier) == format!("{:?}", old.classifier) {
        current.pipeline.classifier.clone()
    } else {
        // Loading a model can take seconds of CPU: keep it off the async workers.
        let cc = config.classifier.clone();
        let (c, fallback) =
            tokio::task::spawn_blocking(move || crate::sentiment::build_reporting(&cc))
                .await
                .context("classifier loading task failed")??;
        tracing::info!(classifier = c.name(), "classifier reloaded");
        rebuilt_classifier = Some(fallback);
        c
    };
    // The shared client holds the per-host rate limiters: keep it unless its settings changed.
    let http = if format!("{:?}", config.http) == format!("{:?}", old.http) {
        current.http.clone()
    } else {
        HttpClient::new(&config.http)?
    };
    let sources = build_sources(&config)?;
    let fresh = Pipeline::new(&config, current.pipeline.store.clone(), classifier);
    // Everything the config decides comes from `fresh`; anything else (shared handles
    // such as counters) carries over from the running pipeline.
    let pipeline = Pipeline {
        matcher: fresh.matcher,
        classifier: fresh.classifier,
        products: fresh.products,
        tagger: fresh.tagger,
        ..current.pipeline.clone()
    };
    let config = Arc::new(config);
    let state = ApiState {
        config: config.clone(),
        ..current.state.clone()
    };
    Ok(Reloaded {
        config,
        pipeline,
        http,
        state,
        sources,
        rebuilt_classifier,
    })
}

/// The tasks started from one configuration: source loops and extensions, stopped together.
struct Generation {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Generation {
    fn start(
        config: &Arc<Config>,
        sources: Vec<SourceRuntime>,
        pipeline: &Pipeline,
        http: &HttpClient,
        shutdown: &CancellationToken,
        resume: &[String],
    ) -> Generation {
        let token = shutdown.child_token();
        let tracker = TaskTracker::new();
        for rt in sources {
            let pipeline = pipeline.clone();
            let http = http.clone();
            let token = token.clone();
            let timeout = poll_timeout(&rt.entry, config);
            let resume = resume.contains(&rt.entry.name);
            tracker.spawn(
                async move { source_loop(rt, pipeline, http, timeout, token, resume).await },
            );
        }
        spawn_extensions(config, &pipeline.store, &pipeline.metrics, &tracker, &token);
        Generation { token, tracker }
    }

    async fn stop(self) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(DRAIN_LIMIT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                limit_s = DRAIN_LIMIT.as_secs(),
                "polls of the old config did not finish in time; starting the new config anyway"
            );
        }
    }
}

enum DaemonSignal {
    Reload,
    Stop(&'static str),
}

/// SIGHUP, SIGTERM and SIGINT as a stream of daemon requests.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?,
            term: signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?,
        })
    }

    async fn next(&mut self) -> DaemonSignal {
        tokio::select! {
            _ = self.hup.recv() => DaemonSignal::Reload,
            _ = self.term.recv() => DaemonSignal::Stop("SIGTERM"),
            _ = self.int.recv() => DaemonSignal::Stop("SIGINT"),
        }
    }
}

/// Background components beyond polling (alerting, retention) plug in here.
fn spawn_extensions(
    config: &Arc<Config>,
    store: &Store,
    metrics: &crate::metrics::Metrics,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    if let Err(e) = crate::alert::engine::spawn(config, store, metrics, tracker, shutdown) {
        tracing::error!(error = %e, "alert engine not started: detection and alerts are off");
    }
    crate::heartbeat::spawn(config, tracker, shutdown);
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
    resume: bool,
) {
    // Spread first polls so sources that share an interval do not fire together.
    let jitter_max = (rt.entry.interval / 10).min(Duration::from_secs(30));
    let mut first = rand::thread_rng().gen_range(Duration::ZERO..=jitter_max);
    if resume {
        first = first.max(until_due(&rt, &pipeline.store, Utc::now()));
    }
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

/// Time left until a source is due again, from its last poll in the store.
fn until_due(rt: &SourceRuntime, store: &Store, now: DateTime<Utc>) -> Duration {
    let last = store
        .source_status(&rt.entry.name)
        .ok()
        .flatten()
        .and_then(|s| s.last_poll);
    match last {
        Some(last) => {
            let due = last + chrono::Duration::from_std(rt.entry.interval).unwrap_or_default();
            (due - now).to_std().unwrap_or(Duration::ZERO)
        }
        None => Duration::ZERO,
    }
}
