//! Issue 12's rules for the source tree, checked on every run: `commands/`
//! only wires (no command imports another; each file about 250 lines at
//! most), and no decision is taken on an error's message text outside the
//! one classifier (`etcd::error::classify`). Test modules (`#[cfg(test)]`
//! and below) are not looked at: tests may assert on messages.

use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The file's text before its `#[cfg(test)]` module.
fn non_test(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("#[cfg(test)]").next().unwrap().to_owned()
}

/// The most lines a command file may have: "aim for no command file over
/// about 250 lines" (issue 12.3), with a little slack.
const COMMAND_LINES: usize = 275;

#[test]
fn commands_only_wire_and_never_import_each_other() {
    let dir = src().join("commands");
    let files = rust_files(&dir);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod")
        .collect();
    assert!(names.len() > 20, "{names:?}");
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy();
        if name == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let lines = text.lines().count();
        if lines > COMMAND_LINES {
            problems.push(format!("commands/{name}.rs has {lines} lines"));
        }
        for other in names.iter().filter(|o| **o != name) {
            for import in [
                format!("crate::commands::{other}"),
                format!("super::{other}::"),
                format!("super::{{{other}"),
            ] {
                if text.contains(&import) {
                    problems.push(format!("commands/{name}.rs uses `{import}`"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_decision_on_an_error_message_outside_the_classifier() {
    let classifier = src().join("etcd").join("error.rs");
    // What taking a decision on a message looks like.
    let suspicious = [
        ".message.contains(",
        ".message().contains(",
        ".message.starts_with(",
        ".message().starts_with(",
        ".to_string().contains(",
        ".to_string().starts_with(",
        "e}\").contains(",
    ];
    let problems = lines_where(|path, compact| {
        if path == classifier {
            return None;
        }
        suspicious
            .iter()
            .find(|s| compact.contains(*s))
            .map(|s| format!("`{s}`"))
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each non-test source line (whitespace removed) that `flag` names a
/// problem in, as `path:line: problem: text`.
fn lines_where(flag: impl Fn(&Path, &str) -> Option<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files(&src()) {
        for (i, line) in non_test(&path).lines().enumerate() {
            let compact: String = line.split_whitespace().collect();
            if let Some(problem) = flag(&path, &compact) {
                problems.push(format!(
                    "{}:{}: {problem}: {}",
                    path.strip_prefix(src()).unwrap().display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    problems
}

/// "Plans return typed errors, not `String`" (issue 12.2): no `Result`
/// has `String` for its error outside clap's value parsers (`fn parse_*`),
/// which clap needs as they are.
#[test]
fn no_result_has_a_string_for_its_error_outside_the_clap_parsers() {
    let problems = lines_where(|_, compact| {
        (compact.contains("Result<")
            && compact.contains(",String>")
            && !compact.contains("fnparse_"))
        .then(|| "a `String` error".to_string())
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The scanners above would be vacuous if they read nothing.
    let commands = rust_files(&src().join("commands"));
    assert!(commands.iter().any(|p| p.ends_with("put.rs")));
    let classify = non_test(&src().join("etcd").join("error.rs"));
    assert!(classify.contains("fn classify"), "the classifier moved");
}
