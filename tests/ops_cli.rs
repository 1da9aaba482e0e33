//! `pulse init`, `pulse completions` and `pulse man`: generated from the real binary and
//! checked the way a user would use them.

mod common;
use common::{bin, sigterm, wait_for, Env};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn pulse(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .current_dir(dir)
        .env_remove("PULSE_CONFIG")
        .env_remove("JOURNAL_STREAM")
        .args(args)
        .output()
        .expect("run pulse")
}

#[test]
fn init_writes_a_config_that_passes_check_config_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path(), &["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Pulse configuration"), "commented");
    let check = pulse(dir.path(), &["check-config"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(summary.contains("is valid"), "{summary}");
    assert!(summary.contains("  - Firefox"), "{summary}");
    assert!(summary.contains("(hackernews, every 10m)"), "{summary}");

    // A second init refuses and leaves the file alone.
    std::fs::write(&path, "# mine\n").unwrap();
    let again = pulse(dir.path(), &["init"]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already exists: not overwriting it"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    // An explicit path, products and a service store path.
    let etc = dir.path().join("etc/pulse/config.toml");
    let out = pulse(
        dir.path(),
        &[
            "init",
            etc.to_str().unwrap(),
            "--product",
            "Widgetron",
            "--product",
            "Gadgetly",
            "--store",
            "/var/lib/pulse/pulse.db",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = pulse(
        dir.path(),
        &["--config", etc.to_str().unwrap(), "check-config"],
    );
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(
        summary.contains("store: /var/lib/pulse/pulse.db"),
        "{summary}"
    );
    assert!(
        summary.contains("products (2):\n  - Widgetron\n  - Gadgetly\n"),
        "{summary}"
    );
}

#[test]
fn completions_generate_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _pulse"),
        ("zsh", "#compdef pulse"),
        ("fish", "complete -c pulse"),
    ] {
        let out = pulse(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell} script lacks `{marker}`");
        // Subcommands and their flags come from the CLI definition.
        for word in ["check-config", "mentions", "init", "log-format"] {
            assert!(text.contains(word), "{shell} completions lack `{word}`");
        }
    }
    let bad = pulse(dir.path(), &["completions", "tcsh"]);
    assert!(!bad.status.success());
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path(), &["completions", "bash"]);
    let script = dir.path().join("pulse.bash");
    std::fs::write(&script, out.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn man_page_generates() {
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path(), &["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "roff header");
    assert!(
        page.contains(".TH pulse 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(page.contains("check\\-config"), "subcommands listed");

    let mandir = dir.path().join("man");
    let out = pulse(dir.path(), &["man", "--dir", mandir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["pulse.1", "pulse-run.1", "pulse-init.1", "pulse-mentions.1"] {
        assert!(mandir.join(f).is_file(), "{f} written");
    }
}

/// `--log-format json` writes one JSON object per line; under systemd (JOURNAL_STREAM
/// naming our stderr) text lines carry a syslog priority and no timestamp.
#[test]
fn daemon_logs_json_and_journald_friendly_text() {
    let config = "[store]\npath = \"db\"\n[[products]]\nname = \"Widgetron\"\n[api]\nlisten = \"127.0.0.1:0\"\n";
    let env = Env::new(config);
    let mut child = env
        .cmd(&["--log-format", "json", "run"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = wait_for(Duration::from_secs(30), "daemon started line", || {
        let line = lines.next()?.ok()?;
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        (v["fields"]["message"] == "pulse daemon started").then_some(v)
    });
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["fields"]["pid"], child.id());
    assert!(started["timestamp"].is_string());
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

#[test]
fn under_systemd_text_logs_carry_priorities_and_no_timestamps() {
    let config = "[store]\npath = \"db\"\n[[products]]\nname = \"Widgetron\"\n[api]\nlisten = \"127.0.0.1:0\"\n";
    let env = Env::new(config);
    // JOURNAL_STREAM names the stream stderr is connected to, as systemd sets it.
    let cmd = format!(
        "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec '{}' --config '{}' run",
        bin().display(),
        env.path("config.toml").display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(env.dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = wait_for(Duration::from_secs(30), "daemon started line", || {
        let line = lines.next()?.ok()?;
        line.contains("pulse daemon started").then_some(line)
    });
    assert!(
        line.starts_with("<6> INFO pulse::daemon: pulse daemon started"),
        "{line}"
    );
    assert!(!line.contains('\u{1b}'), "no ANSI colours: {line}");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}
