//! Leased keys as Kubernetes sees them: per lease, how many keys of each
//! type (`events: 1,204`); for one lease, its keys as objects. Pure: keys
//! in, rows out; the etcd calls are in [`crate::etcd::lease`].

use std::collections::BTreeMap;

use serde::Serialize;

/// Keys of one type attached to a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeCount {
    #[serde(rename = "type")]
    pub type_name: String,
    pub keys: u64,
}

/// Count `keys` per type, most keys first (then by type name). Holds one
/// counter per type, whatever the number of keys.
pub fn type_counts(keys: &[Vec<u8>], prefix: &str) -> Vec<TypeCount> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for key in keys {
        let info = registry::key::parse(key, prefix);
        *counts.entry(info.type_name().to_string()).or_default() += 1;
    }
    let mut out: Vec<TypeCount> = counts
        .into_iter()
        .map(|(type_name, keys)| TypeCount { type_name, keys })
        .collect();
    out.sort_by(|a, b| {
        b.keys
            .cmp(&a.keys)
            .then_with(|| a.type_name.cmp(&b.type_name))
    });
    out
}

/// `events: 1,204, pods: 3`.
pub fn describe(types: &[TypeCount]) -> String {
    types
        .iter()
        .map(|t| format!("{}: {}", t.type_name, thousands(t.keys)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One key attached to a lease, as an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeasedKey {
    #[serde(rename = "type")]
    pub type_name: String,
    pub namespace: Option<String>,
    pub name: String,
    pub key: String,
}

/// The keys as objects, sorted by type, namespace and name.
pub fn objects(keys: &[Vec<u8>], prefix: &str) -> Vec<LeasedKey> {
    let mut out: Vec<LeasedKey> = keys
        .iter()
        .map(|key| {
            let info = registry::key::parse(key, prefix);
            LeasedKey {
                type_name: info.type_name().to_string(),
                namespace: info.namespace.map(str::to_string),
                name: info.name.to_string(),
                key: String::from_utf8_lossy(key).into_owned(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.type_name, &a.namespace, &a.name).cmp(&(&b.type_name, &b.namespace, &b.name))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    #[test]
    fn keys_are_counted_per_type_most_first() {
        let k = keys(&[
            "/registry/events/default/e1",
            "/registry/events/default/e2",
            "/registry/leases/kube-node-lease/n1",
            "/registry/example.com/widgets/default/w1",
            "/registry/events/kube-system/e3",
        ]);
        let t = type_counts(&k, "/registry");
        assert_eq!(
            describe(&t),
            "events: 3, leases.coordination.k8s.io: 1, widgets.example.com: 1"
        );
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn leased_keys_read_as_objects() {
        let o = objects(
            &keys(&["/registry/events/ns1/b", "/registry/events/ns1/a"]),
            "/registry",
        );
        assert_eq!(o[0].name, "a");
        assert_eq!(o[0].namespace.as_deref(), Some("ns1"));
        assert_eq!(o[1].type_name, "events");
    }
}
