//! `pulse check-config`: validate the config and print what it sets up.

use super::Globals;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "config {} is valid", config.path.display())?;
    writeln!(out, "store: {}", config.store.path.display())?;
    writeln!(out, "products ({}):", config.products.len())?;
    for p in &config.products {
        let mut line = format!("  - {}", p.name);
        if !p.aliases.is_empty() {
            line.push_str(&format!(" (aliases: {})", p.aliases.join(", ")));
        }
        if !p.exclude.is_empty() {
            line.push_str(&format!(" (exclude: {})", p.exclude.join(", ")));
        }
        if let Some(l) = p.launch {
            line.push_str(&format!(" (launch {})", l.to_rfc3339()));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out, "sources ({}):", config.sources.len())?;
    for s in &config.sources {
        writeln!(
            out,
            "  - {} ({}, every {})",
            s.name,
            s.kind.type_name(),
            humantime::format_duration(s.interval)
        )?;
    }
    if config.sources.is_empty() {
        writeln!(out, "  (none: the daemon serves queries and imports only)")?;
    }
    writeln!(out, "classifier: {:?}", config.classifier.kind)?;
    writeln!(out, "channels ({}):", config.channels.len())?;
    for c in &config.channels {
        writeln!(out, "  - {}", c.name)?;
    }
    writeln!(out, "api: http://{}", config.api.listen)?;
    Ok(())
}
