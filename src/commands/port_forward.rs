//! `port-forward`: a local listener that forwards to one etcd pod, for
//! etcdctl and other tools, until Ctrl-C.
//!
//! Certificates read from Secrets stay in memory: this command says which
//! etcdctl flags are needed and where the material is, but writes no file.

use tokio::net::TcpListener;

use crate::connect::{dial_error, Target};
use crate::context::Session;
use crate::error::{Error, Kind, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Local port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub local_port: u16,

    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub address: String,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    if cluster.direct {
        return Err(Error::usage(
            "port-forward reaches etcd pods through Kubernetes; --endpoints is set",
        )
        .with_hint("unset --endpoints (and ETCDCTL_ENDPOINTS) to use your kubeconfig"));
    }
    let target = first_reachable(&cluster.targets, session).await?;
    let listener = TcpListener::bind((args.address.as_str(), args.local_port))
        .await
        .map_err(|e| {
            Error::io(
                format!("cannot listen on `{}:{}`", args.address, args.local_port),
                e,
            )
        })?;
    let local = listener.local_addr()?;
    let scheme = if target.tls { "https" } else { "http" };
    let url = format!("{scheme}://{local}");
    let pod = target.pod.as_ref().map_or(target.endpoint.clone(), |p| {
        format!("pod `{}/{}`", p.namespace, p.name)
    });
    let g = &session.global;
    let mut lines = vec![
        format!("# forwarding {local} -> {pod}; Ctrl-C to stop"),
        format!("--endpoints={url}"),
        "export ETCDCTL_API=3".to_string(),
        format!("export ETCDCTL_ENDPOINTS={url}"),
    ];
    if target.tls {
        let from_flags = g.cacert.is_some() || g.cert.is_some() || g.key.is_some();
        if from_flags {
            for (var, path) in [
                ("ETCDCTL_CACERT", &g.cacert),
                ("ETCDCTL_CERT", &g.cert),
                ("ETCDCTL_KEY", &g.key),
            ] {
                if let Some(p) = path {
                    lines.push(format!("export {var}={}", p.display()));
                }
            }
        } else {
            lines.push(format!(
                "# etcdctl needs --cacert, --cert and --key files; the plugin read them from {} and keeps them in memory only (nothing is written to disk)",
                if cluster.tls_source.is_empty() { "nowhere" } else { &cluster.tls_source }
            ));
            lines.push(
                "# export them yourself, e.g. `kubectl get secret -n NS NAME -o jsonpath='{.data.tls\\.crt}' | base64 -d > client.crt` (likewise tls.key, ca.crt), then set ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY"
                    .to_string(),
            );
        }
        lines.push(format!(
            "# the server certificate names `{}`, maybe not 127.0.0.1: if etcdctl rejects it, connect with a name it carries",
            target.server_name
        ));
    }
    for l in &lines {
        writeln!(session.shell.out(), "{l}")?;
    }
    session.shell.flush()?;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Error>();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => { session.shell.warn(format!("accept failed: {e}")); continue; }
                };
                session.shell.verbose(format!("connection from {peer}"));
                let dialer = target.dialer.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match dialer.dial().await {
                        Ok(mut remote) => {
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut remote).await;
                        }
                        Err(e) => { let _ = tx.send(dial_error(e)); }
                    }
                });
            }
            Some(err) = rx.recv() => {
                session.shell.error(&err);
                let _ = session.shell.flush();
            }
        }
    }
}

/// The first member whose pod accepts a forward.
async fn first_reachable<'a>(targets: &'a [Target], session: &mut Session) -> Result<&'a Target> {
    let mut first_err = None;
    for t in targets {
        match t.dialer.dial().await {
            Ok(_) => return Ok(t),
            Err(e) => {
                let e = dial_error(e).context(&t.endpoint);
                session.shell.verbose(format!("{}: skipped", e.message));
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| Error::new(Kind::Unavailable, "no etcd pod to forward to")))
}
