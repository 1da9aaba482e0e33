//! Shared by the API, metrics and browser tests: a store filled from the dashboard fixture
//! (times moved so the newest mention is about now), and a real daemon serving it.
#![allow(dead_code)]

use crate::common::{fixture, sigterm, wait_for, Env};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// The fixture's times are written relative to this instant.
pub const ANCHOR: &str = "2026-11-20T12:00:00Z";
pub const TOKEN: &str = "s3cret-test-token";

/// The start of the current hour: the fixture's anchor is moved here.
pub fn anchor_now() -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(now - now.rem_euclid(3600), 0).unwrap()
}

/// Write the dashboard fixture with its times shifted to now into the env's dir.
pub fn shifted_fixture(env: &Env) -> PathBuf {
    let anchor: DateTime<Utc> = ANCHOR.parse().unwrap();
    let delta = anchor_now() - anchor;
    let text = std::fs::read_to_string(fixture("dashboard/mentions.jsonl")).unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t: DateTime<Utc> = v["published_at"].as_str().unwrap().parse().unwrap();
        v["published_at"] = serde_json::Value::String((t + delta).to_rfc3339());
        out.push_str(&v.to_string());
        out.push('\n');
    }
    let path = env.path("mentions.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

/// The fixture's mentions as (product, published_at shifted, text) for expected values.
pub fn fixture_rows() -> Vec<serde_json::Value> {
    let anchor: DateTime<Utc> = ANCHOR.parse().unwrap();
    let delta = anchor_now() - anchor;
    std::fs::read_to_string(fixture("dashboard/mentions.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let t: DateTime<Utc> = v["published_at"].as_str().unwrap().parse().unwrap();
            v["published_at"] = serde_json::Value::String((t + delta).to_rfc3339());
            v
        })
        .collect()
}

/// Only a completely full disk is a health finding here: the tests count alerts exactly, and
/// a nearly full build machine must not add a `disk_space` alert to them.
pub const NO_DISK_CHECK: &str =
    "[health]\ndisk_free_fraction = 0.000001\ndisk_free_bytes = \"1\"\n";

pub fn config(token: bool, extra: &str) -> String {
    let token = if token {
        "token = \"env:PULSE_API_TOKEN\"\n"
    } else {
        ""
    };
    format!(
        "[store]\npath = \"data/pulse.db\"\n\n[[products]]\nname = \"Widgetron\"\naliases = [\"WT\"]\n\n[[products]]\nname = \"Gadgetix\"\n\n{extra}\n{NO_DISK_CHECK}\n[api]\nlisten = \"127.0.0.1:0\"\n{token}"
    )
}

/// Import the shifted fixture (no daemon running yet).
pub fn import(env: &Env) {
    let file = shifted_fixture(env);
    let out = env
        .cmd(&["import", file.to_str().unwrap()])
        .env("PULSE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `pulse run`; stopped with SIGTERM when dropped.
pub struct Daemon {
    pub child: Child,
    pub api: String,
}

impl Daemon {
    pub fn start(env: &Env) -> Daemon {
        let child = env
            .cmd(&["run"])
            .env("PULSE_API_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let info = env.path("data/pulse.db.daemon.json");
        let api = wait_for(Duration::from_secs(30), "the daemon info file", || {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&info).ok()?).ok()?;
            v["api"].as_str().map(str::to_string)
        });
        Daemon { child, api }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        sigterm(&self.child);
        let _ = wait_for(Duration::from_secs(25), "daemon exit", || {
            self.child.try_wait().unwrap()
        });
    }
}

/// Hours since the anchor hour, for expected bucket counts.
pub fn hours(n: i64) -> ChronoDuration {
    ChronoDuration::hours(n)
}

/// `[detect]` tuned to the fixture's three days and a jsonl channel writing to `sent`.
pub fn alerting(sent: &std::path::Path) -> String {
    format!(
        "[detect]\nwindow = \"6h\"\nbaseline = \"3d\"\nmin_history = \"1d\"\n\n[[channels]]\ntype = \"jsonl\"\nname = \"ops\"\npath = \"{}\"\n",
        sent.display()
    )
}

/// Run detection and delivery over the imported store (no daemon running), as the
/// daemon's engine would; returns how many alerts fired.
pub async fn raise_alerts(env: &Env) -> usize {
    std::env::set_var("PULSE_API_TOKEN", TOKEN);
    let cfg = pulse::config::Config::load(&env.path("config.toml")).unwrap();
    let store = pulse::store::Store::open(&env.path("data/pulse.db")).unwrap();
    let data = std::sync::Arc::new(store.clone());
    let mut engine =
        pulse::alert::engine::AlertEngine::with_data(&cfg, store.db().clone(), data).unwrap();
    let now = Utc::now();
    // The first evaluation only warms up (signals under way are adopted silently): run it
    // before the burst, as a daemon that had been running would have.
    engine.detect(now - ChronoDuration::hours(9)).unwrap();
    let report = engine.detect(now).unwrap();
    assert!(
        !report.fired.is_empty(),
        "the negative burst raises an alert: {report:?}"
    );
    engine
        .deliver(now + ChronoDuration::minutes(10))
        .await
        .unwrap();
    store.flush().unwrap();
    report.fired.len()
}
