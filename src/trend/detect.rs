//! Opinion- and volume-shift detection over trend series.
//!
//! Detectors are pure functions of a product's hourly series and the evaluation time, so
//! they are tested and benchmarked without a store. Volume and aspect detectors scan recent
//! windows (1, 2, 3, 6 h … up to `window`, or coarser buckets for quiet products) against
//! the baseline before them and report, per signal, the most significant window:
//! - `volume_spike`: mention count improbable under a Poisson baseline (negative-binomial
//!   when the baseline is over-dispersed), rate estimated by EWMA or same hour-of-week;
//!   gated by a minimum count and a minimum ratio over baseline;
//! - `sentiment_shift`: a Bernoulli CUSUM on the per-mention negative (or positive) flag over
//!   the last `shift_span`, against the share in the baseline before it (Beta prior, capped
//!   strength), with a threshold set from the product's volume and the accepted false-alarm
//!   rate `shift_p`; gated by a minimum number of mentions and a minimum change of share;
//!   both directions;
//! - `aspect_spike`: a spike of *negative* mentions tagged with one aspect (an IT aspect
//!   makes it an IT signal).
//!
//! [`Tracker`] turns per-evaluation findings into fire/resolve transitions with hysteresis
//! (fire at `spike_p`/`shift_p`, stay firing while p < `keep_p`, resolve after
//! `resolve_after` of calm) so one episode raises one alert.

use crate::alert::Department;
use crate::config::ProductConfig;
use crate::trend::aspects::{self, AspectConfig};
use crate::trend::BucketCounts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub mod bench;
pub mod stats;

/// How the expected hourly volume is estimated from the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BaselineModel {
    /// Exponentially weighted mean of hourly counts (half-life `ewma_half_life`).
    #[default]
    Ewma,
    /// Mean of the same hour of the week over the baseline weeks (falls back to EWMA with
    /// less than one week of history).
    HourOfWeek,
}

/// `[detect]` section: detector thresholds and windows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Longest recent window judged against the baseline (shorter ones are scanned too).
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// Baseline window before the recent one.
    #[serde(default = "default_baseline", with = "humantime_serde")]
    pub baseline: Duration,
    /// Fewest mentions in the window before a sentiment shift is raised.
    #[serde(default = "default_min_mentions")]
    pub min_mentions: u64,
    /// How often detection runs in the daemon.
    #[serde(default = "default_every", with = "humantime_serde")]
    pub every: Duration,
    /// History a product needs before it is judged at all (new products are not "spiking").
    #[serde(default = "default_min_history", with = "humantime_serde")]
    pub min_history: Duration,
    /// Baseline volume model: `ewma` or `hour_of_week`.
    #[serde(default)]
    pub baseline_model: BaselineModel,
    /// Half-life of the EWMA baseline.
    #[serde(default = "default_half_life", with = "humantime_serde")]
    pub ewma_half_life: Duration,
    /// Volume spike: fewest mentions in the window.
    #[serde(default = "default_spike_min_count")]
    pub spike_min_count: u64,
    /// Volume spike: smallest observed/expected ratio.
    #[serde(default = "default_spike_min_ratio")]
    pub spike_min_ratio: f64,
    /// Volume spike: largest tail probability that fires.
    #[serde(default = "default_spike_p")]
    pub spike_p: f64,
    /// Sentiment shift: the false-alarm rate accepted, per product, direction and hour of
    /// stable opinion (5e-4 ≈ one false alert per direction every 3 months). The CUSUM
    /// threshold is derived from it and the product's own volume, so busy and quiet products
    /// get the same false-alarm rate.
    #[serde(default = "default_shift_p")]
    pub shift_p: f64,
    /// Sentiment shift: the change of share (0.2 = 20 points) the CUSUM is tuned to find
    /// fastest; smaller shifts are found too, more slowly.
    #[serde(default = "default_shift_design_delta")]
    pub shift_design_delta: f64,
    /// Sentiment shift: how far back the CUSUM accumulates evidence (the baseline ends where
    /// it starts).
    #[serde(default = "default_shift_span", with = "humantime_serde")]
    pub shift_span: Duration,
    /// Sentiment shift: smallest change of the negative/positive share (0.1 = 10 points).
    #[serde(default = "default_shift_min_delta")]
    pub shift_min_delta: f64,
    /// Sentiment shift: the baseline counts as at most this many mentions, so slow drift
    /// in a long baseline does not make every small change "significant".
    #[serde(default = "default_prior_strength")]
    pub shift_prior_strength: f64,
    /// Aspect spike: fewest negative mentions with the aspect in the window.
    #[serde(default = "default_aspect_min_count")]
    pub aspect_min_count: u64,
    /// Aspect spike: smallest observed/expected ratio.
    #[serde(default = "default_aspect_min_ratio")]
    pub aspect_min_ratio: f64,
    /// A firing signal stays firing while its p-value is below this (hysteresis).
    #[serde(default = "default_keep_p")]
    pub keep_p: f64,
    /// A firing signal resolves after this long without support.
    #[serde(default = "default_resolve_after", with = "humantime_serde")]
    pub resolve_after: Duration,
    /// Products with fewer expected mentions per hour than this are judged on 6 h buckets,
    /// and on 24 h buckets below this per 6 h.
    #[serde(default = "default_quiet_rate")]
    pub quiet_rate: f64,
    /// After a product's `launch`, how long its windows are compared with the pre-launch baseline.
    #[serde(default = "default_launch_window", with = "humantime_serde")]
    pub launch_window: Duration,
    /// A product-wide volume spike inhibits an aspect spike of the same product unless the
    /// aspect grew at least this many times more than the product.
    #[serde(default = "default_inhibit_ratio")]
    pub inhibit_ratio: f64,
    /// Example mentions attached to an alert.
    #[serde(default = "default_examples")]
    pub examples: usize,
    /// Include the built-in aspect taxonomy (entries in `aspects` add to or replace it by name).
    #[serde(default = "default_true")]
    pub default_aspects: bool,
    /// `[detect.aspects.NAME]`: `department` and `keywords`.
    #[serde(default)]
    pub aspects: BTreeMap<String, AspectConfig>,
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
fn default_min_history() -> Duration {
    Duration::from_secs(86_400)
}
fn default_half_life() -> Duration {
    Duration::from_secs(3 * 86_400)
}
fn default_spike_min_count() -> u64 {
    10
}
fn default_spike_min_ratio() -> f64 {
    2.0
}
fn default_spike_p() -> f64 {
    1e-6
}
fn default_shift_p() -> f64 {
    5e-4
}
fn default_shift_design_delta() -> f64 {
    0.2
}
fn default_shift_span() -> Duration {
    Duration::from_secs(2 * 86_400)
}
fn default_shift_min_delta() -> f64 {
    0.10
}
fn default_prior_strength() -> f64 {
    2000.0
}
fn default_aspect_min_count() -> u64 {
    5
}
fn default_aspect_min_ratio() -> f64 {
    3.0
}
fn default_keep_p() -> f64 {
    0.01
}
fn default_resolve_after() -> Duration {
    Duration::from_secs(2 * 3600)
}
fn default_quiet_rate() -> f64 {
    2.0
}
fn default_launch_window() -> Duration {
    Duration::from_secs(3 * 86_400)
}
fn default_inhibit_ratio() -> f64 {
    1.5
}
fn default_examples() -> usize {
    3
}
fn default_true() -> bool {
    true
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window: default_window(),
            baseline: default_baseline(),
            min_mentions: default_min_mentions(),
            every: default_every(),
            min_history: default_min_history(),
            baseline_model: BaselineModel::default(),
            ewma_half_life: default_half_life(),
            spike_min_count: default_spike_min_count(),
            spike_min_ratio: default_spike_min_ratio(),
            spike_p: default_spike_p(),
            shift_p: default_shift_p(),
            shift_design_delta: default_shift_design_delta(),
            shift_span: default_shift_span(),
            shift_min_delta: default_shift_min_delta(),
            shift_prior_strength: default_prior_strength(),
            aspect_min_count: default_aspect_min_count(),
            aspect_min_ratio: default_aspect_min_ratio(),
            keep_p: default_keep_p(),
            resolve_after: default_resolve_after(),
            quiet_rate: default_quiet_rate(),
            launch_window: default_launch_window(),
            inhibit_ratio: default_inhibit_ratio(),
            examples: default_examples(),
            default_aspects: true,
            aspects: BTreeMap::new(),
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
        if self.every < Duration::from_secs(1) {
            out.push(("every".into(), "must be at least 1s".into()));
        }
        for (key, p) in [
            ("spike_p", self.spike_p),
            ("shift_p", self.shift_p),
            ("keep_p", self.keep_p),
        ] {
            if !(p > 0.0 && p < 1.0) {
                out.push((key.into(), "must be a probability in (0, 1)".into()));
            }
        }
        if self.keep_p < self.spike_p.max(self.shift_p) {
            out.push((
                "keep_p".into(),
                "must be at least spike_p and shift_p (it is the looser, staying-on threshold)"
                    .into(),
            ));
        }
        if !(self.shift_design_delta > 0.0 && self.shift_design_delta < 1.0) {
            out.push(("shift_design_delta".into(), "must be within (0, 1)".into()));
        }
        if self.shift_span < Duration::from_secs(3600) {
            out.push((
                "shift_span".into(),
                "must be at least 1h (buckets are hourly)".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.shift_min_delta) {
            out.push(("shift_min_delta".into(), "must be within [0, 1)".into()));
        }
        if self.spike_min_ratio < 1.0 || self.aspect_min_ratio < 1.0 {
            out.push((
                "spike_min_ratio".into(),
                "ratios over baseline must be at least 1".into(),
            ));
        }
        if self.quiet_rate <= 0.0 {
            out.push(("quiet_rate".into(), "must be positive".into()));
        }
        out.extend(aspects::validate(&self.aspects));
        out
    }

    /// The effective aspect taxonomy: defaults (unless disabled) overlaid by `aspects`.
    pub fn taxonomy(&self) -> BTreeMap<String, AspectConfig> {
        let mut m = if self.default_aspects {
            aspects::default_aspects()
        } else {
            BTreeMap::new()
        };
        for (k, v) in &self.aspects {
            m.insert(k.clone(), v.clone());
        }
        m
    }

    /// Windows and launch for one product (its own `window`/`baseline` override these).
    pub fn params(&self, product: &ProductConfig) -> ProductParams {
        ProductParams {
            name: product.name.clone(),
            window: product.window.unwrap_or(self.window),
            baseline: product.baseline.unwrap_or(self.baseline),
            launch: product.launch,
            shift_span: self.shift_span,
        }
    }
}

/// What the detectors need to know about one product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductParams {
    pub name: String,
    pub window: Duration,
    pub baseline: Duration,
    pub launch: Option<DateTime<Utc>>,
    /// How far back the sentiment CUSUM accumulates.
    pub shift_span: Duration,
}

impl ProductParams {
    /// Hours of series the detectors look at before `now`.
    pub fn lookback_hours(&self) -> i64 {
        (self.window.max(self.shift_span).as_secs() + self.baseline.as_secs()).div_ceil(3600) as i64
            + 48
    }
}

/// Kind of signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    VolumeSpike,
    SentimentShift,
    AspectSpike,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::VolumeSpike => "volume_spike",
            Signal::SentimentShift => "sentiment_shift",
            Signal::AspectSpike => "aspect_spike",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a signal moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More mentions than usual.
    Up,
    /// Opinion turned worse (negative share rose).
    Negative,
    /// Opinion turned better (positive share rose).
    Positive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Negative => "negative",
            Direction::Positive => "positive",
        }
    }
}

/// The result of one detector on one product at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub product: String,
    pub signal: Signal,
    pub direction: Direction,
    /// Aspect of an `aspect_spike`.
    pub aspect: Option<String>,
    pub department: Department,
    /// Tail probability of the observation under the baseline (smaller = stranger).
    pub p_value: f64,
    /// Whether every gate to raise an alert passed.
    pub fires: bool,
    /// Evaluation time (epoch seconds).
    pub at: i64,
    /// Length of the judged window, seconds.
    pub window_secs: i64,
    /// Whether the baseline is the pre-launch period.
    pub launch: bool,
    /// Expected count (volume, aspect) or share (sentiment) under the baseline.
    pub baseline: f64,
    /// Observed count (volume, aspect) or share (sentiment) in the window.
    pub observed: f64,
    /// observed / baseline.
    pub ratio: f64,
    /// Mentions in the window (all sentiments).
    pub mentions: u64,
    /// Mentions the baseline predicts for the window.
    pub expected_mentions: f64,
    /// Net sentiment (pos − neg) / n over the baseline and over the window.
    pub net_before: Option<f64>,
    pub net_after: Option<f64>,
}

impl Finding {
    /// Stable identity of the signal within its product: `signal:direction[:aspect]`.
    pub fn key(&self) -> String {
        match &self.aspect {
            Some(a) => format!("{}:{}:{}", self.signal, self.direction.as_str(), a),
            None => format!("{}:{}", self.signal, self.direction.as_str()),
        }
    }
}

/// A product's dense hourly series from `start` (hour-aligned epoch seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductSeries {
    pub start: i64,
    pub hours: Vec<BucketCounts>,
    /// Negative mentions tagged with each aspect, per hour, same indexing as `hours`.
    pub aspects: BTreeMap<String, Vec<u64>>,
}

impl ProductSeries {
    /// Dense series from sparse `(start, counts)` hourly buckets covering `[from, to)`.
    pub fn from_sparse(from: i64, to: i64, sparse: &[(i64, BucketCounts)]) -> ProductSeries {
        let start = from - from.rem_euclid(3600);
        let n = ((to - start).max(0) as usize).div_ceil(3600);
        let mut hours = vec![BucketCounts::default(); n];
        for (t, c) in sparse {
            let i = (t - start).div_euclid(3600);
            if i >= 0 && (i as usize) < n {
                hours[i as usize].merge(c);
            }
        }
        ProductSeries {
            start,
            hours,
            aspects: BTreeMap::new(),
        }
    }

    /// Count one negative mention with `aspects` published at `t`.
    pub fn add_aspects(&mut self, t: i64, aspects: &[String]) {
        let i = (t - self.start).div_euclid(3600);
        if i < 0 || i as usize >= self.hours.len() {
            return;
        }
        let n = self.hours.len();
        for a in aspects {
            self.aspects.entry(a.clone()).or_insert_with(|| vec![0; n])[i as usize] += 1;
        }
    }

    fn at(&self, i: i64) -> BucketCounts {
        if i < 0 {
            return BucketCounts::default();
        }
        self.hours.get(i as usize).copied().unwrap_or_default()
    }

    /// Totals of the hours in `range` (indexes into `hours`).
    fn sums(&self, range: std::ops::Range<i64>) -> Sums {
        let mut t = Sums::default();
        for i in range {
            let c = self.at(i);
            t.n += c.count as f64;
            t.pos += c.positive as f64;
            t.neg += c.negative as f64;
        }
        t
    }

    fn first_active(&self) -> Option<i64> {
        self.hours
            .iter()
            .position(|c| c.count > 0)
            .map(|i| i as i64)
    }
}

/// Runs the detectors.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectConfig,
    departments: BTreeMap<String, Department>,
}

/// Counts of one window or baseline.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: f64,
    pos: f64,
    neg: f64,
}

impl Sums {
    fn net(&self) -> Option<f64> {
        (self.n > 0.0).then(|| (self.pos - self.neg) / self.n)
    }

    /// Mentions that moved the way `direction` says (negative, else positive).
    fn of(&self, direction: Direction) -> f64 {
        match direction {
            Direction::Negative => self.neg,
            _ => self.pos,
        }
    }
}

/// Rate model of a count series over a baseline.
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Expected count per hour.
    lambda: f64,
    /// Variance / mean of hourly counts (1 = Poisson).
    dispersion: f64,
}

impl Detector {
    pub fn new(cfg: &DetectConfig) -> Detector {
        let departments = cfg
            .taxonomy()
            .into_iter()
            .map(|(k, v)| (k, v.department))
            .collect();
        Detector {
            cfg: cfg.clone(),
            departments,
        }
    }

    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Evaluate every signal of one product at `now` (epoch seconds). The hour holding `now`
    /// counts as partly elapsed, so the daemon can judge mid-hour.
    pub fn evaluate(&self, p: &ProductParams, s: &ProductSeries, now: i64) -> Vec<Finding> {
        let cfg = &self.cfg;
        let hour0 = now - now.rem_euclid(3600);
        let frac = (now - hour0) as f64 / 3600.0;
        // Index of the last bucket in the window and its elapsed fraction.
        let (last, last_frac) = if frac == 0.0 {
            ((hour0 - s.start) / 3600 - 1, 1.0)
        } else {
            ((hour0 - s.start) / 3600, frac)
        };
        let Some(first) = s.first_active() else {
            return Vec::new();
        };
        if last < first {
            return Vec::new();
        }
        let baseline_h = (p.baseline.as_secs() / 3600).max(1) as i64;
        let window_h = (p.window.as_secs() / 3600).max(1) as i64;
        let min_hist_h = (cfg.min_history.as_secs() / 3600) as i64;

        // Launch: windows after the launch are judged against the period before it.
        let launch_idx = p.launch.and_then(|l| {
            let since = now - l.timestamp();
            (since > 0 && since <= cfg.launch_window.as_secs() as i64)
                .then(|| (l.timestamp() - s.start).div_euclid(3600))
        });

        // Bucket width from the product's usual rate over the baseline before the newest window.
        let probe_end = launch_idx.unwrap_or(last + 1 - window_h.min(last + 1 - first));
        let probe_start = (probe_end - baseline_h).max(first);
        let probe_sum: u64 = (probe_start..probe_end).map(|i| s.at(i).count).sum();
        let probe_hours = (probe_end - probe_start).max(1);
        let rate = probe_sum as f64 / probe_hours as f64;
        let width: i64 = if rate >= cfg.quiet_rate {
            1
        } else if rate * 6.0 >= cfg.quiet_rate {
            6
        } else {
            24
        };
        let mut lengths: Vec<i64> = [1, 2, 3, 6, 12]
            .iter()
            .map(|u| u * width)
            .filter(|l| *l <= window_h.max(width))
            .collect();
        if let Some(li) = launch_idx {
            // The whole launch period so far is one more window.
            let since_launch = last + 1 - li;
            if since_launch > 0 && !lengths.contains(&since_launch) {
                lengths.push(since_launch);
            }
        }

        let mut best: BTreeMap<String, Finding> = BTreeMap::new();
        let mut consider = |f: Finding| {
            let key = f.key();
            match best.get(&key) {
                Some(b) if (b.fires, -b.p_value) >= (f.fires, -f.p_value) => {}
                _ => {
                    best.insert(key, f);
                }
            }
        };

        for &len in &lengths {
            let w_start = last + 1 - len;
            let exposure = (len - 1) as f64 + last_frac;
            let (b_end, launch) = match launch_idx {
                Some(li) if li <= w_start + len => (li.min(w_start), true),
                _ => (w_start, false),
            };
            let b_start = (b_end - baseline_h).max(first);
            if b_end - b_start < min_hist_h.max(1) {
                continue;
            }
            let window_secs = (exposure * 3600.0).round() as i64;
            let win = s.sums(w_start..last + 1);
            let base = s.sums(b_start..b_end);
            let counts: Vec<f64> = (b_start..b_end).map(|i| s.at(i).count as f64).collect();
            let expected = self.expected(&counts, b_start, s.start, w_start, len, last_frac);
            let mk = |signal, direction, aspect: Option<String>, department| Finding {
                product: p.name.clone(),
                signal,
                direction,
                aspect,
                department,
                p_value: 1.0,
                fires: false,
                at: now,
                window_secs,
                launch,
                baseline: 0.0,
                observed: 0.0,
                ratio: 0.0,
                mentions: win.n as u64,
                expected_mentions: expected.0,
                net_before: base.net(),
                net_after: win.net(),
            };

            // Volume spike.
            {
                let (exp, disp) = expected;
                let pv = stats::count_upper_tail(win.n, exp, disp);
                let ratio = win.n / exp.max(1e-9);
                let mut f = mk(
                    Signal::VolumeSpike,
                    Direction::Up,
                    None,
                    Department::Marketing,
                );
                f.p_value = pv;
                f.baseline = exp;
                f.observed = win.n;
                f.ratio = ratio;
                f.fires = pv < cfg.spike_p
                    && win.n >= cfg.spike_min_count as f64
                    && ratio >= cfg.spike_min_ratio;
                consider(f);
            }

            // Aspect spikes of negative mentions.
            for (aspect, series) in &s.aspects {
                let at = |i: i64| -> f64 {
                    if i < 0 {
                        0.0
                    } else {
                        series.get(i as usize).copied().unwrap_or(0) as f64
                    }
                };
                let obs: f64 = (w_start..=last).map(at).sum();
                if obs == 0.0 {
                    continue;
                }
                let acounts: Vec<f64> = (b_start..b_end).map(at).collect();
                let (exp, disp) =
                    self.expected(&acounts, b_start, s.start, w_start, len, last_frac);
                let pv = stats::count_upper_tail(obs, exp, disp);
                let ratio = obs / exp.max(1e-9);
                let department = self
                    .departments
                    .get(aspect)
                    .copied()
                    .unwrap_or(Department::It);
                let mut f = mk(
                    Signal::AspectSpike,
                    Direction::Up,
                    Some(aspect.clone()),
                    department,
                );
                f.p_value = pv;
                f.baseline = exp;
                f.observed = obs;
                f.ratio = ratio;
                f.fires = pv < cfg.spike_p
                    && obs >= cfg.aspect_min_count as f64
                    && ratio >= cfg.aspect_min_ratio;
                consider(f);
            }
        }
        for f in self.sentiment_cusum(p, s, now, first, last, last_frac, launch_idx) {
            best.insert(f.key(), f);
        }
        best.into_values().collect()
    }

    /// Sentiment shift, both directions: a Bernoulli CUSUM on the per-mention negative
    /// (positive) flag over the last `shift_span`, against the share in the baseline before
    /// it. CUSUM is the quickest detector of a change for a given false-alarm rate (Lorden,
    /// Moustakides); windows of fixed length lose evidence at both ends of a shift. Evidence
    /// is added hour by hour (the current hour so far included). A CUSUM level `S` is
    /// exceeded by chance about `λ·I₀·e^(−S−0.583σ)` times an hour (λ mentions per hour, I₀
    /// the per-mention drift under no change, σ the spread of an hour's evidence), which is
    /// reported as the p-value and compared
    /// with `shift_p`: the threshold rises with volume so every product gets the same
    /// false-alarm rate.
    #[allow(clippy::too_many_arguments)]
    fn sentiment_cusum(
        &self,
        p: &ProductParams,
        s: &ProductSeries,
        now: i64,
        first: i64,
        last: i64,
        last_frac: f64,
        launch_idx: Option<i64>,
    ) -> Vec<Finding> {
        let cfg = &self.cfg;
        let baseline_h = (p.baseline.as_secs() / 3600).max(1) as i64;
        let min_hist_h = ((cfg.min_history.as_secs() / 3600) as i64).max(1);
        let span_h = ((p.shift_span.as_secs() / 3600) as i64).max(1);
        // After a launch, everything since it is judged against the time before it.
        let (c_start, launch) = match launch_idx {
            Some(li) if li <= last && li - first >= min_hist_h => (li, true),
            _ => ((last + 1 - span_h).max(first + min_hist_h), false),
        };
        if c_start > last {
            return Vec::new();
        }
        let b_start = (c_start - baseline_h).max(first);
        let base = s.sums(b_start..c_start);
        if base.n < 1.0 {
            return Vec::new();
        }
        let lambda = base.n / (c_start - b_start) as f64;
        let mut out = Vec::new();
        for direction in [Direction::Negative, Direction::Positive] {
            let k = |c: &BucketCounts| match direction {
                Direction::Negative => c.negative as f64,
                _ => c.positive as f64,
            };
            let bk = base.of(direction);
            // Beta(1,1) prior plus the baseline, capped in strength.
            let scale = (cfg.shift_prior_strength / base.n).min(1.0);
            let a = bk * scale + 1.0;
            let b = (base.n - bk) * scale + 1.0;
            let p0 = a / (a + b);
            let p1 = (p0 + cfg.shift_design_delta).min(0.999);
            if p1 <= p0 {
                continue;
            }
            let up = (p1 / p0).ln();
            let down = ((1.0 - p1) / (1.0 - p0)).ln();
            let drift0 = -(p0 * up + (1.0 - p0) * down);
            // Evidence arrives an hour at a time, so the statistic overshoots less often
            // than a per-mention CUSUM would; Siegmund's overshoot correction (0.583 σ of an
            // hour's increment) accounts for it, which keeps busy products from being held
            // to a stricter standard than quiet ones.
            let sigma = (lambda * (p0 * up * up + (1.0 - p0) * down * down)).sqrt();
            let level = |p: f64| (lambda * drift0 / p).ln() - 0.583 * sigma;
            // The statistic is capped a little above the firing level, as a CUSUM restarts
            // after it signals: a huge burst must not keep the alert up for days of normal
            // mentions afterwards.
            let cap = level(cfg.shift_p).max(0.0) + 1.0;
            // Run: the hours since the statistic last stood at zero.
            let (mut stat, mut run_start) = (0.0f64, c_start);
            for i in c_start..=last {
                let c = s.at(i);
                stat = (stat + k(&c) * up + (c.count as f64 - k(&c)) * down).min(cap);
                if stat <= 0.0 {
                    stat = 0.0;
                    run_start = i + 1;
                }
            }
            let (from, hours) = if run_start <= last {
                (run_start, (last - run_start) as f64 + last_frac)
            } else {
                // No run: describe the whole span (what a resolved message reports).
                (c_start, (last - c_start) as f64 + last_frac)
            };
            let run = s.sums(from..last + 1);
            let run_k = run.of(direction);
            let share = if run.n > 0.0 { run_k / run.n } else { p0 };
            // A run whose newest mention is older than `window` is old news: a product that
            // went quiet after a burst has not shown its opinion is still shifted.
            let window_h = (p.window.as_secs() / 3600).max(1) as i64;
            let recent = (from..=last)
                .rev()
                .find(|i| s.at(*i).count > 0)
                .is_some_and(|i| i > last - window_h);
            let pv = if recent {
                (cfg.shift_p * (level(cfg.shift_p) - stat).exp()).min(1.0)
            } else {
                1.0
            };
            out.push(Finding {
                product: p.name.clone(),
                signal: Signal::SentimentShift,
                direction,
                aspect: None,
                department: Department::Marketing,
                p_value: pv,
                fires: pv < cfg.shift_p
                    && run.n >= cfg.min_mentions as f64
                    && share - p0 >= cfg.shift_min_delta,
                at: now,
                window_secs: (hours * 3600.0).round() as i64,
                launch,
                baseline: p0,
                observed: share,
                ratio: share / p0.max(1e-9),
                mentions: run.n as u64,
                expected_mentions: lambda * hours,
                net_before: base.net(),
                net_after: run.net(),
            });
        }
        out
    }

    /// Expected count over a window of `len` hours starting at `w_start` (last hour
    /// `last_frac` elapsed) and the dispersion of hourly counts, from baseline `counts`
    /// (hourly, starting at index `b_start`).
    fn expected(
        &self,
        counts: &[f64],
        b_start: i64,
        series_start: i64,
        w_start: i64,
        len: i64,
        last_frac: f64,
    ) -> (f64, f64) {
        let rate = self.rate(counts);
        let exposure = (len - 1) as f64 + last_frac;
        let flat = rate.lambda * exposure;
        if self.cfg.baseline_model == BaselineModel::HourOfWeek && counts.len() >= 168 {
            // Mean of the same hour-of-week across the baseline weeks.
            let how = |i: i64| ((series_start / 3600 + i).rem_euclid(168)) as usize;
            let mut sum = [0.0f64; 168];
            let mut n = [0.0f64; 168];
            for (k, c) in counts.iter().enumerate() {
                let h = how(b_start + k as i64);
                sum[h] += c;
                n[h] += 1.0;
            }
            let mut e = 0.0;
            for j in 0..len {
                let h = how(w_start + j);
                let m = if n[h] > 0.0 {
                    (sum[h] + rate.lambda) / (n[h] + 1.0)
                } else {
                    rate.lambda
                };
                e += if j == len - 1 { m * last_frac } else { m };
            }
            return (e.max(1e-9), rate.dispersion);
        }
        (flat.max(1e-9), rate.dispersion)
    }

    fn rate(&self, counts: &[f64]) -> Rate {
        let half = (self.cfg.ewma_half_life.as_secs_f64() / 3600.0).max(1.0);
        let decay = 0.5f64.powf(1.0 / half);
        let (mut sw, mut swc, mut swc2) = (0.0, 0.0, 0.0);
        let mut w = 1.0;
        for c in counts.iter().rev() {
            sw += w;
            swc += w * c;
            swc2 += w * c * c;
            w *= decay;
        }
        // Half a mention of prior per hour of weight keeps an all-zero baseline from making
        // the first mention "infinitely" surprising.
        let lambda = (swc + 0.5) / (sw + 0.5);
        let mean = swc / sw.max(1e-9);
        let var = (swc2 / sw.max(1e-9) - mean * mean).max(0.0);
        let dispersion = if counts.len() >= 24 && mean > 0.0 {
            (var / mean).max(1.0)
        } else {
            1.0
        };
        Rate { lambda, dispersion }
    }
}

/// Per-signal alert state, persisted between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalState {
    pub firing: bool,
    /// When it started firing (epoch seconds).
    pub since: i64,
    /// When it last lost support (epoch seconds), while firing.
    pub calm_since: Option<i64>,
    /// The finding that fired, refreshed while it keeps firing.
    pub last: Option<Finding>,
}

/// What an evaluation changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Fired(Finding),
    Resolved(Finding),
}

/// Fire/resolve state machine over findings, keyed by [`Finding::key`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub signals: BTreeMap<String, SignalState>,
}

impl Tracker {
    /// Feed one evaluation's findings; returns the transitions it caused.
    pub fn step(&mut self, cfg: &DetectConfig, findings: &[Finding], now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        let by_key: BTreeMap<String, &Finding> = findings.iter().map(|f| (f.key(), f)).collect();
        for (key, f) in &by_key {
            let st = self.signals.entry(key.clone()).or_default();
            if !st.firing && f.fires {
                st.firing = true;
                st.since = now;
                st.calm_since = None;
                st.last = Some((*f).clone());
                out.push(Transition::Fired((*f).clone()));
            }
        }
        let resolve_after = cfg.resolve_after.as_secs() as i64;
        for (key, st) in self.signals.iter_mut() {
            if !st.firing {
                continue;
            }
            match by_key.get(key) {
                Some(f) if f.p_value < cfg.keep_p => {
                    st.calm_since = None;
                    if f.fires {
                        st.last = Some((*f).clone());
                    }
                }
                _ => {
                    let calm = *st.calm_since.get_or_insert(now);
                    if now - calm >= resolve_after {
                        st.firing = false;
                        st.calm_since = None;
                        let mut last = st.last.clone().unwrap_or_else(|| {
                            (*by_key.get(key).expect("fired findings are kept")).clone()
                        });
                        if let Some(f) = by_key.get(key) {
                            // Report the numbers as they are now.
                            last.observed = f.observed;
                            last.baseline = f.baseline;
                            last.net_after = f.net_after;
                            last.mentions = f.mentions;
                        }
                        last.at = now;
                        out.push(Transition::Resolved(last));
                    }
                }
            }
        }
        self.signals.retain(|_, st| st.firing);
        out
    }

    /// Keys currently firing.
    pub fn firing(&self) -> impl Iterator<Item = (&String, &SignalState)> {
        self.signals.iter().filter(|(_, s)| s.firing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Label;

    fn series(hours: usize, rate: u64, neg: u64) -> ProductSeries {
        let mut s = ProductSeries {
            start: 1_700_000_000 - 1_700_000_000 % 3600,
            hours: vec![BucketCounts::default(); hours],
            aspects: BTreeMap::new(),
        };
        for h in s.hours.iter_mut() {
            for i in 0..rate {
                h.add(
                    if i < neg {
                        Label::Negative
                    } else {
                        Label::Positive
                    },
                    0.0,
                );
            }
        }
        s
    }

    fn params() -> ProductParams {
        ProductParams {
            name: "Widget".into(),
            window: Duration::from_secs(6 * 3600),
            baseline: Duration::from_secs(14 * 86_400),
            launch: None,
            shift_span: Duration::from_secs(2 * 86_400),
        }
    }

    #[test]
    fn flat_series_raises_nothing() {
        let s = series(400, 20, 4);
        let d = Detector::new(&DetectConfig::default());
        let now = s.start + 400 * 3600;
        let f = d.evaluate(&params(), &s, now);
        assert!(!f.is_empty());
        assert!(f.iter().all(|f| !f.fires), "{f:?}");
    }

    #[test]
    fn spike_and_shift_fire() {
        let mut s = series(400, 20, 4);
        for h in 398..400 {
            let mut c = BucketCounts::default();
            for i in 0..60 {
                c.add(
                    if i < 30 {
                        Label::Negative
                    } else {
                        Label::Positive
                    },
                    0.0,
                );
            }
            s.hours[h] = c;
        }
        let d = Detector::new(&DetectConfig::default());
        let now = s.start + 400 * 3600;
        let f = d.evaluate(&params(), &s, now);
        let spike = f.iter().find(|f| f.signal == Signal::VolumeSpike).unwrap();
        assert!(spike.fires);
        assert_eq!(spike.observed, 120.0);
        assert!((spike.ratio - 3.0).abs() < 0.1);
        let neg = f
            .iter()
            .find(|f| f.signal == Signal::SentimentShift && f.direction == Direction::Negative)
            .unwrap();
        assert!(neg.fires);
        assert!((neg.observed - 0.5).abs() < 1e-9);
        assert!(neg.net_after.unwrap() < neg.net_before.unwrap());
    }

    fn shifted_hour(n: u64, neg: u64) -> BucketCounts {
        let mut c = BucketCounts::default();
        for i in 0..n {
            c.add(
                if i < neg {
                    Label::Negative
                } else {
                    Label::Positive
                },
                0.0,
            );
        }
        c
    }

    fn negative_shift(f: &[Finding]) -> Finding {
        f_dir(f, Direction::Negative)
    }

    #[test]
    fn cusum_accumulates_a_modest_shift_over_hours() {
        // 20 % negative for weeks, then 45 %: no single hour is conclusive, three are.
        let d = Detector::new(&DetectConfig::default());
        let mut s = series(403, 20, 4);
        for h in 400..403 {
            s.hours[h] = shifted_hour(20, 9);
        }
        let after = |hours: i64| {
            let f = d.evaluate(&params(), &s, s.start + (400 + hours) * 3600);
            negative_shift(&f).clone()
        };
        let one = after(1);
        assert!(!one.fires && one.p_value > 1e-3, "{one:?}");
        let three = after(3);
        assert!(three.fires, "{three:?}");
        assert_eq!(three.mentions, 60);
        assert!((three.observed - 0.45).abs() < 1e-9);
        assert!((three.baseline - 0.2).abs() < 0.01);
        assert_eq!(three.window_secs, 3 * 3600);
        // Positive share fell: no positive shift.
        let pos = f_dir(
            &d.evaluate(&params(), &s, s.start + 403 * 3600),
            Direction::Positive,
        );
        assert!(!pos.fires);
    }

    fn f_dir(f: &[Finding], dir: Direction) -> Finding {
        f.iter()
            .find(|f| f.signal == Signal::SentimentShift && f.direction == dir)
            .cloned()
            .expect("a sentiment finding in that direction")
    }

    #[test]
    fn the_same_share_is_stronger_evidence_at_higher_volume() {
        // One hour at 40 % negative after weeks at 20 %: conclusive at 200/h, not at 20/h
        // (the threshold also rises with volume, but only logarithmically).
        let d = Detector::new(&DetectConfig::default());
        let after_one_hour = |rate: u64, neg_now: u64| {
            let mut s = series(401, rate, rate / 5);
            s.hours[400] = shifted_hour(rate, neg_now);
            negative_shift(&d.evaluate(&params(), &s, s.start + 401 * 3600)).clone()
        };
        assert!(after_one_hour(200, 80).fires);
        let quiet = after_one_hour(20, 8);
        assert!(!quiet.fires && quiet.p_value > 1e-2, "{quiet:?}");
    }

    #[test]
    fn a_burst_followed_by_silence_stops_supporting_the_shift() {
        let d = Detector::new(&DetectConfig::default());
        let mut s = series(410, 20, 4);
        for h in 400..403 {
            s.hours[h] = shifted_hour(20, 12);
        }
        for h in 403..410 {
            s.hours[h] = BucketCounts::default();
        }
        let fired = negative_shift(&d.evaluate(&params(), &s, s.start + 403 * 3600)).clone();
        assert!(fired.fires);
        let later = negative_shift(&d.evaluate(&params(), &s, s.start + 410 * 3600)).clone();
        assert!(!later.fires && later.p_value == 1.0, "{later:?}");
    }

    #[test]
    fn a_huge_burst_stops_supporting_the_shift_hours_after_it_ends() {
        let cfg = DetectConfig::default();
        let d = Detector::new(&cfg);
        let mut s = series(410, 20, 4);
        s.hours[400] = shifted_hour(200, 150);
        let at = |h: i64| negative_shift(&d.evaluate(&params(), &s, s.start + h * 3600)).clone();
        assert!(at(401).fires);
        // Normal traffic again: support ends within hours, not after days.
        let later = at(405);
        assert!(!later.fires && later.p_value >= cfg.keep_p, "{later:?}");
    }

    #[test]
    fn too_little_history_is_not_judged() {
        let s = series(10, 20, 4);
        let d = Detector::new(&DetectConfig::default());
        assert!(d.evaluate(&params(), &s, s.start + 10 * 3600).is_empty());
    }

    #[test]
    fn tracker_fires_once_and_resolves_after_calm() {
        let cfg = DetectConfig::default();
        let mut t = Tracker::default();
        let mut f = Finding {
            product: "W".into(),
            signal: Signal::VolumeSpike,
            direction: Direction::Up,
            aspect: None,
            department: Department::Marketing,
            p_value: 1e-9,
            fires: true,
            at: 0,
            window_secs: 3600,
            launch: false,
            baseline: 10.0,
            observed: 40.0,
            ratio: 4.0,
            mentions: 40,
            expected_mentions: 10.0,
            net_before: None,
            net_after: None,
        };
        assert_eq!(t.step(&cfg, &[f.clone()], 0).len(), 1);
        assert!(t.step(&cfg, &[f.clone()], 3600).is_empty());
        f.fires = false;
        f.p_value = 0.5;
        assert!(t.step(&cfg, &[f.clone()], 7200).is_empty());
        let r = t.step(&cfg, &[f.clone()], 7200 + 2 * 3600);
        assert!(
            matches!(r.as_slice(), [Transition::Resolved(x)] if x.observed == 40.0 || x.observed == f.observed)
        );
        assert_eq!(t.firing().count(), 0);
    }
}
