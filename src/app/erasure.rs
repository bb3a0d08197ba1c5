//! Forgetting a customer (the right to erasure, GDPR Art. 17) by crypto-shredding:
//! their data key is destroyed, so every personal field sealed with it (in the log,
//! projections, snapshots, exports and backups alike) reads as erased, then the
//! configuration stream records `CustomerForgotten`. Nothing is deleted from the log:
//! its hashes and `verify` stay valid.

use super::{AppError, Desk, MAX_RETRIES};
use crate::config::{ConfigEvent, CustomerForgotten};
use crate::domain::Actor;
use crate::projection::CaseFilter;

impl Desk {
    /// Destroys `customer`'s data key and records why. `NOT_FOUND` for a customer
    /// this desk knows nothing of (no key, no directory entry, no case). Forgetting
    /// again records it again (the key is already gone: `key_destroyed` false).
    pub async fn forget_customer(
        &self,
        by: &Actor,
        customer: &str,
        reason: &str,
    ) -> Result<CustomerForgotten, AppError> {
        let Some(vault) = &self.vault else {
            return Err(AppError::Internal("no key store: nothing is sealed".into()));
        };
        // Checked before anything is destroyed.
        CustomerForgotten::checked(customer, reason, false)?;
        let known = vault.has_key(customer)? || self.config().customers.contains_key(customer) || {
            let filter = CaseFilter {
                customer: Some(customer.to_string()),
                ..CaseFilter::default()
            };
            !self.projections.read().cases(&filter, None, 1).0.is_empty()
        };
        if !known {
            return Err(AppError::NotFound(format!("customer `{customer}`")));
        }
        // The key first: once it is gone nothing can bring the fields back, and a
        // failed append below is retried by forgetting again.
        let destroyed = vault.forget(customer)?;
        // The text index holds subjects and bodies in clear: dropped now, not at
        // the next text search.
        self.projections.read().text().forget();
        let event = CustomerForgotten::checked(customer, reason, destroyed)?;
        tracing::info!(key_destroyed = destroyed, "customer forgotten");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let version = self.config().version;
            let events = [ConfigEvent::CustomerForgotten(event.clone())];
            match self.append_config(by, version, &events).await {
                Err(AppError::VersionConflict { .. }) if attempt < MAX_RETRIES => {
                    self.reload_config().await?;
                }
                Err(e) => return Err(e),
                Ok(_) => return Ok(event),
            }
        }
    }
}
