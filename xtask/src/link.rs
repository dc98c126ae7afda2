//! The shipped widget's linker: rust-lld, with the exports no page calls left out.
//!
//! Leptos always enables server_fn's browser support, and wasm-streams' classes are
//! `#[wasm_bindgen]` exports of it, although the widget never streams a server function.
//! An export keeps everything it reaches. After linking, the vtables it reaches lie in
//! the data section and their functions in the indirect-call table, where no tool can
//! tell them from live ones: removing the exports then (as finish.rs once did) left
//! 14 KB raw, 5 KB gzip, of dead code in the wasm. Left out of the link, they are
//! collected by the linker itself, vtables and all. wasm-bindgen makes nothing of an
//! export whose description is gone; it still writes the classes' empty shells into
//! the glue, which no page calls.
//!
//! cargo hands a linker nothing but the linker's own arguments, so xtask is its own
//! linker: run with [`LLD_ENV`] naming rust-lld, it filters the arguments and runs it.

use anyhow::{bail, Context};
use std::{
    ffi::{OsStr, OsString},
    path::PathBuf,
    process::Command,
};

/// Set for the widget's build to rust-lld's path; xtask then acts as the linker.
pub const LLD_ENV: &str = "XTASK_WASM_LLD";

/// What names the exports to leave out contain: wasm-streams' `IntoUnderlyingSink`,
/// `IntoUnderlyingSource` and `IntoUnderlyingByteSource`, their methods, their
/// destructors and their descriptions for wasm-bindgen.
const UNUSED_EXPORTS: &str = "intounderlying";

/// The environment that makes cargo link the widget's wasm through xtask.
pub fn linker_env() -> anyhow::Result<Vec<(&'static str, OsString)>> {
    let xtask = std::env::current_exe().context("cannot find xtask's own executable")?;
    Ok(vec![
        ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", xtask.into()),
        (LLD_ENV, rust_lld()?.into()),
    ])
}

/// Links with `lld` and the arguments xtask was called with, less the unused exports;
/// returns lld's exit code.
pub fn link(lld: &OsStr) -> anyhow::Result<i32> {
    let arguments = without_unused_exports(std::env::args_os().skip(1));
    let status = Command::new(lld)
        .args(arguments)
        .status()
        .with_context(|| format!("cannot start the linker {lld:?}"))?;
    Ok(status.code().unwrap_or(1))
}

/// rustc names each export with `--export <name>` (or `--export=<name>`).
fn without_unused_exports(arguments: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let unused = |name: &OsStr| name.to_string_lossy().contains(UNUSED_EXPORTS);
    let mut kept: Vec<OsString> = Vec::new();
    for argument in arguments {
        if kept.last().is_some_and(|last| last == "--export") && unused(&argument) {
            kept.pop();
        } else if !argument
            .to_str()
            .and_then(|argument| argument.strip_prefix("--export="))
            .is_some_and(|name| unused(OsStr::new(name)))
        {
            kept.push(argument);
        }
    }
    kept
}

/// The rust-lld of the toolchain that builds the widget (rustc links wasm with it).
fn rust_lld() -> anyhow::Result<PathBuf> {
    let rustc = |argument: &str| -> anyhow::Result<String> {
        let output = Command::new("rustc")
            .arg(argument)
            .output()
            .context("cannot run rustc")?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let sysroot = rustc("--print=sysroot")?;
    let version = rustc("-vV")?;
    let Some(host) = version.lines().find_map(|line| line.strip_prefix("host: ")) else {
        bail!("rustc -vV names no host");
    };
    let lld: PathBuf = [&sysroot, "lib", "rustlib", host, "bin", "rust-lld"]
        .iter()
        .collect();
    if !lld.is_file() {
        bail!("the toolchain has no rust-lld at {}", lld.display());
    }
    Ok(lld)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_streams_exports_are_left_out_in_either_form() {
        let given = arguments(&[
            "-flavor",
            "wasm",
            "--export",
            "mount_e4cd",
            "--export",
            "intounderlyingsink_write_58a9",
            "--export=__wbindgen_describe_intounderlyingsource_pull_58a9",
            "--export=__wbindgen_malloc",
            "--export",
            "__wbg_intounderlyingbytesource_free_58a9",
            "-o",
            "out.wasm",
        ]);
        let kept = arguments(&[
            "-flavor",
            "wasm",
            "--export",
            "mount_e4cd",
            "--export=__wbindgen_malloc",
            "-o",
            "out.wasm",
        ]);
        assert_eq!(without_unused_exports(given), kept);
    }

    #[test]
    fn only_an_export_is_left_out() {
        // A file whose name happens to match is an input, not an export.
        let given = arguments(&["intounderlying.o", "--export", "mount", "--gc-sections"]);
        assert_eq!(without_unused_exports(given.clone()), given);
    }
}
