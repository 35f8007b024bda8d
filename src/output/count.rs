//! The `count` table, built from [`CountReport`]; never talks to etcd.

use crate::keyspace::count::{CountReport, TypeKind};
use crate::output::table::{Mark, Table};

pub fn table(r: &CountReport) -> Table {
    let by_ns = r.types.iter().any(|t| t.namespaces.is_some());
    let mut headers = vec!["type"];
    if by_ns {
        headers.push("namespace");
    }
    headers.extend(["count", "kind"]);
    let count_col = headers.len() - 2;
    let mut t = Table::new(&headers).right_align(&[count_col]);
    for ty in &r.types {
        let kind = match ty.kind {
            TypeKind::Builtin => "",
            TypeKind::Custom => "custom",
            TypeKind::Internal => "internal",
            TypeKind::Unknown => "unknown",
            TypeKind::Other => "other",
        };
        let mark = if ty.kind == TypeKind::Custom {
            Mark::Good
        } else {
            Mark::Plain
        };
        match &ty.namespaces {
            Some(nss) if by_ns => {
                for ns in nss {
                    t.marked_row(vec![
                        (ty.r#type.clone(), Mark::Plain),
                        (
                            ns.namespace.clone().unwrap_or_else(|| "-".into()),
                            Mark::Plain,
                        ),
                        (ns.count.to_string(), Mark::Plain),
                        (kind.into(), mark),
                    ]);
                }
            }
            _ => {
                let mut cells = vec![(ty.r#type.clone(), Mark::Plain)];
                if by_ns {
                    cells.push(("".into(), Mark::Plain));
                }
                cells.push((ty.count.to_string(), Mark::Plain));
                cells.push((kind.into(), mark));
                t.marked_row(cells);
            }
        }
    }
    let mut total = vec![("TOTAL".to_string(), Mark::Plain)];
    if by_ns {
        total.push(("".into(), Mark::Plain));
    }
    total.push((r.total.to_string(), Mark::Plain));
    total.push((format!("at revision {}", r.revision), Mark::Plain));
    t.marked_row(total);
    t
}
