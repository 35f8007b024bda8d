//! Every type `count` lists is usable as a TYPE argument, and a user who
//! may read one type's keys can list that type.

use crate::objects;
use crate::support;

use std::process::Output;

use support::cli::{code, run_on as run, stderr as err, stdout as out};
use support::{Cluster, ClusterOpts};

use support::etcdctl::put_raw;

fn err_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", out(o), err(o));
    out(o)
}

/// A PodGroup as kube-apiserver stores a type newer than the plugin's
/// table: protobuf envelope naming its group, under `/registry/podgroups/`.
fn podgroup(ns: &str, name: &str) -> (String, Vec<u8>) {
    (
        format!("/registry/podgroups/{ns}/{name}"),
        objects::envelope("scheduling.k8s.io/v1alpha2", "PodGroup", Vec::new()),
    )
}

#[test]
fn every_type_count_lists_works_as_a_type_argument() {
    let c = Cluster::single();
    let (k, v) = podgroup("default", "pg1");
    put_raw(&c, &k, &v);
    let (k, v) = podgroup("batch", "pg2");
    put_raw(&c, &k, &v);
    c.put("/registry/masterleases/10.0.0.1", "x");
    c.put("/registry/podsecuritypolicy/restricted", "{}");
    c.put("/registry/health", "{\"health\":\"true\"}");
    c.put("plainkey", "v");
    let cm = objects::configmap("default", "cm1", 1, 0);
    put_raw(&c, &cm.key, &cm.value);

    let counted = ok(&run(&c, &["count", "-o", "json"]));
    let counted: serde_json::Value = serde_json::from_str(&counted).unwrap();
    let types: Vec<String> = counted["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap().to_string())
        .collect();
    // A type the plugin does not know is named by its stored apiVersion.
    assert!(
        types.contains(&"podgroups.scheduling.k8s.io".to_string()),
        "{types:?}"
    );
    for name in [
        "podgroups",
        "masterleases",
        "podsecuritypolicy",
        "health",
        "plainkey",
    ] {
        assert!(
            types.iter().any(|t| t.split('.').next() == Some(name)),
            "{types:?}"
        );
    }
    for name in &types {
        let counted = ok(&run(&c, &["count", name, "-o", "json"]));
        let v: serde_json::Value = serde_json::from_str(&counted).unwrap();
        assert!(v["total"].as_u64().unwrap() >= 1, "count {name}: {counted}");
        let listed = ok(&run(&c, &["ls", name]));
        assert!(!listed.trim().is_empty(), "ls {name}");
        ok(&run(&c, &["size", name]));
        let o = run(&c, &["search", "--type", name, "x"]);
        assert!(code(&o) <= 1, "search --type {name}: {}", err(&o));
    }
    // Counted by type name: the bare name and the one the stored apiVersion
    // gives, namespace by namespace.
    for name in [
        "podgroups",
        "podgroups.scheduling.k8s.io",
        "podgroups.v1alpha2.scheduling.k8s.io",
    ] {
        let o = ok(&run(&c, &["count", name, "-o", "json"]));
        let v: serde_json::Value = serde_json::from_str(&o).unwrap();
        assert_eq!(v["total"], 2, "count {name}: {o}");
    }
    let o = ok(&run(&c, &["ls", "podgroups", "-n", "batch"]));
    assert!(o.contains("pg2") && !o.contains("pg1"), "{o}");
    assert!(
        o.contains("podgroups.scheduling.k8s.io"),
        "ls names the type as count does: {o}"
    );
    ok(&run(&c, &["get", "podgroups/batch/pg2"]));
    let o = ok(&run(&c, &["custom", "podgroups.scheduling.k8s.io"]));
    assert!(o.contains("pg1") && o.contains("pg2"), "{o}");
    let o = ok(&run(
        &c,
        &[
            "watch",
            "podgroups.scheduling.k8s.io",
            "--rev",
            "1",
            "--count",
            "2",
        ],
    ));
    assert!(o.contains("pg1") && o.contains("pg2"), "{o}");
    let o = ok(&run(&c, &["get", "podgroups/pg1"]));
    assert!(o.contains("PodGroup"), "{o}");
    // The wrong group is not this type.
    let o = run(&c, &["count", "podgroups.example.com"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    // `health` is one key, not the range `/registry/health/`.
    let o = ok(&run(&c, &["ls", "health"]));
    assert!(o.contains("health"), "{o}");
    // An unknown name is still a usage error.
    let o = run(&c, &["count", "nosuchtype"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
}

#[test]
fn cluster_scoped_custom_resource_without_crd_is_found_by_type_and_name() {
    let c = Cluster::single();
    c.put(
        "/registry/awesome.bears.com/pandas/cr4panda",
        r#"{"apiVersion":"awesome.bears.com/v1","kind":"Panda","metadata":{"name":"cr4panda"}}"#,
    );
    let o = ok(&run(&c, &["get", "pandas.awesome.bears.com/cr4panda"]));
    assert!(o.contains("cr4panda"), "{o}");
    // Namespaced ones still default to `default`.
    c.put(
        "/registry/awesome.bears.com/koalas/default/k1",
        r#"{"apiVersion":"awesome.bears.com/v1","kind":"Koala","metadata":{"name":"k1","namespace":"default"}}"#,
    );
    let o = ok(&run(&c, &["get", "koalas.awesome.bears.com/k1"]));
    assert!(o.contains("k1"), "{o}");
}

#[test]
fn count_and_snapshot_inspect_label_keys_outside_the_prefix_alike() {
    let c = Cluster::single();
    c.put("/not-kubernetes/x", "v");
    let o = ok(&run(&c, &["count"]));
    let line = o
        .lines()
        .find(|l| l.starts_with("/not-kubernetes"))
        .unwrap();
    assert!(line.trim_end().ends_with(" other"), "{o}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    ok(&run(&c, &["snapshot", "save", file.to_str().unwrap()]));
    let o = ok(&run(&c, &["snapshot", "inspect", file.to_str().unwrap()]));
    let line = o
        .lines()
        .find(|l| l.starts_with("/not-kubernetes"))
        .unwrap();
    assert!(line.split_whitespace().any(|w| w == "other"), "{o}");
}

/// A user with read permission on `/registry/configmaps/` only.
fn configmap_reader(c: &Cluster) -> String {
    for args in [
        &["user", "add", "cmreader:cmpass", "--interactive=false"][..],
        &["role", "add", "cmread"],
        &[
            "role",
            "grant-permission",
            "cmread",
            "read",
            "--prefix=true",
            "/registry/configmaps/",
        ],
        &["user", "grant-role", "cmreader", "cmread"],
    ] {
        let o = c.ctl().run(args);
        assert_eq!(o.status.code(), Some(0), "etcdctl {args:?}: {}", err_of(&o));
    }
    "cmreader:cmpass".into()
}

#[test]
fn a_user_who_may_read_one_type_lists_it_and_is_told_what_else_is_denied() {
    let c = Cluster::start(ClusterOpts {
        auth: true,
        ..Default::default()
    });
    for i in 0..3 {
        let cm = objects::configmap("default", &format!("cm{i}"), i, 0);
        put_raw(&c, &cm.key, &cm.value);
    }
    let p = objects::pod("default", "p0", 0, 0);
    put_raw(&c, &p.key, &p.value);
    let user = configmap_reader(&c);
    let as_reader = |args: &[&str]| {
        let mut all = vec!["--user", &user];
        all.extend_from_slice(args);
        run(&c, &all)
    };
    let o = ok(&as_reader(&["ls", "configmaps"]));
    assert!(o.contains("cm0") && o.contains("cm2"), "{o}");
    let o = ok(&as_reader(&["count", "configmaps", "-o", "json"]));
    assert!(
        o.contains("\"total\":3") || o.contains("\"total\": 3"),
        "{o}"
    );
    ok(&as_reader(&["get", "configmaps/default/cm1"]));

    // One object outside the permission: said without sending the reader
    // to the root role.
    let o = as_reader(&["get", "pods/default/p0"]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("read permission"), "{}", err(&o));

    // A type the table does not know, readable without the CRDs.
    let (k, v) = podgroup("default", "pg1");
    put_raw(&c, &k, &v);
    let o = c.ctl().run(&[
        "role",
        "grant-permission",
        "cmread",
        "read",
        "--prefix=true",
        "/registry/podgroups/",
    ]);
    assert_eq!(o.status.code(), Some(0), "grant: {}", err_of(&o));
    let o = ok(&as_reader(&["ls", "podgroups.scheduling.k8s.io"]));
    assert!(o.contains("pg1"), "{o}");

    let o = as_reader(&["ls", "pods"]);
    assert_eq!(code(&o), 3, "{}{}", out(&o), err(&o));
    let e = err(&o);
    assert!(e.contains("/registry/pods/"), "names the denied range: {e}");
    assert!(e.contains("read permission"), "{e}");
    assert!(!e.contains("use a user with the root role"), "{e}");
}

/// Regression: a user who may not read the CRDs was told a custom type is
/// `unknown` (exit 2); `count`, `get` and `history` said only "permission
/// denied for this user"; a watch etcd refused printed etcd's raw gRPC
/// status. All are permission errors naming what to grant (exit 3).
#[test]
fn a_user_denied_the_crds_or_a_watch_is_told_it_is_a_permission() {
    let c = Cluster::start(ClusterOpts {
        auth: true,
        ..Default::default()
    });
    for o in [
        objects::widget_crd(),
        objects::widget("default", "w1", 1, 0),
    ] {
        put_raw(&c, &o.key, &o.value);
    }
    let user = configmap_reader(&c);
    let as_reader = |args: &[&str]| {
        let mut all = vec!["--user", &user];
        all.extend_from_slice(args);
        run(&c, &all)
    };
    // The root user finds the type through its CRD.
    let root = c.auth().expect("auth enabled").user_arg();
    assert!(ok(&run(&c, &["--user", &root, "ls", "widgets"])).contains("w1"));

    for args in [
        &["ls", "widgets"][..],
        &["get", "widgets/default/w1"],
        &["count", "widgets"],
        &["custom", "widgets"],
    ] {
        let o = as_reader(args);
        let e = err(&o);
        assert_eq!(code(&o), 3, "{args:?}: {e}");
        assert!(!e.contains("unknown resource type"), "{args:?}: {e}");
        assert!(
            e.contains("permission denied reading keys under /registry/apiextensions.k8s.io/customresourcedefinitions/"),
            "{args:?} names the CRDs: {e}"
        );
        assert!(e.contains("help: ") && e.contains("read permission"), "{e}");
    }

    // Reads of one key or a whole range name it, as `ls` does.
    let p = objects::pod("default", "p0", 0, 0);
    put_raw(&c, &p.key, &p.value);
    for (args, range) in [
        (&["count"][..], "every key"),
        (&["count", "pods"], "keys under /registry/pods/"),
        (&["get", "pods/default/p0"], "`/registry/pods/default/p0`"),
        (
            &["history", "pods/default/p0"],
            "`/registry/pods/default/p0`",
        ),
    ] {
        let o = as_reader(args);
        let e = err(&o);
        assert_eq!(code(&o), 3, "{args:?}: {e}");
        assert!(
            e.contains(&format!("permission denied reading {range}")),
            "{args:?} names {range}: {e}"
        );
    }

    for args in [
        &["watch", "pods", "--timeout", "5s"][..],
        &["top", "--count", "1", "--interval", "1s"],
    ] {
        let o = as_reader(args);
        let e = err(&o);
        assert_eq!(code(&o), 3, "{args:?}: {e}");
        assert!(
            e.contains("permission denied for this watch"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("rpc error"), "{args:?}: {e}");
    }
}

/// Kubernetes' own keyspace table (`test/integration/etcd/data.go`,
/// `GetEtcdStorageData`, the 1.36 development branch): group, version,
/// resource and the key kube-apiserver stores the object under (`NS`: the
/// test's namespace).
const DATA_GO: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "configmaps", "/registry/configmaps/NS/cm1"),
    ("", "v1", "services", "/registry/services/specs/NS/service1"),
    ("", "v1", "podtemplates", "/registry/podtemplates/NS/pt1name"),
    ("", "v1", "pods", "/registry/pods/NS/pod1"),
    ("", "v1", "endpoints", "/registry/services/endpoints/NS/ep1name"),
    ("", "v1", "resourcequotas", "/registry/resourcequotas/NS/rq1name"),
    ("", "v1", "limitranges", "/registry/limitranges/NS/lr1name"),
    ("", "v1", "namespaces", "/registry/namespaces/namespace1"),
    ("", "v1", "nodes", "/registry/minions/node1"),
    ("", "v1", "persistentvolumes", "/registry/persistentvolumes/pv1name"),
    ("", "v1", "events", "/registry/events/NS/event1"),
    ("", "v1", "persistentvolumeclaims", "/registry/persistentvolumeclaims/NS/pvc1"),
    ("", "v1", "serviceaccounts", "/registry/serviceaccounts/NS/sa1name"),
    ("", "v1", "secrets", "/registry/secrets/NS/secret1"),
    ("", "v1", "replicationcontrollers", "/registry/controllers/NS/rc1"),
    ("apps", "v1", "daemonsets", "/registry/daemonsets/NS/ds6"),
    ("apps", "v1", "deployments", "/registry/deployments/NS/deployment4"),
    ("apps", "v1", "statefulsets", "/registry/statefulsets/NS/ss3"),
    ("apps", "v1", "replicasets", "/registry/replicasets/NS/rs3"),
    ("apps", "v1", "controllerrevisions", "/registry/controllerrevisions/NS/crs3"),
    ("autoscaling", "v2", "horizontalpodautoscalers", "/registry/horizontalpodautoscalers/NS/hpa4"),
    ("batch", "v1", "jobs", "/registry/jobs/NS/job1"),
    ("batch", "v1", "cronjobs", "/registry/cronjobs/NS/cjv1"),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "/registry/certificatesigningrequests/csr2"),
    ("certificates.k8s.io", "v1beta1", "clustertrustbundles", "/registry/clustertrustbundles/example.com:signer:abc"),
    ("certificates.k8s.io", "v1beta1", "podcertificaterequests", "/registry/podcertificaterequests/NS/req-1"),
    ("coordination.k8s.io", "v1", "leases", "/registry/leases/NS/leasev1"),
    ("coordination.k8s.io", "v1beta1", "leasecandidates", "/registry/leasecandidates/NS/leasecandidatev1beta1"),
    ("discovery.k8s.io", "v1", "endpointslices", "/registry/endpointslices/NS/slicev1"),
    ("events.k8s.io", "v1", "events", "/registry/events/NS/event3"),
    ("networking.k8s.io", "v1", "ingresses", "/registry/ingress/NS/ingress3"),
    ("networking.k8s.io", "v1", "ingressclasses", "/registry/ingressclasses/ingressclass3"),
    ("networking.k8s.io", "v1", "networkpolicies", "/registry/networkpolicies/NS/np2"),
    ("networking.k8s.io", "v1", "ipaddresses", "/registry/ipaddresses/192.168.2.3"),
    ("networking.k8s.io", "v1", "servicecidrs", "/registry/servicecidrs/range-b2"),
    ("policy", "v1", "poddisruptionbudgets", "/registry/poddisruptionbudgets/NS/pdbv1"),
    ("storagemigration.k8s.io", "v1beta1", "storageversionmigrations", "/registry/storageversionmigrations/test-migration"),
    ("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "/registry/flowschemas/fs-3"),
    ("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "/registry/prioritylevelconfigurations/conf5"),
    ("storage.k8s.io", "v1", "volumeattachments", "/registry/volumeattachments/va3"),
    ("storage.k8s.io", "v1", "volumeattributesclasses", "/registry/volumeattributesclasses/vac3"),
    ("storage.k8s.io", "v1", "storageclasses", "/registry/storageclasses/sc2"),
    ("storage.k8s.io", "v1", "csistoragecapacities", "/registry/csistoragecapacities/NS/csc-12345-3"),
    ("rbac.authorization.k8s.io", "v1", "roles", "/registry/roles/NS/role3"),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "/registry/clusterroles/crole3"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "/registry/rolebindings/NS/roleb3"),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "/registry/clusterrolebindings/croleb3"),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "/registry/validatingwebhookconfigurations/hook2"),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "/registry/mutatingwebhookconfigurations/hook2"),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "/registry/validatingadmissionpolicies/vap1"),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "/registry/validatingadmissionpolicybindings/pb1"),
    ("admissionregistration.k8s.io", "v1beta1", "mutatingadmissionpolicies", "/registry/mutatingadmissionpolicies/map1v1"),
    ("admissionregistration.k8s.io", "v1beta1", "mutatingadmissionpolicybindings", "/registry/mutatingadmissionpolicybindings/mpb1v1"),
    ("scheduling.k8s.io", "v1", "priorityclasses", "/registry/priorityclasses/pc3"),
    ("scheduling.k8s.io", "v1alpha2", "workloads", "/registry/workloads/NS/w1"),
    ("scheduling.k8s.io", "v1alpha2", "podgroups", "/registry/podgroups/NS/pg1"),
    ("apiregistration.k8s.io", "v1", "apiservices", "/registry/apiregistration.k8s.io/apiservices/as2.foo.com"),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "/registry/apiextensions.k8s.io/customresourcedefinitions/openshiftwebconsoleconfigs.webconsole2.operator.openshift.io"),
    ("cr.bar.com", "v1", "foos", "/registry/cr.bar.com/foos/NS/cr1foo"),
    ("custom.fancy.com", "v2", "pants", "/registry/custom.fancy.com/pants/cr2pant"),
    ("awesome.bears.com", "v1", "pandas", "/registry/awesome.bears.com/pandas/cr4panda"),
    ("random.numbers.com", "v1", "integers", "/registry/random.numbers.com/integers/fortytwo"),
    ("node.k8s.io", "v1", "runtimeclasses", "/registry/runtimeclasses/rc3"),
    ("resource.k8s.io", "v1alpha3", "devicetaintrules", "/registry/devicetaintrules/taint2name"),
    ("resource.k8s.io", "v1alpha3", "resourcepoolstatusrequests", "/registry/resourcepoolstatusrequests/rpsr1name"),
    ("resource.k8s.io", "v1", "deviceclasses", "/registry/deviceclasses/class4name"),
    ("resource.k8s.io", "v1", "resourceclaims", "/registry/resourceclaims/NS/claim4name"),
    ("resource.k8s.io", "v1", "resourceclaimtemplates", "/registry/resourceclaimtemplates/NS/claimtemplate4name"),
    ("resource.k8s.io", "v1", "resourceslices", "/registry/resourceslices/node4slice"),
    ("internal.apiserver.k8s.io", "v1alpha1", "storageversions", "/registry/storageversions/sv1.test"),
    ("storage.k8s.io", "v1", "csinodes", "/registry/csinodes/csini2"),
    ("storage.k8s.io", "v1", "csidrivers", "/registry/csidrivers/csid2"),
];

#[test]
fn every_type_of_kubernetes_own_keyspace_table_resolves_as_an_argument() {
    let c = Cluster::single();
    let ns = "etcdstoragepathtestnamespace";
    for (group, version, _, path) in DATA_GO {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        // JSON storage form (custom resources' form; the plugin reads it
        // for any type): only apiVersion matters to naming.
        let value = format!(r#"{{"apiVersion":"{api_version}","kind":"Stored","metadata":{{}}}}"#);
        c.put(&path.replace("NS", ns), &value);
    }
    for (group, _, resource, path) in DATA_GO {
        let name = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let o = run(&c, &["count", &name, "-o", "json"]);
        assert_eq!(code(&o), 0, "count {name}: {}", err(&o));
        let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
        assert!(
            v["total"].as_u64().unwrap() >= 1,
            "count {name}: {}",
            out(&o)
        );
        // TYPE/[NAMESPACE/]NAME finds the key data.go names.
        let object = path.rsplit('/').next().unwrap();
        let reference = if path.contains("/NS/") {
            format!("{name}/{ns}/{object}")
        } else {
            format!("{name}/{object}")
        };
        let o = run(&c, &["get", &reference, "-o", "json"]);
        assert_eq!(code(&o), 0, "get {reference}: {}", err(&o));
    }
}
