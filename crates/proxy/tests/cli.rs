//! The binary's command line: every contract option is listed, and a missing secret is
//! a clear error, not a panic.

use std::process::Command;

const PROXY: &str = env!("CARGO_BIN_EXE_marketplace-proxy");

#[test]
fn help_lists_every_contract_option() {
    let output = Command::new(PROXY).arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for name in [
        "--listen",
        "PROXY_LISTEN",
        "--tray-region",
        "TRAY_REGION",
        "--tray-graphql-url",
        "TRAY_GRAPHQL_URL",
        "--tray-dialog-url",
        "TRAY_DIALOG_URL",
        "TRAY_MASTER_TOKEN",
        "--embedded-id",
        "TRAY_EMBEDDED_ID",
        "HOST_JWT_SECRET",
        "--host-jwt-public-key",
        "HOST_JWT_PUBLIC_KEY",
        "--host-jwt-audience",
        "HOST_JWT_AUDIENCE",
        "--database-url",
        "DATABASE_URL",
        "--database-max-connections",
        "DATABASE_MAX_CONNECTIONS",
        "--allowed-origins",
        "ALLOWED_ORIGINS",
        "TRAY_WEBHOOK_SECRET",
        "--demo",
        "--widget-dir",
        "--solution-tags",
        "--user-rate-per-second",
        "USER_RATE_PER_SECOND",
        "USER_REQUESTS_IN_FLIGHT",
        "MAX_CONNECTIONS_PER_USER",
    ] {
        assert!(help.contains(name), "--help does not mention {name}");
    }
    // Secrets come from the environment only: a flag shows in every process list.
    for flag in ["--master-token", "--host-jwt-secret", "--webhook-secret"] {
        assert!(
            !help.contains(flag),
            "a secret must never be a flag: {flag}"
        );
    }
}

#[test]
fn a_missing_master_token_is_a_clear_error() {
    let output = Command::new(PROXY)
        .env_remove("TRAY_MASTER_TOKEN")
        .env("HOST_JWT_SECRET", "a-host-secret-of-at-least-32-bytes")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRAY_MASTER_TOKEN"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_empty_embedded_id_is_a_clear_error() {
    let mut child = Command::new(PROXY)
        .env("TRAY_MASTER_TOKEN", "t")
        .env("HOST_JWT_SECRET", "a-host-secret-of-at-least-32-bytes")
        .env_remove("TRAY_EMBEDDED_ID")
        .args(["--tray-region", "eu", "--listen", "127.0.0.1:0"])
        .args(["--database-url", "sqlite::memory:"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Bounded: a proxy that accepted the setting would serve until stopped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("status").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("stops our own child");
            panic!("the proxy started without an Embedded ID");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("output");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRAY_EMBEDDED_ID"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
