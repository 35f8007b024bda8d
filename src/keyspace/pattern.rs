//! What `search` matches keys and decoded objects with: a substring, a
//! glob or a regular expression. Pure: no I/O.
//!
//! The rule, also in `search --help`:
//!
//! - a key matches when the pattern matches the whole key, its
//!   `namespace/name` or its name: a substring or regex anywhere in it, a
//!   glob (`*`, `?`, `[abc]`; `*` also crosses `/`) the whole of it;
//! - with `--values`, an object matches when the pattern matches one of its
//!   scalar fields, written as the value (`nginx:1.25`), as `field=value`
//!   (`app=nginx`, so label selectors work) or as JSON (`"app":"nginx"`).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use memchr::memmem::Finder;
use regex::bytes::Regex;
use registry::key::KeyInfo;
use serde_json::Value;

use super::error::{Error, Result};

/// A compiled search pattern.
#[derive(Debug)]
pub enum Pattern {
    Substring(Finder<'static>),
    Glob(GlobMatcher),
    Regex(Regex),
}

/// A bad regex on one line: regex draws the pattern and a caret over
/// several; its parser says what and where as data.
fn regex_error(text: &str, err: &regex::Error) -> Error {
    let parsed = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(text);
    let why = match parsed {
        Err(regex_syntax::Error::Parse(e)) => {
            format!("{} (at character {})", e.kind(), e.span().start.column)
        }
        Err(regex_syntax::Error::Translate(e)) => {
            format!("{} (at character {})", e.kind(), e.span().start.column)
        }
        // Parsed, yet refused: too big once compiled, which regex says in
        // one line.
        _ => err.to_string().replace('\n', " "),
    };
    Error::BadRegex {
        pattern: text.escape_debug().to_string(),
        why,
    }
}

/// Whether a pattern is a glob rather than a plain substring.
pub fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

impl Pattern {
    pub fn new(text: &str, regex: bool) -> Result<Pattern> {
        if text.is_empty() {
            return Err(Error::EmptyPattern);
        }
        if regex {
            return Regex::new(text)
                .map(Pattern::Regex)
                .map_err(|e| regex_error(text, &e));
        }
        if is_glob(text) {
            return GlobBuilder::new(text)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| Pattern::Glob(g.compile_matcher()))
                .map_err(|e| Error::BadGlob {
                    pattern: text.to_string(),
                    cause: e,
                });
        }
        Ok(Pattern::Substring(
            Finder::new(text.as_bytes()).into_owned(),
        ))
    }

    /// Whether `hay` matches: a substring or regex anywhere, a glob whole.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        match self {
            Pattern::Substring(f) => f.find(hay).is_some(),
            Pattern::Regex(r) => r.is_match(hay),
            Pattern::Glob(g) => g.is_match(Path::new(OsStr::from_bytes(hay))),
        }
    }

    /// What every match of a glob starts with: its text up to the first
    /// special character (`*?[{` or a `\\` escape); "" for a substring or a
    /// regex, which may match anywhere.
    pub fn literal_prefix(&self) -> &str {
        match self {
            Pattern::Glob(g) => {
                let text = g.glob().glob();
                let end = text.find(['*', '?', '[', '{', '\\']).unwrap_or(text.len());
                &text[..end]
            }
            _ => "",
        }
    }

    /// A cheap first test on the raw key, before it is parsed: false only
    /// when no part of the key can match.
    pub fn may_match_key(&self, key: &[u8]) -> bool {
        match self {
            // Every part of a key is a substring of it.
            Pattern::Substring(f) => f.find(key).is_some(),
            _ => true,
        }
    }

    /// Whether a key matches: the whole key, `namespace/name` or name.
    pub fn matches_key(&self, info: &KeyInfo<'_>) -> bool {
        if self.is_match(info.key) {
            return true;
        }
        if let Pattern::Substring(_) = self {
            return false;
        }
        if let Some(ns) = info.namespace {
            // `namespace/name` is the key's tail: no copy needed.
            let tail = ns.len() + 1 + info.name.len();
            if info.key.len() >= tail && self.is_match(&info.key[info.key.len() - tail..]) {
                return true;
            }
        }
        !info.name.is_empty() && self.is_match(info.name.as_bytes())
    }

    /// The path of the first scalar field of `value` that matches
    /// (`metadata.labels.app`, `spec.containers[0].image`), if any.
    pub fn find_in_value(&self, value: &Value) -> Option<String> {
        let mut path = String::new();
        let mut buf = String::new();
        self.walk(value, None, &mut path, &mut buf).then_some(path)
    }

    fn walk(&self, v: &Value, field: Option<&str>, path: &mut String, buf: &mut String) -> bool {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let len = path.len();
                    if k.contains(['.', '/', '[', ']', ' ']) {
                        let _ = write!(path, "[{}]", Value::String(k.clone()));
                    } else {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(k);
                    }
                    if self.walk(child, Some(k), path, buf) {
                        return true;
                    }
                    path.truncate(len);
                }
                false
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    if self.walk(child, field, path, buf) {
                        return true;
                    }
                    path.truncate(len);
                }
                false
            }
            Value::Null => false,
            scalar => self.scalar_matches(scalar, field, buf),
        }
    }

    fn scalar_matches(&self, v: &Value, field: Option<&str>, buf: &mut String) -> bool {
        buf.clear();
        match v {
            Value::String(s) => buf.push_str(s),
            other => {
                let _ = write!(buf, "{other}");
            }
        }
        if self.is_match(buf.as_bytes()) {
            return true;
        }
        let Some(field) = field else {
            return false;
        };
        let text = std::mem::take(buf);
        let _ = write!(buf, "{field}={text}");
        let hit = self.is_match(buf.as_bytes()) || {
            buf.clear();
            let _ = write!(buf, "{}:{v}", Value::String(field.to_string()));
            self.is_match(buf.as_bytes())
        };
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> KeyInfo<'_> {
        registry::key::parse(k.as_bytes(), "/registry")
    }

    #[test]
    fn substring_glob_and_regex_match_key_namespace_name_or_name() {
        let k = key("/registry/pods/default/web-0");
        assert!(Pattern::new("default/web", false).unwrap().matches_key(&k));
        assert!(!Pattern::new("kube-system", false).unwrap().matches_key(&k));
        assert!(Pattern::new("web-?", false).unwrap().matches_key(&k));
        assert!(Pattern::new("default/web-*", false)
            .unwrap()
            .matches_key(&k));
        assert!(Pattern::new("/registry/pods/*", false)
            .unwrap()
            .matches_key(&k));
        assert!(!Pattern::new("web", false).unwrap().is_match(b"x"));
        assert!(!Pattern::new("db-*", false).unwrap().matches_key(&k));
        assert!(Pattern::new("^default/web-[0-9]$", true)
            .unwrap()
            .matches_key(&k));
        assert!(Pattern::new("^web-0$", true).unwrap().matches_key(&k));
        assert!(!Pattern::new("^pods", true).unwrap().matches_key(&k));
    }

    #[test]
    fn a_glob_pins_its_text_up_to_the_first_special_character() {
        let lit = |p: &str, re: bool| Pattern::new(p, re).unwrap().literal_prefix().to_string();
        assert_eq!(lit("ns-2/pod-42*", false), "ns-2/pod-42");
        assert_eq!(lit("web-?", false), "web-");
        assert_eq!(lit("a[bc]d", false), "a");
        assert_eq!(lit("x{a,b}*", false), "x");
        assert_eq!(lit("a\\*b*", false), "a");
        assert_eq!(lit("*web", false), "");
        // A substring or regex may match anywhere.
        assert_eq!(lit("web", false), "");
        assert_eq!(lit("^web", true), "");
    }

    #[test]
    fn bad_patterns_are_usage_errors() {
        assert!(Pattern::new("(", true).is_err());
        assert!(Pattern::new("[a", false).is_err());
        assert!(Pattern::new("", false).is_err());
    }

    #[test]
    fn values_match_as_value_field_equals_value_or_json() {
        let obj = json!({
            "metadata": {"name": "web", "labels": {"app": "nginx", "app.kubernetes.io/part-of": "shop"}},
            "spec": {"replicas": 3, "containers": [{"name": "main", "image": "nginx:1.25"}]}
        });
        let find = |p: &str, re: bool| Pattern::new(p, re).unwrap().find_in_value(&obj);
        assert_eq!(
            find("app=nginx", false).as_deref(),
            Some("metadata.labels.app")
        );
        assert_eq!(
            find("\"app\":\"nginx\"", false).as_deref(),
            Some("metadata.labels.app")
        );
        assert_eq!(
            find("nginx:1.*", false).as_deref(),
            Some("spec.containers[0].image")
        );
        assert_eq!(find("replicas=3", false).as_deref(), Some("spec.replicas"));
        assert_eq!(
            find("^shop$", true).as_deref(),
            Some("metadata.labels[\"app.kubernetes.io/part-of\"]")
        );
        assert_eq!(find("apache", false), None);
    }
}
