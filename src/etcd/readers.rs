//! The members a long read is spread over.
//!
//! A scan pins one revision with a read on the first member that answers,
//! then reads its pieces from every member at that revision: the data at a
//! revision is the same on every member that has applied it, so followers
//! take their share of the load instead of the leader alone. The other
//! members are connected when a scan first needs them, each by its own
//! reader, so a dead one never delays the scan; it simply takes no pieces.

use futures::future::{BoxFuture, FutureExt, Shared};

use super::{connect_any_index, ConnectSettings, EtcdClient, Result};
use crate::connect::Target;

type PendingClient = Shared<BoxFuture<'static, Option<EtcdClient>>>;

/// One member that answered, and the others being connected.
#[derive(Clone)]
pub struct Readers {
    primary: EtcdClient,
    helpers: Vec<PendingClient>,
}

impl Readers {
    /// Only this member.
    pub fn single(client: EtcdClient) -> Readers {
        Readers {
            primary: client,
            helpers: Vec::new(),
        }
    }

    /// The first member that answers; the others connect on first use.
    pub async fn connect(targets: &[Target], settings: &ConnectSettings) -> Result<Readers> {
        let (index, primary) = connect_any_index(targets, settings).await?;
        let helpers = targets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, target)| {
                let (target, settings) = (target.clone(), settings.clone());
                // Lazy: only a scan connects them, so reading one object
                // opens no extra connection (or port-forward).
                async move { EtcdClient::connect(&target, &settings).await.ok() }
                    .boxed()
                    .shared()
            })
            .collect();
        Ok(Readers { primary, helpers })
    }

    /// The member that answered first: pins revisions, reads what helpers cannot.
    pub fn primary(&self) -> &EtcdClient {
        &self.primary
    }

    /// The other members, each `None` once it turns out unreachable.
    pub fn helpers(&self) -> impl Iterator<Item = PendingClient> + '_ {
        self.helpers.iter().cloned()
    }

    /// How many members may share a scan.
    pub fn members(&self) -> usize {
        1 + self.helpers.len()
    }
}
