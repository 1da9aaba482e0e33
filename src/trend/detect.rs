//! Opinion- and volume-shift detection over trend series.

use serde::Deserialize;
use std::time::Duration;

/// `[detect]` section: detector thresholds and windows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Recent window judged against the baseline.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// Baseline window before the recent one.
    #[serde(default = "default_baseline", with = "humantime_serde")]
    pub baseline: Duration,
    /// Fewest mentions in the window before any signal is raised.
    #[serde(default = "default_min_mentions")]
    pub min_mentions: u64,
    /// How often detection runs in the daemon.
    #[serde(default = "default_every", with = "humantime_serde")]
    pub every: Duration,
}

fn default_window() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_baseline() -> Duration {
    Duration::from_secs(14 * 86_400)
}
fn default_min_mentions() -> u64 {
    10
}
fn default_every() -> Duration {
    Duration::from_secs(300)
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window: default_window(),
            baseline: default_baseline(),
            min_mentions: default_min_mentions(),
            every: default_every(),
        }
    }
}

impl DetectConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.window < Duration::from_secs(3600) {
            out.push((
                "window".into(),
                "must be at least 1h (buckets are hourly)".into(),
            ));
        }
        if self.baseline <= self.window {
            out.push(("baseline".into(), "must be longer than `window`".into()));
        }
        out
    }
}
