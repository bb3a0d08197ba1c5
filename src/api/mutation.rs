//! Mutations: each one is one command on one case. Every mutation on an existing case
//! takes an optional `expectedVersion` (refused with `VERSION_CONFLICT` if the case
//! moved on) and `idempotencyKey` (a retry returns the first result, writes nothing).
//! Each returns the case after the write, with its new `version`.

use async_graphql::{Context, Object, Result, ID};

use super::error::{bad_input, not_found};
use super::guard::Guard;
use super::parse_case_id;
use super::types::*;
use crate::app::{WriteOptions, Written};
use crate::domain::{self, AgentId, CaseId, Command, RouteCase, Tier};

/// Commands on cases.
#[derive(Default)]
pub struct CaseMutation;

fn agent(id: Option<String>, default: &AgentId) -> Result<AgentId> {
    match id {
        Some(a) => AgentId::new(a).map_err(|e| bad_input(e.to_string())),
        None => Ok(default.clone()),
    }
}

pub(super) fn opts(expected_version: Option<u64>, idempotency_key: Option<String>) -> WriteOptions {
    WriteOptions {
        expected_version,
        idempotency_key,
        correlation_id: None,
    }
}

/// The case after a write; its messages (up to that version) are read only if asked.
/// A replayed result (same idempotency key) is shown only to a caller who may see
/// the case, as it is now; otherwise it is `NOT_FOUND`, like any case they cannot see.
pub(super) fn written(g: &super::guard::Guard, w: Written) -> Result<CaseObj> {
    if w.outcome.deduplicated {
        let id = w.case.id.ok_or_else(|| not_found("case"))?;
        g.require_visible(id)?;
    }
    Ok(g.visible_case(&w.case, CaseMessages::Live))
}

async fn run(
    ctx: &Context<'_>,
    case_id: &ID,
    command: Command,
    expected_version: Option<u64>,
    idempotency_key: Option<String>,
) -> Result<CaseObj> {
    let g = Guard::of(ctx)?;
    let id: CaseId = parse_case_id(case_id)?;
    let w = g
        .execute(id, command, opts(expected_version, idempotency_key))
        .await?;
    written(&g, w)
}

#[Object]
impl CaseMutation {
    /// Opens a case; routing sends it to a tier and team in the same atomic write.
    async fn open_case(
        &self,
        ctx: &Context<'_>,
        input: OpenCaseInput,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let customer_id = g.customer_of_new_case(input.customer.id.clone());
        let open = super::config::open_case(input, customer_id);
        let w = g.open_case(open, opts(None, idempotency_key)).await?;
        written(&g, w)
    }

    /// Sends a case to a tier and team (by hand; new cases are routed by the rules).
    #[allow(clippy::too_many_arguments)]
    async fn route_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        tier: String,
        team: Option<String>,
        priority: Option<Priority>,
        #[graphql(default)] sensitive: bool,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let route = RouteCase {
            tier: Tier::new(tier),
            team,
            priority: priority.map(Into::into),
            tags: Vec::new(),
            sensitive,
            rule_id: None,
            rule_set_version: None,
        };
        run(
            ctx,
            &case_id,
            Command::Route(route),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Moves a case up one tier, or to the named higher tier.
    async fn escalate_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        to_tier: Option<String>,
        reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let cmd = Command::Escalate {
            to: to_tier.map(Tier::new),
            reason,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Moves a case down one tier, or to the named lower tier.
    async fn deescalate_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        to_tier: Option<String>,
        reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let cmd = Command::Deescalate {
            to: to_tier.map(Tier::new),
            reason,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Assigns a case to an agent (the caller when `agent` is omitted).
    async fn assign_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agent: Option<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let me = Guard::of(ctx)?.actor().id.clone();
        let cmd = Command::Assign {
            agent: self::agent(agent, &me)?,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Removes the case's assignee.
    async fn unassign_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Unassign,
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Starts a swarm on the case; `lead` (default: the caller) becomes its first member.
    async fn start_swarm(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        lead: Option<String>,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let me = Guard::of(ctx)?.actor().id.clone();
        let cmd = Command::StartSwarm {
            lead: agent(lead, &me)?,
            reason,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Adds an agent (default: the caller) to the case's swarm.
    async fn join_swarm(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agent: Option<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let me = Guard::of(ctx)?.actor().id.clone();
        let cmd = Command::JoinSwarm {
            agent: self::agent(agent, &me)?,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Removes an agent (default: the caller) from the swarm. When the lead leaves, the
    /// longest-standing member leads; when the last member leaves, the swarm ends.
    async fn leave_swarm(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agent: Option<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let me = Guard::of(ctx)?.actor().id.clone();
        let cmd = Command::LeaveSwarm {
            agent: self::agent(agent, &me)?,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Makes a member the swarm's lead.
    async fn set_swarm_lead(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agent: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let me = Guard::of(ctx)?.actor().id.clone();
        let cmd = Command::SetSwarmLead {
            agent: self::agent(Some(agent), &me)?,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Posts a public reply, an internal note or swarm chat, as the caller.
    async fn post_message(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        kind: MessageKind,
        body: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let cmd = Command::PostMessage {
            kind: kind.into(),
            body,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Changes the case's priority.
    async fn change_priority(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        priority: Priority,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let cmd = Command::ChangePriority {
            priority: domain::Priority::from(priority),
            reason,
        };
        run(ctx, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Adds a tag.
    async fn tag_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        tag: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Tag { tag },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Removes a tag.
    async fn untag_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        tag: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Untag { tag },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Resolves the case; the resolution records the tier that resolved it.
    async fn resolve_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        resolution: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Resolve { resolution },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Reopens a resolved case.
    async fn reopen_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Reopen { reason },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Marks the case as waiting on the customer: its SLA clocks pause until it is
    /// resumed or the customer replies publicly.
    async fn await_customer(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::AwaitCustomer { reason },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Ends a wait on the customer; the SLA clocks run again.
    async fn resume_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Resume,
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Closes the case for good.
    async fn close_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        run(
            ctx,
            &case_id,
            Command::Close { reason },
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Issues a bearer token (admins only). The token is shown once, here; only its
    /// hash is kept. `tiers` are the tiers an agent or lead works in.
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        user: String,
        role: Role,
        #[graphql(default)] tiers: Vec<String>,
        expires_at: Option<DateTime>,
    ) -> Result<CreatedToken> {
        let g = Guard::of(ctx)?;
        g.require_admin()?;
        let user = AgentId::new(user).map_err(|e| bad_input(e.to_string()))?;
        let (token, token_id) = g
            .issue_token(user.clone(), role.into(), tiers, expires_at.map(|t| t.0))
            .await?;
        Ok(CreatedToken {
            token,
            token_id,
            user: user.to_string(),
            role,
        })
    }

    /// Revokes a token (admins only); it stops working at once, also on open WebSockets.
    async fn revoke_token(&self, ctx: &Context<'_>, token_id: String) -> Result<bool> {
        Guard::of(ctx)?.revoke_token(&token_id).await?;
        Ok(true)
    }
}

/// A newly issued token: the only time the token itself is shown.
#[derive(async_graphql::SimpleObject)]
pub struct CreatedToken {
    pub token: String,
    pub token_id: String,
    pub user: String,
    pub role: Role,
}
