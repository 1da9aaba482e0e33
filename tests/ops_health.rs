//! Health findings in `pulse status`: a source whose credentials are refused is reported
//! with what to do, in JSON (`health`) and in the table; a healthy source reports none.

mod common;
use common::{fixture, Env};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_show_up_as_health_findings() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_bytes(std::fs::read(fixture("foundation/feed.xml")).unwrap()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/private.xml"))
        .respond_with(ResponseTemplate::new(401).set_body_string("token expired"))
        .mount(&server)
        .await;
    let config = format!(
        "[store]\npath = \"db\"\n[[products]]\nname = \"Widgetron\"\n\
         [[sources]]\ntype = \"rss\"\nname = \"news\"\ninterval = \"10m\"\nurl = \"{0}/feed.xml\"\n\
         [[sources]]\ntype = \"rss\"\nname = \"private\"\ninterval = \"10m\"\nurl = \"{0}/private.xml\"\n",
        server.uri()
    );
    let env = Env::new(&config);
    // One source fails; the command still completes the round.
    env.run(&["poll", "--once"]);

    let status = env.json(&["status"]);
    let health = status["health"].as_array().unwrap();
    let auth: Vec<_> = health
        .iter()
        .filter(|f| f["check"] == "source_auth")
        .collect();
    assert_eq!(auth.len(), 1, "{health:?}");
    assert_eq!(auth[0]["subject"], "private");
    assert_eq!(auth[0]["severity"], "critical");
    assert!(auth[0]["message"].as_str().unwrap().contains("401"));
    assert!(auth[0]["action"].as_str().unwrap().contains("renew"));
    assert!(
        health.iter().all(|f| f["subject"] != "news"),
        "the healthy source has no findings: {health:?}"
    );

    let table = env.ok(&["status"]);
    assert!(
        table.contains("CRITICAL [source_auth] source `private` cannot authenticate"),
        "{table}"
    );
}

#[test]
fn a_classifier_that_failed_to_load_is_a_health_finding_of_the_daemon() {
    let env = Env::new(
        "[store]\npath = \"db\"\n[[products]]\nname = \"Widgetron\"\n\
         [classifier]\ntype = \"transformer\"\nmodel = \"models/not-downloaded\"\nfallback = \"lexicon\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n",
    );
    let mut child = env.spawn(&["run"]);
    let status = common::wait_for(
        std::time::Duration::from_secs(30),
        "the daemon answers status",
        || {
            let out = env.run(&["status", "--format", "json"]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["mode"] == "daemon").then_some(v)
        },
    );
    common::sigterm(&child);
    assert!(child.wait().unwrap().success());
    let health = status["health"].as_array().unwrap();
    let f: Vec<_> = health
        .iter()
        .filter(|f| f["check"] == "classifier")
        .collect();
    assert_eq!(f.len(), 1, "{health:?}");
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("transformer classifier failed to load")
            && message.contains("not-downloaded")
            && message.contains("lexicon fallback"),
        "{message}"
    );
    assert!(f[0]["action"]
        .as_str()
        .unwrap()
        .contains("[classifier] model"));
}
