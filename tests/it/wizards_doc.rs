//! docs/wizards.md cannot drift from the CLI unnoticed: every command it
//! shows (`$ kubectl etcd ...`) is accepted by the current clap definition,
//! and every block of a command that changes nothing (`--dry-run`,
//! `members`, a `restore` plan) is run again against a real 3-member cluster
//! and must print the same table headings as the doc shows (as a set:
//! stdout and stderr interleave). Values (ids, ports, sizes, revisions) are volatile and not
//! compared; headings are what a renderer change breaks.

use std::path::Path;

use clap::Parser;

use crate::support::cli::plugin;
use crate::support::{Cluster, ClusterOpts};

/// One `$ kubectl etcd ...` line of the doc and the output shown under it.
struct Shown {
    line: usize,
    args: Vec<String>,
    output: Vec<String>,
}

/// Splits a shell command line: whitespace, single and double quotes; a
/// `#` after whitespace starts a comment.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// Every command shown in fenced blocks, with its output lines.
fn shown(doc: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = Vec::new();
    let mut in_block = false;
    for (i, line) in doc.lines().enumerate() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ kubectl etcd ") {
            out.push(Shown {
                line: i + 1,
                args: words(cmd),
                output: Vec::new(),
            });
        } else if let Some(last) = out.last_mut().filter(|_| !line.starts_with("$ ")) {
            last.output.push(line.to_owned());
        }
    }
    out
}

/// A table heading: two or more columns (two spaces apart), every one in
/// capitals.
fn heading(line: &str) -> Option<Vec<String>> {
    let cols: Vec<String> = line
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let caps = |c: &String| {
        c.chars().any(|ch| ch.is_ascii_uppercase()) && !c.chars().any(|ch| ch.is_lowercase())
    };
    (cols.len() >= 2 && cols.iter().all(caps)).then_some(cols)
}

fn headings(lines: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<Vec<String>> {
    lines
        .into_iter()
        .filter_map(|l| heading(l.as_ref()))
        .collect()
}

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wizards.md"))
        .expect("docs/wizards.md")
}

#[test]
fn every_command_in_the_wizards_doc_is_accepted_by_the_cli() {
    let doc = doc();
    let all = shown(&doc);
    assert!(all.len() > 10, "the doc shows commands");
    let mut rejected = Vec::new();
    for s in all.iter().filter(|s| !s.args.iter().any(|a| a == "...")) {
        let argv = ["kubectl-etcd", "--endpoints", "http://127.0.0.1:2379"]
            .into_iter()
            .map(String::from)
            // `$PID` and the like: the shell fills them in.
            .chain(s.args.iter().map(|a| {
                if a.starts_with('$') {
                    "1".to_owned()
                } else {
                    a.clone()
                }
            }));
        if let Err(e) = kubectl_etcd::cli::Cli::try_parse_from(argv) {
            let first = e.to_string().lines().next().unwrap_or_default().to_owned();
            rejected.push(format!("line {}: {}: {first}", s.line, s.args.join(" ")));
        }
    }
    assert!(
        rejected.is_empty(),
        "docs/wizards.md shows commands the CLI rejects:\n  {}",
        rejected.join("\n  ")
    );
}

#[test]
fn the_wizards_doc_shows_the_headings_the_renderer_prints() {
    let doc = doc();
    let c = Cluster::start(ClusterOpts::members(3));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.db");
    let o = plugin()
        .args(["--endpoints", &c.endpoints(), "snapshot", "save"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut checked = 0;
    let mut drift = Vec::new();
    for s in shown(&doc) {
        let a = |flag: &str| s.args.iter().any(|x| x == flag);
        let read_only = a("--dry-run")
            || s.args.first().is_some_and(|c| c == "members")
            || (s.args.first().is_some_and(|c| c == "restore")
                && !a("--local")
                && !a("--save-to")
                && !a("..."));
        let expected = headings(&s.output);
        if !read_only || expected.is_empty() {
            continue;
        }
        // Files of the run that made the doc stand for ours; a tool that
        // is not on this machine skips the block.
        let args: Vec<String> = s
            .args
            .iter()
            .map(|x| {
                if x.ends_with("snap.db") {
                    snap.display().to_string()
                } else {
                    x.clone()
                }
            })
            .collect();
        if args
            .windows(2)
            .any(|w| (w[0] == "--etcdutl" || w[0] == "--etcdctl") && !Path::new(&w[1]).exists())
        {
            continue;
        }
        let o = plugin()
            .args(["--endpoints", &c.endpoints()])
            .args(&args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // stdout and stderr interleave on a terminal: compare the set.
        let mut printed = headings(text.lines());
        printed.sort();
        let mut expected = expected;
        expected.sort();
        checked += 1;
        if printed != expected {
            drift.push(format!(
                "line {}: {}\n    doc:     {:?}\n    printed: {:?}",
                s.line,
                s.args.join(" "),
                expected,
                printed
            ));
        }
    }
    assert!(checked >= 3, "only {checked} blocks could be checked");
    assert!(
        drift.is_empty(),
        "docs/wizards.md shows other headings than the commands print now \
         (regenerate the block):\n  {}",
        drift.join("\n  ")
    );
}

#[test]
fn the_doc_parser_finds_commands_outputs_and_headings() {
    let doc = "text\n```\n$ kubectl etcd members   # now\nID  NAME\n1   m0\n$ kubectl etcd restore --new-data-dir \"/var/lib/x {name}\"\n```\n";
    let s = shown(doc);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].args, ["members"]);
    assert_eq!(headings(&s[0].output), [vec!["ID", "NAME"]]);
    assert_eq!(
        s[1].args,
        ["restore", "--new-data-dir", "/var/lib/x {name}"]
    );
    assert_eq!(heading("m0  healthy"), None);
    assert_eq!(heading("warning: X"), None);
}
