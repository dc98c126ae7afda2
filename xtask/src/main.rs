//! `cargo xtask demo` and `cargo xtask test`: the project's two commands (and `bench`,
//! `widget`).

mod bench;
mod demo;
mod finish;
mod link;
mod postgres;
mod precompress;
mod process;
mod reorder;
mod test;
mod tools;
/// The widget's stylesheet minifier (run by build.rs); its tests run here.
#[cfg(test)]
#[path = "../../build/css.rs"]
mod widget_css;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(about = "Build, run and test the integrations marketplace")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what is missing, build everything, start sandbox + proxy, serve the demo page.
    Demo {
        /// Where the proxy (and the demo page) listens; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Install what is missing, then run every test: native, in-browser, end-to-end.
    Test,
    /// Measure the widget's size and speed, the proxy under load, the connect flow.
    Bench,
    /// Build the shipped widget into dist/ (what demo, test and bench build first).
    Widget,
}

fn main() -> anyhow::Result<()> {
    // The widget's build makes cargo run xtask as its linker (link.rs).
    if let Some(lld) = std::env::var_os(link::LLD_ENV) {
        std::process::exit(link::link(&lld)?);
    }
    let cli = Cli::parse();
    match cli.command {
        Task::Demo { listen } => demo::run(listen),
        Task::Test => test::run(),
        Task::Bench => bench::run(),
        Task::Widget => tools::build_widget().map(|dist| println!("{}", dist.display())),
    }
}
