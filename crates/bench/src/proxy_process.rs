//! The proxy as operators run it: the `marketplace-proxy` binary built with
//! `--profile native`, in its own process (so its memory can be read from `/proc`),
//! pointed at the sandbox, with its own SQLite file. Stopped through its `Child` handle.

use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The host backend's signing secret for this run (the proxy reads HOST_JWT_SECRET).
pub const HOST_JWT_SECRET: &str = "bench-host-secret-of-at-least-32-bytes";

/// What the spawned proxy is pointed at and allowed.
pub struct ProxyOptions<'a> {
    pub label: &'a str,
    pub graphql_url: &'a str,
    pub dialog_url: &'a str,
    pub master_token: &'a str,
    pub embedded_id: &'a str,
    /// `--tray-rate-per-second` / `--tray-rate-burst`; `None` keeps the proxy's defaults.
    pub tray_rate: Option<(u32, u32)>,
}

pub struct ProxyProcess {
    child: Child,
    pub url: String,
    state_dir: PathBuf,
}

impl ProxyProcess {
    pub async fn spawn(binary: &Path, options: &ProxyOptions<'_>) -> anyhow::Result<Self> {
        let state_dir = std::env::temp_dir().join(format!(
            "marketplace-bench-{}-{}",
            std::process::id(),
            options.label
        ));
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let database_url = format!("sqlite://{}?mode=rwc", state_dir.join("proxy.db").display());
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(["--tray-graphql-url", options.graphql_url])
            .args(["--tray-dialog-url", options.dialog_url])
            .args(["--embedded-id", options.embedded_id])
            .args(["--database-url", &database_url])
            .env("TRAY_MASTER_TOKEN", options.master_token)
            .env("HOST_JWT_SECRET", HOST_JWT_SECRET)
            // The operator's own settings must not leak into the measured configuration.
            .env_remove("PROXY_DEMO")
            .env_remove("WIDGET_DIR")
            .env_remove("SOLUTION_TAGS")
            .env_remove("HOST_JWT_AUDIENCE")
            .env_remove("TRAY_RATE_PER_SECOND")
            .env_remove("TRAY_RATE_BURST")
            // The load comes from one user: the measure is the proxy's work and Tray's
            // limit, not each user's share (--user-rate-per-second and
            // --user-requests-in-flight), which is off.
            .args(["--user-rate-per-second", "0"])
            .args(["--user-requests-in-flight", "0"])
            .env_remove("USER_REQUESTS_IN_FLIGHT")
            .env_remove("MAX_CONNECTIONS_PER_USER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some((per_second, burst)) = options.tray_rate {
            command
                .args(["--tray-rate-per-second", &per_second.to_string()])
                .args(["--tray-rate-burst", &burst.to_string()]);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the proxy's stdout is not piped")?;
        let url = match tokio::time::timeout(Duration::from_secs(30), announced_url(stdout)).await {
            Ok(Ok(url)) => url,
            Ok(Err(err)) => {
                let status = child.wait().await.ok();
                bail!("the proxy did not start ({err}); exit status {status:?}");
            }
            Err(_) => bail!("the proxy did not announce its address within 30 s"),
        };
        Ok(ProxyProcess {
            child,
            url,
            state_dir,
        })
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the proxy has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        vm_hwm_kib(&status).context("no VmHWM line in /proc/<pid>/status")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Reads the proxy's log until its `proxy url=...` line, then keeps draining it in the
/// background so a full pipe never blocks the proxy.
async fn announced_url(stdout: tokio::process::ChildStdout) -> anyhow::Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.trim().strip_prefix("proxy url=") {
            let url = url.to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(url);
        }
    }
    bail!("its output ended before it announced an address")
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The `marketplace-proxy` binary of the native profile: built now (a no-op when up to
/// date), next to this bench's own executable. `BENCH_PROXY_BIN` overrides it.
pub fn locate_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("BENCH_PROXY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("bench: cargo build --profile native -p marketplace-proxy");
    let status = std::process::Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "native",
            "-p",
            "marketplace-proxy",
        ])
        .current_dir(&workspace)
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("building marketplace-proxy failed ({status})");
    }
    let binary = std::env::current_exe()?
        .parent()
        .context("the bench executable has no directory")?
        .join("marketplace-proxy");
    if !binary.is_file() {
        bail!(
            "{} is missing after the build; run the bench with `cargo run --profile native -p bench` \
             or set BENCH_PROXY_BIN",
            binary.display()
        );
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_resident_size_from_proc_status() {
        let status = "Name:\tmarketplace-prox\nVmPeak:\t  812345 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(23456));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }
}
