//! From what the user typed (`pods/default/web-0`, `deploy`, `widgets`, a
//! raw key or prefix) to the etcd key or key range to read.
//!
//! Built-in types come from the registry crate's table. Custom resource
//! types are found in the same etcd: first from CustomResourceDefinition
//! objects (which know scope and names), then from keys alone.

use registry::resources::{self, ResourceType};

use super::scan::{prefix_end, scan, Page, ScanOptions};
use crate::error::{Error, Kind, Result};
use crate::etcd::{EtcdClient, Readers};

/// A range of keys to read.
#[derive(Debug, Clone)]
pub struct Range {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    /// The type, when the range is one type's objects.
    pub resource_type: Option<ResourceType>,
    /// For messages: what the range is (`pods in default`, `/registry/`).
    pub label: String,
}

/// One object's key.
#[derive(Debug, Clone)]
pub struct ObjectKey {
    pub key: String,
    pub resource_type: Option<ResourceType>,
}

/// Resolves references against one etcd, caching the CRD catalog.
pub struct Resolver<'a> {
    client: &'a EtcdClient,
    prefix: String,
    custom: Option<Vec<ResourceType>>,
}

impl<'a> Resolver<'a> {
    pub fn new(client: &'a EtcdClient, prefix: &str) -> Resolver<'a> {
        Resolver {
            client,
            prefix: registry::key::normalize_prefix(prefix).to_string(),
            custom: None,
        }
    }

    /// Every custom resource type declared by a CRD in this etcd.
    pub async fn crd_types(&mut self) -> Result<&[ResourceType]> {
        if self.custom.is_none() {
            let start = format!(
                "{}/apiextensions.k8s.io/customresourcedefinitions/",
                self.prefix
            );
            let end = prefix_end(start.as_bytes());
            let mut found = Vec::new();
            scan(
                &Readers::single(self.client.clone()),
                &self.prefix,
                start.as_bytes(),
                &end,
                ScanOptions::values(),
                |page| {
                    match page {
                        Page::Restart { .. } => found.clear(),
                        // Only listings resume.
                        Page::Resumed { .. } => {}
                        Page::Keys(kvs) => {
                            for kv in kvs {
                                if let Some(t) = crd_type(kv.value()) {
                                    found.push(t);
                                }
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await?;
            self.custom = Some(found);
        }
        Ok(self.custom.as_deref().unwrap_or_default())
    }

    /// A type by any kubectl name: built-in first, then CRDs, then custom
    /// resource keys with no CRD (`widgets.example.com` style names only).
    pub async fn resource_type(&mut self, name: &str) -> Result<ResourceType> {
        if let Some(t) = resources::resolve(name) {
            return Ok(t.clone());
        }
        let arg = resources::split_resource_arg(name);
        let matches: Vec<ResourceType> = self
            .crd_types()
            .await?
            .iter()
            .filter(|t| t.has_name(arg.resource))
            .filter(|t| arg.group.is_none_or(|g| t.group.eq_ignore_ascii_case(g)))
            .cloned()
            .collect();
        match matches.len() {
            1 => return Ok(matches.into_iter().next().expect("one match")),
            n if n > 1 => {
                let names: Vec<String> = matches
                    .iter()
                    .map(|t| t.qualified_name().to_string())
                    .collect();
                return Err(Error::usage(format!(
                    "`{name}` is ambiguous: it names {}",
                    names.join(", ")
                ))
                .with_hint("qualify it with the group, e.g. `widgets.example.com`"));
            }
            _ => {}
        }
        // No CRD object (restored from a partial backup, say): custom
        // resources still live at <prefix>/<group>/<plural>/.
        if let Some(group) = arg.group.filter(|g| g.contains('.')) {
            let start = format!("{}/{group}/{}/", self.prefix, arg.resource);
            if self.any_key(&start).await? {
                return Ok(ResourceType::custom(
                    group,
                    arg.version.unwrap_or(""),
                    "",
                    arg.resource,
                    "",
                    Vec::new(),
                    true,
                ));
            }
        }
        // A well-formed `plural.group` may be a custom type with no object
        // stored yet: nothing found (1). Any other unknown name is a usage
        // error (2).
        let kind = if arg.group.is_some_and(|g| g.contains('.')) {
            Kind::NotFound
        } else {
            Kind::Usage
        };
        Err(Error::new(kind, format!("unknown resource type `{name}`"))
            .with_hint("`kubectl etcd count` lists the types stored in this etcd"))
    }

    async fn any_key(&self, start: &str) -> Result<bool> {
        let mut kv = self.client.kv();
        let opts = etcd_client::GetOptions::new()
            .with_range(prefix_end(start.as_bytes()))
            .with_count_only();
        let resp = self
            .client
            .call(kv.get(start.as_bytes(), Some(opts)))
            .await?;
        Ok(resp.count() > 0)
    }

    /// The key of one object: a full key (starting with `/`), `TYPE/NAME`,
    /// `TYPE/NS/NAME`, or `TYPE` with the name given apart.
    pub async fn object(
        &mut self,
        reference: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<ObjectKey> {
        if reference.starts_with('/') {
            let parsed = registry::key::parse(reference.as_bytes(), &self.prefix);
            return Ok(ObjectKey {
                key: reference.to_string(),
                resource_type: parsed.resource_type.cloned(),
            });
        }
        let mut parts = reference.splitn(3, '/');
        let type_name = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let t = self.resource_type(type_name).await?;
        let (ns, obj) =
            match (rest.as_slice(), name) {
                ([ns, n], None) if t.namespaced => (Some(*ns), *n),
                ([n], None) => (namespace, *n),
                ([], Some(n)) => (namespace, n),
                _ => return Err(Error::usage(format!(
                    "`{reference}` is not TYPE/NAME, TYPE/NAMESPACE/NAME or a key"
                ))
                .with_hint(
                    "e.g. `pods/kube-system/etcd-0`, `nodes/node-1`, or `pods web-0 -n default`",
                )),
            };
        // kubectl's default namespace when none is given.
        let ns = if t.namespaced {
            ns.or(Some("default"))
        } else {
            ns
        };
        let key = registry::key::key_for(&t, ns, obj, &self.prefix).map_err(|e| {
            Error::usage(e.to_string())
                .with_hint("write TYPE/NAMESPACE/NAME, or TYPE NAME -n NAMESPACE")
        })?;
        Ok(ObjectKey {
            key,
            resource_type: Some(t),
        })
    }

    /// The range to scan: everything under the prefix, a raw key prefix
    /// (starting with `/`), or every object of a type (in one namespace).
    pub async fn range(
        &mut self,
        reference: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Range> {
        match reference {
            None => {
                if let Some(ns) = namespace {
                    // A namespace alone cuts across types: scan the prefix
                    // and let the caller filter.
                    let start = format!("{}/", self.prefix);
                    return Ok(Range {
                        end: prefix_end(start.as_bytes()),
                        start: start.into_bytes(),
                        resource_type: None,
                        label: format!("namespace {ns}"),
                    });
                }
                // Every key in etcd, not only the prefix: what fills a
                // database is often outside it.
                Ok(Range {
                    start: vec![0],
                    end: vec![0],
                    resource_type: None,
                    label: "etcd".into(),
                })
            }
            Some(raw) if raw.starts_with('/') || raw.is_empty() => Ok(Range {
                end: prefix_end(raw.as_bytes()),
                start: raw.as_bytes().to_vec(),
                resource_type: None,
                label: raw.to_string(),
            }),
            Some(name) => {
                let t = self.resource_type(name).await?;
                let start = registry::key::prefix_for(&t, namespace, &self.prefix);
                let label = match namespace.filter(|_| t.namespaced) {
                    Some(ns) => format!("{} in {ns}", t.qualified_name()),
                    None => t.qualified_name().to_string(),
                };
                Ok(Range {
                    end: prefix_end(start.as_bytes()),
                    start: start.into_bytes(),
                    resource_type: Some(t),
                    label,
                })
            }
        }
    }
}

/// A CRD object's storage type, from its decoded spec.
fn crd_type(value: &[u8]) -> Option<ResourceType> {
    let decoded = registry::value::decode(value, &Default::default()).ok()?;
    let obj = decoded.to_value();
    let spec = obj.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let names = spec.get("names")?;
    let plural = names.get("plural")?.as_str()?;
    let version = spec
        .get("versions")
        .and_then(|v| v.as_array())
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(|s| s.as_bool()) == Some(true))
                .or_else(|| vs.first())
        })
        .and_then(|v| v.get("name")?.as_str())
        .unwrap_or("");
    let str_of = |k: &str| {
        names
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let short: Vec<String> = names
        .get("shortNames")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let namespaced = spec.get("scope").and_then(|s| s.as_str()) != Some("Cluster");
    Some(ResourceType::custom(
        group,
        version,
        str_of("kind"),
        plural,
        str_of("singular"),
        short,
        namespaced,
    ))
}

/// A key (`object`) or a range start (otherwise) for a reference, without an
/// etcd to look CRDs up in: built-in types by any kubectl name, custom
/// resources as `plural.group`. Used on snapshots and dead members' files.
pub fn offline_range(
    reference: &str,
    namespace: Option<&str>,
    prefix: &str,
    object: bool,
) -> Result<(String, Option<ResourceType>)> {
    let mut parts = reference.splitn(3, '/');
    let type_name = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let t = match resources::resolve(type_name) {
        Some(t) => t.clone(),
        None => {
            let arg = resources::split_resource_arg(type_name);
            match arg.group.filter(|g| g.contains('.')) {
                Some(group) => ResourceType::custom(
                    group,
                    arg.version.unwrap_or(""),
                    "",
                    arg.resource,
                    "",
                    Vec::new(),
                    rest.len() == 2 || (!object && namespace.is_some()),
                ),
                None => {
                    return Err(Error::new(
                        Kind::Usage,
                        format!("unknown resource type `{type_name}`"),
                    )
                    .with_hint("name custom resources as plural.group, e.g. widgets.example.com"))
                }
            }
        }
    };
    let prefix = registry::key::normalize_prefix(prefix);
    if !object {
        return Ok((registry::key::prefix_for(&t, namespace, prefix), Some(t)));
    }
    let (ns, name) = match rest.as_slice() {
        [ns, n] if t.namespaced => (Some(*ns), *n),
        [n] => (namespace.or(t.namespaced.then_some("default")), *n),
        _ => {
            return Err(Error::usage(format!(
                "`{reference}` is not TYPE/NAME, TYPE/NAMESPACE/NAME or a key"
            )))
        }
    };
    let key = registry::key::key_for(&t, ns, name, prefix).map_err(|e| {
        Error::usage(e.to_string()).with_hint("write TYPE/NAMESPACE/NAME or TYPE/NAME -n NAMESPACE")
    })?;
    Ok((key, Some(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_references_become_keys_and_ranges() {
        let (k, _) = offline_range("pods/kube-system/etcd-0", None, "/registry", true).unwrap();
        assert_eq!(k, "/registry/pods/kube-system/etcd-0");
        let (k, _) = offline_range("deploy/web", Some("prod"), "/registry", true).unwrap();
        assert_eq!(k, "/registry/deployments/prod/web");
        let (k, _) = offline_range("no/node-1", None, "/registry", true).unwrap();
        assert_eq!(k, "/registry/minions/node-1");
        let (k, _) = offline_range("widgets.example.com/a/w1", None, "/registry", true).unwrap();
        assert_eq!(k, "/registry/example.com/widgets/a/w1");
        let (r, _) = offline_range("svc", Some("default"), "/registry", false).unwrap();
        assert_eq!(r, "/registry/services/specs/default/");
        assert!(offline_range("gizmos", None, "/registry", false).is_err());
    }
}
