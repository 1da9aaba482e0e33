//! `pulse label MENTION_ID positive|negative|neutral`: store a human sentiment label for a mention, for
//! `pulse train --include-labels`. `pulse label --list` shows the stored labels.

use super::{output, Format, Globals};
use crate::model::Label;
use crate::sentiment::user_labels::{self, UserLabel};
use anyhow::Context;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Native id of the mention, as `pulse mentions` shows it.
    #[arg(required_unless_present = "list")]
    pub mention_id: Option<String>,
    /// The right sentiment.
    #[arg(required_unless_present = "list", value_parser = ["positive", "negative", "neutral"])]
    pub sentiment: Option<String>,
    /// Source of the mention (configured name or `import`); needed only when the id exists in several.
    #[arg(long)]
    pub source: Option<String>,
    /// List the stored labels instead.
    #[arg(long, conflicts_with_all = ["mention_id", "sentiment"])]
    pub list: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Row {
    source: String,
    id: String,
    label: Label,
    labelled_at: chrono::DateTime<chrono::Utc>,
    text: String,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let store = crate::daemon::open_store(&config)?;
    if args.list {
        let rows: Vec<Row> = user_labels::all(store.db())?
            .into_iter()
            .map(|l| Row {
                source: l.source,
                id: l.id,
                label: l.label,
                labelled_at: l.labelled_at,
                text: l.text,
            })
            .collect();
        return output::print_rows(&mut std::io::stdout().lock(), &rows, args.format, None);
    }
    let (Some(id), Some(sentiment)) = (&args.mention_id, &args.sentiment) else {
        anyhow::bail!("give MENTION_ID and positive|negative|neutral, or --list");
    };
    let label: Label = sentiment.parse().map_err(anyhow::Error::msg)?;
    let sources: Vec<String> = match &args.source {
        Some(s) => vec![s.clone()],
        None => {
            // Configured sources, sources the store has seen polling, and `import`.
            let mut names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
            names.extend(store.all_source_status()?.into_iter().map(|s| s.source));
            names.push("import".into());
            names.sort();
            names.dedup();
            names
        }
    };
    let mut found = Vec::new();
    for s in &sources {
        if let Some(m) = store
            .mention_by_id(s, id)
            .with_context(|| format!("cannot look up mention {id} in source {s}"))?
            .into_iter()
            .next()
        {
            found.push(m);
        }
    }
    let mention = match found.len() {
        0 => anyhow::bail!(
            "no stored mention with id {id}{}; see `pulse mentions PRODUCT` for ids and sources (--source)",
            args.source
                .as_ref()
                .map(|s| format!(" in source {s}"))
                .unwrap_or_default()
        ),
        1 => found.remove(0),
        _ => anyhow::bail!(
            "mention id {id} exists in sources {}; pick one with --source",
            found.iter().map(|m| m.source.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let rec = UserLabel {
        source: mention.source.clone(),
        id: mention.id.clone(),
        label,
        text: mention.text.clone(),
        labelled_at: chrono::Utc::now(),
    };
    let old = user_labels::put(store.db(), &rec)?;
    store.flush()?;
    tracing::info!(source = %rec.source, id = %rec.id, label = %label, "stored human label");
    match old {
        Some(o) if o.label != label => println!(
            "{}:{} labelled {label} (was {}; the classifier said {})",
            rec.source, rec.id, o.label, mention.label
        ),
        _ => println!(
            "{}:{} labelled {label} (the classifier said {})",
            rec.source, rec.id, mention.label
        ),
    }
    Ok(())
}
