//! The verdicts: pure functions from [`Gathered`] to [`Finding`]s. Each
//! threshold is a named constant with its source; README lists them all.

use crate::ops::plural;
use std::collections::BTreeMap;
use std::time::Duration;

use super::gather::{Gathered, MemberFacts};
use super::{certs, Check, Finding, Severity};
use crate::etcd::metrics::{Histogram, Metrics};
use crate::etcd::{self, format_id};
use crate::ops::quota::{self, Quota};
use crate::output::{human_bytes, human_duration, percent};

/// etcd's hardware guidance: WAL fsync p99 under 10 ms.
pub const WAL_FSYNC_P99: f64 = 0.010;
/// etcd's hardware guidance: backend commit p99 under 25 ms.
pub const BACKEND_COMMIT_P99: f64 = 0.025;
/// etcd's tuning guide sizes the heartbeat (default 100 ms) to the peer
/// round trip; warn when the p99 takes half of the default.
pub const PEER_RTT_P99: f64 = 0.050;
/// A steady backlog of proposals (kubectl-etcd).
pub const PROPOSALS_PENDING: f64 = 100.0;
/// Share of the file-descriptor limit in use.
pub const OPEN_FDS_PERCENT: f64 = 80.0;
/// Read and write probes (kubectl-etcd): etcd logs requests over 100 ms as
/// "apply request took too long".
pub const PROBE_SLOW: Duration = Duration::from_millis(100);
/// Quota use (kubectl-etcd): warn from 80 %, fail from 95 %.
pub const QUOTA_WARN: f64 = 80.0;
pub const QUOTA_FAIL: f64 = 95.0;
/// Fragmentation worth a defrag: half the file and at least 100 MiB.
pub const FRAG_SHARE: f64 = 50.0;
pub const FRAG_MIN: u64 = 100 * 1024 * 1024;
/// History never compacted past this many revisions is growth nobody
/// stops (kube-apiserver compacts every 5 minutes by default).
pub const HISTORY_UNCOMPACTED: i64 = 100_000;
/// Events more than half of the keys: kube-apiserver's `--event-ttl`.
pub const EVENTS_SHARE: f64 = 50.0;
/// Raft entries a learner may be behind before it counts as far behind.
pub const LEARNER_BEHIND: u64 = 1000;
/// Certificates (kubectl-etcd): warn under 30 days, fail under 7.
pub const CERT_WARN_DAYS: i64 = 30;
pub const CERT_FAIL_DAYS: i64 = 7;
/// etcd's tuning guide: election timeout about 10 heartbeats (etcd refuses
/// to start under 5).
pub const ELECTION_HEARTBEATS: f64 = 10.0;
/// etcd's default `--snapshot-count` (3.4, 3.5): more keeps more raft
/// entries in memory.
pub const SNAPSHOT_COUNT: u64 = 100_000;

/// Every finding of the selected checks, in check order.
pub fn run(g: &Gathered, checks: &[Check]) -> Vec<Finding> {
    let mut out = reachability(g);
    for c in Check::ALL.iter().filter(|c| checks.contains(c)) {
        out.extend(match c {
            Check::Health => health(g),
            Check::Agreement => agreement(g),
            Check::Consistency => consistency(g),
            Check::Latency => latency(g),
            Check::Probes => probes(g),
            Check::Space => space(g),
            Check::Certificates => certificates(g),
            Check::Kubernetes => kubernetes(g),
        });
    }
    out
}

/// A cause kept in [`Gathered`] as the operator's one line (a finding's
/// detail), worded by [`crate::error`].
fn line<E: Clone + Into<crate::error::Error>>(e: &E) -> String {
    e.clone().into().message
}

fn answered(g: &Gathered) -> impl Iterator<Item = &MemberFacts> {
    g.members.iter().filter(|m| m.status.is_some())
}

/// A member that cannot be reached is a `fail`, whatever was asked.
pub fn reachability(g: &Gathered) -> Vec<Finding> {
    g.members
        .iter()
        .filter(|m| m.status.is_none())
        .map(|m| {
            let next = match &m.pod {
                Some(p) => format!("kubectl logs -n {} {} --tail 50", p.namespace, p.name),
                None => "kubectl etcd members".to_string(),
            };
            Finding::new("reachable", &m.label, Severity::Fail)
                .value("unreachable")
                .detail(format!(
                    "cannot ask `{}`: {}",
                    m.endpoint,
                    m.error.as_ref().map(line).as_deref().unwrap_or("no answer")
                ))
                .next(next)
        })
        .collect()
}

pub fn health(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in answered(g) {
        match &m.health {
            Some(Ok(took)) => out.push(
                Finding::new("health", &m.label, Severity::Ok)
                    .value(human_duration(*took))
                    .detail("answers a linearizable read"),
            ),
            Some(Err(e)) => out.push(
                Finding::new("health", &m.label, Severity::Fail)
                    .value("no read")
                    .detail(format!("a linearizable read failed: {}", line(e)))
                    .next("kubectl etcd status"),
            ),
            None => {}
        }
    }
    if let Some(e) = &g.alarms_error {
        out.push(
            Finding::new("alarms", "cluster", Severity::Warn)
                .value("unknown")
                .detail(format!("cannot read the alarm list: {}", line(e)))
                .next("kubectl etcd status"),
        );
    } else if g.alarms.is_empty() {
        out.push(
            Finding::new("alarms", "cluster", Severity::Ok)
                .value("none")
                .detail("no NOSPACE or CORRUPT alarm"),
        );
    }
    for a in &g.alarms {
        let who = g
            .member_name(a.member_id)
            .map(str::to_string)
            .unwrap_or_else(|| format_id(a.member_id));
        let f = Finding::new("alarms", &who, Severity::Fail).value(a.alarm.clone());
        out.push(match a.alarm.as_str() {
            "NOSPACE" => f
                .threshold("the backend quota")
                .detail("NOSPACE alarm: every write is refused until it is disarmed")
                .next("kubectl etcd recover-space"),
            "CORRUPT" => f
                .detail("CORRUPT alarm: this member's data differs from the others'")
                .next(replace_next(&who)),
            _ => f.detail(format!("{} alarm is active", a.alarm)),
        });
    }
    out
}

fn replace_next(who: &str) -> String {
    format!("kubectl etcd snapshot save healthy.db, then kubectl etcd resize replace {who}")
}

pub fn agreement(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    let members: Vec<&MemberFacts> = answered(g).collect();
    // Cluster id and member list, as each member sees them.
    let views: Vec<(&str, u64, Vec<u64>)> = members
        .iter()
        .filter_map(|m| match &m.view {
            Some(Ok(v)) => {
                let mut ids: Vec<u64> = v.members.iter().map(|m| m.id).collect();
                ids.sort();
                Some((m.label.as_str(), v.cluster_id, ids))
            }
            _ => None,
        })
        .collect();
    let common_cluster = majority(views.iter().map(|v| v.1));
    let common_list = majority(views.iter().map(|v| v.2.clone()));
    let mut disagree = false;
    for (label, cluster, ids) in &views {
        if Some(*cluster) != common_cluster {
            disagree = true;
            out.push(
                Finding::new("agreement", label, Severity::Fail)
                    .value(format!("cluster {}", format_id(*cluster)))
                    .detail(format!(
                        "belongs to another cluster than the majority ({})",
                        common_cluster.map(format_id).unwrap_or_default()
                    ))
                    .next("kubectl etcd members"),
            );
        } else if Some(ids) != common_list.as_ref() {
            disagree = true;
            out.push(
                Finding::new("agreement", label, Severity::Fail)
                    .value(format!("{} member{}", ids.len(), plural(ids.len())))
                    .detail("its member list differs from the majority's")
                    .next("kubectl etcd members"),
            );
        }
    }
    for m in &members {
        if let Some(Err(e)) = &m.view {
            disagree = true;
            out.push(
                Finding::new("agreement", &m.label, Severity::Warn)
                    .value("no member list")
                    .detail(format!("cannot read its member list: {}", line(e))),
            );
        }
    }
    // Leader and term.
    let leaders = majority(
        members
            .iter()
            .filter_map(|m| m.status.as_ref().map(|s| s.leader)),
    );
    let max_term = members
        .iter()
        .filter_map(|m| m.status.as_ref().map(|s| s.raft_term))
        .max()
        .unwrap_or(0);
    for m in &members {
        let s = m.status.as_ref().expect("answered");
        if s.leader == 0 {
            disagree = true;
            out.push(
                Finding::new("leader", &m.label, Severity::Fail)
                    .value("none")
                    .detail("this member has no leader")
                    .next("kubectl etcd status"),
            );
        } else if Some(s.leader) != leaders || s.raft_term != max_term {
            disagree = true;
            out.push(
                Finding::new("leader", &m.label, Severity::Warn)
                    .value(format!("{} term {}", format_id(s.leader), s.raft_term))
                    .detail(format!(
                        "sees another leader or an older term than the others (term {max_term})"
                    ))
                    .next("kubectl etcd status"),
            );
        }
    }
    if !disagree && !members.is_empty() {
        let leader = leaders
            .map(|l| {
                g.member_name(l)
                    .map(str::to_string)
                    .unwrap_or_else(|| format_id(l))
            })
            .unwrap_or_default();
        // Members that did not answer are in the list, not in the count.
        let listed = common_list.as_ref().map_or(views.len(), Vec::len);
        let (value, who) = match views.len() {
            n if n < listed => (
                format!("{n} of {listed} members"),
                "every member that answered",
            ),
            n => (format!("{n} member{}", plural(n)), "every member"),
        };
        out.push(
            Finding::new("agreement", "cluster", Severity::Ok)
                .value(format!("{value}, term {max_term}"))
                .detail(format!(
                    "{who} sees the same cluster, members and leader ({leader})"
                )),
        );
    }
    // Versions.
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &members {
        let s = m.status.as_ref().expect("answered");
        versions.entry(&s.version).or_default().push(&m.label);
    }
    if versions.len() > 1 {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, ms)| format!("{v} ({})", ms.join(", ")))
            .collect();
        out.push(
            Finding::new("version", "cluster", Severity::Warn)
                .value(list.join("; "))
                .detail("members run different etcd versions: finish the upgrade"),
        );
    } else if let Some(v) = versions.keys().next() {
        out.push(
            Finding::new("version", "cluster", Severity::Ok)
                .value(v.to_string())
                .detail("every member runs the same version"),
        );
    }
    // Learners and members that never started.
    let max_applied = members
        .iter()
        .filter_map(|m| m.status.as_ref().map(|s| s.raft_applied_index))
        .max()
        .unwrap_or(0);
    for mem in g.member_list.iter().flatten() {
        let label = if mem.name.is_empty() {
            format_id(mem.id)
        } else {
            mem.name.clone()
        };
        if !mem.started() {
            out.push(
                Finding::new("membership", &label, Severity::Warn)
                    .value("never started")
                    .detail("in the member list but never started: it still counts for quorum")
                    .next(format!("kubectl etcd resize remove {}", format_id(mem.id))),
            );
            continue;
        }
        if mem.is_learner {
            let behind = members
                .iter()
                .filter_map(|m| m.status.as_ref())
                .find(|s| s.member_id == mem.id)
                .map(|s| max_applied.saturating_sub(s.raft_applied_index));
            let f = Finding::new("learner", &label, Severity::Warn)
                .threshold(format!("{LEARNER_BEHIND} entries behind"));
            out.push(match behind {
                Some(b) if b > LEARNER_BEHIND => f
                    .value(format!("{b} entries behind"))
                    .detail("a learner far behind the leader"),
                Some(b) => f
                    .value(format!("{b} entries behind"))
                    .detail("a learner that has caught up but is not promoted")
                    .next(format!("etcdctl member promote {}", format_id(mem.id))),
                None => f
                    .value("not asked")
                    .detail("a learner not promoted (not among the endpoints asked)"),
            });
        }
    }
    out
}

/// The value more than half of the items share.
fn majority<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Option<T> {
    let all: Vec<T> = items.collect();
    all.iter()
        .find(|a| all.iter().filter(|b| b == a).count() * 2 > all.len())
        .cloned()
}

pub fn consistency(g: &Gathered) -> Vec<Finding> {
    let Some(rev) = g.hash_revision else {
        return vec![Finding::new("consistency", "cluster", Severity::Warn)
            .value("not compared")
            .detail("no voting member gave a revision to compare at")];
    };
    let hashed: Vec<(&MemberFacts, u32)> = g
        .members
        .iter()
        .filter_map(|m| match &m.hash {
            Some(Ok(h)) => Some((m, h.hash)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for m in &g.members {
        if let Some(Err(e)) = &m.hash {
            out.push(
                Finding::new("consistency", &m.label, Severity::Warn)
                    .value("no hash")
                    .detail(format!("HashKV at revision {rev} failed: {}", line(e))),
            );
        }
    }
    let common = majority(hashed.iter().map(|(_, h)| *h));
    match common {
        None if hashed.len() > 1 => {
            for (m, h) in &hashed {
                out.push(
                    Finding::new("consistency", &m.label, Severity::Fail)
                        .value(format!("{h:08x}"))
                        .threshold("the majority's hash")
                        .detail(format!(
                            "no majority hash at revision {rev}: the members' data differ"
                        ))
                        .next("kubectl etcd status"),
                );
            }
        }
        None => {}
        Some(common) => {
            let odd: Vec<&&MemberFacts> = hashed
                .iter()
                .filter(|(_, h)| *h != common)
                .map(|(m, _)| m)
                .collect();
            for m in &odd {
                let h = hashed.iter().find(|(x, _)| x.label == m.label).map(|x| x.1);
                out.push(
                    Finding::new("consistency", &m.label, Severity::Fail)
                        .value(format!("{:08x}", h.unwrap_or(0)))
                        .threshold(format!("{common:08x} (majority)"))
                        .detail(format!(
                            "its keyspace hash at revision {rev} differs from the majority's: its data diverged"
                        ))
                        .next(replace_next(&m.label)),
                );
            }
            if odd.is_empty() {
                out.push(
                    Finding::new("consistency", "cluster", Severity::Ok)
                        .value(format!("{common:08x}"))
                        .detail(format!(
                            "{} voting member{} hash{} the same at revision {rev}",
                            hashed.len(),
                            plural(hashed.len()),
                            if hashed.len() == 1 { "es" } else { "" }
                        )),
                );
            }
        }
    }
    out
}

fn ms(seconds: f64) -> String {
    human_duration(Duration::from_secs_f64(seconds.max(0.0)))
}

/// A latency histogram judged by its p99 over the window.
pub struct LatencyCheck {
    pub check: &'static str,
    pub what: &'static str,
    pub metric: &'static str,
    /// Seconds.
    pub limit: f64,
    pub source: &'static str,
    pub next: &'static str,
}

pub const WAL_FSYNC: LatencyCheck = LatencyCheck {
    check: "wal-fsync",
    what: "WAL fsync",
    metric: "etcd_disk_wal_fsync_duration_seconds",
    limit: WAL_FSYNC_P99,
    source: "etcd hardware guidance",
    next: "move etcd's data dir (--wal-dir) to a faster disk (SSD); check disk contention",
};

pub const BACKEND_COMMIT: LatencyCheck = LatencyCheck {
    check: "backend-commit",
    what: "backend commit",
    metric: "etcd_disk_backend_commit_duration_seconds",
    limit: BACKEND_COMMIT_P99,
    source: "etcd hardware guidance",
    next: "move etcd's data dir to a faster disk (SSD); defragment if the db is large",
};

pub const PEER_RTT: LatencyCheck = LatencyCheck {
    check: "peer-rtt",
    what: "peer round trip",
    metric: "etcd_network_peer_round_trip_time_seconds",
    limit: PEER_RTT_P99,
    source: "etcd tuning guide",
    next: "check the network between members; raise --heartbeat-interval to the round trip",
};

/// p99 of a histogram over the window.
fn p99_finding(
    c: &LatencyCheck,
    m: &MemberFacts,
    before: Option<Histogram>,
    after: Option<Histogram>,
) -> Finding {
    let what = c.what;
    let f = Finding::new(c.check, &m.label, Severity::Ok).threshold(format!(
        "p99 < {} ({})",
        ms(c.limit),
        c.source
    ));
    let (Some(before), Some(after)) = (before, after) else {
        return f
            .value("not exported")
            .detail(format!("{what}: not in the metrics"));
    };
    let Some(window) = after.since(&before) else {
        return f.value("reset").detail(format!(
            "{what}: counters went back (a restart during the window)"
        ));
    };
    match window.quantile(0.99) {
        None => f
            .value("no samples")
            .detail(format!("{what}: no samples in the window")),
        Some(p99) if p99 > c.limit => Finding {
            severity: Severity::Warn,
            ..f.value(format!("p99 {}", ms(p99)))
                .detail(format!(
                    "{what} p99 over the window is {} ({} samples)",
                    ms(p99),
                    window.count()
                ))
                .next(c.next)
        },
        Some(p99) => f.value(format!("p99 {}", ms(p99))).detail(format!(
            "{what} p99 over the window ({} samples)",
            window.count()
        )),
    }
}

fn counter_finding(
    check: &str,
    what: &str,
    m: &MemberFacts,
    before: &Metrics,
    after: &Metrics,
    name: &str,
) -> Option<Finding> {
    let total = after.value(name)?;
    let delta = before
        .value(name)
        .map(|b| total - b)
        .unwrap_or(0.0)
        .max(0.0);
    let f = Finding::new(check, &m.label, Severity::Ok)
        .value(format!("{delta} in the window, {total} in total"))
        .threshold("none in the window");
    Some(if delta > 0.0 {
        Finding {
            severity: Severity::Warn,
            ..f.detail(format!("{what}: {delta} during the window ({name})"))
        }
    } else {
        f.detail(format!("{what}: none during the window ({name})"))
    })
}

pub fn latency(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in answered(g) {
        let (before, after) = match &m.metrics {
            None => continue,
            Some(Err(e)) => {
                out.push(
                    Finding::new("metrics", &m.label, Severity::Warn)
                        .value("unreadable")
                        .detail(format!("cannot read its metrics: {}", line(e))),
                );
                continue;
            }
            Some(Ok(pair)) => pair,
        };
        out.push(
            Finding::new("metrics", &m.label, Severity::Ok)
                .value(m.metrics_source.clone().unwrap_or_default())
                .detail(format!(
                    "scraped twice, {} apart",
                    humantime::format_duration(g.window)
                )),
        );
        for c in [&WAL_FSYNC, &BACKEND_COMMIT, &PEER_RTT] {
            let (b, a) = (before.histogram(c.metric), after.histogram(c.metric));
            // Peer round trips exist only with peers.
            if c.check == PEER_RTT.check && b.is_none() && a.is_none() {
                continue;
            }
            out.push(p99_finding(c, m, b, a));
        }
        for (check, what, name) in [
            (
                "leader-changes",
                "leader changes",
                "etcd_server_leader_changes_seen_total",
            ),
            (
                "proposals-failed",
                "failed proposals",
                "etcd_server_proposals_failed_total",
            ),
            (
                "slow-apply",
                "applies over 100ms",
                "etcd_server_slow_apply_total",
            ),
            (
                "slow-read-index",
                "slow read indexes",
                "etcd_server_slow_read_indexes_total",
            ),
            (
                "heartbeat-failures",
                "heartbeats not sent",
                "etcd_server_heartbeat_send_failures_total",
            ),
        ] {
            out.extend(counter_finding(check, what, m, before, after, name));
        }
        if let Some(p) = after.value("etcd_server_proposals_pending") {
            let f = Finding::new("proposals-pending", &m.label, Severity::Ok)
                .value(format!("{p}"))
                .threshold(format!("< {PROPOSALS_PENDING} (kubectl-etcd)"));
            out.push(if p >= PROPOSALS_PENDING {
                Finding {
                    severity: Severity::Warn,
                    ..f.detail("proposals wait to be committed: the leader or disk is overloaded")
                }
            } else {
                f.detail("proposals waiting to be committed")
            });
        }
        if let Some(rss) = after.value("process_resident_memory_bytes") {
            out.push(
                Finding::new("memory", &m.label, Severity::Ok)
                    .value(human_bytes(rss as u64))
                    .detail("resident memory of the etcd process"),
            );
        }
        if let (Some(open), Some(max)) = (
            after.value("process_open_fds"),
            after.value("process_max_fds"),
        ) {
            let pct = percent(open as u64, max as u64);
            let f = Finding::new("open-fds", &m.label, Severity::Ok)
                .value(format!("{open} of {max} ({pct:.1}%)"))
                .threshold(format!("< {OPEN_FDS_PERCENT}% of process_max_fds"));
            out.push(if pct >= OPEN_FDS_PERCENT {
                Finding {
                    severity: Severity::Warn,
                    ..f.detail("file descriptors near the limit: raise the nofile limit")
                }
            } else {
                f.detail("file descriptors in use")
            });
        }
    }
    out
}

pub fn probes(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    let probe = |check: &str, what: &str, m: &MemberFacts, r: &etcd::Result<Duration>| {
        let f = Finding::new(check, &m.label, Severity::Ok)
            .threshold(format!("< {} (kubectl-etcd)", human_duration(PROBE_SLOW)));
        match r {
            Ok(d) if *d >= PROBE_SLOW => Finding {
                severity: Severity::Warn,
                ..f.value(human_duration(*d))
                    .detail(format!("{what} is slow"))
                    .next("kubectl etcd doctor --check latency")
            },
            Ok(d) => f.value(human_duration(*d)).detail(what.to_string()),
            Err(e) => Finding {
                severity: Severity::Fail,
                ..f.value("failed")
                    .detail(format!("{what} failed: {}", line(e)))
            },
        }
    };
    for m in answered(g) {
        if let Some(r) = &m.serializable_read {
            out.push(probe(
                "read-serializable",
                &format!(
                    "serializable read (median of {})",
                    super::gather::PROBE_READS
                ),
                m,
                r,
            ));
        }
        if let Some(r) = &m.linearizable_read {
            out.push(probe(
                "read-linearizable",
                &format!(
                    "linearizable read (median of {})",
                    super::gather::PROBE_READS
                ),
                m,
                r,
            ));
        }
        if let Some(r) = &m.write {
            out.push(probe("write", "put committed", m, r));
        }
    }
    out
}

fn flag<'a>(m: &'a MemberFacts, name: &str) -> Option<&'a str> {
    let pod = m.pod.as_ref()?;
    crate::connect::kube::discovery::flag(&pod.flags, name)
}

pub fn member_quota(m: &MemberFacts) -> Quota {
    quota::choose(
        m.status.as_ref().map(|s| s.db_size_quota).unwrap_or(0),
        m.metrics_quota,
        flag(m, "quota-backend-bytes"),
        None,
    )
}

pub fn space(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in answered(g) {
        let s = m.status.as_ref().expect("answered");
        let Quota {
            bytes: quota,
            source,
        } = member_quota(m);
        let pct = percent(s.db_size, quota);
        let nospace = g
            .alarms
            .iter()
            .any(|a| a.alarm == "NOSPACE" && a.member_id == s.member_id);
        let f = Finding::new("quota", &m.label, Severity::Ok)
            .value(format!(
                "{pct:.1}% of {} ({})",
                human_bytes(quota),
                source.as_str()
            ))
            .threshold(format!(
                "warn {QUOTA_WARN}%, fail {QUOTA_FAIL}% (NOSPACE at 100%)"
            ));
        out.push(if nospace || pct >= QUOTA_FAIL {
            Finding {
                severity: Severity::Fail,
                ..f.detail(format!(
                    "db file {} of a {} quota{}: writes are or will soon be refused",
                    human_bytes(s.db_size),
                    human_bytes(quota),
                    if nospace {
                        ", NOSPACE alarm active"
                    } else {
                        ""
                    }
                ))
                .next("kubectl etcd recover-space")
            }
        } else if pct >= QUOTA_WARN {
            Finding {
                severity: Severity::Warn,
                ..f.detail(format!(
                    "db file {} of a {} quota",
                    human_bytes(s.db_size),
                    human_bytes(quota)
                ))
                .next("kubectl etcd compact, then kubectl etcd defrag")
            }
        } else {
            f.detail(format!(
                "db file {} of a {} quota",
                human_bytes(s.db_size),
                human_bytes(quota)
            ))
        });
        let free = s.db_size.saturating_sub(s.db_size_in_use);
        let frag = percent(free, s.db_size);
        let f = Finding::new("fragmentation", &m.label, Severity::Ok)
            .value(format!("{} reclaimable ({frag:.1}%)", human_bytes(free)))
            .threshold(format!(
                "{FRAG_SHARE}% of the file and {}",
                human_bytes(FRAG_MIN)
            ));
        out.push(if frag >= FRAG_SHARE && free >= FRAG_MIN {
            Finding {
                severity: Severity::Warn,
                ..f.detail("a defrag would give this space back to the filesystem")
                    .next(format!("kubectl etcd defrag --if-fragmented {FRAG_SHARE}"))
            }
        } else {
            f.detail("space a defrag would give back")
        });
    }
    if let Some(cur) = g.current_revision {
        let compacted = g.compacted_after.or(g.compacted_before);
        let moved = match (g.compacted_before, g.compacted_after) {
            (Some(b), Some(a)) if a > b => " (compacted during the window)",
            _ => "",
        };
        let f = Finding::new("history", "cluster", Severity::Ok).threshold(format!(
            "compacted, or under {HISTORY_UNCOMPACTED} revisions"
        ));
        out.push(match compacted {
            Some(0) if cur > HISTORY_UNCOMPACTED => Finding {
                severity: Severity::Warn,
                ..f.value(format!("{cur} revisions, never compacted"))
                    .detail("nobody compacts this history: the db grows until NOSPACE (kube-apiserver compacts every 5m unless --etcd-compaction-interval=0)")
                    .next("kubectl etcd compact")
            },
            Some(c) => f
                .value(format!("{} revisions kept", cur - c))
                .detail(format!("current revision {cur}, compacted at {c}{moved}")),
            None => f
                .value(format!("current revision {cur}"))
                .detail("the compacted revision could not be read"),
        });
    }
    if let (Some(total), Some(events)) = (g.total_keys, g.event_keys) {
        let share = percent(events, total);
        let top: Vec<String> = g
            .key_types
            .iter()
            .take(3)
            .map(|(t, n)| format!("{t} {n} ({:.0}%)", percent(*n, total)))
            .collect();
        let leases = g
            .leases
            .map(|n| format!(", {n} leases"))
            .unwrap_or_default();
        let f = Finding::new("key-types", "cluster", Severity::Ok)
            .value(format!("{total} keys, {share:.1}% events{leases}"))
            .threshold(format!("events < {EVENTS_SHARE}% of the keys"));
        let most = if top.is_empty() {
            String::new()
        } else {
            format!("most keys: {}", top.join(", "))
        };
        out.push(if share >= EVENTS_SHARE && total > 1000 {
            Finding {
                severity: Severity::Warn,
                ..f.detail(format!(
                    "events dominate the keys: check kube-apiserver's --event-ttl; {most}"
                ))
                .next("kubectl etcd count events --by-namespace")
            }
        } else {
            f.detail(if most.is_empty() {
                "no keys".to_string()
            } else {
                most
            })
        });
    }
    out
}

fn cert_finding(
    check: &str,
    member: &str,
    der: &[u8],
    now: i64,
    names: Option<&[String]>,
    next: &str,
) -> Finding {
    let c = match certs::read(der) {
        Ok(c) => c,
        Err(e) => {
            return Finding::new(check, member, Severity::Warn)
                .value("unreadable")
                .detail(line(&e))
        }
    };
    let days = (c.not_after - now).div_euclid(86_400);
    let mut f = Finding::new(check, member, Severity::Ok)
        .value(format!("expires {} ({days} days)", c.not_after_date))
        .threshold(format!(
            "warn under {CERT_WARN_DAYS} days, fail under {CERT_FAIL_DAYS}"
        ));
    let mut detail = format!("`{}` valid until {}", c.subject, c.not_after_date);
    if c.not_after <= now {
        f.severity = Severity::Fail;
        detail = format!("`{}` expired on {}", c.subject, c.not_after_date);
    } else if days < CERT_FAIL_DAYS {
        f.severity = Severity::Fail;
        detail = format!(
            "`{}` expires on {} ({days} days)",
            c.subject, c.not_after_date
        );
    } else if days < CERT_WARN_DAYS {
        f.severity = Severity::Warn;
        detail = format!(
            "`{}` expires on {} ({days} days)",
            c.subject, c.not_after_date
        );
    }
    if let Some(names) = names {
        let covered: Vec<&String> = names
            .iter()
            .filter(|n| certs::covers(&c.names, n))
            .collect();
        if covered.is_empty() {
            f.severity = f.severity.max(Severity::Warn);
            detail.push_str(&format!(
                "; names {} but not `{}`",
                c.names.join(", "),
                names.first().map(String::as_str).unwrap_or("")
            ));
        } else {
            detail.push_str(&format!("; covers `{}`", covered[0]));
        }
    }
    if f.severity > Severity::Ok {
        f = f.next(next);
    }
    f.detail(detail)
}

pub fn certificates(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in &g.members {
        match &m.chain {
            None => {}
            Some(Err(e)) => out.push(
                Finding::new("server-cert", &m.label, Severity::Fail)
                    .value("handshake failed")
                    .detail(format!("TLS handshake failed: {}", line(e)))
                    .next("kubeadm certs check-expiration"),
            ),
            Some(Ok(chain)) => {
                if let Some(leaf) = chain.first() {
                    out.push(cert_finding(
                        "server-cert",
                        &m.label,
                        leaf,
                        g.now,
                        Some(&m.names),
                        "renew the etcd server certificate (kubeadm certs renew etcd-server)",
                    ));
                }
            }
        }
    }
    for m in &g.members {
        match &m.peer_cert {
            None => {}
            Some(Err(e)) => out.push(
                Finding::new("peer-cert", &m.label, Severity::Ok)
                    .value("not read")
                    .detail(format!(
                        "its --peer-cert-file could not be read: {}",
                        line(e)
                    )),
            ),
            Some(Ok(der)) => {
                let names: Vec<String> = m.peer_host.iter().cloned().collect();
                out.push(cert_finding(
                    "peer-cert",
                    &m.label,
                    der,
                    g.now,
                    (!names.is_empty()).then_some(names.as_slice()),
                    "renew the etcd peer certificate (kubeadm certs renew etcd-peer)",
                ));
            }
        }
    }
    if let Some(c) = g.client_cert.first() {
        out.push(cert_finding(
            "client-cert",
            "cluster",
            c,
            g.now,
            None,
            "renew the client certificate (kubeadm certs renew apiserver-etcd-client)",
        ));
    }
    for c in &g.ca {
        out.push(cert_finding(
            "ca-cert",
            "cluster",
            c,
            g.now,
            None,
            "plan a CA rotation: https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/",
        ));
    }
    out
}

pub fn kubernetes(g: &Gathered) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in &g.members {
        let Some(p) = &m.pod else { continue };
        let f = Finding::new("pod-restarts", &m.label, Severity::Ok)
            .value(format!("{} restarts", p.restarts))
            .threshold("no restarts");
        out.push(match (&p.last_termination, p.restarts) {
            (_, 0) => f.detail(format!("pod {} has not restarted", p.name)),
            (Some((reason, code)), _) => Finding {
                severity: Severity::Warn,
                ..f.detail(format!(
                    "pod {} restarted; last termination: {reason} (exit {code})",
                    p.name
                ))
                .next(format!(
                    "kubectl logs -n {} {} --previous --tail 50",
                    p.namespace, p.name
                ))
            },
            (None, _) => Finding {
                severity: Severity::Warn,
                ..f.detail(format!("pod {} restarted", p.name)).next(format!(
                    "kubectl logs -n {} {} --previous --tail 50",
                    p.namespace, p.name
                ))
            },
        });
        let mut problems = Vec::new();
        let hb = flag(m, "heartbeat-interval").and_then(|v| v.parse::<f64>().ok());
        let el = flag(m, "election-timeout").and_then(|v| v.parse::<f64>().ok());
        let (hb, el) = (hb.unwrap_or(100.0), el.unwrap_or(1000.0));
        if hb > 0.0 && el / hb < ELECTION_HEARTBEATS {
            problems.push(format!(
                "--election-timeout {el} is {:.1} heartbeats ({hb}ms), under {ELECTION_HEARTBEATS}",
                el / hb
            ));
        }
        if let Some(sc) = flag(m, "snapshot-count").and_then(|v| v.parse::<u64>().ok()) {
            if sc > SNAPSHOT_COUNT {
                problems.push(format!(
                    "--snapshot-count {sc} keeps more than {SNAPSHOT_COUNT} raft entries in memory"
                ));
            }
        }
        let auto = flag(m, "auto-compaction-retention").filter(|v| !v.is_empty() && *v != "0");
        let never_compacted = g.compacted_after.or(g.compacted_before) == Some(0)
            && g.current_revision.unwrap_or(0) > HISTORY_UNCOMPACTED;
        if auto.is_none() && never_compacted {
            problems.push(
                "--auto-compaction-retention is off while the history was never compacted"
                    .to_string(),
            );
        }
        if let (Some(q), Some(s)) = (
            flag(m, "quota-backend-bytes").and_then(|v| v.parse::<i64>().ok()),
            &m.status,
        ) {
            if q > 0 && percent(s.db_size, q as u64) >= QUOTA_WARN {
                problems.push(format!(
                    "--quota-backend-bytes {} is nearly used: db file {}",
                    human_bytes(q as u64),
                    human_bytes(s.db_size)
                ));
            }
        }
        let f = Finding::new("pod-flags", &m.label, Severity::Ok).threshold(
            "etcd tuning guide: election ≥ 10 heartbeats; snapshot-count ≤ 100000; compaction on",
        );
        out.push(if problems.is_empty() {
            f.value("ok").detail(format!(
                "heartbeat {hb}ms, election {el}ms, quota {}",
                flag(m, "quota-backend-bytes").unwrap_or("default")
            ))
        } else {
            Finding {
                severity: Severity::Warn,
                ..f.value(format!("{} risky", problems.len()))
                    .detail(problems.join("; "))
                    .next(format!(
                        "kubectl get pod -n {} {} -o yaml",
                        p.namespace, p.name
                    ))
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::probes::{Hash, View};
    use crate::etcd::{Alarm, Member, Status};

    fn status(id: u64, leader: u64, db: u64) -> Status {
        Status {
            member_id: id,
            version: "3.4.23".into(),
            db_size: db,
            db_size_in_use: db / 2,
            db_size_quota: 0,
            quota_origin: crate::etcd::QuotaOrigin::Status,
            leader,
            raft_term: 2,
            raft_index: 100,
            raft_applied_index: 100,
            revision: 50,
            is_learner: false,
            errors: vec![],
            cluster_id: 0,
        }
    }

    fn member(id: u64, name: &str) -> Member {
        Member {
            id,
            name: name.into(),
            peer_urls: vec![],
            client_urls: vec![],
            is_learner: false,
        }
    }

    fn cluster(n: u64) -> Gathered {
        let list: Vec<Member> = (1..=n).map(|i| member(i, &format!("m{i}"))).collect();
        Gathered {
            member_list: Some(list.clone()),
            members: (1..=n)
                .map(|i| MemberFacts {
                    label: format!("m{i}"),
                    endpoint: format!("http://m{i}"),
                    status: Some(status(i, 1, 10 << 20)),
                    health: Some(Ok(Duration::from_millis(2))),
                    view: Some(Ok(View {
                        cluster_id: 7,
                        members: list.clone(),
                    })),
                    hash: Some(Ok(Hash {
                        hash: 0xabc,
                        compact_revision: 0,
                    })),
                    ..Default::default()
                })
                .collect(),
            hash_revision: Some(50),
            current_revision: Some(50),
            compacted_before: Some(0),
            compacted_after: Some(0),
            ..Default::default()
        }
    }

    fn worst(findings: &[Finding]) -> Severity {
        findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    #[test]
    fn a_healthy_cluster_is_ok_everywhere() {
        let g = cluster(3);
        let all = run(&g, &Check::ALL);
        assert_eq!(worst(&all), Severity::Ok, "{all:#?}");
        assert!(all
            .iter()
            .any(|f| f.check == "consistency" && f.member == "cluster"));
    }

    #[test]
    fn an_unreachable_member_fails_and_the_others_are_still_checked() {
        let mut g = cluster(3);
        g.members[2].status = None;
        g.members[2].error = Some(etcd::Error::Connect(crate::connect::Error::Refused));
        g.members[2].hash = None;
        let all = run(&g, &Check::ALL);
        let fails: Vec<&Finding> = all
            .iter()
            .filter(|f| f.severity == Severity::Fail)
            .collect();
        assert_eq!(fails.len(), 1, "{fails:#?}");
        assert_eq!(fails[0].member, "m3");
        assert_eq!(
            fails[0].detail,
            "cannot ask `http://m3`: connection refused"
        );
        assert!(all.iter().any(|f| f.check == "health" && f.member == "m1"));
    }

    #[test]
    fn a_kept_cause_is_worded_once_in_the_finding() {
        let mut g = cluster(2);
        g.members[0].health = Some(Err(etcd::Error::NoLeader));
        g.members[1].serializable_read = Some(Err(etcd::Error::NoAnswer(Duration::from_secs(5))));
        g.members[1].hash = Some(Err(etcd::Error::Compacted));
        let f = health(&g);
        assert_eq!(
            f[0].detail,
            "a linearizable read failed: the cluster has no leader (quorum lost)"
        );
        let f = probes(&g);
        assert_eq!(
            f[0].detail,
            "serializable read (median of 5) failed: no answer within 5s"
        );
        let f = consistency(&g);
        assert_eq!(
            f[0].detail,
            "HashKV at revision 50 failed: the revision read has been compacted: etcd no longer \
             has it"
        );
    }

    #[test]
    fn the_member_whose_hash_differs_from_the_majority_is_named() {
        let mut g = cluster(3);
        g.members[1].hash = Some(Ok(Hash {
            hash: 0xdef,
            compact_revision: 0,
        }));
        let f = consistency(&g);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].member.as_str(), f[0].severity),
            ("m2", Severity::Fail)
        );
        assert!(f[0].next.as_deref().unwrap().contains("resize replace m2"));
    }

    #[test]
    fn nospace_fails_with_recover_space_next() {
        let mut g = cluster(1);
        g.alarms = vec![Alarm {
            member_id: 1,
            alarm: "NOSPACE".into(),
        }];
        let all = run(&g, &[Check::Health, Check::Space]);
        let quota = all.iter().find(|f| f.check == "quota").unwrap();
        assert_eq!(quota.severity, Severity::Fail);
        assert_eq!(quota.next.as_deref(), Some("kubectl etcd recover-space"));
        let alarm = all.iter().find(|f| f.check == "alarms").unwrap();
        assert_eq!(alarm.next.as_deref(), Some("kubectl etcd recover-space"));
    }

    #[test]
    fn quota_use_warns_from_80_and_fails_from_95_percent() {
        let mut g = cluster(1);
        g.members[0].status.as_mut().unwrap().db_size_quota = 100 << 20;
        g.members[0].status.as_mut().unwrap().db_size = 85 << 20;
        assert_eq!(worst(&space(&g)), Severity::Warn);
        g.members[0].status.as_mut().unwrap().db_size = 96 << 20;
        assert_eq!(worst(&space(&g)), Severity::Fail);
    }

    #[test]
    fn fragmentation_needs_half_the_file_and_100_mib() {
        let mut g = cluster(1);
        let s = g.members[0].status.as_mut().unwrap();
        s.db_size = 300 << 20;
        s.db_size_in_use = 100 << 20;
        let f = space(&g);
        let frag = f.iter().find(|f| f.check == "fragmentation").unwrap();
        assert_eq!(frag.severity, Severity::Warn);
        assert!(frag
            .next
            .as_deref()
            .unwrap()
            .starts_with("kubectl etcd defrag --if-fragmented"));
    }

    #[test]
    fn events_dominating_the_keys_warn_and_the_top_types_are_named() {
        let mut g = cluster(1);
        g.total_keys = Some(10_000);
        g.event_keys = Some(6_000);
        g.key_types = vec![
            ("events".into(), 6_000),
            ("pods".into(), 3_000),
            ("other".into(), 1_000),
        ];
        let f = space(&g)
            .into_iter()
            .find(|f| f.check == "key-types")
            .unwrap();
        assert_eq!(f.severity, Severity::Warn);
        assert!(
            f.detail.contains("events 6000 (60%), pods 3000 (30%)"),
            "{}",
            f.detail
        );
        g.event_keys = Some(100);
        let f = space(&g)
            .into_iter()
            .find(|f| f.check == "key-types")
            .unwrap();
        assert_eq!(f.severity, Severity::Ok);
    }

    #[test]
    fn a_never_compacted_long_history_warns() {
        let mut g = cluster(1);
        g.current_revision = Some(HISTORY_UNCOMPACTED + 1);
        let h = space(&g)
            .into_iter()
            .find(|f| f.check == "history")
            .unwrap();
        assert_eq!(h.severity, Severity::Warn);
        g.compacted_after = Some(HISTORY_UNCOMPACTED - 10);
        let h = space(&g)
            .into_iter()
            .find(|f| f.check == "history")
            .unwrap();
        assert_eq!(h.severity, Severity::Ok);
    }

    #[test]
    fn version_skew_and_a_member_that_never_started_warn() {
        let mut g = cluster(3);
        g.members[2].status.as_mut().unwrap().version = "3.5.16".into();
        let mut list = g.member_list.clone().unwrap();
        list.push(member(9, ""));
        g.member_list = Some(list);
        let f = agreement(&g);
        assert!(f
            .iter()
            .any(|f| f.check == "version" && f.severity == Severity::Warn));
        let never = f.iter().find(|f| f.check == "membership").unwrap();
        assert_eq!(never.member, format_id(9));
    }

    #[test]
    fn another_leader_or_cluster_id_is_named() {
        let mut g = cluster(3);
        if let Some(Ok(v)) = &mut g.members[0].view {
            v.cluster_id = 8;
        }
        g.members[1].status.as_mut().unwrap().leader = 2;
        let f = agreement(&g);
        assert!(f
            .iter()
            .any(|f| f.member == "m1" && f.check == "agreement" && f.severity == Severity::Fail));
        assert!(f.iter().any(|f| f.member == "m2" && f.check == "leader"));
    }

    fn hist(buckets: &[(f64, f64)]) -> Histogram {
        Histogram {
            labels: vec![],
            buckets: buckets.to_vec(),
        }
    }

    #[test]
    fn slow_wal_fsync_over_the_window_warns_and_an_empty_window_says_so() {
        let m = MemberFacts {
            label: "m1".into(),
            ..Default::default()
        };
        let before = hist(&[(0.008, 10.0), (0.128, 10.0), (f64::INFINITY, 10.0)]);
        let after = hist(&[(0.008, 10.0), (0.128, 30.0), (f64::INFINITY, 30.0)]);
        let f = p99_finding(&WAL_FSYNC, &m, Some(before.clone()), Some(after));
        assert_eq!(f.severity, Severity::Warn, "{f:?}");
        let f = p99_finding(&WAL_FSYNC, &m, Some(before.clone()), Some(before));
        assert_eq!(f.severity, Severity::Ok);
        assert!(f.detail.contains("no samples in the window"));
    }

    #[test]
    fn certificates_warn_under_30_days_fail_under_7_and_check_names() {
        use super::super::certs::tests::cert;
        let finding = |days: i64, names: &[String]| {
            let (der, now) = cert(&["127.0.0.1"], days);
            cert_finding("server-cert", "m0", &der, now, Some(names), "renew")
        };
        let here = vec!["127.0.0.1".to_string()];
        assert_eq!(finding(90, &here).severity, Severity::Ok);
        let f = finding(20, &here);
        assert_eq!(f.severity, Severity::Warn);
        assert!(f.detail.contains("(20 days)") && f.detail.contains("covers `127.0.0.1`"));
        assert_eq!(f.next.as_deref(), Some("renew"));
        assert_eq!(finding(5, &here).severity, Severity::Fail);
        assert!(finding(-1, &here).detail.contains("expired on"));
        let f = finding(90, &["10.0.0.9".to_string()]);
        assert_eq!(f.severity, Severity::Warn);
        assert!(f.detail.contains("but not `10.0.0.9`"), "{}", f.detail);
    }

    #[test]
    fn a_pod_that_restarted_after_an_oom_kill_warns_with_its_logs() {
        let mut g = cluster(1);
        g.members[0].pod = Some(super::super::gather::PodFacts {
            namespace: "kube-system".into(),
            name: "etcd-a".into(),
            restarts: 3,
            last_termination: Some(("OOMKilled".into(), 137)),
            flags: vec![
                ("heartbeat-interval".into(), "500".into()),
                ("election-timeout".into(), "2500".into()),
            ],
        });
        let f = kubernetes(&g);
        let r = f.iter().find(|f| f.check == "pod-restarts").unwrap();
        assert_eq!(r.severity, Severity::Warn);
        assert!(r.detail.contains("OOMKilled"));
        let flags = f.iter().find(|f| f.check == "pod-flags").unwrap();
        assert_eq!(flags.severity, Severity::Warn);
        assert!(flags.detail.contains("5.0 heartbeats"), "{}", flags.detail);
    }
}
