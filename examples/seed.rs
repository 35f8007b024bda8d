//! Load a local etcd with a realistic Kubernetes keyspace, fast.
//!
//! Real key layout and real storage-form values (see `seed/objects.rs`),
//! written in transactions of up to 128 puts (etcd's default
//! `--max-txn-ops`) over several connections at once: one etcdctl process per
//! key manages about 80 keys/s; this does tens of thousands.
//!
//! ```text
//! cargo run --release --example seed -- --endpoints http://127.0.0.1:2379 --keys 100000
//! ```

#[path = "seed/objects.rs"]
mod objects;

use std::time::Instant;

use clap::Parser;
use etcd_client::{Client, Txn, TxnOp};

/// Seed etcd with Kubernetes objects in their storage form.
#[derive(Parser)]
struct Args {
    /// etcd client URLs, comma-separated.
    #[arg(long, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// How many objects to write.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// First object index (to add to an earlier seed without overwriting).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Namespaces to spread objects over.
    #[arg(long, default_value_t = 20)]
    namespaces: u64,
    /// Filler bytes per object (annotations, data), to reach a target size.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    connections: u64,
    /// Puts per transaction (etcd refuses more than its --max-txn-ops, 128).
    #[arg(long, default_value_t = 128)]
    batch: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.endpoints.is_empty() {
        return Err("pass --endpoints (or ETCDCTL_ENDPOINTS)".into());
    }
    let start = Instant::now();
    let client = Client::connect(&args.endpoints, None).await?;

    // Namespaces and the CRD, so the keyspace looks like a real cluster's.
    let mut kv = client.kv_client();
    let mut fixed: Vec<objects::Object> = (0..args.namespaces)
        .map(|n| objects::namespace(&format!("ns-{n}"), n))
        .collect();
    fixed.push(objects::widget_crd());
    for chunk in fixed.chunks(args.batch) {
        let ops = chunk
            .iter()
            .map(|o| TxnOp::put(o.key.clone(), o.value.clone(), None))
            .collect::<Vec<_>>();
        kv.txn(Txn::new().and_then(ops)).await?;
    }

    let per_conn = args.keys.div_ceil(args.connections.max(1));
    let mut tasks = Vec::new();
    for c in 0..args.connections.max(1) {
        let from = args.start + c * per_conn;
        let to = (from + per_conn).min(args.start + args.keys);
        let endpoints = args.endpoints.clone();
        let (namespaces, pad, batch) = (args.namespaces, args.pad, args.batch);
        tasks.push(tokio::spawn(async move {
            let client = Client::connect(&endpoints, None).await?;
            let mut kv = client.kv_client();
            let mut bytes = 0u64;
            let mut i = from;
            while i < to {
                let end = (i + batch as u64).min(to);
                let ops = (i..end)
                    .map(|j| {
                        let o = objects::mixed(j, namespaces, pad);
                        bytes += (o.key.len() + o.value.len()) as u64;
                        TxnOp::put(o.key, o.value, None)
                    })
                    .collect::<Vec<_>>();
                kv.txn(Txn::new().and_then(ops)).await?;
                i = end;
            }
            Ok::<u64, etcd_client::Error>(bytes)
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} objects ({:.1} MB) in {:.1}s: {:.0} keys/s",
        args.keys,
        bytes as f64 / 1e6,
        secs,
        args.keys as f64 / secs
    );
    Ok(())
}
