//! Pausing a whole source when its API says so (rate limit, used-up quota, throttle). The
//! pause is kept in memory and saved as a cursor, so neither the next poll nor a restarted
//! daemon calls the API before it may. For APIs that limit the client rather than one
//! query (GitHub, Stack Exchange): once one query is told to wait, the others must too.

use super::{PollContext, PollOutput, SourceError};
use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// Cursor scope holding the time (RFC 3339) a paused source may call its API again.
pub const PAUSE_SCOPE: &str = "@paused_until";

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

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;
    use std::collections::HashMap;

    fn ctx(now: DateTime<Utc>, saved: Option<&str>) -> PollContext {
        let mut cursors = HashMap::new();
        if let Some(v) = saved {
            cursors.insert(PAUSE_SCOPE.to_string(), v.to_string());
        }
        PollContext::for_tests(now, cursors, 1, chrono::Duration::zero())
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
}
