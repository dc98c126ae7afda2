//! Orders the wasm's functions so that gzip compresses them better: each function is
//! placed after the ones most like it.
//!
//! Gzip finds repeats only within the last 32 KB, and rustc lays functions out in an
//! order that scatters alike code: the instances of one generic function for several
//! types, the drop code of similar futures, the build code of similar views. Placing
//! alike functions together lets the compressor reuse more of what it has just seen
//! (measured in docs/benchmarks.md). The order changes no behaviour: wasm calls
//! functions by index, and wasm-opt renumbers every call, table entry and export.
//!
//! binaryen has no pass taking an order from outside, so this names every function
//! after its place in the wanted order and lets `--reorder-functions-by-name` sort them;
//! `--strip-debug` then drops those names again.

use anyhow::{bail, ensure, Context};
use std::{collections::HashMap, path::Path, process::Command};

use crate::process::run;

/// How alike two functions are is counted in shared runs of this many bytes.
const RUN_BYTES: usize = 4;

/// Runs found in more functions than this (common opcode sequences) tell nothing about
/// likeness, and would make every step look at nearly every function.
const COMMON_RUN: usize = 200;

/// The next function is chosen by its likeness to the last few placed, the latest
/// counting most: gzip reaches back over several functions, not only the last one.
const RECENT: usize = 5;
const RECENT_DECAY: f64 = 0.7;

/// Shared runs are weighed against the candidate's size to this power, so that a large
/// function does not win by size alone.
const SIZE_WEIGHT: f64 = 0.4;

/// Reorders the functions of the wasm file at `wasm` in place, with the wasm-opt at
/// `wasm_opt`.
pub fn order_functions_for_compression(
    wasm: &Path,
    wasm_opt: &Path,
    features: &[&str],
) -> anyhow::Result<()> {
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {wasm:?}"))?;
    let module = Module::parse(&bytes).with_context(|| format!("reading {wasm:?}"))?;
    let order = order_by_likeness(&module.bodies);
    let named = wasm.with_extension("named.wasm");
    std::fs::write(&named, module.with_names_in_order(&order))?;
    let sorted = run(Command::new(wasm_opt)
        .arg(&named)
        .args(features)
        .args(["--reorder-functions-by-name", "--strip-debug", "-o"])
        .arg(wasm));
    std::fs::remove_file(&named)?;
    sorted
}

/// What the reordering needs of a module: its sections, untouched, and its function
/// bodies, whose indices follow the imported functions'.
struct Module<'a> {
    sections: Vec<Section<'a>>,
    imported_functions: u32,
    bodies: Vec<&'a [u8]>,
}

struct Section<'a> {
    id: u8,
    /// The whole section: id, size and contents.
    bytes: &'a [u8],
}

const CUSTOM_SECTION: u8 = 0;
const IMPORT_SECTION: u8 = 2;
const CODE_SECTION: u8 = 10;
const FUNCTION_IMPORT: u8 = 0;
/// The function-names subsection of the `name` custom section.
const FUNCTION_NAMES: u8 = 1;

impl<'a> Module<'a> {
    fn parse(bytes: &'a [u8]) -> anyhow::Result<Self> {
        ensure!(
            bytes.starts_with(b"\0asm\x01\0\0\0"),
            "not a wasm module (version 1)"
        );
        let mut reader = Reader::new(&bytes[8..]);
        let mut module = Module {
            sections: Vec::new(),
            imported_functions: 0,
            bodies: Vec::new(),
        };
        while !reader.is_empty() {
            let start = reader.rest;
            let id = reader.byte()?;
            let size = reader.length()?;
            let contents = reader.take(size)?;
            let whole = &start[..start.len() - reader.rest.len()];
            match id {
                IMPORT_SECTION => module.imported_functions = count_function_imports(contents)?,
                CODE_SECTION => module.bodies = function_bodies(contents)?,
                _ => {}
            }
            module.sections.push(Section { id, bytes: whole });
        }
        Ok(module)
    }

    /// The module with a `name` section naming each function after its place in
    /// `order` (a permutation of the bodies), replacing any names it had.
    fn with_names_in_order(&self, order: &[usize]) -> Vec<u8> {
        let mut names = Vec::new();
        write_length(&mut names, order.len());
        let mut place_of = vec![0; order.len()];
        for (place, &body) in order.iter().enumerate() {
            place_of[body] = place;
        }
        for (body, place) in place_of.iter().enumerate() {
            write_length(&mut names, self.imported_functions as usize + body);
            let name = format!("f{place:07}");
            write_length(&mut names, name.len());
            names.extend_from_slice(name.as_bytes());
        }
        let mut contents = Vec::new();
        write_length(&mut contents, b"name".len());
        contents.extend_from_slice(b"name");
        contents.push(FUNCTION_NAMES);
        write_length(&mut contents, names.len());
        contents.extend_from_slice(&names);

        let mut out = b"\0asm\x01\0\0\0".to_vec();
        for section in self.sections.iter().filter(|s| !s.is_name_section()) {
            out.extend_from_slice(section.bytes);
        }
        out.push(CUSTOM_SECTION);
        write_length(&mut out, contents.len());
        out.extend_from_slice(&contents);
        out
    }
}

impl Section<'_> {
    fn is_name_section(&self) -> bool {
        if self.id != CUSTOM_SECTION {
            return false;
        }
        let mut reader = Reader::new(self.bytes);
        let name = (|| {
            reader.byte()?;
            reader.length()?;
            let length = reader.length()?;
            reader.take(length)
        })();
        matches!(name, Ok(b"name"))
    }
}

fn count_function_imports(contents: &[u8]) -> anyhow::Result<u32> {
    let mut reader = Reader::new(contents);
    let mut functions = 0;
    for _ in 0..reader.length()? {
        for _module_then_name in 0..2 {
            let length = reader.length()?;
            reader.take(length)?;
        }
        match reader.byte()? {
            FUNCTION_IMPORT => {
                reader.length()?;
                functions += 1;
            }
            // A table: its element type, then limits.
            1 => {
                reader.byte()?;
                reader.limits()?;
            }
            // A memory: limits.
            2 => reader.limits()?,
            // A global: its value type and mutability.
            3 => {
                reader.take(2)?;
            }
            // A tag: its attribute and type.
            4 => {
                reader.byte()?;
                reader.length()?;
            }
            kind => bail!("an import of unknown kind {kind}"),
        }
    }
    Ok(functions)
}

fn function_bodies(contents: &[u8]) -> anyhow::Result<Vec<&[u8]>> {
    let mut reader = Reader::new(contents);
    let count = reader.length()?;
    let mut bodies = Vec::with_capacity(count.min(contents.len()));
    for _ in 0..count {
        let size = reader.length()?;
        bodies.push(reader.take(size)?);
    }
    ensure!(reader.is_empty(), "bytes after the last function body");
    Ok(bodies)
}

/// A greedy walk: start with the largest function, then always place the one sharing
/// the most byte runs with the last few placed.
fn order_by_likeness(bodies: &[&[u8]]) -> Vec<usize> {
    let runs: Vec<Vec<u32>> = bodies.iter().map(|body| distinct_runs(body)).collect();
    let mut holders: HashMap<u32, Vec<usize>> = HashMap::new();
    for (function, function_runs) in runs.iter().enumerate() {
        for &run in function_runs {
            holders.entry(run).or_default().push(function);
        }
    }
    holders.retain(|_, functions| functions.len() <= COMMON_RUN);

    let mut placed = vec![false; bodies.len()];
    let mut order = Vec::with_capacity(bodies.len());
    let mut score = vec![0.0_f64; bodies.len()];
    let mut next = largest_unplaced(bodies, &placed);
    while let Some(current) = next {
        placed[current] = true;
        order.push(current);
        let recent = order.iter().rev().take(RECENT);
        let mut candidates = Vec::new();
        for (age, &function) in recent.enumerate() {
            let weight = RECENT_DECAY.powi(age as i32);
            for run in &runs[function] {
                for &other in holders.get(run).into_iter().flatten() {
                    if !placed[other] {
                        if score[other] == 0.0 {
                            candidates.push(other);
                        }
                        score[other] += weight;
                    }
                }
            }
        }
        let best = candidates.iter().copied().max_by(|&a, &b| {
            let weighed = |f: usize| score[f] / ((runs[f].len() + 1) as f64).powf(SIZE_WEIGHT);
            // Ties go to the lower index, so that the order is the same on every build.
            weighed(a).total_cmp(&weighed(b)).then(b.cmp(&a))
        });
        for &candidate in &candidates {
            score[candidate] = 0.0;
        }
        next = best.or_else(|| largest_unplaced(bodies, &placed));
    }
    order
}

fn distinct_runs(body: &[u8]) -> Vec<u32> {
    let mut runs: Vec<u32> = body
        .windows(RUN_BYTES)
        .map(|run| u32::from_le_bytes([run[0], run[1], run[2], run[3]]))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs
}

fn largest_unplaced(bodies: &[&[u8]], placed: &[bool]) -> Option<usize> {
    (0..bodies.len())
        .filter(|&function| !placed[function])
        .max_by(|&a, &b| bodies[a].len().cmp(&bodies[b].len()).then(b.cmp(&a)))
}

/// A bounds-checked reader of a wasm binary's bytes and LEB128 numbers.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn byte(&mut self) -> anyhow::Result<u8> {
        let (&first, rest) = self.rest.split_first().context("the module ends early")?;
        self.rest = rest;
        Ok(first)
    }

    fn take(&mut self, count: usize) -> anyhow::Result<&'a [u8]> {
        ensure!(count <= self.rest.len(), "the module ends early");
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    /// An unsigned LEB128 number of at most 32 bits, as every count and size is.
    fn length(&mut self) -> anyhow::Result<usize> {
        let mut value = 0_u64;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                ensure!(value <= u64::from(u32::MAX), "a number over 32 bits");
                return Ok(value as usize);
            }
        }
        bail!("a number over 32 bits")
    }

    fn limits(&mut self) -> anyhow::Result<()> {
        let flags = self.byte()?;
        self.length()?;
        if flags & 1 == 1 {
            self.length()?;
        }
        Ok(())
    }
}

fn write_length(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing one function and a memory, defining `bodies`.
    fn module(bodies: &[&[u8]]) -> Vec<u8> {
        let section = |id: u8, contents: &[u8]| {
            let mut out = vec![id];
            write_length(&mut out, contents.len());
            out.extend_from_slice(contents);
            out
        };
        let mut imports = vec![2];
        imports.extend_from_slice(b"\x01m\x01f\x00\x00"); // function of type 0
        imports.extend_from_slice(b"\x01m\x03mem\x02\x01\x01\x02"); // memory, min 1, max 2
        let mut code = Vec::new();
        write_length(&mut code, bodies.len());
        for body in bodies {
            write_length(&mut code, body.len());
            code.extend_from_slice(body);
        }
        let mut out = b"\0asm\x01\0\0\0".to_vec();
        out.extend(section(1, b"\x01\x60\x00\x00"));
        out.extend(section(IMPORT_SECTION, &imports));
        out.extend(section(CODE_SECTION, &code));
        out
    }

    #[test]
    fn reads_the_bodies_and_counts_only_imported_functions() {
        let bytes = module(&[b"\x00\x0b", b"\x00\x01\x0b"]);
        let parsed = Module::parse(&bytes).unwrap();
        assert_eq!(parsed.imported_functions, 1);
        assert_eq!(parsed.bodies, [&b"\x00\x0b"[..], &b"\x00\x01\x0b"[..]]);
        assert_eq!(parsed.sections.len(), 3);
    }

    #[test]
    fn a_cut_or_foreign_file_is_refused() {
        let bytes = module(&[b"\x00\x0b"]);
        assert!(Module::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(Module::parse(b"\0asm\x02\0\0\0").is_err());
        assert!(Module::parse(b"<html>").is_err());
    }

    #[test]
    fn alike_functions_end_up_next_to_each_other() {
        let alike: Vec<u8> = (0..=255).collect();
        let mut also_alike = alike.clone();
        also_alike[100] = 0;
        let other: Vec<u8> = (0..300).map(|i| (i * 7 % 251) as u8).rev().collect();
        let order = order_by_likeness(&[&alike, &other, &also_alike]);
        assert_eq!(order, [1, 0, 2], "the largest first, then the two alike");
    }

    #[test]
    fn every_function_is_named_after_its_place_and_old_names_go() {
        let bytes = module(&[b"\x00\x0b", b"\x00\x01\x0b", b"\x00\x01\x01\x0b"]);
        let named = Module::parse(&bytes)
            .unwrap()
            .with_names_in_order(&[2, 0, 1]);
        let renamed = Module::parse(&named)
            .unwrap()
            .with_names_in_order(&[0, 1, 2]);
        let names = Module::parse(&renamed).unwrap();
        let name_sections: Vec<_> = names
            .sections
            .iter()
            .filter(|s| s.is_name_section())
            .collect();
        assert_eq!(name_sections.len(), 1, "the old names were replaced");
        let text = String::from_utf8_lossy(name_sections[0].bytes);
        // Functions 1, 2 and 3 (0 is the import) in the order given.
        assert!(
            text.contains("\x01\x08f0000000\x02\x08f0000001\x03\x08f0000002"),
            "{text:?}"
        );
        let first = Module::parse(&named).unwrap();
        let text = String::from_utf8_lossy(first.sections.last().unwrap().bytes);
        assert!(
            text.contains("\x01\x08f0000001\x02\x08f0000002\x03\x08f0000000"),
            "{text:?}"
        );
    }
}
