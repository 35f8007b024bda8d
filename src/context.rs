//! What a command runs against, resolved once from the global flags: the
//! member targets (direct endpoints or Kubernetes pods), TLS, auth, the
//! output format and the shell.

use crate::cli::{GlobalArgs, OutputFormat};
use crate::connect::direct::Endpoint;
use crate::connect::kube::{discovery, secrets, verify, Discovery, EtcdPod, Kube};
use crate::connect::tls::{self, TlsMaterial};
use crate::connect::{Pem, PemOrigin, Target};
use crate::error::{Error, Result};
use crate::etcd::{self, ConnectSettings, EtcdClient};
use crate::output::Shell;

/// A command's view of the world.
pub struct Session {
    pub global: GlobalArgs,
    pub shell: Shell,
    /// Ctrl-C, for commands that write (see [`crate::ops::Interrupt`]).
    pub interrupt: crate::ops::Interrupt,
}

/// The members to talk to, and how.
pub struct Cluster {
    pub targets: Vec<Target>,
    pub settings: ConnectSettings,
    /// Where the TLS material came from (`flags`, `secret `ns/name``), for
    /// messages; empty without TLS material.
    pub tls_source: String,
    /// Where each PEM lives, for tools that need files (`port-forward`).
    pub tls_origins: Vec<(Pem, PemOrigin)>,
    /// The Kubernetes client in Kubernetes mode.
    pub kube: Option<Kube>,
    /// The etcd pods behind `targets` (same order); empty in direct mode.
    pub pods: Vec<EtcdPod>,
    /// The TLS material in use (for `doctor` to read its certificates).
    pub tls_material: TlsMaterial,
}

impl Cluster {
    /// Direct (`--endpoints`) rather than through Kubernetes.
    pub fn direct(&self) -> bool {
        self.kube.is_none()
    }

    /// Connect to every member; failures stay per member.
    pub async fn connect_all(&self) -> Vec<etcd::Result<EtcdClient>> {
        etcd::connect_all(&self.targets, &self.settings).await
    }

    /// Every member for a long read: the first that answers pins the
    /// revision, the others share the pages (see [`etcd::Readers`]).
    pub async fn connect_readers(&self) -> etcd::Result<etcd::Readers> {
        etcd::Readers::connect(&self.targets, &self.settings).await
    }

    /// Any one member, for cluster-wide reads.
    pub async fn connect_any(&self) -> etcd::Result<EtcdClient> {
        etcd::connect_any(&self.targets, &self.settings).await
    }
}

impl Session {
    pub fn new(global: GlobalArgs, shell: Shell) -> Session {
        Session {
            global,
            shell,
            interrupt: crate::ops::Interrupt::never(),
        }
    }

    /// Confirmation for commands that write; honours `--yes`.
    pub fn prompt(&self) -> crate::prompt::Prompter {
        crate::prompt::Prompter::new(self.global.yes)
    }

    /// The output format, or the command's own default. `-o wide` is a
    /// table: see [`Session::wide`].
    pub fn format_or(&self, default: OutputFormat) -> OutputFormat {
        match self.global.output {
            Some(OutputFormat::Wide) => OutputFormat::Table,
            other => other.unwrap_or(default),
        }
    }

    /// `-o wide`: tables show every column, not only those that fit 120
    /// columns.
    pub fn wide(&self) -> bool {
        self.global.output == Some(OutputFormat::Wide)
    }

    /// The kubeconfig contexts named by `--context a,b` or `--all-contexts`;
    /// `None` for one context (or none named): today's single-cluster run.
    pub fn contexts(&self) -> Result<Option<Vec<String>>> {
        let g = &self.global;
        if g.all_contexts {
            return kubeconfig_contexts(g.kubeconfig.as_deref()).map(Some);
        }
        let Some(raw) = g.context.as_deref().filter(|c| c.contains(',')) else {
            return Ok(None);
        };
        let mut names: Vec<String> = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        if names.len() < 2 {
            return Ok(None);
        }
        if !g.endpoints.is_empty() {
            return Err(Error::usage(
                "several --context names with --endpoints: endpoints name one cluster",
            )
            .with_hint(
                "drop --endpoints (or unset ETCDCTL_ENDPOINTS) to find etcd through each context",
            ));
        }
        Ok(Some(names))
    }

    /// A usage error for a command that runs against one cluster only when
    /// several contexts were asked for.
    pub fn refuse_many_contexts(&self) -> Result<()> {
        let many = self.global.all_contexts
            || self
                .global
                .context
                .as_deref()
                .is_some_and(|c| c.split(',').filter(|n| !n.trim().is_empty()).count() > 1);
        if !many {
            return Ok(());
        }
        let accepted = crate::cli::Command::MANY_CONTEXTS.map(|c| format!("`{c}`"));
        Err(Error::usage(format!(
            "this command runs against one context; only {} take several",
            accepted.join(", ")
        ))
        .with_hint("pass one --context NAME"))
    }

    /// A session for one of several contexts: the same flags with
    /// `--context NAME`, writing to `shell`.
    pub fn for_context(&self, name: &str, shell: Shell) -> Session {
        let mut global = self.global.clone();
        global.context = Some(name.to_string());
        global.all_contexts = false;
        Session {
            global,
            shell,
            interrupt: self.interrupt.clone(),
        }
    }

    /// Resolve the members and connection settings.
    pub async fn cluster(&mut self) -> Result<Cluster> {
        if self.global.endpoints.is_empty() {
            return self.kube_cluster().await;
        }
        // `--endpoints ''` or `ETCDCTL_ENDPOINTS=` names no member: an empty
        // table with exit 0 would tell a probe that all is well.
        if self.global.endpoints.iter().all(|e| e.trim().is_empty()) {
            return Err(Error::usage(
                "--endpoints (or ETCDCTL_ENDPOINTS) is empty: no etcd member to talk to",
            )
            .with_hint(
                "pass --endpoints https://HOST:PORT, or unset ETCDCTL_ENDPOINTS to find etcd through your kubeconfig",
            ));
        }
        let material = TlsMaterial::from_files(
            self.global.cacert.as_deref(),
            self.global.cert.as_deref(),
            self.global.key.as_deref(),
        )?;
        let tls_default = !material.is_empty() || self.global.insecure_skip_tls_verify;
        let mut targets = self
            .global
            .endpoints
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| Endpoint::parse(e.trim(), tls_default).map(|e| e.target()))
            .collect::<Result<Vec<_>, _>>()?;
        // An endpoint named twice (`A,A`, or a list pasted together) is one
        // member: shown once, asked once.
        let mut seen = std::collections::HashSet::new();
        targets.retain(|t| seen.insert(t.endpoint.clone()));
        let settings = self.settings(&targets, &material)?;
        Ok(Cluster {
            targets,
            settings,
            kube: None,
            pods: Vec::new(),
            tls_origins: self.file_origins(),
            tls_source: if material.is_empty() {
                String::new()
            } else {
                material.source.clone()
            },
            tls_material: material,
        })
    }

    /// Kubernetes mode: the etcd pods the kubeconfig can see, each reached
    /// by port-forward, with TLS material from flags, `--tls-secret` or the
    /// pod spec.
    async fn kube_cluster(&mut self) -> Result<Cluster> {
        let g = &self.global;
        let kube = Kube::connect(g.kubeconfig.as_deref(), g.context.as_deref()).await?;
        let discovery = Discovery {
            namespace: g.namespace.clone(),
            selector: g.selector.clone(),
            pods: g.pods.clone(),
            container: g.container.clone(),
        };
        let pods = discovery::discover(&kube, &discovery).await?;
        for p in pods.iter().filter(|p| p.problem.is_some()) {
            self.shell.verbose(format!(
                "pod `{}/{}` is {}: its member will show as an error",
                p.info.namespace, p.info.name, p.phase
            ));
        }
        let targets: Vec<Target> = pods.iter().map(|p| kube.target(p)).collect();
        let (material, tls_origins) = self.kube_tls(&kube, &pods).await?;
        let mut settings = self.settings(&targets, &material)?;
        // The certificate may name the node or pod rather than its IP.
        if let (Some(config), None, false) = (
            &settings.tls,
            &self.global.tls_server_name,
            self.global.insecure_skip_tls_verify,
        ) {
            settings.tls = Some(verify::with_pod_names(
                config,
                &material,
                Kube::server_names(&pods),
            )?);
        }
        Ok(Cluster {
            targets,
            settings,
            kube: Some(kube),
            pods,
            tls_origins,
            tls_source: if material.is_empty() {
                String::new()
            } else {
                material.source.clone()
            },
            tls_material: material,
        })
    }

    /// TLS material, first found wins: flags (`ETCDCTL_*`), `--tls-secret`,
    /// then what the etcd container itself uses.
    async fn kube_tls(&mut self, kube: &Kube, pods: &[EtcdPod]) -> Result<secrets::Found> {
        let g = &self.global;
        if g.cacert.is_some() || g.cert.is_some() || g.key.is_some() {
            let material =
                TlsMaterial::from_files(g.cacert.as_deref(), g.cert.as_deref(), g.key.as_deref())?;
            return Ok((material, self.file_origins()));
        }
        let default_ns = pods
            .first()
            .map(|p| p.info.namespace.clone())
            .unwrap_or_else(|| kube.default_namespace.clone());
        if let Some(r) = &g.tls_secret {
            let (ns, name) = secrets::parse_secret_ref(r, &default_ns)?;
            return Ok(secrets::from_secret(kube, &ns, &name).await?);
        }
        if !pods.iter().any(|p| p.tls) {
            return Ok(Default::default());
        }
        // A running pod, so that exec can work if it comes to that.
        let pod = pods
            .iter()
            .find(|p| p.tls && p.problem.is_none())
            .or_else(|| pods.iter().find(|p| p.tls))
            .expect("a TLS pod exists");
        match secrets::automatic(kube, pod).await {
            Ok(found) => {
                self.shell
                    .verbose(format!("etcd client certificates from {}", found.0.source));
                Ok(found)
            }
            // Without a client certificate, --insecure-skip-tls-verify alone
            // may still do for servers that do not check clients.
            Err(_) if g.insecure_skip_tls_verify => Ok(Default::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The `--cacert`/`--cert`/`--key` files given.
    fn file_origins(&self) -> Vec<(Pem, PemOrigin)> {
        let g = &self.global;
        [
            (Pem::Ca, &g.cacert),
            (Pem::Cert, &g.cert),
            (Pem::Key, &g.key),
        ]
        .into_iter()
        .filter_map(|(pem, p)| p.clone().map(|p| (pem, PemOrigin::File(p))))
        .collect()
    }

    /// TLS, auth and timeouts, shared by every member.
    pub fn settings(&self, targets: &[Target], material: &TlsMaterial) -> Result<ConnectSettings> {
        let tls = if targets.iter().any(|t| t.tls) {
            Some(tls::client_config(
                material,
                self.global.insecure_skip_tls_verify,
            )?)
        } else {
            None
        };
        Ok(ConnectSettings {
            tls,
            server_name_override: self.global.tls_server_name.clone(),
            user: self.credentials()?,
            dial_timeout: self.global.dial_timeout,
            command_timeout: self.global.command_timeout,
        })
    }

    fn credentials(&self) -> Result<Option<(String, String)>> {
        let Some(user) = &self.global.user else {
            if self.global.password.is_some() {
                return Err(Error::usage("--password was given without --user"));
            }
            return Ok(None);
        };
        match (user.split_once(':'), &self.global.password) {
            (Some((name, pass)), _) => Ok(Some((name.to_string(), pass.to_string()))),
            (None, Some(pass)) => Ok(Some((user.clone(), pass.clone()))),
            (None, None) => Err(Error::usage(format!("no password for user `{user}`"))
                .with_hint("pass --user NAME:PASSWORD or --password (ETCDCTL_PASSWORD)")),
        }
    }
}

/// The context names of the kubeconfig (`--kubeconfig`, else every file in
/// `KUBECONFIG`, else `~/.kube/config`), in the file's order.
fn kubeconfig_contexts(path: Option<&std::path::Path>) -> Result<Vec<String>> {
    let config = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p),
        None => kube::config::Kubeconfig::read(),
    }
    // As for one context: a file that cannot be read is exit 3, one that
    // does not parse a usage error.
    .map_err(|e| {
        match &e {
            kube::config::KubeconfigError::ReadConfig(io, path) => Error::new(
                crate::error::Kind::Unavailable,
                format!("cannot read kubeconfig `{}`: {io}", path.display()),
            ),
            other => {
                let text = other.to_string();
                let first = text.lines().next().unwrap_or_default();
                Error::usage(format!(
                    "cannot load kubeconfig: {}",
                    first.trim_end_matches(':')
                ))
            }
        }
        .with_hint("--all-contexts reads $KUBECONFIG, else ~/.kube/config; or pass --kubeconfig")
    })?;
    let names: Vec<String> = config.contexts.into_iter().map(|c| c.name).collect();
    if names.is_empty() {
        return Err(
            Error::usage("--all-contexts: the kubeconfig has no contexts")
                .with_hint("pass --kubeconfig with a kubeconfig that has contexts"),
        );
    }
    Ok(names)
}
