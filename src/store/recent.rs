//! Content dedup ("the same text posted again within a week counts once") held in memory
//! and rebuilt from the stored mentions, instead of one sled entry per mention.
//!
//! A sled insert costs about as much as storing the mention itself, and a second and
//! third entry per mention (id and text keys) cut ingest to a quarter of raw sled speed.
//! The mention records already hold the texts, so the text index is derived state: each
//! day it needs is loaded from the records on first use and dropped again when unused.

use std::collections::{BTreeMap, HashMap};

const DAY: i64 = 86_400;

/// Text fingerprints of the stored mentions of the loaded days.
#[derive(Default)]
pub struct RecentTexts {
    /// Fingerprint → publication times (seconds) of the stored mentions with that text.
    times: HashMap<u64, Vec<i64>>,
    /// Loaded days → the fingerprints added for them, and when each day was last used.
    days: BTreeMap<i64, Day>,
    tick: u64,
}

#[derive(Default)]
struct Day {
    fingerprints: Vec<u64>,
    used: u64,
}

impl RecentTexts {
    /// Days that must be loaded to decide about a text published at `t` (seconds).
    pub fn days_needed(t: i64, window: i64) -> std::ops::RangeInclusive<i64> {
        (t - window).div_euclid(DAY)..=(t + window).div_euclid(DAY)
    }

    pub fn is_loaded(&self, day: i64) -> bool {
        self.days.contains_key(&day)
    }

    /// Mark `day` loaded (its stored mentions are about to be added).
    pub fn mark_loaded(&mut self, day: i64) {
        self.tick += 1;
        let tick = self.tick;
        self.days.entry(day).or_default().used = tick;
    }

    /// Whether a text with fingerprint `fp` was stored within `window` seconds of `t`.
    /// The days around `t` must be loaded.
    pub fn contains(&mut self, fp: u64, t: i64, window: i64) -> bool {
        self.tick += 1;
        let tick = self.tick;
        for day in Self::days_needed(t, window) {
            if let Some(d) = self.days.get_mut(&day) {
                d.used = tick;
            }
        }
        self.times
            .get(&fp)
            .is_some_and(|ts| ts.iter().any(|s| (s - t).abs() <= window))
    }

    /// Record a stored text. Adding the same (fingerprint, time) twice keeps one copy
    /// (a mention stored once per product is loaded once per product).
    pub fn add(&mut self, fp: u64, t: i64) {
        let ts = self.times.entry(fp).or_default();
        if ts.contains(&t) {
            return;
        }
        ts.push(t);
        self.days
            .entry(t.div_euclid(DAY))
            .or_default()
            .fingerprints
            .push(fp);
    }

    /// Drop the least recently used days beyond `keep`; they are reloaded from the
    /// records when needed again, so this only bounds memory.
    pub fn evict(&mut self, keep: usize) {
        while self.days.len() > keep {
            let Some((&oldest, _)) = self.days.iter().min_by_key(|(_, d)| d.used) else {
                return;
            };
            self.drop_day(oldest);
        }
    }

    /// Forget days before `day` (their mention texts were pruned).
    pub fn forget_before(&mut self, day: i64) {
        let old: Vec<i64> = self.days.range(..day).map(|(d, _)| *d).collect();
        for d in old {
            self.drop_day(d);
        }
    }

    fn drop_day(&mut self, day: i64) {
        let Some(d) = self.days.remove(&day) else {
            return;
        };
        for fp in d.fingerprints {
            if let Some(ts) = self.times.get_mut(&fp) {
                ts.retain(|s| s.div_euclid(DAY) != day);
                if ts.is_empty() {
                    self.times.remove(&fp);
                }
            }
        }
    }

    /// Fingerprints held (for tests and stats).
    pub fn len(&self) -> usize {
        self.times.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 7 * DAY;

    fn loaded_around(r: &mut RecentTexts, t: i64) {
        for d in RecentTexts::days_needed(t, W) {
            r.mark_loaded(d);
        }
    }

    #[test]
    fn window_is_inclusive_and_symmetric() {
        let mut r = RecentTexts::default();
        let t = 100 * DAY;
        loaded_around(&mut r, t);
        r.add(1, t);
        assert!(r.contains(1, t + W, W));
        assert!(r.contains(1, t - W, W));
        assert!(!r.contains(1, t + W + 1, W));
        assert!(!r.contains(2, t, W));
    }

    #[test]
    fn eviction_drops_least_recently_used_days_only() {
        let mut r = RecentTexts::default();
        for day in 0..40 {
            r.mark_loaded(day);
            r.add(day as u64, day * DAY + 5);
        }
        // Touch day 0 again: it must survive, days 1.. go first.
        assert!(r.contains(0, 5, 0));
        r.evict(10);
        assert!(r.is_loaded(0));
        assert!(!r.is_loaded(1));
        assert!(r.contains(0, 5, 0));
        assert!(!r.contains(1, DAY + 5, 0));
        assert_eq!(r.len(), 10);
        r.forget_before(35);
        assert!(!r.is_loaded(0));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn duplicates_of_a_time_are_kept_once() {
        let mut r = RecentTexts::default();
        assert!(r.is_empty());
        r.mark_loaded(0);
        r.add(9, 10);
        r.add(9, 10);
        assert_eq!(r.len(), 1);
        assert!(r.contains(9, 10, W));
    }
}
