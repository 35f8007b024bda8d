//! `history REF`: every retained version of one object, newest first, with
//! who changed it, when, and the field diff. The walk is
//! [`crate::keyspace::history`]; this file resolves REF and renders.

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::diff::FieldChange;
use crate::keyspace::history::{self, End, Flow, Options, Version};
use crate::keyspace::resolve::Resolver;
use crate::output::table::Listing;

/// Table rows printed at a time.
const PAGE: u64 = 20;
/// Most field changes shown on one table line.
const MAX_CHANGES: usize = 10;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kubectl etcd history deploy/default/web\n  \
    kubectl etcd history pods web-0 -n default --limit 5\n  \
    kubectl etcd history /registry/configmaps/kube-system/kubeadm-config -o json")]
pub struct Args {
    /// A key, `TYPE/NAME`, `TYPE/NAMESPACE/NAME`, or `TYPE` followed by NAME
    /// (as for `get`).
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Object name, when REF is only a type.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    /// Show at most this many versions (newest first).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Show only changes made at or after this revision.
    #[arg(long, value_name = "REV", value_parser = clap::value_parser!(i64).range(1..))]
    pub since_revision: Option<i64>,

    /// With -o json, include each version's decoded object.
    #[arg(long)]
    pub objects: bool,

    /// Also diff fields that change on every write: resourceVersion,
    /// managedFields, generation, observedGeneration, last-applied-configuration.
    #[arg(long)]
    pub all_fields: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

/// One JSON line per version.
#[derive(Serialize)]
struct JsonVersion<'a> {
    revision: i64,
    time: Option<&'a str>,
    manager: Option<&'a str>,
    operation: Option<&'a str>,
    event: &'static str,
    diff: Vec<JsonChange<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    path: &'a str,
    old: Option<&'a serde_json::Value>,
    new: Option<&'a serde_json::Value>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let mut listing = Listing::new(
        format,
        "history",
        &["revision", "time", "event", "manager", "operation", "diff"],
    )?;
    let prefix = session.global.prefix.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let namespace = session.global.namespace.clone();
    let object = Resolver::new(&client, &prefix)
        .object(&args.reference, args.name.as_deref(), namespace.as_deref())
        .await?;
    let opts = Options {
        limit: args.limit.map(|l| l as usize),
        since_revision: args.since_revision,
        all_fields: args.all_fields,
    };
    let shell = &mut session.shell;
    let summary = history::walk(&client, &decoder, &object.key, &opts, |v| {
        listing.push(shell, &json(&v, args.objects), || row(&v))?;
        // Table widths come from the first page: a few rows make one.
        if listing.shown % PAGE == 0 {
            listing.flush(shell)?;
        }
        Ok(Flow::Continue)
    })
    .await?;
    listing.flush(&mut session.shell)?;
    let end = match summary.end {
        End::Complete => format!(
            "{} version(s) of `{}`: the whole retained history",
            summary.versions, object.key
        ),
        End::Compacted { before, revision } => format!(
            "{} version(s) of `{}`; history stops before revision {before}: {}",
            summary.versions,
            object.key,
            match revision {
                Some(k) => format!("revisions before {k} were compacted"),
                None => "older revisions were compacted".into(),
            }
        ),
        End::Limit => format!(
            "{} version(s) of `{}` (--limit); older ones not shown",
            summary.versions, object.key
        ),
        End::Since => format!(
            "{} version(s) of `{}` since revision {}",
            summary.versions,
            object.key,
            args.since_revision.unwrap_or(1)
        ),
    };
    session.shell.note(end);
    Ok(())
}

fn json(v: &Version, objects: bool) -> JsonVersion<'_> {
    JsonVersion {
        revision: v.revision,
        time: v.time.as_deref(),
        manager: v.manager.as_deref(),
        operation: v.operation.as_deref(),
        event: v.event.as_str(),
        diff: v
            .diff
            .iter()
            .flat_map(|d| &d.changes)
            .map(|c: &FieldChange| JsonChange {
                path: &c.path,
                old: c.old.as_ref(),
                new: c.new.as_ref(),
            })
            .collect(),
        object: if objects { v.object.as_ref() } else { None },
        error: v.error.as_ref().map(|e| e.message.as_str()),
    }
}

fn row(v: &Version) -> Vec<String> {
    let detail = match (&v.error, &v.diff) {
        (Some(e), _) => format!("error: {}", e.message),
        (None, Some(d)) => d.render(MAX_CHANGES),
        (None, None) => String::new(),
    };
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    vec![
        v.revision.to_string(),
        dash(&v.time),
        v.event.as_str().to_string(),
        dash(&v.manager),
        dash(&v.operation),
        detail,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::diff::diff;
    use crate::keyspace::watch::EventKind;
    use serde_json::json;

    #[test]
    fn a_json_line_has_the_documented_fields_and_the_object_only_when_asked() {
        let old = json!({"spec": {"replicas": 3}});
        let new = json!({"spec": {"replicas": 5}});
        let v = Version {
            revision: 42,
            event: EventKind::Modified,
            time: Some("2024-01-01T00:00:00Z".into()),
            manager: Some("hpa".into()),
            operation: Some("Update".into()),
            diff: Some(diff(&old, &new, false)),
            object: Some(new.clone()),
            error: None,
        };
        let line = serde_json::to_value(json(&v, false)).unwrap();
        assert_eq!(line["revision"], 42);
        assert_eq!(line["event"], "MODIFIED");
        assert_eq!(line["manager"], "hpa");
        assert_eq!(line["operation"], "Update");
        assert_eq!(line["time"], "2024-01-01T00:00:00Z");
        assert_eq!(
            line["diff"],
            json!([{"path": "spec.replicas", "old": 3, "new": 5}])
        );
        assert!(line.get("object").is_none());
        let with = serde_json::to_value(json(&v, true)).unwrap();
        assert_eq!(with["object"]["spec"]["replicas"], 5);
        assert_eq!(row(&v)[5], "spec.replicas: 3 -> 5");
    }
}
