//! What a listing needs from the caller's rights, read once per request: the cases
//! they may read as a predicate over many cases, where those cases are found
//! ([`policy::read_scope`]), and whether they read a whole tier's queue.

use super::Guard;
use crate::domain::{Case, Tier};
use crate::policy;
use crate::projection::listing::Among;

impl Guard {
    /// [`can_read`](Guard::can_read) for many cases: the configuration's tier ladder
    /// is read once, not per case.
    pub fn reader(&self) -> impl Fn(&Case) -> bool + '_ {
        let ladder = self.app.tiers();
        move |c| policy::can_read(&self.principal, c, &ladder)
    }

    /// The index sets that hold every case the caller may read.
    pub fn read_scope(&self) -> Among {
        policy::read_scope(&self.principal, &self.app.tiers())
    }

    /// Whether the caller reads every case routed to `tier`.
    pub fn reads_whole_tier(&self, tier: &Tier) -> bool {
        policy::reads_whole_tier(&self.principal, tier, &self.app.tiers())
    }
}
