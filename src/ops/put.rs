//! `put`'s decisions as data: what changed between the stored object and
//! the one about to be written, and why a write may not go ahead.

use std::path::Path;

use crate::error::{Error, Kind, Result};
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
) -> Result<std::result::Result<Diff, Error>> {
    let decoder = Decoder::new(
        &DecodeFlags {
            show_secrets: true,
            ..flags.clone()
        },
        prefix,
    )?;
    let old = match decoder.decode(key, stored) {
        Ok(obj) => obj,
        Err(e) => return Ok(Err(e.into())),
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

/// Why the write may not go ahead, naming both revisions.
pub fn refusal(p: Precondition, key: &str, args: &Source) -> Error {
    let source = if args.if_revision {
        "--if-revision".to_string()
    } else {
        format!("`{}`", args.file.display())
    };
    let get_again = format!(
        "run `kubectl etcd get {} -o yaml > FILE` again, re-apply your edit to that file, and put it",
        args.reference
    );
    match p {
        Precondition::Changed { expected: 0, current } => Error::new(
            Kind::Refused,
            format!("`{key}` exists (revision {current}) but {source} asks to create it: nothing written"),
        )
        .with_hint(get_again),
        Precondition::Changed { expected, current } => Error::new(
            Kind::Refused,
            format!(
                "`{key}` changed since it was read: {source} is based on revision {expected}, etcd has revision {current}: nothing written"
            ),
        )
        .with_hint(get_again),
        Precondition::NoRevision { current } => Error::new(
            Kind::Refused,
            format!(
                "`{}` has no metadata.resourceVersion, so there is no telling whether `{key}` (now at revision {current}) changed since it was read",
                args.file.display()
            ),
        )
        .with_hint(format!(
            "run `kubectl etcd get {} -o yaml` first and edit its output, or pass --if-revision N with the revision your edit is based on",
            args.reference
        )),
        Precondition::Deleted { expected } => Error::new(
            Kind::Refused,
            format!("`{key}` was deleted since it was read at revision {expected}: nothing written"),
        )
        .with_hint("to create it again, pass --if-revision 0"),
        Precondition::Unchanged { .. } | Precondition::Create => Error::new(
            Kind::Refused,
            format!("`{key}` changed while it was being written: nothing written"),
        )
        .with_hint(get_again),
    }
}
