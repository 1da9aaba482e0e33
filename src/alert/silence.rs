//! Silences: label matchers that mute alerts for a while (`pulse silence add product=X
//! --for 2h`). Stored in the `silences` tree; an alert raised while a matching silence is
//! active is recorded but not sent.

use super::record::{decode, encode};
use super::{matches_value, AlertError, Labels};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TREE: &str = "silences";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    /// label → value (`~regex` allowed).
    pub matchers: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| matches_value(v, x)))
    }
}

/// Parse `label=value` matchers.
pub fn parse_matchers(args: &[String]) -> Result<BTreeMap<String, String>, AlertError> {
    let mut m = BTreeMap::new();
    for a in args {
        let (k, v) = a.split_once('=').ok_or_else(|| {
            AlertError::Silence(format!(
                "`{a}` is not a matcher: write label=value, e.g. product=\"ACME Phone\""
            ))
        })?;
        let k = k.trim();
        if !Labels::NAMES.contains(&k) {
            return Err(AlertError::Silence(format!(
                "unknown label `{k}`: use one of {}",
                Labels::NAMES.join(", ")
            )));
        }
        if let Some(re) = v.strip_prefix('~') {
            regex::Regex::new(re).map_err(|e| {
                AlertError::Silence(format!("invalid regular expression for `{k}`: {e}"))
            })?;
        }
        m.insert(k.to_string(), v.trim().to_string());
    }
    if m.is_empty() {
        return Err(AlertError::Silence(
            "give at least one matcher, e.g. product=\"ACME Phone\"".into(),
        ));
    }
    Ok(m)
}

/// Store a new silence.
pub fn add(db: &sled::Db, s: &Silence) -> Result<(), AlertError> {
    let tree = db.open_tree(TREE).map_err(|source| AlertError::OpenTree {
        tree: TREE.into(),
        source,
    })?;
    tree.insert(s.id.as_bytes(), encode(s))
        .map_err(|e| AlertError::Write(e.to_string()))?;
    tree.flush().map_err(|e| AlertError::Write(e.to_string()))?;
    Ok(())
}

/// Every stored silence, oldest first.
pub fn list(db: &sled::Db) -> Result<Vec<Silence>, AlertError> {
    let tree = db.open_tree(TREE).map_err(|source| AlertError::OpenTree {
        tree: TREE.into(),
        source,
    })?;
    let mut out = Vec::new();
    for kv in tree.iter() {
        let (_, v) = kv.map_err(|e| AlertError::Read(e.to_string()))?;
        out.push(decode::<Silence>("silence", &v)?);
    }
    out.sort_by_key(|s| s.starts_at);
    Ok(out)
}

/// New silence id.
pub fn new_id(now: DateTime<Utc>, matchers: &BTreeMap<String, String>) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{now:?}{matchers:?}").as_bytes());
    format!("sil_{:012x}", h & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_and_match() {
        let m = parse_matchers(&[
            "product=ACME Phone".into(),
            "department=~it|marketing".into(),
        ])
        .unwrap();
        let s = Silence {
            id: "sil_1".into(),
            matchers: m,
            starts_at: Utc::now() - chrono::Duration::minutes(1),
            ends_at: Utc::now() + chrono::Duration::hours(2),
            created_by: "t".into(),
            comment: String::new(),
        };
        let labels = Labels {
            product: "acme phone".into(),
            signal: "volume_spike".into(),
            direction: "up".into(),
            aspect: String::new(),
            severity: "warning".into(),
            department: "it".into(),
        };
        assert!(s.active(Utc::now()) && s.matches(&labels));
        assert!(parse_matchers(&["colour=red".into()]).is_err());
        assert!(parse_matchers(&["product".into()]).is_err());
    }
}
