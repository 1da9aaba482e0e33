//! The alert engine end to end with a fake clock: detection over in-memory series, routing
//! to marketing and IT webhook receivers on 127.0.0.1, group_wait, resolved messages,
//! silences, warm-up, faults (500 / 429 / timeouts then recovery) and restarts.

mod alert_support;

use alert_support::*;
use chrono::Duration;
use pulse::alert::engine::{list_alerts, list_outbox};
use pulse::alert::silence::{self, Silence};
use pulse::alert::{AlertEngine, OutboxState};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Status500,
    TooMany429,
    Timeout,
}

/// A receiver that fails its first `fail_first` requests, then accepts. It records, per
/// `webhook-id`, how many requests it *accepted* (2xx) and the body types.
#[derive(Clone)]
struct Receiver {
    fail_first: usize,
    fault: Fault,
    count: Arc<AtomicUsize>,
    accepted: Arc<Mutex<BTreeMap<String, usize>>>,
    types: Arc<Mutex<Vec<String>>>,
    all_ids: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn new(fail_first: usize, fault: Fault) -> Receiver {
        Receiver {
            fail_first,
            fault,
            count: Arc::default(),
            accepted: Arc::default(),
            types: Arc::default(),
            all_ids: Arc::default(),
        }
    }
    fn accepted(&self) -> BTreeMap<String, usize> {
        self.accepted.lock().unwrap().clone()
    }
    fn types(&self) -> Vec<String> {
        self.types.lock().unwrap().clone()
    }
}

impl Respond for Receiver {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let id = header(r, "webhook-id").to_string();
        assert!(
            verify(
                &id,
                header(r, "webhook-timestamp"),
                header(r, "webhook-signature"),
                &r.body
            ),
            "signature does not verify"
        );
        self.all_ids.lock().unwrap().push(id.clone());
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return match self.fault {
                Fault::Status500 => ResponseTemplate::new(500).set_body_string("boom"),
                Fault::TooMany429 => ResponseTemplate::new(429).insert_header("retry-after", "1"),
                // Longer than the channel's 1 s timeout; not a success either way.
                Fault::Timeout => {
                    ResponseTemplate::new(503).set_delay(std::time::Duration::from_millis(2500))
                }
            };
        }
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        self.types
            .lock()
            .unwrap()
            .push(body["type"].as_str().unwrap_or("").to_string());
        *self.accepted.lock().unwrap().entry(id).or_default() += 1;
        ResponseTemplate::new(204)
    }
}

async fn mount(server: &MockServer, route: &str, r: &Receiver) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(r.clone())
        .mount(server)
        .await;
}

fn fast(engine: &mut AlertEngine) {
    engine.options.retry_base = std::time::Duration::from_secs(30);
    engine.options.retry_max = std::time::Duration::from_secs(300);
}

fn open_db(dir: &tempfile::TempDir) -> sled::Db {
    sled::open(dir.path().join("db")).unwrap()
}

#[tokio::test]
async fn each_department_gets_its_alert_once_then_resolved() {
    let server = MockServer::start().await;
    let mkt = Receiver::new(0, Fault::Status500);
    let it = Receiver::new(0, Fault::Status500);
    mount(&server, "/mkt", &mkt).await;
    mount(&server, "/it", &it).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_department_config(&server.uri(), "30s");
    let mut engine =
        AlertEngine::with_data(&cfg, open_db(&dir), Arc::new(history(100, Some(72)))).unwrap();

    let r = engine.tick(hours(60)).await.unwrap();
    assert!(r.fired.is_empty(), "steady history raised {r:?}");
    let r = engine.tick(hours(73)).await.unwrap();
    assert!(r.fired.len() >= 3, "{r:?}");
    assert_eq!(r.delivered, 0, "group_wait holds the first notification");
    let fired = r.fired.len();
    let r = engine.tick(hours(73) + Duration::minutes(1)).await.unwrap();
    assert_eq!(r.delivered, fired, "one notification per alert and route");

    let mut t = hours(73) + Duration::minutes(5);
    while t < hours(96) {
        engine.tick(t).await.unwrap();
        t += Duration::minutes(20);
    }

    let mkt_types = mkt.types();
    let it_types = it.types();
    assert_eq!(
        mkt_types
            .iter()
            .filter(|t| *t == "volume_spike.firing")
            .count(),
        1,
        "{mkt_types:?}"
    );
    assert_eq!(
        mkt_types
            .iter()
            .filter(|t| *t == "sentiment_shift.firing")
            .count(),
        1,
        "{mkt_types:?}"
    );
    assert_eq!(
        mkt_types
            .iter()
            .filter(|t| *t == "volume_spike.resolved")
            .count(),
        1,
        "{mkt_types:?}"
    );
    assert_eq!(
        it_types,
        vec!["aspect_spike.firing", "aspect_spike.resolved"]
    );
    for (id, n) in mkt.accepted().into_iter().chain(it.accepted()) {
        assert_eq!(n, 1, "{id} accepted {n} times");
    }
    let alerts = list_alerts(engine.db()).unwrap();
    assert!(alerts.iter().all(|a| a.ends_at.is_some()), "all resolved");
    let outbox = list_outbox(engine.db()).unwrap();
    assert!(outbox.iter().all(|e| e.state == OutboxState::Delivered));

    // The IT alert carries the numbers, examples with links and escaped hostile text.
    let it_body = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/it")
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&it_body.body).unwrap();
    assert_eq!(v["data"]["labels"]["aspect"], "outage");
    assert_eq!(v["data"]["department"], "it");
    assert_eq!(v["data"]["examples"].as_array().unwrap().len(), 3);
    assert!(v["data"]["examples"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://forum.example/"));
    assert!(v["data"]["summary"]
        .as_str()
        .unwrap()
        .contains("negative mentions about outage"));
}

async fn fault_run(fault: Fault, fail_first: usize) {
    let server = MockServer::start().await;
    let mkt = Receiver::new(fail_first, fault);
    let it = Receiver::new(fail_first, fault);
    mount(&server, "/mkt", &mkt).await;
    mount(&server, "/it", &it).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_department_config(&server.uri(), "0s");
    let mut engine =
        AlertEngine::with_data(&cfg, open_db(&dir), Arc::new(history(80, Some(72)))).unwrap();
    fast(&mut engine);
    engine.tick(hours(60)).await.unwrap();
    let fired = engine.tick(hours(73)).await.unwrap().fired.len();
    assert!(fired >= 3);
    let mut t = hours(73);
    for _ in 0..30 {
        t += Duration::minutes(2);
        engine.deliver(t).await.unwrap();
    }
    let outbox = list_outbox(engine.db()).unwrap();
    assert!(
        outbox.iter().all(|e| e.state == OutboxState::Delivered),
        "{fault:?}: {:?}",
        outbox
            .iter()
            .map(|e| (&e.id, e.state, &e.last_error))
            .collect::<Vec<_>>()
    );
    assert!(
        outbox.iter().any(|e| e.attempts > 1),
        "{fault:?}: no retries happened"
    );
    let accepted: BTreeMap<String, usize> =
        mkt.accepted().into_iter().chain(it.accepted()).collect();
    assert_eq!(accepted.len(), outbox.len(), "{fault:?}");
    assert!(
        accepted.values().all(|n| *n == 1),
        "{fault:?}: {accepted:?}"
    );
    // Retries reused the idempotency key: every id the receivers saw is an outbox id.
    let ids: Vec<String> = outbox.iter().map(|e| e.id.clone()).collect();
    for id in mkt
        .all_ids
        .lock()
        .unwrap()
        .iter()
        .chain(it.all_ids.lock().unwrap().iter())
    {
        assert!(ids.contains(id), "{id} is not an outbox id");
    }
}

#[tokio::test]
async fn server_errors_then_recovery_deliver_exactly_once() {
    fault_run(Fault::Status500, 3).await;
}

#[tokio::test]
async fn rate_limits_then_recovery_deliver_exactly_once() {
    fault_run(Fault::TooMany429, 2).await;
}

#[tokio::test]
async fn timeouts_then_recovery_deliver_exactly_once() {
    fault_run(Fault::Timeout, 2).await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_department_config(&server.uri(), "0s");
    let mut engine =
        AlertEngine::with_data(&cfg, open_db(&dir), Arc::new(history(80, Some(72)))).unwrap();
    engine.tick(hours(60)).await.unwrap();
    engine.tick(hours(73)).await.unwrap();
    for m in 1..10 {
        engine
            .deliver(hours(73) + Duration::minutes(m * 10))
            .await
            .unwrap();
    }
    let outbox = list_outbox(engine.db()).unwrap();
    assert!(outbox
        .iter()
        .all(|e| e.state == OutboxState::Failed && e.attempts == 1));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        outbox.len()
    );
}

#[tokio::test]
async fn pending_alerts_are_delivered_after_a_restart_with_the_same_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_department_config(&server.uri(), "0s");
    let data = Arc::new(history(80, Some(72)));
    let ids_before: Vec<String> = {
        let mut engine = AlertEngine::with_data(&cfg, open_db(&dir), data.clone()).unwrap();
        engine.tick(hours(60)).await.unwrap();
        let r = engine.tick(hours(73)).await.unwrap();
        assert!(r.retried >= 1 && r.delivered == 0, "{r:?}");
        list_outbox(engine.db())
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
        // engine and its database are dropped here, like a stopped daemon
    };
    let tried: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| header(r, "webhook-id").to_string())
        .collect();
    assert!(!tried.is_empty());

    server.reset().await;
    let ok = Receiver::new(0, Fault::Status500);
    mount(&server, "/mkt", &ok).await;
    mount(&server, "/it", &ok).await;
    let mut engine = AlertEngine::with_data(&cfg, open_db(&dir), data).unwrap();
    // Detection state survived: the signals are still firing, nothing fires twice.
    let mut t = hours(73) + Duration::minutes(10);
    let r = engine.tick(t).await.unwrap();
    assert!(r.fired.is_empty(), "{r:?}");
    for _ in 0..10 {
        t += Duration::minutes(5);
        engine.deliver(t).await.unwrap();
    }
    let accepted = ok.accepted();
    let ids_after: Vec<String> = accepted.keys().cloned().collect();
    let mut expected = ids_before.clone();
    expected.sort();
    assert_eq!(ids_after, expected);
    for id in &tried {
        assert!(accepted.contains_key(id), "{id} retried under another key");
    }
}

#[tokio::test]
async fn silences_mute_and_warm_up_does_not_flood() {
    let server = MockServer::start().await;
    let rx = Receiver::new(0, Fault::Status500);
    mount(&server, "/mkt", &rx).await;
    mount(&server, "/it", &rx).await;

    // Started right after the burst: the first evaluation adopts it silently.
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_department_config(&server.uri(), "0s");
    let mut engine =
        AlertEngine::with_data(&cfg, open_db(&dir), Arc::new(history(80, Some(72)))).unwrap();
    let r = engine.tick(hours(73)).await.unwrap();
    assert!(r.fired.is_empty(), "{r:?}");
    let r = engine.tick(hours(73) + Duration::minutes(5)).await.unwrap();
    assert!(r.fired.is_empty(), "{r:?}");
    drop(engine);

    // A silence on the product: alerts are recorded, muted, and nothing is sent.
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(&dir);
    let matchers = silence::parse_matchers(&["product=widget".into()]).unwrap();
    silence::add(
        &db,
        &Silence {
            id: silence::new_id(hours(70), &matchers),
            matchers,
            starts_at: hours(70),
            ends_at: hours(75),
            created_by: "test".into(),
            comment: "launch day".into(),
        },
    )
    .unwrap();
    let mut engine = AlertEngine::with_data(&cfg, db, Arc::new(history(80, Some(72)))).unwrap();
    engine.tick(hours(60)).await.unwrap();
    let r = engine.tick(hours(73)).await.unwrap();
    assert!(r.fired.len() >= 3);
    engine.tick(hours(73) + Duration::minutes(5)).await.unwrap();
    let alerts = list_alerts(engine.db()).unwrap();
    assert!(alerts.iter().all(|a| a
        .muted
        .as_deref()
        .unwrap_or("")
        .starts_with("silenced by sil_")));
    assert!(list_outbox(engine.db()).unwrap().is_empty());
    assert!(rx.accepted().is_empty());
}

#[tokio::test]
async fn alert_resolved_within_group_wait_is_never_sent() {
    let server = MockServer::start().await;
    let rx = Receiver::new(0, Fault::Status500);
    mount(&server, "/mkt", &rx).await;
    mount(&server, "/it", &rx).await;
    let dir = tempfile::tempdir().unwrap();
    // group_wait longer than the whole episode.
    let cfg = two_department_config(&server.uri(), "1d");
    let mut engine =
        AlertEngine::with_data(&cfg, open_db(&dir), Arc::new(history(100, Some(72)))).unwrap();
    engine.tick(hours(60)).await.unwrap();
    assert!(engine.tick(hours(73)).await.unwrap().fired.len() >= 3);
    let mut t = hours(73);
    while t < hours(96) {
        t += Duration::minutes(30);
        engine.tick(t).await.unwrap();
    }
    let outbox = list_outbox(engine.db()).unwrap();
    assert!(!outbox.is_empty());
    assert!(outbox.iter().all(|e| e.state == OutboxState::Cancelled));
    assert!(rx.accepted().is_empty());
}
