//! decode, get, ls and count against real etcd holding real storage-form
//! Kubernetes objects.

use crate::support;

use crate::objects;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use support::cli::{code, plugin, stderr as err, stdout as out};
use support::{Cluster, ClusterOpts};

use support::cli::run_on as run;
use support::etcdctl::{self, put_object, put_raw};

/// Kubernetes' v1.35 fixtures beside the repository. Missing fixtures fail
/// the test unless `KUBECTL_ETCD_NO_FIXTURES=1` opts out (README.md).
fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/k8s-api/v1.35.0");
    if std::env::var_os("KUBECTL_ETCD_NO_FIXTURES").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("SKIPPED: fixture test (KUBECTL_ETCD_NO_FIXTURES is set)");
        return None;
    }
    assert!(
        dir.join("core.v1.Pod.pb").is_file(),
        "fixtures missing at {}: they live beside the repository (../shared); \
         set KUBECTL_ETCD_NO_FIXTURES=1 to skip on purpose",
        dir.display()
    );
    Some(dir)
}

#[test]
fn get_of_a_fixture_stored_in_etcd_prints_the_fixture_json() {
    let Some(dir) = fixtures() else { return };
    let c = Cluster::single();
    for (file, resource) in [
        ("core.v1.Pod", "pods"),
        ("apps.v1.Deployment", "deployments"),
        ("core.v1.ConfigMap", "configmaps"),
    ] {
        let pb = std::fs::read(dir.join(format!("{file}.pb"))).unwrap();
        let mut want: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{file}.json"))).unwrap())
                .unwrap();
        let ns = want["metadata"]["namespace"].as_str().unwrap().to_string();
        let name = want["metadata"]["name"].as_str().unwrap().to_string();
        let (ns, name) = (ns.as_str(), name.as_str());
        put_raw(&c, &format!("/registry/{resource}/{ns}/{name}"), &pb);
        // As kube-apiserver does on read, resourceVersion is the key's mod
        // revision, whatever the stored bytes carry.
        let rev = c
            .etcdctl(&["get", "", "--prefix", "-w", "json", "--keys-only"])
            .stdout;
        let rev = serde_json::from_slice::<Value>(&rev).unwrap()["header"]["revision"].clone();
        want["metadata"]["resourceVersion"] = Value::String(rev.to_string());
        let o = run(
            &c,
            &["get", &format!("{resource}/{ns}/{name}"), "-o", "json"],
        );
        assert_eq!(code(&o), 0, "{file}: {}", err(&o));
        let got: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(got, want, "{file} decodes to its fixture JSON");
        // The same through `-o yaml` (default) parses to the same object.
        let o = run(&c, &["get", resource, name, "-n", ns]);
        let yaml: Value = serde_saphyr::from_str(&out(&o)).unwrap();
        assert_eq!(yaml, want, "{file} as YAML");
    }
}

#[test]
fn get_shows_objects_and_redacts_secrets_unless_asked() {
    let c = Cluster::single();
    put_object(&c, &objects::deployment("default", "web", 1, 3, 0));
    put_object(&c, &objects::secret("default", "db", 7, 0));

    let o = run(&c, &["get", "deploy/default/web", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["apiVersion"], "apps/v1");
    assert_eq!(v["kind"], "Deployment");
    assert_eq!(v["spec"]["replicas"], 3);
    assert_eq!(v["metadata"]["creationTimestamp"], "2023-11-14T22:13:21Z");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys[..2], ["apiVersion", "kind"], "kubectl's field order");

    let o = run(&c, &["get", "secret/default/db"]);
    crate::support::cli::assert_code(&o, 0);
    let text = out(&o);
    assert!(text.contains("password: <redacted 8 bytes>"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let o = run(
        &c,
        &["get", "secret/default/db", "--show-secrets", "-o", "json"],
    );
    crate::support::cli::assert_code(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["data"]["password"], "czNjcjN0LTc=", "base64 of s3cr3t-7");

    // A raw key, and the raw bytes: exactly what etcdctl reads.
    let o = run(
        &c,
        &["get", "/registry/deployments/default/web", "-o", "raw"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let (stored, _) = etcdctl::get_raw(&c, "/registry/deployments/default/web").unwrap();
    assert!(o.stdout.starts_with(b"k8s\0"), "the protobuf magic");
    assert_eq!(o.stdout.len(), stored.len());
    assert_eq!(o.stdout, stored);
}

#[test]
fn get_errors_are_specific() {
    let c = Cluster::single();
    put_object(&c, &objects::pod("default", "p", 1, 0));
    let o = run(&c, &["get", "pods/default/missing"]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("not found (key `/registry/pods/default/missing`)"),
        "{}",
        err(&o)
    );
    // A type that does not exist is a usage error (2), not "not found".
    let o = run(&c, &["get", "gizmos/x"]);
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("unknown resource type `gizmos`"),
        "{}",
        err(&o)
    );
    let o = run(&c, &["count", "nosuchtype"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    // TYPE NAME names the object, and a revision says where it looked.
    let o = run(&c, &["get", "pods", "pod-0"]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("`pods/pod-0` not found (key"),
        "{}",
        err(&o)
    );
    let o = run(&c, &["get", "pods", "pod-0", "--revision", "1"]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("`pods/pod-0` not found at revision 1"),
        "{}",
        err(&o)
    );
    // get has no table: refused, not silently YAML.
    let o = run(&c, &["get", "pods/default/p", "-o", "table"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(out(&o).is_empty());
    let o = run(&c, &["get", "pods/a/b/c"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    put_raw(
        &c,
        "/registry/pods/default/garbage",
        b"\x01\x02not a kubernetes value",
    );
    let o = run(&c, &["get", "pods/default/garbage"]);
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert!(err(&o).contains("cannot decode"), "{}", err(&o));
    assert!(!err(&o).contains("panicked"));
}

#[test]
fn get_at_a_past_revision_and_a_compacted_one() {
    let c = Cluster::single();
    put_object(&c, &objects::deployment("default", "web", 1, 3, 0));
    let rev: i64 = {
        let o = c.etcdctl(&["get", "/registry/deployments/default/web", "-w", "json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["header"]["revision"].as_i64().unwrap()
    };
    put_object(&c, &objects::deployment("default", "web", 1, 5, 0));
    let o = run(&c, &["get", "deploy/default/web", "-o", "json"]);
    crate::support::cli::assert_code(&o, 0);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["spec"]["replicas"],
        5
    );
    let o = run(
        &c,
        &[
            "get",
            "deploy/default/web",
            "-o",
            "json",
            "--revision",
            &rev.to_string(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["spec"]["replicas"],
        3
    );

    assert!(c
        .etcdctl(&["compact", &(rev + 1).to_string()])
        .status
        .success());
    let o = run(
        &c,
        &["get", "deploy/default/web", "--revision", &rev.to_string()],
    );
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert!(err(&o).contains("has been compacted"), "{}", err(&o));
}

#[test]
fn get_all_streams_every_object_of_a_type() {
    let c = Cluster::single();
    for i in 0..30 {
        put_object(
            &c,
            &objects::configmap(&format!("ns-{}", i % 3), &format!("cm-{i}"), i, 0),
        );
    }
    put_object(&c, &objects::pod("ns-0", "not-a-configmap", 1, 0));
    let o = run(&c, &["get", "configmaps", "--all", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let lines: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    assert!(lines.iter().all(|v| v["kind"] == "ConfigMap"));
    let o = run(&c, &["get", "cm", "--all", "-n", "ns-1"]);
    crate::support::cli::assert_code(&o, 0);
    let docs = out(&o);
    assert_eq!(docs.matches("kind: ConfigMap").count(), 10);
    assert_eq!(
        docs.matches("\n---\n").count(),
        9,
        "YAML documents are separated"
    );
}

#[test]
fn decode_reads_etcdctl_output_from_stdin() {
    let c = Cluster::single();
    let pod = objects::pod("default", "web-0", 3, 0);
    put_object(&c, &pod);
    let value = c.etcdctl(&["get", &pod.key, "--print-value-only"]).stdout;
    let mut child = plugin()
        .args(["decode", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&value).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "Pod");
    assert_eq!(v["metadata"]["name"], "web-0");
    assert_eq!(v["spec"]["nodeName"], "node-3");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("value.bin");
    std::fs::write(&file, &pod.value).unwrap();
    let o = plugin()
        .args(["decode", "--type-only", "-o", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "Pod");
    assert_eq!(v["encoding"], "protobuf");
}

pub(crate) const ENCRYPTION_CONFIG: &str = r#"
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: c2VjcmV0IGlzIHNlY3VyZSwgaXMgaXQgbm90Pz8/Pz8=
      - identity: {}
"#;

#[test]
fn aescbc_encrypted_secret_decrypts_with_the_config_and_otherwise_names_provider_and_key() {
    let c = Cluster::single();
    let secret = objects::secret("default", "creds", 5, 0);
    let config = registry::encryption::EncryptionConfig::from_yaml(ENCRYPTION_CONFIG).unwrap();
    let sealed = config
        .encrypt(secret.key.as_bytes(), &secret.value)
        .unwrap();
    assert!(sealed.starts_with(b"k8s:enc:aescbc:v1:key1:"));
    put_raw(&c, &secret.key, &sealed);

    let o = run(&c, &["get", "secrets/default/creds"]);
    assert_eq!(code(&o), 5);
    assert!(
        err(&o).contains("aescbc") && err(&o).contains("key1"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("--encryption-config"), "{}", err(&o));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encryption.yaml");
    std::fs::write(&path, ENCRYPTION_CONFIG).unwrap();
    let path = path.display().to_string();
    let o = run(
        &c,
        &[
            "get",
            "secrets/default/creds",
            "--encryption-config",
            &path,
            "--show-secrets",
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["data"]["password"], "czNjcjN0LTU=");

    let o = run(&c, &["ls", "secrets", "-o", "json"]);
    crate::support::cli::assert_code(&o, 0);
    let entry: Value = serde_json::from_str(out(&o).lines().next().unwrap()).unwrap();
    assert_eq!(entry["encoding"], "encrypted:aescbc");
}

#[test]
fn ls_lists_objects_with_type_namespace_and_encoding() {
    let c = Cluster::single();
    put_object(&c, &objects::pod("a", "p1", 1, 0));
    put_object(&c, &objects::pod("b", "p2", 2, 0));
    put_object(&c, &objects::widget("a", "w1", 3, 0));
    put_object(&c, &objects::widget_crd());
    put_raw(&c, "/registry/podtemplates/a/t", b"{}");
    put_raw(&c, "compact_rev_key", b"x");

    let o = run(&c, &["ls", "pods", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let rows: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "pods only, not podtemplates: {rows:?}");
    assert_eq!(rows[0]["type"], "pods");
    assert_eq!(rows[0]["namespace"], "a");
    assert_eq!(rows[0]["name"], "p1");
    assert_eq!(rows[0]["encoding"], "protobuf");
    assert!(rows[0]["modRevision"].as_i64().unwrap() > 0);

    let o = run(&c, &["ls", "widgets", "-n", "a"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        out(&o).contains("widgets.example.com") && out(&o).contains("json"),
        "{}",
        out(&o)
    );

    // Everything, including keys outside /registry.
    let o = run(&c, &["ls", "-o", "json"]);
    assert_eq!(out(&o).lines().count(), 6);
    assert!(out(&o).contains("compact_rev_key"));
    let o = run(&c, &["ls", "nothing-here.example.com"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn count_matches_a_brute_force_count_across_many_pages() {
    let c = Cluster::start(ClusterOpts::members(3));
    let objs: Vec<objects::Object> = (0..600).map(|i| objects::mixed(i, 7, 0)).collect();
    // Write in batches through etcdctl txn for speed.
    for chunk in objs.chunks(100) {
        for o in chunk {
            put_object(&c, o);
        }
    }
    put_raw(&c, "/other/app/key1", b"x");
    put_raw(&c, "/other/app/key2", b"x");

    let mut want = std::collections::BTreeMap::<String, u64>::new();
    for o in &objs {
        *want.entry(o.resource.to_string()).or_default() += 1;
    }
    let o = run(&c, &["count", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], 602);
    for (t, n) in &want {
        let row = v["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == t.as_str())
            .unwrap_or_else(|| panic!("{t} missing: {v}"));
        assert_eq!(row["count"], *n, "{t}");
    }
    let other = v["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "/other/app");
    assert_eq!(
        other.unwrap()["count"],
        2,
        "keys outside /registry are counted, never dropped"
    );
    assert_eq!(other.unwrap()["kind"], "other");
    let widgets = v["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "widgets.example.com");
    assert_eq!(widgets.unwrap()["kind"], "custom");

    let o = run(&c, &["count", "pods", "--by-namespace", "-o", "json"]);
    crate::support::cli::assert_code(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let pods = &v["types"][0];
    let per_ns: u64 = pods["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_ns, want["pods"]);
    let o = run(&c, &["count", "-n", "ns-0", "-o", "json"]);
    crate::support::cli::assert_code(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let in_ns0 = objs
        .iter()
        .filter(|o| o.namespace.as_deref() == Some("ns-0"))
        .count();
    assert_eq!(v["total"], in_ns0 as u64);
}

#[test]
fn put_round_trips_an_edited_object_as_protobuf_and_refuses_unsafe_writes() {
    let c = Cluster::single();
    let web = objects::deployment("default", "web", 1, 3, 0);
    put_object(&c, &web);
    let key = "/registry/deployments/default/web";
    let unchanged = || {
        let (stored, _) = etcdctl::get_raw(&c, key).unwrap();
        assert_eq!(stored, web.value, "nothing was written");
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    let o = run(&c, &["get", "deploy/default/web"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    std::fs::write(
        &file,
        out(&o).replace("replicas: 3\n  selector", "replicas: 7\n  selector"),
    )
    .unwrap();
    let file_arg = file.display().to_string();

    // No terminal and no --yes: refused, nothing written.
    let o = run(&c, &["put", "deploy/default/web", "-f", &file_arg]);
    assert_eq!(code(&o), 4, "{}", err(&o));
    unchanged();
    let o = run(
        &c,
        &["put", "deploy/default/web", "-f", &file_arg, "--dry-run"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains("will replace `/registry/deployments/default/web`"),
        "{}",
        err(&o)
    );
    unchanged();

    let o = run(&c, &["put", "deploy/default/web", "-f", &file_arg, "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // What etcd now holds, read by etcdctl and decoded by k8s-pb (not by
    // the plugin): protobuf as kube-apiserver writes it, with the edit.
    let d = etcdctl::deployment(&c, key);
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(7));
    let pod = spec.template.as_ref().unwrap().spec.as_ref().unwrap();
    assert_eq!(pod.containers[0].name.as_deref(), Some("main"));
    assert_eq!(
        d.metadata.as_ref().unwrap().name.as_deref(),
        Some("web"),
        "the rest as it was"
    );

    // A Secret shown redacted must not be written back.
    put_object(&c, &objects::secret("default", "db", 1, 0));
    let o = run(&c, &["get", "secrets/default/db"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let redacted = dir.path().join("db.yaml");
    std::fs::write(&redacted, out(&o)).unwrap();
    let o = run(
        &c,
        &[
            "put",
            "secrets/default/db",
            "-f",
            &redacted.display().to_string(),
            "--yes",
        ],
    );
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(err(&o).contains("redacted"), "{}", err(&o));
    let (stored, _) = etcdctl::get_raw(&c, "/registry/secrets/default/db").unwrap();
    assert_eq!(stored, objects::secret("default", "db", 1, 0).value);
}

/// Regression: `put` wrote a Pod's manifest into a Deployment's key, and a
/// manifest named `web-0` under `web-1`, with only a revision check in the
/// way; kube-apiserver refuses both (the object must be the request's), and
/// a Pod under `deployments/` breaks every read of that type.
#[test]
fn put_refuses_an_object_that_does_not_belong_at_the_key() {
    let c = Cluster::single();
    let web = objects::deployment("default", "web", 1, 3, 0);
    put_object(&c, &web);
    let pod = objects::pod("default", "web-0", 1, 0);
    put_object(&c, &pod);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.yaml");
    let o = run(&c, &["get", "pods/default/web-0"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    std::fs::write(&file, out(&o)).unwrap();
    let file_arg = file.display().to_string();
    let web_rev = etcdctl::get_raw(&c, &web.key).unwrap().1;
    let web_rev = web_rev.to_string();

    for (reference, says) in [
        (
            "deploy/default/web",
            "the file holds a Pod, but `/registry/deployments/default/web` holds Deployment objects",
        ),
        (
            "pods/default/web-1",
            "metadata.name is `web-0`, but the object at `/registry/pods/default/web-1` is named `web-1`",
        ),
        (
            "pods/other/web-0",
            "metadata.namespace is `default`, but `/registry/pods/other/web-0` is in namespace `other`",
        ),
    ] {
        let o = run(
            &c,
            &["put", reference, "-f", &file_arg, "--if-revision", &web_rev, "--yes"],
        );
        let e = err(&o);
        assert_eq!(code(&o), 4, "{reference}: {e}");
        assert!(e.contains(says), "{reference}: {e}");
        assert!(e.contains("help: "), "{e}");
    }
    let (stored, _) = etcdctl::get_raw(&c, &web.key).unwrap();
    assert_eq!(stored, web.value, "nothing was written");
    for key in ["/registry/pods/default/web-1", "/registry/pods/other/web-0"] {
        assert!(etcdctl::get_raw(&c, key).is_none(), "{key} not created");
    }
    // Its own key still takes it.
    let o = run(&c, &["put", "pods/default/web-0", "-f", &file_arg, "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
}

/// Regression: a manifest that is not YAML was reported with the parser's
/// multi-line source snippet squeezed into one escaped line (`\n --> <input>`).
#[test]
fn put_of_a_file_that_is_not_yaml_says_where_in_one_line() {
    let c = Cluster::single();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "kind: Pod\nmetadata: [name\n").unwrap();
    let o = run(
        &c,
        &[
            "put",
            "pods/default/web-0",
            "-f",
            file.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(code(&o), 5, "{}", err(&o));
    let e = err(&o);
    let line = e.lines().next().unwrap_or_default();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        line.starts_with("error: `") && line.contains("is not YAML or JSON: "),
        "{e}"
    );
    assert!(line.contains("line 2"), "says where: {e}");
    assert!(
        !line.contains("\\n") && !line.contains("-->"),
        "no snippet: {e}"
    );
}

#[test]
fn put_keeps_an_encrypted_secret_encrypted() {
    let c = Cluster::single();
    let secret = objects::secret("default", "creds", 5, 0);
    let config = registry::encryption::EncryptionConfig::from_yaml(ENCRYPTION_CONFIG).unwrap();
    put_raw(
        &c,
        &secret.key,
        &config
            .encrypt(secret.key.as_bytes(), &secret.value)
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let enc = dir.path().join("enc.yaml");
    std::fs::write(&enc, ENCRYPTION_CONFIG).unwrap();
    let enc = enc.display().to_string();
    let o = run(
        &c,
        &[
            "get",
            "secrets/default/creds",
            "--show-secrets",
            "--encryption-config",
            &enc,
        ],
    );
    crate::support::cli::assert_code(&o, 0);
    let edited = out(&o).replace("czNjcjN0LTU=", "bmV3LXBhc3N3b3Jk");
    let file = dir.path().join("creds.yaml");
    std::fs::write(&file, edited).unwrap();
    let file = file.display().to_string();

    let o = run(&c, &["put", "secrets/default/creds", "-f", &file, "--yes"]);
    assert_eq!(
        code(&o),
        4,
        "plaintext over an encrypted value is refused: {}",
        err(&o)
    );
    let o = run(
        &c,
        &[
            "put",
            "secrets/default/creds",
            "-f",
            &file,
            "--yes",
            "--encryption-config",
            &enc,
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let raw = c
        .etcdctl(&["get", &secret.key, "--print-value-only"])
        .stdout;
    assert!(
        raw.starts_with(b"k8s:enc:aescbc:v1:key1:"),
        "still encrypted"
    );
    let o = run(
        &c,
        &[
            "get",
            "secrets/default/creds",
            "--show-secrets",
            "--encryption-config",
            &enc,
            "-o",
            "json",
        ],
    );
    crate::support::cli::assert_code(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["data"]["password"], "bmV3LXBhc3N3b3Jk");
}

#[test]
fn snapshot_inspect_lists_and_shows_objects_offline() {
    let mut c = Cluster::single();
    put_object(&c, &objects::pod("default", "web-0", 1, 0));
    put_object(&c, &objects::pod("kube-system", "etcd-0", 2, 0));
    put_object(&c, &objects::secret("default", "db", 4, 0));
    put_object(&c, &objects::widget("default", "w1", 3, 0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let file = file.to_str().unwrap();
    let o = run(&c, &["snapshot", "save", file]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Changes after the snapshot must not show in it.
    put_object(&c, &objects::pod("default", "later", 9, 0));

    let offline = |args: &[&str]| plugin().args(args).output().unwrap();
    let o = offline(&["snapshot", "inspect", file, "--ls", "pods", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let rows: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["etcd-0", "web-0"]);
    assert!(!names.contains(&"later"));
    let o = offline(&["snapshot", "inspect", file, "--ls", "-n", "default"]);
    crate::support::cli::assert_code(&o, 0);
    assert_eq!(
        out(&o).lines().count(),
        4,
        "header + web-0, db, w1: {}",
        out(&o)
    );

    let o = offline(&[
        "snapshot",
        "inspect",
        file,
        "--get",
        "pods/default/web-0",
        "-o",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "Pod");
    assert_eq!(v["spec"]["nodeName"], "node-1");
    let o = offline(&["snapshot", "inspect", file, "--get", "secrets/default/db"]);
    crate::support::cli::assert_code(&o, 0);
    assert!(out(&o).contains("<redacted"), "{}", out(&o));
    let o = offline(&[
        "snapshot",
        "inspect",
        file,
        "--get",
        "widgets.example.com/default/w1",
        "-o",
        "json",
    ]);
    crate::support::cli::assert_code(&o, 0);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["kind"],
        "Widget"
    );
    let o = offline(&["snapshot", "inspect", file, "--get", "pods/default/later"]);
    assert_eq!(code(&o), 1, "{}", err(&o));

    // A stopped member's own database file reads the same way.
    c.stop(0);
    let db = c.member(0).data_dir().join("member/snap/db");
    let o = offline(&[
        "snapshot",
        "inspect",
        db.to_str().unwrap(),
        "--get",
        "pods/default/later",
        "-o",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["metadata"]["name"],
        "later"
    );
}

/// Regression: `--prefix kube2` (kube-apiserver's `--etcd-prefix=kube2`,
/// which it stores under `/kube2/`) matched no key's layout, so `count`
/// showed the objects as `/kube2/...` of kind other and `ls` as no type.
#[test]
fn a_prefix_without_its_leading_slash_is_rooted_as_kube_apiserver_roots_it() {
    let c = Cluster::single();
    let cm = objects::configmap("default", "conf", 1, 0);
    let key = cm.key.replacen("/registry/", "/kube2/", 1);
    put_raw(&c, &key, &cm.value);
    for prefix in ["kube2", "/kube2"] {
        let o = run(&c, &["--prefix", prefix, "count", "-o", "json"]);
        assert_eq!(code(&o), 0, "{}", err(&o));
        let v: Value = serde_json::from_str(&out(&o)).unwrap();
        let types = v["types"].as_array().unwrap();
        assert_eq!(types.len(), 1, "{prefix}: {v}");
        assert_eq!(types[0]["type"], "configmaps", "{prefix}: {v}");
        assert_eq!(types[0]["kind"], "builtin", "{prefix}: {v}");
        let o = run(
            &c,
            &["--prefix", prefix, "get", "cm/default/conf", "-o", "json"],
        );
        assert_eq!(code(&o), 0, "{prefix}: {}", err(&o));
        assert!(out(&o).contains("\"name\": \"conf\""), "{}", out(&o));
    }
}

/// Regression: `ls pods/default` (the TYPE/NS shape `watch` takes) said
/// "unknown resource type `pods/default`" of a type every command knows.
#[test]
fn a_type_with_a_namespace_where_a_type_goes_says_to_use_n() {
    let c = Cluster::single();
    put_object(&c, &objects::pod("default", "web-0", 1, 0));
    for args in [
        &["ls", "pods/default"][..],
        &["count", "pods/default"],
        &["get", "--all", "pods/default"],
        &["search", "web", "--type", "pods/default"],
    ] {
        let o = run(&c, args);
        let e = err(&o);
        assert_eq!(code(&o), 2, "{args:?}: {e}");
        assert!(
            e.contains("`pods/default` is not a TYPE or a key prefix"),
            "{args:?}: {e}"
        );
        assert!(
            e.contains("help: for one namespace pass `pods -n default`"),
            "{e}"
        );
        assert!(!e.contains("unknown resource type"), "{e}");
    }
    let o = run(&c, &["ls", "po/default/web-0"]);
    assert!(
        err(&o).contains("`kubectl etcd get po/default/web-0`"),
        "{}",
        err(&o)
    );
    // A type the cluster does not know is still unknown.
    let o = run(&c, &["ls", "nosuch/default"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("unknown resource type"), "{}", err(&o));
}
