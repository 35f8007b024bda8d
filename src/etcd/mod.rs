//! etcd behind our own types: member status, membership, alarms, health.
//!
//! Everything here talks to etcd and returns data; nothing prints.

pub mod client;
pub mod error;
pub mod lease;
pub mod maintenance;
pub mod membership;
pub mod metrics;
pub mod probes;
pub mod readers;
pub mod survey;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use client::{ConnectSettings, EtcdClient};
pub use error::{classify, classify_stream, Error, Result};
pub use readers::Readers;
pub use survey::{MemberView, Survey};

use crate::connect::Target;

/// Member ids are 64-bit and exceed JSON's safe integers: we show them as
/// 16-digit lowercase hex everywhere, as etcd's logs do.
pub fn format_id(id: u64) -> String {
    format!("{id:016x}")
}

/// Parse a member id as `format_id` writes it (leading zeros optional).
pub fn parse_id(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// Where a member's reported quota came from: the server itself (Status,
/// etcd ≥ 3.6), its metrics (`etcd_server_quota_backend_bytes`), or the
/// `--quota-backend-bytes` its pod was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuotaOrigin {
    #[default]
    Status,
    Metrics,
    PodFlag,
}

/// What `Status` reports about one member. Serialized as README's JSON
/// rules say (restore's and recover's `after.members`): camelCase, member
/// ids as 16-digit hex strings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(serialize_with = "hex_id")]
    pub member_id: u64,
    pub version: String,
    pub db_size: u64,
    pub db_size_in_use: u64,
    /// 0 when the server does not report it (etcd before 3.6).
    pub db_size_quota: u64,
    /// Who gave `db_size_quota` when it is not 0: Status itself, or (filled
    /// in by `ops::quota::survey`) the member's metrics or its pod's flag.
    #[serde(skip)]
    pub quota_origin: QuotaOrigin,
    #[serde(serialize_with = "hex_id")]
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub revision: i64,
    pub is_learner: bool,
    pub errors: Vec<String>,
    /// The cluster the member belongs to (0: not said).
    #[serde(skip)]
    pub cluster_id: u64,
}

fn hex_id<S: serde::Serializer>(id: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_id(*id))
}

pub async fn status(client: &EtcdClient) -> Result<Status> {
    let mut m = client.maintenance();
    let resp = client.call(m.status()).await?;
    let header = resp.header();
    Ok(Status {
        member_id: header.map(|h| h.member_id()).unwrap_or_default(),
        version: resp.version().to_string(),
        db_size: resp.db_size().max(0) as u64,
        db_size_in_use: resp.raft_used_db_size().max(0) as u64,
        db_size_quota: resp.db_size_quota().max(0) as u64,
        quota_origin: QuotaOrigin::Status,
        leader: resp.leader(),
        raft_term: resp.raft_term(),
        raft_index: resp.raft_index(),
        raft_applied_index: resp.raft_applied_index(),
        revision: header.map(|h| h.revision()).unwrap_or_default(),
        is_learner: resp.is_learner(),
        errors: resp.errors().to_vec(),
        cluster_id: header.map(|h| h.cluster_id()).unwrap_or_default(),
    })
}

/// One entry of the member list.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: u64,
    /// Empty for a member that was added but has not started yet.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl Member {
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }
}

impl From<&etcd_client::Member> for Member {
    fn from(m: &etcd_client::Member) -> Member {
        Member {
            id: m.id(),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            is_learner: m.is_learner(),
        }
    }
}

pub async fn member_list(client: &EtcdClient) -> Result<Vec<Member>> {
    let mut c = client.cluster();
    let resp = client.call(c.member_list()).await?;
    Ok(resp.members().iter().map(Member::from).collect())
}

/// An active alarm on a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub member_id: u64,
    /// `NOSPACE` or `CORRUPT`.
    pub alarm: String,
}

pub async fn alarms(client: &EtcdClient) -> Result<Vec<Alarm>> {
    use etcd_client::{AlarmAction, AlarmType};
    let mut m = client.maintenance();
    let resp = client
        .call(m.alarm(AlarmAction::Get, AlarmType::None, None))
        .await?;
    Ok(resp
        .alarms()
        .iter()
        .map(|a| Alarm {
            member_id: a.member_id(),
            alarm: alarm_name(a.alarm()).to_string(),
        })
        .collect())
}

pub fn alarm_name(t: etcd_client::AlarmType) -> &'static str {
    match t {
        etcd_client::AlarmType::Nospace => "NOSPACE",
        etcd_client::AlarmType::Corrupt => "CORRUPT",
        etcd_client::AlarmType::None => "NONE",
    }
}

/// A linearizable read, as `etcdctl endpoint health` does: it succeeds only
/// when the member is part of a quorum with a leader.
pub async fn health_check(client: &EtcdClient) -> Result<Duration> {
    let mut kv = client.kv();
    let start = Instant::now();
    match client.call(kv.get("health", None)).await {
        Ok(_) => Ok(start.elapsed()),
        // Permission denied on the key still proves the quorum answered.
        Err(Error::PermissionDenied) => Ok(start.elapsed()),
        // A learner serves no linearizable reads; a serializable one shows
        // it is up and applying.
        Err(Error::NotSupportedForLearner) => {
            let opts = etcd_client::GetOptions::new().with_serializable();
            client.call(kv.get("health", Some(opts))).await?;
            Ok(start.elapsed())
        }
        Err(e) => Err(e),
    }
}

/// Connect to every target at once; a failure is kept per target.
pub async fn connect_all(
    targets: &[Target],
    settings: &ConnectSettings,
) -> Vec<Result<EtcdClient>> {
    futures::future::join_all(targets.iter().map(|t| EtcdClient::connect(t, settings))).await
}

/// Connect to the first target that answers, for cluster-wide reads.
pub async fn connect_any(targets: &[Target], settings: &ConnectSettings) -> Result<EtcdClient> {
    connect_any_index(targets, settings).await.map(|(_, c)| c)
}

/// Like [`connect_any`], also saying which target answered. The first
/// target's failure when none answers.
///
/// A member whose process is frozen (stopped, stuck in a write to a dead
/// disk) still accepts connections, so a connection alone does not say it
/// answers: while other targets are left, a member must also answer one
/// serializable count-only read within `--dial-timeout`, else the next is
/// tried. The last target is taken as it connects, so its own failure is
/// what the command reports.
pub async fn connect_any_index(
    targets: &[Target],
    settings: &ConnectSettings,
) -> Result<(usize, EtcdClient)> {
    let mut first_err: Option<Error> = None;
    for (i, t) in targets.iter().enumerate() {
        let last = i + 1 == targets.len();
        match EtcdClient::connect(t, settings).await {
            Ok(c) if last => return Ok((i, c)),
            Ok(c) => match answers(&c, settings.dial_timeout).await {
                Ok(()) => return Ok((i, c)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            },
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(Error::NoEndpoint))
}

/// Whether a connected member answers at all: any answer counts (a refusal
/// of the read too), only silence or a broken connection does not.
async fn answers(client: &EtcdClient, within: Duration) -> Result<()> {
    let mut kv = client.kv();
    let opts = etcd_client::GetOptions::new()
        .with_serializable()
        .with_count_only();
    match client
        .call_with_timeout(within, kv.get("health", Some(opts)))
        .await
    {
        Err(
            e @ (Error::NoAnswer(_)
            | Error::DialTimeout(_)
            | Error::Connect(_)
            | Error::ConnectionDropped),
        ) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_sixteen_hex_digits_both_ways() {
        assert_eq!(format_id(0x8e9e05c52164694d), "8e9e05c52164694d");
        assert_eq!(format_id(1), "0000000000000001");
        assert_eq!(parse_id("0000000000000001"), Some(1));
        assert_eq!(parse_id("8e9e05c52164694d"), Some(0x8e9e05c52164694d));
        assert_eq!(parse_id("etcd-0"), None);
    }
}
