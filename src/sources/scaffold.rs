//! The scaffold every source runs on. A source file implements [`Api`]: which scopes it
//! polls (queries, feeds, instance and tag), how to fetch one page of a scope and how to
//! map each item to a mention. The scaffold does the rest, the same way for all nine:
//! the [`Cursor`] with its overlap window, the paging loop with its page limit and resume,
//! the accounting of every item read ([`ItemCounts`]), the in-poll dedup, and what a
//! failed, rate-limited, paused or closed scope means for the rest of the poll. Every
//! [`Api`] is a [`Source`].

use super::cursor::{Cursor, Resume};
use super::pause::Pause;
use super::{FetchError, PollContext, PollOutput, Source, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, Utc};

/// How a platform lists a scope's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first; a poll pages down to its floor (HN, Reddit, Lemmy, Bluesky).
    NewestFirst,
    /// Oldest first from a time or id the request names (GitHub, Stack Exchange, Mastodon).
    OldestFirst,
    /// A page with no order to rely on (feeds, web pages): every item in the window is
    /// read, and the next page only while a page still holds unseen ids.
    Unordered,
}

/// One thing polled per poll, with its own cursor.
pub struct Scope<S> {
    /// Cursor key, also used in messages.
    pub key: String,
    /// Scopes sharing a rate limit or an access rule (one instance, one host): a rate
    /// limit or a closed door on one skips the others of its group for this poll.
    pub group: String,
    pub inner: S,
}

impl<S> Scope<S> {
    /// A scope that shares its host with every other scope of the source.
    pub fn new(key: impl Into<String>, inner: S) -> Scope<S> {
        Scope {
            key: key.into(),
            group: String::new(),
            inner,
        }
    }
}

/// What the scaffold asks a source to fetch.
pub struct PageRequest<'a, S> {
    /// The scope this page belongs to.
    pub scope: &'a S,
    /// The oldest time wanted (`None`: a first poll that takes only the newest page).
    pub floor: Option<DateTime<Utc>>,
    /// Where to go on: the previous page's [`Page::next`], or on a walk's first page a
    /// saved [`Resume::token`] (of a page of the same query).
    pub token: Option<&'a str>,
    /// 1-based page number within this walk.
    pub page: usize,
    /// The scope's cursor as the poll found it (validators for a conditional GET).
    pub cursor: &'a Cursor,
}

/// Why an item read from a page is not handed on as a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// It does not name a product this scope stands for.
    Unmatched,
    /// It cannot be used: deleted, empty after stripping markup, missing fields.
    Rejected(&'static str),
}

/// One item of a page.
pub struct Entry {
    /// Publication time, as the platform orders and filters by it.
    pub time: DateTime<Utc>,
    pub id: String,
    pub item: Result<RawMention, Drop>,
}

impl Entry {
    pub fn of(m: RawMention) -> Entry {
        Entry {
            time: m.published_at,
            id: m.id.clone(),
            item: Ok(m),
        }
    }

    pub fn dropped(time: DateTime<Utc>, id: impl Into<String>, why: Drop) -> Entry {
        Entry {
            time,
            id: id.into(),
            item: Err(why),
        }
    }
}

/// One page as the source read it.
#[derive(Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Token of the next page, when the platform says there is one.
    pub next: Option<String>,
    /// Newest-first pages holding several lists (Lemmy's posts and comments): the source
    /// says itself whether every list reached the floor. `None`: an entry below the floor.
    pub reached: Option<bool>,
    /// A 304 answer to the conditional GET: nothing changed.
    pub not_modified: bool,
    /// `ETag` and `Last-Modified` of the answer, for the next conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Requests left in the platform's window, when it says.
    pub quota: Option<i64>,
    pub warnings: Vec<String>,
    /// The API asked us to stay away after this page (used-up quota, `backoff`).
    pub pause: Option<(DateTime<Utc>, String)>,
    /// The newest platform id on the page, for APIs that go on from an id.
    pub last_id: Option<String>,
}

impl Page {
    pub fn of(entries: Vec<Entry>, next: Option<String>) -> Page {
        Page {
            entries,
            next,
            ..Page::default()
        }
    }
}

/// Why a scope stopped early.
pub enum Stop {
    /// The API asked for a pause; no scope may call it until then. `error` is set when the
    /// request itself was refused (rate-limited, throttled), not merely told to slow down.
    Pause {
        until: DateTime<Utc>,
        why: String,
        error: Option<SourceError>,
    },
    /// This scope's group does not serve us (a private instance, a timeline behind
    /// sign-in): a warning, and the group's other scopes are skipped.
    Closed(String),
    Failed(SourceError),
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Stop {
        Stop::Failed(e)
    }
}

impl From<FetchError> for Stop {
    fn from(e: FetchError) -> Stop {
        Stop::Failed(SourceError::Fetch(e))
    }
}

/// What became of the items a poll read inside its window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ItemCounts {
    pub fetched: usize,
    /// Read twice in this poll (under two names, on two pages), or already stored.
    pub duplicates: usize,
    pub unmatched: usize,
    /// Unusable items, and responses that could not be read at all (malformed, over the
    /// size cap): each such response counts as one fetched and one rejected item.
    pub rejected: usize,
}

/// A platform API the scaffold can poll.
pub trait Api: Send + Sync + 'static {
    type Scope: Send + Sync;

    /// Name in messages about pauses ("github asked us to rest until …").
    const NAME: &'static str = "the platform";

    /// How the platform lists a scope's items.
    const ORDER: Order;

    /// Whether items older than the window are skipped (`false`: every item on the pages
    /// read goes to the store's dedup).
    const TIME_WINDOW: bool = true;

    /// Most pages one scope may read in a poll, below the configured `max_pages`.
    const PAGE_CAP: usize = usize::MAX;

    /// The pause this source keeps in memory between polls (APIs that limit the client,
    /// not one query). Without one, a pause lives in the saved cursors only.
    fn pause(&self) -> Option<&Pause> {
        None
    }

    /// Before the scopes: check settings, log in, add warnings. An error fails the poll.
    fn begin(
        &self,
        _ctx: &PollContext,
        _out: &mut PollOutput,
    ) -> impl std::future::Future<Output = Result<(), SourceError>> + Send {
        async { Ok(()) }
    }

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<Self::Scope>>;

    fn fetch(
        &self,
        ctx: &PollContext,
        req: &PageRequest<'_, Self::Scope>,
    ) -> impl std::future::Future<Output = Result<Page, Stop>> + Send;
}

#[async_trait::async_trait]
impl<A: Api> Source for A {
    async fn poll_accounted(&self, ctx: &PollContext) -> PollOutput {
        let scratch = Pause::default();
        run(self, self.pause().unwrap_or(&scratch), ctx).await
    }
}

/// One poll of every scope. The poll fails (`out.failure`) only when every scope it tried
/// failed, or on an error that fails them all alike (credentials, settings).
async fn run<A: Api>(api: &A, pause: &Pause, ctx: &PollContext) -> PollOutput {
    if let Some(skipped) = pause.skip(ctx, A::NAME) {
        return skipped;
    }
    let mut out = PollOutput::default();
    if let Err(e) = api.begin(ctx, &mut out).await {
        out.failure = Some(e);
        return out;
    }
    let scopes = api.scopes(ctx);
    let (mut attempted, mut failed, mut last_err) = (0usize, 0usize, None);
    let mut skipped_groups: Vec<&str> = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        if skipped_groups.contains(&scope.group.as_str()) {
            continue;
        }
        attempted += 1;
        let Err(stop) = walk_scope(api, ctx, scope, &mut out).await else {
            continue;
        };
        match stop {
            Stop::Failed(e @ (SourceError::Auth(_) | SourceError::Config(_))) => {
                // Bad credentials or settings fail every scope the same way.
                tracing::warn!(source = %ctx.source, scope = %scope.key, error = %e, "poll failed");
                out.failure = Some(e);
                return out;
            }
            Stop::Failed(e) => {
                tracing::warn!(source = %ctx.source, scope = %scope.key, error = %e, "poll failed");
                out.errors.push(format!("{}: {e}", scope.key));
                if matches!(e, SourceError::Fetch(FetchError::RateLimited { .. })) {
                    let left = scopes[i + 1..]
                        .iter()
                        .filter(|s| s.group == scope.group)
                        .count();
                    if left > 0 {
                        out.warnings.push(format!(
                            "rate limited: {left} scopes wait for the next poll"
                        ));
                    }
                    skipped_groups.push(&scope.group);
                }
                failed += 1;
                last_err = Some(e);
            }
            Stop::Pause { until, why, error } => {
                tracing::warn!(source = %ctx.source, scope = %scope.key, until = %until, reason = %why, "the platform asked us to pause");
                let left = scopes.len() - i - 1;
                if let Some(e) = pause.start(&mut out, &scope.key, left, until, &why, error) {
                    failed += 1;
                    last_err = Some(e);
                }
                break;
            }
            Stop::Closed(warning) => {
                tracing::warn!(source = %ctx.source, scope = %scope.key, "{warning}");
                out.warnings.push(warning);
                attempted -= 1;
                skipped_groups.push(&scope.group);
            }
        }
    }
    if failed > 0 && failed == attempted {
        out.failure = last_err;
    }
    out
}

/// One walk over pages: its bounds and where it starts.
struct Pass {
    floor: Option<DateTime<Utc>>,
    token: Option<String>,
    /// A walk from the top of the list (no saved position).
    top: bool,
}

/// How a walk ended: work left undone, and the reason it stopped early.
struct PassEnd {
    resume: Option<Resume>,
    stop: Option<Stop>,
}

async fn walk_scope<A: Api>(
    api: &A,
    ctx: &PollContext,
    scope: &Scope<A::Scope>,
    out: &mut PollOutput,
) -> Result<(), Stop> {
    let old = Cursor::load(ctx, &scope.key);
    let floor = Cursor::floor(old.as_ref(), ctx);
    let mut cursor = old.clone().unwrap_or_default();
    let pending = cursor.resume.take();
    let order = A::ORDER;
    // Newest-first: the undone work first (so a backlog always makes progress), then
    // the top down to the floor with what is left of the budget; a top walk that does not
    // start is what the next poll begins with anyway. The other orders go on from where
    // the last poll stopped, if it did.
    let top = Pass {
        floor,
        token: None,
        top: true,
    };
    let passes = match (order, pending) {
        (Order::NewestFirst, Some(r)) => vec![
            Pass {
                floor: Some(r.floor),
                token: r.token,
                top: false,
            },
            top,
        ],
        (Order::OldestFirst, Some(r)) => vec![
            Pass {
                floor: Some(r.floor),
                token: r.token,
                top: false,
            },
            top,
        ],
        _ => vec![top],
    };
    let mut budget = ctx.max_pages.max(1).min(A::PAGE_CAP);
    let (mut top_undone, mut rest_undone): (Option<Resume>, Option<Resume>) = (None, None);
    let mut top_done = false;
    let mut stop = None;
    let mut page_ids = Vec::new();
    let before = cursor.clone();
    for pass in passes {
        if budget == 0 || stop.is_some() {
            if !pass.top {
                rest_undone = pass.floor.map(|floor| Resume {
                    floor,
                    token: pass.token.clone(),
                });
            }
            continue;
        }
        let end = walk(
            api,
            ctx,
            scope,
            order,
            &pass,
            &before,
            &mut budget,
            &mut cursor,
            &mut page_ids,
            out,
        )
        .await;
        if pass.top {
            top_done = end.resume.is_none() && end.stop.is_none();
            top_undone = end.resume;
        } else {
            rest_undone = end.resume;
        }
        stop = stop.or(end.stop);
    }
    // The top's position is the newer one: from there down to the lower floor.
    let undone = Resume::merge(top_undone, rest_undone);
    if undone.is_some() && stop.is_none() {
        tracing::info!(source = %ctx.source, scope = %scope.key, pages = ctx.max_pages, "page limit reached with more to read; the next poll goes on from here");
        out.truncated.push(scope.key.clone());
        out.warnings.push(format!(
            "{}: more than {} pages of new items; the next poll goes on where this one stopped",
            scope.key, ctx.max_pages
        ));
    }
    cursor.resume = undone;
    cursor.low = match (top_done, floor) {
        (true, _) | (_, None) => None,
        (false, Some(f)) => Some(cursor.low.map_or(f, |l| l.min(f))),
    };
    if order == Order::Unordered {
        cursor.remember(page_ids);
    }
    if old.unwrap_or_default() != cursor {
        out.cursors.push((scope.key.clone(), cursor.save()));
    }
    match stop {
        Some(s) => Err(s),
        None => Ok(()),
    }
}

/// Read pages of one pass until it reaches its floor, runs out of pages or of budget.
#[allow(clippy::too_many_arguments)]
async fn walk<A: Api>(
    api: &A,
    ctx: &PollContext,
    scope: &Scope<A::Scope>,
    order: Order,
    pass: &Pass,
    before: &Cursor,
    budget: &mut usize,
    cursor: &mut Cursor,
    page_ids: &mut Vec<String>,
    out: &mut PollOutput,
) -> PassEnd {
    let mut token = pass.token.clone();
    // The oldest and newest times this pass read: a newest-first walk goes on below the
    // oldest, an oldest-first one above the newest.
    let (mut oldest, mut newest): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let undone =
        |token: Option<String>, oldest: Option<DateTime<Utc>>, newest: Option<DateTime<Utc>>| {
            let floor = pass.floor?;
            // A top walk that read nothing is what the next poll starts with anyway.
            if oldest.is_none() && pass.top && token.is_none() {
                return None;
            }
            // Oldest-first goes on above the newest read; newest-first from the token of
            // the page where it stopped (positions only shift down as new items arrive at
            // the top: items are read again, never skipped).
            Some(Resume {
                floor: match order {
                    Order::OldestFirst => newest.unwrap_or(floor),
                    _ => floor,
                },
                token,
            })
        };
    let mut page_no = 0;
    loop {
        if *budget == 0 {
            return PassEnd {
                resume: if order == Order::Unordered {
                    None
                } else {
                    undone(token, oldest, newest)
                },
                stop: None,
            };
        }
        *budget -= 1;
        page_no += 1;
        let req = PageRequest {
            scope: &scope.inner,
            floor: pass.floor,
            token: token.as_deref(),
            page: page_no,
            cursor: before,
        };
        let page = match api.fetch(ctx, &req).await {
            Ok(p) => p,
            Err(stop) => {
                if unreadable(&stop) {
                    out.counts.fetched += 1;
                    out.counts.rejected += 1;
                }
                return PassEnd {
                    resume: undone(token, oldest, newest),
                    stop: Some(stop),
                };
            }
        };
        if let Some(q) = page.quota {
            out.quota_remaining = Some(out.quota_remaining.map_or(q, |o| o.min(q)));
        }
        out.warnings.extend(page.warnings);
        if page.last_id.is_some() {
            cursor.last_id = page.last_id;
        }
        if page_no == 1 && pass.token.is_none() {
            if page.not_modified {
                return PassEnd {
                    resume: None,
                    stop: None,
                };
            }
            cursor.etag = page.etag;
            cursor.last_modified = page.last_modified;
        }
        let (mut below, mut fresh) = (false, 0usize);
        let count = page.entries.len();
        for e in page.entries {
            if A::TIME_WINDOW && pass.floor.is_some_and(|f| e.time < f) {
                below = true;
                continue;
            }
            if order == Order::Unordered {
                if page_ids.contains(&e.id) {
                    continue;
                }
                page_ids.push(e.id.clone());
                if !before.seen.contains(&e.id) {
                    fresh += 1;
                }
            }
            cursor.observe(e.time);
            oldest = Some(oldest.map_or(e.time, |o| o.min(e.time)));
            newest = Some(newest.map_or(e.time, |n| n.max(e.time)));
            out.take(e.id, e.item);
        }
        let next = page.next.filter(|_| count > 0);
        if let Some((until, why)) = page.pause {
            return PassEnd {
                resume: next.and_then(|n| undone(Some(n), oldest, newest)),
                stop: Some(Stop::Pause {
                    until,
                    why,
                    error: None,
                }),
            };
        }
        // A first poll without lookback takes the newest page only, not the history.
        let done = next.is_none()
            || (pass.floor.is_none() && order != Order::Unordered)
            || match order {
                Order::NewestFirst => page.reached.unwrap_or(below),
                Order::OldestFirst => false,
                Order::Unordered => fresh == 0,
            };
        if done {
            return PassEnd {
                resume: None,
                stop: None,
            };
        }
        token = next;
    }
}

/// A response that could not be read: it stands for at least one item we lost sight of.
fn unreadable(stop: &Stop) -> bool {
    matches!(
        stop,
        Stop::Failed(SourceError::Parse(_) | SourceError::Fetch(FetchError::TooLarge { .. }))
    )
}

/// Product names and aliases, each once (case-insensitively), in config order, with the
/// products each stands for.
pub fn names(ctx: &PollContext) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for p in ctx.products.iter() {
        for name in p.names() {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, products)) => {
                    if !products.contains(&p.name) {
                        products.push(p.name.clone())
                    }
                }
                None => out.push((name.to_string(), vec![p.name.clone()])),
            }
        }
    }
    out
}

/// One scope per product name or alias, keyed by the name.
pub fn name_scopes(ctx: &PollContext) -> Vec<Scope<String>> {
    names(ctx)
        .into_iter()
        .map(|(name, _)| Scope::new(name.clone(), name))
        .collect()
}

/// `url` with `{query}` replaced by each product name and alias (URL-encoded), each once;
/// a URL without `{query}` as it is.
pub fn templated(url: &str, ctx: &PollContext) -> Vec<String> {
    if !url.contains("{query}") {
        return vec![url.to_string()];
    }
    let mut out = Vec::new();
    for (name, _) in names(ctx) {
        let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let u = url.replace("{query}", &q);
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// One scope per URL of [`templated`], each its own group (its own host, often).
pub fn url_scopes(url: &str, ctx: &PollContext) -> Vec<Scope<String>> {
    templated(url, ctx)
        .into_iter()
        .map(|u| Scope {
            key: u.clone(),
            group: u.clone(),
            inner: u,
        })
        .collect()
}

/// A 429 with `Retry-After` as a pause of the whole source, for APIs that ban clients
/// which keep calling while limited.
pub fn rate_limit_pause(ctx: &PollContext, e: &FetchError, why: String) -> Option<Stop> {
    let FetchError::RateLimited { retry_after, .. } = e else {
        return None;
    };
    Some(Stop::Pause {
        until: ctx.now + chrono::Duration::from_std(*retry_after).unwrap_or_default(),
        why,
        error: Some(SourceError::Fetch(e.clone())),
    })
}

/// `base` with `segments` appended to its path.
pub fn endpoint(base: &url::Url, segments: &[&str]) -> url::Url {
    let mut u = base.clone();
    u.set_query(None);
    u.path_segments_mut()
        .expect("http(s) URLs have path segments")
        .pop_if_empty()
        .extend(segments);
    u
}

/// Title and body as one text: "title. body", or whichever is there.
pub fn join_title(title: String, body: String) -> String {
    match (title.is_empty(), body.is_empty() || body == title) {
        (false, false) => format!("{title}. {body}"),
        (false, true) => title,
        (true, _) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    const PAGE: usize = 3;

    /// A platform serving the items visible so far, `PAGE` a page, with a server-side
    /// time filter; newest-first pages by offset, oldest-first by an absolute position
    /// (like `min_id`).
    struct Fake<const OLDEST_FIRST: bool> {
        visible: Mutex<Vec<(DateTime<Utc>, String)>>,
    }

    impl<const OLDEST_FIRST: bool> Api for Fake<OLDEST_FIRST> {
        type Scope = ();
        const ORDER: Order = if OLDEST_FIRST {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        };
        fn scopes(&self, _ctx: &PollContext) -> Vec<Scope<()>> {
            vec![Scope::new("q", ())]
        }
        async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, ()>) -> Result<Page, Stop> {
            let mut items: Vec<(DateTime<Utc>, String)> = self
                .visible
                .lock()
                .unwrap()
                .iter()
                .filter(|(t, _)| req.floor.is_none_or(|f| *t >= f))
                .cloned()
                .collect();
            let entry = |(t, id): &(DateTime<Utc>, String)| {
                Entry::of(RawMention {
                    source: ctx.source.clone(),
                    id: id.clone(),
                    url: None,
                    author: None,
                    published_at: *t,
                    text: id.clone(),
                    language: None,
                    engagement: None,
                    products: Vec::new(),
                })
            };
            match Self::ORDER {
                Order::OldestFirst => {
                    items.sort();
                    if let Some(after) = req.token {
                        items.retain(|(t, id)| format!("{}|{id}", t.timestamp()).as_str() > after);
                    }
                    let page: Vec<_> = items.iter().take(PAGE).collect();
                    let next = (items.len() > PAGE)
                        .then(|| page.last().map(|(t, id)| format!("{}|{id}", t.timestamp())))
                        .flatten();
                    Ok(Page::of(page.into_iter().map(entry).collect(), next))
                }
                _ => {
                    items.sort_by(|a, b| b.cmp(a));
                    // Like HN: page offsets of the same query.
                    let offset: usize = req.token.and_then(|t| t.parse().ok()).unwrap_or(0);
                    let page: Vec<_> = items.iter().skip(offset).take(PAGE).map(entry).collect();
                    let next = (items.len() > offset + PAGE).then(|| (offset + PAGE).to_string());
                    Ok(Page::of(page, next))
                }
            }
        }
    }

    fn ctx(now: DateTime<Utc>, cursors: HashMap<String, String>, max_pages: usize) -> PollContext {
        PollContext::for_tests(
            now,
            cursors,
            max_pages,
            chrono::Duration::minutes(OVERLAP_MIN),
        )
    }

    const OVERLAP_MIN: i64 = 30;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    /// Polls of `api` while `items` (minute published, poll it becomes visible at) arrive:
    /// which ids were handed on, and which had to be.
    #[allow(clippy::type_complexity)]
    fn simulate<const O: bool>(
        api: &Fake<O>,
        items: &[(i64, usize)],
        max_pages: usize,
    ) -> Result<(HashMap<String, usize>, HashSet<String>), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut cursors = HashMap::new();
        let mut stored: HashMap<String, usize> = HashMap::new();
        let mut newest_seen: Option<DateTime<Utc>> = None;
        let mut guaranteed = HashSet::new();
        // Arrivals over 8 polls, then quiet polls to let the walks catch up.
        for poll in 0..20 {
            for (i, (minute, arrives)) in items.iter().enumerate() {
                if *arrives == poll {
                    let t = t0() + chrono::Duration::minutes(*minute);
                    // Before anything was seen, a first poll takes the newest page, not
                    // the history.
                    if newest_seen.is_some_and(|n| t >= n - chrono::Duration::minutes(OVERLAP_MIN))
                    {
                        guaranteed.insert(format!("i{i}"));
                    }
                    api.visible.lock().unwrap().push((t, format!("i{i}")));
                }
            }
            let now = t0() + chrono::Duration::minutes(300 + poll as i64);
            let out = rt.block_on(api.poll_accounted(&ctx(now, cursors.clone(), max_pages)));
            prop_assert!(out.failure.is_none());
            let c = out.counts;
            prop_assert_eq!(
                c.fetched,
                out.mentions.len() + c.duplicates + c.unmatched + c.rejected
            );
            for m in &out.mentions {
                newest_seen = Some(newest_seen.map_or(m.published_at, |n| n.max(m.published_at)));
                // What the store's id dedup sees: later copies are duplicates.
                *stored.entry(m.id.clone()).or_default() += 1;
            }
            cursors.extend(out.cursors);
        }
        Ok((stored, guaranteed))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Items published at random minutes and becoming visible at random polls (late,
        /// out of order, in bursts): every item published no more than `overlap` before
        /// the newest seen when it became visible is stored exactly once, whatever the
        /// page limit, once a few quiet polls let the walks catch up.
        #[test]
        fn every_item_inside_the_overlap_is_stored_exactly_once(
            items in proptest::collection::vec((0i64..240, 0usize..8), 1..24),
            max_pages in 1usize..4,
            oldest_first in any::<bool>(),
        ) {
            let (stored, guaranteed) = if oldest_first {
                simulate(&Fake::<true> { visible: Mutex::default() }, &items, max_pages)?
            } else {
                simulate(&Fake::<false> { visible: Mutex::default() }, &items, max_pages)?
            };
            let order = if oldest_first { Order::OldestFirst } else { Order::NewestFirst };
            for id in &guaranteed {
                prop_assert!(stored.contains_key(id), "{id} lost ({order:?}, max_pages {max_pages})");
            }
        }
    }
}
