//! Local sentiment classification: one `Classifier` trait, chosen by `[classifier]` in config.

pub mod eval;
pub mod lexicon;
pub mod transformer;

use crate::model::Sentiment;

/// Errors from building or running a classifier.
#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    #[error("cannot load classifier model from {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("classifier inference failed: {0}")]
    Inference(String),
}

/// A batch sentiment classifier. Implementations must be cheap to call from many threads.
pub trait Classifier: Send + Sync {
    /// Short name stored with every mention it classified (`lexicon`, `transformer:minilm-sentiment`).
    fn name(&self) -> &str;
    /// Classify a batch of texts; the output has one entry per input, in order.
    fn classify_batch(&self, texts: &[&str]) -> Result<Vec<Sentiment>, SentimentError>;
}

use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Which classifier `[classifier] type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierKind {
    #[default]
    Lexicon,
    Transformer,
}

/// `[classifier]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    #[serde(rename = "type", default)]
    pub kind: ClassifierKind,
    /// Scores at or above this are positive.
    #[serde(default = "default_pos")]
    pub positive_threshold: f32,
    /// Scores at or below this are negative.
    #[serde(default = "default_neg")]
    pub negative_threshold: f32,
    /// Model folder for the transformer classifier.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Path to the ONNX Runtime shared library (else `ORT_DYLIB_PATH`).
    #[serde(default)]
    pub runtime: Option<PathBuf>,
    /// Classifier to use when the configured one cannot load (only `lexicon`).
    #[serde(default)]
    pub fallback: Option<ClassifierKind>,
    /// Texts per inference batch.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Inference threads (0 = one per core).
    #[serde(default)]
    pub threads: usize,
}

fn default_pos() -> f32 {
    0.05
}
fn default_neg() -> f32 {
    -0.05
}
fn default_batch() -> usize {
    16
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            kind: ClassifierKind::Lexicon,
            positive_threshold: default_pos(),
            negative_threshold: default_neg(),
            model: None,
            runtime: None,
            fallback: None,
            batch_size: default_batch(),
            threads: 0,
        }
    }
}

impl ClassifierConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(-1.0..=1.0).contains(&self.positive_threshold) {
            out.push(("positive_threshold".into(), "must be within [-1, 1]".into()));
        }
        if !(-1.0..=1.0).contains(&self.negative_threshold) {
            out.push(("negative_threshold".into(), "must be within [-1, 1]".into()));
        }
        if self.negative_threshold > self.positive_threshold {
            out.push((
                "negative_threshold".into(),
                "must not be above positive_threshold".into(),
            ));
        }
        if self.kind == ClassifierKind::Transformer && self.model.is_none() {
            out.push((
                "model".into(),
                "type = \"transformer\" needs `model = \"models/NAME\"` (a folder with model.onnx, tokenizer.json, config.json)".into(),
            ));
        }
        if self.fallback == Some(ClassifierKind::Transformer) {
            out.push(("fallback".into(), "only `lexicon` can be a fallback".into()));
        }
        if self.batch_size == 0 {
            out.push(("batch_size".into(), "must be at least 1".into()));
        }
        out
    }

    /// Label for a polarity score under these thresholds.
    pub fn label_for(&self, score: f32) -> crate::model::Label {
        use crate::model::Label;
        if score >= self.positive_threshold {
            Label::Positive
        } else if score <= self.negative_threshold {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

/// Build the configured classifier (honouring `fallback`).
pub fn build(config: &ClassifierConfig) -> Result<Arc<dyn Classifier>, SentimentError> {
    build_reporting(config).map(|(c, _)| c)
}

/// [`build`], also saying why the configured classifier was replaced by the fallback
/// (the daemon reports that as a health problem).
pub fn build_reporting(
    config: &ClassifierConfig,
) -> Result<(Arc<dyn Classifier>, Option<String>), SentimentError> {
    match config.kind {
        ClassifierKind::Lexicon => Ok((Arc::new(lexicon::Lexicon::new(config)), None)),
        ClassifierKind::Transformer => {
            match transformer::TransformerClassifier::from_config(config) {
                Ok(c) => Ok((Arc::new(c) as Arc<dyn Classifier>, None)),
                Err(e) => match config.fallback {
                    Some(ClassifierKind::Lexicon) => {
                        tracing::error!(error = %e, "transformer classifier failed to load; falling back to the lexicon classifier");
                        Ok((
                            Arc::new(lexicon::Lexicon::new(config)) as Arc<dyn Classifier>,
                            Some(e.to_string()),
                        ))
                    }
                    _ => Err(e),
                },
            }
        }
    }
}
