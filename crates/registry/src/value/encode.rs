//! JSON → protobuf storage form, the inverse of the decoder, driven by the
//! same schema tables (so `decode(encode(x)) == x`).

use super::schema::{self, Kind, MapValue, MessageDef, Special, MESSAGES};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Why a JSON object could not be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("unknown kind {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{path}: unknown field")]
    UnknownField { path: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

fn invalid(path: &str, message: impl Into<String>) -> EncodeError {
    EncodeError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Encodes a Kubernetes JSON object into the storage form kube-apiserver
/// writes to etcd: `k8s\0` + a `runtime.Unknown` envelope whose `raw` is
/// the object's protobuf. `apiVersion` and `kind` in `obj` are ignored
/// (the arguments say what to write); any other member the schema does not
/// know is an error, except `"<unknown field N>"` members from [`decode`],
/// which are written back as field N.
///
/// [`decode`]: super::decode
pub fn encode(api_version: &str, kind: &str, obj: &Value) -> Result<Vec<u8>, EncodeError> {
    // Same fallbacks as decoding: meta/v1 types, then the kind's nearest
    // other version (field numbers are stable across versions).
    let m = schema::lookup(api_version, kind)
        .or_else(|| schema::lookup("meta.k8s.io/v1", kind))
        .or_else(|| schema::other_versions(api_version, kind).first().copied())
        .ok_or_else(|| EncodeError::UnknownKind {
            api_version: api_version.into(),
            kind: kind.into(),
        })?;
    let Value::Object(map) = obj else {
        return Err(invalid("", "an object is required"));
    };
    let mut raw = Vec::new();
    let mut used = HashSet::new();
    message_fields(&MESSAGES[m as usize], map, &mut used, "", &mut raw)?;
    if let Some(k) = map
        .keys()
        .find(|k| !used.contains(k.as_str()) && *k != "apiVersion" && *k != "kind")
    {
        return Err(EncodeError::UnknownField {
            path: format!(".{k}"),
        });
    }
    let mut type_meta = Vec::new();
    put_bytes(&mut type_meta, 1, api_version.as_bytes());
    put_bytes(&mut type_meta, 2, kind.as_bytes());
    let mut out = super::MAGIC.to_vec();
    put_bytes(&mut out, 1, &type_meta);
    put_bytes(&mut out, 2, &raw);
    // Go writes the empty contentEncoding and contentType too.
    put_bytes(&mut out, 3, b"");
    put_bytes(&mut out, 4, b"");
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    put_varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, tag: u32, b: &[u8]) {
    put_key(out, tag, 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn field_name(key: &str) -> &str {
    &key[1..key.len() - 2]
}

/// Encodes the fields of `def` found in `obj` (marking them in `used`),
/// including inlined structs, whose members live in the same object.
fn message_fields<'a>(
    def: &MessageDef,
    obj: &'a Map<String, Value>,
    used: &mut HashSet<&'a str>,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    for f in def.fields {
        if f.inline {
            if let Kind::Message(m) = f.kind {
                let mut sub = Vec::new();
                message_fields(&MESSAGES[m as usize], obj, used, path, &mut sub)?;
                put_bytes(out, f.tag, &sub);
                continue;
            }
        }
        let name = field_name(f.key);
        let Some((name, v)) = obj.get_key_value(name) else {
            continue;
        };
        used.insert(name.as_str());
        let p = format!("{path}.{name}");
        if let Kind::Map(mv) = f.kind {
            let Value::Object(entries) = v else {
                if v.is_null() {
                    continue;
                }
                return Err(invalid(&p, "an object is required"));
            };
            for (k, x) in entries {
                let mut e = Vec::new();
                put_bytes(&mut e, 1, k.as_bytes());
                let kp = format!("{p}.{k}");
                match mv {
                    MapValue::String => put_bytes(&mut e, 2, str_of(x, &kp)?.as_bytes()),
                    MapValue::Bytes => put_bytes(&mut e, 2, &base64_of(x, &kp)?),
                    MapValue::Message(m) => put_bytes(&mut e, 2, &message(m, x, &kp)?),
                }
                put_bytes(out, f.tag, &e);
            }
        } else if f.repeated {
            match v {
                Value::Array(items) => {
                    for (i, x) in items.iter().enumerate() {
                        value(f.tag, f.kind, x, &format!("{p}[{i}]"), out)?;
                    }
                }
                Value::Null => {}
                _ => return Err(invalid(&p, "an array is required")),
            }
        } else {
            value(f.tag, f.kind, v, &p, out)?;
        }
    }
    // Fields the decoder could not name, written back as they were.
    for (k, v) in obj {
        let Some(tag) = k
            .strip_prefix("<unknown field ")
            .and_then(|r| r.strip_suffix('>'))
        else {
            continue;
        };
        let tag: u32 = tag
            .parse()
            .map_err(|_| invalid(path, format!("bad member {k}")))?;
        used.insert(k.as_str());
        let items: &[Value] = match v {
            Value::Array(a) => a,
            other => std::slice::from_ref(other),
        };
        for x in items {
            match x {
                Value::Number(n) => {
                    put_key(out, tag, 0);
                    put_varint(
                        out,
                        n.as_u64()
                            .ok_or_else(|| invalid(path, format!("bad value of {k}")))?,
                    );
                }
                _ => put_bytes(out, tag, &base64_of(x, &format!("{path}.{k}"))?),
            }
        }
    }
    Ok(())
}

fn str_of<'a>(v: &'a Value, path: &str) -> Result<&'a str, EncodeError> {
    v.as_str()
        .ok_or_else(|| invalid(path, "a string is required"))
}

fn base64_of(v: &Value, path: &str) -> Result<Vec<u8>, EncodeError> {
    base64::engine::general_purpose::STANDARD
        .decode(str_of(v, path)?)
        .map_err(|e| invalid(path, format!("invalid base64: {e}")))
}

fn int_of(v: &Value, path: &str) -> Result<i64, EncodeError> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| invalid(path, "an integer is required"))
}

fn value(
    tag: u32,
    kind: Kind,
    v: &Value,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    match kind {
        Kind::String => put_bytes(out, tag, str_of(v, path)?.as_bytes()),
        Kind::Bytes => put_bytes(out, tag, &base64_of(v, path)?),
        Kind::Bool => {
            put_key(out, tag, 0);
            put_varint(
                out,
                u64::from(
                    v.as_bool()
                        .ok_or_else(|| invalid(path, "a bool is required"))?,
                ),
            );
        }
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 => {
            put_key(out, tag, 0);
            // Negative int32 are sign-extended to ten bytes, as protobuf does.
            put_varint(out, int_of(v, path)? as u64);
        }
        Kind::Sint32 | Kind::Sint64 => {
            let n = int_of(v, path)?;
            put_key(out, tag, 0);
            put_varint(out, ((n << 1) ^ (n >> 63)) as u64);
        }
        Kind::Double => {
            let f = v
                .as_f64()
                .ok_or_else(|| invalid(path, "a number is required"))?;
            put_key(out, tag, 1);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Kind::Float => {
            let f = v
                .as_f64()
                .ok_or_else(|| invalid(path, "a number is required"))? as f32;
            put_key(out, tag, 5);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Kind::Message(m) => {
            let special = MESSAGES[m as usize].special;
            if v.is_null()
                && !matches!(
                    special,
                    Special::Time | Special::MicroTime | Special::RawJson
                )
            {
                return Ok(());
            }
            put_bytes(out, tag, &message(m, v, path)?);
        }
        Kind::Generic => match v {
            Value::Object(o) if o.is_empty() => put_bytes(out, tag, b""),
            _ => {
                return Err(invalid(
                    path,
                    "a field without schema can only be written back empty",
                ))
            }
        },
        Kind::Map(_) => unreachable!("maps are handled by the caller"),
    }
    Ok(())
}

/// The bytes of message `m` for JSON `v`.
fn message(m: u16, v: &Value, path: &str) -> Result<Vec<u8>, EncodeError> {
    let def = &MESSAGES[m as usize];
    let mut out = Vec::new();
    match def.special {
        Special::None => {
            let Value::Object(obj) = v else {
                return Err(invalid(path, "an object is required"));
            };
            let mut used = HashSet::new();
            message_fields(def, obj, &mut used, path, &mut out)?;
            if let Some(k) = obj.keys().find(|k| !used.contains(k.as_str())) {
                return Err(EncodeError::UnknownField {
                    path: format!("{path}.{k}"),
                });
            }
        }
        Special::Time | Special::MicroTime => {
            if !v.is_null() {
                let (secs, nanos) = parse_time(str_of(v, path)?)
                    .ok_or_else(|| invalid(path, "an RFC 3339 time is required"))?;
                // Go writes both Timestamp fields; Time keeps whole seconds.
                let nanos = if def.special == Special::MicroTime {
                    nanos
                } else {
                    0
                };
                put_key(&mut out, 1, 0);
                put_varint(&mut out, secs as u64);
                put_key(&mut out, 2, 0);
                put_varint(&mut out, u64::from(nanos));
            }
        }
        Special::Duration => {
            let d = parse_go_duration(str_of(v, path)?)
                .ok_or_else(|| invalid(path, "a Go duration is required"))?;
            put_key(&mut out, 1, 0);
            put_varint(&mut out, d as u64);
        }
        Special::Quantity => put_bytes(&mut out, 1, str_of(v, path)?.as_bytes()),
        Special::IntOrString => match v {
            Value::String(s) => {
                put_key(&mut out, 1, 0);
                put_varint(&mut out, 1);
                put_bytes(&mut out, 3, s.as_bytes());
            }
            _ => {
                put_key(&mut out, 1, 0);
                put_varint(&mut out, 0);
                put_key(&mut out, 2, 0);
                put_varint(&mut out, int_of(v, path)? as u64);
            }
        },
        Special::RawJson => {
            if !v.is_null() {
                put_bytes(&mut out, 1, v.to_string().as_bytes());
            }
        }
        Special::OrArray | Special::OrStringArray => {
            let item_kind = def.fields[1].kind;
            match v {
                Value::Array(items) => {
                    for (i, x) in items.iter().enumerate() {
                        value(2, item_kind, x, &format!("{path}[{i}]"), &mut out)?;
                    }
                }
                Value::Null => {}
                _ => value(1, def.fields[0].kind, v, path, &mut out)?,
            }
        }
        Special::OrBool => match v {
            Value::Bool(b) => {
                put_key(&mut out, 1, 0);
                put_varint(&mut out, u64::from(*b));
            }
            _ => {
                // Go sets Allows when a schema is given.
                put_key(&mut out, 1, 0);
                put_varint(&mut out, 1);
                value(2, def.fields[1].kind, v, path, &mut out)?;
            }
        },
        Special::SliceAlias => {
            let f = &def.fields[0];
            match v {
                Value::Array(items) => {
                    for (i, x) in items.iter().enumerate() {
                        value(f.tag, f.kind, x, &format!("{path}[{i}]"), &mut out)?;
                    }
                }
                Value::Null => {}
                _ => return Err(invalid(path, "an array is required")),
            }
        }
    }
    Ok(out)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (`2008-01-01T01:01:01Z`, optional fraction and offset) →
/// Unix seconds and nanoseconds.
pub(crate) fn parse_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut n: u32 = digits.get(..digits.len().min(9))?.parse().ok()?;
        for _ in digits.len().min(9)..9 {
            n *= 10;
        }
        nanos = n;
    }
    let offset: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = i64::from(num(i + 4..i + 6)?);
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some((
        days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset,
        nanos,
    ))
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    let t = total.round() as i64;
    Some(if neg { -t } else { t })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_parse() {
        assert_eq!(parse_time("2008-01-01T01:01:01Z"), Some((1_199_149_261, 0)));
        assert_eq!(
            parse_time("2008-01-01T01:01:01.123456Z"),
            Some((1_199_149_261, 123_456_000))
        );
        assert_eq!(
            parse_time("2008-01-01T02:01:01+01:00"),
            Some((1_199_149_261, 0))
        );
        assert_eq!(parse_time("nope"), None);
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_go_duration("1.5µs"), Some(1_500));
        assert_eq!(parse_go_duration("-2ms"), Some(-2_000_000));
        assert_eq!(parse_go_duration("0s"), Some(0));
        assert_eq!(parse_go_duration("5x"), None);
    }
}
