//! `put`: write an object back in its storage form, for disaster-recovery
//! edits. Writes only if the key has not changed since it was read (a
//! compare-and-swap transaction), after confirmation.

use std::path::PathBuf;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use registry::value::Encoding;
use serde_json::Value;

use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{load_encryption_config, DecodeFlags};
use crate::keyspace::resolve::Resolver;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write: a key, `TYPE/NAME` or `TYPE/NAMESPACE/NAME`.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The object, as YAML or JSON (e.g. from `get -o yaml --show-secrets`).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,

    /// Show what would be written and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::usage(format!("cannot read `{}`: {e}", args.file.display())))?;
    let object: Value = serde_saphyr::from_str(&text).map_err(|e| {
        Error::data(format!(
            "`{}` is not YAML or JSON: {e}",
            args.file.display()
        ))
    })?;
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
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

    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let target = Resolver::new(&client, &prefix)
        .object(&args.reference, None, namespace.as_deref())
        .await?;

    // Built-in types are stored as protobuf, custom resources as JSON.
    let builtin = target.resource_type.as_ref().is_some_and(|t| t.builtin);
    let plain = if builtin {
        registry::value::encode(api_version, kind, &object)
            .map_err(|e| Error::data(format!("cannot encode {api_version} {kind}: {e}")))?
    } else {
        serde_json::to_vec(&object).map_err(|e| Error::data(e.to_string()))?
    };

    let mut kv = client.kv();
    let current = client.call(kv.get(target.key.as_bytes(), None)).await?;
    let existing = current.kvs().first();
    let mod_revision = existing.map(|kv| kv.mod_revision()).unwrap_or(0);

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
        _ => plain,
    };

    let action = match existing {
        Some(_) => format!(
            "replace `{}` (revision {mod_revision}) with {api_version} {kind}, {} bytes as {}",
            target.key,
            stored.len(),
            if builtin { "protobuf" } else { "json" }
        ),
        None => format!(
            "create `{}` as {api_version} {kind}, {} bytes",
            target.key,
            stored.len()
        ),
    };
    session.shell.note(format!("will {action}"));
    if args.dry_run {
        session.shell.note("dry run: nothing written");
        return Ok(());
    }
    session.prompt().confirm(&action)?;

    // Only if nobody changed the key since we read it.
    let guard = if existing.is_some() {
        Compare::mod_revision(target.key.as_bytes(), CompareOp::Equal, mod_revision)
    } else {
        Compare::create_revision(target.key.as_bytes(), CompareOp::Equal, 0)
    };
    let txn = Txn::new()
        .when([guard])
        .and_then([TxnOp::put(target.key.as_bytes(), stored, None)]);
    let interrupt = session.interrupt.clone();
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C): nothing written to `{}`",
            target.key
        )));
    }
    // Once sent, the write is waited for: its outcome must be told.
    let resp = interrupt
        .finish(client.call(kv.txn(txn)), "the write", &mut |l| {
            session.shell.note(l)
        })
        .await
        .map_err(|()| {
            Error::interrupted(format!(
                "interrupted (Ctrl-C) while writing `{}`: it may or may not be written",
                target.key
            ))
            .with_hint("read it back with `kubectl etcd get` before doing anything else")
        })??;
    if !resp.succeeded() {
        return Err(Error::new(
            Kind::Refused,
            format!(
                "`{}` changed since it was read: nothing written",
                target.key
            ),
        )
        .with_hint("read it again and re-apply your edit"));
    }
    let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    let wrote = format!("wrote `{}` at revision {revision}", target.key);
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C) after the write: {wrote}; nothing is left to do"
        )));
    }
    session.shell.note(wrote);
    Ok(())
}
