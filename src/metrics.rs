//! Prometheus metrics for `/metrics`: counters and histograms the pipeline, the daemon and
//! the alert engine update as they work, plus per-product gauges (volume, net sentiment)
//! and alert/outbox gauges computed from the store at scrape time, so they are right even
//! for data imported while the daemon was stopped.
//!
//! A [`Metrics`] handle is cheap to clone; every component that reports gets one passed in
//! (the pipeline carries it, the API state shares it). No global registry.

use crate::config::Config;
use crate::store::{MentionRecord, Store};
use crate::trend::{BucketCounts, Granularity};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric family this module registers (as named in `# HELP` lines: counters gain
/// `_total` on their samples). Dashboards and tests check their queries against it.
pub const NAMES: &[&str] = &[
    "pulse_mentions_ingested",
    "pulse_mentions_fetched",
    "pulse_mentions_duplicate",
    "pulse_mentions_unmatched",
    "pulse_source_polls",
    "pulse_source_items",
    "pulse_source_truncated_polls",
    "pulse_source_poll_errors",
    "pulse_source_poll_duration_seconds",
    "pulse_classifier_texts",
    "pulse_classifier_batch_duration_seconds",
    "pulse_alerts_raised",
    "pulse_alert_deliveries",
    "pulse_alert_delivery_duration_seconds",
    "pulse_product_volume",
    "pulse_product_net_sentiment",
    "pulse_mentions_stored",
    "pulse_alerts_firing",
    "pulse_alert_notifications",
    "pulse_alert_outbox_depth",
];

/// Windows the per-product gauges are computed over (plus `[detect] window`).
pub const WINDOWS: [Duration; 3] = [
    Duration::from_secs(3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(7 * 24 * 3600),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    product: String,
    source: String,
    label: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

/// What became of the items a poll read: `stored`, `duplicate`, `unmatched`, `rejected`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemOutcome {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassifierLabels {
    classifier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProductWindow {
    product: String,
    window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    product: String,
    signal: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelOutcome {
    channel: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelState {
    channel: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 10 ms .. ~82 s: a poll is a few HTTP requests with retries; a delivery is one request.
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

fn batch_histogram() -> Histogram {
    // 1 ms .. ~4 s per classified batch.
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

struct Inner {
    registry: Registry,
    ingested: Family<IngestLabels, Counter>,
    fetched: Family<SourceLabels, Counter>,
    duplicates: Family<SourceLabels, Counter>,
    unmatched: Family<SourceLabels, Counter>,
    polls: Family<SourceLabels, Counter>,
    items: Family<ItemOutcome, Counter>,
    truncated: Family<SourceLabels, Counter>,
    poll_errors: Family<SourceLabels, Counter>,
    poll_duration: HistogramFamily<SourceLabels>,
    classified: Family<ClassifierLabels, Counter>,
    classify_duration: HistogramFamily<ClassifierLabels>,
    alerts_raised: Family<AlertLabels, Counter>,
    deliveries: Family<ChannelOutcome, Counter>,
    delivery_duration: HistogramFamily<ChannelLabels>,
    // Computed at scrape time.
    volume: Family<ProductWindow, Gauge>,
    net_sentiment: Family<ProductWindow, FloatGauge>,
    stored: Family<IngestLabels, Gauge>,
    alerts_open: Family<AlertLabels, Gauge>,
    notifications: Family<ChannelState, Gauge>,
    outbox_depth: Gauge,
    /// Serialises scrapes: gauges are cleared and refilled for each one.
    scrape: Mutex<()>,
}

/// Handle to the daemon's metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let ingested = Family::<IngestLabels, Counter>::default();
        r.register(
            "pulse_mentions_ingested",
            "Mentions newly stored, by product, source and sentiment label",
            ingested.clone(),
        );
        let fetched = Family::<SourceLabels, Counter>::default();
        r.register(
            "pulse_mentions_fetched",
            "Mentions a source returned",
            fetched.clone(),
        );
        let duplicates = Family::<SourceLabels, Counter>::default();
        r.register(
            "pulse_mentions_duplicate",
            "Fetched mentions already stored (same id or same text)",
            duplicates.clone(),
        );
        let unmatched = Family::<SourceLabels, Counter>::default();
        r.register(
            "pulse_mentions_unmatched",
            "Fetched mentions naming no configured product",
            unmatched.clone(),
        );
        let polls = Family::<SourceLabels, Counter>::default();
        r.register("pulse_source_polls", "Source polls run", polls.clone());
        let items = Family::<ItemOutcome, Counter>::default();
        r.register(
            "pulse_source_items",
            "Items polls read, by what became of them (stored, duplicate, unmatched, rejected); they add up to pulse_mentions_fetched",
            items.clone(),
        );
        let truncated = Family::<SourceLabels, Counter>::default();
        r.register(
            "pulse_source_truncated_polls",
            "Polls that stopped at max_pages with more to read (the next poll goes on)",
            truncated.clone(),
        );
        let poll_errors = Family::<SourceLabels, Counter>::default();
        r.register(
            "pulse_source_poll_errors",
            "Source polls that failed in whole or in part",
            poll_errors.clone(),
        );
        let poll_duration: HistogramFamily<SourceLabels> =
            Family::new_with_constructor(latency_histogram);
        r.register(
            "pulse_source_poll_duration_seconds",
            "Time one poll of a source took, fetch and store",
            poll_duration.clone(),
        );
        let classified = Family::<ClassifierLabels, Counter>::default();
        r.register(
            "pulse_classifier_texts",
            "Texts classified; rate() of it is the classifier's throughput",
            classified.clone(),
        );
        let classify_duration: HistogramFamily<ClassifierLabels> =
            Family::new_with_constructor(batch_histogram);
        r.register(
            "pulse_classifier_batch_duration_seconds",
            "Time to classify one batch",
            classify_duration.clone(),
        );
        let alerts_raised = Family::<AlertLabels, Counter>::default();
        r.register(
            "pulse_alerts_raised",
            "Alerts raised since the daemon started",
            alerts_raised.clone(),
        );
        let deliveries = Family::<ChannelOutcome, Counter>::default();
        r.register(
            "pulse_alert_deliveries",
            "Alert delivery attempts by channel and outcome (delivered, failed, retry)",
            deliveries.clone(),
        );
        let delivery_duration: HistogramFamily<ChannelLabels> =
            Family::new_with_constructor(latency_histogram);
        r.register(
            "pulse_alert_delivery_duration_seconds",
            "Time one delivery attempt to a channel took",
            delivery_duration.clone(),
        );
        let volume = Family::<ProductWindow, Gauge>::default();
        r.register(
            "pulse_product_volume",
            "Mentions of a product in the window (the current hourly bucket and the ones before it)",
            volume.clone(),
        );
        let net_sentiment = Family::<ProductWindow, FloatGauge>::default();
        r.register(
            "pulse_product_net_sentiment",
            "(positive - negative) / mentions of a product in the window; absent without mentions",
            net_sentiment.clone(),
        );
        let stored = Family::<IngestLabels, Gauge>::default();
        r.register(
            "pulse_mentions_stored",
            "Mentions in the store, by product, source and sentiment label",
            stored.clone(),
        );
        let alerts_open = Family::<AlertLabels, Gauge>::default();
        r.register(
            "pulse_alerts_firing",
            "Alerts currently firing",
            alerts_open.clone(),
        );
        let notifications = Family::<ChannelState, Gauge>::default();
        r.register(
            "pulse_alert_notifications",
            "Stored alert notifications by channel and state (pending, delivered, failed, cancelled)",
            notifications.clone(),
        );
        let outbox_depth = Gauge::default();
        r.register(
            "pulse_alert_outbox_depth",
            "Alert notifications waiting to be delivered",
            outbox_depth.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: r,
                ingested,
                fetched,
                duplicates,
                unmatched,
                polls,
                items,
                truncated,
                poll_errors,
                poll_duration,
                classified,
                classify_duration,
                alerts_raised,
                deliveries,
                delivery_duration,
                volume,
                net_sentiment,
                stored,
                alerts_open,
                notifications,
                outbox_depth,
                scrape: Mutex::new(()),
            }),
        }
    }

    // ---- pipeline and daemon ----

    /// One classified batch of `texts` texts.
    pub fn observe_classify(&self, classifier: &str, texts: usize, took: Duration) {
        let l = ClassifierLabels {
            classifier: classifier.to_string(),
        };
        self.inner.classified.get_or_create(&l).inc_by(texts as u64);
        self.inner
            .classify_duration
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    /// Count the records of a batch that `insert_batch` actually stored.
    ///
    /// The store reports only how many were stored; when some were duplicates, a record
    /// counts if its stored copy carries this batch's `fetched_at` (duplicates keep the
    /// original's). Ids repeated within the batch count once.
    pub fn observe_ingested(
        &self,
        store: &Store,
        records: &[MentionRecord],
        stored: usize,
        fetched_at: DateTime<Utc>,
    ) {
        if stored == 0 {
            return;
        }
        let all = stored == records.len();
        let mut seen = HashSet::new();
        for r in records {
            if !seen.insert((r.source.as_str(), r.id.as_str())) {
                continue;
            }
            if !all {
                let fresh = store
                    .mention_by_id(&r.source, &r.id)
                    .map(|copies| copies.iter().any(|c| c.fetched_at == fetched_at))
                    .unwrap_or(false);
                if !fresh {
                    continue;
                }
            }
            for product in &r.products {
                self.inner
                    .ingested
                    .get_or_create(&IngestLabels {
                        product: product.clone(),
                        source: r.source.clone(),
                        label: r.label.to_string(),
                    })
                    .inc();
            }
        }
    }

    /// One poll of a source finished.
    pub fn observe_poll(&self, summary: &crate::daemon::PollSummary, took: Duration) {
        let l = SourceLabels {
            source: summary.source.clone(),
        };
        let i = &self.inner;
        i.polls.get_or_create(&l).inc();
        if summary.error.is_some() {
            i.poll_errors.get_or_create(&l).inc();
        }
        i.fetched.get_or_create(&l).inc_by(summary.fetched as u64);
        i.duplicates
            .get_or_create(&l)
            .inc_by(summary.duplicates as u64);
        i.unmatched
            .get_or_create(&l)
            .inc_by(summary.unmatched as u64);
        for (outcome, n) in [
            ("stored", summary.stored),
            ("duplicate", summary.duplicates),
            ("unmatched", summary.unmatched),
            ("rejected", summary.rejected),
        ] {
            i.items
                .get_or_create(&ItemOutcome {
                    source: summary.source.clone(),
                    outcome: outcome.to_string(),
                })
                .inc_by(n as u64);
        }
        if !summary.truncated.is_empty() {
            i.truncated.get_or_create(&l).inc();
        }
        i.poll_duration
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    // ---- alert engine ----

    /// An alert started firing.
    pub fn alert_raised(&self, product: &str, signal: &str, severity: &str) {
        self.inner
            .alerts_raised
            .get_or_create(&AlertLabels {
                product: product.to_string(),
                signal: signal.to_string(),
                severity: severity.to_string(),
            })
            .inc();
    }

    /// One delivery attempt to a channel ended: `outcome` is `delivered`, `failed`
    /// (permanent) or `retry` (will be tried again).
    pub fn alert_delivery(&self, channel: &str, outcome: &str, took: Duration) {
        self.inner
            .deliveries
            .get_or_create(&ChannelOutcome {
                channel: channel.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.inner
            .delivery_duration
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    // ---- scrape ----

    /// Refresh the store-derived gauges and encode everything in the text format.
    pub fn render(
        &self,
        store: &Store,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<String, crate::store::StoreError> {
        let _guard = self.inner.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh_products(store, config, now)?;
        self.refresh_alerts(store);
        let mut out = String::new();
        encode(&mut out, &self.inner.registry).expect("writing to a String cannot fail");
        Ok(out)
    }

    fn refresh_products(
        &self,
        store: &Store,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        let i = &self.inner;
        i.volume.clear();
        i.net_sentiment.clear();
        i.stored.clear();
        let mut windows: Vec<Duration> = WINDOWS.to_vec();
        if !windows.contains(&config.detect.window) {
            windows.push(config.detect.window);
        }
        let mut products: Vec<String> = config.products.iter().map(|p| p.name.clone()).collect();
        for n in store.product_names()? {
            if !products.contains(&n) {
                products.push(n);
            }
        }
        let mut sources: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
        for s in store.all_source_status()? {
            if !sources.contains(&s.source) {
                sources.push(s.source);
            }
        }
        for product in &products {
            let longest = windows.iter().max().copied().unwrap_or(WINDOWS[2]);
            let from = now - chrono_dur(longest) + ChronoDuration::hours(1);
            let hourly = store.buckets(product, None, Granularity::Hour, from, now)?;
            for w in &windows {
                // A window of N hours is the current hourly bucket and the N-1 before it.
                let cut = Granularity::Hour.floor(now - chrono_dur(*w) + ChronoDuration::hours(1));
                let mut sum = BucketCounts::default();
                for (_, c) in hourly.iter().filter(|(s, _)| *s >= cut) {
                    sum.merge(c);
                }
                let l = ProductWindow {
                    product: product.clone(),
                    window: window_label(*w),
                };
                i.volume.get_or_create(&l).set(sum.count as i64);
                if let Some(n) = sum.net_sentiment() {
                    i.net_sentiment.get_or_create(&l).set(n);
                }
            }
            let mut by_source: BTreeMap<String, BucketCounts> = BTreeMap::new();
            let epoch = DateTime::<Utc>::UNIX_EPOCH;
            for s in &sources {
                let mut sum = BucketCounts::default();
                for (_, c) in store.buckets(product, Some(s), Granularity::Day, epoch, now)? {
                    sum.merge(&c);
                }
                by_source.insert(s.clone(), sum);
            }
            // Mentions from sources no longer configured (or imported under another name)
            // are reported under source="other" so the per-product total stays whole.
            let total = store.totals(product, Granularity::Day)?;
            let mut known = BucketCounts::default();
            for c in by_source.values() {
                known.merge(c);
            }
            let other = BucketCounts {
                count: total.count.saturating_sub(known.count),
                positive: total.positive.saturating_sub(known.positive),
                negative: total.negative.saturating_sub(known.negative),
                neutral: total.neutral.saturating_sub(known.neutral),
                score_sum: 0.0,
            };
            if other.count > 0 {
                by_source.insert("other".into(), other);
            }
            for (source, c) in by_source.into_iter().filter(|(_, c)| c.count > 0) {
                for (label, n) in [
                    ("positive", c.positive),
                    ("negative", c.negative),
                    ("neutral", c.neutral),
                ] {
                    i.stored
                        .get_or_create(&IngestLabels {
                            product: product.clone(),
                            source: source.clone(),
                            label: label.into(),
                        })
                        .set(n as i64);
                }
            }
        }
        Ok(())
    }

    fn refresh_alerts(&self, store: &Store) {
        let i = &self.inner;
        i.alerts_open.clear();
        i.notifications.clear();
        i.outbox_depth.set(0);
        alert_source::refresh(self, store);
    }
}

/// `1h`, `6h`, `24h`, `7d`: short, stable label values for PromQL selectors.
pub fn window_label(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 2 * 86_400 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else {
        humantime::format_duration(d).to_string()
    }
}

fn chrono_dur(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::days(7))
}

/// Reads the alert subsystem's stored records for the alert gauges.
mod alert_source {
    use super::{AlertLabels, ChannelState, Metrics};
    use crate::alert::engine::{list_alerts, list_outbox};
    use crate::alert::record::{AlertStatus, OutboxState};
    use crate::store::Store;

    pub fn refresh(m: &Metrics, store: &Store) {
        let i = &m.inner;
        // A bad record must not take the whole scrape down: log it, report the rest.
        match list_alerts(store.db()) {
            Ok(alerts) => {
                for a in alerts.iter().filter(|a| a.status == AlertStatus::Firing) {
                    i.alerts_open
                        .get_or_create(&AlertLabels {
                            product: a.labels.product.clone(),
                            signal: a.labels.signal.clone(),
                            severity: a.labels.severity.clone(),
                        })
                        .inc();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read alerts for metrics"),
        }
        match list_outbox(store.db()) {
            Ok(outbox) => {
                for e in &outbox {
                    i.notifications
                        .get_or_create(&ChannelState {
                            channel: e.channel.clone(),
                            state: e.state.as_str().to_string(),
                        })
                        .inc();
                }
                let pending = outbox
                    .iter()
                    .filter(|e| e.state == OutboxState::Pending)
                    .count();
                i.outbox_depth.set(pending as i64);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the alert outbox for metrics"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_list_every_registered_family() {
        let m = Metrics::new();
        let i = &m.inner;
        // Empty families are not encoded: give each one a child first.
        let il = IngestLabels {
            product: "p".into(),
            source: "s".into(),
            label: "positive".into(),
        };
        let sl = SourceLabels { source: "s".into() };
        let pw = ProductWindow {
            product: "p".into(),
            window: "1h".into(),
        };
        let al = AlertLabels {
            product: "p".into(),
            signal: "x".into(),
            severity: "warning".into(),
        };
        i.ingested.get_or_create(&il).inc();
        i.stored.get_or_create(&il).set(1);
        for f in [
            &i.fetched,
            &i.duplicates,
            &i.unmatched,
            &i.polls,
            &i.poll_errors,
            &i.truncated,
        ] {
            f.get_or_create(&sl).inc();
        }
        i.items
            .get_or_create(&ItemOutcome {
                source: "s".into(),
                outcome: "stored".into(),
            })
            .inc();
        i.poll_duration.get_or_create(&sl).observe(0.1);
        m.observe_classify("lexicon", 1, Duration::from_millis(1));
        m.alert_raised("p", "x", "warning");
        m.alert_delivery("c", "delivered", Duration::from_millis(1));
        i.volume.get_or_create(&pw).set(1);
        i.net_sentiment.get_or_create(&pw).set(0.5);
        i.alerts_open.get_or_create(&al).set(1);
        i.notifications
            .get_or_create(&ChannelState {
                channel: "c".into(),
                state: "pending".into(),
            })
            .set(1);
        let mut out = String::new();
        encode(&mut out, &i.registry).unwrap();
        let parsed =
            prometheus_parse::Scrape::parse(out.lines().map(|l| Ok(l.to_string()))).unwrap();
        let mut got: Vec<&str> = parsed.docs.keys().map(String::as_str).collect();
        got.sort();
        let mut want = NAMES.to_vec();
        want.sort();
        assert_eq!(got, want);
    }

    fn record(
        id: &str,
        text: &str,
        label: crate::model::Label,
        at: DateTime<Utc>,
    ) -> MentionRecord {
        MentionRecord {
            uid: 0,
            source: "hn".into(),
            id: id.into(),
            url: None,
            author: None,
            published_at: at,
            text: text.into(),
            language: None,
            engagement: None,
            products: vec!["Widget".into()],
            label,
            score: 0.0,
            confidence: 1.0,
            classifier: "lexicon".into(),
            aspects: vec![],
            fetched_at: at,
        }
    }

    fn ingested(m: &Metrics, label: &str) -> u64 {
        m.inner
            .ingested
            .get_or_create(&IngestLabels {
                product: "Widget".into(),
                source: "hn".into(),
                label: label.into(),
            })
            .get()
    }

    #[test]
    fn only_newly_stored_mentions_count_as_ingested() {
        use crate::model::Label;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let m = Metrics::new();
        let t1 = Utc::now() - ChronoDuration::minutes(5);
        let first = vec![record(
            "1",
            "Widget is great, really enjoying it a lot",
            Label::Positive,
            t1,
        )];
        let r = store.insert_batch(&first, false).unwrap();
        m.observe_ingested(&store, &first, r.stored, t1);
        assert_eq!(ingested(&m, "positive"), 1);
        // A batch mixing a re-fetched post, a cross-post of it and a new one: only the new one counts.
        let t2 = Utc::now();
        let second = vec![
            record(
                "1",
                "Widget is great, really enjoying it a lot",
                Label::Positive,
                t2,
            ),
            record(
                "2",
                "Widget is great, really enjoying it a lot!",
                Label::Positive,
                t2,
            ),
            record(
                "3",
                "Widget broke down again after the update",
                Label::Negative,
                t2,
            ),
            record(
                "3",
                "Widget broke down again after the update",
                Label::Negative,
                t2,
            ),
        ];
        let r = store.insert_batch(&second, false).unwrap();
        assert_eq!(r.stored, 1);
        m.observe_ingested(&store, &second, r.stored, t2);
        assert_eq!(ingested(&m, "positive"), 1);
        assert_eq!(ingested(&m, "negative"), 1);
    }

    #[test]
    fn window_labels() {
        let l: Vec<String> = WINDOWS.iter().map(|w| window_label(*w)).collect();
        assert_eq!(l, ["1h", "24h", "7d"]);
        assert_eq!(window_label(Duration::from_secs(14 * 86_400)), "14d");
        assert_eq!(window_label(Duration::from_secs(90 * 60)), "1h 30m");
    }

    #[test]
    fn counters_render_in_text_format() {
        let m = Metrics::new();
        m.observe_classify("lexicon", 5, Duration::from_millis(3));
        m.alert_delivery("slack", "delivered", Duration::from_millis(40));
        m.alert_raised("Widget", "volume_spike", "warning");
        let mut out = String::new();
        encode(&mut out, &m.inner.registry).unwrap();
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        let parsed = prometheus_parse::Scrape::parse(lines.into_iter().map(Ok)).unwrap();
        let get = |name: &str| {
            parsed
                .samples
                .iter()
                .find(|s| s.metric == name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .clone()
        };
        assert!(
            matches!(get("pulse_classifier_texts_total").value, prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) if v == 5.0)
        );
        assert_eq!(
            get("pulse_alert_deliveries_total").labels.get("channel"),
            Some("slack")
        );
        assert_eq!(
            get("pulse_alerts_raised_total").labels.get("signal"),
            Some("volume_spike")
        );
    }
}
