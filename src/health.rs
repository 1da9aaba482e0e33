//! Pulse's own health: pure checks over the stored source status and the store's disk,
//! producing findings that say what is wrong and what to do. Shown by `pulse status` and
//! `GET /api/status` (`health`), so IT sees the same state either way.

use crate::store::SourceStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

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
    /// `source_failing`, `source_auth`, `source_quota`, `source_selectors` or `disk_space`.
    pub check: String,
    pub severity: Severity,
    /// The source name, or `store`.
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
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            failing_for: Duration::from_secs(3600),
            quota_low: 10,
            disk_free_fraction: 0.05,
            disk_free_bytes: 1024 * 1024 * 1024,
        }
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
    let mib = |b: u64| b as f64 / 1_048_576.0;
    Some(HealthFinding {
        check: "disk_space".into(),
        severity: if free < t.disk_free_bytes / 4 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject: "store".into(),
        since: None,
        message: format!(
            "the store's disk is nearly full: {:.0} MiB free of {:.0} MiB ({:.1}%); the store uses {:.0} MiB",
            mib(free),
            mib(total),
            fraction * 100.0,
            mib(store_bytes)
        ),
        action: "free disk space, set `[store] keep_mentions` to prune old mention texts, or move the store".into(),
    })
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
}
