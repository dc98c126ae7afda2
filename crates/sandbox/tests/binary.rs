//! The `tray-sandbox` binary documents every flag the issue asks for.

use std::process::Command;

#[test]
fn help_documents_every_flag_and_the_admin_endpoints() {
    let output = Command::new(env!("CARGO_BIN_EXE_tray-sandbox"))
        .arg("--help")
        .output()
        .expect("binary runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "--listen",
        "--dialog-listen",
        "--db",
        "--in-memory",
        "--catalog",
        "--embedded-id",
        "--auth-expiry-webhook",
        "--rate-limit",
        "--rate-burst",
        "--lazy-update-secs",
        "TRAY_MASTER_TOKEN",
        "/_sandbox/solutions/{id}/versions",
        "/_sandbox/faults",
        "/_sandbox/authentications/{authId}/expiring",
    ] {
        assert!(help.contains(expected), "--help lacks {expected}:\n{help}");
    }
}

#[test]
fn a_bad_listen_address_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_tray-sandbox"))
        .args(["--listen", "not-an-address", "--in-memory"])
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}
