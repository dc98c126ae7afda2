//! The compressed copies of the shipped files that the proxy serves to browsers that
//! accept them (`ServeDir::precompressed_gzip` and `precompressed_br`).
//!
//! Compressing once at build time affords the slowest, smallest encoders: zopfli writes
//! gzip about 5 % smaller than `gzip -9` (every gzip reader reads it), and brotli at its
//! highest quality is smaller still for the browsers that send `Accept-Encoding: br`.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The `.gz` and `.br` copies of `file`, beside it.
pub fn write_compressed_copies(file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {file:?}"))?;
    std::fs::write(with_suffix(file, ".gz"), gzip(&bytes)?)?;
    std::fs::write(with_suffix(file, ".br"), brotli(&bytes)?)?;
    Ok(())
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        bytes,
        &mut out,
    )
    .context("zopfli failed")?;
    Ok(out)
}

fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).context("brotli failed")?;
    Ok(out)
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// What a browser does with the copies: both decode to the file's exact bytes.
    #[test]
    fn both_copies_decode_to_the_original() {
        let original: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gzipped = gzip(&original).expect("gzip");
        let mut decoded = Vec::new();
        gunzip(&gzipped, &mut decoded);
        assert_eq!(decoded, original);

        let mut unbrotlied = Vec::new();
        brotli::Decompressor::new(&brotli(&original).expect("brotli")[..], 4096)
            .read_to_end(&mut unbrotlied)
            .expect("brotli decodes");
        assert_eq!(unbrotlied, original);
    }

    /// The system's gunzip stands in for a browser's gzip reader.
    fn gunzip(gzipped: &[u8], decoded: &mut Vec<u8>) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("gzip")
            .args(["-d", "-c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(gzipped)
            .expect("write");
        let output = child.wait_with_output().expect("gzip ends");
        assert!(output.status.success(), "gzip -d rejects zopfli's output");
        decoded.extend(output.stdout);
    }
}
