//! Real Kubernetes objects in their etcd storage form, built from k8s-pb's
//! prost types: `k8s\0` + runtime.Unknown{typeMeta, raw} for built-in types,
//! plain JSON for custom resources, the way kube-apiserver writes them.
//!
//! Shared by the seeding tool (`examples/seed.rs`) and the tests, so that
//! benchmarks and tests see the same shapes of data.
#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;

/// One key and its stored value.
pub struct Object {
    pub key: String,
    pub value: Vec<u8>,
    /// The kubectl resource name (`pods`, `deployments.apps`, `widgets.example.com`).
    pub resource: &'static str,
    pub namespace: Option<String>,
    pub name: String,
}

/// Wrap a protobuf-encoded object the way kube-apiserver stores it.
pub fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = b"k8s\0".to_vec();
    unknown.encode(&mut out).expect("encode into a Vec");
    out
}

const EPOCH: i64 = 1_700_000_000;

fn time(i: u64) -> meta::Time {
    meta::Time {
        seconds: Some(EPOCH + i as i64),
        nanos: Some(0),
    }
}

fn object_meta(name: &str, namespace: Option<&str>, i: u64, pad: usize) -> meta::ObjectMeta {
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), format!("app-{}", i % 50));
    labels.insert(
        "tier".to_string(),
        ["web", "api", "db"][(i % 3) as usize].to_string(),
    );
    let mut annotations = BTreeMap::new();
    if pad > 0 {
        // Stands in for last-applied-configuration and friends, which is
        // what makes real objects big.
        annotations.insert(
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "x".repeat(pad),
        );
    }
    meta::ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        uid: Some(format!("{:08x}-0000-4000-8000-{:012x}", i as u32, i)),
        generation: Some(1 + (i % 7) as i64),
        creation_timestamp: Some(time(i)),
        labels,
        annotations,
        managed_fields: vec![meta::ManagedFieldsEntry {
            manager: Some("kube-controller-manager".into()),
            operation: Some("Update".into()),
            api_version: Some("v1".into()),
            time: Some(time(i)),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(meta::FieldsV1 {
                raw: Some(br#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#.to_vec()),
            }),
            subresource: None,
        }],
        ..Default::default()
    }
}

fn container(i: u64) -> core::Container {
    core::Container {
        name: Some("main".into()),
        image: Some(format!(
            "registry.example.com/team/app-{}:v{}",
            i % 50,
            1 + i % 9
        )),
        args: vec!["--port=8080".into(), "--log-level=info".into()],
        env: (0..4)
            .map(|e| core::EnvVar {
                name: Some(format!("VAR_{e}")),
                value: Some(format!("value-{i}-{e}")),
                value_from: None,
            })
            .collect(),
        ..Default::default()
    }
}

pub fn pod(ns: &str, name: &str, i: u64, pad: usize) -> Object {
    let pod = core::Pod {
        metadata: Some(object_meta(name, Some(ns), i, pad)),
        spec: Some(core::PodSpec {
            containers: vec![container(i)],
            node_name: Some(format!("node-{}", i % 10)),
            restart_policy: Some("Always".into()),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(format!(
                "10.{}.{}.{}",
                i % 250,
                (i / 250) % 250,
                i % 200 + 1
            )),
            ..Default::default()
        }),
    };
    built("pods", "v1", "Pod", Some(ns), name, pod.encode_to_vec())
}

pub fn configmap(ns: &str, name: &str, i: u64, pad: usize) -> Object {
    let mut data = BTreeMap::new();
    data.insert(
        "config.yaml".to_string(),
        format!("setting: {i}\n{}", "y".repeat(pad)),
    );
    let cm = core::ConfigMap {
        metadata: Some(object_meta(name, Some(ns), i, 0)),
        data,
        ..Default::default()
    };
    built(
        "configmaps",
        "v1",
        "ConfigMap",
        Some(ns),
        name,
        cm.encode_to_vec(),
    )
}

/// A Secret whose `password` is `s3cr3t-<i>`: tests check it is redacted.
pub fn secret(ns: &str, name: &str, i: u64, pad: usize) -> Object {
    let mut data = BTreeMap::new();
    data.insert("password".to_string(), format!("s3cr3t-{i}").into_bytes());
    if pad > 0 {
        data.insert("blob".to_string(), vec![b'z'; pad]);
    }
    let s = core::Secret {
        metadata: Some(object_meta(name, Some(ns), i, 0)),
        data,
        r#type: Some("Opaque".into()),
        ..Default::default()
    };
    built("secrets", "v1", "Secret", Some(ns), name, s.encode_to_vec())
}

pub fn event(ns: &str, name: &str, i: u64, pad: usize) -> Object {
    let e = core::Event {
        metadata: Some(object_meta(name, Some(ns), i, 0)),
        involved_object: Some(core::ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some(ns.into()),
            name: Some(format!("pod-{i}")),
            ..Default::default()
        }),
        reason: Some("BackOff".into()),
        message: Some(format!(
            "Back-off restarting failed container {}",
            "m".repeat(pad)
        )),
        count: Some(1 + (i % 20) as i32),
        r#type: Some("Warning".into()),
        first_timestamp: Some(time(i)),
        last_timestamp: Some(time(i + 60)),
        ..Default::default()
    };
    built("events", "v1", "Event", Some(ns), name, e.encode_to_vec())
}

pub fn deployment(ns: &str, name: &str, i: u64, replicas: i32, pad: usize) -> Object {
    let mut match_labels = BTreeMap::new();
    match_labels.insert("app".to_string(), format!("app-{}", i % 50));
    let d = apps::Deployment {
        metadata: Some(object_meta(name, Some(ns), i, pad)),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(replicas),
            selector: Some(meta::LabelSelector {
                match_labels: match_labels.clone(),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: match_labels,
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![container(i)],
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            replicas: Some(replicas),
            ready_replicas: Some(replicas),
            ..Default::default()
        }),
    };
    built(
        "deployments.apps",
        "apps/v1",
        "Deployment",
        Some(ns),
        name,
        d.encode_to_vec(),
    )
}

pub fn lease(ns: &str, name: &str, i: u64) -> Object {
    let l = coordination::Lease {
        metadata: Some(object_meta(name, Some(ns), i, 0)),
        spec: Some(coordination::LeaseSpec {
            holder_identity: Some(format!("node-{}", i % 10)),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(EPOCH + i as i64),
                nanos: Some(123_456_000),
            }),
            ..Default::default()
        }),
    };
    built(
        "leases.coordination.k8s.io",
        "coordination.k8s.io/v1",
        "Lease",
        Some(ns),
        name,
        l.encode_to_vec(),
    )
}

pub fn namespace(name: &str, i: u64) -> Object {
    let n = core::Namespace {
        metadata: Some(object_meta(name, None, i, 0)),
        spec: Some(core::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(core::NamespaceStatus {
            phase: Some("Active".into()),
            conditions: vec![],
        }),
    };
    built(
        "namespaces",
        "v1",
        "Namespace",
        None,
        name,
        n.encode_to_vec(),
    )
}

/// A custom resource: stored as JSON, like every CR.
pub fn widget(ns: &str, name: &str, i: u64, pad: usize) -> Object {
    let value = serde_json::json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": format!("{:08x}-1111-4000-8000-{:012x}", i as u32, i),
            "generation": 1,
            "creationTimestamp": "2023-11-14T22:13:20Z",
        },
        "spec": { "size": i % 10, "color": "blue", "notes": "n".repeat(pad) },
    });
    Object {
        key: format!("/registry/example.com/widgets/{ns}/{name}"),
        value: serde_json::to_vec(&value).unwrap(),
        resource: "widgets.example.com",
        namespace: Some(ns.to_string()),
        name: name.to_string(),
    }
}

/// The CRD that declares `widgets.example.com` (namespaced), stored as
/// protobuf like every built-in object.
pub fn widget_crd() -> Object {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let name = "widgets.example.com";
    let crd = ext::CustomResourceDefinition {
        metadata: Some(object_meta(name, None, 0, 0)),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: Some("example.com".into()),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: Some("widgets".into()),
                singular: Some("widget".into()),
                kind: Some("Widget".into()),
                list_kind: Some("WidgetList".into()),
                short_names: vec!["wg".into()],
                categories: vec![],
            }),
            scope: Some("Namespaced".into()),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: Some("v1".into()),
                served: Some(true),
                storage: Some(true),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let raw = crd.encode_to_vec();
    Object {
        key: format!("/registry/apiextensions.k8s.io/customresourcedefinitions/{name}"),
        value: envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", raw),
        resource: "customresourcedefinitions.apiextensions.k8s.io",
        namespace: None,
        name: name.to_string(),
    }
}

fn built(
    resource: &'static str,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    raw: Vec<u8>,
) -> Object {
    // Most built-in types are stored under their plural with no group.
    let storage = resource.split('.').next().unwrap();
    let key = match ns {
        Some(ns) => format!("/registry/{storage}/{ns}/{name}"),
        None => format!("/registry/{storage}/{name}"),
    };
    Object {
        key,
        value: envelope(api_version, kind, raw),
        resource,
        namespace: ns.map(str::to_string),
        name: name.to_string(),
    }
}

/// The `i`-th object of a realistic mix (events and pods dominate, as in
/// real clusters), spread over `namespaces` namespaces. `pad` bytes of
/// filler make values the size asked for.
pub fn mixed(i: u64, namespaces: u64, pad: usize) -> Object {
    let ns = format!("ns-{}", i % namespaces.max(1));
    match i % 20 {
        0..=5 => pod(&ns, &format!("pod-{i}"), i, pad),
        6..=10 => event(&ns, &format!("event-{i}"), i, pad),
        11 | 12 => configmap(&ns, &format!("cm-{i}"), i, pad),
        13 | 14 => secret(&ns, &format!("secret-{i}"), i, pad),
        15 | 16 => deployment(&ns, &format!("deploy-{i}"), i, (i % 5) as i32, pad),
        17 => lease(&ns, &format!("lease-{i}"), i),
        _ => widget(&ns, &format!("widget-{i}"), i, pad),
    }
}
