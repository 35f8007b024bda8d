//! What a command runs against, resolved once from the global flags: the
//! member targets (direct endpoints or Kubernetes pods), TLS, auth, the
//! output format and the shell.

use crate::cli::{GlobalArgs, OutputFormat};
use crate::connect::direct::Endpoint;
use crate::connect::tls::{self, TlsMaterial};
use crate::connect::Target;
use crate::error::{Error, Kind, Result};
use crate::etcd::{self, ConnectSettings, EtcdClient};
use crate::output::Shell;

/// A command's view of the world.
pub struct Session {
    pub global: GlobalArgs,
    pub shell: Shell,
}

/// The members to talk to, and how.
pub struct Cluster {
    pub targets: Vec<Target>,
    pub settings: ConnectSettings,
    /// Direct (`--endpoints`) or through Kubernetes.
    pub direct: bool,
}

impl Cluster {
    /// Connect to every member; failures stay per member.
    pub async fn connect_all(&self) -> Vec<Result<EtcdClient>> {
        etcd::connect_all(&self.targets, &self.settings).await
    }

    /// Any one member, for cluster-wide reads.
    pub async fn connect_any(&self) -> Result<EtcdClient> {
        etcd::connect_any(&self.targets, &self.settings).await
    }
}

impl Session {
    pub fn new(global: GlobalArgs, shell: Shell) -> Session {
        Session { global, shell }
    }

    /// Confirmation for commands that write; honours `--yes`.
    pub fn prompt(&self) -> crate::prompt::Prompter {
        crate::prompt::Prompter::new(self.global.yes)
    }

    /// The output format, or the command's own default.
    pub fn format_or(&self, default: OutputFormat) -> OutputFormat {
        self.global.output.unwrap_or(default)
    }

    /// Resolve the members and connection settings.
    pub async fn cluster(&mut self) -> Result<Cluster> {
        if self.global.endpoints.is_empty() {
            return Err(Error::new(
                Kind::Usage,
                "no --endpoints given and Kubernetes discovery is not available in this build",
            )
            .with_hint("pass --endpoints https://HOST:2379 (or set ETCDCTL_ENDPOINTS)"));
        }
        let material = TlsMaterial::from_files(
            self.global.cacert.as_deref(),
            self.global.cert.as_deref(),
            self.global.key.as_deref(),
        )?;
        let tls_default = !material.is_empty() || self.global.insecure_skip_tls_verify;
        let targets = self
            .global
            .endpoints
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| Endpoint::parse(e.trim(), tls_default).map(|e| e.target()))
            .collect::<Result<Vec<_>>>()?;
        let settings = self.settings(&targets, &material)?;
        Ok(Cluster {
            targets,
            settings,
            direct: true,
        })
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
