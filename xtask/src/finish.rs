//! Finishing the release widget in `dist/` after `trunk build --release`: what trunk
//! cannot do, each step measured in docs/benchmarks.md.
//!
//! 1. wasm-opt optimizes once more after rebuilding the control flow (`--flatten
//!    --rereloop`, which finds smaller shapes than trunk's `-Oz` alone), and gives every
//!    import and export a one- or two-letter name (wasm-bindgen's are long and end in a
//!    16-digit hash, once in the wasm and again in the JS glue). The exports no page
//!    calls were left out when linking (link.rs);
//! 2. the wasm's functions are put in an order that gzip compresses better (reorder.rs);
//! 3. the glue is rewritten to the new names;
//! 4. terser minifies the JS (trunk's own minifier cannot parse wasm-bindgen's glue);
//! 5. the `.gz` (zopfli) and `.br` copies the proxy serves are written (precompress.rs).
//!
//! The end-to-end tests run against the result, so a glue this no longer fits fails
//! them rather than shipping.

use anyhow::{bail, ensure, Context};
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    precompress::write_compressed_copies, process::run, reorder::order_functions_for_compression,
    tools::tools_bin,
};

/// The wasm features rustc emits for wasm32-unknown-unknown (as in index.html).
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// wasm-bindgen's glue passes the wasm's imports under the module `./<name>_bg.js`.
const BINDGEN_MODULE_SUFFIX: &str = "_bg.js";

/// binaryen's `--minify-imports-and-exports-and-modules` puts every import in this module.
const MINIFIED_MODULE: &str = "a";

pub fn finish_widget(dist: &Path) -> anyhow::Result<()> {
    let wasm = only_file(dist, "_bg.wasm")?;
    let glue = PathBuf::from(wasm.to_string_lossy().replace("_bg.wasm", ".js"));
    let js = std::fs::read_to_string(&glue).with_context(|| format!("reading {glue:?}"))?;
    ensure_fresh_glue(&js).with_context(|| format!("{glue:?}"))?;
    let names = shrink_wasm(&wasm)?;
    order_functions_for_compression(&wasm, &tools_bin().join("wasm-opt"), &WASM_FEATURES)?;
    std::fs::write(&glue, rename_in_glue(&js, &names)?)?;
    for js in files_ending(dist, ".js")? {
        run(Command::new(tools_bin().join("terser"))
            .arg(&js)
            .args(["--module", "--compress", "--mangle", "--output"])
            .arg(&js))?;
    }
    // What the bench counts as shipped (crates/bench/src/widget.rs).
    let shipped = [".wasm", ".js", ".css"].map(|ending| files_ending(dist, ending));
    let shipped = shipped.into_iter().collect::<Result<Vec<_>, _>>()?;
    for file in shipped.iter().flatten() {
        write_compressed_copies(file)?;
    }
    Ok(())
}

/// Renaming twice would rename the minified JS's own short names: only wasm-bindgen's
/// own output is renamed.
fn ensure_fresh_glue(js: &str) -> anyhow::Result<()> {
    ensure!(
        js.contains(&format!("{BINDGEN_MODULE_SUFFIX}\"")),
        "not wasm-bindgen's glue (finished already?): rebuild dist/ with trunk"
    );
    Ok(())
}

/// The new names of the wasm's imports and exports, as wasm-opt reports them.
#[derive(Debug, Default)]
struct Renames {
    /// The module the glue passes its imports under, before minifying.
    module: String,
    imports: HashMap<String, String>,
    exports: HashMap<String, String>,
}

fn shrink_wasm(wasm: &Path) -> anyhow::Result<Renames> {
    let output = Command::new(tools_bin().join("wasm-opt"))
        .arg(wasm)
        .args(WASM_FEATURES)
        // Rust's wasm puts the stack first: the lowest kilobyte is the bottom of a 1 MiB
        // stack, never touched short of an overflow, so wasm-opt may fold small constant
        // offsets into addresses (emscripten does the same by default). −1 KB gzip.
        .arg("--low-memory-unused")
        .args(["--flatten", "--rereloop", "-Oz", "-Oz"])
        // Sections no browser reads.
        .args(["--strip-producers", "--strip-target-features"])
        .args(["--minify-imports-and-exports-and-modules", "-o"])
        .arg(wasm)
        .output()
        .context("cannot start wasm-opt")?;
    ensure!(
        output.status.success(),
        "wasm-opt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_renames(&String::from_utf8_lossy(&output.stdout))
}

/// wasm-opt prints `{"imports": [[module, name, new], …], "exports": [[name, new], …]}`.
fn parse_renames(map: &str) -> anyhow::Result<Renames> {
    let map: serde_json::Value =
        serde_json::from_str(map).context("wasm-opt printed no rename map")?;
    let entries = |key: &str| -> anyhow::Result<Vec<Vec<String>>> {
        serde_json::from_value(map[key].clone())
            .with_context(|| format!("the rename map's {key:?} is not a list of names"))
    };
    let mut renames = Renames::default();
    for import in entries("imports")? {
        let [module, name, new] = import.as_slice() else {
            bail!("an import rename is not [module, name, new]: {import:?}");
        };
        if renames.module.is_empty() {
            renames.module = module.clone();
        }
        ensure!(
            *module == renames.module,
            "the wasm imports from two modules ({module}, {})",
            renames.module
        );
        renames.imports.insert(name.clone(), new.clone());
    }
    for export in entries("exports")? {
        let [name, new] = export.as_slice() else {
            bail!("an export rename is not [name, new]: {export:?}");
        };
        renames.exports.insert(name.clone(), new.clone());
    }
    Ok(renames)
}

/// The glue with the new names: its import object's keys and module, and every
/// `wasm.<export>`. Fails unless every import was found, so a glue of another shape
/// is caught here.
fn rename_in_glue(js: &str, names: &Renames) -> anyhow::Result<String> {
    let module = format!("\"{}\"", names.module);
    ensure!(js.contains(&module), "the glue does not import {module}");
    let js = js.replace(&module, &format!("\"{MINIFIED_MODULE}\""));
    let mut out = String::with_capacity(js.len());
    let mut renamed_imports = HashSet::new();
    let mut rest = js.as_str();
    while let Some(start) = rest.find(is_identifier_char) {
        let (before, from_start) = rest.split_at(start);
        out.push_str(before);
        let end = from_start
            .find(|c| !is_identifier_char(c))
            .unwrap_or(from_start.len());
        let (identifier, after) = from_start.split_at(end);
        if let Some(new) = names.imports.get(identifier) {
            renamed_imports.insert(identifier);
            out.push_str(new);
        } else if let Some(new) = names
            .exports
            .get(identifier)
            .filter(|_| out.ends_with("wasm."))
        {
            out.push_str(new);
        } else {
            out.push_str(identifier);
        }
        rest = after;
    }
    out.push_str(rest);
    ensure!(
        renamed_imports.len() == names.imports.len(),
        "the glue defines {} of the wasm's {} imports",
        renamed_imports.len(),
        names.imports.len()
    );
    Ok(out)
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn files_ending(dir: &Path, suffix: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {dir:?}"))? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(suffix) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn only_file(dir: &Path, suffix: &str) -> anyhow::Result<PathBuf> {
    match files_ending(dir, suffix)?.as_slice() {
        [file] => Ok(file.clone()),
        files => bail!("expected one *{suffix} in {dir:?}, found {files:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"{
      "imports": [
        ["./w_bg.js", "__wbg_createElement_0123456789abcdef", "A"],
        ["./w_bg.js", "__wbg_set_body_fedcba9876543210", "$a"]
      ],
      "exports": [["memory", "a"], ["mount", "b"]]
    }"#;

    const GLUE: &str = r#"function mount(e, o) { const ret = wasm.mount(e, o); return ret; }
function __wbg_get_imports() {
    const import0 = {
        __wbg_createElement_0123456789abcdef: function(arg0) { return document.createElement(arg0); },
        __wbg_set_body_fedcba9876543210: function(arg0, arg1) { arg0.body = arg1; },
    };
    return { "./w_bg.js": import0 };
}
function view() { return new Uint8Array(wasm.memory.buffer); }
export { mount };
"#;

    #[test]
    fn the_glue_takes_the_new_names_and_keeps_its_own() {
        let renames = parse_renames(MAP).unwrap();
        let js = rename_in_glue(GLUE, &renames).unwrap();
        assert!(js.contains("A: function(arg0)"), "{js}");
        assert!(js.contains("$a: function(arg0, arg1)"), "{js}");
        assert!(js.contains(r#"{ "a": import0 }"#), "{js}");
        assert!(js.contains("wasm.b(e, o)"), "{js}");
        assert!(js.contains("wasm.a.buffer"), "{js}");
        // The glue's own names stay: only `wasm.<export>` is an export.
        assert!(js.starts_with("function mount(e, o)"), "{js}");
        assert!(js.contains("export { mount };"), "{js}");
        assert!(!js.contains("0123456789abcdef"), "{js}");
    }

    #[test]
    fn a_finished_glue_is_not_finished_again() {
        ensure_fresh_glue(GLUE).unwrap();
        let finished = rename_in_glue(GLUE, &parse_renames(MAP).unwrap()).unwrap();
        assert!(ensure_fresh_glue(&finished).is_err());
    }

    #[test]
    fn a_glue_missing_an_import_is_refused() {
        let renames = parse_renames(MAP).unwrap();
        let glue = GLUE.replace("__wbg_set_body_fedcba9876543210", "__wbg_set_body_other");
        let err = rename_in_glue(&glue, &renames).unwrap_err();
        assert!(
            err.to_string().contains("1 of the wasm's 2 imports"),
            "{err}"
        );
    }

    #[test]
    fn a_map_of_another_shape_is_refused() {
        assert!(parse_renames("not json").is_err());
        assert!(parse_renames(r#"{"imports": [["m", "x"]], "exports": []}"#).is_err());
        assert!(parse_renames(r#"{"imports": [], "exports": "none"}"#).is_err());
    }
}
