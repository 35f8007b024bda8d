//! docs/wizards.md cannot drift from the CLI unnoticed: every command it
//! shows (`$ kubectl etcd ...`) is accepted by the current clap definition,
//! and every block of a command that changes nothing (`--dry-run`,
//! `members`, a `restore` plan) is run again against a real 3-member cluster
//! and must print the same table headings as the doc shows (as a set:
//! stdout and stderr interleave). Values (ids, ports, sizes, revisions) are volatile and not
//! compared; headings are what a renderer change breaks.
//!
//! The resize walk-through itself is produced from real runs by
//! [`regenerate_the_resize_walkthrough`] (`scripts/gen-wizards-doc.sh`).

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

// ----- regeneration ---------------------------------------------------------

/// A command of the walk-through as the doc shows it: `args` without
/// `--endpoints`, an optional comment, and what it printed (stdout and
/// stderr as one terminal shows them).
struct Captured {
    args: Vec<String>,
    comment: &'static str,
    output: Vec<String>,
}

impl Captured {
    fn block(&self) -> String {
        let mut line = format!("$ kubectl etcd {}", self.args.join(" "));
        if !self.comment.is_empty() {
            line = format!("{line}      # {}", self.comment);
        }
        let mut out = vec![line];
        out.extend(self.output.iter().cloned());
        out.join("\n")
    }
}

/// Runs the plugin with stdout and stderr on one pipe, as a terminal shows
/// them; `on_line` sees each line as it comes (to start a member when the
/// wizard says how) and may return a closure to run once.
fn capture(
    endpoints: &str,
    args: &[String],
    comment: &'static str,
    mut on_line: impl FnMut(&str),
) -> Captured {
    use std::io::BufRead;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(env!("CARGO_BIN_EXE_kubectl-etcd"))
        .args(["--endpoints", endpoints])
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        on_line(&line);
        output.push(line);
    }
    let status = child.wait().unwrap();
    if let Some(code) = status.code().filter(|c| *c != 0) {
        output.push(format!("(exit {code})"));
    }
    Captured {
        args: args.to_vec(),
        comment,
        output,
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `resize add`/`replace` for harness member `i`: the member is started
/// with the `--initial-cluster` the wizard prints, as an operator would.
fn capture_joining(c: &mut Cluster, i: usize, args: &[String], comment: &'static str) -> Captured {
    let endpoints = c.running_endpoints();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::scope(|s| {
        let run = s.spawn(move || {
            capture(&endpoints, args, comment, |l| {
                if let Some(v) = l.trim().strip_prefix("--initial-cluster=") {
                    let _ = tx.send(v.to_owned());
                }
            })
        });
        if let Ok(v) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
            c.start_joining(i, &v);
        }
        run.join().unwrap()
    })
}

/// Replaces, in `doc`, the fenced block whose `$` line starts with
/// `prefix` (and contains `marker`) with `block`.
fn replace_block(doc: &str, prefix: &str, marker: &str, block: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(prefix) && l.contains(marker))
        .unwrap_or_else(|| panic!("no block `{prefix}` with `{marker}` in the doc"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("```"))
            .expect("the block ends");
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(block.lines());
    out.extend(&lines[end..]);
    out.join("\n") + "\n"
}

/// Regenerates the resize walk-through of docs/wizards.md from real runs:
/// `scripts/gen-wizards-doc.sh` runs it (ignored in the suite: a minute of
/// membership changes). Three members, `m2` killed: the refused removal;
/// `m2` replaced by `m2b`; `m3` planned (`--dry-run`), added without
/// promotion, listed, promoted by a re-run; the leader removed. Blocks
/// recorded by hand (Ctrl-C, a terminal) are left as they are.
#[test]
#[ignore = "regenerates docs/wizards.md: scripts/gen-wizards-doc.sh"]
fn regenerate_the_resize_walkthrough() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..20 {
        c.put(&format!("/registry/pods/default/web-{i}"), "x");
    }
    c.kill(2);
    let mut doc = doc();
    let mut put = |prefix: &str, marker: &str, captured: &Captured| {
        doc = replace_block(&doc, prefix, marker, &captured.block());
    };

    let refused = capture(
        &c.running_endpoints(),
        &strings(&["resize", "remove", "m0", "--yes"]),
        "m2 is down",
        |_| {},
    );
    put("$ kubectl etcd resize remove m0", "", &refused);

    let b = c.add_member("m2b");
    let (peer, client) = (
        c.member(b).peer_url().to_owned(),
        c.member(b).client_url().to_owned(),
    );
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
    let replaced = capture_joining(&mut c, b, &args, "");
    put("$ kubectl etcd resize replace m2", "", &replaced);

    let m3 = c.add_member("m3");
    let (peer, client) = (
        c.member(m3).peer_url().to_owned(),
        c.member(m3).client_url().to_owned(),
    );
    let add = |extra: &[&str]| {
        let mut a = strings(&["resize", "add", "m3", "--peer-urls", &peer]);
        a.extend(strings(extra));
        a
    };
    let planned = capture(
        &c.running_endpoints(),
        &add(&["--client-url", &client, "--dry-run"]),
        "",
        |_| {},
    );
    put("$ kubectl etcd resize add m3", "--dry-run", &planned);
    let learner = capture_joining(
        &mut c,
        m3,
        &add(&["--client-url", &client, "--no-promote", "--yes"]),
        "",
    );
    put("$ kubectl etcd resize add m3", "--no-promote", &learner);
    let members = capture(&c.running_endpoints(), &strings(&["members"]), "", |_| {});
    put("$ kubectl etcd members", "", &members);
    let promoted = capture(
        &c.running_endpoints(),
        &add(&["--yes"]),
        "resumes: promotes",
        |_| {},
    );
    put("$ kubectl etcd resize add m3", "# resumes", &promoted);

    let leader = c.member(c.leader_index()).name().to_owned();
    let removed = capture(
        &c.running_endpoints(),
        &strings(&["resize", "remove", &leader, "--yes"]),
        "the leader",
        |_| {},
    );
    put("$ kubectl etcd resize remove", "# the leader", &removed);

    // The restore plans of the cluster as it is now: taking the snapshot
    // (etcdutl 3.5 when fetched into .etcd-3.5), then planning from it for
    // a one-member cluster with etcd 3.4's etcdctl.
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.db").display().to_string();
    let etcdutl = Path::new(env!("CARGO_MANIFEST_DIR")).join(".etcd-3.5/usr/bin/etcdutl");
    if etcdutl.exists() {
        let taken = capture(
            &c.running_endpoints(),
            &strings(&[
                "restore",
                "--save-to",
                &snap,
                "--new-data-dir",
                "/var/lib/etcd-restored-{name}",
                "--etcdutl",
                ".etcd-3.5/usr/bin/etcdutl",
            ]),
            "",
            |_| {},
        );
        put("$ kubectl etcd restore --save-to", "", &taken);
    } else {
        let o = plugin()
            .args([
                "--endpoints",
                &c.running_endpoints(),
                "snapshot",
                "save",
                &snap,
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    if let Some(etcdctl) = crate::support::find_on_path("etcdctl") {
        let planned = capture(
            &c.running_endpoints(),
            &strings(&[
                "restore",
                "--snapshot",
                &snap,
                "--member",
                "m0=http://10.0.0.1:2380",
                "--etcdctl",
                &etcdctl.display().to_string(),
            ]),
            "",
            |_| {},
        );
        put("$ kubectl etcd restore --snapshot", "--etcdctl", &planned);
    }

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wizards.md");
    if std::env::var_os("KUBECTL_ETCD_WRITE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
        eprintln!("wrote {}", path.display());
    } else {
        println!("{doc}");
    }
}
