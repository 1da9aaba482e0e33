//! `pulse store ...`: maintenance of the store: `check` recounts every bucket, `stats` shows
//! what takes the space, `compact` rewrites it (offline), `prune` applies retention now.

use super::{output, Format, Globals};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Recount every trend bucket from the stored mentions and report disagreements.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Entries and bytes per kind of record, mention counts, oldest and newest mention.
    Stats {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Rewrite the store into a fresh, compact copy (the daemon must be stopped).
    Compact,
    /// Delete mention texts older than `[store] keep_mentions` (or --older-than) now.
    Prune {
        /// Overrides `[store] keep_mentions`, e.g. 180d.
        #[arg(long)]
        older_than: Option<String>,
    },
}

#[derive(Debug, Serialize)]
pub struct StatsRow {
    pub kind: String,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub mention_records: u64,
    pub buckets: u64,
    pub mismatched_buckets: u64,
    pub ok: bool,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    if let StoreCommand::Compact = &args.command {
        return compact(&config.store.path);
    }
    let store = crate::daemon::open_store(&config)?;
    match &args.command {
        StoreCommand::Compact => unreachable!("handled above"),
        StoreCommand::Prune { older_than } => {
            let keep = match older_than {
                Some(t) => crate::config::parse_duration(t).map_err(anyhow::Error::msg)?,
                None => config.store.keep_mentions.ok_or_else(|| {
                    anyhow::anyhow!(
                        "no retention set: pass --older-than 180d or set `[store] keep_mentions`"
                    )
                })?,
            };
            let cutoff = chrono::Utc::now() - chrono::Duration::from_std(keep)?;
            let n = store.prune_before(cutoff, 10_000)?;
            println!(
                "pruned {n} mention records published before {}",
                cutoff.to_rfc3339()
            );
            Ok(())
        }
        StoreCommand::Stats { format } => {
            let st = store.stats()?;
            let mut rows = vec![
                StatsRow {
                    kind: "mentions".into(),
                    entries: st.mentions.entries,
                    bytes: st.mentions.bytes,
                },
                StatsRow {
                    kind: "dedup_ids".into(),
                    entries: st.dedup_ids.entries,
                    bytes: st.dedup_ids.bytes,
                },
                StatsRow {
                    kind: "buckets".into(),
                    entries: st.buckets.entries,
                    bytes: st.buckets.bytes,
                },
            ];
            for (name, t) in &st.small_trees {
                rows.push(StatsRow {
                    kind: name.clone(),
                    entries: t.entries,
                    bytes: t.bytes,
                });
            }
            let footer = format!(
                "size on disk: {:.1} MiB; oldest mention: {}; newest: {}",
                st.size_on_disk as f64 / 1_048_576.0,
                st.oldest
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".into()),
                st.newest
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".into()),
            );
            output::print_rows(&mut std::io::stdout().lock(), &rows, *format, Some(&footer))
        }
        StoreCommand::Check { format } => {
            let recount = store.recount()?;
            let stored = store.all_buckets()?;
            let mut mismatched = 0u64;
            for (k, v) in &stored {
                let expected = recount.get(k).copied().unwrap_or_default();
                if expected.count != v.count
                    || expected.positive != v.positive
                    || expected.negative != v.negative
                    || expected.neutral != v.neutral
                    || (expected.score_sum - v.score_sum).abs()
                        > 1e-6 * expected.count.max(1) as f64
                {
                    mismatched += 1;
                }
            }
            mismatched += recount.keys().filter(|k| !stored.contains_key(*k)).count() as u64;
            let report = CheckReport {
                mention_records: store.mention_count() as u64,
                buckets: stored.len() as u64,
                mismatched_buckets: mismatched,
                ok: mismatched == 0,
            };
            output::print_rows(&mut std::io::stdout().lock(), &[&report], *format, None)?;
            if !report.ok {
                anyhow::bail!("{mismatched} bucket(s) disagree with the stored mentions");
            }
            Ok(())
        }
    }
}

/// Copy every tree into a fresh sled database, then swap it in place of the old one.
fn compact(path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let old = match sled::Config::new().path(path).open() {
        Ok(db) => db,
        Err(e) => anyhow::bail!(
            "cannot open store at {} for compaction ({e}); stop the daemon first",
            path.display()
        ),
    };
    let before = old.size_on_disk()?;
    let tmp = path.with_extension("compacting");
    let _ = std::fs::remove_dir_all(&tmp);
    let fresh = sled::Config::new()
        .path(&tmp)
        .open()
        .context("cannot create the compacted copy")?;
    fresh.import(old.export());
    fresh.flush()?;
    let after = fresh.size_on_disk()?;
    drop(fresh);
    drop(old);
    let backup = path.with_extension("before-compact");
    let _ = std::fs::remove_dir_all(&backup);
    std::fs::rename(path, &backup).context("cannot move the old store aside")?;
    std::fs::rename(&tmp, path).context("cannot move the compacted store in place")?;
    // Open once to prove the new copy is sound before the old one is deleted.
    crate::store::Store::open(path)
        .context("the compacted store does not open; the old one is kept beside it")?;
    std::fs::remove_dir_all(&backup)?;
    println!(
        "compacted {}: {:.1} MiB -> {:.1} MiB",
        path.display(),
        before as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0
    );
    Ok(())
}
