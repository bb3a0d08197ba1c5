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

use crate::auth::Principal;
use crate::domain::{AgentId, Case, Command, MessageKind, Role, Tier, TierLadder};

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
            if case.sensitive && !matches!((case_rank, reach), (Some(c), Some(r)) if r >= c) {
                return false;
            }
            let mine =
                case.assignee.as_ref() == Some(&p.actor.id) || case.is_swarm_member(&p.actor.id);
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

/// May `p` see the workload of `agent`? Agents see only their own.
pub fn can_see_workload(p: &Principal, agent: &AgentId) -> bool {
    match p.actor.role {
        Role::Customer => false,
        Role::Agent => &p.actor.id == agent,
        _ => true,
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
