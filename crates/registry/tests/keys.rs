//! Key parsing and building, and the built-in resource table and resolver.

use registry::key::{
    self, key_for, parse, prefix_for, KeyError, KeyKind, DEFAULT_PREFIX, NON_UTF8,
};
use registry::resources::{self, builtin, resolve, ResourceType};

/// (key, kind, group, resource, namespace, name)
type Expected<'a> = (&'a str, KeyKind, &'a str, &'a str, Option<&'a str>, &'a str);

fn check(prefix: &str, cases: &[Expected<'_>]) {
    for &(key, kind, group, resource, namespace, name) in cases {
        let info = parse(key.as_bytes(), prefix);
        assert_eq!(
            (
                info.kind,
                info.group,
                info.resource,
                info.namespace,
                info.name
            ),
            (kind, group, resource, namespace, name),
            "{key}"
        );
        assert_eq!(info.key, key.as_bytes());
        assert_eq!(
            info.resource_type.is_some(),
            kind == KeyKind::Builtin,
            "{key}"
        );
    }
}

#[test]
fn parses_builtin_keys_including_irregular_storage_paths() {
    use KeyKind::Builtin;
    check(
        DEFAULT_PREFIX,
        &[
            (
                "/registry/pods/default/web-0",
                Builtin,
                "",
                "pods",
                Some("default"),
                "web-0",
            ),
            (
                "/registry/podtemplates/default/t",
                Builtin,
                "",
                "podtemplates",
                Some("default"),
                "t",
            ),
            (
                "/registry/minions/node-1",
                Builtin,
                "",
                "nodes",
                None,
                "node-1",
            ),
            (
                "/registry/services/specs/default/kubernetes",
                Builtin,
                "",
                "services",
                Some("default"),
                "kubernetes",
            ),
            (
                "/registry/services/endpoints/default/kubernetes",
                Builtin,
                "",
                "endpoints",
                Some("default"),
                "kubernetes",
            ),
            (
                "/registry/controllers/ns/rc1",
                Builtin,
                "",
                "replicationcontrollers",
                Some("ns"),
                "rc1",
            ),
            (
                "/registry/ingress/ns/ing",
                Builtin,
                "networking.k8s.io",
                "ingresses",
                Some("ns"),
                "ing",
            ),
            (
                "/registry/namespaces/kube-system",
                Builtin,
                "",
                "namespaces",
                None,
                "kube-system",
            ),
            (
                "/registry/deployments/kube-system/coredns",
                Builtin,
                "apps",
                "deployments",
                Some("kube-system"),
                "coredns",
            ),
            (
                "/registry/clusterroles/system:basic-user",
                Builtin,
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                "system:basic-user",
            ),
            (
                "/registry/leases/kube-node-lease/node-1",
                Builtin,
                "coordination.k8s.io",
                "leases",
                Some("kube-node-lease"),
                "node-1",
            ),
            (
                "/registry/flowschemas/exempt",
                Builtin,
                "flowcontrol.apiserver.k8s.io",
                "flowschemas",
                None,
                "exempt",
            ),
            (
                "/registry/events/default/pod.17a",
                Builtin,
                "",
                "events",
                Some("default"),
                "pod.17a",
            ),
            (
                "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
                Builtin,
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                None,
                "widgets.example.com",
            ),
            (
                "/registry/apiregistration.k8s.io/apiservices/v1.apps",
                Builtin,
                "apiregistration.k8s.io",
                "apiservices",
                None,
                "v1.apps",
            ),
            // Trailing or missing names are kept, not dropped.
            ("/registry/pods/", Builtin, "", "pods", None, ""),
            ("/registry/pods", Builtin, "", "pods", None, ""),
        ],
    );
}

#[test]
fn parses_custom_internal_unknown_and_foreign_keys() {
    use KeyKind::*;
    check(
        DEFAULT_PREFIX,
        &[
            (
                "/registry/example.com/widgets/ns1/w",
                Custom,
                "example.com",
                "widgets",
                Some("ns1"),
                "w",
            ),
            (
                "/registry/cert-manager.io/clusterissuers/le",
                Custom,
                "cert-manager.io",
                "clusterissuers",
                None,
                "le",
            ),
            (
                "/registry/masterleases/10.0.0.1",
                Internal,
                "",
                "masterleases",
                None,
                "10.0.0.1",
            ),
            (
                "/registry/ranges/serviceips",
                Internal,
                "",
                "ranges",
                None,
                "serviceips",
            ),
            (
                "/registry/ranges/servicenodeports",
                Internal,
                "",
                "ranges",
                None,
                "servicenodeports",
            ),
            ("/registry/health", Internal, "", "health", None, ""),
            (
                "/registry/podsecuritypolicy/restricted",
                Unknown,
                "",
                "podsecuritypolicy",
                None,
                "restricted",
            ),
            (
                "/registry/services/other/x",
                Unknown,
                "",
                "services",
                Some("other"),
                "x",
            ),
            (
                "/registry/services/a/b/c",
                Unknown,
                "",
                "services",
                None,
                "a/b/c",
            ),
            (
                "/registry/somefuture/ns/name",
                Unknown,
                "",
                "somefuture",
                Some("ns"),
                "name",
            ),
            (
                "/registry/example.com/widgets",
                Unknown,
                "",
                "example.com",
                None,
                "widgets",
            ),
            ("compact_rev_key", Foreign, "", "compact_rev_key", None, ""),
            ("/foo/bar/baz", Foreign, "", "/foo/bar", None, "baz"),
            ("/foo/bar/baz/qux", Foreign, "", "/foo/bar", None, "baz/qux"),
            ("/foo/bar", Foreign, "", "/foo", None, "bar"),
            ("/foo", Foreign, "", "/foo", None, ""),
            ("a/b/c", Foreign, "", "a/b", None, "c"),
            ("", Foreign, "", "", None, ""),
            ("/", Foreign, "", "/", None, ""),
            ("/registry", Foreign, "", "/registry", None, ""),
            ("/registry/", Foreign, "", "/registry", None, ""),
            ("/registry//x", Foreign, "", "/registry/", None, "x"),
            // Not under /registry: the prefix must be followed by '/'.
            (
                "/registry-foo/pods/ns/p",
                Foreign,
                "",
                "/registry-foo/pods",
                None,
                "ns/p",
            ),
        ],
    );
}

#[test]
fn honours_a_non_default_prefix() {
    use KeyKind::*;
    for prefix in ["/kubernetes.io", "/kubernetes.io/"] {
        check(
            prefix,
            &[
                (
                    "/kubernetes.io/pods/ns/p",
                    Builtin,
                    "",
                    "pods",
                    Some("ns"),
                    "p",
                ),
                ("/kubernetes.io/minions/n", Builtin, "", "nodes", None, "n"),
                (
                    "/kubernetes.io/example.com/widgets/w",
                    Custom,
                    "example.com",
                    "widgets",
                    None,
                    "w",
                ),
                (
                    "/registry/pods/ns/p",
                    Foreign,
                    "",
                    "/registry/pods",
                    None,
                    "ns/p",
                ),
            ],
        );
    }
    check(
        "/registry-foo",
        &[(
            "/registry-foo/pods/ns/p",
            Builtin,
            "",
            "pods",
            Some("ns"),
            "p",
        )],
    );
    check(
        "/registry",
        &[(
            "/registry-foo/pods/ns/p",
            Foreign,
            "",
            "/registry-foo/pods",
            None,
            "ns/p",
        )],
    );
}

#[test]
fn non_utf8_keys_do_not_panic_and_are_still_counted() {
    let cases: [(&[u8], &str, &str); 5] = [
        (b"/registry/secrets/ns/\xff", "/registry/secrets", ""),
        (b"/\xff\xfe/x/y", NON_UTF8, "y"),
        (b"\xc3", NON_UTF8, ""),
        (b"/registry/\xe2\x82/a", NON_UTF8, "a"),
        (b"plain/\x80", "plain", ""),
    ];
    for (key, resource, name) in cases {
        let info = parse(key, DEFAULT_PREFIX);
        assert_eq!(info.kind, KeyKind::Foreign, "{key:?}");
        assert_eq!((info.resource, info.name), (resource, name), "{key:?}");
    }
    // Multi-byte UTF-8 is fine everywhere.
    let info = parse("/registry/configmaps/ns/ünïcödé".as_bytes(), DEFAULT_PREFIX);
    assert_eq!(info.name, "ünïcödé");
    let info = parse("/ü/ö/ä".as_bytes(), DEFAULT_PREFIX);
    assert_eq!((info.resource, info.name), ("/ü/ö", "ä"));
}

#[test]
fn garbage_keys_never_panic() {
    let mut keys: Vec<Vec<u8>> = vec![
        b"////".to_vec(),
        b"/registry////".to_vec(),
        b"/registry/services/".to_vec(),
        b"/registry/services/specs".to_vec(),
        b"/registry/a.b/c/d/e/f/g".to_vec(),
        b"/registry/./././.".to_vec(),
        vec![0; 64],
        (0..=255).collect(),
    ];
    let full = b"/registry/apiextensions.k8s.io/customresourcedefinitions/x.y.z";
    keys.extend((0..full.len()).map(|n| full[..n].to_vec()));
    for key in &keys {
        for prefix in ["/registry", "", "/", "/registry/", "x"] {
            let info = parse(key, prefix);
            // the type is made of the key's own segments (escaping control
            // characters is the output layer's job, see src/output/text.rs)
            let name = info.type_name().to_string();
            let key_text = String::from_utf8_lossy(key);
            for segment in name.split('.').filter(|s| !s.is_empty()) {
                assert!(key_text.contains(segment), "{name:?} from {key:?}");
            }
        }
    }
}

#[test]
fn type_names_group_keys_for_counting() {
    let name = |k: &str| parse(k.as_bytes(), DEFAULT_PREFIX).type_name().to_string();
    assert_eq!(name("/registry/pods/a/b"), "pods");
    assert_eq!(name("/registry/deployments/a/b"), "deployments.apps");
    assert_eq!(
        name("/registry/example.com/widgets/a/b"),
        "widgets.example.com"
    );
    assert_eq!(name("/foo/bar/baz"), "/foo/bar");
    assert!(parse(b"/registry/pods/a/b", DEFAULT_PREFIX).is_object());
    assert!(!parse(b"/registry/ranges/serviceips", DEFAULT_PREFIX).is_object());
}

#[test]
fn builds_keys_and_scan_prefixes() {
    let pods = resolve("pods").unwrap();
    let nodes = resolve("nodes").unwrap();
    let svc = resolve("svc").unwrap();
    let ep = resolve("ep").unwrap();
    assert_eq!(
        key_for(pods, Some("default"), "web", DEFAULT_PREFIX).unwrap(),
        "/registry/pods/default/web"
    );
    assert_eq!(
        key_for(nodes, None, "n1", "/registry/").unwrap(),
        "/registry/minions/n1"
    );
    // kubectl ignores -n for cluster-scoped types
    assert_eq!(
        key_for(nodes, Some("default"), "n1", DEFAULT_PREFIX).unwrap(),
        "/registry/minions/n1"
    );
    assert_eq!(
        key_for(svc, Some("default"), "kubernetes", "/kubernetes.io").unwrap(),
        "/kubernetes.io/services/specs/default/kubernetes"
    );
    assert_eq!(
        key_for(pods, None, "web", DEFAULT_PREFIX),
        Err(KeyError::NamespaceRequired {
            resource: "pods".into()
        })
    );
    assert!(key_for(pods, Some("default"), "a/b", DEFAULT_PREFIX).is_err());
    assert!(key_for(pods, Some(""), "a", DEFAULT_PREFIX).is_err());
    assert!(key_for(nodes, None, "", DEFAULT_PREFIX).is_err());
    let message = key_for(pods, None, "web", DEFAULT_PREFIX)
        .unwrap_err()
        .to_string();
    assert!(message.contains("pods/<namespace>/<name>"), "{message}");

    assert_eq!(prefix_for(pods, None, DEFAULT_PREFIX), "/registry/pods/");
    assert_eq!(
        prefix_for(pods, Some("kube-system"), DEFAULT_PREFIX),
        "/registry/pods/kube-system/"
    );
    assert_eq!(
        prefix_for(nodes, Some("ignored"), DEFAULT_PREFIX),
        "/registry/minions/"
    );
    assert_eq!(
        prefix_for(svc, None, DEFAULT_PREFIX),
        "/registry/services/specs/"
    );
    assert_eq!(
        prefix_for(ep, None, DEFAULT_PREFIX),
        "/registry/services/endpoints/"
    );
    assert!(!"/registry/podtemplates/ns/t".starts_with(&prefix_for(pods, None, DEFAULT_PREFIX)));

    let crd = ResourceType::custom(
        "example.com",
        "v1",
        "Widget",
        "widgets",
        "widget",
        vec!["wd".into()],
        true,
    );
    assert_eq!(
        key_for(&crd, Some("ns"), "w", DEFAULT_PREFIX).unwrap(),
        "/registry/example.com/widgets/ns/w"
    );
    assert_eq!(
        prefix_for(&crd, None, DEFAULT_PREFIX),
        "/registry/example.com/widgets/"
    );
}

#[test]
fn every_builtin_key_round_trips_through_parse() {
    for t in builtin() {
        let namespace = t.namespaced.then_some("ns-1");
        let key = key_for(t, namespace, "obj.name-1", DEFAULT_PREFIX).unwrap();
        let info = parse(key.as_bytes(), DEFAULT_PREFIX);
        assert_eq!(info.kind, KeyKind::Builtin, "{key}");
        let parsed = info.resource_type.unwrap();
        // core and events.k8s.io events share a path; parse reports core.
        assert_eq!(parsed.storage, t.storage, "{key}");
        assert_eq!(
            (info.namespace, info.name),
            (namespace, "obj.name-1"),
            "{key}"
        );
        assert!(key.starts_with(&prefix_for(t, namespace, DEFAULT_PREFIX)));
        for other in builtin().iter().filter(|o| o.storage != t.storage) {
            assert!(
                !key.starts_with(&prefix_for(other, None, DEFAULT_PREFIX)),
                "{key} is inside the scan prefix of {}",
                other.plural
            );
        }
    }
}

#[test]
fn custom_resource_keys_round_trip() {
    let crd = ResourceType::custom(
        "stable.example.com",
        "v1",
        "CronTab",
        "crontabs",
        "crontab",
        vec!["ct".into()],
        true,
    );
    let key = key_for(&crd, Some("ns"), "c", "/registry").unwrap();
    let info = parse(key.as_bytes(), key::DEFAULT_PREFIX);
    assert_eq!(info.kind, KeyKind::Custom);
    assert_eq!(
        (info.group, info.resource, info.namespace, info.name),
        ("stable.example.com", "crontabs", Some("ns"), "c")
    );
    assert!(!crd.builtin);
    assert!(crd.has_name("ct") && crd.has_name("CronTab") && crd.has_name("crontab"));
    assert_eq!(crd.api_version(), "stable.example.com/v1");
}

#[test]
fn resolves_like_kubectl() {
    let plural = |name: &str| resolve(name).map(|t| (t.group.to_string(), t.plural.to_string()));
    let core = |p: &str| Some((String::new(), p.to_string()));
    let grouped = |g: &str, p: &str| Some((g.to_string(), p.to_string()));
    for name in ["po", "pods", "pod", "Pod", "PODS", "pods.v1", " pods "] {
        assert_eq!(plural(name), core("pods"), "{name}");
    }
    for name in [
        "deploy",
        "deployments",
        "deployment",
        "Deployment",
        "deployments.apps",
        "deploy.apps",
        "deployments.v1.apps",
        "Deployment.apps",
    ] {
        assert_eq!(plural(name), grouped("apps", "deployments"), "{name}");
    }
    let shorts = [
        ("svc", "services"),
        ("ns", "namespaces"),
        ("no", "nodes"),
        ("cm", "configmaps"),
        ("pv", "persistentvolumes"),
        ("pvc", "persistentvolumeclaims"),
        ("sa", "serviceaccounts"),
        ("ep", "endpoints"),
        ("ev", "events"),
        ("quota", "resourcequotas"),
        ("limits", "limitranges"),
        ("rc", "replicationcontrollers"),
    ];
    for (short, full) in shorts {
        assert_eq!(plural(short), core(full), "{short}");
    }
    let grouped_shorts = [
        ("ds", "apps", "daemonsets"),
        ("rs", "apps", "replicasets"),
        ("sts", "apps", "statefulsets"),
        ("ing", "networking.k8s.io", "ingresses"),
        ("hpa", "autoscaling", "horizontalpodautoscalers"),
        ("pdb", "policy", "poddisruptionbudgets"),
        ("crd", "apiextensions.k8s.io", "customresourcedefinitions"),
        ("cj", "batch", "cronjobs"),
        ("csr", "certificates.k8s.io", "certificatesigningrequests"),
        ("netpol", "networking.k8s.io", "networkpolicies"),
        ("pc", "scheduling.k8s.io", "priorityclasses"),
        ("sc", "storage.k8s.io", "storageclasses"),
    ];
    for (short, group, full) in grouped_shorts {
        assert_eq!(plural(short), grouped(group, full), "{short}");
    }
    assert_eq!(
        plural("events.events.k8s.io"),
        grouped("events.k8s.io", "events")
    );
    assert_eq!(
        plural("events.v1.events.k8s.io"),
        grouped("events.k8s.io", "events")
    );
    assert_eq!(
        plural("ingresses.v1.networking.k8s.io"),
        grouped("networking.k8s.io", "ingresses")
    );
    assert_eq!(
        plural("clusterroles.rbac.authorization.k8s.io"),
        grouped("rbac.authorization.k8s.io", "clusterroles")
    );
    assert_eq!(plural("leases"), grouped("coordination.k8s.io", "leases"));
    assert_eq!(
        plural("flowschemas"),
        grouped("flowcontrol.apiserver.k8s.io", "flowschemas")
    );
    assert_eq!(
        plural("apiservices"),
        grouped("apiregistration.k8s.io", "apiservices")
    );
    for unknown in [
        "",
        "widgets",
        "widgets.example.com",
        "deployments.batch",
        "pods.apps",
        "po.v1.apps",
        ".",
        "..",
        "minions",
    ] {
        assert_eq!(plural(unknown), None, "{unknown}");
    }
}

#[test]
fn the_table_covers_the_storage_layout() {
    let storage = |plural: &str, group: &str| {
        builtin()
            .iter()
            .find(|t| t.plural == plural && t.group == group)
            .map(|t| t.storage.to_string())
    };
    assert_eq!(storage("nodes", "").as_deref(), Some("minions"));
    assert_eq!(storage("services", "").as_deref(), Some("services/specs"));
    assert_eq!(
        storage("endpoints", "").as_deref(),
        Some("services/endpoints")
    );
    assert_eq!(
        storage("replicationcontrollers", "").as_deref(),
        Some("controllers")
    );
    assert_eq!(
        storage("ingresses", "networking.k8s.io").as_deref(),
        Some("ingress")
    );
    assert_eq!(
        storage("events", "events.k8s.io").as_deref(),
        Some("events")
    );
    assert_eq!(
        storage("customresourcedefinitions", "apiextensions.k8s.io").as_deref(),
        Some("apiextensions.k8s.io/customresourcedefinitions")
    );
    assert_eq!(
        storage("apiservices", "apiregistration.k8s.io").as_deref(),
        Some("apiregistration.k8s.io/apiservices")
    );
    assert!(builtin().len() >= 60);
    let namespaced = |p: &str| resolve(p).unwrap().namespaced;
    assert!(
        namespaced("pods")
            && namespaced("leases")
            && namespaced("roles")
            && namespaced("endpointslices")
    );
    assert!(
        !namespaced("nodes")
            && !namespaced("pv")
            && !namespaced("clusterroles")
            && !namespaced("crd")
    );
    assert_eq!(resolve("hpa").unwrap().api_version(), "autoscaling/v2");
    assert_eq!(resolve("po").unwrap().api_version(), "v1");
    assert_eq!(
        resolve("deploy").unwrap().qualified_name().to_string(),
        "deployments.apps"
    );
    assert!(resources::builtin().len() > 50);
}

#[test]
fn splits_resource_arguments_for_custom_lookups() {
    use resources::{split_resource_arg, ResourceArg};
    let arg = |resource, version, group| ResourceArg {
        resource,
        version,
        group,
    };
    assert_eq!(split_resource_arg("widgets"), arg("widgets", None, None));
    assert_eq!(
        split_resource_arg("widgets.example.com"),
        arg("widgets", None, Some("example.com"))
    );
    assert_eq!(
        split_resource_arg("widgets.v1beta1.example.com"),
        arg("widgets", Some("v1beta1"), Some("example.com"))
    );
    assert_eq!(
        split_resource_arg("pods.v1"),
        arg("pods", Some("v1"), Some(""))
    );
    assert_eq!(
        split_resource_arg("x.v1x.io"),
        arg("x", None, Some("v1x.io"))
    );
    assert_eq!(
        resolve("workloads").map(|t| &*t.group),
        Some("scheduling.k8s.io")
    );
}
