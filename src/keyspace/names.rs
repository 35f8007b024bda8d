//! Small, bounded name lookups for shell completion: stored namespaces,
//! object names under a key prefix, custom resource types. Keys-only reads
//! with a limit; never a scan, never values. Never prints.

use etcd_client::GetOptions;

use super::error::Result;
use super::scan::prefix_end;
use crate::etcd::EtcdClient;

/// Most names one completion offers: a shell shows no more usefully.
pub const LIMIT: i64 = 200;

/// Up to [`LIMIT`] keys starting with `start`, as the text after `strip`
/// (a key not starting with `strip` or not UTF-8 is left out). Serializable:
/// completion must answer from any member.
pub async fn keys_after(client: &EtcdClient, start: &str, strip: &str) -> Result<Vec<String>> {
    let mut kv = client.kv();
    let opts = GetOptions::new()
        .with_range(prefix_end(start.as_bytes()))
        .with_keys_only()
        .with_serializable()
        .with_limit(LIMIT);
    let resp = client.call(kv.get(start.as_bytes(), Some(opts))).await?;
    Ok(resp
        .kvs()
        .iter()
        .filter_map(|kv| std::str::from_utf8(kv.key()).ok())
        .filter_map(|k| k.strip_prefix(strip))
        .map(str::to_string)
        .collect())
}

/// Namespaces stored under `<prefix>/namespaces/` whose name starts with
/// `partial`.
pub async fn namespaces(client: &EtcdClient, prefix: &str, partial: &str) -> Result<Vec<String>> {
    let base = format!("{}/namespaces/", registry::key::normalize_prefix(prefix));
    keys_after(client, &format!("{base}{partial}"), &base).await
}

/// Custom resource types as `plural.group`: from the CRD objects' keys
/// (named `plural.group`) and from keys of types whose CRD is gone.
pub async fn custom_types(client: &EtcdClient, prefix: &str) -> Result<Vec<String>> {
    let base = format!(
        "{}/apiextensions.k8s.io/customresourcedefinitions/",
        registry::key::normalize_prefix(prefix)
    );
    let mut names = keys_after(client, &base, &base).await?;
    let (_, found) = super::custom::discover(client, prefix, None, true).await?;
    names.extend(
        found
            .into_iter()
            .map(|t| format!("{}.{}", t.plural, t.group)),
    );
    names.sort();
    names.dedup();
    Ok(names)
}
