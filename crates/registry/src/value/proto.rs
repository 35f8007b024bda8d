//! The table-driven protobuf → JSON transcoder: reads wire bytes and
//! writes JSON text straight into a buffer, in schema declaration order,
//! with no intermediate value tree.

use super::format::{go_duration, write_minified, write_str, write_str_bytes, write_time};
use super::schema::{Kind, MapValue, MessageDef, Special, MESSAGES};
use super::DecodeError;
use base64::Engine as _;

use super::MAX_DEPTH;

const UNKNOWN: u16 = u16::MAX;

fn too_deep() -> DecodeError {
    DecodeError::TooDeep { limit: MAX_DEPTH }
}

/// Text as Kubernetes writes it: UTF-8 without control characters other
/// than tab, newline and carriage return. Bytes of a nested message almost
/// never are (lengths and tags are small numbers).
fn is_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| {
        !s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    })
}

/// One field occurrence on the wire.
#[derive(Clone, Copy)]
struct Entry {
    /// Index into the message's fields, or [`UNKNOWN`].
    field: u16,
    wire: u8,
    tag: u32,
    /// Varint / fixed value, or start offset of a length-delimited value.
    val: u64,
    end: u32,
}

#[inline]
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(DecodeError::Malformed("truncated varint".into()));
        };
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(DecodeError::Malformed("varint overflow".into()));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
        if shift > 63 {
            return Err(DecodeError::Malformed("varint overflow".into()));
        }
    }
}

/// One raw wire field: (tag, wire type, varint/fixed value or start, end).
#[inline]
pub(crate) fn read_field(
    buf: &[u8],
    pos: &mut usize,
) -> Result<(u64, u8, u64, usize), DecodeError> {
    let key = read_varint(buf, pos)?;
    let tag = key >> 3;
    let wire = (key & 7) as u8;
    if tag == 0 || tag > u32::MAX as u64 >> 3 {
        return Err(DecodeError::Malformed(format!(
            "invalid field number {tag}"
        )));
    }
    match wire {
        0 => {
            let v = read_varint(buf, pos)?;
            Ok((tag, wire, v, *pos))
        }
        1 => {
            let b = buf
                .get(*pos..*pos + 8)
                .ok_or_else(|| DecodeError::Malformed("truncated fixed64".into()))?;
            *pos += 8;
            Ok((tag, wire, u64::from_le_bytes(b.try_into().unwrap()), *pos))
        }
        2 => {
            let len = read_varint(buf, pos)?;
            let start = *pos;
            if len > (buf.len() - start) as u64 {
                return Err(DecodeError::Malformed(format!(
                    "field {tag}: length {len} past end of message"
                )));
            }
            *pos = start + len as usize;
            Ok((tag, wire, start as u64, *pos))
        }
        5 => {
            let b = buf
                .get(*pos..*pos + 4)
                .ok_or_else(|| DecodeError::Malformed("truncated fixed32".into()))?;
            *pos += 4;
            Ok((
                tag,
                wire,
                u64::from(u32::from_le_bytes(b.try_into().unwrap())),
                *pos,
            ))
        }
        w => Err(DecodeError::Malformed(format!(
            "field {tag}: unsupported wire type {w}"
        ))),
    }
}

/// A length-delimited value of length zero.
#[inline]
fn is_empty_len(e: Entry) -> bool {
    e.wire == 2 && e.val == u64::from(e.end)
}

pub(crate) struct Transcoder {
    pub out: Vec<u8>,
    pub warnings: Vec<String>,
    pub strict: bool,
    scratch: Vec<Entry>,
    /// Messages entered, across nested `k8s\0` objects too.
    pub depth: u32,
    /// Trying whether the bytes fit a schema (another version of a kind):
    /// objects nested in RawExtensions are not decoded (each is tried on
    /// its own when the chosen schema is run), and string fields holding
    /// something other than text count as a misfit (a warning).
    pub trial: bool,
}

impl Transcoder {
    pub(crate) fn new(strict: bool, capacity: usize) -> Self {
        Transcoder {
            out: Vec::with_capacity(capacity),
            warnings: Vec::new(),
            strict,
            scratch: Vec::with_capacity(256),
            depth: 0,
            trial: false,
        }
    }

    /// Writes message `msg` (an index into MESSAGES) encoded in `buf`.
    pub(crate) fn message(&mut self, buf: &[u8], msg: u16) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let def = &MESSAGES[msg as usize];
        let r = match def.special {
            Special::None => self.plain(buf, def, true, false).map(|_| ()),
            Special::SliceAlias => self.slice_alias(buf, def),
            _ => self.special(buf, def),
        };
        self.depth -= 1;
        r
    }

    /// Writes the message as an object. With `open == false` only the
    /// members are written, without braces (for inlined structs and after
    /// the envelope's apiVersion and kind), a comma first if `need_comma`.
    /// Returns whether a member was written.
    pub(crate) fn plain(
        &mut self,
        buf: &[u8],
        def: &'static MessageDef,
        open: bool,
        need_comma: bool,
    ) -> Result<bool, DecodeError> {
        let base = self.scratch.len();
        let r = self.plain_inner(buf, def, open, need_comma, base);
        self.scratch.truncate(base);
        r
    }

    fn collect(&mut self, buf: &[u8], def: &MessageDef) -> Result<bool, DecodeError> {
        let mut pos = 0;
        let mut sorted = true;
        let mut last = 0u16;
        while pos < buf.len() {
            let (tag, wire, val, end) = read_field(buf, &mut pos)?;
            let field = def.field_index(tag).unwrap_or(UNKNOWN);
            if field < last {
                sorted = false;
            }
            last = field;
            self.scratch.push(Entry {
                field,
                wire,
                tag: tag as u32,
                val,
                end: end as u32,
            });
        }
        Ok(sorted)
    }

    fn plain_inner(
        &mut self,
        buf: &[u8],
        def: &'static MessageDef,
        open: bool,
        mut need_comma: bool,
        base: usize,
    ) -> Result<bool, DecodeError> {
        let start_len = self.out.len();
        let sorted = self.collect(buf, def)?;
        let end = self.scratch.len();
        if !sorted {
            // Stable: repeated values keep their wire order.
            self.scratch[base..end].sort_by_key(|e| e.field);
        }
        if open {
            self.out.push(b'{');
        }
        let mut i = base;
        let mut unknown_tags: Vec<u32> = Vec::new();
        while i < end {
            let e = self.scratch[i];
            let mut j = i + 1;
            while j < end
                && self.scratch[j].field == e.field
                && (e.field != UNKNOWN || self.scratch[j].tag == e.tag)
            {
                j += 1;
            }
            if e.field == UNKNOWN {
                if self.strict {
                    return Err(DecodeError::UnknownField {
                        message: def.name.to_string(),
                        field: e.tag,
                    });
                }
                if need_comma {
                    self.out.push(b',');
                }
                need_comma = true;
                unknown_tags.push(e.tag);
                self.unknown(buf, i, j);
                i = j;
                continue;
            }
            let f = &def.fields[e.field as usize];
            if f.omit_empty && !f.repeated && is_empty_len(self.scratch[j - 1]) {
                i = j;
                continue;
            }
            if f.inline {
                if let Kind::Message(m) = f.kind {
                    let inner = &MESSAGES[m as usize];
                    if inner.special == Special::None {
                        let e = self.scratch[j - 1];
                        self.check_wire(e, 2, def)?;
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(too_deep());
                        }
                        let wrote = self.plain(
                            &buf[e.val as usize..e.end as usize],
                            inner,
                            false,
                            need_comma,
                        )?;
                        self.depth -= 1;
                        need_comma |= wrote;
                        i = j;
                        continue;
                    }
                }
            }
            if need_comma {
                self.out.push(b',');
            }
            need_comma = true;
            self.out.extend_from_slice(f.key.as_bytes());
            if let Kind::Map(v) = f.kind {
                self.out.push(b'{');
                for k in i..j {
                    let e = self.scratch[k];
                    if k > i {
                        self.out.push(b',');
                    }
                    self.check_wire(e, 2, def)?;
                    self.map_entry(&buf[e.val as usize..e.end as usize], v)?;
                }
                self.out.push(b'}');
            } else if f.repeated {
                self.out.push(b'[');
                let mut first = true;
                for k in i..j {
                    let e = self.scratch[k];
                    if e.wire == 2
                        && !matches!(
                            f.kind,
                            Kind::String | Kind::Bytes | Kind::Message(_) | Kind::Generic
                        )
                    {
                        // Packed scalars.
                        let mut p = e.val as usize;
                        let stop = e.end as usize;
                        while p < stop {
                            if !first {
                                self.out.push(b',');
                            }
                            first = false;
                            let v = match f.kind {
                                Kind::Double => {
                                    let b = buf.get(p..p + 8).ok_or_else(|| {
                                        DecodeError::Malformed("truncated packed double".into())
                                    })?;
                                    p += 8;
                                    u64::from_le_bytes(b.try_into().unwrap())
                                }
                                Kind::Float => {
                                    let b = buf.get(p..p + 4).ok_or_else(|| {
                                        DecodeError::Malformed("truncated packed float".into())
                                    })?;
                                    p += 4;
                                    u64::from(u32::from_le_bytes(b.try_into().unwrap()))
                                }
                                _ => read_varint(&buf[..stop], &mut p)?,
                            };
                            self.scalar(f.kind, v);
                        }
                    } else {
                        if !first {
                            self.out.push(b',');
                        }
                        first = false;
                        self.value(buf, f.kind, e, def)?;
                    }
                }
                self.out.push(b']');
            } else {
                // Last one wins, as in protobuf.
                let e = self.scratch[j - 1];
                self.value(buf, f.kind, e, def)?;
            }
            i = j;
        }
        if open {
            self.out.push(b'}');
        }
        if !unknown_tags.is_empty() {
            let tags: Vec<String> = unknown_tags.iter().map(u32::to_string).collect();
            self.warnings.push(format!(
                "{}: unknown field{} {}",
                def.name,
                if tags.len() > 1 { "s" } else { "" },
                tags.join(", ")
            ));
        }
        Ok(self.out.len() > start_len)
    }

    fn check_wire(&self, e: Entry, want: u8, def: &MessageDef) -> Result<(), DecodeError> {
        if e.wire != want {
            return Err(DecodeError::Malformed(format!(
                "{} field {}: wire type {} where {} was expected",
                def.name, e.tag, e.wire, want
            )));
        }
        Ok(())
    }

    fn value(
        &mut self,
        buf: &[u8],
        kind: Kind,
        e: Entry,
        def: &MessageDef,
    ) -> Result<(), DecodeError> {
        match kind {
            Kind::String => {
                self.check_wire(e, 2, def)?;
                let b = &buf[e.val as usize..e.end as usize];
                if self.trial && !is_text(b) {
                    self.warnings
                        .push(format!("{} field {}: not text", def.name, e.tag));
                }
                write_str_bytes(&mut self.out, b);
            }
            Kind::Bytes => {
                self.check_wire(e, 2, def)?;
                self.bytes(&buf[e.val as usize..e.end as usize]);
            }
            Kind::Message(m) => {
                self.check_wire(e, 2, def)?;
                self.message(&buf[e.val as usize..e.end as usize], m)?;
            }
            Kind::Double => {
                self.check_wire(e, 1, def)?;
                self.scalar(kind, e.val);
            }
            Kind::Float => {
                self.check_wire(e, 5, def)?;
                self.scalar(kind, e.val);
            }
            Kind::Generic => {
                self.check_wire(e, 2, def)?;
                let b = &buf[e.val as usize..e.end as usize];
                if !b.is_empty() {
                    self.warnings.push(format!(
                        "{} field {}: no schema, shown as a generic protobuf dump",
                        def.name, e.tag
                    ));
                }
                generic_dump(&mut self.out, b, self.depth)?;
            }
            Kind::Map(_) => unreachable!("maps are handled by the caller"),
            _ => {
                self.check_wire(e, 0, def)?;
                self.scalar(kind, e.val);
            }
        }
        Ok(())
    }

    fn scalar(&mut self, kind: Kind, v: u64) {
        let mut b = itoa::Buffer::new();
        let s = match kind {
            Kind::Bool => {
                self.out
                    .extend_from_slice(if v != 0 { b"true" } else { b"false" });
                return;
            }
            Kind::Int32 => b.format(v as i32),
            Kind::Int64 => b.format(v as i64),
            Kind::Uint32 => b.format(v as u32),
            Kind::Uint64 => b.format(v),
            Kind::Sint32 => b.format(((v as u32) >> 1) as i32 ^ -((v & 1) as i32)),
            Kind::Sint64 => b.format((v >> 1) as i64 ^ -((v & 1) as i64)),
            Kind::Double => return self.float(f64::from_bits(v)),
            Kind::Float => return self.float(f64::from(f32::from_bits(v as u32))),
            _ => return self.out.extend_from_slice(b"null"),
        };
        self.out.extend_from_slice(s.as_bytes());
    }

    fn float(&mut self, f: f64) {
        if f.is_finite() {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                let mut b = itoa::Buffer::new();
                self.out.extend_from_slice(b.format(f as i64).as_bytes());
            } else {
                let _ = serde_json::to_writer(&mut self.out, &f);
            }
        } else {
            self.out.extend_from_slice(b"null");
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.out.push(b'"');
        let start = self.out.len();
        self.out.resize(start + b.len().div_ceil(3) * 4, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(b, &mut self.out[start..])
            .unwrap_or(0);
        self.out.truncate(start + n);
        self.out.push(b'"');
    }

    fn map_entry(&mut self, entry: &[u8], v: MapValue) -> Result<(), DecodeError> {
        let mut pos = 0;
        let mut key: &[u8] = b"";
        let mut val: Option<(u64, usize)> = None;
        while pos < entry.len() {
            let (tag, wire, start, end) = read_field(entry, &mut pos)?;
            match (tag, wire) {
                (1, 2) => key = &entry[start as usize..end],
                (2, 2) => val = Some((start, end)),
                _ => {
                    return Err(DecodeError::Malformed(format!(
                        "map entry: unexpected field {tag}"
                    )))
                }
            }
        }
        if self.trial && !is_text(key) {
            self.warnings.push("map key: not text".to_string());
        }
        write_str_bytes(&mut self.out, key);
        self.out.push(b':');
        let raw = val.map_or(&b""[..], |(s, e)| &entry[s as usize..e]);
        match v {
            MapValue::String => write_str_bytes(&mut self.out, raw),
            MapValue::Bytes => self.bytes(raw),
            MapValue::Message(m) => self.message(raw, m)?,
        }
        Ok(())
    }

    fn unknown(&mut self, buf: &[u8], i: usize, j: usize) {
        let tag = self.scratch[i].tag;
        self.out.extend_from_slice(b"\"<unknown field ");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(tag).as_bytes());
        self.out.extend_from_slice(b">\":");
        if j - i > 1 {
            self.out.push(b'[');
        }
        for k in i..j {
            if k > i {
                self.out.push(b',');
            }
            let e = self.scratch[k];
            match e.wire {
                2 => self.bytes(&buf[e.val as usize..e.end as usize]),
                _ => self.scalar(Kind::Uint64, e.val),
            }
        }
        if j - i > 1 {
            self.out.push(b']');
        }
    }

    fn slice_alias(&mut self, buf: &[u8], def: &'static MessageDef) -> Result<(), DecodeError> {
        let f = &def.fields[0];
        self.out.push(b'[');
        let mut pos = 0;
        let mut first = true;
        while pos < buf.len() {
            let (tag, wire, val, end) = read_field(buf, &mut pos)?;
            let e = Entry {
                field: 0,
                wire,
                tag: tag as u32,
                val,
                end: end as u32,
            };
            if u64::from(f.tag) != tag {
                if self.strict {
                    return Err(DecodeError::UnknownField {
                        message: def.name.to_string(),
                        field: tag as u32,
                    });
                }
                self.warnings.push(format!(
                    "{}: unknown field {tag} dropped from list",
                    def.name
                ));
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.value(buf, f.kind, e, def)?;
        }
        self.out.push(b']');
        Ok(())
    }

    /// Messages with a custom Go JSON form.
    fn special(&mut self, buf: &[u8], def: &'static MessageDef) -> Result<(), DecodeError> {
        // At most a handful of fields; last occurrence wins.
        let mut vals: [Option<(u8, u64, usize)>; 4] = [None; 4];
        let mut lists: Vec<(u64, usize)> = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let (tag, wire, val, end) = read_field(buf, &mut pos)?;
            match def.field_index(tag) {
                Some(i) if (i as usize) < vals.len() => {
                    if def.fields[i as usize].repeated {
                        if wire != 2 {
                            return Err(DecodeError::Malformed(format!(
                                "{} field {tag}: wire type {wire} where 2 was expected",
                                def.name
                            )));
                        }
                        lists.push((val, end));
                    }
                    vals[i as usize] = Some((wire, val, end));
                }
                _ => {
                    if self.strict {
                        return Err(DecodeError::UnknownField {
                            message: def.name.to_string(),
                            field: tag as u32,
                        });
                    }
                    self.warnings
                        .push(format!("{}: unknown field {tag} dropped", def.name));
                }
            }
        }
        let int = |i: usize| vals[i].filter(|v| v.0 == 0).map(|v| v.1);
        let bytes = |i: usize| {
            vals[i]
                .filter(|v| v.0 == 2)
                .map(|v| &buf[v.1 as usize..v.2])
        };
        match def.special {
            Special::Time | Special::MicroTime => {
                if vals[0].is_none() && vals[1].is_none() {
                    self.out.extend_from_slice(b"null");
                } else {
                    let secs = int(0).unwrap_or(0) as i64;
                    let nanos = int(1).unwrap_or(0) as i32;
                    write_time(
                        &mut self.out,
                        secs,
                        nanos,
                        def.special == Special::MicroTime,
                    );
                }
            }
            Special::Duration => {
                let d = go_duration(int(0).unwrap_or(0) as i64);
                write_str(&mut self.out, &d);
            }
            Special::Quantity => match bytes(0) {
                Some(b) if !b.is_empty() => write_str_bytes(&mut self.out, b),
                _ => self.out.extend_from_slice(b"\"0\""),
            },
            Special::IntOrString => {
                if int(0).unwrap_or(0) == 1 {
                    write_str_bytes(&mut self.out, bytes(2).unwrap_or(b""));
                } else {
                    self.scalar(Kind::Int32, int(1).unwrap_or(0));
                }
            }
            Special::RawJson => self.raw_json(bytes(0).unwrap_or(b""))?,
            Special::OrArray => {
                let item = def.fields[0].kind;
                if !lists.is_empty() {
                    self.out.push(b'[');
                    for (k, (s, e)) in lists.iter().enumerate() {
                        if k > 0 {
                            self.out.push(b',');
                        }
                        if let Kind::Message(m) = item {
                            self.message(&buf[*s as usize..*e], m)?;
                        }
                    }
                    self.out.push(b']');
                } else if let (Some(b), Kind::Message(m)) = (bytes(0), item) {
                    self.message(b, m)?;
                } else {
                    self.out.extend_from_slice(b"null");
                }
            }
            Special::OrBool => {
                if let (Some(b), Kind::Message(m)) = (bytes(1), def.fields[1].kind) {
                    self.message(b, m)?;
                } else if int(0).unwrap_or(0) != 0 {
                    self.out.extend_from_slice(b"true");
                } else {
                    self.out.extend_from_slice(b"false");
                }
            }
            Special::OrStringArray => {
                if !lists.is_empty() {
                    self.out.push(b'[');
                    for (k, (s, e)) in lists.iter().enumerate() {
                        if k > 0 {
                            self.out.push(b',');
                        }
                        write_str_bytes(&mut self.out, &buf[*s as usize..*e]);
                    }
                    self.out.push(b']');
                } else if let (Some(b), Kind::Message(m)) = (bytes(0), def.fields[0].kind) {
                    self.message(b, m)?;
                } else {
                    self.out.extend_from_slice(b"null");
                }
            }
            Special::None | Special::SliceAlias => unreachable!(),
        }
        Ok(())
    }

    /// Embedded JSON (RawExtension, FieldsV1, apiextensions JSON): inlined
    /// when it is JSON, decoded when it is itself a `k8s\0` object, else
    /// kept as base64 with a warning.
    fn raw_json(&mut self, raw: &[u8]) -> Result<(), DecodeError> {
        if raw.is_empty() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if raw.starts_with(super::MAGIC) {
            if self.trial {
                // Decoded on its own once this object's schema is chosen.
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            let inner = super::decode_protobuf(raw, self.strict, self.depth)?;
            self.warnings.extend(inner.warnings);
            self.out.extend_from_slice(inner.json.as_bytes());
            return Ok(());
        }
        if super::format::json_depth(raw) > MAX_DEPTH {
            return Err(too_deep());
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_ok() {
            write_minified(&mut self.out, raw);
        } else {
            self.warnings.push(format!(
                "embedded object of {} bytes is not JSON; kept as base64",
                raw.len()
            ));
            self.bytes(raw);
        }
        Ok(())
    }
}

/// Best-effort dump of protobuf without a schema: field numbers → values,
/// length-delimited values shown as nested messages when they parse as
/// such, else as strings when printable, else base64.
pub(crate) fn generic_dump(out: &mut Vec<u8>, buf: &[u8], depth: u32) -> Result<(), DecodeError> {
    let mut fields: Vec<(u64, u8, u64, usize)> = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        fields.push(read_field(buf, &mut pos)?);
    }
    fields.sort_by_key(|f| f.0);
    out.push(b'{');
    let mut i = 0;
    while i < fields.len() {
        let mut j = i + 1;
        while j < fields.len() && fields[j].0 == fields[i].0 {
            j += 1;
        }
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(itoa::Buffer::new().format(fields[i].0).as_bytes());
        out.extend_from_slice(b"\":");
        if j - i > 1 {
            out.push(b'[');
        }
        for (k, &(_, wire, val, end)) in fields[i..j].iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            if wire == 2 {
                let b = &buf[val as usize..end];
                let printable = std::str::from_utf8(b)
                    .ok()
                    .filter(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
                let mut nested = Vec::new();
                if let Some(s) = printable {
                    write_str(out, s);
                } else if depth < MAX_DEPTH
                    && !b.is_empty()
                    && generic_dump(&mut nested, b, depth + 1).is_ok()
                {
                    out.extend_from_slice(&nested);
                } else {
                    let mut t = Transcoder::new(false, 0);
                    t.bytes(b);
                    out.extend_from_slice(&t.out);
                }
            } else {
                out.extend_from_slice(itoa::Buffer::new().format(val).as_bytes());
            }
        }
        if j - i > 1 {
            out.push(b']');
        }
        i = j;
    }
    out.push(b'}');
    Ok(())
}
