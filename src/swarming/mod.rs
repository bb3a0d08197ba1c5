//! The service side of intelligent swarming that is still pure: who could help on a
//! case. The swarming state of a case itself (skills, invitations, help requests,
//! types and roles) is the domain's ([`crate::domain::swarming`]).
//!
//! - [`experts`]: the expert finder behind `suggestExperts`.
//! - [`contributions`]: what an agent contributed by helping, over a period.

pub mod contributions;
pub mod experts;
