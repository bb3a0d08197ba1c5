//! The `contributions(agent, from, to)` query: what an agent contributed by helping
//! over a past period (see [`crate::swarming::contributions`]). There is no count of
//! tickets closed, on purpose.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::config::agent_id;
use super::error::bad_input;
use super::guard::Guard;
use super::types::DateTime;

/// One agent's contribution to swarming in `[from, to)`, counted over the cases the
/// caller may read.
#[derive(SimpleObject, Clone, Debug)]
pub struct Contributions {
    pub agent: String,
    pub from: DateTime,
    pub to: DateTime,
    /// Times they became a member of a swarm (joining, or starting one as its lead).
    pub swarms_joined: u32,
    /// Offers of help they made.
    pub help_offered: u32,
    /// Their offers that were accepted (they joined to help).
    pub help_accepted: u32,
    /// Median seconds from being asked (an invitation, or the help request whose
    /// offer was accepted) to joining; null without such a join.
    pub median_seconds_to_join: Option<f64>,
    /// The joins that median is taken over.
    pub timed_joins: u32,
    /// Cases resolved while they were in the case's swarm, other than their own.
    pub resolved_while_helping: u32,
    /// Articles they captured.
    pub articles_captured: u32,
}

#[derive(Default)]
pub struct ContributionsQuery;

#[Object]
impl ContributionsQuery {
    /// What `agent` contributed by helping in `[from, to)`, as the log says, whatever
    /// happened later: swarms joined, help offered and accepted, the median time from
    /// being asked to joining, cases resolved while helping, articles captured. Leads
    /// and admins see anyone's; an agent their own.
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        agent: String,
        from: DateTime,
        to: DateTime,
    ) -> Result<Contributions> {
        if to.0 <= from.0 {
            return Err(bad_input("`to` must be after `from`"));
        }
        let g = Guard::of(ctx)?;
        let id = agent_id(&agent)?;
        let c = g.contributions(id.clone(), from.0, to.0).await?;
        Ok(Contributions {
            agent: id.to_string(),
            from,
            to,
            swarms_joined: c.swarms_joined,
            help_offered: c.help_offered,
            help_accepted: c.help_accepted,
            median_seconds_to_join: c.median_secs_to_join,
            timed_joins: c.timed_joins,
            resolved_while_helping: c.resolved_while_helping,
            articles_captured: c.articles_captured,
        })
    }
}
