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
        "--allowed-origins",
        "ALLOWED_ORIGINS",
        "--webhook-secret",
        "TRAY_WEBHOOK_SECRET",
        "--demo",
        "--widget-dir",
        "--solution-tags",
    ] {
        assert!(help.contains(name), "--help does not mention {name}");
    }
    assert!(
        !help.contains("--master-token"),
        "the master token must never be a flag"
    );
}

#[test]
fn a_missing_master_token_is_a_clear_error() {
    let output = Command::new(PROXY)
        .env_remove("TRAY_MASTER_TOKEN")
        .env("HOST_JWT_SECRET", "s")
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
