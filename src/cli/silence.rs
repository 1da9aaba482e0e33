//! `pulse silence add product=X --for 2h` mutes matching alerts for a while;
//! `pulse silence list` shows the silences.

use super::{Format, Globals};
use crate::alert::silence::{self, Silence};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SilenceCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SilenceCommand {
    /// Mute alerts whose labels match (product, signal, direction, aspect, severity,
    /// department; `label=~regex` for a pattern).
    Add(AddArgs),
    /// List silences.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Matchers like `product="ACME Phone"` or `department=it`.
    #[arg(required = true)]
    pub matchers: Vec<String>,
    /// How long the silence lasts.
    #[arg(long = "for", default_value = "2h", value_parser = crate::config::parse_duration)]
    pub duration: std::time::Duration,
    /// Why (shown in `pulse silence list`).
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Include expired silences.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct SilenceRow {
    id: String,
    matchers: String,
    starts_at: String,
    ends_at: String,
    active: bool,
    created_by: String,
    comment: String,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let store = crate::daemon::open_store(&config)?;
    let now = Utc::now();
    match &args.command {
        SilenceCommand::Add(a) => {
            let matchers = silence::parse_matchers(&a.matchers)?;
            let s = Silence {
                id: silence::new_id(now, &matchers),
                matchers,
                starts_at: now,
                ends_at: now + chrono::Duration::from_std(a.duration)?,
                created_by: std::env::var("USER").unwrap_or_else(|_| "pulse".into()),
                comment: a.comment.clone(),
            };
            silence::add(store.db(), &s)?;
            store.flush()?;
            println!(
                "{}: silenced {} until {}",
                s.id,
                a.matchers.join(" "),
                s.ends_at.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
            Ok(())
        }
        SilenceCommand::List(l) => {
            let rows: Vec<SilenceRow> = silence::list(store.db())?
                .into_iter()
                .filter(|s| l.all || s.ends_at > now)
                .map(|s| SilenceRow {
                    active: s.active(now),
                    matchers: s
                        .matchers
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    id: s.id,
                    starts_at: s.starts_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    ends_at: s.ends_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    created_by: s.created_by,
                    comment: s.comment,
                })
                .collect();
            let mut out = std::io::stdout().lock();
            super::output::print_rows(&mut out, &rows, l.format, None)
        }
    }
}
