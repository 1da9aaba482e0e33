//! `pulse train --out DIR`: train the sentiment head over the MiniLM encoder (see
//! `crate::sentiment::train`) and write `head.json` + `MODEL_CARD.md`.

use super::Globals;
use crate::sentiment::corpus::{Origin, Sample};
use crate::sentiment::train::{self, TrainOptions};
use crate::sentiment::transformer::{runtime, EngineOptions};
use crate::sentiment::user_labels;
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder for head.json and MODEL_CARD.md (the encoder files are copied there if it is not
    /// the --model folder).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Encoder folder (all-MiniLM-L6-v2 from `scripts/fetch-model.sh minilm`).
    #[arg(long, value_name = "DIR", default_value = "models/minilm-sentiment")]
    pub model: PathBuf,
    /// Folder holding train/ and tweeteval-sentiment/.
    #[arg(long, value_name = "DIR", default_value = "../shared/data")]
    pub data: PathBuf,
    /// Embedding cache (one file per encoder checksum; re-runs only embed new texts).
    #[arg(long, value_name = "DIR", default_value = "data/embedding-cache")]
    pub cache_dir: PathBuf,
    /// Seed of the validation split and the training order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Train on at most N texts (the first N of the seeded shuffle).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Size of the own validation split (SemEval tweets).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub val_size: usize,
    /// Add the human labels stored by `pulse label` (from the configured store).
    #[arg(long)]
    pub include_labels: bool,
    /// L2 strengths to try (repeatable; linfa sums the loss over texts, so this is sklearn's 1/C); the best on the validation split wins.
    #[arg(long = "alpha", value_name = "A", default_values_t = [10.0])]
    pub alphas: Vec<f64>,
    #[arg(long, default_value_t = 100)]
    pub max_iterations: u64,
    /// Texts per encoder call.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Encoder threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// ONNX Runtime library (default: `[classifier] runtime`, ORT_DYLIB_PATH, then python3's onnxruntime).
    #[arg(long, value_name = "FILE")]
    pub runtime: Option<PathBuf>,
    /// Feature sets to try: `embedding`, `embedding+lexicon` (repeatable; default both).
    #[arg(long = "features", value_name = "SET", value_parser = ["embedding", "embedding+lexicon"], default_values_t = ["embedding".to_string(), "embedding+lexicon".to_string()])]
    pub features: Vec<String>,
    /// Hidden sizes of one-hidden-layer MLP heads to try beside the logistic ones (repeatable;
    /// `--mlp 0` for none).
    #[arg(long = "mlp", value_name = "UNITS", default_values_t = [256usize])]
    pub mlp: Vec<usize>,
    /// MLP training epochs (the best epoch on the validation split is kept).
    #[arg(long, default_value_t = 16)]
    pub mlp_epochs: usize,
    /// L2 penalty of the MLP weights.
    #[arg(long, default_value_t = 1e-2)]
    pub mlp_weight_decay: f32,
    /// Weights of the lexicon's vote mixed into the head's probabilities to try (repeatable; 0 = the
    /// head alone).
    #[arg(long = "lexicon-vote", value_name = "W", default_values_t = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45])]
    pub lexicon_vote: Vec<f64>,
    /// Skip the out-of-domain folds (each training source but SemEval tweets held out in turn, every
    /// head refitted without it); then the best own-validation macro-recall wins.
    #[arg(long)]
    pub no_out_of_domain: bool,
    /// With out-of-domain folds: choose by the worst margin over the lexicon among candidates whose
    /// own-validation macro-recall is at least this.
    #[arg(long, value_name = "MR", default_value_t = 0.65)]
    pub min_val_macro_recall: f64,
    /// Do not score the candidates on the TweetEval val / VADER files under --data.
    #[arg(long)]
    pub no_report_sets: bool,
    /// Only fill the embedding cache.
    #[arg(long)]
    pub embed_only: bool,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = if g.config_path.exists() {
        Some(g.load_config()?)
    } else {
        None
    };
    let runtime = args
        .runtime
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.classifier.runtime.clone()))
        .or_else(|| runtime::discover("python3"));
    let mut extra = Vec::new();
    if args.include_labels {
        let config = config
            .as_ref()
            .context("--include-labels needs the config file (it names the store)")?;
        let store = crate::daemon::open_store(config)?;
        for l in user_labels::all(store.db())? {
            extra.push(Sample {
                text: l.text,
                label: l.label,
                origin: Origin::UserLabel,
            });
        }
        if extra.is_empty() {
            tracing::warn!("--include-labels: no labels stored yet (`pulse label MENTION_ID positive|negative|neutral`)");
        }
    }
    let opts = TrainOptions {
        data: args.data.clone(),
        model: args.model.clone(),
        out: args.out.clone(),
        cache_dir: args.cache_dir.clone(),
        seed: args.seed,
        limit: args.limit,
        val_size: args.val_size,
        engine: EngineOptions {
            runtime,
            threads: args.threads,
            batch_size: args.batch_size.max(1),
            max_length: None,
        },
        alphas: args.alphas.clone(),
        max_iterations: args.max_iterations,
        extra,
        lexicon_options: args
            .features
            .iter()
            .map(|f| f == "embedding+lexicon")
            .collect(),
        report_sets: !args.no_report_sets,
        vote_weights: args.lexicon_vote.clone(),
        out_of_domain: !args.no_out_of_domain,
        min_val_macro_recall: args.min_val_macro_recall,
        mlp_hidden: args.mlp.iter().copied().filter(|&u| u > 0).collect(),
        mlp_epochs: args.mlp_epochs,
        mlp_weight_decay: args.mlp_weight_decay,
        embed_only: args.embed_only,
        command: std::iter::once("pulse".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} embedding [{bar:40}] {pos}/{len} texts ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let report = tokio::task::spawn_blocking(move || train::train(&opts, &bar))
        .await
        .context("training task failed")??;
    println!(
        "data: {} training texts (negative {}, neutral {}, positive {}), {} validation; {} removed as TweetEval val overlap",
        report.train_texts,
        report.train_by_class[0],
        report.train_by_class[1],
        report.train_by_class[2],
        report.val_texts,
        report.cleaning.tweeteval_val_overlap
    );
    println!(
        "embeddings: {} new in {:.0}s, {} were cached",
        report.embedded, report.embed_seconds, report.cached
    );
    for c in &report.candidates {
        println!(
            "candidate {} lexicon-features {} alpha {} prior-corrected {} lexicon-vote {}: val macro-recall {:.4}{}{}{}",
            c.kind,
            c.lexicon_features,
            c.alpha,
            c.prior_corrected,
            c.vote_weight,
            c.val_macro_recall,
            c.out_of_domain
                .iter()
                .map(|(n, m)| format!(", held-out {n} {m:.4}"))
                .collect::<String>(),
            c.ood_margin
                .map(|m| format!(", worst margin over lexicon {m:+.4}"))
                .unwrap_or_default(),
            c.report
                .iter()
                .map(|(n, m)| format!(", {n} {m:.4}"))
                .collect::<String>()
        );
    }
    let chosen = report.chosen.and_then(|i| report.candidates.get(i));
    if let (Some(v), Some(path), Some(k)) = (&report.validation, &report.head_path, chosen) {
        println!(
            "head: {} ({}, lexicon features {}, alpha {}, prior-corrected {}, lexicon vote {}; chosen by {}); validation macro-recall {:.4}, accuracy {:.4}, macro-F1 {:.4} on {} texts",
            path.display(),
            k.kind,
            k.lexicon_features,
            k.alpha,
            k.prior_corrected,
            k.vote_weight,
            report.selection,
            v.macro_recall,
            v.accuracy,
            v.macro_f1,
            v.texts
        );
    }
    Ok(())
}
