//! `/metrics` of a real daemon that polled a local feed and holds imported mentions,
//! read with a Prometheus text-format parser (not string search) and checked against
//! the API's own figures.

mod common;
mod support_dashboard;

use common::{fixture, wait_for, Env};
use prometheus_parse::{Sample, Scrape, Value};
use std::time::Duration;
use support_dashboard::{config, fixture_rows, import, Daemon, TOKEN};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let sample = find(s, metric, labels).unwrap_or_else(|| panic!("no sample {metric}{labels:?}"));
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(b) => b.last().map(|c| c.count).unwrap_or(0.0),
        Value::Summary(_) => panic!("{metric} is a summary"),
    }
}

fn sum(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            _ => 0.0,
        })
        .sum()
}

async fn scrape(client: &reqwest::Client, d: &Daemon) -> (String, Scrape) {
    let resp = client
        .get(d.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let text = resp.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid exposition");
    (ct, parsed)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_polls_ingest_and_per_product_figures() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_bytes(std::fs::read(fixture("dashboard/feed.xml")).unwrap()),
        )
        .mount(&server)
        .await;
    let sources = format!(
        "[[sources]]\ntype = \"rss\"\nname = \"news\"\ninterval = \"10s\"\nurl = \"{}/feed.xml\"\n\n[[sources]]\ntype = \"rss\"\nname = \"broken\"\ninterval = \"10s\"\nurl = \"{}/missing.xml\"\n",
        server.uri(),
        server.uri()
    );
    let env = Env::new(&config(true, &sources));
    import(&env);
    let d = Daemon::start(&env);
    let client = reqwest::Client::new();

    // Wait until both sources have polled once.
    let (ct, s) = {
        let mut last = None;
        wait_for(Duration::from_secs(30), "both sources polled", || {
            let got = futures::executor::block_on(scrape(&client, &d));
            let ok = find(&got.1, "pulse_source_polls_total", &[("source", "news")]).is_some()
                && find(&got.1, "pulse_source_polls_total", &[("source", "broken")]).is_some();
            last = Some(got);
            ok.then_some(())
        });
        last.unwrap()
    };
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");

    // Polls, errors and latency per source.
    let polls = value(&s, "pulse_source_polls_total", &[("source", "news")]);
    assert!(polls >= 1.0);
    assert_eq!(
        value(
            &s,
            "pulse_source_poll_duration_seconds",
            &[("source", "news")]
        ),
        polls,
        "one latency observation per poll"
    );
    assert_eq!(
        value(
            &s,
            "pulse_source_poll_duration_seconds_count",
            &[("source", "news")]
        ),
        polls
    );
    assert!(
        find(&s, "pulse_source_poll_errors_total", &[("source", "news")]).is_none(),
        "the good feed never failed"
    );
    let broken = value(&s, "pulse_source_polls_total", &[("source", "broken")]);
    assert_eq!(
        value(
            &s,
            "pulse_source_poll_errors_total",
            &[("source", "broken")]
        ),
        broken
    );
    // The feed has three items; one (gardening) names no product.
    assert_eq!(
        value(&s, "pulse_mentions_fetched_total", &[("source", "news")]),
        3.0 * polls
    );
    assert_eq!(
        value(&s, "pulse_mentions_unmatched_total", &[("source", "news")]),
        polls
    );

    // What the daemon stored, by product, source and label: one positive, one negative.
    for label in ["positive", "negative"] {
        let l = [
            ("product", "Widgetron"),
            ("source", "news"),
            ("label", label),
        ];
        assert_eq!(
            value(&s, "pulse_mentions_ingested_total", &l),
            1.0,
            "{label}"
        );
        assert_eq!(value(&s, "pulse_mentions_stored", &l), 1.0, "{label}");
    }
    assert_eq!(
        value(&s, "pulse_mentions_duplicate_total", &[("source", "news")]),
        2.0 * (polls - 1.0)
    );
    assert!(value(&s, "pulse_classifier_texts_total", &[]) >= 2.0);
    assert!(value(&s, "pulse_classifier_batch_duration_seconds_count", &[]) >= 1.0);

    // Store-derived totals include the imported mentions (under source="other").
    let rows = fixture_rows();
    let imported = rows.iter().filter(|r| r["product"] == "Widgetron").count() as f64;
    assert_eq!(
        sum(&s, "pulse_mentions_stored", &[("product", "Widgetron")]),
        imported + 2.0
    );
    assert_eq!(
        sum(&s, "pulse_mentions_stored", &[("product", "Gadgetix")]),
        6.0
    );

    // Volume and net sentiment per product and window agree with the API's hourly trend.
    let trend: serde_json::Value = client
        .get(d.url("/api/products/Widgetron/trend?since=7d&bucket=1h"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trend = trend.as_array().unwrap();
    for (window, hours) in [("1h", 1), ("6h", 6), ("24h", 24), ("7d", 168)] {
        let last = &trend[trend.len() - hours..];
        let count: u64 = last.iter().map(|r| r["count"].as_u64().unwrap()).sum();
        let pos: u64 = last.iter().map(|r| r["positive"].as_u64().unwrap()).sum();
        let neg: u64 = last.iter().map(|r| r["negative"].as_u64().unwrap()).sum();
        let l = [("product", "Widgetron"), ("window", window)];
        assert_eq!(
            value(&s, "pulse_product_volume", &l),
            count as f64,
            "volume {window}"
        );
        if count > 0 {
            let net = (pos as f64 - neg as f64) / count as f64;
            assert!(
                (value(&s, "pulse_product_net_sentiment", &l) - net).abs() < 1e-9,
                "net {window}"
            );
        } else {
            assert!(find(&s, "pulse_product_net_sentiment", &l).is_none());
        }
    }
    assert!(
        value(
            &s,
            "pulse_product_volume",
            &[("product", "Widgetron"), ("window", "6h")]
        ) >= 8.0
    );
    assert!(
        value(
            &s,
            "pulse_product_net_sentiment",
            &[("product", "Widgetron"), ("window", "6h")]
        ) < 0.0,
        "the negative burst"
    );
    assert_eq!(value(&s, "pulse_alert_outbox_depth", &[]), 0.0);
    // Families with samples are all known names.
    for name in s.docs.keys() {
        assert!(
            pulse::metrics::NAMES.contains(&name.as_str()),
            "{name} missing from NAMES"
        );
    }

    // The Grafana dashboard only queries metrics this daemon exports.
    let grafana = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/grafana-dashboard.json"),
    )
    .unwrap();
    let _: serde_json::Value = serde_json::from_str(&grafana).expect("dashboard is JSON");
    let names = regex::Regex::new(r"pulse_[a-z_]+").unwrap();
    let mut checked = 0;
    for m in names.find_iter(&grafana) {
        let name = m.as_str();
        let base = ["_bucket", "_count", "_sum", "_total"]
            .iter()
            .find_map(|sfx| name.strip_suffix(sfx))
            .unwrap_or(name);
        assert!(
            pulse::metrics::NAMES.contains(&base),
            "the Grafana dashboard queries {name}, which /metrics does not export"
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
}
