//! JSON-lines channel: each alert as one JSON object per line, to a file or stdout.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// File to append to; `-` means standard output.
    #[serde(default = "default_path")]
    pub path: PathBuf,
}

fn default_path() -> PathBuf {
    PathBuf::from("-")
}

impl JsonlConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
