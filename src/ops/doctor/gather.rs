//! What `doctor` asks the cluster, all read-only except the opt-in write
//! probe. Every member is asked on its own connection, in parallel; a
//! member that fails one question is still asked the others. The result is
//! plain data for [`super::checks`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;

use super::certs::CertError;
use super::Check;
use crate::connect::kube::{secrets, EtcdPod};
use crate::connect::{PodInfo, Target};
use crate::context::Cluster;
use crate::etcd::maintenance::{compacted_revision, current_revision};
use crate::etcd::metrics::{self, Metrics, Source};
use crate::etcd::probes::{self, Hash, View};
use crate::etcd::{self, Alarm, EtcdClient, Member, Status, Survey};
use crate::keyspace::plan::{count_pieces, Piece};
use crate::ops::quota::{metrics_sources, scrape_any, ScrapeError};

/// How many reads a latency probe takes the median of.
pub const PROBE_READS: usize = 5;

/// What to gather.
#[derive(Debug, Clone)]
pub struct Options {
    pub window: Duration,
    pub checks: Vec<Check>,
    pub write_probe: bool,
    pub prefix: String,
}

impl Options {
    pub fn wants(&self, c: Check) -> bool {
        self.checks.contains(&c)
    }
}

/// A pod's facts (Kubernetes mode).
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub namespace: String,
    pub name: String,
    pub restarts: i32,
    /// The last termination: reason (`OOMKilled`, `Error`) and exit code.
    pub last_termination: Option<(String, i32)>,
    pub flags: Vec<(String, String)>,
}

/// One target, as far as it answered. Errors are kept with their cause;
/// [`super::checks`] words them for the findings.
#[derive(Debug, Clone, Default)]
pub struct MemberFacts {
    /// The member's name when known, else the endpoint.
    pub label: String,
    pub endpoint: String,
    pub status: Option<Status>,
    /// Why the member could not be asked at all.
    pub error: Option<etcd::Error>,
    pub health: Option<std::result::Result<Duration, etcd::Error>>,
    pub view: Option<std::result::Result<View, etcd::Error>>,
    pub hash: Option<std::result::Result<Hash, etcd::Error>>,
    /// Two scrapes a window apart, and where they came from.
    pub metrics: Option<std::result::Result<(Metrics, Metrics), ScrapeError>>,
    pub metrics_source: Option<String>,
    /// `etcd_server_quota_backend_bytes` from the first scrape.
    pub metrics_quota: Option<f64>,
    pub serializable_read: Option<std::result::Result<Duration, etcd::Error>>,
    pub linearizable_read: Option<std::result::Result<Duration, etcd::Error>>,
    pub write: Option<std::result::Result<Duration, etcd::Error>>,
    /// The server certificate chain presented on the client port (DER).
    pub chain: Option<std::result::Result<Vec<Vec<u8>>, metrics::Error>>,
    /// Names the server certificate must cover to be accepted.
    pub names: Vec<String>,
    /// Kubernetes mode: the pod's `--peer-cert-file` (DER of its first
    /// certificate) and the peer host it must name.
    pub peer_cert: Option<std::result::Result<Vec<u8>, CertError>>,
    pub peer_host: Option<String>,
    pub pod: Option<PodFacts>,
}

/// Everything the checks look at.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub window: Duration,
    pub members: Vec<MemberFacts>,
    /// The member list, from the first member that answered.
    pub member_list: Option<Vec<Member>>,
    pub alarms: Vec<Alarm>,
    /// Why the alarm list could not be read (no quorum): `alarms` is then
    /// unknown, not empty.
    pub alarms_error: Option<crate::etcd::Error>,
    /// The revision HashKV compared at; `None` when no hash was taken.
    pub hash_revision: Option<i64>,
    /// The compacted revision before and after the window (`Some(0)`:
    /// nothing compacted), `None` when it could not be read.
    pub compacted_before: Option<i64>,
    pub compacted_after: Option<i64>,
    pub current_revision: Option<i64>,
    /// Keys in total and under `<prefix>/events/`.
    pub total_keys: Option<u64>,
    pub event_keys: Option<u64>,
    /// Keys per built-in type (`pods`, `deployments.apps`), most first;
    /// everything else (custom resources, other keys) as `other`.
    pub key_types: Vec<(String, u64)>,
    /// Leases granted (`LeaseLeases`).
    pub leases: Option<u64>,
    pub prefix: String,
    /// Our client certificate and CA bundle (DER), when TLS is used.
    pub client_cert: Vec<Vec<u8>>,
    pub ca: Vec<Vec<u8>>,
    /// Seconds since the Unix epoch when gathered (certificate expiry).
    pub now: i64,
    /// Kubernetes mode.
    pub kubernetes: bool,
}

impl Gathered {
    /// The name of a member id from the member list.
    pub fn member_name(&self, id: u64) -> Option<&str> {
        self.member_list
            .as_ref()?
            .iter()
            .find(|m| m.id == id && !m.name.is_empty())
            .map(|m| m.name.as_str())
    }
}

/// Scrape one source again (the one that answered first).
async fn scrape_named(
    sources: &[Source],
    url: &str,
    timeout: Duration,
) -> std::result::Result<Metrics, ScrapeError> {
    let s = sources
        .iter()
        .find(|s| s.url == url)
        .ok_or(ScrapeError::Vanished)?;
    Ok(metrics::scrape(s, timeout).await?.metrics)
}

/// The member advertising `endpoint` as a client URL (direct mode: a
/// member that did not answer is still named).
fn member_at<'a>(survey: &'a Survey, endpoint: &str) -> Option<&'a Member> {
    let norm = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
    survey
        .members
        .as_ref()?
        .iter()
        .find(|m| m.client_urls.iter().any(|u| norm(u) == norm(endpoint)))
}

fn pod_facts(pod: &EtcdPod) -> PodFacts {
    let status = pod
        .spec
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == pod.container.name));
    PodFacts {
        namespace: pod.info.namespace.clone(),
        name: pod.info.name.clone(),
        restarts: status.map(|s| s.restart_count).unwrap_or(0),
        last_termination: status
            .and_then(|s| s.last_state.as_ref())
            .and_then(|l| l.terminated.as_ref())
            .map(|t| {
                (
                    t.reason.clone().unwrap_or_else(|| "unknown".into()),
                    t.exit_code,
                )
            }),
        flags: pod.flags.clone(),
    }
}

/// The names a server certificate may carry for this target: the dialled
/// name, and in Kubernetes mode the pod's IP, node and name.
fn names(target: &Target, override_name: Option<&String>) -> Vec<String> {
    if let Some(n) = override_name {
        return vec![n.clone()];
    }
    let mut out = vec![target.server_name.clone()];
    if let Some(PodInfo { name, node, ip, .. }) = &target.pod {
        out.extend(ip.iter().cloned());
        out.extend(node.iter().cloned());
        out.push(name.clone());
    }
    out.dedup();
    out
}

fn pem_certs(pem: Option<&Vec<u8>>) -> Vec<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let Some(pem) = pem else { return Vec::new() };
    CertificateDer::pem_slice_iter(pem)
        .filter_map(|c| c.ok())
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// Ask everything; the window runs from the first scrape to the second.
pub async fn gather(cluster: &Cluster, opts: &Options) -> crate::ops::Result<Gathered> {
    let settings = &cluster.settings;
    let timeout = settings.command_timeout;
    let survey = Survey::take(&cluster.targets, settings).await;
    if survey.statuses().next().is_none() {
        // Nothing answered: say why (the first member's error); exit 3
        // whatever stopped it.
        let first = survey
            .views
            .iter()
            .find_map(|v| v.error.clone())
            .unwrap_or(crate::etcd::Error::NoMemberAnswered);
        return Err(crate::ops::Error::NoneReached {
            total: survey.views.len(),
            first: Some(first),
        });
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut g = Gathered {
        window: opts.window,
        member_list: survey.members.clone(),
        alarms: survey.alarms.clone(),
        alarms_error: survey.alarms_error.clone(),
        prefix: opts.prefix.clone(),
        client_cert: pem_certs(cluster.tls_material.cert.as_ref()),
        ca: pem_certs(cluster.tls_material.ca.as_ref()),
        now,
        kubernetes: !cluster.direct(),
        ..Default::default()
    };
    let sources: Vec<Vec<Source>> = (0..cluster.targets.len())
        .map(|i| metrics_sources(cluster, i))
        .collect();

    // Round one, per member: health, view, probes, certificates, first scrape.
    let survey_ref = &survey;
    let first = join_all(survey.views.iter().enumerate().map(|(i, v)| {
        let sources = &sources[i];
        let survey = survey_ref;
        async move {
            let mut f = MemberFacts {
                endpoint: v.target.endpoint.clone(),
                label: v
                    .member_id()
                    .and_then(|id| survey.member_name(id))
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .or_else(|| {
                        survey
                            .member_behind(&v.target)
                            .or_else(|| member_at(survey, &v.target.endpoint))
                            .map(|m| m.name.clone())
                            .filter(|n| !n.is_empty())
                    })
                    .unwrap_or_else(|| v.target.endpoint.clone()),
                status: v.status.clone(),
                error: v.error.clone(),
                names: names(&v.target, settings.server_name_override.as_ref()),
                pod: cluster.pods.get(i).map(pod_facts),
                ..Default::default()
            };
            if let (Some(kube), Some(pod), true) = (
                &cluster.kube,
                cluster.pods.get(i),
                opts.wants(Check::Certificates),
            ) {
                if let Some(path) = pod.flag("peer-cert-file") {
                    f.peer_cert = Some(
                        secrets::read_pod_file(kube, pod, path)
                            .await
                            .map_err(CertError::from)
                            .and_then(|pem| {
                                pem_certs(Some(&pem)).into_iter().next().ok_or_else(|| {
                                    CertError::NoPem {
                                        path: path.to_string(),
                                    }
                                })
                            }),
                    );
                    f.peer_host = pod
                        .flag("initial-advertise-peer-urls")
                        .and_then(|u| u.split(',').next())
                        .and_then(|u| crate::connect::direct::Endpoint::parse(u.trim(), true).ok())
                        .map(|e| e.host);
                }
            }
            if v.target.tls && opts.wants(Check::Certificates) {
                if let Some(s) = sources.iter().find(|s| s.tls.is_some()) {
                    f.chain =
                        Some(metrics::presented_chain(s, settings.dial_timeout.max(timeout)).await);
                }
            }
            let (Some(client), Some(status)) = (&v.client, &v.status) else {
                return (f, None);
            };
            // A learner serves only serializable reads and Status.
            let learner = status.is_learner;
            if opts.wants(Check::Health) {
                f.health = Some(etcd::health_check(client).await);
            }
            if opts.wants(Check::Agreement) {
                f.view = Some(probes::view(client).await);
            }
            if opts.wants(Check::Probes) {
                f.serializable_read = Some(probes::read_latency(client, true, PROBE_READS).await);
                if !learner {
                    f.linearizable_read =
                        Some(probes::read_latency(client, false, PROBE_READS).await);
                }
                if opts.write_probe && !learner {
                    f.write = Some(probes::write_latency(client).await);
                }
            }
            // Space needs the quota the metrics give (etcd < 3.6).
            let first = if opts.wants(Check::Latency) || opts.wants(Check::Space) {
                let first = scrape_any(sources, timeout).await;
                if let Ok((m, _)) = &first {
                    f.metrics_quota = m.value("etcd_server_quota_backend_bytes");
                }
                Some(first)
            } else {
                None
            };
            (f, first)
        }
    }))
    .await;
    let window_start = Instant::now();

    let any_client = survey.answering_client()?.clone();
    if opts.wants(Check::Space) {
        g.compacted_before = compacted_revision(&any_client)
            .await
            .ok()
            .map(|r| r.unwrap_or(0));
    }

    // During the window: consistency and the key counts.
    let voters: Vec<(usize, EtcdClient)> = survey
        .views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.status.as_ref().is_some_and(|s| !s.is_learner))
        .filter_map(|(i, v)| v.client.clone().map(|c| (i, c)))
        .collect();
    let mut hashes: Vec<Option<std::result::Result<Hash, etcd::Error>>> =
        vec![None; survey.views.len()];
    if opts.wants(Check::Consistency) {
        let (rev, taken) = hash_round(&voters, timeout).await;
        g.hash_revision = rev;
        for (i, h) in taken {
            hashes[i] = Some(h);
        }
    }
    if opts.wants(Check::Space) {
        g.current_revision = current_revision(&any_client, false).await.ok();
        if let Ok((_, pieces)) =
            count_pieces(&any_client, b"\0", &[0], &opts.prefix, 0, false).await
        {
            let events = format!("{}/events/", opts.prefix.trim_end_matches('/'));
            g.total_keys = Some(pieces.iter().map(|p| p.count).sum());
            g.event_keys = Some(
                pieces
                    .iter()
                    .filter(|p| p.start == events.as_bytes())
                    .map(|p| p.count)
                    .sum(),
            );
            g.key_types = key_types(&pieces);
        }
        g.leases = etcd::lease::ids(&any_client)
            .await
            .ok()
            .map(|ids| ids.len() as u64);
    }
    let elapsed = window_start.elapsed();
    if opts.wants(Check::Latency) && elapsed < opts.window {
        tokio::time::sleep(opts.window - elapsed).await;
    }

    // Round two: the second scrape of each member that gave a first.
    let second = join_all(first.iter().enumerate().map(|(i, (_, first))| {
        let sources = &sources[i];
        async move {
            match first {
                Some(Ok((_, url))) if opts.wants(Check::Latency) => {
                    Some(scrape_named(sources, url, timeout).await)
                }
                _ => None,
            }
        }
    }))
    .await;
    if opts.wants(Check::Space) {
        g.compacted_after = compacted_revision(&any_client)
            .await
            .ok()
            .map(|r| r.unwrap_or(0));
    }

    for (((mut f, first), second), hash) in first.into_iter().zip(second).zip(hashes) {
        f.hash = hash;
        match (first, second) {
            (Some(Ok((before, url))), Some(Ok(after))) => {
                f.metrics = Some(Ok((before, after)));
                f.metrics_source = Some(url);
            }
            (Some(Ok((_, url))), Some(Err(e))) => {
                f.metrics = Some(Err(e));
                f.metrics_source = Some(url);
            }
            (Some(Err(e)), _) if opts.wants(Check::Latency) => f.metrics = Some(Err(e)),
            _ => {}
        }
        g.members.push(f);
    }
    Ok(g)
}

/// Keys per built-in type, most first, the rest summed as `other`. Pure.
pub fn key_types(pieces: &[Piece]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    let mut other = 0;
    for p in pieces {
        match p.builtin {
            Some(t) if p.count > 0 => {
                let name = if t.group.is_empty() {
                    t.plural.to_string()
                } else {
                    format!("{}.{}", t.plural, t.group)
                };
                out.push((name, p.count));
            }
            Some(_) => {}
            None => other += p.count,
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if other > 0 {
        out.push(("other".to_string(), other));
    }
    out
}

/// HashKV of every voter at one revision every one of them has and none
/// has compacted: the lowest current revision. When a compaction moves
/// under it (an error, or members reporting different compacted
/// revisions), pick again, three times at most.
async fn hash_round(
    voters: &[(usize, EtcdClient)],
    timeout: Duration,
) -> (
    Option<i64>,
    Vec<(usize, std::result::Result<Hash, etcd::Error>)>,
) {
    let mut last = (None, Vec::new());
    for _ in 0..3 {
        let revs = join_all(voters.iter().map(|(_, c)| current_revision(c, true))).await;
        let Some(rev) = revs.iter().filter_map(|r| r.as_ref().ok()).copied().min() else {
            return (None, Vec::new());
        };
        let taken = join_all(
            voters
                .iter()
                .map(|(i, c)| async move { (*i, probes::hash_kv(c, rev, timeout * 6).await) }),
        )
        .await;
        // A compaction moved under the revision: on some member (an error),
        // or between members (different compacted revisions).
        let compacts: Vec<i64> = taken
            .iter()
            .filter_map(|(_, h)| h.as_ref().ok().map(|h| h.compact_revision))
            .collect();
        let moved = !compacts.windows(2).all(|w| w[0] == w[1])
            || taken
                .iter()
                .any(|(_, h)| matches!(h, Err(etcd::Error::Compacted)));
        last = (Some(rev), taken);
        if !moved {
            break;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::plan::cut;

    #[test]
    fn key_types_name_built_in_types_most_first_and_sum_the_rest() {
        let mut pieces = cut(b"\0", &[0], "/registry");
        for p in &mut pieces {
            p.count = match (p.builtin.map(|t| t.plural.as_ref()), p.start.as_slice()) {
                (Some("events"), _) => 50,
                (Some("deployments"), _) => 7,
                (Some("pods"), _) => 20,
                (None, b"\0") => 2,
                (None, _) => 1,
                _ => 0,
            };
        }
        let types = key_types(&pieces);
        assert_eq!(types[0], ("events".to_string(), 50));
        assert_eq!(types[1], ("pods".to_string(), 20));
        assert_eq!(types[2], ("deployments.apps".to_string(), 7));
        let other = types.last().unwrap();
        assert_eq!(other.0, "other");
        assert!(other.1 >= 2);
    }
}
