//! The plugin on a pseudo-terminal (util-linux `script`), driven as a
//! terminal user would: read what it shows, type answers and Ctrl-C (which
//! the terminal turns into SIGINT for the foreground process).

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{find_on_path, Cluster};

pub struct Pty {
    child: Child,
    stdin: Option<ChildStdin>,
    shown: Arc<Mutex<Vec<u8>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Pty {
    /// `kubectl-etcd --endpoints ENDPOINTS ARGS...` on a terminal.
    pub fn spawn(c: &Cluster, args: &[&str]) -> Pty {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let line = std::iter::once(env!("CARGO_BIN_EXE_kubectl-etcd").to_owned())
            .chain(["--endpoints", &c.endpoints()].map(String::from))
            .chain(args.iter().map(|a| a.to_string()))
            .map(|a| quote(&a))
            .collect::<Vec<_>>()
            .join(" ");
        let script = find_on_path("script").expect("script(1) from util-linux");
        let mut child = Command::new(script)
            .args(["-qec", &line, "/dev/null"])
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let shown = Arc::new(Mutex::new(Vec::<u8>::new()));
        let mut pipe = child.stdout.take().unwrap();
        let sink = shown.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            stdin: child.stdin.take(),
            child,
            shown,
            reader: Some(reader),
        }
    }

    /// Everything the terminal showed so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.shown.lock().unwrap()).into_owned()
    }

    /// Waits (up to 60 s) until the terminal shows `needle`, while the
    /// plugin still runs.
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.text().contains(needle) {
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "no `{needle}` ({exited:?}): {}",
                self.text()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `keys` (b"\x03" is Ctrl-C).
    pub fn type_keys(&mut self, keys: &[u8]) {
        let stdin = self.stdin.as_mut().expect("terminal still open");
        stdin.write_all(keys).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits up to `within` for the plugin to exit: its exit code and
    /// everything the terminal showed.
    #[track_caller]
    pub fn exit(mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("no exit within {within:?}: {}", self.text());
            }
            thread::sleep(Duration::from_millis(50));
        };
        drop(self.stdin.take());
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        (status.code(), self.text())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // `script` ends its session (and the plugin with it) when killed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
