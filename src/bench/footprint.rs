//! Daemon footprint: run the real `pulse run` against local feed servers (generated RSS that
//! grows on every request) and report peak RSS and CPU time per 1,000 mentions.

use super::generate;
use axum::extract::{Path as AxPath, State};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One row of the footprint benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintRow {
    pub products: usize,
    pub sources: usize,
    pub seconds: u64,
    pub mentions_stored: u64,
    pub peak_rss_mb: f64,
    pub cpu_seconds: f64,
    pub cpu_ms_per_1000_mentions: Option<f64>,
}

struct Feeds {
    gens: Vec<generate::Generator>,
}

async fn feed(
    State(feeds): State<Arc<Mutex<Feeds>>>,
    AxPath(n): AxPath<usize>,
) -> ([(&'static str, &'static str); 1], String) {
    let items: Vec<crate::model::RawMention> = {
        let mut f = feeds.lock().expect("feeds lock");
        let len = f.gens.len();
        f.gens[n % len].take(40)
    };
    let mut body = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>bench</title><link>http://127.0.0.1/</link><description>bench</description>");
    for m in items {
        // Fresh items each request, stamped now, so every poll brings new mentions.
        body.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid>{}</guid><pubDate>{}</pubDate></item>",
            html_escape::encode_text(&m.text),
            m.url.clone().unwrap_or_default(),
            m.id,
            chrono::Utc::now().to_rfc2822()
        ));
    }
    body.push_str("</channel></rss>");
    ([("content-type", "application/rss+xml")], body)
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: utime and stime are 14th and 15th overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
}

/// Run the daemon for `duration` with `products` products and `sources` RSS sources.
pub async fn run(
    dir: &Path,
    products: usize,
    sources: usize,
    duration: Duration,
    seed: u64,
    cache_mb: u64,
) -> anyhow::Result<FootprintRow> {
    let ps = generate::products(products, seed);
    let gens = (0..sources)
        .map(|i| generate::Generator::new(&ps, seed + i as u64, chrono::Utc::now(), 1))
        .collect();
    let state = Arc::new(Mutex::new(Feeds { gens }));
    let app = Router::new()
        .route("/feed/{n}", get(feed))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut config = format!("[store]\npath = \"footprint.db\"\ncache_mb = {cache_mb}\n[api]\nlisten = \"127.0.0.1:0\"\n[http]\nper_host_rps = 50\n");
    for p in &ps {
        config.push_str(&format!(
            "[[products]]\nname = \"{}\"\naliases = [\"{}\"]\n",
            p.name, p.aliases[0]
        ));
    }
    for i in 0..sources {
        config.push_str(&format!(
            "[[sources]]\ntype = \"rss\"\nname = \"feed-{i}\"\ninterval = \"10s\"\nurl = \"http://{addr}/feed/{i}\"\n"
        ));
    }
    std::fs::write(dir.join("footprint.toml"), config)?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .args(["--config", "footprint.toml", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id();
    let start = Instant::now();
    while start.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("daemon exited early with {status}");
        }
    }
    let peak_kb = proc_field(pid, "status", "VmHWM:").unwrap_or(0);
    let cpu = cpu_seconds(pid).unwrap_or(0.0);
    let info = crate::daemon::DaemonInfo::read(&dir.join("footprint.db"));
    let mut stored = 0;
    if let Some(info) = info {
        let url = format!("{}/api/status", info.api);
        if let Ok(resp) = reqwest::get(&url).await {
            if let Ok(v) = resp.json::<serde_json::Value>().await {
                stored = v["mentions_stored"].as_u64().unwrap_or(0);
            }
        }
    }
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
    server.abort();
    Ok(FootprintRow {
        products,
        sources,
        seconds: duration.as_secs(),
        mentions_stored: stored,
        peak_rss_mb: (peak_kb as f64 / 1024.0 * 10.0).round() / 10.0,
        cpu_seconds: (cpu * 100.0).round() / 100.0,
        cpu_ms_per_1000_mentions: (stored > 0)
            .then(|| (cpu * 1000.0 / stored as f64 * 1000.0 * 10.0).round() / 10.0),
    })
}
