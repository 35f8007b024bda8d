//! Hostile input (issue 13): every stored byte, file and flag gets a
//! bounded, clear answer. Regression tests named after the defects found
//! by fuzzing the built binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::cli::{code, plugin, stderr, stdout};

/// Whether process `pid` has a handler installed for SIGINT (bit 2 of
/// `SigCgt` in /proc/PID/status).
fn catches_sigint(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (2 - 1)) != 0)
}

/// Issue 13, defect 1: Ctrl-C was ignored while a command did not yield
/// (a long decode; here `decode -` blocked reading stdin, which holds the
/// command the same way): the interrupt must end any command, exit 130.
#[test]
fn interrupt_ends_a_command_that_does_not_yield() {
    let mut child = plugin()
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"k8s\0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !catches_sigint(child.id()) {
        assert!(Instant::now() < deadline, "no SIGINT handler installed");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the interrupt did not end the command");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert_eq!(stderr(&out).trim(), "interrupted");
    assert_eq!(stdout(&out), "");
}
