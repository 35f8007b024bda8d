//! docs/wizards.md cannot drift from the CLI unnoticed: every command it
//! shows (`$ kubectl etcd ...`) is accepted by the current clap definition,
//! and every block of a command that changes nothing (`--dry-run`,
//! `members`, a `restore` plan, `snapshot status`) is run again against a
//! real 3-member cluster and must print the same table headings as the doc
//! shows (as a set: stdout and stderr interleave). Values are not compared;
//! headings are what a renderer change breaks, and the hash check below
//! catches the rest once the script is run.
//!
//! Every output block of the doc is produced from real runs by
//! [`regenerate_the_wizards_doc`] (`scripts/gen-wizards-doc.sh`), and sits
//! below a marker carrying its hash: a block edited by hand, or one the
//! generator does not produce, fails
//! [`every_output_block_of_the_wizards_doc_is_generated_and_unedited`].

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use regex::Regex;

use crate::support::cli::{plugin, resize_add};
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
    // An object, so the snapshot has keys per type to count, as the doc's.
    c.put("/registry/pods/default/web-0", "x");
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
            || s.args.get(..2) == Some(&["snapshot".to_owned(), "status".to_owned()][..])
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
                if x.ends_with(".db") {
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
        // The commands a plan prints are copied and run: never cut.
        if text
            .lines()
            .any(|l| l.contains("snapshot restore") && l.contains('…'))
        {
            drift.push(format!(
                "line {}: a restore command is elided:\n{text}",
                s.line
            ));
        }
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
    assert!(checked >= 4, "only {checked} blocks could be checked");
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

// ----- generated blocks -----------------------------------------------------

/// Every output block of docs/wizards.md, in the doc's order. Each sits
/// right below a `<!-- generated: NAME sha256:HASH -->` line (the hash of
/// the block as generated); [`regenerate_the_wizards_doc`] writes them all
/// from real runs.
const GENERATED: &[&str] = &[
    "resize-remove-refused",
    "resize-replace",
    "resize-add-dry-run",
    "resize-add-no-promote",
    "members-learner",
    "resize-add-resumed",
    "resize-remove-leader",
    "resize-add-interrupted",
    "resize-on-a-terminal",
    "restore-save-to",
    "restore-etcdctl",
    "restore-local",
    "recover-refused",
    "recover-survey",
    "recover-member",
    "recover-local",
    "recover-snapshot-status",
    "recover-interrupted",
    "recover-grow",
];

const MARK: &str = "<!-- generated: ";

/// A fenced block of the doc: its first line (1-based), the line above the
/// fence, and its content.
struct Fenced<'a> {
    line: usize,
    above: &'a str,
    body: Vec<&'a str>,
}

fn fenced(doc: &str) -> Vec<Fenced<'_>> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("```") {
            let end = i
                + 1
                + lines[i + 1..]
                    .iter()
                    .position(|l| l.starts_with("```"))
                    .expect("every fenced block ends");
            out.push(Fenced {
                line: i + 1,
                above: if i > 0 { lines[i - 1] } else { "" },
                body: lines[i + 1..end].to_vec(),
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The name and hash of a `<!-- generated: NAME sha256:HASH -->` line.
fn marker(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(MARK)?.strip_suffix(" -->")?;
    let (name, hash) = rest.split_once(" sha256:")?;
    Some((name, hash))
}

/// A command synopsis (`kubectl etcd resize add NAME ...`): input, not
/// output.
fn is_synopsis(body: &[&str]) -> bool {
    body.first().is_some_and(|l| l.starts_with("kubectl etcd "))
        && body
            .iter()
            .all(|l| l.starts_with("kubectl etcd ") || l.starts_with(' '))
}

fn block_hash(body: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_output_block_of_the_wizards_doc_is_generated_and_unedited() {
    let doc = doc();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for b in fenced(&doc) {
        match marker(b.above) {
            Some((name, hash)) => {
                names.push(name.to_owned());
                let body = b.body.join("\n");
                if block_hash(&body) != hash {
                    problems.push(format!(
                        "line {}: block `{name}` was edited by hand: run scripts/gen-wizards-doc.sh",
                        b.line
                    ));
                }
            }
            None if is_synopsis(&b.body) => {}
            None => problems.push(format!(
                "line {}: an output block not produced by scripts/gen-wizards-doc.sh \
                 (add it to the generator, with a `{MARK}NAME ...` line above it)",
                b.line
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(names, GENERATED, "the doc's generated blocks");
}

#[test]
fn the_marker_check_tells_output_from_a_synopsis_and_sees_an_edit() {
    let body = "$ kubectl etcd members\nID  NAME";
    let doc = format!(
        "x\n{MARK}a sha256:{} -->\n```\n{body}\n```\n```\nkubectl etcd resize add NAME\n    [--dry-run]\n```\n```\n$ kubectl etcd members\n```\n",
        block_hash(body)
    );
    let b = fenced(&doc);
    assert_eq!(b.len(), 3);
    assert_eq!(marker(b[0].above), Some(("a", block_hash(body).as_str())));
    assert_eq!(block_hash(&b[0].body.join("\n")), block_hash(body));
    assert_ne!(
        block_hash("$ kubectl etcd members\nID  NAME "),
        block_hash(body)
    );
    assert!(is_synopsis(&b[1].body));
    assert!(!is_synopsis(&b[2].body));
    assert_eq!(marker(b[2].above), None);
}

/// Replaces the block below the marker `name` with `body`, and the
/// marker's hash with the new body's.
fn fill(doc: &str, name: &str, body: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let at = lines
        .iter()
        .position(|l| marker(l).is_some_and(|(n, _)| n == name))
        .unwrap_or_else(|| panic!("no `{MARK}{name} sha256:... -->` line in the doc"));
    assert!(
        lines[at + 1].starts_with("```"),
        "`{name}`: a block follows"
    );
    let end = at
        + 2
        + lines[at + 2..]
            .iter()
            .position(|l| l.starts_with("```"))
            .expect("the block ends");
    let mut out: Vec<String> = lines[..at].iter().map(|l| l.to_string()).collect();
    out.push(format!("{MARK}{name} sha256:{} -->", block_hash(body)));
    out.push(lines[at + 1].to_owned());
    out.extend(body.lines().map(str::to_owned));
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

// ----- normalising ----------------------------------------------------------

/// What changes from one run to the next, replaced by stable placeholders
/// of the same width (so tables stay aligned): ports, member ids, temporary
/// directories, process ids, hashes, the harness's cluster token.
#[derive(Default)]
struct Norm {
    /// Exact replacements, in order.
    subs: Vec<(String, String)>,
    /// Members whose ports are registered, by client URL.
    ports: Vec<String>,
    /// Member ids in the order they were first seen.
    ids: Vec<u64>,
}

impl Norm {
    fn sub(&mut self, from: impl Into<String>, to: impl Into<String>) {
        let from = from.into();
        if !self.subs.iter().any(|(f, _)| *f == from) {
            self.subs.push((from, to.into()));
        }
    }

    /// Member `n` (in the order first seen) gets ports `2nn79` (client)
    /// and `2nn80` (peer).
    fn ports(&mut self, c: &Cluster) {
        for m in c.members() {
            if self.ports.iter().any(|u| u == m.client_url()) {
                continue;
            }
            let n = self.ports.len() as u32;
            assert!(n < 100, "too many members for 2nn79 ports");
            self.ports.push(m.client_url().to_owned());
            for (url, port) in [
                (m.client_url(), 20079 + 100 * n),
                (m.peer_url(), 20080 + 100 * n),
            ] {
                let real = url.rsplit_once(':').expect("a port").1;
                assert_eq!(real.len(), 5, "a port of five digits: {url}");
                self.sub(format!("127.0.0.1:{real}"), format!("127.0.0.1:{port}"));
            }
        }
    }

    /// The ids of the members listed by the member at `endpoint`, new ones
    /// in name order: `0000000000000001`, `...02`, ...
    fn ids(&mut self, endpoint: &str) {
        let out = std::process::Command::new(crate::support::etcdctl_bin())
            .env("ETCDCTL_API", "3")
            .args([
                &format!("--endpoints={endpoint}"),
                "member",
                "list",
                "-w",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "member list at {endpoint}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut members: Vec<(String, u64)> = v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap_or_default().to_owned(),
                    m["ID"].as_u64().unwrap(),
                )
            })
            .collect();
        members.sort();
        for (_, id) in members {
            if !self.ids.contains(&id) {
                self.ids.push(id);
                let n = self.ids.len() as u64;
                self.sub(format!("{id:016x}"), format!("{n:016x}"));
            }
        }
    }

    /// A temporary directory: its random tail becomes `XXXXXX`.
    fn dir(&mut self, p: &Path) {
        let s = p.display().to_string();
        let keep = s.len().saturating_sub(6);
        self.sub(s.clone(), format!("{}XXXXXX", &s[..keep]));
    }

    fn pid(&mut self, pid: u32) {
        self.sub(format!("process {pid}"), "process $PID");
        self.sub(format!("--pid {pid}"), "--pid $PID");
    }

    fn apply(&self, text: &str) -> String {
        let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
        let sha = Regex::new(r"\b[0-9a-f]{64}\b").unwrap();
        let short_sha = Regex::new(r"\b[0-9a-f]{8}\.\.\.").unwrap();
        let token = Regex::new(r"\brestored-[0-9a-f]{12}\b").unwrap();
        let cluster = Regex::new(r"--initial-cluster([= ])([^ ]+)").unwrap();
        let learner = Regex::new(r"learner applied \d+ of the leader's \d+ \([0-9.]+%\)").unwrap();
        let consistent = Regex::new(r"consistent index \d+").unwrap();
        let behind = Regex::new(r"by \d+ raft entries").unwrap();
        let size = Regex::new(r"\b\d+\.\d KiB\b").unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut l = columns_kept(l, &root, "");
                for (from, to) in &self.subs {
                    l = columns_kept(&l, from, to);
                }
                let l = sha.replace_all(&l, "<sha256>");
                let l = short_sha.replace_all(&l, "<sha256>...");
                let l = token.replace_all(&l, "restored-<sha256:12>");
                // Listed in member id order: by name here.
                let l = cluster.replace_all(&l, |c: &regex::Captures| {
                    let mut peers: Vec<&str> = c[2].split(',').collect();
                    peers.sort();
                    format!("--initial-cluster{}{}", &c[1], peers.join(","))
                });
                // Raft indexes and terms depend on timing (elections, when
                // a learner is asked), database sizes on bbolt's paging.
                let l = learner.replace_all(&l, "learner applied N of the leader's N (P%)");
                let l = consistent.replace_all(&l, "consistent index N");
                let l = behind.replace_all(&l, "by N raft entries");
                size.replace_all(&l, "NN.N KiB").into_owned()
            })
            .collect();
        let lines = last_of_repeats(lines, "  learner applied ");
        let lines = timing_columns(lines);
        let lines = sort_rows_below(lines, "MEMBER  DATA DIR");
        sort_id_rows(lines).join("\n")
    }
}

/// `from` replaced by `to` in `line`; where a table cell follows (two or
/// more spaces), the padding absorbs the difference in width.
fn columns_kept(line: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(from) {
        out.push_str(&rest[..i]);
        out.push_str(to);
        rest = &rest[i + from.len()..];
        let diff = from.chars().count() as isize - to.chars().count() as isize;
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        // A trailing `(done)` is a note on the line, not a column: its gap
        // stays as printed, whatever the length of what was replaced.
        let note = rest[spaces..].starts_with('(') && rest.ends_with(')');
        if diff != 0 && spaces >= 2 && spaces < rest.len() && !note {
            out.push_str(&" ".repeat((spaces as isize + diff).max(2) as usize));
            rest = &rest[spaces..];
        }
    }
    out.push_str(rest);
    out
}

/// Columns of raft indexes and terms: they depend on timing (elections,
/// heartbeats, when a member was asked).
const TIMING_COLUMNS: &[&str] = &[
    "APPLIED",
    "RAFT TERM",
    "RAFT INDEX",
    "APPLIED INDEX",
    "CONSISTENT INDEX",
];

/// In the rows of a table whose heading has a [`TIMING_COLUMNS`] column,
/// each number in that column becomes `N` (`0`, a member that cannot say,
/// stays), aligned as the number was.
fn timing_columns(mut lines: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < lines.len() {
        let spans: Vec<(usize, usize)> = if heading(&lines[i]).is_some() {
            TIMING_COLUMNS
                .iter()
                .filter_map(|c| column_span(&lines[i], c))
                .collect()
        } else {
            Vec::new()
        };
        i += 1;
        if spans.is_empty() {
            continue;
        }
        while i < lines.len() && !lines[i].is_empty() {
            let mut row: Vec<char> = lines[i].chars().collect();
            let cell = |row: &[char], (a, b): (usize, usize)| -> String {
                row.iter().skip(a).take(b - a).collect()
            };
            // A row has only numbers, `-` or nothing in those columns.
            if !spans.iter().all(|&sp| {
                cell(&row, sp)
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch == ' ' || ch == '-')
            }) {
                break;
            }
            for &(a, b) in &spans {
                let text = cell(&row, (a, b));
                let t = text.trim();
                if t.is_empty() || t == "-" || t == "0" {
                    continue;
                }
                let lead = text.len() - text.trim_start().len();
                let right = text.trim_end().len() == b - a;
                let mut new = vec![' '; b - a];
                new[if right { b - a - 1 } else { lead }] = 'N';
                if row.len() < b {
                    row.resize(b, ' ');
                }
                row.splice(a..b, new);
            }
            lines[i] = row.iter().collect::<String>().trim_end().to_owned();
            i += 1;
        }
    }
    lines
}

/// Where column `name` of a table heading is: from its start to the next
/// column (or its end, for a right-aligned number under a wide heading).
fn column_span(heading: &str, name: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = heading[from..].find(name).map(|a| a + from) {
        let end = at + name.len();
        let before = at == 0 || heading[..at].ends_with("  ");
        let after = end == heading.len() || heading[end..].starts_with("  ");
        if before && after {
            // A left-aligned last column runs on: up to 8 more characters.
            let stop = if end == heading.len() { end + 8 } else { end };
            return Some((at, stop));
        }
        from = end;
    }
    None
}

/// Of consecutive lines starting with `prefix`, the last (progress
/// printed while waiting, as often as the wait takes).
fn last_of_repeats(lines: Vec<String>, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        if l.starts_with(prefix) && out.last().is_some_and(|p| p.starts_with(prefix)) {
            out.pop();
        }
        out.push(l);
    }
    out
}

/// The rows of the tables headed by `heading` (up to a blank line), in
/// name order: they are listed in member id order.
fn sort_rows_below(mut lines: Vec<String>, heading: &str) -> Vec<String> {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with(heading) {
            let start = i + 1;
            let end = start + lines[start..].iter().take_while(|l| !l.is_empty()).count();
            lines[start..end].sort();
            i = end;
        } else {
            i += 1;
        }
    }
    lines
}

/// Table rows sorted by member id (`ID`, `MEMBER ID` first) follow the
/// placeholder ids, as the real ids sort differently on every run.
fn sort_id_rows(mut lines: Vec<String>) -> Vec<String> {
    let is_row = |l: &String| {
        l.len() > 18 && l[..16].bytes().all(|b| b.is_ascii_hexdigit()) && &l[16..18] == "  "
    };
    let mut i = 0;
    while i < lines.len() {
        if is_row(&lines[i]) {
            let end = i + lines[i..].iter().take_while(|l| is_row(l)).count();
            lines[i..end].sort_by(|a, b| a[..16].cmp(&b[..16]));
            i = end;
        } else {
            i += 1;
        }
    }
    lines
}

#[test]
fn raft_indexes_and_terms_become_placeholders_in_their_columns() {
    let lines = strings(&[
        "ID                NAME  ROLE    HEALTH                           APPLIED",
        "0000000000000001  m0    voter   healthy                          110",
        "0000000000000003  m2    voter   unreachable: connection refused  0",
        "now:   3 voting members (2 healthy): quorum 2, tolerates 1 failure, 0 more now",
        "MEMBER  SEEN     REVISION  RAFT TERM  APPLIED INDEX  CONSISTENT INDEX  SURVIVOR",
        "m0      live           78          2             90                 -  yes",
        "m1      offline        53          2              -                64",
    ]);
    assert_eq!(
        timing_columns(lines),
        [
            "ID                NAME  ROLE    HEALTH                           APPLIED",
            "0000000000000001  m0    voter   healthy                          N",
            "0000000000000003  m2    voter   unreachable: connection refused  0",
            "now:   3 voting members (2 healthy): quorum 2, tolerates 1 failure, 0 more now",
            "MEMBER  SEEN     REVISION  RAFT TERM  APPLIED INDEX  CONSISTENT INDEX  SURVIVOR",
            "m0      live           78          N              N                 -  yes",
            "m1      offline        53          N              -                 N",
        ]
    );
}

#[test]
fn normalising_orders_what_follows_member_ids_by_name() {
    let n = Norm::default();
    assert_eq!(
        n.apply("  --initial-cluster=m3=u3,m0=u0 --initial-cluster-state=existing"),
        "  --initial-cluster=m0=u0,m3=u3 --initial-cluster-state=existing"
    );
    assert_eq!(
        n.apply("  learner applied 3 of the leader's 9 (33.3%)\n  learner applied 9 of the leader's 9 (100.0%)\n  done"),
        "  learner applied N of the leader's N (P%)\n  done"
    );
    assert_eq!(
        n.apply("MEMBER  DATA DIR\nm3      /x\nm0      /y\n\nm9"),
        "MEMBER  DATA DIR\nm0      /y\nm3      /x\n\nm9"
    );
}

#[test]
fn normalising_keeps_columns_and_sorts_rows_by_placeholder_id() {
    assert_eq!(
        columns_kept(
            "stop process 123456  done    -",
            "process 123456",
            "process $PID"
        ),
        "stop process $PID    done    -"
    );
    assert_eq!(columns_kept("a x b", "x", "yy"), "a yy b");
    // The gap before a trailing note does not depend on the pid's length.
    for pid in ["4485", "123456", "1234567"] {
        assert_eq!(
            columns_kept(
                &format!("  2. stop etcd: SIGTERM process {pid}  (done)"),
                &format!("process {pid}"),
                "process $PID"
            ),
            "  2. stop etcd: SIGTERM process $PID  (done)"
        );
    }
    let mut n = Norm::default();
    n.sub("cc9a69dfc1f12834", "0000000000000001");
    n.sub("715416c46257b667", "0000000000000002");
    let text = "ID                NAME\n715416c46257b667  m2\ncc9a69dfc1f12834  m0\nnow: x";
    assert_eq!(
        n.apply(text),
        "ID                NAME\n0000000000000001  m0\n0000000000000002  m2\nnow: x"
    );
}

// ----- capturing ------------------------------------------------------------

/// The plugin with stdout and stderr on one pipe, as a terminal shows
/// them interleaved.
fn merged(args: &[String]) -> std::process::Command {
    let base = plugin();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(base.get_program())
        .args(args);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// A command of the doc: `args` without `--endpoints`, an optional
/// comment, and what it printed.
struct Captured {
    args: Vec<String>,
    comment: String,
    output: Vec<String>,
}

impl Captured {
    /// What a finished command showed, with `(exit N)` after a failure.
    fn ended(
        args: &[String],
        comment: &str,
        mut output: Vec<String>,
        status: std::process::ExitStatus,
    ) -> Captured {
        if let Some(code) = status.code().filter(|c| *c != 0) {
            output.push(format!("(exit {code})"));
        }
        Captured {
            args: args.to_vec(),
            comment: comment.to_owned(),
            output,
        }
    }

    fn block(&self) -> String {
        let shown: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if a.contains(['{', ' ', '*']) {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                }
            })
            .collect();
        let mut line = format!("$ kubectl etcd {}", shown.join(" "));
        if !self.comment.is_empty() {
            line = format!("{line}      # {}", self.comment);
        }
        let mut out = vec![line];
        out.extend(self.output.iter().cloned());
        out.join("\n")
    }
}

/// Ctrl-C, as a terminal sends it, to this process only.
fn interrupt(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT {pid}");
}

/// Runs the plugin at `endpoints` with `args`; `on_line` sees each line as
/// it comes, with the process id (to start a member when the wizard says
/// how, or to interrupt it at a step).
fn capture(
    endpoints: &str,
    args: &[String],
    comment: &str,
    mut on_line: impl FnMut(&str, u32),
) -> Captured {
    use std::io::BufRead;
    let mut all = vec!["--endpoints".to_owned(), endpoints.to_owned()];
    all.extend(args.iter().cloned());
    let mut child = merged(&all)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut output = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        on_line(&line, pid);
        output.push(line);
    }
    let status = child.wait().unwrap();
    Captured::ended(args, comment, output, status)
}

/// Cuts, in order, each stretch of output from the line starting with
/// `from` (trimmed) up to the line starting with `to` (or the end, for
/// ""), leaving `...` in its place: what the doc shows of a long run.
fn elide(mut c: Captured, cuts: &[(&str, &str)]) -> Captured {
    let mut at = 0;
    for (from, to) in cuts {
        let start = at
            + c.output[at..]
                .iter()
                .position(|l| l.trim().starts_with(from))
                .unwrap_or_else(|| panic!("no `{from}` to cut:\n{}", c.output.join("\n")));
        let end = if to.is_empty() {
            c.output.len()
        } else {
            start
                + c.output[start..]
                    .iter()
                    .position(|l| l.trim().starts_with(to))
                    .unwrap_or_else(|| panic!("no `{to}` after `{from}`"))
        };
        c.output.splice(start..end, ["...".to_owned()]);
        at = start + 1;
    }
    c
}

/// A command that needs nothing while it runs.
fn run(endpoints: &str, args: &[&str], comment: &str) -> Captured {
    capture(endpoints, &strings(args), comment, |_, _| {})
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A wizard at `endpoints` that starts members: harness members `joining` are started, in
/// order, each with the `--initial-cluster` the wizard prints for it, as an
/// operator would; with `interrupt_at`, Ctrl-C on the first line starting
/// with it.
fn capture_joining(
    endpoints: String,
    c: &mut Cluster,
    joining: &[usize],
    args: &[String],
    comment: &str,
    interrupt_at: Option<&str>,
) -> Captured {
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::scope(|s| {
        let run = s.spawn(move || {
            let mut interrupted = false;
            capture(&endpoints, args, comment, |l, pid| {
                let l = l.trim();
                if let Some(v) = l.strip_prefix("--initial-cluster=") {
                    let _ = tx.send(v.to_owned());
                }
                if !interrupted && interrupt_at.is_some_and(|at| l.starts_with(at)) {
                    interrupted = true;
                    interrupt(pid);
                }
            })
        });
        for &i in joining {
            let v = rx
                .recv_timeout(Duration::from_secs(90))
                .expect("the wizard prints the member's --initial-cluster");
            c.start_joining(i, &v);
        }
        run.join().unwrap()
    })
}

/// Runs the plugin on a pseudo-terminal (util-linux `script`), answering
/// `y` to each question once it is asked; what the terminal showed.
fn capture_on_terminal(endpoints: &str, args: &[String], comment: &str) -> Captured {
    use std::io::{Read, Write};
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = format!(
        "{} --endpoints {}",
        quote(env!("CARGO_BIN_EXE_kubectl-etcd")),
        quote(endpoints)
    );
    for a in args {
        line = format!("{line} {}", quote(a));
    }
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1): scripts/prereqs.sh installs it");
    let mut stdin = child.stdin.take().unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut answered = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the terminal run did not finish");
        let asked = String::from_utf8_lossy(&seen.lock().unwrap())
            .matches("[y/N]")
            .count();
        if asked > answered {
            stdin.write_all(b"y").unwrap();
            stdin.flush().unwrap();
            answered = asked;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    let raw = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    Captured::ended(args, comment, screen(&raw), status)
}

/// The lines a terminal shows for `raw`: a carriage return goes back to
/// the start of the line, `ESC[2K` clears it, `ESC[K` clears from the
/// cursor; other escapes (colours, the cursor hidden) show nothing.
fn screen(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut col = 0;
    let mut chars = raw.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut param = String::new();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        match (c, param.as_str()) {
                            ('K', "2") => line.clear(),
                            ('K', "" | "0") => line.truncate(col),
                            _ => {}
                        }
                        break;
                    }
                    param.push(c);
                }
            }
            '\r' => col = 0,
            '\n' => {
                lines.push(line.iter().collect::<String>().trim_end().to_owned());
                line.clear();
                col = 0;
            }
            c => {
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.resize(col, ' ');
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line.iter().collect::<String>().trim_end().to_owned());
    }
    lines
}

#[test]
fn the_terminal_shows_an_answered_question_in_place_of_the_question() {
    let raw =
        "plan\r\nremove `m4`? [y/N] \x1b[?25l\r\x1b[2Kremove `m4`? yes\r\n\x1b[?25h  removed\r\n";
    assert_eq!(screen(raw), ["plan", "remove `m4`? yes", "  removed"]);
    assert_eq!(screen("abcdef\rxy\x1b[K\n"), ["xy"]);
}

/// A new member slot `name` (not started) with its ports registered: its
/// index, peer URL and client URL.
fn new_member(c: &mut Cluster, norm: &mut Norm, name: &str) -> (usize, String, String) {
    let i = c.add_member(name);
    norm.ports(c);
    let m = c.member(i);
    (i, m.peer_url().to_owned(), m.client_url().to_owned())
}

/// Waits until every running member has applied the same raft index: the
/// wizards pick the member that applied the most (to lead, to take a
/// snapshot from), so the doc's choice must not hang on one lagging by an
/// entry.
fn settled(c: &Cluster) {
    let running: Vec<usize> = (0..c.len()).filter(|&i| c.member(i).is_running()).collect();
    crate::support::wait_until(
        "the members to apply the same index",
        Duration::from_secs(30),
        || {
            let applied: std::collections::BTreeSet<u64> = running
                .iter()
                .map(|&i| crate::support::etcdctl::status_field(c, i, "raftAppliedIndex"))
                .collect();
            applied.len() == 1
        },
    );
}

/// Makes member `i` the leader (a fresh cluster elects any member; the
/// doc's story needs the same one every run).
fn lead(c: &Cluster, i: usize) {
    let id = format!("{:x}", c.member_id(i));
    crate::support::wait_until("the chosen leader", Duration::from_secs(60), || {
        c.try_leader_index() == Some(i) || {
            let _ = c.ctl().run(&["move-leader", &id]);
            c.try_leader_index() == Some(i)
        }
    });
}

/// The etcd fetched by scripts/fetch-etcd-3.5.sh: the doc's blocks are
/// captured with it (and its etcdutl, which bumps restored revisions).
fn etcd35() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".etcd-3.5/usr/bin")
}

// ----- the walk-throughs ----------------------------------------------------

/// The blocks of one run, normalised together at the end.
#[derive(Default)]
struct Blocks {
    raw: Vec<(&'static str, String)>,
    norm: Norm,
}

impl Blocks {
    /// A cluster of `n` members, its ports, ids, directory and token
    /// registered for placeholders.
    fn cluster(&mut self, n: usize) -> Cluster {
        let c = Cluster::start(ClusterOpts::members(n));
        self.norm.dir(c.dir());
        self.norm
            .sub(c.token().to_owned(), "kubectl-etcd-test-token");
        self.norm.ports(&c);
        self.norm.ids(&c.endpoints());
        c
    }

    fn put(&mut self, name: &'static str, c: &Captured) {
        assert!(GENERATED.contains(&name), "`{name}` is not in GENERATED");
        // The run as printed, before cuts and placeholders, for review.
        if let Some(dir) = std::env::var_os("KUBECTL_ETCD_DOC_RAW") {
            std::fs::write(Path::new(&dir).join(name), c.block()).unwrap();
        }
        self.raw.push((name, c.block()));
    }
}

/// resize on three members (`m2` killed): the refused removal, `m2`
/// replaced by `m2b`, `m3` planned, interrupted while it catches up,
/// resumed without promotion, listed, promoted, the leader removed; the
/// restore plans of the cluster then; one removal through a terminal.
fn resize_walkthrough(b: &mut Blocks) {
    let mut c = b.cluster(3);
    for i in 0..20 {
        c.put(&format!("/registry/pods/default/web-{i}"), "x");
    }
    lead(&c, 1);
    c.kill(2);

    let refused = run(
        &c.running_endpoints(),
        &["resize", "remove", "m0", "--yes"],
        "m2 is down",
    );
    b.put("resize-remove-refused", &refused);

    let (m2b, peer, client) = new_member(&mut c, &mut b.norm, "m2b");
    let args = strings(&[
        "resize",
        "replace",
        "m2",
        "--name",
        "m2b",
        "--peer-urls",
        &peer,
        "--client-url",
        &client,
        "--yes",
    ]);
    let replaced = capture_joining(c.running_endpoints(), &mut c, &[m2b], &args, "", None);
    b.put("resize-replace", &replaced);
    b.norm.ids(&c.running_endpoints());

    let (m3, peer, client) = new_member(&mut c, &mut b.norm, "m3");
    let add = |extra: &[&str]| resize_add("m3", &peer, &client, extra);
    let planned = capture(&c.running_endpoints(), &add(&["--dry-run"]), "", |_, _| {});
    b.put("resize-add-dry-run", &planned);
    let learner = capture_joining(
        c.running_endpoints(),
        &mut c,
        &[m3],
        &add(&["--no-promote", "--yes"]),
        "",
        None,
    );
    b.put("resize-add-no-promote", &learner);
    b.norm.ids(&c.running_endpoints());
    let members = run(&c.running_endpoints(), &["members"], "");
    b.put("members-learner", &members);
    // Resumed as an operator would type it: the peer URL names the member.
    let promoted = capture(
        &c.running_endpoints(),
        &strings(&["resize", "add", "m3", "--peer-urls", &peer, "--yes"]),
        "resumes: promotes",
        |_, _| {},
    );
    b.put("resize-add-resumed", &promoted);

    settled(&c);
    let removed = run(
        &c.running_endpoints(),
        &["resize", "remove", "m1", "--yes"],
        "the leader",
    );
    b.put("resize-remove-leader", &removed);
    c.stop(1);

    // The restore plans of the cluster as it is now: the snapshot taken
    // by the wizard (etcdutl 3.5), then planned from that file for a
    // one-member cluster with etcd 3.4's etcdctl.
    let dir = tempfile::Builder::new().prefix("wzdoc-").tempdir().unwrap();
    b.norm.dir(dir.path());
    let snap = dir.path().join("snap.db").display().to_string();
    // The snapshot comes from the member that applied the most (then the
    // first name): the same one every run once all have applied the same.
    settled(&c);
    let taken = run(
        &c.running_endpoints(),
        &[
            "restore",
            "--save-to",
            &snap,
            "--new-data-dir",
            "/var/lib/etcd-restored-{name}",
            "--etcdutl",
            ".etcd-3.5/usr/bin/etcdutl",
        ],
        "",
    );
    b.put("restore-save-to", &taken);
    let etcdctl = crate::support::find_on_path("etcdctl").expect("etcd 3.4's etcdctl on PATH");
    let planned = run(
        &c.running_endpoints(),
        &[
            "restore",
            "--snapshot",
            &snap,
            "--member",
            "m0=http://10.0.0.1:2380",
            "--etcdctl",
            &etcdctl.display().to_string(),
        ],
        "",
    );
    b.put("restore-etcdctl", &planned);

    // A learner whose progress is asked where nothing answers: the wizard
    // waits in the catch-up step, and Ctrl-C comes as it says so.
    let (m4, peer, client) = new_member(&mut c, &mut b.norm, "m4");
    let args = resize_add(
        "m4",
        &peer,
        &client,
        &["--learner-endpoint", "http://127.0.0.1:1", "--yes"],
    );
    let interrupted = capture_joining(
        c.running_endpoints(),
        &mut c,
        &[m4],
        &args,
        "Ctrl-C as it waits",
        Some("learner not reachable yet"),
    );
    b.put("resize-add-interrupted", &interrupted);
    b.norm.ids(&c.running_endpoints());

    let asked = capture_on_terminal(
        &c.running_endpoints(),
        &strings(&["resize", "remove", "m4"]),
        "",
    );
    b.put("resize-on-a-terminal", &asked);
}

/// `restore --local` on a node layout under a temporary root (a
/// kubeadm-style manifest, the data dir at /var/lib/etcd) with a real etcd
/// process; then the same command again, `--pid` included.
fn restore_local_walkthrough(b: &mut Blocks) {
    let mut c = b.cluster(1);
    let (root, _manifest) = crate::wizards::fake_node(&mut c);
    let r = root.path();
    b.norm.dir(r);
    b.norm.ids(&c.endpoints());
    for i in 0..6 {
        c.put(&format!("/registry/secrets/kube-system/s{i}"), "x");
    }
    let snap = r.join("snap.db").display().to_string();
    let o = plugin()
        .args(["--endpoints", &c.endpoints(), "snapshot", "save", &snap])
        .output()
        .unwrap();
    assert!(o.status.success());
    let snap_rev = crate::support::etcdctl::member_revision(&c, 0);
    let pid = c.member(0).pid().unwrap();
    b.norm.pid(pid);
    let args = strings(&[
        "restore",
        "--local",
        "--root",
        &r.display().to_string(),
        "--pid",
        &pid.to_string(),
        "--snapshot",
        &snap,
        "--etcdutl",
        ".etcd-3.5/usr/bin/etcdutl",
        "--yes",
    ]);
    let first = capture(&c.endpoints(), &args, "", |_, _| {});
    let restored = crate::recover::etcd_on(&r.join(format!("var/lib/etcd.restored-r{snap_rev}")));
    let _guard = crate::support::process::KillOnDrop(restored.iter().map(|p| p.0).collect());
    assert!(restored.is_some(), "{}", first.block());
    b.norm.ids(&c.endpoints());
    // The process named by --pid is gone now: the re-run finds what the
    // first run recorded of it.
    let again = capture(&c.endpoints(), &args, "the same command again", |_, _| {});
    let mut both = first;
    both.output.push(again.block());
    b.put("restore-local", &both);
}

/// The recover story: 3 members, 40 configmaps and 12 secrets, a snapshot
/// at revision 53; `m1` stopped (SIGTERM), 25 pods written, `m2` stopped.
fn recover_walkthrough(b: &mut Blocks) {
    let mut c = b.cluster(3);
    for i in 0..40 {
        c.put(&format!("/registry/configmaps/default/cm-{i}"), "x");
    }
    for i in 0..12 {
        c.put(&format!("/registry/secrets/default/s-{i}"), "x");
    }
    assert_eq!(crate::support::etcdctl::revision(&c), 53);
    let before = c.dir().join("before.db").display().to_string();
    let o = plugin()
        .args(["--endpoints", &c.endpoints(), "snapshot", "save", &before])
        .output()
        .unwrap();
    assert!(o.status.success());
    lead(&c, 0);
    let last = "/registry/pods/default/web-24";
    crate::support::wait_until(
        "m1 to apply the snapshot's keys",
        Duration::from_secs(30),
        || c.get_from(1, "/registry/secrets/default/s-11").is_some(),
    );
    c.stop(1);
    for i in 0..25 {
        c.put(&format!("/registry/pods/default/web-{i}"), "x");
    }
    crate::support::wait_until(
        "m2 to apply the last write",
        Duration::from_secs(30),
        || c.get_from(2, last).is_some(),
    );
    let refused = run(&c.endpoints(), &["recover"], "");
    b.put("recover-refused", &refused);
    c.stop(2);

    let d0 = c.member(0).data_dir().display().to_string();
    let d1 = format!("m1={}", c.member(1).data_dir().display());
    let survey = run(&c.endpoints(), &["recover", "--data-dir", &d1], "");
    b.put("recover-survey", &survey);
    let other = run(
        &c.endpoints(),
        &["recover", "--member", "m1", "--data-dir", &d1],
        "",
    );
    b.put(
        "recover-member",
        &elide(other, &[("commands per node", "")]),
    );

    let pid = c.member(0).pid().unwrap();
    b.norm.pid(pid);
    let local = run(
        &c.endpoints(),
        &[
            "recover",
            "--local",
            "--pid",
            &pid.to_string(),
            "--data-dir",
            &d0,
            "--no-grow",
            "--yes",
        ],
        "",
    );
    let survivor = crate::recover::etcd_on(Path::new(&d0));
    let _guard = crate::support::process::KillOnDrop(survivor.iter().map(|p| p.0).collect());
    assert!(survivor.is_some(), "{}", local.block());
    b.norm.ids(c.member(0).client_url());
    b.put("recover-local", &local);
    let status = run(&c.endpoints(), &["snapshot", "status", &before], "");
    b.put("recover-snapshot-status", &status);
}

/// `recover --local` without `--no-grow`: 3 members, 10 configmaps, two
/// members lost with their disks; the harness starts each lost member with
/// an empty data dir when the wizard says how.
fn recover_grow_walkthrough(b: &mut Blocks) {
    let mut c = b.cluster(3);
    for i in 0..10 {
        c.put(&format!("/registry/configmaps/default/cm-{i}"), "x");
    }
    lead(&c, 0);
    for i in [1, 2] {
        c.kill(i);
        std::fs::remove_dir_all(c.member(i).data_dir()).unwrap();
    }
    let d0 = c.member(0).data_dir().display().to_string();
    let pid = c.member(0).pid().unwrap();
    b.norm.pid(pid);
    let args = strings(&[
        "recover",
        "--local",
        "--pid",
        &pid.to_string(),
        "--data-dir",
        &d0,
        "--wait",
        "90s",
        "--yes",
    ]);
    // Ctrl-C as soon as etcd runs with --force-new-cluster.
    let interrupted = capture_joining(
        c.endpoints(),
        &mut c,
        &[],
        &args,
        "Ctrl-C after the forced start",
        Some("step 5/11"),
    );
    let forced = crate::recover::etcd_on(Path::new(&d0));
    let _forced = crate::support::process::KillOnDrop(forced.iter().map(|p| p.0).collect());
    b.put("recover-interrupted", &interrupted);
    // The same command again, with every member's endpoint as the operator
    // gives them: the lost ones answer again once added back.
    let grown = capture_joining(
        c.endpoints(),
        &mut c,
        &[1, 2],
        &args,
        "the same again",
        None,
    );
    let survivor = crate::recover::etcd_on(Path::new(&d0));
    let _guard = crate::support::process::KillOnDrop(survivor.iter().map(|p| p.0).collect());
    assert!(survivor.is_some(), "{}", grown.block());
    b.norm.ids(c.member(0).client_url());
    if let Some(dir) = std::env::var_os("KUBECTL_ETCD_DOC_RAW") {
        std::fs::write(Path::new(&dir).join("recover-grow.whole"), grown.block()).unwrap();
    }
    let shown = elide(
        grown,
        &[
            ("as a plain process:", "waiting up to"),
            ("step: add `m2`", "done: 3 voting members"),
            ("on the survivor's node", "keys per type"),
        ],
    );
    b.put("recover-grow", &shown);
}

/// Regenerates every output block of docs/wizards.md from real runs:
/// `scripts/gen-wizards-doc.sh` runs it with etcd 3.5 (ignored in the
/// suite: a few minutes of membership changes and recoveries).
#[test]
#[ignore = "regenerates docs/wizards.md: scripts/gen-wizards-doc.sh"]
fn regenerate_the_wizards_doc() {
    assert!(
        etcd35().join("etcdutl").is_file() && crate::support::etcd_version().starts_with("3.5"),
        "run scripts/gen-wizards-doc.sh: it fetches etcd 3.5 and selects it with ETCD_BIN"
    );
    let mut b = Blocks::default();
    resize_walkthrough(&mut b);
    restore_local_walkthrough(&mut b);
    recover_walkthrough(&mut b);
    recover_grow_walkthrough(&mut b);

    let mut doc = doc();
    // The prose names the etcd the blocks come from.
    let version = crate::support::etcd_version();
    assert!(
        doc.contains(&format!("real runs: etcd {version} processes")),
        "docs/wizards.md's introduction names another etcd than {version}: update it"
    );
    for name in GENERATED {
        let raw = b
            .raw
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no run produced `{name}`"));
        doc = fill(&doc, name, &b.norm.apply(&raw.1));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wizards.md");
    if std::env::var_os("KUBECTL_ETCD_WRITE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
        eprintln!("wrote {}", path.display());
    } else {
        println!("{doc}");
    }
}
