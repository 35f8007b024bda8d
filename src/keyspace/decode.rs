//! Turning a stored value into the object Kubernetes would show: decrypt
//! (given the apiserver's EncryptionConfiguration), decode, redact Secrets.

use std::path::{Path, PathBuf};

use registry::encryption::EncryptionConfig;
use registry::value::{self, DecodeError, DecodeOptions, Encoding};
use serde_json::Value;

use crate::error::{Error, Kind, Result};

/// Flags shared by every command that shows decoded objects.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DecodeFlags {
    /// Show Secret data instead of `<redacted N bytes>`.
    #[arg(long)]
    pub show_secrets: bool,

    /// kube-apiserver's EncryptionConfiguration (its
    /// `--encryption-provider-config`), to decrypt values encrypted at rest.
    #[arg(long, value_name = "FILE")]
    pub encryption_config: Option<PathBuf>,

    /// Fail on any field or kind the schema does not know, instead of
    /// keeping it with a warning.
    #[arg(long)]
    pub strict: bool,
}

/// A decoded object and what was learned on the way.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: String,
    pub value: Value,
    pub warnings: Vec<String>,
}

/// Decodes values with one set of flags.
pub struct Decoder {
    encryption: Option<EncryptionConfig>,
    options: DecodeOptions,
    show_secrets: bool,
}

impl Decoder {
    pub fn new(flags: &DecodeFlags, prefix: &str) -> Result<Decoder> {
        let encryption = flags
            .encryption_config
            .as_deref()
            .map(|p| load_encryption_config(p, prefix))
            .transpose()?;
        Ok(Decoder {
            encryption,
            options: DecodeOptions {
                strict: flags.strict,
            },
            show_secrets: flags.show_secrets,
        })
    }

    /// The plaintext of a value encrypted at rest; `None` when no
    /// `--encryption-config` was given. A plain value comes back as it is.
    pub fn decrypt(&self, key: &[u8], stored: &[u8]) -> Option<Result<Vec<u8>>> {
        let config = self.encryption.as_ref()?;
        Some(
            config
                .decrypt(key, stored)
                .map_err(|e| Error::new(Kind::Data, e.to_string())),
        )
    }

    /// Decode the value stored at `key` (the key matters: AES-GCM binds the
    /// ciphertext to it).
    pub fn decode(&self, key: &[u8], stored: &[u8]) -> Result<Object> {
        let encoding = value::detect(stored);
        let plain;
        let bytes = match &encoding {
            Encoding::Encrypted { provider, key_name } => {
                let Some(config) = &self.encryption else {
                    return Err(Error::new(
                        Kind::Data,
                        format!("the value is encrypted at rest ({provider}, key `{key_name}`)"),
                    )
                    .with_hint(
                        "pass --encryption-config with kube-apiserver's EncryptionConfiguration file",
                    ));
                };
                plain = config
                    .decrypt(key, stored)
                    .map_err(|e| Error::new(Kind::Data, e.to_string()))?;
                &plain[..]
            }
            _ => stored,
        };
        let decoded = value::decode(bytes, &self.options).map_err(explain)?;
        let mut obj = decoded.to_value();
        if !self.show_secrets {
            value::redact_secrets(&mut obj);
        }
        Ok(Object {
            kind: decoded.kind,
            value: obj,
            warnings: decoded.warnings,
        })
    }
}

/// Read kube-apiserver's EncryptionConfiguration file.
pub fn load_encryption_config(path: &Path, prefix: &str) -> Result<EncryptionConfig> {
    let text = crate::input::read_text(path, crate::input::MAX_CONFIG_BYTES).map_err(|e| {
        e.into_error(
            &format!("--encryption-config `{}`", path.display()),
            Kind::Usage,
            Kind::Usage,
        )
    })?;
    EncryptionConfig::from_yaml(&text)
        .map(|c| c.with_prefix(prefix))
        .map_err(|e| {
            Error::new(Kind::Data, format!("`{}`: {e}", path.display()))
                .with_hint("pass the file kube-apiserver reads with --encryption-provider-config")
        })
}

fn explain(e: DecodeError) -> Error {
    let hint = match &e {
        DecodeError::UnknownField { .. } | DecodeError::UnknownKind { .. } => {
            Some("without --strict, unknown fields are kept under their field numbers")
        }
        DecodeError::UnknownEncoding(_) => {
            Some("this value was not written by kube-apiserver; `get -o raw` shows the bytes")
        }
        DecodeError::TooDeep { .. } | DecodeError::TooLarge { .. } => Some(
            "no Kubernetes object is shaped like this; `get -o raw` shows the bytes (limits: README, \"Input limits\")",
        ),
        _ => None,
    };
    let err = Error::new(Kind::Data, format!("cannot decode: {e}"));
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_values_without_a_config_say_which_key_and_what_to_pass() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let err = d
            .decode(
                b"/registry/secrets/a/b",
                b"k8s:enc:aescbc:v1:key1:\x00\x01\x02",
            )
            .unwrap_err();
        assert_eq!(err.kind, Kind::Data);
        assert!(
            err.message.contains("aescbc") && err.message.contains("key1"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("--encryption-config"));
    }

    #[test]
    fn json_values_pass_through_and_garbage_is_a_data_error() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let obj = d
            .decode(b"/k", br#"{"apiVersion":"example.com/v1","kind":"Widget"}"#)
            .unwrap();
        assert_eq!(obj.kind, "Widget");
        let err = d.decode(b"/k", b"\x01\x02garbage").unwrap_err();
        assert_eq!(err.kind, Kind::Data);
    }
}
