//! Durability across `kill -9`: a process running the alert engine on the real store has
//! alerts pending (the channel answers 503) when it is SIGKILLed; a new engine on the same
//! store delivers each of them exactly once, under the idempotency key the dead process
//! already used, and does not raise them again.
//!
//! The engine process is this test binary re-executed with `PULSE_ALERT_KILL_CHILD` set
//! (see `engine_process`), so the kill hits a real process mid-retry.

mod alert_support;

use alert_support::*;
use chrono::Duration;
use pulse::alert::engine::list_outbox;
use pulse::alert::{AlertEngine, OutboxState};
use pulse::store::Store;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CHILD_DIR: &str = "PULSE_ALERT_KILL_CHILD";
const CHILD_URL: &str = "PULSE_ALERT_KILL_URL";

/// The engine process: fire alerts, then keep retrying deliveries until killed.
/// Does nothing when run as an ordinary test.
#[tokio::test]
async fn engine_process() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else {
        return;
    };
    let store = Store::open(&std::path::Path::new(&dir).join("db")).unwrap();
    let cfg = two_department_config(&url, "0s");
    let mut engine = AlertEngine::new(&cfg, store).unwrap();
    engine.options.retry_base = std::time::Duration::from_secs(1);
    engine.tick(hours(60)).await.unwrap();
    let r = engine.tick(hours(73)).await.unwrap();
    assert!(r.fired.len() >= 3 && r.delivered == 0, "{r:?}");
    println!("PENDING {}", r.fired.len());
    let mut t = hours(73);
    loop {
        t += Duration::seconds(5);
        engine.deliver(t).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[derive(Clone, Default)]
struct Accepting {
    accepted: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Respond for Accepting {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        assert!(verify(
            header(r, "webhook-id"),
            header(r, "webhook-timestamp"),
            header(r, "webhook-signature"),
            &r.body
        ));
        *self
            .accepted
            .lock()
            .unwrap()
            .entry(header(r, "webhook-id").to_string())
            .or_default() += 1;
        ResponseTemplate::new(200)
    }
}

// Multi-threaded: the mock server must keep answering while this test waits on the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_alerts_survive_sigkill() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .insert_batch(&history_records(80, Some(72)), true)
            .unwrap();
    }

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "engine_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_URL, server.uri())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        // libtest prints "test engine_process ... " before the test's own output on the same line.
        while !line.contains("PENDING") {
            line.clear();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                return false;
            }
        }
        true
    });
    let started = tokio::time::timeout(std::time::Duration::from_secs(60), started).await;
    if !matches!(started, Ok(Ok(true))) {
        let _ = child.kill();
        panic!("engine process did not report pending alerts");
    }
    // Let it fail a few retries, then kill -9 mid-loop.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let tried: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| header(r, "webhook-id").to_string())
        .collect();
    assert!(
        !tried.is_empty(),
        "the killed process never tried to deliver"
    );

    server.reset().await;
    let ok = Accepting::default();
    Mock::given(method("POST"))
        .respond_with(ok.clone())
        .mount(&server)
        .await;
    let store = Store::open(&dir.path().join("db")).unwrap();
    let cfg = two_department_config(&server.uri(), "0s");
    let mut engine = AlertEngine::new(&cfg, store).unwrap();
    let mut t = hours(73) + Duration::minutes(30);
    let r = engine.tick(t).await.unwrap();
    assert!(
        r.fired.is_empty(),
        "alerts raised again after the restart: {r:?}"
    );
    for _ in 0..20 {
        t += Duration::minutes(5);
        engine.deliver(t).await.unwrap();
    }
    let outbox = list_outbox(engine.db()).unwrap();
    assert!(outbox.len() >= 3);
    assert!(outbox.iter().all(|e| e.state == OutboxState::Delivered));
    let accepted = ok.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), outbox.len());
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    for id in &tried {
        assert!(
            accepted.contains_key(id),
            "{id} was delivered under another key"
        );
    }
}
