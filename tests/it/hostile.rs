//! Hostile input (issue 13): every stored byte, file and flag gets a
//! bounded, clear answer. Regression tests named after the defects found
//! by fuzzing the built binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{code, plugin, run_on as run, stderr, stdout};
use crate::support::Cluster;

use crate::support::cli::catches_sigint;

/// Issue 13, defect 1: Ctrl-C was ignored while a command did not yield
/// (a long decode; here `decode -` blocked reading stdin, which holds the
/// command the same way): the interrupt must end any command, exit 130.
#[test]
fn interrupt_ends_a_command_that_does_not_yield() {
    let mut child = plugin()
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"k8s\0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !catches_sigint(child.id()) {
        assert!(Instant::now() < deadline, "no SIGINT handler installed");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the interrupt did not end the command");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert_eq!(stderr(&out).trim(), "interrupted");
    assert_eq!(stdout(&out), "");
}

use crate::support::etcdctl::put_raw;

/// A key name that would forge a row, an `error:` line and clear the
/// screen if printed as it is.
const EVIL: &str = "/registry/configmaps/default/evil\nerror: forged\x1b[2J";

/// Bytes a terminal would act on: no output of a table or line may carry
/// them raw.
fn assert_no_raw_controls(text: &str) {
    assert!(
        !text.contains('\x1b') && !text.contains("\nerror: forged"),
        "raw control characters reached the terminal: {text:?}"
    );
}

/// Issue 13, defect 5: key names in `ls` tables were printed unescaped; a
/// newline forged a row and ESC[2J cleared the screen. JSON stays exact.
#[test]
fn ls_table_escapes_control_characters_in_keys_and_json_keeps_them() {
    let c = Cluster::single();
    put_raw(&c, EVIL, b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}");
    let out = run(&c, &["ls", "configmaps"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_no_raw_controls(&text);
    assert_eq!(text.lines().count(), 2, "one header, one row: {text}");
    assert!(text.contains("evil\\nerror: forged\\x1b[2J"), "{text}");

    let out = run(&c, &["ls", "configmaps", "-o", "json"]);
    crate::support::cli::assert_code(&out, 0);
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["key"], EVIL);
}

/// Regression: `history`'s summary on stderr and `put`'s plan, prompt and
/// outcome lines carried a key's newline raw, so a stored key could forge
/// an `error:` line after them.
#[test]
fn history_and_put_notes_escape_control_characters_in_keys() {
    let c = Cluster::single();
    let cm = crate::objects::configmap("default", "x", 1, 0);
    put_raw(&c, EVIL, &cm.value);
    let out = run(&c, &["history", EVIL]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e = stderr(&out);
    assert_no_raw_controls(&e);
    assert!(e.contains("evil\\nerror: forged\\x1b[2J`"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.yaml");
    let name = EVIL.rsplit_once('/').unwrap().1;
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": "v"},
    });
    std::fs::write(&file, manifest.to_string()).unwrap();
    let rev = crate::support::etcdctl::get_raw(&c, EVIL)
        .unwrap()
        .1
        .to_string();
    let f = file.to_str().unwrap();
    let out = run(&c, &["put", EVIL, "-f", f, "--if-revision", &rev, "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e = stderr(&out);
    assert_no_raw_controls(&e);
    assert!(
        e.contains("will replace `/registry/configmaps/default/evil\\n"),
        "{e}"
    );
    assert!(
        e.contains("wrote `/registry/configmaps/default/evil\\n"),
        "{e}"
    );
}

/// Issue 13, defect 5: an encrypted value's provider and key names reached
/// `get` errors and the ENCODING column unescaped (and, found later,
/// `decode --type-only`'s note on stderr).
#[test]
fn encrypted_provider_and_key_names_are_escaped_in_errors_and_tables() {
    let mut child = plugin()
        .args(["decode", "--type-only", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let value = b"k8s:enc:aes\x1b[2Jcbc:v1:key\nerror\x1b[2J:\x01\x02";
    child.stdin.take().unwrap().write_all(value).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let note = stderr(&out);
    assert_no_raw_controls(&note);
    assert!(note.contains("key `key\\nerror\\x1b[2J`"), "{note}");
    assert_eq!(note.lines().count(), 1, "{note}");

    let c = Cluster::single();
    put_raw(
        &c,
        "/registry/secrets/default/s",
        b"k8s:enc:aes\x1b[2Jcbc:v1:key\nerror: forged:\x01\x02",
    );
    let out = run(&c, &["get", "secrets/default/s"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let err = stderr(&out);
    assert_no_raw_controls(&err);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("aes\\x1b[2Jcbc"), "{err}");

    let out = run(&c, &["ls", "secrets"]);
    crate::support::cli::assert_code(&out, 0);
    let text = stdout(&out);
    assert_no_raw_controls(&text);
    assert!(text.contains("encrypted:aes\\x1b[2Jcbc"), "{text}");
}

/// Issue 13, defect 5: `watch` lines carried key names unescaped.
#[test]
fn watch_lines_escape_control_characters_in_keys() {
    let c = Cluster::single();
    put_raw(&c, "/registry/configmaps/default/first", b"{}");
    let rev = {
        let out = c.ctl().ok(&["get", "/none", "-w", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["header"]["revision"].as_i64().unwrap()
    };
    put_raw(&c, EVIL, b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}");
    let out = run(
        &c,
        &[
            "watch",
            "configmaps",
            "--rev",
            &(rev + 1).to_string(),
            "--count",
            "1",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_no_raw_controls(&text);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("evil\\nerror: forged\\x1b[2J"), "{text}");
}

/// Issue 13, defect 7: one 1 MiB key among many made `ls` pad every row to
/// its width (3.1 GB for 3,001 keys). Table cells are elided; JSON keeps
/// the key whole.
#[test]
fn one_long_key_does_not_pad_every_row() {
    let c = Cluster::single();
    let long = format!("/registry/configmaps/default/{}", "k".repeat(1 << 20));
    // Too long for an etcdctl argument: the client library writes it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let urls: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    rt.block_on(async {
        let mut client = etcd_client::Client::connect(&urls, None).await.unwrap();
        client.put(long.as_str(), "{}", None).await.unwrap();
        for i in 0..50 {
            let key = format!("/registry/configmaps/default/cm-{i}");
            client.put(key, "{}", None).await.unwrap();
        }
    });
    let out = run(&c, &["ls", "configmaps"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    // 51 rows; the page with the long key prints the header again.
    let rows = text.lines().filter(|l| !l.starts_with("TYPE ")).count();
    assert_eq!(rows, 51, "{text}");
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 1000, "a row of {widest} characters");
    assert!(text.len() < 100_000, "{} bytes of table", text.len());

    let out = run(&c, &["ls", "configmaps", "-o", "json"]);
    let keys: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(keys.contains(&long), "JSON lost the whole key");

    let out = run(&c, &["size", "configmaps", "--top", "60"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 1000, "a row of {widest} characters");
}

/// A file of `len` zero bytes in a fresh temporary directory.
fn zeros(dir: &tempfile::TempDir, name: &str, len: u64) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(len).unwrap();
    path
}

const MIB: u64 = 1 << 20;

/// Issue 13, defect 6: `decode /dev/zero` grew to gigabytes. A value file
/// or stdin past the limit (8 MiB) is bad data, exit 5, naming the limit.
#[test]
fn decode_refuses_a_value_past_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = zeros(&dir, "value", 8 * MIB + 1);
    let out = plugin().arg("decode").arg(&big).output().unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 8 MiB"),
        "{}",
        stderr(&out)
    );

    let out = plugin().args(["decode", "/dev/zero"]).output().unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));

    let out = plugin()
        .args(["decode", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stdin is larger than 8 MiB"),
        "{}",
        stderr(&out)
    );
}

/// Issue 13, defect 6: `--kubeconfig`, `--cacert`, `--cert`, `--key` and
/// `--encryption-config` were read whole, whatever their size. A
/// configuration file past 4 MiB is a usage error, exit 2, naming it.
#[test]
fn configuration_files_past_their_size_limit_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let big = zeros(&dir, "big", 4 * MIB + 1);
    let big = big.to_str().unwrap();
    for flag in ["--cacert", "--cert", "--key"] {
        let mut args = vec!["--endpoints", "https://127.0.0.1:9", flag, big];
        // --cert and --key go together.
        if flag == "--cert" {
            args.extend(["--key", big]);
        }
        if flag == "--key" {
            args.extend(["--cert", big]);
        }
        args.push("status");
        let out = plugin().args(&args).output().unwrap();
        assert_eq!(code(&out), 2, "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("larger than 4 MiB"),
            "{flag}: {}",
            stderr(&out)
        );
    }

    let out = plugin()
        .args(["--kubeconfig", big, "status"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("kubeconfig `{big}` is larger than 4 MiB")),
        "{}",
        stderr(&out)
    );
    let out = plugin()
        .env("KUBECONFIG", big)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    let value = dir.path().join("value");
    std::fs::write(&value, b"{\"kind\":\"ConfigMap\"}").unwrap();
    let out = plugin()
        .args(["decode", "--encryption-config", big])
        .arg(&value)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--encryption-config"),
        "{}",
        stderr(&out)
    );
}

/// A length-delimited protobuf field.
fn field(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag << 3 | 2];
    let mut len = bytes.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
    out
}

/// `k8s\0` + runtime.Unknown{typeMeta, raw}.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut meta = field(1, api_version.as_bytes());
    meta.extend(field(2, kind.as_bytes()));
    let mut v = b"k8s\0".to_vec();
    v.extend(field(1, &meta));
    v.extend(field(2, raw));
    v
}

/// Issue 13, defects 1 and 3 through a live `get`: nested
/// ControllerRevisions at a version the schema lacks hung `get` (3^depth);
/// CBOR nested past the limit printed `null` with exit 0.
#[test]
fn get_of_hostile_values_is_fast_and_never_a_silent_null() {
    let c = Cluster::single();
    let mut value = envelope("apps/v9", "ControllerRevision", b"");
    while value.len() < 900 {
        // data (2) = RawExtension{raw (1)}, revision (3) = 1
        let mut rev = field(2, &field(1, &value));
        rev.extend([3 << 3, 1]);
        value = envelope("apps/v9", "ControllerRevision", &rev);
    }
    put_raw(&c, "/registry/controllerrevisions/default/nested", &value);
    let started = Instant::now();
    let out = run(
        &c,
        &["get", "controllerrevisions/default/nested", "-o", "json"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"]["data"]["revision"], 1, "{v}");

    // 55799({"a": [[[...150 deep...]]]})
    let mut deep = vec![0xd9, 0xd9, 0xf7, 0xa1, 0x61, b'a'];
    deep.extend(std::iter::repeat_n(0x81, 150));
    deep.push(0x01);
    put_raw(&c, "/registry/example.com/widgets/default/deep", &deep);
    let out = run(
        &c,
        &[
            "get",
            "/registry/example.com/widgets/default/deep",
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deeper than 100 levels"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("null"), "{}", stdout(&out));
}
