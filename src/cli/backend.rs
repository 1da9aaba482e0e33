//! Where CLI queries are answered: the store directly when no daemon holds it, the
//! daemon's API when one does (sled allows one process at a time), or `--remote URL`.

use super::Globals;
use crate::api::{self, MentionParams, TrendParams};
use crate::config::Config;
use crate::daemon::DaemonInfo;
use crate::query::{MentionRow, ProductRow, StatusReport};
use crate::store::{Store, StoreError};
use crate::trend::TrendRow;
use anyhow::Context;
use chrono::Utc;
use serde::de::DeserializeOwned;

/// A query backend.
pub enum Backend {
    Local {
        store: Store,
        config: Box<Config>,
    },
    Remote {
        base: String,
        token: Option<String>,
        client: reqwest::Client,
        /// Set when the remote is the local daemon found through its info file.
        local_daemon: bool,
    },
}

impl Backend {
    /// Pick the backend: `--remote`, else the local store, else the daemon holding it.
    pub async fn connect(g: &Globals) -> anyhow::Result<Backend> {
        if let Some(url) = &g.remote {
            return Ok(Backend::remote(
                url,
                std::env::var("PULSE_API_TOKEN").ok(),
                false,
            ));
        }
        let config = g.load_config()?;
        if let Some(info) = DaemonInfo::read(&config.store.path) {
            let token = config.api.token.as_ref().map(|t| t.expose().to_string());
            return Ok(Backend::remote(&info.api, token, true));
        }
        match Store::open_with(&config.store.path, config.store.cache_mb) {
            Ok(store) => Ok(Backend::Local {
                store,
                config: Box::new(config),
            }),
            Err(StoreError::Locked { path }) => anyhow::bail!(
                "the store at {} is locked by another process but no running daemon was found; wait for it to finish or stop it",
                path.display()
            ),
            Err(e) => Err(e).context("cannot open the store"),
        }
    }

    fn remote(url: &str, token: Option<String>, local_daemon: bool) -> Backend {
        Backend::Remote {
            base: url.trim_end_matches('/').to_string(),
            token,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            local_daemon,
        }
    }

    /// GET a JSON endpoint of the API (remote backends only).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let Backend::Remote {
            base,
            token,
            client,
            ..
        } = self
        else {
            anyhow::bail!("get_json needs a remote backend");
        };
        let mut req = client.get(format!("{base}{path}")).query(query);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the pulse API at {base}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            anyhow::bail!("{msg} (HTTP {status} from {base}{path})");
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("unexpected answer from {base}{path}"))
    }

    pub fn describe(&self) -> String {
        match self {
            Backend::Local { store, .. } => format!("store {}", store.path().display()),
            Backend::Remote {
                base,
                local_daemon: true,
                ..
            } => format!("daemon API {base}"),
            Backend::Remote { base, .. } => format!("remote API {base}"),
        }
    }

    pub async fn products(&self) -> anyhow::Result<Vec<ProductRow>> {
        match self {
            Backend::Local { store, config } => {
                Ok(crate::query::products(store, config, Utc::now())?)
            }
            _ => self.get_json("/api/products", &[]).await,
        }
    }

    pub async fn trend(&self, product: &str, p: &TrendParams) -> anyhow::Result<Vec<TrendRow>> {
        match self {
            Backend::Local { store, config } => {
                api::trend_rows(store, config, product, p, Utc::now())
                    .map_err(|e| anyhow::anyhow!(e.1))
            }
            _ => {
                let mut q = Vec::new();
                if let Some(s) = &p.since {
                    q.push(("since", s.clone()));
                }
                if let Some(b) = &p.bucket {
                    q.push(("bucket", b.clone()));
                }
                self.get_json(&format!("/api/products/{}/trend", encode(product)), &q)
                    .await
            }
        }
    }

    pub async fn mentions(
        &self,
        product: &str,
        p: &MentionParams,
    ) -> anyhow::Result<Vec<MentionRow>> {
        match self {
            Backend::Local { store, config } => {
                api::mention_rows(store, config, product, p, Utc::now())
                    .map_err(|e| anyhow::anyhow!(e.1))
            }
            _ => {
                let mut q = Vec::new();
                if let Some(s) = &p.since {
                    q.push(("since", s.clone()));
                }
                if let Some(s) = &p.sentiment {
                    q.push(("sentiment", s.clone()));
                }
                if let Some(s) = &p.source {
                    q.push(("source", s.clone()));
                }
                if let Some(l) = p.limit {
                    q.push(("limit", l.to_string()));
                }
                self.get_json(&format!("/api/products/{}/mentions", encode(product)), &q)
                    .await
            }
        }
    }

    pub async fn status(&self) -> anyhow::Result<StatusReport> {
        match self {
            Backend::Local { store, config } => Ok(crate::query::status(store, config)?),
            _ => self.get_json("/api/status", &[]).await,
        }
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
