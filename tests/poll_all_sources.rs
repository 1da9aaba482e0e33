//! `pulse poll --once` with every source type configured, each against its own local
//! server speaking the platform's format, checked through `pulse mentions --format json`:
//! the right mentions land on the right products, a post seen by two sources or under two
//! names is stored once, and a second run (a restart) stores nothing new and asks the
//! cursor-driven APIs only for newer items.

mod common;

use common::Env;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(common::fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Every item a poll read is accounted for.
fn assert_accounted(kind: &str, sum: &Value) {
    let n = |k: &str| {
        sum[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{kind}: no `{k}` in {sum}"))
    };
    assert_eq!(
        n("fetched"),
        n("stored") + n("duplicates") + n("unmatched") + n("rejected"),
        "{kind}: {sum}"
    );
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_string(body)
}

fn gzip(body: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body.as_bytes()).unwrap();
    enc.finish().unwrap()
}

/// One local server per platform, like the real hosts.
struct Servers {
    hn: MockServer,
    reddit: MockServer,
    mastodon: MockServer,
    lemmy: MockServer,
    rss: MockServer,
    se: MockServer,
    github: MockServer,
    bsky: MockServer,
    web: MockServer,
}

async fn servers() -> Servers {
    let s = Servers {
        hn: MockServer::start().await,
        reddit: MockServer::start().await,
        mastodon: MockServer::start().await,
        lemmy: MockServer::start().await,
        rss: MockServer::start().await,
        se: MockServer::start().await,
        github: MockServer::start().await,
        bsky: MockServer::start().await,
        web: MockServer::start().await,
    };
    // Hacker News (Algolia): the same hits answer every name, so each arrives four times.
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(json(fixture("poll_all/hackernews.json")))
        .mount(&s.hn)
        .await;
    // Reddit: application-only OAuth, then search with the bearer token.
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(json(fixture("poll_all/reddit_token.json")))
        .mount(&s.reddit)
        .await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(|r: &Request| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().starts_with("bearer "))
        })
        .respond_with(
            json(fixture("poll_all/reddit.json"))
                .insert_header("x-ratelimit-remaining", "598.0")
                .insert_header("x-ratelimit-used", "2")
                .insert_header("x-ratelimit-reset", "420"),
        )
        .mount(&s.reddit)
        .await;
    // Mastodon: one tag timeline per product name (widgetron, widgettron, gizmopro).
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v1/timelines/tag/[a-z]+$"))
        .respond_with(json(fixture("poll_all/mastodon.json")))
        .mount(&s.mastodon)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .respond_with(json(fixture("poll_all/lemmy.json")))
        .mount(&s.lemmy)
        .await;
    // RSS: one plain feed (no {query}), revalidated on the second run.
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "\"feed-1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&s.rss)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .insert_header("etag", "\"feed-1\"")
                .set_body_string(fixture("rss/blog_rss2.xml")),
        )
        .expect(1)
        .mount(&s.rss)
        .await;
    // Stack Exchange: gzip always; the second run asks from the newest creation date seen.
    let se_body = ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .insert_header("content-encoding", "gzip")
        .set_body_bytes(gzip(&fixture("poll_all/stackexchange.json")));
    Mock::given(method("GET"))
        .and(path("/2.3/search/excerpts"))
        // The newest creation time seen, minus the default 6 h overlap.
        .and(query_param("fromdate", (1714566896 - 6 * 3600).to_string()))
        .respond_with(se_body.clone())
        .expect(4)
        .mount(&s.se)
        .await;
    Mock::given(method("GET"))
        .and(path("/2.3/search/excerpts"))
        .respond_with(se_body)
        .expect(4)
        .mount(&s.se)
        .await;
    // GitHub: the second run asks for issues created since the newest one seen, minus
    // the default 6 h overlap.
    let gh_body = json(fixture("poll_all/github.json"))
        .insert_header("x-ratelimit-remaining", "25")
        .insert_header("x-ratelimit-reset", "4102444800");
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(|r: &Request| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "q" && v.ends_with(" created:>=2024-05-01T06:10:00Z"))
        })
        .respond_with(gh_body.clone())
        .expect(4)
        .mount(&s.github)
        .await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(gh_body)
        .expect(4)
        .mount(&s.github)
        .await;
    // Bluesky: one login per process, then searches since the newest post seen, minus the
    // default 1 h overlap.
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(json(fixture("bluesky/create_session.json")))
        .expect(2)
        .mount(&s.bsky)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .and(query_param("since", "2024-05-01T11:50:02.000Z"))
        .respond_with(json(fixture("poll_all/bluesky.json")))
        .expect(4)
        .mount(&s.bsky)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .respond_with(json(fixture("poll_all/bluesky.json")))
        .expect(4)
        .mount(&s.bsky)
        .await;
    // Web: a forum page, revalidated on the second run.
    Mock::given(method("GET"))
        .and(path("/latest"))
        .and(header("if-none-match", "\"page-1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&s.web)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html; charset=utf-8")
                .insert_header("etag", "\"page-1\"")
                .set_body_string(fixture("poll_all/web.html")),
        )
        .expect(1)
        .mount(&s.web)
        .await;
    s
}

fn config(s: &Servers) -> String {
    format!(
        r#"
[store]
path = "data/pulse.db"

[http]
per_host_rps = 50
timeout = "5s"
max_retries = 1

[[products]]
name = "Widgetron"
aliases = ["Widget Tron"]

[[products]]
name = "Gizmo Pro"
aliases = ["GizmoPro"]

# The fixtures are from 2024; a first poll normally looks back one day (`lookback`).
[[sources]]
type = "hackernews"
base_url = "{hn}/api/v1"

[[sources]]
type = "reddit"
base_url = "{reddit}"
auth_url = "{reddit}"
client_id = "env:PULSE_IT_REDDIT_ID"
client_secret = "env:PULSE_IT_REDDIT_SECRET"
reddit_username = "pulse-tests"

[[sources]]
type = "mastodon"
instances = ["{mastodon}"]

[[sources]]
type = "lemmy"
instances = ["{lemmy}"]

[[sources]]
type = "rss"
url = "{rss}/feed.xml"

[[sources]]
type = "stackexchange"
base_url = "{se}"
sites = ["stackoverflow"]
lookback = "3650d"

[[sources]]
type = "github"
base_url = "{github}"
lookback = "3650d"

[[sources]]
type = "bluesky"
base_url = "{bsky}"
identifier = "pulse-bot.bsky.social"
app_password = "env:PULSE_IT_BSKY_PASSWORD"
lookback = "3650d"

[[sources]]
type = "web"
url = "{web}/latest"
item = "li.result"
text = ".blurb"
link = "a.topic"
author = "a.user"
time = "time"
"#,
        hn = s.hn.uri(),
        reddit = s.reddit.uri(),
        mastodon = s.mastodon.uri(),
        lemmy = s.lemmy.uri(),
        rss = s.rss.uri(),
        se = s.se.uri(),
        github = s.github.uri(),
        bsky = s.bsky.uri(),
        web = s.web.uri(),
    )
}

/// Run the real binary off the async runtime (the mock servers live on it).
async fn pulse(env: &std::sync::Arc<Env>, args: &[&str]) -> Value {
    let env = env.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env
            .cmd(&a)
            .env("PULSE_IT_REDDIT_ID", "reddit-client-id")
            .env("PULSE_IT_REDDIT_SECRET", "reddit-client-secret")
            .env("PULSE_IT_BSKY_PASSWORD", "abcd-efgh-ijkl-mnop")
            .output()
            .expect("run pulse");
        assert!(
            out.status.success(),
            "pulse {a:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pulse {a:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    })
    .await
    .unwrap()
}

fn summaries(v: &Value) -> HashMap<String, Value> {
    v.as_array()
        .expect("poll prints an array")
        .iter()
        .map(|s| (s["type"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

fn texts(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v
        .as_array()
        .expect("mentions prints an array")
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_source_type_lands_on_the_right_products_once() {
    let s = servers().await;
    let env = std::sync::Arc::new(Env::new(&config(&s)));

    let first = summaries(&pulse(&env, &["poll", "--once", "--format", "json"]).await);
    let mut types: Vec<&str> = first.keys().map(String::as_str).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "bluesky",
            "github",
            "hackernews",
            "lemmy",
            "mastodon",
            "reddit",
            "rss",
            "stackexchange",
            "web"
        ]
    );
    for (kind, sum) in &first {
        assert!(sum["error"].is_null(), "{kind} failed: {sum}");
        assert!(
            sum["stored"].as_u64().unwrap() >= 1,
            "{kind} stored nothing: {sum}"
        );
    }
    // Texts naming no product (a hiring post, a coffee question; reddit drops its megathread
    // itself) are not stored.
    assert_eq!(first["rss"]["unmatched"], 1, "{}", first["rss"]);
    assert_eq!(first["web"]["unmatched"], 1, "{}", first["web"]);
    // A post found under several names (four queries each) is stored once; the other
    // reads are accounted for as duplicates.
    assert_eq!(
        first["stackexchange"]["stored"], 1,
        "{}",
        first["stackexchange"]
    );
    assert_eq!(first["github"]["stored"], 1, "{}", first["github"]);
    for (kind, sum) in &first {
        assert_accounted(kind, sum);
    }

    let widgetron = pulse(
        &env,
        &[
            "mentions",
            "Widgetron",
            "--limit",
            "100",
            "--format",
            "json",
        ],
    )
    .await;
    let gizmo = pulse(
        &env,
        &[
            "mentions",
            "Gizmo Pro",
            "--limit",
            "100",
            "--format",
            "json",
        ],
    )
    .await;
    let crosspost =
        "Cross-posting: Widgetron 2.0 finally fixed the memory leak, upgrading all our servers today!";
    let both = "I compared Gizmo Pro and Widgetron last week. Gizmo Pro was faster to set up, Widgetron is nicer to operate.";
    let mut want_widgetron = vec![
        "Show HN: Widgetron, a tiny Rust poller for cron-free scheduling",
        both,
        "Widgetron 0.3 released with much better retry handling. Changelog below. Retries now back off with jitter.",
        crosspost,
        "The new #widgetron dashboards look great",
        "Widgetron works fine for me on ARM boards, no complaints at all",
        "Why we moved our pollers to Widgetron. We replaced three cron scripts with Widgetron. Retries finally work.",
        "How do I cancel a Widgetron poll in tokio?. I call widgetron::poll() in a loop and it never returns when the runtime shuts down.",
        "Widget Tron is my favourite tool of the year, five stars",
        "Switched our cron jobs to Widgetron & it just works.",
    ];
    want_widgetron.sort();
    assert_eq!(texts(&widgetron), want_widgetron);
    let mut want_gizmo = vec![
        both,
        "Gizmo Pro firmware update bricked my unit. After the **3.2** update my Gizmo Pro no longer boots. Support is silent.",
        "Gizmo Pro integration: webhook signature mismatch. Webhooks from the Gizmo Pro hub fail verification since firmware 3.2.",
        "Anyone tried GizmoPro with Home Assistant yet?",
    ];
    want_gizmo.sort();
    assert_eq!(texts(&gizmo), want_gizmo);

    // The cross-post came from mastodon and bluesky; whichever was stored, it is there once
    // and attributed to one of them.
    let cp: Vec<&Value> = widgetron
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"] == crosspost)
        .collect();
    assert_eq!(cp.len(), 1);
    assert!(["mastodon", "bluesky"].contains(&cp[0]["source"].as_str().unwrap()));
    // Provenance is kept: each source's own id and link.
    let by_source = |src: &str| -> Vec<Value> {
        widgetron
            .as_array()
            .unwrap()
            .iter()
            .chain(gizmo.as_array().unwrap())
            .filter(|m| m["source"] == src)
            .cloned()
            .collect()
    };
    let se = by_source("stackexchange");
    assert_eq!(se[0]["id"], "stackoverflow/q/78451234");
    assert_eq!(se[0]["url"], "https://stackoverflow.com/q/78451234");
    let gh = by_source("github");
    assert_eq!(gh[0]["url"], "https://github.com/acme/home-hub/issues/88");
    let web = by_source("web");
    assert!(web
        .iter()
        .any(|m| m["url"] == format!("{}/t/cron-is-dead/4211", s.web.uri())));

    // A restart: nothing new is stored, and the cursor-driven sources fetch nothing again
    // (the request matchers above check they asked only for newer items).
    let second = summaries(&pulse(&env, &["poll", "--once", "--format", "json"]).await);
    for (kind, sum) in &second {
        assert!(
            sum["error"].is_null(),
            "{kind} failed on the second run: {sum}"
        );
        assert_eq!(sum["stored"], 0, "{kind} stored again: {sum}");
    }
    // What the overlap window reads again is counted, as a duplicate.
    for (kind, sum) in &second {
        assert_accounted(kind, sum);
    }
    for kind in ["stackexchange", "github", "bluesky", "hackernews"] {
        assert!(
            second[kind]["duplicates"].as_u64().unwrap() >= 1,
            "{kind}: {}",
            second[kind]
        );
    }
    let again = pulse(
        &env,
        &[
            "mentions",
            "Widgetron",
            "--limit",
            "100",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(texts(&again), texts(&widgetron));
}
