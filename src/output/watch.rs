//! `watch` output: one line per change with a field-level diff, a JSON line
//! for jq, or a YAML document; connection news on stderr.
//!
//! Renders [`Change`]s the keyspace watch produces; never talks to etcd.

use std::time::SystemTime;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::Result;
use crate::keyspace::watch::{Change, EventKind, Update};
use crate::output::{escape, Shell};

/// Most field changes shown on one line.
const MAX_CHANGES: usize = 10;

/// Connection news, on stderr.
pub fn status(shell: &mut Shell, label: &str, update: Update) {
    match update {
        Update::Started { endpoint, revision } => {
            shell.verbose(format!(
                "watching {label} on {endpoint} from revision {revision}"
            ));
        }
        Update::Progress { revision } => shell.verbose(format!("idle at revision {revision}")),
        Update::Lost { endpoint, error } => shell.warn(format!(
            "lost the watch on {endpoint}: {}; reconnecting",
            crate::error::Error::from(error.clone()).message
        )),
        Update::Retry { endpoint, error } => shell.verbose(format!(
            "cannot resume on {endpoint}: {}",
            crate::error::Error::from(error.clone()).message
        )),
        Update::Reconnected { endpoint, revision } => shell.note(format!(
            "reconnected to {endpoint}; resuming at revision {revision}"
        )),
        Update::Event(_) => {}
    }
}

/// One change in the chosen format, flushed at once.
pub fn render(shell: &mut Shell, format: OutputFormat, c: &Change) -> Result<()> {
    match format {
        OutputFormat::Json => shell.json_line(&JsonEvent::from(c))?,
        OutputFormat::Yaml => {
            let out = shell.out();
            writeln!(out, "---")?;
            let comment = format!(
                "# {} {} {} revision {}",
                c.kind.as_str(),
                c.resource,
                c.display_name(),
                c.revision
            );
            writeln!(out, "{}", escape(&comment))?;
            if let Some(e) = &c.error {
                writeln!(out, "# error: {}", escape(&e.message))?;
            }
            if let Some(o) = &c.object {
                shell.yaml(&o.value)?;
            }
        }
        _ => writeln!(shell.out(), "{}", escape(&line(c, SystemTime::now())))?,
    }
    shell.out().flush()?;
    Ok(())
}

/// `TIME EVENT TYPE NAMESPACE/NAME REVISION DIFF`.
pub fn line(c: &Change, at: SystemTime) -> String {
    let detail = match (&c.error, &c.diff, c.kind) {
        (Some(e), _, _) => format!("error: {}", e.message),
        (None, Some(d), _) => d.render(MAX_CHANGES),
        (None, None, EventKind::Modified) => "(previous version not available)".into(),
        (None, None, _) => String::new(),
    };
    let text = format!(
        "{} {:<8} {} {} {} {detail}",
        humantime::format_rfc3339_millis(at),
        c.kind.as_str(),
        c.resource,
        c.display_name(),
        c.revision,
    );
    text.trim_end().to_string()
}

/// The JSON line of one change, for jq.
#[derive(Serialize)]
pub struct JsonEvent<'a> {
    #[serde(rename = "type")]
    kind: EventKind,
    key: &'a str,
    resource: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    revision: i64,
    object: Option<&'a serde_json::Value>,
    previous: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> From<&'a Change> for JsonEvent<'a> {
    fn from(c: &'a Change) -> Self {
        JsonEvent {
            kind: c.kind,
            key: &c.key,
            resource: &c.resource,
            namespace: c.namespace.as_deref(),
            name: &c.name,
            revision: c.revision,
            object: c.object.as_ref().map(|o| &o.value),
            previous: c.previous.as_ref().map(|o| &o.value),
            error: c.error.as_ref().map(|e| e.message.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::decode::{DecodeFlags, Decoder};
    use crate::keyspace::watch::Event;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    fn widget(size: u32) -> Vec<u8> {
        format!(
            r#"{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w1","namespace":"default"}},"spec":{{"size":{size}}}}}"#
        )
        .into_bytes()
    }

    fn change(kind: EventKind, value: Vec<u8>, prev: Option<Vec<u8>>) -> Change {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let ev = Event {
            kind,
            key: b"/registry/example.com/widgets/default/w1".to_vec(),
            value,
            prev_value: prev,
            prev_revision: 41,
            revision: 42,
        };
        Change::new(&ev, &d, "/registry", false)
    }

    #[test]
    fn a_modified_line_has_time_event_type_name_revision_and_diff() {
        let c = change(EventKind::Modified, widget(5), Some(widget(3)));
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            line(&c, at),
            "2023-11-14T22:13:20.123Z MODIFIED widgets.example.com default/w1 42 spec.size: 3 -> 5"
        );
    }

    #[test]
    fn added_lines_end_after_the_revision_and_errors_replace_the_diff() {
        let at = UNIX_EPOCH;
        let c = change(EventKind::Added, widget(1), None);
        assert!(line(&c, at).ends_with("ADDED    widgets.example.com default/w1 42"));
        let c = change(EventKind::Modified, b"\x01junk".to_vec(), Some(widget(1)));
        assert!(
            line(&c, at).contains(" 42 error: cannot decode"),
            "{}",
            line(&c, at)
        );
    }

    #[test]
    fn json_lines_carry_decoded_objects_and_the_error_only_when_there_is_one() {
        let c = change(EventKind::Modified, widget(5), Some(widget(3)));
        let v = serde_json::to_value(JsonEvent::from(&c)).unwrap();
        assert_eq!(v["type"], "MODIFIED");
        assert_eq!(v["resource"], "widgets.example.com");
        assert_eq!(v["namespace"], "default");
        assert_eq!(v["name"], "w1");
        assert_eq!(v["revision"], 42);
        assert_eq!(v["object"]["spec"]["size"], 5);
        assert_eq!(v["previous"]["spec"]["size"], 3);
        assert!(v.get("error").is_none());
    }
}
