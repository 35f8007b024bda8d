//! A small read-only reader for bbolt database files, enough for etcd's
//! backend: meta pages, branch and leaf pages, nested and inline buckets.
//!
//! Pages are read one at a time with positioned reads, so memory stays flat
//! however big the file is (a memory map would count every page touched in
//! the process's resident set). Nothing the file says is trusted: every page
//! id is checked against the database's size and against the id the page
//! records in its own header, every page type against where it sits in the
//! tree, every element against the page's bounds, and keys must ascend
//! through the whole walk. A file is never a panic, a loop or an allocation
//! beyond one page.

use std::fs::File;
use std::io;

use super::error::{DbError, MetaProblem, PageProblem, Result};

const MAGIC: u32 = 0xED0C_DAED;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const META: u16 = 0x04;
const BUCKET_FLAG: u32 = 0x01;
/// Nested bucket value: root page id and sequence.
const BUCKET_HEADER: usize = 16;
/// The meta struct after the page header: magic .. checksum.
const META_LEN: usize = 64;
/// The most one page (with its overflow) may take; etcd refuses requests
/// far smaller (1.5 MiB by default), so a bigger page is damage.
pub const MAX_PAGE_BYTES: u64 = 128 << 20;
/// Deepest b+tree walked; bbolt trees of billions of keys stay under 10.
const MAX_DEPTH: usize = 64;

/// Bytes read by position: a file, or a slice (tests, fuzzing).
pub trait Source {
    fn size(&self) -> u64;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl Source for File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..o.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The valid meta page with the highest transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u64,
    pub root: u64,
    /// One past the highest page id in use.
    pub high_water: u64,
    pub txid: u64,
}

/// Parse and check a meta page (header and meta struct).
fn parse_meta(b: &[u8]) -> std::result::Result<Meta, MetaProblem> {
    let m = PAGE_HEADER;
    let field = |o| u32_at(b, m + o).ok_or(MetaProblem::NotMeta);
    let field64 = |o| u64_at(b, m + o).ok_or(MetaProblem::NotMeta);
    if u16_at(b, 8).ok_or(MetaProblem::NotMeta)? & META == 0 {
        return Err(MetaProblem::NotMeta);
    }
    if field(0)? != MAGIC {
        return Err(MetaProblem::Magic);
    }
    let version = field(4)?;
    if version != 2 {
        return Err(MetaProblem::Version(version));
    }
    if fnv64a(&b[m..m + 56]) != field64(56)? {
        return Err(MetaProblem::Checksum);
    }
    let page_size = u64::from(field(8)?);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(MetaProblem::PageSize(page_size));
    }
    Ok(Meta {
        page_size,
        root: field64(16)?,
        high_water: field64(40)?,
        txid: field64(48)?,
    })
}

/// An opened database: where its bytes are and its current meta.
pub struct Db<'s> {
    src: &'s dyn Source,
    pub meta: Meta,
}

/// A bucket: its own pages, or a small one inlined in its parent's value
/// (named by the parent's page in errors).
#[derive(Debug, Clone)]
pub enum Bucket {
    Paged(u64),
    Inline { parent: u64, page: Vec<u8> },
}

/// One key/value of a leaf, with where it sits.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'p> {
    pub page: u64,
    pub index: usize,
    pub key: &'p [u8],
    pub value: &'p [u8],
    /// A nested bucket rather than a value.
    pub bucket: bool,
}

/// What a walk does with damage it finds in the tree: return it to stop
/// (strict), or record it and return `Ok` to skip that page or entry and
/// go on (lenient).
pub type OnDamage<'f> = &'f mut dyn FnMut(DbError) -> Result<()>;

struct Walk<'f, 'g> {
    on_damage: OnDamage<'f>,
    visit: &'g mut dyn FnMut(Entry<'_>) -> Result<bool>,
    last_key: Option<Vec<u8>>,
    pages: u64,
}

impl<'s> Db<'s> {
    /// Open the bbolt database in the first `len` bytes of `src` (the rest
    /// is a snapshot's trailer).
    pub fn open(src: &'s dyn Source, len: u64) -> Result<Db<'s>> {
        if len < 1024 {
            return Err(DbError::TooSmall { len });
        }
        let read_meta = |off: u64| -> std::result::Result<Meta, DbError> {
            let mut b = [0u8; PAGE_HEADER + META_LEN];
            src.read_exact_at(&mut b, off)
                .map_err(|io| DbError::Read { offset: off, io })?;
            parse_meta(&b).map_err(|problem| DbError::NoMeta { problem })
        };
        let first = read_meta(0);
        let page_size = match &first {
            Ok(m) => m.page_size,
            Err(DbError::Read { .. }) => return first.map(|_| unreachable!()),
            // The first meta may be torn; its page size field usually is not.
            Err(_) => {
                let mut b = [0u8; 4];
                src.read_exact_at(&mut b, PAGE_HEADER as u64 + 8)
                    .map_err(|io| DbError::Read { offset: 24, io })?;
                u64::from(u32::from_le_bytes(b))
            }
        };
        let second = if (512..=65536).contains(&page_size)
            && page_size.is_power_of_two()
            && 2 * page_size <= len
        {
            read_meta(page_size)
        } else {
            Err(DbError::NoMeta {
                problem: MetaProblem::PageSize(page_size),
            })
        };
        let meta = match (first, second) {
            (Ok(a), Ok(b)) => {
                if a.txid >= b.txid && a.page_size == b.page_size {
                    a
                } else {
                    b
                }
            }
            (Ok(a), Err(_)) | (Err(_), Ok(a)) => a,
            (Err(e), Err(_)) => return Err(e),
        };
        let need = meta.high_water.saturating_mul(meta.page_size);
        if need > len {
            return Err(DbError::Truncated { need, have: len });
        }
        Ok(Db { src, meta })
    }

    fn damage(page: u64, problem: PageProblem) -> DbError {
        DbError::Page { page, problem }
    }

    /// Read page `id` with its overflow pages, checked for being a tree
    /// page that is where it says it is.
    fn page(&self, id: u64) -> Result<Vec<u8>> {
        let high_water = self.meta.high_water;
        if id < 2 || id >= high_water {
            return Err(Self::damage(id, PageProblem::OutOfRange { high_water }));
        }
        let off = id * self.meta.page_size;
        let mut head = [0u8; PAGE_HEADER];
        self.src
            .read_exact_at(&mut head, off)
            .map_err(|io| DbError::Read { offset: off, io })?;
        let found = u64_at(&head, 0).unwrap_or_default();
        if found != id {
            return Err(Self::damage(id, PageProblem::IdMismatch { found }));
        }
        let flags = u16_at(&head, 8).unwrap_or_default();
        if flags != BRANCH && flags != LEAF {
            return Err(Self::damage(id, PageProblem::Type { flags }));
        }
        let overflow = u32_at(&head, 12).unwrap_or_default();
        let pages = u64::from(overflow) + 1;
        let bytes = pages * self.meta.page_size;
        if id + pages > high_water || bytes > MAX_PAGE_BYTES {
            return Err(Self::damage(id, PageProblem::Overflow { overflow }));
        }
        let mut buf = vec![0u8; bytes as usize];
        self.src
            .read_exact_at(&mut buf, off)
            .map_err(|io| DbError::Read { offset: off, io })?;
        Ok(buf)
    }

    /// The root bucket.
    pub fn root(&self) -> Bucket {
        Bucket::Paged(self.meta.root)
    }

    /// A bucket nested directly in `parent`, read strictly.
    pub fn sub_bucket(&self, parent: &Bucket, name: &[u8]) -> Result<Option<Bucket>> {
        let mut found = None;
        self.walk(parent, &mut Err, &mut |e| {
            if e.bucket && e.key == name {
                found = Some(bucket_from_value(e.page, e.index, e.value)?);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// A top-level bucket by name.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket>> {
        self.sub_bucket(&self.root(), name)
    }

    /// Every key/value of `bucket` in key order. Damage in the tree goes to
    /// `on_damage`; an error from it or from `visit` ends the walk. `visit`
    /// returns whether it accepted the entry: the key order is checked
    /// against the last accepted key, so one corrupted key that sorts too
    /// high does not make every key after it look out of order.
    pub fn walk(
        &self,
        bucket: &Bucket,
        on_damage: OnDamage<'_>,
        visit: &mut dyn FnMut(Entry<'_>) -> Result<bool>,
    ) -> Result<()> {
        let mut w = Walk {
            on_damage,
            visit,
            last_key: None,
            pages: 0,
        };
        match bucket {
            Bucket::Inline { parent, page } => self.walk_elements(*parent, page, 0, &mut w),
            Bucket::Paged(id) => self.walk_page(*id, 0, &mut w),
        }
    }

    fn walk_page(&self, id: u64, depth: usize, w: &mut Walk<'_, '_>) -> Result<()> {
        w.pages += 1;
        if depth > MAX_DEPTH || w.pages > self.meta.high_water {
            // A loop does not end by skipping one page: stop here.
            return Err(Self::damage(id, PageProblem::Loop));
        }
        match self.page(id) {
            Ok(page) => self.walk_elements(id, &page, depth, w),
            Err(e) if e.is_local_damage() => (w.on_damage)(e),
            Err(e) => Err(e),
        }
    }

    /// The elements of a page (or an inline bucket's page, which has no id
    /// of its own: `id` is then its parent's).
    fn walk_elements(
        &self,
        id: u64,
        page: &[u8],
        depth: usize,
        w: &mut Walk<'_, '_>,
    ) -> Result<()> {
        let flags = u16_at(page, 8).unwrap_or_default();
        let count = u16_at(page, 10).unwrap_or_default();
        if flags != BRANCH && flags != LEAF {
            return (w.on_damage)(Self::damage(id, PageProblem::Type { flags }));
        }
        if PAGE_HEADER + usize::from(count) * ELEMENT > page.len() {
            return (w.on_damage)(Self::damage(id, PageProblem::Elements { count }));
        }
        if flags == BRANCH && count == 0 {
            return (w.on_damage)(Self::damage(id, PageProblem::EmptyBranch));
        }
        for index in 0..usize::from(count) {
            let e = PAGE_HEADER + index * ELEMENT;
            if flags == BRANCH {
                let child = u64_at(page, e + 8).unwrap_or_default();
                self.walk_page(child, depth + 1, w)?;
                continue;
            }
            let leaf_flags = u32_at(page, e).unwrap_or_default();
            if leaf_flags & !BUCKET_FLAG != 0 {
                (w.on_damage)(Self::damage(
                    id,
                    PageProblem::Flags {
                        index,
                        flags: leaf_flags,
                    },
                ))?;
                continue;
            }
            let field = |o| u32_at(page, e + o).unwrap_or_default() as usize;
            let (pos, ksize, vsize) = (field(4), field(8), field(12));
            let k = e.checked_add(pos);
            let kv = k.and_then(|k| {
                let v = k.checked_add(ksize)?;
                Some((page.get(k..v)?, page.get(v..v.checked_add(vsize)?)?))
            });
            let Some((key, value)) = kv else {
                (w.on_damage)(Self::damage(id, PageProblem::Outside { index }))?;
                continue;
            };
            if w.last_key.as_deref().is_some_and(|last| key <= last) {
                (w.on_damage)(Self::damage(id, PageProblem::Order { index }))?;
                continue;
            }
            let accepted = (w.visit)(Entry {
                page: id,
                index,
                key,
                value,
                bucket: leaf_flags & BUCKET_FLAG != 0,
            })?;
            if accepted {
                match &mut w.last_key {
                    Some(last) => {
                        last.clear();
                        last.extend_from_slice(key);
                    }
                    None => w.last_key = Some(key.to_vec()),
                }
            }
        }
        Ok(())
    }
}

/// The bucket a nested-bucket value describes.
pub fn bucket_from_value(page: u64, index: usize, v: &[u8]) -> Result<Bucket> {
    let bad = || DbError::Page {
        page,
        problem: PageProblem::BucketHeader { index },
    };
    let root = u64_at(v, 0).ok_or_else(bad)?;
    if root != 0 {
        return Ok(Bucket::Paged(root));
    }
    let inline = v.get(BUCKET_HEADER..).ok_or_else(bad)?;
    if inline.len() < PAGE_HEADER {
        return Err(bad());
    }
    Ok(Bucket::Inline {
        parent: page,
        page: inline.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(b: &[u8]) -> Result<Meta> {
        let v = b.to_vec();
        Db::open(&v, b.len() as u64).map(|d| d.meta)
    }

    #[test]
    fn garbage_and_short_files_are_errors_not_panics() {
        assert!(matches!(open(b"hello"), Err(DbError::TooSmall { .. })));
        assert!(matches!(open(&[0u8; 8192]), Err(DbError::NoMeta { .. })));
        assert!(matches!(open(&[0xffu8; 8192]), Err(DbError::NoMeta { .. })));
    }

    #[test]
    fn fnv_matches_the_reference() {
        assert_eq!(fnv64a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv64a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
