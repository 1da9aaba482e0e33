//! `pulse check-config` on the shipped config and on broken ones: every problem names
//! its key and line, and a bad config exits with code 2.

mod common;
use common::{bin, Env};
use std::process::Command;

#[test]
fn shipped_config_is_valid() {
    let out = Command::new(bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PULSE_CONFIG")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(stdout.contains("products ("), "{stdout}");
}

#[test]
fn pulse_config_env_is_used() {
    let env = Env::new("[[products]]\nname = \"Widget\"\n");
    let out = Command::new(bin())
        .current_dir(env.dir.path())
        .env("PULSE_CONFIG", env.path("config.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Widget"));
}

fn expect_problems(config: &str, expected: &[(&str, usize)]) {
    let env = Env::new(config);
    let out = env.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(2), "bad config must exit 2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (key, line) in expected {
        let needle = format!("line {line}: `{key}`");
        assert!(stderr.contains(&needle), "missing `{needle}` in:\n{stderr}");
    }
}

#[test]
fn unknown_keys_are_reported_with_line() {
    expect_problems(
        "[store]\npath = \"db\"\nretention = \"9d\"\n\n[[products]]\nname = \"Widget\"\nalias = [\"w\"]\n",
        &[("store.retention", 3), ("products[0].alias", 7)],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let config = r#"[[products]]
name = "Widget"

[[products]]
name = "widget"

[[sources]]
type = "rss"
interval = "5s"
url = "ftp://example.com/feed"

[[sources]]
type = "carrier-pigeon"

[[sources]]
type = "rss"
interval = "ten minutes"
url = "https://example.com/feed"

[api]
listen = "0.0.0.0:7878"

[classifier]
type = "transformer"
"#;
    expect_problems(
        config,
        &[
            ("products[1].name", 5),
            ("sources[0].interval", 9),
            ("sources[0].url", 10),
            ("sources[1].type", 13),
            ("sources[2].interval", 17),
            ("api.listen", 21),
            ("classifier.model", 23),
        ],
    );
}

#[test]
fn wrong_types_and_missing_env_secrets() {
    let config = "[[products]]\nname = \"Widget\"\naliases = \"w\"\n\n[api]\nlisten = \"127.0.0.1:7878\"\ntoken = \"env:PULSE_TEST_UNSET_TOKEN_VAR\"\n";
    expect_problems(config, &[("products[0].aliases", 3), ("api.token", 7)]);
    let env = Env::new(config);
    let stderr = String::from_utf8_lossy(&env.run(&["check-config"]).stderr).to_string();
    assert!(stderr.contains("PULSE_TEST_UNSET_TOKEN_VAR"), "{stderr}");
}

#[test]
fn syntax_error_names_line() {
    let env = Env::new("[[products]]\nname = \"Widget\nx = 1\n");
    let out = env.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn missing_config_file_is_explained() {
    let out = Command::new(bin())
        .args(["--config", "/nonexistent/pulse.toml", "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pulse.toml"));
}
