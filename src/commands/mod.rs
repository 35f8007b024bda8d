//! One file per command: its clap `Args` and a short `run` that gathers data
//! through the lower layers and hands it to [`crate::output`].

pub mod alarm;
pub mod compact;
pub mod completion;
pub mod count;
pub mod custom;
pub mod decode;
pub mod defrag;
pub mod doctor;
pub mod get;
pub mod health;
pub mod history;
pub mod lease;
pub mod ls;
pub mod man;
pub mod members;
pub mod move_leader;
pub mod port_forward;
pub mod put;
pub mod recover;
pub mod recover_space;
pub mod resize;
pub mod restore;
pub mod search;
pub mod size;
pub mod snapshot;
pub mod status;
pub mod top;
pub mod version;
pub mod watch;

use crate::cli::Command;
use crate::context::Session;
use crate::error::Result;

/// The only big `match`: which command runs.
pub async fn dispatch(command: Command, session: &mut Session) -> Result<()> {
    if !command.accepts_many_contexts() {
        session.refuse_many_contexts()?;
    }
    match command {
        Command::Status(args) => status::run(args, session).await,
        Command::Members(args) => members::run(args, session).await,
        Command::Health(args) => health::run(args, session).await,
        Command::Doctor(args) => doctor::run(args, session).await,
        Command::Size(args) => size::run(args, session).await,
        Command::Decode(args) => decode::run(args, session),
        Command::Get(args) => get::run(args, session).await,
        Command::Put(args) => put::run(args, session).await,
        Command::Ls(args) => ls::run(args, session).await,
        Command::Count(args) => count::run(args, session).await,
        Command::Defrag(args) => defrag::run(args, session).await,
        Command::Compact(args) => compact::run(args, session).await,
        Command::Alarm(args) => alarm::run(args, session).await,
        Command::RecoverSpace(args) => recover_space::run(args, session).await,
        Command::Snapshot(args) => snapshot::run(args, session).await,
        Command::Search(args) => search::run(args, session).await,
        Command::Custom(args) => custom::run(args, session).await,
        Command::Watch(args) => watch::run(args, session).await,
        Command::MoveLeader(args) => move_leader::run(args, session).await,
        Command::History(args) => history::run(args, session).await,
        Command::Top(args) => top::run(args, session).await,
        Command::Lease(args) => lease::run(args, session).await,
        Command::Resize(args) => resize::run(args, session).await,
        Command::Restore(args) => restore::run(args, session).await,
        Command::Recover(args) => recover::run(args, session).await,
        Command::PortForward(args) => port_forward::run(args, session).await,
        Command::Completion(args) => completion::run(args, session),
        Command::Version(args) => version::run(args, session),
    }
}
