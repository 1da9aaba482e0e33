//! `pulse run`: the daemon.

use super::Globals;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    crate::daemon::run(config).await
}
