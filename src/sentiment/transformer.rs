//! Transformer sentiment classifier and sentence encoder on ONNX Runtime (through `ort`).
//!
//! A model is a folder: `model.onnx` (or `model_quantized.onnx`), the Hugging Face `tokenizer.json` and
//! the model's `config.json`. A sequence-classification model (output `[batch, classes]`) becomes a
//! [`TransformerClassifier`]: score = P(positive) - P(negative), confidence = the top probability. An
//! encoder (output `[batch, tokens, hidden]`) becomes an [`Encoder`] that mean-pools token vectors into one
//! embedding per text, which is what a small trained head needs.
//!
//! Texts are tokenised in batches of `batch_size`, truncated to the model's maximum length and padded to
//! the longest text of each batch (not to a fixed length: short social posts are most of the traffic).
//! Inference is synchronous and thread-safe (the session sits behind a mutex; ONNX Runtime parallelises
//! inside one run with `threads` intra-op threads), so async callers run it under `spawn_blocking`.

pub mod bench;
pub mod labels;
pub mod runtime;

use self::labels::{LabelMap, Polarity};
use super::{Classifier, ClassifierConfig, SentimentError};
use crate::model::{Label, Sentiment};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use serde_json::Value;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::Tokenizer;

/// Errors from loading or running a transformer model. Each names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TransformerError {
    #[error(
        "onnx runtime library not configured: set `[classifier] runtime = \"/path/to/libonnxruntime.so\"` \
         or the ORT_DYLIB_PATH environment variable (`pip install onnxruntime==1.31.1` ships it as \
         onnxruntime/capi/libonnxruntime.so.*)"
    )]
    RuntimeNotConfigured,
    #[error("cannot load onnx runtime from {path}: {reason}")]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error("cannot use model folder {path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    #[error("missing {path}: a model folder needs model.onnx (or model_quantized.onnx), tokenizer.json and config.json; fetch one with `scripts/fetch-model.sh NAME`")]
    MissingFile { path: PathBuf },
    #[error("bad model file {path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error("tokenising failed: {0}")]
    Tokenize(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

impl From<TransformerError> for SentimentError {
    fn from(e: TransformerError) -> Self {
        match e {
            TransformerError::Tokenize(_) | TransformerError::Inference(_) => {
                SentimentError::Inference(e.to_string())
            }
            other => SentimentError::Load {
                path: "transformer model".into(),
                reason: other.to_string(),
            },
        }
    }
}

/// How to load and run a model.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// ONNX Runtime library (file or folder); `None` = `ORT_DYLIB_PATH`.
    pub runtime: Option<PathBuf>,
    /// Intra-op threads; 0 = ONNX Runtime's default (one per physical core).
    pub threads: usize,
    /// Texts per inference call.
    pub batch_size: usize,
    /// Override the maximum sequence length read from the model folder.
    pub max_length: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            runtime: None,
            threads: 0,
            batch_size: 16,
            max_length: None,
        }
    }
}

impl EngineOptions {
    pub fn from_config(config: &ClassifierConfig) -> EngineOptions {
        EngineOptions {
            runtime: config.runtime.clone(),
            threads: config.threads,
            batch_size: config.batch_size.max(1),
            max_length: None,
        }
    }
}

/// What the model's output looks like, decided at load time from the session's declared output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputKind {
    /// `[batch, classes]`
    Logits,
    /// `[batch, tokens, hidden]`
    Hidden,
}

/// Integer type the graph wants for its token inputs (exports use int64; a few use int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdType {
    I64,
    I32,
}

#[derive(Debug, Clone)]
struct InputSpec {
    ids: String,
    mask: Option<String>,
    types: Option<String>,
    dtype: IdType,
}

/// One tokenised batch, padded to its longest text: row-major `[rows, seq]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedBatch {
    pub rows: usize,
    pub seq: usize,
    pub ids: Vec<i64>,
    pub mask: Vec<i64>,
    pub types: Vec<i64>,
}

/// A model output for one batch: row-major with `shape`.
#[derive(Debug, Clone)]
pub struct RawOutput {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Tokenizer + ONNX session for one model folder: shared by the classifier and the encoder.
pub struct Engine {
    folder: PathBuf,
    model_file: PathBuf,
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    inputs: InputSpec,
    output: String,
    output_kind: OutputKind,
    /// Last output dimension when the graph declares it (classes or hidden size).
    output_width: Option<usize>,
    pad_id: u32,
    max_length: usize,
    batch_size: usize,
    config: Value,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model_file", &self.model_file)
            .field("inputs", &self.inputs)
            .field("output", &self.output)
            .field("max_length", &self.max_length)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// The files a model folder provides, checked before anything is loaded.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub folder: PathBuf,
    pub model: PathBuf,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
}

impl ModelFiles {
    /// Finds the files in `folder`; the error names the first one missing.
    pub fn locate(folder: &Path) -> Result<ModelFiles, TransformerError> {
        if !folder.is_dir() {
            return Err(TransformerError::Folder {
                path: folder.to_path_buf(),
                reason: if folder.exists() {
                    "not a folder".into()
                } else {
                    "no such folder; fetch a model with `scripts/fetch-model.sh NAME` or fix `[classifier] model`".into()
                },
            });
        }
        // Flat layout first; `onnx/` is where Xenova/optimum repositories keep the graph.
        let candidates = [
            "model.onnx",
            "model_quantized.onnx",
            "onnx/model.onnx",
            "onnx/model_quantized.onnx",
        ];
        let model = candidates
            .iter()
            .map(|c| folder.join(c))
            .find(|p| p.is_file())
            .ok_or_else(|| TransformerError::MissingFile {
                path: folder.join("model.onnx"),
            })?;
        let tokenizer = folder.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(TransformerError::MissingFile { path: tokenizer });
        }
        let config = folder.join("config.json");
        if !config.is_file() {
            return Err(TransformerError::MissingFile { path: config });
        }
        Ok(ModelFiles {
            folder: folder.to_path_buf(),
            model,
            tokenizer,
            config,
        })
    }
}

fn read_json(path: &Path) -> Result<Value, TransformerError> {
    let text = std::fs::read_to_string(path).map_err(|e| TransformerError::BadFile {
        path: path.to_path_buf(),
        reason: format!("cannot read: {e}"),
    })?;
    serde_json::from_str(&text).map_err(|e| TransformerError::BadFile {
        path: path.to_path_buf(),
        reason: format!("not valid JSON: {e}"),
    })
}

impl Engine {
    /// Loads the tokenizer, config and ONNX session of a model folder.
    pub fn load(folder: &Path, opts: &EngineOptions) -> Result<Engine, TransformerError> {
        let files = ModelFiles::locate(folder)?;
        let config = read_json(&files.config)?;
        if !config.is_object() {
            return Err(TransformerError::BadFile {
                path: files.config.clone(),
                reason: "expected a JSON object".into(),
            });
        }
        let mut tokenizer =
            Tokenizer::from_file(&files.tokenizer).map_err(|e| TransformerError::BadFile {
                path: files.tokenizer.clone(),
                reason: format!("not a Hugging Face tokenizer.json: {e}"),
            })?;
        let max_length = max_length(&files, &config, &tokenizer, opts.max_length);
        let pad_id = pad_id(&config, &tokenizer);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| TransformerError::BadFile {
                path: files.tokenizer.clone(),
                reason: format!("cannot set truncation to {max_length}: {e}"),
            })?;
        // Padding is done per batch here (to the longest text), not by the tokenizer's fixed setting.
        tokenizer.with_padding(None);

        let env = runtime::environment(opts.runtime.as_deref())?;
        let bad_model = |reason: String| TransformerError::BadFile {
            path: files.model.clone(),
            reason,
        };
        let mut builder = Session::builder(&env).map_err(|e| bad_model(e.to_string()))?;
        builder = builder
            .with_log_level(ort::logging::LogLevel::Warning)
            .map_err(|e| bad_model(e.to_string()))?;
        if opts.threads > 0 {
            builder = builder
                .with_intra_threads(opts.threads)
                .map_err(|e| bad_model(format!("cannot set {} threads: {e}", opts.threads)))?;
        }
        let session = builder
            .commit_from_file(&files.model)
            .map_err(|e| bad_model(format!("onnx runtime cannot load it: {e}")))?;

        let inputs = input_spec(&session).map_err(bad_model)?;
        let (output, output_kind, output_width) = output_spec(&session).map_err(bad_model)?;
        tracing::debug!(
            model = %files.model.display(),
            inputs = ?inputs,
            output = %output,
            max_length,
            pad_id,
            "loaded transformer model"
        );
        Ok(Engine {
            folder: files.folder,
            model_file: files.model,
            session: Mutex::new(session),
            tokenizer,
            inputs,
            output,
            output_kind,
            output_width,
            pad_id,
            max_length,
            batch_size: opts.batch_size.max(1),
            config,
        })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    pub fn model_file(&self) -> &Path {
        &self.model_file
    }

    /// The model's parsed `config.json`.
    pub fn model_config(&self) -> &Value {
        &self.config
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// True when the graph takes `token_type_ids`.
    pub fn uses_token_types(&self) -> bool {
        self.inputs.types.is_some()
    }

    /// Token ids of each text as the model sees them (special tokens added, truncated, not padded).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TransformerError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| TransformerError::Tokenize(e.to_string()))?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Tokenises texts into one batch padded to its longest text.
    pub fn encode(&self, texts: &[&str]) -> Result<EncodedBatch, TransformerError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| TransformerError::Tokenize(e.to_string()))?;
        let rows = encodings.len();
        // At least one column: a tokenizer without special tokens gives empty encodings for "".
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut batch = EncodedBatch {
            rows,
            seq,
            ids: vec![i64::from(self.pad_id); rows * seq],
            mask: vec![0; rows * seq],
            types: vec![0; rows * seq],
        };
        for (r, enc) in encodings.iter().enumerate() {
            let base = r * seq;
            for (c, ((&id, &m), &t)) in enc
                .get_ids()
                .iter()
                .zip(enc.get_attention_mask())
                .zip(enc.get_type_ids())
                .enumerate()
            {
                batch.ids[base + c] = i64::from(id);
                batch.mask[base + c] = i64::from(m);
                batch.types[base + c] = i64::from(t);
            }
        }
        Ok(batch)
    }

    /// Runs the graph on one encoded batch.
    pub fn run(&self, batch: &EncodedBatch) -> Result<RawOutput, TransformerError> {
        let inf = |what: &str, e: ort::Error| TransformerError::Inference(format!("{what}: {e}"));
        let shape = [batch.rows, batch.seq];
        let mut feeds: Vec<(Cow<'_, str>, ort::session::SessionInputValue<'_>)> =
            Vec::with_capacity(3);
        let mut push = |name: &str, data: &[i64]| -> Result<(), TransformerError> {
            let value: ort::session::SessionInputValue<'_> = match self.inputs.dtype {
                IdType::I64 => Tensor::from_array((shape, data.to_vec()))
                    .map_err(|e| inf(name, e))?
                    .into(),
                IdType::I32 => Tensor::from_array((
                    shape,
                    data.iter().map(|&v| v as i32).collect::<Vec<i32>>(),
                ))
                .map_err(|e| inf(name, e))?
                .into(),
            };
            feeds.push((Cow::Owned(name.to_string()), value));
            Ok(())
        };
        push(&self.inputs.ids, &batch.ids)?;
        if let Some(name) = &self.inputs.mask {
            push(name, &batch.mask)?;
        }
        if let Some(name) = &self.inputs.types {
            push(name, &batch.types)?;
        }
        // A panic elsewhere while holding the lock leaves the session itself intact, so keep using it.
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(feeds).map_err(|e| inf("session run", e))?;
        let value = outputs
            .get(&self.output)
            .ok_or_else(|| TransformerError::Inference(format!("no output `{}`", self.output)))?;
        let (shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| inf(&format!("output `{}`", self.output), e))?;
        Ok(RawOutput {
            shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
            data: data.to_vec(),
        })
    }

    /// Runs texts through the model `batch_size` at a time, calling `each` per batch with its output.
    fn for_each_batch(
        &self,
        texts: &[&str],
        mut each: impl FnMut(&EncodedBatch, RawOutput) -> Result<(), TransformerError>,
    ) -> Result<(), TransformerError> {
        for chunk in texts.chunks(self.batch_size) {
            let batch = self.encode(chunk)?;
            let out = self.run(&batch)?;
            each(&batch, out)?;
        }
        Ok(())
    }
}

/// Which inputs the graph declares; anything beyond ids/mask/type ids cannot be fed.
fn input_spec(session: &Session) -> Result<InputSpec, String> {
    let mut spec = InputSpec {
        ids: String::new(),
        mask: None,
        types: None,
        dtype: IdType::I64,
    };
    let names: Vec<String> = session
        .inputs()
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    for input in session.inputs() {
        let dtype = match input.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Int64,
                ..
            } => IdType::I64,
            ValueType::Tensor {
                ty: TensorElementType::Int32,
                ..
            } => IdType::I32,
            other => {
                return Err(format!(
                    "input `{}` has type {other:?}; expected an int64 or int32 tensor",
                    input.name()
                ))
            }
        };
        match input.name() {
            "input_ids" => {
                spec.ids = input.name().to_string();
                spec.dtype = dtype;
            }
            "attention_mask" => spec.mask = Some(input.name().to_string()),
            "token_type_ids" => spec.types = Some(input.name().to_string()),
            other => {
                return Err(format!(
                    "unsupported input `{other}` (inputs: {}); expected input_ids, attention_mask and optionally token_type_ids",
                    names.join(", ")
                ))
            }
        }
    }
    if spec.ids.is_empty() {
        return Err(format!(
            "no `input_ids` input (inputs: {}); this is not a text transformer export",
            names.join(", ")
        ));
    }
    Ok(spec)
}

/// The output to read: `logits` or `last_hidden_state` by name, else the first; its rank decides the kind.
fn output_spec(session: &Session) -> Result<(String, OutputKind, Option<usize>), String> {
    let outputs = session.outputs();
    let chosen = outputs
        .iter()
        .find(|o| {
            matches!(
                o.name(),
                "logits" | "last_hidden_state" | "token_embeddings"
            )
        })
        .or_else(|| outputs.first())
        .ok_or("the graph has no outputs")?;
    let (ty, shape) = match chosen.dtype() {
        ValueType::Tensor { ty, shape, .. } => (*ty, shape.clone()),
        other => {
            return Err(format!(
                "output `{}` is {other:?}, not a tensor",
                chosen.name()
            ))
        }
    };
    if ty != TensorElementType::Float32 {
        return Err(format!(
            "output `{}` has element type {ty:?}; expected float32",
            chosen.name()
        ));
    }
    let kind = match shape.len() {
        2 => OutputKind::Logits,
        3 => OutputKind::Hidden,
        n => {
            return Err(format!(
                "output `{}` has rank {n} (shape {:?}); expected [batch, classes] logits or [batch, tokens, hidden] states",
                chosen.name(),
                &shape[..]
            ))
        }
    };
    let width = shape
        .last()
        .and_then(|&d| usize::try_from(d).ok())
        .filter(|&d| d > 0);
    Ok((chosen.name().to_string(), kind, width))
}

/// Maximum tokens per text: an explicit override, else the tokenizer's truncation setting, else
/// `tokenizer_config.json`'s `model_max_length`, all capped by what the position embeddings allow.
fn max_length(
    files: &ModelFiles,
    config: &Value,
    tokenizer: &Tokenizer,
    explicit: Option<usize>,
) -> usize {
    let positions = config
        .get("max_position_embeddings")
        .and_then(Value::as_u64)
        .map(|p| {
            let model_type = config
                .get("model_type")
                .and_then(Value::as_str)
                .unwrap_or("");
            // RoBERTa-family position ids start after the padding index (pad_token_id + 1 = 2), so 514
            // positions hold 512 tokens.
            if model_type.contains("roberta") || model_type == "camembert" {
                p.saturating_sub(2) as usize
            } else {
                p as usize
            }
        })
        .filter(|&p| p > 0);
    let from_tokenizer_config = || {
        let path = files.folder.join("tokenizer_config.json");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        // transformers writes a huge sentinel (1e30) when the length is unknown.
        v.get("model_max_length")
            .and_then(Value::as_f64)
            .filter(|m| (1.0..=1_000_000.0).contains(m))
            .map(|m| m as usize)
    };
    let wanted = explicit
        .or_else(|| tokenizer.get_truncation().map(|t| t.max_length))
        .or_else(from_tokenizer_config)
        .or(positions)
        .unwrap_or(512);
    match positions {
        Some(p) => wanted.min(p),
        None => wanted,
    }
    .max(2)
}

/// Padding id: the tokenizer's own padding setting, else `pad_token_id`, else a pad token in the vocabulary.
fn pad_id(config: &Value, tokenizer: &Tokenizer) -> u32 {
    tokenizer
        .get_padding()
        .map(|p| p.pad_id)
        .or_else(|| {
            config
                .get("pad_token_id")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
        })
        .or_else(|| {
            ["[PAD]", "<pad>"]
                .iter()
                .find_map(|t| tokenizer.token_to_id(t))
        })
        .unwrap_or(0)
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// A sentiment classifier from a sequence-classification model folder.
pub struct TransformerClassifier {
    engine: Engine,
    labels: LabelMap,
    name: String,
    config: ClassifierConfig,
}

impl std::fmt::Debug for TransformerClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerClassifier")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl TransformerClassifier {
    /// Loads the model folder named by `config.model`; the error names the folder and what is wrong.
    pub fn from_config(config: &ClassifierConfig) -> Result<TransformerClassifier, SentimentError> {
        let folder = config
            .model
            .as_deref()
            .ok_or_else(|| SentimentError::Load {
                path: "[classifier] model".into(),
                reason:
                    "not set: point it at a model folder (model.onnx, tokenizer.json, config.json)"
                        .into(),
            })?;
        Self::load(folder, &EngineOptions::from_config(config), config).map_err(|e| {
            SentimentError::Load {
                path: folder.display().to_string(),
                reason: e.to_string(),
            }
        })
    }

    pub fn load(
        folder: &Path,
        opts: &EngineOptions,
        config: &ClassifierConfig,
    ) -> Result<TransformerClassifier, TransformerError> {
        // Labels first: a folder with unusable labels fails without loading the runtime.
        let files = ModelFiles::locate(folder)?;
        let labels = LabelMap::from_config(&read_json(&files.config)?).map_err(|reason| {
            TransformerError::BadFile {
                path: files.config.clone(),
                reason,
            }
        })?;
        let engine = Engine::load(folder, opts)?;
        if engine.output_kind != OutputKind::Logits {
            return Err(TransformerError::BadFile {
                path: engine.model_file.clone(),
                reason: format!(
                    "output `{}` is [batch, tokens, hidden] (an encoder without a classification head); a sentiment model must output [batch, classes] logits",
                    engine.output
                ),
            });
        }
        if let Some(width) = engine.output_width {
            if width != labels.len() {
                return Err(TransformerError::BadFile {
                    path: engine.model_file.clone(),
                    reason: format!(
                        "output `{}` has {width} classes but {} names {} in `id2label`",
                        engine.output,
                        files.config.display(),
                        labels.len()
                    ),
                });
            }
        }
        if labels.by_convention {
            tracing::warn!(
                config = %files.config.display(),
                labels = ?labels.names,
                "generic LABEL_n class names: assuming {}; name the classes in id2label if that is wrong",
                if labels.len() == 2 { "negative, positive" } else { "negative, neutral, positive" }
            );
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
        Ok(TransformerClassifier {
            engine,
            labels,
            name,
            config: config.clone(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn labels(&self) -> &LabelMap {
        &self.labels
    }

    /// Raw logits per text, in input order.
    pub fn logits_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TransformerError> {
        let classes = self.labels.len();
        let mut out = Vec::with_capacity(texts.len());
        self.engine.for_each_batch(texts, |batch, raw| {
            if raw.shape != [batch.rows, classes] {
                return Err(TransformerError::Inference(format!(
                    "{} returned shape {:?}; expected [{}, {classes}]",
                    self.engine.model_file.display(),
                    raw.shape,
                    batch.rows
                )));
            }
            out.extend(raw.data.chunks(classes).map(<[f32]>::to_vec));
            Ok(())
        })?;
        Ok(out)
    }

    /// Sentiment from one row of logits.
    pub fn sentiment_of(&self, logits: &[f32]) -> Sentiment {
        let probs = softmax(logits);
        let p = |pol| self.labels.index_of(pol).map_or(0.0, |i| probs[i]);
        let score = (p(Polarity::Positive) - p(Polarity::Negative)).clamp(-1.0, 1.0);
        let (top, confidence) =
            probs
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
                    if v > best.1 {
                        (i, v)
                    } else {
                        best
                    }
                });
        let label = if self.labels.index_of(Polarity::Neutral).is_some() {
            match self.labels.classes[top] {
                Polarity::Positive => Label::Positive,
                Polarity::Negative => Label::Negative,
                Polarity::Neutral => Label::Neutral,
            }
        } else {
            // Two-class models have no neutral class: near-even scores are neutral by the thresholds.
            self.config.label_for(score)
        };
        Sentiment {
            label,
            score,
            confidence,
        }
    }
}

impl Classifier for TransformerClassifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn classify_batch(&self, texts: &[&str]) -> Result<Vec<Sentiment>, SentimentError> {
        let logits = self.logits_batch(texts)?;
        Ok(logits.iter().map(|l| self.sentiment_of(l)).collect())
    }
}

/// Sentence embeddings from an encoder folder: mean of the token vectors under the attention mask,
/// optionally L2-normalised (as sentence-transformers does for all-MiniLM-L6-v2).
pub struct Encoder {
    engine: Engine,
    normalize: bool,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("engine", &self.engine)
            .field("normalize", &self.normalize)
            .finish()
    }
}

impl Encoder {
    pub fn load(
        folder: &Path,
        opts: &EngineOptions,
        normalize: bool,
    ) -> Result<Encoder, TransformerError> {
        let engine = Engine::load(folder, opts)?;
        if engine.output_kind != OutputKind::Hidden {
            return Err(TransformerError::BadFile {
                path: engine.model_file.clone(),
                reason: format!(
                    "output `{}` is [batch, classes]; an encoder must output [batch, tokens, hidden] states",
                    engine.output
                ),
            });
        }
        Ok(Encoder { engine, normalize })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Embedding size when the graph declares it (384 for MiniLM-L6).
    pub fn dim(&self) -> Option<usize> {
        self.engine.output_width
    }

    /// One embedding per text, in input order.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TransformerError> {
        let mut out = Vec::with_capacity(texts.len());
        self.engine.for_each_batch(texts, |batch, raw| {
            let [rows, seq, hidden] = raw.shape[..] else {
                return Err(TransformerError::Inference(format!(
                    "encoder returned shape {:?}; expected [batch, tokens, hidden]",
                    raw.shape
                )));
            };
            if rows != batch.rows || seq != batch.seq {
                return Err(TransformerError::Inference(format!(
                    "encoder returned shape {:?} for a [{}, {}] batch",
                    raw.shape, batch.rows, batch.seq
                )));
            }
            for r in 0..rows {
                out.push(mean_pool(
                    &raw.data[r * seq * hidden..(r + 1) * seq * hidden],
                    &batch.mask[r * seq..(r + 1) * seq],
                    hidden,
                    self.normalize,
                ));
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Mean of the `hidden`-wide token rows whose mask is set; then optionally scaled to unit length.
fn mean_pool(tokens: &[f32], mask: &[i64], hidden: usize, normalize: bool) -> Vec<f32> {
    let mut sum = vec![0f32; hidden];
    let mut count = 0f32;
    for (row, &m) in tokens.chunks(hidden).zip(mask) {
        if m != 0 {
            count += 1.0;
            for (s, v) in sum.iter_mut().zip(row) {
                *s += v;
            }
        }
    }
    let denom = count.max(1e-9);
    sum.iter_mut().for_each(|s| *s /= denom);
    if normalize {
        let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        sum.iter_mut().for_each(|s| *s /= norm);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution() {
        let p = softmax(&[1000.0, 1000.0, 998.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] - p[1]).abs() < 1e-7 && p[2] < p[0]);
    }

    #[test]
    fn mean_pool_ignores_padding_and_normalises() {
        // two tokens of width 2 plus one padded token
        let tokens = [1.0, 2.0, 3.0, 6.0, 100.0, 100.0];
        let mask = [1, 1, 0];
        assert_eq!(mean_pool(&tokens, &mask, 2, false), vec![2.0, 4.0]);
        let n = mean_pool(&tokens, &mask, 2, true);
        assert!((n[0] - 2.0 / 20f32.sqrt()).abs() < 1e-6);
        assert!((n.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
        // an all-padding row stays finite
        assert_eq!(mean_pool(&[5.0, 5.0], &[0], 2, true), vec![0.0, 0.0]);
    }

    #[test]
    fn missing_files_are_named_without_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let e = ModelFiles::locate(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.onnx"), "{e}");
        std::fs::write(dir.path().join("model_quantized.onnx"), b"x").unwrap();
        let e = ModelFiles::locate(dir.path()).unwrap_err().to_string();
        assert!(e.contains("tokenizer.json"), "{e}");
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        let e = ModelFiles::locate(dir.path()).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        let files = ModelFiles::locate(dir.path()).unwrap();
        assert!(files.model.ends_with("model_quantized.onnx"));
        let e = ModelFiles::locate(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such folder"), "{e}");
    }
}
