//! The resource types kube-apiserver stores in etcd, and the kubectl-style
//! name resolver over them.
//!
//! This module owns the table of built-in Kubernetes resources (as of
//! Kubernetes 1.35): their group, storage version, kind, names and, most
//! importantly, the path segment(s) under the etcd prefix where
//! kube-apiserver keeps them. That segment is usually the lowercase plural,
//! but a few resources kept their pre-1.0 names
//! (`SpecialDefaultResourcePrefixes` in kube-apiserver's
//! `pkg/kubeapiserver/default_storage_factory_builder.go`): nodes live under
//! `minions`, services under `services/specs`, endpoints under
//! `services/endpoints`, replication controllers under `controllers` and
//! ingresses under `ingress`. The apiextensions and aggregator servers add
//! the group to the path (`apiextensions.k8s.io/customresourcedefinitions`,
//! `apiregistration.k8s.io/apiservices`), as do all custom resources.
//!
//! Custom resource types, found at run time, use the same [`ResourceType`]
//! with `builtin: false` and owned strings (see [`ResourceType::custom`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

/// A Kubernetes resource type as it is stored in etcd.
///
/// Built-in types borrow `'static` strings from the table in [`builtin`];
/// custom resource types own theirs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// API group, empty for the core group (`""`, `"apps"`, `"networking.k8s.io"`).
    pub group: Cow<'static, str>,
    /// The version kube-apiserver encodes objects with in etcd (`"v1"`, `"v2"`).
    pub version: Cow<'static, str>,
    /// Kind, as in the object's `kind` field (`"Deployment"`).
    pub kind: Cow<'static, str>,
    /// Lowercase plural resource name, as kubectl shows it (`"deployments"`).
    pub plural: Cow<'static, str>,
    /// Lowercase singular name (`"deployment"`).
    pub singular: Cow<'static, str>,
    /// kubectl short names (`["deploy"]`).
    pub short_names: Cow<'static, [Cow<'static, str>]>,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Path under the etcd prefix, without leading or trailing `/`. One
    /// segment for most types (`"deployments"`), two for a few
    /// (`"services/specs"`, `"apiextensions.k8s.io/customresourcedefinitions"`,
    /// and `"<group>/<plural>"` for every custom resource).
    pub storage: Cow<'static, str>,
    /// True for types compiled into kube-apiserver, false for custom resources.
    pub builtin: bool,
}

impl ResourceType {
    /// A custom resource type, as declared by a CustomResourceDefinition.
    ///
    /// kube-apiserver stores custom resources under `<prefix>/<group>/<plural>/`,
    /// so `storage` is derived here rather than passed in.
    pub fn custom(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
        plural: impl Into<String>,
        singular: impl Into<String>,
        short_names: Vec<String>,
        namespaced: bool,
    ) -> Self {
        let group = group.into();
        let plural = plural.into();
        let storage = format!("{group}/{plural}");
        ResourceType {
            group: Cow::Owned(group),
            version: Cow::Owned(version.into()),
            kind: Cow::Owned(kind.into()),
            plural: Cow::Owned(plural),
            singular: Cow::Owned(singular.into()),
            short_names: Cow::Owned(short_names.into_iter().map(Cow::Owned).collect()),
            namespaced,
            storage: Cow::Owned(storage),
            builtin: false,
        }
    }

    /// The `apiVersion` of stored objects: `"v1"` for the core group,
    /// `"<group>/<version>"` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether `name` is one of this type's names, the way kubectl matches a
    /// bare resource argument: plural, singular, short name or kind,
    /// ignoring ASCII case.
    pub fn has_name(&self, name: &str) -> bool {
        !name.is_empty()
            && (self.plural.eq_ignore_ascii_case(name)
                || self.singular.eq_ignore_ascii_case(name)
                || self.kind.eq_ignore_ascii_case(name)
                || self
                    .short_names
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(name)))
    }

    /// The name kubectl prints for the type: `pods`, `deployments.apps`.
    pub fn qualified_name(&self) -> QualifiedName<'_> {
        QualifiedName {
            group: &self.group,
            resource: &self.plural,
        }
    }
}

/// A `resource[.group]` name that formats without allocating; see
/// [`ResourceType::qualified_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName<'a> {
    /// API group, empty for core.
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
}

impl fmt::Display for QualifiedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

macro_rules! builtin {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal,
     [$($short:literal),*], $namespaced:expr, $storage:literal) => {
        ResourceType {
            group: Cow::Borrowed($group),
            version: Cow::Borrowed($version),
            kind: Cow::Borrowed($kind),
            plural: Cow::Borrowed($plural),
            singular: Cow::Borrowed($singular),
            short_names: Cow::Borrowed(&[$(Cow::Borrowed($short)),*]),
            namespaced: $namespaced,
            storage: Cow::Borrowed($storage),
            builtin: true,
        }
    };
}

const NS: bool = true;
const CLUSTER: bool = false;

// Order matters where two types share a storage path: core events and
// events.k8s.io events are the same objects in `/registry/events`, and the
// first entry is the one `key::parse` reports.
#[rustfmt::skip]
static BUILTIN: &[ResourceType] = &[
    // core
    builtin!("", "v1", "Pod", "pods", "pod", ["po"], NS, "pods"),
    builtin!("", "v1", "PodTemplate", "podtemplates", "podtemplate", [], NS, "podtemplates"),
    builtin!("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", ["rc"], NS, "controllers"),
    builtin!("", "v1", "Service", "services", "service", ["svc"], NS, "services/specs"),
    builtin!("", "v1", "Endpoints", "endpoints", "endpoints", ["ep"], NS, "services/endpoints"),
    builtin!("", "v1", "Node", "nodes", "node", ["no"], CLUSTER, "minions"),
    builtin!("", "v1", "Namespace", "namespaces", "namespace", ["ns"], CLUSTER, "namespaces"),
    builtin!("", "v1", "Secret", "secrets", "secret", [], NS, "secrets"),
    builtin!("", "v1", "ConfigMap", "configmaps", "configmap", ["cm"], NS, "configmaps"),
    builtin!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", ["sa"], NS, "serviceaccounts"),
    builtin!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", ["pv"], CLUSTER, "persistentvolumes"),
    builtin!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", ["pvc"], NS, "persistentvolumeclaims"),
    builtin!("", "v1", "Event", "events", "event", ["ev"], NS, "events"),
    builtin!("", "v1", "LimitRange", "limitranges", "limitrange", ["limits"], NS, "limitranges"),
    builtin!("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", ["quota"], NS, "resourcequotas"),
    // admissionregistration.k8s.io
    builtin!("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", [], CLUSTER, "mutatingwebhookconfigurations"),
    builtin!("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validatingwebhookconfiguration", [], CLUSTER, "validatingwebhookconfigurations"),
    builtin!("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", "validatingadmissionpolicy", [], CLUSTER, "validatingadmissionpolicies"),
    builtin!("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", [], CLUSTER, "validatingadmissionpolicybindings"),
    builtin!("admissionregistration.k8s.io", "v1beta1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", "mutatingadmissionpolicy", [], CLUSTER, "mutatingadmissionpolicies"),
    builtin!("admissionregistration.k8s.io", "v1beta1", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings", "mutatingadmissionpolicybinding", [], CLUSTER, "mutatingadmissionpolicybindings"),
    // served by the apiextensions and aggregator servers, which put the group in the path
    builtin!("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition", ["crd", "crds"], CLUSTER, "apiextensions.k8s.io/customresourcedefinitions"),
    builtin!("apiregistration.k8s.io", "v1", "APIService", "apiservices", "apiservice", [], CLUSTER, "apiregistration.k8s.io/apiservices"),
    // apps
    builtin!("apps", "v1", "Deployment", "deployments", "deployment", ["deploy"], NS, "deployments"),
    builtin!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", ["rs"], NS, "replicasets"),
    builtin!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", ["sts"], NS, "statefulsets"),
    builtin!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", ["ds"], NS, "daemonsets"),
    builtin!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", [], NS, "controllerrevisions"),
    // autoscaling, batch
    builtin!("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", ["hpa"], NS, "horizontalpodautoscalers"),
    builtin!("batch", "v1", "Job", "jobs", "job", [], NS, "jobs"),
    builtin!("batch", "v1", "CronJob", "cronjobs", "cronjob", ["cj"], NS, "cronjobs"),
    // certificates.k8s.io
    builtin!("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", "certificatesigningrequest", ["csr"], CLUSTER, "certificatesigningrequests"),
    builtin!("certificates.k8s.io", "v1beta1", "ClusterTrustBundle", "clustertrustbundles", "clustertrustbundle", [], CLUSTER, "clustertrustbundles"),
    builtin!("certificates.k8s.io", "v1beta1", "PodCertificateRequest", "podcertificaterequests", "podcertificaterequest", [], NS, "podcertificaterequests"),
    // coordination.k8s.io
    builtin!("coordination.k8s.io", "v1", "Lease", "leases", "lease", [], NS, "leases"),
    builtin!("coordination.k8s.io", "v1beta1", "LeaseCandidate", "leasecandidates", "leasecandidate", [], NS, "leasecandidates"),
    // discovery.k8s.io, events.k8s.io
    builtin!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", [], NS, "endpointslices"),
    builtin!("events.k8s.io", "v1", "Event", "events", "event", ["ev"], NS, "events"),
    // flowcontrol.apiserver.k8s.io, internal.apiserver.k8s.io
    builtin!("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", "flowschema", [], CLUSTER, "flowschemas"),
    builtin!("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", "prioritylevelconfiguration", [], CLUSTER, "prioritylevelconfigurations"),
    builtin!("internal.apiserver.k8s.io", "v1alpha1", "StorageVersion", "storageversions", "storageversion", [], CLUSTER, "storageversions"),
    // networking.k8s.io
    builtin!("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", ["ing"], NS, "ingress"),
    builtin!("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", [], CLUSTER, "ingressclasses"),
    builtin!("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", ["netpol"], NS, "networkpolicies"),
    builtin!("networking.k8s.io", "v1", "IPAddress", "ipaddresses", "ipaddress", ["ip"], CLUSTER, "ipaddresses"),
    builtin!("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", [], CLUSTER, "servicecidrs"),
    // node.k8s.io, policy
    builtin!("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", [], CLUSTER, "runtimeclasses"),
    builtin!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", ["pdb"], NS, "poddisruptionbudgets"),
    // rbac.authorization.k8s.io
    builtin!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", [], CLUSTER, "clusterroles"),
    builtin!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", [], CLUSTER, "clusterrolebindings"),
    builtin!("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", [], NS, "roles"),
    builtin!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", [], NS, "rolebindings"),
    // resource.k8s.io (dynamic resource allocation)
    builtin!("resource.k8s.io", "v1", "DeviceClass", "deviceclasses", "deviceclass", [], CLUSTER, "deviceclasses"),
    builtin!("resource.k8s.io", "v1", "ResourceClaim", "resourceclaims", "resourceclaim", [], NS, "resourceclaims"),
    builtin!("resource.k8s.io", "v1", "ResourceClaimTemplate", "resourceclaimtemplates", "resourceclaimtemplate", [], NS, "resourceclaimtemplates"),
    builtin!("resource.k8s.io", "v1", "ResourceSlice", "resourceslices", "resourceslice", [], CLUSTER, "resourceslices"),
    builtin!("resource.k8s.io", "v1alpha3", "DeviceTaintRule", "devicetaintrules", "devicetaintrule", [], CLUSTER, "devicetaintrules"),
    // scheduling.k8s.io
    builtin!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", ["pc"], CLUSTER, "priorityclasses"),
    builtin!("scheduling.k8s.io", "v1alpha1", "Workload", "workloads", "workload", [], NS, "workloads"),
    // storage.k8s.io
    builtin!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", ["sc"], CLUSTER, "storageclasses"),
    builtin!("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", "volumeattachment", [], CLUSTER, "volumeattachments"),
    builtin!("storage.k8s.io", "v1", "CSIDriver", "csidrivers", "csidriver", [], CLUSTER, "csidrivers"),
    builtin!("storage.k8s.io", "v1", "CSINode", "csinodes", "csinode", [], CLUSTER, "csinodes"),
    builtin!("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", "csistoragecapacity", [], NS, "csistoragecapacities"),
    builtin!("storage.k8s.io", "v1", "VolumeAttributesClass", "volumeattributesclasses", "volumeattributesclass", ["vac"], CLUSTER, "volumeattributesclasses"),
    builtin!("storagemigration.k8s.io", "v1beta1", "StorageVersionMigration", "storageversionmigrations", "storageversionmigration", [], CLUSTER, "storageversionmigrations"),
];

/// Every built-in resource type kube-apiserver stores in etcd.
///
/// Core `events` and `events.k8s.io` `events` are both listed; they are the
/// same objects under the same storage path.
pub fn builtin() -> &'static [ResourceType] {
    BUILTIN
}

/// Finds a built-in type the way kubectl resolves a resource argument.
///
/// Accepts the plural, singular, short name or kind in any ASCII case
/// (`po`, `pods`, `pod`, `Pod`), optionally qualified by group
/// (`deployments.apps`, `deploy.apps`) or by version and group
/// (`deployments.v1.apps`, `pods.v1`). The version is only used to pick the
/// group apart: storage does not depend on it, so any well-formed version is
/// accepted. A bare name shared by two groups (`events`) resolves to the core
/// group, as kubectl does.
///
/// Returns `None` for names that are not built in, so the caller can go on to
/// look for a custom resource.
pub fn resolve(name: &str) -> Option<&'static ResourceType> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    if let Some(found) = BUILTIN.iter().find(|t| t.has_name(name)) {
        return Some(found);
    }
    let arg = split_resource_arg(name);
    find_in_group(arg.resource, arg.group?)
}

/// A kubectl resource argument taken apart: `resource[.version][.group]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceArg<'a> {
    /// The resource name as given: plural, singular, short name or kind.
    pub resource: &'a str,
    /// The version, when the argument has one (`deployments.v1.apps`).
    pub version: Option<&'a str>,
    /// The group: `None` for a bare name, `Some("")` for the core group
    /// (`pods.v1`).
    pub group: Option<&'a str>,
}

/// Splits a resource argument the way kubectl does: `widgets` (any group),
/// `widgets.example.com` (group), `widgets.v1.example.com` (version and
/// group) and `pods.v1` (version, core group). A label counts as the version
/// when it looks like one (`v1`, `v2beta1`, `v1alpha3`).
///
/// [`resolve`] uses this for built-in types; callers use it to find custom
/// resources when `resolve` returns `None`.
pub fn split_resource_arg(name: &str) -> ResourceArg<'_> {
    let name = name.trim();
    let Some((resource, qualifier)) = name.split_once('.') else {
        return ResourceArg {
            resource: name,
            version: None,
            group: None,
        };
    };
    let (first, rest) = qualifier.split_once('.').unwrap_or((qualifier, ""));
    if is_version(first) {
        ResourceArg {
            resource,
            version: Some(first),
            group: Some(rest),
        }
    } else {
        ResourceArg {
            resource,
            version: None,
            group: Some(qualifier),
        }
    }
}

fn find_in_group(resource: &str, group: &str) -> Option<&'static ResourceType> {
    BUILTIN
        .iter()
        .find(|t| t.group.eq_ignore_ascii_case(group) && t.has_name(resource))
}

/// Kubernetes version strings: `v1`, `v2beta1`, `v1alpha3`.
fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let Some(n) = rest
        .strip_prefix("alpha")
        .or_else(|| rest.strip_prefix("beta"))
    else {
        return false;
    };
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

/// `(first segment, second segment or "", index into BUILTIN)`, sorted, for
/// the per-key lookup in [`storage_lookup`]: a binary search rather than a
/// scan of the whole table, because scans parse a million keys.
fn storage_index() -> &'static [(&'static str, &'static str, usize)] {
    static INDEX: OnceLock<Vec<(&'static str, &'static str, usize)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: Vec<_> = BUILTIN
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let storage: &'static str = match &t.storage {
                    Cow::Borrowed(s) => s,
                    // Built-in entries are all borrowed; an owned one would be a bug in the table.
                    Cow::Owned(_) => "",
                };
                let (first, second) = storage.split_once('/').unwrap_or((storage, ""));
                (first, second, i)
            })
            .collect();
        // Stable sort keeps table order among equal paths, so the first
        // table entry wins the dedup (core events over events.k8s.io).
        index.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        index.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1);
        index
    })
}

/// The built-in type stored under `first[/second]`, and how many of the two
/// segments its storage path uses (1 or 2).
pub(crate) fn storage_lookup(first: &str, second: &str) -> Option<(&'static ResourceType, usize)> {
    let index = storage_index();
    let find = |a: &str, b: &str| {
        index
            .binary_search_by(|probe| (probe.0, probe.1).cmp(&(a, b)))
            .ok()
            .map(|pos| &BUILTIN[index[pos].2])
    };
    if let Some(t) = find(first, "") {
        return Some((t, 1));
    }
    if second.is_empty() {
        return None;
    }
    find(first, second).map(|t| (t, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for t in builtin() {
            assert!(t.builtin, "{t:?}");
            assert!(
                !t.storage.starts_with('/') && !t.storage.ends_with('/'),
                "{t:?}"
            );
            assert!(t.storage.split('/').count() <= 2, "{t:?}");
            assert_eq!(t.plural.to_ascii_lowercase(), *t.plural, "{t:?}");
            assert!(is_version(&t.version), "{t:?}");
        }
    }

    #[test]
    fn versions() {
        for v in ["v1", "v2", "v1beta1", "v1alpha3", "v10"] {
            assert!(is_version(v), "{v}");
        }
        for v in ["", "v", "1", "apps", "v1beta", "vbeta1", "v1gamma1", "k8s"] {
            assert!(!is_version(v), "{v}");
        }
    }

    #[test]
    fn storage_lookup_handles_one_and_two_segments() {
        assert_eq!(
            storage_lookup("pods", "default").map(|(t, n)| (&*t.plural, n)),
            Some(("pods", 1))
        );
        assert_eq!(
            storage_lookup("services", "specs").map(|(t, n)| (&*t.plural, n)),
            Some(("services", 2))
        );
        assert_eq!(
            storage_lookup("services", "endpoints").map(|(t, n)| (&*t.plural, n)),
            Some(("endpoints", 2))
        );
        assert_eq!(storage_lookup("services", "other"), None);
        assert_eq!(storage_lookup("services", ""), None);
        assert_eq!(
            storage_lookup("events", "ns").map(|(t, _)| &*t.group),
            Some("")
        );
    }
}
