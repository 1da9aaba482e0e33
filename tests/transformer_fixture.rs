//! The transformer engine against the committed tiny models and their Hugging Face reference outputs
//! (tests/fixtures/tiny-bert/, made by scripts/make-fixture-model.py), plus malformed model folders.
//!
//! These tests need the ONNX Runtime library: `ORT_DYLIB_PATH`, or the `onnxruntime` Python package
//! (`scripts/ci-deps.d/transformer.sh` installs it). Without it they fail with that instruction.

use pulse::model::Label;
use pulse::sentiment::transformer::{
    runtime, Encoder, EngineOptions, TransformerClassifier, TransformerError,
};
use pulse::sentiment::{build, Classifier, ClassifierConfig, ClassifierKind};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const TOL: f32 = 1e-4;

#[derive(Debug, Deserialize)]
struct Reference {
    max_length: usize,
    texts: Vec<RefText>,
}

#[derive(Debug, Deserialize)]
struct RefText {
    text: String,
    input_ids: Vec<u32>,
    logits: Vec<f32>,
    distilbert_logits: Vec<f32>,
    embedding_mean: Vec<f32>,
    embedding_mean_l2: Vec<f32>,
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(fixture().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn runtime_path() -> PathBuf {
    runtime::discover("python3").unwrap_or_else(|| {
        panic!(
            "ONNX Runtime not found: set ORT_DYLIB_PATH to libonnxruntime.so or install it with \
             `bash scripts/ci-deps.d/transformer.sh` (pip install onnxruntime==1.31.1)"
        )
    })
}

fn opts(batch_size: usize) -> EngineOptions {
    EngineOptions {
        runtime: Some(runtime_path()),
        threads: 1,
        batch_size,
        max_length: None,
    }
}

fn classifier_config(model: &Path) -> ClassifierConfig {
    ClassifierConfig {
        kind: ClassifierKind::Transformer,
        model: Some(model.to_path_buf()),
        runtime: Some(runtime_path()),
        threads: 1,
        batch_size: 4,
        ..Default::default()
    }
}

fn load(folder: &Path, batch_size: usize) -> TransformerClassifier {
    TransformerClassifier::load(folder, &opts(batch_size), &ClassifierConfig::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length {} vs {}", a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn texts(r: &Reference) -> Vec<&str> {
    r.texts.iter().map(|t| t.text.as_str()).collect()
}

#[test]
fn tokenisation_matches_the_reference_ids_exactly() {
    let r = reference();
    let c = load(&fixture(), 8);
    assert_eq!(c.engine().max_length(), r.max_length);
    let ids = c.engine().token_ids(&texts(&r)).unwrap();
    for (t, got) in r.texts.iter().zip(&ids) {
        assert_eq!(got, &t.input_ids, "token ids differ for {:?}", t.text);
    }
    // the fixture does exercise truncation
    assert!(ids.iter().any(|i| i.len() == r.max_length));
}

#[test]
fn logits_match_the_reference_at_every_batch_size() {
    let r = reference();
    let all = texts(&r);
    for batch_size in [1, 5, 32] {
        let c = load(&fixture(), batch_size);
        assert!(c.engine().uses_token_types());
        let logits = c.logits_batch(&all).unwrap();
        assert_eq!(logits.len(), all.len());
        for (t, got) in r.texts.iter().zip(&logits) {
            let d = max_diff(got, &t.logits);
            assert!(
                d <= TOL,
                "batch {batch_size}: logits {got:?} vs reference {:?} (|diff| {d}) for {:?}",
                t.logits,
                t.text
            );
        }
    }
}

#[test]
fn two_class_model_without_token_type_ids_matches_the_reference() {
    let r = reference();
    let c = load(&fixture().join("distilbert-sst2"), 7);
    assert!(!c.engine().uses_token_types());
    let logits = c.logits_batch(&texts(&r)).unwrap();
    for (t, got) in r.texts.iter().zip(&logits) {
        let d = max_diff(got, &t.distilbert_logits);
        assert!(
            d <= TOL,
            "{got:?} vs {:?} for {:?}",
            t.distilbert_logits,
            t.text
        );
    }
    // score and label follow P(pos) - P(neg) and the configured thresholds
    let out = c.classify_batch(&texts(&r)).unwrap();
    for (t, s) in r.texts.iter().zip(&out) {
        let (n, p) = (t.distilbert_logits[0], t.distilbert_logits[1]);
        let pp = 1.0 / (1.0 + (n - p).exp());
        let want = pp - (1.0 - pp);
        assert!((s.score - want).abs() < 1e-4, "{} vs {want}", s.score);
        assert!((s.confidence - pp.max(1.0 - pp)).abs() < 1e-4);
        let label = ClassifierConfig::default().label_for(want);
        assert_eq!(s.label, label, "{:?}", t.text);
    }
    assert_eq!(c.name(), "transformer:distilbert-sst2");
}

#[test]
fn three_class_sentiment_is_argmax_with_score_pos_minus_neg() {
    let r = reference();
    let c = load(&fixture(), 16);
    assert_eq!(c.name(), "transformer:tiny-bert");
    let out = c.classify_batch(&texts(&r)).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (t, s) in r.texts.iter().zip(&out) {
        let max = t.logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = t.logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = e.iter().sum();
        let p: Vec<f32> = e.iter().map(|v| v / sum).collect();
        // id2label: 0 negative, 1 neutral, 2 positive
        assert!((s.score - (p[2] - p[0])).abs() < 1e-4);
        let top = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert!((s.confidence - p[top]).abs() < 1e-4);
        assert_eq!(
            s.label,
            [Label::Negative, Label::Neutral, Label::Positive][top]
        );
        assert!((-1.0..=1.0).contains(&s.score));
        seen.insert(s.label);
    }
    assert!(
        seen.len() >= 2,
        "a random model still gives varied labels: {seen:?}"
    );
}

#[test]
fn encoder_mean_pooling_matches_the_reference() {
    let r = reference();
    let all = texts(&r);
    let raw = Encoder::load(&fixture().join("encoder"), &opts(6), false).unwrap();
    let normed = Encoder::load(&fixture().join("encoder"), &opts(32), true).unwrap();
    assert_eq!(raw.dim(), Some(32));
    let a = raw.embed_batch(&all).unwrap();
    let b = normed.embed_batch(&all).unwrap();
    for ((t, x), y) in r.texts.iter().zip(&a).zip(&b) {
        assert!(max_diff(x, &t.embedding_mean) <= TOL, "{:?}", t.text);
        assert!(max_diff(y, &t.embedding_mean_l2) <= TOL, "{:?}", t.text);
    }
}

#[test]
fn build_wires_the_transformer_and_falls_back_only_when_asked() {
    let config = classifier_config(&fixture());
    let c = build(&config).unwrap();
    assert_eq!(c.name(), "transformer:tiny-bert");
    assert_eq!(c.classify_batch(&["great phone", ""]).unwrap().len(), 2);

    let missing = classifier_config(&fixture().join("no-such-model"));
    let e = build(&missing)
        .err()
        .expect("no fallback configured")
        .to_string();
    assert!(e.contains("no-such-model"), "{e}");

    let with_fallback = ClassifierConfig {
        fallback: Some(ClassifierKind::Lexicon),
        ..missing
    };
    let c = build(&with_fallback).unwrap();
    assert_eq!(c.name(), "lexicon");
}

#[test]
fn runtime_may_be_given_as_the_wheel_folder() {
    let lib = runtime_path();
    let dir = lib.parent().unwrap();
    let found = runtime::locate(Some(dir)).unwrap();
    assert!(found
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("libonnxruntime"));
    let c = TransformerClassifier::load(
        &fixture(),
        &EngineOptions {
            runtime: Some(dir.to_path_buf()),
            ..opts(4)
        },
        &ClassifierConfig::default(),
    )
    .unwrap();
    assert_eq!(c.classify_batch(&["ok"]).unwrap().len(), 1);
}

#[test]
fn classifier_is_shareable_across_threads_and_blocking_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TransformerClassifier>();
    assert_send_sync::<Encoder>();

    let r = reference();
    let c: Arc<dyn Classifier> = Arc::new(load(&fixture(), 3));
    let want = c.classify_batch(&texts(&r)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            let owned: Vec<String> = r.texts.iter().map(|t| t.text.clone()).collect();
            std::thread::spawn(move || {
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                c.classify_batch(&refs).unwrap()
            })
        })
        .collect();
    for h in handles {
        let got = h.join().unwrap();
        for (a, b) in got.iter().zip(&want) {
            assert_eq!(a.label, b.label);
            assert!((a.score - b.score).abs() < 1e-6);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let c = Arc::clone(&c);
        tokio::task::spawn_blocking(move || c.classify_batch(&["from a blocking task"]))
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(got.len(), 1);
}

// ---- malformed model folders: a clear error naming the file, never a panic ----

/// A copy of the fixture folder to break.
fn copy_fixture(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.onnx", "tokenizer.json", "config.json"] {
        std::fs::copy(from.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn load_err(folder: &Path) -> String {
    let e: TransformerError =
        TransformerClassifier::load(folder, &opts(4), &ClassifierConfig::default())
            .expect_err("malformed folder must not load");
    e.to_string()
}

fn edit_config(folder: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = folder.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = copy_fixture(&fixture());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("missing") && e.contains("tokenizer.json"), "{e}");
}

#[test]
fn missing_model_is_named() {
    let dir = copy_fixture(&fixture());
    std::fs::remove_file(dir.path().join("model.onnx")).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("missing") && e.contains("model.onnx"), "{e}");
}

#[test]
fn missing_config_is_named() {
    let dir = copy_fixture(&fixture());
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("config.json"), "{e}");
}

#[test]
fn unknown_labels_are_named() {
    let dir = copy_fixture(&fixture());
    edit_config(dir.path(), |v| {
        v["id2label"] = serde_json::json!({"0": "anger", "1": "joy", "2": "sadness"});
    });
    let e = load_err(dir.path());
    assert!(
        e.contains("config.json") && e.contains("unknown label `anger`"),
        "{e}"
    );
}

#[test]
fn label_count_different_from_the_output_is_named() {
    let dir = copy_fixture(&fixture());
    edit_config(dir.path(), |v| {
        v["id2label"] = serde_json::json!({"0": "negative", "1": "positive"});
    });
    let e = load_err(dir.path());
    assert!(
        e.contains("model.onnx") && e.contains("3 classes") && e.contains("config.json"),
        "{e}"
    );
}

#[test]
fn wrong_output_shape_is_named() {
    // the encoder outputs [batch, tokens, hidden]: not a classifier
    let dir = copy_fixture(&fixture().join("encoder"));
    edit_config(dir.path(), |v| {
        v["id2label"] = serde_json::json!({"0": "negative", "1": "positive"});
    });
    let e = load_err(dir.path());
    assert!(
        e.contains("model.onnx") && e.contains("[batch, classes]"),
        "{e}"
    );
    // and a classifier is not an encoder
    let e = Encoder::load(&fixture(), &opts(4), true)
        .expect_err("classifier is not an encoder")
        .to_string();
    assert!(
        e.contains("model.onnx") && e.contains("[batch, tokens, hidden]"),
        "{e}"
    );
}

#[test]
fn corrupt_files_are_named() {
    let dir = copy_fixture(&fixture());
    std::fs::write(
        dir.path().join("tokenizer.json"),
        b"{\"not\": \"a tokenizer\"}",
    )
    .unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("tokenizer.json"), "{e}");

    let dir = copy_fixture(&fixture());
    std::fs::write(dir.path().join("model.onnx"), b"this is not a protobuf").unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.onnx") && e.contains("cannot load"), "{e}");

    let dir = copy_fixture(&fixture());
    std::fs::write(dir.path().join("config.json"), b"{ nope").unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("config.json") && e.contains("not valid JSON"),
        "{e}"
    );
}

#[test]
fn runtime_errors_name_the_path_and_both_settings() {
    let e = runtime::locate(Some(Path::new("/definitely/not/libonnxruntime.so")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/definitely/not/libonnxruntime.so"), "{e}");
    let msg = TransformerError::RuntimeNotConfigured.to_string();
    assert!(
        msg.contains("[classifier] runtime") && msg.contains("ORT_DYLIB_PATH"),
        "{msg}"
    );
}
