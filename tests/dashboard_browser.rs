//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/ci-deps.d/dashboard.sh`) loads the pages of a daemon filled from the fixture.
//! The rendered DOM must hold one bar per bucket and one point per bucket with mentions,
//! the `<script>` mention must show as text (no script or img element injected), and
//! screenshots are saved under `target/test-artifacts/`.

mod common;
mod support_dashboard;

use common::Env;
use scraper::{Html, Selector};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support_dashboard::{config, import, Daemon};

const XSS_TEXT: &str = "Widgetron is awful <script>alert(1)</script> <img src=x onerror=alert(3)>";

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run headless Chromium with a fresh profile; returns stdout. Fails the test (with what
/// to do) when Chromium is missing: this test is not optional.
fn chromium(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromium ({e}): install it with scripts/ci-deps.d/dashboard.sh")
        });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s for {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chromium failed for {url}");
    String::from_utf8(out.stdout).unwrap()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn screenshot(name: &str, url: &str, height: u32) -> PathBuf {
    let path = artifacts().join(name);
    let _ = std::fs::remove_file(&path);
    chromium(
        &[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size=1280,{height}"),
        ],
        url,
    );
    let bytes = std::fs::read(&path).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 20_000,
        "{name} looks blank ({} bytes)",
        bytes.len()
    );
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_draws_the_data_and_shows_hostile_text_as_text() {
    let out = tempfile::tempdir().unwrap();
    let env = Env::new(&config(
        false,
        &support_dashboard::alerting(&out.path().join("sent.jsonl")),
    ));
    import(&env);
    let fired = support_dashboard::raise_alerts(&env).await;
    let d = Daemon::start(&env);

    // The product page: chart bars and points against the API's buckets.
    let page_url = d.url("/products/Widgetron?window=24h&bucket=1h");
    let dom = Html::parse_document(&chromium(&["--dump-dom"], &page_url));
    let title: String = dom.select(&sel("title")).next().unwrap().text().collect();
    assert_eq!(title, "Widgetron · Pulse");
    let trend: serde_json::Value =
        reqwest::get(d.url("/api/products/Widgetron/trend?since=24h&bucket=1h"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let rows = trend.as_array().unwrap();
    let figure = dom
        .select(&sel("figure#trend-chart"))
        .next()
        .expect("chart figure");
    let buckets: usize = figure
        .value()
        .attr("data-buckets")
        .unwrap()
        .parse()
        .unwrap();
    let bars = figure.select(&sel(r##"svg rect[fill="#4C78A8"]"##)).count();
    let points = figure
        .select(&sel(r##"svg circle[fill="#F58518"]"##))
        .count();
    assert_eq!(bars, buckets, "one bar per bucket");
    // The hour may turn between the page and the API call.
    assert!(
        buckets.abs_diff(rows.len()) <= 1,
        "{buckets} vs {}",
        rows.len()
    );
    let with_data = rows
        .iter()
        .filter(|r| !r["net_sentiment"].is_null())
        .count();
    assert!(
        points.abs_diff(with_data) <= 1,
        "{points} points vs {with_data} buckets with mentions"
    );
    assert!(
        points >= 5,
        "the fixture fills several hours of the day ({points})"
    );
    assert_eq!(
        figure
            .value()
            .attr("data-points")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        points
    );
    // Alert markers: one red line per alert inside the window, as many as alerts fired.
    let markers: usize = figure
        .value()
        .attr("data-markers")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(markers, fired);
    assert_eq!(
        figure
            .select(&sel(r##"svg polyline[stroke="#D62728"]"##))
            .count(),
        markers
    );
    let delivery: Vec<String> = dom
        .select(&sel("table.alerts tr.alert .state-delivered"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(delivery.len(), fired, "{delivery:?}");
    // Aspects of the negative burst, split by department.
    let it_aspects: Vec<String> = dom
        .select(&sel("#aspects > div:first-child tr.aspect td:first-child"))
        .map(|e| e.text().collect())
        .collect();
    assert!(it_aspects.contains(&"outage".to_string()), "{it_aspects:?}");
    let volume: String = dom.select(&sel("#volume")).next().unwrap().text().collect();
    let total: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert!(
        volume.parse::<u64>().unwrap().abs_diff(total) <= 2,
        "{volume} vs {total}"
    );

    // The hostile mention is shown as its literal text; nothing it contains became markup.
    let texts: Vec<String> = dom
        .select(&sel("ul#negative li.mention div.text"))
        .map(|e| e.text().collect())
        .collect();
    assert!(texts.iter().any(|t| t == XSS_TEXT), "{texts:#?}");
    assert_eq!(
        dom.select(&sel("script")).count(),
        0,
        "no script element in the page"
    );
    assert_eq!(
        dom.select(&sel("img")).count(),
        0,
        "no injected img element"
    );
    assert!(dom
        .select(&sel(r#"a[href^="javascript"]"#))
        .next()
        .is_none());
    // The CSP forbids inline styles too: the page must not depend on any.
    assert_eq!(
        dom.select(&sel("[style]")).count(),
        0,
        "no inline style attributes"
    );
    let authors: String = dom
        .select(&sel("ul#negative .meta"))
        .map(|e| e.text().collect::<String>())
        .collect();
    assert!(authors.contains("<b>mallory</b>"), "author shown literally");
    // Links of ordinary mentions are there.
    assert!(dom
        .select(&sel(
            r#"ul#negative a[href^="https://www.reddit.com/r/widgetron/"]"#
        ))
        .next()
        .is_some());

    // The overview: both products with their sparklines.
    let overview = Html::parse_document(&chromium(&["--dump-dom"], &d.url("/")));
    let products: Vec<String> = overview
        .select(&sel("table#products tr.product td:first-child a"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(products, ["Widgetron", "Gadgetix"]);
    for spark in overview.select(&sel("svg.spark")) {
        let n: usize = spark.value().attr("data-points").unwrap().parse().unwrap();
        assert_eq!(n, 168);
        let line = spark.select(&sel("polyline")).next().unwrap();
        assert_eq!(line.value().attr("points").unwrap().split(' ').count(), n);
    }

    let shot = screenshot(
        "dashboard-product.png",
        &d.url("/products/Widgetron?window=3d"),
        1500,
    );
    screenshot("dashboard-overview.png", &d.url("/"), 700);
    eprintln!("screenshots in {}", shot.parent().unwrap().display());
}
