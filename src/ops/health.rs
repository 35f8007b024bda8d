//! `health` as data: a linearizable read on every member, plus active
//! alarms, and the verdict that decides the exit code.

use serde::Serialize;

use crate::context::Cluster;
use crate::error::{Error, ExitCode};
use crate::etcd::{self, format_id, EtcdClient};
use crate::output::human_duration;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHealth {
    pub endpoint: String,
    pub pod: Option<String>,
    pub health: bool,
    /// Round trip of the health read, e.g. `1.2ms`.
    pub took: Option<String>,
    pub took_seconds: Option<f64>,
    /// Why the member is unhealthy; `null` when healthy.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub endpoints: Vec<EndpointHealth>,
    /// Members that could not be reached at all (or refused TLS/auth).
    #[serde(skip)]
    pub unreachable: usize,
    /// The `help:` line every failed member shares (an http:// endpoint
    /// on a TLS member, a wrong CA), for the verdict when none answered.
    #[serde(skip)]
    pub hint: Option<String>,
}

/// Ask every member of `cluster`; a member that fails is a row, not an error.
pub async fn gather(cluster: &Cluster) -> crate::ops::Result<HealthReport> {
    let clients = cluster.connect_all().await;
    let checks = futures::future::join_all(clients.into_iter().map(|c| async move {
        let client = c?;
        let took = etcd::health_check(&client).await?;
        Ok::<_, Error>((took, alarm_problem(&client).await))
    }))
    .await;

    // Every member unreachable (or TLS/auth refused) is "could not be
    // reached at all": exit 3, as for status and count.
    let unreachable = checks
        .iter()
        .filter(|c| matches!(c, Err(e) if e.exit_code() == ExitCode::Unavailable))
        .count();
    let hints: Vec<Option<&String>> = checks
        .iter()
        .filter_map(|c| c.as_ref().err().map(|e| e.hint.as_ref()))
        .collect();
    let hint = match hints.first() {
        Some(Some(h)) if hints.iter().all(|o| *o == Some(*h)) => Some((*h).clone()),
        _ => None,
    };
    let endpoints: Vec<EndpointHealth> = cluster
        .targets
        .iter()
        .zip(checks)
        .map(|(t, check)| {
            let (took, error) = match check {
                Ok((took, None)) => (Some(took), None),
                Ok((took, Some(alarm))) => (Some(took), Some(alarm)),
                Err(e) => (None, Some(e.message)),
            };
            EndpointHealth {
                endpoint: t.endpoint.clone(),
                pod: t.pod.as_ref().map(|p| p.name.clone()),
                health: error.is_none(),
                took: took.map(human_duration),
                took_seconds: took.map(|d| d.as_secs_f64()),
                error,
            }
        })
        .collect();
    Ok(HealthReport {
        endpoints,
        unreachable,
        hint,
    })
}

/// Exit 3 when no member answered, 1 when any is unhealthy.
pub fn verdict(report: &HealthReport) -> crate::ops::Result<()> {
    let unreachable = report.unreachable;
    let unhealthy = report.endpoints.iter().filter(|e| !e.health).count();
    if unreachable > 0 && unreachable == report.endpoints.len() {
        return Err(crate::ops::Error::NoneHealthy {
            total: unreachable,
            hint: report.hint.clone(),
        });
    }
    if unhealthy > 0 {
        return Err(crate::ops::Error::Unhealthy {
            unhealthy,
            total: report.endpoints.len(),
        });
    }
    Ok(())
}

/// An active alarm makes a member unhealthy even where etcd itself (3.4)
/// still answers reads: with NOSPACE every write is refused.
async fn alarm_problem(client: &EtcdClient) -> Option<String> {
    let alarms = etcd::alarms(client).await.ok()?;
    let first = alarms.first()?;
    Some(match first.alarm.as_str() {
        "NOSPACE" => format!(
            "NOSPACE alarm active (raised by member {}): writes are refused; run `kubectl etcd recover-space`",
            format_id(first.member_id)
        ),
        other => format!(
            "{other} alarm active (raised by member {})",
            format_id(first.member_id)
        ),
    })
}
