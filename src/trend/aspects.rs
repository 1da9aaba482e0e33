//! Aspect tagging: a keyword taxonomy marks what a mention talks about (outage, price, ...).

use super::DetectConfig;

/// Tags mentions with aspects from the configured taxonomy.
#[derive(Debug, Clone, Default)]
pub struct AspectTagger {}

impl AspectTagger {
    pub fn new(_config: &DetectConfig) -> AspectTagger {
        AspectTagger {}
    }

    /// Aspect names found in the text.
    pub fn tag(&self, _text: &str) -> Vec<String> {
        Vec::new()
    }
}
