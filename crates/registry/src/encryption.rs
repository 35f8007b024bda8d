//! Encryption at rest, as kube-apiserver does it.
//!
//! This module owns three things:
//!
//! - recognising encrypted values by their envelope prefix
//!   (`k8s:enc:<provider>:v1:<key name>:<data>`), see [`describe`];
//! - reading kube-apiserver's `EncryptionConfiguration` file
//!   (`--encryption-provider-config`), see [`EncryptionConfig::from_yaml`];
//! - decrypting and encrypting values with the `aescbc`, `aesgcm` and
//!   `secretbox` providers, byte-compatible with kube-apiserver's
//!   `staging/src/k8s.io/apiserver/pkg/storage/value/encrypt` transformers.
//!
//! Formats after the `k8s:enc:<provider>:v1:<key name>:` prefix:
//!
//! - aescbc: 16-byte IV, then AES-CBC ciphertext with PKCS#7 padding;
//! - aesgcm: 12-byte nonce, then AES-GCM ciphertext and tag, with the full
//!   etcd key as additional authenticated data (kube-apiserver's etcd3 store
//!   passes the key as the transformer's `AuthenticatedData`), so a value
//!   copied to another key no longer decrypts;
//! - secretbox: 24-byte nonce, then NaCl `secretbox` output (Poly1305 tag,
//!   then XSalsa20 ciphertext); the key is not authenticated.
//!
//! KMS values (`k8s:enc:kms:v1:` and `k8s:enc:kms:v2:`) are recognised but
//! cannot be decrypted here: their data key is sealed by an external KMS.

use std::fmt;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use serde::Deserialize;

use crate::key;

/// Every encrypted value starts with this.
pub const ENVELOPE_PREFIX: &[u8] = b"k8s:enc:";

/// An encryption provider, as named in `EncryptionConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// No encryption: the value is stored as is.
    Identity,
    /// AES-CBC with PKCS#7 padding.
    AesCbc,
    /// AES-GCM with the etcd key as authenticated data.
    AesGcm,
    /// XSalsa20-Poly1305 (NaCl secretbox).
    Secretbox,
    /// KMS v1 envelope encryption (deprecated in Kubernetes).
    KmsV1,
    /// KMS v2 envelope encryption.
    KmsV2,
}

impl Provider {
    /// The name used in `EncryptionConfiguration` (`kms v1`/`kms v2` for KMS).
    pub fn name(self) -> &'static str {
        match self {
            Provider::Identity => "identity",
            Provider::AesCbc => "aescbc",
            Provider::AesGcm => "aesgcm",
            Provider::Secretbox => "secretbox",
            Provider::KmsV1 => "kms v1",
            Provider::KmsV2 => "kms v2",
        }
    }

    /// The value prefix before the key (or KMS provider) name.
    pub fn envelope_prefix(self) -> Option<&'static str> {
        match self {
            Provider::Identity => None,
            Provider::AesCbc => Some("k8s:enc:aescbc:v1:"),
            Provider::AesGcm => Some("k8s:enc:aesgcm:v1:"),
            Provider::Secretbox => Some("k8s:enc:secretbox:v1:"),
            Provider::KmsV1 => Some("k8s:enc:kms:v1:"),
            Provider::KmsV2 => Some("k8s:enc:kms:v2:"),
        }
    }

    /// Nonce (IV) length in bytes for the providers this module can run.
    fn nonce_len(self) -> Option<usize> {
        match self {
            Provider::AesCbc => Some(16),
            Provider::AesGcm => Some(12),
            Provider::Secretbox => Some(24),
            Provider::Identity | Provider::KmsV1 | Provider::KmsV2 => None,
        }
    }

    /// Key lengths the provider accepts, for checks and error messages.
    fn key_lengths(self) -> (&'static [usize], &'static str) {
        match self {
            Provider::AesCbc | Provider::AesGcm => (&[16, 24, 32], "16, 24 or 32 bytes"),
            Provider::Secretbox => (&[32], "32 bytes"),
            Provider::Identity | Provider::KmsV1 | Provider::KmsV2 => (&[], "no key"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const ENVELOPE_PROVIDERS: [Provider; 5] = [
    Provider::AesCbc,
    Provider::AesGcm,
    Provider::Secretbox,
    Provider::KmsV1,
    Provider::KmsV2,
];

/// What [`describe`] finds in a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The provider that wrote the value.
    pub provider: Provider,
    /// The key name (aescbc, aesgcm, secretbox) or KMS provider name; empty
    /// for identity.
    pub key_name: &'a str,
    /// What follows the prefix: nonce and ciphertext, or the whole value for
    /// identity.
    pub payload: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Whether the value is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.provider != Provider::Identity
    }

    /// For KMS v2 values, the `keyID` the KMS plugin reported when it
    /// encrypted the data key, read from the stored `EncryptedObject`.
    pub fn kms_key_id(&self) -> Option<&'a str> {
        if self.provider != Provider::KmsV2 {
            return None;
        }
        protobuf_string_field(self.payload, 2)
    }
}

/// Recognises the envelope of a stored value.
///
/// A value without the `k8s:enc:` prefix is plain ([`Provider::Identity`]).
/// Returns `None` for a `k8s:enc:` value that names no known provider or has
/// no `:` after its key name, which a damaged value or a newer kube-apiserver
/// could produce.
pub fn describe(value: &[u8]) -> Option<Envelope<'_>> {
    if !value.starts_with(ENVELOPE_PREFIX) {
        return Some(Envelope {
            provider: Provider::Identity,
            key_name: "",
            payload: value,
        });
    }
    ENVELOPE_PROVIDERS.iter().find_map(|&provider| {
        let rest = value.strip_prefix(provider.envelope_prefix()?.as_bytes())?;
        let colon = rest.iter().position(|&b| b == b':')?;
        let key_name = std::str::from_utf8(&rest[..colon]).ok()?;
        Some(Envelope {
            provider,
            key_name,
            payload: &rest[colon + 1..],
        })
    })
}

/// Errors from reading the configuration, decrypting and encrypting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    /// The configuration file is not a valid `EncryptionConfiguration`.
    #[error("cannot read the encryption configuration: {0}; check it is the EncryptionConfiguration file kube-apiserver uses (its --encryption-provider-config)")]
    Config(String),
    /// A key secret is not base64.
    #[error("the {provider} key {name:?} in the encryption configuration is not valid base64 ({reason}); fix its secret")]
    KeyNotBase64 {
        /// Provider the key belongs to.
        provider: Provider,
        /// Key name.
        name: String,
        /// Decoder message.
        reason: String,
    },
    /// A key secret has the wrong length for its provider.
    #[error("the {provider} key {name:?} is {len} bytes but {provider} needs {expected}; fix its secret in the encryption configuration")]
    KeyLength {
        /// Provider the key belongs to.
        provider: Provider,
        /// Key name.
        name: String,
        /// Decoded length.
        len: usize,
        /// Accepted lengths, in words.
        expected: &'static str,
    },
    /// The value names a key the configuration does not have.
    #[error("the value is encrypted with {provider} key {key_name:?}, which is not in the encryption configuration; pass --encryption-config with the file kube-apiserver uses (its --encryption-provider-config)")]
    MissingKey {
        /// Provider named by the value.
        provider: Provider,
        /// Key name from the value.
        key_name: String,
    },
    /// A key with the right name does not decrypt the value.
    #[error("the {provider} key {key_name:?} does not decrypt this value (a different secret under the same name, or a value copied from another etcd key); pass --encryption-config with the file kube-apiserver uses")]
    WrongKey {
        /// Provider named by the value.
        provider: Provider,
        /// Key name from the value.
        key_name: String,
    },
    /// KMS values need the KMS plugin.
    #[error("the value is encrypted by the {provider} provider {name:?}, which cannot be decrypted offline without its KMS plugin; read the object through kube-apiserver instead")]
    Kms {
        /// [`Provider::KmsV1`] or [`Provider::KmsV2`].
        provider: Provider,
        /// KMS provider name from the value or configuration.
        name: String,
    },
    /// The envelope is cut short or otherwise malformed.
    #[error("the value has a malformed {provider} envelope ({reason}); it is damaged or was not written by kube-apiserver")]
    Malformed {
        /// Provider named by the value.
        provider: Provider,
        /// What is wrong.
        reason: &'static str,
    },
    /// The value starts with `k8s:enc:` but names no known provider.
    #[error("the value starts with k8s:enc: but names no known provider (aescbc, aesgcm, secretbox, kms); it may come from a newer kube-apiserver")]
    UnknownEnvelope,
    /// An explicit nonce of the wrong size was given.
    #[error("the {provider} nonce must be {expected} bytes, not {len}")]
    NonceLength {
        /// Provider encrypting.
        provider: Provider,
        /// Required length.
        expected: usize,
        /// Given length.
        len: usize,
    },
    /// Encryption was asked of a provider that cannot encrypt here.
    #[error("cannot encrypt with {provider}: only aescbc, aesgcm and secretbox keys can be used offline")]
    CannotEncrypt {
        /// The provider.
        provider: Provider,
    },
    /// The operating system gave no random bytes for a nonce.
    #[error("cannot get random bytes for a nonce: {0}")]
    Random(String),
}

/// A named key from an `aescbc`, `aesgcm` or `secretbox` provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key name, written into every value it encrypts.
    pub name: String,
    secret: Vec<u8>,
}

impl Key {
    /// A key with its raw (already base64-decoded) secret.
    pub fn new(name: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        Key {
            name: name.into(),
            secret: secret.into(),
        }
    }

    /// The raw secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for Key {
    // Keeps secrets out of logs and error reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

/// One entry of a rule's `providers` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    /// `aescbc` with its keys, first one writes.
    AesCbc(Vec<Key>),
    /// `aesgcm` with its keys, first one writes.
    AesGcm(Vec<Key>),
    /// `secretbox` with its keys, first one writes.
    Secretbox(Vec<Key>),
    /// `identity`: values stored plain.
    Identity,
    /// `kms`, by provider name and API version.
    Kms {
        /// The KMS provider name written into values.
        name: String,
        /// [`Provider::KmsV1`] or [`Provider::KmsV2`].
        version: Provider,
    },
}

impl ProviderConfig {
    /// The provider kind.
    pub fn provider(&self) -> Provider {
        match self {
            ProviderConfig::AesCbc(_) => Provider::AesCbc,
            ProviderConfig::AesGcm(_) => Provider::AesGcm,
            ProviderConfig::Secretbox(_) => Provider::Secretbox,
            ProviderConfig::Identity => Provider::Identity,
            ProviderConfig::Kms { version, .. } => *version,
        }
    }

    /// The keys, empty for identity and KMS.
    pub fn keys(&self) -> &[Key] {
        match self {
            ProviderConfig::AesCbc(keys)
            | ProviderConfig::AesGcm(keys)
            | ProviderConfig::Secretbox(keys) => keys,
            ProviderConfig::Identity | ProviderConfig::Kms { .. } => &[],
        }
    }
}

/// One entry of `resources[]`: which resources it covers and the providers
/// to use, the first of which encrypts new writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRule {
    /// `secrets`, `deployments.apps`, `*.apps`, `*.` (core group), `*.*`.
    pub resources: Vec<String>,
    /// Providers in configuration order.
    pub providers: Vec<ProviderConfig>,
}

impl ResourceRule {
    /// Whether the rule covers `resource` in `group` (empty for core), using
    /// kube-apiserver's wildcard forms.
    pub fn covers(&self, group: &str, resource: &str) -> bool {
        self.resources.iter().any(|entry| {
            if entry == "*.*" {
                return true;
            }
            let (res, grp) = entry.split_once('.').unwrap_or((entry, ""));
            grp == group && (res == "*" || res == resource)
        })
    }
}

/// kube-apiserver's encryption at rest configuration, with decoded keys.
///
/// `Default` is an empty configuration: it passes plain values through and
/// reports every encrypted value as needing `--encryption-config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionConfig {
    rules: Vec<ResourceRule>,
    prefix: Option<String>,
}

impl EncryptionConfig {
    /// A configuration from rules built in code.
    pub fn new(rules: Vec<ResourceRule>) -> Self {
        EncryptionConfig {
            rules,
            prefix: None,
        }
    }

    /// Parses an `EncryptionConfiguration` (`apiserver.config.k8s.io/v1`) in
    /// YAML or JSON, decoding and checking every key.
    pub fn from_yaml(text: &str) -> Result<Self, EncryptionError> {
        let raw: RawConfig = serde_saphyr::from_str(text)
            .map_err(|e| EncryptionError::Config(one_line(&e.to_string())))?;
        if let Some(kind) = raw.kind.as_deref() {
            // EncryptionConfig is the pre-1.13 name of the same format.
            if kind != "EncryptionConfiguration" && kind != "EncryptionConfig" {
                return Err(EncryptionError::Config(format!(
                    "kind is {kind:?}, not EncryptionConfiguration"
                )));
            }
        }
        let rules = raw
            .resources
            .into_iter()
            .map(RawResourceConfig::into_rule)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EncryptionConfig::new(rules))
    }

    /// Sets the etcd prefix (`--etcd-prefix`, default `/registry`) used to
    /// work out which resource a key belongs to, so the keys of the rule
    /// covering it are tried first.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The rules, in configuration order.
    pub fn rules(&self) -> &[ResourceRule] {
        &self.rules
    }

    /// Decrypts a value stored under `etcd_key` (the full key, prefix
    /// included: aesgcm authenticates it).
    ///
    /// Plain values come back unchanged. For encrypted values every
    /// configured key with the provider and name in the value's prefix is
    /// tried, those of the rule covering the key's resource first, as the
    /// same name may carry different secrets in different rules.
    pub fn decrypt(&self, etcd_key: &[u8], value: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        let Some(envelope) = describe(value) else {
            return Err(EncryptionError::UnknownEnvelope);
        };
        let provider = envelope.provider;
        match provider {
            Provider::Identity => return Ok(value.to_vec()),
            Provider::KmsV1 | Provider::KmsV2 => {
                return Err(EncryptionError::Kms {
                    provider,
                    name: envelope.key_name.to_string(),
                })
            }
            Provider::AesCbc | Provider::AesGcm | Provider::Secretbox => {}
        }
        let mut wrong_key = None;
        for key in self.candidate_keys(etcd_key, provider) {
            // Matching the configured name against the raw prefix, rather
            // than trusting `describe`'s split at the first ':', also finds
            // key names that contain ':'.
            let Some(payload) = strip_key_prefix(value, provider, &key.name) else {
                continue;
            };
            match open(provider, key.secret(), etcd_key, payload) {
                Ok(plain) => return Ok(plain),
                Err(OpenError::Malformed(reason)) => {
                    return Err(EncryptionError::Malformed { provider, reason })
                }
                Err(OpenError::Failed) => wrong_key = Some(key.name.clone()),
            }
        }
        Err(match wrong_key {
            Some(key_name) => EncryptionError::WrongKey { provider, key_name },
            None => EncryptionError::MissingKey {
                provider,
                key_name: envelope.key_name.to_string(),
            },
        })
    }

    /// Encrypts a value for `etcd_key` the way kube-apiserver would write it:
    /// with the first provider (and its first key) of the first rule covering
    /// the key's resource. Values of resources no rule covers, or whose first
    /// provider is identity, are stored plain.
    pub fn encrypt(&self, etcd_key: &[u8], plain: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        let (group, resource) = self.group_resource(etcd_key);
        let Some(provider) = self
            .rules
            .iter()
            .find(|rule| rule.covers(group, resource))
            .and_then(|rule| rule.providers.first())
        else {
            return Ok(plain.to_vec());
        };
        match provider {
            ProviderConfig::Identity => Ok(plain.to_vec()),
            ProviderConfig::Kms { name, version } => Err(EncryptionError::Kms {
                provider: *version,
                name: name.clone(),
            }),
            ProviderConfig::AesCbc(keys)
            | ProviderConfig::AesGcm(keys)
            | ProviderConfig::Secretbox(keys) => {
                let key = keys.first().ok_or(EncryptionError::Config(format!(
                    "the first {} provider has no keys",
                    provider.provider()
                )))?;
                encrypt_with(provider.provider(), key, etcd_key, plain)
            }
        }
    }

    fn group_resource<'k>(&self, etcd_key: &'k [u8]) -> (&'k str, &'k str) {
        let prefix = self.prefix.as_deref().unwrap_or(key::DEFAULT_PREFIX);
        let info = key::parse(etcd_key, prefix);
        (info.group, info.resource)
    }

    /// Keys of `provider`, those of rules covering the key's resource first.
    fn candidate_keys<'s>(
        &'s self,
        etcd_key: &'s [u8],
        provider: Provider,
    ) -> impl Iterator<Item = &'s Key> {
        let (group, resource) = self.group_resource(etcd_key);
        let covering = self.rules.iter().filter(move |r| r.covers(group, resource));
        let others = self
            .rules
            .iter()
            .filter(move |r| !r.covers(group, resource));
        covering
            .chain(others)
            .flat_map(|rule| rule.providers.iter())
            .filter(move |p| p.provider() == provider)
            .flat_map(|p| p.keys().iter())
    }
}

/// Encrypts `plain` for `etcd_key` with one key, with a fresh random nonce,
/// returning the full stored value (`k8s:enc:...` prefix included).
pub fn encrypt_with(
    provider: Provider,
    key: &Key,
    etcd_key: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, EncryptionError> {
    let len = provider
        .nonce_len()
        .ok_or(EncryptionError::CannotEncrypt { provider })?;
    let mut nonce = [0u8; 24];
    OsRng
        .try_fill_bytes(&mut nonce[..len])
        .map_err(|e| EncryptionError::Random(e.to_string()))?;
    encrypt_with_nonce(provider, key, etcd_key, plain, &nonce[..len])
}

/// [`encrypt_with`] with a caller-chosen nonce (IV): 16 bytes for aescbc, 12
/// for aesgcm, 24 for secretbox. Reusing a nonce with the same key breaks
/// the encryption; this exists for reproducible tests.
pub fn encrypt_with_nonce(
    provider: Provider,
    key: &Key,
    etcd_key: &[u8],
    plain: &[u8],
    nonce: &[u8],
) -> Result<Vec<u8>, EncryptionError> {
    let (Some(expected), Some(prefix)) = (provider.nonce_len(), provider.envelope_prefix()) else {
        return Err(EncryptionError::CannotEncrypt { provider });
    };
    if nonce.len() != expected {
        return Err(EncryptionError::NonceLength {
            provider,
            expected,
            len: nonce.len(),
        });
    }
    check_key_length(provider, key)?;
    let sealed = seal(provider, key.secret(), etcd_key, plain, nonce).map_err(|_| {
        EncryptionError::KeyLength {
            provider,
            name: key.name.clone(),
            len: key.secret().len(),
            expected: provider.key_lengths().1,
        }
    })?;
    let mut out =
        Vec::with_capacity(prefix.len() + key.name.len() + 1 + nonce.len() + sealed.len());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(key.name.as_bytes());
    out.push(b':');
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn check_key_length(provider: Provider, key: &Key) -> Result<(), EncryptionError> {
    let (lengths, expected) = provider.key_lengths();
    if lengths.contains(&key.secret().len()) {
        Ok(())
    } else {
        Err(EncryptionError::KeyLength {
            provider,
            name: key.name.clone(),
            len: key.secret().len(),
            expected,
        })
    }
}

fn strip_key_prefix<'v>(value: &'v [u8], provider: Provider, key_name: &str) -> Option<&'v [u8]> {
    value
        .strip_prefix(provider.envelope_prefix()?.as_bytes())?
        .strip_prefix(key_name.as_bytes())?
        .strip_prefix(b":")
}

enum OpenError {
    Malformed(&'static str),
    /// Authentication or padding failed: most likely the wrong secret.
    Failed,
}

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;
type Aes192CbcDec = cbc::Decryptor<aes::Aes192>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes192CbcEnc = cbc::Encryptor<aes::Aes192>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// Decrypts the payload after the `k8s:enc:...:<name>:` prefix.
fn open(
    provider: Provider,
    secret: &[u8],
    etcd_key: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let nonce_len = provider.nonce_len().ok_or(OpenError::Failed)?;
    if payload.len() < nonce_len {
        return Err(OpenError::Malformed("shorter than its nonce"));
    }
    let (nonce, sealed) = payload.split_at(nonce_len);
    match provider {
        Provider::AesCbc => {
            if sealed.is_empty() || sealed.len() % 16 != 0 {
                return Err(OpenError::Malformed(
                    "ciphertext is not a whole number of AES blocks",
                ));
            }
            let plain = match secret.len() {
                16 => cbc_decrypt::<Aes128CbcDec>(secret, nonce, sealed),
                24 => cbc_decrypt::<Aes192CbcDec>(secret, nonce, sealed),
                32 => cbc_decrypt::<Aes256CbcDec>(secret, nonce, sealed),
                _ => None,
            };
            plain.ok_or(OpenError::Failed)
        }
        Provider::AesGcm => {
            if sealed.len() < 16 {
                return Err(OpenError::Malformed("shorter than the GCM tag"));
            }
            let payload = Payload {
                msg: sealed,
                aad: etcd_key,
            };
            let plain = match secret.len() {
                16 => aead_open::<aes_gcm::Aes128Gcm>(secret, nonce, payload),
                24 => aead_open::<Aes192Gcm>(secret, nonce, payload),
                32 => aead_open::<aes_gcm::Aes256Gcm>(secret, nonce, payload),
                _ => None,
            };
            plain.ok_or(OpenError::Failed)
        }
        Provider::Secretbox => {
            if sealed.len() < 16 {
                return Err(OpenError::Malformed("shorter than the Poly1305 tag"));
            }
            aead_open::<crypto_secretbox::XSalsa20Poly1305>(
                secret,
                nonce,
                Payload {
                    msg: sealed,
                    aad: &[],
                },
            )
            .ok_or(OpenError::Failed)
        }
        Provider::Identity | Provider::KmsV1 | Provider::KmsV2 => Err(OpenError::Failed),
    }
}

/// Encrypts to the bytes that follow the nonce. `Err` only for a bad key length.
fn seal(
    provider: Provider,
    secret: &[u8],
    etcd_key: &[u8],
    plain: &[u8],
    nonce: &[u8],
) -> Result<Vec<u8>, ()> {
    let sealed = match (provider, secret.len()) {
        (Provider::AesCbc, 16) => cbc_encrypt::<Aes128CbcEnc>(secret, nonce, plain),
        (Provider::AesCbc, 24) => cbc_encrypt::<Aes192CbcEnc>(secret, nonce, plain),
        (Provider::AesCbc, 32) => cbc_encrypt::<Aes256CbcEnc>(secret, nonce, plain),
        (Provider::AesGcm, 16) => aead_seal::<aes_gcm::Aes128Gcm>(secret, nonce, plain, etcd_key),
        (Provider::AesGcm, 24) => aead_seal::<Aes192Gcm>(secret, nonce, plain, etcd_key),
        (Provider::AesGcm, 32) => aead_seal::<aes_gcm::Aes256Gcm>(secret, nonce, plain, etcd_key),
        (Provider::Secretbox, 32) => {
            aead_seal::<crypto_secretbox::XSalsa20Poly1305>(secret, nonce, plain, &[])
        }
        _ => None,
    };
    sealed.ok_or(())
}

fn cbc_decrypt<D: KeyIvInit + BlockDecryptMut>(
    secret: &[u8],
    iv: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    D::new_from_slices(secret, iv)
        .ok()?
        .decrypt_padded_vec_mut::<Pkcs7>(sealed)
        .ok()
}

fn cbc_encrypt<E: KeyIvInit + BlockEncryptMut>(
    secret: &[u8],
    iv: &[u8],
    plain: &[u8],
) -> Option<Vec<u8>> {
    Some(
        E::new_from_slices(secret, iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(plain),
    )
}

fn aead_open<A: Aead + KeyInit>(
    secret: &[u8],
    nonce: &[u8],
    payload: Payload<'_, '_>,
) -> Option<Vec<u8>> {
    if nonce.len() != aes_gcm::aead::Nonce::<A>::default().len() {
        return None;
    }
    A::new_from_slice(secret)
        .ok()?
        .decrypt(aes_gcm::aead::Nonce::<A>::from_slice(nonce), payload)
        .ok()
}

fn aead_seal<A: Aead + KeyInit>(
    secret: &[u8],
    nonce: &[u8],
    plain: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    if nonce.len() != aes_gcm::aead::Nonce::<A>::default().len() {
        return None;
    }
    A::new_from_slice(secret)
        .ok()?
        .encrypt(
            aes_gcm::aead::Nonce::<A>::from_slice(nonce),
            Payload { msg: plain, aad },
        )
        .ok()
}

/// The first string field number `field` of a protobuf message, without a
/// protobuf dependency for one field. `None` on any malformed input.
fn protobuf_string_field(mut message: &[u8], field: u64) -> Option<&str> {
    while !message.is_empty() {
        let tag = read_varint(&mut message)?;
        match tag & 7 {
            0 => {
                read_varint(&mut message)?;
            }
            1 => message = message.get(8..)?,
            5 => message = message.get(4..)?,
            2 => {
                let len = usize::try_from(read_varint(&mut message)?).ok()?;
                let bytes = message.get(..len)?;
                message = &message[len..];
                if tag >> 3 == field {
                    return std::str::from_utf8(bytes).ok();
                }
            }
            _ => return None,
        }
    }
    None
}

fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// serde-saphyr errors come with a multi-line source snippet; the first line
/// already says what and where.
fn one_line(message: &str) -> String {
    let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first.trim().trim_start_matches("error: ").to_string()
}

// The file format, as kube-apiserver's apiserver.config.k8s.io/v1 types.
// Unknown fields (kms endpoint, timeout, cachesize) are ignored.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[allow(dead_code)]
    api_version: Option<String>,
    kind: Option<String>,
    resources: Vec<RawResourceConfig>,
}

#[derive(Deserialize)]
struct RawResourceConfig {
    resources: Vec<String>,
    providers: Vec<RawProvider>,
}

#[derive(Deserialize)]
struct RawProvider {
    aescbc: Option<RawKeys>,
    aesgcm: Option<RawKeys>,
    secretbox: Option<RawKeys>,
    identity: Option<RawEmpty>,
    kms: Option<RawKms>,
}

#[derive(Deserialize)]
struct RawEmpty {}

#[derive(Deserialize)]
struct RawKeys {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    name: String,
    secret: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKms {
    name: String,
    api_version: Option<String>,
}

impl RawResourceConfig {
    fn into_rule(self) -> Result<ResourceRule, EncryptionError> {
        let providers = self
            .providers
            .into_iter()
            .map(RawProvider::into_config)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResourceRule {
            resources: self.resources,
            providers,
        })
    }
}

impl RawProvider {
    fn into_config(self) -> Result<ProviderConfig, EncryptionError> {
        let set = [
            self.aescbc.is_some(),
            self.aesgcm.is_some(),
            self.secretbox.is_some(),
            self.identity.is_some(),
            self.kms.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(EncryptionError::Config(
                "each providers entry must set exactly one of aescbc, aesgcm, secretbox, identity, kms".into(),
            ));
        }
        if let Some(keys) = self.aescbc {
            return Ok(ProviderConfig::AesCbc(keys.decode(Provider::AesCbc)?));
        }
        if let Some(keys) = self.aesgcm {
            return Ok(ProviderConfig::AesGcm(keys.decode(Provider::AesGcm)?));
        }
        if let Some(keys) = self.secretbox {
            return Ok(ProviderConfig::Secretbox(keys.decode(Provider::Secretbox)?));
        }
        if let Some(kms) = self.kms {
            let version = match kms.api_version.as_deref() {
                None | Some("v1") => Provider::KmsV1,
                Some("v2") => Provider::KmsV2,
                Some(other) => {
                    return Err(EncryptionError::Config(format!(
                        "kms provider {:?} has apiVersion {other:?}; use v1 or v2",
                        kms.name
                    )))
                }
            };
            return Ok(ProviderConfig::Kms {
                name: kms.name,
                version,
            });
        }
        Ok(ProviderConfig::Identity)
    }
}

impl RawKeys {
    fn decode(self, provider: Provider) -> Result<Vec<Key>, EncryptionError> {
        if self.keys.is_empty() {
            return Err(EncryptionError::Config(format!(
                "the {provider} provider has no keys"
            )));
        }
        self.keys
            .into_iter()
            .map(|raw| {
                let secret = base64::engine::general_purpose::STANDARD
                    .decode(raw.secret.trim())
                    .map_err(|e| EncryptionError::KeyNotBase64 {
                        provider,
                        name: raw.name.clone(),
                        reason: e.to_string(),
                    })?;
                let key = Key::new(raw.name, secret);
                check_key_length(provider, &key)?;
                Ok(key)
            })
            .collect()
    }
}
