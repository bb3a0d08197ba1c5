//! The guarded operation of the right to erasure: forgetting a customer
//! ([`crate::app::Desk::forget_customer`]); who may is [`policy::can_forget_customer`].

use super::*;
use crate::config::CustomerForgotten;

impl Guard {
    /// Destroys the customer's data key and records why (admins only).
    pub async fn forget_customer(&self, customer: &str, reason: &str) -> Result<CustomerForgotten> {
        policy::can_forget_customer(&self.principal).map_err(forbidden)?;
        self.app
            .forget_customer(&self.principal.actor, customer, reason)
            .await
            .map_err(gql)
    }
}
