//! `pulse status`: per source, last poll, mentions fetched and last error; store size;
//! whether a daemon holds the store.

use super::{backend::Backend, output, Format, Globals};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let backend = Backend::connect(g).await?;
    let report = backend.status().await?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Csv => output::print_rows(&mut out, &report.sources, Format::Csv, None)?,
        Format::Table => {
            match report.mode.as_str() {
                "daemon" => writeln!(
                    out,
                    "daemon: running (pid {}, API {}, since {}); answered through its API",
                    report.daemon_pid.map(|p| p.to_string()).unwrap_or_default(),
                    report.api.clone().unwrap_or_default(),
                    report
                        .started_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )?,
                _ => writeln!(out, "daemon: not running; read the store directly")?,
            }
            writeln!(
                out,
                "store: {} ({:.1} MiB, {} mention records)",
                report.store_path,
                report.store_bytes as f64 / 1_048_576.0,
                report.mentions_stored
            )?;
            output::print_rows(&mut out, &report.sources, Format::Table, None)?;
            write_health(&mut out, &report.health)?;
        }
    }
    Ok(())
}

/// The health findings under the table: what is wrong and what to do.
fn write_health(
    out: &mut impl Write,
    findings: &[crate::health::HealthFinding],
) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "health: ok");
    }
    writeln!(out, "health: {} problem(s)", findings.len())?;
    for f in findings {
        let severity = match f.severity {
            crate::health::Severity::Critical => "CRITICAL",
            crate::health::Severity::Warning => "warning",
        };
        writeln!(out, "  {severity} [{}] {}", f.check, f.message)?;
        writeln!(out, "    -> {}", f.action)?;
    }
    Ok(())
}
