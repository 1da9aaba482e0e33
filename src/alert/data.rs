//! What the alert engine reads: hourly buckets and mentions of a product. The daemon gives
//! it the store; `pulse detect --replay` and tests give it [`MemoryData`].

use super::AlertError;
use crate::model::Label;
use crate::trend::BucketCounts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// The parts of a stored mention the engine uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionLite {
    pub source: String,
    pub id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub text: String,
    pub label: Label,
    pub score: f32,
    pub aspects: Vec<String>,
    pub engagement: Option<i64>,
}

/// Read access to series and mentions.
pub trait AlertData: Send + Sync {
    /// Hourly buckets `(start epoch s, counts)` of a product in `[from, to)`, all sources.
    fn hourly(
        &self,
        product: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, BucketCounts)>, AlertError>;

    /// Mentions of a product published in `[since, until)`, newest first, at most `limit`;
    /// only negative ones when `negative_only`.
    fn mentions(
        &self,
        product: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        negative_only: bool,
        limit: usize,
    ) -> Result<Vec<MentionLite>, AlertError>;
}

/// Mentions held in memory, bucketed on demand.
#[derive(Debug, Default)]
pub struct MemoryData {
    by_product: RwLock<BTreeMap<String, Vec<MentionLite>>>,
}

impl MemoryData {
    pub fn new() -> MemoryData {
        MemoryData::default()
    }

    pub fn add(&self, product: &str, m: MentionLite) {
        let mut map = self.by_product.write().expect("memory data poisoned");
        map.entry(product.to_string()).or_default().push(m);
    }

    pub fn len(&self) -> usize {
        self.by_product
            .read()
            .expect("memory data poisoned")
            .values()
            .map(Vec::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Earliest and latest publication time over all products.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let map = self.by_product.read().expect("memory data poisoned");
        let mut it = map.values().flatten().map(|m| m.published_at);
        let first = it.next()?;
        Some(it.fold((first, first), |(a, b), t| (a.min(t), b.max(t))))
    }
}

impl AlertData for MemoryData {
    fn hourly(
        &self,
        product: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, BucketCounts)>, AlertError> {
        let map = self.by_product.read().expect("memory data poisoned");
        let mut out: BTreeMap<i64, BucketCounts> = BTreeMap::new();
        for m in map.get(product).into_iter().flatten() {
            if m.published_at >= from && m.published_at < to {
                let t = m.published_at.timestamp();
                out.entry(t - t.rem_euclid(3600))
                    .or_default()
                    .add(m.label, m.score);
            }
        }
        Ok(out.into_iter().collect())
    }

    fn mentions(
        &self,
        product: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        negative_only: bool,
        limit: usize,
    ) -> Result<Vec<MentionLite>, AlertError> {
        let map = self.by_product.read().expect("memory data poisoned");
        let mut v: Vec<MentionLite> = map
            .get(product)
            .into_iter()
            .flatten()
            .filter(|m| m.published_at >= since && m.published_at < until)
            .filter(|m| !negative_only || m.label == Label::Negative)
            .cloned()
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse(m.published_at));
        v.truncate(limit);
        Ok(v)
    }
}

impl AlertData for crate::store::Store {
    fn hourly(
        &self,
        product: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, BucketCounts)>, AlertError> {
        self.buckets(product, None, crate::trend::Granularity::Hour, from, to)
            .map_err(|e| AlertError::Read(e.to_string()))
    }

    fn mentions(
        &self,
        product: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        negative_only: bool,
        limit: usize,
    ) -> Result<Vec<MentionLite>, AlertError> {
        let q = crate::store::MentionQuery {
            product: product.to_string(),
            since: Some(since),
            until: Some(until),
            sentiment: negative_only.then_some(Label::Negative),
            source: None,
            limit,
        };
        let recs =
            crate::store::Store::mentions(self, &q).map_err(|e| AlertError::Read(e.to_string()))?;
        Ok(recs
            .into_iter()
            .map(|r| MentionLite {
                source: r.source,
                id: r.id,
                url: r.url,
                author: r.author,
                published_at: r.published_at,
                text: r.text,
                label: r.label,
                score: r.score,
                aspects: r.aspects,
                engagement: r.engagement,
            })
            .collect())
    }
}
