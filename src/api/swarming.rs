//! Intelligent swarming in the API: the expert finder (`suggestExperts`), needed
//! skills, invitations (`inviteToSwarm`, `acceptInvitation`, `declineInvitation`,
//! `myInvitations`), raised hands (`requestHelp`, `offerHelp`, `acceptHelp`,
//! `helpRequests`), swarm types and roles (`setSwarmType`, `setSwarmRole`) and a
//! case's whole swarming state (`caseSwarming`). Every write is one command on one
//! case, with the optional `expectedVersion` and `idempotencyKey` of every case
//! mutation, and returns the case after it.

use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};

use super::config::agent_id;
use super::guard::Guard;
use super::mutation::{opts, written};
use super::parse_case_id;
use super::types::{CaseObj, DateTime};
use crate::domain::swarming::{self as method, SkillSource};
use crate::domain::{CaseId, Command};
use crate::swarming::experts;

/// Whether an agent can take work now.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "experts::Presence")]
pub enum Presence {
    Available,
    Busy,
    Away,
}

/// A member's part in a swarm; its lead is `LEAD`, and there is only one.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "method::SwarmRole")]
pub enum SwarmRole {
    Lead,
    Communications,
    Researcher,
    Knowledge,
}

/// What a swarm is for.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "method::SwarmType")]
pub enum SwarmType {
    /// Experts pulled in on one case (the default).
    Case,
    /// An outage or crisis.
    #[graphql(name = "SEVERITY_1")]
    Severity1,
    /// A standing swarm triaging a team's new cases.
    Dispatch,
    /// A standing swarm working ageing cases.
    Backlog,
}

/// A member of a swarm and their role.
#[derive(SimpleObject, Clone, Debug)]
pub struct SwarmMemberRole {
    pub agent: String,
    /// `null` for a member without a role.
    pub role: Option<SwarmRole>,
}

/// How a case is being swarmed: what it needs, the swarm's type and roles, its
/// invitations (all, answered ones included) and help requests.
#[derive(SimpleObject, Clone, Debug)]
pub struct CaseSwarming {
    pub case_id: ID,
    pub needed_skills: Vec<String>,
    pub swarm_type: SwarmType,
    /// Every member of the active swarm, its lead (`LEAD`) first.
    pub roles: Vec<SwarmMemberRole>,
    pub invitations: Vec<Invitation>,
    pub help_requests: Vec<HelpRequest>,
    /// Roles the swarm's type needs that no member holds: a `SEVERITY_1` swarm needs
    /// `LEAD` and `COMMUNICATIONS` (reported here, never enforced).
    pub missing_roles: Vec<SwarmRole>,
    /// When a `SEVERITY_1` swarm's next status update to the customer is due (a
    /// public reply restarts the clock); null for other swarms.
    pub status_update_due: Option<DateTime>,
}

impl CaseSwarming {
    fn new(id: CaseId, case: &crate::domain::Case, status_update_secs: i64) -> Self {
        let mut roles: Vec<SwarmMemberRole> = case
            .swarm
            .iter()
            .flat_map(|s| s.members.keys())
            .map(|a| SwarmMemberRole {
                agent: a.to_string(),
                role: case.swarm_role(a).map(Into::into),
            })
            .collect();
        roles.sort_by_key(|r| r.role != Some(SwarmRole::Lead));
        CaseSwarming {
            case_id: ID(id.to_string()),
            needed_skills: case.swarming.skills.iter().cloned().collect(),
            swarm_type: case.swarming.swarm_type.into(),
            roles,
            invitations: case
                .swarming
                .invitations
                .values()
                .map(|i| Invitation::new(id, i.clone()))
                .collect(),
            help_requests: case
                .swarming
                .help_requests
                .iter()
                .map(|r| HelpRequest::new(id, r.clone()))
                .collect(),
            missing_roles: case.missing_roles().into_iter().map(Into::into).collect(),
            status_update_due: case
                .swarming
                .status_update_due(status_update_secs)
                .map(DateTime),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "method::InvitationStatus")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Expired,
    /// The swarm ended before the invitee answered.
    Lapsed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "method::HelpStatus")]
pub enum HelpRequestStatus {
    Open,
    Accepted,
    Closed,
}

/// An agent the expert finder proposes, and why.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExpertSuggestion {
    pub agent: String,
    pub name: String,
    /// The case's needed skills this agent has.
    pub covers: Vec<String>,
    /// Open cases assigned to them.
    pub load: u32,
    /// Most open cases they take at once.
    pub capacity: u32,
    pub languages: Vec<String>,
    pub presence: Presence,
    /// How often they helped on similar cases (same skills or tags).
    pub past_contribution: u32,
    /// One line: why this agent.
    pub why: String,
}

impl From<experts::Suggestion> for ExpertSuggestion {
    fn from(s: experts::Suggestion) -> Self {
        ExpertSuggestion {
            agent: s.agent.to_string(),
            name: s.name,
            covers: s.covers,
            load: s.load,
            capacity: s.capacity,
            languages: s.languages,
            presence: s.presence.into(),
            past_contribution: s.past_contribution,
            why: s.why,
        }
    }
}

/// An invitation to a case's swarm.
#[derive(SimpleObject, Clone, Debug)]
pub struct Invitation {
    pub case_id: ID,
    pub agent: String,
    pub invited_by: String,
    pub note: String,
    pub invited_at: DateTime,
    /// When it expires unanswered (never, if absent).
    pub expires_at: Option<DateTime>,
    /// Whether the finder's next best is invited if this one is declined or expires.
    pub auto_replace: bool,
    pub status: InvitationStatus,
}

impl Invitation {
    pub(crate) fn new(case: CaseId, i: method::Invitation) -> Self {
        Invitation {
            case_id: ID(case.to_string()),
            agent: i.agent.to_string(),
            invited_by: i.by.to_string(),
            note: i.note,
            invited_at: DateTime(i.invited_at),
            expires_at: i.expires_at.map(DateTime),
            auto_replace: i.auto_replace,
            status: i.status.into(),
        }
    }
}

/// A raised hand on a case. `number` counts the case's requests from 1.
#[derive(SimpleObject, Clone, Debug)]
pub struct HelpRequest {
    pub case_id: ID,
    pub number: u32,
    pub by: String,
    pub skills: Vec<String>,
    pub note: String,
    pub at: DateTime,
    /// Who offered help, in order.
    pub offers: Vec<String>,
    pub status: HelpRequestStatus,
    pub helper: Option<String>,
}

impl HelpRequest {
    pub(crate) fn new(case: CaseId, r: method::HelpRequest) -> Self {
        HelpRequest {
            case_id: ID(case.to_string()),
            number: r.id,
            by: r.by.to_string(),
            skills: r.skills,
            note: r.note,
            at: DateTime(r.at),
            offers: r.offers.iter().map(ToString::to_string).collect(),
            status: r.status.into(),
            helper: r.helper.map(|h| h.to_string()),
        }
    }
}

async fn run(
    g: &Guard,
    case_id: &ID,
    command: Command,
    expected_version: Option<u64>,
    idempotency_key: Option<String>,
) -> Result<CaseObj> {
    let id = parse_case_id(case_id)?;
    let w = g
        .execute(id, command, opts(expected_version, idempotency_key))
        .await?;
    written(g, w)
}

/// Swarming queries.
#[derive(Default)]
pub struct SwarmingQuery;

#[Object]
impl SwarmingQuery {
    /// Agents to invite to the case, best first: the fewest eligible agents (tiers
    /// that reach the case's, below capacity, available unless `includeUnavailable`)
    /// covering its needed skills, then others with a needed skill; without needed
    /// skills, the least loaded agents of the case's tier. Staff only.
    async fn suggest_experts(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 5)] max: u32,
        #[graphql(default)] include_unavailable: bool,
    ) -> Result<Vec<ExpertSuggestion>> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        Ok(g.suggest_experts(id, max, include_unavailable)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// How the case is being swarmed (staff who may see the case).
    async fn case_swarming(&self, ctx: &Context<'_>, case_id: ID) -> Result<CaseSwarming> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let (case, every) = g.swarming_of(id)?;
        Ok(CaseSwarming::new(id, &case, every))
    }

    /// The caller's pending invitations, oldest first (agents and leads).
    async fn my_invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        let g = Guard::of(ctx)?;
        Ok(g.my_invitations()?
            .into_iter()
            .map(|(c, i)| Invitation::new(c, i))
            .collect())
    }

    /// Open help requests the caller could answer, oldest first: on cases they may
    /// see, asking for one of their skills (agents in the directory; leads and admins
    /// see all), and their own. Staff only.
    async fn help_requests(
        &self,
        ctx: &Context<'_>,
        case_id: Option<ID>,
    ) -> Result<Vec<HelpRequest>> {
        let g = Guard::of(ctx)?;
        let only = case_id.as_ref().map(parse_case_id).transpose()?;
        Ok(g.help_requests(only)?
            .into_iter()
            .map(|(c, r)| HelpRequest::new(c, r))
            .collect())
    }
}

/// Swarming mutations.
#[derive(Default)]
pub struct SwarmingMutation;

#[Object]
impl SwarmingMutation {
    /// Replaces the skills the case needs (what `suggestExperts` covers).
    async fn set_case_skills(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        skills: Vec<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::SetCaseSkills {
            skills,
            source: SkillSource::Staff,
            rule_id: None,
        };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Invites agents of the directory to the case's swarm (starting one, led by the
    /// caller, if none is active). A private case refuses agents whose tiers do not
    /// reach it unless a lead gives a `reason`, which is recorded.
    #[allow(clippy::too_many_arguments)]
    async fn invite_to_swarm(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agents: Vec<String>,
        #[graphql(default)] note: String,
        #[graphql(default)] auto_replace: bool,
        expires_in_minutes: Option<u32>,
        reason: Option<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let agents = agents
            .iter()
            .map(|a| agent_id(a))
            .collect::<Result<Vec<_>>>()?;
        let w = g
            .invite_to_swarm(
                id,
                agents,
                note,
                auto_replace,
                expires_in_minutes,
                reason,
                opts(expected_version, idempotency_key),
            )
            .await?;
        written(&g, w)
    }

    /// The caller accepts their invitation and joins the swarm.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::AcceptInvitation;
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// The caller declines their invitation. If the inviter asked for it
    /// (`autoReplace`), the expert finder's next best is invited in their place.
    async fn decline_invitation(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let w = g
            .decline_invitation(id, reason, opts(expected_version, idempotency_key))
            .await?;
        written(&g, w)
    }

    /// The caller raises their hand for help with `skills` (or with what `note`
    /// says); agents with one of the skills see it in `helpRequests`.
    async fn request_help(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default)] skills: Vec<String>,
        #[graphql(default)] note: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::RequestHelp { skills, note };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// The caller offers help on the case's request `requestId` (not their own).
    async fn offer_help(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        request_id: u32,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::OfferHelp { request_id };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Accepts `helper`'s offer: the helper joins the swarm; the case's owner stays
    /// its owner.
    async fn accept_help(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        request_id: u32,
        helper: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::AcceptHelp {
            request_id,
            helper: agent_id(&helper)?,
        };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Closes an open help request without a helper (whoever asked, the case's owner,
    /// the swarm's lead or a lead).
    async fn close_help_request(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        request_id: u32,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::CloseHelpRequest { request_id, reason };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Sets the active swarm's type (the swarm's lead or a lead).
    async fn set_swarm_type(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        swarm_type: SwarmType,
        #[graphql(default)] reason: String,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::SetSwarmType {
            swarm_type: swarm_type.into(),
            reason,
        };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }

    /// Gives a member a role in the swarm (the swarm's lead or a lead). `LEAD` is
    /// refused: hand the lead over with `setSwarmLead`.
    async fn set_swarm_role(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agent: String,
        role: SwarmRole,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let cmd = Command::SetSwarmRole {
            agent: agent_id(&agent)?,
            role: role.into(),
        };
        run(&g, &case_id, cmd, expected_version, idempotency_key).await
    }
}
