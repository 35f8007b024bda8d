//! A compact, field-level diff between two versions of a decoded object
//! (`spec.replicas: 3 -> 5`), for `watch`.
//!
//! Pure: values in, changes out. Fields that change on every write and say
//! nothing about intent (`metadata.resourceVersion`, `metadata.managedFields`,
//! generation counters) are counted as hidden unless asked for.

use serde_json::Value;

/// Paths hidden unless `--all-fields`; a path hides everything below it.
const NOISE: &[&[&str]] = &[
    &["metadata", "resourceVersion"],
    &["metadata", "managedFields"],
    &["metadata", "generation"],
    &[
        "metadata",
        "annotations",
        "kubectl.kubernetes.io/last-applied-configuration",
    ],
    &["status", "observedGeneration"],
];

/// Longest rendering of one value before it is cut with `…`.
const MAX_VALUE_CHARS: usize = 80;

/// One field that differs. `None` means absent on that side.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// `spec.replicas`, `metadata.labels["app.kubernetes.io/name"]`,
    /// `spec.template.spec.containers[0].image`.
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// What changed between two versions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub changes: Vec<FieldChange>,
    /// Changed fields left out as noise.
    pub hidden: usize,
}

/// The fields that differ from `old` to `new`, leaves first in document
/// order. Objects are compared key by key, arrays index by index.
pub fn diff(old: &Value, new: &Value, all_fields: bool) -> Diff {
    let mut out = Diff::default();
    let mut path = Vec::new();
    walk(Some(old), Some(new), &mut path, all_fields, &mut out);
    out
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn walk<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    path: &mut Vec<Seg<'a>>,
    all_fields: bool,
    out: &mut Diff,
) {
    if old == new {
        return;
    }
    if !all_fields && is_noise(path) {
        out.hidden += 1;
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (k, va) in a {
                path.push(Seg::Key(k));
                walk(Some(va), b.get(k), path, all_fields, out);
                path.pop();
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    path.push(Seg::Key(k));
                    walk(None, Some(vb), path, all_fields, out);
                    path.pop();
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                path.push(Seg::Index(i));
                walk(a.get(i), b.get(i), path, all_fields, out);
                path.pop();
            }
        }
        _ => out.changes.push(FieldChange {
            path: render_path(path),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
}

fn is_noise(path: &[Seg<'_>]) -> bool {
    NOISE.iter().any(|noise| {
        path.len() >= noise.len()
            && noise
                .iter()
                .zip(path)
                .all(|(n, s)| matches!(s, Seg::Key(k) if k == n))
    })
}

fn render_path(path: &[Seg<'_>]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if is_plain(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Key(k) => {
                s.push('[');
                s.push_str(&Value::String(k.to_string()).to_string());
                s.push(']');
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn is_plain(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One value as the diff line shows it: scalars bare, strings unquoted
/// unless that would be ambiguous, objects and arrays as compact JSON; long
/// values cut.
pub fn short(v: Option<&Value>) -> String {
    let text = match v {
        None => return "<none>".into(),
        Some(Value::String(s)) if is_bare(s) => s.clone(),
        Some(v) => v.to_string(),
    };
    if text.chars().count() > MAX_VALUE_CHARS {
        let cut: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Whether a string can be shown without quotes and still read as a string.
fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(|c: char| c.is_whitespace() || c == ';' || c == '"' || c.is_control())
        && !s.contains("->")
        && !matches!(s, "null" | "true" | "false" | "<none>")
        && s.parse::<f64>().is_err()
}

impl FieldChange {
    /// `path: old -> new`.
    pub fn render(&self) -> String {
        format!(
            "{}: {} -> {}",
            self.path,
            short(self.old.as_ref()),
            short(self.new.as_ref())
        )
    }
}

impl Diff {
    /// The whole diff on one line, at most `max` changes, `; `-separated.
    pub fn render(&self, max: usize) -> String {
        if self.changes.is_empty() {
            return match self.hidden {
                0 => "(no change)".into(),
                n => format!("(only {n} metadata field(s) changed; --all-fields shows them)"),
            };
        }
        let mut parts: Vec<String> = self
            .changes
            .iter()
            .take(max)
            .map(FieldChange::render)
            .collect();
        if self.changes.len() > max {
            parts.push(format!("… {} more", self.changes.len() - max));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(d: &Diff) -> Vec<String> {
        d.changes.iter().map(FieldChange::render).collect()
    }

    #[test]
    fn a_scale_change_is_one_field_and_metadata_noise_is_hidden() {
        let old = json!({
            "metadata": {"name": "web", "generation": 1, "resourceVersion": "10",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"replicas": 3},
        });
        let new = json!({
            "metadata": {"name": "web", "generation": 2, "resourceVersion": "11",
                         "managedFields": [{"manager": "kubectl"}, {"manager": "hpa"}]},
            "spec": {"replicas": 5},
        });
        let d = diff(&old, &new, false);
        assert_eq!(lines(&d), vec!["spec.replicas: 3 -> 5"]);
        assert_eq!(d.hidden, 3);
        assert_eq!(d.render(10), "spec.replicas: 3 -> 5");

        let all = diff(&old, &new, true);
        assert_eq!(all.hidden, 0);
        assert_eq!(
            lines(&all),
            vec![
                "metadata.generation: 1 -> 2",
                r#"metadata.resourceVersion: "10" -> "11""#,
                r#"metadata.managedFields[1]: <none> -> {"manager":"hpa"}"#,
                "spec.replicas: 3 -> 5",
            ]
        );
    }

    #[test]
    fn added_and_removed_fields_show_none_and_odd_keys_are_quoted() {
        let old = json!({"metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        let new = json!({"metadata": {"labels": {"tier": "db"}}, "spec": {"paused": true}});
        let d = diff(&old, &new, false);
        assert_eq!(
            lines(&d),
            vec![
                r#"metadata.labels["app.kubernetes.io/name"]: web -> <none>"#,
                "metadata.labels.tier: <none> -> db",
                "spec: <none> -> {\"paused\":true}",
            ]
        );
    }

    #[test]
    fn arrays_compare_by_index_down_to_the_leaf() {
        let old = json!({"spec": {"containers": [{"name": "main", "image": "app:v1"}]}});
        let new = json!({"spec": {"containers": [{"name": "main", "image": "app:v2"},
                                                 {"name": "side", "image": "proxy"}]}});
        let d = diff(&old, &new, false);
        assert_eq!(
            lines(&d),
            vec![
                "spec.containers[0].image: app:v1 -> app:v2",
                r#"spec.containers[1]: <none> -> {"name":"side","image":"proxy"}"#,
            ]
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_long_values_cut() {
        assert_eq!(short(Some(&json!("5"))), "\"5\"");
        assert_eq!(short(Some(&json!(5))), "5");
        assert_eq!(short(Some(&json!("true"))), "\"true\"");
        assert_eq!(short(Some(&json!("a b"))), "\"a b\"");
        assert_eq!(short(Some(&json!(""))), "\"\"");
        assert_eq!(short(Some(&Value::Null)), "null");
        let long = short(Some(&json!("x".repeat(500))));
        assert_eq!(long.chars().count(), MAX_VALUE_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn equal_objects_and_noise_only_changes_say_so() {
        let v = json!({"spec": {"replicas": 1}});
        assert_eq!(diff(&v, &v, false).render(10), "(no change)");
        let a = json!({"metadata": {"generation": 1}});
        let b = json!({"metadata": {"generation": 2}});
        assert_eq!(
            diff(&a, &b, false).render(10),
            "(only 1 metadata field(s) changed; --all-fields shows them)"
        );
    }

    #[test]
    fn long_diffs_are_capped_with_a_count() {
        let old = json!({"a": 1, "b": 1, "c": 1});
        let new = json!({"a": 2, "b": 2, "c": 2});
        assert_eq!(
            diff(&old, &new, false).render(2),
            "a: 1 -> 2; b: 1 -> 2; … 1 more"
        );
    }
}
