//! What can be wrong with a database file read offline. Every variant keeps
//! its cause (the `io::ErrorKind`, the page id, the entry) so `error.rs` can
//! choose the exit code without reading a message.

use std::io;

/// A problem with the file as a whole, or with one page or entry of it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file cannot be opened (missing, no permission).
    #[error("cannot open: {io}")]
    Open { io: io::Error },
    /// The path names a directory or a device, not a file.
    #[error("not a regular file")]
    NotAFile,
    /// Reading failed part-way (a disk error, the file shrank).
    #[error("read failed at byte {offset}: {io}")]
    Read { offset: u64, io: io::Error },
    /// A temporary file for sorting a large keyspace could not be written.
    #[error("cannot write a temporary file to sort the keyspace: {io}")]
    Spill { io: io::Error },
    /// Neither whole pages nor whole pages plus a sha256 trailer.
    #[error(
        "{len} bytes is neither whole pages nor whole pages plus a sha256 trailer: \
         the file is truncated or not an etcd snapshot"
    )]
    Length { len: u64 },
    /// The sha256 trailer does not match the bytes before it.
    #[error("integrity check failed: sha256 of the {len} data bytes is {computed}, the trailer says {trailer}")]
    Checksum {
        len: u64,
        computed: String,
        trailer: String,
    },
    #[error("{len} bytes is too small for a bbolt database")]
    TooSmall { len: u64 },
    /// Neither meta page is valid.
    #[error("not a bbolt database: {problem}")]
    NoMeta { problem: MetaProblem },
    #[error("truncated: the database uses {need} bytes but the file has {have}")]
    Truncated { need: u64, have: u64 },
    /// A page of a b+tree cannot be right.
    #[error("page {page}: {problem}")]
    Page { page: u64, problem: PageProblem },
    /// One entry of bucket `key` cannot be right.
    #[error("page {page}, entry {index}: {problem}")]
    Entry {
        page: u64,
        index: usize,
        problem: EntryProblem,
    },
    #[error("no `key` bucket: this bbolt file is not an etcd database")]
    NoKeyBucket,
    #[error("revision {at} was compacted (the history starts at {compacted})")]
    Compacted { at: i64, compacted: i64 },
    #[error("revision {at} is newer than the newest in the file ({newest})")]
    FutureRevision { at: i64, newest: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetaProblem {
    #[error("not a meta page")]
    NotMeta,
    #[error("bad magic number")]
    Magic,
    #[error("unsupported bbolt version {0}")]
    Version(u32),
    #[error("meta checksum mismatch")]
    Checksum,
    #[error("page size {0} is not a power of two between 512 and 65536")]
    PageSize(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageProblem {
    #[error("out of range (the database has {high_water} pages)")]
    OutOfRange { high_water: u64 },
    #[error("its header says it is page {found}: pages were moved or overwritten")]
    IdMismatch { found: u64 },
    #[error("type {flags:#x} where a branch or leaf page belongs")]
    Type { flags: u16 },
    #[error("{overflow} overflow pages run past the end of the database")]
    Overflow { overflow: u32 },
    #[error("{count} elements do not fit in the page")]
    Elements { count: u16 },
    #[error("a branch page without children")]
    EmptyBranch,
    #[error("element {index} points outside the page")]
    Outside { index: usize },
    #[error("element {index} has unknown flags {flags:#x}")]
    Flags { index: usize, flags: u32 },
    #[error("element {index} is out of key order: pages were moved or overwritten")]
    Order { index: usize },
    #[error("element {index} is a bucket whose header is cut short")]
    BucketHeader { index: usize },
    #[error(
        "the b+tree is deeper than 64 levels or visits more pages than the file holds (a loop)"
    )]
    Loop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("the key is not a revision (8 bytes, `_`, 8 bytes, optional `t`)")]
    RevisionShape,
    #[error("revision {main}.{sub} is not positive")]
    RevisionRange { main: i64, sub: i64 },
    #[error("the value is not an mvccpb.KeyValue with a key")]
    KeyValue,
    #[error("the key says revision {key_rev} but its value says mod revision {value_rev}")]
    ModRevision { key_rev: i64, value_rev: i64 },
    #[error("create revision {create} is after mod revision {main}")]
    CreateRevision { create: i64, main: i64 },
    #[error("a nested bucket where a key-value belongs")]
    NestedBucket,
}

impl DbError {
    /// The file could not be read, as opposed to read and found wrong.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            DbError::Open { io } | DbError::Read { io, .. } | DbError::Spill { io } => {
                Some(io.kind())
            }
            _ => None,
        }
    }

    /// The page the problem was found on, when it is one page's.
    pub fn page(&self) -> Option<u64> {
        match self {
            DbError::Page { page, .. } | DbError::Entry { page, .. } => Some(*page),
            _ => None,
        }
    }

    /// Whether this is damage inside the b+tree (a page or an entry), which
    /// a lenient walk can skip and count, as opposed to a file that cannot
    /// be read at all.
    pub fn is_local_damage(&self) -> bool {
        matches!(self, DbError::Page { .. } | DbError::Entry { .. })
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;
