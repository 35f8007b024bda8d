//! Bounded reads of the files and streams a user names: a value to decode,
//! a kubeconfig, certificates, an EncryptionConfiguration.
//!
//! `decode /dev/zero` or `--cacert /dev/zero` must not grow until memory
//! runs out: each input has a documented size limit (README, "Input
//! limits"), read with `Read::take(limit + 1)` so one byte past the limit
//! says so. Snapshots and databases are read by page elsewhere, never
//! whole.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{Error, Kind};
use crate::output::human_bytes;

/// A raw value for `decode` (a file or stdin) or a manifest for `put`: the
/// decoder's own limit, a few times etcd's default request limit (1.5 MiB).
pub const MAX_VALUE_BYTES: u64 = registry::value::MAX_VALUE_BYTES as u64;

/// A configuration file: `--kubeconfig` (and each `KUBECONFIG` file),
/// `--cacert`, `--cert`, `--key`, `--encryption-config`. Real ones are a
/// few KiB; a kubeconfig with many embedded certificates stays far below.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Why a bounded read failed.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The input has more than `limit` bytes.
    TooLarge {
        limit: u64,
    },
}

impl ReadError {
    /// The user-facing error for input `what` (e.g. "--cacert `ca.pem`"):
    /// an I/O failure is of kind `io_kind`; an input over its limit is of
    /// kind `too_large_kind` (usage for configuration files, data for
    /// values) and names the limit.
    pub fn into_error(self, what: &str, io_kind: Kind, too_large_kind: Kind) -> Error {
        self.to_error(what, io_kind, too_large_kind)
    }

    /// [`ReadError::into_error`] of an error kept by a lower layer.
    pub fn to_error(&self, what: &str, io_kind: Kind, too_large_kind: Kind) -> Error {
        match *self {
            ReadError::Io(ref e) => Error::new(io_kind, format!("cannot read {what}: {e}")),
            ReadError::TooLarge { limit } => Error::new(
                too_large_kind,
                format!(
                    "{what} is larger than {}, the limit for this input",
                    limit_label(limit)
                ),
            )
            .with_hint(
                "check that it names the right file (the limits are in README, \"Input limits\")",
            ),
        }
    }
}

/// `8 MiB` rather than `8.0 MiB` for the round limits.
fn limit_label(limit: u64) -> String {
    if limit % (1 << 20) == 0 {
        format!("{} MiB", limit >> 20)
    } else {
        human_bytes(limit)
    }
}

/// Everything `reader` yields, if at most `limit` bytes.
pub fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(buf)
}

/// The contents of `path`, if at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_limited(File::open(path).map_err(ReadError::Io)?, limit)
}

/// Like [`read_file`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_file(path, limit)?)
        .map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_says_when_past_it() {
        assert_eq!(read_limited(&b"abcd"[..], 4).unwrap(), b"abcd");
        assert!(matches!(
            read_limited(&b"abcde"[..], 4),
            Err(ReadError::TooLarge { limit: 4 })
        ));
        // An endless stream stops one byte past the limit.
        assert!(matches!(
            read_limited(io::repeat(0), 1 << 20),
            Err(ReadError::TooLarge { .. })
        ));
        let err = ReadError::TooLarge { limit: 4 << 20 }.into_error(
            "--cacert `/dev/zero`",
            Kind::Tls,
            Kind::Usage,
        );
        assert_eq!(err.kind, Kind::Usage);
        assert!(err.message.contains("4 MiB"), "{}", err.message);
    }
}
