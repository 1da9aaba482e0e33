//! `pulse trend PRODUCT`: the product's time buckets, ending with a sparkline of volume.

use super::{backend::Backend, output, Format, Globals};
use crate::api::TrendParams;
use crate::trend::sparkline;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Product name or alias.
    pub product: String,
    /// How far back: a duration (7d, 36h) or a date (2026-11-01).
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// Bucket width: 1h or 1d (default: 1h up to 3 days back, else 1d).
    #[arg(long)]
    pub bucket: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also draw the chart (volume bars, net-sentiment line, alert markers) to FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let backend = Backend::connect(g).await?;
    let params = TrendParams {
        since: Some(args.since.clone()),
        bucket: args.bucket.clone(),
    };
    let rows = backend.trend(&args.product, &params).await?;
    if let Some(path) = &args.plot {
        plot(&backend, &args.product, &rows, path).await?;
    }
    let counts: Vec<f64> = rows.iter().map(|r| r.count as f64).collect();
    let total: u64 = rows.iter().map(|r| r.count).sum();
    let footer = format!(
        "volume {}  ({} mentions in {} buckets)",
        sparkline(&counts),
        total,
        rows.len()
    );
    output::print_rows(
        &mut std::io::stdout().lock(),
        &rows,
        args.format,
        Some(&footer),
    )
}

/// `--plot`: the dashboard's chart, drawn to a file.
async fn plot(
    backend: &Backend,
    product: &str,
    rows: &[crate::trend::TrendRow],
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::api::alerts::{AlertListRow, AlertParams};
    use crate::trend::plot::{write_file, Chart, Marker};
    let listed: Vec<AlertListRow> = match backend {
        Backend::Local { store, config } => {
            let p = AlertParams {
                product: Some(product.to_string()),
                limit: Some(0),
                ..Default::default()
            };
            crate::api::alerts::alert_listing(store, config, &p, chrono::Utc::now())
                .map_err(|e| anyhow::anyhow!(e.1))?
        }
        _ => {
            backend
                .get_json(
                    "/api/alerts",
                    &[("product", product.to_string()), ("limit", "0".into())],
                )
                .await?
        }
    };
    // One marker per alert (an alert has a row per notification).
    let mut markers: Vec<Marker> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &listed {
        if !seen.insert(r.alert_id.clone()) {
            continue;
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&r.at) {
            markers.push(Marker {
                at: at.with_timezone(&chrono::Utc),
                label: r.signal.clone(),
            });
        }
    }
    let chart = Chart {
        title: product,
        rows,
        markers: &markers,
    };
    write_file(path, &chart, 1100, 380)?;
    eprintln!(
        "wrote the chart to {} ({} buckets, {} alert markers)",
        path.display(),
        rows.len(),
        chart.visible_markers().count()
    );
    Ok(())
}
