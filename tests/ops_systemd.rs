//! The shipped systemd unit passes `systemd-analyze verify` and keeps its hardening.
//! `systemd-analyze` comes from Debian's `systemd` package (scripts/ci-deps.d/ops.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pulse.service"))
        .expect("read scripts/pulse.service")
}

/// Verify a copy of the unit whose commands point at `binary` (verify checks that
/// ExecStart's program exists, and the real one lives in /usr/local/bin only once installed).
fn verify(binary: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("pulse.service");
    std::fs::write(&unit, unit_text().replace("/usr/local/bin/pulse", binary)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze not found: run scripts/ci-deps.d/ops.sh (installs Debian's systemd package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn unit_verifies() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pulse"));
    let (ok, text) = verify(bin.to_str().unwrap());
    assert!(ok, "systemd-analyze verify failed:\n{text}");
    assert!(
        !text.contains("pulse.service"),
        "warnings about the unit:\n{text}"
    );
}

#[test]
fn verify_catches_a_missing_binary() {
    // Guards the test above against a verifier that accepts anything.
    let (ok, text) = verify("/nonexistent/pulse");
    assert!(
        !ok,
        "a unit with a missing ExecStart binary verified:\n{text}"
    );
}

#[test]
fn unit_is_hardened_and_wired_to_pulse() {
    let text = unit_text();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=pulse",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Environment=PULSE_CONFIG=/etc/pulse/config.toml",
        "ExecStart=/usr/local/bin/pulse run",
        "CapabilityBoundingSet=",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "unit lacks `{line}`"
        );
    }
}
