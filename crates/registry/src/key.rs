//! Parsing and building the etcd keys kube-apiserver writes.
//!
//! This module owns the key layout: `<prefix>/<storage path>/[<namespace>/]<name>`
//! for objects (see [`crate::resources`] for the storage paths),
//! `<prefix>/<group>/<plural>/[<namespace>/]<name>` for custom resources, the
//! few records kube-apiserver keeps for itself (`masterleases/<ip>`,
//! `ranges/serviceips`, `ranges/servicenodeports`, `health`), and everything
//! else, which is still classified so that counting a keyspace never drops a
//! key.
//!
//! [`parse`] runs once per key on scans of millions of keys, so it borrows
//! from the key and does not allocate.

use crate::resources::{self, QualifiedName, ResourceType};

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

/// The `resource` a foreign key gets when its leading path segments are not
/// UTF-8.
pub const NON_UTF8: &str = "<non-utf8>";

/// The records kube-apiserver writes under the prefix that are not API
/// objects: endpoint leases of the API servers themselves, the service IP
/// and node port allocation bitmaps, and the etcd health check key.
const INTERNAL: &[&str] = &["masterleases", "ranges", "health"];

/// How a key fits the Kubernetes layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// An object of a built-in resource type; [`KeyInfo::resource_type`] is set.
    Builtin,
    /// A custom resource object: `<prefix>/<group>/<plural>/[<namespace>/]<name>`.
    Custom,
    /// A record kube-apiserver keeps for itself: `masterleases/<ip>`,
    /// `ranges/serviceips`, `ranges/servicenodeports`, `health`.
    Internal,
    /// Under the prefix but of no known type, such as leftovers of a resource
    /// removed from Kubernetes (`podsecuritypolicy`). `resource` is the first
    /// segment after the prefix.
    Unknown,
    /// Outside the prefix, or not UTF-8. `resource` holds the first one or
    /// two path segments (`compact_rev_key`, `/foo/bar`) and `name` the rest.
    Foreign,
}

/// What a key says about the object stored under it.
///
/// All strings borrow from the key. For built-in types `group` and
/// `resource` are the API names (`nodes`, not `minions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyInfo<'a> {
    /// The whole key, for callers that need to show a non-UTF-8 key.
    pub key: &'a [u8],
    /// How the key fits the layout.
    pub kind: KeyKind,
    /// The built-in type, for [`KeyKind::Builtin`] keys.
    pub resource_type: Option<&'static ResourceType>,
    /// API group; empty for the core group, internal, unknown and foreign keys.
    pub group: &'a str,
    /// Plural resource name for objects; see [`KeyKind`] for the others.
    pub resource: &'a str,
    /// Namespace, for namespaced objects.
    pub namespace: Option<&'a str>,
    /// Object name; empty when the key has none (or it is not UTF-8).
    pub name: &'a str,
}

impl<'a> KeyInfo<'a> {
    /// Whether the key belongs to `namespace` (always, with no filter).
    pub fn in_namespace(&self, namespace: Option<&str>) -> bool {
        namespace.is_none_or(|ns| self.namespace == Some(ns))
    }

    /// `resource[.group]`, the label to group keys by (`pods`,
    /// `deployments.apps`, `widgets.example.com`, `/foo/bar`).
    pub fn type_name(&self) -> QualifiedName<'a> {
        QualifiedName {
            group: self.group,
            resource: self.resource,
        }
    }

    /// Whether the key holds an API object (built-in or custom resource).
    pub fn is_object(&self) -> bool {
        matches!(self.kind, KeyKind::Builtin | KeyKind::Custom)
    }
}

/// Why a key cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A namespaced type was given no namespace.
    #[error("{resource} are namespaced: give a namespace, as in {resource}/<namespace>/<name>")]
    NamespaceRequired {
        /// The plural resource name.
        resource: String,
    },
    /// An empty name or namespace, or one containing `/`.
    #[error("invalid {what} {value:?}: it must be non-empty and contain no '/'")]
    InvalidSegment {
        /// `"name"` or `"namespace"`.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// The prefix without trailing slashes, so `/registry` and `/registry/` agree.
pub fn normalize_prefix(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// Whether the key belongs to `namespace` (always, with no filter).
pub fn in_namespace(key: &[u8], prefix: &str, namespace: Option<&str>) -> bool {
    // No filter: no need to parse the key.
    namespace.is_none() || parse(key, prefix).in_namespace(namespace)
}

/// Parses an etcd key written by kube-apiserver with the given `--etcd-prefix`
/// (normally [`DEFAULT_PREFIX`]).
///
/// Never panics and never fails: keys that do not fit the layout come back as
/// [`KeyKind::Unknown`] or [`KeyKind::Foreign`]. A key only counts as under the
/// prefix when a `/` follows it, so `/registry-foo/...` is not under
/// `/registry`.
///
/// ```
/// use registry::key::{parse, KeyKind, DEFAULT_PREFIX};
///
/// let info = parse(b"/registry/services/specs/default/kubernetes", DEFAULT_PREFIX);
/// assert_eq!(info.kind, KeyKind::Builtin);
/// assert_eq!((info.group, info.resource), ("", "services"));
/// assert_eq!((info.namespace, info.name), (Some("default"), "kubernetes"));
///
/// let info = parse(b"compact_rev_key", DEFAULT_PREFIX);
/// assert_eq!((info.kind, info.resource), (KeyKind::Foreign, "compact_rev_key"));
/// ```
pub fn parse<'a>(key: &'a [u8], prefix: &str) -> KeyInfo<'a> {
    let Ok(text) = std::str::from_utf8(key) else {
        return foreign_bytes(key);
    };
    let prefix = normalize_prefix(prefix);
    match text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) if !rest.is_empty() => parse_under_prefix(key, text, rest),
        _ => foreign(key, text),
    }
}

/// The key of one object: `<prefix>/<storage>/[<namespace>/]<name>`.
///
/// As with `kubectl -n`, a namespace given for a cluster-scoped type is
/// ignored. A namespaced type needs one.
pub fn key_for(
    resource_type: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    prefix: &str,
) -> Result<String, KeyError> {
    check_segment("name", name)?;
    let namespace = if resource_type.namespaced {
        let namespace = namespace.ok_or_else(|| KeyError::NamespaceRequired {
            resource: resource_type.plural.to_string(),
        })?;
        check_segment("namespace", namespace)?;
        Some(namespace)
    } else {
        None
    };
    let mut key = prefix_for(resource_type, namespace, prefix);
    key.push_str(name);
    Ok(key)
}

/// The range prefix holding every object of a type, or of a type in one
/// namespace: `<prefix>/<storage>/` or `<prefix>/<storage>/<namespace>/`.
///
/// Always ends with `/`, so `pods` does not also match `podtemplates` and
/// `services` (`services/specs/`) does not match endpoints
/// (`services/endpoints/`). The namespace is ignored for cluster-scoped
/// types, as `kubectl -n` does.
pub fn prefix_for(resource_type: &ResourceType, namespace: Option<&str>, prefix: &str) -> String {
    let prefix = normalize_prefix(prefix);
    let namespace = namespace.filter(|_| resource_type.namespaced);
    let mut key = String::with_capacity(
        prefix.len() + resource_type.storage.len() + namespace.map_or(0, |n| n.len() + 1) + 2,
    );
    key.push_str(prefix);
    key.push('/');
    key.push_str(&resource_type.storage);
    key.push('/');
    if let Some(namespace) = namespace {
        key.push_str(namespace);
        key.push('/');
    }
    key
}

fn check_segment(what: &'static str, value: &str) -> Result<(), KeyError> {
    if value.is_empty() || value.contains('/') {
        return Err(KeyError::InvalidSegment {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Splits at the first `/`: `("a", Some("b/c"))` for `"a/b/c"`.
fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (s, None),
    }
}

/// `namespace/name` when the tail has exactly those two parts, else the
/// whole tail as the name.
fn namespace_and_name(tail: Option<&str>, namespaced: bool) -> (Option<&str>, &str) {
    let Some(tail) = tail else {
        return (None, "");
    };
    if namespaced {
        if let Some((namespace, name)) = tail.split_once('/') {
            if !namespace.is_empty() && !name.contains('/') {
                return (Some(namespace), name);
            }
        }
    }
    (None, tail)
}

fn parse_under_prefix<'a>(key: &'a [u8], text: &'a str, rest: &'a str) -> KeyInfo<'a> {
    let (first, after_first) = split_first(rest);
    let (second, after_second) = after_first.map_or(("", None), split_first);

    if let Some((resource_type, depth)) = resources::storage_lookup(first, second) {
        let tail = if depth == 1 {
            after_first
        } else {
            after_second
        };
        let (namespace, name) = namespace_and_name(tail, resource_type.namespaced);
        return KeyInfo {
            key,
            kind: KeyKind::Builtin,
            resource_type: Some(resource_type),
            group: &resource_type.group,
            resource: &resource_type.plural,
            namespace,
            name,
        };
    }

    if INTERNAL.contains(&first) {
        return KeyInfo {
            key,
            kind: KeyKind::Internal,
            resource_type: None,
            group: "",
            resource: first,
            namespace: None,
            name: after_first.unwrap_or(""),
        };
    }

    // Custom resource groups always contain a dot (the CRD API requires it),
    // and names contain no '/', so 3 segments is cluster-scoped and 4 is
    // namespaced.
    let segments = rest.split('/');
    if first.contains('.')
        && matches!(segments.clone().count(), 3 | 4)
        && segments.clone().all(|s| !s.is_empty())
    {
        let (namespace, name) = namespace_and_name(after_second, true);
        return KeyInfo {
            key,
            kind: KeyKind::Custom,
            resource_type: None,
            group: first,
            resource: second,
            namespace,
            name,
        };
    }

    if first.is_empty() {
        return foreign(key, text);
    }
    let (namespace, name) = namespace_and_name(after_first, true);
    KeyInfo {
        key,
        kind: KeyKind::Unknown,
        resource_type: None,
        group: "",
        resource: first,
        namespace,
        name,
    }
}

/// Where a foreign key's type label ends: after the first two path
/// segments when there are more, after the first when there are two, and
/// the whole key otherwise. A leading `/` belongs to the first segment.
fn foreign_split(key: &[u8]) -> (usize, Option<usize>) {
    let start = usize::from(key.first() == Some(&b'/'));
    let mut slashes = key[start..]
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| i + start);
    match (slashes.next(), slashes.next()) {
        (Some(_), Some(second)) => (second, Some(second + 1)),
        (Some(first), None) => (first, Some(first + 1)),
        _ => (key.len(), None),
    }
}

fn foreign<'a>(key: &'a [u8], text: &'a str) -> KeyInfo<'a> {
    let (type_end, name_start) = foreign_split(key);
    KeyInfo {
        key,
        kind: KeyKind::Foreign,
        resource_type: None,
        group: "",
        // Split points are at ASCII '/' bytes, hence char boundaries.
        resource: text.get(..type_end).unwrap_or(NON_UTF8),
        namespace: None,
        name: name_start.and_then(|s| text.get(s..)).unwrap_or(""),
    }
}

fn foreign_bytes(key: &[u8]) -> KeyInfo<'_> {
    let (type_end, name_start) = foreign_split(key);
    fn utf8(bytes: &[u8]) -> Option<&str> {
        std::str::from_utf8(bytes).ok()
    }
    KeyInfo {
        key,
        kind: KeyKind::Foreign,
        resource_type: None,
        group: "",
        resource: utf8(&key[..type_end]).unwrap_or(NON_UTF8),
        namespace: None,
        name: name_start.and_then(|s| utf8(&key[s..])).unwrap_or(""),
    }
}
