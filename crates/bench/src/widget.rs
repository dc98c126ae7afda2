//! The widget's shipped bytes, and how fast its catalog reaches the screen compared with
//! a static HTML page showing the same catalog (the floor).

use anyhow::Context;
use flate2::{write::GzEncoder, Compression};
use serde::Serialize;
use std::{io::Write, path::Path, time::Duration};

use e2e::Browser;

#[derive(Debug, Serialize)]
pub struct ShippedFile {
    pub name: String,
    pub raw: usize,
    /// The `.gz` copy the proxy serves (zopfli, written by `cargo xtask widget`).
    pub gzip: usize,
    /// The `.br` copy the proxy serves to browsers that accept brotli.
    pub brotli: usize,
    /// `gzip -9` of the file, the figure earlier runs reported, for comparison.
    pub gzip_9: usize,
}

/// Every file a host page downloads to show the widget: wasm, JS and CSS in `dist/`
/// (the demo page itself is not part of the widget), with the sizes of the compressed
/// copies the proxy serves instead.
pub fn shipped_files(dist: &Path) -> anyhow::Result<Vec<ShippedFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let shipped = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wasm" | "js" | "css")
        );
        if !shipped || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        files.push(ShippedFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            raw: bytes.len(),
            gzip: copy_len(&path, "gz")?,
            brotli: copy_len(&path, "br")?,
            gzip_9: gzip_9_len(&bytes)?,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The size of the compressed copy `<file>.<suffix>` beside `file`.
fn copy_len(file: &Path, suffix: &str) -> anyhow::Result<usize> {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    let copy = std::path::PathBuf::from(name);
    let metadata = std::fs::metadata(&copy).with_context(|| {
        format!(
            "{} is missing: build with `cargo xtask widget`",
            copy.display()
        )
    })?;
    Ok(metadata.len() as usize)
}

fn gzip_9_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// Records, in the page itself, the moment `count` catalog titles are on screen
/// (`performance.now()`, i.e. milliseconds since navigation started), and, for the
/// widget, how long its mount took from giving its shadow root its stylesheet (the
/// mount's first step; embed.js attaches the shadow root earlier, before the wasm is
/// ready) to the cards being in the page: the part of the time that is the widget's own
/// code running, not the network or the wasm's compilation (a collator built per
/// comparison once took 10 ms of it).
pub fn render_probe(count: usize) -> String {
    format!(
        r#"<script>
(function () {{
  function titles(root) {{
    return root.querySelectorAll('.tm-title').length;
  }}
  var sheets = Object.getOwnPropertyDescriptor(ShadowRoot.prototype, 'adoptedStyleSheets');
  Object.defineProperty(ShadowRoot.prototype, 'adoptedStyleSheets', {{
    configurable: true,
    get: sheets.get,
    set: function (value) {{
      if (value.length && this.__mountStarted === undefined) {{
        this.__mountStarted = performance.now();
      }}
      sheets.set.call(this, value);
    }},
  }});
  var attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {{
    var root = attachShadow.call(this, init);
    var observer = new MutationObserver(function () {{
      if (titles(root) >= {count} && root.__mountStarted !== undefined) {{
        window.__drawnMs = performance.now() - root.__mountStarted;
        observer.disconnect();
      }}
    }});
    observer.observe(root, {{ childList: true, subtree: true }});
    return root;
  }};
  function check() {{
    var host = document.querySelector('[data-tray-marketplace]');
    var root = host && host.shadowRoot ? host.shadowRoot : document;
    if (titles(root) >= {count}) {{ window.__renderedAt = performance.now(); }}
    else {{ requestAnimationFrame(check); }}
  }}
  requestAnimationFrame(check);
}})();
</script>"#
    )
}

/// One load of a bench page.
pub struct Load {
    /// Milliseconds from navigation to the rendered catalog.
    pub rendered_ms: f64,
    /// The widget's mount, from its stylesheet to its cards in the page (none for the
    /// static page).
    pub drawn_ms: Option<f64>,
}

/// Navigate to `url` and time the rendered catalog.
pub async fn time_to_render(browser: &Browser, url: &str) -> anyhow::Result<Load> {
    browser.client.goto("about:blank").await?;
    browser.client.goto(url).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let value = browser
            .client
            .execute(
                "return window.__renderedAt ? [window.__renderedAt, window.__drawnMs] : null;",
                vec![],
            )
            .await?;
        if let Some(rendered_ms) = value.get(0).and_then(|v| v.as_f64()) {
            let drawn_ms = value.get(1).and_then(|v| v.as_f64());
            return Ok(Load {
                rendered_ms,
                drawn_ms,
            });
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{url}: catalog not rendered within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Serialize)]
pub struct Distribution {
    pub samples: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
}

pub fn distribution(mut samples: Vec<f64>) -> Distribution {
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(index).copied().unwrap_or(f64::NAN)
    };
    Distribution {
        samples: samples.len(),
        median_ms: at(0.5),
        p95_ms: at(0.95),
    }
}
