//! Trend series: per-product time buckets (count, positive, negative, neutral, score sum)
//! and the figures derived from them. Shift detection lives in [`detect`].

pub mod aspects;
pub mod detect;
pub mod plot;

pub use detect::DetectConfig;

use crate::model::Label;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn seconds(self) -> i64 {
        match self {
            Granularity::Hour => 3600,
            Granularity::Day => 86_400,
        }
    }

    /// One byte used in store keys.
    pub fn tag(self) -> u8 {
        match self {
            Granularity::Hour => b'h',
            Granularity::Day => b'd',
        }
    }

    /// Start of the bucket holding `t`, as epoch seconds.
    pub fn floor(self, t: DateTime<Utc>) -> i64 {
        let s = t.timestamp();
        s - s.rem_euclid(self.seconds())
    }

    pub const ALL: [Granularity; 2] = [Granularity::Hour, Granularity::Day];
}

impl FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1h" | "h" | "hour" | "hourly" => Ok(Granularity::Hour),
            "1d" | "d" | "day" | "daily" => Ok(Granularity::Day),
            other => Err(format!("unknown bucket `{other}`: use 1h or 1d")),
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Granularity::Hour => "1h",
            Granularity::Day => "1d",
        })
    }
}

/// Counts in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketCounts {
    pub count: u64,
    pub positive: u64,
    pub negative: u64,
    pub neutral: u64,
    pub score_sum: f64,
}

impl BucketCounts {
    pub fn add(&mut self, label: Label, score: f32) {
        self.count += 1;
        match label {
            Label::Positive => self.positive += 1,
            Label::Negative => self.negative += 1,
            Label::Neutral => self.neutral += 1,
        }
        self.score_sum += f64::from(score);
    }

    pub fn merge(&mut self, other: &BucketCounts) {
        self.count += other.count;
        self.positive += other.positive;
        self.negative += other.negative;
        self.neutral += other.neutral;
        self.score_sum += other.score_sum;
    }

    pub fn mean_score(&self) -> Option<f64> {
        (self.count > 0).then(|| self.score_sum / self.count as f64)
    }

    /// (positive - negative) / total, in [-1, 1].
    pub fn net_sentiment(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.positive as f64 - self.negative as f64) / self.count as f64)
    }

    /// Fixed 40-byte encoding (little-endian) used in the store.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..8].copy_from_slice(&self.count.to_le_bytes());
        b[8..16].copy_from_slice(&self.positive.to_le_bytes());
        b[16..24].copy_from_slice(&self.negative.to_le_bytes());
        b[24..32].copy_from_slice(&self.neutral.to_le_bytes());
        b[32..40].copy_from_slice(&self.score_sum.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<BucketCounts> {
        if b.len() != 40 {
            return None;
        }
        let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Some(BucketCounts {
            count: u(0),
            positive: u(8),
            negative: u(16),
            neutral: u(24),
            score_sum: f64::from_le_bytes(b[32..40].try_into().expect("8 bytes")),
        })
    }
}

/// One row of `pulse trend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendRow {
    pub start: DateTime<Utc>,
    pub count: u64,
    pub positive: u64,
    pub negative: u64,
    pub neutral: u64,
    pub mean_score: Option<f64>,
    pub net_sentiment: Option<f64>,
}

impl TrendRow {
    pub fn new(start_secs: i64, c: &BucketCounts) -> TrendRow {
        TrendRow {
            start: Utc
                .timestamp_opt(start_secs, 0)
                .single()
                .unwrap_or_default(),
            count: c.count,
            positive: c.positive,
            negative: c.negative,
            neutral: c.neutral,
            mean_score: c.mean_score().map(round4),
            net_sentiment: c.net_sentiment().map(round4),
        }
    }
}

/// Round to 4 decimals for stable, readable output.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Fill a sparse, sorted list of buckets into a dense series from `since` to `until`.
pub fn dense_series(
    sparse: &[(i64, BucketCounts)],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    g: Granularity,
) -> Vec<TrendRow> {
    let mut rows = Vec::new();
    let mut t = g.floor(since);
    let end = g.floor(until);
    let mut it = sparse.iter().peekable();
    // Guard against absurd ranges (e.g. --since 100y with hourly buckets).
    let max_rows = 200_000;
    while t <= end && rows.len() < max_rows {
        while it.peek().is_some_and(|(s, _)| *s < t) {
            it.next();
        }
        match it.peek() {
            Some((s, c)) if *s == t => rows.push(TrendRow::new(t, c)),
            _ => rows.push(TrendRow::new(t, &BucketCounts::default())),
        }
        t += g.seconds();
    }
    rows
}

/// Unicode sparkline of a series.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().cloned().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// Parse `--since`: a duration back from now (`7d`, `36h`) or a date/time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = humantime::parse_duration(text) {
        let d = ChronoDuration::from_std(d).map_err(|e| e.to_string())?;
        return Ok(now - d);
    }
    crate::config::parse_time(text).map_err(|_| {
        format!(
            "invalid --since `{text}`: use a duration like 7d or 36h, or a date like 2026-11-01"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_roundtrip_and_figures() {
        let mut c = BucketCounts::default();
        c.add(Label::Positive, 0.5);
        c.add(Label::Negative, -0.7);
        c.add(Label::Positive, 0.3);
        assert_eq!(BucketCounts::from_bytes(&c.to_bytes()), Some(c));
        assert!((c.net_sentiment().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((c.mean_score().unwrap() - 0.1 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn dense_fills_gaps() {
        let g = Granularity::Hour;
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut c = BucketCounts::default();
        c.add(Label::Neutral, 0.0);
        let rows = dense_series(
            &[(t0.timestamp() + 3600, c)],
            t0,
            t0 + ChronoDuration::hours(3),
            g,
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows.iter().map(|r| r.count).collect::<Vec<_>>(),
            vec![0, 1, 0, 0]
        );
    }

    #[test]
    fn sparkline_scales() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0]), "▁▅█");
    }
}
