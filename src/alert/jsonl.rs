//! JSON-lines channel: each notification as one JSON object per line, appended to a file
//! or written to stdout. Useful for piping into other tools and for tests.

use super::delivery::{Delivered, DeliveryError};
use super::message::Message;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// File to append to; `-` means standard output.
    #[serde(default = "default_path")]
    pub path: PathBuf,
}

fn default_path() -> PathBuf {
    PathBuf::from("-")
}

impl JsonlConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    pub fn payload(&self, m: &Message, id: &str) -> Value {
        json!({
            "id": id,
            "alert_id": m.alert_id,
            "status": m.kind,
            "title": m.title(),
            "summary": m.summary(),
            "framing": m.framing(),
            "labels": m.labels,
            "at": m.at_rfc3339(),
            "message": m,
        })
    }

    pub async fn send(&self, m: &Message, id: &str) -> Result<Delivered, DeliveryError> {
        let mut line = serde_json::to_vec(&self.payload(m, id)).expect("json");
        line.push(b'\n');
        let path = self.path.clone();
        let res = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if path.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                out.write_all(&line)?;
                out.flush()
            } else {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                f.write_all(&line)?;
                f.sync_data()
            }
        })
        .await
        .map_err(|e| DeliveryError::Retryable {
            reason: format!("jsonl writer panicked: {e}"),
            status: None,
            retry_after: None,
        })?;
        res.map_err(|e| DeliveryError::Retryable {
            reason: format!("cannot append to {}: {e}", self.path.display()),
            status: None,
            retry_after: None,
        })?;
        Ok(Delivered {
            status: 0,
            detail: format!("appended to {}", self.path.display()),
        })
    }
}
