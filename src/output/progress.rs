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
