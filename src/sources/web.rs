//! Any HTML page as a source: CSS selectors in the config pick each item and, inside it,
//! its text, link, author and time (parsed with `scraper`). Pages have no cursor, so the
//! source remembers the ids it has seen per URL and revalidates with a conditional GET.
//! A selector that matches nothing is reported as a warning: a changed page layout must
//! not look like a quiet day.

use super::scaffold::{url_scopes, Api, Entry, Order, Page, PageRequest, Scope, Stop};
use super::text::{html_to_text, normalize_whitespace};
use super::{PollContext, PollOutput, SourceError};
use crate::model::RawMention;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Page URL; `{query}` is replaced by each product name/alias, URL-encoded.
    pub url: String,
    /// Selector for each item (post, comment, review) on the page.
    pub item: String,
    /// Selector for the text inside an item (default: the whole item).
    #[serde(default)]
    pub text: Option<String>,
    /// Selector for the item's link (its `href`, resolved against the page URL; default:
    /// the first link in the item).
    #[serde(default)]
    pub link: Option<String>,
    /// Selector for the author's name inside an item.
    #[serde(default)]
    pub author: Option<String>,
    /// Selector for the item's time (`datetime`/`content`/`title` attribute or its text).
    #[serde(default)]
    pub time: Option<String>,
    /// Selector for the "next page" link (e.g. `a[rel=next]`); followed up to the poll's
    /// page limit while the pages still hold unseen items.
    #[serde(default)]
    pub next: Option<String>,
}

impl WebConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, sel) in self.selectors() {
            if let Err(e) = Selector::parse(sel) {
                out.push((
                    key.to_string(),
                    format!("invalid CSS selector `{sel}`: {e}"),
                ));
            }
        }
        out
    }

    fn selectors(&self) -> Vec<(&'static str, &str)> {
        let mut v = vec![("item", self.item.as_str())];
        for (k, s) in [
            ("text", &self.text),
            ("link", &self.link),
            ("author", &self.author),
            ("time", &self.time),
            ("next", &self.next),
        ] {
            if let Some(s) = s {
                v.push((k, s.as_str()));
            }
        }
        v
    }
}

/// Compiled selectors.
struct Selectors {
    item: Selector,
    text: Option<Selector>,
    link: Option<Selector>,
    author: Option<Selector>,
    time: Option<Selector>,
    next: Option<Selector>,
}

impl Selectors {
    fn compile(c: &WebConfig) -> Result<Selectors, SourceError> {
        let one = |key: &str, s: &str| {
            Selector::parse(s).map_err(|e| {
                SourceError::Config(format!("invalid CSS selector `{s}` in `{key}`: {e}"))
            })
        };
        let opt = |key: &str, s: &Option<String>| s.as_deref().map(|s| one(key, s)).transpose();
        Ok(Selectors {
            item: one("item", &c.item)?,
            text: opt("text", &c.text)?,
            link: opt("link", &c.link)?,
            author: opt("author", &c.author)?,
            time: opt("time", &c.time)?,
            next: opt("next", &c.next)?,
        })
    }
}

pub struct Web {
    config: WebConfig,
    selectors: Result<Selectors, SourceError>,
}

impl Web {
    pub fn new(config: WebConfig) -> Web {
        let selectors = Selectors::compile(&config);
        Web { config, selectors }
    }
}

impl Api for Web {
    type Scope = String;

    const ORDER: Order = Order::Unordered;

    // Page items often carry no time, or a coarse one: every item on the pages read goes
    // to the store's dedup, and unseen ids decide whether to read the next page.
    const TIME_WINDOW: bool = false;

    async fn begin(&self, _ctx: &PollContext, _out: &mut PollOutput) -> Result<(), SourceError> {
        self.selectors.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    fn scopes(&self, ctx: &PollContext) -> Vec<Scope<String>> {
        url_scopes(&self.config.url, ctx)
    }

    async fn fetch(&self, ctx: &PollContext, req: &PageRequest<'_, String>) -> Result<Page, Stop> {
        let url = req.scope;
        let sel = self.selectors.as_ref().map_err(Clone::clone)?;
        let page_url = req.token.unwrap_or(url);
        let page_url = url::Url::parse(page_url)
            .map_err(|e| SourceError::Config(format!("invalid URL `{page_url}`: {e}")))?;
        // Validators only describe the first page.
        let mut headers = Vec::new();
        if req.page == 1 {
            if let Some(etag) = &req.cursor.etag {
                headers.push(("If-None-Match", etag.clone()));
            }
            if let Some(lm) = &req.cursor.last_modified {
                headers.push(("If-Modified-Since", lm.clone()));
            }
        }
        let fetched = ctx.http.get(page_url.as_str(), &headers).await?;
        if fetched.status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Page {
                not_modified: req.page == 1,
                ..Page::default()
            });
        }
        let html = String::from_utf8_lossy(&fetched.body);
        let scraped = scrape(&html, sel, &page_url, ctx.now);
        let mut warnings = Vec::new();
        // A missing item selector on a later page is as telling as on the first; the
        // sub-selectors are judged per page too.
        for key in &scraped.unmatched {
            let selector = self
                .config
                .selectors()
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, s)| s)
                .unwrap_or_default();
            tracing::warn!(source = %ctx.source, url = %page_url, selector = %selector, "selector matched nothing");
            warnings.push(format!(
                "selector `{selector}` matched nothing on {page_url}: the page layout may have changed"
            ));
        }
        let language = scraped.language;
        let entries = scraped
            .items
            .into_iter()
            .map(|item| {
                Entry::of(RawMention {
                    url: item.link,
                    author: item.author,
                    language: language.clone(),
                    ..ctx.mention(item.id, item.time.unwrap_or(ctx.now), item.text)
                })
            })
            .collect();
        let next = scraped.next.filter(|n| *n != page_url.as_str());
        Ok(Page {
            warnings,
            etag: fetched.header("etag").map(str::to_string),
            last_modified: fetched.header("last-modified").map(str::to_string),
            ..Page::of(entries, next)
        })
    }
}

struct ScrapedItem {
    id: String,
    text: String,
    link: Option<String>,
    author: Option<String>,
    time: Option<DateTime<Utc>>,
}

struct Scraped {
    items: Vec<ScrapedItem>,
    /// Keys of configured selectors that matched nothing on the whole page.
    unmatched: Vec<&'static str>,
    language: Option<String>,
    /// Absolute URL of the next page, when the `next` selector found one.
    next: Option<String>,
}

/// Everything synchronous (`Html` is not `Send`, so it never lives across an await).
fn scrape(html: &str, sel: &Selectors, page_url: &url::Url, now: DateTime<Utc>) -> Scraped {
    let doc = Html::parse_document(html);
    // `<base href>` changes what relative links mean.
    let base = Selector::parse("base[href]")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h).ok())
        .unwrap_or_else(|| page_url.clone());
    let language = Selector::parse("html[lang]")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .and_then(|h| h.value().attr("lang"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    let any_link = Selector::parse("a[href]").expect("static selector");
    let mut matched = [false; 4]; // text, link, author, time
    let mut items = Vec::new();
    let elements: Vec<ElementRef> = doc.select(&sel.item).collect();
    for el in &elements {
        let text = match &sel.text {
            Some(s) => {
                let parts: Vec<String> = el
                    .select(s)
                    .map(|t| html_to_text(&t.inner_html()))
                    .collect();
                matched[0] |= !parts.is_empty();
                normalize_whitespace(&parts.join(" "))
            }
            None => html_to_text(&el.inner_html()),
        };
        let link = match &sel.link {
            Some(s) => {
                let found = el.select(s).next();
                matched[1] |= found.is_some();
                found.and_then(|l| {
                    l.value()
                        .attr("href")
                        .or_else(|| l.select(&any_link).next()?.value().attr("href"))
                })
            }
            None => el
                .value()
                .attr("href")
                .or_else(|| el.select(&any_link).next()?.value().attr("href")),
        }
        .and_then(|href| resolve(&base, href));
        let author = sel.author.as_ref().and_then(|s| {
            let a = el.select(s).next();
            matched[2] |= a.is_some();
            a.map(|a| html_to_text(&a.inner_html()))
                .filter(|a| !a.is_empty())
        });
        let time = sel.time.as_ref().and_then(|s| {
            let t = el.select(s).next();
            matched[3] |= t.is_some();
            let t = t?;
            [
                "datetime",
                "content",
                "title",
                "data-time",
                "data-timestamp",
            ]
            .iter()
            .filter_map(|a| t.value().attr(a))
            .find_map(|v| parse_time(v, now))
            .or_else(|| parse_time(&html_to_text(&t.inner_html()), now))
        });
        if text.is_empty() {
            continue;
        }
        let id = link.clone().unwrap_or_else(|| {
            format!("text:{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
        });
        items.push(ScrapedItem {
            id,
            text,
            link,
            author,
            time,
        });
    }
    let mut unmatched = Vec::new();
    if elements.is_empty() {
        unmatched.push("item");
    } else {
        for (i, (key, configured)) in [
            ("text", sel.text.is_some()),
            ("link", sel.link.is_some()),
            ("author", sel.author.is_some()),
            ("time", sel.time.is_some()),
        ]
        .into_iter()
        .enumerate()
        {
            if configured && !matched[i] {
                unmatched.push(key);
            }
        }
    }
    let next = sel.next.as_ref().and_then(|s| {
        let n = doc.select(s).next()?;
        let href = n
            .value()
            .attr("href")
            .or_else(|| n.select(&any_link).next()?.value().attr("href"))?;
        resolve(&base, href)
    });
    Scraped {
        items,
        unmatched,
        language,
        next,
    }
}

/// An absolute http(s) URL for an `href`, or nothing (`javascript:`, `mailto:`, garbage).
fn resolve(base: &url::Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let u = base.join(href).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// Times as pages print them: machine formats, common human dates, epoch numbers and
/// "3 hours ago". Times without a zone are taken as UTC.
pub fn parse_time(raw: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = normalize_whitespace(raw);
    let s = s.trim().trim_end_matches('.');
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    if s.len() >= 9 && s.len() <= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        let secs = if s.len() == 13 { n / 1000 } else { n };
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Some(t) = relative(s, now) {
        return Some(t);
    }
    let s = s
        .trim_end_matches(" UTC")
        .trim_end_matches(" GMT")
        .replace(" at ", " ");
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%d.%m.%Y %H:%M",
        "%B %d, %Y %H:%M",
        "%B %d, %Y %I:%M %p",
        "%b %d, %Y %H:%M",
        "%b %d, %Y %I:%M %p",
        "%d %B %Y %H:%M",
        "%d %b %Y %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, f) {
            return Some(t.and_utc());
        }
    }
    for f in [
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%d.%m.%Y",
        "%B %d, %Y",
        "%b %d, %Y",
        "%d %B %Y",
        "%d %b %Y",
        "%b. %d, %Y",
        "%A, %B %d, %Y",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(&s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
        }
    }
    None
}

/// "just now", "yesterday", "5 minutes ago", "an hour ago", "2 days ago".
fn relative(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "just now" | "now" => return Some(now),
        "yesterday" => return Some(now - ChronoDuration::days(1)),
        _ => {}
    }
    let rest = lower.strip_suffix(" ago")?;
    let (n, unit) = rest.split_once(' ')?;
    let n: i64 = match n {
        "a" | "an" | "one" => 1,
        n => n.parse().ok()?,
    };
    let unit = unit.trim_end_matches('s');
    let d = match unit {
        "second" | "sec" => ChronoDuration::seconds(n),
        "minute" | "min" => ChronoDuration::minutes(n),
        "hour" | "hr" => ChronoDuration::hours(n),
        "day" => ChronoDuration::days(n),
        "week" => ChronoDuration::weeks(n),
        "month" => ChronoDuration::days(30 * n),
        "year" => ChronoDuration::days(365 * n),
        _ => return None,
    };
    Some(now - d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 5, 0).unwrap()
    }

    #[test]
    fn parses_common_time_formats() {
        let t = |s: &str| parse_time(s, now()).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2024-05-01T12:30:00+02:00").unwrap(),
            "2024-05-01T10:30:00+00:00"
        );
        assert_eq!(
            t("Wed, 01 May 2024 12:34:56 GMT").unwrap(),
            "2024-05-01T12:34:56+00:00"
        );
        assert_eq!(t("2024-05-01 12:34").unwrap(), "2024-05-01T12:34:00+00:00");
        assert_eq!(t("May 1, 2024").unwrap(), "2024-05-01T00:00:00+00:00");
        assert_eq!(t("1 May 2024").unwrap(), "2024-05-01T00:00:00+00:00");
        assert_eq!(
            t("April 30, 2024 at 9:15 PM").unwrap(),
            "2024-04-30T21:15:00+00:00"
        );
        assert_eq!(t("01.05.2024").unwrap(), "2024-05-01T00:00:00+00:00");
        assert_eq!(t("1714566896").unwrap(), "2024-05-01T12:34:56+00:00");
        assert_eq!(t("1714566896000").unwrap(), "2024-05-01T12:34:56+00:00");
        assert_eq!(t("3 hours ago").unwrap(), "2024-05-01T10:05:00+00:00");
        assert_eq!(t("an hour ago").unwrap(), "2024-05-01T12:05:00+00:00");
        assert_eq!(t("yesterday").unwrap(), "2024-04-30T13:05:00+00:00");
        assert_eq!(
            t("2024-05-01 12:34:56 UTC").unwrap(),
            "2024-05-01T12:34:56+00:00"
        );
        assert_eq!(t("sometime"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn resolves_links() {
        let base = url::Url::parse("https://forum.example/t/widgetron?page=2").unwrap();
        assert_eq!(
            resolve(&base, "/p/42").as_deref(),
            Some("https://forum.example/p/42")
        );
        assert_eq!(
            resolve(&base, "p/43").as_deref(),
            Some("https://forum.example/t/p/43")
        );
        assert_eq!(resolve(&base, "javascript:void(0)"), None);
        assert_eq!(resolve(&base, "#top"), None);
    }

    #[test]
    fn config_checks_selectors() {
        let c: WebConfig =
            toml::from_str("url = \"https://x.example/?q={query}\"\nitem = \"div[\"\ntext = \"p\"")
                .unwrap();
        let problems = c.validate();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "item");
        assert!(
            toml::from_str::<WebConfig>("url = \"https://x\"\nitem = \"a\"\nbody = \"p\"").is_err()
        );
    }
}
