//! `pulse products`: every product with its mention counts and net sentiment.

use super::{backend::Backend, output, Format, Globals};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let backend = Backend::connect(g).await?;
    let rows = backend.products().await?;
    output::print_rows(&mut std::io::stdout().lock(), &rows, args.format, None)
}
