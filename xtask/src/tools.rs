//! Installing what is missing, from the package registries only (nothing from GitHub).

use anyhow::{bail, Context};
use std::{path::PathBuf, process::Command};

use crate::process::{output, run, workspace_root};

const TRUNK_VERSION: &str = "^0.21";
/// Debian's binaryen (wasm-opt 108) breaks current Rust output; npm's 132 works.
const BINARYEN_VERSION: &str = "132";
const TERSER_VERSION: &str = "5.51.2";

/// What building the widget needs: the wasm target, wasm-bindgen-cli at the exact
/// Cargo.lock version (else trunk would download it), trunk, a working wasm-opt, terser.
pub fn ensure_widget_toolchain() -> anyhow::Result<()> {
    ensure_wasm_target()?;
    ensure_rust_src()?;
    ensure_wasm_bindgen()?;
    ensure_trunk()?;
    ensure_node_tools()
}

/// What the browser tests need.
pub fn ensure_browser() -> anyhow::Result<()> {
    let present = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .iter()
        .all(|path| std::path::Path::new(path).exists());
    if present {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed
        .lines()
        .any(|line| line.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    println!("xtask: adding the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The standard library's source, which the shipped widget is compiled with (see
/// `build_widget`).
fn ensure_rust_src() -> anyhow::Result<()> {
    let installed = output(Command::new("rustup").args(["component", "list", "--installed"]))
        .unwrap_or_default();
    if installed.lines().any(|line| line.starts_with("rust-src")) {
        return Ok(());
    }
    println!("xtask: adding the rust-src component");
    run(Command::new("rustup").args(["component", "add", "rust-src"]))
}

fn ensure_wasm_bindgen() -> anyhow::Result<()> {
    let wanted = locked_version("wasm-bindgen")?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    let runner =
        output(Command::new("wasm-bindgen-test-runner").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(wanted.as_str()) && runner.contains(&wanted) {
        return Ok(());
    }
    println!("xtask: installing wasm-bindgen-cli {wanted} (the Cargo.lock version)");
    // Not --locked: one of its locked dependencies is no longer on the registry.
    run(Command::new("cargo").args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={wanted}"),
    ]))
}

fn ensure_trunk() -> anyhow::Result<()> {
    let have = output(Command::new("trunk").arg("--version")).unwrap_or_default();
    if have.starts_with("trunk 0.21.") {
        return Ok(());
    }
    println!("xtask: installing trunk {TRUNK_VERSION} (this takes a while, once)");
    run(Command::new("cargo").args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]))
}

/// wasm-opt (see BINARYEN_VERSION), which trunk and finish.rs run, and terser, which
/// finish.rs runs on the JS (trunk's own minifier cannot parse wasm-bindgen's glue).
fn ensure_node_tools() -> anyhow::Result<()> {
    let wasm_opt =
        output(Command::new(tools_bin().join("wasm-opt")).arg("--version")).unwrap_or_default();
    let terser =
        output(Command::new(tools_bin().join("terser")).arg("--version")).unwrap_or_default();
    if wasm_opt.contains(&format!("version {BINARYEN_VERSION}"))
        && terser.trim() == format!("terser {TERSER_VERSION}")
    {
        return Ok(());
    }
    println!(
        "xtask: installing wasm-opt {BINARYEN_VERSION} and terser {TERSER_VERSION} (npm packages binaryen, terser)"
    );
    let prefix = workspace_root().join(".tools");
    std::fs::create_dir_all(&prefix)?;
    // One command for both: an install of one with --no-save prunes the other.
    run(Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(format!("binaryen@{BINARYEN_VERSION}"))
        .arg(format!("terser@{TERSER_VERSION}")))
}

/// Where npm puts wasm-opt and terser; first on PATH whenever trunk runs.
pub fn tools_bin() -> PathBuf {
    workspace_root().join(".tools/node_modules/.bin")
}

/// PATH with our wasm-opt first.
pub fn path_with_tools() -> std::ffi::OsString {
    let mut paths = vec![tools_bin()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).expect("PATH entries are valid")
}

/// The version of `name` recorded in Cargo.lock.
pub fn locked_version(name: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("{name} is not in Cargo.lock")
}

pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    println!("xtask: installing Debian packages {packages:?}");
    let sudo = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() != "0");
    let apt = |args: &[&str]| {
        let mut command = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command)
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt(&install)
}

/// The shipped widget recompiles the standard library for size, with panics that trap
/// at once instead of formatting a message no one reads (the widget installs no panic
/// hook, and a wasm32-unknown-unknown stderr goes nowhere), and without the source
/// locations panics would have printed: 19 KB gzip less, measured in docs/benchmarks.md.
/// LLVM inlines only what costs nothing (or is called once): 0.5 KB less. The build-std
/// and panic flags are unstable, so RUSTC_BOOTSTRAP is set for this one build only; a
/// plain `trunk build --release` still works, larger.
const SIZE_BUILD: [(&str, &str); 4] = [
    ("RUSTC_BOOTSTRAP", "1"),
    ("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort"),
    ("CARGO_UNSTABLE_BUILD_STD_FEATURES", "optimize_for_size"),
    // Replaces .cargo/config.toml's rustflags for the target, so it repeats them.
    (
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "--cfg erase_components -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cllvm-args=-inline-threshold=0",
    ),
];

/// `trunk build --release` of the widget into `dist/`, then finished for shipping
/// (see finish.rs).
pub fn build_widget() -> anyhow::Result<PathBuf> {
    ensure_widget_toolchain()?;
    let root = workspace_root();
    let linker = crate::link::linker_env().unwrap_or_else(|err| {
        println!("xtask: linking as rustc does ({err:#}): the widget ships about 4.7 KB larger");
        Vec::new()
    });
    let trunk_build = || {
        let mut command = Command::new("trunk");
        command
            .args(["build", "--release"])
            .current_dir(&root)
            // trunk takes wasm-bindgen and wasm-opt from PATH when their versions match,
            // which ensure_widget_toolchain made sure of: it downloads nothing.
            .env("PATH", path_with_tools())
            .envs(linker.clone());
        command
    };
    println!("xtask: building the widget (trunk build --release, std built for size)");
    if let Err(size_build) = run(trunk_build().envs(SIZE_BUILD)) {
        // Unstable flags can change with the toolchain: a larger widget beats none.
        println!("xtask: the size build failed ({size_build:#}); building with the stable std");
        run(&mut trunk_build())?;
    }
    let dist = root.join("dist");
    crate::finish::finish_widget(&dist)?;
    Ok(dist)
}
