//! `restore`: placeholder.
use crate::context::Session;
use crate::error::Result;
#[derive(Debug, clap::Args)]
pub struct Args {}
pub async fn run(_args: Args, _session: &mut Session) -> Result<()> {
    Ok(())
}
