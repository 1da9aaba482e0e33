//! End to end: the real daemon (`pulse run`) polls a local RSS feed whose mentions of a
//! product turn negative; the marketing and IT webhook receivers on 127.0.0.1 each get the
//! right alerts exactly once, signed, with the product and example mentions, and later
//! a "resolved" message for each.
//!
//! Real time is kept short with `[detect] every = "1s"`, `group_wait = "0s"` and, for the
//! end of the signal, a restart of the daemon with `PULSE_ALERT_CLOCK_OFFSET = "8h"`: the
//! detectors judge hourly windows, so a burst can only leave its window when hours pass;
//! the offset lets the engine (and only the engine) live those hours at once. The restart
//! also shows the detection state and open alerts survive it (no second warm-up, no
//! duplicate firing alerts).

mod alert_support;
mod common;

use alert_support::{header, verify};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use common::{sigterm, wait_for, Env};
use std::collections::BTreeMap;
use std::process::Child;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Item {
    id: String,
    title: String,
    body: String,
    published: DateTime<Utc>,
}

/// An RSS 2.0 document with the items, as a news or forum feed serves it.
fn rss(items: &[Item]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Widgetron community</title>
    <link>https://forum.example.com/</link>
    <description>Posts about Widgetron</description>
    <language>en-us</language>
"#,
    );
    for it in items {
        s.push_str(&format!(
            r#"    <item>
      <title>{}</title>
      <link>https://forum.example.com/t/{}</link>
      <guid isPermaLink="true">https://forum.example.com/t/{}</guid>
      <pubDate>{}</pubDate>
      <dc:creator>user-{}</dc:creator>
      <description>{}</description>
    </item>
"#,
            it.title,
            it.id,
            it.id,
            it.published.to_rfc2822(),
            it.id,
            it.body
        ));
    }
    s.push_str("  </channel>\n</rss>\n");
    s
}

const PLACES: [&str; 15] = [
    "Berlin", "Lisbon", "Oslo", "Madrid", "Dublin", "Vienna", "Prague", "Warsaw", "Athens",
    "Helsinki", "Zurich", "Milan", "Lyon", "Porto", "Krakow",
];

/// Five days of quiet history ending three hours before `now`: one post every three hours,
/// mostly content, some unhappy, none about anything broken. Texts differ (the pipeline
/// drops reposted texts as duplicates).
fn baseline(now: DateTime<Utc>) -> Vec<Item> {
    (0..40)
        .map(|k| {
            let place = PLACES[k % PLACES.len()];
            let (title, body) = match k % 3 {
                0 => (
                    format!("Widgetron is too expensive in {place}"),
                    format!("I am not happy with the Widgetron price in {place}, disappointing value ({k})."),
                ),
                1 => (
                    format!("Loving my Widgetron in {place}"),
                    format!("The Widgetron is great, fast and delightful. Love it ({k})."),
                ),
                _ => (
                    format!("Widgetron tips from {place}"),
                    format!("Excellent Widgetron tips for new users, really helpful and nice ({k})."),
                ),
            };
            Item {
                id: format!("base-{k}"),
                title,
                body,
                published: now - ChronoDuration::hours(3 + 3 * k as i64),
            }
        })
        .collect()
}

/// Fifteen angry posts about an outage in the last few minutes.
fn burst(now: DateTime<Utc>) -> Vec<Item> {
    (0..15)
        .map(|k| Item {
            id: format!("burst-{k}"),
            title: format!("Widgetron outage in {}", PLACES[k]),
            body: format!(
                "Widgetron is down again in {}, total outage. Terrible, awful, I hate this.",
                PLACES[k]
            ),
            published: now - ChronoDuration::seconds(20 + 20 * k as i64),
        })
        .collect()
}

async fn serve_feed(server: &MockServer, items: &[Item]) {
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string(rss(items)),
        )
        .mount(server)
        .await;
}

async fn receiver(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

/// Bodies the receiver got, after checking each request's Standard Webhooks signature.
async fn bodies(server: &MockServer) -> Vec<serde_json::Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            assert!(
                verify(
                    header(r, "webhook-id"),
                    header(r, "webhook-timestamp"),
                    header(r, "webhook-signature"),
                    &r.body
                ),
                "signature does not verify"
            );
            serde_json::from_slice(&r.body).expect("JSON body")
        })
        .collect()
}

/// `type` → how many times it was received.
fn types(bodies: &[serde_json::Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in bodies {
        *m.entry(b["type"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

async fn wait_types(server: &MockServer, what: &str, want: &BTreeMap<String, usize>) {
    let start = std::time::Instant::now();
    loop {
        let got = types(&bodies(server).await);
        if &got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "timed out waiting for {what}: want {want:?}, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn stop(mut daemon: Child) {
    sigterm(&daemon);
    let exit = wait_for(Duration::from_secs(25), "daemon exit", || {
        daemon.try_wait().unwrap()
    });
    assert!(exit.success(), "daemon exit status {exit:?}");
}

/// Wait until the daemon holds the store and has published its API address. Until then
/// a CLI query would open the store itself, and its lock would make a starting daemon
/// exit ("it is locked").
fn daemon_up(env: &Env) {
    wait_for(Duration::from_secs(30), "the daemon to start", || {
        env.path("data/pulse.db.daemon.json").exists().then_some(())
    });
}

fn mention_count(env: &Env) -> Option<usize> {
    let out = env.run(&[
        "mentions",
        "Widgetron",
        "--limit",
        "1000",
        "--format",
        "json",
    ]);
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(v.as_array()?.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_turn_alerts_marketing_and_it_once_then_resolves() {
    let feed = MockServer::start().await;
    let mkt = MockServer::start().await;
    let it = MockServer::start().await;
    receiver(&mkt).await;
    receiver(&it).await;
    let now = Utc::now();
    let history = baseline(now);
    serve_feed(&feed, &history).await;

    let config = format!(
        r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"

[[sources]]
type = "rss"
name = "forum"
interval = "10s"
url = "{feed}/feed.xml"

[detect]
every = "1s"
resolve_after = "1s"
# The baseline (one post every 3 h) is judged on hourly buckets, not 6 h/24 h ones, so
# the burst window is short and the test's numbers stay simple.
quiet_rate = 0.1

[[channels]]
name = "marketing-hook"
type = "webhook"
url = "{mkt}/hook"
secret = "{secret}"
timeout = "5s"

[[channels]]
name = "it-hook"
type = "webhook"
url = "{it}/hook"
secret = "{secret}"
timeout = "5s"

[[routes]]
department = "marketing"
channels = ["marketing-hook"]
group_wait = "0s"
repeat_interval = "12h"

[[routes]]
department = "it"
channels = ["it-hook"]
group_wait = "0s"
repeat_interval = "12h"

[api]
listen = "127.0.0.1:0"

# Exact message counts are checked below: keep the disk-space health check quiet on a
# nearly full build machine.
[health]
disk_free_fraction = 0.000001
disk_free_bytes = "1"
"#,
        feed = feed.uri(),
        mkt = mkt.uri(),
        it = it.uri(),
        secret = alert_support::SECRET,
    );
    let env = Env::new(&config);
    let daemon = env.spawn(&["run"]);
    daemon_up(&env);

    // Phase 1: quiet history is polled and stored; detection runs over it and says nothing.
    wait_for(Duration::from_secs(40), "the baseline stored", || {
        (mention_count(&env)? == history.len()).then_some(())
    });
    // Detection ticks (every 1 s) judge the stored baseline. (A spurious alert would also
    // show up as an extra message in the exact counts checked below.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        bodies(&mkt).await.is_empty(),
        "no alert on a quiet baseline"
    );
    assert!(bodies(&it).await.is_empty(), "no alert on a quiet baseline");

    // Phase 2: the feed now also carries a burst of angry posts about an outage.
    let burst = burst(Utc::now());
    let mut all: Vec<Item> = burst;
    all.extend(baseline(now));
    feed.reset().await;
    serve_feed(&feed, &all).await;
    wait_for(Duration::from_secs(40), "the burst stored", || {
        (mention_count(&env)? == all.len()).then_some(())
    });

    let mkt_firing = counts(&[("sentiment_shift.firing", 1), ("volume_spike.firing", 1)]);
    let it_firing = counts(&[("aspect_spike.firing", 1)]);
    wait_types(&mkt, "marketing alerts", &mkt_firing).await;
    wait_types(&it, "IT alert", &it_firing).await;
    // Detection keeps running every second and delivery every 5 s: nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let m = bodies(&mkt).await;
    let i = bodies(&it).await;
    assert_eq!(types(&m), mkt_firing, "marketing got each alert once");
    assert_eq!(types(&i), it_firing, "IT got its alert once");

    for b in m.iter().chain(&i) {
        let d = &b["data"];
        assert_eq!(d["labels"]["product"], "Widgetron", "{b}");
        assert!(d["title"].as_str().unwrap().contains("Widgetron"), "{b}");
        let ex = d["examples"].as_array().unwrap();
        assert_eq!(ex.len(), 3, "three example mentions: {b}");
        for e in ex {
            assert_eq!(e["source"], "forum");
            assert!(
                e["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://forum.example.com/t/burst-"),
                "examples are the burst posts: {b}"
            );
            assert!(e["text"].as_str().unwrap().contains("outage"), "{b}");
        }
    }
    for b in &m {
        assert_eq!(b["data"]["department"], "marketing");
        assert_eq!(b["data"]["labels"]["department"], "marketing");
    }
    let shift = m
        .iter()
        .find(|b| b["type"] == "sentiment_shift.firing")
        .unwrap();
    assert_eq!(shift["data"]["labels"]["direction"], "negative");
    let before = shift["data"]["net_sentiment"]["before"].as_f64().unwrap();
    let after = shift["data"]["net_sentiment"]["after"].as_f64().unwrap();
    assert!(after < before, "net sentiment fell: {shift}");
    let aspect = &i[0]["data"];
    assert_eq!(aspect["department"], "it");
    assert_eq!(aspect["labels"]["aspect"], "outage");
    assert_eq!(aspect["labels"]["department"], "it");
    assert!(aspect["mentions"].as_u64().unwrap() >= 15, "{aspect}");
    let fired_ids: Vec<String> = m
        .iter()
        .chain(&i)
        .map(|b| b["data"]["alert_id"].as_str().unwrap().to_string())
        .collect();

    // Phase 3: hours pass without new complaints. The daemon is restarted with its alert
    // clock 8 h ahead (longer than the 6 h `window`): the burst has left every window,
    // each signal calms down and resolves, and each department hears so once. (The
    // routes' `repeat_interval` is longer than the jump, so no "still firing" repeat is
    // due first; `group_interval` (5 m) since the firing message has passed.)
    stop(daemon);
    let mut cmd = env.cmd(&["run"]);
    cmd.env("PULSE_ALERT_CLOCK_OFFSET", "8h")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let daemon = cmd.spawn().expect("restart pulse");
    daemon_up(&env);

    let mut mkt_all = mkt_firing.clone();
    mkt_all.insert("sentiment_shift.resolved".into(), 1);
    mkt_all.insert("volume_spike.resolved".into(), 1);
    let mut it_all = it_firing.clone();
    it_all.insert("aspect_spike.resolved".into(), 1);
    wait_types(&mkt, "marketing resolved messages", &mkt_all).await;
    wait_types(&it, "IT resolved message", &it_all).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let m = bodies(&mkt).await;
    let i = bodies(&it).await;
    assert_eq!(types(&m), mkt_all, "no repeats after the restart");
    assert_eq!(types(&i), it_all, "no repeats after the restart");
    for b in m.iter().chain(&i) {
        if b["data"]["status"] == "resolved" {
            // The resolved message closes the alert that fired.
            let id = b["data"]["alert_id"].as_str().unwrap();
            assert!(fired_ids.iter().any(|f| f == id), "{b}");
            assert_eq!(b["data"]["labels"]["product"], "Widgetron");
        }
    }
    assert!(m.iter().all(|b| b["data"]["department"] == "marketing"));
    assert!(i.iter().all(|b| b["data"]["department"] == "it"));
    stop(daemon);
}
