//! How the swarming commands decide: one short function per command, called by
//! `command::decide` after the checks every command shares (the case exists, is
//! open). Who may send each command is `policy`'s business; these functions judge
//! the case's state only.

use super::events::*;
use super::{InvitationStatus, SkillSource, SwarmRole, SwarmType, MAX_INVITEES, MAX_SKILLS};
use crate::domain::case::Case;
use crate::domain::command::{text, Context, Decided};
use crate::domain::error::DomainError;
use crate::domain::event::{AgentRef, CaseEvent, SwarmStarted};
use crate::domain::ids::{AgentId, Role};
use crate::domain::tier::Tier;

/// Longest note or reason, in bytes.
pub const MAX_NOTE: usize = 2000;

/// An agent to invite, with the tiers they work in (from the directory) so that a
/// private case can refuse agents whose tiers do not reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitee {
    pub agent: AgentId,
    pub tiers: Vec<Tier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteToSwarm {
    pub invitees: Vec<Invitee>,
    pub note: String,
    pub auto_replace: bool,
    /// Minutes until an unanswered invitation expires; `None`: never.
    pub expires_after_mins: Option<u32>,
    /// Why a lead pulls agents into a private case above their tiers' reach.
    pub reason: Option<String>,
}

/// A skill name, normalised like a tag.
pub fn skill(value: &str) -> Result<String, DomainError> {
    let s = value.trim().to_lowercase();
    let ok = |c: char| c.is_alphanumeric() || "-_:./".contains(c);
    if s.is_empty() || s.len() > 64 || !s.chars().all(ok) {
        return Err(DomainError::Invalid(format!(
            "`{value}` is not a valid skill (1-64 letters, digits, - _ : . /)"
        )));
    }
    Ok(s)
}

/// Normalised, sorted, without duplicates, at most [`MAX_SKILLS`].
pub fn skills(values: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out = values
        .iter()
        .map(|v| skill(v))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    if out.len() > MAX_SKILLS {
        return Err(DomainError::Invalid(format!("at most {MAX_SKILLS} skills")));
    }
    Ok(out)
}

pub(crate) fn set_case_skills(
    case: &Case,
    values: Vec<String>,
    source: SkillSource,
    rule_id: Option<String>,
    action: &'static str,
) -> Decided {
    let skills = skills(&values)?;
    if skills.iter().eq(case.swarming.skills.iter()) {
        return Err(DomainError::transition(
            action,
            "the case already needs exactly these skills",
        ));
    }
    Ok(vec![CaseEvent::SkillsSet(CaseSkillsSet {
        skills,
        source,
        rule_id,
    })])
}

/// Whether the actor may pull agents into a private case past its tier rule: the
/// swarm's lead, or staff with a lead's (or higher) role.
fn leads(case: &Case, ctx: &Context<'_>) -> bool {
    matches!(ctx.actor.role, Role::Lead | Role::Admin | Role::System)
        || case.swarm.as_ref().is_some_and(|s| s.lead == ctx.actor.id)
}

pub(crate) fn invite(
    case: &Case,
    invite: InviteToSwarm,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    if invite.invitees.is_empty() {
        return Err(DomainError::Invalid("invite at least one agent".into()));
    }
    if invite.invitees.len() > MAX_INVITEES {
        return Err(DomainError::Invalid(format!(
            "invite at most {MAX_INVITEES} agents at once"
        )));
    }
    let note = text("note", &invite.note, MAX_NOTE, false)?;
    let reason = match &invite.reason {
        Some(r) => Some(text("reason", r, MAX_NOTE, true)?),
        None => None,
    };
    let case_rank = case.tier.as_ref().and_then(|t| ctx.tiers.rank(t));
    let mut agents: Vec<AgentId> = Vec::new();
    let mut cleared = Vec::new();
    for invitee in &invite.invitees {
        let a = &invitee.agent;
        if agents.contains(a) {
            return Err(DomainError::Invalid(format!("`{a}` is invited twice")));
        }
        if *a == ctx.actor.id {
            return Err(DomainError::transition(
                action,
                "you cannot invite yourself",
            ));
        }
        if case.is_swarm_member(a) {
            return Err(DomainError::transition(
                action,
                format!("`{a}` is already in the swarm"),
            ));
        }
        if case.swarming.is_invited(a) {
            return Err(DomainError::transition(
                action,
                format!("`{a}` already has a pending invitation"),
            ));
        }
        if case.sensitive {
            let reach = invitee.tiers.iter().filter_map(|t| ctx.tiers.rank(t)).max();
            let reaches = matches!((reach, case_rank), (Some(r), Some(c)) if r >= c);
            if !reaches {
                if reason.is_none() || !leads(case, ctx) {
                    return Err(DomainError::transition(
                        action,
                        format!(
                            "`{a}` works no tier that reaches this private case's tier; \
                             only a lead may pull them in, with a recorded reason"
                        ),
                    ));
                }
                cleared.push(a.clone());
            }
        }
        agents.push(a.clone());
    }
    let mut events = Vec::with_capacity(2);
    if case.swarm.is_none() {
        events.push(CaseEvent::SwarmStarted(SwarmStarted {
            lead: ctx.actor.id.clone(),
            reason: if note.is_empty() {
                "experts invited".into()
            } else {
                note.clone()
            },
        }));
    }
    events.push(CaseEvent::SwarmInvited(SwarmInvited {
        agents,
        by: ctx.actor.id.clone(),
        note,
        auto_replace: invite.auto_replace,
        expires_at: invite
            .expires_after_mins
            .map(|m| ctx.now.plus_secs(i64::from(m) * 60)),
        reason: reason.filter(|_| !cleared.is_empty()),
        cleared,
    }));
    Ok(events)
}

/// The actor's pending invitation, refused when there is none or it has expired.
fn open_invitation(
    case: &Case,
    action: &'static str,
    ctx: &Context<'_>,
) -> Result<(), DomainError> {
    let me = &ctx.actor.id;
    let Some(inv) = case.swarming.invitation(me) else {
        return Err(DomainError::transition(
            action,
            "you have no invitation to this swarm",
        ));
    };
    match inv.status {
        InvitationStatus::Pending if inv.is_open_at(ctx.now) => Ok(()),
        InvitationStatus::Pending | InvitationStatus::Expired => Err(DomainError::transition(
            action,
            "the invitation has expired",
        )),
        other => Err(DomainError::transition(
            action,
            format!("the invitation is {}", other.as_str().to_lowercase()),
        )),
    }
}

pub(crate) fn accept_invitation(case: &Case, action: &'static str, ctx: &Context<'_>) -> Decided {
    open_invitation(case, action, ctx)?;
    let agent = ctx.actor.id.clone();
    let mut events = vec![CaseEvent::InvitationAccepted(InvitationAccepted {
        agent: agent.clone(),
    })];
    if !case.is_swarm_member(&agent) {
        events.push(CaseEvent::SwarmJoined(AgentRef { agent }));
    }
    Ok(events)
}

pub(crate) fn decline_invitation(
    case: &Case,
    reason: String,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    open_invitation(case, action, ctx)?;
    Ok(vec![CaseEvent::InvitationDeclined(InvitationDeclined {
        agent: ctx.actor.id.clone(),
        reason: text("reason", &reason, MAX_NOTE, false)?,
    })])
}

pub(crate) fn expire_invitation(
    case: &Case,
    agent: AgentId,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    let inv = case
        .swarming
        .invitation(&agent)
        .filter(|i| i.status == InvitationStatus::Pending)
        .ok_or_else(|| {
            DomainError::transition(action, format!("`{agent}` has no pending invitation"))
        })?;
    match inv.expires_at {
        Some(deadline) if deadline <= ctx.now => {
            Ok(vec![CaseEvent::InvitationExpired(InvitationExpired {
                agent,
                deadline,
            })])
        }
        _ => Err(DomainError::transition(
            action,
            "the invitation is not due to expire",
        )),
    }
}

pub(crate) fn request_help(
    case: &Case,
    values: Vec<String>,
    note: String,
    ctx: &Context<'_>,
) -> Decided {
    let skills = skills(&values)?;
    let note = text("note", &note, MAX_NOTE, skills.is_empty())?;
    let request_id = case.swarming.help_requests.len() as u32 + 1;
    Ok(vec![CaseEvent::HelpRequested(HelpRequested {
        request_id,
        by: ctx.actor.id.clone(),
        skills,
        note,
    })])
}

/// The open help request `id`, refused when unknown or no longer open.
fn open_request<'c>(
    case: &'c Case,
    id: u32,
    action: &'static str,
) -> Result<&'c super::HelpRequest, DomainError> {
    let r = case.swarming.help_request(id).ok_or_else(|| {
        DomainError::transition(action, format!("the case has no help request {id}"))
    })?;
    if r.status != super::HelpStatus::Open {
        return Err(DomainError::transition(
            action,
            format!("help request {id} is {}", r.status.as_str().to_lowercase()),
        ));
    }
    Ok(r)
}

pub(crate) fn offer_help(
    case: &Case,
    request_id: u32,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    let r = open_request(case, request_id, action)?;
    let me = &ctx.actor.id;
    if &r.by == me {
        return Err(DomainError::transition(
            action,
            "you cannot offer help on your own request",
        ));
    }
    if r.offers.contains(me) {
        return Err(DomainError::transition(action, "you already offered help"));
    }
    if case.is_swarm_member(me) {
        return Err(DomainError::transition(
            action,
            "you are already in the swarm",
        ));
    }
    Ok(vec![CaseEvent::HelpOffered(HelpOffered {
        request_id,
        by: me.clone(),
    })])
}

pub(crate) fn accept_help(
    case: &Case,
    request_id: u32,
    helper: AgentId,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    let r = open_request(case, request_id, action)?;
    if !r.offers.contains(&helper) {
        return Err(DomainError::transition(
            action,
            format!("`{helper}` has not offered help on request {request_id}"),
        ));
    }
    let mut events = vec![CaseEvent::HelpAccepted(HelpAccepted {
        request_id,
        helper: helper.clone(),
        by: ctx.actor.id.clone(),
    })];
    if case.swarm.is_none() {
        events.push(CaseEvent::SwarmStarted(SwarmStarted {
            lead: r.by.clone(),
            reason: format!("help request {request_id}"),
        }));
    }
    // Offers never come from the requester, so the helper is not the new lead.
    if !case.is_swarm_member(&helper) {
        // Joining answers a pending invitation, as `joinSwarm` does.
        if case.swarming.is_invited(&helper) {
            events.push(CaseEvent::InvitationAccepted(InvitationAccepted {
                agent: helper.clone(),
            }));
        }
        events.push(CaseEvent::SwarmJoined(AgentRef { agent: helper }));
    }
    Ok(events)
}

pub(crate) fn close_help_request(
    case: &Case,
    request_id: u32,
    reason: String,
    action: &'static str,
) -> Decided {
    open_request(case, request_id, action)?;
    Ok(vec![CaseEvent::HelpRequestClosed(HelpRequestClosed {
        request_id,
        reason: text("reason", &reason, MAX_NOTE, false)?,
    })])
}

pub(crate) fn set_swarm_type(
    case: &Case,
    swarm_type: SwarmType,
    reason: String,
    action: &'static str,
) -> Decided {
    if case.swarm.is_none() {
        return Err(DomainError::transition(
            action,
            "the case has no active swarm",
        ));
    }
    if case.swarming.swarm_type == swarm_type {
        return Err(DomainError::transition(
            action,
            format!("the swarm is already of type {}", swarm_type.as_str()),
        ));
    }
    Ok(vec![CaseEvent::SwarmTypeSet(SwarmTypeSet {
        swarm_type,
        reason: text("reason", &reason, MAX_NOTE, false)?,
    })])
}

pub(crate) fn set_swarm_role(
    case: &Case,
    agent: AgentId,
    role: SwarmRole,
    action: &'static str,
) -> Decided {
    let swarm = case
        .swarm
        .as_ref()
        .ok_or_else(|| DomainError::transition(action, "the case has no active swarm"))?;
    if !swarm.members.contains_key(&agent) {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` is not in the swarm"),
        ));
    }
    if role == SwarmRole::Lead {
        let why = if swarm.lead == agent {
            format!("`{agent}` already leads the swarm")
        } else {
            format!(
                "the swarm already has a lead (`{}`); hand the lead over instead",
                swarm.lead
            )
        };
        return Err(DomainError::transition(action, why));
    }
    if swarm.lead == agent {
        return Err(DomainError::transition(
            action,
            "the lead's role is LEAD; hand the lead over first",
        ));
    }
    if case.swarming.roles.get(&agent) == Some(&role) {
        return Err(DomainError::transition(
            action,
            format!("`{agent}` already has the role {}", role.as_str()),
        ));
    }
    Ok(vec![CaseEvent::SwarmRoleSet(SwarmRoleSet { agent, role })])
}

/// A `SEVERITY_1` swarm's status update is overdue: recorded once per missed
/// interval (the reminder moves the next due time on by one interval, so a second
/// command for the same interval is refused as not due).
pub(crate) fn remind_status_update(
    case: &Case,
    interval_secs: u32,
    action: &'static str,
    ctx: &Context<'_>,
) -> Decided {
    if interval_secs == 0 {
        return Err(DomainError::Invalid(
            "the status-update interval must be positive".into(),
        ));
    }
    let s = &case.swarming;
    let (Some(due), Some(last_update)) = (
        s.status_update_due(i64::from(interval_secs)),
        s.status_since,
    ) else {
        return Err(DomainError::transition(
            action,
            "the case has no SEVERITY_1 swarm",
        ));
    };
    if ctx.now < due {
        return Err(DomainError::transition(
            action,
            "no status update is due yet",
        ));
    }
    Ok(vec![CaseEvent::StatusUpdateDue(StatusUpdateDue {
        due,
        last_update,
    })])
}
