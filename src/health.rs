//! Pulse's own health: the `[health]` config, pure checks over the stored source status,
//! the store's disk and size, the classifier and the alert channels, producing findings
//! that say what is wrong and what to do. Shown by `pulse status` and `GET /api/status`
//! (`health`), and raised as `pulse_health` alerts by the alert engine, so IT sees the
//! same state everywhere.
//!
//! What only the running daemon knows (a classifier that fell back, a channel that keeps
//! failing) is kept in the store's `health` tree, so `pulse status` can show it too.

use crate::alert::Department;
use crate::config::Secret;
use crate::store::{SourceStatus, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;
use std::time::Duration;

/// The sled tree holding the daemon-side health records.
pub const HEALTH_TREE: &str = "health";
const CLASSIFIER_KEY: &[u8] = b"classifier";
const CHANNEL_PREFIX: &str = "channel/";
/// Key of the open `pulse_health` alerts (written by the alert engine).
pub const OPEN_ALERTS_KEY: &[u8] = b"open_alerts";

/// `[health]`: when Pulse reports itself unwell, and the optional heartbeat.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Raise `pulse_health` alerts through the alert channels.
    #[serde(default = "default_true")]
    pub alerts: bool,
    /// Department the health alerts are routed as (`[[routes]] department`).
    #[serde(default = "default_department")]
    pub department: Department,
    /// How often the daemon re-checks its health.
    #[serde(default = "default_check_every", with = "humantime_serde")]
    pub check_every: Duration,
    /// A source failing this long is reported (shorter outages are routine).
    #[serde(default = "default_source_failing_for", with = "humantime_serde")]
    pub source_failing_for: Duration,
    /// Requests left in a platform quota at or below which the source is reported.
    #[serde(default = "default_quota_low")]
    pub quota_low: i64,
    /// Failed delivery attempts in a row after which a channel is reported (through the others).
    #[serde(default = "default_channel_failures")]
    pub channel_failures: u32,
    /// Free space on the store's file system below this fraction is reported …
    #[serde(default = "default_disk_free_fraction")]
    pub disk_free_fraction: f64,
    /// … or below this size (`1GiB`, `500MB` or bytes), whichever triggers first.
    #[serde(default = "default_disk_free_bytes", deserialize_with = "de_bytes")]
    pub disk_free_bytes: u64,
    /// Size limit of the store (`20GiB`); unset = no limit.
    #[serde(default, deserialize_with = "de_opt_bytes")]
    pub store_max_bytes: Option<u64>,
    /// The store is reported when it reaches this fraction of `store_max_bytes`.
    #[serde(default = "default_store_warn_fraction")]
    pub store_warn_fraction: f64,
    /// Dead-man's switch: pinged every `heartbeat_interval` while the daemon runs
    /// (a healthchecks.io check URL, an Uptime Kuma push URL…); a secret, so `env:VAR` works.
    #[serde(default)]
    pub heartbeat_url: Option<Secret>,
    #[serde(default = "default_heartbeat_interval", with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// `get` or `post` (POST sends a one-line status as the body).
    #[serde(default)]
    pub heartbeat_method: HeartbeatMethod,
    #[serde(default = "default_heartbeat_timeout", with = "humantime_serde")]
    pub heartbeat_timeout: Duration,
}

/// HTTP method of the heartbeat ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatMethod {
    #[default]
    Get,
    Post,
}

fn default_true() -> bool {
    true
}
fn default_department() -> Department {
    Department::It
}
fn default_check_every() -> Duration {
    Duration::from_secs(60)
}
fn default_source_failing_for() -> Duration {
    Duration::from_secs(3600)
}
fn default_quota_low() -> i64 {
    10
}
fn default_channel_failures() -> u32 {
    3
}
fn default_disk_free_fraction() -> f64 {
    0.05
}
fn default_disk_free_bytes() -> u64 {
    1024 * 1024 * 1024
}
fn default_store_warn_fraction() -> f64 {
    0.9
}
fn default_heartbeat_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_heartbeat_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            alerts: default_true(),
            department: default_department(),
            check_every: default_check_every(),
            source_failing_for: default_source_failing_for(),
            quota_low: default_quota_low(),
            channel_failures: default_channel_failures(),
            disk_free_fraction: default_disk_free_fraction(),
            disk_free_bytes: default_disk_free_bytes(),
            store_max_bytes: None,
            store_warn_fraction: default_store_warn_fraction(),
            heartbeat_url: None,
            heartbeat_interval: default_heartbeat_interval(),
            heartbeat_method: HeartbeatMethod::default(),
            heartbeat_timeout: default_heartbeat_timeout(),
        }
    }
}

impl HealthConfig {
    /// Problems as (key, message), keys relative to `[health]`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.check_every < Duration::from_secs(1) {
            out.push(("check_every".into(), "must be at least 1s".into()));
        }
        if self.source_failing_for < Duration::from_secs(60) {
            out.push((
                "source_failing_for".into(),
                "must be at least 1m: a single failed poll is routine".into(),
            ));
        }
        if self.quota_low < 0 {
            out.push(("quota_low".into(), "must be 0 or more".into()));
        }
        if self.channel_failures == 0 {
            out.push((
                "channel_failures".into(),
                "must be at least 1 failed attempt".into(),
            ));
        }
        for (key, v) in [
            ("disk_free_fraction", self.disk_free_fraction),
            ("store_warn_fraction", self.store_warn_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                out.push((key.into(), format!("{v} is not a fraction between 0 and 1")));
            }
        }
        if self.store_max_bytes == Some(0) {
            out.push((
                "store_max_bytes".into(),
                "must be a size like \"20GiB\"; leave it out for no limit".into(),
            ));
        }
        if let Some(u) = &self.heartbeat_url {
            match url::Url::parse(u.expose()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => out.push(("heartbeat_url".into(), format!("{u} is not an http(s) URL"))),
            }
        }
        if self.heartbeat_interval < Duration::from_secs(1) {
            out.push(("heartbeat_interval".into(), "must be at least 1s".into()));
        }
        if self.heartbeat_timeout.is_zero() {
            out.push(("heartbeat_timeout".into(), "must be more than 0s".into()));
        }
        out
    }

    /// The thresholds the checks use.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            failing_for: self.source_failing_for,
            quota_low: self.quota_low,
            disk_free_fraction: self.disk_free_fraction,
            disk_free_bytes: self.disk_free_bytes,
            store_max_bytes: self.store_max_bytes,
            store_warn_fraction: self.store_warn_fraction,
            channel_failures: self.channel_failures,
        }
    }
}

/// Parse a size: a number of bytes, or a number with `KB`/`MB`/`GB`/`TB` (powers of 1000)
/// or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size `{text}`: write it like 500MB, 20GiB or 1048576"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
            "unknown size unit `{other}` in `{text}`: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
        ))
        }
    };
    Ok((n * mult).round() as u64)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Int(u64),
    Text(String),
}

fn de_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match RawSize::deserialize(d)? {
        RawSize::Int(n) => Ok(n),
        RawSize::Text(t) => parse_bytes(&t).map_err(serde::de::Error::custom),
    }
}

fn de_opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    de_bytes(d).map(Some)
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

/// One thing wrong with Pulse itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthFinding {
    /// `source_failing`, `source_auth`, `source_quota`, `source_selectors`, `classifier`,
    /// `channel_failing`, `disk_space` or `store_size`.
    pub check: String,
    pub severity: Severity,
    /// The source or channel name, `classifier`, or `store`.
    pub subject: String,
    /// When the problem started, when known.
    pub since: Option<DateTime<Utc>>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub action: String,
}

/// When a condition becomes a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// A source failing this long is reported (shorter outages are routine).
    pub failing_for: Duration,
    /// Requests left in a quota window at or below which the source is reported.
    pub quota_low: i64,
    /// Free space on the store's file system below this fraction is reported …
    pub disk_free_fraction: f64,
    /// … or below this many bytes, whichever triggers first.
    pub disk_free_bytes: u64,
    /// Size limit of the store, if any …
    pub store_max_bytes: Option<u64>,
    /// … reported from this fraction of it.
    pub store_warn_fraction: f64,
    /// Failed delivery attempts in a row that make a channel "failing".
    pub channel_failures: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        HealthConfig::default().thresholds()
    }
}

/// A source's stored status together with its configured poll interval.
pub struct SourceInput<'a> {
    pub status: &'a SourceStatus,
    pub interval: Duration,
}

/// Findings for the sources, in input order.
pub fn check_sources(
    sources: &[SourceInput<'_>],
    now: DateTime<Utc>,
    t: &Thresholds,
) -> Vec<HealthFinding> {
    let mut out = Vec::new();
    for s in sources {
        let st = s.status;
        let name = st.source.clone();
        let failing = match (st.last_error_at, st.last_success) {
            (Some(err), Some(ok)) => err > ok,
            (Some(_), None) => true,
            _ => false,
        };
        let last_error = st.last_error.clone().unwrap_or_default();
        if failing && is_auth_error(&last_error) {
            // Credentials do not fix themselves: report at once, not after the threshold.
            out.push(HealthFinding {
                check: "source_auth".into(),
                severity: Severity::Critical,
                subject: name.clone(),
                since: st.last_error_at,
                message: format!("source `{name}` cannot authenticate: {last_error}"),
                action: "renew the token, app password or OAuth app in the config (or its env: variable), then `systemctl reload pulse`".into(),
            });
        } else if failing {
            let since = failing_since(st, s.interval);
            let span = (now - since).to_std().unwrap_or_default();
            if span >= t.failing_for {
                out.push(HealthFinding {
                    check: "source_failing".into(),
                    severity: Severity::Critical,
                    subject: name.clone(),
                    since: Some(since),
                    message: format!(
                        "source `{name}` has failed for {} ({} polls in a row): {last_error}",
                        humantime::format_duration(Duration::from_secs(span.as_secs())),
                        st.consecutive_failures
                    ),
                    action: "check the platform's status and the URL or credentials in the config; `pulse poll --once` shows the error".into(),
                });
            }
        }
        if let Some(left) = st.quota_remaining.filter(|q| *q <= t.quota_low) {
            out.push(HealthFinding {
                check: "source_quota".into(),
                severity: Severity::Warning,
                subject: name.clone(),
                since: st.last_poll,
                message: format!("source `{name}` has {left} requests left in its quota"),
                action: "poll it less often (a longer `interval`) or configure an API key/token for a larger quota".into(),
            });
        }
        let empty: Vec<&String> = st
            .warnings
            .iter()
            .filter(|w| w.contains("matched nothing"))
            .collect();
        if !empty.is_empty() {
            out.push(HealthFinding {
                check: "source_selectors".into(),
                severity: Severity::Warning,
                subject: name.clone(),
                since: st.last_poll,
                message: format!(
                    "source `{name}`: {}",
                    empty
                        .iter()
                        .map(|w| w.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                action: "the page layout changed: update the source's CSS selectors".into(),
            });
        }
    }
    out
}

/// When a failing source last worked; without any success, estimated from the number
/// of failed polls in a row.
fn failing_since(st: &SourceStatus, interval: Duration) -> DateTime<Utc> {
    if let Some(ok) = st.last_success {
        return ok;
    }
    let last = st.last_error_at.or(st.last_poll).unwrap_or_else(Utc::now);
    let polls = st.consecutive_failures.saturating_sub(1).min(1_000_000) as u32;
    last - chrono::Duration::from_std(interval * polls).unwrap_or_default()
}

fn is_auth_error(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.starts_with("authentication failed")
        || m.contains("answered http 401")
        || m.contains("answered http 403")
        || m.contains("invalid_grant")
}

/// Free space on the file system holding the store, as (free bytes, total bytes).
// statvfs field widths differ between targets, so the casts are not no-ops everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs only writes into the buffer we own; the path is NUL-terminated.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    let st = unsafe { st.assume_init() };
    let unit = st.f_frsize as u64;
    Some((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

/// A finding when the store's file system is nearly full (sled cannot write then).
pub fn check_disk(
    store_bytes: u64,
    free: u64,
    total: u64,
    t: &Thresholds,
) -> Option<HealthFinding> {
    if total == 0 {
        return None;
    }
    let fraction = free as f64 / total as f64;
    if fraction >= t.disk_free_fraction && free >= t.disk_free_bytes {
        return None;
    }
    Some(store_finding(
        "disk_space",
        free < t.disk_free_bytes / 4,
        format!(
            "the store's disk is nearly full: {:.0} MiB free of {:.0} MiB ({:.1}%); the store uses {:.0} MiB",
            mib(free),
            mib(total),
            fraction * 100.0,
            mib(store_bytes)
        ),
        "free disk space, set `[store] keep_mentions` to prune old mention texts, or move the store",
    ))
}

/// A store that has reached its configured size limit (or most of it).
pub fn check_store_size(store_bytes: u64, t: &Thresholds) -> Option<HealthFinding> {
    let max = t.store_max_bytes.filter(|m| *m > 0)?;
    let fraction = store_bytes as f64 / max as f64;
    if fraction < t.store_warn_fraction {
        return None;
    }
    Some(store_finding(
        "store_size",
        store_bytes >= max,
        format!(
            "the store uses {:.0} MiB, {:.0}% of its {:.0} MiB limit",
            mib(store_bytes),
            fraction * 100.0,
            mib(max)
        ),
        "set `[store] keep_mentions` to prune old mention texts and run `pulse store compact`, or raise `[health] store_max_bytes`",
    ))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A finding about the store (subject `store`), critical or a warning.
fn store_finding(check: &str, critical: bool, message: String, action: &str) -> HealthFinding {
    HealthFinding {
        check: check.into(),
        severity: if critical {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject: "store".into(),
        since: None,
        message,
        action: action.into(),
    }
}

/// The daemon's classifier when the configured one failed to load (kept in the `health`
/// tree; absent when the configured classifier runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierHealth {
    /// What the config asks for (`transformer`).
    pub configured: String,
    /// What runs instead (`lexicon`).
    pub running: String,
    /// Why the configured one failed.
    pub error: String,
    pub at: DateTime<Utc>,
}

/// Delivery record of one alert channel: failed attempts since its last success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelHealth {
    pub channel: String,
    /// The channel's settings when the failures were counted: a changed channel starts afresh.
    pub settings: String,
    pub consecutive_failures: u32,
    /// First failure of the current run of failures.
    pub since: DateTime<Utc>,
    pub last_error: String,
}

fn tree(db: &sled::Db) -> Option<sled::Tree> {
    db.open_tree(HEALTH_TREE)
        .map_err(|e| tracing::warn!(error = %e, "cannot open the health tree"))
        .ok()
}

fn read<T: serde::de::DeserializeOwned>(t: &sled::Tree, key: &[u8]) -> Option<T> {
    let v = t.get(key).ok()??;
    crate::alert::record::decode("health record", &v)
        .map_err(|e| tracing::warn!(error = %e, "cannot decode a health record; ignoring it"))
        .ok()
}

/// Record which classifier the daemon runs: `None` when the configured one loaded.
pub fn record_classifier(db: &sled::Db, problem: Option<&ClassifierHealth>) {
    let Some(t) = tree(db) else { return };
    let r = match problem {
        Some(p) => t
            .insert(CLASSIFIER_KEY, crate::alert::record::encode(p))
            .map(|_| ()),
        None => t.remove(CLASSIFIER_KEY).map(|_| ()),
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "cannot record the classifier's health");
    }
}

/// Record the outcome of building the daemon's classifier (`fallback_error`: why the
/// configured one was replaced).
pub fn record_classifier_outcome(
    db: &sled::Db,
    config: &crate::sentiment::ClassifierConfig,
    running: &str,
    fallback_error: Option<String>,
) {
    let problem = fallback_error.map(|error| ClassifierHealth {
        configured: format!("{:?}", config.kind).to_lowercase(),
        running: running.to_string(),
        error,
        at: Utc::now(),
    });
    record_classifier(db, problem.as_ref());
}

pub fn classifier_record(db: &sled::Db) -> Option<ClassifierHealth> {
    read(&tree(db)?, CLASSIFIER_KEY)
}

fn channel_key(name: &str) -> Vec<u8> {
    format!("{CHANNEL_PREFIX}{name}").into_bytes()
}

/// Count one delivery attempt of a channel; returns the record after it (`None` once it
/// succeeded). Failures in a row are counted across restarts.
pub fn record_delivery(
    db: &sled::Db,
    channel: &str,
    settings: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Option<ChannelHealth> {
    let t = tree(db)?;
    let key = channel_key(channel);
    let old: Option<ChannelHealth> = read(&t, &key);
    let Some(err) = error else {
        if old.is_some() {
            if let Err(e) = t.remove(&key) {
                tracing::warn!(channel, error = %e, "cannot clear the channel's failure count");
            }
        }
        return None;
    };
    let mut rec = match old {
        Some(r) if r.settings == settings => r,
        _ => ChannelHealth {
            channel: channel.to_string(),
            settings: settings.to_string(),
            consecutive_failures: 0,
            since: now,
            last_error: String::new(),
        },
    };
    rec.consecutive_failures += 1;
    rec.last_error = err.to_string();
    if let Err(e) = t.insert(&key, crate::alert::record::encode(&rec)) {
        tracing::warn!(channel, error = %e, "cannot record the channel's failure");
    }
    Some(rec)
}

/// Every channel failure record.
pub fn channel_records(db: &sled::Db) -> Vec<ChannelHealth> {
    let Some(t) = tree(db) else {
        return Vec::new();
    };
    t.scan_prefix(CHANNEL_PREFIX.as_bytes())
        .filter_map(|kv| kv.ok())
        .filter_map(|(_, v)| crate::alert::record::decode("health record", &v).ok())
        .collect()
}

/// Forget the failures of channels that are gone or whose settings changed (a fixed URL
/// deserves a fresh start), e.g. after a config reload.
pub fn prune_channel_records(db: &sled::Db, channels: &[(String, String)]) {
    let Some(t) = tree(db) else { return };
    for rec in channel_records(db) {
        let keep = channels
            .iter()
            .any(|(name, settings)| *name == rec.channel && *settings == rec.settings);
        if !keep {
            let _ = t.remove(channel_key(&rec.channel));
        }
    }
}

/// Findings from the daemon's records: a classifier that fell back, channels that keep failing.
pub fn check_runtime(db: &sled::Db, channels: &[String], t: &Thresholds) -> Vec<HealthFinding> {
    let mut out = Vec::new();
    if let Some(c) = classifier_record(db) {
        out.push(HealthFinding {
            check: "classifier".into(),
            severity: Severity::Warning,
            subject: "classifier".into(),
            since: Some(c.at),
            message: format!(
                "the {} classifier failed to load ({}); mentions are classified by the {} fallback",
                c.configured, c.error, c.running
            ),
            action: "fix `[classifier] model` / `runtime` (see the model folder contract in models/README.md), check with `pulse classify`, then `systemctl reload pulse`".into(),
        });
    }
    for rec in channel_records(db) {
        if rec.consecutive_failures < t.channel_failures || !channels.contains(&rec.channel) {
            continue;
        }
        out.push(HealthFinding {
            check: "channel_failing".into(),
            severity: Severity::Critical,
            subject: rec.channel.clone(),
            since: Some(rec.since),
            message: format!(
                "alert channel `{}` failed its last {} delivery attempts: {}",
                rec.channel, rec.consecutive_failures, rec.last_error
            ),
            action: format!(
                "check the channel's URL, credentials and receiver (`pulse alerts test {}` shows the answer); its alerts are retried until they expire",
                rec.channel
            ),
        });
    }
    out
}

/// Every finding: sources, the store's disk and size, and the daemon's records.
pub fn check_all(
    store: &Store,
    sources: &[(String, Duration)],
    channels: &[String],
    t: &Thresholds,
    now: DateTime<Utc>,
) -> Vec<HealthFinding> {
    let stored = store.all_source_status().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read source status for the health checks");
        Vec::new()
    });
    let inputs: Vec<SourceInput<'_>> = sources
        .iter()
        .filter_map(|(name, interval)| {
            stored
                .iter()
                .find(|x| &x.source == name)
                .map(|status| SourceInput {
                    status,
                    interval: *interval,
                })
        })
        .collect();
    let mut out = check_sources(&inputs, now, t);
    out.extend(check_runtime(store.db(), channels, t));
    let size = store.size_on_disk();
    if let Some((free, total)) = disk_space(store.path()) {
        out.extend(check_disk(size, free, total, t));
    }
    out.extend(check_store_size(size, t));
    out
}

/// [`check_all`] with the sources, channels and thresholds of a config.
pub fn check_config(
    store: &Store,
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> Vec<HealthFinding> {
    let sources: Vec<(String, Duration)> = config
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.interval))
        .collect();
    let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
    check_all(store, &sources, &channels, &config.health.thresholds(), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn status(name: &str) -> SourceStatus {
        SourceStatus {
            source: name.into(),
            kind: "rss".into(),
            ..Default::default()
        }
    }

    fn check(st: &SourceStatus) -> Vec<HealthFinding> {
        check_sources(
            &[SourceInput {
                status: st,
                interval: Duration::from_secs(600),
            }],
            now(),
            &Thresholds::default(),
        )
    }

    #[test]
    fn failing_past_the_threshold_only() {
        let mut st = status("news");
        st.last_success = Some(now() - chrono::Duration::minutes(59));
        st.last_error_at = Some(now() - chrono::Duration::minutes(1));
        st.last_error = Some("request to http://x timed out".into());
        st.consecutive_failures = 6;
        assert!(
            check(&st).is_empty(),
            "59 minutes is under the 1 h threshold"
        );
        st.last_success = Some(now() - chrono::Duration::minutes(61));
        let f = check(&st);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "source_failing");
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].since, st.last_success);
        assert!(
            f[0].message.contains("failed for 1h 1m"),
            "{}",
            f[0].message
        );
        // Recovered: a success after the last error clears it.
        st.last_success = Some(now());
        assert!(check(&st).is_empty());
    }

    #[test]
    fn never_succeeded_is_estimated_from_failed_polls() {
        let mut st = status("news");
        st.last_error_at = Some(now());
        st.last_error = Some("cannot connect to http://x: refused".into());
        st.consecutive_failures = 6; // 5 intervals of 10 min = 50 min
        assert!(check(&st).is_empty());
        st.consecutive_failures = 8; // 70 min
        assert_eq!(check(&st)[0].check, "source_failing");
    }

    #[test]
    fn auth_failures_are_reported_at_once() {
        let mut st = status("reddit");
        st.last_error_at = Some(now());
        st.last_error = Some("authentication failed: invalid_grant".into());
        st.consecutive_failures = 1;
        let f = check(&st);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "source_auth");
        st.last_error =
            Some("https://api.github.com/search answered HTTP 401: Bad credentials".into());
        assert_eq!(check(&st)[0].check, "source_auth");
    }

    #[test]
    fn low_quota_and_empty_selectors_warn() {
        let mut st = status("gh");
        st.quota_remaining = Some(11);
        assert!(check(&st).is_empty());
        st.quota_remaining = Some(3);
        st.warnings = vec![
            "selector `.post` matched nothing on https://x/: the page layout may have changed"
                .into(),
        ];
        let f = check(&st);
        let checks: Vec<&str> = f.iter().map(|x| x.check.as_str()).collect();
        assert_eq!(checks, ["source_quota", "source_selectors"]);
        assert!(f.iter().all(|x| x.severity == Severity::Warning));
    }

    #[test]
    fn disk_nearly_full() {
        let t = Thresholds::default();
        let gib = 1024 * 1024 * 1024;
        assert!(check_disk(gib, 50 * gib, 100 * gib, &t).is_none());
        let f = check_disk(gib, 4 * gib, 100 * gib, &t).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        let f = check_disk(gib, gib / 8, 100 * gib, &t).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(disk_space(Path::new("/definitely/missing/dir/pulse.db")).is_some());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("1048576").unwrap(), 1_048_576);
        assert_eq!(parse_bytes("20GiB").unwrap(), 20 * 1024 * 1024 * 1024);
        assert_eq!(parse_bytes("500 MB").unwrap(), 500_000_000);
        assert_eq!(parse_bytes("1.5kib").unwrap(), 1536);
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("GB").is_err());
    }

    #[test]
    fn store_size_limit() {
        let mut t = Thresholds::default();
        assert!(check_store_size(u64::MAX / 2, &t).is_none(), "no limit set");
        t.store_max_bytes = Some(1000);
        assert!(check_store_size(899, &t).is_none());
        assert_eq!(
            check_store_size(900, &t).unwrap().severity,
            Severity::Warning
        );
        assert_eq!(
            check_store_size(1000, &t).unwrap().severity,
            Severity::Critical
        );
    }

    #[test]
    fn channel_failures_count_until_a_success() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let t = Thresholds::default();
        let names = vec!["slack".to_string()];
        let now = Utc::now();
        for i in 1..=3u32 {
            let r = record_delivery(&db, "slack", "cfg", Some("HTTP 500"), now).unwrap();
            assert_eq!(r.consecutive_failures, i);
            let f = check_runtime(&db, &names, &t);
            assert_eq!(f.len(), usize::from(i >= 3), "after {i} failures: {f:?}");
        }
        assert_eq!(check_runtime(&db, &names, &t)[0].check, "channel_failing");
        // Not configured any more: not reported.
        assert!(check_runtime(&db, &[], &t).is_empty());
        // Changed settings start afresh.
        let r = record_delivery(&db, "slack", "new", Some("HTTP 500"), now).unwrap();
        assert_eq!(r.consecutive_failures, 1);
        assert!(record_delivery(&db, "slack", "new", None, now).is_none());
        assert!(channel_records(&db).is_empty());
    }

    #[test]
    fn classifier_fallback_is_a_finding_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let t = Thresholds::default();
        let rec = ClassifierHealth {
            configured: "transformer".into(),
            running: "lexicon".into(),
            error: "cannot read models/x/model.onnx".into(),
            at: Utc::now(),
        };
        record_classifier(&db, Some(&rec));
        let f = check_runtime(&db, &[], &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "classifier");
        assert!(f[0].message.contains("model.onnx"), "{}", f[0].message);
        record_classifier(&db, None);
        assert!(check_runtime(&db, &[], &t).is_empty());
    }

    #[test]
    fn config_validation_names_keys() {
        let c: HealthConfig = toml::from_str(
            "source_failing_for = \"10s\"\nchannel_failures = 0\ndisk_free_fraction = 2.0\nheartbeat_url = \"ftp://x\"\nstore_max_bytes = \"20GiB\"\n",
        )
        .unwrap();
        let keys: Vec<String> = c.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "source_failing_for",
                "channel_failures",
                "disk_free_fraction",
                "heartbeat_url"
            ]
        );
        assert_eq!(c.store_max_bytes, Some(20 * 1024 * 1024 * 1024));
        assert!(toml::from_str::<HealthConfig>("bogus = 1").is_err());
    }
}
