//! `lease list` and `lease show ID`: every lease with its TTLs and the
//! types of its keys, or one lease's keys as objects. The calls are in
//! [`crate::etcd::lease`], the key reading in [`crate::keyspace::leases`].

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::lease::{self, format_lease_id, parse_lease_id, Lease};
use crate::keyspace::leases::{self as leased, LeasedKey, TypeCount};
use crate::output::table::Table;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LeaseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Every lease: id, granted and remaining TTL, keys attached and their types.
    ///
    /// One TimeToLive call per lease (8 at a time), each listing that
    /// lease's keys: on a cluster with many leased keys this is a read of
    /// every lease's key list.
    List,
    /// The keys attached to one lease, as objects (type, namespace, name).
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Lease id as etcdctl prints it (hex).
    #[arg(value_name = "ID")]
    pub id: String,
}

/// One lease in `lease list`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    id: String,
    granted_ttl: i64,
    remaining_ttl: i64,
    keys: u64,
    types: Vec<TypeCount>,
}

#[derive(Debug, Serialize)]
struct List {
    leases: Vec<Row>,
}

/// `lease show`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Show {
    id: String,
    granted_ttl: i64,
    remaining_ttl: i64,
    keys: u64,
    objects: Vec<LeasedKey>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let prefix = session.global.prefix.clone();
    let format = session.format_or(OutputFormat::Table);
    match args.command {
        LeaseCommand::List => {
            let mut all = lease::all(&client, |keys| leased::type_counts(keys, &prefix)).await?;
            all.sort_by(|a, b| b.keys.cmp(&a.keys).then_with(|| a.id.cmp(&b.id)));
            let list = List {
                leases: all.into_iter().map(row).collect(),
            };
            session.shell.emit(format, &list, |l| vec![list_table(l)])
        }
        LeaseCommand::Show(show) => {
            let id = parse_lease_id(&show.id).ok_or_else(|| {
                Error::usage(format!("`{}` is not a lease id", show.id))
                    .with_hint("give the hex id `kubectl etcd lease list` prints")
            })?;
            let found = lease::one(&client, id, |keys| leased::objects(keys, &prefix))
                .await?
                .ok_or_else(|| {
                    Error::new(
                        Kind::NotFound,
                        format!(
                            "lease {} not found: expired or revoked",
                            format_lease_id(id)
                        ),
                    )
                    .with_hint("`kubectl etcd lease list` shows the leases that exist")
                })?;
            let show = Show {
                id: format_lease_id(found.id),
                granted_ttl: found.granted_ttl,
                remaining_ttl: found.remaining_ttl,
                keys: found.keys,
                objects: found.summary,
            };
            if format == OutputFormat::Table {
                session.shell.note(format!(
                    "lease {}: granted TTL {}s, {}s left, {} key(s)",
                    show.id, show.granted_ttl, show.remaining_ttl, show.keys
                ));
            }
            session.shell.emit(format, &show, |s| vec![show_table(s)])
        }
    }
}

fn row(l: Lease<Vec<TypeCount>>) -> Row {
    Row {
        id: format_lease_id(l.id),
        granted_ttl: l.granted_ttl,
        remaining_ttl: l.remaining_ttl,
        keys: l.keys,
        types: l.summary,
    }
}

fn list_table(l: &List) -> Table {
    let mut t = Table::new(&["id", "granted ttl", "remaining ttl", "keys", "types"])
        .right_align(&[1, 2, 3]);
    for r in &l.leases {
        t.row([
            r.id.clone(),
            format!("{}s", r.granted_ttl),
            format!("{}s", r.remaining_ttl),
            r.keys.to_string(),
            leased::describe(&r.types),
        ]);
    }
    t
}

fn show_table(s: &Show) -> Table {
    let mut t = Table::new(&["type", "namespace", "name", "key"]);
    for o in &s.objects {
        t.row([
            o.type_name.clone(),
            o.namespace.clone().unwrap_or_default(),
            o.name.clone(),
            o.key.clone(),
        ]);
    }
    t
}
