//! `snapshot save` as an operation: pick the member, stream its snapshot
//! into `FILE.part` computing the sha256 as it is written, check it against
//! the trailer etcd appends, fsync, and only then rename to `FILE`. A broken
//! stream or a bad hash leaves neither `FILE` nor `FILE.part` behind. Memory
//! holds one chunk of the stream at a time; what the result reports
//! (revision, key count) is read back from the file page by page.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};

use super::cluster_state::{ClusterState, MemberState};
use super::error::{Error, Result};
use super::Interrupt;
use crate::connect::Target;
use crate::dbfile::{self, hex, SnapshotInfo, HASH_LEN};
use crate::etcd::{format_id, maintenance, ConnectSettings, Survey};

/// How long the snapshot stream may stay silent before it counts as broken.
const STREAM_IDLE: Duration = Duration::from_secs(60);

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub file: PathBuf,
    /// Name or 16-hex id; `None`: the most up to date healthy member.
    pub member: Option<String>,
    pub overwrite: bool,
}

/// What the save reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Streaming starts from this member, whose db file is this big.
    From { member: &'a str, db_size: u64 },
    /// The stream's size, when the member said.
    Started { total: Option<u64> },
    /// Bytes received so far.
    Received(u64),
    /// The stream ended (well or not).
    Ended,
}

/// The member to stream from: the one asked for, else the healthy voter
/// with the highest applied index (etcd before 3.5 refuses snapshots from
/// learners).
pub fn pick_member<'a>(state: &'a ClusterState, asked: Option<&str>) -> Result<&'a MemberState> {
    let member = match asked {
        Some(w) => state.find(w).ok_or_else(|| Error::NoSuchMember {
            name: w.to_string(),
            members: Vec::new(),
        })?,
        None => state
            .members
            .iter()
            .filter(|m| m.reachable() && !m.lagging)
            .max_by(|a, b| {
                b.is_learner
                    .cmp(&a.is_learner)
                    .then_with(|| a.raft_applied_index.cmp(&b.raft_applied_index))
                    .then_with(|| b.name.cmp(&a.name))
            })
            .ok_or(Error::NoMemberToSnapshot)?,
    };
    if let Some(e) = &member.error {
        return Err(Error::MemberUnreachable {
            member: member.label(),
            why: e.clone(),
        });
    }
    Ok(member)
}

/// Take a snapshot from the cluster into `req.file`, verified, and report
/// what it holds.
pub async fn save_from_cluster(
    targets: &[Target],
    settings: &ConnectSettings,
    req: &Request,
    interrupt: &Interrupt,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<SnapshotInfo> {
    if req.file.exists() && !req.overwrite {
        return Err(Error::FileExists {
            path: req.file.clone(),
        });
    }
    // Before asking any member: a typo in the path is no stream cut short.
    let dir = match req.file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::NoSuchDir {
            path: req.file.clone(),
            dir: dir.to_path_buf(),
        });
    }
    let survey = Survey::take(targets, settings).await;
    // Not one member answered: say why (refused, TLS, authentication).
    survey.reached()?;
    let state = ClusterState::from_survey(&survey);
    let member = pick_member(&state, req.member.as_deref())?;
    let view = member.target.and_then(|i| survey.views.get(i));
    let client = view
        .and_then(|v| v.client.clone())
        .ok_or(Error::NoConnection)?;
    let etcd_version = view
        .and_then(|v| v.status.as_ref())
        .map(|s| s.version.clone());
    let name = member.label();
    on(Event::From {
        member: &name,
        db_size: member.db_size,
    });
    let start = Instant::now();
    let mut stream = maintenance::snapshot(&client).await?;
    let first = next_chunk(&mut stream).await;
    let total = match &first {
        Ok(Some((blob, remaining))) => Some(blob.len() as u64 + remaining),
        _ => None,
    };
    on(Event::Started { total });
    let first = futures::stream::iter(match first {
        Ok(Some((blob, _))) => vec![Ok(blob)],
        Ok(None) => vec![],
        Err(e) => vec![Err(e)],
    });
    let rest = futures::stream::unfold((stream, false), |(mut s, done)| async move {
        if done {
            return None;
        }
        match next_chunk(&mut s).await {
            Ok(Some((blob, _))) => Some((Ok(blob), (s, false))),
            Ok(None) => None,
            Err(e) => Some((Err(e), (s, true))),
        }
    });
    let chunks = Box::pin(first.chain(rest));
    // The keyspace is walked while the stream is written: its pages are read
    // back from `FILE.part` as they land. What it finds counts only once
    // the sha256 of the same bytes has been checked.
    // etcd announces the database's size; the sha256 follows it.
    let growing = total.filter(|t| *t > 0).map(|t| Growing::new(&req.file, t));
    let walker = growing
        .clone()
        .map(|g| tokio::task::spawn_blocking(move || dbfile::report::count_keys(&*g, g.total)));
    let result = {
        let _close = growing.as_ref().map(|g| g.closer());
        save(chunks, &req.file, interrupt, &mut |n| {
            if let Some(g) = &growing {
                g.advance(n.saturating_sub(HASH_LEN as u64));
            }
            on(Event::Received(n))
        })
        .await
    };
    on(Event::Ended);
    let saved = result.map_err(|e| e.context(format!("snapshot from `{name}`")))?;
    let in_file = |e| Error::from(e).context(format!("`{}`", saved.path.display()));
    let walked = match walker {
        Some(w) => w.await.ok(),
        None => None,
    };
    let mut info = match walked {
        Some(counted) => {
            let (header, keys) = counted.map_err(in_file)?;
            dbfile::report::saved_info(&saved.path, saved.size, &saved.sha256, &header, keys)
        }
        // The size was not announced: read the keyspace back now.
        None => dbfile::report::status_of_verified(&saved.path).map_err(in_file)?,
    };
    info.member = Some(name);
    info.member_id = Some(format_id(member.id));
    info.etcd_version = etcd_version;
    info.took_ms = Some(start.elapsed().as_millis() as u64);
    Ok(info)
}

/// `FILE.part` as the stream writes it, read by position: a read waits
/// until the bytes it asks for are written, and fails once the stream has
/// ended without them.
struct Growing {
    paths: [PathBuf; 2],
    total: u64,
    state: Mutex<(u64, bool)>,
    cond: Condvar,
    file: OnceLock<File>,
}

impl Growing {
    fn new(path: &Path, total: u64) -> Arc<Growing> {
        Arc::new(Growing {
            paths: [part_path(path), path.to_path_buf()],
            total,
            state: Mutex::new((0, false)),
            cond: Condvar::new(),
            file: OnceLock::new(),
        })
    }

    /// `n` bytes are written.
    fn advance(&self, n: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = s.0.max(n);
        self.cond.notify_all();
    }

    /// Ends every wait when dropped: the stream is over, one way or another.
    fn closer(self: &Arc<Self>) -> impl Drop {
        struct Close(Arc<Growing>);
        impl Drop for Close {
            fn drop(&mut self) {
                let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                s.1 = true;
                self.0.cond.notify_all();
            }
        }
        Close(self.clone())
    }

    /// The file, opened on first use: `FILE.part`, or `FILE` once renamed.
    fn file(&self) -> std::io::Result<&File> {
        if let Some(f) = self.file.get() {
            return Ok(f);
        }
        let f = File::open(&self.paths[0]).or_else(|_| File::open(&self.paths[1]))?;
        Ok(self.file.get_or_init(|| f))
    }
}

impl dbfile::Source for Growing {
    fn size(&self) -> u64 {
        self.total
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let end = offset.saturating_add(buf.len() as u64);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.0 < end && !s.1 {
            s = self.cond.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.0 < end {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        drop(s);
        std::os::unix::fs::FileExt::read_exact_at(self.file()?, buf, offset)
    }
}

/// The next blob and the bytes still to come, with an idle timeout.
async fn next_chunk(s: &mut etcd_client::SnapshotStreaming) -> Result<Option<(Vec<u8>, u64)>> {
    match tokio::time::timeout(STREAM_IDLE, s.message()).await {
        Err(_) => Err(Error::StreamIdle { idle: STREAM_IDLE }),
        // A connection cut mid-body is etcd::Error::ConnectionDropped.
        Ok(Err(e)) => Err(crate::etcd::classify_stream(&e).into()),
        Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some(r))) => Ok(Some((r.blob().to_vec(), r.remaining_bytes()))),
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    /// File size, trailer included.
    pub size: u64,
    /// sha256 of the database bytes (the trailer's value).
    pub sha256: String,
}

/// `FILE.part` next to `FILE`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Removes the `.part` file unless the save went through.
struct PartGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Write the chunks of `stream` to `path` atomically, verifying the trailer.
/// `progress` gets the byte count after every chunk; an interrupt stops the
/// transfer and removes the `.part` file.
pub async fn save<S>(
    mut stream: S,
    path: &Path,
    interrupt: &Interrupt,
    progress: &mut dyn FnMut(u64),
) -> Result<Saved>
where
    S: Stream<Item = Result<Vec<u8>>> + Unpin,
{
    let part = part_path(path);
    let mut file = File::create(&part)
        .map_err(|e| Error::io(format!("cannot create `{}`", part.display()), e))?;
    let mut guard = PartGuard {
        path: part.clone(),
        armed: true,
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    // The last 32 bytes seen so far: the trailer if the stream ends here.
    let mut tail: Vec<u8> = Vec::with_capacity(2 * HASH_LEN);
    let mut total: u64 = 0;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = interrupt.wait_for(1) => {
                return Err(Error::interrupted(format!(
                    "interrupted (Ctrl-C) after {total} bytes; no file was written"
                )));
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| Error::StreamBroke {
            after: total,
            source: Box::new(e),
        })?;
        total += chunk.len() as u64;
        tail.extend_from_slice(&chunk);
        if tail.len() > HASH_LEN {
            let keep = tail.split_off(tail.len() - HASH_LEN);
            ctx.update(&tail);
            file.write_all(&tail)
                .map_err(|e| Error::io(format!("writing `{}`", part.display()), e))?;
            tail = keep;
        }
        progress(total);
    }
    if tail.len() < HASH_LEN {
        return Err(Error::StreamEmpty { after: total });
    }
    let sum = ctx.finish();
    if sum.as_ref() != tail.as_slice() {
        return Err(Error::Integrity {
            sha256: hex(sum.as_ref()),
            trailer: hex(&tail),
        });
    }
    // Keep the trailer: `etcdctl snapshot restore` checks it too.
    file.write_all(&tail)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(format!("writing `{}`", part.display()), e))?;
    drop(file);
    fs::rename(&part, path).map_err(|e| {
        Error::io(
            format!("renaming `{}` to `{}`", part.display(), path.display()),
            e,
        )
    })?;
    guard.armed = false;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(Saved {
        path: path.to_path_buf(),
        size: total,
        sha256: hex(sum.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_bytes() -> Vec<u8> {
        let mut v = vec![3u8; 4096];
        v.extend(crate::dbfile::sha256(&v.clone()));
        v
    }

    fn chunks(data: &[u8], size: usize) -> Vec<Result<Vec<u8>>> {
        data.chunks(size).map(|c| Ok(c.to_vec())).collect()
    }

    #[test]
    fn reads_of_the_growing_part_wait_for_their_bytes_and_end_with_the_stream() {
        use crate::dbfile::Source;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let g = Growing::new(&path, 8192);
        fs::write(part_path(&path), vec![1u8; 4096]).unwrap();
        let reader = g.clone();
        let first = std::thread::spawn(move || {
            let mut b = [0u8; 16];
            reader.read_exact_at(&mut b, 4000).map(|_| b[0])
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!first.is_finished(), "read before the bytes were written");
        g.advance(4096);
        assert_eq!(first.join().unwrap().unwrap(), 1);
        let reader = g.clone();
        let past = std::thread::spawn(move || reader.read_exact_at(&mut [0u8; 16], 8000));
        drop(g.closer());
        assert!(past.join().unwrap().is_err());
    }

    #[tokio::test]
    async fn a_good_stream_is_verified_and_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let data = snapshot_bytes();
        let mut seen = 0;
        let saved = save(
            futures::stream::iter(chunks(&data, 1000)),
            &path,
            &Interrupt::never(),
            &mut |n| seen = n,
        )
        .await
        .unwrap();
        assert_eq!(seen, data.len() as u64);
        assert_eq!(fs::read(&path).unwrap(), data);
        assert_eq!(saved.size, data.len() as u64);
        assert!(!part_path(&path).exists());
    }

    #[tokio::test]
    async fn a_stream_that_breaks_mid_way_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let data = snapshot_bytes();
        let mut items = chunks(&data[..2000], 500);
        items.push(Err(Error::NoConnection));
        let err = save(
            futures::stream::iter(items),
            &path,
            &Interrupt::never(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::StreamBroke { after: 2000, .. }),
            "{err}"
        );
        let err = crate::error::Error::from(err);
        assert_eq!(err.kind, crate::error::Kind::Unavailable, "{}", err.message);
        assert!(!path.exists());
        assert!(!part_path(&path).exists());
    }

    #[tokio::test]
    async fn a_bad_hash_or_a_short_stream_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut data = snapshot_bytes();
        data[5] ^= 0xff;
        let err = save(
            futures::stream::iter(chunks(&data, 700)),
            &path,
            &Interrupt::never(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "{err}");
        assert!(!path.exists() && !part_path(&path).exists());
        // Cut before the end: the last 32 bytes are not the hash.
        let data = snapshot_bytes();
        let err = save(
            futures::stream::iter(chunks(&data[..3000], 700)),
            &path,
            &Interrupt::never(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "{err}");
        assert!(!path.exists() && !part_path(&path).exists());
    }

    #[tokio::test]
    async fn an_interrupt_mid_stream_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let data = snapshot_bytes();
        let interrupt = Interrupt::never();
        let first = futures::stream::iter(chunks(&data[..1000], 500));
        // The stream then stalls, as a slow member would.
        let stalled = first.chain(futures::stream::pending());
        let fire = interrupt.clone();
        let mut seen = 0;
        let err = save(Box::pin(stalled), &path, &interrupt, &mut |n| {
            seen = n;
            if n >= 1000 {
                fire.fire();
            }
        })
        .await
        .unwrap_err();
        assert_eq!(seen, 1000);
        assert!(err.is_interrupted(), "{err}");
        assert!(!path.exists() && !part_path(&path).exists());
    }
}
