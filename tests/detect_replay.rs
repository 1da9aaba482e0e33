//! `pulse detect --replay`: the real binary over a JSON-lines history with an outage
//! burst raises exactly the expected alerts, none before the burst.

use std::path::Path;
use std::process::Command;

fn run(args: &[&str], config: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .current_dir(dir.path())
        .env_remove("PULSE_CONFIG")
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts/replay.jsonl")
        .display()
        .to_string()
}

#[test]
fn replay_raises_the_outage_alerts_and_nothing_else() {
    let (ok, stdout, stderr) = run(
        &["detect", "--replay", &fixture(), "--format", "json"],
        "[[products]]\nname = \"Widgetron\"\n",
    );
    assert!(ok, "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let mut got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            for key in [
                "product",
                "signal",
                "direction",
                "department",
                "at",
                "baseline",
                "observed",
            ] {
                assert!(r.get(key).is_some(), "missing {key} in {r}");
            }
            assert_eq!(r["product"], "Widgetron");
            assert_eq!(r["at"], "2026-11-05T11:00:00Z", "{r}");
            (
                r["signal"].as_str().unwrap().to_string(),
                r["direction"].as_str().unwrap().to_string(),
                r["department"].as_str().unwrap().to_string(),
                r["aspect"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "aspect_spike".into(),
                "up".into(),
                "it".into(),
                "outage".into()
            ),
            (
                "sentiment_shift".into(),
                "negative".into(),
                "marketing".into(),
                String::new()
            ),
            (
                "volume_spike".into(),
                "up".into(),
                "marketing".into(),
                String::new()
            ),
        ]
    );
    let spike = rows.iter().find(|r| r["signal"] == "volume_spike").unwrap();
    assert_eq!(spike["observed"], 54.0);
    assert!(spike["baseline"].as_f64().unwrap() < 8.0);
    let shift = rows
        .iter()
        .find(|r| r["signal"] == "sentiment_shift")
        .unwrap();
    assert!(shift["net_after"].as_f64().unwrap() < shift["net_before"].as_f64().unwrap());
}

#[test]
fn stricter_thresholds_silence_the_replay() {
    let (ok, stdout, stderr) = run(
        &["detect", "--replay", &fixture(), "--format", "json"],
        "[detect]\nspike_min_ratio = 20.0\naspect_min_ratio = 1e9\nshift_min_delta = 0.9\n\n[[products]]\nname = \"Widgetron\"\n",
    );
    assert!(ok, "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let (ok, _, stderr) = run(
        &["detect", "--replay", "nope.jsonl"],
        "[[products]]\nname = \"Widgetron\"\n",
    );
    assert!(!ok);
    assert!(stderr.contains("cannot open nope.jsonl"), "{stderr}");
}
