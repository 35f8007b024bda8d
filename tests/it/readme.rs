//! README.md is the contract: the JSON field lists under "JSON output" are
//! parsed and compared with the real output of each command on a real
//! cluster. A field documented but not printed, or printed but not
//! documented, fails here.
//!
//! The README's notation: `{"a", "b"?, "c": VALUE}` is an object whose keys
//! are exactly `a`, `b` (optional) and `c`; `[X]` is an array of X (the test
//! checks every element); quoted values after `:` (`"ok|warn"`), `null | {..}`
//! alternatives and bare words (`[SPACE]`) describe values and are checked
//! where they are objects; `as CMD's KEY` is the shape of KEY in CMD's
//! documented JSON (`[as defrag's members]`: each element as an element of
//! defrag's `members`); `...` among an object's keys says it has more,
//! named elsewhere (the listed ones are still required).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, plugin, stderr, stdout};
use crate::support::{Cluster, ClusterOpts};

/// The shape of a documented value.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// Keys with their optional flag and nested shape.
    Object(Vec<(String, bool, Shape)>),
    Array(Box<Shape>),
    /// `as CMD's KEY`: the shape of KEY in `CMD -o json`, resolved by
    /// [`documented`].
    As {
        command: String,
        key: String,
    },
    /// Anything else: a scalar, an alternative, a word standing for a shape
    /// documented elsewhere.
    Any,
}

/// The key standing for `...` in an object: other keys may be printed.
const OPEN: &str = "...";

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn string(&mut self) -> String {
        assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let start = self.i;
        while self.s[self.i] != b'"' {
            self.i += 1;
        }
        let out = String::from_utf8(self.s[start..self.i].to_vec()).unwrap();
        self.i += 1;
        out
    }

    /// A value: object, array, string, or a run of other characters up to
    /// the `,`, `}` or `]` that ends it (alternatives with `|` included).
    fn value(&mut self) -> Shape {
        let shape = match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => {
                self.i += 1;
                let inner = self.value();
                assert_eq!(self.peek(), Some(b']'), "unclosed [ at {}", self.i);
                self.i += 1;
                Shape::Array(Box::new(inner))
            }
            Some(b'"') => {
                self.string();
                Shape::Any
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.s.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b'{' | b'"') {
                        break;
                    }
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).unwrap().trim();
                match word.strip_prefix("as ").and_then(|w| w.split_once("'s ")) {
                    Some((command, key)) => Shape::As {
                        command: command.to_owned(),
                        key: key.to_owned(),
                    },
                    None => Shape::Any,
                }
            }
        };
        // `null | {...}`: the object alternative is the shape to check.
        if self.peek() == Some(b'|') {
            self.i += 1;
            let other = self.value();
            return match (shape, other) {
                (Shape::Any, o) => o,
                (s, _) => s,
            };
        }
        if let (Shape::Any, Some(b'{')) = (&shape, self.peek()) {
            return self.value();
        }
        shape
    }

    fn object(&mut self) -> Shape {
        assert_eq!(self.peek(), Some(b'{'));
        self.i += 1;
        let mut keys = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Shape::Object(keys);
                }
                Some(b',') => self.i += 1,
                // `{"action", ..., "done"}`: more keys, named elsewhere.
                Some(b'.') if self.s[self.i..].starts_with(b"...") => {
                    self.i += 3;
                    keys.push((OPEN.to_owned(), true, Shape::Any));
                }
                Some(b'"') => {
                    let name = self.string();
                    let mut optional = false;
                    if self.peek() == Some(b'?') {
                        self.i += 1;
                        optional = true;
                    }
                    let shape = if self.peek() == Some(b':') {
                        self.i += 1;
                        self.value()
                    } else {
                        Shape::Any
                    };
                    keys.push((name, optional, shape));
                }
                other => panic!(
                    "README JSON notation: unexpected {:?} at {} in {}",
                    other.map(char::from),
                    self.i,
                    String::from_utf8_lossy(self.s)
                ),
            }
        }
    }
}

fn parse(spec: &str) -> Shape {
    let mut p = Parser {
        s: spec.as_bytes(),
        i: 0,
    };
    p.value()
}

/// The text of README's `## TITLE` section, up to the next `## `.
fn section(title: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .split(&format!("\n## {title}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has no `## {title}` section"));
    start.split("\n## ").next().unwrap().to_owned()
}

/// Every documented shape of a command, from README's "JSON output": the
/// backticked command names the entry, each `{...}` after it is one shape.
pub(crate) fn documented(entry: &str) -> Vec<Shape> {
    let section = section("JSON output");
    let wanted = format!("- `{entry}`");
    let line = section
        .lines()
        .find(|l| l.starts_with(&wanted))
        .unwrap_or_else(|| panic!("README documents no JSON for `{entry}`"));
    // Shapes are in backticks after the command: `{...}`.
    // "`X` adds `"key": {...}`": X's shapes with that key added.
    if let Some(added) = line.split(" adds ").nth(1) {
        let extra = added.split('`').nth(1).expect("adds `...`");
        let Shape::Object(extra) = parse(&format!("{{{extra}}}")) else {
            unreachable!()
        };
        let parent = entry.split(" --").next().unwrap().to_owned() + " -o json";
        return documented(&parent)
            .into_iter()
            .map(|s| match s {
                Shape::Object(mut keys) => {
                    keys.extend(extra.iter().cloned());
                    Shape::Object(keys)
                }
                other => other,
            })
            .collect();
    }
    // Backticked shapes, each with the text before it. "with WORD `{...}`"
    // defines WORD: it stands for that object wherever the shapes name it.
    let parts: Vec<&str> = line.split('`').collect();
    let mut defs = Vec::new();
    let mut shapes = Vec::new();
    for pair in parts.chunks(2).filter(|p| p.len() == 2) {
        let (before, code) = (pair[0], pair[1]);
        if !(code.starts_with('{') || code.starts_with('[')) {
            continue;
        }
        match before.trim_end().rsplit_once(" with ") {
            Some((_, word)) if word.len() > 2 && word.chars().all(|c| c.is_ascii_uppercase()) => {
                defs.push((word.to_owned(), code.to_owned()))
            }
            _ => shapes.push(code.to_owned()),
        }
    }
    shapes
        .iter()
        .map(|code| {
            let mut code = code.clone();
            for (word, def) in &defs {
                let whole = regex::Regex::new(&format!(r"\b{word}\b")).unwrap();
                code = whole.replace_all(&code, def.as_str()).into_owned();
            }
            resolve(parse(&code))
        })
        .collect()
}

/// `shape` with every `as CMD's KEY` replaced by the shape README documents
/// for KEY in `CMD -o json` (the first of CMD's shapes that has KEY).
fn resolve(shape: Shape) -> Shape {
    match shape {
        Shape::As { command, key } => {
            let entry = format!("{command} -o json");
            documented(&entry)
                .into_iter()
                .find_map(|s| match s {
                    Shape::Object(keys) => keys.into_iter().find(|(k, _, _)| *k == key),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("README: `{entry}` documents no `{key}`"))
                .2
        }
        Shape::Array(inner) => match resolve(*inner) {
            // `[as defrag's members]`: an element of that array.
            Shape::Array(element) => Shape::Array(element),
            other => Shape::Array(Box::new(other)),
        },
        Shape::Object(keys) => Shape::Object(
            keys.into_iter()
                .map(|(k, optional, s)| (k, optional, resolve(s)))
                .collect(),
        ),
        Shape::Any => Shape::Any,
    }
}

/// Compares `v` with `shape`; differences are pushed as `path: problem`.
pub(crate) fn check(shape: &Shape, v: &Value, path: &str, problems: &mut Vec<String>) {
    match (shape, v) {
        (Shape::Any, _) | (_, Value::Null) => {}
        (Shape::As { command, key }, _) => {
            problems.push(format!("{path}: `as {command}'s {key}` not resolved"))
        }
        (Shape::Array(inner), Value::Array(items)) => {
            for item in items {
                check(inner, item, &format!("{path}[]"), problems);
            }
        }
        (Shape::Object(keys), Value::Object(map)) => {
            let doc: BTreeSet<&str> = keys.iter().map(|(k, _, _)| k.as_str()).collect();
            for (k, optional, inner) in keys {
                match map.get(k) {
                    _ if k == OPEN => {}
                    Some(child) => check(inner, child, &format!("{path}.{k}"), problems),
                    None if *optional => {}
                    None => problems.push(format!("{path}.{k}: documented, not printed")),
                }
            }
            for k in map.keys() {
                // README: "field names are camelCase" (also where `...`
                // leaves the names open).
                if k.contains('_') || k.contains('-') {
                    problems.push(format!("{path}.{k}: not camelCase"));
                }
                if !doc.contains(k.as_str()) && !doc.contains(OPEN) {
                    problems.push(format!("{path}.{k}: printed, not documented"));
                }
            }
        }
        (s, v) => problems.push(format!("{path}: documented as {s:?}, printed {v}")),
    }
}

/// Runs `args` and checks its JSON (a document, or one per line) against
/// the shapes README documents for `entry`: each output must fit one.
/// Returns the differences, deduplicated.
fn differences(c: &Cluster, entry: &str, args: &[&str]) -> BTreeSet<String> {
    differences_exiting(c, entry, args, &[0, 1])
}

/// [`differences`] for a run whose exit code is one of `codes` (a refusal
/// still prints its document).
fn differences_exiting(c: &Cluster, entry: &str, args: &[&str], codes: &[i32]) -> BTreeSet<String> {
    let mut cmd = plugin();
    cmd.arg("--endpoints").arg(c.endpoints()).args(args);
    let o = cmd.output().unwrap();
    assert!(
        codes.contains(&code(&o)),
        "{entry}: exit {}: {}",
        code(&o),
        stderr(&o)
    );
    output_differences(entry, &o)
}

/// The differences between the JSON `o` printed (a document, or one per
/// line) and the shapes README documents for `entry`: each document must
/// fit one. For tests elsewhere that have the output at hand (a cluster
/// in NOSPACE, one that lost quorum).
pub(crate) fn output_differences(entry: &str, o: &std::process::Output) -> BTreeSet<String> {
    let shapes = documented(entry);
    assert!(!shapes.is_empty(), "README gives no shape for `{entry}`");
    let text = stdout(o);
    let docs: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{entry}: not JSON ({e}): {l}\n{}", stderr(o)))
            })
            .collect(),
    };
    assert!(!docs.is_empty(), "{entry}: printed nothing: {}", stderr(o));
    let mut all = BTreeSet::new();
    for doc in &docs {
        let mut best: Option<Vec<String>> = None;
        for shape in &shapes {
            let mut problems = Vec::new();
            check(shape, doc, entry, &mut problems);
            if best.as_ref().is_none_or(|b| problems.len() < b.len()) {
                best = Some(problems);
            }
        }
        all.extend(best.unwrap());
    }
    all
}

/// Asserts that `o`'s JSON is what README documents for `entry`.
pub(crate) fn assert_documented(entry: &str, o: &std::process::Output) {
    let problems = output_differences(entry, o);
    assert!(
        problems.is_empty(),
        "JSON output differs from README.md:\n  {}",
        problems.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

fn put(c: &Cluster, o: &objects::Object) {
    let out = c.ctl().stdin(o.value.clone()).run(&["put", &o.key]);
    assert_eq!(out.status.code(), Some(0), "put {}", o.key);
}

/// Puts `o` attached to a new lease of `ttl` seconds; returns the lease id.
fn put_on_lease(c: &Cluster, o: &objects::Object, ttl: &str) -> String {
    let lease = c.ctl().ok(&["lease", "grant", ttl]);
    let id = lease
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_owned();
    let out = c
        .ctl()
        .stdin(o.value.clone())
        .run(&["put", &o.key, &format!("--lease={id}")]);
    assert_eq!(out.status.code(), Some(0), "put {}", o.key);
    id
}

#[test]
fn the_readme_notation_parses_as_documented() {
    let open = parse(r#"{"a", ..., "b"}"#);
    let mut problems = Vec::new();
    check(
        &open,
        &serde_json::json!({"a": 1, "b": 2, "z": 3}),
        "o",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    check(
        &open,
        &serde_json::json!({"a": 1, "z": 3}),
        "o",
        &mut problems,
    );
    assert_eq!(problems, ["o.b: documented, not printed"]);
    problems.clear();
    let snake = serde_json::json!({"a": 1, "b": 2, "peer_urls": []});
    check(&open, &snake, "o", &mut problems);
    assert_eq!(problems, ["o.peer_urls: not camelCase"]);
    let s = parse(r#"{"a", "b"?, "c": [{"d", "e": "x|y"}], "f": null | {"g"}}"#);
    // "with ROW `{...}`" is resolved by `documented`; `top` uses it.
    let top = documented("top -o json");
    assert_eq!(
        top.len(),
        1,
        "the definition is not an alternative: {top:?}"
    );
    let Shape::Object(keys) = &top[0] else {
        panic!("{top:?}")
    };
    let rows = keys.iter().find(|(k, _, _)| k == "rows").unwrap();
    assert!(
        matches!(&rows.2, Shape::Array(inner) if matches!(**inner, Shape::Object(_))),
        "ROW resolved: {rows:?}"
    );
    // "as defrag's members" is resolved to defrag's documented element:
    // recover-space's `defragmented[]` is checked field by field.
    let recover = documented("recover-space -o json");
    let mut problems = Vec::new();
    let run = serde_json::json!({
        "before": [], "compactedAt": 9, "disarmed": [], "after": [],
        "defragmented": [{"member": "m0", "id": "1", "dbSizeBefore": 1, "dbSizeAfter": 1,
            "reclaimed": 0, "tookMs": 1, "leaderMovedTo": null, "extra": 1}],
        "skipped": [{"member": "m1", "id": "2", "reason": "r", "dbSize": 1,
            "fragmentationPercent": 0.0}],
    });
    check(&recover[0], &run, "r", &mut problems);
    assert_eq!(
        problems,
        [
            "r.defragmented[].extra: printed, not documented",
            "r.skipped[].cause: documented, not printed",
        ]
    );
    let mut problems = Vec::new();
    let ok = serde_json::json!({"a": 1, "c": [{"d": 1, "e": "x"}], "f": {"g": 2}});
    check(&s, &ok, "t", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let bad = serde_json::json!({"a": 1, "c": [{"d": 1}, {"d": 1, "e": 2, "z": 3}], "f": {}});
    check(&s, &bad, "t", &mut problems);
    assert_eq!(
        problems,
        [
            "t.c[].e: documented, not printed",
            "t.c[].z: printed, not documented",
            "t.f.g: documented, not printed",
        ]
    );
}

#[test]
fn json_of_every_read_only_command_is_what_readme_documents() {
    let c = Cluster::start(ClusterOpts::members(3));
    put(&c, &objects::namespace("ns-a", 1));
    put(&c, &objects::pod("ns-a", "web-0", 2, 0));
    put(&c, &objects::configmap("ns-a", "conf", 3, 100));
    put(&c, &objects::secret("ns-a", "creds", 4, 0));
    put(&c, &objects::deployment("ns-a", "web", 5, 3, 0));
    put(&c, &objects::widget_crd());
    put(&c, &objects::widget("ns-a", "w1", 6, 0));
    let lease_id = put_on_lease(&c, &objects::event("ns-a", "ev-1", 7, 0), "600");

    let mut problems = BTreeSet::new();
    for (entry, args) in [
        ("status -o json", vec!["status", "-o", "json"]),
        ("members -o json", vec!["members", "-o", "json"]),
        ("health -o json", vec!["health", "-o", "json"]),
        ("size -o json", vec!["size", "-o", "json"]),
        ("count -o json", vec!["count", "-o", "json"]),
        (
            "count -o json",
            vec!["count", "--by-namespace", "-o", "json"],
        ),
        (
            "size --by-type -o json",
            vec!["size", "--by-type", "-o", "json"],
        ),
        (
            "size --history -o json",
            vec!["size", "--history", "-o", "json"],
        ),
        ("search -o json", vec!["search", "web*", "-o", "json"]),
        ("custom -o json", vec!["custom", "-o", "json"]),
        (
            "custom -o json",
            vec!["custom", "widgets.example.com", "-o", "json"],
        ),
        (
            "watch -o json",
            vec!["watch", "--rev", "1", "--count", "8", "-o", "json"],
        ),
        ("ls -o json", vec!["ls", "-o", "json"]),
        ("defrag -o json", vec!["defrag", "--dry-run", "-o", "json"]),
        ("alarm list -o json", vec!["alarm", "list", "-o", "json"]),
        ("version -o json", vec!["version", "-o", "json"]),
        (
            "doctor -o json",
            vec!["doctor", "--window", "1s", "--write-probe", "-o", "json"],
        ),
        (
            "history -o json",
            vec!["history", "pods/ns-a/web-0", "-o", "json", "--objects"],
        ),
        ("lease list -o json", vec!["lease", "list", "-o", "json"]),
        (
            "lease show -o json",
            vec!["lease", "show", &lease_id, "-o", "json"],
        ),
        (
            "top -o json",
            vec!["top", "--interval", "1s", "--count", "1", "-o", "json"],
        ),
        (
            "move-leader -o json",
            vec!["move-leader", "--dry-run", "-o", "json"],
        ),
    ] {
        problems.extend(differences(&c, entry, &args));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    let file = file.to_str().unwrap();
    let value = dir.path().join("pod.pb");
    std::fs::write(&value, &objects::pod("ns-a", "web-0", 2, 0).value).unwrap();
    let value = value.to_str().unwrap();
    for (entry, args) in [
        (
            "snapshot save|status -o json",
            vec!["snapshot", "save", file, "-o", "json"],
        ),
        (
            "snapshot save|status -o json",
            vec!["snapshot", "status", file, "-o", "json"],
        ),
        (
            "snapshot inspect -o json",
            vec!["snapshot", "inspect", file, "-o", "json"],
        ),
        (
            "snapshot inspect --history -o json",
            vec![
                "snapshot",
                "inspect",
                file,
                "--history",
                "pods/ns-a/web-0",
                "-o",
                "json",
                "--objects",
            ],
        ),
        (
            "snapshot inspect --history-size -o json",
            vec!["snapshot", "inspect", file, "--history-size", "-o", "json"],
        ),
        (
            "snapshot inspect --ls -o json",
            vec!["snapshot", "inspect", file, "--ls", "-o", "json"],
        ),
        (
            "restore -o json",
            vec!["restore", "--snapshot", file, "--dry-run", "-o", "json"],
        ),
        (
            "resize -o json",
            vec![
                "resize",
                "add",
                "m9",
                "--peer-urls",
                "http://127.0.0.1:1",
                "--dry-run",
                "-o",
                "json",
            ],
        ),
        (
            "decode --type-only -o json",
            vec!["decode", value, "--type-only", "-o", "json"],
        ),
        (
            "compact -o json",
            vec!["compact", "--dry-run", "-o", "json"],
        ),
    ] {
        problems.extend(differences(&c, entry, &args));
    }
    // defrag's outcome: every member skipped by a threshold (nothing is
    // written), and a refusal (no terminal to confirm on, exit 4), which
    // still prints its `stopped` object.
    let o = plugin()
        .args(["--endpoints", &c.endpoints()])
        .args(["defrag", "--yes", "--if-fragmented", "100", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Every member the table shows as skipped is in `skipped`, by cause.
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let causes: Vec<&Value> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["cause"])
        .collect();
    assert_eq!(causes, ["notFragmented"; 3], "{v}");
    problems.extend(output_differences("defrag -o json", &o));
    problems.extend(differences_exiting(
        &c,
        "defrag -o json",
        &["defrag", "--pause", "0s", "-o", "json"],
        &[4],
    ));
    // ...and a real run, whose `members` are the members defragmented.
    let o = plugin()
        .args(["--endpoints", &c.endpoints()])
        .args(["defrag", "--yes", "--pause", "0s", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["members"].as_array().map(Vec::len), Some(3), "{v}");
    problems.extend(output_differences("defrag -o json", &o));
    assert!(
        problems.is_empty(),
        "JSON output differs from README.md:\n  {}",
        problems.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

/// The cells of a table line: runs of two spaces or more separate them.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where a sample's table starts: its header, the first line without a
/// lowercase letter (`top` prints a title line and a blank line first).
fn header_at(lines: &[&str]) -> Option<usize> {
    lines
        .iter()
        .position(|l| !l.trim().is_empty() && !l.bytes().any(|b| b.is_ascii_lowercase()))
}

/// The shape of a sample: the header's cells, then the number of cells of
/// every later line (a header printed again is a line like any other).
fn table_shape(lines: &[&str]) -> (usize, Vec<String>, Vec<usize>) {
    let at = header_at(lines).unwrap_or(0);
    let rows = lines[at + 1..].iter().map(|l| cells(l).len()).collect();
    (at, cells(lines[at]), rows)
}

/// `cmd` run on a terminal (`script` gives it one): `top` draws its table
/// only there. Returns its output without the screen-clearing sequence
/// and the terminal's carriage returns.
fn on_a_terminal(cmd: &Command) -> (i32, String) {
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_str().unwrap()))
        .collect();
    let mut script = Command::new("script");
    script
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .env("NO_COLOR", "1");
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let o = script.output().expect("script(1) from util-linux");
    let text = stdout(&o).replace("\x1b[H\x1b[2J", "").replace('\r', "");
    (code(&o), text)
}

/// The keyspace of README's sample tables: namespace `shop` with a
/// ConfigMap, a Deployment scaled from 3 to 5 replicas, two Pods, a Widget
/// (with its CRD) and an Event on a lease.
fn sample_keyspace(c: &Cluster) {
    put(c, &objects::namespace("shop", 1));
    put(c, &objects::configmap("shop", "web-config", 2, 0));
    put(c, &objects::deployment("shop", "web", 3, 3, 0));
    put(c, &objects::pod("shop", "web-0", 4, 0));
    put(c, &objects::pod("shop", "web-1", 5, 0));
    put(c, &objects::widget_crd());
    put(c, &objects::widget("shop", "blue", 6, 0));
    put_on_lease(c, &objects::event("shop", "web-0.backoff", 7, 0), "3600");
    // Scaled by kubectl: spec.replicas only, with kubectl's managedFields
    // entry stamped a minute later.
    let web = objects::deployment("shop", "web", 3, 3, 0);
    let mut d = crate::support::etcdctl::decode_deployment(&web.value);
    d.spec.as_mut().unwrap().replicas = Some(5);
    let meta = d.metadata.as_mut().unwrap();
    let mut scaled = meta.managed_fields[0].clone();
    scaled.manager = Some("kubectl".into());
    scaled.time.as_mut().unwrap().seconds = scaled.time.as_ref().unwrap().seconds.map(|s| s + 60);
    meta.managed_fields.push(scaled);
    let value = objects::envelope("apps/v1", "Deployment", prost::Message::encode_to_vec(&d));
    let out = c.ctl().stdin(value).run(&["put", &web.key]);
    assert_eq!(out.status.code(), Some(0), "put {}", web.key);
}

/// A cluster whose database filled its quota (2 MiB), with the NOSPACE
/// alarm raised, then freed (keys deleted, compacted, defragmented): the
/// `alarm list` sample, an alarm still active whose cause is gone.
fn out_of_space() -> Cluster {
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(2 * 1024 * 1024),
        ..ClusterOpts::members(3)
    });
    c.fill_until_nospace();
    crate::support::wait_until(
        "the NOSPACE alarm",
        std::time::Duration::from_secs(20),
        || c.alarm_list().contains("NOSPACE"),
    );
    c.ctl().ok(&["del", "--prefix", "fill/"]);
    for args in [
        &["compact", "--yes"][..],
        &["defrag", "--yes", "--pause", "0s"],
    ] {
        let o = plugin()
            .args(["--endpoints", &c.endpoints()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    c
}

#[test]
fn the_sample_tables_show_the_headers_the_commands_print() {
    let section = section("Sample tables");
    let lines: Vec<&str> = section.lines().collect();
    let c = Cluster::start(ClusterOpts::members(3));
    sample_keyspace(&c);
    let mut samples = 0;
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line.strip_prefix("$ kubectl etcd ") else {
            continue;
        };
        samples += 1;
        // The sample runs to the next command or the end of its block;
        // blank lines inside it (top's title) belong to it.
        let mut shown: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
            .copied()
            .collect();
        while shown.last().is_some_and(|l| l.is_empty()) {
            shown.pop();
        }
        for l in &shown {
            if l.chars().count() > 120 {
                problems.push(format!("{args}: wider than 120 columns: {l}"));
            }
        }
        let full;
        let c = if args.starts_with("alarm") {
            full = out_of_space();
            &full
        } else {
            &c
        };
        let mut cmd = plugin();
        cmd.args(["--endpoints", &c.endpoints()])
            .args(args.split_whitespace());
        let (status, printed) = if args.starts_with("top") {
            // Writes to show: one ConfigMap rewritten while top watches.
            let stop = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    let cm = objects::configmap("shop", "web-config", 2, 0);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        c.ctl().stdin(cm.value.clone()).run(&["put", &cm.key]);
                    }
                });
                let out = on_a_terminal(&cmd);
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                out
            })
        } else {
            let o = cmd.output().unwrap();
            assert_eq!(code(&o), 0, "{args}: {}", stderr(&o));
            (code(&o), stdout(&o))
        };
        // What the command printed, to paste when the sample is redone.
        eprintln!("$ kubectl etcd {args}\n{printed}");
        assert_eq!(status, 0, "{args}: {printed}");
        let printed: Vec<&str> = printed.lines().collect();
        let (shown_at, shown_header, shown_rows) = table_shape(&shown);
        let (printed_at, printed_header, printed_rows) = table_shape(&printed);
        if (shown_at, &shown_header) != (printed_at, &printed_header) {
            problems.push(format!(
                "{args}: README shows\n    {}\n  the command prints\n    {}",
                shown.get(shown_at).unwrap_or(&""),
                printed.get(printed_at).unwrap_or(&"")
            ));
        }
        // One row per member, one line per type and the total; each row
        // with as many cells as the README's.
        // Which members raise NOSPACE varies: alarm rows are compared by
        // shape, not number.
        let (mut shown_rows, mut printed_rows) = (shown_rows, printed_rows);
        if args.starts_with("alarm") {
            shown_rows.dedup();
            printed_rows.dedup();
        }
        if shown_rows != printed_rows {
            problems.push(format!(
                "{args}: README shows rows of {shown_rows:?} cells, the command prints {printed_rows:?}:\n{}",
                printed.join("\n")
            ));
        }
    }
    assert!(samples >= 12, "{samples} samples found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
