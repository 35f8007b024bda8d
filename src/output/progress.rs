//! Progress bars on stderr, only when stderr is a terminal: a pipe or a log
//! file never gets progress noise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner or bar that shows itself only on a terminal and only for work
/// that lasts longer than about a second.
pub fn bar(enabled: bool, total: Option<u64>, what: &str, bytes: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = match (total.is_some(), bytes) {
        (true, true) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        (true, false) => "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
        (false, true) => "{spinner} {msg} {bytes} {bytes_per_sec}",
        (false, false) => "{spinner} {msg} {human_pos} {per_sec}",
    };
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    // Quick scans finish before the first tick and never draw.
    pb.enable_steady_tick(Duration::from_millis(1000));
    pb
}

/// Shows a snapshot save as it runs: a note naming the member, then a
/// byte bar (on a terminal) once the stream's size is known.
pub fn snapshot_save<'a>(
    shell: &'a mut super::Shell,
    enabled: bool,
) -> impl FnMut(crate::ops::snapshot_save::Event<'_>) + 'a {
    use crate::ops::snapshot_save::Event;
    let mut pb: Option<ProgressBar> = None;
    move |event| match event {
        Event::From { member, db_size } => shell.note(format!(
            "streaming a snapshot from `{member}` ({})",
            super::human_bytes(db_size)
        )),
        Event::Started { total } => pb = Some(bar(enabled, total, "snapshot", true)),
        Event::Received(n) => {
            if let Some(b) = &pb {
                b.set_position(n);
            }
        }
        Event::Ended => {
            if let Some(b) = pb.take() {
                b.finish_and_clear();
            }
        }
    }
}
