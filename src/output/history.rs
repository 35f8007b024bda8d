//! `history` and `snapshot inspect --history` as output: one table row or
//! one JSON line per version, and the line saying how far back the history
//! goes. Both commands render through [`HistoryPrinter`], so live and
//! offline print the same.

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::Result;
use crate::keyspace::diff::FieldChange;
use crate::keyspace::history::{End, Summary, Version};
use crate::output::table::Listing;
use crate::output::Shell;

/// Table rows printed at a time.
const PAGE: u64 = 20;
/// Most field changes shown on one table line.
const MAX_CHANGES: usize = 10;

/// Prints versions as they come, newest first.
pub struct HistoryPrinter {
    listing: Listing,
    objects: bool,
}

impl HistoryPrinter {
    /// `what` names the command for a refused format; `objects` adds each
    /// version's object to its JSON line.
    pub fn new(format: OutputFormat, what: &str, objects: bool) -> Result<HistoryPrinter> {
        let listing = Listing::new(
            format,
            what,
            &["revision", "time", "event", "manager", "operation", "diff"],
        )?;
        Ok(HistoryPrinter { listing, objects })
    }

    pub fn push(&mut self, shell: &mut Shell, v: &Version) -> Result<()> {
        self.listing
            .push(shell, &json(v, self.objects), || row(v))?;
        // Table widths come from the first page: a few rows make one.
        if self.listing.shown % PAGE == 0 {
            self.listing.flush(shell)?;
        }
        Ok(())
    }

    /// Flush the last rows and say how far back the history went.
    pub fn finish(
        mut self,
        shell: &mut Shell,
        summary: &Summary,
        key: &str,
        since: Option<i64>,
    ) -> Result<()> {
        self.listing.flush(shell)?;
        shell.note(end_note(summary, key, since));
        Ok(())
    }
}

/// How far back the history goes, for stderr.
pub fn end_note(summary: &Summary, key: &str, since: Option<i64>) -> String {
    // A key is stored bytes: a newline in it must not start a line of its own.
    let key = crate::output::text::escape(key);
    match summary.end {
        End::Complete => format!(
            "{} version(s) of `{}`: the whole retained history",
            summary.versions, key
        ),
        End::Compacted { before, revision } => format!(
            "{} version(s) of `{}`; history stops before revision {before}: {}",
            summary.versions,
            key,
            match revision {
                Some(k) => format!("revisions before {k} were compacted"),
                None => "older revisions were compacted".into(),
            }
        ),
        End::Limit => format!(
            "{} version(s) of `{}` (--limit); older ones not shown",
            summary.versions, key
        ),
        End::Since => format!(
            "{} version(s) of `{}` since revision {}",
            summary.versions,
            key,
            since.unwrap_or(1)
        ),
    }
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
    error: Option<String>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    path: &'a str,
    old: Option<&'a serde_json::Value>,
    new: Option<&'a serde_json::Value>,
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
        error: v.error.as_ref().map(line),
    }
}

/// Why a version could not be decoded, in the operator's words.
fn line(e: &crate::keyspace::Error) -> String {
    crate::error::Error::from(e.clone()).message
}

fn row(v: &Version) -> Vec<String> {
    let detail = match (&v.error, &v.diff) {
        (Some(e), _) => format!("error: {}", line(e)),
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
    use crate::keyspace::history::Version;
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
