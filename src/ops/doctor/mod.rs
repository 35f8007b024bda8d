//! `doctor`: what is wrong with this etcd, why, and what to run next.
//!
//! Three parts, kept apart so the verdicts are testable with plain values:
//! [`gather`] asks the members (status, views, hashes, metrics scraped twice
//! a window apart, probes, certificates, pod facts) and returns data;
//! [`checks`] turns that data into [`Finding`]s, pure functions with their
//! thresholds and sources written next to them; [`certs`] reads X.509
//! certificates. Read-only: the only write is the opt-in write probe.

pub mod certs;
pub mod checks;
pub mod gather;

use serde::Serialize;

/// How bad a finding is. Ordered: `Ok < Warn < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warn,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// The groups of checks `--check` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Check {
    /// Each member answers a linearizable read; alarms.
    Health,
    /// Members agree on members, cluster id, leader, term; versions; learners.
    Agreement,
    /// HashKV of every voting member at one common revision.
    Consistency,
    /// Disk and raft latency, failures and resources from /metrics.
    Latency,
    /// Serializable and linearizable read round trips (write with --write-probe).
    Probes,
    /// Quota use, fragmentation, history, what the keys are.
    Space,
    /// Server, client and CA certificates: expiry and names.
    Certificates,
    /// Pod restarts and risky etcd flags (Kubernetes mode).
    Kubernetes,
}

impl Check {
    pub const ALL: [Check; 8] = [
        Check::Health,
        Check::Agreement,
        Check::Consistency,
        Check::Latency,
        Check::Probes,
        Check::Space,
        Check::Certificates,
        Check::Kubernetes,
    ];
}

/// One verdict. Field names are stable JSON (README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The finding's name, e.g. `health`, `wal-fsync`, `quota`.
    pub check: String,
    /// The member's name (or endpoint), or `cluster`.
    pub member: String,
    pub severity: Severity,
    /// What was measured, in human units.
    pub value: String,
    /// The limit and where it comes from; empty when there is none.
    pub threshold: String,
    pub detail: String,
    /// The command to run next; `null` when there is nothing to do.
    pub next: Option<String>,
}

impl Finding {
    pub fn new(check: &str, member: &str, severity: Severity) -> Finding {
        Finding {
            check: check.to_string(),
            member: member.to_string(),
            severity,
            value: String::new(),
            threshold: String::new(),
            detail: String::new(),
            next: None,
        }
    }

    pub fn value(mut self, v: impl Into<String>) -> Finding {
        self.value = v.into();
        self
    }

    pub fn threshold(mut self, t: impl Into<String>) -> Finding {
        self.threshold = t.into();
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Finding {
        self.detail = d.into();
        self
    }

    pub fn next(mut self, n: impl Into<String>) -> Finding {
        self.next = Some(n.into());
        self
    }
}

/// `doctor -o json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The metrics window, e.g. `10s`.
    pub window: String,
    pub worst: Severity,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(window: std::time::Duration, findings: Vec<Finding>) -> Report {
        Report {
            window: humantime::format_duration(window).to_string(),
            worst: findings
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Ok),
            findings,
        }
    }

    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}
