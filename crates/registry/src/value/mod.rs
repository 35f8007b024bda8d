//! Decoding etcd values as kube-apiserver wrote them into the JSON that
//! `kubectl get -o json` shows, and encoding such JSON back.
//!
//! # Encodings
//!
//! [`detect`] recognises the storage forms: protobuf (`k8s\0` + a
//! `runtime.Unknown` envelope), JSON (custom resources, old objects), CBOR
//! (self-described, newer custom resources) and encryption at rest
//! (`k8s:enc:<provider>:v1:<key>:`, `k8s:enc:kms:v2:<name>:`); decryption
//! itself belongs to the `encryption` module, [`decode`] only says which
//! key is needed.
//!
//! # Design
//!
//! Schemas come from dependencies, never from copied `.proto` files or
//! generated code: `build.rs` scans the sources of `k8s-pb` (prost code
//! generated from the Kubernetes protos: messages, tags, wire kinds, and
//! `Resource` impls for group/version/kind) and `k8s-openapi` (the exact
//! JSON field names such as `hostIP` or `$ref`, which prost's snake_case
//! lost; which Go fields are `omitempty`; which embedded structs Go
//! inlines), and generates static tables. Two `k8s-pb` releases are read
//! (Kubernetes 1.35 and 1.33) and merged, newest first, so objects written
//! by older apiservers (removed API versions, removed fields) decode with
//! their real names. A kind missing at its own version is decoded with the
//! schema of the nearest other version of the same kind only when the bytes
//! fit it exactly (every field known, of its wire type, strings that are
//! text), with a warning; otherwise it gets the generic dump. Each such
//! object is tried once per candidate without its nested objects, so
//! decoding stays linear in the input.
//!
//! At run time a table-driven transcoder reads the wire bytes and writes
//! JSON text directly, in declaration order (Go struct order, so
//! `kubectl`'s order), without building a value tree, which is what makes
//! it fast. Go types with a custom JSON form (Time, MicroTime, Duration,
//! Quantity, IntOrString, RawExtension, FieldsV1, the JSONSchemaProps
//! unions, slice types like `Verbs`) are marked in the tables and rendered
//! like Go renders them. [`encode`] walks the same tables the other way.
//!
//! Fields the schema does not know are never dropped: they appear as
//! `"<unknown field N>"` with their raw value and are listed in
//! [`Decoded::warnings`] ([`DecodeOptions::strict`] turns them into errors).
//! Kinds the schema does not know are dumped generically.
//!
//! # Limits
//!
//! A value may nest at most [`MAX_DEPTH`] levels and be at most
//! [`MAX_VALUE_BYTES`] long; beyond either, decoding fails with an error
//! naming the limit.
//!
//! gogo protobuf writes every non-pointer field, so the wire cannot tell a
//! Go `bool`/`int` left at zero (which `omitempty` hides) from a pointer
//! set to zero (which Go shows). Zero numbers and `false` are therefore
//! always shown; empty strings are hidden for `omitempty` fields.

mod cbor;
mod encode;
mod format;
mod proto;
mod schema;

pub use encode::{encode, EncodeError};

use base64::Engine as _;
use proto::{read_field, Transcoder};

/// The deepest nesting a decoded value may have, counted as JSON objects
/// and arrays (and, on the way there, as protobuf messages and CBOR items).
///
/// One limit for every encoding, enforced by the decoders: anything deeper
/// is [`DecodeError::TooDeep`]. Real objects stay far below it (CRD schemas
/// nest deepest, a few dozen levels); it stays below `serde_json`'s own
/// limit of 128, so a decoded value always re-reads.
pub const MAX_DEPTH: u32 = 100;

/// The largest value [`decode`] accepts, in bytes: a few times etcd's
/// default request limit (1.5 MiB), so values written under a raised
/// `--max-request-bytes` still decode, while a hostile input cannot make
/// the decoder allocate without bound.
pub const MAX_VALUE_BYTES: usize = 8 << 20;

/// The magic prefix of kube-apiserver's protobuf storage form.
pub(crate) const MAGIC: &[u8] = b"k8s\0";

/// How an etcd value is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// `k8s\0` followed by a `runtime.Unknown` protobuf envelope.
    Protobuf,
    /// A JSON object.
    Json,
    /// CBOR with the self-describe tag (`d9 d9 f7`).
    Cbor,
    /// Encrypted at rest. `provider` is `aescbc`, `aesgcm`, `secretbox`,
    /// `kms` (KMS v1) or `kmsv2`; `key_name` is the key (or KMS plugin) name.
    Encrypted { provider: String, key_name: String },
    /// None of the above.
    Unknown,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoding::Protobuf => f.write_str("protobuf"),
            Encoding::Json => f.write_str("json"),
            Encoding::Cbor => f.write_str("cbor"),
            Encoding::Encrypted { provider, key_name } => {
                write!(f, "encrypted ({provider}, key {key_name})")
            }
            Encoding::Unknown => f.write_str("unknown"),
        }
    }
}

/// Recognises the encoding of a raw etcd value from its first bytes.
pub fn detect(value: &[u8]) -> Encoding {
    if value.starts_with(MAGIC) {
        return Encoding::Protobuf;
    }
    if let Some(rest) = value.strip_prefix(crate::encryption::ENVELOPE_PREFIX) {
        // <provider>:<version>:<key name>:<ciphertext>; key names cannot
        // contain ':' so splitting is unambiguous.
        let mut parts = rest.splitn(4, |&b| b == b':');
        let provider = parts.next().unwrap_or_default();
        let version = parts.next().unwrap_or_default();
        let key = parts.next();
        if let (Some(key), Some(_)) = (key, parts.next()) {
            let provider = String::from_utf8_lossy(provider);
            let provider = if provider == "kms" && version == b"v2" {
                "kmsv2".to_string()
            } else {
                provider.into_owned()
            };
            return Encoding::Encrypted {
                provider,
                key_name: String::from_utf8_lossy(key).into_owned(),
            };
        }
        return Encoding::Encrypted {
            provider: String::from_utf8_lossy(provider).into_owned(),
            key_name: String::new(),
        };
    }
    if value.starts_with(&[0xd9, 0xd9, 0xf7]) {
        return Encoding::Cbor;
    }
    match value.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Encoding::Json,
        _ => Encoding::Unknown,
    }
}

/// Options for [`decode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Fail on any field or kind the schema does not know, instead of
    /// keeping it with a warning.
    pub strict: bool,
}

/// A decoded etcd value.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// `apiVersion` of the object (from the protobuf envelope or the JSON).
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// The storage encoding the value was in.
    pub encoding: Encoding,
    /// The object as compact JSON text, `apiVersion` and `kind` first.
    pub json: String,
    /// Everything that was not decoded exactly (unknown fields or kinds,
    /// schema fallbacks), one line each.
    pub warnings: Vec<String>,
}

impl Decoded {
    /// The object as a `serde_json::Value` (key order preserved). Never
    /// `Null` for a value [`decode`] returned: it nests at most
    /// [`MAX_DEPTH`] deep, within what `serde_json` re-reads.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.json).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a value could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty value")]
    Empty,
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    #[error("invalid json: {0}")]
    InvalidJson(String),
    #[error("invalid cbor: {0}")]
    InvalidCbor(String),
    #[error("value is encrypted with provider {provider} key {key_name:?}: decrypt it first")]
    Encrypted { provider: String, key_name: String },
    #[error("unknown field {field} in {message} (strict mode)")]
    UnknownField { message: String, field: u32 },
    #[error("unknown kind {kind} in {api_version} (strict mode)")]
    UnknownKind { api_version: String, kind: String },
    #[error("unrecognised value encoding (first bytes {0})")]
    UnknownEncoding(String),
    #[error("value nests deeper than {limit} levels, the decoder's limit")]
    TooDeep { limit: u32 },
    #[error("value of {size} bytes exceeds the decoder's limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

/// Decodes a raw etcd value into the object's Kubernetes JSON.
///
/// Protobuf objects of a kind the schema does not know decode to
/// `{"apiVersion", "kind", "rawSize": <bytes>, "fields": {...}}`, where
/// `fields` maps field numbers to values (nested messages guessed), with a
/// warning. JSON values pass through (compacted, key order kept); CBOR
/// values become JSON. Encrypted values return [`DecodeError::Encrypted`]:
/// decrypt them with the encryption module and decode the plaintext.
pub fn decode(value: &[u8], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    check_size(value)?;
    checked_depth(decode_unchecked(value, opts))
}

fn check_size(value: &[u8]) -> Result<(), DecodeError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(DecodeError::TooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// The one place the nesting limit is checked on the result: whatever the
/// encoding and however objects were nested, the JSON handed out nests at
/// most [`MAX_DEPTH`] deep, so re-reading it cannot fail.
fn checked_depth(r: Result<Decoded, DecodeError>) -> Result<Decoded, DecodeError> {
    let d = r?;
    if format::json_depth(d.json.as_bytes()) > MAX_DEPTH {
        return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
    }
    Ok(d)
}

fn decode_unchecked(value: &[u8], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    if value.is_empty() {
        return Err(DecodeError::Empty);
    }
    match detect(value) {
        Encoding::Protobuf => decode_protobuf(value, opts.strict, 0),
        Encoding::Json => {
            if format::json_depth(value) > MAX_DEPTH {
                return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
            }
            serde_json::from_slice::<serde::de::IgnoredAny>(value)
                .map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
            let (api_version, kind) = json_type_meta(value).unwrap_or_default();
            let mut out = Vec::with_capacity(value.len());
            format::write_minified(&mut out, value);
            Ok(Decoded {
                api_version,
                kind,
                encoding: Encoding::Json,
                json: String::from_utf8(out)
                    .map_err(|e| DecodeError::InvalidJson(e.to_string()))?,
                warnings: Vec::new(),
            })
        }
        Encoding::Cbor => {
            let json = cbor::to_json(value)?;
            let (api_version, kind) = json_type_meta(json.as_bytes()).unwrap_or_default();
            Ok(Decoded {
                api_version,
                kind,
                encoding: Encoding::Cbor,
                json,
                warnings: Vec::new(),
            })
        }
        Encoding::Encrypted { provider, key_name } => {
            Err(DecodeError::Encrypted { provider, key_name })
        }
        Encoding::Unknown => {
            let head: Vec<String> = value.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Err(DecodeError::UnknownEncoding(head.join(" ")))
        }
    }
}

/// The apiVersion and kind of a value without decoding the object (cheap
/// for protobuf: only the envelope is read). `None` when unknown/encrypted.
pub fn type_meta(value: &[u8]) -> Option<(String, String)> {
    match detect(value) {
        Encoding::Protobuf => {
            let env = envelope(value).ok()?;
            Some((env.api_version.to_string(), env.kind.to_string()))
        }
        Encoding::Json => json_type_meta(value),
        Encoding::Cbor => json_type_meta(cbor::to_json(value).ok()?.as_bytes()),
        _ => None,
    }
}

/// Replaces every value of a Secret's `data` and `stringData` with
/// `"<redacted N bytes>"` (N = decoded length). Other kinds are untouched.
pub fn redact_secrets(obj: &mut serde_json::Value) {
    if obj.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
        return;
    }
    for (field, is_base64) in [("data", true), ("stringData", false)] {
        if let Some(serde_json::Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                let n = match v.as_str() {
                    Some(s) if is_base64 => base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map_or(s.len(), |b| b.len()),
                    Some(s) => s.len(),
                    None => 0,
                };
                *v = serde_json::Value::String(format!("<redacted {n} bytes>"));
            }
        }
    }
}

fn json_type_meta(value: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct TypeMeta {
        #[serde(rename = "apiVersion", default)]
        api_version: String,
        #[serde(default)]
        kind: String,
    }
    let tm: TypeMeta = serde_json::from_slice(value).ok()?;
    Some((tm.api_version, tm.kind))
}

struct Envelope<'a> {
    api_version: &'a str,
    kind: &'a str,
    raw: &'a [u8],
}

fn utf8(b: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(b)
        .map_err(|_| DecodeError::Malformed("envelope type meta is not utf-8".into()))
}

/// Reads the `runtime.Unknown` envelope after the magic.
fn envelope(value: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let buf = &value[MAGIC.len()..];
    let mut env = Envelope {
        api_version: "",
        kind: "",
        raw: b"",
    };
    let mut pos = 0;
    while pos < buf.len() {
        let (tag, wire, start, end) = read_field(buf, &mut pos)?;
        if wire != 2 {
            continue;
        }
        let bytes = &buf[start as usize..end];
        match tag {
            1 => {
                let mut p = 0;
                while p < bytes.len() {
                    let (t, w, s, e) = read_field(bytes, &mut p)?;
                    match (t, w) {
                        (1, 2) => env.api_version = utf8(&bytes[s as usize..e])?,
                        (2, 2) => env.kind = utf8(&bytes[s as usize..e])?,
                        _ => {}
                    }
                }
            }
            2 => env.raw = bytes,
            _ => {}
        }
    }
    Ok(env)
}

/// Decodes a `k8s\0` value (also used for RawExtensions holding one), at
/// message nesting `depth`: a RawExtension's object counts the messages
/// around it, so nested objects cannot exhaust the stack.
pub(crate) fn decode_protobuf(
    value: &[u8],
    strict: bool,
    depth: u32,
) -> Result<Decoded, DecodeError> {
    decode_protobuf_as(value, None, strict, depth)
}

/// Like [`decode`], for values whose envelope may lack its type meta (as in
/// some API fixtures): `api_version` and `kind` choose the schema when the
/// envelope does not say. Use it when the type is known from elsewhere,
/// e.g. from the etcd key.
pub fn decode_as(
    value: &[u8],
    api_version: &str,
    kind: &str,
    opts: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    check_size(value)?;
    if detect(value) == Encoding::Protobuf {
        checked_depth(decode_protobuf_as(
            value,
            Some((api_version, kind)),
            opts.strict,
            0,
        ))
    } else {
        decode(value, opts)
    }
}

/// The schemas to try for a type, best first: the exact (apiVersion,
/// kind); meta/v1 types (options, Status, WatchEvent) which every group
/// version registers; then the kind's other versions in the same group.
fn candidates(api_version: &str, kind: &str) -> (Vec<u16>, bool) {
    if let Some(m) = schema::lookup(api_version, kind) {
        return (vec![m], true);
    }
    if let Some(m) = schema::lookup("meta.k8s.io/v1", kind) {
        return (vec![m], true);
    }
    (schema::other_versions(api_version, kind), false)
}

fn decode_protobuf_as(
    value: &[u8],
    hint: Option<(&str, &str)>,
    strict: bool,
    depth: u32,
) -> Result<Decoded, DecodeError> {
    let env = envelope(value)?;
    let (av, kind) = match hint {
        Some(h) if env.kind.is_empty() => h,
        _ => (env.api_version, env.kind),
    };
    let (cands, exact) = candidates(av, kind);
    let run = |m: u16, strict: bool, trial: bool| -> Result<Transcoder, DecodeError> {
        let mut t = Transcoder::new(strict, env.raw.len() * 2 + 64);
        t.depth = depth;
        t.trial = trial;
        t.out.push(b'{');
        let mut need_comma = false;
        // Go omits empty type meta (e.g. in WatchEvent fixtures).
        if !env.api_version.is_empty() {
            t.out.extend_from_slice(b"\"apiVersion\":");
            format::write_str(&mut t.out, env.api_version);
            need_comma = true;
        }
        if !env.kind.is_empty() {
            if need_comma {
                t.out.push(b',');
            }
            t.out.extend_from_slice(b"\"kind\":");
            format::write_str(&mut t.out, env.kind);
            need_comma = true;
        }
        t.plain(env.raw, &schema::MESSAGES[m as usize], false, need_comma)?;
        t.out.push(b'}');
        Ok(t)
    };
    let mut chosen: Option<Transcoder> = None;
    if exact {
        chosen = Some(run(cands[0], strict, false)?);
    } else {
        // Another version of the kind, only when the bytes fit it exactly:
        // every field known, of its wire type, strings that are text. A
        // near fit would show another version's field names for values
        // that are not theirs. Trials do not descend into objects nested in
        // RawExtensions, so each object is tried once: linear time.
        let fits = cands
            .iter()
            .copied()
            .find(|&m| run(m, true, true).is_ok_and(|t| t.warnings.is_empty()));
        if let Some(m) = fits {
            let mut t = run(m, strict, false)?;
            t.warnings.insert(
                0,
                format!("{av} {kind} is not in the schema; decoded with the schema of another version of {kind}"),
            );
            chosen = Some(t);
        }
    }
    let t = match chosen {
        Some(t) => t,
        None => {
            if strict {
                return Err(DecodeError::UnknownKind {
                    api_version: av.to_string(),
                    kind: kind.to_string(),
                });
            }
            let mut t = Transcoder::new(false, env.raw.len() * 2 + 64);
            t.warnings.push(if av.is_empty() && kind.is_empty() {
                // A bare `k8s\0` or an envelope without type meta: say so
                // rather than name a blank type.
                "the envelope names no apiVersion or kind; showing a generic protobuf dump".into()
            } else {
                format!("{av} {kind} is not in the schema; showing a generic protobuf dump")
            });
            t.out.extend_from_slice(b"{\"apiVersion\":");
            format::write_str(&mut t.out, env.api_version);
            t.out.extend_from_slice(b",\"kind\":");
            format::write_str(&mut t.out, env.kind);
            t.out.extend_from_slice(b",\"rawSize\":");
            t.out
                .extend_from_slice(itoa::Buffer::new().format(env.raw.len()).as_bytes());
            t.out.extend_from_slice(b",\"fields\":");
            proto::generic_dump(&mut t.out, env.raw, depth)?;
            t.out.push(b'}');
            t
        }
    };
    let json = String::from_utf8(t.out)
        .map_err(|_| DecodeError::Malformed("output is not utf-8".into()))?;
    Ok(Decoded {
        api_version: env.api_version.to_string(),
        kind: env.kind.to_string(),
        encoding: Encoding::Protobuf,
        json,
        warnings: t.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_encodings() {
        assert_eq!(detect(b"k8s\0\x0a"), Encoding::Protobuf);
        assert_eq!(detect(b"  {\"a\":1}"), Encoding::Json);
        assert_eq!(detect(&[0xd9, 0xd9, 0xf7, 0xa0]), Encoding::Cbor);
        assert_eq!(
            detect(b"k8s:enc:aescbc:v1:key1:\x01\x02"),
            Encoding::Encrypted {
                provider: "aescbc".into(),
                key_name: "key1".into()
            }
        );
        assert_eq!(
            detect(b"k8s:enc:kms:v2:my-plugin:\x0a"),
            Encoding::Encrypted {
                provider: "kmsv2".into(),
                key_name: "my-plugin".into()
            }
        );
        assert_eq!(detect(b"\x00\x01"), Encoding::Unknown);
    }

    #[test]
    fn kinds_table_is_sorted_and_has_core() {
        assert!(schema::KINDS
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert!(schema::lookup("v1", "Pod").is_some());
        assert!(schema::lookup("apps/v1", "Deployment").is_some());
        assert!(schema::lookup("admission.k8s.io/v1", "AdmissionReview").is_some());
    }
}
