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
}

#[cfg(test)]
mod tests {
    use super::*;

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
