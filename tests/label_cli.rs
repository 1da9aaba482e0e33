//! `pulse label`: a human label for an imported mention is stored, replaced and listed, and bad ids or
//! ambiguous sources are refused with a message saying what to do.

mod common;
use common::{fixture, Env};

const CONFIG: &str = r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"
aliases = ["widget-tron"]
"#;

#[test]
fn labels_are_stored_replaced_and_listed() {
    let env = Env::new(CONFIG);
    let file = fixture("foundation/mentions.jsonl");
    env.ok(&["import", file.to_str().unwrap()]);

    // reddit t3_1abcd: "Widgetron crashed twice today and lost my data. Terrible update."
    let out = env.ok(&["label", "t3_1abcd", "neutral", "--source", "reddit"]);
    assert!(out.contains("reddit:t3_1abcd labelled neutral"), "{out}");
    let out = env.ok(&["label", "t3_1abcd", "negative", "--source", "reddit"]);
    assert!(out.contains("labelled negative (was neutral"), "{out}");
    env.ok(&["label", "40210001", "positive", "--source", "hackernews"]);

    let list = env.json(&["label", "--list"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0]["source"], "hackernews");
    assert_eq!(rows[0]["label"], "positive");
    assert_eq!(rows[1]["id"], "t3_1abcd");
    assert_eq!(rows[1]["label"], "negative");
    assert!(rows[1]["text"].as_str().unwrap().contains("lost my data"));

    let bad = env.run(&["label", "no-such-id", "positive"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("no stored mention with id no-such-id"),
        "{err}"
    );

    let bad = env.run(&["label", "t3_1abcd", "great"]);
    assert!(!bad.status.success());
}
