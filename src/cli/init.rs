//! `pulse init [PATH]`: write a commented starter config that passes `check-config` and
//! runs as-is on sources that need no credentials. Never overwrites an existing file.

use super::Globals;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the config.
    #[arg(default_value = crate::config::DEFAULT_CONFIG_PATH)]
    pub path: PathBuf,
    /// Product to watch (repeat for several); the starter lists two examples without it.
    #[arg(long = "product", value_name = "NAME")]
    pub products: Vec<String>,
    /// Store directory written into `[store] path` (a service uses /var/lib/pulse/pulse.db).
    #[arg(long, value_name = "DIR", default_value = "data/pulse.db")]
    pub store: PathBuf,
}

pub async fn run(args: &Args, _g: &Globals) -> anyhow::Result<()> {
    let text = starter_config(&args.products, &args.store);
    // The text must be valid before anything is written: a starter that fails
    // `check-config` would be a bug, not a user error.
    crate::config::Config::parse(&text, &args.path)
        .context("the generated starter config does not validate (a bug in pulse init)")?;
    if let Some(dir) = args.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    // create_new: refuse atomically, even if the file appears between a check and the write.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists: not overwriting it; choose another path or remove the file first",
            args.path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", args.path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", args.path.display()))?;
    println!(
        "wrote {}; check it with `pulse --config {} check-config`, then start `pulse run`",
        args.path.display(),
        args.path.display()
    );
    Ok(())
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The starter config text.
pub fn starter_config(products: &[String], store: &Path) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(&format!(
        "[store]\n# sled database directory (created on first run).\npath = {}\n# Prune mention texts older than this; trend buckets are kept forever.\n# keep_mentions = \"180d\"\n\n",
        toml_string(&store.display().to_string())
    ));
    out.push_str(PRODUCTS_HELP);
    if products.is_empty() {
        out.push_str(EXAMPLE_PRODUCTS);
    } else {
        for p in products {
            out.push_str(&format!(
                "[[products]]\nname = {}\n# aliases = []\n# exclude = []\n\n",
                toml_string(p)
            ));
        }
    }
    out.push_str(REST);
    out
}

const HEADER: &str = "\
# Pulse configuration, written by `pulse init`. Check it with `pulse check-config`.
# Durations are written like 90s, 10m, 6h or 7d. Secrets (tokens, passwords, webhook
# URLs) may be written as \"env:VAR_NAME\" to read them from the environment.
# After editing, a running daemon picks the file up on SIGHUP
# (`systemctl reload pulse` or `kill -HUP <pid>`); store.path and api.listen need a restart.

";

const PRODUCTS_HELP: &str = "\
# ---- Products to watch ----------------------------------------------------------------
# `aliases` match like the name (case-insensitive, whole words); `exclude` words veto a
# match for ambiguous names; `launch = \"2026-12-01\"` compares launch week with before.

";

const EXAMPLE_PRODUCTS: &str = "\
[[products]]
name = \"Firefox\"
aliases = [\"Mozilla Firefox\"]

[[products]]
name = \"Kubernetes\"
aliases = [\"k8s\"]

";

const REST: &str = "\
# ---- Sources ------------------------------------------------------------------------
# One [[sources]] entry per platform; `interval` is how often it is polled (at least 10s).

# Hacker News (Algolia search): stories and comments, no credentials.
[[sources]]
type = \"hackernews\"
interval = \"10m\"

# Google News search feed, one request per product name and alias.
[[sources]]
type = \"rss\"
name = \"google-news\"
interval = \"30m\"
url = \"https://news.google.com/rss/search?q={query}&hl=en-US&gl=US&ceid=US:en\"

# Mastodon hashtag timelines on a few instances, no credentials.
# [[sources]]
# type = \"mastodon\"
# interval = \"15m\"
# instances = [\"https://mastodon.social\", \"https://fosstodon.org\"]

# GitHub issues and pull requests (10 searches a minute without a token).
# [[sources]]
# type = \"github\"
# interval = \"15m\"
# token = \"env:GITHUB_TOKEN\"

# ---- Sentiment classifier ---------------------------------------------------------------
[classifier]
# \"lexicon\" is embedded and needs no files.
type = \"lexicon\"

# ---- Alerts -------------------------------------------------------------------------------
# Channels deliver alerts; routes send each department's alerts to its channels.
# [[channels]]
# type = \"jsonl\"
# name = \"log\"
# path = \"alerts.jsonl\"
#
# [[routes]]
# department = \"it\"
# channels = [\"log\"]

# Pulse's own problems are raised as `pulse_health` alerts to department \"it\".
# [health]
# source_failing_for = \"1h\"
# heartbeat_url = \"env:PULSE_HEARTBEAT_URL\"   # dead-man's switch, pinged every heartbeat_interval
# heartbeat_interval = \"5m\"

# ---- Local API (the CLI talks to the daemon through it) ---------------------------------
[api]
listen = \"127.0.0.1:7878\"
# Required when listening off loopback.
# token = \"env:PULSE_API_TOKEN\"
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_configs_validate() {
        let p = Path::new("config.toml");
        let c = crate::config::Config::parse(&starter_config(&[], Path::new("data/pulse.db")), p)
            .unwrap();
        assert_eq!(c.products.len(), 2);
        assert_eq!(c.sources.len(), 2);
        let c = crate::config::Config::parse(
            &starter_config(
                &["Acme \"Pro\"".into(), "Widgetron".into()],
                Path::new("/var/lib/pulse/pulse.db"),
            ),
            p,
        )
        .unwrap();
        assert_eq!(c.products[0].name, "Acme \"Pro\"");
        assert_eq!(c.store.path, Path::new("/var/lib/pulse/pulse.db"));
    }
}
