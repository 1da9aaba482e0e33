//! Maps a model's output classes (`id2label` in its `config.json`) to sentiment polarities.
//!
//! Hub models name their classes inconsistently: `positive`/`NEGATIVE`, `pos`/`neg`/`neu`, or only
//! `LABEL_0`, `LABEL_1`, ... when the trainer never set names. Generic names follow the two conventions
//! every public sentiment model with such names uses: two classes are (negative, positive) as in SST-2,
//! three are (negative, neutral, positive) as in TweetEval / cardiffnlp. Anything else is an error that
//! tells the user to name the classes in `config.json`.

use serde_json::Value;

/// The polarity one output class stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Negative,
    Neutral,
    Positive,
}

/// Output index -> polarity, with the positions of the classes the score needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMap {
    pub classes: Vec<Polarity>,
    /// Original names, for messages and `pulse bench` output.
    pub names: Vec<String>,
    /// True when the names were generic `LABEL_n` and the convention decided.
    pub by_convention: bool,
}

impl LabelMap {
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn index_of(&self, p: Polarity) -> Option<usize> {
        self.classes.iter().position(|c| *c == p)
    }

    /// Reads `id2label` from a parsed `config.json`. The error is a phrase to append to the file name.
    pub fn from_config(config: &Value) -> Result<LabelMap, String> {
        let map = match config.get("id2label") {
            Some(Value::Object(m)) => m,
            Some(_) => return Err("`id2label` must be an object of class index to label name".into()),
            None => {
                return Err(
                    "no `id2label`: name the model's output classes, e.g. \"id2label\": {\"0\": \"negative\", \"1\": \"neutral\", \"2\": \"positive\"}"
                        .into(),
                )
            }
        };
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            let idx: usize = k
                .trim()
                .parse()
                .map_err(|_| format!("`id2label` key `{k}` is not a class index"))?;
            let name = v
                .as_str()
                .ok_or_else(|| format!("`id2label` value for class {idx} is not a string"))?;
            entries.push((idx, name.to_string()));
        }
        entries.sort_by_key(|(i, _)| *i);
        for (pos, (idx, _)) in entries.iter().enumerate() {
            if *idx != pos {
                return Err(format!(
                    "`id2label` must number the classes 0..{} without gaps (class {pos} is missing)",
                    entries.len()
                ));
            }
        }
        let names: Vec<String> = entries.into_iter().map(|(_, n)| n).collect();
        LabelMap::from_names(names)
    }

    pub fn from_names(names: Vec<String>) -> Result<LabelMap, String> {
        if names.len() != 2 && names.len() != 3 {
            return Err(format!(
                "`id2label` has {} classes ({}); a sentiment model needs 2 (negative, positive) or 3 (negative, neutral, positive)",
                names.len(),
                names.join(", ")
            ));
        }
        let generic: Option<Vec<usize>> = names.iter().map(|n| generic_index(n)).collect();
        let (classes, by_convention) = match generic {
            Some(indices) => {
                if indices.iter().enumerate().any(|(pos, i)| pos != *i) {
                    return Err(format!(
                        "generic labels {} are not in order LABEL_0..; name the classes (positive, negative, neutral) in `id2label`",
                        names.join(", ")
                    ));
                }
                let classes = if names.len() == 2 {
                    vec![Polarity::Negative, Polarity::Positive]
                } else {
                    vec![Polarity::Negative, Polarity::Neutral, Polarity::Positive]
                };
                (classes, true)
            }
            None => {
                let mut classes = Vec::with_capacity(names.len());
                for n in &names {
                    classes.push(polarity_of(n).ok_or_else(|| {
                        format!(
                            "unknown label `{n}` in `id2label`; expected positive/negative/neutral (or pos/neg/neu, or LABEL_0.. for the 2- and 3-class conventions)"
                        )
                    })?);
                }
                (classes, false)
            }
        };
        for p in [Polarity::Negative, Polarity::Positive, Polarity::Neutral] {
            let count = classes.iter().filter(|c| **c == p).count();
            let needed = if p == Polarity::Neutral {
                names.len() - 2
            } else {
                1
            };
            if count != needed {
                return Err(format!(
                    "`id2label` ({}) must have exactly one positive and one negative class{}",
                    names.join(", "),
                    if names.len() == 3 {
                        " and one neutral class"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(LabelMap {
            classes,
            names,
            by_convention,
        })
    }
}

/// `LABEL_3` -> Some(3), case-insensitively.
fn generic_index(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    lower.strip_prefix("label_")?.parse().ok()
}

fn polarity_of(name: &str) -> Option<Polarity> {
    match name.trim().to_ascii_lowercase().as_str() {
        "positive" | "pos" => Some(Polarity::Positive),
        "negative" | "neg" => Some(Polarity::Negative),
        "neutral" | "neu" => Some(Polarity::Neutral),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Result<LabelMap, String> {
        LabelMap::from_config(&json!({ "id2label": v }))
    }

    #[test]
    fn named_three_classes_in_any_case_and_order() {
        let m = map(json!({"0": "Negative", "1": "NEUTRAL", "2": "positive"})).unwrap();
        assert_eq!(
            m.classes,
            vec![Polarity::Negative, Polarity::Neutral, Polarity::Positive]
        );
        assert!(!m.by_convention);
        let m = map(json!({"2": "neg", "0": "pos", "1": "neu"})).unwrap();
        assert_eq!(
            m.classes,
            vec![Polarity::Positive, Polarity::Neutral, Polarity::Negative]
        );
    }

    #[test]
    fn sst2_style_two_classes() {
        let m = map(json!({"0": "NEGATIVE", "1": "POSITIVE"})).unwrap();
        assert_eq!(m.classes, vec![Polarity::Negative, Polarity::Positive]);
        assert_eq!(m.index_of(Polarity::Neutral), None);
        assert_eq!(m.index_of(Polarity::Positive), Some(1));
    }

    #[test]
    fn generic_labels_follow_the_conventions() {
        let m = map(json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"})).unwrap();
        assert_eq!(
            m.classes,
            vec![Polarity::Negative, Polarity::Neutral, Polarity::Positive]
        );
        assert!(m.by_convention);
        let m = map(json!({"0": "label_0", "1": "label_1"})).unwrap();
        assert_eq!(m.classes, vec![Polarity::Negative, Polarity::Positive]);
    }

    #[test]
    fn rejects_what_it_cannot_map() {
        let e = map(json!({"0": "anger", "1": "joy"})).unwrap_err();
        assert!(e.contains("unknown label `anger`"), "{e}");
        let e = map(json!({"0": "positive", "1": "positive"})).unwrap_err();
        assert!(e.contains("exactly one positive"), "{e}");
        let e = map(json!({"0": "1 star", "1": "2 stars", "2": "3 stars", "3": "4 stars"}))
            .unwrap_err();
        assert!(e.contains("4 classes"), "{e}");
        let e = map(json!({"0": "negative", "2": "positive"})).unwrap_err();
        assert!(e.contains("without gaps"), "{e}");
        let e = map(json!({"0": "LABEL_1", "1": "LABEL_0"})).unwrap_err();
        assert!(e.contains("not in order"), "{e}");
        let e = map(json!({"0": "negative", "1": "neutral"})).unwrap_err();
        assert!(e.contains("exactly one positive"), "{e}");
        let e = LabelMap::from_config(&json!({"num_labels": 3})).unwrap_err();
        assert!(e.contains("no `id2label`"), "{e}");
        let e = map(json!({"x": "negative", "1": "positive"})).unwrap_err();
        assert!(e.contains("not a class index"), "{e}");
    }
}
