//! `put`'s decisions as data: what changed between the stored object and
//! the one about to be written, and why a write may not go ahead.

use std::path::Path;

use crate::keyspace;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::diff::{self, Diff};
use crate::keyspace::edit::{self, Precondition};

/// The field diff from the stored value to the one about to be written,
/// both decoded the same way. Secret data shows as sizes unless
/// --show-secrets. `Ok(Err(_))`: the stored value does not decode, so there
/// is no diff to show.
pub fn field_changes(
    flags: &DecodeFlags,
    prefix: &str,
    key: &[u8],
    stored: &[u8],
    plain: &[u8],
) -> crate::ops::Result<Result<Diff, keyspace::Error>> {
    let decoder = Decoder::new(
        &DecodeFlags {
            show_secrets: true,
            ..flags.clone()
        },
        prefix,
    )?;
    let old = match decoder.decode(key, stored) {
        Ok(obj) => obj,
        Err(e) => return Ok(Err(e)),
    };
    let new = decoder.decode(key, plain)?;
    let mut changes = diff::diff(&old.value, &new.value, false);
    if !flags.show_secrets {
        edit::redact_secret_changes(&mut changes, &new.kind);
    }
    Ok(Ok(changes))
}

/// Where the edit's revision came from, as `put`'s messages name it.
pub struct Source<'a> {
    /// The object file given with -f.
    pub file: &'a Path,
    /// The revision came from --if-revision rather than the file.
    pub if_revision: bool,
    /// The REF the operator wrote, for the `get` to run again.
    pub reference: &'a str,
}

/// The compare-and-swap did not hold: why the write may not go ahead,
/// naming both revisions. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub precondition: Precondition,
    pub key: String,
    /// The object file given with -f.
    pub file: std::path::PathBuf,
    /// The revision came from --if-revision rather than the file.
    pub if_revision: bool,
    /// The REF the operator wrote, for the `get` to run again.
    pub reference: String,
}

/// Why the write may not go ahead.
pub fn refusal(p: Precondition, key: &str, args: &Source) -> Conflict {
    Conflict {
        precondition: p,
        key: key.to_string(),
        file: args.file.to_path_buf(),
        if_revision: args.if_revision,
        reference: args.reference.to_string(),
    }
}

impl Conflict {
    /// What to run to start the edit again (the `help:` line).
    pub fn hint(&self) -> String {
        let get_again = format!(
            "run `kubectl etcd get {} -o yaml > FILE` again, re-apply your edit to that file, and put it",
            self.reference
        );
        match self.precondition {
            Precondition::NoRevision { .. } => format!(
                "run `kubectl etcd get {} -o yaml` first and edit its output, or pass --if-revision N with the revision your edit is based on",
                self.reference
            ),
            Precondition::Deleted { .. } => "to create it again, pass --if-revision 0".into(),
            _ => get_again,
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = &self.key;
        let source = if self.if_revision {
            "--if-revision".to_string()
        } else {
            format!("`{}`", self.file.display())
        };
        match self.precondition {
            Precondition::Changed { expected: 0, current } => write!(
                f,
                "`{key}` exists (revision {current}) but {source} asks to create it: nothing written"
            ),
            Precondition::Changed { expected, current } => write!(
                f,
                "`{key}` changed since it was read: {source} is based on revision {expected}, etcd has revision {current}: nothing written"
            ),
            Precondition::NoRevision { current } => write!(
                f,
                "`{}` has no metadata.resourceVersion, so there is no telling whether `{key}` (now at revision {current}) changed since it was read",
                self.file.display()
            ),
            Precondition::Deleted { expected } => write!(
                f,
                "`{key}` was deleted since it was read at revision {expected}: nothing written"
            ),
            Precondition::Unchanged { .. } | Precondition::Create => write!(
                f,
                "`{key}` changed while it was being written: nothing written"
            ),
        }
    }
}

impl std::error::Error for Conflict {}
