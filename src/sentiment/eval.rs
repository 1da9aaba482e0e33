//! Evaluating a classifier against human-labelled data: readers for the VADER ground-truth and
//! TweetEval formats, and the metrics `pulse eval` prints (accuracy, macro-F1, macro-recall,
//! Pearson r, confusion matrix, throughput).

use super::{Classifier, SentimentError};
use crate::model::Label;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Half-width of the neutral band around 0 on the VADER raters' −4…+4 scale: a mean above
/// +0.05 is positive, below −0.05 negative, anything in between (inclusive) neutral. This
/// reproduces the class counts documented with the data (tweets 2,824 / 1,268 / 108).
pub const VADER_GOLD_BAND: f64 = 0.05;

/// Class order used by the confusion matrix and the per-class metrics.
pub const CLASSES: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{texts} has {n_texts} texts but {labels} has {n_labels} labels; pass matching files")]
    LengthMismatch {
        texts: PathBuf,
        n_texts: usize,
        labels: PathBuf,
        n_labels: usize,
    },
    #[error("no texts to evaluate in {0}")]
    Empty(PathBuf),
    #[error("classification failed during evaluation: {0}")]
    Classify(#[from] SentimentError),
}

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub gold: Label,
    /// Mean human rating (VADER sets, −4…+4); `None` for categorical data.
    pub mean: Option<f64>,
}

/// Split file contents into lines the way `scripts/vader_reference.py` does: on `\n`, one
/// trailing `\r` removed (CRLF files), a last line without a newline kept.
pub fn split_lines(data: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = data.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Gold label for a VADER mean rating (see [`VADER_GOLD_BAND`]).
pub fn gold_from_mean(mean: f64) -> Label {
    if mean > VADER_GOLD_BAND {
        Label::Positive
    } else if mean < -VADER_GOLD_BAND {
        Label::Negative
    } else {
        Label::Neutral
    }
}

/// Parse VADER ground truth: `ID TAB MEAN TAB TEXT` per line.
pub fn parse_vader(path: &Path, data: &str) -> Result<Vec<Example>, EvalError> {
    let mut out = Vec::new();
    for (i, line) in split_lines(data).into_iter().enumerate() {
        let err = |reason: String| EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let mut fields = line.splitn(3, '\t');
        let (Some(_id), Some(mean), Some(text)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(err(
                "expected ID <TAB> MEAN <TAB> TEXT (VADER ground-truth format)".into(),
            ));
        };
        let mean: f64 = mean
            .trim()
            .parse()
            .map_err(|_| err(format!("mean rating `{mean}` is not a number")))?;
        out.push(Example {
            text: text.to_string(),
            gold: gold_from_mean(mean),
            mean: Some(mean),
        });
    }
    if out.is_empty() {
        return Err(EvalError::Empty(path.to_path_buf()));
    }
    Ok(out)
}

/// Read a VADER ground-truth file.
pub fn read_vader(path: &Path) -> Result<Vec<Example>, EvalError> {
    parse_vader(path, &read(path)?)
}

/// Read TweetEval: one text per line, and one label per line (0 negative, 1 neutral, 2 positive).
pub fn read_tweeteval(text_path: &Path, labels_path: &Path) -> Result<Vec<Example>, EvalError> {
    let texts_data = read(text_path)?;
    let labels_data = read(labels_path)?;
    let texts = split_lines(&texts_data);
    let labels = split_lines(&labels_data);
    if texts.len() != labels.len() {
        return Err(EvalError::LengthMismatch {
            texts: text_path.to_path_buf(),
            n_texts: texts.len(),
            labels: labels_path.to_path_buf(),
            n_labels: labels.len(),
        });
    }
    if texts.is_empty() {
        return Err(EvalError::Empty(text_path.to_path_buf()));
    }
    texts
        .into_iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (text, label))| {
            let gold = match label.trim() {
                "0" => Label::Negative,
                "1" => Label::Neutral,
                "2" => Label::Positive,
                other => {
                    return Err(EvalError::Parse {
                        path: labels_path.to_path_buf(),
                        line: i + 1,
                        reason: format!(
                            "label `{other}` is not 0 (negative), 1 (neutral) or 2 (positive)"
                        ),
                    })
                }
            };
            Ok(Example {
                text: text.to_string(),
                gold,
                mean: None,
            })
        })
        .collect()
}

fn class_index(l: Label) -> usize {
    match l {
        Label::Negative => 0,
        Label::Neutral => 1,
        Label::Positive => 2,
    }
}

/// Confusion matrix: `matrix[gold][predicted]`, both indexed in `labels` order
/// (negative, neutral, positive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub labels: [Label; 3],
    pub matrix: [[u64; 3]; 3],
}

impl Confusion {
    pub fn new(gold: &[Label], predicted: &[Label]) -> Confusion {
        let mut matrix = [[0u64; 3]; 3];
        for (&g, &p) in gold.iter().zip(predicted) {
            matrix[class_index(g)][class_index(p)] += 1;
        }
        Confusion {
            labels: CLASSES,
            matrix,
        }
    }

    fn total(&self) -> u64 {
        self.matrix.iter().flatten().sum()
    }

    fn gold_count(&self, c: usize) -> u64 {
        self.matrix[c].iter().sum()
    }

    fn predicted_count(&self, c: usize) -> u64 {
        self.matrix.iter().map(|row| row[c]).sum()
    }

    /// Fraction of texts whose predicted label equals the gold label.
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        (0..3).map(|c| self.matrix[c][c]).sum::<u64>() as f64 / total as f64
    }

    /// Classes that occur in the gold or the predicted labels: the set scikit-learn's
    /// `classification_report` averages over (TweetEval's official scorer uses it).
    fn present(&self) -> Vec<usize> {
        (0..3)
            .filter(|&c| self.gold_count(c) + self.predicted_count(c) > 0)
            .collect()
    }

    fn recall(&self, c: usize) -> f64 {
        ratio(self.matrix[c][c], self.gold_count(c))
    }

    fn precision(&self, c: usize) -> f64 {
        ratio(self.matrix[c][c], self.predicted_count(c))
    }

    fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Unweighted mean of per-class recall (the SemEval-2017 / TweetEval metric); a 0/0
    /// recall counts as 0, as in scikit-learn.
    pub fn macro_recall(&self) -> f64 {
        mean_over(&self.present(), |c| self.recall(c))
    }

    /// Unweighted mean of per-class F1.
    pub fn macro_f1(&self) -> f64 {
        mean_over(&self.present(), |c| self.f1(c))
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn mean_over(classes: &[usize], f: impl Fn(usize) -> f64) -> f64 {
    if classes.is_empty() {
        return 0.0;
    }
    classes.iter().map(|&c| f(c)).sum::<f64>() / classes.len() as f64
}

/// Pearson correlation coefficient; `None` for fewer than two points or a constant series.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x[..n].iter().zip(&y[..n]) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx.sqrt() * syy.sqrt()))
}

/// What `pulse eval` reports. `pearson_r` is `None` without human mean ratings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub classifier: String,
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub macro_recall: f64,
    pub pearson_r: Option<f64>,
    pub texts_per_second: f64,
    pub confusion: Confusion,
}

/// Classify `examples` in batches of `batch_size` and score the result. `progress` is told how
/// many texts each finished batch held. Throughput counts classification time only.
pub fn evaluate(
    classifier: &dyn Classifier,
    examples: &[Example],
    batch_size: usize,
    mut progress: impl FnMut(usize),
) -> Result<Report, EvalError> {
    let mut predicted = Vec::with_capacity(examples.len());
    let mut scores = Vec::with_capacity(examples.len());
    let mut busy = Duration::ZERO;
    for chunk in examples.chunks(batch_size.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        let start = Instant::now();
        let out = classifier.classify_batch(&texts)?;
        busy += start.elapsed();
        if out.len() != texts.len() {
            return Err(SentimentError::Inference(format!(
                "classifier returned {} results for {} texts",
                out.len(),
                texts.len()
            ))
            .into());
        }
        predicted.extend(out.iter().map(|s| s.label));
        scores.extend(out.iter().map(|s| f64::from(s.score)));
        progress(chunk.len());
    }
    let gold: Vec<Label> = examples.iter().map(|e| e.gold).collect();
    let confusion = Confusion::new(&gold, &predicted);
    let means: Option<Vec<f64>> = examples.iter().map(|e| e.mean).collect();
    let pearson_r = means.and_then(|m| pearson(&scores, &m));
    let seconds = busy.as_secs_f64();
    Ok(Report {
        classifier: classifier.name().to_string(),
        n: examples.len(),
        accuracy: confusion.accuracy(),
        macro_f1: confusion.macro_f1(),
        macro_recall: confusion.macro_recall(),
        pearson_r,
        texts_per_second: if seconds > 0.0 {
            examples.len() as f64 / seconds
        } else {
            0.0
        },
        confusion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::{Negative as N, Neutral as U, Positive as P};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn metrics_on_a_hand_computed_example() {
        // gold:      P P P N N U
        // predicted: P P N N U U
        let c = Confusion::new(&[P, P, P, N, N, U], &[P, P, N, N, U, U]);
        assert_eq!(c.matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
        assert!(close(c.accuracy(), 4.0 / 6.0));
        // recall: neg 1/2, neu 1/1, pos 2/3
        assert!(close(c.macro_recall(), (0.5 + 1.0 + 2.0 / 3.0) / 3.0));
        // precision: neg 1/2, neu 1/2, pos 2/2 → F1: 1/2, 2/3, 4/5
        assert!(close(c.macro_f1(), (0.5 + 2.0 / 3.0 + 0.8) / 3.0));
    }

    #[test]
    fn absent_classes_are_left_out_and_zero_divisions_count_zero() {
        // No neutral anywhere: averaged over negative and positive only (as sklearn).
        let c = Confusion::new(&[P, N], &[P, P]);
        assert!(close(c.macro_recall(), (0.0 + 1.0) / 2.0));
        // F1: negative 0 (never predicted), positive p=1/2 r=1 → 2/3.
        assert!(close(c.macro_f1(), (0.0 + 2.0 / 3.0) / 2.0));
        assert!(close(c.accuracy(), 0.5));
    }

    #[test]
    fn pearson_by_hand() {
        assert!(close(
            pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap(),
            1.0
        ));
        assert!(close(
            pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(),
            -1.0
        ));
        // x = 1,2,3,4; y = 1,3,2,4: sxy = 4, sxx = syy = 5 → r = 0.8
        assert!(close(
            pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap(),
            0.8
        ));
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
    }

    #[test]
    fn vader_format_with_crlf_and_no_final_newline() {
        let data = "1\t2.5\tSo good.\r\n2\t-0.05\tmeh\r\n3\t-1.2\tbad\tvery";
        let ex = parse_vader(Path::new("t.txt"), data).unwrap();
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].text, "So good.");
        assert_eq!((ex[0].gold, ex[1].gold, ex[2].gold), (P, U, N));
        assert_eq!(ex[2].text, "bad\tvery");
        assert_eq!(ex[1].mean, Some(-0.05));
        let err = parse_vader(Path::new("t.txt"), "1\tx\ttext").unwrap_err();
        assert_eq!(err.to_string(), "t.txt:1: mean rating `x` is not a number");
    }

    #[test]
    fn tweeteval_labels_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.txt");
        let l = dir.path().join("l.txt");
        std::fs::write(&t, "good \nbad \n").unwrap();
        std::fs::write(&l, "2\n0\n").unwrap();
        let ex = read_tweeteval(&t, &l).unwrap();
        assert_eq!((ex[0].gold, ex[1].gold, ex[0].mean), (P, N, None));
        std::fs::write(&l, "2\n").unwrap();
        assert!(matches!(
            read_tweeteval(&t, &l),
            Err(EvalError::LengthMismatch { .. })
        ));
        std::fs::write(&l, "2\n7\n").unwrap();
        assert!(matches!(
            read_tweeteval(&t, &l),
            Err(EvalError::Parse { line: 2, .. })
        ));
    }

    #[test]
    fn evaluate_runs_the_lexicon() {
        let lex = crate::sentiment::lexicon::Lexicon::new(&Default::default());
        let ex = vec![
            Example {
                text: "I love this phone".into(),
                gold: P,
                mean: Some(2.5),
            },
            Example {
                text: "I hate this phone".into(),
                gold: N,
                mean: Some(-2.0),
            },
            Example {
                text: "a phone".into(),
                gold: U,
                mean: Some(0.0),
            },
        ];
        let mut seen = 0;
        let r = evaluate(&lex, &ex, 2, |n| seen += n).unwrap();
        assert_eq!((seen, r.n), (3, 3));
        assert_eq!(r.accuracy, 1.0);
        assert!(r.pearson_r.unwrap() > 0.9);
        assert_eq!(r.classifier, "lexicon");
    }
}
