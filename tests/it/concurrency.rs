//! Optimistic concurrency as kubectl has it: `get` shows
//! `metadata.resourceVersion` (the key's mod revision), `put -f` writes only
//! from that revision, against real etcd with a second client (etcdctl)
//! writing in between.

use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, stderr as err, stdout as out};
use crate::support::Cluster;

const KEY: &str = "/registry/deployments/default/web";

use crate::support::cli::run_on as run;
use crate::support::etcdctl::{decode_deployment, put_object as etcdctl_put};

/// The key's mod revision and stored bytes, as etcdctl sees them.
fn etcdctl_get(c: &Cluster, key: &str) -> (i64, Vec<u8>) {
    let (value, rev) = crate::support::etcdctl::get_raw(c, key).expect("key is stored");
    (rev, value)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn get_shows_the_mod_revision_as_resource_version_in_yaml_json_and_all() {
    let c = Cluster::single();
    etcdctl_put(&c, &objects::deployment("default", "web", 1, 3, 0));
    let (rev, _) = etcdctl_get(&c, KEY);

    let o = run(&c, &["get", "deploy/default/web", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metadata"]["resourceVersion"], rev.to_string());
    let meta: Vec<&String> = v["metadata"].as_object().unwrap().keys().collect();
    let at = meta.iter().position(|k| *k == "resourceVersion").unwrap();
    assert_eq!(meta[at - 1], "uid", "after uid, as kubectl shows it");

    let o = run(&c, &["get", "deploy/default/web"]);
    crate::support::cli::assert_code(&o, 0);
    assert!(
        out(&o).contains(&format!("resourceVersion: '{rev}'"))
            || out(&o).contains(&format!("resourceVersion: \"{rev}\"")),
        "a string in YAML: {}",
        out(&o)
    );

    etcdctl_put(&c, &objects::deployment("default", "api", 2, 1, 0));
    let (api_rev, _) = etcdctl_get(&c, "/registry/deployments/default/api");
    let o = run(&c, &["get", "--all", "deploy", "-o", "json"]);
    crate::support::cli::assert_code(&o, 0);
    let revs: Vec<String> = out(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(revs, [api_rev.to_string(), rev.to_string()]);
}

#[test]
fn put_of_a_stale_file_is_refused_naming_both_revisions_and_a_fresh_edit_goes_through() {
    let c = Cluster::single();
    etcdctl_put(&c, &objects::deployment("default", "web", 1, 3, 0));
    let (read_at, _) = etcdctl_get(&c, KEY);
    let dir = tempfile::tempdir().unwrap();

    // The operator reads and edits...
    let o = run(&c, &["get", "deploy/default/web"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let stale = write(
        &dir,
        "stale.yaml",
        &out(&o).replacen("replicas: 3", "replicas: 7", 1),
    );
    // ...while another client (kube-apiserver, here etcdctl) writes the key.
    etcdctl_put(&c, &objects::deployment("default", "web", 1, 5, 0));
    let (now, before) = etcdctl_get(&c, KEY);
    assert!(now > read_at);

    let o = run(&c, &["put", "deploy/default/web", "-f", &stale, "--yes"]);
    assert_eq!(code(&o), 4, "refused for safety: {}", err(&o));
    let e = err(&o);
    assert!(
        e.contains(&format!("based on revision {read_at}"))
            && e.contains(&format!("etcd has revision {now}")),
        "names both revisions: {e}"
    );
    assert!(e.contains("help: run `kubectl etcd get"), "{e}");
    assert_eq!(
        etcdctl_get(&c, KEY),
        (now, before.clone()),
        "nothing written"
    );
    // --dry-run is refused the same way: it would not be able to write.
    let o = run(
        &c,
        &["put", "deploy/default/web", "-f", &stale, "--dry-run"],
    );
    assert_eq!(code(&o), 4, "{}", err(&o));

    // A fresh get, the same edit: the diff shows exactly the edit.
    let o = run(&c, &["get", "deploy/default/web"]);
    let fresh = write(
        &dir,
        "fresh.yaml",
        &out(&o).replacen("replicas: 5", "replicas: 7", 1),
    );
    let o = run(
        &c,
        &["put", "deploy/default/web", "-f", &fresh, "--dry-run"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("changes (1):\n  spec.replicas: 5 -> 7\n"),
        "the field diff from what is stored: {e}"
    );
    assert!(e.contains("dry run: nothing written"), "{e}");
    assert_eq!(etcdctl_get(&c, KEY).0, now);

    let o = run(&c, &["put", "deploy/default/web", "-f", &fresh, "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let (written_at, stored) = etcdctl_get(&c, KEY);
    assert!(written_at > now);
    assert!(
        err(&o).contains(&format!("at revision {written_at}")),
        "{}",
        err(&o)
    );
    let d = decode_deployment(&stored);
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(7));
    let meta = d.metadata.as_ref().unwrap();
    assert_eq!(meta.name.as_deref(), Some("web"));
    assert!(
        meta.resource_version.as_deref().unwrap_or("").is_empty(),
        "resourceVersion is not stored, as kube-apiserver clears it: {:?}",
        meta.resource_version
    );
    let was = decode_deployment(&before);
    assert_eq!(
        meta.creation_timestamp,
        was.metadata.as_ref().unwrap().creation_timestamp,
        "the rest of the object is kept"
    );

    // The same file again is now stale against its own write.
    let o = run(&c, &["put", "deploy/default/web", "-f", &fresh, "--yes"]);
    assert_eq!(code(&o), 4, "{}", err(&o));
}

#[test]
fn put_without_a_resource_version_is_refused_unless_if_revision_says_which() {
    let c = Cluster::single();
    etcdctl_put(&c, &objects::deployment("default", "web", 1, 3, 0));
    let dir = tempfile::tempdir().unwrap();
    let o = run(&c, &["get", "deploy/default/web"]);
    let text: String = out(&o)
        .lines()
        .filter(|l| !l.trim_start().starts_with("resourceVersion:"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("replicas: 3", "replicas: 4");
    let file = write(&dir, "bare.yaml", &text);
    let (rev, before) = etcdctl_get(&c, KEY);

    let o = run(&c, &["put", "deploy/default/web", "-f", &file, "--yes"]);
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(
        err(&o).contains("no metadata.resourceVersion"),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains("help: run `kubectl etcd get deploy/default/web -o yaml` first")
            && err(&o).contains("--if-revision"),
        "{}",
        err(&o)
    );
    assert_eq!(etcdctl_get(&c, KEY).1, before);

    let stale = (rev - 1).to_string();
    let o = run(
        &c,
        &[
            "put",
            "deploy/default/web",
            "-f",
            &file,
            "--if-revision",
            &stale,
            "--yes",
        ],
    );
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(
        err(&o).contains(&format!("--if-revision is based on revision {stale}")),
        "{}",
        err(&o)
    );

    let o = run(
        &c,
        &[
            "put",
            "deploy/default/web",
            "-f",
            &file,
            "--if-revision",
            &rev.to_string(),
            "--yes",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let d = decode_deployment(&etcdctl_get(&c, KEY).1);
    assert_eq!(d.spec.unwrap().replicas, Some(4));

    // A new key needs no revision: it is created only if still absent.
    let other = write(
        &dir,
        "other.yaml",
        &text.replace("name: web", "name: other"),
    );
    let o = run(&c, &["put", "deploy/default/other", "-f", &other, "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = run(&c, &["put", "deploy/default/other", "-f", &other, "--yes"]);
    assert_eq!(code(&o), 4, "exists now: {}", err(&o));
}

#[test]
fn put_shows_a_secret_change_by_size_without_its_value() {
    let c = Cluster::single();
    let secret = objects::secret("default", "db", 7, 0);
    etcdctl_put(&c, &secret);
    let dir = tempfile::tempdir().unwrap();
    let o = run(&c, &["get", "secret/default/db", "--show-secrets"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // s3cr3t-7 -> new-password
    let file = write(
        &dir,
        "db.yaml",
        &out(&o).replace("czNjcjN0LTc=", "bmV3LXBhc3N3b3Jk"),
    );
    let o = run(&c, &["put", "secret/default/db", "-f", &file, "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains(r#"data.password: "<redacted 8 bytes>" -> "<redacted 12 bytes>""#),
        "{e}"
    );
    assert!(
        !e.contains("bmV3LXBhc3N3b3Jk") && !e.contains("czNjcjN0LTc="),
        "{e}"
    );
    let o = run(
        &c,
        &[
            "put",
            "secret/default/db",
            "-f",
            &file,
            "--dry-run",
            "--show-secrets",
        ],
    );
    crate::support::cli::assert_code(&o, 0);
    assert!(
        err(&o).contains("data.password: czNjcjN0LTc= -> bmV3LXBhc3N3b3Jk"),
        "{}",
        err(&o)
    );
}
