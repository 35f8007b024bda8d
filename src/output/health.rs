//! The `health` table, built from [`HealthReport`]; never talks to etcd.

use crate::ops::health::HealthReport;
use crate::output::table::{Mark, Table};

pub fn table(report: &HealthReport) -> Table {
    let mut t = Table::new(&["endpoint", "health", "took", "error"]);
    for e in &report.endpoints {
        t.marked_row(vec![
            (e.endpoint.clone(), Mark::Plain),
            if e.health {
                ("healthy".into(), Mark::Good)
            } else {
                ("unhealthy".into(), Mark::Bad)
            },
            (e.took.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
            (e.error.clone().unwrap_or_default(), Mark::Bad),
        ]);
    }
    t
}
