//! What `watch` watches: the key range for what the user typed
//! (`TYPE`, `TYPE/NS`, `TYPE/[NS/]NAME`, a prefix), resolved once against
//! the cluster's discovery data.

use super::error::Result;
use super::resolve::{Range, Resolver};
use crate::etcd::EtcdClient;

/// The keys to watch.
pub struct Scope {
    pub start: Vec<u8>,
    /// Empty for one key.
    pub end: Vec<u8>,
    /// For messages: `deployments.apps in default`, a prefix, a key.
    pub label: String,
    /// A namespace the key range cannot express (`-n` without a type).
    pub namespace: Option<String>,
}

/// Resolve what the user typed to a key range.
pub async fn resolve(
    client: &EtcdClient,
    prefix: &str,
    what: Option<&str>,
    namespace: Option<&str>,
) -> Result<Scope> {
    let mut r = Resolver::new(client, prefix);
    let parts: Vec<&str> = what.map(|w| w.splitn(3, '/').collect()).unwrap_or_default();
    let of = |range: Range, namespace: Option<&str>| Scope {
        start: range.start,
        end: range.end,
        label: range.label,
        namespace: namespace.map(str::to_string),
    };
    let single = |key: String| Scope {
        start: key.clone().into_bytes(),
        end: Vec::new(),
        label: key,
        namespace: None,
    };
    Ok(match (what, parts.as_slice()) {
        (None, _) => of(r.range(None, namespace).await?, namespace),
        (Some(w), _) if w.starts_with('/') => of(r.range(Some(w), None).await?, namespace),
        (Some(_), [t]) => of(r.range(Some(*t), namespace).await?, None),
        (Some(w), [t, x]) => {
            if r.resource_type(t).await?.namespaced {
                of(r.range(Some(*t), Some(*x)).await?, None)
            } else {
                single(r.object(w, None, None).await?.key)
            }
        }
        (Some(w), _) => single(r.object(w, None, namespace).await?.key),
    })
}
