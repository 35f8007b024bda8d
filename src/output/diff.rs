//! A field diff as `put` shows it before confirming, on stderr.

use crate::keyspace::diff::Diff;
use crate::output::Shell;

/// Most changed fields listed before confirming; the rest are counted.
const MAX_DIFF_LINES: usize = 40;

/// The changed fields, at most [`MAX_DIFF_LINES`] of them, and how many
/// metadata fields were left out as noise.
pub fn show(shell: &mut Shell, changes: &Diff) {
    if changes.changes.is_empty() {
        shell.note(match changes.hidden {
            0 => "changes: none".to_string(),
            n => format!("changes: none but {n} metadata field(s) such as managedFields"),
        });
        return;
    }
    shell.note(format!("changes ({}):", changes.changes.len()));
    for change in changes.changes.iter().take(MAX_DIFF_LINES) {
        shell.note(format!("  {}", change.render()));
    }
    if changes.changes.len() > MAX_DIFF_LINES {
        shell.note(format!(
            "  … {} more",
            changes.changes.len() - MAX_DIFF_LINES
        ));
    }
    if changes.hidden > 0 {
        shell.note(format!(
            "  ({} metadata field(s) such as managedFields and generation also differ)",
            changes.hidden
        ));
    }
}
