//! Pool connections made and driven on the store's own runtime.
//!
//! A `tokio_postgres` connection is a socket registered with the runtime it was made
//! on, driven by a task spawned there. The pool makes connections when a caller needs
//! one, and callers include GraphQL requests, which run on the HTTP workers' runtimes
//! (one per worker thread): a connection made there died with its worker when the
//! server stopped, and the store's own last writes (the projections' snapshot at
//! stop) then failed with "connection closed". So every pool connection is made, and
//! its driver spawned, on the runtime the store was opened on.

use deadpool_postgres::tokio_postgres::{Client, Config, Error, NoTls};
use deadpool_postgres::Connect;
use std::future::Future;
use std::pin::Pin;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Makes the pool's connections on `runtime`.
pub(super) struct OnRuntime(pub(super) Handle);

type Connected = Result<(Client, JoinHandle<()>), Error>;

async fn connect_here(config: Config) -> Connected {
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL connection closed with an error");
        }
    });
    Ok((client, driver))
}

impl Connect for OnRuntime {
    fn connect(&self, config: &Config) -> Pin<Box<dyn Future<Output = Connected> + Send + '_>> {
        let config = config.clone();
        Box::pin(async move {
            match self.0.spawn(connect_here(config.clone())).await {
                Ok(connected) => connected,
                // The store's runtime is shutting down: the caller's own will do.
                Err(_) => connect_here(config).await,
            }
        })
    }
}
