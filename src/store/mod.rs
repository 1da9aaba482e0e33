//! The embedded sled store: mentions (scanned per product in time order), a dedup index,
//! per-product trend buckets, source cursors and status. Mentions, dedup entries and
//! buckets live in one tree under key prefixes so that a mention's insert, its dedup entries
//! and its bucket updates commit in one atomic sled batch: buckets never disagree with the
//! mentions after a crash. (sled's multi-tree transactions gave the same guarantee at a
//! tenth of the throughput: see README, Performance.)
//!
//! Bucket updates are written behind: each ingest batch commits, in the same atomic sled
//! batch as its mentions, one compact journal entry (`j` keys) with the batch's per-product,
//! per-source, per-hour deltas, and keeps the deltas in memory. A checkpoint folds the
//! pending deltas into the bucket records and deletes the journal entries it covered, again
//! in one atomic batch, so each touched bucket is written once per checkpoint instead of
//! once per batch. Readers add the pending deltas to what they read. After a crash, `open`
//! replays the journal: at every point, stored buckets + journal = the recount of the
//! mentions.
//!
//! Buckets kept: hourly and daily for all sources (`*`), daily per source (nothing reads
//! per-source hourly buckets). The hourly all-source buckets of one day are stored together
//! as one record of 24 slots (tag `H`), so a 90-day hourly trend reads 91 records instead
//! of 2,160. Stores made before are migrated on open (`bucket_layout` in `meta`).
//!
//! Dedup: by source and id through one `i` entry per mention (exact, for as long as the
//! store exists), and by content in memory ([`recent`]): a text stored within
//! [`TEXT_DEDUP_WINDOW`] of another with the same normalised words is a cross-post.

pub mod recent;
pub mod records;

use crate::model::Label;
use crate::trend::{BucketCounts, Granularity};
use chrono::{DateTime, TimeZone, Utc};
pub use records::{decode, encode, MentionRecord, PollCounts, SourceStatus, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store at {path}: it is locked by another process (a running `pulse run` daemon?); query the daemon instead, or stop it first")]
    Locked { path: PathBuf },
    #[error("cannot open store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("store operation failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record has schema version {found}, this pulse understands {expected}: upgrade pulse or restore a matching backup")]
    Version { found: u8, expected: u8 },
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// Name of the all-sources series in bucket keys.
const ALL_SOURCES: &str = "*";

/// Default sled page-cache size (`[store] cache_mb`).
pub const DEFAULT_CACHE_MB: u64 = 16;

/// Checkpoint when this many bucket deltas are pending (bounds the memory they take:
/// about 150 bytes each).
const MAX_PENDING_DELTAS: usize = 32_768;
/// Checkpoint when this many journal entries are pending (bounds replay work on open).
const MAX_PENDING_JOURNAL: usize = 2_048;
/// Deltas per journal value: keeps each value a few KiB, far below sled's blob threshold.
const JOURNAL_CHUNK: usize = 128;

/// Handle to the store; cheap to clone (sled trees are reference-counted).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    /// Mentions (`m`), dedup entries (`i`, `t`), buckets (`b`), the bucket journal (`j`)
    /// and the mention count (`c`).
    data: sled::Tree,
    shared: Arc<Shared>,
    cursors: sled::Tree,
    status: sled::Tree,
    meta: sled::Tree,
}

/// State shared by every clone of a [`Store`]; the last clone dropped checkpoints.
struct Shared {
    data: sled::Tree,
    db: sled::Db,
    /// Serialises ingest, checkpoints and pruning (read-modify-write of dedup and counts).
    writer: Mutex<()>,
    /// Bucket deltas committed in the journal, not yet folded into bucket records.
    /// Lock order: `writer` before `pending`.
    pending: Mutex<Pending>,
    /// Content-dedup fingerprints of the loaded days; used under `writer` only.
    recent: Mutex<recent::RecentTexts>,
}

#[derive(Default)]
struct Pending {
    deltas: BTreeMap<Vec<u8>, BucketCounts>,
    journal: Vec<Vec<u8>>,
    next_seq: u64,
}

impl Pending {
    fn add(&mut self, e: &JournalEntry) {
        for key in journal_bucket_keys(&e.product, &e.source, e.hour) {
            self.deltas.entry(key).or_default().merge(&e.counts);
        }
    }

    /// Fold the pending deltas into the bucket records and drop the journal entries
    /// they came from, in one atomic batch.
    fn checkpoint(&mut self, data: &sled::Tree) -> Result<(), StoreError> {
        if self.deltas.is_empty() && self.journal.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let mut days: BTreeMap<Vec<u8>, Vec<(usize, BucketCounts)>> = BTreeMap::new();
        for (key, delta) in &self.deltas {
            if let Some((day_key, slot)) = day_slot(key)? {
                days.entry(day_key).or_default().push((slot, *delta));
                continue;
            }
            let mut counts = match data.get(key)? {
                Some(v) => BucketCounts::from_bytes(&v).ok_or_else(|| {
                    StoreError::Corrupt("bucket record has the wrong size".into())
                })?,
                None => BucketCounts::default(),
            };
            counts.merge(delta);
            batch.insert(key.clone(), &counts.to_bytes()[..]);
        }
        for (day_key, slots) in days {
            let mut record = match data.get(&day_key)? {
                Some(v) => decode_day(&v)?,
                None => [BucketCounts::default(); 24],
            };
            for (slot, delta) in slots {
                record[slot].merge(&delta);
            }
            batch.insert(day_key, encode_day(&record));
        }
        for key in &self.journal {
            batch.remove(key.clone());
        }
        data.apply_batch(batch)?;
        self.deltas.clear();
        self.journal.clear();
        Ok(())
    }

    /// Add the pending deltas between `lo` and `hi` (inclusive) to `out`.
    fn overlay(&self, lo: &[u8], hi: &[u8], out: &mut BTreeMap<Vec<u8>, BucketCounts>) {
        for (k, d) in self
            .deltas
            .range::<[u8], _>((std::ops::Bound::Included(lo), std::ops::Bound::Included(hi)))
        {
            out.entry(k.clone()).or_default().merge(d);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let result = pending.checkpoint(&self.data).and_then(|()| {
            self.db.flush()?;
            Ok(())
        });
        if let Err(e) = result {
            // Nothing is lost: the journal is replayed on the next open.
            tracing::warn!(error = %e, "cannot checkpoint trend buckets on close");
        }
    }
}

/// Bucket deltas of one product, source and hour, as journalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JournalEntry {
    product: String,
    source: String,
    hour: i64,
    counts: BucketCounts,
}

/// What an insert did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InsertReport {
    /// Mentions newly stored.
    pub stored: usize,
    /// Same source and id already stored.
    pub duplicate_ids: usize,
    /// Same normalised text stored within [`TEXT_DEDUP_WINDOW`] (a cross-post).
    pub duplicate_texts: usize,
}

/// Filter for [`Store::mentions`].
#[derive(Debug, Clone, Default)]
pub struct MentionQuery {
    pub product: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sentiment: Option<Label>,
    pub source: Option<String>,
    pub limit: usize,
}

/// Entry count and key+value bytes of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    pub entries: u64,
    pub bytes: u64,
}

/// What `pulse store stats` reports.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    pub size_on_disk: u64,
    pub mentions: TreeStats,
    pub dedup_ids: TreeStats,
    pub buckets: TreeStats,
    pub other: TreeStats,
    pub small_trees: Vec<(String, TreeStats)>,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// Texts shorter than this are not deduplicated by content: short posts ("love it") repeat
/// legitimately across people.
const MIN_DEDUP_TEXT_CHARS: usize = 24;

/// A text counts once when posted again within this many seconds (before or after):
/// cross-posts and reposts of one announcement land within days. Memory is about 40 bytes
/// per stored mention of the loaded days.
pub const TEXT_DEDUP_WINDOW: i64 = 7 * 86_400;

/// Content fingerprints kept in memory between batches (about 30 bytes each): a live
/// daemon needs the 16 days around today; days beyond are dropped, least recently used
/// first, and reloaded from the records when a backfill reaches them again.
const MAX_TEXT_FINGERPRINTS: usize = 1_000_000;

impl Store {
    /// Open (or create) the store at `path` with the default page cache.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, DEFAULT_CACHE_MB)
    }

    /// Open (or create) the store at `path` with a sled page cache of `cache_mb` MiB;
    /// replays the bucket journal left by a crash.
    pub fn open_with(path: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                    path: path.to_path_buf(),
                    source: sled::Error::Io(e),
                })?;
            }
        }
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked {
                        path: path.to_path_buf(),
                    }
                }
                _ => StoreError::Open {
                    path: path.to_path_buf(),
                    source: e,
                },
            })?;
        let data = db.open_tree("data")?;
        let store = Store {
            shared: Arc::new(Shared {
                data: data.clone(),
                db: db.clone(),
                writer: Mutex::new(()),
                pending: Mutex::new(Pending::default()),
                recent: Mutex::new(recent::RecentTexts::default()),
            }),
            data,
            cursors: db.open_tree("cursors")?,
            status: db.open_tree("status")?,
            meta: db.open_tree("meta")?,
            path: path.to_path_buf(),
            db,
        };
        store.check_schema()?;
        store.migrate_bucket_layout()?;
        store.drop_text_keys()?;
        store.replay_journal()?;
        Ok(store)
    }

    /// Stores written before layout 3 kept per-source hourly buckets that nothing reads and
    /// one record per hour: drop the former, fold the latter into day records. One atomic
    /// batch per product, so an interrupted migration resumes cleanly.
    fn migrate_bucket_layout(&self) -> Result<(), StoreError> {
        const LAYOUT: &[u8] = &[3];
        if self.meta.get("bucket_layout")?.as_deref() == Some(LAYOUT) {
            return Ok(());
        }
        let _w = self.writer();
        let mut moved = 0usize;
        for mut prefix in self.first_segments(b'b')? {
            prefix.push(0);
            let mut batch = sled::Batch::default();
            let mut days: BTreeMap<Vec<u8>, [BucketCounts; 24]> = BTreeMap::new();
            for item in self.data.scan_prefix(&prefix) {
                let (k, v) = item?;
                if is_per_source_hourly(&k) {
                    batch.remove(k);
                    moved += 1;
                } else if let Some((day_key, slot)) = day_slot(&k)? {
                    let counts = BucketCounts::from_bytes(&v).ok_or_else(|| {
                        StoreError::Corrupt("bucket record has the wrong size".into())
                    })?;
                    let record = match days.entry(day_key) {
                        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let existing = match self.data.get(v.key())? {
                                Some(r) => decode_day(&r)?,
                                None => [BucketCounts::default(); 24],
                            };
                            v.insert(existing)
                        }
                    };
                    record[slot].merge(&counts);
                    batch.remove(k);
                    moved += 1;
                }
            }
            for (day_key, record) in days {
                batch.insert(day_key, encode_day(&record));
            }
            self.data.apply_batch(batch)?;
        }
        self.meta.insert("bucket_layout", LAYOUT)?;
        if moved > 0 {
            tracing::info!(records = moved, "migrated trend buckets to layout 3");
            self.db.flush()?;
        }
        Ok(())
    }

    /// Stores written before content dedup moved into memory kept one `t` entry per
    /// mention: delete them (the records they pointed at hold the texts).
    fn drop_text_keys(&self) -> Result<(), StoreError> {
        const DONE: &[u8] = &[1];
        if self.meta.get("text_keys_dropped")?.as_deref() == Some(DONE) {
            return Ok(());
        }
        let _w = self.writer();
        let mut dropped = 0usize;
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0usize;
            for item in self.data.scan_prefix(b"t").keys().take(10_000) {
                batch.remove(item?);
                n += 1;
            }
            if n == 0 {
                break;
            }
            self.data.apply_batch(batch)?;
            dropped += n;
        }
        self.meta.insert("text_keys_dropped", DONE)?;
        if dropped > 0 {
            tracing::info!(
                entries = dropped,
                "dropped content-dedup keys (now kept in memory)"
            );
            self.db.flush()?;
        }
        Ok(())
    }

    fn recent(&self) -> MutexGuard<'_, recent::RecentTexts> {
        self.shared.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make the content fingerprints of every day within the dedup window of the batch's
    /// publication days available: mark the loaded ones used, and read the others from the
    /// records, with one scan per product over the missing span.
    fn load_text_days(
        &self,
        recent: &mut recent::RecentTexts,
        batch: &[MentionRecord],
    ) -> Result<(), StoreError> {
        let published: BTreeSet<i64> = batch
            .iter()
            .map(|r| r.published_at.timestamp().div_euclid(86_400))
            .collect();
        let needed: BTreeSet<i64> = published
            .iter()
            .flat_map(|&d| recent::RecentTexts::days_around(d, TEXT_DEDUP_WINDOW))
            .collect();
        let missing = recent.use_days(needed);
        let (Some(&first), Some(&last)) = (missing.first(), missing.last()) else {
            return Ok(());
        };
        for &day in &missing {
            recent.mark_loaded(day);
        }
        let (from, to) = (
            time_from_secs(first * 86_400),
            time_from_secs((last + 1) * 86_400),
        );
        for product in self.product_names()? {
            for item in self
                .data
                .range(mention_key(&product, from, 0)..mention_key(&product, to, 0))
            {
                let (_, v) = item?;
                let rec: MentionRecord = decode(&v)?;
                let t = rec.published_at.timestamp();
                if missing.binary_search(&t.div_euclid(86_400)).is_err() {
                    continue;
                }
                if let Some(fp) = text_fingerprint(&rec.text) {
                    recent.add(fp, t);
                }
            }
        }
        Ok(())
    }

    /// Fold journal entries left by a crash into the buckets.
    fn replay_journal(&self) -> Result<(), StoreError> {
        let _w = self.writer();
        let mut pending = self.pending();
        let mut replayed = 0usize;
        for item in self.data.scan_prefix(b"j") {
            let (k, v) = item?;
            let entries: Vec<JournalEntry> = decode(&v)?;
            for e in &entries {
                pending.add(e);
            }
            pending.journal.push(k.to_vec());
            replayed += 1;
        }
        if replayed > 0 {
            pending.checkpoint(&self.data)?;
            self.db.flush()?;
            tracing::info!(entries = replayed, "replayed the trend bucket journal");
        }
        Ok(())
    }

    fn writer(&self) -> MutexGuard<'_, ()> {
        self.shared.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Fold pending bucket deltas into the bucket records now (also done automatically,
    /// by [`Store::flush`], and when the last handle is dropped).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let _w = self.writer();
        self.pending().checkpoint(&self.data)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.meta.get("schema_version")? {
            None => {
                self.meta.insert("schema_version", &[SCHEMA_VERSION])?;
                Ok(())
            }
            Some(v) if v.as_ref() == [SCHEMA_VERSION] => Ok(()),
            Some(v) => Err(StoreError::Version {
                found: v.first().copied().unwrap_or(0),
                expected: SCHEMA_VERSION,
            }),
        }
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Make everything written so far durable, with the buckets checkpointed.
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.checkpoint()?;
        Ok(self.db.flush()?)
    }

    pub async fn flush_async(&self) -> Result<usize, StoreError> {
        Ok(self.db.flush_async().await?)
    }

    /// Bytes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Whether a post with this source and id was stored (or seen as a duplicate) before:
    /// a cheap look-up that spares re-classifying what a poll's overlap reads again. Id
    /// dedup entries outlive retention, so a pruned post is still known.
    pub fn is_known(&self, source: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.data.contains_key(dedup_id_key(source, id))?)
    }

    /// Insert a batch of classified mentions: dedup, store one record per matched product,
    /// and journal the bucket deltas (see the module doc), atomically. Durable once this
    /// returns if `durable` is set.
    pub fn insert_batch(
        &self,
        batch: &[MentionRecord],
        durable: bool,
    ) -> Result<InsertReport, StoreError> {
        if batch.is_empty() {
            return Ok(InsertReport::default());
        }
        let _guard = self.writer();
        let mut report = InsertReport::default();
        let mut batch_out = sled::Batch::default();
        // Per product, source and hour: the journal's unit (daily and all-source buckets
        // are derived from it).
        let mut hourly: BTreeMap<(&str, &str, i64), BucketCounts> = BTreeMap::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut records = 0u64;
        let mut recent = self.recent();
        let batch_started = recent.begin();
        self.load_text_days(&mut recent, batch)?;
        // This batch's texts join `recent` only once the batch is committed.
        let mut added: HashMap<u64, Vec<i64>> = HashMap::new();
        for rec in batch {
            let id_key = dedup_id_key(&rec.source, &rec.id);
            if seen.contains(&id_key) || self.data.contains_key(&id_key)? {
                report.duplicate_ids += 1;
                continue;
            }
            let published = rec.published_at.timestamp();
            let fp = text_fingerprint(&rec.text);
            if let Some(fp) = fp {
                let in_batch = added.get(&fp).is_some_and(|ts| {
                    ts.iter()
                        .any(|t| (t - published).abs() <= TEXT_DEDUP_WINDOW)
                });
                if in_batch || recent.contains(fp, published, TEXT_DEDUP_WINDOW) {
                    report.duplicate_texts += 1;
                    // Remember the id too, so the same post is recognised cheaply next time.
                    batch_out.insert(id_key.clone(), encode(&Vec::<Vec<u8>>::new()));
                    seen.insert(id_key);
                    continue;
                }
            }
            let uid = self.db.generate_id()?;
            let mut stored = rec.clone();
            stored.uid = uid;
            let value = sled::IVec::from(encode(&stored));
            let mut keys = Vec::with_capacity(rec.products.len());
            let hour = Granularity::Hour.floor(rec.published_at);
            for product in &rec.products {
                let key = mention_key(product, rec.published_at, uid);
                batch_out.insert(key.clone(), value.clone());
                keys.push(key);
                records += 1;
                hourly
                    .entry((product.as_str(), rec.source.as_str(), hour))
                    .or_default()
                    .add(rec.label, rec.score);
            }
            batch_out.insert(id_key.clone(), encode(&keys));
            seen.insert(id_key);
            if let Some(fp) = fp {
                added.entry(fp).or_default().push(published);
            }
            report.stored += 1;
        }
        let entries: Vec<JournalEntry> = hourly
            .into_iter()
            .map(|((product, source, hour), counts)| JournalEntry {
                product: product.to_string(),
                source: source.to_string(),
                hour,
                counts,
            })
            .collect();
        // Readers hold `pending` while they read buckets, so they never see a batch's
        // mentions without its deltas, nor a checkpoint half-applied.
        let mut pending = self.pending();
        let mut journal_keys = Vec::new();
        for chunk in entries.chunks(JOURNAL_CHUNK) {
            let key = journal_key(pending.next_seq);
            pending.next_seq += 1;
            batch_out.insert(key.clone(), encode(&chunk));
            journal_keys.push(key);
        }
        if records > 0 {
            let count = self.mention_count() as u64 + records;
            batch_out.insert(COUNT_KEY, &count.to_be_bytes()[..]);
        }
        // One batch: sled applies it atomically, also across a crash.
        self.data.apply_batch(batch_out)?;
        for (fp, times) in added {
            for t in times {
                recent.add(fp, t);
            }
        }
        recent.evict(MAX_TEXT_FINGERPRINTS, batch_started);
        drop(recent);
        for e in &entries {
            pending.add(e);
        }
        pending.journal.extend(journal_keys);
        if pending.deltas.len() > MAX_PENDING_DELTAS || pending.journal.len() > MAX_PENDING_JOURNAL
        {
            pending.checkpoint(&self.data)?;
        }
        drop(pending);
        if durable {
            self.db.flush()?;
        }
        Ok(report)
    }

    /// Buckets of one product between `from` and `to` (inclusive), oldest first.
    /// `source` None = all sources.
    pub fn buckets(
        &self,
        product: &str,
        source: Option<&str>,
        g: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, BucketCounts)>, StoreError> {
        let src = source.unwrap_or(ALL_SOURCES);
        let lo = bucket_key(product, src, g, g.floor(from));
        let hi = bucket_key(product, src, g, g.floor(to));
        let pending = self.pending();
        let mut out = Vec::new();
        if g == Granularity::Hour {
            // Day records of 24 slots (see the module doc); per-source hourly buckets are
            // not kept, so that range is empty.
            if src == ALL_SOURCES {
                let (first, last) = (g.floor(from), g.floor(to));
                let day_lo = day_key(product, Granularity::Day.floor(from));
                let day_hi = day_key(product, Granularity::Day.floor(to));
                for item in self.data.range(day_lo.as_slice()..=day_hi.as_slice()) {
                    let (k, v) = item?;
                    let day = decode_time_suffix(&k)?;
                    for (slot, counts) in decode_day(&v)?.iter().enumerate() {
                        let start = day + slot as i64 * 3600;
                        if counts.count > 0 && start >= first && start <= last {
                            out.push((start, *counts));
                        }
                    }
                }
            }
        } else {
            for item in self.data.range(lo.as_slice()..=hi.as_slice()) {
                let (k, v) = item?;
                let start = decode_time_suffix(&k)?;
                let counts = BucketCounts::from_bytes(&v).ok_or_else(|| {
                    StoreError::Corrupt("bucket record has the wrong size".into())
                })?;
                out.push((start, counts));
            }
        }
        let mut extra = BTreeMap::new();
        pending.overlay(&lo, &hi, &mut extra);
        drop(pending);
        if extra.is_empty() {
            return Ok(out);
        }
        let mut merged: BTreeMap<i64, BucketCounts> = out.into_iter().collect();
        for (k, d) in extra {
            merged.entry(decode_time_suffix(&k)?).or_default().merge(&d);
        }
        Ok(merged.into_iter().collect())
    }

    /// Sum of every bucket of a granularity for a product (all time).
    pub fn totals(&self, product: &str, g: Granularity) -> Result<BucketCounts, StoreError> {
        let mut prefix = bucket_prefix(product, ALL_SOURCES);
        prefix.push(g.tag());
        let pending = self.pending();
        let mut total = BucketCounts::default();
        if g == Granularity::Hour {
            let mut days = bucket_prefix(product, ALL_SOURCES);
            days.push(DAY_RECORD_TAG);
            for item in self.data.scan_prefix(&days) {
                let (_, v) = item?;
                for c in decode_day(&v)?.iter() {
                    total.merge(c);
                }
            }
        } else {
            for item in self.data.scan_prefix(&prefix) {
                let (_, v) = item?;
                if let Some(c) = BucketCounts::from_bytes(&v) {
                    total.merge(&c);
                }
            }
        }
        let mut hi = prefix.clone();
        hi.extend_from_slice(&[0xff; 8]);
        let mut extra = BTreeMap::new();
        pending.overlay(&prefix, &hi, &mut extra);
        for d in extra.values() {
            total.merge(d);
        }
        Ok(total)
    }

    /// Newest mentions of a product matching the query, newest first.
    pub fn mentions(&self, q: &MentionQuery) -> Result<Vec<MentionRecord>, StoreError> {
        let lo = match q.since {
            Some(t) => mention_key(&q.product, t, 0),
            None => product_prefix(&q.product),
        };
        let hi = match q.until {
            Some(t) => mention_key(&q.product, t, u64::MAX),
            None => {
                let mut k = product_prefix(&q.product);
                k.extend_from_slice(&[0xff; 17]);
                k
            }
        };
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut out = Vec::new();
        for item in self.data.range(lo..=hi).rev() {
            let (_, v) = item?;
            let rec: MentionRecord = decode(&v)?;
            if q.sentiment.is_some_and(|s| s != rec.label) {
                continue;
            }
            if q.source.as_ref().is_some_and(|s| *s != rec.source) {
                continue;
            }
            out.push(rec);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Every product name that has stored mentions.
    pub fn product_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .first_segments(b'm')?
            .iter()
            .map(|p| String::from_utf8_lossy(&p[1..]).into_owned())
            .collect())
    }

    /// The distinct `<tag><name>` starts of the keys under `tag` (mention and bucket keys
    /// begin with a product name and a NUL), one seek per name instead of a full scan.
    fn first_segments(&self, tag: u8) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        let mut next: Vec<u8> = vec![tag];
        while let Some(item) = self.data.range(next.as_slice()..).next() {
            let (k, _) = item?;
            if k.first() != Some(&tag) {
                break;
            }
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            next = k[..end].to_vec();
            out.push(next.clone());
            next.push(1);
        }
        Ok(out)
    }

    /// Find stored copies of a mention by source and native id.
    pub fn mention_by_id(&self, source: &str, id: &str) -> Result<Vec<MentionRecord>, StoreError> {
        let Some(v) = self.data.get(dedup_id_key(source, id))? else {
            return Ok(Vec::new());
        };
        let keys: Vec<Vec<u8>> = decode(&v).unwrap_or_default();
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = self.data.get(k)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    /// Recount every bucket from the stored mentions (for checks after a crash).
    pub fn recount(&self) -> Result<BTreeMap<Vec<u8>, BucketCounts>, StoreError> {
        let mut out: BTreeMap<Vec<u8>, BucketCounts> = BTreeMap::new();
        for item in self.data.scan_prefix(b"m") {
            let (k, v) = item?;
            let rec: MentionRecord = decode(&v)?;
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let product = String::from_utf8_lossy(&k[1..end]).into_owned();
            let hour = Granularity::Hour.floor(rec.published_at);
            for key in journal_bucket_keys(&product, &rec.source, hour) {
                out.entry(key).or_default().add(rec.label, rec.score);
            }
        }
        Ok(out)
    }

    /// Every stored bucket, by key (for checks after a crash).
    pub fn all_buckets(&self) -> Result<BTreeMap<Vec<u8>, BucketCounts>, StoreError> {
        let pending = self.pending();
        let mut out = BTreeMap::new();
        pending.overlay(b"b", b"c", &mut out);
        for item in self.data.scan_prefix(b"b") {
            let (k, v) = item?;
            if is_day_record(&k) {
                let day = decode_time_suffix(&k)?;
                let product_end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
                let product = String::from_utf8_lossy(&k[1..product_end]).into_owned();
                for (slot, c) in decode_day(&v)?.iter().enumerate() {
                    if c.count > 0 {
                        let key = bucket_key(
                            &product,
                            ALL_SOURCES,
                            Granularity::Hour,
                            day + slot as i64 * 3600,
                        );
                        out.entry(key).or_default().merge(c);
                    }
                }
                continue;
            }
            out.entry(k.to_vec()).or_default().merge(
                &BucketCounts::from_bytes(&v)
                    .ok_or_else(|| StoreError::Corrupt("bad bucket".into()))?,
            );
        }
        Ok(out)
    }

    /// Mention records stored (one per product a mention names).
    pub fn mention_count(&self) -> usize {
        self.data
            .get(COUNT_KEY)
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0) as usize
    }

    /// Delete mention texts published before `cutoff`, keeping the trend buckets and the
    /// dedup ids (so a pruned post fetched again is still recognised). Works in chunks of
    /// `chunk` records, taking the writer lock per chunk so ingest is never blocked for long.
    pub fn prune_before(&self, cutoff: DateTime<Utc>, chunk: usize) -> Result<usize, StoreError> {
        let mut pruned = 0usize;
        for product in self.product_names()? {
            loop {
                let _guard = self.writer();
                let lo = product_prefix(&product);
                let hi = mention_key(&product, cutoff, 0);
                let mut batch = sled::Batch::default();
                let mut n = 0u64;
                for item in self.data.range(lo..hi).take(chunk.max(1)) {
                    let (k, v) = item?;
                    batch.remove(k);
                    if let Ok(rec) = decode::<MentionRecord>(&v) {
                        batch.insert(
                            dedup_id_key(&rec.source, &rec.id),
                            encode(&Vec::<Vec<u8>>::new()),
                        );
                    }
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                let count = (self.mention_count() as u64).saturating_sub(n);
                batch.insert(COUNT_KEY, &count.to_be_bytes()[..]);
                self.data.apply_batch(batch)?;
                pruned += n as usize;
            }
        }
        if pruned > 0 {
            // Days partly pruned reload from what is left when next needed.
            let _guard = self.writer();
            self.recent()
                .forget_before(Granularity::Day.floor(cutoff) / 86_400 + 1);
            self.db.flush()?;
        }
        Ok(pruned)
    }

    /// Entry counts and key+value bytes per kind of record, oldest and newest mention.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        // Count the buckets as they will stay, not the journal on its way to them.
        self.checkpoint()?;
        let mut st = StoreStats {
            size_on_disk: self.size_on_disk(),
            ..Default::default()
        };
        for item in self.data.iter() {
            let (k, v) = item?;
            let bytes = (k.len() + v.len()) as u64;
            let slot = match k.first() {
                Some(b'm') => {
                    if let Ok(rec) = decode::<MentionRecord>(&v) {
                        st.oldest =
                            Some(st.oldest.map_or(rec.published_at, |o: DateTime<Utc>| {
                                o.min(rec.published_at)
                            }));
                        st.newest =
                            Some(st.newest.map_or(rec.published_at, |o: DateTime<Utc>| {
                                o.max(rec.published_at)
                            }));
                    }
                    &mut st.mentions
                }
                Some(b'i') => &mut st.dedup_ids,
                Some(b'b') => &mut st.buckets,
                _ => &mut st.other,
            };
            slot.entries += 1;
            slot.bytes += bytes;
        }
        for (name, tree) in [
            ("cursors", &self.cursors),
            ("status", &self.status),
            ("meta", &self.meta),
        ] {
            let mut t = TreeStats::default();
            for item in tree.iter() {
                let (k, v) = item?;
                t.entries += 1;
                t.bytes += (k.len() + v.len()) as u64;
            }
            st.small_trees.push((name.to_string(), t));
        }
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).into_owned();
            if ["data", "cursors", "status", "meta", "__sled__default"].contains(&name.as_str()) {
                continue;
            }
            let tree = self.db.open_tree(&name)?;
            let mut t = TreeStats::default();
            for item in tree.iter() {
                let (k, v) = item?;
                t.entries += 1;
                t.bytes += (k.len() + v.len()) as u64;
            }
            st.small_trees.push((name, t));
        }
        Ok(st)
    }

    // ---- cursors and source status ----

    /// Cursors saved by a source, by scope.
    pub fn cursors(&self, source: &str) -> Result<HashMap<String, String>, StoreError> {
        let mut prefix = source.as_bytes().to_vec();
        prefix.push(0);
        let mut out = HashMap::new();
        for item in self.cursors.scan_prefix(&prefix) {
            let (k, v) = item?;
            out.insert(
                String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            );
        }
        Ok(out)
    }

    pub fn save_cursors(
        &self,
        source: &str,
        cursors: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (scope, value) in cursors {
            let mut k = source.as_bytes().to_vec();
            k.push(0);
            k.extend_from_slice(scope.as_bytes());
            batch.insert(k, value.as_bytes());
        }
        self.cursors.apply_batch(batch)?;
        Ok(())
    }

    pub fn source_status(&self, source: &str) -> Result<Option<SourceStatus>, StoreError> {
        match self.status.get(source.as_bytes())? {
            Some(v) => Ok(Some(SourceStatus::decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn all_source_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let mut out = Vec::new();
        for item in self.status.iter() {
            let (_, v) = item?;
            out.push(SourceStatus::decode(&v)?);
        }
        Ok(out)
    }

    pub fn save_source_status(&self, status: &SourceStatus) -> Result<(), StoreError> {
        self.status
            .insert(status.source.as_bytes(), encode(status))?;
        Ok(())
    }
}

/// Key of the mention-record counter.
const COUNT_KEY: &[u8] = b"c";

fn product_prefix(product: &str) -> Vec<u8> {
    let mut k = vec![b'm'];
    k.extend_from_slice(product.as_bytes());
    k.push(0);
    k
}

/// Order-preserving encoding of a signed time in microseconds.
fn time_bytes(t: DateTime<Utc>) -> [u8; 8] {
    ((t.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

fn mention_key(product: &str, t: DateTime<Utc>, uid: u64) -> Vec<u8> {
    let mut k = product_prefix(product);
    k.extend_from_slice(&time_bytes(t));
    k.extend_from_slice(&uid.to_be_bytes());
    k
}

fn bucket_prefix(product: &str, source: &str) -> Vec<u8> {
    let mut k = vec![b'b'];
    k.extend_from_slice(product.as_bytes());
    k.push(0);
    k.extend_from_slice(source.as_bytes());
    k.push(0);
    k
}

fn bucket_key(product: &str, source: &str, g: Granularity, start: i64) -> Vec<u8> {
    let mut k = bucket_prefix(product, source);
    k.push(g.tag());
    k.extend_from_slice(&((start as u64) ^ (1 << 63)).to_be_bytes());
    k
}

/// The buckets one journalled (product, source, hour) delta adds to: hourly and daily
/// for all sources, daily for the source.
fn journal_bucket_keys(product: &str, source: &str, hour: i64) -> [Vec<u8>; 3] {
    let day = hour - hour.rem_euclid(Granularity::Day.seconds());
    [
        bucket_key(product, ALL_SOURCES, Granularity::Hour, hour),
        bucket_key(product, ALL_SOURCES, Granularity::Day, day),
        bucket_key(product, source, Granularity::Day, day),
    ]
}

/// Tag of the day records holding 24 hourly all-source buckets.
const DAY_RECORD_TAG: u8 = b'H';

fn day_key(product: &str, day: i64) -> Vec<u8> {
    let mut k = bucket_prefix(product, ALL_SOURCES);
    k.push(DAY_RECORD_TAG);
    k.extend_from_slice(&((day as u64) ^ (1 << 63)).to_be_bytes());
    k
}

/// Bytes between the product's NUL and the tag: `*\0`.
fn is_day_record(k: &[u8]) -> bool {
    let n = k.len();
    n >= 12 && k[n - 9] == DAY_RECORD_TAG && k[n - 10] == 0 && k[n - 11] == b'*' && k[n - 12] == 0
}

/// For an all-source hourly bucket key: its day record's key and slot.
fn day_slot(k: &[u8]) -> Result<Option<(Vec<u8>, usize)>, StoreError> {
    let n = k.len();
    let hourly_all =
        n >= 12 && k[n - 9] == b'h' && k[n - 10] == 0 && k[n - 11] == b'*' && k[n - 12] == 0;
    if !hourly_all {
        return Ok(None);
    }
    let hour = decode_time_suffix(k)?;
    let day = hour - hour.rem_euclid(Granularity::Day.seconds());
    let mut day_key = k[..n - 9].to_vec();
    day_key.push(DAY_RECORD_TAG);
    day_key.extend_from_slice(&((day as u64) ^ (1 << 63)).to_be_bytes());
    Ok(Some((day_key, ((hour - day) / 3600) as usize)))
}

fn decode_day(v: &[u8]) -> Result<[BucketCounts; 24], StoreError> {
    if v.len() != 24 * 40 {
        return Err(StoreError::Corrupt("day record has the wrong size".into()));
    }
    let mut out = [BucketCounts::default(); 24];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = BucketCounts::from_bytes(&v[i * 40..(i + 1) * 40]).expect("40 bytes");
    }
    Ok(out)
}

fn encode_day(record: &[BucketCounts; 24]) -> Vec<u8> {
    let mut v = Vec::with_capacity(24 * 40);
    for c in record {
        v.extend_from_slice(&c.to_bytes());
    }
    v
}

fn journal_key(seq: u64) -> Vec<u8> {
    let mut k = b"j".to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `b<product>\0<source>\0h<time>` with a source other than `*`.
fn is_per_source_hourly(k: &[u8]) -> bool {
    let Some(p) = k.iter().position(|b| *b == 0) else {
        return false;
    };
    let rest = &k[p + 1..];
    let Some(s) = rest.iter().position(|b| *b == 0) else {
        return false;
    };
    &rest[..s] != ALL_SOURCES.as_bytes() && rest.get(s + 1) == Some(&Granularity::Hour.tag())
}

fn decode_time_suffix(k: &[u8]) -> Result<i64, StoreError> {
    let n = k.len();
    if n < 8 {
        return Err(StoreError::Corrupt("short bucket key".into()));
    }
    let raw = u64::from_be_bytes(k[n - 8..].try_into().expect("8 bytes"));
    Ok((raw ^ (1 << 63)) as i64)
}

fn dedup_id_key(source: &str, id: &str) -> Vec<u8> {
    let mut k = b"i".to_vec();
    k.extend_from_slice(source.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Content key: lower-cased words without URLs and punctuation, so the same post reposted
/// with another link or casing is caught.
fn text_fingerprint(text: &str) -> Option<u64> {
    // Built in place, without a String per word: this runs for every ingested mention.
    let mut norm = String::with_capacity(text.len());
    let mut chars = 0usize;
    for word in text.split_whitespace() {
        if word.starts_with("http://") || word.starts_with("https://") {
            continue;
        }
        let mark = norm.len();
        let had = chars;
        if !norm.is_empty() {
            norm.push(' ');
            chars += 1;
        }
        let mut any = false;
        for c in word.chars().filter(|c| c.is_alphanumeric()) {
            for l in c.to_lowercase() {
                norm.push(l);
                chars += 1;
                any = true;
            }
        }
        if !any {
            norm.truncate(mark);
            chars = had;
        }
    }
    if chars < MIN_DEDUP_TEXT_CHARS {
        return None;
    }
    Some(xxhash_rust::xxh3::xxh3_64(norm.as_bytes()))
}

/// Time from epoch seconds.
pub fn time_from_secs(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn rec(
        source: &str,
        id: &str,
        text: &str,
        t: DateTime<Utc>,
        label: Label,
        products: &[&str],
    ) -> MentionRecord {
        MentionRecord {
            uid: 0,
            source: source.into(),
            id: id.into(),
            url: None,
            author: None,
            published_at: t,
            text: text.into(),
            language: None,
            engagement: None,
            products: products.iter().map(|s| s.to_string()).collect(),
            label,
            score: match label {
                Label::Positive => 0.5,
                Label::Negative => -0.5,
                Label::Neutral => 0.0,
            },
            confidence: 1.0,
            classifier: "lexicon".into(),
            aspects: vec![],
            fetched_at: t,
        }
    }

    #[test]
    fn insert_dedup_buckets_and_queries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 15, 0).unwrap();
        let batch = vec![
            rec(
                "hn",
                "1",
                "Widget is great and I love how fast it is",
                t0,
                Label::Positive,
                &["Widget"],
            ),
            rec(
                "hn",
                "1",
                "Widget is great and I love how fast it is",
                t0,
                Label::Positive,
                &["Widget"],
            ),
            rec(
                "reddit",
                "a",
                "widget is GREAT and I love how fast it is https://x.y",
                t0,
                Label::Positive,
                &["Widget"],
            ),
            rec(
                "hn",
                "2",
                "Widget broke",
                t0 + Duration::minutes(70),
                Label::Negative,
                &["Widget", "Gadget"],
            ),
        ];
        let r = store.insert_batch(&batch, true).unwrap();
        assert_eq!(
            r,
            InsertReport {
                stored: 2,
                duplicate_ids: 1,
                duplicate_texts: 1
            }
        );
        let again = store.insert_batch(&batch[..1], true).unwrap();
        assert_eq!(again.duplicate_ids, 1);
        // The cross-posted copy's id is now known too.
        assert_eq!(
            store
                .insert_batch(&batch[2..3], true)
                .unwrap()
                .duplicate_ids,
            1
        );

        let hours = store
            .buckets(
                "Widget",
                None,
                Granularity::Hour,
                t0 - Duration::days(1),
                t0 + Duration::days(1),
            )
            .unwrap();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].1.positive, 1);
        assert_eq!(hours[1].1.negative, 1);
        let per_source = store
            .buckets(
                "Widget",
                Some("hn"),
                Granularity::Day,
                t0 - Duration::days(1),
                t0 + Duration::days(1),
            )
            .unwrap();
        assert_eq!(per_source[0].1.count, 2);
        assert_eq!(store.totals("Gadget", Granularity::Day).unwrap().count, 1);

        let m = store
            .mentions(&MentionQuery {
                product: "Widget".into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            m.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["2", "1"]
        );
        let neg = store
            .mentions(&MentionQuery {
                product: "Widget".into(),
                sentiment: Some(Label::Negative),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(neg.len(), 1);
        assert_eq!(store.product_names().unwrap(), vec!["Gadget", "Widget"]);
        assert_eq!(store.recount().unwrap(), store.all_buckets().unwrap());
        assert_eq!(store.mention_by_id("hn", "2").unwrap().len(), 2);
    }

    fn journal_keys(store: &Store) -> usize {
        store.data.scan_prefix(b"j").count()
    }

    #[test]
    fn bucket_journal_is_replayed_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let batch: Vec<_> = (0..40)
            .map(|i| {
                rec(
                    if i % 2 == 0 { "hn" } else { "reddit" },
                    &i.to_string(),
                    &format!("Widget post number {i} with enough words"),
                    t0 + Duration::minutes(37 * i),
                    if i % 3 == 0 {
                        Label::Negative
                    } else {
                        Label::Positive
                    },
                    &["Widget"],
                )
            })
            .collect();
        {
            let store = Store::open(&path).unwrap();
            store.insert_batch(&batch[..20], true).unwrap();
            // Written behind: the deltas are journalled, and readers see them already.
            assert!(journal_keys(&store) > 0);
            assert_eq!(store.recount().unwrap(), store.all_buckets().unwrap());
            assert_eq!(store.totals("Widget", Granularity::Day).unwrap().count, 20);
            store.checkpoint().unwrap();
            assert_eq!(journal_keys(&store), 0);
            store.insert_batch(&batch[20..], true).unwrap();
            // A crash: the in-memory deltas vanish, the journal entries stay behind.
            let mut pending = store.pending();
            pending.deltas.clear();
            pending.journal.clear();
            drop(pending);
            assert_eq!(
                store.totals("Widget", Granularity::Day).unwrap().count,
                20,
                "the lost deltas are really gone before the replay"
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(journal_keys(&store), 0, "the journal is folded in on open");
        assert_eq!(store.totals("Widget", Granularity::Day).unwrap().count, 40);
        assert_eq!(store.recount().unwrap(), store.all_buckets().unwrap());
        let hours = store
            .buckets(
                "Widget",
                None,
                Granularity::Hour,
                t0,
                t0 + Duration::days(2),
            )
            .unwrap();
        assert_eq!(hours.iter().map(|(_, c)| c.count).sum::<u64>(), 40);
        assert!(hours.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn per_source_hourly_buckets_are_migrated_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        {
            let store = Store::open(&path).unwrap();
            let r = rec(
                "hn",
                "1",
                "Widget is great",
                t0,
                Label::Positive,
                &["Widget"],
            );
            store.insert_batch(&[r], true).unwrap();
            store.flush().unwrap();
            // What an older build also wrote, and its layout marker missing.
            let old = bucket_key(
                "Widget",
                "hn",
                Granularity::Hour,
                Granularity::Hour.floor(t0),
            );
            assert!(is_per_source_hourly(&old));
            assert!(!is_per_source_hourly(&bucket_key(
                "Widget",
                "*",
                Granularity::Hour,
                0
            )));
            store
                .data
                .insert(old, &BucketCounts::default().to_bytes()[..])
                .unwrap();
            // Layout 1 kept all-source hourly buckets one record per hour.
            let day = Granularity::Day.floor(t0);
            let hour_slot = ((Granularity::Hour.floor(t0) - day) / 3600) as usize;
            let dk = day_key("Widget", day);
            let record = decode_day(&store.data.get(&dk).unwrap().unwrap()).unwrap();
            store.data.remove(&dk).unwrap();
            store
                .data
                .insert(
                    bucket_key(
                        "Widget",
                        "*",
                        Granularity::Hour,
                        Granularity::Hour.floor(t0),
                    ),
                    &record[hour_slot].to_bytes()[..],
                )
                .unwrap();
            store.meta.remove("bucket_layout").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.recount().unwrap(), store.all_buckets().unwrap());
        assert_eq!(store.all_buckets().unwrap().len(), 3);
        assert!(store
            .data
            .get(day_key("Widget", Granularity::Day.floor(t0)))
            .unwrap()
            .is_some());
        assert_eq!(
            store
                .buckets("Widget", None, Granularity::Hour, t0, t0)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn content_dedup_window_survives_reopen_and_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let text = "Widget 2.0 is out today, with a new sync engine";
        let post = |id: &str, t| rec("hn", id, text, t, Label::Positive, &["Widget"]);
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(
                store.insert_batch(&[post("1", t0)], true).unwrap().stored,
                1
            );
            // A cross-post 6 days later (other id, other link) is the same mention.
            let mut cross = post("2", t0 + Duration::days(6));
            cross.text = format!("{text} https://example.com/x");
            let r = store.insert_batch(&[cross], true).unwrap();
            assert_eq!((r.stored, r.duplicate_texts), (0, 1));
        }
        // Reopened, the fingerprints come back from the records.
        let store = Store::open(&path).unwrap();
        let r = store
            .insert_batch(&[post("3", t0 - Duration::days(7))], true)
            .unwrap();
        assert_eq!(
            (r.stored, r.duplicate_texts),
            (0, 1),
            "7 days before counts"
        );
        let r = store
            .insert_batch(&[post("4", t0 + Duration::days(8))], true)
            .unwrap();
        assert_eq!(r.stored, 1, "8 days later is a new mention");
        // Beyond the memory limit, days no batch uses any more are dropped; coming back
        // reloads them.
        for k in 0..40 {
            let far = t0 - Duration::days(400 + 8 * k);
            let r = store
                .insert_batch(&[post(&format!("old{k}"), far)], true)
                .unwrap();
            assert_eq!(r.stored, 1, "more than a window apart: stored");
        }
        store.recent().evict(0, u64::MAX);
        assert!(store.recent().is_empty());
        let r = store
            .insert_batch(&[post("5", t0 + Duration::hours(1))], true)
            .unwrap();
        assert_eq!(r.duplicate_texts, 1, "evicted days are reloaded");
        // The same text twice in one batch counts once.
        let later = t0 + Duration::days(100);
        let r = store
            .insert_batch(&[post("6", later), post("7", later)], true)
            .unwrap();
        assert_eq!((r.stored, r.duplicate_texts), (1, 1));
    }

    #[test]
    fn text_hash_keys_of_old_stores_are_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let post = rec(
            "hn",
            "1",
            "Widget 2.0 ships today with sync",
            t0,
            Label::Positive,
            &["Widget"],
        );
        {
            let store = Store::open(&path).unwrap();
            store
                .insert_batch(std::slice::from_ref(&post), true)
                .unwrap();
            // What an older build wrote beside each mention, and had not migrated yet.
            let mut old = b"t".to_vec();
            old.extend_from_slice(&[7u8; 16]);
            store.data.insert(old, &1u64.to_be_bytes()[..]).unwrap();
            store.meta.remove("text_keys_dropped").unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.data.scan_prefix(b"t").count(), 0);
        assert_eq!(store.mention_count(), 1);
        let mut again = post;
        again.id = "2".into();
        assert_eq!(
            store.insert_batch(&[again], true).unwrap().duplicate_texts,
            1
        );
    }

    #[test]
    fn prune_keeps_buckets_and_dedup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let batch: Vec<_> = (0..50)
            .map(|i| {
                rec(
                    "hn",
                    &i.to_string(),
                    &format!("Widget post number {i} with enough words"),
                    t0 + Duration::hours(i),
                    Label::Positive,
                    &["Widget"],
                )
            })
            .collect();
        store.insert_batch(&batch, true).unwrap();
        let before = store.all_buckets().unwrap();
        let pruned = store.prune_before(t0 + Duration::hours(20), 7).unwrap();
        assert_eq!(pruned, 20);
        assert_eq!(store.mention_count(), 30);
        assert_eq!(
            store.all_buckets().unwrap(),
            before,
            "buckets are kept forever"
        );
        let again = store.insert_batch(&batch[..5], true).unwrap();
        assert_eq!(
            again.duplicate_ids, 5,
            "pruned mentions are still recognised"
        );
        let st = store.stats().unwrap();
        assert_eq!(st.mentions.entries, 30);
        assert_eq!(st.oldest, Some(t0 + Duration::hours(20)));
    }

    #[test]
    fn cursors_roundtrip_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        store
            .save_cursors("hn", &[("Widget".into(), "123".into())])
            .unwrap();
        assert_eq!(store.cursors("hn").unwrap()["Widget"], "123");
        assert!(store.cursors("hn2").unwrap().is_empty());
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.cursors("hn").unwrap()["Widget"], "123");
    }

    #[test]
    fn unknown_schema_version_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            store.meta.insert("schema_version", &[99u8]).unwrap();
            store.flush().unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
