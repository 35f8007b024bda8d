//! Errors that reach the user: a one-line cause, an optional `help:` line,
//! and the exit code a script can rely on.
//!
//! Lower layers keep their own error types; this module turns them into one
//! line each. It never prints: `main` does.

use std::fmt;

/// Exit codes. Documented in README.md; scripts depend on them, so a value
/// never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for succeeded.
    Ok = 0,
    /// The command ran, but the answer is negative: a member is unhealthy or
    /// unreachable, a search matched nothing, a step failed on some member.
    Failed = 1,
    /// The command line is wrong (clap uses 2 as well).
    Usage = 2,
    /// etcd (or the Kubernetes API) could not be reached, TLS or auth failed.
    Unavailable = 3,
    /// A write was refused for safety: quorum at risk, no confirmation.
    Refused = 4,
    /// Input data is bad: corrupt snapshot, undecodable value, bad file.
    Data = 5,
    /// Stopped by Ctrl-C (SIGINT), after saying what was done and what is
    /// left; 128 + SIGINT, as shells report it.
    Interrupted = 130,
}

/// What went wrong, in the words the user needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Unavailable,
    Tls,
    Auth,
    NoQuorum,
    NoSpace,
    Refused,
    Data,
    Io,
    /// Some members failed; the per-member rows were already printed.
    Partial,
    NotFound,
    /// Ctrl-C: the message says what was done and what is left.
    Interrupted,
    Other,
}

impl Kind {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Kind::Usage => ExitCode::Usage,
            Kind::Unavailable | Kind::Tls | Kind::Auth | Kind::NoQuorum => ExitCode::Unavailable,
            Kind::Refused => ExitCode::Refused,
            Kind::Data => ExitCode::Data,
            Kind::Interrupted => ExitCode::Interrupted,
            Kind::NoSpace | Kind::Io | Kind::Partial | Kind::NotFound | Kind::Other => {
                ExitCode::Failed
            }
        }
    }
}

/// The error type of every command.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn data(message: impl Into<String>) -> Self {
        Error::new(Kind::Data, message)
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(Kind::Io, format!("{what}: {err}"))
    }

    /// Stopped by Ctrl-C; `message` says what was done and what is left.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Error::new(Kind::Interrupted, message)
    }

    /// The rows were printed already; only the exit code is left to say.
    pub fn partial(message: impl Into<String>) -> Self {
        Error::new(Kind::Partial, message)
    }

    pub fn exit_code(&self) -> ExitCode {
        self.kind.exit_code()
    }

    /// Prefix the message with where it happened (a member, a file).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::new(Kind::Io, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_problems_exit_3_and_partial_results_exit_1() {
        assert_eq!(Kind::Tls.exit_code() as i32, 3);
        assert_eq!(Kind::Auth.exit_code() as i32, 3);
        assert_eq!(Kind::Partial.exit_code() as i32, 1);
        assert_eq!(Kind::Refused.exit_code() as i32, 4);
        assert_eq!(Kind::Data.exit_code() as i32, 5);
        assert_eq!(Kind::Interrupted.exit_code() as i32, 130);
    }

    #[test]
    fn context_prefixes_the_message_once() {
        let e = Error::new(Kind::Unavailable, "connection refused").context("member `m1`");
        assert_eq!(e.to_string(), "member `m1`: connection refused");
    }
}
