//! `cargo xtask bench`: figures measured in one run, reported as a table and as JSON.
//!
//! Each figure that depends on the machine's speed is reported beside a floor measured
//! in the same run (a static page, the sandbox itself), so the ratio holds on a noisy box.

mod client;
mod connect_flow;
mod load;
mod proxy_bench;
mod proxy_process;
mod search;
mod widget;

use anyhow::{bail, Context};
use serde::Serialize;
use std::path::PathBuf;

use e2e::{Browser, Stack};

/// Page loads per variant; the first of each is a cold cache and is reported apart.
const LOADS: usize = 21;

#[derive(Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    widget: Option<WidgetReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy: Option<proxy_bench::ProxyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect: Option<proxy_bench::ConnectReport>,
}

/// Which halves to run: `--only widget` or `--only proxy` (the proxy half includes the
/// connect flow); both by default.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Widget,
    Proxy,
}

fn part_from_args() -> anyhow::Result<Part> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Ok(Part::All),
        ["--only", "widget"] => Ok(Part::Widget),
        ["--only", "proxy"] => Ok(Part::Proxy),
        other => bail!("unknown arguments {other:?}; usage: bench [--only widget|proxy]"),
    }
}

#[derive(Serialize)]
struct WidgetReport {
    files: Vec<widget::ShippedFile>,
    total_raw: usize,
    total_gzip: usize,
    total_brotli: usize,
    total_gzip_9: usize,
    widget_render: widget::Distribution,
    static_render: widget::Distribution,
    /// Of `widget_render`: the widget's mount, from its stylesheet to its cards.
    widget_mount: widget::Distribution,
    /// Median widget time over median static time.
    ratio: f64,
    /// One keystroke in the search of a catalog of `search::INTEGRATIONS`.
    search_integrations: usize,
    search_keystroke: widget::Distribution,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let part = part_from_args()?;
    // Built first, so a long compile does not sit between the measurements.
    let proxy_binary = match part {
        Part::Widget => None,
        _ => Some(proxy_process::locate_binary()?),
    };
    let measuring = std::time::Instant::now();
    let widget = match part {
        Part::Proxy => None,
        _ => {
            let dist = e2e::widget_dist().map_err(|err| anyhow::anyhow!("{err}"))?;
            Some(bench_widget(&dist).await?)
        }
    };
    let (proxy, connect) = match &proxy_binary {
        Some(binary) => {
            let (proxy, connect) = proxy_bench::run(binary).await?;
            (Some(proxy), Some(connect))
        }
        None => (None, None),
    };
    let report = Report {
        widget,
        proxy,
        connect,
    };
    print_table(&report);
    // A partial run does not replace the full report unless told to.
    let default_out = match part {
        Part::All => "target/bench/latest.json",
        Part::Widget => "target/bench/latest-widget.json",
        Part::Proxy => "target/bench/latest-proxy.json",
    };
    let out = PathBuf::from(std::env::var("BENCH_OUT").unwrap_or_else(|_| default_out.into()));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!(
        "\nMeasured in {:.0} s (builds excluded). JSON written to {}",
        measuring.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

async fn bench_widget(dist: &std::path::Path) -> anyhow::Result<WidgetReport> {
    let files = widget::shipped_files(dist)?;
    let total_raw = files.iter().map(|f| f.raw).sum();
    let total_gzip = files.iter().map(|f| f.gzip).sum();
    let total_brotli = files.iter().map(|f| f.brotli).sum();
    let total_gzip_9 = files.iter().map(|f| f.gzip_9).sum();

    let stack = Stack::start()
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let browser = Browser::start()
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let origin = stack.proxy.url();
    let http = reqwest::Client::new();
    // The host backend's part: a signed user token (the demo endpoint stands in for it).
    let token: marketplace_wire::DemoToken = http
        .post(format!("{origin}/demo/token"))
        .json(&marketplace_wire::DemoTokenRequest {
            user_id: "bench-user".into(),
            name: "Bench User".into(),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let catalog: marketplace_wire::Catalog = http
        .get(format!("{origin}/api/v1/integrations"))
        .bearer_auth(&token.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("reading the catalog for the static page")?;
    let count = catalog.integrations.len();
    let pages = BenchPages::write(dist, &catalog, count, &token.token)?;

    let mut widget_samples = Vec::new();
    let mut mount_samples = Vec::new();
    let mut static_samples = Vec::new();
    // Interleaved, so drift on the machine affects both variants alike.
    for _ in 0..LOADS {
        let widget =
            widget::time_to_render(&browser, &format!("{origin}/widget/{}", pages.widget)).await?;
        widget_samples.push(widget.rendered_ms);
        mount_samples.push(
            widget
                .drawn_ms
                .context("the widget's mount was not timed")?,
        );
        let floor =
            widget::time_to_render(&browser, &format!("{origin}/widget/{}", pages.floor)).await?;
        static_samples.push(floor.rendered_ms);
    }
    pages.remove(dist);
    let large = search::large_catalog();
    let search_page = search::SearchPage::write(dist, &large)?;
    let search_keystroke = search::keystrokes(&browser, &search_page.url(&origin), &large).await;
    search_page.remove(dist);
    let search_keystroke = search_keystroke?;
    let _ = browser.close().await;
    // The first load of each fills the browser cache; the figures are for warm loads.
    let widget_render = widget::distribution(widget_samples.split_off(1));
    let static_render = widget::distribution(static_samples.split_off(1));
    let widget_mount = widget::distribution(mount_samples.split_off(1));
    Ok(WidgetReport {
        ratio: widget_render.median_ms / static_render.median_ms,
        files,
        total_raw,
        total_gzip,
        total_brotli,
        total_gzip_9,
        widget_render,
        static_render,
        widget_mount,
        search_integrations: search::INTEGRATIONS,
        search_keystroke,
    })
}

/// The two pages compared: the widget mounted by a host page, and the same catalog as
/// plain HTML with the widget's stylesheet. Written into `dist/` for the run only.
struct BenchPages {
    widget: String,
    floor: String,
}

impl BenchPages {
    fn write(
        dist: &std::path::Path,
        catalog: &marketplace_wire::Catalog,
        count: usize,
        token: &str,
    ) -> anyhow::Result<Self> {
        let probe = widget::render_probe(count);
        let loader = if dist.join("embed.js").is_file() {
            r#"<script type="module" src="/widget/embed.js"></script>"#.to_owned()
        } else {
            r#"<script type="module">import init from '/widget/integrations-widget.js'; init({ module_or_path: '/widget/integrations-widget_bg.wasm' });</script>"#.to_owned()
        };
        let widget_page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>bench: widget</title>{probe}{loader}</head>\
             <body><div data-tray-marketplace data-proxy-url=\"\" data-token=\"{}\"></div></body></html>",
            escape(token)
        );
        let cards: String = catalog
            .integrations
            .iter()
            .map(|i| {
                format!(
                    "<li class=\"tm-card\"><img class=\"tm-icon\" src=\"{}\" alt=\"\" width=\"40\" height=\"40\"><h3 class=\"tm-title\">{}</h3><p class=\"tm-description\">{}</p></li>",
                    escape(i.icon_url.as_deref().unwrap_or_default()),
                    escape(&i.title),
                    escape(i.description.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        let css = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../style/widget.css"
        ))?;
        let floor_page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>bench: static</title>{probe}<style>{css}</style></head>\
             <body><ul class=\"tm-grid\">{cards}</ul></body></html>"
        );
        let pages = BenchPages {
            widget: "bench-widget.html".into(),
            floor: "bench-static.html".into(),
        };
        std::fs::write(dist.join(&pages.widget), widget_page)?;
        std::fs::write(dist.join(&pages.floor), floor_page)?;
        Ok(pages)
    }

    fn remove(&self, dist: &std::path::Path) {
        let _ = std::fs::remove_file(dist.join(&self.widget));
        let _ = std::fs::remove_file(dist.join(&self.floor));
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn print_table(report: &Report) {
    if let Some(widget) = &report.widget {
        print_widget(widget);
    }
    if let Some(proxy) = &report.proxy {
        print_proxy(proxy);
    }
    if let Some(connect) = &report.connect {
        print_connect(connect);
    }
}

fn print_widget(w: &WidgetReport) {
    println!("\nWidget: shipped bytes");
    println!(
        "  {:<36} {:>10} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli", "gzip -9"
    );
    for file in &w.files {
        println!(
            "  {:<36} {:>10} {:>10} {:>10} {:>10}",
            file.name, file.raw, file.gzip, file.brotli, file.gzip_9
        );
    }
    println!(
        "  {:<36} {:>10} {:>10} {:>10} {:>10}",
        "total", w.total_raw, w.total_gzip, w.total_brotli, w.total_gzip_9
    );
    println!("  (gzip and brotli: the copies the proxy serves; gzip -9 for comparison)");
    println!(
        "\nWidget: navigation to rendered catalog, {} warm loads each",
        w.widget_render.samples
    );
    println!("  {:<36} {:>10} {:>10}", "page", "median ms", "p95 ms");
    println!(
        "  {:<36} {:>10.1} {:>10.1}",
        "widget (wasm, via proxy)", w.widget_render.median_ms, w.widget_render.p95_ms
    );
    println!(
        "  {:<36} {:>10.1} {:>10.1}",
        "static HTML, same catalog (floor)", w.static_render.median_ms, w.static_render.p95_ms
    );
    println!(
        "  {:<36} {:>10.2}",
        "ratio widget / floor (median)", w.ratio
    );
    println!(
        "  {:<36} {:>10.1} {:>10.1}",
        "of the widget's: its mount (ms)", w.widget_mount.median_ms, w.widget_mount.p95_ms
    );
    println!(
        "  (its mount: from its shadow root's stylesheet to its cards in the page, a first run of its code)"
    );
    println!(
        "\nWidget: one keystroke in the search, {} integrations ({} keystrokes)",
        w.search_integrations, w.search_keystroke.samples
    );
    println!(
        "  {:<36} {:>10.1} {:>10.1}",
        "input to laid-out grid (ms)", w.search_keystroke.median_ms, w.search_keystroke.p95_ms
    );
}

fn print_proxy(p: &proxy_bench::ProxyReport) {
    let (rounds, compared, shipped) = (
        proxy_bench::COMPARISON_ROUNDS,
        proxy_bench::COMPARISON_PLAN,
        proxy_bench::LOAD_PLAN,
    );
    println!(
        "\nProxy: warm catalog request (GET /api/v1/integrations), {} connections on loopback",
        compared.connections
    );
    println!(
        "  (lifted and direct: {rounds} alternating rounds of {:.0} s after {:.1} s warm-up; \
         as shipped: {:.0} s after {:.0} s)",
        compared.measure.as_secs_f64(),
        compared.warm_up.as_secs_f64(),
        shipped.measure.as_secs_f64(),
        shipped.warm_up.as_secs_f64()
    );
    println!(
        "  {:<44} {:>10} {:>10} {:>10} {:>7}",
        "target", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, load) in [
        ("proxy, Tray limiter lifted", &p.proxy_catalog),
        ("sandbox GraphQL direct (same query)", &p.sandbox_direct),
        (
            "proxy as shipped (limiter 25/s, burst 40)",
            &p.proxy_catalog_default_limit,
        ),
    ] {
        println!(
            "  {:<44} {:>10.0} {:>10.1} {:>10.1} {:>7}",
            name, load.requests_per_second, load.p50_ms, load.p99_ms, load.errors
        );
    }
    println!(
        "  {:<44} {:>10.2} {:>10.2}",
        "ratio proxy / sandbox (lifted)", p.throughput_ratio, p.p50_latency_ratio
    );
    println!(
        "  {:<44} {:>10}",
        "as shipped: Tray rate-limit refusals (429)", p.tray_rate_limited_default_limit
    );
    println!(
        "  {:<44} {:>10}",
        "as shipped: most Tray requests in one second",
        p.tray_peak_requests_per_second_default_limit
    );
    println!(
        "  {:<44} {:>10.1} MiB (as shipped: {:.1} MiB)",
        "proxy peak resident memory (VmHWM)",
        p.peak_rss_kib as f64 / 1024.0,
        p.peak_rss_kib_default_limit as f64 / 1024.0
    );
    let cost = &p.tray_requests_per_page_load;
    println!("\nProxy: Tray requests per page load (GET /api/v1/integrations)");
    println!("  {:<44} {:>10}", "cold (new user, fresh proxy)", cost.cold);
    println!("  {:<44} {:>10}", "warm (same user, next load)", cost.warm);
    println!(
        "  {:<44} {:>10}",
        "new user, catalog already cached", cost.new_user_catalog_cached
    );
}

fn print_connect(c: &proxy_bench::ConnectReport) {
    println!(
        "\nConnect flow through the API: {} ({} auth slots, {} config slots), {} runs, {} at a time",
        c.integration, c.auth_slots, c.config_slots, c.runs, c.concurrency
    );
    println!(
        "  {:<44} {:>10.1}",
        "p50 ms, excluding the 2 s enable wait", c.p50_ms
    );
    println!(
        "  {:<44} {:>10.1}",
        "p95 ms, excluding the 2 s enable wait", c.p95_ms
    );
    println!(
        "  {:<44} {:>10.1}",
        "p50 ms, wall time with the wait", c.p50_wall_ms
    );
    println!(
        "  {:<44} {:>10}",
        "Tray requests, one isolated connect", c.tray_requests
    );
    println!(
        "  {:<44} {:>10}",
        "early enables seen by Tray", c.early_enables
    );
}
