//! What a node-local wizard (`restore --local`, `recover --local`) keeps
//! next to the data dir it works on: written before its first change and
//! read by a re-run, so the same command resumes where the node is, also
//! after the process it was pointed at with `--pid` has stopped (its pid
//! no longer shows its command line, which the wizard needs to start etcd
//! again).
//!
//! Plain JSON, written atomically. Never deleted: it is small, and a re-run
//! after the end needs it as much as one part-way.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ops::{Error, Result};

/// `<data dir><suffix>`, e.g. `/var/lib/etcd.recover.json`.
pub fn path(data_dir: &Path, suffix: &str) -> PathBuf {
    let mut s = data_dir.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The journal at `path`; `None` when there is none.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading `{}`", path.display()), e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::NotAJournal {
            path: path.to_path_buf(),
            source: e.into(),
        })
}

/// Write `value` to `path` atomically (`path.part`, then a rename).
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let part = crate::ops::snapshot_save::part_path(path);
    let text = serde_json::to_string_pretty(value).expect("a journal serializes");
    std::fs::write(&part, text)
        .and_then(|_| std::fs::rename(&part, path))
        .map_err(|e| Error::io(format!("writing `{}`", path.display()), e))
}

/// An etcd process a wizard was pointed at, as recorded before it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub argv: Vec<String>,
}

impl Process {
    /// Process `pid` with its command line: `running` (read from the node
    /// now), else what a previous run recorded for the same pid.
    pub fn find(pid: u32, running: Option<Vec<String>>, recorded: Option<Process>) -> Option<Self> {
        match running {
            Some(argv) => Some(Process { pid, argv }),
            None => recorded.filter(|r| r.pid == pid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_pid_is_found_in_the_record_of_that_pid_only() {
        let rec = |pid| Process {
            pid,
            argv: vec!["etcd".into(), "--data-dir=/d".into()],
        };
        let live = vec!["etcd".to_string()];
        assert_eq!(
            Process::find(7, Some(live.clone()), Some(rec(7))).map(|p| p.argv),
            Some(live)
        );
        assert_eq!(Process::find(7, None, Some(rec(7))), Some(rec(7)));
        assert_eq!(Process::find(7, None, Some(rec(8))), None);
        assert_eq!(Process::find(7, None, None), None);
    }

    #[test]
    fn a_saved_journal_loads_back_and_a_missing_one_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let p = path(&tmp.path().join("etcd"), ".restore-r9.json");
        assert_eq!(p, tmp.path().join("etcd.restore-r9.json"));
        assert_eq!(load::<Process>(&p).unwrap(), None);
        let rec = Process {
            pid: 3,
            argv: vec!["etcd".into()],
        };
        save(&p, &rec).unwrap();
        assert_eq!(load::<Process>(&p).unwrap(), Some(rec));
        std::fs::write(&p, "not json").unwrap();
        assert!(matches!(
            load::<Process>(&p),
            Err(Error::NotAJournal { .. })
        ));
    }
}
