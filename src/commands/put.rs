//! `put`: write an object back in its storage form, for disaster-recovery
//! edits. Optimistic concurrency as kubectl has it: the write is based on
//! the revision the object was read at (its `metadata.resourceVersion`, or
//! `--if-revision`), refused if the key changed since, and guarded by a
//! compare-and-swap transaction on that revision. Before confirming it
//! shows the field diff between what is stored and what will be written.

use std::path::PathBuf;

use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
use registry::value::Encoding;
use serde_json::Value;

use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{load_encryption_config, DecodeFlags};
use crate::keyspace::edit::{self, Precondition};
use crate::keyspace::resolve::Resolver;
use crate::ops::put::{self, refusal, Source};
use crate::output::diff;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write: a key, `TYPE/NAME` or `TYPE/NAMESPACE/NAME`.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The object, as YAML or JSON, from `get -o yaml` (with --show-secrets
    /// for Secrets); its metadata.resourceVersion says which revision the
    /// edit is based on.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,

    /// Write only if the key's mod revision is still N, instead of the
    /// file's metadata.resourceVersion (0: only if the key does not exist).
    #[arg(long, value_name = "N")]
    pub if_revision: Option<i64>,

    /// Show what would be written and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let text = crate::input::read_text(&args.file, crate::input::MAX_VALUE_BYTES).map_err(|e| {
        e.into_error(
            &format!("`{}`", args.file.display()),
            Kind::Usage,
            Kind::Data,
        )
    })?;
    // Without the source snippet: the cause is one line.
    let yaml = serde_saphyr::options! { with_snippet: false };
    let mut object: Value = serde_saphyr::from_str_with_options(&text, yaml).map_err(|e| {
        Error::data(format!(
            "`{}` is not YAML or JSON: {e}",
            args.file.display()
        ))
    })?;
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if api_version.is_empty() || kind.is_empty() {
        return Err(Error::data("the object has no apiVersion or kind"));
    }
    if text.contains("<redacted ") {
        return Err(Error::new(
            Kind::Refused,
            "the object holds `<redacted N bytes>` placeholders: writing it would destroy the data",
        )
        .with_hint("get it with --show-secrets, edit, and put that"));
    }
    if args.if_revision.is_some_and(|n| n < 0) {
        return Err(Error::usage("--if-revision must be 0 or a revision"));
    }
    // kube-apiserver never stores resourceVersion: it is the key's revision.
    let from_file = edit::take_resource_version(&mut object)
        .map_err(|e| Error::data(format!("`{}`: {e}", args.file.display())))?;
    let expected = args.if_revision.or(from_file);

    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let target = Resolver::new(&client, &prefix)
        .object(&args.reference, None, namespace.as_deref())
        .await?;

    let expected_kind = target.resource_type.as_ref().map(|t| t.kind.as_ref());
    edit::check_place(&object, &kind, &target.key, &prefix, expected_kind)?;

    // Built-in types are stored as protobuf, custom resources as JSON.
    let builtin = target.resource_type.as_ref().is_some_and(|t| t.builtin);
    let plain = if builtin {
        registry::value::encode(&api_version, &kind, &object)
            .map_err(|e| Error::data(format!("cannot encode {api_version} {kind}: {e}")))?
    } else {
        serde_json::to_vec(&object).map_err(|e| Error::data(e.to_string()))?
    };

    let mut kv = client.kv();
    let current = client.call(kv.get(target.key.as_bytes(), None)).await?;
    let existing = current.kvs().first();
    let guard = match edit::precondition(expected, existing.map(|kv| kv.mod_revision())) {
        Precondition::Unchanged { revision } => {
            Compare::mod_revision(target.key.as_bytes(), CompareOp::Equal, revision)
        }
        Precondition::Create => {
            Compare::create_revision(target.key.as_bytes(), CompareOp::Equal, 0)
        }
        refused => return Err(refusal(refused, &target.key, &source(&args)).into()),
    };

    // Keep encryption at rest: never replace an encrypted value with plaintext.
    let stored = match existing.map(|kv| registry::value::detect(kv.value())) {
        Some(Encoding::Encrypted { provider, key_name }) => {
            let Some(path) = args.decode.encryption_config.as_deref() else {
                return Err(Error::new(
                    Kind::Refused,
                    format!("the stored value is encrypted ({provider}, key `{key_name}`): writing plaintext would bypass encryption at rest"),
                )
                .with_hint("pass --encryption-config so the new value is encrypted the same way"));
            };
            let config = load_encryption_config(path, &prefix)?;
            config
                .encrypt(target.key.as_bytes(), &plain)
                .map_err(|e| Error::data(e.to_string()))?
        }
        _ => plain.clone(),
    };

    // The key is stored bytes: shown escaped in notes and the prompt, so a
    // newline in it cannot start a line of its own.
    let shown = crate::output::text::escape(&target.key);
    let action = match existing {
        Some(kv) => format!(
            "replace `{shown}` (revision {}) with {api_version} {kind}, {} bytes as {}",
            kv.mod_revision(),
            stored.len(),
            if builtin { "protobuf" } else { "json" }
        ),
        None => format!(
            "create `{shown}` as {api_version} {kind}, {} bytes",
            stored.len()
        ),
    };
    session.shell.note(format!("will {action}"));
    if let Some(kv) = existing {
        match put::field_changes(&args.decode, &prefix, kv.key(), kv.value(), &plain)? {
            Ok(changes) => diff::show(&mut session.shell, &changes),
            Err(e) => session.shell.warn(format!(
                "the stored value does not decode, so no diff is shown: {}",
                Error::from(e)
            )),
        }
    }
    if args.dry_run {
        session.shell.note("dry run: nothing written");
        return Ok(());
    }
    session.prompt().confirm(&action)?;

    // Only if nobody changed the key since the edit's revision; otherwise
    // read what is there now, to name its revision.
    let txn = Txn::new()
        .when([guard])
        .and_then([TxnOp::put(target.key.as_bytes(), stored, None)])
        .or_else([TxnOp::get(target.key.as_bytes(), None)]);
    let interrupt = session.interrupt.clone();
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C): nothing written to `{}`",
            target.key
        )));
    }
    // Once sent, the write is waited for: its outcome must be told. Left
    // at a second Ctrl-C, or unanswered after the first, it is unknown.
    let in_doubt = |cause: Option<&crate::etcd::Error>| {
        let why = cause
            .map(|c| format!(" ({})", Error::from(c.clone()).message))
            .unwrap_or_default();
        let mut e = Error::interrupted(format!(
            "interrupted (Ctrl-C) while writing `{}`: it may or may not be written{why}",
            target.key
        ))
        .with_hint(read_back(&args));
        e.cause = cause.and_then(|c| Error::from(c.clone()).cause);
        e
    };
    let resp = interrupt
        .finish(client.call(kv.txn(txn)), "the write", &mut |l| {
            session.shell.note(l)
        })
        .await
        .map_err(|()| in_doubt(None))?;
    if let Some(cause) = interrupt.unanswered(&resp) {
        return Err(in_doubt(Some(cause)));
    }
    let resp = resp.map_err(|e| match e.leaves_write_in_doubt() {
        true => Error::from(crate::ops::Error::in_doubt(
            format!("writing `{}`", target.key),
            "it may or may not be written",
            read_back(&args),
            e,
        )),
        false => Error::from(e),
    })?;
    if !resp.succeeded() {
        let now = resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get.kvs().first().map(|kv| kv.mod_revision())),
            _ => None,
        });
        let refused = edit::precondition(expected, now.flatten());
        return Err(refusal(refused, &target.key, &source(&args)).into());
    }
    let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    let wrote = format!("wrote `{shown}` at revision {revision}");
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C) after the write: {wrote}; nothing is left to do"
        )));
    }
    session.shell.note(wrote);
    Ok(())
}

/// Where the edit's revision came from, for the refusal messages.
fn source(args: &Args) -> Source<'_> {
    Source {
        file: &args.file,
        if_revision: args.if_revision.is_some(),
        reference: &args.reference,
    }
}

/// The `help:` line when the write's outcome is unknown.
fn read_back(args: &Args) -> String {
    format!(
        "read it back with `kubectl etcd get {}` before doing anything else",
        args.reference
    )
}
