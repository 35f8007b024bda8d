//! Promises of README.md that hold across commands: `decode --type-only` on
//! an encrypted value says what it knows, streamed tables stay aligned
//! across pages, and `search --values` sees Secret data only with
//! `--show-secrets`.

use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, plugin, stderr, stdout};
use crate::support::Cluster;

use crate::keyspace::ENCRYPTION_CONFIG;

/// The same provider and key name with another secret: it cannot open
/// what the first one sealed.
fn other_key_config() -> String {
    ENCRYPTION_CONFIG.replace(
        "c2VjcmV0IGlzIHNlY3VyZSwgaXMgaXQgbm90Pz8/Pz8=",
        "b3RoZXIgc2VjcmV0IG9mIDMyIGJ5dGVzIGxvbmchISE=",
    )
}

#[test]
fn decode_type_only_of_an_encrypted_value_decrypts_it_or_says_the_type_is_unknown() {
    let secret = objects::secret("default", "creds", 5, 0);
    let config = registry::encryption::EncryptionConfig::from_yaml(ENCRYPTION_CONFIG).unwrap();
    let sealed = config
        .encrypt(secret.key.as_bytes(), &secret.value)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let value = dir.path().join("secret.bin");
    std::fs::write(&value, &sealed).unwrap();
    // As `etcdctl get --print-value-only` writes it: a newline after.
    let piped = dir.path().join("secret-nl.bin");
    std::fs::write(&piped, [&sealed[..], b"\n"].concat()).unwrap();
    let enc = dir.path().join("enc.yaml");
    std::fs::write(&enc, ENCRYPTION_CONFIG).unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, other_key_config()).unwrap();
    let run = |args: &[&str]| plugin().arg("decode").args(args).output().unwrap();

    // Without the config: what the envelope says, the type unknown, said so.
    let o = run(&[value.to_str().unwrap(), "--type-only", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["encoding"], "encrypted");
    assert_eq!(v["encryptionProvider"], "aescbc");
    assert_eq!(v["encryptionKey"], "key1");
    assert_eq!(v["decrypted"], false);
    assert!(v["apiVersion"].is_null() && v["kind"].is_null(), "{v}");
    assert!(
        stderr(&o).contains("unknown without decrypting"),
        "{}",
        stderr(&o)
    );
    let o = run(&[value.to_str().unwrap(), "--type-only", "-o", "table"]);
    assert!(
        stdout(&o).contains("aescbc, key key1, not decrypted"),
        "{}",
        stdout(&o)
    );

    // With it: the real apiVersion and kind, from a file or a pipe.
    for file in [&value, &piped] {
        let o = run(&[
            file.to_str().unwrap(),
            "--type-only",
            "--encryption-config",
            enc.to_str().unwrap(),
            "-o",
            "json",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["apiVersion"], "v1", "{v}");
        assert_eq!(v["kind"], "Secret", "{v}");
        assert_eq!(v["decrypted"], true, "{v}");
        assert_eq!(v["encryptionKey"], "key1", "{v}");
        assert!(!stderr(&o).contains("unknown"), "{}", stderr(&o));
    }

    // A config whose key does not open it: bad data, as for `decode`.
    let o = run(&[
        value.to_str().unwrap(),
        "--type-only",
        "--encryption-config",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stdout(&o).is_empty());

    // A plain value: `decrypted` is null.
    let plain = dir.path().join("pod.pb");
    std::fs::write(&plain, &objects::pod("ns", "p", 1, 0).value).unwrap();
    let o = run(&[plain.to_str().unwrap(), "--type-only", "-o", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["decrypted"].is_null()),
        (Some("Pod"), true)
    );
}

/// Where each header word starts, by character.
fn column_starts(header: &str) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    (0..chars.len())
        .filter(|&i| {
            chars[i] != ' ' && (i == 0 || (i >= 2 && chars[i - 1] == ' ' && chars[i - 2] == ' '))
        })
        .collect()
}

#[test]
fn streamed_ls_keeps_its_columns_aligned_across_pages_of_mixed_widths() {
    let c = Cluster::single();
    // Key order: configmaps (short type, short names) first, then
    // deployments (type `deployments.apps`) in a long namespace with long
    // names, then pods again short.
    for i in 0..6 {
        c.put(&format!("/registry/configmaps/a/c{i}"), "x");
        c.put(
            &format!("/registry/deployments/a-much-longer-namespace/web-with-a-long-name-{i}"),
            "y",
        );
        c.put(&format!("/registry/pods/b/p{i}"), "z");
    }
    let o = plugin()
        .args(["--endpoints", &c.endpoints(), "ls", "--page-keys", "2"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    let headers = lines.iter().filter(|l| l.starts_with("TYPE")).count();
    // Widths grow once (at the first deployments page), not per page.
    assert_eq!(headers, 2, "{text}");
    assert_eq!(lines.len(), 18 + headers, "{text}");
    let mut starts = Vec::new();
    for line in &lines {
        if line.starts_with("TYPE") {
            starts = column_starts(line);
            assert_eq!(starts.len(), 7, "{line}");
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        for (col, &at) in starts.iter().enumerate().skip(1) {
            assert!(
                at < chars.len() && chars[at] != ' ' && chars[at - 1] == ' ',
                "column {col} of {line:?} does not start under its header at {at}:\n{text}"
            );
        }
    }
    // The rows after the wider page share the wider header's columns.
    let last_header = lines.iter().rposition(|l| l.starts_with("TYPE")).unwrap();
    assert!(
        lines[last_header + 1..]
            .iter()
            .any(|l| l.starts_with("pods")),
        "{text}"
    );
}

#[test]
fn search_values_sees_secret_data_only_with_show_secrets() {
    use base64::Engine as _;
    let c = Cluster::single();
    let s = objects::secret("default", "creds", 5, 0);
    let out = c.ctl().stdin(s.value.clone()).run(&["put", &s.key]);
    assert!(out.status.success());
    // The data as `get --show-secrets` shows it: base64.
    let password = base64::engine::general_purpose::STANDARD.encode("s3cr3t-5");
    let search = |args: &[&str]| {
        plugin()
            .args(["--endpoints", &c.endpoints(), "search", "--values"])
            .args(args)
            .args(["-o", "json"])
            .output()
            .unwrap()
    };
    // The Secret is searched (its labels match)...
    let o = search(&["app=app-5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"name\":\"creds\""), "{}", stdout(&o));
    // ...but its data is redacted before matching: not found, exit 1.
    let o = search(&[&password]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    // With --show-secrets it is found, at its field.
    let o = search(&[&password, "--show-secrets"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let hit: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(hit["name"], "creds", "{hit}");
    assert_eq!(hit["field"], "data.password", "{hit}");
}
