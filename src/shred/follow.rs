//! Keys forgotten through another node: a node whose keys are in PostgreSQL keeps
//! the ones it read in memory, and drops a customer's as soon as the
//! `CustomerForgotten` event arrives on its live feed (the row was deleted before the
//! event was appended), so it never serves a forgotten key from its cache.

use std::sync::{Arc, Weak};

use futures_util::StreamExt;

use super::Vault;
use crate::config::{ConfigEvent, CONFIG_STREAM};
use crate::store::feed::FeedEvent;
use crate::store::{subscribe_from, EventStore};

/// Starts evicting forgotten customers' keys from `vault`, following `store`'s live
/// feed from its head; the task stops with the vault.
pub fn evict_forgotten(vault: &Arc<Vault>, store: Arc<dyn EventStore>) {
    let feed = subscribe_from(store.clone(), store.head() + 1);
    let task = tokio::spawn(follow(Arc::downgrade(vault), feed));
    *vault.follower.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
}

async fn follow(vault: Weak<Vault>, mut feed: crate::store::FeedStream) {
    while let Some(item) = feed.next().await {
        let Some(vault) = vault.upgrade() else {
            return;
        };
        match item {
            Ok(FeedEvent::Event(e))
                if e.stream == CONFIG_STREAM && e.event_type == "CustomerForgotten" =>
            {
                match ConfigEvent::decode(&e.event_type, e.schema_version, &e.payload) {
                    Ok(ConfigEvent::CustomerForgotten(f)) => vault.evict(&f.id),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(error = %err, "an unreadable CustomerForgotten event");
                        vault.stop_caching_rows();
                    }
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::error!(error = %err, "the key store lost the live feed; keys are read \
                                               from the database on every use");
                vault.stop_caching_rows();
                return;
            }
        }
    }
    if let Some(vault) = vault.upgrade() {
        vault.stop_caching_rows();
    }
}
