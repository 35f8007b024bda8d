//! From what the user typed (`pods/default/web-0`, `deploy`, `widgets`, a
//! raw key or prefix) to the etcd key or key range to read.
//!
//! Built-in types come from the registry crate's table. Custom resource
//! types are found in the same etcd: first from CustomResourceDefinition
//! objects (which know scope and names), then from keys alone.

use registry::resources::{self, ResourceType};

use super::error::{describe_range, Error, Result};
use super::scan::{prefix_end, scan, Page, ScanOptions};
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
    /// Types found as one key `<prefix>/<name>` (`health`), not a range.
    single_keys: Vec<String>,
    /// The first place a type was looked for and this user may not read
    /// (the CRDs, a probed prefix): why an unknown name may be unknown.
    denied: Option<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(client: &'a EtcdClient, prefix: &str) -> Resolver<'a> {
        Resolver {
            client,
            prefix: registry::key::normalize_prefix(prefix).to_string(),
            custom: None,
            single_keys: Vec::new(),
            denied: None,
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
            let read = scan(
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
            .await;
            match read {
                Ok(_) => {}
                // A user allowed only some types' keys may not read the
                // CRDs: go on with the types found from keys alone.
                Err(e) if denied(&e) => {
                    found.clear();
                    self.denied
                        .get_or_insert(describe_range(start.as_bytes(), &end));
                }
                Err(e) => return Err(e),
            }
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
                return Err(Error::AmbiguousType {
                    name: name.to_string(),
                    candidates: names,
                });
            }
            _ => {}
        }
        // No CRD object (restored from a partial backup, say): custom
        // resources still live at <prefix>/<group>/<plural>/, namespaced or
        // not as their keys say.
        if let Some(group) = arg.group.filter(|g| g.contains('.')) {
            let start = format!("{}/{group}/{}/", self.prefix, arg.resource);
            if let Some(first) = self.first_key(&start).await? {
                let namespaced = registry::key::parse(&first.0, &self.prefix)
                    .namespace
                    .is_some();
                return Ok(ResourceType::custom(
                    group,
                    arg.version.unwrap_or(""),
                    "",
                    arg.resource,
                    "",
                    Vec::new(),
                    namespaced,
                ));
            }
        }
        // A type `count` lists that the table does not know: kube-apiserver's
        // own records (`masterleases`), leftovers of removed types
        // (`podsecuritypolicy`) and types newer than the table, which the
        // stored apiVersion names with their group (`podgroups.scheduling.k8s.io`).
        if let Some(t) = self.stored_type(&arg).await? {
            return Ok(t);
        }
        // Not found where this user may not read: that, not an unknown
        // name, is what to say.
        if let Some(range) = self.denied.clone() {
            return Err(Error::TypeLookupDenied {
                name: name.to_string(),
                range,
            });
        }
        // A well-formed `plural.group` may be a custom type with no object
        // stored yet: nothing found (1). Any other unknown name is a usage
        // error (2).
        Err(Error::UnknownType {
            name: name.to_string(),
            plural_group: arg.group.is_some_and(|g| g.contains('.')),
            offline: false,
        })
    }

    /// The first key (and its value) of `[start, end)`, or of the keys
    /// under `start` with no `end`.
    async fn first_key_in(
        &mut self,
        start: &[u8],
        end: Vec<u8>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut kv = self.client.kv();
        let opts = etcd_client::GetOptions::new()
            .with_range(end.clone())
            .with_limit(1);
        let resp = match self.client.call(kv.get(start, Some(opts))).await {
            Ok(resp) => resp,
            // A probe where this user may not read: nothing to find there.
            Err(crate::etcd::Error::PermissionDenied) => {
                self.denied.get_or_insert(describe_range(start, &end));
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(resp
            .kvs()
            .first()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec())))
    }

    async fn first_key(&mut self, start: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.first_key_in(start.as_bytes(), prefix_end(start.as_bytes()))
            .await
    }

    /// The name of a type the table does not know, kept at
    /// `<prefix>/<resource>/`, with the group its stored apiVersion gives
    /// (`podgroups.scheduling.k8s.io`): one value read, only its envelope
    /// decoded. `None` when the value names no group.
    pub async fn stored_name(&mut self, resource: &str) -> Result<Option<String>> {
        let start = format!("{}/{resource}/", self.prefix);
        let Some((_, value)) = self.first_key(&start).await? else {
            return Ok(None);
        };
        Ok(stored_group(&value).map(|group| format!("{resource}.{group}")))
    }

    /// A type with no table entry and no CRD, from what is stored at
    /// `<prefix>/<name>/` (or the single key `<prefix>/<name>`): named by
    /// the stored value's apiVersion and kind when it has them (only the
    /// envelope is read), matched against the group the user gave.
    async fn stored_type(
        &mut self,
        arg: &resources::ResourceArg<'_>,
    ) -> Result<Option<ResourceType>> {
        let name = arg.resource;
        if name.is_empty() || name.contains('/') {
            return Ok(None);
        }
        let start = format!("{}/{name}/", self.prefix);
        let (first, single) = match self.first_key(&start).await? {
            Some(kv) => (kv, false),
            None => {
                let key = format!("{}/{name}", self.prefix);
                match self
                    .first_key_in(key.as_bytes(), key_end(key.as_bytes()))
                    .await?
                {
                    Some(kv) => (kv, true),
                    None => return Ok(None),
                }
            }
        };
        let (group, version, kind) = match registry::value::type_meta(&first.1) {
            Some((api_version, kind)) => {
                let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
                (group.to_string(), version.to_string(), kind)
            }
            None => Default::default(),
        };
        if arg.group.is_some_and(|g| !g.eq_ignore_ascii_case(&group))
            || arg
                .version
                .is_some_and(|v| !v.eq_ignore_ascii_case(&version))
        {
            return Ok(None);
        }
        let namespaced = !single
            && registry::key::parse(&first.0, &self.prefix)
                .namespace
                .is_some();
        if single {
            self.single_keys.push(name.to_string());
        }
        Ok(Some(stored_type(
            group, version, kind, name, single, namespaced,
        )))
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
        let (ns, obj) = match (rest.as_slice(), name) {
            ([ns, n], None) if t.namespaced => (Some(*ns), *n),
            ([n], None) => (namespace, *n),
            ([], Some(n)) => (namespace, n),
            _ => {
                return Err(Error::BadReference {
                    reference: reference.to_string(),
                    offline: false,
                })
            }
        };
        // kubectl's default namespace when none is given.
        let ns = if t.namespaced {
            ns.or(Some("default"))
        } else {
            ns
        };
        let key = registry::key::key_for(&t, ns, obj, &self.prefix)?;
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
                let t = match self.resource_type(name).await {
                    Ok(t) => t,
                    Err(e) => {
                        if let Some(range) = self.foreign_range(name).await? {
                            return Ok(range);
                        }
                        // `pods/default`: a known type with more after it.
                        if let Some((type_name, rest)) = name.split_once('/') {
                            if self.resource_type(type_name).await.is_ok() {
                                return Err(Error::NotARange {
                                    reference: name.to_string(),
                                    type_name: type_name.to_string(),
                                    rest: rest.to_string(),
                                });
                            }
                        }
                        return Err(e);
                    }
                };
                let start = if self.single_keys.contains(&t.storage.to_string()) {
                    format!("{}/{}", self.prefix, t.storage)
                } else {
                    registry::key::prefix_for(&t, namespace, &self.prefix)
                };
                let end = if self.single_keys.contains(&t.storage.to_string()) {
                    key_end(start.as_bytes())
                } else {
                    prefix_end(start.as_bytes())
                };
                let label = match namespace.filter(|_| t.namespaced) {
                    Some(ns) => format!("{} in {ns}", t.qualified_name()),
                    None => t.qualified_name().to_string(),
                };
                Ok(Range {
                    end,
                    start: start.into_bytes(),
                    resource_type: Some(t),
                    label,
                })
            }
        }
    }

    /// A key outside the prefix that `count` lists by its first segment
    /// (`plainkey`, `compact_rev_key`): that key and the keys under
    /// `name/`.
    async fn foreign_range(&mut self, name: &str) -> Result<Option<Range>> {
        if name.is_empty() || name.contains('/') {
            return Ok(None);
        }
        let exact = self
            .first_key_in(name.as_bytes(), key_end(name.as_bytes()))
            .await?
            .is_some();
        let under = format!("{name}/");
        let below = self.first_key(&under).await?.is_some();
        let (start, end) = match (exact, below) {
            (false, false) => return Ok(None),
            (true, false) => (name.as_bytes().to_vec(), key_end(name.as_bytes())),
            (false, true) => (under.clone().into_bytes(), prefix_end(under.as_bytes())),
            (true, true) => (name.as_bytes().to_vec(), prefix_end(under.as_bytes())),
        };
        Ok(Some(Range {
            start,
            end,
            resource_type: None,
            label: name.to_string(),
        }))
    }
}

/// Whether a scan failed because this user may not read the range.
fn denied(e: &Error) -> bool {
    use crate::etcd::Error::PermissionDenied;
    matches!(
        e,
        Error::ReadDenied { .. }
            | Error::Etcd(PermissionDenied)
            | Error::NoQuorumRead(PermissionDenied)
    )
}

/// The API group a stored value's apiVersion names (only the envelope or
/// type meta is decoded); `None` for the core group or no apiVersion.
fn stored_group(value: &[u8]) -> Option<String> {
    let (api_version, _) = registry::value::type_meta(value)?;
    let (group, _) = api_version.rsplit_once('/')?;
    (!group.is_empty()).then(|| group.to_string())
}

/// The type name of a key: as `count` prints it, with the group of the
/// stored apiVersion for types the plugin does not know
/// (`podgroups.scheduling.k8s.io`).
pub fn type_name_of(info: &registry::key::KeyInfo<'_>, value: &[u8]) -> String {
    match (info.kind, stored_group(value)) {
        (registry::key::KeyKind::Unknown, Some(group)) => format!("{}.{group}", info.resource),
        _ => info.type_name().to_string(),
    }
}

/// The end of a range holding exactly `key`.
fn key_end(key: &[u8]) -> Vec<u8> {
    let mut end = key.to_vec();
    end.push(0);
    end
}

/// A type kept at `<prefix>/<name>/` whatever its group (kube-apiserver
/// stores built-in types without it), or at the one key `<prefix>/<name>`.
fn stored_type(
    group: String,
    version: String,
    kind: String,
    name: &str,
    single: bool,
    namespaced: bool,
) -> ResourceType {
    // `single` only matters for scope; the range is the resolver's concern.
    let mut t = ResourceType::custom(group, version, kind, name, "", Vec::new(), namespaced);
    t.storage = name.to_string().into();
    t.namespaced = namespaced && !single;
    t
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
                // A bare name the table does not know: what is stored at
                // `<prefix>/<name>/`, as `count` lists it (`masterleases`,
                // `podgroups`).
                None if !arg.resource.is_empty() && arg.group.is_none() => stored_type(
                    String::new(),
                    String::new(),
                    String::new(),
                    arg.resource,
                    false,
                    rest.len() == 2 || (!object && namespace.is_some()),
                ),
                None => {
                    return Err(Error::UnknownType {
                        name: type_name.to_string(),
                        plural_group: false,
                        offline: true,
                    })
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
            return Err(Error::BadReference {
                reference: reference.to_string(),
                offline: true,
            })
        }
    };
    let key = registry::key::key_for(&t, ns, name, prefix)?;
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
        let (r, _) = offline_range("podgroups", None, "/registry", false).unwrap();
        assert_eq!(r, "/registry/podgroups/");
        let (k, _) = offline_range("podgroups/ns1/pg1", None, "/registry", true).unwrap();
        assert_eq!(k, "/registry/podgroups/ns1/pg1");
        let (k, _) = offline_range("masterleases/10.0.0.1", None, "/registry", true).unwrap();
        assert_eq!(k, "/registry/masterleases/10.0.0.1");
        assert!(offline_range("gizmos.v1", None, "/registry", false).is_err());
    }
}
