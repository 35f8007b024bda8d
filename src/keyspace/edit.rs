//! Optimistic concurrency for edited objects, as kube-apiserver does it:
//! `metadata.resourceVersion` is the key's mod revision, filled in on every
//! read and cleared on every write; a write names the revision it was based
//! on and fails if the key moved since.
//!
//! Pure: values in, values out. Reads fill the field (in one place:
//! `keyspace::decode`), `put` takes it out here and decides whether the
//! write may go ahead; neither the field nor the decision touches etcd.

use serde_json::{Map, Value};

use super::diff::{Diff, FieldChange};

/// `metadata.resourceVersion` holds something that is not a revision.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("metadata.resourceVersion `{0}` is not an etcd revision")]
pub struct BadResourceVersion(pub String);

/// Remove `metadata.resourceVersion` (kube-apiserver never stores it) and
/// return the revision it named, if any. An empty string counts as absent,
/// as it does for kube-apiserver.
pub fn take_resource_version(object: &mut Value) -> Result<Option<i64>, BadResourceVersion> {
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        return Ok(None);
    };
    let Some(v) = meta.shift_remove("resourceVersion") else {
        return Ok(None);
    };
    let text = match &v {
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(BadResourceVersion(other.to_string())),
    };
    match text.parse::<i64>() {
        Ok(rev) if rev > 0 => Ok(Some(rev)),
        _ => Err(BadResourceVersion(text)),
    }
}

/// The object in a file does not belong at the key it would be written
/// to: kube-apiserver would refuse it (its name and namespace must be the
/// request's), and a wrong kind under a type's prefix breaks every read of
/// that type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Misplaced {
    #[error("the file holds a {found}, but `{key}` holds {expected} objects")]
    Kind {
        key: String,
        found: String,
        expected: String,
    },
    #[error("the file's metadata.name is {}, but the object at `{key}` is named `{expected}`", shown(.found))]
    Name {
        key: String,
        found: String,
        expected: String,
    },
    #[error(
        "the file's metadata.namespace is `{found}`, but `{key}` is in namespace `{expected}`"
    )]
    Namespace {
        key: String,
        found: String,
        expected: String,
    },
}

fn shown(name: &str) -> String {
    if name.is_empty() {
        "missing".into()
    } else {
        format!("`{name}`")
    }
}

/// Whether `object` (`kind` as the file says) may be written at `key`:
/// the kind the key's type stores (`expected_kind`, when known), and for
/// objects in the Kubernetes layout the name and namespace the key names.
/// A file without a namespace is written to the key's namespace, as
/// kube-apiserver fills it from the request.
pub fn check_place(
    object: &Value,
    kind: &str,
    key: &str,
    prefix: &str,
    expected_kind: Option<&str>,
) -> Result<(), Misplaced> {
    if let Some(expected) = expected_kind.filter(|k| !k.is_empty() && *k != kind) {
        return Err(Misplaced::Kind {
            key: key.to_string(),
            found: kind.to_string(),
            expected: expected.to_string(),
        });
    }
    let info = registry::key::parse(key.as_bytes(), prefix);
    use registry::key::KeyKind;
    if !matches!(info.kind, KeyKind::Builtin | KeyKind::Custom) || info.name.is_empty() {
        return Ok(());
    }
    let meta = |field: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = meta("name");
    if name != info.name {
        return Err(Misplaced::Name {
            key: key.to_string(),
            found: name,
            expected: info.name.to_string(),
        });
    }
    let namespace = meta("namespace");
    match info.namespace {
        Some(ns) if !namespace.is_empty() && namespace != ns => Err(Misplaced::Namespace {
            key: key.to_string(),
            found: namespace,
            expected: ns.to_string(),
        }),
        _ => Ok(()),
    }
}

/// What a write based on revision `expected` meets in etcd now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The key is where the edit started: write, guarded by its revision.
    Unchanged { revision: i64 },
    /// The key does not exist and the edit did not come from a read of it:
    /// create, guarded by its absence.
    Create,
    /// The edit names no revision but the key exists: nothing says whether
    /// it changed since the edit started.
    NoRevision { current: i64 },
    /// The key was written since revision `expected`.
    Changed { expected: i64, current: i64 },
    /// The edit started from revision `expected` (or from absence, 0);
    /// the key is gone now.
    Deleted { expected: i64 },
}

/// Compare the revision an edit is based on (`None`: not known; `Some(0)`:
/// the key must not exist, as etcd's own mod revision 0 means) with the
/// key's mod revision now (`None`: absent).
pub fn precondition(expected: Option<i64>, current: Option<i64>) -> Precondition {
    match (expected, current) {
        (None | Some(0), None) => Precondition::Create,
        (None, Some(current)) => Precondition::NoRevision { current },
        (Some(expected), None) => Precondition::Deleted { expected },
        (Some(expected), Some(current)) if expected == current => {
            Precondition::Unchanged { revision: current }
        }
        (Some(expected), Some(current)) => Precondition::Changed { expected, current },
    }
}

/// Hide Secret data in a diff: changed `data` and `stringData` values show
/// as `<redacted N bytes>`, so a changed password is seen to change without
/// being shown.
pub fn redact_secret_changes(diff: &mut Diff, kind: &str) {
    if kind != "Secret" {
        return;
    }
    for change in &mut diff.changes {
        let FieldChange { path, old, new } = change;
        let base64 = if is_under(path, "data") {
            true
        } else if is_under(path, "stringData") {
            false
        } else {
            continue;
        };
        for v in [old, new].into_iter().flatten() {
            *v = redact(v, base64);
        }
    }
}

fn is_under(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn redact(v: &Value, base64: bool) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v, base64)))
                .collect::<Map<_, _>>(),
        ),
        Value::String(s) => {
            use base64::Engine as _;
            let n = if base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_or(s.len(), |b| b.len())
            } else {
                s.len()
            };
            Value::String(format!("<redacted {n} bytes>"))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::diff::diff;
    use serde_json::json;

    #[test]
    fn taking_the_resource_version_removes_it_and_parses_it() {
        let mut obj = json!({"metadata": {"name": "web", "resourceVersion": "42"}});
        assert_eq!(take_resource_version(&mut obj), Ok(Some(42)));
        assert_eq!(obj, json!({"metadata": {"name": "web"}}));
        assert_eq!(take_resource_version(&mut obj), Ok(None));

        let mut empty = json!({"metadata": {"resourceVersion": ""}});
        assert_eq!(take_resource_version(&mut empty), Ok(None));
        let mut number = json!({"metadata": {"resourceVersion": 9}});
        assert_eq!(take_resource_version(&mut number), Ok(Some(9)));
        for bad in [json!("abc"), json!("0"), json!("-3"), json!(true)] {
            let mut obj = json!({"metadata": {"resourceVersion": bad}});
            assert!(take_resource_version(&mut obj).is_err(), "{obj}");
        }
    }

    #[test]
    fn an_object_is_written_only_at_its_own_key() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "web-0", "namespace": "shop"}});
        let key = "/registry/pods/shop/web-0";
        assert_eq!(
            check_place(&pod, "Pod", key, "/registry", Some("Pod")),
            Ok(())
        );
        let bare = json!({"kind": "Pod", "metadata": {"name": "web-0"}});
        assert_eq!(
            check_place(&bare, "Pod", key, "/registry", Some("Pod")),
            Ok(())
        );
        assert!(matches!(
            check_place(
                &pod,
                "Pod",
                "/registry/deployments/shop/web-0",
                "/registry",
                Some("Deployment")
            ),
            Err(Misplaced::Kind { .. })
        ));
        assert!(matches!(
            check_place(
                &pod,
                "Pod",
                "/registry/pods/shop/web-1",
                "/registry",
                Some("Pod")
            ),
            Err(Misplaced::Name { .. })
        ));
        assert!(matches!(
            check_place(
                &pod,
                "Pod",
                "/registry/pods/default/web-0",
                "/registry",
                Some("Pod")
            ),
            Err(Misplaced::Namespace { .. })
        ));
        let nameless = json!({"kind": "Pod", "metadata": {}});
        let e = check_place(&nameless, "Pod", key, "/registry", Some("Pod")).unwrap_err();
        assert!(e.to_string().contains("metadata.name is missing"), "{e}");
        // Outside the layout nothing names the object.
        assert_eq!(
            check_place(&pod, "Pod", "/elsewhere/x", "/registry", None),
            Ok(())
        );
    }

    #[test]
    fn a_write_goes_ahead_only_from_the_revision_it_was_based_on() {
        use Precondition::*;
        assert_eq!(precondition(Some(5), Some(5)), Unchanged { revision: 5 });
        assert_eq!(
            precondition(Some(5), Some(9)),
            Changed {
                expected: 5,
                current: 9
            }
        );
        assert_eq!(precondition(None, Some(9)), NoRevision { current: 9 });
        assert_eq!(precondition(Some(5), None), Deleted { expected: 5 });
        assert_eq!(precondition(None, None), Create);
        assert_eq!(precondition(Some(0), None), Create);
        assert_eq!(
            precondition(Some(0), Some(3)),
            Changed {
                expected: 0,
                current: 3
            }
        );
    }

    #[test]
    fn secret_changes_show_sizes_not_values() {
        let old = json!({"kind": "Secret", "data": {"password": "czNjcjN0"}, "type": "Opaque"});
        let new = json!({"kind": "Secret", "data": {"password": "bmV3LXBhc3N3b3Jk", "user": "YQ=="},
                         "type": "kubernetes.io/basic-auth"});
        let mut d = diff(&old, &new, false);
        redact_secret_changes(&mut d, "Secret");
        let lines: Vec<String> = d.changes.iter().map(FieldChange::render).collect();
        assert_eq!(
            lines,
            [
                "data.password: \"<redacted 6 bytes>\" -> \"<redacted 12 bytes>\"",
                "data.user: <none> -> \"<redacted 1 bytes>\"",
                "type: Opaque -> kubernetes.io/basic-auth",
            ]
        );
        let mut whole = diff(&json!({}), &json!({"stringData": {"k": "secret"}}), false);
        redact_secret_changes(&mut whole, "Secret");
        assert_eq!(
            whole.changes[0].render(),
            r#"stringData: <none> -> {"k":"<redacted 6 bytes>"}"#
        );
        let mut cm = diff(
            &json!({"data": {"k": "a"}}),
            &json!({"data": {"k": "b"}}),
            false,
        );
        redact_secret_changes(&mut cm, "ConfigMap");
        assert_eq!(cm.changes[0].render(), "data.k: a -> b");
    }
}
