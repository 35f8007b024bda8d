//! Tables that fit a terminal: the default tables of status, members, size
//! and the defrag plan fit 120 columns for a 3-member cluster on 127.0.0.1
//! URLs, and `-o wide` shows every column. (Colour only on a terminal,
//! never with `NO_COLOR`: promises.rs.)

use std::process::Output;

use crate::support::cli::{code, stderr as err, stdout as out};
use crate::support::{Cluster, ClusterOpts};

fn run(c: &Cluster, args: &[&str]) -> Output {
    crate::support::cli::run_wide(c, args)
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

fn header(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[test]
fn default_tables_fit_120_columns_and_wide_shows_every_column() {
    let c = Cluster::start(ClusterOpts {
        name_prefix: "etcd-",
        ..ClusterOpts::members(3)
    });
    // (command, columns only under -o wide, columns in both)
    let cases: [(&[&str], &[&str], &[&str]); 4] = [
        (
            &["status"],
            &["ID", "RAFT TERM", "RAFT INDEX", "APPLIED", "REVISION"],
            &["ENDPOINT", "NAME", "DB SIZE", "QUOTA USE", "ROLE", "ERRORS"],
        ),
        (
            &["members"],
            &["PEER URLS"],
            &["ID", "NAME", "CLIENT URLS", "HEALTH"],
        ),
        (&["size"], &["ID"], &["ENDPOINT", "FRAGMENTED", "HEADROOM"]),
        (
            &["defrag", "--dry-run"],
            &["ID"],
            &["ORDER", "MEMBER", "ROLE", "RECLAIM", "ACTION"],
        ),
    ];
    for (args, wide_only, both) in cases {
        let narrow = run(&c, args);
        assert_eq!(code(&narrow), 0, "{args:?}: {}", err(&narrow));
        let narrow = out(&narrow);
        assert_eq!(
            narrow.lines().count(),
            4,
            "{args:?}: header and 3 rows\n{narrow}"
        );
        assert!(
            widest(&narrow) <= 120,
            "{args:?} is {} columns wide:\n{narrow}",
            widest(&narrow)
        );
        let wide = run(&c, &[args, &["-o", "wide"]].concat());
        assert_eq!(code(&wide), 0, "{args:?} -o wide: {}", err(&wide));
        let wide = out(&wide);
        for col in wide_only {
            assert!(
                header(&wide).contains(col),
                "{args:?} -o wide has {col}:\n{wide}"
            );
            assert!(
                !header(&narrow).split("  ").any(|h| h.trim() == *col),
                "{args:?} default has no {col}:\n{narrow}"
            );
        }
        for col in both {
            assert!(header(&narrow).contains(col), "{args:?} has {col}");
            assert!(header(&wide).contains(col), "{args:?} -o wide has {col}");
        }
        assert!(widest(&wide) > widest(&narrow), "{args:?}");
    }
    // Exactly one leader, named in the ROLE column.
    let status = run(&c, &["status"]);
    crate::support::cli::assert_code(&status, 0);
    let status = out(&status);
    let role = |r: &str| {
        status
            .lines()
            .filter(|l| l.split_whitespace().any(|w| w == r))
            .count()
    };
    assert_eq!((role("leader"), role("follower")), (1, 2), "{status}");
}
