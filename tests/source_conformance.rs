//! The conformance suite every source must pass, table-driven: one [`Row`] per source
//! says how to configure it against a local server and how to render a list of items in
//! the platform's real format; every check runs the real `pulse` binary against every row.
//! A new source gets all of it by adding one row.
//!
//! The checks: a late item (published before the newest seen, inside the overlap) is
//! stored on the next poll and reported as a duplicate after; a re-poll adds no duplicate;
//! the cursor survives a restart (each poll is a new process, and its requests carry the
//! cursor); HTML is stripped where the platform sends HTML; `fetched = stored + duplicates +
//! unmatched + rejected` in every poll; 429 with `Retry-After` is honoured; 5xx is retried,
//! then reported and counted in `pulse status`; a malformed or oversized body is rejected,
//! and the next good poll stores normally; a timeout is retried, then reported.

mod common;

use chrono::{DateTime, SecondsFormat, Utc};
use common::Env;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One item as the test describes it; each row renders it in its platform's format.
#[derive(Clone)]
struct Item {
    n: u64,
    minutes_ago: i64,
    text: String,
}

impl Item {
    fn new(n: u64, minutes_ago: i64, text: &str) -> Item {
        Item {
            n,
            minutes_ago,
            text: text.to_string(),
        }
    }

    fn at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::minutes(self.minutes_ago)
    }
}

/// What the data endpoint answers next.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Normal,
    /// One 429 with `Retry-After: 1`, then normal.
    RateLimitedOnce,
    /// HTTP 500 this many times, then normal.
    ServerError(u32),
    /// 200 with a body that is not the platform's format.
    Malformed,
    /// 200 with a body over the configured size cap.
    Oversized,
    /// Answers after the request timeout.
    Slow,
}

/// The platform as the test drives it: the items it lists, how it answers, and the
/// requests it saw.
#[derive(Clone)]
struct Platform {
    items: Arc<Mutex<Vec<Item>>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<(Instant, Request)>>>,
    /// Body bytes served by the data endpoint.
    bytes: Arc<Mutex<usize>>,
    /// Fixed when the platform starts: item times are relative to it.
    now: DateTime<Utc>,
}

impl Platform {
    fn set(&self, items: Vec<Item>) {
        *self.items.lock().unwrap() = items;
    }
    fn mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    fn requests(&self) -> Vec<(Instant, Request)> {
        self.requests.lock().unwrap().clone()
    }
}

/// A body in the platform's format: (content type, body).
type Render = fn(&[Item], DateTime<Utc>, &Request) -> (&'static str, String);

/// One source under test.
struct Row {
    kind: &'static str,
    /// The `[[sources]]` keys after `type`, for a server at `base`.
    config: fn(base: &str) -> String,
    /// Path of the data endpoint (the one the failure modes apply to).
    data_path: &'static str,
    render: Render,
    /// Authentication endpoints answered alongside: (method, path, JSON body).
    auth: &'static [(&'static str, &'static str, &'static str)],
    /// Whether the platform sends HTML (stripped) or plain text (kept as it is).
    html: bool,
    /// What a second poll's request carries of the cursor.
    cursor_sent: fn(&Request) -> bool,
    /// The oldest creation time the request asks for, where the API filters by time
    /// server-side (the served list honours it, as the real API does).
    server_floor: fn(&Request) -> Option<DateTime<Utc>>,
}

fn no_floor(_: &Request) -> Option<DateTime<Utc>> {
    None
}

fn epoch(v: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(v.parse().ok()?, 0)
}

fn rfc3339(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn query(r: &Request, key: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn snowflake(t: DateTime<Utc>, n: u64) -> u64 {
    ((t.timestamp_millis() as u64) << 16) + n
}

const JSON: &str = "application/json; charset=utf-8";

fn hackernews(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let hits: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"objectID": (40_000_000 + i.n).to_string(), "created_at_i": i.at(now).timestamp(),
                   "author": "alice", "title": null, "story_text": i.text, "points": 3,
                   "_tags": ["story"]})
        })
        .collect();
    (
        JSON,
        json!({"hits": hits, "nbPages": 1, "page": 0}).to_string(),
    )
}

fn reddit(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let children: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"kind": "t3", "data": {"name": format!("t3_c{}", i.n), "created_utc": i.at(now).timestamp() as f64,
                   "title": i.text, "selftext": "", "author": "bob", "score": 5,
                   "permalink": format!("/r/rust/comments/c{}/post/", i.n)}})
        })
        .collect();
    (
        JSON,
        json!({"kind": "Listing", "data": {"after": null, "children": children}}).to_string(),
    )
}

/// The hashtags of a status: `#widgetron` where its text names the product (a status
/// without it stands for one that reached the timeline through another tag's spelling).
fn tags(text: &str) -> Value {
    if text.contains("Widgetron") {
        json!([{"name": "widgetron"}])
    } else {
        json!([])
    }
}

fn mastodon(items: &[Item], now: DateTime<Utc>, r: &Request) -> (&'static str, String) {
    // The timeline pages forward from `min_id`, newest first within the page.
    let min_id: u64 = query(r, "min_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut statuses: Vec<(u64, Value)> = items
        .iter()
        .map(|i| {
            let id = snowflake(i.at(now), i.n);
            (
                id,
                json!({"id": id.to_string(), "created_at": iso(i.at(now)), "language": "en",
                       "uri": format!("https://social.example/users/carol/statuses/{id}"),
                       "url": format!("https://social.example/@carol/{id}"),
                       "content": format!("<p>{}</p>", i.text), "spoiler_text": "",
                       "favourites_count": 1, "account": {"acct": "carol"}, "reblog": null,
                       "tags": tags(&i.text)}),
            )
        })
        .filter(|(id, _)| *id > min_id)
        .collect();
    statuses.sort_by_key(|s| std::cmp::Reverse(s.0));
    let list: Vec<Value> = statuses.into_iter().map(|(_, v)| v).collect();
    (JSON, Value::Array(list).to_string())
}

fn lemmy(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let posts: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"post": {"name": i.text, "published": iso(i.at(now)),
                            "ap_id": format!("https://lemmy.example/post/{}", i.n)},
                   "creator": {"name": "dave", "actor_id": "https://lemmy.example/u/dave"},
                   "counts": {"score": 2}})
        })
        .collect();
    (
        JSON,
        json!({"type_": "All", "posts": posts, "comments": [], "communities": [], "users": []})
            .to_string(),
    )
}

fn rss(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let entries: String = items
        .iter()
        .map(|i| {
            format!(
                "<item><guid>https://news.example/{n}</guid><link>https://news.example/{n}</link><description>{d}</description><pubDate>{t}</pubDate></item>",
                n = i.n,
                d = escape(&i.text),
                t = i.at(now).to_rfc2822()
            )
        })
        .collect();
    (
        "application/rss+xml",
        format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title><link>https://news.example/</link><description>n</description>{entries}</channel></rss>"),
    )
}

fn stackexchange(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let list: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"item_type": "question", "question_id": 78_000_000 + i.n, "body": i.text,
                   "creation_date": i.at(now).timestamp(), "score": 1,
                   "owner": {"display_name": "erin"}})
        })
        .collect();
    (
        JSON,
        json!({"items": list, "has_more": false, "quota_max": 300, "quota_remaining": 290})
            .to_string(),
    )
}

fn github(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let list: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"id": 2_000_000 + i.n, "html_url": format!("https://github.com/acme/app/issues/{}", i.n),
                   "title": "", "body": i.text, "user": {"login": "frank"},
                   "created_at": iso(i.at(now)), "reactions": {"total_count": 0}})
        })
        .collect();
    (
        JSON,
        json!({"total_count": list.len(), "incomplete_results": false, "items": list}).to_string(),
    )
}

fn bluesky(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let posts: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"uri": format!("at://did:plc:grace/app.bsky.feed.post/3k{}", i.n),
                   "cid": "bafy", "author": {"did": "did:plc:grace", "handle": "grace.bsky.social"},
                   "record": {"$type": "app.bsky.feed.post", "text": i.text, "createdAt": iso(i.at(now))},
                   "indexedAt": iso(i.at(now)), "likeCount": 0})
        })
        .collect();
    (JSON, json!({"posts": posts}).to_string())
}

fn web(items: &[Item], now: DateTime<Utc>, _: &Request) -> (&'static str, String) {
    let list: String = items
        .iter()
        .map(|i| {
            format!(
                "<li class=\"post\"><a class=\"t\" href=\"/t/{n}\">topic {n}</a><div class=\"body\">{text}</div><time datetime=\"{t}\"></time></li>",
                n = i.n,
                text = i.text,
                t = iso(i.at(now))
            )
        })
        .collect();
    (
        "text/html; charset=utf-8",
        format!("<html lang=\"en\"><body><ul>{list}</ul></body></html>"),
    )
}

const SESSION: &str = r#"{"did":"did:plc:bot","handle":"pulse-bot.bsky.social","accessJwt":"access","refreshJwt":"refresh","active":true}"#;
const TOKEN: &str = r#"{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":"*"}"#;

fn rows() -> Vec<Row> {
    vec![
        Row {
            kind: "hackernews",
            config: |b| format!("base_url = \"{b}/api/v1\""),
            data_path: "/api/v1/search_by_date",
            render: hackernews,
            auth: &[],
            html: true,
            cursor_sent: |r| {
                query(r, "numericFilters").is_some_and(|f| f.starts_with("created_at_i>="))
            },
            server_floor: |r| {
                let f = query(r, "numericFilters")?;
                epoch(f.strip_prefix("created_at_i>=")?.split(',').next()?)
            },
        },
        Row {
            kind: "reddit",
            config: |b| {
                format!("base_url = \"{b}\"\nauth_url = \"{b}\"\nclient_id = \"id\"\nclient_secret = \"secret\"\nreddit_username = \"pulse-tests\"")
            },
            data_path: "/search",
            render: reddit,
            auth: &[("POST", "/api/v1/access_token", TOKEN)],
            html: false,
            // No time parameter: the listing is paged down to the floor.
            cursor_sent: |r| query(r, "sort").as_deref() == Some("new"),
            server_floor: no_floor,
        },
        Row {
            kind: "mastodon",
            config: |b| format!("instances = [\"{b}\"]"),
            data_path: "/api/v1/timelines/tag/widgetron",
            render: mastodon,
            auth: &[],
            html: true,
            cursor_sent: |r| query(r, "min_id").is_some(),
            server_floor: no_floor,
        },
        Row {
            kind: "lemmy",
            config: |b| format!("instances = [\"{b}\"]"),
            data_path: "/api/v3/search",
            render: lemmy,
            auth: &[],
            html: false,
            cursor_sent: |r| query(r, "sort").as_deref() == Some("New"),
            server_floor: no_floor,
        },
        Row {
            kind: "rss",
            config: |b| format!("url = \"{b}/feed.xml\""),
            data_path: "/feed.xml",
            render: rss,
            auth: &[],
            html: true,
            cursor_sent: |r| r.headers.contains_key("if-none-match"),
            server_floor: no_floor,
        },
        Row {
            kind: "stackexchange",
            config: |b| format!("base_url = \"{b}\"\nsites = [\"stackoverflow\"]"),
            data_path: "/2.3/search/excerpts",
            render: stackexchange,
            auth: &[],
            html: true,
            cursor_sent: |r| query(r, "fromdate").is_some(),
            server_floor: |r| epoch(&query(r, "fromdate")?),
        },
        Row {
            kind: "github",
            config: |b| format!("base_url = \"{b}\""),
            data_path: "/search/issues",
            render: github,
            auth: &[],
            html: true,
            cursor_sent: |r| query(r, "q").is_some_and(|q| q.contains(" created:>=")),
            server_floor: |r| rfc3339(query(r, "q")?.split(" created:>=").nth(1)?),
        },
        Row {
            kind: "bluesky",
            config: |b| {
                format!("base_url = \"{b}\"\nidentifier = \"pulse-bot.bsky.social\"\napp_password = \"app-pass\"")
            },
            data_path: "/xrpc/app.bsky.feed.searchPosts",
            render: bluesky,
            auth: &[("POST", "/xrpc/com.atproto.server.createSession", SESSION)],
            html: false,
            cursor_sent: |r| query(r, "since").is_some(),
            server_floor: |r| rfc3339(&query(r, "since")?),
        },
        Row {
            kind: "web",
            config: |b| {
                format!("url = \"{b}/forum\"\nitem = \"li.post\"\ntext = \".body\"\nlink = \"a.t\"\ntime = \"time\"")
            },
            data_path: "/forum",
            render: web,
            auth: &[],
            html: true,
            cursor_sent: |r| r.headers.contains_key("if-none-match"),
            server_floor: no_floor,
        },
    ]
}

/// Start the row's platform on loopback.
async fn start(row: &Row) -> (MockServer, Platform) {
    let server = MockServer::start().await;
    let p = Platform {
        items: Arc::default(),
        mode: Arc::new(Mutex::new(Mode::Normal)),
        requests: Arc::default(),
        bytes: Arc::default(),
        now: Utc::now(),
    };
    for (m, route, body) in row.auth {
        Mock::given(method(*m))
            .and(path(*route))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", JSON)
                    .set_body_string(body.to_string()),
            )
            .mount(&server)
            .await;
    }
    let (render, server_floor) = (row.render, row.server_floor);
    let state = p.clone();
    Mock::given(method("GET"))
        .and(path(row.data_path))
        .respond_with(move |r: &Request| {
            state
                .requests
                .lock()
                .unwrap()
                .push((Instant::now(), r.clone()));
            let mut mode = state.mode.lock().unwrap();
            match *mode {
                Mode::RateLimitedOnce => {
                    *mode = Mode::Normal;
                    return ResponseTemplate::new(429).insert_header("retry-after", "1");
                }
                Mode::ServerError(n) => {
                    if n > 0 {
                        *mode = Mode::ServerError(n - 1);
                        return ResponseTemplate::new(500).set_body_string("internal error");
                    }
                    *mode = Mode::Normal;
                }
                Mode::Malformed => {
                    return ResponseTemplate::new(200)
                        .insert_header("content-type", JSON)
                        .set_body_string("{\"items\": [{\"truncated");
                }
                Mode::Oversized => {
                    return ResponseTemplate::new(200)
                        .insert_header("content-type", JSON)
                        .set_body_string(format!("[\"{}\"]", "x".repeat(64 * 1024)));
                }
                Mode::Slow => {
                    return ResponseTemplate::new(200)
                        .set_delay(Duration::from_secs(3))
                        .set_body_string("[]");
                }
                Mode::Normal => {}
            }
            drop(mode);
            let floor = server_floor(r);
            let items: Vec<Item> = state
                .items
                .lock()
                .unwrap()
                .iter()
                .filter(|i| floor.is_none_or(|f| i.at(state.now) >= f))
                .cloned()
                .collect();
            let (ctype, body) = render(&items, state.now, r);
            // Feeds and pages carry a validator that changes with their content.
            let etag = format!("\"v{}\"", items.iter().map(|i| i.n).sum::<u64>());
            if r.headers
                .get("if-none-match")
                .is_some_and(|v| v.to_str().unwrap_or("") == etag)
            {
                return ResponseTemplate::new(304);
            }
            *state.bytes.lock().unwrap() += body.len();
            ResponseTemplate::new(200)
                .insert_header("content-type", ctype)
                .insert_header("etag", etag.as_str())
                .set_body_string(body)
        })
        .mount(&server)
        .await;
    (server, p)
}

fn config(row: &Row, base: &str, max_body: usize) -> String {
    config_with(row, base, max_body, "overlap = \"1h\"")
}

/// The config with `overlap` as given (a line, or empty for the platform's default).
fn config_with(row: &Row, base: &str, max_body: usize, overlap: &str) -> String {
    format!(
        r#"
[store]
path = "data/pulse.db"

[http]
per_host_rps = 100
timeout = "1s"
max_retries = 1
max_retry_wait = "5s"
max_body_bytes = {max_body}

[[products]]
name = "Widgetron"
exclude = ["giveaway"]

[[sources]]
type = "{kind}"
{overlap}
{keys}
"#,
        kind = row.kind,
        keys = (row.config)(base),
    )
}

/// `pulse poll --once --format json` off the runtime; the summary of the one source.
async fn poll(env: &Arc<Env>) -> Value {
    let env = env.clone();
    tokio::task::spawn_blocking(move || {
        let out = env.run(&["poll", "--once", "--format", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "poll printed no JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        v[0].clone()
    })
    .await
    .unwrap()
}

async fn cli_json(env: &Arc<Env>, args: &[&str]) -> Value {
    let env = env.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        env.json(&a)
    })
    .await
    .unwrap()
}

fn n(sum: &Value, key: &str) -> u64 {
    sum[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no `{key}` in {sum}"))
}

/// `fetched = stored + duplicates + unmatched + rejected`.
fn accounted(kind: &str, sum: &Value) {
    assert_eq!(
        n(sum, "fetched"),
        n(sum, "stored") + n(sum, "duplicates") + n(sum, "unmatched") + n(sum, "rejected"),
        "{kind}: the poll does not account for what it read: {sum}"
    );
}

/// Run `check` against every row, each with its own platform and store, all at once.
async fn each_row<F, Fut>(check: F)
where
    F: Fn(&'static Row, Platform, Arc<Env>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rows: &'static [Row] = Box::leak(rows().into_boxed_slice());
    let (mut tasks, mut servers) = (Vec::new(), Vec::new());
    for row in rows {
        let (server, platform) = start(row).await;
        let env = Arc::new(Env::new(&config(row, &server.uri(), 32 * 1024)));
        tasks.push((row.kind, tokio::spawn(check(row, platform, env))));
        // Alive until every row is done.
        servers.push(server);
    }
    let mut failed = Vec::new();
    for (kind, t) in tasks {
        if let Err(e) = t.await {
            failed.push(format!("{kind}: {e}"));
        }
    }
    assert!(failed.is_empty(), "failed rows:\n{}", failed.join("\n"));
}

const A: &str = "Widgetron <b>rocks</b> &amp; rolls at launch";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_item_is_stored_once_and_every_poll_accounts_for_what_it_read() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        let first = poll(&env).await;
        assert!(first["error"].is_null(), "{kind}: {first}");
        assert_eq!(n(&first, "stored"), 1, "{kind}: {first}");
        accounted(kind, &first);

        // B was published before A but is listed only now; U names the product in a
        // giveaway, which `exclude` vetoes: unmatched on every platform.
        p.set(vec![
            Item::new(1, 5, A),
            Item::new(3, 10, "Widgetron giveaway, retweet to win"),
            Item::new(2, 20, "Widgetron late story, published earlier"),
        ]);
        let before = p.requests().len();
        let second = poll(&env).await;
        assert!(second["error"].is_null(), "{kind}: {second}");
        assert_eq!(
            n(&second, "stored"),
            1,
            "{kind}: the late item is lost: {second}"
        );
        assert!(n(&second, "unmatched") >= 1, "{kind}: {second}");
        accounted(kind, &second);
        // A new process: the cursor came from the store.
        let asked = p.requests();
        assert!(
            asked[before..].iter().any(|(_, r)| (row.cursor_sent)(r)),
            "{kind}: the second poll did not use the saved cursor: {:?}",
            asked[before..]
                .iter()
                .map(|(_, r)| r.url.to_string())
                .collect::<Vec<_>>()
        );

        let third = poll(&env).await;
        assert!(third["error"].is_null(), "{kind}: {third}");
        assert_eq!(n(&third, "stored"), 0, "{kind}: stored again: {third}");
        accounted(kind, &third);
        if !["rss", "web"].contains(&kind) {
            // Feeds and pages answer 304: nothing read. The others read the window again.
            assert!(n(&third, "duplicates") >= 2, "{kind}: {third}");
        }

        let stored = cli_json(&env, &["mentions", "Widgetron", "--limit", "50"]).await;
        let texts: Vec<&str> = stored
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts.len(), 2, "{kind}: each item once: {texts:?}");
        let a = texts
            .iter()
            .find(|t| t.contains("rocks"))
            .unwrap_or_else(|| panic!("{kind}: {texts:?}"));
        if row.html {
            assert!(
                a.contains("Widgetron rocks & rolls") && !a.contains('<'),
                "{kind}: markup not stripped: {a}"
            );
        } else {
            assert!(
                a.contains("<b>rocks</b>"),
                "{kind}: plain text altered: {a}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        p.mode(Mode::RateLimitedOnce);
        let sum = poll(&env).await;
        assert!(sum["error"].is_null(), "{kind}: {sum}");
        assert_eq!(n(&sum, "stored"), 1, "{kind}: {sum}");
        let asked = p.requests();
        assert!(asked.len() >= 2, "{kind}: not retried");
        let waited = asked[1].0 - asked[0].0;
        assert!(
            waited >= Duration::from_millis(950),
            "{kind}: retried after {waited:?}, before Retry-After: 1"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_reported_and_counted() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        // One 500 is retried within the poll.
        p.mode(Mode::ServerError(1));
        let sum = poll(&env).await;
        assert!(sum["error"].is_null(), "{kind}: {sum}");
        assert_eq!(n(&sum, "stored"), 1, "{kind}: {sum}");
        // A persistent 500 is reported, and counted in `pulse status`.
        p.set(vec![Item::new(1, 5, A), Item::new(2, 2, "Widgetron again")]);
        p.mode(Mode::ServerError(u32::MAX));
        let sum = poll(&env).await;
        assert!(sum["error"].is_string(), "{kind}: {sum}");
        accounted(kind, &sum);
        let status = cli_json(&env, &["status"]).await;
        let src = &status["sources"][0];
        assert!(n(src, "errors") >= 1, "{kind}: {src}");
        // Back to normal: the next poll stores what was missed.
        p.mode(Mode::Normal);
        let sum = poll(&env).await;
        assert_eq!(n(&sum, "stored"), 1, "{kind}: {sum}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_rejected_and_the_next_poll_recovers() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        p.mode(Mode::Malformed);
        let sum = poll(&env).await;
        if kind == "web" {
            // Any bytes are some HTML: a page whose items are gone is a warning instead.
            let w = sum["warnings"].to_string();
            assert!(w.contains("matched nothing"), "{kind}: {sum}");
        } else {
            assert!(sum["error"].is_string(), "{kind}: {sum}");
            assert!(n(&sum, "rejected") >= 1, "{kind}: {sum}");
        }
        accounted(kind, &sum);
        p.mode(Mode::Normal);
        let sum = poll(&env).await;
        assert!(sum["error"].is_null(), "{kind}: {sum}");
        assert_eq!(n(&sum, "stored"), 1, "{kind}: {sum}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_rejected() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        p.mode(Mode::Oversized);
        let sum = poll(&env).await;
        assert!(sum["error"].is_string(), "{kind}: {sum}");
        assert!(n(&sum, "rejected") >= 1, "{kind}: {sum}");
        assert_eq!(n(&sum, "stored"), 0, "{kind}: {sum}");
        accounted(kind, &sum);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_retried_then_reported_and_the_daemon_path_goes_on() {
    each_row(|row, p, env| async move {
        let kind = row.kind;
        p.set(vec![Item::new(1, 5, A)]);
        p.mode(Mode::Slow);
        let sum = poll(&env).await;
        let error = sum["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: {sum}"));
        assert!(error.contains("timed out"), "{kind}: {sum}");
        // The retry was sent: the request timeout, not a single attempt, ended the poll.
        assert!(p.requests().len() >= 2, "{kind}: not retried");
        accounted(kind, &sum);
        p.mode(Mode::Normal);
        let sum = poll(&env).await;
        assert_eq!(n(&sum, "stored"), 1, "{kind}: {sum}");
    })
    .await;
}

/// What the overlap costs: requests, bytes and items read by a poll after a busy three hours
/// (30 posts, one every 6 minutes, then one new one), without overlap (`0s`) and with the
/// platform's default. Prints a table (`cargo test --test source_conformance overlap_cost --
/// --nocapture`); the README's figures come from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_cost() {
    let rows: &'static [Row] = Box::leak(rows().into_boxed_slice());
    let busy: Vec<Item> = (1..=30)
        .map(|n| Item::new(n, n as i64 * 6, &format!("Widgetron post number {n}")))
        .collect();
    let mut table = vec![format!(
        "{:<14} {:>16} {:>20} {:>18}",
        "source", "requests 0s/def", "bytes 0s/default", "items read 0s/def"
    )];
    for row in rows {
        let mut figures = Vec::new();
        for overlap in ["overlap = \"0s\"", ""] {
            let (server, p) = start(row).await;
            let env = Arc::new(Env::new(&config_with(row, &server.uri(), 1 << 20, overlap)));
            p.set(busy.clone());
            let first = poll(&env).await;
            assert!(first["error"].is_null(), "{}: {first}", row.kind);
            let mut items = busy.clone();
            items.insert(0, Item::new(31, 1, "Widgetron post number 31"));
            p.set(items);
            let (requests, bytes) = (p.requests().len(), *p.bytes.lock().unwrap());
            let second = poll(&env).await;
            assert_eq!(n(&second, "stored"), 1, "{}: {second}", row.kind);
            figures.push((
                p.requests().len() - requests,
                *p.bytes.lock().unwrap() - bytes,
                n(&second, "fetched"),
            ));
            drop(server);
        }
        let (a, b) = (figures[0], figures[1]);
        // Reading the window again never costs more requests than its pages.
        assert!(b.0 <= a.0 + 1, "{}: {a:?} vs {b:?}", row.kind);
        table.push(format!(
            "{:<14} {:>16} {:>20} {:>18}",
            row.kind,
            format!("{} / {}", a.0, b.0),
            format!("{} / {}", a.1, b.1),
            format!("{} / {}", a.2, b.2)
        ));
    }
    println!("{}", table.join("\n"));
}
