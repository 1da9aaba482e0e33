//! The alert engine the daemon runs: every `detect.every` it evaluates each product,
//! records fired/resolved alerts and their outbox entries in one sled transaction (trees
//! `alerts`, `outbox`, `detect_state`), and a delivery pass sends due outbox entries with
//! capped, jittered back-off until they are delivered or expire. The first evaluation of a
//! product is a warm-up: signals already under way are adopted silently, so a restart or
//! a first run over old history does not flood the channels.
//!
//! The engine also raises `pulse_health` alerts about Pulse itself (every
//! `[health] check_every`, see [`crate::health`]): one alert per finding, routed like any
//! other alert (labels `signal=pulse_health`, `department=it` by default), durable through
//! the same outbox, with a resolved message when the finding clears. A channel that keeps
//! failing is reported through the other channels only. Alertmanager channels get active
//! alerts re-sent every `resend_interval` (see [`super::alertmanager`]).

use super::alertmanager::{AlertTimes, RESEND_RESOLVED_FOR};
use super::data::{AlertData, MentionLite};
use super::delivery::{self, backoff, Delivered, DeliveryError};
use super::message::{Example, HealthNote, Message, MessageKind};
use super::record::{
    decode, encode, AlertRecord, AlertStatus, OutboxEntry, OutboxState, RouteState,
};
use super::silence::{self, Silence};
use super::{route_alert, AlertError, ChannelConfig, Department, Labels, RouteConfig};
use crate::config::{ChannelEntry, Config};
use crate::health::{self, HealthConfig, HealthFinding};
use crate::model::Label;
use crate::trend::detect::{
    Detector, Direction, Finding, ProductParams, ProductSeries, Signal, Tracker, Transition,
};
use crate::trend::DetectConfig;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const ALERTS_TREE: &str = "alerts";
pub const OUTBOX_TREE: &str = "outbox";
pub const STATE_TREE: &str = "detect_state";

/// Delivery timing; the defaults suit the daemon, tests shorten them.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// First retry delay (doubles per attempt).
    pub retry_base: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// Give up on an entry this long after it was created.
    pub expire_after: Duration,
    /// How often the daemon looks for due outbox entries.
    pub poll: Duration,
    /// How long shutdown waits for an in-flight delivery.
    pub shutdown_grace: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            expire_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Detection state of one product, persisted in `detect_state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProductState {
    pub tracker: Tracker,
    /// Whether the warm-up evaluation happened.
    pub warmed: bool,
    pub last_eval: Option<DateTime<Utc>>,
    /// Finding key → id of its open alert (absent for signals adopted during warm-up).
    pub alerts: BTreeMap<String, String>,
}

/// Signal of the alerts about Pulse itself.
pub const HEALTH_SIGNAL: &str = "pulse_health";

/// Open `pulse_health` alerts, kept in the `health` tree: finding key
/// (`check/subject`) → alert id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealthAlerts {
    pub open: BTreeMap<String, String>,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    pub fired: Vec<String>,
    pub resolved: Vec<String>,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// The runtime alert engine.
pub struct AlertEngine {
    detect: DetectConfig,
    products: Vec<ProductParams>,
    routes: Vec<RouteConfig>,
    channels: BTreeMap<String, ChannelConfig>,
    data: Arc<dyn AlertData>,
    db: sled::Db,
    alerts: sled::Tree,
    outbox: sled::Tree,
    state: sled::Tree,
    detector: Detector,
    http: reqwest::Client,
    pub options: DeliveryOptions,
    /// Counters for `/metrics`: alerts raised and delivery attempts.
    metrics: crate::metrics::Metrics,
    health_cfg: HealthConfig,
    /// Configured sources and their intervals, for the source health checks.
    health_sources: Vec<(String, Duration)>,
    /// The store, for source status and disk checks (absent over in-memory test data).
    store: Option<crate::store::Store>,
    health_tree: sled::Tree,
    /// Each channel's settings (`Debug` form, secrets hidden): a changed channel's
    /// failure count starts afresh.
    channel_settings: BTreeMap<String, String>,
    /// `http://` + `[api] listen`, for links back to the dashboard.
    api_base: String,
    /// Last Alertmanager re-send per (alert id, channel).
    resent: Mutex<HashMap<(String, String), DateTime<Utc>>>,
    /// Added to the wall clock in [`AlertEngine::run`]: the engine judges and delivers as if
    /// it were this much later. Zero in production; set from `PULSE_ALERT_CLOCK_OFFSET` so
    /// the end-to-end test can let hours pass for the real daemon (signals resolve only when
    /// hourly windows move on) without waiting hours.
    pub clock_offset: ChronoDuration,
}

/// Environment variable read by [`spawn`]: a humantime duration added to the engine's clock.
pub const CLOCK_OFFSET_ENV: &str = "PULSE_ALERT_CLOCK_OFFSET";

fn open(db: &sled::Db, name: &str) -> Result<sled::Tree, AlertError> {
    db.open_tree(name).map_err(|source| AlertError::OpenTree {
        tree: name.into(),
        source,
    })
}

/// The record stored under `key` in `tree`, or the default when there is none yet.
fn load_or_default<T: DeserializeOwned + Default>(
    tree: &sled::Tree,
    key: &[u8],
    what: &str,
) -> Result<T, AlertError> {
    match tree.get(key).map_err(|e| AlertError::Read(e.to_string()))? {
        Some(v) => decode(what, &v),
        None => Ok(T::default()),
    }
}

/// 16 hex digits of the xxh3 hash of `s`: alert fingerprints and ids.
fn hex_hash(s: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(s.as_bytes()))
}

/// The delivery state of route `ri` for a new alert, sending to `channels`.
fn route_state(
    ri: usize,
    r: &RouteConfig,
    department: Department,
    channels: Vec<String>,
) -> RouteState {
    RouteState {
        route: ri,
        department: r.department.unwrap_or(department),
        channels,
        last_sent: None,
        group_interval_s: r.group_interval.as_secs(),
        repeat_interval_s: r.repeat_interval.as_secs(),
        send_resolved: r.send_resolved,
    }
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// `6h`, `90m`, `2d` for a window length.
pub fn human_secs(secs: i64) -> String {
    if secs % 86_400 == 0 && secs >= 86_400 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 && secs >= 3600 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", (secs + 59) / 60)
    }
}

/// Identifying labels of a finding and its severity.
pub fn labels_for(f: &Finding) -> Labels {
    let severity = match (f.signal, f.direction) {
        (_, Direction::Positive) => "info",
        (Signal::SentimentShift, _) if f.observed - f.baseline >= 0.25 => "critical",
        (Signal::VolumeSpike | Signal::AspectSpike, _) if f.ratio >= 5.0 => "critical",
        _ => "warning",
    };
    Labels {
        product: f.product.clone(),
        signal: f.signal.as_str().into(),
        direction: f.direction.as_str().into(),
        aspect: f.aspect.clone().unwrap_or_default(),
        severity: severity.into(),
        department: f.department.as_str().into(),
    }
}

/// Pick example mentions and top aspects for a finding from the window's mentions.
pub fn evidence(f: &Finding, window: &[MentionLite], n: usize) -> (Vec<Example>, Vec<String>) {
    let relevant: Vec<&MentionLite> = window
        .iter()
        .filter(|m| match (f.signal, f.direction) {
            (Signal::SentimentShift, Direction::Negative) => m.label == Label::Negative,
            (Signal::SentimentShift, Direction::Positive) => m.label == Label::Positive,
            (Signal::AspectSpike, _) => {
                m.label == Label::Negative
                    && f.aspect.as_ref().is_some_and(|a| m.aspects.contains(a))
            }
            _ => true,
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &relevant {
        for a in &m.aspects {
            *counts.entry(a.as_str()).or_default() += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top_aspects = top
        .into_iter()
        .take(3)
        .map(|(a, _)| a.to_string())
        .collect();
    let mut ex = relevant;
    // Most engaged first, then newest: the posts people actually saw.
    ex.sort_by(|a, b| {
        b.engagement
            .unwrap_or(0)
            .cmp(&a.engagement.unwrap_or(0))
            .then(b.published_at.cmp(&a.published_at))
    });
    let examples = ex
        .into_iter()
        .take(n)
        .map(|m| Example {
            source: m.source.clone(),
            author: m.author.clone(),
            url: m.url.clone(),
            published_at: m.published_at,
            label: m.label.as_str().into(),
            text: m.text.clone(),
        })
        .collect();
    (examples, top_aspects)
}

/// Build the message content of a finding.
pub fn message_for(
    alert_id: &str,
    kind: MessageKind,
    f: &Finding,
    labels: &Labels,
    department: Department,
    examples: Vec<Example>,
    top_aspects: Vec<String>,
) -> Message {
    Message {
        alert_id: alert_id.into(),
        kind,
        labels: labels.clone(),
        department,
        at: ts(f.at),
        window: human_secs(f.window_secs),
        launch: f.launch,
        mentions: f.mentions,
        expected_mentions: f.expected_mentions,
        volume_ratio: f.mentions as f64 / f.expected_mentions.max(1e-9),
        net_before: f.net_before,
        net_after: f.net_after,
        baseline: f.baseline,
        observed: f.observed,
        top_aspects,
        examples,
        health: None,
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

impl AlertEngine {
    /// The daemon's engine: series and mentions from the store, its own trees in the
    /// store's database.
    pub fn new(config: &Config, store: crate::store::Store) -> Result<AlertEngine, AlertError> {
        let db = store.db().clone();
        let mut e = AlertEngine::with_data(config, db, Arc::new(store.clone()))?;
        e.store = Some(store);
        Ok(e)
    }

    /// Count into the daemon's metrics (by default the engine has its own, unexported set).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> AlertEngine {
        self.metrics = metrics;
        self
    }

    /// Build the engine over any data source and the sled database that holds its trees.
    pub fn with_data(
        config: &Config,
        db: sled::Db,
        data: Arc<dyn AlertData>,
    ) -> Result<AlertEngine, AlertError> {
        let channels: BTreeMap<String, ChannelConfig> = config
            .channels
            .iter()
            .map(|c: &ChannelEntry| (c.name.clone(), c.kind.clone()))
            .collect();
        let routes = if config.routes.is_empty() {
            vec![RouteConfig::catch_all(channels.keys().cloned().collect())]
        } else {
            config.routes.clone()
        };
        let http = delivery::http_client(&config.http.user_agent).map_err(|reason| {
            AlertError::Channel {
                channel: "(http)".into(),
                reason,
            }
        })?;
        let channel_settings: BTreeMap<String, String> = channels
            .iter()
            .map(|(n, c)| (n.clone(), format!("{c:?}")))
            .collect();
        let settings: Vec<(String, String)> = channel_settings
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        health::prune_channel_records(&db, &settings);
        Ok(AlertEngine {
            metrics: crate::metrics::Metrics::new(),
            health_cfg: config.health.clone(),
            health_sources: config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.interval))
                .collect(),
            store: None,
            health_tree: open(&db, health::HEALTH_TREE)?,
            channel_settings,
            api_base: format!("http://{}", config.api.listen),
            resent: Mutex::new(HashMap::new()),
            detect: config.detect.clone(),
            products: config
                .products
                .iter()
                .map(|p| config.detect.params(p))
                .collect(),
            routes,
            channels,
            data,
            alerts: open(&db, ALERTS_TREE)?,
            outbox: open(&db, OUTBOX_TREE)?,
            state: open(&db, STATE_TREE)?,
            db,
            detector: Detector::new(&config.detect),
            http,
            options: DeliveryOptions::default(),
            clock_offset: ChronoDuration::zero(),
        })
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Run until `shutdown` is cancelled: detection every `detect.every`, delivery every
    /// few seconds. Stops within `shutdown_grace` (+ the current store write); an
    /// interrupted delivery stays pending and goes out after a restart with the same id.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut detect_tick = tokio::time::interval(self.detect.every);
        detect_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut deliver_tick = tokio::time::interval(self.options.poll);
        deliver_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut health_tick = tokio::time::interval(self.health_cfg.check_every);
        health_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let health_alerts = self.health_cfg.alerts;
        tracing::info!(
            products = self.products.len(),
            channels = self.channels.len(),
            every = %humantime::format_duration(self.detect.every),
            "alert engine started"
        );
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = detect_tick.tick() => {
                    match self.detect(self.now()) {
                        Ok(r) if !r.fired.is_empty() || !r.resolved.is_empty() => {
                            tracing::info!(fired = r.fired.len(), resolved = r.resolved.len(), "detection raised alerts");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "detection failed; will try again next interval"),
                    }
                }
                _ = health_tick.tick(), if health_alerts => {
                    match self.health(self.now()) {
                        Ok(r) if !r.fired.is_empty() || !r.resolved.is_empty() => {
                            tracing::info!(fired = r.fired.len(), resolved = r.resolved.len(), "pulse_health alerts raised or resolved");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "health check failed; will try again next interval"),
                    }
                }
                _ = deliver_tick.tick() => {
                    let stop = shutdown.clone();
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        r = self.deliver(self.now()) => {
                            if let Err(e) = r {
                                tracing::error!(error = %e, "alert delivery pass failed");
                            }
                        }
                    }
                }
            }
        }
        if let Err(e) = self.db.flush_async().await {
            tracing::warn!(error = %e, "cannot flush alert trees on shutdown");
        }
        tracing::info!("alert engine stopped");
    }

    /// One detection pass and one delivery pass at `now` (tests drive this with a fake clock).
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickReport, AlertError> {
        let r = self.detect(now)?;
        self.deliver_into(r, now).await
    }

    /// Run a delivery pass at `now` and add its counts to `r`.
    async fn deliver_into(
        &self,
        mut r: TickReport,
        now: DateTime<Utc>,
    ) -> Result<TickReport, AlertError> {
        let d = self.deliver(now).await?;
        r.delivered = d.delivered;
        r.retried = d.retried;
        r.failed = d.failed;
        Ok(r)
    }

    fn load_state(&self, product: &str) -> Result<ProductState, AlertError> {
        load_or_default(&self.state, product.as_bytes(), "detection state")
    }

    fn load_alert(&self, id: &str) -> Result<Option<AlertRecord>, AlertError> {
        self.alerts
            .get(id.as_bytes())
            .map_err(|e| AlertError::Read(e.to_string()))?
            .map(|v| decode("alert", &v))
            .transpose()
    }

    fn active_silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, AlertError> {
        Ok(silence::list(&self.db)?
            .into_iter()
            .filter(|s| s.active(now))
            .collect())
    }

    /// Evaluate every product at `now` and record what changed.
    pub fn detect(&mut self, now: DateTime<Utc>) -> Result<TickReport, AlertError> {
        let mut report = TickReport::default();
        let silences = self.active_silences(now)?;
        for p in self.products.clone() {
            match self.detect_product(&p, now, &silences) {
                Ok((fired, resolved)) => {
                    report.fired.extend(fired);
                    report.resolved.extend(resolved);
                }
                Err(e) => {
                    tracing::warn!(product = %p.name, error = %e, "cannot evaluate product; skipping it this time")
                }
            }
        }
        Ok(report)
    }

    fn series(&self, p: &ProductParams, now: DateTime<Utc>) -> Result<ProductSeries, AlertError> {
        let from = now - ChronoDuration::hours(p.lookback_hours());
        let to = now + ChronoDuration::seconds(1);
        let sparse = self.data.hourly(&p.name, from, to)?;
        let mut s = ProductSeries::from_sparse(from.timestamp(), to.timestamp(), &sparse);
        // Aspect series come from the stored aspects of negative mentions.
        for m in self.data.mentions(&p.name, from, to, true, 200_000)? {
            if !m.aspects.is_empty() {
                s.add_aspects(m.published_at.timestamp(), &m.aspects);
            }
        }
        Ok(s)
    }

    fn detect_product(
        &mut self,
        p: &ProductParams,
        now: DateTime<Utc>,
        silences: &[Silence],
    ) -> Result<(Vec<String>, Vec<String>), AlertError> {
        let series = self.series(p, now)?;
        let findings = self.detector.evaluate(p, &series, now.timestamp());
        let mut st = self.load_state(&p.name)?;
        let transitions = st.tracker.step(&self.detect, &findings, now.timestamp());
        let warmup = !st.warmed;
        st.warmed = true;
        st.last_eval = Some(now);

        let mut alert_writes: Vec<AlertRecord> = Vec::new();
        let mut outbox_writes: Vec<OutboxEntry> = Vec::new();
        let mut fired = Vec::new();
        let mut resolved = Vec::new();
        if warmup && !transitions.is_empty() {
            tracing::info!(product = %p.name, signals = transitions.len(), "first evaluation: adopting signals already under way without alerting");
        }
        let transitions = if warmup { Vec::new() } else { transitions };

        // Resolutions first, so a resolved product-wide spike no longer inhibits.
        for t in &transitions {
            let Transition::Resolved(f) = t else { continue };
            let key = f.key();
            let Some(id) = st.alerts.remove(&key) else {
                continue; // adopted during warm-up: it was never announced
            };
            let Some(mut a) = self.load_alert(&id)? else {
                continue;
            };
            let msg = &mut a.message;
            msg.mentions = f.mentions;
            msg.observed = f.observed;
            msg.baseline = f.baseline;
            msg.net_after = f.net_after;
            msg.examples.clear();
            self.resolve_alert(&mut a, now, &mut outbox_writes)?;
            resolved.push(a.id.clone());
            alert_writes.push(a);
        }

        for t in &transitions {
            let Transition::Fired(f) = t else { continue };
            let key = f.key();
            let labels = labels_for(f);
            let fingerprint = hex_hash(&format!(
                "{}|{}|{}|{}",
                labels.product, labels.signal, labels.direction, labels.aspect
            ));
            let id = format!("alt_{}", hex_hash(&format!("{fingerprint}|{}", f.at)));
            let window_from = now - ChronoDuration::seconds(f.window_secs.max(3600));
            let window = self.data.mentions(
                &p.name,
                window_from,
                now + ChronoDuration::seconds(1),
                false,
                5000,
            )?;
            let (examples, top_aspects) = evidence(f, &window, self.detect.examples);
            let mut muted = silences
                .iter()
                .find(|s| s.matches(&labels))
                .map(|s| format!("silenced by {}", s.id));
            if muted.is_none() && f.signal == Signal::AspectSpike {
                muted = self.inhibitor(&st, &findings, f);
            }
            let route_idx = route_alert(&self.routes, &labels);
            let mut a = AlertRecord {
                id: id.clone(),
                fingerprint,
                labels: labels.clone(),
                status: AlertStatus::Firing,
                starts_at: now,
                ends_at: None,
                finding: Some(f.clone()),
                message: message_for(
                    &id,
                    MessageKind::Firing,
                    f,
                    &labels,
                    f.department,
                    examples,
                    top_aspects,
                ),
                muted: muted.clone(),
                routes: Vec::new(),
                notifications: 0,
            };
            for ri in route_idx {
                let r = &self.routes[ri];
                a.routes
                    .push(route_state(ri, r, f.department, r.channels.clone()));
            }
            if muted.is_none() {
                self.queue_firing(&mut a, now, &mut outbox_writes);
            } else {
                tracing::info!(alert = %id, product = %p.name, reason = ?muted, "alert muted");
            }
            tracing::info!(alert = %id, product = %p.name, signal = %f.signal, direction = f.direction.as_str(), p_value = f.p_value, "alert fired");
            self.metrics
                .alert_raised(&labels.product, &labels.signal, &labels.severity);
            st.alerts.insert(key, id.clone());
            fired.push(id);
            alert_writes.push(a);
        }

        // Repeats of alerts still firing.
        self.queue_repeats(
            st.alerts.values(),
            now,
            &mut alert_writes,
            &mut outbox_writes,
        )?;

        self.commit(
            &self.state,
            p.name.as_bytes(),
            &encode(&st),
            &alert_writes,
            &outbox_writes,
        )?;
        Ok((fired, resolved))
    }

    /// A product-wide volume spike explains an aspect spike unless the aspect grew clearly
    /// faster than the product.
    fn inhibitor(&self, st: &ProductState, findings: &[Finding], f: &Finding) -> Option<String> {
        let key = "volume_spike:up";
        let product_firing = st.tracker.signals.get(key).is_some_and(|s| s.firing);
        if !product_firing {
            return None;
        }
        let product_ratio = findings
            .iter()
            .find(|x| x.key() == key)
            .map(|x| x.ratio)
            .unwrap_or(1.0);
        if f.ratio < product_ratio * self.detect.inhibit_ratio {
            let by = st
                .alerts
                .get(key)
                .cloned()
                .unwrap_or_else(|| "volume_spike".into());
            Some(format!("inhibited by {by}"))
        } else {
            None
        }
    }

    /// Pulse's own health findings now (see [`crate::health`]).
    pub fn health_findings(&self, now: DateTime<Utc>) -> Vec<HealthFinding> {
        let t = self.health_cfg.thresholds();
        let channels: Vec<String> = self.channels.keys().cloned().collect();
        match &self.store {
            Some(store) => health::check_all(store, &self.health_sources, &channels, &t, now),
            None => health::check_runtime(&self.db, &channels, &t),
        }
    }

    /// One health pass at `now`: raise a `pulse_health` alert for each new finding,
    /// resolve the alerts whose finding cleared, repeat the ones still open.
    pub fn health(&mut self, now: DateTime<Utc>) -> Result<TickReport, AlertError> {
        let findings = self.health_findings(now);
        self.raise_health(&findings, now)
    }

    /// A health pass and a delivery pass at `now` (tests drive this with a fake clock).
    pub async fn health_tick(&mut self, now: DateTime<Utc>) -> Result<TickReport, AlertError> {
        let r = self.health(now)?;
        self.deliver_into(r, now).await
    }

    fn load_health_alerts(&self) -> Result<HealthAlerts, AlertError> {
        load_or_default(
            &self.health_tree,
            health::OPEN_ALERTS_KEY,
            "open health alerts",
        )
    }

    /// Turn the current findings into alert transitions (one alert per `check/subject`).
    pub fn raise_health(
        &mut self,
        findings: &[HealthFinding],
        now: DateTime<Utc>,
    ) -> Result<TickReport, AlertError> {
        let mut report = TickReport::default();
        let silences = self.active_silences(now)?;
        let mut st = self.load_health_alerts()?;
        let current: BTreeMap<String, &HealthFinding> = findings
            .iter()
            .map(|f| (format!("{}/{}", f.check, f.subject), f))
            .collect();
        let mut alert_writes: Vec<AlertRecord> = Vec::new();
        let mut outbox_writes: Vec<OutboxEntry> = Vec::new();

        for (key, id) in st.open.clone() {
            if current.contains_key(&key) {
                continue;
            }
            st.open.remove(&key);
            let Some(mut a) = self.load_alert(&id)? else {
                continue;
            };
            if a.status != AlertStatus::Firing {
                continue;
            }
            self.resolve_alert(&mut a, now, &mut outbox_writes)?;
            tracing::info!(alert = %a.id, finding = %key, "pulse_health alert resolved");
            report.resolved.push(a.id.clone());
            alert_writes.push(a);
        }

        for (key, f) in &current {
            if st.open.contains_key(key) {
                continue;
            }
            let a = self.new_health_alert(f, now, &silences, &mut outbox_writes);
            tracing::warn!(alert = %a.id, check = %f.check, subject = %f.subject, problem = %f.message, "pulse_health alert fired");
            self.metrics
                .alert_raised(&a.labels.product, &a.labels.signal, &a.labels.severity);
            st.open.insert(key.clone(), a.id.clone());
            report.fired.push(a.id.clone());
            alert_writes.push(a);
        }

        // Repeats of health alerts still open.
        self.queue_repeats(st.open.values(), now, &mut alert_writes, &mut outbox_writes)?;

        self.commit(
            &self.health_tree,
            health::OPEN_ALERTS_KEY,
            &encode(&st),
            &alert_writes,
            &outbox_writes,
        )?;
        Ok(report)
    }

    /// A new `pulse_health` alert and its notifications. A failing channel is never told
    /// about itself; when routing leaves no channel, every other channel is used, so Pulse
    /// is never unwell in silence.
    fn new_health_alert(
        &self,
        f: &HealthFinding,
        now: DateTime<Utc>,
        silences: &[Silence],
        outbox_writes: &mut Vec<OutboxEntry>,
    ) -> AlertRecord {
        let department = self.health_cfg.department;
        let labels = Labels {
            product: "Pulse".into(),
            signal: HEALTH_SIGNAL.into(),
            direction: "none".into(),
            aspect: f.check.clone(),
            severity: match f.severity {
                health::Severity::Critical => "critical".into(),
                health::Severity::Warning => "warning".into(),
            },
            department: department.as_str().into(),
        };
        let fingerprint = hex_hash(&format!("pulse_health|{}|{}", f.check, f.subject));
        let id = format!(
            "alt_{}",
            hex_hash(&format!(
                "{fingerprint}|{}",
                now.timestamp_nanos_opt().unwrap_or_default()
            ))
        );
        let message = Message {
            health: Some(HealthNote {
                check: f.check.clone(),
                subject: f.subject.clone(),
                problem: f.message.clone(),
                action: f.action.clone(),
                since: f.since,
            }),
            ..Message::without_figures(
                id.clone(),
                MessageKind::Firing,
                labels.clone(),
                department,
                now,
            )
        };
        let excluded = (f.check == "channel_failing").then_some(f.subject.as_str());
        let mut routes: Vec<RouteState> = Vec::new();
        for ri in route_alert(&self.routes, &labels) {
            let r = &self.routes[ri];
            let channels: Vec<String> = r
                .channels
                .iter()
                .filter(|c| Some(c.as_str()) != excluded)
                .cloned()
                .collect();
            if channels.is_empty() {
                continue;
            }
            routes.push(route_state(ri, r, department, channels));
        }
        if routes.is_empty() {
            let others: Vec<String> = self
                .channels
                .keys()
                .filter(|c| Some(c.as_str()) != excluded)
                .cloned()
                .collect();
            if others.is_empty() {
                tracing::error!(check = %f.check, subject = %f.subject, "no other alert channel to report this health problem through; it is only in `pulse status` and the log");
            } else {
                tracing::warn!(check = %f.check, subject = %f.subject, channels = ?others, "no route takes this pulse_health alert; sending it to every other channel");
                routes.push(RouteState {
                    route: usize::MAX,
                    department,
                    channels: others,
                    last_sent: None,
                    group_interval_s: super::default_group_interval().as_secs(),
                    repeat_interval_s: super::default_repeat_interval().as_secs(),
                    send_resolved: true,
                });
            }
        }
        let muted = silences
            .iter()
            .find(|s| s.matches(&labels))
            .map(|s| format!("silenced by {}", s.id));
        let mut a = AlertRecord {
            id: id.clone(),
            fingerprint,
            labels,
            status: AlertStatus::Firing,
            starts_at: now,
            ends_at: None,
            finding: None,
            message,
            muted: muted.clone(),
            routes,
            notifications: 0,
        };
        if muted.is_none() {
            self.queue_firing(&mut a, now, outbox_writes);
        } else {
            tracing::info!(alert = %id, reason = ?muted, "pulse_health alert muted");
        }
        a
    }

    /// Mark `a` resolved at `now`. Notifications still waiting out `group_wait` are
    /// withdrawn (the alert was never seen); otherwise each route that wants resolved
    /// messages gets one, no sooner than its `group_interval` after the last.
    fn resolve_alert(
        &self,
        a: &mut AlertRecord,
        now: DateTime<Utc>,
        outbox_writes: &mut Vec<OutboxEntry>,
    ) -> Result<(), AlertError> {
        a.status = AlertStatus::Resolved;
        a.ends_at = Some(now);
        a.message.kind = MessageKind::Resolved;
        a.message.at = now;
        let msg = a.message.clone();
        let mut withdrawn = false;
        for entry in self.entries_of(&a.id)? {
            if entry.state == OutboxState::Pending && entry.attempts == 0 && entry.not_before > now
            {
                let mut e = entry;
                e.state = OutboxState::Cancelled;
                e.last_error = Some("resolved within group_wait".into());
                outbox_writes.push(e);
                withdrawn = true;
            }
        }
        if a.muted.is_none() && !withdrawn {
            let routes = a.routes.clone();
            for (ri, rs) in routes.iter().enumerate() {
                if !rs.send_resolved {
                    continue;
                }
                let not_before = rs
                    .last_sent
                    .map(|l| (l + ChronoDuration::seconds(rs.group_interval_s as i64)).max(now))
                    .unwrap_or(now);
                for ch in &rs.channels {
                    outbox_writes.push(self.new_entry(a, ch, rs.department, &msg, now, not_before));
                }
                a.routes[ri].last_sent = Some(not_before);
            }
        }
        Ok(())
    }

    /// Queue the firing notifications of a new, unmuted alert: each route's channels after
    /// its `group_wait` (the default one for the fallback route of health alerts).
    fn queue_firing(
        &self,
        a: &mut AlertRecord,
        now: DateTime<Utc>,
        outbox_writes: &mut Vec<OutboxEntry>,
    ) {
        let msg = a.message.clone();
        let routes = a.routes.clone();
        for (ri, rs) in routes.iter().enumerate() {
            let wait = self
                .routes
                .get(rs.route)
                .map(|r| r.group_wait)
                .unwrap_or_else(super::default_group_wait);
            let not_before = now + ChronoDuration::from_std(wait).unwrap_or_default();
            for ch in &rs.channels {
                outbox_writes.push(self.new_entry(a, ch, rs.department, &msg, now, not_before));
            }
            a.routes[ri].last_sent = Some(not_before);
        }
    }

    /// Queue repeat notifications for the open alerts `ids` (skipping those already in
    /// `alert_writes`) on every route whose `repeat_interval` has passed.
    fn queue_repeats<'a>(
        &self,
        ids: impl Iterator<Item = &'a String>,
        now: DateTime<Utc>,
        alert_writes: &mut Vec<AlertRecord>,
        outbox_writes: &mut Vec<OutboxEntry>,
    ) -> Result<(), AlertError> {
        for id in ids {
            if alert_writes.iter().any(|a| &a.id == id) {
                continue;
            }
            let Some(mut a) = self.load_alert(id)? else {
                continue;
            };
            if a.muted.is_some() || a.status != AlertStatus::Firing {
                continue;
            }
            let mut changed = false;
            let routes = a.routes.clone();
            for (ri, rs) in routes.iter().enumerate() {
                let due = rs.last_sent.is_some_and(|l| {
                    now >= l + ChronoDuration::seconds(rs.repeat_interval_s as i64)
                });
                if !due {
                    continue;
                }
                let mut msg = a.message.clone();
                msg.kind = MessageKind::Repeat;
                for ch in &rs.channels {
                    outbox_writes.push(self.new_entry(&mut a, ch, rs.department, &msg, now, now));
                }
                a.routes[ri].last_sent = Some(now);
                changed = true;
            }
            if changed {
                alert_writes.push(a);
            }
        }
        Ok(())
    }

    fn new_entry(
        &self,
        a: &mut AlertRecord,
        channel: &str,
        department: Department,
        msg: &Message,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> OutboxEntry {
        a.notifications += 1;
        let mut msg = msg.clone();
        msg.department = department;
        OutboxEntry {
            // Stable idempotency key: alert id + sequence number, fixed at creation.
            id: format!(
                "msg_{}_{}",
                a.id.trim_start_matches("alt_"),
                a.notifications
            ),
            alert_id: a.id.clone(),
            channel: channel.to_string(),
            kind: msg.kind,
            message: msg,
            created_at: now,
            not_before,
            next_attempt: not_before,
            attempts: 0,
            expires_at: not_before
                + ChronoDuration::from_std(self.options.expire_after).unwrap_or_default(),
            state: OutboxState::Pending,
            last_error: None,
            delivered_at: None,
            last_status: None,
        }
    }

    /// Write alerts, outbox entries and the state record (`state_key` in `state_tree`:
    /// a product's detection state or the open health alerts) atomically.
    fn commit(
        &self,
        state_tree: &sled::Tree,
        state_key: &[u8],
        state_bytes: &[u8],
        alerts: &[AlertRecord],
        outbox: &[OutboxEntry],
    ) -> Result<(), AlertError> {
        let alert_bytes: Vec<(Vec<u8>, Vec<u8>)> = alerts
            .iter()
            .map(|a| (a.id.as_bytes().to_vec(), encode(a)))
            .collect();
        let outbox_bytes: Vec<(Vec<u8>, Vec<u8>)> = outbox
            .iter()
            .map(|e| (e.id.as_bytes().to_vec(), encode(e)))
            .collect();
        (&self.alerts, &self.outbox, state_tree)
            .transaction(|(ta, to, ts)| -> TxResult<()> {
                for (k, v) in &alert_bytes {
                    ta.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &outbox_bytes {
                    to.insert(k.as_slice(), v.as_slice())?;
                }
                ts.insert(state_key, state_bytes)?;
                Ok(())
            })
            .map_err(|e: TransactionError<String>| AlertError::Write(e.to_string()))?;
        if !alerts.is_empty() || !outbox.is_empty() {
            self.db
                .flush()
                .map_err(|e| AlertError::Write(e.to_string()))?;
        }
        Ok(())
    }

    fn entries_of(&self, alert_id: &str) -> Result<Vec<OutboxEntry>, AlertError> {
        let prefix = format!("msg_{}_", alert_id.trim_start_matches("alt_"));
        self.outbox
            .scan_prefix(prefix.as_bytes())
            .map(|kv| {
                let (_, v) = kv.map_err(|e| AlertError::Read(e.to_string()))?;
                decode("outbox entry", &v)
            })
            .collect()
    }

    /// Send every due outbox entry once.
    pub async fn deliver(&self, now: DateTime<Utc>) -> Result<TickReport, AlertError> {
        let mut report = TickReport::default();
        let mut due: Vec<OutboxEntry> = Vec::new();
        for kv in self.outbox.iter() {
            let (_, v) = kv.map_err(|e| AlertError::Read(e.to_string()))?;
            let e: OutboxEntry = decode("outbox entry", &v)?;
            if e.state == OutboxState::Pending && e.next_attempt <= now {
                due.push(e);
            }
        }
        due.sort_by_key(|e| (e.next_attempt, e.created_at));
        // A channel that failed transiently this pass is not hammered with the rest.
        let mut backing_off: HashSet<String> = HashSet::new();
        for mut e in due {
            if backing_off.contains(&e.channel) {
                continue;
            }
            if e.expires_at <= now {
                e.state = OutboxState::Failed;
                e.last_error = Some(format!(
                    "expired after {} attempts: {}",
                    e.attempts,
                    e.last_error.clone().unwrap_or_default()
                ));
                tracing::error!(entry = %e.id, channel = %e.channel, "alert notification expired undelivered");
                report.failed += 1;
                self.save_entry(&e)?;
                continue;
            }
            e.attempts += 1;
            let started = std::time::Instant::now();
            let result = match self.channels.get(&e.channel) {
                Some(ch) => {
                    let times = match ch {
                        ChannelConfig::Alertmanager(_) => Some(self.times_of(&e, now)?),
                        _ => None,
                    };
                    send_with(ch, &self.http, &e.message, &e.id, now, times.as_ref()).await
                }
                None => Err(DeliveryError::Permanent {
                    reason: format!("channel `{}` is no longer configured", e.channel),
                    status: None,
                }),
            };
            self.count_delivery(&e.channel, &result, started.elapsed(), now);
            match result {
                Ok(d) => {
                    e.state = OutboxState::Delivered;
                    e.delivered_at = Some(now);
                    e.last_status = Some(d.status);
                    e.last_error = None;
                    report.delivered += 1;
                    tracing::info!(entry = %e.id, channel = %e.channel, kind = e.kind.as_str(), status = d.status, attempts = e.attempts, "alert delivered");
                }
                Err(err) if err.is_retryable() => {
                    let wait = backoff(
                        e.attempts,
                        self.options.retry_base,
                        self.options.retry_max,
                        err.retry_after(),
                    );
                    e.next_attempt = now + ChronoDuration::from_std(wait).unwrap_or_default();
                    e.last_status = err.status();
                    e.last_error = Some(err.to_string());
                    backing_off.insert(e.channel.clone());
                    report.retried += 1;
                    tracing::warn!(entry = %e.id, channel = %e.channel, attempts = e.attempts, retry_in_s = wait.as_secs(), error = %err, "alert delivery failed; will retry");
                }
                Err(err) => {
                    e.state = OutboxState::Failed;
                    e.last_status = err.status();
                    e.last_error = Some(err.to_string());
                    report.failed += 1;
                    tracing::error!(entry = %e.id, channel = %e.channel, error = %err, "alert delivery failed permanently; not retrying");
                }
            }
            self.save_entry(&e)?;
        }
        report.delivered += self.resend_alertmanager(now).await?;
        Ok(report)
    }

    /// Metrics and the channel's failure count for one delivery attempt.
    fn count_delivery(
        &self,
        channel: &str,
        result: &Result<Delivered, DeliveryError>,
        took: Duration,
        now: DateTime<Utc>,
    ) {
        let outcome = match result {
            Ok(_) => "delivered",
            Err(e) if e.is_retryable() => "retry",
            Err(_) => "failed",
        };
        self.metrics.alert_delivery(channel, outcome, took);
        if let Some(settings) = self.channel_settings.get(channel) {
            let err = result.as_ref().err().map(|e| e.to_string());
            health::record_delivery(&self.db, channel, settings, err.as_deref(), now);
        }
    }

    /// `startsAt`/`endsAt` of an outbox entry for Alertmanager, from its alert record.
    fn times_of(&self, e: &OutboxEntry, now: DateTime<Utc>) -> Result<AlertTimes, AlertError> {
        let a = self.load_alert(&e.alert_id)?;
        let starts_at = a.as_ref().map(|a| a.starts_at).unwrap_or(e.message.at);
        let resolved_at = (e.kind == MessageKind::Resolved)
            .then(|| a.as_ref().and_then(|a| a.ends_at).unwrap_or(e.message.at));
        Ok(AlertTimes {
            starts_at,
            resolved_at,
            now,
            base_url: self.api_base.clone(),
        })
    }

    /// Alertmanager forgets alerts whose `endsAt` passed: re-send each active alert (and a
    /// just-resolved one, for a few minutes) every `resend_interval`, once its first
    /// notification was delivered. Not durable on purpose: the next pass covers a miss.
    async fn resend_alertmanager(&self, now: DateTime<Utc>) -> Result<usize, AlertError> {
        let am: Vec<(&String, &super::alertmanager::AlertmanagerConfig)> = self
            .channels
            .iter()
            .filter_map(|(n, c)| match c {
                ChannelConfig::Alertmanager(c) => Some((n, c)),
                _ => None,
            })
            .collect();
        if am.is_empty() {
            return Ok(0);
        }
        let resolved_window = ChronoDuration::from_std(RESEND_RESOLVED_FOR).unwrap_or_default();
        let mut sent = 0;
        for a in list_alerts(&self.db)? {
            let active = a.status == AlertStatus::Firing;
            let recently_resolved = a.status == AlertStatus::Resolved
                && a.ends_at.is_some_and(|t| now - t <= resolved_window);
            if a.muted.is_some() || !(active || recently_resolved) {
                continue;
            }
            let entries = self.entries_of(&a.id)?;
            for (name, cfg) in &am {
                let Some(last) = entries
                    .iter()
                    .filter(|e| &&e.channel == name && e.state == OutboxState::Delivered)
                    .max_by_key(|e| e.delivered_at)
                else {
                    continue; // first notification not out yet: the outbox owns it
                };
                if recently_resolved && last.kind != MessageKind::Resolved {
                    continue;
                }
                let key = (a.id.clone(), name.to_string());
                let prev = self
                    .resent
                    .lock()
                    .expect("resend map")
                    .get(&key)
                    .copied()
                    .into_iter()
                    .chain(last.delivered_at)
                    .max()
                    .unwrap_or(now);
                let every = ChronoDuration::from_std(cfg.resend_interval).unwrap_or_default();
                if now < prev + every {
                    continue;
                }
                let times = self.times_of(last, now)?;
                let started = std::time::Instant::now();
                let result = cfg.send(&self.http, &last.message, &times).await;
                self.count_delivery(name, &result, started.elapsed(), now);
                match result {
                    Ok(_) => {
                        sent += 1;
                        self.resent.lock().expect("resend map").insert(key, now);
                        tracing::debug!(alert = %a.id, channel = %name, "alert re-sent to alertmanager");
                    }
                    Err(e) => {
                        tracing::warn!(alert = %a.id, channel = %name, error = %e, "re-sending the alert to alertmanager failed; will try again")
                    }
                }
            }
        }
        Ok(sent)
    }

    fn save_entry(&self, e: &OutboxEntry) -> Result<(), AlertError> {
        self.outbox
            .insert(e.id.as_bytes(), encode(e))
            .map_err(|err| AlertError::Write(err.to_string()))?;
        self.outbox
            .flush()
            .map_err(|err| AlertError::Write(err.to_string()))?;
        Ok(())
    }
}

/// Start the engine as a daemon task: the one line `daemon::spawn_extensions` needs.
/// Without products there is nothing to watch and nothing is spawned.
pub fn spawn(
    config: &Config,
    store: &crate::store::Store,
    metrics: &crate::metrics::Metrics,
    tracker: &tokio_util::task::TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), AlertError> {
    // Health alerts need channels even when no product is watched.
    if config.products.is_empty() && (config.channels.is_empty() || !config.health.alerts) {
        return Ok(());
    }
    let mut engine = AlertEngine::new(config, store.clone())?.with_metrics(metrics.clone());
    if let Some(v) = std::env::var_os(CLOCK_OFFSET_ENV).filter(|v| !v.is_empty()) {
        let v = v.to_string_lossy();
        let offset = humantime::parse_duration(&v)
            .ok()
            .and_then(|d| ChronoDuration::from_std(d).ok())
            .ok_or_else(|| AlertError::Channel {
                channel: "(clock)".into(),
                reason: format!("{CLOCK_OFFSET_ENV}={v} is not a duration like `3h`; unset it"),
            })?;
        tracing::warn!(offset = %v, "alert engine clock shifted forward by {CLOCK_OFFSET_ENV} (testing only)");
        engine.clock_offset = offset;
    }
    tracker.spawn(engine.run(shutdown.clone()));
    Ok(())
}

/// Send one message through one channel.
pub async fn send(
    ch: &ChannelConfig,
    http: &reqwest::Client,
    m: &Message,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    send_with(ch, http, m, id, now, None).await
}

/// Default dashboard address for links when the engine does not give one.
const DEFAULT_API_BASE: &str = "http://127.0.0.1:7878";

/// [`send`] with the alert's times for channels that need them (Alertmanager); without
/// them they are taken from the message.
pub async fn send_with(
    ch: &ChannelConfig,
    http: &reqwest::Client,
    m: &Message,
    id: &str,
    now: DateTime<Utc>,
    times: Option<&AlertTimes>,
) -> Result<Delivered, DeliveryError> {
    match ch {
        ChannelConfig::Alertmanager(c) => match times {
            Some(t) => c.send(http, m, t).await,
            None => {
                c.send(http, m, &AlertTimes::of_message(m, now, DEFAULT_API_BASE))
                    .await
            }
        },
        ChannelConfig::Slack(c) => c.send(http, m).await,
        ChannelConfig::Discord(c) => c.send(http, m).await,
        ChannelConfig::Teams(c) => c.send(http, m).await,
        ChannelConfig::Ntfy(c) => c.send(http, m).await,
        ChannelConfig::Webhook(c) => c.send(http, m, id, now.timestamp()).await,
        ChannelConfig::Email(c) => c.send(m, id).await,
        ChannelConfig::Jsonl(c) => c.send(m, id).await,
    }
}

/// Every alert record, newest first.
pub fn list_alerts(db: &sled::Db) -> Result<Vec<AlertRecord>, AlertError> {
    let tree = open(db, ALERTS_TREE)?;
    let mut out = Vec::new();
    for kv in tree.iter() {
        let (_, v) = kv.map_err(|e| AlertError::Read(e.to_string()))?;
        out.push(decode::<AlertRecord>("alert", &v)?);
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.starts_at));
    Ok(out)
}

/// Every outbox entry, oldest first.
pub fn list_outbox(db: &sled::Db) -> Result<Vec<OutboxEntry>, AlertError> {
    let tree = open(db, OUTBOX_TREE)?;
    let mut out = Vec::new();
    for kv in tree.iter() {
        let (_, v) = kv.map_err(|e| AlertError::Read(e.to_string()))?;
        out.push(decode::<OutboxEntry>("outbox entry", &v)?);
    }
    out.sort_by_key(|e| e.created_at);
    Ok(out)
}
