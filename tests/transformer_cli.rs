//! `pulse classify` with `[classifier] type = "transformer"`: the model is used, a model or runtime that
//! cannot load is reported (naming the file and both runtime settings), and `fallback = "lexicon"`
//! carries on with the lexicon. Needs the ONNX Runtime library like tests/transformer_fixture.rs.

use assert_cmd::Command;
use predicates::str::contains;
use pulse::sentiment::transformer::runtime;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

fn runtime_path() -> PathBuf {
    runtime::discover("python3").unwrap_or_else(|| {
        panic!(
            "ONNX Runtime not found: set ORT_DYLIB_PATH to libonnxruntime.so or install it with \
             `bash scripts/ci-deps.d/transformer.sh` (pip install onnxruntime==1.31.1)"
        )
    })
}

/// A config with one product and the given `[classifier]` body.
fn config(dir: &Path, classifier: &str) -> PathBuf {
    let path = dir.join("pulse.toml");
    std::fs::write(
        &path,
        format!("[[products]]\nname = \"Acme\"\n\n[classifier]\n{classifier}\n"),
    )
    .unwrap();
    path
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

fn pulse(config: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pulse").unwrap();
    cmd.arg("--config")
        .arg(config)
        .env_remove("ORT_DYLIB_PATH")
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn classify_uses_the_configured_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "type = \"transformer\"\nmodel = {}\nruntime = {}\nbatch_size = 2\nthreads = 1",
            toml_str(&fixture()),
            toml_str(&runtime_path())
        ),
    );
    let out = pulse(&cfg)
        .args([
            "classify",
            "--format",
            "json",
            "I love it",
            "this is awful",
            "meh",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row["classifier"], "transformer:tiny-bert");
        let score = row["score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score));
        assert!(["positive", "negative", "neutral"].contains(&row["label"].as_str().unwrap()));
    }
}

#[test]
fn runtime_from_the_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!("type = \"transformer\"\nmodel = {}", toml_str(&fixture())),
    );
    pulse(&cfg)
        .env("ORT_DYLIB_PATH", runtime_path())
        .args(["classify", "great"])
        .assert()
        .success()
        .stdout(contains("transformer:tiny-bert"));
}

#[test]
fn missing_runtime_names_both_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!("type = \"transformer\"\nmodel = {}", toml_str(&fixture())),
    );
    pulse(&cfg)
        .args(["classify", "great"])
        .assert()
        .failure()
        .stderr(contains("[classifier] runtime"))
        .stderr(contains("ORT_DYLIB_PATH"))
        .stderr(contains("tiny-bert"));
}

#[test]
fn a_file_that_is_not_onnx_runtime_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_lib = dir.path().join("libonnxruntime.so");
    std::fs::write(&not_a_lib, b"not a shared library").unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "type = \"transformer\"\nmodel = {}\nruntime = {}",
            toml_str(&fixture()),
            toml_str(&not_a_lib)
        ),
    );
    pulse(&cfg)
        .args(["classify", "great"])
        .assert()
        .failure()
        .stderr(contains("cannot load onnx runtime from"))
        .stderr(contains(not_a_lib.display().to_string()));
}

#[test]
fn fallback_to_the_lexicon_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken-model");
    std::fs::create_dir(&broken).unwrap();
    for f in ["model.onnx", "config.json"] {
        std::fs::copy(fixture().join(f), broken.join(f)).unwrap();
    }
    let body = format!(
        "type = \"transformer\"\nmodel = {}\nruntime = {}",
        toml_str(&broken),
        toml_str(&runtime_path())
    );
    let cfg = config(dir.path(), &body);
    pulse(&cfg)
        .args(["classify", "great"])
        .assert()
        .failure()
        .stderr(contains("tokenizer.json"));

    let cfg = config(dir.path(), &format!("{body}\nfallback = \"lexicon\""));
    pulse(&cfg)
        .args(["classify", "--format", "json", "great"])
        .assert()
        .success()
        .stdout(contains("\"classifier\": \"lexicon\""))
        .stderr(contains("falling back to the lexicon"))
        .stderr(contains("tokenizer.json"));
}
