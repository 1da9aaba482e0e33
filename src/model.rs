//! Core data types that flow through the pipeline: a raw mention from a source, its
//! sentiment, and the stored record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A mention as a source produced it, before matching and classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawMention {
    /// Source type or configured source name (`hackernews`, `reddit`, `import`, ...).
    pub source: String,
    /// The platform's own stable id (HN objectID, Reddit fullname, status id, ...).
    pub id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    /// Plain text, HTML stripped and whitespace normalised.
    pub text: String,
    /// BCP-47 language tag when the source tells it.
    pub language: Option<String>,
    /// Points, score or favourites when the source gives them.
    pub engagement: Option<i64>,
    /// Products named explicitly by the producer (imports may set this); empty means
    /// "match against the configured products".
    #[serde(default)]
    pub products: Vec<String>,
}

/// Three-way sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Positive,
    Negative,
    Neutral,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Positive => "positive",
            Label::Negative => "negative",
            Label::Neutral => "neutral",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "positive" | "pos" => Ok(Label::Positive),
            "negative" | "neg" => Ok(Label::Negative),
            "neutral" | "neu" => Ok(Label::Neutral),
            other => Err(format!(
                "unknown sentiment `{other}`: expected positive, negative or neutral"
            )),
        }
    }
}

/// The output of a classifier for one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: Label,
    /// Polarity in [-1, 1] (VADER compound for the lexicon classifier; P(pos) - P(neg) for models).
    pub score: f32,
    /// How sure the classifier is of `label`, in [0, 1].
    pub confidence: f32,
}
