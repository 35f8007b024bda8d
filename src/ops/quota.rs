//! Each member's real backend quota. etcd before 3.6 does not report it in
//! Status, but every etcd since 3.4 exports `etcd_server_quota_backend_bytes`
//! in its metrics, and in Kubernetes mode the pod's `--quota-backend-bytes`
//! is on its command line. Best first: Status, metrics, pod flag; else the
//! operator's `--quota-bytes`, else etcd's default 2 GiB. [`resolve`] is the
//! one definition every command uses: `quotaAssumed` is true exactly when
//! the figure came from neither the member nor its pod (the last two), and
//! `quotaSource` says which it was.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::connect::kube::discovery::flag;
use crate::connect::kube::portforward::PortForwardDialer;
use crate::connect::tls::server_name;
use crate::context::Cluster;
use crate::etcd::metrics::{self, Metrics, Source};
use crate::etcd::{format_id, QuotaOrigin, Status, Survey};
use crate::output::percent;

/// etcd's quota when `--quota-backend-bytes` is unset or not positive.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// Where a member's quota figure comes from, best first. Serialized as
/// `quotaSource` next to `quotaAssumed` in every command's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum QuotaSource {
    /// etcd ≥ 3.6 reports it in Status.
    Status,
    /// `etcd_server_quota_backend_bytes` in its metrics (etcd ≥ 3.4).
    Metrics,
    /// The `--quota-backend-bytes` its pod was started with.
    PodFlag,
    /// Nothing from the member: the operator's `--quota-bytes`.
    Flag,
    /// Nothing from the member nor the operator: etcd's default 2 GiB.
    Default,
}

impl QuotaSource {
    /// Whether the figure is a guess: it came neither from the member
    /// (Status, metrics) nor from the flag it was started with.
    pub fn assumed(self) -> bool {
        matches!(self, QuotaSource::Flag | QuotaSource::Default)
    }

    /// Short words for people (doctor's VALUE column).
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaSource::Status => "status",
            QuotaSource::Metrics => "metrics",
            QuotaSource::PodFlag => "pod flag",
            QuotaSource::Flag => "--quota-bytes, assumed",
            QuotaSource::Default => "etcd default, assumed",
        }
    }
}

/// One member's quota and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub bytes: u64,
    pub source: QuotaSource,
}

/// A row's quota columns, flattened into it: JSON `quotaBytes`,
/// `quotaAssumed` (etcd's default taken for want of anything better) and
/// `quotaSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaColumns {
    #[serde(rename = "quotaBytes")]
    pub bytes: u64,
    #[serde(rename = "quotaAssumed")]
    pub assumed: bool,
    #[serde(rename = "quotaSource")]
    pub source: QuotaSource,
}

impl From<Quota> for QuotaColumns {
    fn from(q: Quota) -> Self {
        QuotaColumns {
            bytes: q.bytes,
            assumed: q.assumed(),
            source: q.source,
        }
    }
}

impl Quota {
    /// See [`QuotaSource::assumed`].
    pub fn assumed(&self) -> bool {
        self.source.assumed()
    }
}

/// The one definition every command uses: the quota a member reported
/// (`reported` > 0, told by `origin`), else the operator's `--quota-bytes`,
/// else etcd's default. Pure.
pub fn resolve(reported: u64, origin: QuotaOrigin, given: Option<u64>) -> Quota {
    if reported > 0 {
        let source = match origin {
            QuotaOrigin::Status => QuotaSource::Status,
            QuotaOrigin::Metrics => QuotaSource::Metrics,
            QuotaOrigin::PodFlag => QuotaSource::PodFlag,
        };
        return Quota {
            bytes: reported,
            source,
        };
    }
    match given {
        Some(g) => Quota {
            bytes: g,
            source: QuotaSource::Flag,
        },
        None => Quota {
            bytes: DEFAULT_QUOTA,
            source: QuotaSource::Default,
        },
    }
}

/// [`resolve`] for a member's Status (as [`survey`] filled it).
pub fn of_status(s: &Status, given: Option<u64>) -> Quota {
    resolve(s.db_size_quota, s.quota_origin, given)
}

/// The footnote under a table whose quotas are marked `*`; `None` when no
/// quota is assumed.
pub fn footnote(sources: impl IntoIterator<Item = QuotaSource>) -> Option<&'static str> {
    let mut flag = false;
    let mut default = false;
    for s in sources {
        flag |= s == QuotaSource::Flag;
        default |= s == QuotaSource::Default;
    }
    match (flag, default) {
        (true, _) => Some(
            "* quota from --quota-bytes: neither Status (etcd < 3.6), the metrics nor a pod flag \
             gave it",
        ),
        (false, true) => Some(
            "* quota assumed: etcd default 2 GiB; neither Status (etcd < 3.6), the metrics nor a \
             pod flag gave it (pass the members' --quota-backend-bytes as --quota-bytes)",
        ),
        (false, false) => None,
    }
}

/// The quota: Status when it has it, else the metrics, else the pod flag,
/// else the operator's, else etcd's default. A zero or negative pod flag
/// means etcd's default. Pure.
pub fn choose(status: u64, metrics: Option<f64>, flag: Option<&str>, given: Option<u64>) -> Quota {
    if status > 0 {
        return resolve(status, QuotaOrigin::Status, given);
    }
    if let Some(m) = metrics.filter(|m| *m > 0.0) {
        return resolve(m as u64, QuotaOrigin::Metrics, given);
    }
    if let Some(f) = flag.and_then(|f| f.trim().parse::<i64>().ok()) {
        let bytes = if f > 0 { f as u64 } else { DEFAULT_QUOTA };
        return resolve(bytes, QuotaOrigin::PodFlag, given);
    }
    resolve(0, QuotaOrigin::Status, given)
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
        let q = choose(0, from_metrics, pod_flag, None);
        if let (Some(s), false) = (&mut survey.views[i].status, q.assumed()) {
            s.db_size_quota = q.bytes;
            s.quota_origin = match q.source {
                QuotaSource::Metrics => QuotaOrigin::Metrics,
                _ => QuotaOrigin::PodFlag,
            };
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

/// Why a member's metrics could not be read, each cause kept as it came
/// ([`crate::error`] words it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScrapeError {
    /// The member has no metrics URL this connection can read.
    #[error("no metrics URL to read")]
    NoSource,
    /// Every source failed: one failure per source, in the order tried.
    #[error("no metrics source answered")]
    AllFailed(Vec<SourceFailed>),
    /// The source that answered before is no longer among the member's.
    #[error("metrics source vanished")]
    Vanished,
    /// The source that answered before failed this time.
    #[error(transparent)]
    Scrape(#[from] metrics::Error),
}

/// One metrics source that did not answer, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}")]
pub struct SourceFailed {
    pub url: String,
    #[source]
    pub source: metrics::Error,
}

/// The first source that answers, with its URL; every source's failure
/// when none does.
pub async fn scrape_any(
    sources: &[Source],
    timeout: Duration,
) -> Result<(Metrics, String), ScrapeError> {
    let mut failed = Vec::new();
    for s in sources {
        match metrics::scrape(s, timeout).await {
            Ok(scrape) => return Ok((scrape.metrics, s.url.clone())),
            Err(source) => failed.push(SourceFailed {
                url: s.url.clone(),
                source,
            }),
        }
    }
    if failed.is_empty() {
        return Err(ScrapeError::NoSource);
    }
    Err(ScrapeError::AllFailed(failed))
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
    pub quota_source: Option<QuotaSource>,
    /// Bytes left before the NOSPACE alarm.
    pub quota_headroom_bytes: Option<u64>,
    pub quota_use_percent: Option<f64>,
    pub error: Option<String>,
}

/// Each member's disk use against its quota ([`resolve`]: `quota_bytes`
/// where nothing says the real one), from a [`survey`].
pub fn member_sizes(survey: &Survey, quota_bytes: Option<u64>) -> Vec<MemberSize> {
    survey
        .views
        .iter()
        .map(|v| {
            let s = v.status.as_ref();
            let q = s.map(|s| of_status(s, quota_bytes));
            let quota = q.map(|q| q.bytes).unwrap_or(0);
            MemberSize {
                endpoint: v.target.endpoint.clone(),
                name: s.and_then(|s| survey.member_name(s.member_id).map(str::to_string)),
                id: s.map(|s| format_id(s.member_id)),
                db_size: s.map(|s| s.db_size),
                db_size_in_use: s.map(|s| s.db_size_in_use),
                fragmented_bytes: s.map(|s| s.db_size.saturating_sub(s.db_size_in_use)),
                fragmentation_percent: s
                    .map(|s| percent(s.db_size.saturating_sub(s.db_size_in_use), s.db_size)),
                quota_bytes: q.map(|q| q.bytes),
                quota_assumed: q.map(|q| q.assumed()),
                quota_source: q.map(|q| q.source),
                quota_headroom_bytes: s.map(|s| quota.saturating_sub(s.db_size)),
                quota_use_percent: s.map(|s| percent(s.db_size, quota)),
                error: v
                    .error
                    .clone()
                    .map(|e| crate::error::Error::from(e).message),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bytes: u64, source: QuotaSource) -> Quota {
        Quota { bytes, source }
    }

    #[test]
    fn quota_comes_from_status_then_metrics_then_pod_flag_then_operator_then_default() {
        assert_eq!(
            choose(5, Some(6.0), Some("7"), Some(8)),
            q(5, QuotaSource::Status)
        );
        assert_eq!(
            choose(0, Some(6.0), Some("7"), Some(8)),
            q(6, QuotaSource::Metrics)
        );
        assert_eq!(
            choose(0, None, Some("7"), Some(8)),
            q(7, QuotaSource::PodFlag)
        );
        assert_eq!(
            choose(0, None, Some("0"), None),
            q(DEFAULT_QUOTA, QuotaSource::PodFlag)
        );
        assert_eq!(choose(0, None, None, Some(8)), q(8, QuotaSource::Flag));
        assert_eq!(
            choose(0, None, None, None),
            q(DEFAULT_QUOTA, QuotaSource::Default)
        );
    }

    #[test]
    fn assumed_means_the_figure_did_not_come_from_the_member() {
        for (source, assumed) in [
            (QuotaSource::Status, false),
            (QuotaSource::Metrics, false),
            (QuotaSource::PodFlag, false),
            (QuotaSource::Flag, true),
            (QuotaSource::Default, true),
        ] {
            assert_eq!(source.assumed(), assumed, "{source:?}");
        }
        assert_eq!(
            serde_json::to_value(QuotaSource::PodFlag).unwrap(),
            serde_json::json!("podFlag")
        );
    }

    #[test]
    fn metrics_that_cannot_be_read_say_why_for_each_source() {
        use crate::error::Error;
        let failed = |url: &str, source| SourceFailed {
            url: url.into(),
            source,
        };
        let e = Error::from(ScrapeError::AllFailed(vec![
            failed(
                "pod/etcd-0:2381/metrics",
                metrics::Error::NoAnswer(Duration::from_secs(5)),
            ),
            failed(
                "https://10.0.0.1:2379/metrics",
                metrics::Error::Dial(crate::connect::Error::Refused),
            ),
        ]));
        e.assert_line(
            3,
            "pod/etcd-0:2381/metrics: no answer within 5s; \
             https://10.0.0.1:2379/metrics: connection refused",
            None,
        );
        Error::from(ScrapeError::NoSource).assert_line(1, "no metrics URL to read", None);
        Error::from(ScrapeError::Vanished).assert_line(1, "metrics source vanished", None);
        let e = Error::from(ScrapeError::from(metrics::Error::NoCertificate));
        e.assert_line(3, "the member presented no certificate", None);
    }

    #[test]
    fn the_footnote_says_where_an_assumed_quota_came_from() {
        assert_eq!(footnote([QuotaSource::Metrics]), None);
        assert!(footnote([QuotaSource::Metrics, QuotaSource::Flag])
            .unwrap()
            .starts_with("* quota from --quota-bytes"));
        assert!(footnote([QuotaSource::Default])
            .unwrap()
            .starts_with("* quota assumed: etcd default 2 GiB"));
    }
}
