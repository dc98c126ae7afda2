//! A throwaway PostgreSQL server for the proxy's Postgres test run: Debian's binaries,
//! a fresh cluster in a temporary directory, an ephemeral loopback port, stopped by its
//! own data directory (`pg_ctl stop -D`), never by name.

use anyhow::{bail, Context};
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{process, tools};

pub struct TestPostgres {
    cluster: Cluster,
    port: u16,
}

/// Where the server's binaries and files are: enough to stop it from anywhere, such as
/// a Ctrl-C handler (`pg_ctl` detaches the server, so it would outlive xtask).
#[derive(Clone)]
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    /// When we run as root, the server runs as the `postgres` user (it refuses root).
    as_postgres: bool,
}

impl TestPostgres {
    pub fn start() -> anyhow::Result<TestPostgres> {
        let bin = match find_bin_dir() {
            Some(bin) => bin,
            None => {
                tools::apt_install(&["postgresql"])?;
                find_bin_dir().context("postgresql installed but initdb not found")?
            }
        };
        let as_postgres =
            process::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
        let data = std::env::temp_dir().join(format!("xtask-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data)?;
        if as_postgres {
            process::run(Command::new("chown").arg("postgres:postgres").arg(&data))?;
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let server = TestPostgres {
            cluster: Cluster {
                bin,
                data,
                as_postgres,
            },
            port,
        };
        let pg = &server.cluster;
        let cluster = pg.data.join("cluster");
        pg.run("initdb", |c| {
            c.args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(&cluster);
        })?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            pg.data.display()
        );
        pg.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(&cluster)
                .args(["-o", &options, "-l"])
                .arg(pg.data.join("log"))
                .args(["-w", "start"]);
        })?;
        Ok(server)
    }

    /// A URL on the cluster's default database, for the superuser `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn cluster(&self) -> Cluster {
        self.cluster.clone()
    }
}

impl Cluster {
    /// Stops the server and removes its files.
    pub fn stop(&self) {
        let cluster = self.data.join("cluster");
        let _ = self.run("pg_ctl", |c| {
            c.arg("-D").arg(&cluster).args(["-m", "fast", "-w", "stop"]);
        });
        let _ = std::fs::remove_dir_all(&self.data);
    }

    fn run(&self, tool: &str, args: impl FnOnce(&mut Command)) -> anyhow::Result<()> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        args(&mut command);
        let out = command
            .output()
            .with_context(|| format!("cannot run {tool}"))?;
        if !out.status.success() {
            bail!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.cluster.stop();
    }
}

/// Debian installs server binaries under /usr/lib/postgresql/<version>/bin.
fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| Path::new(bin).join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}
