//! The StatefulSet running etcd: its replicas, read and changed through the
//! `scale` subresource. Never decides when to scale: see
//! [`crate::ops::statefulset`].

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};

use super::{Kube, Result};

/// The replicas StatefulSet `namespace/name` asks for.
pub async fn replicas(kube: &Kube, namespace: &str, name: &str) -> Result<i32> {
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let scale = api.get_scale(name).await.map_err(|e| {
        kube.explain(e, "get", "statefulsets/scale", Some(namespace))
            .during(format!("reading the replicas of StatefulSet `{name}`"))
    })?;
    Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(1))
}

/// Set StatefulSet `namespace/name` to `replicas`.
pub async fn scale(kube: &Kube, namespace: &str, name: &str, replicas: i32) -> Result<()> {
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    api.patch_scale(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            kube.explain(e, "patch", "statefulsets/scale", Some(namespace))
                .during(format!("scaling StatefulSet `{name}` to {replicas}"))
        })?;
    Ok(())
}
