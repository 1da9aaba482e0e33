//! The embedded lexicon classifier (VADER rules), the default: no files needed at run time.

use super::{Classifier, ClassifierConfig, SentimentError};
use crate::model::Sentiment;

pub struct Lexicon {
    analyzer: vader_parity::SentimentIntensityAnalyzer,
    config: ClassifierConfig,
}

impl Lexicon {
    pub fn new(config: &ClassifierConfig) -> Lexicon {
        Lexicon {
            analyzer: vader_parity::SentimentIntensityAnalyzer::new(),
            config: config.clone(),
        }
    }

    /// VADER compound score in [-1, 1].
    pub fn compound(&self, text: &str) -> f64 {
        self.analyzer.polarity_scores(text).compound
    }
}

impl Classifier for Lexicon {
    fn name(&self) -> &str {
        "lexicon"
    }

    fn classify_batch(&self, texts: &[&str]) -> Result<Vec<Sentiment>, SentimentError> {
        Ok(texts
            .iter()
            .map(|t| {
                let score = self.compound(t) as f32;
                Sentiment {
                    label: self.config.label_for(score),
                    score,
                    confidence: score.abs().max(0.5),
                }
            })
            .collect())
    }
}
