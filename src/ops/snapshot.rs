//! Saving a snapshot safely: stream into `FILE.part`, check the sha256
//! trailer etcd appends, fsync, and only then rename to `FILE`. A broken
//! stream or a bad hash leaves neither `FILE` nor `FILE.part` behind.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};

use super::Interrupt;
use crate::error::{Error, Kind, Result};
use crate::snapshot::{hex, HASH_LEN};

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
                return Err(Error::new(
                    Kind::Partial,
                    format!("interrupted (Ctrl-C) after {total} bytes; no file was written"),
                ));
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "the snapshot stream broke after {total} bytes: {}; no file was written",
                    e.message
                ),
            )
            .with_hint("retry, or pick another member with --member")
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
        return Err(Error::new(
            Kind::Data,
            format!("the snapshot stream ended after {total} bytes, before any data; no file was written"),
        ));
    }
    let sum = ctx.finish();
    if sum.as_ref() != tail.as_slice() {
        return Err(Error::new(
            Kind::Data,
            format!(
                "the snapshot failed its integrity check (sha256 {} but the trailer says {}); \
                 no file was written",
                hex(sum.as_ref()),
                hex(&tail)
            ),
        )
        .with_hint("the stream was damaged or cut: take the snapshot again"));
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
        v.extend(crate::snapshot::sha256(&v.clone()));
        v
    }

    fn chunks(data: &[u8], size: usize) -> Vec<Result<Vec<u8>>> {
        data.chunks(size).map(|c| Ok(c.to_vec())).collect()
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
        items.push(Err(Error::new(Kind::Unavailable, "connection reset")));
        let err = save(
            futures::stream::iter(items),
            &path,
            &Interrupt::never(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(
            err.message.contains("broke after 2000 bytes"),
            "{}",
            err.message
        );
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
        assert_eq!(err.kind, Kind::Data);
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
        assert!(err.message.contains("integrity"));
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
        assert!(err.message.contains("interrupted"), "{}", err.message);
        assert!(!path.exists() && !part_path(&path).exists());
    }
}
