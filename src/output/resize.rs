//! `resize` output: the plan the operator keeps (members, quorum now and
//! after, the numbered steps with done ones marked).
//!
//! Built from what [`crate::ops::resize::executor::prepare`] returns; never
//! talks to etcd.

use crate::ops::resize::executor::Prepared;
use crate::ops::statefulset;
use crate::output::maintenance::resize_members_table;

/// The members table, `now:`/`after:` quorum lines and the steps, as kept on
/// stdout before anything changes.
pub fn plan_text(prepared: &Prepared) -> String {
    let Prepared { state, plan, sts } = prepared;
    let mut text = Vec::new();
    let _ = resize_members_table(&state.members, state.leader).write(&mut text, false);
    let mut text = String::from_utf8_lossy(&text).into_owned();
    text.push_str(&format!("now:   {}\n", plan.before.describe()));
    text.push_str(&format!("after: {}\n", plan.after.describe()));
    text.push_str(&format!("plan: {}", plan.change));
    let scale = sts.as_ref().and_then(|d| d.scale.as_ref());
    for (i, (what, done)) in statefulset::ordered_steps(&plan.steps, scale)
        .iter()
        .enumerate()
    {
        let done = if *done { "  (done)" } else { "" };
        text.push_str(&format!("\n  {}. {what}{done}", i + 1));
    }
    text
}
