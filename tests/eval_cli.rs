//! `pulse eval` (and `pulse bench lexicon --no-python`) run as a user would: the real binary
//! on the shared evaluation data, checking the JSON shape and that the figures are sane.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn shared_data() -> PathBuf {
    let dir = std::env::var_os("PULSE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("vader").is_dir(),
        "shared data not found at {}: put ../shared beside the repository or set PULSE_SHARED_DATA",
        dir.display()
    );
    dir
}

/// `pulse` in an empty folder, so no config file is found and the embedded lexicon is used.
fn pulse(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pulse").unwrap();
    cmd.current_dir(dir).env_remove("PULSE_CONFIG");
    cmd
}

fn eval_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path())
        .arg("eval")
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("eval --format json prints one JSON object")
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {v}"))
}

fn check_shape(v: &Value, n: u64) {
    assert!(v.is_object(), "one object, not {v}");
    for key in [
        "n",
        "accuracy",
        "macro_f1",
        "macro_recall",
        "pearson_r",
        "texts_per_second",
        "confusion",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}` in {v}");
    }
    assert_eq!(v["n"].as_u64(), Some(n));
    assert_eq!(v["classifier"], "lexicon");
    for key in ["accuracy", "macro_f1", "macro_recall"] {
        let x = num(v, key);
        assert!((0.0..=1.0).contains(&x), "{key} = {x}");
    }
    assert!(num(v, "texts_per_second") > 0.0);
    let c = &v["confusion"];
    assert_eq!(
        c["labels"],
        serde_json::json!(["negative", "neutral", "positive"])
    );
    let rows = c["matrix"].as_array().expect("matrix is an array of rows");
    assert_eq!(rows.len(), 3);
    let mut total = 0;
    let mut diagonal = 0;
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().expect("row");
        assert_eq!(row.len(), 3);
        for (j, cell) in row.iter().enumerate() {
            let k = cell.as_u64().expect("count");
            total += k;
            if i == j {
                diagonal += k;
            }
        }
    }
    assert_eq!(total, n, "confusion cells sum to n");
    let acc = diagonal as f64 / n as f64;
    assert!(
        (acc - num(v, "accuracy")).abs() < 1e-4,
        "accuracy is the diagonal share"
    );
}

#[test]
fn eval_vader_tweets_json() {
    let file = shared_data().join("vader/tweets_GroundTruth.txt");
    let v = eval_json(&["--vader", file.to_str().unwrap(), "--classifier", "lexicon"]);
    check_shape(&v, 4200);
    // VADER on its own tweet set: the paper reports r = 0.881; anything far off is a bug.
    let r = num(&v, "pearson_r");
    assert!((0.80..=0.95).contains(&r), "pearson_r = {r}");
    let acc = num(&v, "accuracy");
    assert!((0.70..=0.95).contains(&acc), "accuracy = {acc}");
    // The gold classes under the documented ±0.05 band: 1,268 negative, 108 neutral, 2,824 positive.
    let rows = v["confusion"]["matrix"].as_array().unwrap();
    let gold: Vec<u64> = rows
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .sum()
        })
        .collect();
    assert_eq!(gold, vec![1268, 108, 2824]);
}

#[test]
fn eval_vader_amazon_json() {
    let file = shared_data().join("vader/amazonReviewSnippets_GroundTruth.txt");
    let v = eval_json(&["--vader", file.to_str().unwrap()]);
    check_shape(&v, 3708);
    let r = num(&v, "pearson_r");
    assert!((0.4..=0.8).contains(&r), "pearson_r = {r}");
}

#[test]
fn eval_tweeteval_json_has_no_pearson() {
    let data = shared_data().join("tweeteval-sentiment");
    let text = data.join("val_text.txt");
    let labels = data.join("val_labels.txt");
    let v = eval_json(&[
        "--tweeteval-text",
        text.to_str().unwrap(),
        "--tweeteval-labels",
        labels.to_str().unwrap(),
    ]);
    check_shape(&v, 2000);
    assert!(v["pearson_r"].is_null());
    // A lexicon is well above the 33.3 majority baseline and below the transformers' ~72.
    let mr = num(&v, "macro_recall");
    assert!((0.45..=0.70).contains(&mr), "macro_recall = {mr}");
}

#[test]
fn eval_table_output() {
    let file = shared_data().join("vader/tweets_GroundTruth.txt");
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path())
        .args(["eval", "--vader", file.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "macro-F1",
        "macro-recall",
        "Pearson r",
        "texts/s",
        "confusion matrix",
        "gold \\ predicted",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn eval_argument_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Texts without labels is a usage error.
    pulse(dir.path())
        .args(["eval", "--tweeteval-text", "t.txt"])
        .assert()
        .failure();
    // A missing file names the file.
    pulse(dir.path())
        .args(["eval", "--vader", "nope.txt"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("cannot read nope.txt"));
    // The transformer needs a model folder; without one the error says which key to set.
    std::fs::write(dir.path().join("v.txt"), "1\t2.0\tgood").unwrap();
    pulse(dir.path())
        .args(["eval", "--vader", "v.txt", "--classifier", "transformer"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("classifier.model"));
    // Mismatched TweetEval files are reported with both counts.
    std::fs::write(dir.path().join("t.txt"), "good \nbad \n").unwrap();
    std::fs::write(dir.path().join("l.txt"), "2\n").unwrap();
    pulse(dir.path())
        .args([
            "eval",
            "--tweeteval-text",
            "t.txt",
            "--tweeteval-labels",
            "l.txt",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "has 2 texts but l.txt has 1 labels",
        ));
}

#[test]
fn bench_lexicon_without_python_prints_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), "I love it\nI hate it\nmeh\n").unwrap();
    let out = pulse(dir.path())
        .args([
            "bench",
            "lexicon",
            "--lines",
            "t.txt",
            "--rounds",
            "2",
            "--no-python",
            "--format",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let rows = v.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["texts"], 6);
        assert!(row["texts_per_second"].as_f64().unwrap() > 0.0);
        assert!(row["vs_python"].is_null());
    }
}
