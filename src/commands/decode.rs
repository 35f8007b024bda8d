//! `decode`: one raw value from a file or stdin, shown as Kubernetes shows it.
//!
//! `etcdctl get KEY --print-value-only | kubectl etcd decode`

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::input;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::output::table::Table;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File with the raw value; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Only print apiVersion, kind, encoding and encryption.
    #[arg(long)]
    pub type_only: bool,

    /// The etcd key the value was stored under (AES-GCM encryption binds the
    /// value to its key).
    #[arg(long, value_name = "KEY", default_value = "")]
    pub etcd_key: String,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeInfo {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub encoding: String,
    pub encryption_provider: Option<String>,
    pub encryption_key: Option<String>,
    /// `true` when an encrypted value was decrypted with
    /// `--encryption-config` to read its type, `false` when it was not
    /// (its apiVersion and kind are then unknown), `null` for a plain value.
    pub decrypted: Option<bool>,
    pub size: usize,
}

pub fn run(args: Args, session: &mut Session) -> Result<()> {
    let mut raw = read_input(args.file.as_ref())?;
    // `etcdctl get --print-value-only` ends the value with a newline.
    if raw.last() == Some(&b'\n')
        && registry::value::type_meta(&raw).is_none()
        && registry::value::type_meta(&raw[..raw.len() - 1]).is_some()
    {
        raw.pop();
    }
    let decoder = Decoder::new(&args.decode, &session.global.prefix)?;
    if args.type_only {
        let info = type_info(&raw, args.etcd_key.as_bytes(), &decoder)?;
        let format = session.format_or(OutputFormat::Yaml);
        session.shell.emit(format, &info, |i| {
            let mut t = Table::new(&["api version", "kind", "encoding", "encryption", "size"]);
            t.row([
                i.api_version.clone().unwrap_or_else(|| "-".into()),
                i.kind.clone().unwrap_or_else(|| "-".into()),
                i.encoding.clone(),
                match (&i.encryption_provider, &i.encryption_key, i.decrypted) {
                    (Some(p), Some(k), Some(true)) => format!("{p}, key {k}, decrypted"),
                    (Some(p), Some(k), _) => format!("{p}, key {k}, not decrypted"),
                    _ => "-".into(),
                },
                i.size.to_string(),
            ]);
            vec![t]
        })?;
        if info.decrypted == Some(false) {
            session.shell.note(format!(
                "the value is encrypted at rest ({}, key `{}`): its apiVersion and kind are \
                 unknown without decrypting it (pass --encryption-config with kube-apiserver's \
                 EncryptionConfiguration file)",
                crate::output::text::escape(
                    info.encryption_provider.as_deref().unwrap_or_default()
                ),
                crate::output::text::escape(info.encryption_key.as_deref().unwrap_or_default())
            ));
        }
        return Ok(());
    }

    let obj = match decoder.decode(args.etcd_key.as_bytes(), &raw) {
        Ok(obj) => obj,
        // `etcdctl get --print-value-only` ends the value with a newline.
        Err(_) if raw.last() == Some(&b'\n') => {
            raw.pop();
            decoder.decode(args.etcd_key.as_bytes(), &raw)?
        }
        Err(e) => return Err(e.into()),
    };
    for w in &obj.warnings {
        session.shell.warn(w);
    }
    match session.format_or(OutputFormat::Yaml) {
        OutputFormat::Json => session.shell.json(&obj.value),
        OutputFormat::Yaml | OutputFormat::Table | OutputFormat::Wide => {
            session.shell.yaml(&obj.value)
        }
        OutputFormat::Raw => Err(Error::usage("`-o raw` is for `get`; decode shows objects")),
    }
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>> {
    match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => input::read_file(path, input::MAX_VALUE_BYTES)
            .map_err(|e| e.into_error(&format!("`{}`", path.display()), Kind::Usage, Kind::Data)),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Error::usage("no value given: pipe one in or name a file")
                    .with_hint("etcdctl get KEY --print-value-only | kubectl etcd decode"));
            }
            input::read_limited(std::io::stdin().lock(), input::MAX_VALUE_BYTES)
                .map_err(|e| e.into_error("stdin", Kind::Io, Kind::Data))
        }
    }
}

/// What the envelope says, and for an encrypted value what its plaintext
/// says when `--encryption-config` can open it. A value the config cannot
/// open is an error (exit 5), as for `decode`.
fn type_info(raw: &[u8], etcd_key: &[u8], decoder: &Decoder) -> Result<TypeInfo> {
    use registry::value::Encoding;
    let encoding = registry::value::detect(raw);
    let (provider, key) = match &encoding {
        Encoding::Encrypted { provider, key_name } => {
            (Some(provider.clone()), Some(key_name.clone()))
        }
        _ => (None, None),
    };
    let (meta, decrypted) = if provider.is_some() {
        match decoder.decrypt(etcd_key, raw) {
            None => (None, Some(false)),
            Some(first) => {
                // `etcdctl get --print-value-only` ends the value with a
                // newline, which is not part of the ciphertext.
                let plain = match first {
                    Ok(plain) => plain,
                    Err(e) => match raw
                        .strip_suffix(b"\n")
                        .and_then(|t| decoder.decrypt(etcd_key, t))
                    {
                        Some(Ok(plain)) => plain,
                        _ => return Err(e.into()),
                    },
                };
                (registry::value::type_meta(&plain), Some(true))
            }
        }
    } else {
        (registry::value::type_meta(raw), None)
    };
    Ok(TypeInfo {
        api_version: meta.as_ref().map(|m| m.0.clone()),
        kind: meta.map(|m| m.1),
        encoding: match encoding {
            Encoding::Encrypted { .. } => "encrypted".into(),
            e => e.to_string(),
        },
        encryption_provider: provider,
        encryption_key: key,
        decrypted,
        size: raw.len(),
    })
}
