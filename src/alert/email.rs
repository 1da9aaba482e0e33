//! E-mail channel over SMTP with `lettre`: STARTTLS on 587 (refuses to send if the upgrade
//! fails), implicit TLS on 465, or plain (`tls = "none"`, for a local relay); credentials
//! from `env:`. Each alert is a `multipart/alternative` (plain text, then HTML with every
//! piece of mention text HTML-escaped); follow-ups of the same product and signal thread
//! under one root Message-ID per day. SMTP 4xx is retried, 5xx is permanent.

use super::delivery::{Delivered, DeliveryError};
use super::message::{safe_url, truncate, Message};
use crate::config::Secret;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS and no auth: only for a relay on localhost.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name.
    pub host: String,
    /// Port (default 587; 465 for `tls = "tls"`).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<Secret>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender, e.g. `Pulse <pulse@example.com>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Strip CR/LF so nothing user-derived can start a new header line.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn html(s: &str) -> String {
    html_escape::encode_safe(s).into_owned()
}

impl EmailConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.from.parse::<Mailbox>().is_err() {
            out.push((
                "from".into(),
                format!("`{}` is not an e-mail address", self.from),
            ));
        }
        if self.to.is_empty() {
            out.push(("to".into(), "at least one recipient is needed".into()));
        }
        for (i, t) in self.to.iter().enumerate() {
            if t.parse::<Mailbox>().is_err() {
                out.push((
                    format!("to[{i}]"),
                    format!("`{t}` is not an e-mail address"),
                ));
            }
        }
        if self.username.is_some() != self.password.is_some() {
            out.push((
                "password".into(),
                "set both `username` and `password`, or neither".into(),
            ));
        }
        if self.tls == SmtpTls::None && self.username.is_some() {
            out.push((
                "tls".into(),
                "credentials are never sent without TLS: use tls = \"starttls\" or \"tls\"".into(),
            ));
        }
        out
    }

    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Tls => 465,
            SmtpTls::Starttls => 587,
            SmtpTls::None => 25,
        })
    }

    /// Build the e-mail for a message; `id` is the outbox entry's id (Message-ID local part).
    pub fn build(&self, m: &Message, id: &str) -> Result<lettre::Message, DeliveryError> {
        let perm = |reason: String| DeliveryError::Permanent {
            reason,
            status: None,
        };
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| perm("invalid `from` address".into()))?;
        let domain = from.email.domain().to_string();
        let mut b = lettre::Message::builder()
            .from(from)
            .subject(header_safe(&truncate(
                &format!("[Pulse/{}] {}", m.department, m.title()),
                200,
            )))
            .date(std::time::SystemTime::from(m.at))
            .message_id(Some(format!("<{}@{domain}>", header_safe(id))));
        // Thread follow-ups (repeat, resolved) of one product+signal per day.
        let root = format!(
            "<alert-{:016x}-{}@{domain}>",
            xxhash_rust::xxh3::xxh3_64(
                format!(
                    "{}|{}|{}|{}",
                    m.labels.product, m.labels.signal, m.labels.direction, m.labels.aspect
                )
                .as_bytes()
            ),
            m.at.format("%Y-%m-%d")
        );
        b = b.in_reply_to(root.clone()).references(root);
        for t in &self.to {
            b = b.to(t
                .parse()
                .map_err(|_| perm(format!("invalid recipient `{t}`")))?);
        }
        let mut text = format!("{}\n\n{}\n{}\n", m.title(), m.summary(), m.framing());
        let mut body = format!(
            "<h2>{}</h2><p>{}</p><p><em>{}</em></p>",
            html(&m.title()),
            html(&m.summary()),
            html(&m.framing())
        );
        if !m.top_aspects.is_empty() {
            text.push_str(&format!("Top aspects: {}\n", m.top_aspects.join(", ")));
            body.push_str(&format!(
                "<p>Top aspects: {}</p>",
                html(&m.top_aspects.join(", "))
            ));
        }
        if !m.examples.is_empty() {
            text.push_str("\nExamples:\n");
            body.push_str("<ul>");
            for e in m.examples.iter().take(3) {
                // One line per quote: a CR/LF in a post must not look like a new header or field.
                let quote = truncate(&header_safe(&e.text), 1000);
                let url = safe_url(e.url.as_deref());
                text.push_str(&format!(
                    "- \"{quote}\" ({}) {}\n",
                    e.source,
                    url.clone().unwrap_or_default()
                ));
                match url {
                    Some(u) => body.push_str(&format!(
                        "<li>&ldquo;{}&rdquo; &mdash; <a href=\"{}\">{}</a></li>",
                        html(&quote),
                        html(&u),
                        html(&e.source)
                    )),
                    None => body.push_str(&format!(
                        "<li>&ldquo;{}&rdquo; &mdash; {}</li>",
                        html(&quote),
                        html(&e.source)
                    )),
                }
            }
            body.push_str("</ul>");
        }
        text.push_str(&format!(
            "\nPulse alert {} ({})\n",
            m.alert_id,
            m.kind.as_str()
        ));
        body.push_str(&format!(
            "<p><small>Pulse alert {} ({})</small></p>",
            html(&m.alert_id),
            m.kind.as_str()
        ));
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(body),
                ),
        )
        .map_err(|e| perm(format!("cannot build the e-mail: {e}")))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        let perm = |e: lettre::transport::smtp::Error| DeliveryError::Permanent {
            reason: format!("cannot set up SMTP to {}: {e}", self.host),
            status: None,
        };
        let mut b = match self.tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host).map_err(perm)?
            }
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host).map_err(perm)?
            }
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
        };
        b = b.port(self.port()).timeout(Some(self.timeout));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            b = b.credentials(Credentials::new(
                u.expose().to_string(),
                p.expose().to_string(),
            ));
        }
        Ok(b.build())
    }

    pub async fn send(&self, m: &Message, id: &str) -> Result<Delivered, DeliveryError> {
        let email = self.build(m, id)?;
        let transport = self.transport()?;
        match tokio::time::timeout(self.timeout + Duration::from_secs(5), transport.send(email))
            .await
        {
            Err(_) => Err(DeliveryError::Retryable {
                reason: format!("SMTP to {}:{} timed out", self.host, self.port()),
                status: None,
                retry_after: None,
            }),
            Ok(Ok(resp)) => Ok(Delivered {
                status: u16::from(resp.code()),
                detail: resp.message().collect::<Vec<_>>().join(" "),
            }),
            Ok(Err(e)) => {
                let status = e.status().map(u16::from);
                let reason = format!("SMTP to {}:{} failed: {e}", self.host, self.port());
                if e.is_permanent() {
                    Err(DeliveryError::Permanent { reason, status })
                } else {
                    // 4xx replies, connection, TLS and timeouts are worth another try.
                    Err(DeliveryError::Retryable {
                        reason,
                        status,
                        retry_after: None,
                    })
                }
            }
        }
    }
}
