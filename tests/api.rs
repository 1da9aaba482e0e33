//! The daemon's HTTP API, end to end: a real `pulse run` with a token, filled from the
//! dashboard fixture. Every endpoint refuses a missing or wrong token and answers with
//! the right one, bad parameters are a 400 with a message, the CLI's `--remote` works
//! with `PULSE_API_TOKEN`, and the OpenAPI document lists what the router serves.

mod common;
mod support_dashboard;

use common::Env;
use reqwest::StatusCode;
use serde_json::Value;
use support_dashboard::{config, fixture_rows, import, Daemon, TOKEN};

const ENDPOINTS: &[&str] = &[
    "/api/status",
    "/api/products",
    "/api/products/Widgetron/trend",
    "/api/products/Widgetron/mentions",
    "/api/alerts",
    "/api/silences",
    "/api/openapi.json",
    "/metrics",
    "/",
    "/products/Widgetron",
    "/assets/pulse.css",
];

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn json(client: &reqwest::Client, d: &Daemon, path: &str) -> Value {
    let (status, body) = get(client, &d.url(path), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A 400 whose JSON says `{"error": ...}` containing `needle`.
async fn bad(client: &reqwest::Client, d: &Daemon, path: &str, needle: &str) {
    let (status, body) = get(client, &d.url(path), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let msg = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: {body}"));
    assert!(msg.contains(needle), "{path}: `{msg}` lacks `{needle}`");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_with_token_auth_and_parameter_checks() {
    let env = Env::new(&config(true, ""));
    import(&env);
    let d = Daemon::start(&env);
    let client = reqwest::Client::new();

    // Liveness needs no token.
    let (status, body) = get(&client, &d.url("/healthz"), None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );

    // Everything else refuses a missing or wrong token, and accepts the right one.
    for path in ENDPOINTS {
        for token in [None, Some("wrong"), Some("s3cret-test-tokeN")] {
            let (status, body) = get(&client, &d.url(path), token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {token:?}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert!(v["error"].as_str().unwrap().contains("token"), "{body}");
        }
        let (status, body) = get(&client, &d.url(path), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    // A browser gets a login prompt for the dashboard and may answer it with the token.
    let resp = client.get(d.url("/")).send().await.unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Basic realm=\"pulse\", charset=\"UTF-8\""
    );
    let resp = client
        .get(d.url("/"))
        .basic_auth("anyone", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let resp = client.get(d.url("/api/products")).send().await.unwrap();
    assert!(
        resp.headers().get("www-authenticate").is_none(),
        "no prompt for the API"
    );

    // Products: the fixture's counts.
    let rows = fixture_rows();
    let products = json(&client, &d, "/api/products").await;
    let w = &products[0];
    assert_eq!(w["product"], "Widgetron");
    let n_widget = rows.iter().filter(|r| r["product"] == "Widgetron").count() as u64;
    assert_eq!(w["mentions"].as_u64(), Some(n_widget));
    assert_eq!(products[1]["product"], "Gadgetix");
    assert_eq!(products[1]["mentions"].as_u64(), Some(6));
    assert_eq!(
        w["positive"].as_u64().unwrap()
            + w["negative"].as_u64().unwrap()
            + w["neutral"].as_u64().unwrap(),
        n_widget
    );

    // Trend: one row per hour, summing to the mentions in the span; aliases resolve.
    let trend = json(&client, &d, "/api/products/WT/trend?since=24h&bucket=1h").await;
    let trend = trend.as_array().unwrap();
    assert!((24..=26).contains(&trend.len()), "{}", trend.len());
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let expected = rows
        .iter()
        .filter(|r| r["product"] == "Widgetron")
        .filter(|r| {
            let t: chrono::DateTime<chrono::Utc> =
                r["published_at"].as_str().unwrap().parse().unwrap();
            t >= since - chrono::Duration::hours(1)
        })
        .count() as u64;
    let sum: u64 = trend.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert!(
        sum <= expected && sum + 2 >= expected,
        "sum {sum} expected about {expected}"
    );
    let daily = json(&client, &d, "/api/products/Widgetron/trend?since=7d").await;
    let days = daily.as_array().unwrap();
    assert_eq!(days.len(), 8, "default bucket beyond 3 days is 1d");
    assert_eq!(
        days.iter()
            .map(|r| r["count"].as_u64().unwrap())
            .sum::<u64>(),
        n_widget
    );

    // Mentions: filters, newest first, the text exactly as posted.
    let neg = json(
        &client,
        &d,
        "/api/products/Widgetron/mentions?sentiment=negative&limit=3",
    )
    .await;
    let neg = neg.as_array().unwrap();
    assert_eq!(neg.len(), 3);
    assert!(neg.iter().all(|m| m["label"] == "negative"));
    assert_eq!(neg[0]["id"], "xss1");
    assert_eq!(
        neg[0]["text"],
        "Widgetron is awful <script>alert(1)</script> <img src=x onerror=alert(3)>"
    );
    let hn = json(
        &client,
        &d,
        "/api/products/Widgetron/mentions?source=hackernews&limit=0",
    )
    .await;
    let n_hn = rows
        .iter()
        .filter(|r| r["product"] == "Widgetron" && r["source"] == "hackernews")
        .count();
    assert_eq!(hn.as_array().unwrap().len(), n_hn);
    let recent = json(
        &client,
        &d,
        "/api/products/Widgetron/mentions?since=8h&limit=0",
    )
    .await;
    assert!(recent.as_array().unwrap().len() >= 13, "{recent:#}");

    let status = json(&client, &d, "/api/status").await;
    assert_eq!(status["mode"], "daemon");
    assert_eq!(status["daemon_pid"], d.child.id());
    assert_eq!(status["mentions_stored"].as_u64(), Some(rows.len() as u64));
    assert_eq!(
        json(&client, &d, "/api/alerts").await,
        serde_json::json!([])
    );
    assert_eq!(
        json(&client, &d, "/api/silences?all=true").await,
        serde_json::json!([])
    );
    let doc = json(&client, &d, "/api/openapi.json").await;
    for path in ENDPOINTS
        .iter()
        .map(|p| p.replace("Widgetron", "{name}"))
        .chain(["/healthz".to_string()])
    {
        assert!(doc["paths"].get(&path).is_some(), "{path} not documented");
    }

    // Bad parameters: 400 with a message naming the problem.
    bad(
        &client,
        &d,
        "/api/products/Widgetron/trend?bucket=5m",
        "unknown bucket `5m`",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/products/Widgetron/trend?since=yesterday",
        "invalid --since `yesterday`",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/products/Widgetron/trend?window=7d",
        "unknown field `window`",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/products/Widgetron/mentions?sentiment=angry",
        "angry",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/products/Widgetron/mentions?limit=ten",
        "limit",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/products/Widgetron/mentions?colour=red",
        "unknown field `colour`",
    )
    .await;
    bad(&client, &d, "/api/products?x=1", "unknown field `x`").await;
    bad(
        &client,
        &d,
        "/api/status?verbose=1",
        "unknown field `verbose`",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/alerts?status=open",
        "unknown status `open`",
    )
    .await;
    bad(&client, &d, "/api/alerts?limit=-1", "limit").await;
    bad(&client, &d, "/api/silences?all=maybe", "all").await;
    bad(
        &client,
        &d,
        "/api/silences?active=true",
        "unknown field `active`",
    )
    .await;
    bad(
        &client,
        &d,
        "/api/alerts?since=someday",
        "invalid --since `someday`",
    )
    .await;
    bad(&client, &d, "/metrics?x=1", "unknown field `x`").await;

    // Unknown products and paths: 404 with a message.
    let (status, body) = get(&client, &d.url("/api/products/Nope/trend"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("unknown product `Nope`"), "{body}");
    let (status, body) = get(&client, &d.url("/api/alerts?product=Nope"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = get(&client, &d.url("/api/nothing"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("no such endpoint: GET /api/nothing"),
        "{body}"
    );
    let (status, body) = get(
        &client,
        &d.url("/products/Widgetron?window=soon"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid window `soon`"), "{body}");

    // The CLI finds the daemon itself (token from the config) and gives the API's rows.
    let cli = |args: &[&str], token: Option<&str>| {
        let mut c = env.cmd(args);
        c.env_remove("PULSE_API_TOKEN");
        if let Some(t) = token {
            c.env("PULSE_API_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = cli(&["products", "--format", "json"], Some(TOKEN));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(via_cli, products);

    // --remote with PULSE_API_TOKEN: same rows; without the token: refused, and says why.
    let remote = ["--remote", d.api.as_str()];
    let args: Vec<&str> = remote
        .iter()
        .copied()
        .chain([
            "mentions",
            "Widgetron",
            "--sentiment",
            "negative",
            "--limit",
            "3",
            "--format",
            "json",
        ])
        .collect();
    let out = cli(&args, Some(TOKEN));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_remote: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(via_remote.as_array().unwrap(), neg);
    let out = cli(&args, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing or wrong token") && err.contains("HTTP 401"),
        "{err}"
    );
}

#[test]
fn daemon_refuses_an_open_api_off_loopback() {
    let mut api = pulse::config::ApiConfig {
        listen: "0.0.0.0:7878".parse().unwrap(),
        token: None,
    };
    let err = pulse::api::check_listen(&api).unwrap_err();
    assert!(
        err.contains("refusing to serve the API on 0.0.0.0:7878") && err.contains("token"),
        "{err}"
    );
    api.listen = "127.0.0.1:7878".parse().unwrap();
    assert!(pulse::api::check_listen(&api).is_ok());
    api.listen = "[::1]:7878".parse().unwrap();
    assert!(pulse::api::check_listen(&api).is_ok());

    // From the command line the config check already stops it, with exit code 2.
    let env = Env::new(
        "[store]\npath = \"db\"\n[[products]]\nname = \"W\"\n[api]\nlisten = \"0.0.0.0:0\"\n",
    );
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

#[test]
fn trend_plot_writes_svg_and_png_from_the_store() {
    let env = Env::new(&config(false, ""));
    import(&env);
    let out = env.run(&[
        "trend",
        "Widgetron",
        "--since",
        "24h",
        "--bucket",
        "1h",
        "--format",
        "json",
        "--plot",
        "chart.svg",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = rows.as_array().unwrap().len();
    let svg = std::fs::read_to_string(env.path("chart.svg")).unwrap();
    let doc = scraper::Html::parse_document(&svg);
    let bars = scraper::Selector::parse(r##"rect[fill="#4C78A8"]"##).unwrap();
    assert_eq!(doc.select(&bars).count(), n, "one bar per bucket");
    let points = scraper::Selector::parse(r##"circle[fill="#F58518"]"##).unwrap();
    let filled = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["net_sentiment"].is_null())
        .count();
    assert_eq!(
        doc.select(&points).count(),
        filled,
        "one point per bucket with mentions"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("({n} buckets, 0 alert markers)"))
    );

    let out = env.run(&["trend", "Widgetron", "--plot", "chart.png"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(env.path("chart.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 5_000,
        "a drawn chart, not an empty image ({} bytes)",
        png.len()
    );

    let out = env.run(&["trend", "Widgetron", "--plot", "chart.jpg"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use a file name ending in .svg or .png"));
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_and_silences_from_the_alert_engine() {
    let out_dir = tempfile::tempdir().unwrap();
    let sent = out_dir.path().join("alerts.jsonl");
    let extra = support_dashboard::alerting(&sent);
    let env = Env::new(&config(true, &extra));
    import(&env);
    let fired = support_dashboard::raise_alerts(&env).await;
    let lines = std::fs::read_to_string(&sent).unwrap();
    assert_eq!(lines.lines().count(), fired, "{lines}");
    {
        let store = pulse::store::Store::open(&env.path("data/pulse.db")).unwrap();
        let now = chrono::Utc::now();
        let silence = pulse::alert::silence::Silence {
            id: "sil_test".into(),
            matchers: [("product".to_string(), "Gadgetix".to_string())].into(),
            starts_at: now - chrono::Duration::minutes(5),
            ends_at: now + chrono::Duration::hours(2),
            created_by: "test".into(),
            comment: "maintenance <b>window</b>".into(),
        };
        pulse::alert::silence::add(store.db(), &silence).unwrap();
        store.flush().unwrap();
    }
    let d = Daemon::start(&env);
    let client = reqwest::Client::new();

    // One row per notification, as `pulse alerts --format json`.
    let rows = json(&client, &d, "/api/alerts?product=WT").await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), fired, "one jsonl notification per alert");
    let alert_ids: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(alert_ids.len(), fired);
    for r in rows {
        assert_eq!(r["product"], "Widgetron");
        assert_eq!(r["status"], "firing");
        assert_eq!(r["kind"], "firing");
        assert_eq!(r["channel"], "ops");
        assert_eq!(r["delivery"], "delivered");
        assert!(r["delivered_at"].as_str().unwrap().ends_with('Z'));
        assert!(!r["summary"].as_str().unwrap().is_empty());
    }
    let one = json(&client, &d, "/api/alerts?status=firing&limit=1").await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(
        json(&client, &d, "/api/alerts?since=1h")
            .await
            .as_array()
            .unwrap()
            .len(),
        fired
    );
    assert_eq!(
        json(&client, &d, "/api/alerts?status=resolved").await,
        serde_json::json!([])
    );
    assert_eq!(
        json(&client, &d, "/api/alerts?product=Gadgetix").await,
        serde_json::json!([])
    );

    // As `pulse silence list --format json`.
    let silences = json(&client, &d, "/api/silences").await;
    assert_eq!(silences[0]["id"], "sil_test");
    assert_eq!(silences[0]["active"], true);
    assert_eq!(silences[0]["matchers"], "product=Gadgetix");
    assert_eq!(silences[0]["comment"], "maintenance <b>window</b>");
    assert_eq!(
        json(&client, &d, "/api/silences?all=true").await,
        silences,
        "nothing expired yet"
    );

    // The product page marks the alerts on the chart and lists their delivery.
    let (status, page) = get(
        &client,
        &d.url("/products/Widgetron?window=7d"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let dom = scraper::Html::parse_document(&page);
    let fig = dom
        .select(&scraper::Selector::parse("figure#trend-chart").unwrap())
        .next()
        .unwrap();
    let markers: usize = fig.value().attr("data-markers").unwrap().parse().unwrap();
    assert_eq!(markers, fired);
    let marker_lines = fig
        .select(&scraper::Selector::parse(r##"polyline[stroke="#D62728"]"##).unwrap())
        .count();
    assert_eq!(marker_lines, markers);
    assert!(
        page.contains("ops firing: delivered"),
        "delivery state shown"
    );

    // And the metrics count them.
    let (_, text) = get(&client, &d.url("/metrics"), Some(TOKEN)).await;
    let s = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let firing_total: f64 = s
        .samples
        .iter()
        .filter(|x| {
            x.metric == "pulse_alerts_firing" && x.labels.get("product") == Some("Widgetron")
        })
        .map(|x| match x.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert_eq!(firing_total, fired as f64);
    let delivered_metric = s
        .samples
        .iter()
        .find(|x| {
            x.metric == "pulse_alert_notifications"
                && x.labels.get("channel") == Some("ops")
                && x.labels.get("state") == Some("delivered")
        })
        .expect("delivered notifications counted");
    assert!(matches!(delivered_metric.value, prometheus_parse::Value::Gauge(v) if v >= 1.0));

    // The API's rows are exactly what the CLI prints with --format json.
    let api_alerts = json(&client, &d, "/api/alerts?limit=0").await;
    let api_silences = json(&client, &d, "/api/silences").await;
    drop(d);
    let cli = |args: &[&str]| -> Value {
        let out = env
            .cmd(args)
            .env("PULSE_API_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(cli(&["alerts", "--format", "json"]), api_alerts);
    assert_eq!(cli(&["silence", "list", "--format", "json"]), api_silences);
}
