//! `pulse mentions PRODUCT`: the newest stored mentions, filtered.

use super::{backend::Backend, output, Format, Globals};
use crate::api::MentionParams;
use crate::model::Label;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Product name or alias.
    pub product: String,
    /// Only mentions newer than this: a duration (7d) or a date.
    #[arg(long)]
    pub since: Option<String>,
    /// Only this label.
    #[arg(long, value_parser = ["positive", "negative", "neutral"])]
    pub sentiment: Option<String>,
    /// Only this source (configured name, or `import`).
    #[arg(long)]
    pub source: Option<String>,
    /// Most mentions shown (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    if let Some(s) = &args.sentiment {
        s.parse::<Label>().map_err(anyhow::Error::msg)?;
    }
    let backend = Backend::connect(g).await?;
    let params = MentionParams {
        since: args.since.clone(),
        sentiment: args.sentiment.clone(),
        source: args.source.clone(),
        limit: Some(args.limit),
    };
    let rows = backend.mentions(&args.product, &params).await?;
    output::print_rows(&mut std::io::stdout().lock(), &rows, args.format, None)
}
