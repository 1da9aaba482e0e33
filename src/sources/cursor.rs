//! The one cursor every source keeps per scope (query, feed, instance and tag). It holds
//! the newest publication time seen, and each poll re-reads from `newest − overlap`: late
//! and out-of-order posts inside the overlap are fetched again and the store's dedup drops
//! what it already has. A poll that stops at the page limit (or on a failed page) leaves a
//! [`Resume`] so the next poll goes on where it stopped instead of skipping the rest.

use super::PollContext;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most ids an unordered scope (a feed, a web page) remembers beyond its current page.
pub const SEEN_CAP: usize = 500;

/// What one scope remembers between polls (saved as JSON under the scope's key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Newest publication time seen in this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
    /// Work a poll left undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    /// The floor of the last walk from the top that did not finish: until one finishes,
    /// walks from the top reach down to it, so the items that arrive late while a poll
    /// catches up are read too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<DateTime<Utc>>,
    /// Conditional-GET validators of the scope's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The newest platform id read, for APIs that go on from an id (Mastodon servers
    /// whose ids are not Snowflakes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// Unordered scopes: ids on the pages read last (a page of known ids ends the walk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
}

/// Where the next poll goes on after one that stopped early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The oldest publication time still to read.
    pub floor: DateTime<Utc>,
    /// The platform's position to go on from (page token, `after`, `min_id`, page number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Resume {
    /// Two pieces of undone work as one: from the first one's position (the newer) down to
    /// the lower of the two floors. Reading the part between them again costs duplicates,
    /// never a gap.
    pub fn merge(first: Option<Resume>, second: Option<Resume>) -> Option<Resume> {
        match (first, second) {
            (Some(a), Some(b)) => Some(Resume {
                floor: a.floor.min(b.floor),
                ..a
            }),
            (a, b) => a.or(b),
        }
    }
}

impl Cursor {
    /// The cursor a previous poll saved for `scope`; `None` on the first poll. A value in an
    /// older format reads as no cursor: that scope starts over like a first poll.
    pub fn load(ctx: &PollContext, scope: &str) -> Option<Cursor> {
        let raw = ctx.cursors.get(scope)?;
        match serde_json::from_str(raw) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!(source = %ctx.source, scope, error = %e, "cursor in an older format; this scope starts over");
                None
            }
        }
    }

    pub fn save(&self) -> String {
        serde_json::to_string(self).expect("cursor serialises")
    }

    /// The oldest time a poll reads: `newest − overlap`, or for a first poll `now − lookback`
    /// (`None`: a first poll without lookback reads only the newest page).
    pub fn floor(this: Option<&Cursor>, ctx: &PollContext) -> Option<DateTime<Utc>> {
        let first = || {
            ctx.lookback
                .map(|d| ctx.now - chrono::Duration::from_std(d).unwrap_or_default())
        };
        match this {
            Some(c) => match (c.newest.map(|n| n - ctx.overlap), c.low) {
                (Some(f), Some(low)) => Some(f.min(low)),
                (f, low) => f.or(low).or_else(first),
            },
            None => first(),
        }
    }

    /// An item published at `t` was read.
    pub fn observe(&mut self, t: DateTime<Utc>) {
        if self.newest.is_none_or(|n| t > n) {
            self.newest = Some(t);
        }
    }

    /// Remember the ids on this poll's pages first, then the most recent older ones.
    pub fn remember(&mut self, page_ids: Vec<String>) {
        let keep = SEEN_CAP.max(page_ids.len());
        let mut seen = page_ids;
        for id in self.seen.drain(..) {
            if seen.len() >= keep {
                break;
            }
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        self.seen = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn merge_keeps_the_newer_position_and_the_lower_floor() {
        let top = Resume {
            floor: t(10),
            token: Some("p3".into()),
        };
        let old = Resume {
            floor: t(6),
            token: Some("x".into()),
        };
        let m = Resume::merge(Some(top.clone()), Some(old)).unwrap();
        assert_eq!((m.floor, m.token.as_deref()), (t(6), Some("p3")));
        assert_eq!(Resume::merge(None, Some(top.clone())), Some(top));
    }

    #[test]
    fn remember_caps_and_puts_this_page_first() {
        let mut c = Cursor {
            seen: (0..SEEN_CAP + 10).map(|i| format!("old{i}")).collect(),
            ..Cursor::default()
        };
        c.remember(vec!["new".into(), "old0".into()]);
        assert_eq!(c.seen.len(), SEEN_CAP);
        assert_eq!(&c.seen[..3], ["new", "old0", "old1"]);
    }

    #[test]
    fn older_formats_do_not_parse_as_a_cursor() {
        assert!(serde_json::from_str::<Cursor>(r#"{"t":17,"ids":["a"]}"#)
            .map(|c| c == Cursor::default())
            .unwrap_or(true));
        let c = Cursor {
            newest: Some(t(3)),
            ..Cursor::default()
        };
        assert_eq!(serde_json::from_str::<Cursor>(&c.save()).unwrap(), c);
    }
}
