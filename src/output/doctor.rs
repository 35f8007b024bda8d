//! The `doctor` table and its summary line, built from [`Report`]; never
//! talks to etcd.

use crate::ops::doctor::{Report, Severity};
use crate::output::table::{Mark, Table};

/// The one line that ends the report.
pub fn summary(r: &Report) -> String {
    format!(
        "{} findings: {} ok, {} warn, {} fail (window {})",
        r.findings.len(),
        r.count(Severity::Ok),
        r.count(Severity::Warn),
        r.count(Severity::Fail),
        r.window
    )
}

pub fn table(r: &Report) -> Table {
    let mut t = Table::new(&[
        "check",
        "member",
        "severity",
        "value",
        "threshold",
        "detail",
        "next",
    ]);
    for f in &r.findings {
        let mark = match f.severity {
            Severity::Ok => Mark::Good,
            Severity::Warn => Mark::Warn,
            Severity::Fail => Mark::Bad,
        };
        t.marked_row(vec![
            (f.check.clone(), Mark::Plain),
            (f.member.clone(), Mark::Plain),
            (f.severity.as_str().to_string(), mark),
            (f.value.clone(), Mark::Plain),
            (f.threshold.clone(), Mark::Plain),
            (f.detail.clone(), Mark::Plain),
            (f.next.clone().unwrap_or_default(), Mark::Plain),
        ]);
    }
    t
}
