//! Encryption at rest: envelope detection, EncryptionConfiguration parsing,
//! decryption of values produced independently of this crate, round trips,
//! and garbage input.

use registry::encryption::{
    describe, encrypt_with, encrypt_with_nonce, EncryptionConfig, EncryptionError, Key, Provider,
    ProviderConfig, ResourceRule,
};

const ETCD_KEY: &[u8] = b"/registry/secrets/default/db-password";

/// A protobuf-encoded Secret-ish payload (the bytes only need to round-trip).
const PLAIN_HEX: &str = "6b3873000a0c0a0276311206536563726574121b70617373776f72643d68756e746572323b757365723d61646d696e";

// Known-answer vectors, computed outside this crate so that compatibility
// with kube-apiserver's format is tested rather than self-consistency:
// aescbc and aesgcm with python3 `cryptography` (OpenSSL), secretbox with
// libsodium's crypto_secretbox_easy (NaCl layout: tag then ciphertext),
// each framed as `k8s:enc:<provider>:v1:<name>:<nonce><sealed>`. aesgcm uses
// ETCD_KEY as the additional authenticated data. Keys: K16 = bytes 16..32,
// K24 = bytes 40..64, K32 = bytes 0..32; IV = bytes 100..116, 12-byte nonce =
// bytes 200..212, 24-byte nonce = bytes 50..74.
const K16_B64: &str = "EBESExQVFhcYGRobHB0eHw==";
const K24_B64: &str = "KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/";
const K32_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CBC32_KEY1: &str = "6b38733a656e633a6165736362633a76313a6b6579313a6465666768696a6b6c6d6e6f70717273cecb3586022e6487488f0b313865920da5eddc0c214877fe80fa53563e233fac0d835a775b97c88a96876be9971ca0c1";
const CBC16_OLD: &str = "6b38733a656e633a6165736362633a76313a6f6c643a6465666768696a6b6c6d6e6f70717273addee43cd5f2c5fb71387f08bcc4624c8c1137b66b0e887f94a9567d214f9966bfb1fe7bed5661c76deebc9bad94e5aa";
const GCM32_KEY1: &str = "6b38733a656e633a61657367636d3a76313a6b6579313ac8c9cacbcccdcecfd0d1d2d37a4012db8cc0f122020d0db84d63886685f3feb3740adb579ac64985e7f9de87b8e95894a96a59cf40c225c3dd7e6ff717ef86f25f3038973b989d18b32be2";
const GCM24_K24: &str = "6b38733a656e633a61657367636d3a76313a6b32343ac8c9cacbcccdcecfd0d1d2d3e9b29ab18b2667b5a0d2e587831db8904a67f343d00755ae488ac347241c214e50d56d6a6bd45de6f49c8a594f36b61f60ee5567aba5b092cce8f3579c741e";
const GCM16_KEY1: &str = "6b38733a656e633a61657367636d3a76313a6b6579313ac8c9cacbcccdcecfd0d1d2d359e0a998911c2cbb46118d6a974d550f1fa68ee5c6975d24c43738dbe58749b2795bb8f422d6d19da91c8d6650fd538e37aa613a75f38605b5a70e48292931";
const SECRETBOX_BOX: &str = "6b38733a656e633a736563726574626f783a76313a626f783a32333435363738393a3b3c3d3e3f40414243444546474849ef405f5e1385c4c0599fdce32a0c91cb453c22fef3c7f864146613acf3fda10441725f23ff830948ecf6ae90d6669a4d5a0d72462dc25812b27ab39e6a2b4c";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn range(from: u8, to: u8) -> Vec<u8> {
    (from..to).collect()
}

fn config() -> EncryptionConfig {
    let yaml = format!(
        r#"
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {K32_B64}
            - name: k24
              secret: {K24_B64}
      - aescbc:
          keys:
            - name: key1
              secret: {K32_B64}
            - name: old
              secret: {K16_B64}
      - secretbox:
          keys:
            - name: box
              secret: {K32_B64}
      - kms:
          apiVersion: v2
          name: vault
          endpoint: unix:///var/run/kms.sock
          timeout: 3s
      - identity: {{}}
  - resources:
      - configmaps
      - "*.apps"
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {K16_B64}
      - identity: {{}}
"#
    );
    EncryptionConfig::from_yaml(&yaml).expect("valid config")
}

#[test]
fn describes_every_envelope() {
    let plain = hex(PLAIN_HEX);
    let identity = describe(&plain).unwrap();
    assert_eq!(identity.provider, Provider::Identity);
    assert_eq!(identity.key_name, "");
    assert!(!identity.is_encrypted());

    let cases: [(&[u8], Provider, &str); 5] = [
        (b"k8s:enc:aescbc:v1:key1:\x01\x02", Provider::AesCbc, "key1"),
        (b"k8s:enc:aesgcm:v1:k:", Provider::AesGcm, "k"),
        (b"k8s:enc:secretbox:v1:box:xyz", Provider::Secretbox, "box"),
        (
            b"k8s:enc:kms:v1:my-kms:\x00\x10abc",
            Provider::KmsV1,
            "my-kms",
        ),
        (b"k8s:enc:kms:v2:vault:\x0a\x01x", Provider::KmsV2, "vault"),
    ];
    for (value, provider, name) in cases {
        let envelope = describe(value).unwrap();
        assert_eq!(envelope.provider, provider, "{value:?}");
        assert_eq!(envelope.key_name, name, "{value:?}");
        assert!(envelope.is_encrypted());
    }
    let gcm = hex(GCM32_KEY1);
    let envelope = describe(&gcm).unwrap();
    assert_eq!(envelope.payload, &gcm[b"k8s:enc:aesgcm:v1:key1:".len()..]);
}

#[test]
fn reads_the_kms_v2_key_id() {
    // EncryptedObject { encryptedData: "abc" (1), keyID: "kek-7" (2), encryptedDEKSource: "d" (3) }
    let mut value = b"k8s:enc:kms:v2:vault:".to_vec();
    value.extend_from_slice(b"\x0a\x03abc\x12\x05kek-7\x1a\x01d");
    let envelope = describe(&value).unwrap();
    assert_eq!(envelope.kms_key_id(), Some("kek-7"));
    let truncated = &value[..value.len() - 6];
    assert_eq!(describe(truncated).unwrap().kms_key_id(), None);
    assert_eq!(
        describe(b"k8s:enc:aescbc:v1:k:\x12\x01x")
            .unwrap()
            .kms_key_id(),
        None
    );
}

#[test]
fn unknown_or_malformed_envelopes_describe_as_none() {
    for value in [
        &b"k8s:enc:"[..],
        b"k8s:enc:rot13:v1:k:data",
        b"k8s:enc:aescbc:v1:no-colon-after-name",
        b"k8s:enc:aesgcm:v2:key:data",
        b"k8s:enc:aescbc:v1:\xff\xfe:data",
    ] {
        assert_eq!(describe(value), None, "{value:?}");
    }
}

#[test]
fn decrypts_known_answer_vectors() {
    let config = config();
    let plain = hex(PLAIN_HEX);
    for vector in [CBC32_KEY1, CBC16_OLD, GCM32_KEY1, GCM24_K24, SECRETBOX_BOX] {
        let value = hex(vector);
        assert_eq!(config.decrypt(ETCD_KEY, &value).unwrap(), plain, "{vector}");
    }
}

#[test]
fn encrypts_to_the_known_answer_vectors() {
    let plain = hex(PLAIN_HEX);
    let k16 = range(16, 32);
    let k24 = range(40, 64);
    let k32 = range(0, 32);
    let cases = [
        (
            Provider::AesCbc,
            Key::new("key1", k32.clone()),
            range(100, 116),
            CBC32_KEY1,
        ),
        (
            Provider::AesCbc,
            Key::new("old", k16.clone()),
            range(100, 116),
            CBC16_OLD,
        ),
        (
            Provider::AesGcm,
            Key::new("key1", k32.clone()),
            range(200, 212),
            GCM32_KEY1,
        ),
        (
            Provider::AesGcm,
            Key::new("k24", k24),
            range(200, 212),
            GCM24_K24,
        ),
        (
            Provider::AesGcm,
            Key::new("key1", k16),
            range(200, 212),
            GCM16_KEY1,
        ),
        (
            Provider::Secretbox,
            Key::new("box", k32),
            range(50, 74),
            SECRETBOX_BOX,
        ),
    ];
    for (provider, key, nonce, expected) in cases {
        let value = encrypt_with_nonce(provider, &key, ETCD_KEY, &plain, &nonce).unwrap();
        assert_eq!(value, hex(expected), "{provider} {}", key.name);
    }
}

#[test]
fn aesgcm_authenticates_the_etcd_key() {
    let config = config();
    let value = hex(GCM32_KEY1);
    let err = config
        .decrypt(b"/registry/secrets/default/other", &value)
        .unwrap_err();
    assert_eq!(
        err,
        EncryptionError::WrongKey {
            provider: Provider::AesGcm,
            key_name: "key1".into()
        }
    );
    assert!(err.to_string().contains("--encryption-config"), "{err}");
}

#[test]
fn prefers_the_key_of_the_rule_covering_the_resource() {
    // "key1" is a 32-byte key for secrets and a 16-byte key for configmaps.
    let config = config();
    let plain = b"some configmap";
    let key = b"/registry/configmaps/kube-system/cfg";
    let value = config.encrypt(key, plain).unwrap();
    assert!(value.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
    assert_eq!(config.decrypt(key, &value).unwrap(), plain);
    // and the secrets rule's key1 is found too, whichever rule comes first
    let value = hex(GCM16_KEY1);
    assert_eq!(config.decrypt(ETCD_KEY, &value).unwrap(), hex(PLAIN_HEX));
}

#[test]
fn round_trips_with_random_nonces() {
    let config = config();
    for (key, plain) in [
        (&b"/registry/secrets/ns/a"[..], &b""[..]),
        (b"/registry/secrets/ns/b", b"0123456789abcdef"),
        (b"/registry/deployments/ns/web", &[7u8; 1000][..]),
    ] {
        let value = config.encrypt(key, plain).unwrap();
        assert!(describe(&value).unwrap().is_encrypted());
        assert_eq!(config.decrypt(key, &value).unwrap(), plain);
        // fresh nonce each time
        assert_ne!(config.encrypt(key, plain).unwrap(), value);
    }
    for provider in [Provider::AesCbc, Provider::AesGcm, Provider::Secretbox] {
        let key = Key::new("k", vec![9u8; 32]);
        let value = encrypt_with(provider, &key, ETCD_KEY, b"hello").unwrap();
        let envelope = describe(&value).unwrap();
        assert_eq!((envelope.provider, envelope.key_name), (provider, "k"));
        let config = EncryptionConfig::new(vec![ResourceRule {
            resources: vec!["*.*".into()],
            providers: vec![match provider {
                Provider::AesCbc => ProviderConfig::AesCbc(vec![key]),
                Provider::AesGcm => ProviderConfig::AesGcm(vec![key]),
                _ => ProviderConfig::Secretbox(vec![key]),
            }],
        }]);
        assert_eq!(config.decrypt(ETCD_KEY, &value).unwrap(), b"hello");
    }
}

#[test]
fn plain_values_pass_through_and_uncovered_resources_stay_plain() {
    let config = config();
    assert_eq!(
        config.decrypt(ETCD_KEY, b"k8s\x00plain").unwrap(),
        b"k8s\x00plain"
    );
    assert_eq!(
        config.encrypt(b"/registry/pods/ns/p", b"{}").unwrap(),
        b"{}"
    );
    assert_eq!(
        EncryptionConfig::default()
            .decrypt(ETCD_KEY, b"{}")
            .unwrap(),
        b"{}"
    );
}

#[test]
fn missing_keys_say_which_key_and_what_to_pass() {
    let err = EncryptionConfig::default()
        .decrypt(ETCD_KEY, &hex(CBC32_KEY1))
        .unwrap_err();
    assert_eq!(
        err,
        EncryptionError::MissingKey {
            provider: Provider::AesCbc,
            key_name: "key1".into()
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("aescbc") && message.contains("\"key1\""),
        "{message}"
    );
    assert!(message.contains("--encryption-config"), "{message}");

    let err = config()
        .decrypt(
            ETCD_KEY,
            b"k8s:enc:secretbox:v1:nope:0123456789012345678901234567890123456789",
        )
        .unwrap_err();
    assert!(
        matches!(err, EncryptionError::MissingKey { provider: Provider::Secretbox, ref key_name } if key_name == "nope")
    );
}

#[test]
fn wrong_secret_under_the_right_name_is_reported() {
    let config = EncryptionConfig::new(vec![ResourceRule {
        resources: vec!["secrets".into()],
        providers: vec![ProviderConfig::Secretbox(vec![Key::new(
            "box",
            vec![1u8; 32],
        )])],
    }]);
    let err = config.decrypt(ETCD_KEY, &hex(SECRETBOX_BOX)).unwrap_err();
    assert_eq!(
        err,
        EncryptionError::WrongKey {
            provider: Provider::Secretbox,
            key_name: "box".into()
        }
    );
}

#[test]
fn kms_values_explain_they_need_the_plugin() {
    for (value, provider) in [
        (
            &b"k8s:enc:kms:v1:my-kms:\x00\x04abcdrest"[..],
            Provider::KmsV1,
        ),
        (b"k8s:enc:kms:v2:vault:\x0a\x01x", Provider::KmsV2),
    ] {
        let err = config().decrypt(ETCD_KEY, value).unwrap_err();
        assert!(matches!(err, EncryptionError::Kms { provider: p, .. } if p == provider));
        let message = err.to_string();
        assert!(
            message.contains("kms") && message.contains("plugin"),
            "{message}"
        );
    }
    let kms_first = EncryptionConfig::from_yaml(
        r#"{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1",
            "resources":[{"resources":["secrets"],"providers":[{"kms":{"name":"vault","apiVersion":"v2"}}]}]}"#,
    )
    .unwrap();
    assert!(matches!(
        kms_first.encrypt(ETCD_KEY, b"x"),
        Err(EncryptionError::Kms { provider: Provider::KmsV2, ref name }) if name == "vault"
    ));
}

#[test]
fn parses_json_and_keeps_order() {
    let config = EncryptionConfig::from_yaml(&format!(
        r#"{{"apiVersion":"apiserver.config.k8s.io/v1","kind":"EncryptionConfiguration",
            "resources":[{{"resources":["secrets","*."],"providers":[
              {{"secretbox":{{"keys":[{{"name":"b","secret":"{K32_B64}"}}]}}}},
              {{"identity":{{}}}}]}}]}}"#
    ))
    .unwrap();
    let rule = &config.rules()[0];
    assert_eq!(rule.resources, ["secrets", "*."]);
    assert_eq!(rule.providers[0].provider(), Provider::Secretbox);
    assert_eq!(rule.providers[0].keys()[0].secret(), range(0, 32));
    assert_eq!(rule.providers[1], ProviderConfig::Identity);
    assert!(rule.covers("", "configmaps"));
    assert!(!rule.covers("apps", "deployments"));
}

#[test]
fn key_debug_output_hides_the_secret() {
    let debug = format!("{:?}", config());
    assert!(!debug.contains("[0, 1, 2"), "{debug}");
    assert!(debug.contains("<32 bytes>"), "{debug}");
}

#[test]
fn rejects_bad_configurations_with_useful_messages() {
    let bad_len = format!(
        "kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n      - name: short\n        secret: {K16_B64}\n"
    );
    let err = EncryptionConfig::from_yaml(&bad_len).unwrap_err();
    assert_eq!(
        err,
        EncryptionError::KeyLength {
            provider: Provider::Secretbox,
            name: "short".into(),
            len: 16,
            expected: "32 bytes"
        }
    );
    let bad_b64 = "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: k\n        secret: '!!not base64'\n";
    assert!(matches!(
        EncryptionConfig::from_yaml(bad_b64),
        Err(EncryptionError::KeyNotBase64 {
            provider: Provider::AesCbc,
            ..
        })
    ));
    for text in [
        "",
        "not: [valid",
        "kind: Pod\nresources: []\n",
        "resources:\n- resources: [secrets]\n  providers:\n  - {}\n",
        "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys: []\n",
        "resources:\n- resources: [secrets]\n  providers:\n  - kms:\n      name: x\n      apiVersion: v3\n",
        "\u{0}\u{1}garbage",
    ] {
        let err = EncryptionConfig::from_yaml(text).unwrap_err();
        let message = err.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
    }
}

#[test]
fn garbage_and_truncated_values_never_panic() {
    let config = config();
    let mut values: Vec<Vec<u8>> = Vec::new();
    for vector in [CBC32_KEY1, CBC16_OLD, GCM32_KEY1, GCM24_K24, SECRETBOX_BOX] {
        let full = hex(vector);
        for len in 0..full.len() {
            values.push(full[..len].to_vec());
        }
        let mut flipped = full.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        values.push(flipped);
    }
    values.push(b"k8s:enc:kms:v2:x:\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec());
    values.push((0..=255).collect());
    for value in &values {
        let _ = describe(value).map(|e| e.kms_key_id());
        if let Ok(plain) = config.decrypt(ETCD_KEY, value) {
            // only plain (non k8s:enc:) prefixes may succeed
            assert!(!value.starts_with(b"k8s:enc:"), "{value:?}");
            assert_eq!(&plain, value);
        }
    }
    let cut = hex(GCM32_KEY1);
    let cut = &cut[..b"k8s:enc:aesgcm:v1:key1:".len() + 5];
    assert!(matches!(
        config.decrypt(ETCD_KEY, cut),
        Err(EncryptionError::Malformed {
            provider: Provider::AesGcm,
            ..
        })
    ));
}

#[test]
fn encrypt_rejects_bad_nonces_and_keys() {
    let key = Key::new("k", vec![0u8; 32]);
    assert!(matches!(
        encrypt_with_nonce(Provider::AesGcm, &key, ETCD_KEY, b"x", &[0; 16]),
        Err(EncryptionError::NonceLength {
            expected: 12,
            len: 16,
            ..
        })
    ));
    assert!(matches!(
        encrypt_with(
            Provider::Secretbox,
            &Key::new("k", vec![0u8; 16]),
            ETCD_KEY,
            b"x"
        ),
        Err(EncryptionError::KeyLength { .. })
    ));
    assert!(matches!(
        encrypt_with(Provider::KmsV2, &key, ETCD_KEY, b"x"),
        Err(EncryptionError::CannotEncrypt { .. })
    ));
    assert!(matches!(
        encrypt_with(Provider::Identity, &key, ETCD_KEY, b"x"),
        Err(EncryptionError::CannotEncrypt { .. })
    ));
}
