//! Who may see and do what: pure rules, decided in this one place.
//!
//! - `admin`: everything, including configuration and tokens.
//! - `auditor`: reads everything; writes nothing.
//! - `lead`: what an agent may, for their tiers and every tier below; may pull any
//!   agent into (or out of) a swarm, assign others, and re-route.
//! - `agent`: cases routed to their tiers, cases assigned to them, swarms they are in.
//! - `customer`: their own cases and the public replies on them; may open a case,
//!   reply publicly and reopen.
//! - A sensitive (private) case is visible only to agents whose tiers reach the tier it
//!   was routed to, whatever else would grant access.
//! - Internal notes and swarm chat are never shown to customers.
//! - What a customer sees of a case and of its events is an allow-list
//!   ([`CUSTOMER_CASE_FIELDS`], [`customer_event_fields`]): anything not listed (tier,
//!   team, assignee, swarm, SLA, escalations, routing, internal reasons) is absent.
//! - Nobody (leads and admins included) assigns a case to, or puts in its swarm, an
//!   agent who could not read it ([`could_hold`]): the agent's tiers (from the
//!   directory, else their tokens) must reach a private case's tier.
//! - Swarming ([`can_swarm`]): an invitation (while pending) and membership give the
//!   agent the case whatever their tiers; a private case still admits only agents
//!   whose tiers reach it, unless a lead pulled them in with a recorded reason.
//!   The swarm's lead, the case's owner and leads invite; the one who asked for
//!   help, the owner and the swarm's lead accept or close help; the swarm's lead
//!   sets its type and roles; only the scheduler expires invitations.
//! - Knowledge ([`can_capture_knowledge`], [`can_read_article`]): those who worked a
//!   case (owner, resolver, swarm members and accepted helpers) and leads capture it;
//!   staff read the articles of cases that are not private, and those of a private
//!   case only if they may read that case; customers read none.
//! - Contributions ([`can_see_contributions`]): leads and admins see anyone's, an
//!   agent their own, counted over the cases the caller may read.
//! - Listings ([`read_scope`], [`reads_whole_tier`]): where the cases a caller may
//!   read are found, so a page walks only those index sets; each case is still
//!   checked with [`can_read`].

use crate::auth::Principal;
use crate::domain::{AgentId, Case, Command, MessageKind, Role, Tier, TierLadder};
use crate::projection::listing::Among;

/// The highest rank among the principal's tiers.
fn top_rank(p: &Principal, ladder: &TierLadder) -> Option<usize> {
    p.tiers.iter().filter_map(|t| ladder.rank(t)).max()
}

/// May `p` see this case at all?
pub fn can_read(p: &Principal, case: &Case, ladder: &TierLadder) -> bool {
    match p.actor.role {
        Role::Admin | Role::Auditor | Role::System => true,
        Role::Customer => case
            .customer
            .as_ref()
            .is_some_and(|c| c.id == p.actor.id.as_str()),
        Role::Agent | Role::Lead => {
            let case_rank = case.tier.as_ref().and_then(|t| ladder.rank(t));
            let reach = top_rank(p, ladder);
            let cleared = case.swarming.cleared.contains_key(&p.actor.id);
            if case.sensitive
                && !cleared
                && !matches!((case_rank, reach), (Some(c), Some(r)) if r >= c)
            {
                return false;
            }
            let mine = case.assignee.as_ref() == Some(&p.actor.id)
                || case.is_swarm_member(&p.actor.id)
                || case.swarming.is_invited(&p.actor.id);
            let by_tier = match (&case.tier, case_rank) {
                // Unrouted cases are triage work for every agent.
                (None, _) => true,
                (Some(t), Some(c)) => match p.actor.role {
                    Role::Lead => reach.is_some_and(|r| r >= c),
                    _ => p.tiers.contains(t),
                },
                (Some(_), None) => false,
            };
            mine || by_tier
        }
    }
}

/// Could `target` read `case` once it is theirs (assigned to them, or in its swarm)?
/// Only a private case can refuse them: its tier must be within their reach.
pub fn could_hold(target: &Principal, case: &Case, ladder: &TierLadder) -> bool {
    let mut theirs = case.clone();
    theirs.assignee = Some(target.actor.id.clone());
    can_read(target, &theirs, ladder)
}

/// May `p` read messages of this kind?
pub fn can_see_message(p: &Principal, kind: MessageKind) -> bool {
    p.actor.role != Role::Customer || kind == MessageKind::PublicReply
}

/// May `p` open a case?
pub fn can_open(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Auditor => Err("auditors are read-only".into()),
        _ => Ok(()),
    }
}

/// May `p` run `command` on `case`?
pub fn can_execute(
    p: &Principal,
    case: &Case,
    command: &Command,
    ladder: &TierLadder,
) -> Result<(), String> {
    let me = &p.actor.id;
    let other = |a: &AgentId| a != me;
    let sla_only = matches!(
        command,
        Command::RecordSlaBreach { .. } | Command::RunSlaEscalation { .. }
    );
    if sla_only && p.actor.role != Role::System {
        return Err("only the server's SLA scheduler records breaches and escalations".into());
    }
    if matches!(command, Command::ExpireInvitation { .. }) && p.actor.role != Role::System {
        return Err("only the server's scheduler expires invitations".into());
    }
    if matches!(command, Command::RemindStatusUpdate { .. }) && p.actor.role != Role::System {
        return Err("only the server's scheduler records overdue status updates".into());
    }
    match p.actor.role {
        Role::Admin | Role::System => return Ok(()),
        Role::Auditor => return Err("auditors are read-only".into()),
        Role::Customer => {
            let own = can_read(p, case, ladder);
            return match command {
                Command::PostMessage {
                    kind: MessageKind::PublicReply,
                    ..
                }
                | Command::Reopen { .. }
                    if own =>
                {
                    Ok(())
                }
                _ if !own => Err("not your case".into()),
                _ => Err("customers may only reply publicly or reopen".into()),
            };
        }
        Role::Agent | Role::Lead => {}
    }
    if case.exists() && !can_read(p, case, ladder) {
        return Err("the case is outside your tiers and assignments".into());
    }
    can_swarm(p, case, command)?;
    let lead_only = match command {
        Command::Route(_) => Some("re-routing"),
        Command::Assign { agent } if other(agent) => Some("assigning someone else"),
        Command::StartSwarm { lead, .. } if other(lead) => {
            Some("starting a swarm for someone else")
        }
        Command::JoinSwarm { agent } | Command::LeaveSwarm { agent } if other(agent) => {
            Some("moving someone else in or out of a swarm")
        }
        _ => None,
    };
    match lead_only {
        Some(what) if p.actor.role != Role::Lead => Err(format!("{what} needs a lead")),
        _ => Ok(()),
    }
}

/// May `p` manage configuration and tokens?
pub fn is_admin(p: &Principal) -> bool {
    p.actor.role == Role::Admin
}

/// May `p` see events of streams other than cases (tokens, access log)?
pub fn can_read_system_streams(p: &Principal) -> bool {
    matches!(p.actor.role, Role::Admin | Role::Auditor)
}

/// The fields of a case (GraphQL `Case`) a customer may see; every other field is
/// null for them. `messages` holds public replies only ([`can_see_message`]);
/// `resolution` shows its text, author and time, never the tier that solved it.
pub const CUSTOMER_CASE_FIELDS: &[&str] = &[
    "id",
    "version",
    "status",
    "subject",
    "body",
    "channel",
    "customer",
    "language",
    "priority",
    // The customer's own request, which staff weigh.
    "requestedPriority",
    "resolution",
    "openedAt",
    "updatedAt",
    "firstResponseAt",
    "awaitingCustomerSince",
    "messages",
];

/// The event types a customer may see, each with the payload fields shown to them
/// (JSON names). `None`: the event is internal (routing, tiers, assignment, swarms,
/// tags, priority changes, SLA bookkeeping) and never shown to a customer. A
/// `MessagePosted` is shown only if it is a public reply.
pub fn customer_event_fields(event_type: &str) -> Option<&'static [&'static str]> {
    Some(match event_type {
        "CaseOpened" => &[
            "caseId",
            "subject",
            "body",
            "channel",
            "customer",
            "language",
            "priority",
            "requestedPriority",
        ],
        "MessagePosted" => &["kind", "author", "body"],
        "CaseResolved" => &["resolution", "by"],
        // Their reasons may be internal: the customer sees that it happened.
        "CaseReopened" | "CaseClosed" | "CaseAwaitingCustomer" | "CaseResumed" => &[],
        _ => return None,
    })
}

/// A payload as a customer may see it: only the allowed fields of an allowed event
/// type (`None` for any other type).
pub fn customer_payload(event_type: &str, payload: serde_json::Value) -> Option<serde_json::Value> {
    let allowed = customer_event_fields(event_type)?;
    let serde_json::Value::Object(fields) = payload else {
        return Some(serde_json::Value::Null);
    };
    Some(serde_json::Value::Object(
        fields
            .into_iter()
            .filter(|(k, _)| allowed.contains(&k.as_str()))
            .collect(),
    ))
}

/// The tiers an agent or lead works in according to the directory, which override
/// their token's (`None` for other roles and for staff not in the directory).
pub fn directory_tiers(config: &crate::config::Config, p: &Principal) -> Option<Vec<Tier>> {
    match p.actor.role {
        Role::Agent | Role::Lead if config.agents.contains_key(&p.actor.id) => {
            Some(config.agent_tiers(&p.actor.id))
        }
        _ => None,
    }
}

/// Staff: everyone but customers (queues, swarm rooms, workload, configuration).
pub fn require_staff(p: &Principal) -> Result<(), String> {
    if p.actor.role == Role::Customer {
        Err("staff only".into())
    } else {
        Ok(())
    }
}

/// Leads and admins: routing previews and simulations.
pub fn require_lead(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Admin | Role::Lead => Ok(()),
        _ => Err("leads and admins only".into()),
    }
}

/// Admins: configuration changes and tokens.
pub fn require_admin(p: &Principal) -> Result<(), String> {
    if is_admin(p) {
        Ok(())
    } else {
        Err("admins only".into())
    }
}

/// May `p` filter a case listing by internal fields (tier, team, assignee, tag)?
/// Customers filter by status, priority, customer and text only: the answer to a
/// filter on what they may not see would reveal it.
pub fn can_filter_cases(p: &Principal, by_internal_fields: bool) -> Result<(), String> {
    if p.actor.role == Role::Customer && by_internal_fields {
        Err("customers filter by status, priority, customer and text only".into())
    } else {
        Ok(())
    }
}

/// May `p` see `agent`'s workload? Staff; agents only their own.
pub fn can_see_workload(p: &Principal, agent: &AgentId) -> Result<(), String> {
    require_staff(p)?;
    if p.actor.role == Role::Agent && &p.actor.id != agent {
        return Err("agents see only their own workload".into());
    }
    Ok(())
}

/// The customer a case `p` opens is for: a customer opens cases only for
/// themselves, whatever the request names; staff open them for anyone.
pub fn customer_of_new_case(p: &Principal, requested: String) -> String {
    if p.actor.role == Role::Customer {
        p.actor.id.to_string()
    } else {
        requested
    }
}

/// Auditors write nothing; told so rather than `NOT_FOUND` when they try.
pub fn is_read_only(p: &Principal) -> bool {
    p.actor.role == Role::Auditor
}

/// May `p` make this configuration change? Leads and admins change the routing
/// rules (their order, and which are on); everything else is for admins.
pub fn can_configure(p: &Principal, command: &crate::config::ConfigCommand) -> Result<(), String> {
    use crate::config::ConfigCommand as C;
    match command {
        C::SetRules { .. } | C::MoveRule { .. } | C::EnableRule { .. } => require_lead(p),
        _ => require_admin(p),
    }
}

/// Does a case opened by `actor` come from the customer themselves? Then nothing
/// they state about their segment, key account or priority is trusted (routing
/// takes them from the customer directory; their priority is a request).
pub fn self_service(actor: &crate::domain::Actor) -> bool {
    actor.role == Role::Customer
}

/// May a token be issued for `role`? Not for the system: the SLA scheduler's
/// identity is the server's alone.
pub fn can_hold_token(role: Role) -> Result<(), String> {
    if role == Role::System {
        Err(
            "tokens cannot act as the system (the SLA scheduler's identity is the \
             server's alone)"
                .into(),
        )
    } else {
        Ok(())
    }
}

/// Is `p` a customer, who sees only the customer view of cases and events?
pub fn sees_customer_view(p: &Principal) -> bool {
    p.actor.role == Role::Customer
}

/// Auditors' reads of case data are recorded in the access log.
pub fn reads_are_logged(p: &Principal) -> bool {
    p.actor.role == Role::Auditor
}

/// Which tiers `p` may report on: admins and auditors any (all when none are
/// asked for); leads their tiers and every tier below (those when none are asked
/// for); nobody else. `None`: every tier.
pub fn report_tiers(
    p: &Principal,
    asked: Option<Vec<Tier>>,
    ladder: &TierLadder,
) -> Result<Option<Vec<Tier>>, String> {
    match p.actor.role {
        Role::Admin | Role::Auditor | Role::System => Ok(asked),
        Role::Lead => {
            let reach = top_rank(p, ladder);
            let within: Vec<Tier> = ladder
                .tiers()
                .iter()
                .filter(|t| matches!((ladder.rank(t), reach), (Some(r), Some(top)) if r <= top))
                .cloned()
                .collect();
            match asked {
                None => Ok(Some(within)),
                Some(asked) if asked.iter().all(|t| within.contains(t)) => Ok(Some(asked)),
                Some(_) => Err("leads report on their tiers and those below".into()),
            }
        }
        _ => Err("reports are for leads, admins and auditors".into()),
    }
}

/// The swarming method's rules for an agent or lead who may read the case: who
/// invites, who accepts or closes help, who organises the swarm. Leads may do all of
/// it; only routing sets skills from rules or keywords.
pub fn can_swarm(p: &Principal, case: &Case, command: &Command) -> Result<(), String> {
    use crate::domain::swarming::SkillSource;
    let me = &p.actor.id;
    let owner = case.assignee.as_ref() == Some(me);
    let swarm_lead = case.swarm.as_ref().is_some_and(|s| &s.lead == me);
    let lead = p.actor.role == Role::Lead;
    let asked = |id: &u32| case.swarming.help_request(*id).is_some_and(|r| &r.by == me);
    let (allowed, who) = match command {
        Command::SetCaseSkills { source, .. } if *source != SkillSource::Staff => {
            return Err("only routing sets skills from rules or keywords".into())
        }
        Command::InviteToSwarm(_) => (
            lead || owner || swarm_lead,
            "the swarm's lead, the case's owner or a lead",
        ),
        Command::AcceptHelp { request_id, .. } | Command::CloseHelpRequest { request_id, .. } => (
            lead || owner || swarm_lead || asked(request_id),
            "whoever asked, the case's owner, the swarm's lead or a lead",
        ),
        Command::SetSwarmType { .. } | Command::SetSwarmRole { .. } => {
            (lead || swarm_lead, "the swarm's lead or a lead")
        }
        Command::CaptureKnowledge { .. } => return can_capture_knowledge(p, case),
        _ => (true, ""),
    };
    if allowed {
        Ok(())
    } else {
        Err(format!("{} needs {who}", command.name()))
    }
}

#[cfg(test)]
#[path = "policy_swarming_tests.rs"]
mod swarming_tests;

/// May `p` verify the log's hash chain (walk the whole log)? Admins and auditors:
/// it reads every record, and it is the auditors' proof that history is intact.
pub fn can_verify_log(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Admin | Role::Auditor => Ok(()),
        _ => Err("admins and auditors only".into()),
    }
}

/// May `p` look into the past beyond one case (`caseDiff`, `tierQueueAt`,
/// `swarmRoomAt`, `workloadAt`)? Staff: these show internal fields. What each answer
/// holds is still limited to the cases `p` may read (see `can_read`).
pub fn can_travel(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Customer => Err("staff only".into()),
        _ => Ok(()),
    }
}

/// May `p` set their own presence? Staff who work cases (the directory must list
/// them as an agent); auditors are read-only, customers have no presence.
pub fn can_set_presence(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Agent | Role::Lead | Role::Admin => Ok(()),
        Role::Auditor => Err("auditors are read-only".into()),
        _ => Err("staff only".into()),
    }
}

/// May `p` see agents' presence? Staff (the expert finder shows it too).
pub fn can_see_presence(p: &Principal) -> Result<(), String> {
    require_staff(p)
}

/// May `p` (an agent or lead who may read the case) capture knowledge on it? The
/// swarm ends when its case is resolved, so "a member of the swarm" is read off what
/// the case records of who worked it: its owner (assignee), whoever resolved it, the
/// agents whose invitation to its swarm was accepted, the helpers whose offer was
/// accepted, and anyone still in an active swarm; leads may too. Whether the case is
/// resolved yet is the domain's rule (`swarming::knowledge`).
pub fn can_capture_knowledge(p: &Principal, case: &Case) -> Result<(), String> {
    use crate::domain::swarming::{HelpStatus, InvitationStatus};
    let me = &p.actor.id;
    let worked = case.assignee.as_ref() == Some(me)
        || case.resolution.as_ref().is_some_and(|r| &r.by == me)
        || case.is_swarm_member(me)
        || case
            .swarming
            .invitation(me)
            .is_some_and(|i| i.status == InvitationStatus::Accepted)
        || case
            .swarming
            .help_requests
            .iter()
            .any(|r| r.status == HelpStatus::Accepted && r.helper.as_ref() == Some(me));
    match p.actor.role {
        Role::Admin | Role::System | Role::Lead => Ok(()),
        Role::Agent if worked => Ok(()),
        Role::Agent => Err(
            "capturing knowledge needs the case's owner, its resolver, a member of its swarm \
             or a lead"
                .into(),
        ),
        Role::Auditor => Err("auditors are read-only".into()),
        Role::Customer => Err("staff only".into()),
    }
}

/// May `p` read a captured article, given the case it was captured on? Articles are
/// written for reuse, so staff read those of any case that is not private; an
/// article of a private (sensitive) case only those who may read that case (judged
/// on the case as it is now). Customers read none. Who may read the article but not
/// its case is not told which case it came from ([`can_read`] decides that).
pub fn can_read_article(p: &Principal, case: &Case, ladder: &TierLadder) -> bool {
    match p.actor.role {
        Role::Customer => false,
        _ if case.sensitive => can_read(p, case, ladder),
        _ => true,
    }
}

/// May `p` see `agent`'s contributions (`contributions`)? Leads and admins see
/// anyone's; an agent only their own. Only cases `p` may read are counted.
pub fn can_see_contributions(p: &Principal, agent: &AgentId) -> Result<(), String> {
    match p.actor.role {
        Role::Admin | Role::Lead => Ok(()),
        Role::Agent if &p.actor.id == agent => Ok(()),
        Role::Agent => Err("agents see only their own contributions".into()),
        _ => Err("contributions are for leads, admins and the agent themself".into()),
    }
}

/// May `p` forget a customer (destroy their data key, so their personal fields read
/// as erased everywhere, for good)? Admins only: it cannot be undone.
pub fn can_forget_customer(p: &Principal) -> Result<(), String> {
    match p.actor.role {
        Role::Admin => Ok(()),
        _ => Err("admins only: forgetting a customer cannot be undone".into()),
    }
}

/// May `p` join or leave a team's standing swarm (`DISPATCH` or `BACKLOG`), for
/// themselves? Agents and leads whose tiers reach the team's tier, and admins (the
/// directory must list them as an agent, like presence: the service checks). Auditors
/// are read-only; customers are not staff.
pub fn can_join_standing(
    p: &Principal,
    team_tier: &Tier,
    ladder: &TierLadder,
) -> Result<(), String> {
    match p.actor.role {
        Role::Admin => Ok(()),
        Role::Agent | Role::Lead => {
            let reach = top_rank(p, ladder);
            match (ladder.rank(team_tier), reach) {
                (Some(t), Some(r)) if r >= t => Ok(()),
                _ => Err(format!(
                    "a standing swarm of a {} team is for agents whose tiers reach it",
                    team_tier.as_str()
                )),
            }
        }
        Role::Auditor => Err("auditors are read-only".into()),
        _ => Err("staff only".into()),
    }
}

/// May `p` list a standing swarm's queue (`dispatchQueue`, `backlog`)? Its members;
/// admins and auditors oversee every one. Within it, `p` sees only the cases they may
/// read ([`can_read`]: their tiers, private-case rules), and counts and pages are
/// taken over those alone.
pub fn can_see_standing_queue(p: &Principal, member: bool) -> Result<(), String> {
    match p.actor.role {
        Role::Admin | Role::Auditor => Ok(()),
        Role::Agent | Role::Lead if member => Ok(()),
        Role::Agent | Role::Lead => {
            Err("only members of the team's standing swarm see its queue; join it first".into())
        }
        _ => Err("staff only".into()),
    }
}

/// Who may share one execution of a subscription with other subscribers of the
/// same document and variables (see `crate::http::fanout`): the key of `p`'s
/// authorization context (role, agent, tiers and token: whatever can change what a
/// subscription shows or when it ends), or `None` for callers whose every read is
/// recorded on their own ([`reads_are_logged`]), who always run alone.
pub fn subscription_sharing_key(p: &Principal) -> Option<String> {
    if reads_are_logged(p) {
        return None;
    }
    let mut tiers: Vec<&str> = p.tiers.iter().map(|t| t.as_str()).collect();
    tiers.sort_unstable();
    Some(format!(
        "{:?}\u{0}{}\u{0}{}\u{0}{}",
        p.actor.role,
        p.actor.id,
        tiers.join("\u{1}"),
        p.token_id.as_deref().unwrap_or("")
    ))
}

#[cfg(test)]
#[path = "policy_standing_tests.rs"]
mod standing_tests;

/// Where the cases `p` may read are found ([`can_read`] holds only for cases in it),
/// so a page of `cases` walks those index sets instead of every case: admins,
/// auditors and the system every case; a customer their own; an agent the tiers they
/// work, a lead every tier up to theirs, both also unrouted cases and those they are
/// assigned, swarming or invited to.
pub fn read_scope(p: &Principal, ladder: &TierLadder) -> Among {
    match p.actor.role {
        Role::Admin | Role::Auditor | Role::System => Among::All,
        Role::Customer => Among::Customer(p.actor.id.as_str().to_string()),
        Role::Agent | Role::Lead => {
            let tiers = match (p.actor.role, top_rank(p, ladder)) {
                (Role::Lead, Some(reach)) => ladder.tiers()[..=reach].to_vec(),
                (Role::Lead, None) => Vec::new(),
                _ => p
                    .tiers
                    .iter()
                    .filter(|t| ladder.rank(t).is_some())
                    .cloned()
                    .collect(),
            };
            Among::Staff {
                tiers,
                agent: p.actor.id.clone(),
            }
        }
    }
}

/// Does `p` read every case routed to `tier` ([`can_read`] of each)? Then a tier
/// queue's length and first entries need no check per case. True for admins, auditors
/// and the system, agents who work the tier and leads whose tiers reach it: a private
/// case's tier is then within their reach too.
pub fn reads_whole_tier(p: &Principal, tier: &Tier, ladder: &TierLadder) -> bool {
    let Some(rank) = ladder.rank(tier) else {
        return false;
    };
    match p.actor.role {
        Role::Admin | Role::Auditor | Role::System => true,
        Role::Agent => p.tiers.contains(tier),
        Role::Lead => top_rank(p, ladder).is_some_and(|r| r >= rank),
        Role::Customer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaseEvent;

    #[test]
    fn customers_see_no_internal_event_type() {
        for t in CaseEvent::TYPES {
            let shown = customer_event_fields(t).is_some();
            let internal = matches!(
                *t,
                "CaseRouted"
                    | "CaseEscalated"
                    | "CaseDeescalated"
                    | "AgentAssigned"
                    | "AgentUnassigned"
                    | "SwarmStarted"
                    | "SwarmJoined"
                    | "SwarmLeft"
                    | "SwarmLeadChanged"
                    | "SwarmEnded"
                    | "PriorityChanged"
                    | "CaseTagged"
                    | "CaseUntagged"
                    | "SlaApplied"
                    | "FirstResponded"
                    | "SlaBreached"
                    | "SlaEscalated"
                    | "CaseTeamChanged"
                    | "CaseSkillsSet"
                    | "SwarmInvited"
                    | "InvitationAccepted"
                    | "InvitationDeclined"
                    | "InvitationExpired"
                    | "HelpRequested"
                    | "HelpOffered"
                    | "HelpAccepted"
                    | "HelpRequestClosed"
                    | "SwarmTypeSet"
                    | "SwarmRoleSet"
                    | "KnowledgeCaptured"
                    | "StatusUpdateDue"
            );
            assert_eq!(shown, !internal, "{t}");
        }
        assert!(customer_event_fields("TokenIssued").is_none());
    }

    #[test]
    fn a_customer_payload_keeps_only_allowed_fields() {
        let p = serde_json::json!({ "resolution": "fixed", "tier": "L3", "by": "farah" });
        assert_eq!(
            customer_payload("CaseResolved", p),
            Some(serde_json::json!({ "resolution": "fixed", "by": "farah" }))
        );
        let reason = serde_json::json!({ "reason": "SLA escalation step 1" });
        assert_eq!(
            customer_payload("CaseReopened", reason.clone()),
            Some(serde_json::json!({}))
        );
        assert_eq!(customer_payload("SwarmStarted", reason), None);
    }
}
