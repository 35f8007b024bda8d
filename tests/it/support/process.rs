//! Processes a test did not start through the harness but must not leak.

use std::process::Command;

/// SIGKILLs a process started by the command under test (the etcd a
/// `restore --local --pid` starts on its new data dir) when the test ends,
/// also while it unwinds from a failed assertion.
pub struct KillOnDrop(pub Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
