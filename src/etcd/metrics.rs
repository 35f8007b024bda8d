//! Each member's Prometheus metrics, read over the member's own connection.
//!
//! etcd serves `/metrics` on its client URLs (and on `--listen-metrics-urls`
//! when set, which is where kubeadm points scrapers: `http://127.0.0.1:2381`).
//! A scrape dials the same [`Dialer`] the gRPC connection uses (TCP in direct
//! mode, a port-forward in Kubernetes mode), runs TLS on top when the URL is
//! https, and sends one HTTP/1.1 `GET /metrics`. The handshake's certificate
//! chain is kept: it is the chain the member presents to its clients.
//!
//! The exposition format is parsed by `prometheus-parse`; only the metric
//! families doctor and the quota need are kept, so memory does not depend on
//! how many label sets a member exports. Nothing here prints.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::connect::{self, dial_error, BoxStream, Dialer};

/// A scrape that failed, with its cause kept.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The member could not be reached, or the TLS handshake failed.
    #[error(transparent)]
    Dial(#[from] connect::Error),
    /// Our deadline passed.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// A TLS connection without a server certificate.
    #[error("the member presented no certificate")]
    NoCertificate,
    /// The HTTP exchange failed (handshake, request, response head).
    #[error("reading `{url}`: {cause}")]
    Http {
        url: String,
        cause: Arc<hyper::Error>,
    },
    /// The body could not be read, or was larger than `MAX_BODY`.
    #[error("reading `{url}`: {cause}")]
    Body {
        url: String,
        cause: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The request itself could not be built (a `Host` that is no header).
    #[error("building the metrics request: {0}")]
    Request(Arc<http::Error>),
    /// The member answered with a non-success status.
    #[error("`{url}` answered {status}")]
    Status {
        url: String,
        status: http::StatusCode,
    },
    /// The body is not the Prometheus text format.
    #[error("cannot read the metrics: {0}")]
    Parse(Arc<std::io::Error>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The families kept from a scrape. Every one exists in etcd 3.4 and 3.5.
pub const KEPT: &[&str] = &[
    "etcd_disk_wal_fsync_duration_seconds",
    "etcd_disk_backend_commit_duration_seconds",
    "etcd_network_peer_round_trip_time_seconds",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_failed_total",
    "etcd_server_slow_apply_total",
    "etcd_server_slow_read_indexes_total",
    "etcd_server_heartbeat_send_failures_total",
    "etcd_server_proposals_pending",
    "etcd_server_quota_backend_bytes",
    "etcd_server_has_leader",
    "etcd_mvcc_db_total_size_in_bytes",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
];

/// The largest `/metrics` body read (etcd's is a few hundred KiB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One histogram of one label set: cumulative counts per upper bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub labels: Vec<(String, String)>,
    /// `(le, cumulative count)`, sorted by `le`; the last bound is `+Inf`.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// Observations in total.
    pub fn count(&self) -> f64 {
        self.buckets.last().map(|b| b.1).unwrap_or(0.0)
    }

    /// What was observed between `earlier` and this scrape: bucket deltas.
    /// `None` when the buckets differ or a counter went back (a restart).
    pub fn since(&self, earlier: &Histogram) -> Option<Histogram> {
        if self.buckets.len() != earlier.buckets.len() {
            return None;
        }
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (now, then) in self.buckets.iter().zip(&earlier.buckets) {
            if now.0 != then.0 || now.1 < then.1 {
                return None;
            }
            buckets.push((now.0, now.1 - then.1));
        }
        Some(Histogram {
            labels: self.labels.clone(),
            buckets,
        })
    }

    /// The `q` quantile (0..1) as Prometheus' `histogram_quantile` computes
    /// it: linear within the bucket that holds it. `None` without samples.
    /// A quantile in the `+Inf` bucket is the largest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower_bound = 0.0;
        let mut lower_count = 0.0;
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    return Some(lower_bound);
                }
                let in_bucket = count - lower_count;
                if in_bucket <= 0.0 {
                    return Some(le);
                }
                return Some(lower_bound + (le - lower_bound) * (rank - lower_count) / in_bucket);
            }
            lower_bound = le;
            lower_count = count;
        }
        Some(lower_bound)
    }

    /// Sum of several label sets' histograms with the same buckets.
    fn add(&mut self, other: &Histogram) {
        if self.buckets.len() == other.buckets.len() {
            for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
                a.1 += b.1;
            }
        }
    }
}

/// One scalar sample (counter, gauge or untyped).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The kept part of one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub scalars: Vec<Scalar>,
    pub histograms: Vec<(String, Histogram)>,
}

impl Metrics {
    /// Parse the text exposition format, keeping the [`KEPT`] families.
    pub fn parse(text: &str) -> Result<Metrics> {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape =
            prometheus_parse::Scrape::parse(lines).map_err(|e| Error::Parse(Arc::new(e)))?;
        let mut out = Metrics::default();
        for s in scrape.samples {
            if !KEPT.contains(&s.metric.as_str()) {
                continue;
            }
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            use prometheus_parse::Value;
            match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                    out.scalars.push(Scalar {
                        name: s.metric,
                        labels,
                        value: v,
                    })
                }
                Value::Histogram(hs) => {
                    let mut buckets: Vec<(f64, f64)> =
                        hs.iter().map(|h| (h.less_than, h.count)).collect();
                    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                    out.histograms
                        .push((s.metric, Histogram { labels, buckets }));
                }
                Value::Summary(_) => {}
            }
        }
        // Stable order whatever the parser's hash maps did.
        out.histograms
            .sort_by(|a, b| (&a.0, &a.1.labels).cmp(&(&b.0, &b.1.labels)));
        Ok(out)
    }

    /// A scalar summed over its label sets; `None` when absent.
    pub fn value(&self, name: &str) -> Option<f64> {
        let mut found = None;
        for s in self.scalars.iter().filter(|s| s.name == name) {
            *found.get_or_insert(0.0) += s.value;
        }
        found
    }

    /// A histogram summed over its label sets; `None` when absent.
    pub fn histogram(&self, name: &str) -> Option<Histogram> {
        let mut sum: Option<Histogram> = None;
        for (_, h) in self.histograms.iter().filter(|(n, _)| n == name) {
            match &mut sum {
                None => {
                    sum = Some(Histogram {
                        labels: Vec::new(),
                        buckets: h.buckets.clone(),
                    })
                }
                Some(s) => s.add(h),
            }
        }
        sum
    }

    /// Every label set of a histogram (peer round trips per peer).
    pub fn histograms<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Histogram> + 'a {
        self.histograms
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, h)| h)
    }
}

/// Where a member's metrics are read: a stream to open, TLS or not.
#[derive(Clone)]
pub struct Source {
    /// What the user sees: `https://10.0.0.1:2379/metrics`, `pod/etcd-0:2381/metrics`.
    pub url: String,
    pub dialer: Arc<dyn Dialer>,
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// The HTTP `Host` header.
    pub host: String,
}

/// A scrape's result: the metrics and, over TLS, the certificate chain the
/// member presented (DER, leaf first).
pub struct Scrape {
    pub metrics: Metrics,
    pub chain: Option<Vec<Vec<u8>>>,
}

/// The client config for HTTP/1.1: the gRPC one offers only `h2` by ALPN,
/// and etcd's listener would then expect HTTP/2.
pub fn http1_config(grpc: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    let mut config = (**grpc).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Open a stream to `source`, with TLS when it asks for it; also returns
/// the presented chain.
async fn open(source: &Source) -> Result<(BoxStream, Option<Vec<Vec<u8>>>)> {
    let stream = source.dialer.dial().await.map_err(dial_error)?;
    match &source.tls {
        None => Ok((stream, None)),
        Some((config, name)) => {
            let tls_stream = TlsConnector::from(config.clone())
                .connect(name.clone(), stream)
                .await
                .map_err(dial_error)?;
            let chain = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect());
            Ok((Box::new(tls_stream) as BoxStream, chain))
        }
    }
}

/// Only the TLS handshake: the chain a member presents (DER, leaf first).
pub async fn presented_chain(source: &Source, timeout: Duration) -> Result<Vec<Vec<u8>>> {
    let (_, chain) = tokio::time::timeout(timeout, open(source))
        .await
        .map_err(|_| no_answer(timeout))??;
    chain.ok_or(Error::NoCertificate)
}

fn no_answer(timeout: Duration) -> Error {
    Error::NoAnswer(timeout)
}

/// `GET /metrics` on `source`, within `timeout`.
pub async fn scrape(source: &Source, timeout: Duration) -> Result<Scrape> {
    tokio::time::timeout(timeout, scrape_now(source))
        .await
        .map_err(|_| no_answer(timeout))?
}

async fn scrape_now(source: &Source) -> Result<Scrape> {
    let (stream, chain) = open(source).await?;
    let http = |e: hyper::Error| Error::Http {
        url: source.url.clone(),
        cause: Arc::new(e),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(conn);
    let request = http::Request::get("/metrics")
        .header(http::header::HOST, &source.host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| Error::Request(Arc::new(e)))?;
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status();
    if !status.is_success() {
        driver.abort();
        return Err(Error::Status {
            url: source.url.clone(),
            status,
        });
    }
    let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| Error::Body {
            url: source.url.clone(),
            cause: Arc::from(e),
        })?
        .to_bytes();
    driver.abort();
    let text = String::from_utf8_lossy(&body);
    Ok(Scrape {
        metrics: Metrics::parse(&text)?,
        chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 10
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 20
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 90
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.008\"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 100
etcd_disk_wal_fsync_duration_seconds_sum 0.2
etcd_disk_wal_fsync_duration_seconds_count 100
# TYPE etcd_network_peer_round_trip_time_seconds histogram
etcd_network_peer_round_trip_time_seconds_bucket{To=\"a\",le=\"0.001\"} 1
etcd_network_peer_round_trip_time_seconds_bucket{To=\"a\",le=\"+Inf\"} 2
etcd_network_peer_round_trip_time_seconds_bucket{To=\"b\",le=\"0.001\"} 3
etcd_network_peer_round_trip_time_seconds_bucket{To=\"b\",le=\"+Inf\"} 3
# TYPE etcd_server_quota_backend_bytes gauge
etcd_server_quota_backend_bytes 5.24288e+07
# TYPE etcd_server_proposals_failed_total counter
etcd_server_proposals_failed_total 3
# TYPE go_goroutines gauge
go_goroutines 95
";

    #[test]
    fn kept_families_parse_and_others_are_dropped() {
        let m = Metrics::parse(SAMPLE).unwrap();
        assert_eq!(
            m.value("etcd_server_quota_backend_bytes"),
            Some(52_428_800.0)
        );
        assert_eq!(m.value("etcd_server_proposals_failed_total"), Some(3.0));
        assert_eq!(m.value("go_goroutines"), None);
        let wal = m.histogram("etcd_disk_wal_fsync_duration_seconds").unwrap();
        assert_eq!(wal.count(), 100.0);
        assert_eq!(wal.buckets.first(), Some(&(0.001, 10.0)));
        assert_eq!(
            m.histograms("etcd_network_peer_round_trip_time_seconds")
                .count(),
            2
        );
        let rtt = m
            .histogram("etcd_network_peer_round_trip_time_seconds")
            .unwrap();
        assert_eq!(rtt.count(), 5.0);
    }

    #[test]
    fn scrape_failures_keep_their_cause_line_and_exit_code() {
        // The parser fails only on its input's I/O errors.
        let err = Error::Parse(Arc::new(std::io::Error::from(
            std::io::ErrorKind::InvalidData,
        )));
        let user = crate::error::Error::from(err);
        assert_eq!(user.exit_code() as i32, 5);
        assert!(user.message.starts_with("cannot read the metrics: "));
        let status = Error::Status {
            url: "http://127.0.0.1:2381/metrics".into(),
            status: http::StatusCode::NOT_FOUND,
        };
        let user = crate::error::Error::from(status);
        assert_eq!(
            (user.exit_code() as i32, user.message.as_str()),
            (3, "`http://127.0.0.1:2381/metrics` answered 404 Not Found")
        );
        let user = crate::error::Error::from(Error::NoCertificate);
        assert_eq!(user.kind, crate::error::Kind::Tls);
        let user = crate::error::Error::from(Error::Dial(connect::Error::Refused));
        assert_eq!(
            (user.exit_code() as i32, user.message.as_str()),
            (3, "connection refused")
        );
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_like_prometheus() {
        let m = Metrics::parse(SAMPLE).unwrap();
        let wal = m.histogram("etcd_disk_wal_fsync_duration_seconds").unwrap();
        // The 99th of 100 lies in (0.004, 0.008], 9 of its 10 observations in.
        let p99 = wal.quantile(0.99).unwrap();
        assert!((p99 - 0.0076).abs() < 1e-9, "{p99}");
        // The median lies in (0.002, 0.004]: 30 of 70 in.
        let p50 = wal.quantile(0.5).unwrap();
        assert!((p50 - (0.002 + 0.002 * 30.0 / 70.0)).abs() < 1e-9, "{p50}");
    }

    #[test]
    fn a_window_is_the_bucket_difference_and_may_be_empty() {
        let before = Histogram {
            labels: vec![],
            buckets: vec![(0.001, 5.0), (0.1, 5.0), (f64::INFINITY, 5.0)],
        };
        let after = Histogram {
            labels: vec![],
            buckets: vec![(0.001, 5.0), (0.1, 9.0), (f64::INFINITY, 10.0)],
        };
        let window = after.since(&before).unwrap();
        assert_eq!(window.count(), 5.0);
        // Four in (0.001, 0.1], one above: the 99th is past every finite bound.
        assert_eq!(window.quantile(0.99), Some(0.1));
        assert_eq!(before.since(&before).unwrap().quantile(0.99), None);
        // A restart resets counters: no window.
        assert_eq!(before.since(&after), None);
    }
}
