//! Pausing a whole source when its API says so (rate limit, used-up quota, throttle). The
//! pause is kept in memory and saved as a cursor, so neither the next poll nor a restarted
//! daemon calls the API before it may. For APIs that limit the client rather than one
//! query (GitHub, Stack Exchange): once one query is told to wait, the others must too.
//! Those sources also share [`Tally`], which fails a poll only when every scope failed.

use super::{PollContext, PollOutput, SourceError};
use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// Cursor scope holding the time (RFC 3339) a paused source may call its API again.
pub const PAUSE_SCOPE: &str = "@paused_until";

/// Why one scope (query) of a poll stopped early.
pub enum Stop {
    /// The API asked for a pause; later scopes must not call it either. `error` is set when
    /// the request itself was refused (rate-limited, throttled), not merely told to slow down.
    Pause {
        until: DateTime<Utc>,
        why: String,
        error: Option<SourceError>,
    },
    Failed(SourceError),
}

/// The end of one scope: its cursor `value`, unless the API asked for a pause on the way
/// (`pause`: a used-up quota, a `backoff`). A paused scope keeps what it already fetched
/// (its cursor goes into `out` under `scope`) and stops the others with [`Stop::Pause`].
// Same error type as the scope polls that call it; once per scope, so its size is moot.
#[allow(clippy::result_large_err)]
pub fn end_scope(
    out: &mut PollOutput,
    scope: &str,
    value: Option<String>,
    pause: Option<(DateTime<Utc>, String)>,
) -> Result<Option<String>, Stop> {
    let Some((until, why)) = pause else {
        return Ok(value);
    };
    if let Some(v) = value {
        out.cursors.push((scope.to_string(), v));
    }
    Err(Stop::Pause {
        until,
        why,
        error: None,
    })
}

/// One source's pause, shared by its polls.
#[derive(Debug, Default)]
pub struct Pause {
    until: Mutex<Option<DateTime<Utc>>>,
}

impl Pause {
    /// When the API may be called again: the later of this process's pause and the one a
    /// previous poll saved.
    pub fn until(&self, ctx: &PollContext) -> Option<DateTime<Utc>> {
        let stored = ctx
            .cursors
            .get(PAUSE_SCOPE)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc));
        let mem = *self.until.lock().expect("pause lock poisoned");
        mem.max(stored)
    }

    /// While the source is still paused at `ctx.now`: the output of a skipped poll, with a
    /// warning naming `api` and when it may be called again.
    pub fn skip(&self, ctx: &PollContext, api: &str) -> Option<PollOutput> {
        let until = self.until(ctx).filter(|u| *u > ctx.now)?;
        let mut out = PollOutput::default();
        out.warnings.push(format!(
            "{api} asked us to rest until {}; skipping this poll",
            until.to_rfc3339()
        ));
        Some(out)
    }

    /// Pause until `until` because scope `scope` was told `why`, with `left` scopes not
    /// polled: remembered, saved as a cursor in `out`, and reported as an error when the
    /// request was refused (`error`, handed back for the caller to count) or else as a
    /// warning.
    pub fn start(
        &self,
        out: &mut PollOutput,
        scope: &str,
        left: usize,
        until: DateTime<Utc>,
        why: &str,
        error: Option<SourceError>,
    ) -> Option<SourceError> {
        *self.until.lock().expect("pause lock poisoned") = Some(until);
        out.cursors
            .push((PAUSE_SCOPE.to_string(), until.to_rfc3339()));
        let msg = format!(
            "{scope}: {why}; pausing until {} ({left} queries left for later)",
            until.to_rfc3339()
        );
        match error {
            Some(e) => {
                out.errors.push(msg);
                Some(e)
            }
            None => {
                out.warnings.push(msg);
                None
            }
        }
    }
}

/// How a poll's scopes went: the poll fails only when every scope it tried failed.
#[derive(Debug, Default)]
pub struct Tally {
    attempted: usize,
    failed: usize,
    last_err: Option<SourceError>,
}

impl Tally {
    /// A scope is about to be polled.
    pub fn attempt(&mut self) {
        self.attempted += 1;
    }

    /// The scope polled last failed with `e`.
    pub fn fail(&mut self, e: SourceError) {
        self.failed += 1;
        self.last_err = Some(e);
    }

    /// The poll's result: the last error when every scope tried failed, else `out` with
    /// each post once (a post found under two names, or on two pages, is reported once).
    pub fn finish(self, mut out: PollOutput) -> Result<PollOutput, SourceError> {
        if self.failed > 0 && self.failed == self.attempted {
            if let Some(e) = self.last_err {
                return Err(e);
            }
        }
        let mut ids = std::collections::HashSet::new();
        out.mentions.retain(|m| ids.insert(m.id.clone()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HttpConfig;
    use crate::matcher::Matcher;
    use crate::sources::HttpClient;
    use chrono::TimeZone;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn ctx(now: DateTime<Utc>, saved: Option<&str>) -> PollContext {
        let mut cursors = HashMap::new();
        if let Some(v) = saved {
            cursors.insert(PAUSE_SCOPE.to_string(), v.to_string());
        }
        PollContext {
            source: "gh".into(),
            http: HttpClient::new(&HttpConfig::default()).unwrap(),
            products: Arc::new(Vec::new()),
            matcher: Arc::new(Matcher::new(&[])),
            cursors,
            now,
            max_pages: 1,
        }
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn a_saved_pause_survives_a_restart_and_the_later_pause_wins() {
        let p = Pause::default();
        assert!(p.skip(&ctx(at(10), None), "github").is_none());
        let saved = at(12).to_rfc3339();
        let skipped = p.skip(&ctx(at(10), Some(&saved)), "github").unwrap();
        assert_eq!(
            skipped.warnings,
            ["github asked us to rest until 2024-05-01T12:00:00+00:00; skipping this poll"]
        );
        let mut out = PollOutput::default();
        let back = p.start(&mut out, "q", 2, at(11), "told to slow down", None);
        assert!(back.is_none());
        assert_eq!(out.warnings.len(), 1);
        assert_eq!(p.until(&ctx(at(10), Some(&saved))), Some(at(12)));
        assert_eq!(p.until(&ctx(at(10), None)), Some(at(11)));
        assert!(
            p.skip(&ctx(at(11), None), "github").is_none(),
            "over at `until`"
        );
    }

    #[test]
    fn a_refused_request_is_an_error_and_is_handed_back() {
        let p = Pause::default();
        let mut out = PollOutput::default();
        let e = SourceError::Parse("limited".into());
        let back = p.start(&mut out, "so:widget", 3, at(9), "throttled", Some(e));
        assert!(matches!(back, Some(SourceError::Parse(_))));
        assert_eq!(
            out.errors,
            ["so:widget: throttled; pausing until 2024-05-01T09:00:00+00:00 (3 queries left for later)"]
        );
        assert_eq!(
            out.cursors,
            [(
                PAUSE_SCOPE.to_string(),
                "2024-05-01T09:00:00+00:00".to_string()
            )]
        );
    }

    #[test]
    fn a_poll_fails_only_when_every_scope_it_tried_failed() {
        let mut all = Tally::default();
        all.attempt();
        all.fail(SourceError::Parse("a".into()));
        all.attempt();
        all.fail(SourceError::Parse("b".into()));
        assert!(
            matches!(all.finish(PollOutput::default()), Err(SourceError::Parse(m)) if m == "b")
        );
        let mut some = Tally::default();
        some.attempt();
        some.fail(SourceError::Parse("a".into()));
        some.attempt();
        assert!(some.finish(PollOutput::default()).is_ok());
        assert!(Tally::default().finish(PollOutput::default()).is_ok());
    }
}
