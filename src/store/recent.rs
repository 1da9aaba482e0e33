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
    /// Fingerprint → publication time (seconds) of a stored mention with that text. The
    /// same text stored more than a window apart keeps its other times in `more`: rare, and
    /// one map entry of 16 bytes for the common case keeps memory near 30 bytes a mention.
    first: HashMap<u64, i64>,
    more: HashMap<u64, Vec<i64>>,
    /// Loaded days → the fingerprints added for them, and when each day was last used.
    days: BTreeMap<i64, Day>,
    count: usize,
    tick: u64,
}

#[derive(Default)]
struct Day {
    fingerprints: Vec<u64>,
    used: u64,
}

impl RecentTexts {
    /// Days that must be loaded to decide about a text published on `day`.
    pub fn days_around(day: i64, window: i64) -> std::ops::RangeInclusive<i64> {
        let w = (window + DAY - 1).div_euclid(DAY);
        day - w..=day + w
    }

    pub fn is_loaded(&self, day: i64) -> bool {
        self.days.contains_key(&day)
    }

    /// Mark the loaded ones of `days` used by the current batch; return the others, which
    /// the caller loads from the records.
    pub fn use_days(&mut self, days: impl IntoIterator<Item = i64>) -> Vec<i64> {
        let tick = self.tick;
        let mut missing = Vec::new();
        for day in days {
            match self.days.get_mut(&day) {
                Some(d) => d.used = tick,
                None => missing.push(day),
            }
        }
        missing
    }

    /// Start of a batch: days used from now on are in use and not evicted after it.
    pub fn begin(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Mark `day` loaded (its stored mentions are about to be added).
    pub fn mark_loaded(&mut self, day: i64) {
        let tick = self.tick;
        self.days.entry(day).or_default().used = tick;
    }

    /// Whether a text with fingerprint `fp` was stored within `window` seconds of `t`.
    /// The days around `t` must be loaded.
    pub fn contains(&self, fp: u64, t: i64, window: i64) -> bool {
        let near = |s: &i64| (s - t).abs() <= window;
        self.first.get(&fp).is_some_and(near)
            || self.more.get(&fp).is_some_and(|ts| ts.iter().any(near))
    }

    /// Record a stored text. Adding the same (fingerprint, time) twice keeps one copy
    /// (a mention stored once per product is loaded once per product).
    pub fn add(&mut self, fp: u64, t: i64) {
        match self.first.get(&fp) {
            None => {
                self.first.insert(fp, t);
            }
            Some(&s) if s == t => return,
            Some(_) => {
                let ts = self.more.entry(fp).or_default();
                if ts.contains(&t) {
                    return;
                }
                ts.push(t);
            }
        }
        self.count += 1;
        self.days
            .entry(t.div_euclid(DAY))
            .or_default()
            .fingerprints
            .push(fp);
    }

    /// Drop least recently used days, none used since `in_use` (the current batch's
    /// [`RecentTexts::begin`]), until at most `keep` fingerprints are held. Dropped days
    /// are reloaded from the records when needed again, so this only bounds memory.
    pub fn evict(&mut self, keep: usize, in_use: u64) {
        while self.count > keep {
            let Some((&oldest, _)) = self
                .days
                .iter()
                .filter(|(_, d)| d.used < in_use)
                .min_by_key(|(_, d)| d.used)
            else {
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
        let other_day = |s: &i64| s.div_euclid(DAY) != day;
        for fp in d.fingerprints {
            if let Some(ts) = self.more.get_mut(&fp) {
                let before = ts.len();
                ts.retain(other_day);
                self.count -= before - ts.len();
            }
            if self.first.get(&fp).is_some_and(|s| !other_day(s)) {
                self.first.remove(&fp);
                self.count -= 1;
                // Keep one of the other times as the first.
                if let Some(ts) = self.more.get_mut(&fp) {
                    if let Some(t) = ts.pop() {
                        self.first.insert(fp, t);
                    }
                }
            }
            if self.more.get(&fp).is_some_and(Vec::is_empty) {
                self.more.remove(&fp);
            }
        }
    }

    /// Fingerprints held.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 7 * DAY;

    fn loaded_around(r: &mut RecentTexts, t: i64) {
        r.begin();
        for d in RecentTexts::days_around(t.div_euclid(DAY), W) {
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
            r.begin();
            r.mark_loaded(day);
            r.add(day as u64, day * DAY + 5);
        }
        // Touch day 0 again in the current batch: it is in use and must survive; the
        // others go least recently used first.
        let now = r.begin();
        assert!(r.use_days([0, 40]) == vec![40]);
        r.evict(9, now);
        assert!(r.is_loaded(0));
        assert!(!r.is_loaded(1));
        assert!(r.is_loaded(39));
        assert!(r.contains(0, 5, 0));
        assert!(!r.contains(1, DAY + 5, 0));
        assert_eq!(r.len(), 9);
        // Nothing but the day in use is left to drop.
        r.evict(0, now);
        assert_eq!(r.len(), 1);
        assert!(r.is_loaded(0));
        for day in 35..40 {
            r.mark_loaded(day);
            r.add(day as u64, day * DAY + 5);
        }
        r.forget_before(35);
        assert!(!r.is_loaded(0));
        assert_eq!(r.len(), 5);
        let later = r.begin();
        r.evict(0, later + 1);
        assert!(r.is_empty());
    }

    #[test]
    fn a_text_stored_twice_far_apart_keeps_both_times_until_its_day_goes() {
        let mut r = RecentTexts::default();
        r.begin();
        r.mark_loaded(0);
        r.mark_loaded(20);
        r.add(5, 10);
        r.add(5, 20 * DAY + 10);
        assert_eq!(r.len(), 2);
        assert!(r.contains(5, 10, W) && r.contains(5, 20 * DAY, W));
        r.forget_before(1);
        assert_eq!(r.len(), 1);
        assert!(!r.contains(5, 10, W));
        assert!(r.contains(5, 20 * DAY, W));
    }

    #[test]
    fn duplicates_of_a_time_are_kept_once() {
        let mut r = RecentTexts::default();
        assert!(r.is_empty());
        r.begin();
        r.mark_loaded(0);
        r.add(9, 10);
        r.add(9, 10);
        assert_eq!(r.len(), 1);
        assert!(r.contains(9, 10, W));
    }
}
