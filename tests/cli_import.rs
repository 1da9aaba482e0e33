//! Import a JSON-lines file, then check that `products`, `trend` and `mentions` (JSON)
//! agree with it: counts, labels, dedup, matching and bad-line handling.

mod common;
use common::{fixture, Env};
use serde_json::Value;

const CONFIG: &str = r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"
aliases = ["widget-tron"]

[[products]]
name = "Gadgetly"
exclude = ["apple pie"]
"#;

#[test]
fn import_then_query_agrees() {
    let env = Env::new(CONFIG);
    let file = fixture("foundation/mentions.jsonl");
    let out = env.run(&["import", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Bad lines are reported by number and skipped.
    for n in [11, 12, 13] {
        assert!(
            stderr.contains(&format!("mentions.jsonl:{n}:")),
            "line {n} not reported:\n{stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 bad lines skipped"), "{stdout}");

    // Widgetron: ids 40210001, 40210044, t3_1abcd, 113..01, t3_1abce, the outage (explicit product);
    // the duplicate id and the lemmy cross-post of the first line are dropped.
    let mentions = env.json(&["mentions", "Widgetron", "--limit", "100"]);
    let ids: Vec<&str> = mentions
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "https://news.example.com/widgetron-outage",
            "t3_1abce",
            "113000000000000001",
            "t3_1abcd",
            "40210044",
            "40210001"
        ],
        "newest first, no duplicates"
    );
    let first = &mentions[5];
    for key in [
        "id",
        "source",
        "url",
        "author",
        "published_at",
        "label",
        "score",
        "text",
    ] {
        assert!(first.get(key).is_some(), "missing field {key}");
    }
    assert_eq!(first["published_at"], "2026-11-01T09:15:00Z");
    assert_eq!(first["label"], "positive");
    assert_eq!(mentions[3]["label"], "negative");

    // Gadgetly: the excluded apple-pie post does not count.
    let gadgetly = env.json(&["mentions", "gadgetly"]);
    assert_eq!(gadgetly.as_array().unwrap().len(), 2);
    let neg = env.json(&["mentions", "Gadgetly", "--sentiment", "negative"]);
    assert_eq!(neg.as_array().unwrap().len(), 1);
    let by_source = env.json(&["mentions", "Widgetron", "--source", "reddit"]);
    assert_eq!(by_source.as_array().unwrap().len(), 2);
    let limited = env.json(&["mentions", "Widgetron", "--limit", "2"]);
    assert_eq!(limited.as_array().unwrap().len(), 2);

    // Trend buckets add up to the mentions, label by label.
    let trend = env.json(&[
        "trend",
        "Widgetron",
        "--since",
        "2026-11-01",
        "--bucket",
        "1d",
    ]);
    let rows = trend.as_array().unwrap();
    assert_eq!(rows[0]["start"], "2026-11-01T00:00:00Z");
    let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    let count_label = |l: &str| {
        mentions
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["label"] == l)
            .count() as u64
    };
    assert_eq!(sum("count"), 6);
    assert_eq!(sum("positive"), count_label("positive"));
    assert_eq!(sum("negative"), count_label("negative"));
    assert_eq!(sum("neutral"), count_label("neutral"));
    assert_eq!(rows[0]["count"], 4);
    assert_eq!(rows[1]["count"], 2);
    let day1_mean: f64 = mentions
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["published_at"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-01")
        })
        .map(|m| m["score"].as_f64().unwrap())
        .sum::<f64>()
        / 4.0;
    assert!((rows[0]["mean_score"].as_f64().unwrap() - day1_mean).abs() < 1e-3);
    let hourly = env.json(&[
        "trend",
        "Widgetron",
        "--since",
        "2026-11-01",
        "--bucket",
        "1h",
    ]);
    assert_eq!(hourly[9]["count"], 2, "09:00 bucket has two mentions");

    let products = env.json(&["products"]);
    let w = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "Widgetron")
        .unwrap();
    assert_eq!(w["mentions"], 6);
    assert_eq!(w["positive"].as_u64().unwrap(), count_label("positive"));
    let expected_net = (count_label("positive") as f64 - count_label("negative") as f64) / 6.0;
    assert!((w["net_sentiment"].as_f64().unwrap() - expected_net).abs() < 1e-4);
    let g = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "Gadgetly")
        .unwrap();
    assert_eq!(g["mentions"], 2);

    // Importing the same file again stores nothing new.
    let again = env.ok(&["import", file.to_str().unwrap()]);
    assert!(again.contains(" 0 stored"), "{again}");
    let check = env.json(&["store", "check"]);
    assert_eq!(check[0]["ok"], Value::Bool(true));
}

#[test]
fn csv_and_table_outputs() {
    let env = Env::new(CONFIG);
    env.ok(&[
        "import",
        fixture("foundation/mentions.jsonl").to_str().unwrap(),
    ]);
    let csv = env.ok(&[
        "trend",
        "Widgetron",
        "--since",
        "2026-11-01",
        "--bucket",
        "1d",
        "--format",
        "csv",
    ]);
    assert!(
        csv.starts_with("start,count,positive,negative,neutral,mean_score,net_sentiment\n"),
        "{csv}"
    );
    let table = env.ok(&[
        "trend",
        "Widgetron",
        "--since",
        "2026-11-01",
        "--bucket",
        "1d",
    ]);
    assert!(
        table.contains("volume "),
        "table ends with a sparkline: {table}"
    );
    assert!(table
        .lines()
        .last()
        .unwrap()
        .chars()
        .any(|c| ('▁'..='█').contains(&c)));
}

#[test]
fn unknown_product_and_bad_since_are_clear_errors() {
    let env = Env::new(CONFIG);
    let out = env.run(&["trend", "Nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown product `Nope`"));
    let out = env.run(&["trend", "Widgetron", "--since", "fortnight"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --since"));
}

#[test]
fn store_stats_compact_and_prune() {
    let env = Env::new(CONFIG);
    env.ok(&[
        "import",
        fixture("foundation/mentions.jsonl").to_str().unwrap(),
    ]);
    let stats = env.json(&["store", "stats"]);
    let mentions = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "mentions")
        .unwrap();
    assert_eq!(mentions["entries"], 8, "6 Widgetron + 2 Gadgetly records");
    let out = env.ok(&["store", "compact"]);
    assert!(out.contains("compacted"), "{out}");
    assert_eq!(env.json(&["store", "check"])[0]["ok"], true);
    assert_eq!(
        env.json(&["mentions", "Widgetron"])
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let before = env.json(&[
        "trend",
        "Widgetron",
        "--since",
        "2026-11-01",
        "--bucket",
        "1d",
    ]);
    // Everything in the fixture is older than a day: texts go, buckets stay.
    let out = env.ok(&["store", "prune", "--older-than", "1d"]);
    assert!(out.contains("pruned 8"), "{out}");
    assert!(env
        .json(&["mentions", "Widgetron"])
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        env.json(&[
            "trend",
            "Widgetron",
            "--since",
            "2026-11-01",
            "--bucket",
            "1d"
        ]),
        before
    );
    let again = env.ok(&[
        "import",
        fixture("foundation/mentions.jsonl").to_str().unwrap(),
    ]);
    assert!(
        again.contains(" 0 stored"),
        "pruned mentions are not stored again: {again}"
    );
}
