//! `pulse classify TEXT...`: label and score texts with the configured classifier.

use super::{output, Format, Globals};
use crate::config::Config;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Texts to classify (use `-` to read one text per line from stdin).
    #[arg(required = true)]
    pub texts: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
pub struct ClassifyRow {
    pub text: String,
    pub label: String,
    pub score: f64,
    pub classifier: String,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    // Classification works without a config file: the embedded lexicon is the default.
    let classifier_config = if g.config_path.exists() {
        Config::load(&g.config_path)?.classifier
    } else {
        Default::default()
    };
    let classifier = crate::sentiment::build(&classifier_config)?;
    let mut texts = Vec::new();
    for t in &args.texts {
        if t == "-" {
            for line in std::io::stdin().lines() {
                texts.push(line?);
            }
        } else {
            texts.push(t.clone());
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let results = classifier.classify_batch(&refs)?;
    let rows: Vec<ClassifyRow> = texts
        .iter()
        .zip(results)
        .map(|(t, s)| ClassifyRow {
            text: t.clone(),
            label: s.label.to_string(),
            score: crate::trend::round4(f64::from(s.score)),
            classifier: classifier.name().to_string(),
        })
        .collect();
    output::print_rows(&mut std::io::stdout().lock(), &rows, args.format, None)
}
