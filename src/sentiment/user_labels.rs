//! Human sentiment labels for stored mentions (`pulse label`), kept in their own sled tree so that
//! `pulse train --include-labels` can adapt the head to a company's own products and vocabulary.
//!
//! A label stores the mention's text with it: training must not depend on the mention surviving
//! retention (`[store] keep_mentions` prunes texts).

use crate::model::Label;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Name of the sled tree.
pub const TREE: &str = "labels";

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("label store failed: {0}")]
    Store(#[from] sled::Error),
    #[error("bad label record under {key}: {reason}")]
    Decode { key: String, reason: String },
}

/// One human label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserLabel {
    pub source: String,
    pub id: String,
    pub label: Label,
    pub text: String,
    pub labelled_at: DateTime<Utc>,
}

fn key(source: &str, id: &str) -> Vec<u8> {
    let mut k = source.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Stores (or replaces) the label of one mention; returns the one it replaced.
pub fn put(db: &sled::Db, label: &UserLabel) -> Result<Option<UserLabel>, LabelError> {
    let tree = db.open_tree(TREE)?;
    let k = key(&label.source, &label.id);
    let v = serde_json::to_vec(label).expect("a label serialises");
    let old = tree.insert(&k, v)?;
    tree.flush()?;
    old.map(|o| decode(&k, &o)).transpose()
}

fn decode(k: &[u8], v: &[u8]) -> Result<UserLabel, LabelError> {
    serde_json::from_slice(v).map_err(|e| LabelError::Decode {
        key: String::from_utf8_lossy(k).replace('\0', ":"),
        reason: e.to_string(),
    })
}

/// Every stored label, in key order (source, then id).
pub fn all(db: &sled::Db) -> Result<Vec<UserLabel>, LabelError> {
    let tree = db.open_tree(TREE)?;
    tree.iter()
        .map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stored_replaced_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let mut l = UserLabel {
            source: "hn".into(),
            id: "42".into(),
            label: Label::Negative,
            text: "the update broke sync".into(),
            labelled_at: Utc::now(),
        };
        assert_eq!(put(&db, &l).unwrap(), None);
        l.label = Label::Neutral;
        let old = put(&db, &l).unwrap().unwrap();
        assert_eq!(old.label, Label::Negative);
        let other = UserLabel {
            source: "reddit".into(),
            id: "a:b".into(),
            ..l.clone()
        };
        put(&db, &other).unwrap();
        let listed = all(&db).unwrap();
        assert_eq!(listed, vec![l, other]);
    }
}
