//! `cargo xtask bench`: build for speed (`--profile native`), then run the bench binary.

use std::process::Command;

use crate::{
    process::{self, workspace_root},
    tools,
};

pub fn run() -> anyhow::Result<()> {
    tools::ensure_browser()?;
    let dist = tools::build_widget()?;
    let root = workspace_root();
    println!("xtask: building and running the benchmarks (cargo --profile native)");
    process::run(
        Command::new("cargo")
            .args(["run", "--quiet", "--profile", "native", "-p", "bench"])
            .current_dir(&root)
            .env("WIDGET_DIST", &dist)
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("BENCH_OUT", root.join("target/bench/latest.json")),
    )
}
