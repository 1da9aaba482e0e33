//! Versioned record encoding: one schema-version byte, then postcard.

use super::StoreError;
use crate::model::Label;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Version of every record this build writes.
pub const SCHEMA_VERSION: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![SCHEMA_VERSION];
    // postcard only fails on writer errors, and a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).expect("postcard encoding into a Vec"));
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.first() {
        Some(&SCHEMA_VERSION) => {
            postcard::from_bytes(&bytes[1..]).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Some(&found) => Err(StoreError::Version {
            found,
            expected: SCHEMA_VERSION,
        }),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// A stored, classified mention (one copy per matched product).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionRecord {
    /// Store-wide unique id.
    pub uid: u64,
    pub source: String,
    pub id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub text: String,
    pub language: Option<String>,
    pub engagement: Option<i64>,
    pub products: Vec<String>,
    pub label: Label,
    pub score: f32,
    pub confidence: f32,
    pub classifier: String,
    pub aspects: Vec<String>,
    pub fetched_at: DateTime<Utc>,
}

/// What the daemon last saw of one source, for `pulse status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub kind: String,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub polls: u64,
    pub errors: u64,
    pub consecutive_failures: u64,
    pub fetched_total: u64,
    pub stored_total: u64,
    pub last_fetched: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub warnings: Vec<String>,
    pub quota_remaining: Option<i64>,
    pub duplicates_total: u64,
    pub unmatched_total: u64,
    pub rejected_total: u64,
    /// The last poll's accounting.
    pub last: PollCounts,
    /// Scopes the last poll left at the page limit with more to read.
    pub truncated: Vec<String>,
    /// Polls that stopped at the page limit somewhere.
    pub truncated_polls: u64,
}

/// One poll's accounting: `fetched = stored + duplicates + unmatched + rejected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCounts {
    pub fetched: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub rejected: u64,
}

/// [`SourceStatus`] as builds before the poll accounting wrote it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SourceStatusV1 {
    source: String,
    kind: String,
    last_poll: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    polls: u64,
    errors: u64,
    consecutive_failures: u64,
    fetched_total: u64,
    stored_total: u64,
    last_fetched: u64,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    warnings: Vec<String>,
    quota_remaining: Option<i64>,
}

impl SourceStatus {
    /// Decode a status record, also one written before the poll accounting existed.
    pub fn decode(bytes: &[u8]) -> Result<SourceStatus, StoreError> {
        decode::<SourceStatus>(bytes).or_else(|e| {
            let v1: SourceStatusV1 = decode(bytes).map_err(|_| e)?;
            Ok(SourceStatus {
                source: v1.source,
                kind: v1.kind,
                last_poll: v1.last_poll,
                last_success: v1.last_success,
                polls: v1.polls,
                errors: v1.errors,
                consecutive_failures: v1.consecutive_failures,
                fetched_total: v1.fetched_total,
                stored_total: v1.stored_total,
                last_fetched: v1.last_fetched,
                last_error: v1.last_error,
                last_error_at: v1.last_error_at,
                warnings: v1.warnings,
                quota_remaining: v1.quota_remaining,
                ..SourceStatus::default()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_records_of_older_builds_still_read() {
        let old = SourceStatusV1 {
            source: "hn".into(),
            polls: 4,
            fetched_total: 9,
            ..Default::default()
        };
        let s = SourceStatus::decode(&encode(&old)).unwrap();
        assert_eq!((s.source.as_str(), s.polls, s.fetched_total), ("hn", 4, 9));
        assert_eq!(s.last, PollCounts::default());
    }

    #[test]
    fn versioned_roundtrip() {
        let s = SourceStatus {
            source: "hn".into(),
            polls: 3,
            ..Default::default()
        };
        let bytes = encode(&s);
        assert_eq!(bytes[0], SCHEMA_VERSION);
        assert_eq!(decode::<SourceStatus>(&bytes).unwrap(), s);
        let mut wrong = bytes.clone();
        wrong[0] = 7;
        assert!(matches!(
            decode::<SourceStatus>(&wrong),
            Err(StoreError::Version { found: 7, .. })
        ));
    }
}
