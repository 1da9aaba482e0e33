//! Configuration: `config.toml` is parsed into typed sections, then validated; every
//! problem is reported at once with its key path and line.

use crate::alert::{ChannelConfig, RouteConfig};
use crate::sentiment::ClassifierConfig;
use crate::sources::SourceConfig;
use crate::trend::DetectConfig;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default location of the config file when neither `--config` nor `PULSE_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config.toml";

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config was read from (for messages and relative paths).
    pub path: PathBuf,
    pub store: StoreConfig,
    pub products: Vec<ProductConfig>,
    pub sources: Vec<SourceEntry>,
    pub classifier: ClassifierConfig,
    pub detect: DetectConfig,
    pub channels: Vec<ChannelEntry>,
    pub routes: Vec<RouteConfig>,
    pub api: ApiConfig,
    pub http: HttpConfig,
    /// `[health]`: self-monitoring thresholds and the heartbeat.
    pub health: crate::health::HealthConfig,
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// Dotted key path such as `sources[1].interval`.
    pub key: String,
    /// 1-based line number when the key could be located.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: `{}`: {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// Errors from loading a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}; pass --config FILE or set PULSE_CONFIG")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {} problem(s)\n{}", problems.len(), render(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

fn render(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// sled database directory.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Prune mention texts older than this (trend buckets are kept forever).
    #[serde(default, with = "humantime_serde")]
    pub keep_mentions: Option<Duration>,
    /// sled page cache in MiB: more speeds up queries on large stores, less keeps the
    /// daemon small.
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
}

fn default_store_path() -> PathBuf {
    PathBuf::from("data/pulse.db")
}

fn default_cache_mb() -> u64 {
    crate::store::DEFAULT_CACHE_MB
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            keep_mentions: None,
            cache_mb: default_cache_mb(),
        }
    }
}

/// A product to watch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    pub name: String,
    /// Other names the product goes by (matched like the name).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Words or phrases that, when present, mean the text is about something else
    /// (e.g. "pie", "fruit" for a product called Apple).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Launch date or time: detection compares the launch window with the pre-launch baseline.
    #[serde(default, deserialize_with = "de_launch")]
    pub launch: Option<DateTime<Utc>>,
    /// Per-product detection windows (overrides `[detect]`), e.g. `window = "6h"`.
    #[serde(default, with = "humantime_serde")]
    pub window: Option<Duration>,
    /// Per-product baseline length (overrides `[detect]`).
    #[serde(default, with = "humantime_serde")]
    pub baseline: Option<Duration>,
}

impl ProductConfig {
    /// The name followed by its aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

fn de_launch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<toml::Value> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let text = match raw {
        toml::Value::String(s) => s,
        toml::Value::Datetime(dt) => dt.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a date like \"2026-12-01\" or an RFC 3339 time, found {}",
                other.type_str()
            )))
        }
    };
    parse_time(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Parse `2026-12-01`, `2026-12-01T09:00:00Z` or an RFC 3339 time with offset.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(format!(
        "invalid time `{text}`: expected a date like 2026-12-01 or an RFC 3339 time like 2026-12-01T09:00:00Z"
    ))
}

/// A configured source: the common keys plus the type-specific part.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// Unique name (defaults to the type, numbered when repeated); cursors are stored under it.
    pub name: String,
    /// How often to poll.
    pub interval: Duration,
    /// How far before the newest item seen each poll re-reads (late and out-of-order
    /// posts); default per platform ([`SourceConfig::default_overlap`]).
    pub overlap: Duration,
    /// Most pages one scope (query, feed, tag) reads per poll; the next poll goes on.
    pub max_pages: usize,
    /// How far back a first poll reads; `None`: only the newest page (no history flood).
    pub lookback: Option<Duration>,
    pub kind: SourceConfig,
}

/// Pages per scope and poll unless `max_pages` says otherwise.
pub const DEFAULT_MAX_PAGES: usize = 5;

/// A configured alert channel.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub name: String,
    pub kind: ChannelConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address the daemon's HTTP API listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer token required for every request (mandatory off loopback).
    #[serde(default)]
    pub token: Option<Secret>,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:7878".parse().expect("valid default")
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: default_listen(),
            token: None,
        }
    }
}

/// Settings for the one HTTP client all sources share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Sent with every request; names Pulse and how to reach its operator.
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Timeout for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest response body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Requests per second allowed to one host.
    #[serde(default = "default_rps")]
    pub per_host_rps: u32,
    /// Retries of one request after 429/5xx/timeouts, within one poll.
    #[serde(default = "default_retries")]
    pub max_retries: usize,
    /// Longest `Retry-After` waited inside one poll; longer waits skip to a later poll.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_retry_wait: Duration,
}

pub fn default_user_agent() -> String {
    format!(
        "pulse/{} (+https://github.com/pulse-monitor/pulse; social sentiment monitor)",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_max_body() -> usize {
    8 * 1024 * 1024
}
fn default_rps() -> u32 {
    1
}
fn default_retries() -> usize {
    3
}
fn default_max_wait() -> Duration {
    Duration::from_secs(60)
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: default_user_agent(),
            timeout: default_timeout(),
            max_body_bytes: default_max_body(),
            per_host_rps: default_rps(),
            max_retries: default_retries(),
            max_retry_wait: default_max_wait(),
        }
    }
}

/// A secret value given literally or as `env:VAR_NAME`; never printed.
#[derive(Clone, PartialEq)]
pub struct Secret {
    value: String,
    /// Where it came from, for messages (`env:SLACK_URL` or `inline`).
    origin: String,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret {
            value: value.into(),
            origin: "inline".into(),
        }
    }
    /// The secret itself: use it only to make a request, never to log.
    pub fn expose(&self) -> &str {
        &self.value
    }
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// Resolve `env:NAME` from the environment; anything else is taken literally.
    pub fn resolve(raw: &str) -> Result<Secret, String> {
        match raw.strip_prefix("env:") {
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret {
                    value: v,
                    origin: raw.to_string(),
                }),
                _ => Err(format!(
                    "environment variable `{var}` is not set (the key says `{raw}`): export it before starting pulse"
                )),
            },
            None => Ok(Secret::new(raw)),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.origin)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret {}>", self.origin)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Secret::resolve(&raw).map_err(serde::de::Error::custom)
    }
}

/// Parse a duration like `10m`, `7d`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration `{text}` ({e}): write it like 90s, 10m, 6h or 7d"))
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "store",
    "products",
    "sources",
    "classifier",
    "detect",
    "channels",
    "routes",
    "api",
    "http",
    "health",
];

impl Config {
    /// Where to read the config from: `--config`, then `PULSE_CONFIG`, then `./config.toml`.
    pub fn locate(cli: Option<&Path>) -> PathBuf {
        if let Some(p) = cli {
            return p.to_path_buf();
        }
        match std::env::var_os("PULSE_CONFIG") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(DEFAULT_CONFIG_PATH),
        }
    }

    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parse and validate config text; `path` is used for messages and relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        };
        let doc = match toml_edit::ImDocument::parse(text.to_string()) {
            Ok(doc) => doc,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start));
                return Err(invalid(vec![ConfigProblem {
                    key: "(syntax)".into(),
                    line,
                    message: e.message().trim().to_string(),
                }]));
            }
        };
        let table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start));
                return Err(invalid(vec![ConfigProblem {
                    key: "(syntax)".into(),
                    line,
                    message: e.message().trim().to_string(),
                }]));
            }
        };
        let mut p = Problems {
            text,
            doc: &doc,
            list: Vec::new(),
        };
        for key in table.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                p.push(
                    key,
                    format!(
                        "unknown section `{key}`; expected one of: {}",
                        TOP_LEVEL_KEYS.join(", ")
                    ),
                );
            }
        }
        let store: StoreConfig = p.section(&table, "store").unwrap_or_default();
        let classifier: ClassifierConfig = p.section(&table, "classifier").unwrap_or_default();
        let detect: DetectConfig = p.section(&table, "detect").unwrap_or_default();
        let api: ApiConfig = p.section(&table, "api").unwrap_or_default();
        let http: HttpConfig = p.section(&table, "http").unwrap_or_default();
        let health: crate::health::HealthConfig = p.section(&table, "health").unwrap_or_default();
        let products: Vec<ProductConfig> = p.array(&table, "products");
        let routes: Vec<RouteConfig> = p.array(&table, "routes");
        let sources = p.sources(&table);
        let channels = p.channels(&table);

        let mut config = Config {
            path: path.to_path_buf(),
            store,
            products,
            sources,
            classifier,
            detect,
            channels,
            routes,
            api,
            http,
            health,
        };
        config.validate(&mut p, table.contains_key("products"));
        if !p.list.is_empty() {
            p.list.sort_by_key(|x| x.line.unwrap_or(usize::MAX));
            return Err(invalid(p.list));
        }
        Ok(config)
    }

    fn validate(&mut self, p: &mut Problems<'_>, products_given: bool) {
        if self.products.is_empty() && !products_given {
            p.push(
                "products",
                "no products configured: add at least one [[products]] entry with a `name`"
                    .to_string(),
            );
        }
        let mut names = HashSet::new();
        for (i, prod) in self.products.iter().enumerate() {
            if prod.name.trim().is_empty() {
                p.push(
                    &format!("products[{i}].name"),
                    "product name is empty".into(),
                );
            }
            if !names.insert(prod.name.to_lowercase()) {
                p.push(
                    &format!("products[{i}].name"),
                    format!("duplicate product `{}`", prod.name),
                );
            }
            if prod.name.contains('\0') || prod.name.contains('/') {
                p.push(
                    &format!("products[{i}].name"),
                    "product names may not contain `/` or NUL".into(),
                );
            }
            for (j, a) in prod.aliases.iter().enumerate() {
                if a.trim().is_empty() {
                    p.push(
                        &format!("products[{i}].aliases[{j}]"),
                        "alias is empty".into(),
                    );
                }
            }
        }
        let mut source_names = HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            if !source_names.insert(s.name.clone()) {
                p.push(
                    &format!("sources[{i}].name"),
                    format!(
                        "duplicate source name `{}`: give each source a unique `name`",
                        s.name
                    ),
                );
            }
            if s.interval < Duration::from_secs(10) {
                p.push(
                    &format!("sources[{i}].interval"),
                    "interval must be at least 10s: polling faster is impolite to the platform"
                        .into(),
                );
            }
            for (key, msg) in s.kind.validate() {
                p.push(&format!("sources[{i}].{key}"), msg);
            }
        }
        let mut channel_names = HashSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            if !channel_names.insert(c.name.clone()) {
                p.push(
                    &format!("channels[{i}].name"),
                    format!("duplicate channel name `{}`", c.name),
                );
            }
            for (key, msg) in c.kind.validate() {
                p.push(&format!("channels[{i}].{key}"), msg);
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            for (key, msg) in r.validate(&channel_names) {
                p.push(&format!("routes[{i}].{key}"), msg);
            }
        }
        for (key, msg) in self.classifier.validate() {
            p.push(&format!("classifier.{key}"), msg);
        }
        for (key, msg) in self.detect.validate() {
            p.push(&format!("detect.{key}"), msg);
        }
        for (key, msg) in self.health.validate() {
            p.push(&format!("health.{key}"), msg);
        }
        if !self.api.listen.ip().is_loopback() && self.api.token.is_none() {
            p.push(
                "api.listen",
                format!(
                    "{} is not a loopback address: set `api.token = \"env:PULSE_API_TOKEN\"` so the API is not open to the network",
                    self.api.listen
                ),
            );
        }
        if self.http.user_agent.trim().is_empty() {
            p.push(
                "http.user_agent",
                "user agent may not be empty: platforms require one that names the client".into(),
            );
        }
    }

    /// Look up a product by name or alias, case-insensitively.
    pub fn product(&self, name: &str) -> Option<&ProductConfig> {
        self.products
            .iter()
            .find(|p| p.names().any(|n| n.eq_ignore_ascii_case(name)))
    }
}

/// Collects problems and maps key paths to line numbers.
struct Problems<'a> {
    text: &'a str,
    doc: &'a toml_edit::ImDocument<String>,
    list: Vec<ConfigProblem>,
}

impl Problems<'_> {
    /// A duration key of an entry (`"10m"`), taken out of it: `Err` once the problem is
    /// recorded under `base.key`.
    fn duration(
        &mut self,
        entry: &mut toml::Table,
        base: &str,
        key: &str,
        example: &str,
    ) -> Result<Option<Duration>, ()> {
        match entry.remove(key) {
            Some(toml::Value::String(s)) => match parse_duration(&s) {
                Ok(d) => Ok(Some(d)),
                Err(e) => {
                    self.push(&format!("{base}.{key}"), e);
                    Err(())
                }
            },
            Some(_) => {
                self.push(
                    &format!("{base}.{key}"),
                    format!("`{key}` must be a string like \"{example}\""),
                );
                Err(())
            }
            None => Ok(None),
        }
    }

    fn push(&mut self, key: &str, message: String) {
        let line = locate(self.doc, key).map(|offset| line_of(self.text, offset));
        self.list.push(ConfigProblem {
            key: key.to_string(),
            line,
            message,
        });
    }

    fn de_error(&mut self, base: &str, err: serde_path_to_error::Error<toml::de::Error>) {
        let inner = err.path().to_string();
        let message = err.inner().message().trim().to_string();
        let mut key = base.to_string();
        if inner != "." && !inner.is_empty() {
            key = join_key(&key, &inner);
        }
        // serde puts unknown fields on the containing struct: point at the field itself.
        if let Some(field) = backticked_after(&message, "unknown field") {
            if !key.ends_with(&format!(".{field}")) {
                key = join_key(&key, &field);
            }
        } else if let Some(field) = backticked_after(&message, "missing field") {
            let line = locate(self.doc, &key).map(|o| line_of(self.text, o));
            self.list.push(ConfigProblem {
                key: join_key(&key, &field),
                line,
                message,
            });
            return;
        }
        self.push(&key, message);
    }

    fn section<T: DeserializeOwned>(&mut self, table: &toml::Table, name: &str) -> Option<T> {
        let value = table.get(name)?.clone();
        if !value.is_table() {
            self.push(
                name,
                format!("`{name}` must be a table: write it as [{name}]"),
            );
            return None;
        }
        match serde_path_to_error::deserialize(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.de_error(name, e);
                None
            }
        }
    }

    fn entries(&mut self, table: &toml::Table, name: &str) -> Vec<(usize, toml::Table)> {
        match table.get(name) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        toml::Value::Table(t) => out.push((i, t.clone())),
                        _ => self.push(
                            &format!("{name}[{i}]"),
                            format!("each `{name}` entry must be a table: write it as [[{name}]]"),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.push(
                    name,
                    format!("`{name}` must be an array of tables: write each entry as [[{name}]]"),
                );
                Vec::new()
            }
        }
    }

    fn array<T: DeserializeOwned>(&mut self, table: &toml::Table, name: &str) -> Vec<T> {
        let mut out = Vec::new();
        for (i, entry) in self.entries(table, name) {
            match serde_path_to_error::deserialize(toml::Value::Table(entry)) {
                Ok(v) => out.push(v),
                Err(e) => self.de_error(&format!("{name}[{i}]"), e),
            }
        }
        out
    }

    /// Sources: `type`, `name` and `interval` are common; the rest belongs to the type.
    fn sources(&mut self, table: &toml::Table) -> Vec<SourceEntry> {
        let mut out = Vec::new();
        let mut counts = std::collections::HashMap::<String, usize>::new();
        for (i, mut entry) in self.entries(table, "sources") {
            let base = format!("sources[{i}]");
            let kind_name = entry
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let name = match entry.remove("name") {
                Some(toml::Value::String(s)) => Some(s),
                Some(_) => {
                    self.push(&format!("{base}.name"), "`name` must be a string".into());
                    None
                }
                None => None,
            };
            let Ok(interval) = self.duration(&mut entry, &base, "interval", "10m") else {
                continue;
            };
            let interval = interval.unwrap_or(Duration::from_secs(600));
            let Ok(overlap) = self.duration(&mut entry, &base, "overlap", "1h") else {
                continue;
            };
            let Ok(lookback) = self.duration(&mut entry, &base, "lookback", "1d") else {
                continue;
            };
            let max_pages = match entry.remove("max_pages") {
                Some(toml::Value::Integer(n)) if (1..=100).contains(&n) => n as usize,
                Some(_) => {
                    self.push(
                        &format!("{base}.max_pages"),
                        "`max_pages` must be a whole number from 1 to 100".into(),
                    );
                    continue;
                }
                None => DEFAULT_MAX_PAGES,
            };
            if kind_name.is_empty() {
                self.push(
                    &format!("{base}.type"),
                    format!(
                        "missing `type`; expected one of: {}",
                        SourceConfig::TYPES.join(", ")
                    ),
                );
                continue;
            }
            match serde_path_to_error::deserialize::<_, SourceConfig>(toml::Value::Table(entry)) {
                Ok(kind) => {
                    let n = counts.entry(kind_name.clone()).or_insert(0);
                    *n += 1;
                    let name = name.unwrap_or_else(|| {
                        if *n == 1 {
                            kind_name.clone()
                        } else {
                            format!("{kind_name}-{n}")
                        }
                    });
                    out.push(SourceEntry {
                        name,
                        interval,
                        overlap: overlap.unwrap_or_else(|| kind.default_overlap()),
                        max_pages,
                        lookback: lookback.or_else(|| kind.default_lookback()),
                        kind,
                    })
                }
                Err(e) => self.de_error(&base, e),
            }
        }
        out
    }

    fn channels(&mut self, table: &toml::Table) -> Vec<ChannelEntry> {
        let mut out = Vec::new();
        for (i, mut entry) in self.entries(table, "channels") {
            let base = format!("channels[{i}]");
            let name = match entry.remove("name") {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
                _ => {
                    self.push(
                        &format!("{base}.name"),
                        "each channel needs a `name` that routes refer to".into(),
                    );
                    continue;
                }
            };
            if !entry.contains_key("type") {
                self.push(
                    &format!("{base}.type"),
                    format!(
                        "missing `type`; expected one of: {}",
                        ChannelConfig::TYPES.join(", ")
                    ),
                );
                continue;
            }
            match serde_path_to_error::deserialize::<_, ChannelConfig>(toml::Value::Table(entry)) {
                Ok(kind) => out.push(ChannelEntry { name, kind }),
                Err(e) => self.de_error(&base, e),
            }
        }
        out
    }
}

fn join_key(base: &str, inner: &str) -> String {
    if inner.starts_with('[') {
        format!("{base}{inner}")
    } else if base.is_empty() {
        inner.to_string()
    } else {
        format!("{base}.{inner}")
    }
}

fn backticked_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find('`')? + 1;
    let end = rest[start..].find('`')? + start;
    Some(rest[start..end].to_string())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Byte offset of the deepest part of a key path (`sources[1].interval`) that exists in the document.
fn locate(doc: &toml_edit::ImDocument<String>, key: &str) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut item: Option<&toml_edit::Item> = None;
    let mut table_like: Option<&dyn toml_edit::TableLike> = Some(doc.as_table());
    for part in split_key(key) {
        match part {
            KeyPart::Name(name) => {
                let Some(t) = table_like else { return best };
                let Some((k, v)) = t.get_key_value(&name) else {
                    return best;
                };
                if let Some(span) = k.span() {
                    best = Some(span.start);
                }
                item = Some(v);
                table_like = v.as_table_like();
            }
            KeyPart::Index(i) => {
                let Some(current) = item else { return best };
                if let Some(aot) = current.as_array_of_tables() {
                    let Some(t) = aot.get(i) else { return best };
                    if let Some(span) = t.span() {
                        best = Some(span.start);
                    }
                    table_like = Some(t);
                    item = None;
                } else if let Some(arr) = current.as_array() {
                    let Some(v) = arr.get(i) else { return best };
                    if let Some(span) = v.span() {
                        best = Some(span.start);
                    }
                    table_like = v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike);
                    item = None;
                } else {
                    return best;
                }
            }
        }
    }
    best
}

enum KeyPart {
    Name(String),
    Index(usize),
}

fn split_key(key: &str) -> Vec<KeyPart> {
    let mut out = Vec::new();
    for seg in key.split('.') {
        let mut rest = seg;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(KeyPart::Name(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..end].parse() {
                    out.push(KeyPart::Index(i));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(KeyPart::Name(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<ConfigProblem> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn overlap_lookback_and_max_pages_are_keys_of_every_source_with_platform_defaults() {
        let base = "[[products]]\nname = \"W\"\n[[sources]]\ntype = \"github\"\n";
        let c = Config::parse(base, Path::new("t.toml")).unwrap();
        let gh = &c.sources[0];
        assert_eq!(gh.overlap, Duration::from_secs(6 * 3600));
        assert_eq!(gh.lookback, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(gh.max_pages, DEFAULT_MAX_PAGES);
        let hn = "[[products]]\nname = \"W\"\n[[sources]]\ntype = \"hackernews\"\noverlap = \"15m\"\nmax_pages = 9\n";
        let c = Config::parse(hn, Path::new("t.toml")).unwrap();
        assert_eq!(c.sources[0].overlap, Duration::from_secs(900));
        assert_eq!((c.sources[0].lookback, c.sources[0].max_pages), (None, 9));
        let bad = problems(&format!("{base}overlap = \"soon\"\nmax_pages = 0\n"));
        assert_eq!(bad[0].key, "sources[0].overlap");
        assert_eq!(bad[0].line, Some(5), "{bad:?}");
        let bad = problems(&format!("{base}max_pages = 0\n"));
        assert_eq!(bad[0].key, "sources[0].max_pages");
        assert!(bad[0].message.contains("1 to 100"), "{bad:?}");
    }

    #[test]
    fn minimal_config_is_valid() {
        let c = Config::parse("[[products]]\nname = \"Widget\"\n", Path::new("t.toml")).unwrap();
        assert_eq!(c.products[0].name, "Widget");
        assert!(c.sources.is_empty());
        assert_eq!(c.store.path, PathBuf::from("data/pulse.db"));
        assert_eq!(c.api.listen.port(), 7878);
    }

    #[test]
    fn all_problems_reported_with_key_and_line() {
        let text = "[store]\npath = \"x\"\ncolour = 3\n\n[[products]]\nname = \"A\"\nalias = [\"b\"]\n\n[api]\nlisten = \"0.0.0.0:80\"\n";
        let ps = problems(text);
        let keys: Vec<_> = ps.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert!(keys.contains(&("store.colour", Some(3))), "{ps:?}");
        assert!(keys.contains(&("products[0].alias", Some(7))), "{ps:?}");
        assert!(keys.contains(&("api.listen", Some(10))), "{ps:?}");
    }

    #[test]
    fn secret_from_env_and_missing_env() {
        std::env::set_var("PULSE_TEST_SECRET_X", "s3cret");
        let s = Secret::resolve("env:PULSE_TEST_SECRET_X").unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert!(!format!("{s:?}{s}").contains("s3cret"));
        let e = Secret::resolve("env:PULSE_TEST_SECRET_MISSING").unwrap_err();
        assert!(e.contains("PULSE_TEST_SECRET_MISSING"));
    }

    #[test]
    fn launch_dates() {
        assert_eq!(
            parse_time("2026-12-01").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(parse_time("December").is_err());
    }

    #[test]
    fn key_split() {
        let parts = split_key("sources[1].aliases[0]");
        assert_eq!(parts.len(), 4);
    }
}
