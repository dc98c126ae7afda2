//! Running commands and owning the servers we start: stopped by handle, never by name.

use anyhow::{bail, Context};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Run `command` to completion, failing with its name if it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Run `command` and return its stdout, or `None` if it cannot run or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Children that must not outlive us, killed on Ctrl-C and on drop.
#[derive(Clone, Default)]
pub struct Children(Arc<Mutex<Vec<Child>>>);

impl Children {
    /// Start `command` and wait for the stdout line that starts with `prefix`
    /// (the server announcing its address); the rest of its output flows through.
    pub fn spawn_announcing(&self, mut command: Command, prefix: &str) -> anyhow::Result<String> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let stdout = child.stdout.take().context("child has no stdout")?;
        self.0.lock().expect("children lock").push(child);
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            if line.starts_with(prefix) {
                std::thread::spawn(move || {
                    lines.for_each(|line| {
                        if let Ok(line) = line {
                            println!("{line}");
                        }
                    })
                });
                return Ok(line);
            }
            println!("{line}");
        }
        bail!("{command:?} exited before announcing itself")
    }

    pub fn kill_all(&self) {
        let mut children = self.0.lock().expect("children lock");
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        children.clear();
    }

    /// Block until any child exits (a crashed server ends the demo).
    pub fn wait_any(&self) {
        loop {
            {
                let mut children = self.0.lock().expect("children lock");
                if children.is_empty() {
                    return;
                }
                for child in children.iter_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        eprintln!("a server exited ({status}); stopping the demo");
                        return;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            self.kill_all();
        }
    }
}

/// The value of `key=` in an announcement line such as `proxy url=http://...`.
pub fn field<'a>(line: &'a str, key: &str) -> anyhow::Result<&'a str> {
    line.split_whitespace()
        .find_map(|part| {
            part.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
        })
        .with_context(|| format!("no {key}= in {line:?}"))
}
