//! Crash safety: `pulse import` is killed with SIGKILL mid-ingest; the store reopens, every
//! bucket equals the recount of its mentions, and no acknowledged mention is missing.

mod common;
use common::{sigkill, wait_for, Env};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

const CONFIG: &str = "[store]\npath = \"data/pulse.db\"\n\n[[products]]\nname = \"Widgetron\"\n\n[[products]]\nname = \"Gadgetly\"\n";

fn write_mentions(path: &std::path::Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let words = ["love", "hate", "fine", "crashes", "great", "slow"];
    for i in 0..n {
        let product = if i % 3 == 0 { "Gadgetly" } else { "Widgetron" };
        let line = serde_json::json!({
            "source": "import",
            "id": format!("m{i}"),
            "url": format!("https://example.com/{i}"),
            "author": format!("user{}", i % 97),
            "published_at": format!("2026-10-{:02}T{:02}:{:02}:00Z", 1 + (i / 1440) % 28, (i / 60) % 24, i % 60),
            "text": format!("Post number {i}: I {} {product} today", words[i % words.len()]),
        });
        writeln!(f, "{line}").unwrap();
    }
}

#[test]
fn sigkill_during_import_loses_nothing_acknowledged() {
    let env = Env::new(CONFIG);
    let file = env.path("big.jsonl");
    write_mentions(&file, 60_000);
    for round in 0..2 {
        let mut child = env
            .cmd(&["import", file.to_str().unwrap(), "--batch", "200"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut reader = BufReader::new(stderr);
        let mut acknowledged = 0usize;
        let mut line = String::new();
        // Kill after a few durable batches, while later ones are in flight.
        while acknowledged < 2_000 + round * 4_000 {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(rest) = line.split("through_line=").nth(1) {
                acknowledged = rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        }
        sigkill(&child);
        let status = wait_for(Duration::from_secs(10), "killed import to exit", || {
            child.try_wait().unwrap()
        });
        assert!(!status.success(), "import should have been killed");
        assert!(
            acknowledged > 0,
            "import acknowledged nothing before the kill"
        );

        // The store opens, and the buckets agree with the mentions.
        let check = env.json(&["store", "check"]);
        assert_eq!(
            check[0]["ok"], true,
            "buckets disagree after SIGKILL: {check}"
        );
        assert_eq!(check[0]["mismatched_buckets"], 0);

        // Every acknowledged line is stored.
        let mut stored: HashSet<String> = HashSet::new();
        for product in ["Widgetron", "Gadgetly"] {
            let rows = env.json(&["mentions", product, "--limit", "0"]);
            stored.extend(
                rows.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_string()),
            );
        }
        for i in 0..acknowledged {
            assert!(
                stored.contains(&format!("m{i}")),
                "acknowledged mention m{i} is missing after SIGKILL (round {round})"
            );
        }
    }
    // Finishing the import after the crashes stores everything exactly once.
    env.ok(&["import", file.to_str().unwrap()]);
    let products = env.json(&["products"]);
    let total: u64 = products
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mentions"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 60_000);
    assert_eq!(env.json(&["store", "check"])[0]["ok"], true);
}
