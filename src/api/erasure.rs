//! The right to erasure: `forgetCustomer` (admins). See [`crate::shred`] for the
//! model: a customer's personal fields are sealed with their own data key, which
//! this destroys; the log, its hashes and every event stay.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::guard::Guard;

/// What `forgetCustomer` did.
#[derive(SimpleObject)]
pub struct ForgetCustomerResult {
    pub customer_id: String,
    /// Whether a data key was destroyed now (false when it already was: the
    /// customer was forgotten before, or only has data written before sealing).
    pub key_destroyed: bool,
    /// What every personal field of the customer reads as from now on.
    pub erased_marker: String,
}

/// The right to erasure.
#[derive(Default)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Admins: forgets a customer (GDPR Art. 17) by destroying their data key: their
    /// name, their cases' subjects and descriptions, and every message on their cases
    /// read as `erasedMarker` in every answer, export and projection from now on; the
    /// log, its hash chain and `verifyLog` stay valid, and a `CustomerForgotten` event
    /// on the configuration stream records who did it and why. Cannot be undone.
    /// `NOT_FOUND` for a customer the desk knows nothing of; `BAD_USER_INPUT` without
    /// a reason (1-500 characters).
    async fn forget_customer(
        &self,
        ctx: &Context<'_>,
        customer_id: String,
        reason: String,
    ) -> Result<ForgetCustomerResult> {
        let g = Guard::of(ctx)?;
        let done = g.forget_customer(&customer_id, &reason).await?;
        Ok(ForgetCustomerResult {
            customer_id: done.id,
            key_destroyed: done.key_destroyed,
            erased_marker: crate::shred::ERASED.into(),
        })
    }
}
