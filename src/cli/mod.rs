//! The `pulse` command line: one file per subcommand, each with its clap `Args` and a `run`.

pub mod bench;
pub mod check_config;
pub mod classify;
pub mod eval;
pub mod output;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use output::Format;

/// Pulse: social-media sentiment monitor for marketing and IT.
#[derive(Debug, Parser)]
#[command(name = "pulse", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Config file (default: $PULSE_CONFIG, then ./config.toml).
    #[arg(long, global = true, env = "PULSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format for the daemon's logs (stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config file and print a summary.
    CheckConfig(check_config::Args),
    /// Classify texts with the configured classifier.
    Classify(classify::Args),
    /// Measure a classifier against labelled data (VADER ground truth or TweetEval).
    Eval(eval::Args),
    /// Run a benchmark and print its figures.
    Bench(bench::Args),
}

/// What every command gets: where the config is.
#[derive(Debug, Clone)]
pub struct Globals {
    pub config_path: PathBuf,
}

impl Globals {
    /// Load and validate the config (exit code 2 on a bad config, see `main`).
    pub fn load_config(&self) -> Result<Config, crate::config::ConfigError> {
        Config::load(&self.config_path)
    }
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let g = Globals {
            config_path: Config::locate(self.config.as_deref()),
        };
        match self.command {
            Command::CheckConfig(a) => check_config::run(&a, &g).await,
            Command::Classify(a) => classify::run(&a, &g).await,
            Command::Eval(a) => eval::run(&a, &g).await,
            Command::Bench(a) => bench::run(&a, &g).await,
        }
    }
}
