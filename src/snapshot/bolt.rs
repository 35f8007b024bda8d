//! A small read-only reader for bbolt database files, enough for etcd's
//! backend: meta pages, branch and leaf pages, nested and inline buckets.
//!
//! Everything is checked against the file length, so a truncated or foreign
//! file ends in a [`BoltError`], never a panic.

use std::fmt;

const MAGIC: u32 = 0xED0C_DAED;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const META: u16 = 0x04;
const BUCKET_FLAG: u32 = 0x01;
/// Nested bucket value: root page id and sequence.
const BUCKET_HEADER: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoltError(pub String);

impl fmt::Display for BoltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, BoltError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(BoltError(msg.into()))
}

/// The valid meta page with the highest transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: usize,
    pub root: u64,
    /// One past the highest page id in use.
    pub high_water: u64,
    pub txid: u64,
}

/// An opened database: the bytes and its current meta.
pub struct Db<'a> {
    data: &'a [u8],
    pub meta: Meta,
}

fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| BoltError(format!("read past the end at byte {off}")))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| BoltError(format!("read past the end at byte {off}")))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| BoltError(format!("read past the end at byte {off}")))
}

fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parse and check the meta stored at `off` (a page start).
fn meta_at(data: &[u8], off: usize) -> Result<Meta> {
    let m = off + PAGE_HEADER;
    if u16_at(data, off + 8)? & META == 0 {
        return err("not a meta page");
    }
    if u32_at(data, m)? != MAGIC {
        return err("bad magic");
    }
    let version = u32_at(data, m + 4)?;
    if version != 2 {
        return err(format!("unsupported bbolt version {version}"));
    }
    let checksum = u64_at(data, m + 56)?;
    let body = data
        .get(m..m + 56)
        .ok_or_else(|| BoltError("short meta".into()))?;
    if fnv64a(body) != checksum {
        return err("meta checksum mismatch");
    }
    Ok(Meta {
        page_size: u32_at(data, m + 8)? as usize,
        root: u64_at(data, m + 16)?,
        high_water: u64_at(data, m + 40)?,
        txid: u64_at(data, m + 48)?,
    })
}

impl<'a> Db<'a> {
    /// Open a bbolt file held in memory.
    pub fn open(data: &'a [u8]) -> Result<Db<'a>> {
        if data.len() < 2 * 1024 {
            return err(format!(
                "{} bytes is too small for a bbolt database",
                data.len()
            ));
        }
        let first = meta_at(data, 0);
        let page_size = match &first {
            Ok(m) => m.page_size,
            // The first meta may be torn; its page size field usually is not.
            Err(_) => u32_at(data, PAGE_HEADER + 8)? as usize,
        };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return err("not a bbolt database (no valid meta page)");
        }
        let second = meta_at(data, page_size);
        let meta = match (first, second) {
            (Ok(a), Ok(b)) => {
                if a.txid >= b.txid {
                    a
                } else {
                    b
                }
            }
            (Ok(a), Err(_)) | (Err(_), Ok(a)) => a,
            (Err(e), Err(_)) => return err(format!("not a bbolt database: {e}")),
        };
        let need = meta.high_water as usize * meta.page_size;
        if need > data.len() {
            return err(format!(
                "truncated: the database uses {need} bytes but the file has {}",
                data.len()
            ));
        }
        Ok(Db { data, meta })
    }

    fn page(&self, id: u64) -> Result<&'a [u8]> {
        if id < 2 || id >= self.meta.high_water {
            return err(format!("page {id} out of range"));
        }
        let start = id as usize * self.meta.page_size;
        let overflow = u32_at(self.data, start + 12)? as usize;
        let end = start + (overflow + 1) * self.meta.page_size;
        self.data
            .get(start..end)
            .ok_or_else(|| BoltError(format!("page {id} runs past the end of the file")))
    }

    /// The root bucket.
    pub fn root(&self) -> Bucket<'a> {
        Bucket::Paged(self.meta.root)
    }

    /// A top-level bucket by name.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'a>>> {
        self.sub_bucket(&self.root(), name)
    }

    /// A bucket nested directly in `parent`.
    pub fn sub_bucket(&self, parent: &Bucket<'a>, name: &[u8]) -> Result<Option<Bucket<'a>>> {
        let mut found = None;
        self.walk(parent, &mut |k, v, flags| {
            if flags & BUCKET_FLAG != 0 && k == name {
                found = Some(bucket_from_value(v)?);
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Every key/value (in key order) of `bucket`, with the leaf flags.
    pub fn walk(
        &self,
        bucket: &Bucket<'a>,
        f: &mut dyn FnMut(&'a [u8], &'a [u8], u32) -> Result<()>,
    ) -> Result<()> {
        match bucket {
            Bucket::Inline(page) => self.walk_page(page, 0, f),
            Bucket::Paged(id) => {
                let page = self.page(*id)?;
                self.walk_page(page, 0, f)
            }
        }
    }

    fn walk_page(
        &self,
        page: &'a [u8],
        depth: usize,
        f: &mut dyn FnMut(&'a [u8], &'a [u8], u32) -> Result<()>,
    ) -> Result<()> {
        if depth > 64 {
            return err("b+tree too deep (a page loop?)");
        }
        let flags = u16_at(page, 8)?;
        let count = u16_at(page, 10)? as usize;
        for i in 0..count {
            let e = PAGE_HEADER + i * ELEMENT;
            if flags & LEAF != 0 {
                let leaf_flags = u32_at(page, e)?;
                let pos = u32_at(page, e + 4)? as usize;
                let ksize = u32_at(page, e + 8)? as usize;
                let vsize = u32_at(page, e + 12)? as usize;
                let k = e + pos;
                let key = page
                    .get(k..k + ksize)
                    .ok_or_else(|| BoltError("leaf key past the page end".into()))?;
                let value = page
                    .get(k + ksize..k + ksize + vsize)
                    .ok_or_else(|| BoltError("leaf value past the page end".into()))?;
                f(key, value, leaf_flags)?;
            } else if flags & BRANCH != 0 {
                let child = u64_at(page, e + 8)?;
                let child = self.page(child)?;
                self.walk_page(child, depth + 1, f)?;
            } else {
                return err(format!("unexpected page type {flags:#x} in a b+tree"));
            }
        }
        Ok(())
    }
}

/// A bucket: its own pages, or a small one inlined in its parent's value.
#[derive(Debug, Clone, Copy)]
pub enum Bucket<'a> {
    Paged(u64),
    Inline(&'a [u8]),
}

fn bucket_from_value(v: &[u8]) -> Result<Bucket<'_>> {
    let root = u64_at(v, 0)?;
    if root == 0 {
        let page = v
            .get(BUCKET_HEADER..)
            .ok_or_else(|| BoltError("short inline bucket".into()))?;
        Ok(Bucket::Inline(page))
    } else {
        Ok(Bucket::Paged(root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_short_files_are_errors_not_panics() {
        assert!(Db::open(b"hello").is_err());
        assert!(Db::open(&vec![0u8; 8192]).is_err());
        assert!(Db::open(&vec![0xffu8; 8192]).is_err());
    }

    #[test]
    fn fnv_matches_the_reference() {
        assert_eq!(fnv64a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv64a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
