//! Ctrl-C while a write request is in flight: the member is paused with
//! SIGSTOP after the confirmation question, so the request the answer
//! sends is held in the member's socket (seen arriving in its receive
//! queue) and gets no answer. Ctrl-C then must not hang until a timeout,
//! must exit 130, and must say truthfully what may have happened; once
//! the member runs again, etcdctl shows a state the message allowed.
//! Without a Ctrl-C, the request's own timeout ends it: exit 3, saying as
//! truthfully that the write may or may not have been applied.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::objects;
use crate::support::pty::Pty;
use crate::support::{wait_until, Cluster, ClusterOpts};

/// Bytes sent to 127.0.0.1:`port` that the listening process has not read
/// yet (rx_queue of its established sockets in /proc/net/tcp).
fn unread_bytes(port: u16) -> u64 {
    let tcp = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    tcp.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 4 && f[1] == local && f[3] == "01")
        .map(|f| {
            let rx = f[4].split(':').nth(1).unwrap_or("0");
            u64::from_str_radix(rx, 16).unwrap_or(0)
        })
        .sum()
}

fn client_port(c: &Cluster) -> u16 {
    c.member(0)
        .client_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("client port")
}

/// What the operator does once the request is stuck in flight.
#[derive(Clone, Copy, PartialEq)]
enum CtrlC {
    /// Nothing: the request's own timeout ends it.
    None,
    /// One Ctrl-C: the request is waited for, until its timeout.
    Once,
    /// Two: leave now.
    Twice,
}

impl CtrlC {
    /// The exit code the plugin must give.
    fn code(self) -> Option<i32> {
        Some(if self == CtrlC::None { 3 } else { 130 })
    }
}

/// Answers the question with `y` after pausing the member, waits until at
/// least `bytes` of the request sit unread in the member's socket, then
/// types Ctrl-C as `ctrl_c` says: the first waits for the step, as
/// promised; a second leaves now. The exit must come within 10 s of the
/// last Ctrl-C (or of the request's arrival without one): the plugin runs
/// with a timeout under that unless it is left by a second Ctrl-C.
/// Returns the exit code and the terminal text.
fn interrupt_in_flight(
    c: &mut Cluster,
    mut pty: Pty,
    bytes: u64,
    ctrl_c: CtrlC,
) -> (Option<i32>, String) {
    pty.wait_for("[y/N]");
    c.pause(0);
    let port = client_port(c);
    let before = unread_bytes(port);
    pty.type_keys(b"y\r");
    wait_until(
        "the request waits in the paused member's socket",
        Duration::from_secs(30),
        || unread_bytes(port) >= before + bytes,
    );
    if ctrl_c != CtrlC::None {
        pty.type_keys(b"\x03");
        pty.wait_for("Ctrl-C again to leave now");
    }
    if ctrl_c == CtrlC::Twice {
        pty.type_keys(b"\x03");
    }
    let start = Instant::now();
    let (code, text) = pty.exit(Duration::from_secs(60));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "exit took {:?}: {text}",
        start.elapsed()
    );
    assert!(!text.contains("panicked"), "{text}");
    (code, text)
}

/// `put` of an edited ConfigMap, interrupted in flight (see
/// [`interrupt_in_flight`]) with `--command-timeout timeout`.
fn put_in_flight(ctrl_c: CtrlC, timeout: &str) {
    let mut c = Cluster::single();
    let cm = objects::configmap("default", "conf", 1, 4000);
    assert!(c
        .ctl()
        .stdin(cm.value.clone())
        .run(&["put", &cm.key])
        .status
        .success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conf.yaml");
    let got = crate::support::cli::run_on(&c, &["get", "configmaps/default/conf"]);
    let edited = crate::support::cli::stdout(&got).replace("setting: 1", "setting: edited");
    assert!(edited.contains("setting: edited"));
    std::fs::write(&file, edited).unwrap();

    let pty = Pty::spawn(
        &c,
        &[
            "--command-timeout",
            timeout,
            "put",
            "configmaps/default/conf",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    // The value alone is over 4000 bytes.
    let (code, text) = interrupt_in_flight(&mut c, pty, 4000, ctrl_c);
    assert_eq!(code, ctrl_c.code(), "{text}");
    let said = match ctrl_c {
        CtrlC::None => format!(
            "writing `{}` was not confirmed (no answer within 3s): it may or may not be written",
            cm.key
        ),
        _ => format!(
            "interrupted (Ctrl-C) while writing `{}`: it may or may not be written",
            cm.key
        ),
    };
    assert!(text.contains(&said), "{text}");
    assert!(text.contains("kubectl etcd get"), "{text}");

    // What the message allowed: the old value or the edited one, whole.
    c.resume(0);
    c.wait_healthy();
    let v: Value = serde_json::from_str(&c.ctl().ok(&["get", &cm.key, "-w", "json"])).unwrap();
    let stored = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        v["kvs"][0]["value"].as_str().unwrap(),
    )
    .unwrap();
    let s = String::from_utf8_lossy(&stored);
    assert!(
        stored == cm.value || s.contains("setting: edited"),
        "neither the old value nor the edit: {s}"
    );
}

#[test]
fn ctrl_c_twice_while_a_put_is_in_flight_exits_130_at_once_saying_it_may_or_may_not_be_written() {
    put_in_flight(CtrlC::Twice, "120s");
}

#[test]
fn ctrl_c_while_a_put_gets_no_answer_exits_130_saying_it_may_or_may_not_be_written() {
    put_in_flight(CtrlC::Once, "3s");
}

#[test]
fn a_put_that_gets_no_answer_exits_3_saying_it_may_or_may_not_be_written() {
    put_in_flight(CtrlC::None, "3s");
}

/// `compact` interrupted in flight (see [`interrupt_in_flight`]).
fn compact_in_flight(ctrl_c: CtrlC, timeout: &str) {
    let mut c = Cluster::single();
    for i in 0..10 {
        c.put("/bump", &i.to_string());
    }
    // compact waits --timeout for its request, not --command-timeout.
    let pty = Pty::spawn(&c, &["compact", "--timeout", timeout]);
    // HEADERS and a small DATA frame.
    let (code, text) = interrupt_in_flight(&mut c, pty, 10, ctrl_c);
    assert_eq!(code, ctrl_c.code(), "{text}");
    let revision = 11;
    let said = match ctrl_c {
        CtrlC::None => format!(
            "compacting at revision {revision} was not confirmed (no answer within 3s): etcd \
             may have applied it"
        ),
        _ => format!(
            "interrupted (Ctrl-C) while compacting at revision {revision}: etcd may have applied it"
        ),
    };
    assert!(text.contains(&said), "{text}");
    assert!(text.contains("kubectl etcd compact --dry-run"), "{text}");
    c.resume(0);
    c.wait_healthy();
    // Compacted or not, as the message allowed: an old revision is either
    // still readable or refused as compacted, and the newest is there.
    let old = c.ctl().run(&["get", "/bump", "--rev", "2"]);
    assert!(
        old.status.success() || String::from_utf8_lossy(&old.stderr).contains("compacted"),
        "{old:?}"
    );
    assert!(c
        .ctl()
        .ok(&["get", "/bump", "--print-value-only"])
        .contains('9'));
}

#[test]
fn ctrl_c_twice_while_a_compaction_is_in_flight_exits_130_at_once_saying_it_may_be_applied() {
    compact_in_flight(CtrlC::Twice, "120s");
}

#[test]
fn ctrl_c_while_a_compaction_gets_no_answer_exits_130_saying_it_may_be_applied() {
    compact_in_flight(CtrlC::Once, "3s");
}

#[test]
fn a_compaction_that_gets_no_answer_exits_3_saying_it_may_be_applied() {
    compact_in_flight(CtrlC::None, "3s");
}

/// `alarm disarm --force` of a real NOSPACE alarm (one member with a
/// 1 MiB quota, filled), interrupted in flight.
fn disarm_in_flight(ctrl_c: CtrlC, timeout: &str) {
    let with_quota = [
        "sh",
        "-c",
        "exec \"$@\" --quota-backend-bytes=1048576",
        "sh",
    ]
    .map(String::from)
    .to_vec();
    let mut c = Cluster::start(ClusterOpts {
        command_prefix: Some((0, with_quota)),
        ..ClusterOpts::default()
    });
    let value = vec![b'x'; 100 * 1024];
    let full = (0..100).any(|n| {
        !c.ctl()
            .stdin(value.clone())
            .run(&["put", &format!("fill/{n:03}")])
            .status
            .success()
    });
    assert!(full, "no NOSPACE after 100 puts of 100 KiB");
    wait_until("the NOSPACE alarm", Duration::from_secs(20), || {
        c.alarm_list().contains("NOSPACE")
    });

    let pty = Pty::spawn(
        &c,
        &["--command-timeout", timeout, "alarm", "disarm", "--force"],
    );
    // HEADERS and a small DATA frame.
    let (code, text) = interrupt_in_flight(&mut c, pty, 10, ctrl_c);
    assert_eq!(code, ctrl_c.code(), "{text}");
    let said = match ctrl_c {
        CtrlC::None => {
            "disarming NOSPACE on `m0` was not confirmed (no answer within 3s): it may or may \
             not be disarmed"
        }
        _ => "interrupted (Ctrl-C) while disarming NOSPACE on `m0`: it may or may not be disarmed",
    };
    assert!(text.contains(said), "{text}");
    assert!(
        text.contains("0 of 1 alarms disarmed; left: NOSPACE on `m0`"),
        "{text}"
    );
    assert!(text.contains("kubectl etcd alarm list"), "{text}");
    c.resume(0);
    // Not `wait_healthy`: etcd 3.5 reports a member with an active alarm as
    // unhealthy, and the alarm may well still be armed.
    wait_until(
        "the member to answer `alarm list`",
        Duration::from_secs(20),
        || c.ctl().run(&["alarm", "list"]).status.success(),
    );
    // Disarmed or not, as the message allowed; etcdctl answers either way.
    let listed = c.alarm_list();
    assert!(
        listed.trim().is_empty() || listed.contains("NOSPACE"),
        "{listed}"
    );
}

#[test]
fn ctrl_c_twice_while_a_disarm_is_in_flight_exits_130_at_once_saying_it_may_be_disarmed() {
    disarm_in_flight(CtrlC::Twice, "120s");
}

#[test]
fn ctrl_c_while_a_disarm_gets_no_answer_exits_130_saying_it_may_be_disarmed() {
    disarm_in_flight(CtrlC::Once, "3s");
}

#[test]
fn a_disarm_that_gets_no_answer_exits_3_saying_it_may_be_disarmed() {
    disarm_in_flight(CtrlC::None, "3s");
}
