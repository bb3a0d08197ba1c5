//! Projections driven by a realistic, concurrent mix of commands through `Desk`,
//! checked against an independent model the test keeps itself and against a fold of
//! the raw log; then rebuilt, snapshotted, restarted and compared again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};

use swarmdesk::app::{decode, AppError, Desk, WriteOptions};
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::{
    Actor, AgentId, Case, CaseId, Command, MessageKind, Priority, Role, Status, TierLadder,
    Timestamp,
};
use swarmdesk::projection::runner::{load_snapshot, rebuild};
use swarmdesk::projection::{ProjectionRunner, Projections, Workload};
use swarmdesk::store::sled_store::SledStore;
use swarmdesk::store::{EventStore, RecordedEvent};

use crate::common::*;

const AGENTS: [&str; 8] = ["ana", "bo", "chen", "dara", "eli", "femi", "gus", "hana"];
const LADDER: [&str; 4] = ["L0", "L1", "L2", "L3"];
/// The one team working each tier of [`LADDER`] (none at L0): a case moved to a tier
/// goes to its team, and a case's team always works its tier.
const TEAM_AT: [Option<&str>; 4] = [None, Some("general"), Some("billing"), Some("experts")];

/// Records the configuration `build_app` starts with (the standard ladder, routed to
/// L1) on the config stream, then creates the teams of [`TEAM_AT`] on top of it.
async fn add_teams(app: &Desk) {
    let seed = swarmdesk::config::ConfigSeed::minimal(TierLadder::standard(), "L1");
    app.load_config(Some(&seed)).await.expect("record the seed");
    for (tier, team) in LADDER.iter().zip(TEAM_AT) {
        let Some(team) = team else { continue };
        let team = swarmdesk::config::Team {
            name: team.into(),
            tier: tier.to_string(),
            description: String::new(),
            calendar: None,
        };
        app.configure(
            &Actor::system(),
            swarmdesk::config::ConfigCommand::CreateTeam(team),
        )
        .await
        .expect("create team");
    }
}

#[derive(Clone, Debug)]
struct SwarmModel {
    lead: AgentId,
    members: BTreeMap<AgentId, Timestamp>,
    started_at: Timestamp,
    /// Swarm chat of this swarm: author and body.
    chat: Vec<(AgentId, String)>,
}

/// What the test itself believes about a case, from the commands it sent.
#[derive(Clone, Debug)]
struct CaseModel {
    id: CaseId,
    status: Status,
    /// Index into [`LADDER`].
    tier: usize,
    priority: Priority,
    opened_at: Timestamp,
    assignee: Option<AgentId>,
    swarm: Option<SwarmModel>,
    messages: Vec<(MessageKind, AgentId, String)>,
    resolved_at_tier: Option<usize>,
    version: u64,
    tags: usize,
    /// Private: never below the sensitive floor (L2), never handed to these agents,
    /// who have no tiers anywhere.
    sensitive: bool,
    /// None from the default route; a sensitive case starts in the floor's team;
    /// every tier change moves it to the new tier's team.
    team: Option<&'static str>,
}

async fn occurred_at(store: &dyn EventStore, position: u64) -> Timestamp {
    store.read_all(position, 1).await.unwrap()[0]
        .metadata
        .occurred_at
}

async fn open_one(app: &Desk, clock: &ManualClock, i: usize) -> CaseModel {
    clock.advance_secs(1);
    let open = open_case(i);
    let w = app
        .open_case(
            &actor("intake", Role::Agent),
            open.clone(),
            WriteOptions::default(),
        )
        .await
        .expect("open");
    assert_eq!(
        (w.outcome.first_version, w.outcome.last_version),
        (1, 2),
        "open + route is one append"
    );
    let id = w.case.id.expect("opened case has an id");
    // Billing talk on a social channel stays private at L2 whatever the rules say.
    let social = open.channel == swarmdesk::domain::Channel::SocialDm;
    let tier = if social { 2 } else { 1 };
    assert_eq!(
        w.case.tier.as_ref().map(|t| t.as_str()),
        Some(LADDER[tier]),
        "default route, or the sensitive floor"
    );
    assert_eq!(w.case.sensitive, social);
    CaseModel {
        id,
        status: Status::Open,
        tier,
        priority: open.priority,
        opened_at: occurred_at(app.store().as_ref(), w.outcome.first_position).await,
        assignee: None,
        swarm: None,
        messages: Vec::new(),
        resolved_at_tier: None,
        version: 2,
        tags: open.tags.len(),
        sensitive: social,
        team: if social { TEAM_AT[2] } else { None },
    }
}

fn pick_agent(rng: &mut Rng) -> AgentId {
    agent(AGENTS[rng.below(AGENTS.len())])
}

/// Chooses a command that is valid for the case as the model knows it.
fn choose(m: &CaseModel, rng: &mut Rng) -> Option<(Actor, Command)> {
    let who = pick_agent(rng);
    let act = Actor {
        id: who.clone(),
        role: Role::Agent,
    };
    let reason = |s: &str| s.to_string();
    match m.status {
        Status::Closed => None,
        Status::Resolved => Some(match rng.below(10) {
            0..=6 => (
                act,
                Command::Reopen {
                    reason: reason("customer says it is still broken"),
                },
            ),
            7..=8 => (
                act,
                Command::Close {
                    reason: reason("confirmed fixed"),
                },
            ),
            _ => (
                act,
                Command::PostMessage {
                    kind: MessageKind::PublicReply,
                    body: "Glad it works now.".into(),
                },
            ),
        }),
        Status::Open => loop {
            let c = match rng.below(100) {
                0..=9 if m.tier < 3 => Command::Escalate {
                    to: None,
                    reason: reason("needs a specialist"),
                },
                10..=14 if m.tier > if m.sensitive { 2 } else { 0 } => Command::Deescalate {
                    to: None,
                    reason: reason("known issue, runbook exists"),
                },
                15..=24 if m.assignee.as_ref() != Some(&who) && !m.sensitive => {
                    Command::Assign { agent: who.clone() }
                }
                25..=27 if m.assignee.is_some() => Command::Unassign,
                28..=35 if m.swarm.is_none() && !m.sensitive => Command::StartSwarm {
                    lead: who.clone(),
                    reason: reason("outage"),
                },
                36..=47 if !m.sensitive => {
                    let Some(s) = m.swarm.as_ref() else { continue };
                    if s.members.contains_key(&who) {
                        continue;
                    }
                    Command::JoinSwarm { agent: who.clone() }
                }
                48..=53 if m.swarm.is_some() => {
                    let s = m.swarm.as_ref().unwrap();
                    let members: Vec<&AgentId> = s.members.keys().collect();
                    Command::LeaveSwarm {
                        agent: members[rng.below(members.len())].clone(),
                    }
                }
                54..=57 if m.swarm.as_ref().is_some_and(|s| s.members.len() >= 2) => {
                    let s = m.swarm.as_ref().unwrap();
                    let others: Vec<&AgentId> =
                        s.members.keys().filter(|a| **a != s.lead).collect();
                    Command::SetSwarmLead {
                        agent: others[rng.below(others.len())].clone(),
                    }
                }
                58..=67 if m.swarm.is_some() => {
                    let s = m.swarm.as_ref().unwrap();
                    let members: Vec<&AgentId> = s.members.keys().collect();
                    let author = members[rng.below(members.len())].clone();
                    let body = format!("checking the exporter logs (v{})", m.version);
                    return Some((
                        Actor {
                            id: author,
                            role: Role::Agent,
                        },
                        Command::PostMessage {
                            kind: MessageKind::SwarmChat,
                            body,
                        },
                    ));
                }
                68..=77 => {
                    let kind = if rng.chance(50) {
                        MessageKind::PublicReply
                    } else {
                        MessageKind::InternalNote
                    };
                    Command::PostMessage {
                        kind,
                        body: format!("update {} on the export", m.version),
                    }
                }
                78..=86 => {
                    let p = [
                        Priority::Urgent,
                        Priority::High,
                        Priority::Normal,
                        Priority::Low,
                    ][rng.below(4)];
                    if p == m.priority {
                        continue;
                    }
                    Command::ChangePriority {
                        priority: p,
                        reason: reason("impact reassessed"),
                    }
                }
                87..=90 if m.tags < 30 => Command::Tag {
                    tag: format!("seen-v{}", m.version),
                },
                91..=94 => Command::Resolve {
                    resolution: "Raised the export timeout; reran the job.".into(),
                },
                95..=98 => Command::PostMessage {
                    kind: MessageKind::InternalNote,
                    body: "waiting for logs".into(),
                },
                99 => Command::Close {
                    reason: reason("duplicate"),
                },
                _ => continue,
            };
            return Some((act, c));
        },
    }
}

/// Folds what the command did into the model, with the time it was recorded at.
fn update(m: &mut CaseModel, actor: &Actor, command: &Command, at: Timestamp) {
    match command {
        Command::Escalate { .. } => {
            m.tier += 1;
            m.team = TEAM_AT[m.tier];
        }
        Command::Deescalate { .. } => {
            m.tier -= 1;
            m.team = TEAM_AT[m.tier];
        }
        Command::Assign { agent } => m.assignee = Some(agent.clone()),
        Command::Unassign => m.assignee = None,
        Command::StartSwarm { lead, .. } => {
            m.swarm = Some(SwarmModel {
                lead: lead.clone(),
                members: BTreeMap::from([(lead.clone(), at)]),
                started_at: at,
                chat: Vec::new(),
            })
        }
        Command::JoinSwarm { agent } => {
            m.swarm.as_mut().unwrap().members.insert(agent.clone(), at);
        }
        Command::LeaveSwarm { agent } => {
            let s = m.swarm.as_mut().unwrap();
            s.members.remove(agent);
            if s.members.is_empty() {
                m.swarm = None;
            } else if s.lead == *agent {
                // The longest-standing member takes over (ties: lowest id).
                s.lead = s
                    .members
                    .iter()
                    .min_by_key(|(a, t)| (**t, (*a).clone()))
                    .map(|(a, _)| a.clone())
                    .unwrap();
            }
        }
        Command::SetSwarmLead { agent } => m.swarm.as_mut().unwrap().lead = agent.clone(),
        Command::PostMessage { kind, body } => {
            m.messages.push((*kind, actor.id.clone(), body.clone()));
            if *kind == MessageKind::SwarmChat {
                m.swarm
                    .as_mut()
                    .unwrap()
                    .chat
                    .push((actor.id.clone(), body.clone()));
            }
        }
        Command::ChangePriority { priority, .. } => m.priority = *priority,
        Command::Tag { .. } => m.tags += 1,
        Command::Resolve { .. } => {
            m.swarm = None;
            m.status = Status::Resolved;
            m.resolved_at_tier = Some(m.tier);
        }
        Command::Reopen { .. } => {
            m.status = Status::Open;
            m.resolved_at_tier = None;
        }
        Command::Close { .. } => {
            m.swarm = None;
            m.status = Status::Closed;
        }
        other => panic!("the scenario does not send {other:?}"),
    }
}

/// The model's view of a case must be what `Desk` says the command produced.
fn assert_case_matches_model(c: &Case, m: &CaseModel, context: &str) {
    assert_eq!(c.id, Some(m.id), "{context}");
    assert_eq!(c.version, m.version, "{context}: version");
    assert_eq!(c.status, m.status, "{context}: status");
    assert_eq!(
        c.tier.as_ref().map(|t| t.as_str()),
        Some(LADDER[m.tier]),
        "{context}: tier"
    );
    assert_eq!(c.team.as_deref(), m.team, "{context}: team");
    // A case's team, when set, works its tier.
    if let Some(team) = &c.team {
        assert_eq!(
            Some(team.as_str()),
            TEAM_AT[m.tier],
            "{context}: team of tier"
        );
    }
    assert_eq!(c.priority, m.priority, "{context}: priority");
    assert_eq!(c.opened_at, m.opened_at, "{context}: opened_at");
    assert_eq!(c.assignee, m.assignee, "{context}: assignee");
    assert_eq!(
        c.message_count as usize,
        m.messages.len(),
        "{context}: messages"
    );
    assert_eq!(c.tags.len(), m.tags, "{context}: tags");
    match (&c.swarm, &m.swarm) {
        (None, None) => {}
        (Some(s), Some(ms)) => {
            assert_eq!(s.lead, ms.lead, "{context}: swarm lead");
            assert_eq!(s.members, ms.members, "{context}: swarm members");
            assert_eq!(s.started_at, ms.started_at, "{context}: swarm start");
            assert!(
                s.members.contains_key(&s.lead),
                "{context}: the lead is a member"
            );
        }
        (a, b) => panic!("{context}: swarm {a:?} vs model {b:?}"),
    }
    let resolved_at = c
        .resolution
        .as_ref()
        .map(|r| r.tier.as_ref().map(|t| t.as_str().to_string()));
    match m.status {
        Status::Resolved => {
            assert_eq!(
                resolved_at,
                Some(m.resolved_at_tier.map(|t| LADDER[t].to_string())),
                "{context}: resolution"
            )
        }
        Status::Open => assert_eq!(
            resolved_at, None,
            "{context}: an open case has no resolution"
        ),
        Status::Closed => {}
    }
}

/// Runs one valid command on the case, and checks what `Desk` answers.
async fn drive(app: &Desk, clock: &ManualClock, m: &mut CaseModel, rng: &mut Rng) {
    let Some((actor, command)) = choose(m, rng) else {
        return;
    };
    clock.advance_secs(1 + rng.below(20) as i64);
    let context = format!(
        "case {} v{}: {} by {}",
        m.id,
        m.version,
        command.name(),
        actor.id
    );
    let written = app
        .execute(&actor, m.id, command.clone(), WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{context} was refused: {e}"));
    assert!(!written.outcome.deduplicated);
    assert_eq!(written.outcome.first_version, m.version + 1, "{context}");
    let at = occurred_at(app.store().as_ref(), written.outcome.first_position).await;
    update(m, &actor, &command, at);
    m.version = written.outcome.last_version;
    assert_case_matches_model(&written.case, m, &context);
    // Read-your-writes: the projections already show the command.
    let view_version = app.projections().read().case(m.id).map(|v| v.case.version);
    assert!(
        view_version >= Some(m.version),
        "{context}: projections lag behind the acknowledged write"
    );
}

/// `tasks` concurrent agents, each working its own `cases_per_task` cases round robin
/// for `rounds` rounds.
async fn run_scenario(
    app: &Arc<Desk>,
    clock: &ManualClock,
    tasks: usize,
    cases_per_task: usize,
    rounds: usize,
    seed: u64,
) -> Vec<CaseModel> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (app, clock) = (app.clone(), clock.clone());
            tokio::spawn(async move {
                let mut rng = Rng::new(seed * 1000 + t as u64);
                let mut cases = Vec::new();
                for c in 0..cases_per_task {
                    cases.push(open_one(&app, &clock, t * cases_per_task + c).await);
                }
                for _ in 0..rounds {
                    for m in cases.iter_mut() {
                        drive(&app, &clock, m, &mut rng).await;
                    }
                }
                cases
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await.expect("scenario task"));
    }
    out
}

/// A message as read from the log: kind, author, body, stream version, time.
type PostedMessage = (MessageKind, AgentId, String, u64, Timestamp);

/// Each case's messages as the Desk reads them from its stream (what the API shows),
/// at its last version and at one before, equal the model's and the log's.
async fn assert_messages_read_from_the_log(
    app: &Desk,
    models: &[CaseModel],
    log: &[RecordedEvent],
) {
    for m in models {
        let posted: Vec<PostedMessage> = log
            .iter()
            .filter(|r| r.stream == m.id.stream())
            .filter_map(|r| match decode(r).expect("decodable") {
                swarmdesk::domain::CaseEvent::MessagePosted(mp) => Some((
                    mp.kind,
                    mp.author,
                    mp.body,
                    r.version,
                    r.metadata.occurred_at,
                )),
                _ => None,
            })
            .collect();
        for version in [m.version, m.version.saturating_sub(2)] {
            let read: Vec<PostedMessage> = app
                .messages(m.id, version)
                .await
                .expect("messages read")
                .into_iter()
                .map(|x| (x.kind, x.author, x.body, x.id, x.at))
                .collect();
            let expected: Vec<PostedMessage> =
                posted.iter().filter(|x| x.3 <= version).cloned().collect();
            assert_eq!(read, expected, "messages of {} up to {version}", m.id);
        }
        let all: Vec<_> = posted
            .iter()
            .map(|(k, a, b, ..)| (*k, a.clone(), b.clone()))
            .collect();
        assert_eq!(all, m.messages, "messages of {}", m.id);
    }
}

/// Everything the projections show, checked against the model and the raw log.
fn assert_projections(p: &Projections, models: &[CaseModel], log: &[RecordedEvent]) {
    assert_eq!(p.position(), log.len() as u64, "position is the log head");

    // Case views equal a fold of their streams, message lists included.
    let mut folded: BTreeMap<CaseId, (Case, Vec<PostedMessage>)> = BTreeMap::new();
    for r in log {
        let Some(id) = CaseId::from_stream(&r.stream) else {
            continue;
        };
        let e = decode(r).expect("decodable");
        let entry = folded.entry(id).or_default();
        entry.0.apply(&e, r.version, r.metadata.occurred_at);
        if let swarmdesk::domain::CaseEvent::MessagePosted(mp) = &e {
            entry.1.push((
                mp.kind,
                mp.author.clone(),
                mp.body.clone(),
                r.version,
                r.metadata.occurred_at,
            ));
        }
    }
    assert_eq!(folded.len(), models.len());
    for m in models {
        let view = p.case(m.id).expect("every case has a view");
        let (case, messages) = &folded[&m.id];
        assert_eq!(
            &view.case, case,
            "case {} equals the fold of its stream",
            m.id
        );
        assert_case_matches_model(&view.case, m, &format!("view of {}", m.id));
        // The live projections hold no messages (they are read from the log), only
        // the current swarm's chat: its chat messages since it started.
        assert!(view.messages.is_empty(), "no messages held for {}", m.id);
        let chat: Vec<PostedMessage> = match &case.swarm {
            Some(s) => messages
                .iter()
                .filter(|x| x.0 == MessageKind::SwarmChat && x.4 >= s.started_at)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let shown: Vec<_> = view
            .chat
            .iter()
            .map(|x| (x.kind, x.author.clone(), x.body.clone(), x.id, x.at))
            .collect();
        assert_eq!(shown, chat, "swarm chat of {}", m.id);
        let model_msgs: Vec<_> = messages
            .iter()
            .map(|(k, a, b, ..)| (*k, a.clone(), b.clone()))
            .collect();
        assert_eq!(model_msgs, m.messages);
        let last = log
            .iter()
            .rev()
            .find(|r| r.stream == m.id.stream())
            .unwrap()
            .position;
        assert_eq!(view.last_position, last);
    }

    // Tier queues: exactly the open cases of each tier, most urgent first, then oldest.
    let ladder = TierLadder::standard();
    let mut queued = 0;
    for (rank, tier) in ladder.tiers().iter().enumerate() {
        let queue: Vec<CaseId> = p.tier_queue(tier).map(|v| v.case.id.unwrap()).collect();
        let mut expected: Vec<&CaseModel> = models
            .iter()
            .filter(|m| m.status == Status::Open && m.tier == rank)
            .collect();
        expected.sort_by_key(|m| (m.priority, m.opened_at, m.id));
        assert_eq!(
            queue,
            expected.iter().map(|m| m.id).collect::<Vec<_>>(),
            "queue of {tier}"
        );
        let views: Vec<&Case> = p.tier_queue(tier).map(|v| &v.case).collect();
        for v in &views {
            assert_eq!(
                v.status,
                Status::Open,
                "no resolved or closed case in a queue"
            );
            assert_eq!(v.tier.as_ref(), Some(tier));
        }
        for w in views.windows(2) {
            assert!(
                (w[0].priority, w[0].opened_at) <= (w[1].priority, w[1].opened_at),
                "queue of {tier} is ordered"
            );
        }
        queued += queue.len();
    }
    let lengths: usize = p.queue_lengths().map(|(_, n)| n).sum();
    assert_eq!(lengths, queued);
    assert_eq!(
        queued,
        models.iter().filter(|m| m.status == Status::Open).count()
    );

    // Swarm rooms: members, lead and chat of every active swarm, and no others.
    let rooms: Vec<CaseId> = p.swarm_rooms().map(|r| r.case().id.unwrap()).collect();
    let mut expected_rooms: Vec<CaseId> = models
        .iter()
        .filter(|m| m.swarm.is_some())
        .map(|m| m.id)
        .collect();
    expected_rooms.sort();
    assert_eq!(rooms, expected_rooms, "active swarm rooms");
    for m in models {
        match (&m.swarm, p.swarm_room(m.id)) {
            (None, None) => {}
            (Some(s), Some(room)) => {
                let live = room.case().swarm.as_ref().unwrap();
                assert_eq!(live.lead, s.lead);
                assert_eq!(live.members, s.members);
                let chat: Vec<(AgentId, String)> = room
                    .chat()
                    .map(|x| (x.author.clone(), x.body.clone()))
                    .collect();
                assert_eq!(chat, s.chat, "chat of the swarm on {}", m.id);
            }
            (s, r) => panic!(
                "case {}: model swarm {s:?}, room {:?}",
                m.id,
                r.map(|r| r.case().swarm.clone())
            ),
        }
    }

    // Workload: open assigned cases and swarm memberships per agent.
    let mut expected: BTreeMap<AgentId, Workload> = BTreeMap::new();
    for m in models {
        if let (Status::Open, Some(a)) = (m.status, &m.assignee) {
            expected.entry(a.clone()).or_default().assigned.insert(m.id);
        }
        if let Some(s) = &m.swarm {
            for a in s.members.keys() {
                expected.entry(a.clone()).or_default().swarms.insert(m.id);
            }
        }
    }
    let actual: BTreeMap<AgentId, Workload> =
        p.workloads().map(|(a, w)| (a.clone(), w.clone())).collect();
    assert_eq!(actual, expected, "workload");
    for a in AGENTS {
        assert_eq!(p.workload(&agent(a)), expected.get(&agent(a)));
    }

    // Counters.
    let s = p.stats();
    assert_eq!(
        s.events,
        log.len() as u64,
        "each event applied exactly once"
    );
    assert_eq!(s.cases, models.len() as u64);
    assert_eq!(
        s.open,
        models.iter().filter(|m| m.status == Status::Open).count() as u64
    );
    assert_eq!(
        s.resolved,
        models
            .iter()
            .filter(|m| m.status == Status::Resolved)
            .count() as u64
    );
    assert_eq!(
        s.closed,
        models.iter().filter(|m| m.status == Status::Closed).count() as u64
    );
    assert_eq!(s.active_swarms, expected_rooms.len() as u64);
    let resolved_by_tier: u64 = s.resolved_by_tier.values().sum();
    let with_resolution = folded
        .values()
        .filter(|(c, _)| c.resolution.is_some())
        .count() as u64;
    assert_eq!(resolved_by_tier, with_resolution);
    for m in models.iter().filter(|m| m.status == Status::Resolved) {
        assert!(s
            .resolved_by_tier
            .contains_key(LADDER[m.resolved_at_tier.unwrap()]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projections_follow_a_realistic_workload_and_survive_a_restart() {
    let dir = temp_dir();
    let sled = open_store(dir.path());
    let store: Arc<dyn EventStore> = sled.clone();
    let (app, clock) = build_app(store.clone()).await;
    add_teams(&app).await;
    // A second runner, following the same log, that this test can stop and restart.
    let runner = ProjectionRunner::start(store.clone()).await.unwrap();

    let mut models = run_scenario(&app, &clock, 4, 12, 30, 7).await;

    // A few cases get concurrent notes from several agents at once: `Desk` re-decides
    // on conflict, so every note lands, once.
    let targets: Vec<usize> = models
        .iter()
        .enumerate()
        .filter(|(_, m)| m.status == Status::Open)
        .map(|(i, _)| i)
        .take(4)
        .collect();
    assert!(!targets.is_empty());
    for &i in &targets {
        let id = models[i].id;
        let handles: Vec<_> = (0..6)
            .map(|k| {
                let app = app.clone();
                tokio::spawn(async move {
                    let who = Actor {
                        id: agent(AGENTS[k]),
                        role: Role::Agent,
                    };
                    let body = format!("parallel note {k}");
                    let cmd = Command::PostMessage {
                        kind: MessageKind::InternalNote,
                        body: body.clone(),
                    };
                    let r = app.execute(&who, id, cmd, WriteOptions::default()).await;
                    (who, body, r)
                })
            })
            .collect();
        let mut landed = Vec::new();
        for h in handles {
            let (who, body, r) = h.await.unwrap();
            let w = r.expect("a note without expected_version is retried until it lands");
            landed.push((w.outcome.first_version, who.id, body));
        }
        landed.sort();
        let m = &mut models[i];
        assert_eq!(
            landed.iter().map(|(v, ..)| *v).collect::<Vec<_>>(),
            (m.version + 1..=m.version + 6).collect::<Vec<_>>()
        );
        for (_, who, body) in landed {
            m.messages.push((MessageKind::InternalNote, who, body));
        }
        m.version += 6;
        // A stale expected version is refused, not retried.
        let stale = WriteOptions {
            expected_version: Some(m.version - 1),
            ..WriteOptions::default()
        };
        let r = app
            .execute(&actor("ana", Role::Agent), id, Command::Unassign, stale)
            .await;
        let (want_expected, want_current) = (m.version - 1, m.version);
        assert!(
            matches!(r, Err(AppError::VersionConflict { expected, current })
                if expected == want_expected && current == want_current),
            "{r:?}"
        );
    }

    // Idempotent retries through the command service write nothing new.
    let open_opts = WriteOptions {
        idempotency_key: Some("open-once".into()),
        ..WriteOptions::default()
    };
    let first = app
        .open_case(
            &actor("intake", Role::Agent),
            open_case(999),
            open_opts.clone(),
        )
        .await
        .unwrap();
    let again = app
        .open_case(
            &actor("intake", Role::Agent),
            open_case(999),
            open_opts.clone(),
        )
        .await
        .unwrap();
    assert!(!first.outcome.deduplicated && again.outcome.deduplicated);
    assert_eq!(again.case, first.case);
    let mut reused = open_case(999);
    reused.subject = "Something else entirely".into();
    assert!(matches!(
        app.open_case(&actor("intake", Role::Agent), reused, open_opts)
            .await,
        Err(AppError::IdempotencyKeyReused(_))
    ));
    let id = first.case.id.unwrap();
    let mut m999 = CaseModel {
        id,
        status: Status::Open,
        tier: LADDER
            .iter()
            .position(|t| first.case.tier.as_ref().is_some_and(|x| x.as_str() == *t))
            .unwrap(),
        priority: first.case.priority,
        opened_at: first.case.opened_at,
        assignee: None,
        swarm: None,
        messages: Vec::new(),
        resolved_at_tier: None,
        version: 2,
        tags: first.case.tags.len(),
        sensitive: first.case.sensitive,
        team: if first.case.sensitive {
            TEAM_AT[2]
        } else {
            None
        },
    };
    let esc = WriteOptions {
        idempotency_key: Some("escalate-once".into()),
        ..WriteOptions::default()
    };
    let cmd = Command::Escalate {
        to: None,
        reason: "needs L2".into(),
    };
    let e1 = app
        .execute(&actor("ana", Role::Agent), id, cmd.clone(), esc.clone())
        .await
        .unwrap();
    let e2 = app
        .execute(&actor("ana", Role::Agent), id, cmd, esc)
        .await
        .unwrap();
    assert!(e2.outcome.deduplicated);
    assert_eq!(e2.case, e1.case);
    assert_eq!(e2.outcome.first_position, e1.outcome.first_position);
    m999.tier += 1;
    // The move to L2 also moves the case to L2's team (a second event, `TeamChanged`).
    m999.team = TEAM_AT[m999.tier];
    assert_eq!(e1.case.team.as_deref(), m999.team);
    m999.version = e1.outcome.last_version;
    assert_eq!(m999.version, 3 + u64::from(m999.team.is_some()));
    models.push(m999);

    // Live (both runners) == rebuilt from the log == the model.
    let head = store.head();
    app.projections().wait_for(head).await.unwrap();
    runner.wait_for(head).await.unwrap();
    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len() as u64, head);
    let rebuilt = rebuild(store.as_ref()).await.unwrap();
    assert_projections(&rebuilt, &models, &log);
    assert_messages_read_from_the_log(&app, &models, &log).await;
    assert_eq!(
        *app.projections().read(),
        rebuilt,
        "the Desk's live projections equal a rebuild"
    );
    assert_eq!(
        *runner.read(),
        rebuilt,
        "a second live runner equals a rebuild"
    );
    let statuses: BTreeSet<Status> = models.iter().map(|m| m.status).collect();
    assert_eq!(
        statuses.len(),
        3,
        "the scenario reached open, resolved and closed cases: {statuses:?}"
    );
    assert!(
        models
            .iter()
            .any(|m| m.swarm.as_ref().is_some_and(|s| s.members.len() >= 2)),
        "some swarm has several members"
    );

    // Restart: stop snapshots; a new runner starts from the snapshot, equal, with
    // nothing applied twice.
    runner.stop().await.unwrap();
    let snap = load_snapshot(store.as_ref())
        .await
        .unwrap()
        .expect("stop wrote a snapshot");
    assert_eq!(snap, rebuilt);
    let restarted = ProjectionRunner::start(store.clone()).await.unwrap();
    assert_eq!(restarted.position(), head);
    assert_eq!(*restarted.read(), rebuilt);
    assert_eq!(restarted.read().stats().events, head);

    // More work, then a restart from a snapshot that is now behind the log.
    restarted.stop().await.unwrap();
    let more = run_more(&app, &clock, &mut models).await;
    assert!(more > 0);
    let head2 = store.head();
    assert!(head2 > head);
    let behind = load_snapshot(store.as_ref()).await.unwrap().unwrap();
    assert_eq!(behind.position(), head, "the snapshot is behind the log");
    let resumed = ProjectionRunner::start(store.clone()).await.unwrap();
    // And it keeps following live appends after its catch-up.
    let extra = run_more(&app, &clock, &mut models).await;
    assert!(extra > 0);
    let head3 = store.head();
    resumed.wait_for(head3).await.unwrap();
    app.projections().wait_for(head3).await.unwrap();
    let log = read_log(store.as_ref()).await;
    let rebuilt = rebuild(store.as_ref()).await.unwrap();
    assert_projections(&rebuilt, &models, &log);
    assert_eq!(
        *resumed.read(),
        rebuilt,
        "snapshot + catch-up + live == rebuild"
    );
    assert_eq!(
        resumed.read().stats().events,
        log.len() as u64,
        "nothing applied twice"
    );
    assert_eq!(resumed.position(), head3);
    assert_eq!(*app.projections().read(), rebuilt);
    resumed.stop().await.unwrap();
}

/// A few more commands on every case still open or resolved.
async fn run_more(app: &Arc<Desk>, clock: &ManualClock, models: &mut [CaseModel]) -> usize {
    let mut rng = Rng::new(models.len() as u64 + models.iter().map(|m| m.version).sum::<u64>());
    let mut n = 0;
    for m in models.iter_mut() {
        if m.status != Status::Closed {
            drive(app, clock, m, &mut rng).await;
            n += 1;
        }
    }
    n
}

/// The whole service goes away (no stop, no snapshot) and comes back on the same
/// directory: the store closes once the service is dropped, and projections rebuilt
/// after reopening are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_service_releases_the_store_and_a_reopen_rebuilds_the_same_state() {
    let dir = temp_dir();
    let sled = open_store(dir.path());
    let weak: Weak<SledStore> = Arc::downgrade(&sled);
    let store: Arc<dyn EventStore> = sled;
    let (app, clock) = build_app(store.clone()).await;
    add_teams(&app).await;
    let models = run_scenario(&app, &clock, 2, 6, 10, 11).await;
    let head = store.head();
    app.projections().wait_for(head).await.unwrap();
    let before = app.projections().read().clone();
    assert_projections(&before, &models, &read_log(store.as_ref()).await);
    drop(app);
    drop(store);

    // Dropping the service must release the store (its writer thread, its files).
    let released = async {
        while weak.strong_count() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(HANG_GUARD, released)
        .await
        .expect("the dropped service still holds the store open");

    let store: Arc<dyn EventStore> = open_store(dir.path());
    assert_eq!(store.head(), head);
    let rebuilt = rebuild(store.as_ref()).await.unwrap();
    assert_eq!(rebuilt, before);
    let (app, _clock) = build_app(store.clone()).await;
    assert_eq!(*app.projections().read(), before);
}

/// An idempotency key stored by a release before the canonical request encoding (its
/// fingerprint hashed the command's `Debug` form) still recognises the same request
/// after the upgrade: the retry is answered from the log, not written again, and a
/// different request under that key is still refused.
#[tokio::test]
async fn an_idempotency_key_from_an_earlier_release_still_matches() {
    use swarmdesk::domain::{decide, Context};
    use swarmdesk::store::{fingerprint, AppendRequest, ExpectedVersion, Metadata, NewEvent};

    let dir = temp_dir();
    let store: Arc<dyn EventStore> = Arc::new(SledStore::open(dir.path(), test_options()).unwrap());
    let (app, _clock) = build_app(store.clone()).await;
    let ana = actor("ana", Role::Agent);
    let id = app
        .open_case(&ana, open_case(1), WriteOptions::default())
        .await
        .unwrap()
        .case
        .id
        .unwrap();
    let cmd = Command::Tag { tag: "vip".into() };

    // What the earlier release stored: the events, the key scoped to ana, and the
    // fingerprint of `"{case} {command:?}"`.
    let state = app.load(id).await.unwrap();
    let config = app.config();
    let teams = config.tier_teams();
    let ctx = Context {
        tiers: &config.tiers,
        teams: &teams,
        sla: &config.sla,
        actor: &ana,
        now: app.clock().now(),
    };
    let events = decide(&state, cmd.clone(), &ctx).unwrap();
    store
        .append(AppendRequest {
            stream: id.stream(),
            expected: ExpectedVersion::Exact(state.version),
            idempotency_key: Some("\u{1f}agent\u{1f}ana\u{1f}tag-once".into()),
            fingerprint: fingerprint(format!("{id} {cmd:?}").as_bytes()),
            metadata: Metadata {
                actor: ana.clone(),
                occurred_at: ctx.now,
                correlation_id: ulid::Ulid::new(),
                causation_id: None,
            },
            events: events
                .iter()
                .map(|e| NewEvent {
                    event_type: e.event_type().into(),
                    schema_version: e.schema_version(),
                    payload: e.encode(),
                })
                .collect(),
        })
        .await
        .unwrap();
    let head = store.head();

    let opts = WriteOptions {
        idempotency_key: Some("tag-once".into()),
        ..WriteOptions::default()
    };
    let retry = app.execute(&ana, id, cmd, opts.clone()).await.unwrap();
    assert!(retry.outcome.deduplicated, "{:?}", retry.outcome);
    assert_eq!(store.head(), head, "nothing written again");
    assert!(retry.case.tags.iter().any(|t| t == "vip"));
    let other = app
        .execute(
            &ana,
            id,
            Command::Tag {
                tag: "other".into(),
            },
            opts,
        )
        .await;
    assert!(
        matches!(other, Err(AppError::IdempotencyKeyReused(_))),
        "{other:?}"
    );
}
