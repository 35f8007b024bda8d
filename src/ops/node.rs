//! Node-local actions on the machine etcd runs on: the executor side of
//! [`LocalStep`] (stop and start a process or a systemd unit, move a static
//! pod manifest, run a restore tool), and finding the etcd that runs on a
//! data dir. Shared by `restore --local` and `recover --local`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::restore::LocalStep;
use crate::error::{Error, Kind, Result};

/// The command line of process `pid`, when it runs.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) if !raw.is_empty() => Some(split_cmdline(&raw)),
        _ => None,
    }
}

fn split_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Run one step: `wait` bounds how long etcd may take to stop, `root`
/// prefixes node paths (a fake node layout in tests). `Some(pid)` when it
/// started a process.
pub async fn run(step: &LocalStep, wait: Duration, root: &Path) -> Result<Option<u32>> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            Error::io(
                format!("moving `{}` to `{}`", from.display(), to.display()),
                e,
            )
        })
    };
    match step {
        LocalStep::MoveManifestAside { from, to } | LocalStep::StartManifest { from, to } => {
            rename(from, to)?
        }
        LocalStep::MoveDataAside { from, to } => rename(from, to)?,
        LocalStep::StopProcess { pid } => stop_process(*pid, wait).await?,
        LocalStep::StopService { name } => systemctl("stop", name).await?,
        LocalStep::StartService { name } => systemctl("start", name).await?,
        LocalStep::WaitStopped { data_dir } => {
            let deadline = Instant::now() + wait;
            while let Some(pid) = etcd_on(data_dir, root) {
                if Instant::now() >= deadline {
                    return Err(Error::new(
                        Kind::Refused,
                        format!("etcd (pid {pid}) still runs on `{}`", data_dir.display()),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        LocalStep::Restore { argv } => {
            let out = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env("ETCDCTL_API", "3")
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| Error::io(format!("running `{}`", argv[0]), e))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = err.lines().rev().take(5).collect();
                return Err(Error::new(
                    Kind::Other,
                    format!(
                        "`{} snapshot restore` failed ({}): {}",
                        argv[0],
                        out.status,
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    ),
                ));
            }
        }
        LocalStep::RewriteManifest {
            from,
            to,
            old_data_dir,
            new_data_dir,
        } => {
            let text = std::fs::read_to_string(from)
                .map_err(|e| Error::io(format!("reading `{}`", from.display()), e))?;
            let (new, changed) =
                super::restore::rewrite_manifest(&text, old_data_dir, new_data_dir);
            if changed == 0 {
                return Err(Error::data(format!(
                    "`{}` has no --data-dir or hostPath `{old_data_dir}` to rewrite",
                    from.display()
                ))
                .with_hint("pass --data-dir with the path the manifest uses"));
            }
            let part = crate::ops::snapshot::part_path(to);
            std::fs::write(&part, new)
                .and_then(|_| std::fs::rename(&part, to))
                .map_err(|e| Error::io(format!("writing `{}`", to.display()), e))?;
        }
        LocalStep::StartProcess { argv, log } => {
            use std::os::unix::process::CommandExt;
            let file = std::fs::File::create(log)
                .map_err(|e| Error::io(format!("creating `{}`", log.display()), e))?;
            let mut cmd = std::process::Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .process_group(0);
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ETCD") {
                    cmd.env_remove(k);
                }
            }
            let child = cmd
                .spawn()
                .map_err(|e| Error::io(format!("starting `{}`", argv[0]), e))?;
            return Ok(Some(child.id()));
        }
    }
    Ok(None)
}

async fn systemctl(verb: &str, unit: &str) -> Result<()> {
    let status = tokio::process::Command::new("systemctl")
        .args([verb, unit])
        .status()
        .await
        .map_err(|e| Error::io("running systemctl", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Other,
            format!("`systemctl {verb} {unit}` failed: {status}"),
        ))
    }
}

/// Whether `pid` still runs (a zombie has exited).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

pub async fn stop_process(pid: u32, wait: Duration) -> Result<()> {
    if !alive(pid) {
        return Ok(());
    }
    let signal = |sig: &'static str| async move {
        tokio::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .await
    };
    signal("-TERM")
        .await
        .map_err(|e| Error::io("running kill", e))?;
    let deadline = Instant::now() + wait;
    while alive(pid) {
        if Instant::now() >= deadline {
            let _ = signal("-KILL").await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if alive(pid) {
        return Err(Error::new(
            Kind::Other,
            format!("process {pid} does not stop"),
        ));
    }
    Ok(())
}

/// A live process running etcd with `--data-dir` equal to `data_dir` (its
/// real path, or the node path under --root).
pub fn etcd_on(data_dir: &Path, root: &Path) -> Option<u32> {
    let real = data_dir.display().to_string();
    let node = match data_dir.strip_prefix(root) {
        Ok(rel) if root != Path::new("/") => format!("/{}", rel.display()),
        _ => real.clone(),
    };
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // This process may name the data dir too (`recover --data-dir`).
        if pid == std::process::id() {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args = split_cmdline(&raw);
        if super::restore::data_dir_arg(&args).is_some_and(|d| d == real || d == node) && alive(pid)
        {
            return Some(pid);
        }
    }
    None
}
