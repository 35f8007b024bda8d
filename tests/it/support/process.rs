//! Processes a test did not start through the harness but must not leak.

use std::process::Command;

/// SIGKILLs the processes started by the command under test (the etcd a
/// `restore --local --pid` or `recover --local` starts) when the test ends,
/// also while it unwinds from a failed assertion.
pub struct KillOnDrop(pub Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            // Most have exited already: kill(1)'s "No such process" is noise.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
