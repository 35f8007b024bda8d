//! Time and ownership against real 3-member etcd clusters: `move-leader`
//! (named, default, refusals), `lease list`/`lease show` (counts and types
//! per lease, expiry), and `history` (managers, diffs, a deletion between
//! two lives, compaction).

use crate::objects;
use crate::support;

use std::process::Output;
use std::time::Duration;

use etcd_client::PutOptions;
use serde_json::{json, Value};
use support::cli::{code, plugin, stderr, stdout};
use support::{Cluster, ClusterOpts};

use support::cli::run_on as run;

fn ok(out: Output) -> String {
    assert_eq!(
        code(&out),
        0,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The leader member `i` reports (0 when it has none).
fn leader_seen_by(c: &Cluster, i: usize) -> u64 {
    let out = c
        .ctl()
        .endpoint(i)
        .ok(&["endpoint", "status", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("endpoint status json");
    v[0]["Status"]["leader"].as_u64().unwrap_or(0)
}

use crate::support::wait_until as wait_for;

// ----- move-leader ------------------------------------------------------------

#[test]
fn move_leader_to_a_named_follower_then_by_default_and_refusals() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let ids: Vec<u64> = (0..3).map(|i| c.member_id(i)).collect();
    let leader = c.leader_index();
    let to = (leader + 1) % 3;
    let name = c.member(to).name().to_string();

    // Without --yes and without a terminal: refused, nothing moves.
    let out = run(&c, &["move-leader", "--to", &name]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("without confirmation"),
        "{}",
        stderr(&out)
    );
    assert_eq!(c.leader_index(), leader);

    // --dry-run names the target and changes nothing.
    let dry: Value = serde_json::from_str(&ok(run(
        &c,
        &["move-leader", "--to", &name, "--dry-run", "-o", "json"],
    )))
    .unwrap();
    assert_eq!(dry["to"], name.as_str());
    assert_eq!(dry["toId"], format!("{:016x}", ids[to]));
    assert_eq!(dry["dryRun"], true);
    assert_eq!(c.leader_index(), leader);

    // Ctrl-C before the transfer is asked for: exit 130, nothing changed.
    // A listener that never answers keeps the first survey busy meanwhile.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoints = format!(
        "{},http://{}",
        c.endpoints(),
        blackhole.local_addr().unwrap()
    );
    let child = plugin()
        .args(["--endpoints", &endpoints, "--dial-timeout", "6s"])
        .args(["move-leader", "--to", &name, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once its Ctrl-C handler is in place (the survey then waits on the
    // black hole for up to the 6s dial timeout).
    wait_for("the SIGINT handler", Duration::from_secs(30), || {
        crate::support::cli::catches_sigint(child.id())
    });
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing changed"), "{}", stderr(&out));
    assert_eq!(c.leader_index(), leader);
    drop(blackhole);

    // To the named follower: when the command returns, every member says so.
    let moved: Value = serde_json::from_str(&ok(run(
        &c,
        &["move-leader", "--to", &name, "--yes", "-o", "json"],
    )))
    .unwrap();
    assert_eq!(moved["from"], c.member(leader).name());
    assert_eq!(moved["to"], name.as_str());
    assert!(moved["tookMs"].is_u64(), "{moved}");
    for i in 0..3 {
        assert_eq!(leader_seen_by(&c, i), ids[to], "member {i}");
    }

    // By default: a voting follower, never the leader itself.
    let out = ok(run(&c, &["move-leader", "--yes", "-o", "json"]));
    let moved: Value = serde_json::from_str(&out).unwrap();
    let new_name = moved["to"].as_str().unwrap().to_string();
    assert_ne!(new_name, name);
    let new = (0..3).find(|&i| c.member(i).name() == new_name).unwrap();
    for i in 0..3 {
        assert_eq!(leader_seen_by(&c, i), ids[new], "member {i}");
    }

    // A learner is refused (exit 4) and leadership stays.
    c.add_learner("learner");
    let out = run(&c, &["move-leader", "--to", "learner", "--yes"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("learner"), "{}", stderr(&out));
    assert_eq!(leader_seen_by(&c, new), ids[new]);

    // A stopped member is refused (exit 4).
    let stopped = (0..3).find(|&i| i != new).unwrap();
    c.stop(stopped);
    let stopped_name = c.member(stopped).name().to_string();
    let out = run(&c, &["move-leader", "--to", &stopped_name, "--yes"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("not reachable"), "{}", stderr(&out));
    assert_eq!(leader_seen_by(&c, new), ids[new]);

    // No leader at all (two of three voters down): refused, exit 4.
    c.stop(new);
    let survivor = (0..3).find(|&i| i != new && i != stopped).unwrap();
    wait_for(
        "the survivor to lose its leader",
        Duration::from_secs(30),
        || leader_seen_by(&c, survivor) == 0,
    );
    let out = run(&c, &["move-leader", "--yes"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("no leader"), "{}", stderr(&out));
}

// ----- leases -----------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Grant a lease with `ttl` seconds and attach `objects` to it; returns its id.
async fn lease_with(client: &mut etcd_client::Client, ttl: i64, objs: &[objects::Object]) -> i64 {
    let id = client.lease_grant(ttl, None).await.unwrap().id();
    for o in objs {
        client
            .put(
                o.key.as_bytes(),
                o.value.clone(),
                Some(PutOptions::new().with_lease(id)),
            )
            .await
            .unwrap();
    }
    id
}

fn lease_row(list: &Value, id: i64) -> Option<Value> {
    let hex = format!("{:016x}", id as u64);
    list["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == hex.as_str())
        .cloned()
}

#[test]
fn lease_list_counts_keys_per_type_and_forgets_expired_leases() {
    let c = Cluster::start(ClusterOpts::members(3));
    let urls: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    let (empty, five, many, short) = runtime().block_on(async {
        let mut client = etcd_client::Client::connect(&urls, None).await.unwrap();
        let empty = lease_with(&mut client, 600, &[]).await;
        let mut objs: Vec<objects::Object> = (0..3)
            .map(|i| objects::event("default", &format!("e{i}"), i, 0))
            .collect();
        objs.extend((0..2).map(|i| objects::pod("web", &format!("p{i}"), i, 0)));
        let five = lease_with(&mut client, 600, &objs).await;
        let mut objs: Vec<objects::Object> = (0..150)
            .map(|i| objects::event("kube-system", &format!("ev{i}"), i, 0))
            .collect();
        objs.extend((0..50).map(|i| objects::lease("kube-node-lease", &format!("node-{i}"), i)));
        let many = lease_with(&mut client, 600, &objs).await;
        let short = lease_with(
            &mut client,
            4,
            &[objects::configmap("default", "ephemeral", 1, 0)],
        )
        .await;
        (empty, five, many, short)
    });

    let list: Value = serde_json::from_str(&ok(run(&c, &["lease", "list", "-o", "json"]))).unwrap();
    let rows = list["leases"].as_array().unwrap();
    // Sorted by keys attached, most first.
    let keys: Vec<u64> = rows.iter().map(|r| r["keys"].as_u64().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted);
    let m = lease_row(&list, many).expect("the 200-key lease");
    assert_eq!(m["keys"], 200);
    assert_eq!(
        m["types"],
        json!([{"type": "events", "keys": 150},
               {"type": "leases.coordination.k8s.io", "keys": 50}])
    );
    assert_eq!(m["grantedTtl"], 600);
    let remaining = m["remainingTtl"].as_i64().unwrap();
    assert!(remaining > 500 && remaining <= 600, "{m}");
    let f = lease_row(&list, five).expect("the 5-key lease");
    assert_eq!(f["keys"], 5);
    assert_eq!(
        f["types"],
        json!([{"type": "events", "keys": 3}, {"type": "pods", "keys": 2}])
    );
    let e = lease_row(&list, empty).expect("the empty lease");
    assert_eq!(
        (e["keys"].clone(), e["types"].clone()),
        (json!(0), json!([]))
    );

    // The table says the same in words.
    let table = ok(run(&c, &["lease", "list"]));
    assert!(
        table.contains("events: 150, leases.coordination.k8s.io: 50"),
        "{table}"
    );
    assert!(table.starts_with("ID"), "{table}");

    // `lease show` lists the keys as objects.
    let show: Value = serde_json::from_str(&ok(run(
        &c,
        &[
            "lease",
            "show",
            &format!("{:016x}", five as u64),
            "-o",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(show["keys"], 5);
    let objs = show["objects"].as_array().unwrap();
    assert_eq!(objs.len(), 5);
    assert!(
        objs.contains(&json!({"type": "pods", "namespace": "web", "name": "p1",
                                  "key": "/registry/pods/web/p1"}))
    );
    assert_eq!(objs[0]["type"], "events");

    // The short lease expires: it (and its key) disappear.
    wait_for("the short lease to expire", Duration::from_secs(30), || {
        let list: Value =
            serde_json::from_str(&ok(run(&c, &["lease", "list", "-o", "json"]))).unwrap();
        lease_row(&list, short).is_none()
    });
    assert_eq!(c.get("/registry/configmaps/default/ephemeral"), None);
    let out = run(&c, &["lease", "show", &format!("{:016x}", short as u64)]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    // A malformed id is a usage error.
    assert_eq!(code(&run(&c, &["lease", "show", "not-hex"])), 2);
}

// ----- history ------------------------------------------------------------------

/// The widget `w` of `default` as `manager` writes it at `time`, with the
/// managedFields entries of the managers before it.
pub(crate) fn widget_by(
    base: &Value,
    managers: &[(&str, &str, &str)],
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut v = base.clone();
    v["metadata"]["managedFields"] = managers
        .iter()
        .map(|(m, op, t)| {
            json!({"manager": m, "operation": op, "apiVersion": "example.com/v1",
                                  "time": t, "fieldsType": "FieldsV1", "fieldsV1": {}})
        })
        .collect();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn put_bytes(c: &Cluster, key: &str, value: Vec<u8>) -> i64 {
    support::etcdctl::put_raw(c, key, &value)
}

fn noise(c: &Cluster, n: usize) {
    for i in 0..n {
        c.put(&format!("/registry/configmaps/other/noise-{i}"), "x");
    }
}

#[test]
fn history_lists_every_version_with_managers_diffs_and_both_lives() {
    let c = Cluster::start(ClusterOpts::members(3));
    let w = objects::widget("default", "hist", 1, 0);
    let base: Value = serde_json::from_slice(&w.value).unwrap();
    let t = [
        "2024-05-01T10:00:00Z",
        "2024-05-02T10:00:00Z",
        "2024-05-03T10:00:00Z",
    ];
    let created = ("kubectl-client-side-apply", "Update", t[0]);
    let r1 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created], |v| {
            v["spec"]["size"] = json!(1);
        }),
    );
    noise(&c, 3);
    let r2 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created, ("hpa", "Update", t[1])], |v| {
            v["spec"]["size"] = json!(2);
        }),
    );
    noise(&c, 2);
    let three = [created, ("hpa", "Update", t[1]), ("argocd", "Apply", t[2])];
    let r3 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &three, |v| {
            v["spec"]["size"] = json!(2);
            v["spec"]["color"] = json!("red");
        }),
    );
    let four = [
        created,
        ("hpa", "Update", t[1]),
        ("argocd", "Apply", t[2]),
        ("kubectl-edit", "Update", "2024-05-04T10:00:00Z"),
    ];
    let r4 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &four, |v| {
            v["spec"]["size"] = json!(2);
            v["spec"]["color"] = json!("red");
            v["metadata"]["labels"] = json!({"tier": "web"});
        }),
    );
    noise(&c, 1);
    let out = c.ctl().ok(&["del", &w.key, "-w", "json"]);
    let deleted: i64 = serde_json::from_str::<Value>(&out).unwrap()["header"]["revision"]
        .as_i64()
        .unwrap();
    // A long gap before the re-creation: the walk must find the deletion.
    noise(&c, 37);
    let r5 = put_bytes(
        &c,
        &w.key,
        widget_by(
            &base,
            &[("kubectl-create", "Update", "2024-06-01T00:00:00Z")],
            |v| {
                v["spec"]["size"] = json!(9);
                v["metadata"]["uid"] = json!("second-life");
            },
        ),
    );
    noise(&c, 2);

    let reference = "widgets.example.com/default/hist";
    let out = run(&c, &["history", reference, "-o", "json"]);
    let lines = json_lines(&ok(out.clone()));
    assert!(
        stderr(&out).contains("the whole retained history"),
        "{}",
        stderr(&out)
    );
    let summary: Vec<(i64, &str, Option<&str>, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["revision"].as_i64().unwrap(),
                l["event"].as_str().unwrap(),
                l["manager"].as_str(),
                l["operation"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (r5, "ADDED", Some("kubectl-create"), Some("Update")),
            (deleted, "DELETED", None, None),
            (r4, "MODIFIED", Some("kubectl-edit"), Some("Update")),
            (r3, "MODIFIED", Some("argocd"), Some("Apply")),
            (r2, "MODIFIED", Some("hpa"), Some("Update")),
            (
                r1,
                "ADDED",
                Some("kubectl-client-side-apply"),
                Some("Update")
            ),
        ]
    );
    assert_eq!(
        lines[2]["diff"],
        json!([{"path": "metadata.labels", "old": null, "new": {"tier": "web"}}])
    );
    assert_eq!(
        lines[3]["diff"],
        json!([{"path": "spec.color", "old": "blue", "new": "red"}])
    );
    assert_eq!(
        lines[4]["diff"],
        json!([{"path": "spec.size", "old": 1, "new": 2}])
    );
    assert_eq!(lines[4]["time"], t[1]);
    assert_eq!(lines[0]["diff"], json!([]));
    assert!(lines.iter().all(|l| l.get("object").is_none()));
    // --all-fields shows the managedFields entry that changed too.
    let all = json_lines(&ok(run(
        &c,
        &[
            "history",
            reference,
            "-o",
            "json",
            "--all-fields",
            "--limit",
            "4",
        ],
    )));
    assert!(
        all[3]["diff"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "metadata.managedFields[2]"),
        "{}",
        all[3]
    );
    // --objects: the decoded object; the deletion carries the last state.
    let objs = json_lines(&ok(run(
        &c,
        &[
            "history",
            reference,
            "-o",
            "json",
            "--objects",
            "--limit",
            "2",
        ],
    )));
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0]["object"]["metadata"]["uid"], "second-life");
    assert_eq!(objs[1]["object"]["metadata"]["labels"]["tier"], "web");

    // --limit and --since-revision.
    let out = run(&c, &["history", reference, "-o", "json", "--limit", "2"]);
    assert_eq!(json_lines(&ok(out.clone())).len(), 2);
    assert!(stderr(&out).contains("--limit"), "{}", stderr(&out));
    let since = json_lines(&ok(run(
        &c,
        &[
            "history",
            &w.key,
            "-o",
            "json",
            "--since-revision",
            &r3.to_string(),
        ],
    )));
    let revs: Vec<i64> = since
        .iter()
        .map(|l| l["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revs, vec![r5, deleted, r4, r3]);

    // The table: one line per version with its diff.
    let table = ok(run(&c, &["history", reference]));
    assert!(table.starts_with("REVISION"), "{table}");
    assert!(table.contains("spec.color: blue -> red"), "{table}");
    assert!(table.contains("argocd"), "{table}");
    assert_eq!(table.lines().count(), 7, "{table}");

    // A compaction in the middle: history stops there and says so.
    c.ctl().ok(&["compaction", &r3.to_string()]);
    let out = run(&c, &["history", reference, "-o", "json"]);
    support::cli::assert_history_stops_at(&out, &[r5, deleted, r4, r3], r3);
}

#[test]
fn history_of_a_secret_stays_redacted_unless_asked() {
    let c = Cluster::start(ClusterOpts::members(3));
    let s1 = objects::secret("default", "db", 1, 0);
    let s2 = objects::secret("default", "db", 2, 0);
    put_bytes(&c, &s1.key, s1.value);
    put_bytes(&c, &s2.key, s2.value);
    let out = ok(run(
        &c,
        &["history", "secrets/default/db", "-o", "json", "--objects"],
    ));
    assert_eq!(json_lines(&out).len(), 2);
    assert!(!out.contains("czNjcjN0"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
    let shown = ok(run(
        &c,
        &[
            "history",
            "secrets/default/db",
            "-o",
            "json",
            "--objects",
            "--show-secrets",
        ],
    ));
    assert!(
        shown.contains("czNjcjN0LTI=") || shown.contains("s3cr3t-2"),
        "{shown}"
    );
    // Deleted now: the deletion comes first, then the life before it.
    c.ctl().ok(&["del", &s1.key]);
    let events: Vec<String> = json_lines(&ok(run(
        &c,
        &["history", "secrets/default/db", "-o", "json"],
    )))
    .iter()
    .map(|l| l["event"].as_str().unwrap().to_string())
    .collect();
    assert_eq!(events, ["DELETED", "MODIFIED", "ADDED"]);
    // A key that never existed: exit 1.
    let out = run(&c, &["history", "secrets/default/nope"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

// ----- top ----------------------------------------------------------------------

/// Deployment `apps/web` as `manager` writes its status for the `n`-th time:
/// the seed object with a managedFields entry for the status subresource
/// whose time moves on every write.
fn deployment_status_by(manager: &str, n: u64) -> Vec<u8> {
    use k8s_pb::api::apps::v1 as apps;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let base = objects::deployment("apps", "web", 1, 3, 0);
    let unknown = Unknown::decode(&base.value[4..]).expect("envelope");
    let mut d = apps::Deployment::decode(unknown.raw.as_deref().unwrap()).expect("deployment");
    let meta = d.metadata.as_mut().unwrap();
    meta.managed_fields.push(meta::ManagedFieldsEntry {
        manager: Some(manager.into()),
        operation: Some("Update".into()),
        api_version: Some("apps/v1".into()),
        time: Some(meta::Time {
            seconds: Some(1_700_000_000 + n as i64),
            nanos: Some(0),
        }),
        subresource: Some("status".into()),
        ..Default::default()
    });
    d.status.as_mut().unwrap().updated_replicas = Some(n as i32);
    objects::envelope("apps/v1", "Deployment", d.encode_to_vec())
}

/// Puts `value(i)` to `key(i)` at `rate` per second for `secs`, each put in
/// its own task so that a slow answer does not slow the rate.
async fn write_at(
    client: etcd_client::Client,
    rate: u64,
    secs: u64,
    key: impl Fn(u64) -> String,
    value: impl Fn(u64) -> Vec<u8>,
) {
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs(1) / rate as u32;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..rate * secs {
        tokio::time::sleep_until(start + period * i as u32).await;
        let mut c = client.clone();
        let (k, v) = (key(i), value(i));
        tasks.spawn(async move { c.put(k, v, None).await.expect("put") });
    }
    while tasks.join_next().await.is_some() {}
}

/// The average of `field` of row `name` over the JSON lines after the first.
fn average_rate(lines: &[Value], name: &str, field: &str) -> f64 {
    let steady = &lines[1..];
    let sum: f64 = steady
        .iter()
        .map(|l| {
            l["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .map(|r| r[field].as_f64().unwrap())
                .unwrap_or(0.0)
        })
        .sum();
    sum / steady.len() as f64
}

#[test]
fn top_shows_two_writers_at_their_rates_by_type_and_by_manager() {
    let c = Cluster::start(ClusterOpts::members(3));
    let urls: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    let spawn_top = |by: &str| {
        plugin()
            .args(["--endpoints", &c.endpoints(), "top", "--by", by])
            .args(["--interval", "2s", "--count", "5", "-o", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn top")
    };
    // Both watches are open before the writers start: etcd counts the
    // watchers of every member (top may watch through more than one).
    let watchers = || -> f64 {
        (0..c.len())
            .filter_map(|i| c.metric(i, "etcd_debugging_mvcc_watcher_total"))
            .sum()
    };
    let idle = watchers();
    let by_type = spawn_top("type");
    let by_manager = spawn_top("manager");
    wait_for("both top watches", Duration::from_secs(30), || {
        watchers() >= idle + 2.0
    });
    runtime().block_on(async {
        let client = etcd_client::Client::connect(&urls, None).await.unwrap();
        let events = write_at(
            client.clone(),
            50,
            12,
            |i| format!("/registry/events/busy/ev-{}", i % 20),
            |i| objects::event("busy", &format!("ev-{}", i % 20), i, 0).value,
        );
        let status = write_at(
            client,
            5,
            12,
            |_| "/registry/deployments/apps/web".into(),
            |i| deployment_status_by("rollout-controller", i),
        );
        tokio::join!(events, status);
    });
    let by_type = by_type.wait_with_output().unwrap();
    let by_manager = by_manager.wait_with_output().unwrap();
    let types = json_lines(&ok(by_type));
    assert_eq!(types.len(), 5);
    let events = average_rate(&types, "events", "putsPerSecond");
    let deployments = average_rate(&types, "deployments.apps", "putsPerSecond");
    assert!(
        (40.0..=60.0).contains(&events),
        "events {events}/s: {types:?}"
    );
    assert!(
        (4.0..=6.0).contains(&deployments),
        "deployments {deployments}/s: {types:?}"
    );
    let last = types.last().unwrap();
    assert_eq!(last["by"], "type");
    assert_eq!(last["rows"][0]["name"], "events");
    let share = last["rows"][0]["sharePercent"].as_f64().unwrap();
    assert!((85.0..=95.0).contains(&share), "{last}");
    assert!(last["rows"][0]["bytesPerSecond"].as_f64().unwrap() > 0.0);

    let managers = json_lines(&ok(by_manager));
    let rollout = average_rate(&managers, "rollout-controller", "putsPerSecond");
    assert!(
        (4.0..=6.0).contains(&rollout),
        "rollout-controller {rollout}/s: {managers:?}"
    );
    let kcm = average_rate(&managers, "kube-controller-manager", "putsPerSecond");
    assert!(
        (40.0..=60.0).contains(&kcm),
        "kube-controller-manager {kcm}/s: {managers:?}"
    );
}
