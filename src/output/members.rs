//! The `members` table, built from [`MembersReport`]; never talks to etcd.

use crate::ops::members::MembersReport;
use crate::output::table::{Mark, Table};

/// The default table fits 120 columns for a 3-member cluster; `wide` adds
/// the node and the peer URLs.
pub fn table(report: &MembersReport, wide: bool) -> Table {
    let with_pods = report.members.iter().any(|m| m.pod.is_some());
    let mut headers = vec!["id", "name"];
    if with_pods {
        headers.push("pod");
        if wide {
            headers.push("node");
        }
    }
    if wide {
        headers.push("peer urls");
    }
    headers.extend(["client urls", "learner", "progress", "health", "error"]);
    let mut t = Table::new(&headers);
    for m in &report.members {
        let mut cells = vec![
            (m.id.clone(), Mark::Plain),
            (
                if m.started {
                    m.name.clone()
                } else {
                    "(not started)".into()
                },
                Mark::Plain,
            ),
        ];
        if with_pods {
            cells.push((m.pod.clone().unwrap_or_default(), Mark::Plain));
            if wide {
                cells.push((m.node.clone().unwrap_or_default(), Mark::Plain));
            }
        }
        if wide {
            cells.push((m.peer_urls.join(","), Mark::Plain));
        }
        cells.extend([
            (m.client_urls.join(","), Mark::Plain),
            (m.is_learner.to_string(), Mark::Plain),
            match m.catch_up_percent {
                Some(p) if p >= 100.0 => ("caught up".into(), Mark::Good),
                Some(p) => (format!("{p:.1}%"), Mark::Warn),
                None if m.is_learner => ("?".into(), Mark::Plain),
                None => ("-".into(), Mark::Plain),
            },
            if m.healthy {
                ("healthy".into(), Mark::Good)
            } else {
                ("unhealthy".into(), Mark::Bad)
            },
            (m.error.clone().unwrap_or_default(), Mark::Bad),
        ]);
        t.marked_row(cells);
    }
    t
}
