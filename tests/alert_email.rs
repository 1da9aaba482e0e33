//! The e-mail channel against a real SMTP server on 127.0.0.1 (Python aiosmtpd, installed
//! by scripts/ci-deps.d/alerts.sh): the message arrives as multipart/alternative with the
//! numbers, escaped HTML and no injected headers; 4xx replies are retried, 5xx are not.

mod alert_support;

use alert_support::*;
use pulse::alert::engine::send;
use pulse::alert::{delivery, Department};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp() -> Smtp {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/smtp_sink.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 is needed for the SMTP test server (scripts/ci-deps.d/alerts.sh installs aiosmtpd)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("SMTP sink did not start (is aiosmtpd installed? run scripts/ci-deps.d/alerts.sh): {line:?}"))
        .parse()
        .unwrap();
    Smtp { child, port, dir }
}

fn email_channel(port: u16, to: &str) -> pulse::alert::ChannelConfig {
    config(&format!(
        "[[products]]\nname = \"ACME Phone\"\n\n[[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Pulse <pulse@example.com>\"\nto = [\"{to}\"]\ntimeout = \"5s\"\n"
    ))
    .channels[0]
    .kind
    .clone()
}

fn wait_for_mail(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("1.eml")) {
            return text;
        }
        assert!(Instant::now() < deadline, "no e-mail arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn email_arrives_with_both_parts_and_safe_content() {
    let smtp = start_smtp();
    let ch = email_channel(smtp.port, "marketing@example.com");
    let http = delivery::http_client("t").unwrap();
    let m = hostile_message(Department::Marketing);
    let d = send(&ch, &http, &m, "msg_abc_1", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(d.status, 250);
    assert!(d.detail.contains("queued as pulse-test-1"), "{d:?}");
    let mail = wait_for_mail(smtp.dir.path());
    let mail = mail.replace("\r\n", "\n");
    let headers = &mail[..mail.find("\n\n").unwrap()];
    assert!(
        headers.contains("Subject: [Pulse/marketing] Sentiment drop: ACME Phone"),
        "{headers}"
    );
    assert!(
        headers.contains("Message-ID: <msg_abc_1@example.com>"),
        "{headers}"
    );
    assert!(headers.contains("In-Reply-To: <alert-"), "{headers}");
    assert!(headers.contains("multipart/alternative"));
    // The CR/LF inside a quote did not start a header line.
    assert!(!mail.lines().any(|l| l.starts_with("Bcc:")), "{mail}");
    let plain = mail.find("Content-Type: text/plain").unwrap();
    let html = mail.find("Content-Type: text/html").unwrap();
    assert!(plain < html, "plain text first, HTML last (preferred)");
    let decoded = mail.replace("=\n", "").replace("=3D", "=");
    assert!(
        decoded.contains("&lt;script&gt;"),
        "HTML part escapes mention text"
    );
    assert!(!decoded.contains("<script>alert(1)</script></li>"));
    assert!(
        decoded.contains("net sentiment +0.31 =E2=86=92 -0.12")
            || decoded.contains("+0.31 → -0.12")
    );
}

#[tokio::test]
async fn smtp_4xx_is_retried_and_5xx_is_not() {
    let smtp = start_smtp();
    let http = delivery::http_client("t").unwrap();
    let m = hostile_message(Department::It);
    let e = send(
        &email_channel(smtp.port, "busy@example.com"),
        &http,
        &m,
        "msg_x_1",
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let e = send(
        &email_channel(smtp.port, "nobody@example.com"),
        &http,
        &m,
        "msg_x_2",
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(e.status(), Some(550));
}
