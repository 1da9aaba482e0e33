//! The `pulse` command line: one file per subcommand, each with its clap `Args` and a `run`.

pub mod alerts;
pub mod backend;
pub mod bench;
pub mod bench_store;
pub mod check_config;
pub mod classify;
pub mod completions;
pub mod detect;
pub mod eval;
pub mod import;
pub mod init;
pub mod label;
pub mod man;
pub mod mentions;
pub mod output;
pub mod poll;
pub mod products;
pub mod run;
pub mod silence;
pub mod status;
pub mod store;
pub mod train;
pub mod trend;

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

    /// Query a daemon's API at this URL instead of the local store (token from PULSE_API_TOKEN).
    #[arg(long, global = true, value_name = "URL")]
    pub remote: Option<String>,

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
    /// Run the daemon: poll sources on schedule, classify, store, detect, alert, serve the API.
    Run(run::Args),
    /// Poll every source once and exit.
    Poll(poll::Args),
    /// Daemon, source and store status.
    Status(status::Args),
    /// Products with mention counts and net sentiment.
    Products(products::Args),
    /// A product's trend buckets.
    Trend(trend::Args),
    /// A product's newest mentions.
    Mentions(mentions::Args),
    /// Backfill mentions from a JSON-lines file.
    Import(import::Args),
    /// Store maintenance.
    Store(store::Args),
    /// Validate the config file and print a summary.
    CheckConfig(check_config::Args),
    /// Classify texts with the configured classifier.
    Classify(classify::Args),
    /// List alerts and their deliveries; `pulse alerts test CHANNEL` sends a test message.
    Alerts(alerts::Args),
    /// Replay a JSON-lines file through the detectors and print the alerts they would raise.
    Detect(detect::Args),
    /// Mute alerts by label for a while, or list silences.
    Silence(silence::Args),
    /// Measure a classifier against labelled data (VADER ground truth or TweetEval).
    Eval(eval::Args),
    /// Run a benchmark and print its figures.
    Bench(bench::Args),
    /// Train the transformer sentiment head (MiniLM encoder + logistic regression).
    Train(train::Args),
    /// Store a human sentiment label for a mention (used by `pulse train --include-labels`).
    Label(label::Args),
    /// Write a commented starter config (never overwrites).
    Init(init::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print the man page (or write one per command with --dir).
    Man(man::Args),
}

/// What every command gets: where the config is.
#[derive(Debug, Clone)]
pub struct Globals {
    pub config_path: PathBuf,
    pub remote: Option<String>,
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
            remote: self.remote.clone(),
        };
        match self.command {
            Command::Run(a) => run::run(&a, &g).await,
            Command::Poll(a) => poll::run(&a, &g).await,
            Command::Status(a) => status::run(&a, &g).await,
            Command::Products(a) => products::run(&a, &g).await,
            Command::Trend(a) => trend::run(&a, &g).await,
            Command::Mentions(a) => mentions::run(&a, &g).await,
            Command::Import(a) => import::run(&a, &g).await,
            Command::Store(a) => store::run(&a, &g).await,
            Command::CheckConfig(a) => check_config::run(&a, &g).await,
            Command::Classify(a) => classify::run(&a, &g).await,
            Command::Alerts(a) => alerts::run(&a, &g).await,
            Command::Detect(a) => detect::run(&a, &g).await,
            Command::Silence(a) => silence::run(&a, &g).await,
            Command::Eval(a) => eval::run(&a, &g).await,
            Command::Bench(a) => bench::run(&a, &g).await,
            Command::Train(a) => train::run(&a, &g).await,
            Command::Label(a) => label::run(&a, &g).await,
            Command::Init(a) => init::run(&a, &g).await,
            Command::Completions(a) => completions::run(&a, &g).await,
            Command::Man(a) => man::run(&a, &g).await,
        }
    }
}
