//! Each member's real backend quota. etcd before 3.6 does not report it in
//! Status, but every etcd since 3.4 exports `etcd_server_quota_backend_bytes`
//! in its metrics, and in Kubernetes mode the pod's `--quota-backend-bytes`
//! is on its command line. Best first: Status, metrics, pod flag; else the
//! caller's assumption, marked as such.

use std::sync::Arc;
use std::time::Duration;

use crate::connect::kube::discovery::flag;
use crate::connect::kube::portforward::PortForwardDialer;
use crate::connect::tls::server_name;
use crate::context::Cluster;
use crate::etcd::metrics::{self, Metrics, Source};
use crate::etcd::{format_id, Survey};
use crate::output::percent;

use serde::Serialize;

/// etcd's quota when `--quota-backend-bytes` is unset or not positive.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// Where a member's quota comes from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSource {
    /// etcd ≥ 3.6 reports it in Status.
    Status,
    /// `etcd_server_quota_backend_bytes` in its metrics (etcd ≥ 3.4).
    Metrics,
    /// The pod's `--quota-backend-bytes`.
    PodFlag,
    /// Nothing said: etcd's default (or `--quota-bytes`) assumed.
    Assumed,
}

impl QuotaSource {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaSource::Status => "status",
            QuotaSource::Metrics => "metrics",
            QuotaSource::PodFlag => "pod flag",
            QuotaSource::Assumed => "assumed",
        }
    }
}

/// The quota: Status when it has it, else the metrics, else the pod flag,
/// else `assumed`. A zero or negative flag means etcd's default. Pure.
pub fn choose(
    status: u64,
    metrics: Option<f64>,
    flag: Option<&str>,
    assumed: u64,
) -> (u64, QuotaSource) {
    if status > 0 {
        return (status, QuotaSource::Status);
    }
    if let Some(m) = metrics.filter(|m| *m > 0.0) {
        return (m as u64, QuotaSource::Metrics);
    }
    if let Some(f) = flag.and_then(|f| f.trim().parse::<i64>().ok()) {
        return (
            if f > 0 { f as u64 } else { DEFAULT_QUOTA },
            QuotaSource::PodFlag,
        );
    }
    (assumed, QuotaSource::Assumed)
}

/// A survey whose statuses carry each member's real quota in
/// `db_size_quota` where Status did not (etcd < 3.6): from its metrics,
/// else its pod's flag. A quota still 0 afterwards is unknown: callers
/// assume one and mark it.
pub async fn survey(cluster: &Cluster) -> Survey {
    let mut survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let timeout = cluster.settings.command_timeout;
    let wanted: Vec<usize> = survey
        .views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.status.as_ref().is_some_and(|s| s.db_size_quota == 0))
        .map(|(i, _)| i)
        .collect();
    let scraped = futures::future::join_all(wanted.iter().map(|&i| async move {
        let sources = metrics_sources(cluster, i);
        scrape_any(&sources, timeout)
            .await
            .ok()
            .and_then(|(m, _)| m.value("etcd_server_quota_backend_bytes"))
    }))
    .await;
    for (&i, from_metrics) in wanted.iter().zip(scraped) {
        let pod_flag = cluster
            .pods
            .get(i)
            .and_then(|p| flag(&p.flags, "quota-backend-bytes"));
        let (quota, source) = choose(0, from_metrics, pod_flag, 0);
        if let (Some(s), false) = (&mut survey.views[i].status, source == QuotaSource::Assumed) {
            s.db_size_quota = quota;
        }
    }
    survey
}

/// Where one member's metrics can be read: in Kubernetes mode first the
/// pod's `--listen-metrics-urls` (kubeadm's `http://127.0.0.1:2381`, what
/// scrapers use, no client certificate needed) through a port-forward to
/// that port; then the member's client URL.
pub fn metrics_sources(cluster: &Cluster, i: usize) -> Vec<Source> {
    let target = &cluster.targets[i];
    let mut out = Vec::new();
    let name = cluster
        .settings
        .server_name_override
        .clone()
        .unwrap_or_else(|| target.server_name.clone());
    let client_tls = match (&cluster.settings.tls, target.tls) {
        (_, false) => Some(None),
        (Some(config), true) => server_name(&name)
            .ok()
            .map(|n| Some((metrics::http1_config(config), n))),
        (None, true) => None,
    };
    if let (Some(kube), Some(pod)) = (&cluster.kube, cluster.pods.get(i)) {
        for url in pod
            .flag("listen-metrics-urls")
            .unwrap_or_default()
            .split(',')
            .filter(|u| !u.trim().is_empty())
        {
            let Ok(e) = crate::connect::direct::Endpoint::parse(url.trim(), false) else {
                continue;
            };
            let tls = match (&cluster.settings.tls, e.tls) {
                (_, false) => None,
                (Some(config), true) => match server_name(&name) {
                    Ok(n) => Some((metrics::http1_config(config), n)),
                    Err(_) => continue,
                },
                (None, true) => continue,
            };
            out.push(Source {
                url: format!("pod/{}:{}/metrics", pod.info.name, e.port),
                dialer: Arc::new(PortForwardDialer::new(
                    kube,
                    &pod.info,
                    e.port,
                    pod.problem.clone(),
                )),
                tls,
                host: format!("{}:{}", e.host, e.port),
            });
        }
    }
    if let Some(tls) = client_tls {
        out.push(Source {
            url: format!("{}/metrics", target.endpoint),
            dialer: target.dialer.clone(),
            tls,
            host: target.server_name.clone(),
        });
    }
    out
}

/// The first source that answers, with its URL; the errors joined when
/// none does.
pub async fn scrape_any(
    sources: &[Source],
    timeout: Duration,
) -> Result<(Metrics, String), String> {
    let mut errors = Vec::new();
    for s in sources {
        match metrics::scrape(s, timeout).await {
            Ok(scrape) => return Ok((scrape.metrics, s.url.clone())),
            Err(e) => errors.push(format!("{}: {}", s.url, e.message)),
        }
    }
    if errors.is_empty() {
        return Err("no metrics URL to read".into());
    }
    Err(errors.join("; "))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSize {
    pub endpoint: String,
    pub name: Option<String>,
    pub id: Option<String>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    /// Bytes a defrag would give back to the file system.
    pub fragmented_bytes: Option<u64>,
    pub fragmentation_percent: Option<f64>,
    pub quota_bytes: Option<u64>,
    pub quota_assumed: Option<bool>,
    /// Bytes left before the NOSPACE alarm.
    pub quota_headroom_bytes: Option<u64>,
    pub quota_use_percent: Option<f64>,
    pub error: Option<String>,
}

/// Each member's disk use against its quota (`quota_bytes` where nothing
/// says the real one), from a [`survey`].
pub fn member_sizes(survey: &Survey, quota_bytes: u64) -> Vec<MemberSize> {
    survey
        .views
        .iter()
        .map(|v| {
            let s = v.status.as_ref();
            let (quota, assumed) = match s {
                Some(s) if s.db_size_quota > 0 => (s.db_size_quota, false),
                _ => (quota_bytes, true),
            };
            MemberSize {
                endpoint: v.target.endpoint.clone(),
                name: s.and_then(|s| survey.member_name(s.member_id).map(str::to_string)),
                id: s.map(|s| format_id(s.member_id)),
                db_size: s.map(|s| s.db_size),
                db_size_in_use: s.map(|s| s.db_size_in_use),
                fragmented_bytes: s.map(|s| s.db_size.saturating_sub(s.db_size_in_use)),
                fragmentation_percent: s
                    .map(|s| percent(s.db_size.saturating_sub(s.db_size_in_use), s.db_size)),
                quota_bytes: s.map(|_| quota),
                quota_assumed: s.map(|_| assumed),
                quota_headroom_bytes: s.map(|s| quota.saturating_sub(s.db_size)),
                quota_use_percent: s.map(|s| percent(s.db_size, quota)),
                error: v.error.as_ref().map(|e| e.message.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_comes_from_status_then_metrics_then_flag_then_assumption() {
        assert_eq!(choose(5, Some(6.0), Some("7"), 8), (5, QuotaSource::Status));
        assert_eq!(
            choose(0, Some(6.0), Some("7"), 8),
            (6, QuotaSource::Metrics)
        );
        assert_eq!(choose(0, None, Some("7"), 8), (7, QuotaSource::PodFlag));
        assert_eq!(
            choose(0, None, Some("0"), 8),
            (DEFAULT_QUOTA, QuotaSource::PodFlag)
        );
        assert_eq!(choose(0, None, None, 8), (8, QuotaSource::Assumed));
    }
}
