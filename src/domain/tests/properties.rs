//! Domain tests: Properties over random command sequences.

use super::*;

const AGENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TIER_POOL: [&str; 6] = ["L0", "L1", "L2", "L3", "L4", "L9"];
const TAG_POOL: [&str; 7] = ["billing", "refund", "VIP", "vip", "outage", "not a tag", ""];

fn ladders() -> [TierLadder; 3] {
    [
        TierLadder::standard(),
        TierLadder::new(["L0", "L1"]).unwrap(),
        TierLadder::new(["L0", "L1", "L2", "L3", "L4"]).unwrap(),
    ]
}

fn arb_agent() -> impl Strategy<Value = AgentId> {
    prop::sample::select(AGENTS.to_vec()).prop_map(agent)
}

fn arb_tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(TIER_POOL.to_vec()).prop_map(tier)
}

/// The teams of the random scenarios and the tier each works (L0 and L4 have none).
const SCENARIO_TEAMS: &[(&str, &str)] = &[
    ("general", "L1"),
    ("billing", "L2"),
    ("payments", "L2"),
    ("experts", "L3"),
];

fn scenario_teams() -> TierTeams {
    TierTeams::new(
        SCENARIO_TEAMS
            .iter()
            .map(|(team, t)| (team.to_string(), tier(t))),
    )
}

fn arb_team() -> impl Strategy<Value = String> {
    prop::sample::select(SCENARIO_TEAMS.to_vec()).prop_map(|(team, _)| team.to_string())
}

fn arb_skill() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["saml", "billing", "SAML", "not a skill"]).prop_map(String::from)
}

fn arb_tag() -> impl Strategy<Value = String> {
    prop::sample::select(TAG_POOL.to_vec()).prop_map(String::from)
}

/// Mostly real text, sometimes blank (which required fields refuse).
fn arb_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["needs work", "done", "  "]).prop_map(String::from)
}

fn arb_priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(vec![
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ])
}

fn arb_kind() -> impl Strategy<Value = MessageKind> {
    prop::sample::select(vec![
        MessageKind::PublicReply,
        MessageKind::InternalNote,
        MessageKind::SwarmChat,
    ])
}

fn arb_command() -> impl Strategy<Value = Command> {
    let arms: Vec<(u32, BoxedStrategy<Command>)> = vec![
        (
            1,
            prop::sample::select(vec!["Overcharged", " "])
                .prop_map(|s| {
                    Command::Open(OpenCase {
                        subject: s.into(),
                        ..open_case()
                    })
                })
                .boxed(),
        ),
        (
            4,
            (
                arb_tier(),
                prop::option::of(arb_priority()),
                prop::collection::vec(arb_tag(), 0..3),
                any::<bool>(),
                prop::option::of(arb_team()),
            )
                .prop_map(|(tier, priority, tags, sensitive, team)| {
                    Command::Route(RouteCase {
                        priority,
                        tags,
                        sensitive,
                        team,
                        ..route_case(tier.as_str())
                    })
                })
                .boxed(),
        ),
        (
            4,
            (prop::option::of(arb_tier()), arb_text())
                .prop_map(|(to, reason)| Command::Escalate { to, reason })
                .boxed(),
        ),
        (
            3,
            (prop::option::of(arb_tier()), arb_text())
                .prop_map(|(to, reason)| Command::Deescalate { to, reason })
                .boxed(),
        ),
        (
            2,
            arb_agent()
                .prop_map(|agent| Command::Assign { agent })
                .boxed(),
        ),
        (1, Just(Command::Unassign).boxed()),
        (
            3,
            (arb_agent(), arb_text())
                .prop_map(|(lead, reason)| Command::StartSwarm { lead, reason })
                .boxed(),
        ),
        (
            5,
            arb_agent()
                .prop_map(|agent| Command::JoinSwarm { agent })
                .boxed(),
        ),
        (
            4,
            arb_agent()
                .prop_map(|agent| Command::LeaveSwarm { agent })
                .boxed(),
        ),
        (
            2,
            arb_agent()
                .prop_map(|agent| Command::SetSwarmLead { agent })
                .boxed(),
        ),
        (
            3,
            (arb_kind(), arb_text())
                .prop_map(|(kind, body)| Command::PostMessage { kind, body })
                .boxed(),
        ),
        (
            2,
            (arb_priority(), arb_text())
                .prop_map(|(priority, reason)| Command::ChangePriority { priority, reason })
                .boxed(),
        ),
        (2, arb_tag().prop_map(|tag| Command::Tag { tag }).boxed()),
        (2, arb_tag().prop_map(|tag| Command::Untag { tag }).boxed()),
        (
            2,
            arb_text()
                .prop_map(|resolution| Command::Resolve { resolution })
                .boxed(),
        ),
        (
            2,
            arb_text()
                .prop_map(|reason| Command::Reopen { reason })
                .boxed(),
        ),
        (
            1,
            arb_text()
                .prop_map(|reason| Command::Close { reason })
                .boxed(),
        ),
        (
            2,
            arb_text()
                .prop_map(|reason| Command::AwaitCustomer { reason })
                .boxed(),
        ),
        (2, Just(Command::Resume).boxed()),
        (
            3,
            prop::sample::select(SlaKind::ALL.to_vec())
                .prop_map(|kind| Command::RecordSlaBreach { kind })
                .boxed(),
        ),
        (
            3,
            (0..4u32)
                .prop_map(|step| Command::RunSlaEscalation { step })
                .boxed(),
        ),
        (
            2,
            prop::collection::vec(arb_skill(), 0..3)
                .prop_map(|skills| Command::SetCaseSkills {
                    skills,
                    source: SkillSource::Staff,
                    rule_id: None,
                })
                .boxed(),
        ),
        (
            4,
            (
                prop::collection::vec((arb_agent(), arb_tier()), 1..3),
                prop::option::of(0..20u32),
                prop::option::of(arb_text()),
            )
                .prop_map(|(invitees, expires_after_mins, reason)| {
                    Command::InviteToSwarm(InviteToSwarm {
                        invitees: invitees
                            .into_iter()
                            .map(|(agent, t)| Invitee {
                                agent,
                                tiers: vec![t],
                            })
                            .collect(),
                        note: "help".into(),
                        auto_replace: false,
                        expires_after_mins,
                        reason,
                    })
                })
                .boxed(),
        ),
        (4, Just(Command::AcceptInvitation).boxed()),
        (
            2,
            arb_text()
                .prop_map(|reason| Command::DeclineInvitation { reason })
                .boxed(),
        ),
        (
            2,
            arb_agent()
                .prop_map(|agent| Command::ExpireInvitation { agent })
                .boxed(),
        ),
        (
            3,
            (prop::collection::vec(arb_skill(), 0..2), arb_text())
                .prop_map(|(skills, note)| Command::RequestHelp { skills, note })
                .boxed(),
        ),
        (
            3,
            (1..3u32)
                .prop_map(|request_id| Command::OfferHelp { request_id })
                .boxed(),
        ),
        (
            3,
            (1..3u32, arb_agent())
                .prop_map(|(request_id, helper)| Command::AcceptHelp { request_id, helper })
                .boxed(),
        ),
        (
            1,
            (1..3u32, arb_text())
                .prop_map(|(request_id, reason)| Command::CloseHelpRequest { request_id, reason })
                .boxed(),
        ),
        (
            1,
            (prop::sample::select(SwarmType::ALL.to_vec()), arb_text())
                .prop_map(|(swarm_type, reason)| Command::SetSwarmType { swarm_type, reason })
                .boxed(),
        ),
        (
            2,
            (arb_agent(), prop::sample::select(SwarmRole::ALL.to_vec()))
                .prop_map(|(agent, role)| Command::SetSwarmRole { agent, role })
                .boxed(),
        ),
    ];
    Union::new_weighted(arms)
}

/// A command and the agent issuing it.
fn arb_step() -> impl Strategy<Value = (&'static str, Command)> {
    (prop::sample::select(AGENTS.to_vec()), arb_command())
}

/// A ladder and up to 40 steps. Most scenarios start with a valid `open`, many also
/// route and start a swarm, so that later steps exercise more than "case not found".
fn arb_scenario() -> impl Strategy<Value = (usize, Vec<(&'static str, Command)>)> {
    let prefix = prop_oneof![
        1 => Just(vec![]),
        2 => Just(vec![("alice", open())]),
        3 => Just(vec![("alice", open()), ("alice", route("L1"))]),
        4 => prop::sample::select(AGENTS.to_vec())
            .prop_map(|lead| vec![("alice", open()), ("alice", route("L1")), (lead, start_swarm(lead))]),
        3 => Just(vec![("alice", open()), ("alice", Command::Route(RouteCase {
            sensitive: true,
            ..route_case("L2")
        }))]),
    ];
    (0..3usize, prefix, prop::collection::vec(arb_step(), 0..40)).prop_map(
        |(ladder, mut steps, rest)| {
            steps.extend(rest);
            (ladder, steps)
        },
    )
}

fn count(log: &[(CaseEvent, u64, Timestamp)], pred: impl Fn(&CaseEvent) -> bool) -> usize {
    log.iter().filter(|(e, _, _)| pred(e)).count()
}

/// Every invariant a case must keep, whatever commands it was sent.
fn check_invariants(
    case: &Case,
    log: &[(CaseEvent, u64, Timestamp)],
    ladder: &TierLadder,
    teams: &TierTeams,
) -> Result<(), TestCaseError> {
    // Versions run 1..n without gaps, and the case is at the last one.
    for (i, (_, v, _)) in log.iter().enumerate() {
        prop_assert_eq!(*v, i as u64 + 1);
    }
    prop_assert_eq!(case.version, log.len() as u64);
    prop_assert_eq!(case.exists(), !log.is_empty());
    if let Some((first, _, _)) = log.first() {
        prop_assert!(
            matches!(first, CaseEvent::Opened(_)),
            "first event is {:?}",
            first
        );
    }
    prop_assert!(
        count(log, |e| matches!(e, CaseEvent::Opened(_))) <= 1,
        "opened twice"
    );

    // Replaying the stream gives exactly the incrementally built state.
    let folded = Case::fold(log.iter().map(|(e, v, t)| (e, *v, *t)));
    prop_assert_eq!(&folded, case);

    // Swarm: at least one member, and the lead is one of them; only open cases swarm.
    if let Some(swarm) = &case.swarm {
        prop_assert!(!swarm.members.is_empty(), "empty swarm");
        prop_assert!(
            swarm.members.contains_key(&swarm.lead),
            "lead {} is not a member of {:?}",
            swarm.lead,
            swarm.members
        );
        prop_assert_eq!(
            case.status,
            Status::Open,
            "a resolved or closed case has a swarm"
        );
    }

    // Status and resolution agree.
    match case.status {
        Status::Open => prop_assert!(case.resolution.is_none()),
        Status::Resolved => prop_assert!(case.resolution.is_some()),
        Status::Closed => {}
    }

    // The tier is always one the ladder knows.
    if let Some(t) = &case.tier {
        prop_assert!(ladder.rank(t).is_some(), "tier {} is not on the ladder", t);
    }
    // A sensitive case never sits below the sensitive floor, whoever asked.
    if case.sensitive {
        let t = case.tier.as_ref();
        prop_assert!(
            t.is_some_and(|t| ladder.allows_sensitive(t)),
            "sensitive case at {:?}, below the floor {}",
            t,
            ladder.sensitive_floor()
        );
    }

    // A case's team, when set, works the case's tier.
    if let Some(team) = &case.team {
        prop_assert!(
            case.tier.as_ref().is_some_and(|t| teams.works(team, t)),
            "team {} does not work tier {:?}",
            team,
            case.tier
        );
    }

    // Tags are normalised and capped.
    prop_assert!(case.tags.len() <= MAX_TAGS);
    for t in &case.tags {
        prop_assert!(
            !t.is_empty() && *t == t.trim().to_lowercase(),
            "tag `{}`",
            t
        );
    }

    // Counters match the stream.
    prop_assert_eq!(
        case.escalations as usize,
        count(log, |e| matches!(e, CaseEvent::Escalated(_)))
    );
    prop_assert_eq!(
        case.message_count as usize,
        count(log, |e| matches!(e, CaseEvent::MessagePosted(_)))
    );

    // SLA: one first response, at the time of its event; breaches at most once per
    // kind (resolution: per reopen cycle), never before their deadline.
    let first_responses: Vec<Timestamp> = log
        .iter()
        .filter(|(e, _, _)| matches!(e, CaseEvent::FirstResponded(_)))
        .map(|(_, _, t)| *t)
        .collect();
    prop_assert!(first_responses.len() <= 1);
    prop_assert_eq!(case.first_response_at, first_responses.first().copied());
    let breaches = |kind| {
        count(
            log,
            |e| matches!(e, CaseEvent::SlaBreached(b) if b.kind == kind),
        )
    };
    prop_assert!(breaches(SlaKind::FirstResponse) <= 1);
    prop_assert!(
        breaches(SlaKind::Resolution) <= 1 + count(log, |e| matches!(e, CaseEvent::Reopened(_)))
    );
    for (e, _, t) in log {
        if let CaseEvent::SlaBreached(b) = e {
            prop_assert!(b.deadline <= *t, "breach recorded before its deadline");
        }
    }
    if let Some(i) = log
        .iter()
        .position(|(e, _, _)| matches!(e, CaseEvent::SlaApplied(_)))
    {
        prop_assert!(log[..i]
            .iter()
            .any(|(e, _, _)| matches!(e, CaseEvent::Routed(_))));
    }
    // Waits: only open cases wait; finished waits are ordered and disjoint.
    if case.awaiting_customer_since.is_some() {
        prop_assert_eq!(case.status, Status::Open);
    }
    for (i, (from, to)) in case.pauses.iter().enumerate() {
        prop_assert!(from <= to);
        if let Some((next, _)) = case.pauses.get(i + 1) {
            prop_assert!(to <= next);
        }
    }
    check_swarming(case, log, ladder)?;

    // A pending deadline exists only for an open case with an SLA.
    if case.next_deadline().is_some() {
        prop_assert!(case.status == Status::Open && case.sla.is_some());
    }
    Ok(())
}

/// The swarming method's invariants.
fn check_swarming(
    case: &Case,
    log: &[(CaseEvent, u64, Timestamp)],
    ladder: &TierLadder,
) -> Result<(), TestCaseError> {
    let s = &case.swarming;
    // Skills are normalised, and capped.
    prop_assert!(s.skills.len() <= MAX_SKILLS);
    for k in &s.skills {
        prop_assert!(
            crate::domain::swarming::decide::skill(k).as_ref() == Ok(k),
            "skill `{}`",
            k
        );
    }
    // Roles belong to members other than the lead, and are never LEAD: one lead.
    for (agent, role) in &s.roles {
        prop_assert!(case.is_swarm_member(agent), "{} has a role but left", agent);
        prop_assert!(case.swarm.as_ref().is_some_and(|w| &w.lead != agent));
        prop_assert_ne!(*role, SwarmRole::Lead);
    }
    let leads = case
        .swarm
        .iter()
        .flat_map(|w| w.members.keys())
        .filter(|a| case.swarm_role(a) == Some(SwarmRole::Lead))
        .count();
    prop_assert_eq!(leads, usize::from(case.swarm.is_some()));
    if case.swarm.is_none() {
        prop_assert_eq!(s.swarm_type, SwarmType::Case);
        prop_assert!(s.cleared.is_empty());
    }
    // A pending invitation needs an active swarm, and its invitee is not yet in it.
    for inv in s.invitations.values() {
        if inv.status == InvitationStatus::Pending {
            prop_assert!(case.swarm.is_some(), "pending invitation without a swarm");
            prop_assert!(
                !case.is_swarm_member(&inv.agent),
                "{} invited and in",
                inv.agent
            );
        }
    }
    // Agents cleared into a private case are invited or members, and only a private
    // case clears anyone.
    for agent in s.cleared.keys() {
        prop_assert!(case.sensitive, "cleared into a case that is not private");
        prop_assert!(
            s.is_invited(agent) || case.is_swarm_member(agent),
            "{} cleared but neither invited nor in",
            agent
        );
        prop_assert!(ladder.rank(case.tier.as_ref().unwrap()).is_some());
    }
    // An expiry is recorded at or after its deadline.
    for (e, _, t) in log {
        if let CaseEvent::InvitationExpired(x) = e {
            prop_assert!(x.deadline <= *t, "expired before its deadline");
        }
    }
    // Help requests are numbered 1..n; nobody offers on their own request, and an
    // accepted helper is one who offered.
    for (i, r) in s.help_requests.iter().enumerate() {
        prop_assert_eq!(r.id as usize, i + 1);
        prop_assert!(!r.offers.contains(&r.by), "offer on own request");
        match (&r.status, &r.helper) {
            (HelpStatus::Accepted, Some(h)) => prop_assert!(r.offers.contains(h)),
            (HelpStatus::Accepted, None) => prop_assert!(false, "accepted without helper"),
            (_, helper) => prop_assert!(helper.is_none()),
        }
    }
    Ok(())
}

/// Two policies on 24x7 with targets a scenario's steps (five minutes apart) pass.
fn scenario_sla() -> SlaConfig {
    let step = |after_mins, clock, raise_priority, escalate_tier| EscalationStep {
        after_mins,
        clock,
        raise_priority,
        notify_lead: true,
        escalate_tier,
    };
    SlaConfig {
        policies: vec![
            SlaPolicy {
                id: "urgent".into(),
                name: "Urgent".into(),
                priorities: vec![Priority::Urgent],
                segments: vec![],
                first_response_mins: Some(10),
                resolution_mins: Some(30),
                calendar: None,
                escalation: vec![step(5, SlaKind::Resolution, false, true)],
            },
            SlaPolicy {
                id: "standard".into(),
                name: "Standard".into(),
                priorities: vec![],
                segments: vec![],
                first_response_mins: Some(15),
                resolution_mins: Some(60),
                calendar: None,
                escalation: vec![
                    step(10, SlaKind::FirstResponse, true, false),
                    step(30, SlaKind::Resolution, false, true),
                    step(45, SlaKind::Resolution, true, true),
                ],
            },
        ],
        ..SlaConfig::default()
    }
}

/// The SLA commands `decide` accepts at `now` are exactly the ones `sla_due` lists.
fn check_sla_due(case: &Case, ctx: &Context<'_>) -> Result<(), TestCaseError> {
    let due = sla_due(case, ctx.now);
    let candidates = SlaKind::ALL
        .into_iter()
        .map(|kind| Command::RecordSlaBreach { kind })
        .chain((0..4).map(|step| Command::RunSlaEscalation { step }));
    for command in candidates {
        let accepted = decide(case, command.clone(), ctx).is_ok();
        prop_assert_eq!(accepted, due.contains(&command), "{:?}", command);
    }
    if let Some(wake) = case.next_sla_wakeup() {
        prop_assert!(
            !sla_due(case, wake).is_empty(),
            "nothing due at the wake-up time"
        );
    } else {
        prop_assert!(sla_due(case, Timestamp(i64::MAX)).is_empty());
    }
    Ok(())
}

fn is_swarming_command(c: &Command) -> bool {
    matches!(
        c,
        Command::SetCaseSkills { .. }
            | Command::InviteToSwarm(_)
            | Command::AcceptInvitation
            | Command::DeclineInvitation { .. }
            | Command::ExpireInvitation { .. }
            | Command::RequestHelp { .. }
            | Command::OfferHelp { .. }
            | Command::AcceptHelp { .. }
            | Command::CloseHelpRequest { .. }
            | Command::SetSwarmType { .. }
            | Command::SetSwarmRole { .. }
            | Command::CaptureKnowledge { .. }
            | Command::RemindStatusUpdate { .. }
            | Command::StartSwarm { .. }
            | Command::JoinSwarm { .. }
            | Command::LeaveSwarm { .. }
            | Command::SetSwarmLead { .. }
    )
}

fn run_scenario(ladder: &TierLadder, steps: Vec<(&str, Command)>) -> Result<(), TestCaseError> {
    let sla = scenario_sla();
    let teams = scenario_teams();
    let system = Actor::system();
    let mut case = Case::default();
    let mut log: Vec<(CaseEvent, u64, Timestamp)> = Vec::new();
    for (i, (who, command)) in steps.into_iter().enumerate() {
        // `dave` is the customer.
        let me = match who {
            "dave" => Actor::new(who, Role::Customer).expect("a valid id"),
            _ => actor(who),
        };
        let now = at(i as i64 * 300 + 1);
        let ctx = Context {
            tiers: ladder,
            teams: &teams,
            sla: &sla,
            actor: &me,
            now,
        };
        let before = case.clone();
        let was_closed = case.status == Status::Closed;
        let is_open = matches!(command, Command::Open(_));
        let result = decide(&case, command.clone(), &ctx);
        prop_assert_eq!(
            &result,
            &decide(&case, command.clone(), &ctx),
            "decide is not deterministic"
        );

        match result {
            Err(err) => {
                if before.exists() && is_open {
                    prop_assert_eq!(err, DomainError::CaseExists);
                } else if !before.exists() && !is_open {
                    prop_assert_eq!(err, DomainError::CaseNotFound);
                }
                // Nothing was recorded and nothing changed.
                prop_assert_eq!(&case, &before);
                prop_assert_eq!(case.version, log.len() as u64);
            }
            Ok(events) => {
                prop_assert!(
                    !was_closed,
                    "closed case accepted {:?}: {:?}",
                    command,
                    events
                );
                prop_assert!(
                    !events.is_empty(),
                    "{:?} was accepted without events",
                    command
                );
                for event in events.iter() {
                    // Every event the domain produces survives both codecs.
                    let bytes = event.encode();
                    let decoded =
                        CaseEvent::decode(event.event_type(), event.schema_version(), &bytes);
                    prop_assert_eq!(decoded.ok(), Some(event.clone()));
                    let json = CaseEvent::from_json(
                        event.event_type(),
                        event.schema_version(),
                        event.to_json(),
                    );
                    prop_assert_eq!(json.ok(), Some(event.clone()));

                    let version = log.len() as u64 + 1;
                    case.apply(event, version, now);
                    log.push((event.clone(), version, now));
                }
                // The owner stays accountable: swarming never changes the assignee.
                if is_swarming_command(&command) {
                    prop_assert_eq!(&case.assignee, &before.assignee);
                    prop_assert!(!events
                        .iter()
                        .any(|e| matches!(e, CaseEvent::Assigned(_) | CaseEvent::Unassigned(_))));
                }
                // A lead who leaves hands over to the longest-standing remaining member.
                if let (Command::LeaveSwarm { agent }, Some(old)) = (&command, &before.swarm) {
                    if &old.lead == agent {
                        if let Some(new) = &case.swarm {
                            let earliest = new.members.values().min().copied();
                            prop_assert_eq!(new.members.get(&new.lead).copied(), earliest);
                        }
                    }
                }
            }
        }
        if was_closed {
            prop_assert_eq!(case.status, Status::Closed, "a closed case was reopened");
        }
        // An SLA breach or step, once recorded, is not accepted again.
        let sla_command = matches!(
            command,
            Command::RecordSlaBreach { .. } | Command::RunSlaEscalation { .. }
        );
        let same_policy =
            case.sla.as_ref().map(|s| &s.policy_id) == before.sla.as_ref().map(|s| &s.policy_id);
        if sla_command && case.version > before.version && same_policy {
            prop_assert!(decide(&case, command.clone(), &ctx).is_err());
        }
        check_sla_due(
            &case,
            &Context {
                actor: &system,
                ..ctx.clone()
            },
        )?;
        check_invariants(&case, &log, ladder, &teams)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_command_sequences_keep_every_invariant((ladder, steps) in arb_scenario()) {
        let ladder = &ladders()[ladder];
        run_scenario(ladder, steps)?;
    }

    /// `decide_all` is `decide` applied in sequence, with any refusal refusing all.
    #[test]
    fn decide_all_equals_sequential_decide(commands in prop::collection::vec(arb_command(), 0..8)) {
        let ladder = TierLadder::standard();
        let me = actor("alice");
        let no_sla = SlaConfig::default();
        let no_teams = TierTeams::default();
        let ctx = Context { tiers: &ladder, teams: &no_teams, sla: &no_sla, actor: &me, now: at(100) };
        let base = given(swarming("alice", &["bob"])).state();

        let mut expected = Ok(Vec::new());
        let mut state = base.clone();
        for command in commands.iter().cloned() {
            match decide(&state, command, &ctx) {
                Ok(events) => {
                    for e in &events {
                        state.apply(e, state.version + 1, ctx.now);
                    }
                    if let Ok(all) = &mut expected {
                        all.extend(events);
                    }
                }
                Err(e) => {
                    expected = Err(e);
                    break;
                }
            }
        }
        prop_assert_eq!(decide_all(&base, commands, &ctx), expected);
    }
}
