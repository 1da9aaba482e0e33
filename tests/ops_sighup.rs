//! SIGHUP reloads the config of the running daemon: a good file adds a product and a
//! source that go live without a restart; a bad file is refused with its problems logged
//! and the daemon keeps running on the old config.

mod common;
use common::{capture_stderr, fixture, sigterm, wait_for, Env};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn sighup(child: &Child) {
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGHUP);
    }
}

fn wait_log(log: &Arc<Mutex<String>>, needle: &str) {
    wait_for(Duration::from_secs(30), needle, || {
        log.lock().unwrap().contains(needle).then_some(())
    });
}

async fn rss(server: &MockServer, at: &str, file: &str) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_bytes(std::fs::read(fixture(file)).unwrap()),
        )
        .mount(server)
        .await;
}

fn config_v1(base: &str) -> String {
    format!(
        r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"

[[sources]]
type = "rss"
name = "news"
interval = "10s"
url = "{base}/feed.xml"

[api]
listen = "127.0.0.1:0"
"#
    )
}

/// v1 plus a product and a source, and an API address change that needs a restart.
fn config_v2(base: &str) -> String {
    format!(
        r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"

[[products]]
name = "Gadgetly"

[[sources]]
type = "rss"
name = "news"
interval = "10s"
url = "{base}/feed.xml"

[[sources]]
type = "rss"
name = "gadgets"
interval = "10s"
url = "{base}/gadget.xml"

[api]
listen = "127.0.0.1:1"
"#
    )
}

fn names(v: &serde_json::Value, field: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let server = MockServer::start().await;
    rss(&server, "/feed.xml", "foundation/feed.xml").await;
    rss(&server, "/gadget.xml", "ops/gadget.xml").await;
    let env = Env::new(&config_v1(&server.uri()));
    let mut daemon = env.spawn(&["run"]);
    let log = capture_stderr(&mut daemon);

    wait_for(Duration::from_secs(30), "Widgetron mentions", || {
        let out = env.run(&["mentions", "Widgetron", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (v.as_array()?.len() == 2).then_some(())
    });
    assert_eq!(names(&env.json(&["products"]), "product"), ["Widgetron"]);

    // A good config: the new product and source go live without a restart.
    std::fs::write(env.path("config.toml"), config_v2(&server.uri())).unwrap();
    sighup(&daemon);
    wait_log(&log, "config reloaded");
    let products = wait_for(Duration::from_secs(30), "Gadgetly mentions", || {
        let out = env.run(&["products", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let gadgetly = v.as_array()?.iter().find(|r| r["product"] == "Gadgetly")?;
        (gadgetly["mentions"].as_u64()? == 1).then_some(v)
    });
    assert_eq!(names(&products, "product"), ["Widgetron", "Gadgetly"]);
    assert_eq!(products[0]["mentions"], 2, "old mentions kept");
    let rows = env.json(&["mentions", "Gadgetly"]);
    assert_eq!(rows[0]["source"], "gadgets");
    assert_eq!(rows[0]["label"], "positive");
    let status = env.json(&["status"]);
    assert_eq!(status["daemon_pid"], daemon.id(), "same process");
    assert_eq!(names(&status["sources"], "source"), ["news", "gadgets"]);
    assert!(
        log.lock()
            .unwrap()
            .contains("api.listen changed: it takes effect after a restart"),
        "listen change reported"
    );

    // A bad config: refused with its problem logged; the daemon keeps the running config.
    let bad = config_v2(&server.uri()).replace(
        "name = \"gadgets\"\ninterval = \"10s\"",
        "name = \"gadgets\"\ninterval = \"1s\"",
    );
    assert_ne!(bad, config_v2(&server.uri()));
    std::fs::write(env.path("config.toml"), bad).unwrap();
    sighup(&daemon);
    wait_log(&log, "config reload refused");
    {
        let l = log.lock().unwrap();
        assert!(l.contains("interval must be at least 10s"), "{l}");
        assert!(l.contains("sources[1].interval"), "{l}");
    }
    assert!(daemon.try_wait().unwrap().is_none(), "daemon still running");
    // The file on disk is invalid now, so ask the daemon directly.
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("data/pulse.db.daemon.json")).unwrap())
            .unwrap();
    let api = info["api"].as_str().unwrap();
    let products = env.json(&["--remote", api, "products"]);
    assert_eq!(names(&products, "product"), ["Widgetron", "Gadgetly"]);
    let status = env.json(&["--remote", api, "status"]);
    assert_eq!(names(&status["sources"], "source"), ["news", "gadgets"]);
    assert_eq!(status["sources"][1]["interval"], "10s", "old interval kept");

    sigterm(&daemon);
    let exit = wait_for(Duration::from_secs(25), "daemon exit", || {
        daemon.try_wait().unwrap()
    });
    assert!(exit.success(), "daemon exit status {exit:?}");
}
