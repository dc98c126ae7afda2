//! `cargo xtask test`: every test, native, in-browser and end-to-end, in that order.
//! All suites run even when one fails, so one run shows everything that is broken.

use std::process::Command;

use crate::{
    postgres,
    process::{self, workspace_root},
    tools,
};

pub fn run() -> anyhow::Result<()> {
    tools::ensure_browser()?;
    let dist = tools::build_widget()?;
    let root = workspace_root();
    // The proxy's suite runs on SQLite always, and on Postgres too when one is given.
    let postgres = match postgres::TestPostgres::start() {
        Ok(server) => {
            println!(
                "xtask: PostgreSQL for the proxy's Postgres run at {}",
                server.url()
            );
            // Ctrl-C (or a TERM) ends xtask without running destructors.
            let cluster = server.cluster();
            ctrlc::set_handler(move || {
                cluster.stop();
                std::process::exit(130);
            })?;
            Some(server)
        }
        Err(err) => {
            eprintln!("xtask: no PostgreSQL for the proxy's Postgres run: {err:#}");
            None
        }
    };

    // The in-browser runner's Chromium leaves its profile and singleton directories in
    // TMPDIR when it is stopped: they go in this one, removed after the run.
    let browser_tmp = root
        .join("target")
        .join(format!("browser-tmp-{}", std::process::id()));
    std::fs::create_dir_all(&browser_tmp)?;

    let suites: Vec<(&str, Command)> = vec![
        ("native", {
            let mut command = Command::new("cargo");
            // Every test binary runs even after one fails: a failure hides no other.
            command.args(["test", "--no-fail-fast", "--workspace", "--exclude", "e2e"]);
            if let Some(server) = &postgres {
                command.env("PROXY_TEST_POSTGRES_URL", server.url());
            }
            command
        }),
        ("in-browser (wasm-bindgen-test, headless Chromium)", {
            let mut command = Command::new("cargo");
            command
                .args([
                    "test",
                    "--no-fail-fast",
                    "-p",
                    "integrations-widget",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .env("CHROMEDRIVER", "/usr/bin/chromedriver")
                .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
                .env("TMPDIR", &browser_tmp);
            command
        }),
        ("end-to-end (WebDriver, headless Chromium)", {
            let mut command = Command::new("cargo");
            command
                // Each test runs its own browser: two at a time keeps 2 cores responsive.
                .args([
                    "test",
                    "--no-fail-fast",
                    "-p",
                    "e2e",
                    "--",
                    "--test-threads=2",
                ])
                .env("WIDGET_DIST", &dist)
                .env("CHROMEDRIVER", "/usr/bin/chromedriver");
            command
        }),
    ];

    let mut failed = Vec::new();
    for (name, mut command) in suites {
        println!("\nxtask: ==== {name} tests ====");
        if let Err(err) = process::run(command.current_dir(&root)) {
            eprintln!("xtask: {name} tests failed: {err}");
            failed.push(name);
        }
    }
    if let Err(err) = std::fs::remove_dir_all(&browser_tmp) {
        eprintln!("xtask: could not remove {}: {err}", browser_tmp.display());
    }
    if failed.is_empty() {
        println!("\nxtask: all test suites passed");
        Ok(())
    } else {
        anyhow::bail!("failing suites: {}", failed.join(", "))
    }
}
