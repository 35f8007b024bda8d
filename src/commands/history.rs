//! `history REF`: every retained version of one object, newest first, with
//! who changed it, when, and the field diff. The walk is
//! [`crate::keyspace::history`]; this file resolves REF and renders.

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::history::{self, Flow, HistoryFlags};
use crate::keyspace::resolve::Resolver;
use crate::output::history::HistoryPrinter;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kubectl etcd history deploy/default/web\n  \
    kubectl etcd history pods web-0 -n default --limit 5\n  \
    kubectl etcd history /registry/configmaps/kube-system/kubeadm-config -o json")]
pub struct Args {
    /// A key, `TYPE/NAME`, `TYPE/NAMESPACE/NAME`, or `TYPE` followed by NAME
    /// (as for `get`).
    #[arg(value_name = "REF", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::references))]
    pub reference: String,

    /// Object name, when REF is only a type.
    #[arg(value_name = "NAME", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::object_names))]
    pub name: Option<String>,

    #[command(flatten)]
    pub history: HistoryFlags,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let mut printer = HistoryPrinter::new(format, "history", args.history.objects)?;
    let prefix = session.global.prefix.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let namespace = session.global.namespace.clone();
    let object = Resolver::new(&client, &prefix)
        .object(&args.reference, args.name.as_deref(), namespace.as_deref())
        .await?;
    if let Some(since) = args.history.since_revision {
        crate::keyspace::refuse_future_revision(&client, since, 0)
            .await
            .map_err(|e| {
                crate::error::Error::from(e).with_hint(
                    "give a revision up to the current one, or leave out --since-revision",
                )
            })?;
    }
    let opts = args.history.options();
    let shell = &mut session.shell;
    let summary = history::walk(&client, &decoder, &object.key, &opts, |v| {
        printer.push(shell, &v)?;
        Ok(Flow::Continue)
    })
    .await?;
    printer.finish(
        &mut session.shell,
        &summary,
        &object.key,
        args.history.since_revision,
    )
}
