//! Latency of `kubectl etcd watch`: from a write's commit to its JSON line
//! on the watch's stdout, through the real binary, on a local etcd.
//!
//! `cargo bench --bench watch_latency` (env: `WATCH_BENCH_N` writes, default
//! 2000; `WATCH_BENCH_GAP_MS` pause between writes, default 2; `ETCD_BIN`).
//! Writes are sequential: each put is timed from its request and from its
//! acknowledgement (the commit as the client sees it) to the line that
//! reports it.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "../examples/seed/objects.rs"]
mod objects;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Cluster;

const WARMUP: usize = 50;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_or("WATCH_BENCH_N", 2000) as usize;
    let gap = Duration::from_millis(env_or("WATCH_BENCH_GAP_MS", 2));
    let total = n + WARMUP;
    let c = Cluster::single();
    let url = c.member(0).client_url().to_string();

    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"))
        .args([
            "--endpoints",
            &url,
            "-v",
            "watch",
            "/registry/configmaps/bench/",
        ])
        .args([
            "-o",
            "json",
            "--count",
            &total.to_string(),
            "--timeout",
            "300s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl-etcd");
    // Line arrival times by object index.
    let seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; total]));
    let stdout = child.stdout.take().unwrap();
    let sink = seen.clone();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let at = Instant::now();
            let v: Value = serde_json::from_str(&line).expect("json line");
            let name = v["name"].as_str().unwrap_or_default();
            let i: usize = name.trim_start_matches("cm-").parse().expect("index");
            sink.lock().unwrap()[i] = Some(at);
        }
    });
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("watching ") {
                let _ = ready_tx.send(());
            } else {
                eprintln!("watch: {line}");
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("watch started");

    let values: Vec<_> = (0..total)
        .map(|i| objects::configmap("bench", &format!("cm-{i:06}"), i as u64, 0))
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut sent = Vec::with_capacity(total);
    let mut acked = Vec::with_capacity(total);
    rt.block_on(async {
        let mut client = etcd_client::Client::connect([url.as_str()], None)
            .await
            .unwrap();
        for o in &values {
            let t0 = Instant::now();
            client
                .put(o.key.clone(), o.value.clone(), None)
                .await
                .unwrap();
            sent.push(t0);
            acked.push(Instant::now());
            tokio::time::sleep(gap).await;
        }
    });
    let status = child.wait().expect("watch exits");
    reader.join().unwrap();
    assert!(status.success(), "watch failed: {status}");

    let seen = seen.lock().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut from_ack = Vec::new();
    let mut from_send = Vec::new();
    let mut early = 0;
    for i in WARMUP..total {
        let at = seen[i].unwrap_or_else(|| panic!("event {i} never printed"));
        if at < acked[i] {
            early += 1;
        }
        from_ack.push(ms(at.saturating_duration_since(acked[i])));
        from_send.push(ms(at.saturating_duration_since(sent[i])));
    }
    from_ack.sort_by(f64::total_cmp);
    from_send.sort_by(f64::total_cmp);
    println!(
        "watch latency over {n} events (after {WARMUP} warm-up), etcd {}, {gap:?} between writes:",
        support::etcd_version()
    );
    for (what, v) in [
        ("commit (put acknowledged) -> line", &from_ack),
        ("put sent -> line", &from_send),
    ] {
        println!(
            "  {what:<36} p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            percentile(v, 0.50),
            percentile(v, 0.90),
            percentile(v, 0.99),
            v[v.len() - 1]
        );
    }
    println!("  lines printed before the put was acknowledged: {early} of {n}");
}
