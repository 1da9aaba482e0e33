//! The trained sentiment head over a sentence encoder, and the classifier that joins the two.
//!
//! A head is a multinomial logistic regression or a one-hidden-layer MLP over the encoder's
//! mean-pooled, L2-normalised embedding of the [prepared](super::corpus::prepare) text (optionally
//! joined with the lexicon's scores), and may mix the lexicon's own vote into its class probabilities
//! ([`LexiconVote`]). It lives in `head.json` beside the encoder's `model.onnx`: small enough to commit,
//! and it records how it was made and the validation score it reached, which a test recomputes.

use super::corpus::prepare;
use super::transformer::{Encoder, EngineOptions, TransformerError};
use super::{Classifier, SentimentError};
use crate::model::{Label, Sentiment};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the head inside a model folder.
pub const HEAD_FILE: &str = "head.json";

/// Current head file format (2 added `lexicon_vote`; format 1 files still load).
pub const FORMAT: u32 = 2;

/// Class order of every head: the output row `i` is `CLASSES[i]`.
pub const CLASSES: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

/// Errors from reading or using a head file.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("bad head file {path}: {reason}; retrain it with `pulse train --out DIR`")]
    Bad {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// How the head was validated when it was trained; the committed head's test recomputes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Seed that drew the validation split (see [`super::corpus::split`]).
    pub seed: u64,
    /// Texts in the split.
    pub texts: usize,
    /// Batch size the texts were classified with (int8 activations are quantised per batch).
    pub batch_size: usize,
    pub macro_recall: f64,
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// The encoder the head was trained on, so a head is never used over another model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderInfo {
    /// sha256 of `model.onnx`.
    pub model_sha256: String,
    pub normalize: bool,
    pub dim: usize,
}

/// The hidden layer of an `mlp` head: `relu(weights · features + bias)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    /// `[units][width]`.
    pub weights: Vec<Vec<f32>>,
    /// `[units]`.
    pub bias: Vec<f32>,
}

/// The lexicon's label mixed into the head's probabilities: `p = (1 − weight)·p_head + weight·onehot`,
/// where `onehot` marks the class the lexicon classifier picks from VADER's compound score with the
/// same inclusive thresholds as `[classifier]` (positive at or above `positive_threshold`, negative at
/// or below `negative_threshold`). Trained heads pick `weight` on held-out domains (see
/// `super::train`): the lexicon generalises across domains better than a head fitted to tweets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconVote {
    pub weight: f32,
    pub positive_threshold: f32,
    pub negative_threshold: f32,
}

impl LexiconVote {
    /// Index into [`CLASSES`] of the lexicon's label for a compound score.
    pub fn class(&self, compound: f32) -> usize {
        if compound >= self.positive_threshold {
            2
        } else if compound <= self.negative_threshold {
            0
        } else {
            1
        }
    }

    /// Mixes the vote into class probabilities.
    pub fn apply(&self, p: [f32; 3], compound: f32) -> [f32; 3] {
        let k = self.class(compound);
        let mut out = p.map(|v| (1.0 - self.weight) * v);
        out[k] += self.weight;
        out
    }
}

/// `head.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub format: u32,
    /// Always `logistic` for now.
    pub kind: String,
    pub classes: Vec<String>,
    pub encoder: EncoderInfo,
    /// VADER's compound, pos, neu and neg scores of the raw text follow the embedding as 4 more
    /// features (see [`lexicon_features`]).
    #[serde(default)]
    pub lexicon_features: bool,
    /// Hidden ReLU layer of an `mlp` head (absent for `logistic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Hidden>,
    /// `[classes][width]` for `logistic`, `[classes][hidden units]` for `mlp`.
    pub weights: Vec<Vec<f32>>,
    /// `[classes]`, prior correction included.
    pub bias: Vec<f32>,
    /// The lexicon's vote mixed into the probabilities (absent: the head alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon_vote: Option<LexiconVote>,
    pub validation: Validation,
    /// Free-form provenance: command, date, data counts, chosen hyper-parameters.
    #[serde(default)]
    pub training: serde_json::Value,
}

impl Head {
    pub fn read(path: &Path) -> Result<Head, HeadError> {
        let text = std::fs::read_to_string(path).map_err(|source| HeadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let head: Head = serde_json::from_str(&text).map_err(|e| HeadError::Bad {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        head.check().map_err(|reason| HeadError::Bad {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(head)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)
    }

    /// Shapes agree and the classes are the three polarities in [`CLASSES`] order.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=FORMAT).contains(&self.format) {
            return Err(format!(
                "format {} (this build reads 1 to {FORMAT})",
                self.format
            ));
        }
        if let Some(v) = &self.lexicon_vote {
            if !(0.0..=1.0).contains(&v.weight)
                || !v.positive_threshold.is_finite()
                || !v.negative_threshold.is_finite()
                || v.negative_threshold >= v.positive_threshold
            {
                return Err("lexicon_vote needs a weight in 0..=1 and negative_threshold < positive_threshold".into());
            }
        }
        match (self.kind.as_str(), &self.hidden) {
            ("logistic", None) => {}
            ("mlp", Some(h)) => {
                if h.weights.is_empty() || h.weights.len() != h.bias.len() {
                    return Err("hidden weights and bias must have one row per unit".into());
                }
                if h.weights.iter().any(|w| w.len() != self.width()) {
                    return Err(format!(
                        "every hidden weight row must have {} values",
                        self.width()
                    ));
                }
                if h.weights
                    .iter()
                    .flatten()
                    .chain(&h.bias)
                    .any(|v| !v.is_finite())
                {
                    return Err("weights must be finite".into());
                }
            }
            ("mlp", None) => return Err("an `mlp` head needs `hidden`".into()),
            (kind, _) => return Err(format!("unknown head kind `{kind}` (logistic or mlp)")),
        }
        let want: Vec<&str> = CLASSES.iter().map(|c| c.as_str()).collect();
        if self.classes != want {
            return Err(format!("classes {:?}, expected {want:?}", self.classes));
        }
        if self.weights.len() != CLASSES.len() || self.bias.len() != CLASSES.len() {
            return Err("weights and bias must have one row per class".into());
        }
        let inputs = self.hidden.as_ref().map_or(self.width(), |h| h.bias.len());
        if self.weights.iter().any(|w| w.len() != inputs) {
            return Err(format!("every weight row must have {inputs} values"));
        }
        if self
            .weights
            .iter()
            .flatten()
            .chain(&self.bias)
            .any(|v| !v.is_finite())
        {
            return Err("weights must be finite".into());
        }
        Ok(())
    }

    /// Features per text: the embedding, plus the lexicon's 4 scores when the head uses them.
    pub fn width(&self) -> usize {
        self.encoder.dim
            + if self.lexicon_features {
                LEXICON_FEATURES
            } else {
                0
            }
    }

    /// Class probabilities for one feature vector ([`Head::width`] values).
    pub fn probabilities(&self, features: &[f32]) -> [f32; 3] {
        let hidden: Vec<f32>;
        let embedding = match &self.hidden {
            None => features,
            Some(h) => {
                hidden = h
                    .weights
                    .iter()
                    .zip(&h.bias)
                    .map(|(w, b)| {
                        (b + w.iter().zip(features).map(|(w, x)| w * x).sum::<f32>()).max(0.0)
                    })
                    .collect();
                &hidden
            }
        };
        let mut z = [0f32; 3];
        for (k, zk) in z.iter_mut().enumerate() {
            *zk = self.bias[k]
                + self.weights[k]
                    .iter()
                    .zip(embedding)
                    .map(|(w, x)| w * x)
                    .sum::<f32>();
        }
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e = z.map(|v| (v - max).exp());
        let sum: f32 = e.iter().sum();
        e.map(|v| v / sum)
    }

    /// Sentiment for one feature vector and the text's VADER compound score (used by the lexicon
    /// vote): the top class, score = P(positive) − P(negative).
    pub fn sentiment(&self, features: &[f32], compound: f32) -> Sentiment {
        let mut p = self.probabilities(features);
        if let Some(v) = &self.lexicon_vote {
            p = v.apply(p, compound);
        }
        let top = (0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        Sentiment {
            label: CLASSES[top],
            score: (p[2] - p[0]).clamp(-1.0, 1.0),
            confidence: p[top],
        }
    }
}

/// Thresholds of the lexicon's vote: `[classifier]`'s defaults, i.e. what `pulse eval --classifier
/// lexicon` measures.
pub const LEXICON_POSITIVE_THRESHOLD: f32 = 0.05;
pub const LEXICON_NEGATIVE_THRESHOLD: f32 = -0.05;

/// Number of lexicon features.
pub const LEXICON_FEATURES: usize = 4;

/// VADER's compound, pos, neu and neg scores of a text, the lexicon features a head may use.
pub fn lexicon_features(vader: &super::lexicon::Vader, text: &str) -> [f32; LEXICON_FEATURES] {
    let s = vader.polarity_scores(text);
    [s.compound as f32, s.pos as f32, s.neu as f32, s.neg as f32]
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

/// The `[classifier] type = "transformer"` classifier for `config.model`: encoder + trained head when the
/// folder has a `head.json` (e.g. `models/minilm-sentiment` after `pulse train`), else the folder's own
/// sequence-classification model.
pub fn classifier_from_config(
    config: &super::ClassifierConfig,
) -> Result<std::sync::Arc<dyn Classifier>, SentimentError> {
    let Some(folder) = config.model.as_deref() else {
        // The plain classifier names the missing setting.
        return super::transformer::TransformerClassifier::from_config(config)
            .map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn Classifier>);
    };
    if !folder.join(HEAD_FILE).is_file() {
        return super::transformer::TransformerClassifier::from_config(config)
            .map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn Classifier>);
    }
    HeadClassifier::load(folder, &EngineOptions::from_config(config))
        .map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn Classifier>)
        .map_err(|e| SentimentError::Load {
            path: folder.display().to_string(),
            reason: e.to_string(),
        })
}

/// Encoder + trained head: the transformer classifier for a folder with a `head.json`.
pub struct HeadClassifier {
    encoder: Encoder,
    head: Head,
    name: String,
    vader: super::lexicon::Vader,
}

impl std::fmt::Debug for HeadClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadClassifier")
            .field("name", &self.name)
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl HeadClassifier {
    /// Loads `folder/head.json` and the encoder beside it; refuses a head trained on another encoder.
    pub fn load(folder: &Path, opts: &EngineOptions) -> Result<HeadClassifier, TransformerError> {
        let head_path = folder.join(HEAD_FILE);
        let head = Head::read(&head_path).map_err(|e| TransformerError::BadFile {
            path: head_path.clone(),
            reason: e.to_string(),
        })?;
        let encoder = Encoder::load(folder, opts, head.encoder.normalize)?;
        let sha =
            sha256_file(encoder.engine().model_file()).map_err(|e| TransformerError::BadFile {
                path: encoder.engine().model_file().to_path_buf(),
                reason: format!("cannot read: {e}"),
            })?;
        if sha != head.encoder.model_sha256 {
            return Err(TransformerError::BadFile {
                path: head_path,
                reason: format!(
                    "trained on an encoder with sha256 {}, but {} has {sha}; fetch the matching model (`scripts/fetch-model.sh minilm`) or retrain",
                    head.encoder.model_sha256,
                    encoder.engine().model_file().display()
                ),
            });
        }
        if let Some(dim) = encoder.dim() {
            if dim != head.encoder.dim {
                return Err(TransformerError::BadFile {
                    path: head_path,
                    reason: format!(
                        "head expects {}-wide embeddings, the encoder gives {dim}",
                        head.encoder.dim
                    ),
                });
            }
        }
        let name = format!(
            "transformer:{}",
            folder
                .canonicalize()
                .unwrap_or_else(|_| folder.to_path_buf())
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("model")
        );
        Ok(HeadClassifier::new(encoder, head, name))
    }

    /// Joins an already loaded encoder and head (training validates through this).
    pub fn new(encoder: Encoder, head: Head, name: String) -> HeadClassifier {
        HeadClassifier {
            encoder,
            head,
            name,
            vader: super::lexicon::Vader::new(),
        }
    }

    /// The head's input for one raw text and its embedding, and the text's VADER compound score.
    pub fn features(&self, text: &str, embedding: Vec<f32>) -> (Vec<f32>, f32) {
        let mut f = embedding;
        let lex = lexicon_features(&self.vader, text);
        if self.head.lexicon_features {
            f.extend(lex);
        }
        (f, lex[0])
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Embeddings of the prepared texts.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TransformerError> {
        let prepared: Vec<String> = texts.iter().map(|t| prepare(t)).collect();
        let refs: Vec<&str> = prepared.iter().map(String::as_str).collect();
        self.encoder.embed_batch(&refs)
    }
}

impl Classifier for HeadClassifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn classify_batch(&self, texts: &[&str]) -> Result<Vec<Sentiment>, SentimentError> {
        let emb = self.embed(texts)?;
        Ok(emb
            .into_iter()
            .zip(texts)
            .map(|(e, t)| {
                let (f, compound) = self.features(t, e);
                self.head.sentiment(&f, compound)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            format: FORMAT,
            kind: "logistic".into(),
            classes: vec!["negative".into(), "neutral".into(), "positive".into()],
            encoder: EncoderInfo {
                model_sha256: "x".into(),
                normalize: true,
                dim: 2,
            },
            lexicon_features: false,
            hidden: None,
            weights: vec![vec![-1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]],
            bias: vec![0.0, 0.0, 0.0],
            lexicon_vote: None,
            validation: Validation {
                seed: 1,
                texts: 0,
                batch_size: 32,
                macro_recall: 0.0,
                accuracy: 0.0,
                macro_f1: 0.0,
            },
            training: serde_json::Value::Null,
        }
    }

    #[test]
    fn predicts_the_class_the_weights_point_at() {
        let h = head();
        assert_eq!(h.sentiment(&[3.0, 0.0], 0.0).label, Label::Positive);
        assert_eq!(h.sentiment(&[-3.0, 0.0], 0.0).label, Label::Negative);
        assert_eq!(h.sentiment(&[0.0, 3.0], 0.0).label, Label::Neutral);
        let s = h.sentiment(&[3.0, 0.0], 0.0);
        assert!(s.score > 0.9 && s.confidence > 0.9, "{s:?}");
        let p = h.probabilities(&[0.3, -0.2]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_lexicon_vote_shifts_close_calls_only() {
        let mut h = head();
        h.lexicon_vote = Some(LexiconVote {
            weight: 0.25,
            positive_threshold: 0.05,
            negative_threshold: -0.05,
        });
        // a confident head keeps its class whatever the lexicon says
        assert_eq!(h.sentiment(&[3.0, 0.0], -0.9).label, Label::Positive);
        // a close call between positive and neutral goes the lexicon's way
        let alone = Head {
            lexicon_vote: None,
            ..h.clone()
        };
        assert_eq!(alone.sentiment(&[0.6, 0.5], 0.0).label, Label::Positive);
        assert_eq!(h.sentiment(&[0.6, 0.5], 0.0).label, Label::Neutral);
        assert_eq!(h.sentiment(&[0.6, 0.5], 0.6).label, Label::Positive);
        // the thresholds are inclusive, as in `[classifier]`
        let v = h.lexicon_vote.unwrap();
        assert_eq!((v.class(0.05), v.class(-0.05), v.class(0.0499)), (2, 0, 1));
        let p = v.apply([0.2, 0.3, 0.5], -0.3);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] - (0.75 * 0.2 + 0.25)).abs() < 1e-6);
        // and it survives the file
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        h.write(&path).unwrap();
        assert_eq!(Head::read(&path).unwrap(), h);
        h.lexicon_vote = Some(LexiconVote { weight: 1.5, ..v });
        h.write(&path).unwrap();
        assert!(Head::read(&path)
            .unwrap_err()
            .to_string()
            .contains("lexicon_vote"));
    }

    #[test]
    fn round_trips_exactly_and_rejects_bad_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut h = head();
        h.weights[0][1] = 0.1234567_f32;
        h.bias[2] = -1.0e-7;
        h.write(&path).unwrap();
        assert_eq!(Head::read(&path).unwrap(), h);

        h.weights[1].push(1.0);
        h.write(&path).unwrap();
        let e = Head::read(&path).unwrap_err().to_string();
        assert!(e.contains("2 values"), "{e}");
        // an mlp head: hidden rows take the features, output rows take the hidden units
        let mut m = head();
        m.kind = "mlp".into();
        m.hidden = Some(Hidden {
            weights: vec![
                vec![1.0, 0.0],
                vec![-1.0, 0.0],
                vec![0.0, 1.0],
                vec![0.0, 0.0],
            ],
            bias: vec![0.0; 4],
        });
        m.weights = vec![
            vec![0.0, 1.0, 0.0, 0.0],
            vec![0.0, 0.0, 1.0, 0.0],
            vec![1.0, 0.0, 0.0, 0.0],
        ];
        m.write(&path).unwrap();
        let m = Head::read(&path).unwrap();
        assert_eq!(m.sentiment(&[2.0, 0.0], 0.0).label, Label::Positive);
        assert_eq!(m.sentiment(&[-2.0, 0.0], 0.0).label, Label::Negative);
        assert_eq!(m.sentiment(&[0.0, 2.0], 0.0).label, Label::Neutral);
        let mut bad = m.clone();
        bad.weights[0].pop();
        bad.write(&path).unwrap();
        let e = Head::read(&path).unwrap_err().to_string();
        assert!(e.contains("4 values"), "{e}");

        let mut h = head();
        h.classes.swap(0, 2);
        h.write(&path).unwrap();
        assert!(Head::read(&path)
            .unwrap_err()
            .to_string()
            .contains("classes"));
    }
}
