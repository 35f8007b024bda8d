//! How the test keyspaces' keys are labelled, by a plain split of the key and
//! a hand-written table of the few types they hold: the expected answers of
//! the analytics commands without the crate's own key parser.

use std::collections::BTreeMap;

use serde_json::Value;

/// Type label (as `count` and `size --by-type` print it), namespace and
/// name of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    pub type_name: String,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

/// Built-in types whose label is not their storage directory, by directory.
const RENAMED: &[(&str, &str)] = &[
    ("deployments", "deployments.apps"),
    ("leases", "leases.coordination.k8s.io"),
    ("minions", "nodes"),
    ("clusterroles", "clusterroles.rbac.authorization.k8s.io"),
];

/// Cluster-scoped types among the test keyspaces' (their names may hold
/// a `/`); records kube-apiserver keeps for itself count as such too.
const CLUSTER_SCOPED: &[&str] = &[
    "namespaces",
    "nodes",
    "clusterroles.rbac.authorization.k8s.io",
    "customresourcedefinitions.apiextensions.k8s.io",
    "masterleases",
];

/// The label of `key` under `/registry/`; keys outside it are labelled by
/// their directory (`/other/app/config` is `/other/app`) or themselves.
pub fn label(key: &str) -> Label<'_> {
    let Some(rest) = key.strip_prefix("/registry/") else {
        return match key.rsplit_once('/') {
            Some((dir, name)) if !dir.is_empty() => Label {
                type_name: dir.to_owned(),
                namespace: None,
                name,
            },
            _ => Label {
                type_name: key.to_owned(),
                namespace: None,
                name: key,
            },
        };
    };
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    // `group/resource/...` (a dot in the first segment), else `resource/...`.
    let (type_name, tail) = if first.contains('.') {
        let (resource, tail) = tail.split_once('/').unwrap_or((tail, ""));
        (format!("{resource}.{first}"), tail)
    } else {
        let label = RENAMED
            .iter()
            .find(|(dir, _)| *dir == first)
            .map_or(first, |(_, label)| label);
        (label.to_string(), tail)
    };
    let cluster = CLUSTER_SCOPED.contains(&type_name.as_str());
    match tail.split_once('/') {
        Some((ns, name)) if !cluster => Label {
            type_name,
            namespace: Some(ns),
            name,
        },
        _ => Label {
            type_name,
            namespace: None,
            name: tail,
        },
    }
}

/// (type, namespace or "") -> number of keys, counted from `keys` with
/// [`label`]; with `namespace`, only the keys in that namespace.
pub fn brute_force_counts<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    namespace: Option<&str>,
) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for k in keys {
        let l = label(k);
        if namespace.is_some_and(|ns| l.namespace != Some(ns)) {
            continue;
        }
        let ns = l.namespace.unwrap_or("").to_string();
        *m.entry((l.type_name, ns)).or_default() += 1;
    }
    m
}

/// (type, namespace or "") -> count of a `count --by-namespace -o json`
/// report.
pub fn reported_counts(report: &Value) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for t in report["types"].as_array().expect("types") {
        let ty = t["type"].as_str().expect("type").to_string();
        for n in t["namespaces"].as_array().expect("namespaces") {
            let ns = n["namespace"].as_str().unwrap_or("").to_string();
            *m.entry((ty.clone(), ns)).or_default() += n["count"].as_u64().expect("count");
        }
    }
    m
}

/// type -> count of a `count -o json` report.
pub fn reported_types(report: &Value) -> BTreeMap<String, u64> {
    report["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            (
                t["type"].as_str().expect("type").to_string(),
                t["count"].as_u64().expect("count"),
            )
        })
        .collect()
}
