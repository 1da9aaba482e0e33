//! Crate-versus-own-code evidence for the lexicon classifier: the `vader-parity` crate and
//! Pulse's own scorer on the same texts in one run, one core, printing texts/s, the ratio
//! and how many compound scores differ. Run with `cargo bench --bench lexicon`.
//! (`pulse bench lexicon` measures against the Python reference itself.)

use pulse::sentiment::eval;
use pulse::sentiment::lexicon::{Scratch, Vader};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn shared_data() -> PathBuf {
    std::env::var_os("PULSE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn texts() -> Vec<String> {
    let data = shared_data();
    let mut texts = Vec::new();
    for f in [
        "vader/tweets_GroundTruth.txt",
        "vader/amazonReviewSnippets_GroundTruth.txt",
    ] {
        let path = data.join(f);
        let ex = eval::read_vader(&path).unwrap_or_else(|e| {
            panic!("{e}: set PULSE_SHARED_DATA or put ../shared beside the repo")
        });
        texts.extend(ex.into_iter().map(|e| e.text));
    }
    let val = std::fs::read_to_string(data.join("tweeteval-sentiment/val_text.txt"))
        .expect("read val_text.txt");
    texts.extend(eval::split_lines(&val).into_iter().map(str::to_string));
    texts
}

/// Best of `runs` timings of `rounds` passes, in texts per second.
fn measure(texts: &[String], rounds: usize, runs: usize, mut f: impl FnMut(&str) -> f64) -> f64 {
    for t in texts {
        black_box(f(t));
    }
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..rounds {
            for t in texts {
                black_box(f(black_box(t)));
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    (texts.len() * rounds) as f64 / best
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"lexicon".contains(a.as_str()))
    {
        return;
    }
    let texts = texts();
    let ours = Vader::new();
    let crate_peer = vader_parity::SentimentIntensityAnalyzer::new();

    let differ = texts
        .iter()
        .filter(|t| {
            (ours.polarity_scores(t).compound - crate_peer.polarity_scores(t).compound).abs()
                > 1e-4 + 1e-9
        })
        .count();

    // `cargo bench` passes `--bench`; under `cargo test --all-targets` this is a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, runs) = if full { (5, 5) } else { (1, 1) };
    let mut scratch = Scratch::default();
    let own = measure(&texts, rounds, runs, |t| {
        ours.scores_with(t, &mut scratch).compound
    });
    let peer = measure(&texts, rounds, runs, |t| {
        crate_peer.polarity_scores(t).compound
    });
    println!(
        "lexicon scorer, {} texts x {rounds} rounds, best of {runs} runs, one core",
        texts.len()
    );
    println!("  vader-parity 0.1.0 crate : {peer:>12.0} texts/s");
    println!("  pulse own scorer         : {own:>12.0} texts/s");
    println!("  own / crate              : {:>12.1}x", own / peer);
    println!("  compound scores differing between them (> 1e-4): {differ}");
}
