//! Commands and `decide`: the one place where a case's rules live.
//!
//! `decide(&case, command, &ctx)` returns the events the command produces, or why it
//! is refused: it checks what holds for every command (the case exists, is not
//! closed, is reopened before other work) and hands the command to its own function
//! (escalation and de-escalation share one tier change). Among its rules: a sensitive case never goes below the sensitive floor
//! ([`TierLadder::sensitive_floor`]), whoever asks (re-routing, de-escalation; SLA
//! steps only ever raise a tier), and marking a case sensitive while routing it below
//! the floor is refused. A case's team, when it has one, always works the case's
//! tier: a route to a team that works another tier is refused, and a case that
//! moves to another tier (escalation, de-escalation, an SLA step) goes to that tier's
//! default team, or to none when no team works it ([`TierTeams::default_for`]),
//! recorded as `TeamChanged` in the same append. It is a pure function: the clock and the actor arrive in [`Context`],
//! so tests replay any scenario exactly.
//!
//! Over 600 lines: the commands, the checks every command shares and one short function
//! per command; they change together.

use super::case::{Case, Channel, Customer, MessageKind, Priority, Status};
use super::error::DomainError;
use super::event::*;
use super::ids::{Actor, AgentId, CaseId, Role, Timestamp};
use super::sla::{SlaConfig, SlaKind};
use super::swarming::decide as swarming;
use super::swarming::decide::InviteToSwarm;
use super::swarming::knowledge;
use super::swarming::{SkillSource, SwarmRole, SwarmType};
use super::tier::{Tier, TierLadder, TierTeams};

/// Longest subject, in bytes.
pub const MAX_SUBJECT: usize = 300;
/// Longest body, message or resolution text, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// Longest tag, in bytes.
pub const MAX_TAG: usize = 64;
/// Most tags on one case.
pub const MAX_TAGS: usize = 32;

/// What `decide` needs besides the case: the tiers, teams and SLA policies in
/// force, who acts, and when.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub tiers: &'a TierLadder,
    /// Which tier each team works, and each tier's default team.
    pub teams: &'a TierTeams,
    /// Routing and priority changes apply the matching policy to the case.
    pub sla: &'a SlaConfig,
    pub actor: &'a Actor,
    pub now: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenCase {
    pub case_id: CaseId,
    pub subject: String,
    pub body: String,
    pub channel: Channel,
    pub customer: Customer,
    pub language: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// What a customer asked for (kept apart from `priority`, which staff and rules
    /// set); `None` when staff opened the case.
    pub requested_priority: Option<Priority>,
}

/// The request a recorded opening answers, as it was decided (what rule simulation
/// replays against other rules).
impl From<CaseOpened> for OpenCase {
    fn from(o: CaseOpened) -> Self {
        OpenCase {
            case_id: o.case_id,
            subject: o.subject,
            body: o.body,
            channel: o.channel,
            customer: o.customer,
            language: o.language,
            priority: o.priority,
            tags: o.tags,
            requested_priority: o.requested_priority,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteCase {
    pub tier: Tier,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub sensitive: bool,
    pub rule_id: Option<String>,
    pub rule_set_version: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Open(OpenCase),
    Route(RouteCase),
    /// Up one tier, or to a named higher tier.
    Escalate {
        to: Option<Tier>,
        reason: String,
    },
    /// Down one tier, or to a named lower tier.
    Deescalate {
        to: Option<Tier>,
        reason: String,
    },
    Assign {
        agent: AgentId,
    },
    Unassign,
    /// Starts a swarm led by `lead` (who becomes its first member).
    StartSwarm {
        lead: AgentId,
        reason: String,
    },
    JoinSwarm {
        agent: AgentId,
    },
    LeaveSwarm {
        agent: AgentId,
    },
    SetSwarmLead {
        agent: AgentId,
    },
    PostMessage {
        kind: MessageKind,
        body: String,
    },
    ChangePriority {
        priority: Priority,
        reason: String,
    },
    Tag {
        tag: String,
    },
    Untag {
        tag: String,
    },
    Resolve {
        resolution: String,
    },
    Reopen {
        reason: String,
    },
    Close {
        reason: String,
    },
    /// The case waits on the customer: SLA clocks pause until `Resume` or a public
    /// reply by the customer.
    AwaitCustomer {
        reason: String,
    },
    Resume,
    /// Records that `kind`'s deadline passed unmet (the SLA scheduler sends it).
    RecordSlaBreach {
        kind: SlaKind,
    },
    /// Runs step `step` of the policy's escalation chain (the SLA scheduler sends it).
    RunSlaEscalation {
        step: u32,
    },
    /// Replaces the skills the case needs.
    SetCaseSkills {
        skills: Vec<String>,
        source: SkillSource,
        rule_id: Option<String>,
    },
    /// Invites agents to the swarm (starting one led by the inviter if none is active).
    InviteToSwarm(InviteToSwarm),
    /// The actor accepts their invitation and joins the swarm.
    AcceptInvitation,
    DeclineInvitation {
        reason: String,
    },
    /// Records that `agent`'s invitation expired unanswered (the scheduler sends it).
    ExpireInvitation {
        agent: AgentId,
    },
    /// The actor raises their hand for help with `skills`.
    RequestHelp {
        skills: Vec<String>,
        note: String,
    },
    OfferHelp {
        request_id: u32,
    },
    /// Accepts `helper`'s offer on the request: the helper joins the swarm.
    AcceptHelp {
        request_id: u32,
        helper: AgentId,
    },
    CloseHelpRequest {
        request_id: u32,
        reason: String,
    },
    SetSwarmType {
        swarm_type: SwarmType,
        reason: String,
    },
    SetSwarmRole {
        agent: AgentId,
        role: SwarmRole,
    },
    /// Writes up what solved the case, for reuse (at or after resolution: the one
    /// command a closed case still takes; it changes nothing but adds an article).
    CaptureKnowledge {
        title: String,
        body: String,
        tags: Vec<String>,
    },
    /// Records that a `SEVERITY_1` swarm's status update to the customer is overdue
    /// (the scheduler's; at most once per missed interval of `interval_secs`).
    RemindStatusUpdate {
        interval_secs: u32,
    },
}

impl Command {
    /// A short verb for errors and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Open(_) => "open",
            Command::Route(_) => "route",
            Command::Escalate { .. } => "escalate",
            Command::Deescalate { .. } => "de-escalate",
            Command::Assign { .. } => "assign",
            Command::Unassign => "unassign",
            Command::StartSwarm { .. } => "start swarm",
            Command::JoinSwarm { .. } => "join swarm",
            Command::LeaveSwarm { .. } => "leave swarm",
            Command::SetSwarmLead { .. } => "set swarm lead",
            Command::PostMessage { .. } => "post message",
            Command::ChangePriority { .. } => "change priority",
            Command::Tag { .. } => "tag",
            Command::Untag { .. } => "untag",
            Command::Resolve { .. } => "resolve",
            Command::Reopen { .. } => "reopen",
            Command::Close { .. } => "close",
            Command::AwaitCustomer { .. } => "await customer",
            Command::Resume => "resume",
            Command::RecordSlaBreach { .. } => "record SLA breach",
            Command::RunSlaEscalation { .. } => "run SLA escalation",
            Command::SetCaseSkills { .. } => "set case skills",
            Command::InviteToSwarm(_) => "invite to swarm",
            Command::AcceptInvitation => "accept invitation",
            Command::DeclineInvitation { .. } => "decline invitation",
            Command::ExpireInvitation { .. } => "expire invitation",
            Command::RequestHelp { .. } => "request help",
            Command::OfferHelp { .. } => "offer help",
            Command::AcceptHelp { .. } => "accept help",
            Command::CloseHelpRequest { .. } => "close help request",
            Command::SetSwarmType { .. } => "set swarm type",
            Command::SetSwarmRole { .. } => "set swarm role",
            Command::CaptureKnowledge { .. } => "capture knowledge",
            Command::RemindStatusUpdate { .. } => "remind status update",
        }
    }
}

pub(crate) fn text(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, DomainError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(DomainError::Invalid(format!("{field} must not be empty")));
    }
    if v.len() > max {
        return Err(DomainError::Invalid(format!(
            "{field} is longer than {max} bytes"
        )));
    }
    Ok(v.to_string())
}

fn tag(value: &str) -> Result<String, DomainError> {
    let t = value.trim().to_lowercase();
    let ok = |c: char| c.is_alphanumeric() || "-_:./".contains(c);
    if t.is_empty() || t.len() > MAX_TAG || !t.chars().all(ok) {
        return Err(DomainError::Invalid(format!(
            "`{value}` is not a valid tag (1-{MAX_TAG} letters, digits, - _ : . /)"
        )));
    }
    Ok(t)
}

pub(crate) fn tags(values: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let t = tag(v)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(DomainError::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// Decides one command against the case's current state.
pub fn decide(
    case: &Case,
    command: Command,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let action = command.name();
    if let Command::Open(open) = command {
        return open_case(case, open);
    }
    if !case.exists() {
        return Err(DomainError::CaseNotFound);
    }
    // Reopening is the only way out of Resolved; nothing leaves Closed (capturing
    // knowledge leaves the case as it is).
    match (&command, case.status) {
        (Command::CaptureKnowledge { .. }, Status::Closed) => {}
        (_, Status::Closed) => return Err(DomainError::transition(action, "the case is closed")),
        (Command::Reopen { .. } | Command::Close { .. } | Command::PostMessage { .. }, _) => {}
        (Command::Tag { .. } | Command::Untag { .. }, _) => {}
        // Knowledge is written at or after resolution (see `swarming::knowledge`).
        (Command::CaptureKnowledge { .. }, _) => {}
        (_, Status::Resolved) => {
            return Err(DomainError::transition(
                action,
                "the case is resolved; reopen it first",
            ))
        }
        _ => {}
    }
    match command {
        Command::Open(_) => unreachable!("handled above"),
        Command::Route(r) => route(case, r, action, ctx),
        Command::Escalate { to, reason } => change_tier(case, Move::Up, to, reason, action, ctx),
        Command::Deescalate { to, reason } => {
            change_tier(case, Move::Down, to, reason, action, ctx)
        }
        Command::Assign { agent } => assign(case, agent, action),
        Command::Unassign => unassign(case, action),
        Command::StartSwarm { lead, reason } => start_swarm(case, lead, reason, action),
        Command::JoinSwarm { agent } => join_swarm(case, agent, action),
        Command::LeaveSwarm { agent } => leave_swarm(case, agent, action),
        Command::SetSwarmLead { agent } => set_swarm_lead(case, agent, action),
        Command::PostMessage { kind, body } => post_message(case, kind, body, action, ctx),
        Command::ChangePriority { priority, reason } => {
            change_priority(case, priority, reason, action, ctx)
        }
        Command::Tag { tag } => add_tag(case, tag, action),
        Command::Untag { tag } => remove_tag(case, tag, action),
        Command::Resolve { resolution } => resolve(case, resolution, ctx),
        Command::Reopen { reason } => reopen(case, reason, action),
        Command::Close { reason } => close(case, reason),
        Command::AwaitCustomer { reason } => await_customer(case, reason, action),
        Command::Resume => resume(case, action),
        Command::RecordSlaBreach { kind } => record_sla_breach(case, kind, action, ctx),
        Command::RunSlaEscalation { step } => run_sla_escalation(case, step, action, ctx),
        Command::SetCaseSkills {
            skills,
            source,
            rule_id,
        } => swarming::set_case_skills(case, skills, source, rule_id, action),
        Command::InviteToSwarm(invite) => swarming::invite(case, invite, action, ctx),
        Command::AcceptInvitation => swarming::accept_invitation(case, action, ctx),
        Command::DeclineInvitation { reason } => {
            swarming::decline_invitation(case, reason, action, ctx)
        }
        Command::ExpireInvitation { agent } => {
            swarming::expire_invitation(case, agent, action, ctx)
        }
        Command::RequestHelp { skills, note } => swarming::request_help(case, skills, note, ctx),
        Command::OfferHelp { request_id } => swarming::offer_help(case, request_id, action, ctx),
        Command::AcceptHelp { request_id, helper } => {
            swarming::accept_help(case, request_id, helper, action, ctx)
        }
        Command::CloseHelpRequest { request_id, reason } => {
            swarming::close_help_request(case, request_id, reason, action)
        }
        Command::SetSwarmType { swarm_type, reason } => {
            swarming::set_swarm_type(case, swarm_type, reason, action)
        }
        Command::SetSwarmRole { agent, role } => {
            swarming::set_swarm_role(case, agent, role, action)
        }
        Command::CaptureKnowledge { title, body, tags } => {
            knowledge::capture_knowledge(case, title, body, tags, action, &ctx.actor.id)
        }
        Command::RemindStatusUpdate { interval_secs } => {
            swarming::remind_status_update(case, interval_secs, action, ctx)
        }
    }
}

pub(crate) type Decided = Result<Vec<CaseEvent>, DomainError>;

fn open_case(case: &Case, open: OpenCase) -> Decided {
    if case.exists() {
        return Err(DomainError::CaseExists);
    }
    let customer = Customer {
        id: text("customer id", &open.customer.id, 128, true)?,
        name: text("customer name", &open.customer.name, 200, false)?,
        ..open.customer
    };
    let language = text("language", &open.language, 16, false)?;
    Ok(vec![CaseEvent::Opened(CaseOpened {
        case_id: open.case_id,
        subject: text("subject", &open.subject, MAX_SUBJECT, true)?,
        body: text("body", &open.body, MAX_TEXT, false)?,
        channel: open.channel,
        customer,
        language: if language.is_empty() {
            "en".into()
        } else {
            language.to_lowercase()
        },
        priority: open.priority,
        tags: tags(&open.tags)?,
        requested_priority: open.requested_priority,
    })])
}

fn route(case: &Case, r: RouteCase, action: &'static str, ctx: &Context<'_>) -> Decided {
    let tier = ctx.tiers.get(r.tier.as_str())?;
    // Marking a case sensitive below the floor is refused, not silently
    // raised: the caller chose the tier, and a different one would surprise.
    if (case.sensitive || r.sensitive) && !ctx.tiers.allows_sensitive(&tier) {
        return Err(below_floor(action, &tier, ctx.tiers));
    }
    let team = match r.team {
        Some(t) => Some(text("team", &t, 64, true)?),
        None => None,
    };
    if let Some(works) = team.as_deref().and_then(|t| ctx.teams.tier_of(t)) {
        if *works != tier {
            return Err(DomainError::Invalid(format!(
                "team `{}` works tier `{works}`, not `{tier}`",
                team.as_deref().unwrap_or_default()
            )));
        }
    }
    let new_tags: Vec<String> = tags(&r.tags)?
        .into_iter()
        .filter(|t| !case.tags.contains(t))
        .collect();
    if case.tags.len() + new_tags.len() > MAX_TAGS {
        return Err(DomainError::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    let priority = r.priority.unwrap_or(case.priority);
    let sla = sla_applied(case, priority, team.as_deref(), ctx);
    let routed = CaseEvent::Routed(CaseRouted {
        tier,
        team,
        priority: r.priority,
        tags: new_tags,
        sensitive: r.sensitive,
        rule_id: r.rule_id,
        rule_set_version: r.rule_set_version,
    });
    Ok([routed].into_iter().chain(sla).collect())
}

/// Which way a tier change goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Move {
    Up,
    Down,
}

/// Escalation (`Up`) and de-escalation (`Down`): one tier that way, or to a named
/// tier that way; never below the sensitive floor; the team follows the tier.
fn change_tier(
    case: &Case,
    way: Move,
    to: Option<Tier>,
    reason: String,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    let from = current_tier(case, action)?;
    let to = match (to, way) {
        (Some(t), _) => ctx.tiers.get(t.as_str())?,
        (None, Move::Up) => ctx
            .tiers
            .above(&from)
            .cloned()
            .ok_or_else(|| DomainError::TopTier(from.clone()))?,
        (None, Move::Down) => ctx
            .tiers
            .below(&from)
            .cloned()
            .ok_or_else(|| DomainError::BottomTier(from.clone()))?,
    };
    let (rank_to, rank_from) = (ctx.tiers.rank(&to), ctx.tiers.rank(&from));
    match way {
        Move::Up if rank_to <= rank_from => {
            return Err(DomainError::transition(
                action,
                format!("`{to}` is not above `{from}`"),
            ))
        }
        Move::Down if rank_to >= rank_from => {
            return Err(DomainError::transition(
                action,
                format!("`{to}` is not below `{from}`"),
            ))
        }
        _ => {}
    }
    if way == Move::Down && case.sensitive && !ctx.tiers.allows_sensitive(&to) {
        return Err(below_floor(action, &to, ctx.tiers));
    }
    let change = TierChanged {
        from,
        to: to.clone(),
        reason: text("reason", &reason, 2000, true)?,
    };
    let changed = match way {
        Move::Up => CaseEvent::Escalated(change),
        Move::Down => CaseEvent::Deescalated(change),
    };
    Ok([changed]
        .into_iter()
        .chain(team_for_tier(case, &to, ctx))
        .collect())
}

fn assign(case: &Case, agent: AgentId, action: &'static str) -> Decided {
    if case.assignee.as_ref() == Some(&agent) {
        return Err(DomainError::transition(
            action,
            format!("already assigned to `{agent}`"),
        ));
    }
    Ok(vec![CaseEvent::Assigned(AgentRef { agent })])
}

fn unassign(case: &Case, action: &'static str) -> Decided {
    match &case.assignee {
        Some(agent) => Ok(vec![CaseEvent::Unassigned(AgentRef {
            agent: agent.clone(),
        })]),
        None => Err(DomainError::transition(action, "the case has no assignee")),
    }
}

fn start_swarm(case: &Case, lead: AgentId, reason: String, action: &'static str) -> Decided {
    if case.swarm.is_some() {
        return Err(DomainError::transition(action, "a swarm is already active"));
    }
    Ok(vec![CaseEvent::SwarmStarted(SwarmStarted {
        lead,
        reason: text("reason", &reason, 2000, false)?,
    })])
}

fn join_swarm(case: &Case, agent: AgentId, action: &'static str) -> Decided {
    let swarm = case.swarm.as_ref().ok_or_else(|| no_swarm(action))?;
    if swarm.members.contains_key(&agent) {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` is already in the swarm"),
        ));
    }
    // Joining answers a pending invitation.
    let accepted = case.swarming.is_invited(&agent).then(|| {
        CaseEvent::InvitationAccepted(InvitationAccepted {
            agent: agent.clone(),
        })
    });
    Ok(accepted
        .into_iter()
        .chain([CaseEvent::SwarmJoined(AgentRef { agent })])
        .collect())
}

fn leave_swarm(case: &Case, agent: AgentId, action: &'static str) -> Decided {
    let swarm = case.swarm.as_ref().ok_or_else(|| no_swarm(action))?;
    if !swarm.members.contains_key(&agent) {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` is not in the swarm"),
        ));
    }
    let mut events = vec![CaseEvent::SwarmLeft(AgentRef {
        agent: agent.clone(),
    })];
    // The lead is always a member: when the lead leaves, the longest-standing
    // member takes over; when the last member leaves, the swarm ends.
    let successor = swarm
        .members
        .iter()
        .filter(|(a, _)| **a != agent)
        .min_by_key(|(a, at)| (**at, (*a).clone()))
        .map(|(a, _)| a.clone());
    match successor {
        None => events.push(CaseEvent::SwarmEnded(SwarmEnded {
            reason: "last member left".into(),
        })),
        Some(next) if swarm.lead == agent => {
            events.push(CaseEvent::SwarmLeadChanged(SwarmLeadChanged {
                from: agent,
                to: next,
            }))
        }
        Some(_) => {}
    }
    Ok(events)
}

fn set_swarm_lead(case: &Case, agent: AgentId, action: &'static str) -> Decided {
    let swarm = case.swarm.as_ref().ok_or_else(|| no_swarm(action))?;
    if !swarm.members.contains_key(&agent) {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` is not in the swarm"),
        ));
    }
    if swarm.lead == agent {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` already leads the swarm"),
        ));
    }
    Ok(vec![CaseEvent::SwarmLeadChanged(SwarmLeadChanged {
        from: swarm.lead.clone(),
        to: agent,
    })])
}

fn post_message(
    case: &Case,
    kind: MessageKind,
    body: String,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    if kind == MessageKind::SwarmChat && !case.is_swarm_member(&ctx.actor.id) {
        return Err(DomainError::transition(
            action,
            "only swarm members can post swarm chat",
        ));
    }
    let posted = CaseEvent::MessagePosted(MessagePosted {
        kind,
        author: ctx.actor.id.clone(),
        body: text("message", &body, MAX_TEXT, true)?,
    });
    let mut events = vec![posted];
    if kind == MessageKind::PublicReply {
        if ctx.actor.role == Role::Customer {
            if case.awaiting_customer_since.is_some() {
                events.push(CaseEvent::Resumed(Reason {
                    reason: "customer replied".into(),
                }));
            }
        } else if case.first_response_at.is_none() {
            events.push(CaseEvent::FirstResponded(FirstResponded {
                by: ctx.actor.id.clone(),
            }));
        }
    }
    Ok(events)
}

fn change_priority(
    case: &Case,
    priority: Priority,
    reason: String,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    if case.priority == priority {
        return Err(DomainError::transition(
            action,
            format!("priority is already {}", priority.as_str()),
        ));
    }
    let changed = CaseEvent::PriorityChanged(PriorityChanged {
        from: case.priority,
        to: priority,
        reason: text("reason", &reason, 2000, false)?,
    });
    let sla = case
        .tier
        .as_ref()
        .and_then(|_| sla_applied(case, priority, case.team.as_deref(), ctx));
    Ok([changed].into_iter().chain(sla).collect())
}

fn add_tag(case: &Case, t: String, action: &'static str) -> Decided {
    let t = tag(&t)?;
    if case.tags.contains(&t) {
        return Err(DomainError::transition(
            action,
            format!("already tagged `{t}`"),
        ));
    }
    if case.tags.len() >= MAX_TAGS {
        return Err(DomainError::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    Ok(vec![CaseEvent::Tagged(TagRef { tag: t })])
}

fn remove_tag(case: &Case, t: String, action: &'static str) -> Decided {
    let t = tag(&t)?;
    if !case.tags.contains(&t) {
        return Err(DomainError::transition(action, format!("not tagged `{t}`")));
    }
    Ok(vec![CaseEvent::Untagged(TagRef { tag: t })])
}

fn resolve(case: &Case, resolution: String, ctx: &Context<'_>) -> Decided {
    let resolved = CaseEvent::Resolved(CaseResolved {
        resolution: text("resolution", &resolution, MAX_TEXT, true)?,
        tier: case.tier.clone(),
        by: ctx.actor.id.clone(),
    });
    Ok(with_swarm_ended(case, resolved, "case resolved"))
}

fn reopen(case: &Case, reason: String, action: &'static str) -> Decided {
    if case.status != Status::Resolved {
        return Err(DomainError::transition(
            action,
            "only a resolved case can be reopened",
        ));
    }
    Ok(vec![CaseEvent::Reopened(Reason {
        reason: text("reason", &reason, 2000, false)?,
    })])
}

fn close(case: &Case, reason: String) -> Decided {
    let closed = CaseEvent::Closed(Reason {
        reason: text("reason", &reason, 2000, false)?,
    });
    Ok(with_swarm_ended(case, closed, "case closed"))
}

fn await_customer(case: &Case, reason: String, action: &'static str) -> Decided {
    if case.awaiting_customer_since.is_some() {
        return Err(DomainError::transition(
            action,
            "the case already waits on the customer",
        ));
    }
    Ok(vec![CaseEvent::AwaitingCustomer(Reason {
        reason: text("reason", &reason, 2000, false)?,
    })])
}

fn resume(case: &Case, action: &'static str) -> Decided {
    if case.awaiting_customer_since.is_none() {
        return Err(DomainError::transition(
            action,
            "the case is not waiting on the customer",
        ));
    }
    Ok(vec![CaseEvent::Resumed(Reason {
        reason: "resumed".into(),
    })])
}

fn record_sla_breach(
    case: &Case,
    kind: SlaKind,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    let deadline = case
        .sla_breach_due(kind, ctx.now)
        .map_err(|reason| DomainError::Sla { action, reason })?;
    Ok(vec![CaseEvent::SlaBreached(SlaBreached {
        kind,
        deadline,
        policy_id: sla_policy_id(case),
    })])
}

fn run_sla_escalation(case: &Case, step: u32, action: &'static str, ctx: &Context<'_>) -> Decided {
    let s = case
        .sla_step_due(step, ctx.now)
        .map_err(|reason| DomainError::Sla { action, reason })?
        .clone();
    let policy_id = sla_policy_id(case);
    let reason = format!("SLA escalation step {step} of policy `{policy_id}`");
    let mut events = vec![CaseEvent::SlaEscalated(SlaEscalated {
        step,
        clock: s.clock,
        notify_lead: s.notify_lead,
        policy_id,
    })];
    if let Some(to) = case.priority.raised().filter(|_| s.raise_priority) {
        events.push(CaseEvent::PriorityChanged(PriorityChanged {
            from: case.priority,
            to,
            reason: reason.clone(),
        }));
        events.extend(sla_applied(case, to, case.team.as_deref(), ctx));
    }
    let above = case.tier.as_ref().and_then(|t| ctx.tiers.above(t));
    if let (Some(from), Some(to), true) = (&case.tier, above, s.escalate_tier) {
        events.push(CaseEvent::Escalated(TierChanged {
            from: from.clone(),
            to: to.clone(),
            reason,
        }));
        events.extend(team_for_tier(case, to, ctx));
    }
    Ok(events)
}

/// Decides several commands as one unit (e.g. open + route): each sees the state the
/// previous ones produced; any refusal refuses them all.
pub fn decide_all(
    case: &Case,
    commands: impl IntoIterator<Item = Command>,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let mut state = case.clone();
    let mut out = Vec::new();
    for command in commands {
        let events = decide(&state, command, ctx)?;
        for e in &events {
            state.apply(e, state.version + 1, ctx.now);
        }
        out.extend(events);
    }
    Ok(out)
}

/// The `SlaApplied` event for a case about to have `priority` and `team`, if a policy
/// matches and it differs from the one in force. A case no policy matches any more
/// keeps its last SLA.
fn sla_applied(
    case: &Case,
    priority: Priority,
    team: Option<&str>,
    ctx: &Context<'_>,
) -> Option<CaseEvent> {
    let segment = case.customer.as_ref()?.segment;
    let (policy, calendar) = ctx.sla.policy_for(priority, segment, team)?;
    let applied = policy.applied(calendar);
    if case.sla.as_ref().is_some_and(|c| c.same_policy(&applied)) {
        return None;
    }
    Some(CaseEvent::SlaApplied(applied))
}

/// The `TeamChanged` a move of `case` to `tier` needs, if any: it keeps a team that
/// works `tier` too, else goes to `tier`'s default team (none when no team works it).
/// The SLA policy in force is not re-applied: it follows priority and routing.
fn team_for_tier(case: &Case, tier: &Tier, ctx: &Context<'_>) -> Option<CaseEvent> {
    if case
        .team
        .as_deref()
        .is_some_and(|t| ctx.teams.works(t, tier))
    {
        return None;
    }
    let to = ctx.teams.default_for(tier).map(String::from);
    (case.team != to).then(|| {
        CaseEvent::TeamChanged(TeamChanged {
            from: case.team.clone(),
            to,
        })
    })
}

fn sla_policy_id(case: &Case) -> String {
    case.sla
        .as_ref()
        .map(|s| s.policy_id.clone())
        .unwrap_or_default()
}

fn current_tier(case: &Case, action: &'static str) -> Result<Tier, DomainError> {
    case.tier
        .clone()
        .ok_or_else(|| DomainError::transition(action, "the case has not been routed to a tier"))
}

/// A sensitive case may not go to `tier`, below the sensitive floor.
fn below_floor(action: &'static str, tier: &Tier, tiers: &TierLadder) -> DomainError {
    DomainError::transition(
        action,
        format!(
            "a sensitive case stays at the sensitive floor `{}` or above, not `{tier}`",
            tiers.sensitive_floor()
        ),
    )
}

fn no_swarm(action: &'static str) -> DomainError {
    DomainError::transition(action, "the case has no active swarm")
}

/// A resolved or closed case has no active swarm: end it in the same command.
fn with_swarm_ended(case: &Case, event: CaseEvent, reason: &str) -> Vec<CaseEvent> {
    let mut events = Vec::with_capacity(2);
    if case.swarm.is_some() {
        events.push(CaseEvent::SwarmEnded(SwarmEnded {
            reason: reason.into(),
        }));
    }
    events.push(event);
    events
}
