//! CBOR → JSON for custom resources stored as CBOR by newer apiservers.
//!
//! Kubernetes writes a small, JSON-compatible subset of CBOR (RFC 8949):
//! maps with text keys, arrays, text, integers, floats, bools and null,
//! behind the self-describe tag 55799. That subset is short enough to read
//! here directly, so no dependency is needed for it. The top-level item is
//! a map and map keys are text, as for JSON; anything else is invalid.

use super::format::write_str;
use super::DecodeError;
use base64::Engine as _;

use super::MAX_DEPTH;

pub(crate) fn to_json(value: &[u8]) -> Result<String, DecodeError> {
    let mut r = Reader { buf: value, pos: 0 };
    let mut out = Vec::with_capacity(value.len() * 2);
    r.item(&mut out, 0)?;
    if r.pos != value.len() {
        return Err(err("trailing bytes after the top-level item"));
    }
    // A stored object is a map (after its tags); `null` or a bare number
    // would decode to something no object is.
    if out.first() != Some(&b'{') {
        return Err(err("the top-level item is not a map (an object)"));
    }
    String::from_utf8(out).map_err(|_| err("text is not utf-8"))
}

fn err(m: &str) -> DecodeError {
    DecodeError::InvalidCbor(m.to_string())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| err("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], DecodeError> {
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(err("truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// The argument of a head byte; `None` for indefinite length.
    fn arg(&mut self, info: u8) -> Result<Option<u64>, DecodeError> {
        Ok(Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().unwrap())),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().unwrap())),
            27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap()),
            31 => return Ok(None),
            _ => return Err(err("reserved additional information")),
        }))
    }

    fn string_bytes(&mut self, major: u8, info: u8) -> Result<Vec<u8>, DecodeError> {
        match self.arg(info)? {
            Some(n) => Ok(self.take(n)?.to_vec()),
            None => {
                let mut v = Vec::new();
                loop {
                    let h = self.byte()?;
                    if h == 0xff {
                        return Ok(v);
                    }
                    if h >> 5 != major {
                        return Err(err("bad indefinite-length string chunk"));
                    }
                    let n = self
                        .arg(h & 31)?
                        .ok_or_else(|| err("nested indefinite string"))?;
                    v.extend_from_slice(self.take(n)?);
                }
            }
        }
    }

    fn item(&mut self, out: &mut Vec<u8>, depth: u32) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
        }
        let h = self.byte()?;
        let (major, info) = (h >> 5, h & 31);
        match major {
            0 => {
                let n = self.arg(info)?.ok_or_else(|| err("indefinite integer"))?;
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            }
            1 => {
                let n = self.arg(info)?.ok_or_else(|| err("indefinite integer"))?;
                out.extend_from_slice(itoa::Buffer::new().format(-1 - i128::from(n)).as_bytes());
            }
            2 => {
                let b = self.string_bytes(2, info)?;
                write_str(out, &base64::engine::general_purpose::STANDARD.encode(b));
            }
            3 => {
                let b = self.string_bytes(3, info)?;
                write_str(
                    out,
                    std::str::from_utf8(&b).map_err(|_| err("text is not utf-8"))?,
                );
            }
            4 | 5 => {
                let n = self.arg(info)?;
                out.push(if major == 4 { b'[' } else { b'{' });
                let mut i = 0u64;
                loop {
                    match n {
                        Some(n) if i >= n => break,
                        None if self.buf.get(self.pos) == Some(&0xff) => {
                            self.pos += 1;
                            break;
                        }
                        _ => {}
                    }
                    if i > 0 {
                        out.push(b',');
                    }
                    if major == 5 {
                        // JSON keys are strings, and so are Kubernetes'
                        // CBOR keys. (Writing other keys as escaped JSON
                        // text doubled the escaping at each nested key.)
                        let h = self.byte()?;
                        if h >> 5 != 3 {
                            return Err(err("map key is not a text string"));
                        }
                        let b = self.string_bytes(3, h & 31)?;
                        write_str(
                            out,
                            std::str::from_utf8(&b).map_err(|_| err("text is not utf-8"))?,
                        );
                        out.push(b':');
                    }
                    self.item(out, depth + 1)?;
                    i += 1;
                }
                out.push(if major == 4 { b']' } else { b'}' });
            }
            // Tags (self-describe 55799, times, bignums…): the content is
            // what JSON can show.
            6 => {
                self.arg(info)?;
                self.item(out, depth + 1)?;
            }
            _ => match info {
                20 => out.extend_from_slice(b"false"),
                21 => out.extend_from_slice(b"true"),
                22 | 23 => out.extend_from_slice(b"null"),
                25 => {
                    let h = u16::from_be_bytes(self.take(2)?.try_into().unwrap());
                    float(out, half(h));
                }
                26 => {
                    let f = f32::from_be_bytes(self.take(4)?.try_into().unwrap());
                    float(out, f64::from(f));
                }
                27 => {
                    let f = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    float(out, f);
                }
                _ => return Err(err("unsupported simple value")),
            },
        }
        Ok(())
    }
}

fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &f);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn half(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x3ff);
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 => {
            if mant == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        _ => (mant + 1024.0) * 2f64.powi(i32::from(exp) - 25),
    };
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_described_map() {
        // 55799({"apiVersion": "v1", "n": -2, "ok": true, "l": [1.5]})
        let mut v = vec![0xd9, 0xd9, 0xf7, 0xa4];
        v.extend_from_slice(&[0x6a]);
        v.extend_from_slice(b"apiVersion");
        v.extend_from_slice(&[
            0x62, b'v', b'1', 0x61, b'n', 0x21, 0x62, b'o', b'k', 0xf5, 0x61, b'l', 0x81, 0xf9,
            0x3e, 0x00,
        ]);
        assert_eq!(
            to_json(&v).unwrap(),
            r#"{"apiVersion":"v1","n":-2,"ok":true,"l":[1.5]}"#
        );
        assert!(to_json(&v[..v.len() - 1]).is_err());
    }
}
