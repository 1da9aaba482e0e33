//! `pulse alerts`: list the alerts raised, where each notification went and whether it was
//! delivered; `pulse alerts test CHANNEL` sends a test message and prints the answer.

use super::{Format, Globals};
use crate::alert::engine::{list_alerts, list_outbox, send};
use crate::alert::{delivery, Department, Message};
use crate::trend::parse_since;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Only alerts raised since then: a duration back (`7d`, `36h`) or a date.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Send a test message through a configured channel and print its answer.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Channel name from [[channels]].
    pub channel: String,
    /// Department the test message is framed for.
    #[arg(long, value_enum, default_value = "marketing")]
    pub department: DepartmentArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DepartmentArg {
    Marketing,
    It,
}

/// One notification (or a muted alert) in `pulse alerts`.
#[derive(Debug, Serialize)]
pub struct AlertRow {
    pub alert_id: String,
    pub at: String,
    pub product: String,
    pub signal: String,
    pub direction: String,
    pub aspect: String,
    pub severity: String,
    pub department: String,
    pub status: String,
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub delivery: String,
    pub attempts: u32,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub summary: String,
}

fn rfc(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    match &args.command {
        Some(AlertsCommand::Test(t)) => test(t, g).await,
        None => list(args, g).await,
    }
}

async fn list(args: &Args, g: &Globals) -> anyhow::Result<()> {
    // While a daemon holds the store (or with --remote), ask its API: same rows.
    let daemon_running = g.remote.is_some()
        || crate::daemon::DaemonInfo::read(&g.load_config()?.store.path).is_some();
    if daemon_running {
        let backend = super::backend::Backend::connect(g).await?;
        let mut q = vec![("limit", "0".to_string())];
        if let Some(s) = &args.since {
            q.push(("since", s.clone()));
        }
        let rows: Vec<serde_json::Value> = backend.get_json("/api/alerts", &q).await?;
        let mut out = std::io::stdout().lock();
        return super::output::print_rows(&mut out, &rows, args.format, None);
    }
    let config = g.load_config()?;
    let since = match &args.since {
        Some(s) => Some(parse_since(s, Utc::now()).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let store = crate::daemon::open_store(&config)?;
    let alerts = list_alerts(store.db())?;
    let outbox = list_outbox(store.db())?;
    let mut rows = Vec::new();
    for a in alerts
        .iter()
        .filter(|a| since.is_none_or(|s| a.starts_at >= s))
    {
        let entries: Vec<_> = outbox.iter().filter(|e| e.alert_id == a.id).collect();
        let status = format!("{:?}", a.status).to_lowercase();
        let base = |kind: Option<String>, channel: Option<String>, delivery: String| AlertRow {
            alert_id: a.id.clone(),
            at: rfc(a.starts_at),
            product: a.labels.product.clone(),
            signal: a.labels.signal.clone(),
            direction: a.labels.direction.clone(),
            aspect: a.labels.aspect.clone(),
            severity: a.labels.severity.clone(),
            department: a.labels.department.clone(),
            status: status.clone(),
            kind,
            channel,
            delivery,
            attempts: 0,
            delivered_at: None,
            last_error: None,
            summary: a.message.summary(),
        };
        if entries.is_empty() {
            let why = a
                .muted
                .clone()
                .unwrap_or_else(|| "no matching route".into());
            rows.push(base(None, None, format!("not sent ({why})")));
        }
        for e in entries {
            let mut r = base(
                Some(e.kind.as_str().into()),
                Some(e.channel.clone()),
                e.state.as_str().into(),
            );
            r.department = e.message.department.as_str().into();
            r.attempts = e.attempts;
            r.delivered_at = e.delivered_at.map(rfc);
            r.last_error = e.last_error.clone();
            rows.push(r);
        }
    }
    let mut out = std::io::stdout().lock();
    super::output::print_rows(&mut out, &rows, args.format, None)
}

async fn test(t: &TestArgs, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let Some(entry) = config.channels.iter().find(|c| c.name == t.channel) else {
        let names: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no channel named `{}` in [[channels]]; configured: {}",
            t.channel,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let department = match t.department {
        DepartmentArg::Marketing => Department::Marketing,
        DepartmentArg::It => Department::It,
    };
    let now = Utc::now();
    let message = Message::test(department, now);
    let http = delivery::http_client(&config.http.user_agent).map_err(anyhow::Error::msg)?;
    let id = format!("msg_test_{}", now.timestamp_millis());
    match send(&entry.kind, &http, &message, &id, now).await {
        Ok(d) => {
            let what = if entry.kind.type_name() == "email" {
                "SMTP"
            } else if entry.kind.type_name() == "jsonl" {
                "written"
            } else {
                "HTTP"
            };
            println!(
                "{} ({}): delivered, {what} {}{}",
                entry.name,
                entry.kind.type_name(),
                d.status,
                if d.detail.is_empty() {
                    String::new()
                } else {
                    format!(" {}", d.detail)
                }
            );
            Ok(())
        }
        Err(e) => anyhow::bail!(
            "test message to `{}` ({}) failed: {e}",
            entry.name,
            entry.kind.type_name()
        ),
    }
}
