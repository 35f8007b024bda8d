//! `port-forward`: a local listener that forwards to one etcd pod, for
//! etcdctl and other tools, until Ctrl-C.
//!
//! Certificates read from Secrets stay in memory: this command says which
//! etcdctl flags are needed and where the material is, but writes no file.

use tokio::net::TcpListener;

use crate::connect::{dial_error, Pem, PemOrigin, Target};
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
    if cluster.direct() {
        return Err(Error::usage(
            "port-forward reaches etcd pods through Kubernetes; --endpoints is set",
        )
        .with_hint("unset --endpoints (and ETCDCTL_ENDPOINTS) to use your kubeconfig"));
    }
    let target = first_reachable(&cluster.targets, session).await?;
    let listener = TcpListener::bind((args.address.as_str(), args.local_port))
        .await
        .map_err(|e| {
            let taken = e.kind() == std::io::ErrorKind::AddrInUse;
            let err = Error::io(
                format!("cannot listen on `{}:{}`", args.address, args.local_port),
                e,
            );
            if taken {
                err.with_hint(
                    "another process listens there: pass another --local-port, or 0 for a free one",
                )
            } else {
                err
            }
        })?;
    let local = listener.local_addr()?;
    let scheme = if target.tls { "https" } else { "http" };
    let url = format!("{scheme}://{local}");
    let pod = target.pod.as_ref().map_or(target.endpoint.clone(), |p| {
        format!("pod `{}/{}`", p.namespace, p.name)
    });
    let mut lines = vec![
        format!("# forwarding {local} -> {pod}; Ctrl-C to stop"),
        format!("--endpoints={url}"),
        "export ETCDCTL_API=3".to_string(),
        format!("export ETCDCTL_ENDPOINTS={url}"),
    ];
    if target.tls {
        lines.extend(tls_lines(&cluster.tls_origins, &cluster.tls_source));
        let name = &target.server_name;
        if name != "127.0.0.1" && name != "localhost" {
            lines.push(format!(
                "# etcdctl checks the certificate against 127.0.0.1; it may only name `{name}` \
                 or the node: if etcdctl rejects it, map such a name to 127.0.0.1 in /etc/hosts \
                 and use it in --endpoints"
            ));
        }
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
                        Err(e) => { let _ = tx.send(Error::from(dial_error(e))); }
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
                let e = Error::from(dial_error(e)).context(&t.endpoint);
                session.shell.verbose(format!("{}: skipped", e.message));
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| Error::new(Kind::Unavailable, "no etcd pod to forward to")))
}

/// `export ETCDCTL_*` for local files; for material from the cluster, which
/// is kept in memory only, the commands that would write it out.
pub fn tls_lines(origins: &[(Pem, PemOrigin)], source: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let remote: Vec<_> = origins
        .iter()
        .filter(|(_, o)| !matches!(o, PemOrigin::File(_)))
        .collect();
    if !remote.is_empty() {
        lines.push(format!(
            "# etcdctl needs files; the plugin read the certificates from {source} and keeps them \
             in memory only. To write them yourself:"
        ));
    }
    for (pem, origin) in origins {
        match origin {
            PemOrigin::File(path) => {
                lines.push(format!("export {}={}", pem.etcdctl_env(), path.display()))
            }
            other => {
                if let Some(cmd) = other.fetch_command(pem.file_name()) {
                    lines.push(format!("#   {cmd}"));
                }
                lines.push(format!(
                    "#   export {}=$PWD/{}",
                    pem.etcdctl_env(),
                    pem.file_name()
                ));
            }
        }
    }
    if origins.is_empty() {
        lines.push("# no client certificate: pass --cacert (and --cert/--key) to etcdctl".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_exported_and_secrets_are_explained() {
        let lines = tls_lines(
            &[
                (Pem::Ca, PemOrigin::File("/pki/ca.crt".into())),
                (
                    Pem::Cert,
                    PemOrigin::Secret {
                        namespace: "kube-system".into(),
                        name: "etcd-client".into(),
                        key: "tls.crt".into(),
                    },
                ),
            ],
            "secret `kube-system/etcd-client`",
        );
        assert!(lines.contains(&"export ETCDCTL_CACERT=/pki/ca.crt".to_string()));
        assert!(lines.contains(
            &"#   kubectl get secret -n kube-system etcd-client -o jsonpath='{.data.tls\\.crt}' | base64 -d > etcd-client.crt"
                .to_string()
        ), "{lines:?}");
        assert!(lines.contains(&"#   export ETCDCTL_CERT=$PWD/etcd-client.crt".to_string()));
    }
}
