//! The training corpus of the sentiment head: readers and cleaning for the labelled sets under
//! `shared/data/train/` (SemEval-2017 Task 4A, rt-polarity, NLTK twitter samples), the validation
//! split, and the text preparation the head sees both when it is trained and when it classifies.
//!
//! Cleaning follows each data set's README: `\uXXXX` escapes decoded, CSV-style wrapping quotes and
//! doubled inner quotes undone, duplicate ids merged and ids with conflicting labels dropped, the
//! distant-label emoticons stripped from the NLTK tweets (their labels were made from them), and every
//! text that normalises to a line of the TweetEval validation file removed from training, so that
//! `pulse eval` on that file measures unseen text.

use crate::model::Label;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Errors from reading the training data.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path} ({error}); point --data at the folder holding train/ (default ../shared/data)")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Where a training text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// SemEval 2013–2016 tweets (3 classes, human labels).
    Semeval,
    /// SemEval 2013 SMS and 2014 LiveJournal test sets (3 classes, human labels).
    SemevalOther,
    /// rt-polarity movie-review snippets (2 classes).
    RtPolarity,
    /// NLTK twitter samples (2 classes, emoticon labels; emoticons stripped).
    Nltk,
    /// Human corrections from `pulse label`.
    UserLabel,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Semeval => "semeval-twitter",
            Origin::SemevalOther => "semeval-sms-livejournal",
            Origin::RtPolarity => "rt-polarity",
            Origin::Nltk => "nltk-twitter-samples",
            Origin::UserLabel => "user-labels",
        }
    }
}

/// One labelled training text (already cleaned, not yet prepared for the encoder).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub text: String,
    pub label: Label,
    pub origin: Origin,
}

/// What cleaning did, for the model card.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleaningReport {
    /// Rows read per origin.
    pub rows_read: Vec<(String, usize)>,
    /// SemEval rows whose id had been seen already with the same label.
    pub duplicate_ids: usize,
    /// SemEval ids with conflicting labels (every copy dropped).
    pub conflicting_ids: usize,
    /// NLTK texts that contained a stripped emoticon.
    pub emoticons_stripped: usize,
    /// Texts empty after cleaning.
    pub empty: usize,
    /// Texts whose normalised form was seen already with the same label (later copy dropped).
    pub duplicate_texts: usize,
    /// Normalised texts with conflicting labels across the pool (every copy dropped).
    pub conflicting_texts: usize,
    /// Training texts removed because they normalise to a TweetEval validation line.
    pub tweeteval_val_overlap: usize,
    /// Of those, exact matches of a raw validation line (after trimming).
    pub tweeteval_val_exact: usize,
    /// Texts kept per origin.
    pub kept: Vec<(String, usize)>,
}

fn read(path: &Path) -> Result<String, CorpusError> {
    std::fs::read_to_string(path).map_err(|error| CorpusError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// Decodes literal JSON escapes (`\u2019`, `\u002c`, surrogate pairs); anything else is kept.
pub fn decode_unicode_escapes(s: &str) -> String {
    if !s.contains("\\u") {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let hex_at = |i: usize| -> Option<u32> {
        if i + 6 <= chars.len() && chars[i] == '\\' && chars[i + 1] == 'u' {
            let h: String = chars[i + 2..i + 6].iter().collect();
            u32::from_str_radix(&h, 16).ok()
        } else {
            None
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(cp) = hex_at(i) {
            if (0xD800..0xDC00).contains(&cp) {
                if let Some(lo) = hex_at(i + 6).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                    let c = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    if let Some(ch) = char::from_u32(c) {
                        out.push(ch);
                        i += 12;
                        continue;
                    }
                }
            } else if let Some(ch) = char::from_u32(cp) {
                out.push(ch);
                i += 6;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Undoes CSV-style quoting of a SemEval text: wrapping quotes removed, `""` (and the 2013 files'
/// `\""""`) back to one `"`. Texts that are not wrapped are returned as they are.
pub fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1]
            .replace("\\\"\"\"\"", "\"")
            .replace("\"\"", "\"")
            .replace("\\\"", "\"")
    } else {
        t.to_string()
    }
}

static EMOTICON: LazyLock<Regex> = LazyLock::new(|| {
    // Western emoticons of the `:)` and `:(` families (with noses, tears, repeats) and their mirrored
    // forms. `/` is left out of the mouths so that `http://` survives, digits so that `10:30` does, and
    // letter mouths must end a word (`:D`, not `Note:Don't`).
    Regex::new(r"(?:[:;=]['\-^o]?(?:[()\[\]|*]+|[DPp]+\b)|[()\[\]]+['\-^o]?[:;=])")
        .expect("emoticon regex")
});

/// Removes `:)`/`:(`-family emoticons; returns the text and whether anything was removed.
pub fn strip_emoticons(s: &str) -> (String, bool) {
    if !EMOTICON.is_match(s) {
        return (s.to_string(), false);
    }
    (collapse_ws(&EMOTICON.replace_all(s, " ")), true)
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

static MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"@[A-Za-z0-9_]+").expect("mention regex"));
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:https?://|www\.)\S+").expect("url regex"));

/// The text as the encoder sees it, in training and in classification alike: HTML entities decoded,
/// user mentions replaced by `@user` and links by `http` (TweetEval's convention, so the head does not
/// learn names or link shorteners), whitespace collapsed.
pub fn prepare(text: &str) -> String {
    let t = html_escape::decode_html_entities(text);
    let t = MENTION.replace_all(&t, "@user");
    let t = URL.replace_all(&t, "http");
    collapse_ws(&t)
}

/// Key for duplicate and overlap checks: prepared, links dropped, lowercase, letters and digits only.
pub fn dedup_key(text: &str) -> String {
    let t = prepare(text).replace("http", " ");
    t.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '@')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_label(s: &str) -> Option<Label> {
    match s.trim() {
        "positive" => Some(Label::Positive),
        "negative" => Some(Label::Negative),
        "neutral" => Some(Label::Neutral),
        _ => None,
    }
}

/// One SemEval row before de-duplication.
struct Row {
    id: String,
    label: Label,
    text: String,
    origin: Origin,
}

/// Reads the SemEval Subtask A files: the eleven `twitter-*-A.txt` files (`id<TAB>label<TAB>text`,
/// 2016test with an ignored 4th column) and the SMS / LiveJournal sets (`id<TAB>id2<TAB>label<TAB>text`).
fn read_semeval(dir: &Path, report: &mut CleaningReport) -> Result<Vec<Row>, CorpusError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| CorpusError::Read {
            path: dir.to_path_buf(),
            error,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.starts_with("twitter-") && n.ends_with("-A.txt")) || n.ends_with("-A.tsv")
        })
        .collect();
    files.sort();
    let mut rows = Vec::new();
    let (mut n_tw, mut n_other) = (0, 0);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let other = name.ends_with(".tsv");
        let data = read(&path)?;
        for (i, line) in data.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let (id, label, text) = if other {
                match f.as_slice() {
                    [id, _, label, text, ..] => (*id, *label, *text),
                    _ => {
                        return Err(CorpusError::Parse {
                            path,
                            line: i + 1,
                            reason: "expected id<TAB>id2<TAB>label<TAB>text".into(),
                        })
                    }
                }
            } else {
                match f.as_slice() {
                    [id, label, text, ..] => (*id, *label, *text),
                    _ => {
                        return Err(CorpusError::Parse {
                            path,
                            line: i + 1,
                            reason: "expected id<TAB>label<TAB>text".into(),
                        })
                    }
                }
            };
            let label = parse_label(label).ok_or_else(|| CorpusError::Parse {
                path: path.clone(),
                line: i + 1,
                reason: format!("unknown label `{label}`"),
            })?;
            let text = unquote(&decode_unicode_escapes(text));
            let origin = if other {
                n_other += 1;
                Origin::SemevalOther
            } else {
                n_tw += 1;
                Origin::Semeval
            };
            // SMS/LiveJournal ids are their own number space.
            let id = if other {
                format!("{name}:{id}")
            } else {
                id.to_string()
            };
            rows.push(Row {
                id,
                label,
                text,
                origin,
            });
        }
    }
    report
        .rows_read
        .push((Origin::Semeval.as_str().into(), n_tw));
    report
        .rows_read
        .push((Origin::SemevalOther.as_str().into(), n_other));
    Ok(rows)
}

/// Duplicate ids keep their first copy; ids with two different labels are dropped entirely.
fn dedup_ids(rows: Vec<Row>, report: &mut CleaningReport) -> Vec<Sample> {
    let mut labels: HashMap<&str, Option<Label>> = HashMap::new();
    for r in &rows {
        labels
            .entry(r.id.as_str())
            .and_modify(|l| {
                if *l != Some(r.label) {
                    *l = None;
                }
            })
            .or_insert(Some(r.label));
    }
    report.conflicting_ids = labels.values().filter(|l| l.is_none()).count();
    let conflicted: HashSet<String> = labels
        .iter()
        .filter(|(_, l)| l.is_none())
        .map(|(id, _)| id.to_string())
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in rows {
        if conflicted.contains(&r.id) {
            continue;
        }
        if !seen.insert(r.id.clone()) {
            report.duplicate_ids += 1;
            continue;
        }
        out.push(Sample {
            text: r.text,
            label: r.label,
            origin: r.origin,
        });
    }
    out
}

fn read_rt(dir: &Path, report: &mut CleaningReport) -> Result<Vec<Sample>, CorpusError> {
    let mut out = Vec::new();
    for (file, label) in [
        ("rt-polarity.pos", Label::Positive),
        ("rt-polarity.neg", Label::Negative),
    ] {
        for line in read(&dir.join(file))?.lines() {
            out.push(Sample {
                text: line.trim().to_string(),
                label,
                origin: Origin::RtPolarity,
            });
        }
    }
    report
        .rows_read
        .push((Origin::RtPolarity.as_str().into(), out.len()));
    Ok(out)
}

fn read_nltk(dir: &Path, report: &mut CleaningReport) -> Result<Vec<Sample>, CorpusError> {
    let mut out = Vec::new();
    for (file, label) in [
        ("positive_tweets.csv", Label::Positive),
        ("negative_tweets.csv", Label::Negative),
    ] {
        let path = dir.join(file);
        let data = read(&path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(data.as_bytes());
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| CorpusError::Parse {
                path: path.clone(),
                line: i + 2,
                reason: format!("bad CSV record: {e}"),
            })?;
            let text = rec.get(rec.len().saturating_sub(1)).unwrap_or("");
            let (text, stripped) = strip_emoticons(text);
            if stripped {
                report.emoticons_stripped += 1;
            }
            out.push(Sample {
                text,
                label,
                origin: Origin::Nltk,
            });
        }
    }
    report
        .rows_read
        .push((Origin::Nltk.as_str().into(), out.len()));
    Ok(out)
}

/// The TweetEval validation texts' dedup keys (and trimmed raw lines), to keep them out of training.
pub fn holdout_keys(val_text: &Path) -> Result<(HashSet<String>, HashSet<String>), CorpusError> {
    let data = read(val_text)?;
    let mut keys = HashSet::new();
    let mut exact = HashSet::new();
    for line in data.lines() {
        keys.insert(dedup_key(line));
        exact.insert(line.trim().to_string());
    }
    Ok((keys, exact))
}

/// The cleaned pool of every training set under `data/train/`, with the TweetEval validation texts
/// (`data/tweeteval-sentiment/val_text.txt`, when present) removed. Deterministic: file order, then
/// row order.
pub fn load_pool(data: &Path) -> Result<(Vec<Sample>, CleaningReport), CorpusError> {
    let mut report = CleaningReport::default();
    let train = data.join("train");
    let semeval = read_semeval(&train.join("semeval2017-task4a"), &mut report)?;
    let mut samples = dedup_ids(semeval, &mut report);
    samples.extend(read_rt(&train.join("rt-polarity"), &mut report)?);
    samples.extend(read_nltk(&train.join("nltk-twitter-samples"), &mut report)?);

    let val = data.join("tweeteval-sentiment/val_text.txt");
    let (holdout, exact) = if val.is_file() {
        holdout_keys(&val)?
    } else {
        tracing::warn!(path = %val.display(), "no TweetEval validation file: nothing removed from training for it");
        Default::default()
    };
    let samples = clean_pool(samples, &holdout, &exact, &mut report);
    Ok((samples, report))
}

/// Drops empty texts, text-level duplicates and conflicts, and hold-out overlaps; counts them.
pub fn clean_pool(
    samples: Vec<Sample>,
    holdout: &HashSet<String>,
    holdout_exact: &HashSet<String>,
    report: &mut CleaningReport,
) -> Vec<Sample> {
    let mut by_key: HashMap<String, Option<Label>> = HashMap::new();
    let mut keyed = Vec::with_capacity(samples.len());
    for s in samples {
        let key = dedup_key(&s.text);
        if key.is_empty() {
            report.empty += 1;
            continue;
        }
        if holdout.contains(&key) {
            report.tweeteval_val_overlap += 1;
            if holdout_exact.contains(s.text.trim()) {
                report.tweeteval_val_exact += 1;
            }
            continue;
        }
        by_key
            .entry(key.clone())
            .and_modify(|l| {
                if *l != Some(s.label) {
                    *l = None;
                }
            })
            .or_insert(Some(s.label));
        keyed.push((key, s));
    }
    report.conflicting_texts = by_key.values().filter(|l| l.is_none()).count();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(keyed.len());
    for (key, s) in keyed {
        if by_key.get(&key) == Some(&None) {
            continue;
        }
        if !seen.insert(key) {
            report.duplicate_texts += 1;
            continue;
        }
        out.push(s);
    }
    let mut kept: Vec<(String, usize)> = Vec::new();
    for o in [
        Origin::Semeval,
        Origin::SemevalOther,
        Origin::RtPolarity,
        Origin::Nltk,
        Origin::UserLabel,
    ] {
        let n = out.iter().filter(|s| s.origin == o).count();
        if n > 0 {
            kept.push((o.as_str().into(), n));
        }
    }
    report.kept = kept;
    out
}

/// A deterministic shuffle (xorshift-seeded Fisher–Yates via `rand`'s `StdRng`, stable across runs).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    use rand::{seq::SliceRandom, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    items.shuffle(&mut rng);
}

/// Own validation split: `n` SemEval tweets drawn with the seed (3 classes, the target domain); the
/// rest of the pool, shuffled with the same seed, is training.
pub fn split(mut pool: Vec<Sample>, n_val: usize, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    shuffle(&mut pool, seed);
    let mut val = Vec::with_capacity(n_val);
    let mut train = Vec::with_capacity(pool.len());
    for s in pool {
        if val.len() < n_val && s.origin == Origin::Semeval {
            val.push(s);
        } else {
            train.push(s);
        }
    }
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_escapes_and_surrogates_decode() {
        assert_eq!(
            decode_unicode_escapes(r"I\u2019m here\u002c ok"),
            "I’m here, ok"
        );
        assert_eq!(decode_unicode_escapes(r"smile \ud83d\ude00!"), "smile 😀!");
        assert_eq!(
            decode_unicode_escapes(r"not \uZZZZ \u12"),
            r"not \uZZZZ \u12"
        );
    }

    #[test]
    fn csv_quotes_are_undone() {
        assert_eq!(
            unquote(r#""Why is \""""Happy Day\"""" trending? smh..""#),
            r#"Why is "Happy Day" trending? smh.."#
        );
        assert_eq!(
            unquote(r#""Excited to read ""Go Set a Watchman"" on Tuesday""#),
            r#"Excited to read "Go Set a Watchman" on Tuesday"#
        );
        assert_eq!(unquote(r#"no "quotes" to undo"#), r#"no "quotes" to undo"#);
    }

    #[test]
    fn emoticons_are_stripped_but_links_survive() {
        let (t, hit) = strip_emoticons("so happy :) :-))) see http://t.co/x ;) (:");
        assert!(hit);
        assert_eq!(t, "so happy see http://t.co/x");
        let (t, hit) = strip_emoticons("sad :( :'( today :-(");
        assert!(hit);
        assert_eq!(t, "sad today");
        assert_eq!(strip_emoticons("plain text"), ("plain text".into(), false));
    }

    #[test]
    fn prepare_normalises_mentions_links_and_entities() {
        assert_eq!(
            prepare("@Bob_1  loves &amp; hates https://t.co/abc  it"),
            "@user loves & hates http it"
        );
        assert_eq!(
            dedup_key("@Bob LOVES it!!! http://x.y "),
            dedup_key("@user loves it")
        );
    }

    fn s(text: &str, label: Label, origin: Origin) -> Sample {
        Sample {
            text: text.into(),
            label,
            origin,
        }
    }

    #[test]
    fn duplicates_conflicts_and_holdout_are_removed_and_counted() {
        let rows = vec![
            Row {
                id: "1".into(),
                label: Label::Positive,
                text: "good one".into(),
                origin: Origin::Semeval,
            },
            Row {
                id: "1".into(),
                label: Label::Positive,
                text: "good one".into(),
                origin: Origin::Semeval,
            },
            Row {
                id: "2".into(),
                label: Label::Positive,
                text: "torn".into(),
                origin: Origin::Semeval,
            },
            Row {
                id: "2".into(),
                label: Label::Negative,
                text: "torn".into(),
                origin: Origin::Semeval,
            },
        ];
        let mut report = CleaningReport::default();
        let mut samples = dedup_ids(rows, &mut report);
        assert_eq!((report.duplicate_ids, report.conflicting_ids), (1, 1));
        assert_eq!(samples.len(), 1);
        samples.push(s("Good one!", Label::Positive, Origin::Nltk));
        samples.push(s("mixed", Label::Positive, Origin::RtPolarity));
        samples.push(s("MIXED", Label::Negative, Origin::Nltk));
        samples.push(s("@someone seen in val", Label::Neutral, Origin::Semeval));
        samples.push(s(" :) ", Label::Positive, Origin::Nltk));
        let holdout: HashSet<String> = [dedup_key("@user seen in val ")].into();
        let out = clean_pool(samples, &holdout, &HashSet::new(), &mut report);
        assert_eq!(out, vec![s("good one", Label::Positive, Origin::Semeval)]);
        assert_eq!(report.duplicate_texts, 1);
        assert_eq!(report.conflicting_texts, 1);
        assert_eq!(report.tweeteval_val_overlap, 1);
        assert_eq!(report.empty, 1);
    }

    #[test]
    fn split_is_deterministic_and_takes_validation_from_semeval() {
        let pool: Vec<Sample> = (0..100)
            .map(|i| {
                s(
                    &format!("text {i}"),
                    Label::Neutral,
                    if i % 2 == 0 {
                        Origin::Semeval
                    } else {
                        Origin::RtPolarity
                    },
                )
            })
            .collect();
        let (t1, v1) = split(pool.clone(), 10, 7);
        let (t2, v2) = split(pool.clone(), 10, 7);
        assert_eq!((&t1, &v1), (&t2, &v2));
        assert_eq!(v1.len(), 10);
        assert_eq!(t1.len(), 90);
        assert!(v1.iter().all(|s| s.origin == Origin::Semeval));
        let (_, v3) = split(pool, 10, 8);
        assert_ne!(v1, v3);
    }
}
